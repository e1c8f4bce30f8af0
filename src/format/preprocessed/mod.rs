//! The intermediate layout written by `preprocess` and read by `prepare`: the Python pipeline's
//! CSVs `train/train.csv`, `validate/validate.csv`, `test/test.csv` with the header
//! `customer,product,star_rating`, one rating per line as (customer index, product index, stars),
//! or the same tables as Parquet ([`parquet`], `preprocess --format parquet`).

use std::io::{BufRead, BufReader, Read, Write};

use crate::error::{Error, Result};
use crate::stages::encode::Sample;
use crate::stages::index::Dims;

#[cfg(feature = "parquet")]
pub mod parquet;
pub mod read;

/// The CSV header line.
pub const HEADER: &str = "customer,product,star_rating";

/// The three split files, in order ([`crate::format::names::SPLIT_CSV`]).
pub use crate::format::names::SPLIT_CSV as SPLIT_FILES;

/// Write `samples` as CSV with the header. Returns the number of rows.
pub fn write_csv<W: Write + ?Sized>(out: &mut W, samples: &[Sample]) -> std::io::Result<u64> {
    out.write_all(HEADER.as_bytes())?;
    out.write_all(b"\n")?;
    let mut num = itoa::Buffer::new();
    let mut line = Vec::with_capacity(32);
    for s in samples {
        line.clear();
        line.extend_from_slice(num.format(s.customer).as_bytes());
        line.push(b',');
        line.extend_from_slice(num.format(s.product).as_bytes());
        line.push(b',');
        if s.label.fract() == 0.0 && s.label >= 0.0 {
            line.extend_from_slice(num.format(s.label as u32).as_bytes());
        } else {
            // Half-star ratings (3.5): Rust prints the shortest exact form.
            line.extend_from_slice(s.label.to_string().as_bytes());
        }
        line.push(b'\n');
        out.write_all(&line)?;
    }
    Ok(samples.len() as u64)
}

/// A field for a message: lossily decoded and cut at 40 characters.
fn shown(field: &[u8]) -> String {
    let text = String::from_utf8_lossy(&field[..field.len().min(40)]).into_owned();
    if field.len() > 40 {
        text + "…"
    } else {
        text
    }
}

fn parse_index(field: &[u8], what: &str, name: &str, line: u64) -> Result<u32> {
    let text = shown(field);
    text.trim().parse::<u32>().map_err(|_| {
        Error::bad_input(format!(
            "{name}: line {line}: {what} {text:?} is not a non-negative integer index; is this a preprocess output?"
        ))
    })
}

/// Read a split CSV (header by name: `customer`, `product`, `star_rating` or `rating`).
pub fn read_csv(input: impl Read, delimiter: u8, name: &str) -> Result<Vec<Sample>> {
    read_csv_within(input, delimiter, name, None, &crate::cancel::Cancel::default())
}

/// Fail unless every sample of the table `name` lies within `bounds` (the dimensions and who
/// declared them), as [`read_csv_within`] checks while reading.
pub fn check_bounds(samples: &[Sample], bounds: Option<(Dims, &str)>, name: &str) -> Result<()> {
    let Some((dims, declared_by)) = bounds else {
        return Ok(());
    };
    let outside = samples
        .iter()
        .position(|s| s.customer as u64 >= dims.n_customers || s.product as u64 >= dims.n_products);
    match outside {
        None => Ok(()),
        Some(row) => {
            let s = samples[row];
            Err(Error::bad_input(format!(
                "{name}: row {}: customer {} / product {} is out of range of {declared_by} \
                 ({} customers, {} products); the tables do not match it (files of different runs?)",
                row + 1,
                s.customer,
                s.product,
                dims.n_customers,
                dims.n_products
            )))
        }
    }
}

/// [`read_csv`], and fail on the first index outside `bounds`: the dimensions declared by
/// `source` (e.g. `pre/manifest.json`); `u64::MAX` for a dimension nobody declared. Checking here,
/// not after reading, lets the message name the line.
pub fn read_csv_within(
    input: impl Read,
    delimiter: u8,
    name: &str,
    bounds: Option<(Dims, &str)>,
    cancel: &crate::cancel::Cancel,
) -> Result<Vec<Sample>> {
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut line = Vec::new();
    let read_line = |reader: &mut BufReader<_>, line: &mut Vec<u8>| -> Result<bool> {
        line.clear();
        let n = reader
            .read_until(b'\n', line)
            .map_err(|e| Error::io("cannot read", name, e))?;
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        Ok(n > 0)
    };
    if !read_line(&mut reader, &mut line)? {
        return Err(Error::bad_input(format!(
            "{name}: empty file; expected the header {HEADER}"
        )));
    }
    // The Python pipeline wrote these CSVs with whatever delimiter its config named; when the
    // given one does not split the header into the known columns, try the usual ones.
    let columns = |d: u8| -> Option<(usize, usize, usize, usize)> {
        let header: Vec<String> = line
            .split(|&b| b == d)
            .map(|h| String::from_utf8_lossy(h).trim().to_string())
            .collect();
        let find = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
        Some((
            find(&["customer", "user"])?,
            find(&["product", "item"])?,
            find(&["star_rating", "rating"])?,
            header.len(),
        ))
    };
    let Some((delimiter, (ci, pi, ri, width))) = [delimiter, b',', b'\t', b';', b'|']
        .into_iter()
        .find_map(|d| columns(d).map(|c| (d, c)))
    else {
        return Err(Error::bad_input(format!(
            "{name}: line 1: header {:?} lacks customer, product or star_rating; expected {HEADER}",
            String::from_utf8_lossy(&line)
        )));
    };
    let mut samples = Vec::new();
    let mut lineno = 1u64;
    while read_line(&mut reader, &mut line)? {
        lineno += 1;
        if lineno.is_multiple_of(65_536) {
            cancel.check()?;
        }
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&[u8]> = line.split(|&b| b == delimiter).collect();
        if fields.len() != width {
            return Err(Error::bad_input(format!(
                "{name}: line {lineno}: {} fields, the header has {width}; check the file",
                fields.len()
            )));
        }
        let customer = parse_index(fields[ci], "customer", name, lineno)?;
        let product = parse_index(fields[pi], "product", name, lineno)?;
        if let Some((dims, source)) = bounds {
            for (what, value, n) in [
                ("customer", customer, dims.n_customers),
                ("product", product, dims.n_products),
            ] {
                if value as u64 >= n {
                    return Err(Error::bad_input(format!(
                        "{name}: line {lineno}: {what} index {value} is out of range: {source} declares {n} \
                         {what}s (indices 0..{}); the CSVs do not match it (files of different runs?)",
                        n.saturating_sub(1)
                    )));
                }
            }
        }
        let text = shown(fields[ri]);
        let label: f32 = text
            .trim()
            .parse()
            .ok()
            .filter(|v: &f32| v.is_finite())
            .ok_or_else(|| {
                Error::bad_input(format!(
                    "{name}: line {lineno}: star_rating {text:?} is not a number"
                ))
            })?;
        samples.push(Sample {
            customer,
            product,
            label,
        });
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trip() {
        let s = vec![
            Sample {
                customer: 0,
                product: 12,
                label: 5.0,
            },
            Sample {
                customer: 7,
                product: 0,
                label: 1.0,
            },
        ];
        let mut out = Vec::new();
        write_csv(&mut out, &s).unwrap();
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "customer,product,star_rating\n0,12,5\n7,0,1\n"
        );
        assert_eq!(read_csv(&out[..], b',', "t").unwrap(), s);
    }

    #[test]
    fn delimiter_is_found_from_the_header_when_the_given_one_does_not_fit() {
        let text = "customer\tproduct\tstar_rating\n1\t2\t3\n";
        assert_eq!(
            read_csv(text.as_bytes(), b',', "t").unwrap(),
            vec![Sample {
                customer: 1,
                product: 2,
                label: 3.0
            }]
        );
        let text = "customer,product,star_rating\n1,2,3\n";
        assert_eq!(read_csv(text.as_bytes(), b'\t', "t").unwrap().len(), 1);
    }

    #[test]
    fn python_style_csv_with_float_ratings_and_crlf() {
        let text = "product,customer,star_rating\r\n3,1,4.0\r\n";
        let s = read_csv(text.as_bytes(), b',', "t").unwrap();
        assert_eq!(
            s,
            vec![Sample {
                customer: 1,
                product: 3,
                label: 4.0
            }]
        );
    }

    #[test]
    fn bad_values_name_file_and_line() {
        for (body, needle) in [
            ("-1,0,5", "customer \"-1\""),
            ("0,x,5", "product \"x\""),
            ("0,0,five", "star_rating"),
            ("0,0", "2 fields"),
        ] {
            let text = format!("{HEADER}\n0,0,5\n{body}\n");
            let err = read_csv(text.as_bytes(), b',', "t.csv").unwrap_err();
            assert!(err.message().contains("t.csv: line 3"), "{err}");
            assert!(err.message().contains(needle), "{err}");
        }
    }
}
