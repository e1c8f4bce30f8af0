//! A preprocess output read back by `prepare`: its split tables (the CSV, or else the Parquet file
//! beside it), and what it declares before any row is read: the dimensions (its manifest, else its
//! maps, else the flags, checked against each other) and the predictor type of its labels.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::stages::encode::Sample;
use crate::stages::index::Dims;
use crate::store::{Source, MANIFEST};

/// Read one split table of a preprocess output: the CSV, or else the Parquet file beside it.
pub(crate) fn read_table(
    source: &dyn Source,
    csv_rel: &str,
    delimiter: u8,
    bounds: Option<(Dims, &str)>,
    cancel: &crate::cancel::Cancel,
) -> Result<Vec<Sample>> {
    let name = format!("{}/{csv_rel}", source.describe());
    if let Some(r) = source.open(csv_rel)? {
        return super::read_csv_within(r, delimiter, &name, bounds, cancel);
    }
    #[cfg(feature = "parquet")]
    {
        let rel = csv_rel.replace(".csv", ".parquet");
        if let Some(mut r) = source.open(&rel)? {
            let mut buf = Vec::new();
            let pname = format!("{}/{rel}", source.describe());
            std::io::Read::read_to_end(&mut r, &mut buf).map_err(|e| Error::io("cannot read", &pname, e))?;
            let samples = super::parquet::read_samples(bytes::Bytes::from(buf), &pname)?;
            super::check_bounds(&samples, bounds, &pname)?;
            return Ok(samples);
        }
    }
    Err(Error::new(
        source.missing_kind(),
        format!(
            "{name}: not found; expected the output of `fmprep preprocess` (train/, validate/, test/ CSV or Parquet tables)"
        ),
    ))
}

/// One split table that [`check`] found.
#[derive(Debug, Clone, Serialize)]
pub struct TableCheck {
    /// Where it is (`pre/train/train.csv`).
    pub table: String,
    /// `csv` or `parquet`.
    pub format: &'static str,
}

/// The dry run of `prepare`: check, reading only headers (a CSV's first line, a Parquet table's
/// schema), that `source` holds the three split tables `prepare` reads, each as the CSV or else
/// the Parquet file beside it, with the columns it needs. Nothing is written.
pub fn check(source: &dyn Source, delimiter: u8) -> Result<Vec<TableCheck>> {
    let mut found = Vec::new();
    for (_, csv_rel) in super::SPLIT_FILES {
        let name = format!("{}/{csv_rel}", source.describe());
        if let Some(r) = source.open(csv_rel)? {
            let mut head = Vec::new();
            std::io::BufRead::read_until(&mut std::io::BufReader::new(r), b'\n', &mut head)
                .map_err(|e| Error::io("cannot read", &name, e))?;
            super::read_csv(&head[..], delimiter, &name)?;
            found.push(TableCheck {
                table: name,
                format: "csv",
            });
            continue;
        }
        #[cfg(feature = "parquet")]
        {
            let rel = csv_rel.replace(".csv", ".parquet");
            if let Some(bytes) = read_bytes(source, &rel)? {
                let pname = format!("{}/{rel}", source.describe());
                super::parquet::check_columns(bytes::Bytes::from(bytes), &pname)?;
                found.push(TableCheck {
                    table: pname,
                    format: "parquet",
                });
                continue;
            }
        }
        return Err(Error::new(
            source.missing_kind(),
            format!(
                "{name}: not found; expected the output of `fmprep preprocess` (train/, validate/, test/ CSV or Parquet tables)"
            ),
        ));
    }
    Ok(found)
}

/// Options of `prepare` (the command and `pipeline::prepare`) beyond the shared ones: how to read
/// the tables and the dimensions when the output does not declare them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PrepareOptions {
    /// Field separator of the CSVs.
    pub delimiter: Option<u8>,
    /// Number of customers, when the input has no manifest or maps to tell.
    pub n_customers: Option<u64>,
    /// Number of products, likewise.
    pub n_products: Option<u64>,
}

pub(crate) fn read_bytes(source: &dyn Source, rel: &str) -> Result<Option<Vec<u8>>> {
    let Some(mut r) = source.open(rel)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut bytes)
        .map_err(|e| Error::io("cannot read", format!("{}/{rel}", source.describe()), e))?;
    Ok(Some(bytes))
}

/// Entries of a map file: its non-empty lines after the header. Counted on bytes, since product
/// titles are copied from the input as they are and need not be UTF-8.
fn map_entries(bytes: &[u8]) -> u64 {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && *l != b"\r")
        .count()
        .saturating_sub(1) as u64
}

/// The dimensions a preprocess output declares before its data is read, and where they come from:
/// its manifest, else its maps, else the explicit options. Explicit options must agree with the
/// manifest or maps, and the manifest with the maps. A dimension nobody declares is `None`: the
/// largest index + 1 in the data decides it.
pub(crate) fn declared_dims(
    source: &dyn Source,
    popts: &PrepareOptions,
) -> Result<(Option<u64>, Option<u64>, String)> {
    let where_ = source.describe();
    let mut found: Option<(Dims, String)> = None;
    if let Some(bytes) = read_bytes(source, MANIFEST)? {
        // Only the dimensions, each optional: a manifest without them declares nothing.
        #[derive(serde::Deserialize)]
        struct Declared {
            n_customers: Option<u64>,
            n_products: Option<u64>,
        }
        let name = format!("{where_}/{MANIFEST}");
        crate::format::manifest::Manifest::from_json(&bytes, &name, "remove it or re-run preprocess")?;
        let v: Declared =
            serde_json::from_slice(&bytes).map_err(|e| Error::bad_input(format!("{name}: {e}")))?;
        if let (Some(c), Some(p)) = (v.n_customers, v.n_products) {
            found = Some((
                Dims {
                    n_customers: c,
                    n_products: p,
                },
                format!("{where_}/{MANIFEST}"),
            ));
        }
    }
    let maps = match (
        read_bytes(source, crate::format::names::CUSTOMER_MAP)?,
        read_bytes(source, crate::format::names::PRODUCT_MAP)?,
    ) {
        (Some(c), Some(p)) => Some(Dims {
            n_customers: map_entries(&c),
            n_products: map_entries(&p),
        }),
        _ => None,
    };
    match (&found, maps) {
        (Some((d, from)), Some(m)) if *d != m => {
            return Err(Error::bad_input(format!(
                "{from} declares {} customers and {} products but {where_}/maps lists {} and {}; the \
                 directory mixes files of different runs, re-run preprocess",
                d.n_customers, d.n_products, m.n_customers, m.n_products
            )));
        }
        (None, Some(m)) => found = Some((m, format!("{where_}/maps"))),
        _ => {}
    }
    let (c, p) = (popts.n_customers, popts.n_products);
    Ok(match found {
        Some((d, from)) => {
            if c.is_some_and(|c| c != d.n_customers) || p.is_some_and(|p| p != d.n_products) {
                return Err(Error::usage(format!(
                    "--n-customers/--n-products ({}/{}) do not match {from} ({}/{}); drop the flags or fix the input",
                    c.map_or("-".into(), |v| v.to_string()),
                    p.map_or("-".into(), |v| v.to_string()),
                    d.n_customers,
                    d.n_products
                )));
            }
            (Some(d.n_customers), Some(d.n_products), from)
        }
        None => (c, p, "--n-customers/--n-products".to_string()),
    })
}

/// The `hyperparameters.predictor_type` of a preprocess output's manifest, if it has one.
pub(crate) fn predictor_type_of(source: &dyn Source) -> Result<Option<String>> {
    let Some(bytes) = read_bytes(source, MANIFEST)? else {
        return Ok(None);
    };
    // An unreadable manifest is reported by `declared_dims`, which reads it first.
    let m = crate::format::manifest::Manifest::from_json(&bytes, MANIFEST, "").unwrap_or_default();
    Ok(m.hyperparameters.get("predictor_type").cloned())
}
