//! Inference encoding: (customer_id, product_id) pairs → the feature vectors the trained model
//! expects, using the index maps saved at training time (`maps/customers.tsv`,
//! `maps/products.tsv`), so training and inference agree on every index.
//!
//! This module owns the maps loader, the pairs reader (CSV or TSV with a header, columns by name)
//! and the two output encodings: RecordIO-protobuf records without labels (batch transform), and
//! the JSON request body of a SageMaker FM endpoint:
//!
//! ```json
//! {"instances": [{"data": {"features": {"keys": [12, 140400], "shape": [178729], "values": [1.0, 1.0]}}}]}
//! ```
//!
//! Ids missing from the maps are never dropped silently: [`UnknownPolicy`] says whether they fail
//! the run, skip the row, or leave the unknown id's feature out of the record (an unseen customer
//! still gets a prediction from the product's factors), and every case is counted in [`EncodeStats`].

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};

use prost::Message;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::features::maps::{FeatureMaps, SideCounts};
use crate::format::recordio;
use crate::location::Location;
use crate::proto;
use crate::store::S3Options;

/// The index maps of a finished run.
#[derive(Debug, Default)]
pub struct Maps {
    customers: HashMap<String, u32>,
    products: HashMap<String, u32>,
    /// The run's side-feature blocks, when it had any.
    features: Option<FeatureMaps>,
}

impl Maps {
    /// Load `customers.tsv` and `products.tsv` from `dir/maps/` (a run's output) or `dir/` itself.
    pub fn load(dir: &std::path::Path) -> Result<Maps> {
        Maps::open(&Location::Local(dir.to_path_buf()), &S3Options::default())
    }

    /// Load the maps from `location/maps/` (a run's output) or `location/` itself: a local
    /// directory or an `s3://` prefix (reached with `s3`).
    pub fn open(location: &Location, s3: &S3Options) -> Result<Maps> {
        let dir = crate::source::open_dir(location, s3)?;
        let (base, first) = match dir.open(crate::format::names::CUSTOMER_MAP)? {
            Some(r) => ("maps/", Some(r)),
            None => ("", None),
        };
        let read = |name: &str,
                    id_col: &str,
                    opened: Option<Box<dyn Read + Send>>|
         -> Result<HashMap<String, u32>> {
            let rel = format!("{base}{name}");
            let where_ = format!("{}/{rel}", dir.describe());
            let mut r = match opened {
                Some(r) => r,
                None => dir.open(&rel)?.ok_or_else(|| {
                    Error::new(
                        dir.missing_kind(),
                        format!(
                            "cannot read map {where_}: not found; give the output of `fmprep run` or `fmprep \
                             preprocess` (or its maps/ folder)"
                        ),
                    )
                })?,
            };
            let mut text = String::new();
            r.read_to_string(&mut text)
                .map_err(|e| Error::io("cannot read map", &where_, e))?;
            parse_map(&text, id_col, &where_)
        };
        let customers = read("customers.tsv", "customer_id", first)?;
        let products = read("products.tsv", "product_id", None)?;
        let features = match location {
            // The manifest and maps/features/ sit in the run directory, above maps/.
            Location::Local(p) => {
                let run_dir = if base.is_empty() {
                    p.parent().unwrap_or(p)
                } else {
                    p
                };
                FeatureMaps::load(run_dir)?
            }
            _ => {
                // Side-feature maps are read from local runs only: refuse rather than encode
                // records without the features the model was trained with.
                if let Some(mut m) = dir.open(crate::store::MANIFEST)? {
                    let mut bytes = Vec::new();
                    let name = format!("{}/{}", dir.describe(), crate::store::MANIFEST);
                    m.read_to_end(&mut bytes)
                        .map_err(|e| Error::io("cannot read", &name, e))?;
                    if crate::features::maps::layout_of_manifest(&bytes, &name)?.is_some() {
                        return Err(Error::usage(format!(
                            "{name}: the run has side features, whose maps encode reads from a local copy \
                             only; copy the run directory (e.g. `aws s3 cp --recursive`) and pass its path"
                        )));
                    }
                }
                None
            }
        };
        Ok(Maps {
            customers,
            products,
            features,
        })
    }

    /// The run's side-feature blocks, when it had any (for loading their side tables).
    pub fn features_mut(&mut self) -> Option<&mut FeatureMaps> {
        self.features.as_mut()
    }

    /// Maps from in-memory `maps/*.tsv` texts.
    pub fn from_texts(customers: &str, products: &str) -> Result<Maps> {
        Ok(Maps {
            customers: parse_map(customers, "customer_id", "customers.tsv")?,
            products: parse_map(products, "product_id", "products.tsv")?,
            features: None,
        })
    }

    /// Number of customers (the first feature columns).
    pub fn n_customers(&self) -> u64 {
        self.customers.len() as u64
    }

    /// Number of products.
    pub fn n_products(&self) -> u64 {
        self.products.len() as u64
    }

    /// Width of the feature vectors: `n_customers + n_products`, plus the side blocks.
    pub fn feature_dim(&self) -> u64 {
        match &self.features {
            Some(f) => f.feature_dim(),
            None => self.n_customers() + self.n_products(),
        }
    }

    /// The feature keys of a pair: customer index, then `n_customers + product index`; `None` for
    /// an id not in the maps.
    pub fn keys(&self, customer: &str, product: &str) -> (Option<u64>, Option<u64>) {
        (
            self.customers.get(customer).map(|&i| i as u64),
            self.products.get(product).map(|&i| self.n_customers() + i as u64),
        )
    }
}

/// Parse a map file: header `<id_col>\tindex\t...`, then one id per line with indices 0, 1, 2, …
fn parse_map(text: &str, id_col: &str, name: &str) -> Result<HashMap<String, u32>> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    if !header.starts_with(&format!("{id_col}\tindex")) {
        return Err(Error::bad_input(format!(
            "{name}: header {header:?} is not `{id_col}<TAB>index…`; give the maps/ of an fmprep run"
        )));
    }
    let mut map = HashMap::new();
    for (i, line) in lines.enumerate() {
        let mut f = line.split('\t');
        let (id, index) = (f.next().unwrap_or_default(), f.next().unwrap_or_default());
        if index.parse::<usize>().ok() != Some(i) {
            return Err(Error::bad_input(format!(
                "{name}: line {}: index {index:?}, expected {i} (maps list indices in order)",
                i + 2
            )));
        }
        map.insert(id.to_string(), i as u32);
    }
    Ok(map)
}

/// What to do with a row whose customer or product is not in the maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownPolicy {
    /// Fail (exit 3) and name the first few; nothing is written.
    #[default]
    Error,
    /// Leave the row out, counted and reported.
    Skip,
    /// Keep the row, leaving the unknown id's feature out of the record.
    Omit,
}

impl std::str::FromStr for UnknownPolicy {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "error" => Ok(UnknownPolicy::Error),
            "skip" => Ok(UnknownPolicy::Skip),
            "omit" => Ok(UnknownPolicy::Omit),
            _ => Err(format!(
                "invalid unknown-id policy {s:?}: use error, skip or omit"
            )),
        }
    }
}

/// Output encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// RecordIO-protobuf records, features only (for batch transform).
    #[default]
    Recordio,
    /// FM endpoint JSON request bodies, one per line.
    Json,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "recordio" | "protobuf" => Ok(Format::Recordio),
            "json" => Ok(Format::Json),
            _ => Err(format!("invalid format {s:?}: use recordio or json")),
        }
    }
}

/// Options of [`encode_pairs`].
#[derive(Debug, Clone, Serialize)]
pub struct EncodeOptions {
    /// Header name of the customer id column.
    pub customer_col: String,
    /// Header name of the product id column.
    pub product_col: String,
    /// Field separator; `None` = tab if the header has one, else comma.
    pub delimiter: Option<u8>,
    /// Unknown ids.
    pub unknown: UnknownPolicy,
    /// Output encoding.
    pub format: Format,
    /// JSON: instances per request body (one body per line); 0 = all in one body.
    pub batch: usize,
    /// How many unknown-id rows are kept as examples.
    pub examples: usize,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            customer_col: "customer_id".into(),
            product_col: "product_id".into(),
            delimiter: None,
            unknown: UnknownPolicy::Error,
            format: Format::Recordio,
            batch: 0,
            examples: 5,
        }
    }
}

/// One row with an unknown id.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UnknownRow {
    /// 1-based line number (the header is line 1).
    pub line: u64,
    /// The customer id, when it is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// The product id, when it is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
}

impl std::fmt::Display for UnknownRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}:", self.line)?;
        if let Some(c) = &self.customer {
            write!(f, " customer {c:?}")?;
        }
        if let Some(p) = &self.product {
            write!(f, " product {p:?}")?;
        }
        Ok(())
    }
}

/// Counters of an encoding run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EncodeStats {
    /// Data rows read (blank lines excluded).
    pub rows: u64,
    /// Records (JSON instances) written.
    pub written: u64,
    /// Rows with an unknown customer id.
    pub unknown_customers: u64,
    /// Rows with an unknown product id.
    pub unknown_products: u64,
    /// Rows with at least one unknown id.
    pub unknown_rows: u64,
    /// Rows left out (`--unknown skip`).
    pub skipped: u64,
    /// The first few rows with unknown ids.
    pub unknown_examples: Vec<UnknownRow>,
    /// The feature dimension of the records.
    pub feature_dim: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Side features: unseen categories and ids absent from side tables.
    #[serde(skip_serializing_if = "SideCounts::is_zero")]
    pub side: SideCounts,
}

/// A label-less FM record: `features["values"]` = Float32Tensor{values 1.0…, keys, shape}.
fn record_payload(keys: &[u64], values: &[f32], feature_dim: u64) -> Vec<u8> {
    let tensor = proto::Float32Tensor {
        values: values.to_vec(),
        keys: keys.to_vec(),
        shape: vec![feature_dim],
    };
    let value = proto::Value {
        value: Some(proto::value::Value::Float32Tensor(tensor)),
    };
    let record = proto::Record {
        features: BTreeMap::from([("values".to_string(), value)]),
        ..Default::default()
    };
    record.encode_to_vec()
}

fn json_instance(keys: &[u64], values: &[f32], feature_dim: u64) -> serde_json::Value {
    serde_json::json!({"data": {"features": {
        "keys": keys,
        "shape": [feature_dim],
        "values": values,
    }}})
}

/// Read (customer, product) pairs from `input` (header line first) and write their encoding to
/// `out`. With [`UnknownPolicy::Error`] nothing is written when an id is unknown (the records are
/// built in memory first), so a failed run leaves no partial output.
pub fn encode_pairs(
    maps: &Maps,
    input: impl Read,
    name: &str,
    out: &mut dyn Write,
    opts: &EncodeOptions,
) -> Result<EncodeStats> {
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut line = String::new();
    let read_line = |reader: &mut BufReader<_>, line: &mut String| -> Result<bool> {
        line.clear();
        let n = reader
            .read_line(line)
            .map_err(|e| Error::io("cannot read", name, e))?;
        while line.ends_with('\n') || line.ends_with('\r') {
            line.pop();
        }
        Ok(n > 0)
    };
    if !read_line(&mut reader, &mut line)? {
        return Err(Error::bad_input(format!(
            "{name}: empty input; expected a header line naming {} and {}",
            opts.customer_col, opts.product_col
        )));
    }
    let delimiter = opts
        .delimiter
        .unwrap_or(if line.contains('\t') { b'\t' } else { b',' }) as char;
    let header: Vec<&str> = line.split(delimiter).map(str::trim).collect();
    let find = |col: &str| header.iter().position(|h| *h == col);
    let (Some(ci), Some(pi)) = (find(&opts.customer_col), find(&opts.product_col)) else {
        return Err(Error::bad_input(format!(
            "{name}: line 1: header {:?} lacks column {} or {} (delimiter {delimiter:?}); name them with \
             --customer-col / --product-col",
            header.join(&delimiter.to_string()),
            opts.customer_col,
            opts.product_col
        )));
    };
    let fields = header.len();
    let input_at = match &maps.features {
        Some(f) => f.bind_header(&header, name)?,
        None => Vec::new(),
    };
    let dim = maps.feature_dim();
    let mut stats = EncodeStats {
        feature_dim: dim,
        ..Default::default()
    };
    let mut buf = Vec::new();
    let mut instances = Vec::new();
    let mut lineno = 1u64;
    let flush_json = |instances: &mut Vec<serde_json::Value>, buf: &mut Vec<u8>| {
        let body = serde_json::json!({ "instances": std::mem::take(instances) });
        serde_json::to_writer(&mut *buf, &body).expect("JSON serialises");
        buf.push(b'\n');
    };
    while read_line(&mut reader, &mut line)? {
        lineno += 1;
        if line.is_empty() {
            continue;
        }
        let row: Vec<&str> = line.split(delimiter).collect();
        if row.len() != fields {
            return Err(Error::bad_input(format!(
                "{name}: line {lineno}: {} fields, the header has {fields}",
                row.len()
            )));
        }
        stats.rows += 1;
        let (customer, product) = (row[ci].trim(), row[pi].trim());
        let (ck, pk) = maps.keys(customer, product);
        if ck.is_none() || pk.is_none() {
            stats.unknown_rows += 1;
            stats.unknown_customers += u64::from(ck.is_none());
            stats.unknown_products += u64::from(pk.is_none());
            if stats.unknown_examples.len() < opts.examples {
                stats.unknown_examples.push(UnknownRow {
                    line: lineno,
                    customer: ck.is_none().then(|| customer.to_string()),
                    product: pk.is_none().then(|| product.to_string()),
                });
            }
            match opts.unknown {
                UnknownPolicy::Error => continue,
                UnknownPolicy::Skip => {
                    stats.skipped += 1;
                    continue;
                }
                UnknownPolicy::Omit => {}
            }
        }
        let mut keys: Vec<u64> = [ck, pk].into_iter().flatten().collect();
        let mut values = vec![1.0f32; keys.len()];
        if let Some(f) = &maps.features {
            f.row(
                &input_at,
                &row,
                customer,
                product,
                &mut keys,
                &mut values,
                &mut stats.side,
            )
            .map_err(|why| Error::bad_input(format!("{name}: line {lineno}: {why}")))?;
        }
        match opts.format {
            Format::Recordio => recordio::frame(&mut buf, &record_payload(&keys, &values, dim))?,
            Format::Json => {
                instances.push(json_instance(&keys, &values, dim));
                if opts.batch > 0 && instances.len() >= opts.batch {
                    flush_json(&mut instances, &mut buf);
                }
            }
        }
        stats.written += 1;
        // Stream out as we go, except when an unknown id may still turn the run into a failure.
        if opts.unknown != UnknownPolicy::Error && buf.len() >= 1 << 20 {
            out.write_all(&buf)
                .map_err(|e| Error::io("cannot write", "output", e))?;
            stats.bytes += buf.len() as u64;
            buf.clear();
        }
    }
    if opts.unknown == UnknownPolicy::Error && stats.unknown_rows > 0 {
        let first: Vec<String> = stats.unknown_examples.iter().map(|u| u.to_string()).collect();
        return Err(Error::bad_input(format!(
            "{name}: {} of {} rows have ids not in the maps ({} unknown customers, {} unknown products); \
             first: {}; pass --unknown skip or --unknown omit to encode the rest",
            stats.unknown_rows,
            stats.rows,
            stats.unknown_customers,
            stats.unknown_products,
            first.join(", ")
        )));
    }
    if opts.format == Format::Json && (!instances.is_empty() || stats.written == 0) {
        flush_json(&mut instances, &mut buf);
    }
    out.write_all(&buf)
        .map_err(|e| Error::io("cannot write", "output", e))?;
    out.flush().map_err(|e| Error::io("cannot write", "output", e))?;
    stats.bytes += buf.len() as u64;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps() -> Maps {
        Maps::from_texts(
            "customer_id\tindex\tcount\n7\t0\t2\n007\t1\t1\n",
            "product_id\tindex\tcount\tproduct_title\nB1\t0\t2\tt\nB2\t1\t1\t\n",
        )
        .unwrap()
    }

    #[test]
    fn recordio_records_decode_to_the_training_keys() {
        let mut out = Vec::new();
        let s = encode_pairs(
            &maps(),
            "product_id,customer_id\nB2,007\nB1,7\n".as_bytes(),
            "t",
            &mut out,
            &EncodeOptions::default(),
        )
        .unwrap();
        assert_eq!((s.rows, s.written, s.feature_dim), (2, 2, 4));
        let recs: Vec<recordio::FmRecord> = recordio::RecordReader::new(&out[..], "t")
            .map(|r| recordio::FmRecord::from_record(&r.unwrap()).unwrap())
            .collect();
        assert_eq!(recs[0].keys, vec![1, 3]);
        assert_eq!(recs[1].keys, vec![0, 2]);
        assert_eq!(recs[0].feature_dim, Some(4));
        assert_eq!(recs[0].label, None);
    }

    #[test]
    fn unknown_ids_fail_skip_or_are_omitted() {
        let input = "customer_id\tproduct_id\n7\tB1\nX\tB1\n7\tZZ\n";
        let mut out = Vec::new();
        let err = encode_pairs(
            &maps(),
            input.as_bytes(),
            "t",
            &mut out,
            &EncodeOptions::default(),
        )
        .unwrap_err();
        assert!(err.message().contains("2 of 3 rows"), "{err}");
        assert!(err.message().contains("line 3: customer \"X\""), "{err}");
        assert!(out.is_empty());
        let opts = |unknown| EncodeOptions {
            unknown,
            format: Format::Json,
            ..Default::default()
        };
        let s = encode_pairs(
            &maps(),
            input.as_bytes(),
            "t",
            &mut out,
            &opts(UnknownPolicy::Skip),
        )
        .unwrap();
        assert_eq!(
            (s.written, s.skipped, s.unknown_customers, s.unknown_products),
            (1, 2, 1, 1)
        );
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "{\"instances\":[{\"data\":{\"features\":{\"keys\":[0,2],\"shape\":[4],\"values\":[1.0,1.0]}}}]}\n"
        );
        out.clear();
        let s = encode_pairs(
            &maps(),
            input.as_bytes(),
            "t",
            &mut out,
            &opts(UnknownPolicy::Omit),
        )
        .unwrap();
        assert_eq!(s.written, 3);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["instances"][1]["data"]["features"]["keys"],
            serde_json::json!([2])
        );
        assert_eq!(
            v["instances"][2]["data"]["features"]["keys"],
            serde_json::json!([0])
        );
    }
}
