//! Reading RecordIO-protobuf files back: a summary for people and tests, and records as JSON.

use std::collections::BTreeMap;
use std::io::BufRead;

use serde::Serialize;

use crate::error::Result;
use crate::format::recordio::{FmRecord, RecordReader};
use crate::location::Location;
use crate::store::S3Options;

/// What one file (or a set of files) holds.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Summary {
    /// Records read.
    pub records: u64,
    /// Distinct feature_dim values (tensor shapes) seen, with record counts.
    pub feature_dims: BTreeMap<u64, u64>,
    /// Label value → record count.
    pub labels: BTreeMap<String, u64>,
    /// Non-zeros per record → record count.
    pub nnz: BTreeMap<usize, u64>,
    /// Records that are not FM-shaped (no `values` Float32Tensor feature).
    pub other_records: u64,
    /// The first framing or decoding error, if any (reading stops there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Summary {
    /// Add the contents of another summary.
    pub fn merge(&mut self, o: &Summary) {
        self.records += o.records;
        self.other_records += o.other_records;
        for (k, v) in &o.feature_dims {
            *self.feature_dims.entry(*k).or_default() += v;
        }
        for (k, v) in &o.labels {
            *self.labels.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.nnz {
            *self.nnz.entry(*k).or_default() += v;
        }
        if self.error.is_none() {
            self.error.clone_from(&o.error);
        }
    }
}

/// One record as JSON-friendly data.
#[derive(Debug, Clone, Serialize)]
pub struct RecordJson {
    /// Feature keys.
    pub keys: Vec<u64>,
    /// Feature values.
    pub values: Vec<f32>,
    /// Declared feature_dim.
    pub feature_dim: Option<u64>,
    /// Label.
    pub label: Option<f32>,
}

/// Read all records of `input`, summarising them and handing each FM record to `each` (for
/// `--head`). A framing or decoding error ends the file and is kept in `Summary::error`.
pub fn summarize(input: impl BufRead, name: &str, mut each: impl FnMut(&RecordJson)) -> Summary {
    let mut s = Summary::default();
    for rec in RecordReader::new(input, name) {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                s.error = Some(e.to_string());
                break;
            }
        };
        s.records += 1;
        match FmRecord::from_record(&rec) {
            Some(FmRecord {
                keys,
                values,
                feature_dim,
                label,
            }) => {
                if let Some(d) = feature_dim {
                    *s.feature_dims.entry(d).or_default() += 1;
                }
                let l = label.map_or("none".to_string(), |l| l.to_string());
                *s.labels.entry(l).or_default() += 1;
                *s.nnz.entry(keys.len()).or_default() += 1;
                each(&RecordJson {
                    keys,
                    values,
                    feature_dim,
                    label,
                });
            }
            None => s.other_records += 1,
        }
    }
    s
}

/// The RecordIO files at `location`: for a local path as [`list_files`] finds them; for an
/// `s3://` URL the object itself when it exists, otherwise every `*.protobuf`, `*.recordio` or
/// `*.pbr` object under it taken as a prefix, in natural order.
pub fn list_locations(location: &Location, s3: &S3Options) -> Result<Vec<Location>> {
    match location {
        Location::Stdin => Ok(vec![Location::Stdin]),
        Location::Local(p) => Ok(list_files(p)?.into_iter().map(Location::Local).collect()),
        Location::S3(u) => crate::store::s3::list_s3_recordio(&u.to_string(), s3)?
            .iter()
            .map(|url| Location::parse(url))
            .collect(),
    }
}

/// The RecordIO files at `path`: the file itself, or the `*.protobuf`/`*.recordio` files under a
/// directory (recursively, sorted by path).
pub fn list_files(path: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    let meta = std::fs::metadata(path).map_err(|e| crate::Error::io("cannot open", path, e))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).map_err(|e| crate::Error::io("cannot list", &dir, e))? {
            let p = e.map_err(|e| crate::Error::io("cannot list", &dir, e))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("protobuf" | "recordio" | "pbr")
            ) {
                out.push(p);
            }
        }
    }
    // Natural order for test_<i> chunks: by name with numbers compared as numbers.
    out.sort_by_key(|p| crate::format::names::natural_key(&p.to_string_lossy()));
    Ok(out)
}
