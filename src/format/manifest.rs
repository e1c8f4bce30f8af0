//! `manifest.json`: what a run produced and how, written last as the mark of a finished run and
//! printed as the last line of stdout for orchestrators; read back ([`Manifest::from_json`]) by
//! `prepare` (the dimensions and blocks of a preprocess output), `--if-exists reuse` and the
//! clean-up of stale files.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

use crate::model::{BadLineCounts, ReadStats};

/// The manifest of a finished run.
///
/// Read back, every field is optional and takes its default when absent, so that a partial
/// manifest (one written by hand beside the Python pipeline's tables, say) still reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Manifest {
    /// Version of fmprep that wrote the files.
    pub fmprep_version: String,
    /// The command: `run`, `preprocess` or `prepare`.
    pub command: String,
    /// The input as given.
    pub input: String,
    /// The input's objects as they were when the run started (size, ETag or mtime), so that
    /// `--if-exists reuse` can tell the same input; absent for stdin.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_objects: Vec<InputObject>,
    /// The output location.
    pub output: String,
    /// Seed of the split.
    pub seed: u64,
    /// Width of the feature vectors: `n_customers + n_products`.
    pub feature_dim: u64,
    /// Number of indexed customers.
    pub n_customers: u64,
    /// Number of indexed products.
    pub n_products: u64,
    /// Row counts through the stages.
    pub counts: Counts,
    /// The first few skipped lines, with line numbers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bad_line_examples: Vec<crate::model::BadLine>,
    /// The files written, per group.
    pub files: BTreeMap<String, Vec<FileEntry>>,
    /// The options in effect, as the run's `Options` serialise (kept as JSON: they are a record
    /// for people and for the `reuse` comparison, not an input).
    pub options: serde_json::Value,
    /// Wall time of the run.
    pub elapsed_seconds: f64,
    /// Wall time per stage.
    pub stage_seconds: BTreeMap<String, f64>,
    /// Ready to pass to the SageMaker FM training job (values are strings, as the API wants).
    pub hyperparameters: BTreeMap<String, String>,
    /// Passes of the `--k-core` filter (the last one removed nothing); absent without `--k-core`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k_core_iterations: Option<u32>,
    /// The blocks of the feature vector in key order, with `--categorical`/`--numeric` (absent
    /// without side features, where the layout is customers then products).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<crate::features::layout::Block>,
    /// How each side table joined the kept rows (`customer`, `product`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub side_tables: BTreeMap<String, crate::features::gather::SideTableStats>,
}

/// Row counts through the pipeline. Counts a stage did not run in (e.g. read counts in `prepare`)
/// are absent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    /// Data lines in the input (header excluded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_lines: Option<u64>,
    /// Blank lines ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blank_lines: Option<u64>,
    /// Skipped lines per kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bad_lines: Option<BadLineCounts>,
    /// All skipped lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bad_lines_total: Option<u64>,
    /// Valid rating rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid: Option<u64>,
    /// Rows left by the long-tail filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_long_tail: Option<u64>,
    /// Rows left after dropping duplicate (customer, product) pairs.
    pub after_dedupe: u64,
    /// Training rows.
    pub train: u64,
    /// Validation rows.
    pub validate: u64,
    /// Test rows.
    pub test: u64,
}

impl Manifest {
    /// Parse the manifest JSON `bytes` read from `name`; a failure is a bad-input error that
    /// names the file and ends with `fix` (what to do about it).
    pub fn from_json(bytes: &[u8], name: &str, fix: &str) -> Result<Manifest> {
        serde_json::from_slice(bytes).map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Data => "not a valid manifest",
                _ => "not valid JSON",
            };
            Error::bad_input(format!("{name}: {what} ({e}); {fix}"))
        })
    }

    /// The manifest as the run writes it: pretty JSON and a final newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut json = serde_json::to_vec_pretty(self).expect("a manifest serialises");
        json.push(b'\n');
        json
    }
}

impl Counts {
    /// Fill the read-stage counts from `stats`.
    pub fn with_read(mut self, stats: &ReadStats) -> Self {
        self.input_lines = Some(stats.input_lines);
        self.blank_lines = Some(stats.blank_lines);
        self.bad_lines = Some(stats.bad_lines);
        self.bad_lines_total = Some(stats.bad_lines.total());
        self.valid = Some(stats.valid);
        self
    }
}

/// One object of the input, as a run found it before reading it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct InputObject {
    /// The file path or `s3://` URL.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// What changes when the content does: `etag:<ETag>` on S3, `mtime:<seconds.nanos>` locally.
    pub version: String,
}

/// One written file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct FileEntry {
    /// Path relative to the output location, `/`-separated.
    pub path: String,
    /// Records (data rows) in the file.
    pub records: u64,
    /// Size in bytes.
    pub bytes: u64,
}

/// The SageMaker FM hyperparameters that follow from the data, for rating labels.
pub fn hyperparameters(feature_dim: u64) -> BTreeMap<String, String> {
    hyperparameters_for(feature_dim, "regressor")
}

/// The SageMaker FM hyperparameters for `feature_dim` and a `predictor_type` (`regressor` or
/// `binary_classifier`).
pub fn hyperparameters_for(feature_dim: u64, predictor_type: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("feature_dim".to_string(), feature_dim.to_string()),
        ("predictor_type".to_string(), predictor_type.to_string()),
    ])
}
