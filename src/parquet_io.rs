//! Parquet input and output (cargo feature `parquet`, on by default).
//!
//! This module owns the Parquet edition of the reviews: a `.parquet` file or a directory of them
//! (partitioned like `product_category=Video/part-0.snappy.parquet`; files are read in sorted path
//! order, so the row order and therefore every index is deterministic), with the columns found by
//! name as in the TSV reader ([`ReadOptions::columns`]). Only the needed columns are decoded.
//! It also writes and reads the split tables of `preprocess --format parquet`.
//!
//! Column types accepted: ids as strings (also dictionary-encoded) or integers (written in
//! decimal); ratings as integers, floats or strings, checked against [`ReadOptions::rating_scale`];
//! times as `date32`/`date64`/timestamps, integers (Unix seconds) or strings (`YYYY-MM-DD`). A null
//! or out-of-scale value makes the row malformed, counted per kind as for the TSV (the "line"
//! number of a Parquet row is its 1-based position over all files), within `--max-bad-lines`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type};
use arrow_array::{Array, ArrayRef, Float32Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::encode::Sample;
use crate::error::{Error, Result};
use crate::keys::KeyRef;
use crate::reader::{parse_time, BadKind, BadLine, BadLineLimit, Rating, Ratings, ReadOptions};

/// Whether `spec` names Parquet input: a `.parquet` file, a file starting with the `PAR1` magic,
/// or a directory holding `.parquet` files.
pub fn is_parquet(spec: &str) -> bool {
    let path = Path::new(spec);
    if spec == "-" || spec.starts_with("s3://") {
        return false;
    }
    if path.is_dir() {
        return list_files(path).map(|f| !f.is_empty()).unwrap_or(false);
    }
    if spec.ends_with(".parquet") {
        return true;
    }
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .map(|_| &magic == b"PAR1")
        .unwrap_or(false)
}

/// The Parquet files of `path`: itself, or every `*.parquet` below it (hidden and `_`-prefixed
/// entries such as `_SUCCESS` skipped), sorted by path.
pub fn list_files(path: &Path) -> Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io("cannot list", &dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("cannot list", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if name.ends_with(".parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn parquet_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::bad_input(format!("{}: not a readable Parquet file: {e}", path.display()))
}

/// The columns to read: (role name, header name, required).
fn wanted(opts: &ReadOptions) -> Vec<(&'static str, String, bool)> {
    let c = &opts.columns;
    let mut w = vec![
        ("customer", c.customer.clone(), true),
        ("product", c.product.clone(), true),
        ("rating", c.rating.clone(), true),
        ("title", c.title.clone(), false),
    ];
    if opts.read_times {
        w.push(("time", c.time.clone(), true));
    }
    w
}

/// Open one Parquet file: its reader builder and its column names.
fn open_parquet(path: &Path) -> Result<(ParquetRecordBatchReaderBuilder<std::fs::File>, Vec<String>)> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("cannot open input", path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| parquet_error(path, e))?;
    let names = builder
        .schema()
        .fields()
        .iter()
        .map(|x| x.name().clone())
        .collect();
    Ok((builder, names))
}

/// Check that every file of `path` has the required columns; returns the column names of the
/// first file (for `--dry-run`).
pub fn check_columns(path: &Path, opts: &ReadOptions) -> Result<Vec<String>> {
    let files = list_files(path)?;
    if files.is_empty() {
        return Err(Error::bad_input(format!("{}: no .parquet files", path.display())));
    }
    let mut first = None;
    for f in &files {
        let (_builder, names) = open_parquet(f)?;
        let missing: Vec<String> = wanted(opts)
            .into_iter()
            .filter(|(_, n, req)| *req && !names.contains(n))
            .map(|(_, n, _)| n)
            .collect();
        if !missing.is_empty() {
            return Err(Error::bad_input(format!(
                "{}: no column {} (columns: {}); name the columns with --customer-col/--product-col/--rating-col",
                f.display(),
                missing.join(", "),
                names.join(", ")
            )));
        }
        first.get_or_insert(names);
    }
    Ok(first.unwrap_or_default())
}

/// Strings of an id or title column, whatever its Arrow type.
enum Text<'a> {
    /// Floats (side-feature numbers), written with the shortest exact decimal.
    Float(Vec<Option<f64>>),
    Utf8(&'a arrow_array::StringArray),
    Large(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
    Dict(Vec<usize>, Box<Text<'a>>, &'a dyn Array),
    Int(Int64Array),
}

impl<'a> Text<'a> {
    fn new(a: &'a ArrayRef, col: &str, file: &Path) -> Result<Text<'a>> {
        Ok(match a.data_type() {
            DataType::Utf8 => Text::Utf8(a.as_string::<i32>()),
            DataType::LargeUtf8 => Text::Large(a.as_string::<i64>()),
            DataType::Utf8View => Text::View(a.as_string_view()),
            DataType::Dictionary(_, _) => {
                let d = a.as_any_dictionary();
                let values = Text::new(d.values(), col, file)?;
                Text::Dict(d.normalized_keys(), Box::new(values), a.as_ref())
            }
            t if t.is_integer() => Text::Int(cast_i64(a, col, file)?),
            DataType::Float32 => Text::Float(
                a.as_primitive::<Float32Type>()
                    .iter()
                    .map(|v| v.map(f64::from))
                    .collect(),
            ),
            DataType::Float64 => Text::Float(a.as_primitive::<Float64Type>().iter().collect()),
            t => {
                return Err(Error::bad_input(format!(
                    "{}: column {col} has type {t}; expected strings or integers",
                    file.display()
                )))
            }
        })
    }

    /// The value of row `i` as bytes (written into `buf` for integers); `None` when null.
    fn get<'b>(&'b self, i: usize, buf: &'b mut itoa::Buffer) -> Option<&'b [u8]> {
        match self {
            Text::Utf8(a) => a.is_valid(i).then(|| a.value(i).as_bytes()),
            Text::Large(a) => a.is_valid(i).then(|| a.value(i).as_bytes()),
            Text::View(a) => a.is_valid(i).then(|| a.value(i).as_bytes()),
            Text::Dict(keys, values, arr) => {
                if arr.is_null(i) {
                    None
                } else {
                    values.get(keys[i], buf)
                }
            }
            Text::Int(a) => a.is_valid(i).then(|| buf.format(a.value(i)).as_bytes()),
            Text::Float(_) => None,
        }
    }
}

/// An integer column as i64.
fn cast_i64(a: &ArrayRef, col: &str, file: &Path) -> Result<Int64Array> {
    use arrow_array::types::*;
    macro_rules! conv {
        ($t:ty) => {
            a.as_primitive::<$t>()
                .iter()
                .map(|v| v.map(|x| x as i64))
                .collect()
        };
    }
    Ok(match a.data_type() {
        DataType::Int8 => conv!(Int8Type),
        DataType::Int16 => conv!(Int16Type),
        DataType::Int32 => conv!(Int32Type),
        DataType::Int64 => a.as_primitive::<Int64Type>().clone(),
        DataType::UInt8 => conv!(UInt8Type),
        DataType::UInt16 => conv!(UInt16Type),
        DataType::UInt32 => conv!(UInt32Type),
        DataType::UInt64 => conv!(UInt64Type),
        t => {
            return Err(Error::bad_input(format!(
                "{}: column {col} has type {t}; expected integers",
                file.display()
            )))
        }
    })
}

/// The rating of each row in half-steps (0 = invalid or null).
fn ratings_of(a: &ArrayRef, opts: &ReadOptions, file: &Path) -> Result<Vec<u8>> {
    let scale = opts.rating_scale;
    let from_f64 = |v: f64| -> u8 {
        let h = v * 2.0;
        let ok = h.fract() == 0.0 && (1.0..=10.0).contains(&h);
        let whole = (h as u8).is_multiple_of(2) && h >= 2.0;
        match scale {
            crate::reader::RatingScale::Stars if ok && whole => h as u8,
            crate::reader::RatingScale::HalfStars if ok => h as u8,
            _ => 0,
        }
    };
    let col = &opts.columns.rating;
    Ok(match a.data_type() {
        t if t.is_integer() => cast_i64(a, col, file)?
            .iter()
            .map(|v| {
                v.map_or(0, |x| {
                    if (0..=5).contains(&x) {
                        from_f64(x as f64)
                    } else {
                        0
                    }
                })
            })
            .collect(),
        DataType::Float32 => a
            .as_primitive::<Float32Type>()
            .iter()
            .map(|v| v.map_or(0, |x| from_f64(x as f64)))
            .collect(),
        DataType::Float64 => a
            .as_primitive::<Float64Type>()
            .iter()
            .map(|v| v.map_or(0, from_f64))
            .collect(),
        _ => {
            let t = Text::new(a, col, file)?;
            let mut buf = itoa::Buffer::new();
            (0..a.len())
                .map(|i| t.get(i, &mut buf).and_then(|s| scale.parse(s)).unwrap_or(0))
                .collect()
        }
    })
}

/// The time of each row in seconds since 1970 (`None` = null or unparsable).
fn times_of(a: &ArrayRef, col: &str, file: &Path) -> Result<Vec<Option<u32>>> {
    use arrow_array::types::*;
    let secs = |v: Option<i64>| v.and_then(|s| u32::try_from(s).ok());
    Ok(match a.data_type() {
        DataType::Date32 => a
            .as_primitive::<Date32Type>()
            .iter()
            .map(|d| secs(d.map(|d| d as i64 * 86_400)))
            .collect(),
        DataType::Date64 => a
            .as_primitive::<Date64Type>()
            .iter()
            .map(|d| secs(d.map(|ms| ms.div_euclid(1000))))
            .collect(),
        DataType::Timestamp(unit, _) => {
            let div = match unit {
                TimeUnit::Second => 1,
                TimeUnit::Millisecond => 1_000,
                TimeUnit::Microsecond => 1_000_000,
                TimeUnit::Nanosecond => 1_000_000_000,
            };
            let raw: Vec<Option<i64>> = match unit {
                TimeUnit::Second => a.as_primitive::<TimestampSecondType>().iter().collect(),
                TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().iter().collect(),
                TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().iter().collect(),
                TimeUnit::Nanosecond => a.as_primitive::<TimestampNanosecondType>().iter().collect(),
            };
            raw.into_iter()
                .map(|v| secs(v.map(|x| x.div_euclid(div))))
                .collect()
        }
        t if t.is_integer() => cast_i64(a, col, file)?.iter().map(secs).collect(),
        _ => {
            let t = Text::new(a, col, file)?;
            let mut buf = itoa::Buffer::new();
            (0..a.len())
                .map(|i| t.get(i, &mut buf).and_then(parse_time))
                .collect()
        }
    })
}

/// Read the ratings of a Parquet file or directory, as [`crate::reader::read_ratings`] reads text.
pub fn read_ratings(path: &Path, opts: &ReadOptions) -> Result<Ratings> {
    let files = list_files(path)?;
    if files.is_empty() {
        return Err(Error::bad_input(format!("{}: no .parquet files", path.display())));
    }
    let mut r = Ratings::default();
    let mut row_no = 0u64;
    for file in &files {
        crate::interrupt::check()?;
        let (builder, names) = open_parquet(file)?;
        let want = wanted(opts);
        let mut roots = Vec::new();
        for (_, name, required) in &want {
            match names.iter().position(|n| n == name) {
                Some(i) => roots.push(i),
                None if *required => {
                    check_columns(file, opts)?;
                }
                None => {}
            }
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let reader = builder
            .with_projection(mask)
            .with_batch_size(64 << 10)
            .build()
            .map_err(|e| parquet_error(file, e))?;
        for batch in reader {
            let batch = batch.map_err(|e| parquet_error(file, e))?;
            add_batch(&mut r, &batch, opts, file, &mut row_no)?;
            if let BadLineLimit::Count(n) = opts.max_bad_lines {
                if r.stats.bad_lines.total() > n {
                    return Err(too_many(path, &r, opts));
                }
            }
        }
    }
    let s = &r.stats;
    let allowed = match opts.max_bad_lines {
        BadLineLimit::Count(n) => s.bad_lines.total() <= n,
        BadLineLimit::Fraction(f) => (s.bad_lines.total() as f64) <= f * s.input_lines as f64,
    };
    if !allowed {
        return Err(too_many(path, &r, opts));
    }
    Ok(r)
}

fn too_many(path: &Path, r: &Ratings, opts: &ReadOptions) -> Error {
    let first = r
        .stats
        .examples
        .first()
        .map(|b| format!("; first: {b}"))
        .unwrap_or_default();
    Error::bad_input(format!(
        "{}: {} malformed rows out of {} exceed --max-bad-lines ({:?}){first}",
        path.display(),
        r.stats.bad_lines.total(),
        r.stats.input_lines,
        opts.max_bad_lines
    ))
}

fn add_batch(
    r: &mut Ratings,
    batch: &RecordBatch,
    opts: &ReadOptions,
    file: &Path,
    row_no: &mut u64,
) -> Result<()> {
    let col = |name: &str| batch.column_by_name(name);
    let names = &opts.columns;
    let (Some(ca), Some(pa), Some(ra)) = (col(&names.customer), col(&names.product), col(&names.rating))
    else {
        return Err(Error::bad_input(format!(
            "{}: required columns missing",
            file.display()
        )));
    };
    let customers = Text::new(ca, &names.customer, file)?;
    let products = Text::new(pa, &names.product, file)?;
    let titles = match col(&names.title) {
        Some(t) => Some(Text::new(t, &names.title, file)?),
        None => None,
    };
    let stars = ratings_of(ra, opts, file)?;
    let times = match (opts.read_times, col(&names.time)) {
        (true, Some(t)) => Some(times_of(t, &names.time, file)?),
        _ => None,
    };
    let (mut b1, mut b2, mut b3) = (itoa::Buffer::new(), itoa::Buffer::new(), itoa::Buffer::new());
    r.rows.reserve(batch.num_rows());
    for i in 0..batch.num_rows() {
        *row_no += 1;
        r.stats.input_lines += 1;
        let c = customers.get(i, &mut b1).unwrap_or_default();
        let p = products.get(i, &mut b2).unwrap_or_default();
        let time = times.as_ref().map(|t| t[i]);
        let bad = if c.is_empty() {
            Some((BadKind::EmptyCustomerId, String::new()))
        } else if p.is_empty() {
            Some((BadKind::EmptyProductId, String::new()))
        } else if stars[i] == 0 {
            Some((BadKind::BadStarRating, "rating null or out of scale".to_string()))
        } else if time == Some(None) {
            Some((BadKind::BadTime, "time null or out of range".to_string()))
        } else {
            None
        };
        if let Some((kind, detail)) = bad {
            r.stats.bad_lines.add(kind);
            if r.stats.examples.len() < opts.bad_line_examples {
                let name = file.file_name().unwrap_or_default().to_string_lossy();
                r.stats.examples.push(BadLine {
                    line: *row_no,
                    kind,
                    detail: format!(
                        "{name} row {}{}",
                        i + 1,
                        if detail.is_empty() { "" } else { ": " }
                    ) + &detail,
                });
            }
            continue;
        }
        let cc = r.customers.intern(c);
        let (pc, new) = r.products.intern_ref(&KeyRef::new(p));
        if new {
            if pc > Rating::MAX_PRODUCT {
                return Err(Error::bad_input(
                    "more than 2^28 distinct products; fmprep cannot index them",
                ));
            }
            let title = titles
                .as_ref()
                .and_then(|t| t.get(i, &mut b3))
                .unwrap_or_default();
            r.titles.push(title);
        }
        r.rows.push(Rating::from_half_steps(cc, pc, stars[i]));
        if let Some(Some(t)) = time {
            r.times.push(t);
        }
        r.stats.valid += 1;
    }
    Ok(())
}

/// The split tables' schema: `customer`, `product` (indices) and `star_rating` (Int64 when every
/// label is whole, as the CSVs write them; Float32 otherwise).
fn table_schema(float_labels: bool) -> Arc<Schema> {
    let label = if float_labels {
        DataType::Float32
    } else {
        DataType::Int64
    };
    Arc::new(Schema::new(vec![
        Field::new("customer", DataType::Int64, false),
        Field::new("product", DataType::Int64, false),
        Field::new("star_rating", label, false),
    ]))
}

/// Write `samples` as a snappy-compressed Parquet table. Returns the number of rows.
pub fn write_samples<W: std::io::Write + Send>(out: W, samples: &[Sample]) -> std::io::Result<u64> {
    let float_labels = samples.iter().any(|s| s.label.fract() != 0.0);
    let schema = table_schema(float_labels);
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let io = |e: parquet::errors::ParquetError| std::io::Error::other(e.to_string());
    let mut writer = ArrowWriter::try_new(out, Arc::clone(&schema), Some(props)).map_err(io)?;
    for chunk in samples.chunks(1 << 20) {
        let customers: Int64Array = chunk.iter().map(|s| s.customer as i64).collect();
        let products: Int64Array = chunk.iter().map(|s| s.product as i64).collect();
        let labels: ArrayRef = if float_labels {
            Arc::new(chunk.iter().map(|s| s.label).collect::<Float32Array>())
        } else {
            Arc::new(chunk.iter().map(|s| s.label as i64).collect::<Int64Array>())
        };
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(customers), Arc::new(products), labels],
        )
        .map_err(|e| std::io::Error::other(e.to_string()))?;
        writer.write(&batch).map_err(io)?;
    }
    writer.close().map_err(io)?;
    Ok(samples.len() as u64)
}

/// Read a split table written by [`write_samples`] (or any Parquet file with integer `customer`
/// and `product` and numeric `star_rating`/`rating` columns).
pub fn read_samples(bytes: bytes::Bytes, name: &str) -> Result<Vec<Sample>> {
    let bad =
        |e: &dyn std::fmt::Display| Error::bad_input(format!("{name}: not a readable Parquet table: {e}"));
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| bad(&e))?
        .build()
        .map_err(|e| bad(&e))?;
    let file = Path::new(name);
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| bad(&e))?;
        let get = |names: &[&str]| names.iter().find_map(|n| batch.column_by_name(n));
        let (Some(c), Some(p), Some(l)) = (
            get(&["customer", "user"]),
            get(&["product", "item"]),
            get(&["star_rating", "rating"]),
        ) else {
            return Err(Error::bad_input(format!(
                "{name}: lacks a customer, product or star_rating column"
            )));
        };
        let (c, p) = (cast_i64(c, "customer", file)?, cast_i64(p, "product", file)?);
        let labels: Vec<Option<f32>> = match l.data_type() {
            DataType::Float32 => l.as_primitive::<Float32Type>().iter().collect(),
            DataType::Float64 => l
                .as_primitive::<Float64Type>()
                .iter()
                .map(|v| v.map(|x| x as f32))
                .collect(),
            _ => cast_i64(l, "star_rating", file)?
                .iter()
                .map(|v| v.map(|x| x as f32))
                .collect(),
        };
        for (i, label) in labels.into_iter().enumerate() {
            let idx = |a: &Int64Array, what: &str| -> Result<u32> {
                a.is_valid(i)
                    .then(|| a.value(i))
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| {
                        Error::bad_input(format!("{name}: row {}: {what} is not an index", out.len() + 1))
                    })
            };
            let label = label.filter(|v| v.is_finite()).ok_or_else(|| {
                Error::bad_input(format!(
                    "{name}: row {}: star_rating is not a number",
                    out.len() + 1
                ))
            })?;
            out.push(Sample {
                customer: idx(&c, "customer")?,
                product: idx(&p, "product")?,
                label,
            });
        }
    }
    Ok(out)
}

/// The rows of `columns` of a Parquet file or directory as text (integers in decimal, floats in
/// their shortest exact decimal, null as `None`), in file then row order: for side tables.
pub fn read_text_columns(
    path: &Path,
    columns: &[&str],
    mut row: impl FnMut(&[Option<&[u8]>]) -> Result<()>,
) -> Result<()> {
    let files = list_files(path)?;
    if files.is_empty() {
        return Err(Error::bad_input(format!("{}: no .parquet files", path.display())));
    }
    for file in &files {
        let (builder, names) = open_parquet(file)?;
        let mut roots = Vec::new();
        for c in columns {
            match names.iter().position(|n| n == c) {
                Some(i) => roots.push(i),
                None => {
                    return Err(Error::bad_input(format!(
                        "{}: no column {c} (columns: {})",
                        file.display(),
                        names.join(", ")
                    )))
                }
            }
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let reader = builder
            .with_projection(mask)
            .with_batch_size(64 << 10)
            .build()
            .map_err(|e| parquet_error(file, e))?;
        for batch in reader {
            let batch = batch.map_err(|e| parquet_error(file, e))?;
            let arrays: Vec<&ArrayRef> = columns
                .iter()
                .map(|c| batch.column_by_name(c).expect("projected column"))
                .collect();
            let texts: Vec<Text<'_>> = arrays
                .iter()
                .zip(columns)
                .map(|(a, c)| Text::new(a, c, file))
                .collect::<Result<_>>()?;
            let mut bufs: Vec<itoa::Buffer> = columns.iter().map(|_| itoa::Buffer::new()).collect();
            let mut floats: Vec<String> = vec![String::new(); columns.len()];
            for i in 0..batch.num_rows() {
                for (t, f) in texts.iter().zip(floats.iter_mut()) {
                    if let Text::Float(v) = t {
                        f.clear();
                        if let Some(x) = v[i] {
                            use std::fmt::Write;
                            let _ = write!(f, "{x}");
                        }
                    }
                }
                let fields: Vec<Option<&[u8]>> = texts
                    .iter()
                    .zip(bufs.iter_mut())
                    .zip(&floats)
                    .map(|((t, b), f)| match t {
                        Text::Float(v) => v[i].map(|_| f.as_bytes()),
                        t => t.get(i, b),
                    })
                    .collect();
                row(&fields)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_round_trip_with_whole_and_half_labels() {
        for labels in [[5.0f32, 1.0], [3.5, 4.0]] {
            let s = vec![
                Sample {
                    customer: 0,
                    product: 7,
                    label: labels[0],
                },
                Sample {
                    customer: 3,
                    product: 1,
                    label: labels[1],
                },
            ];
            let mut buf = Vec::new();
            assert_eq!(write_samples(&mut buf, &s).unwrap(), 2);
            assert_eq!(&buf[..4], b"PAR1");
            assert_eq!(read_samples(bytes::Bytes::from(buf), "t.parquet").unwrap(), s);
        }
    }
}
