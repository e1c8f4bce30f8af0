//! `fmprep inspect`: decode RecordIO-protobuf files, local or on S3.

use std::io::{BufReader, Write};

use clap::Args;
use fmprep::inspect::{list_locations, summarize, Summary};
use fmprep::Location;

use super::{ui, S3Args};

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// RecordIO-protobuf files, or directories searched for *.protobuf files; s3://bucket/key for
    /// one object, s3://bucket/prefix/ for every *.protobuf object under the prefix.
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Print the first N records as JSON lines on stdout before the summary.
    #[arg(long, default_value_t = 0)]
    pub head: usize,
    #[command(flatten)]
    pub s3: S3Args,
}

pub fn run(a: InspectArgs) -> anyhow::Result<Option<String>> {
    let s3opts = a.s3.options();
    let mut files = Vec::new();
    for p in &a.paths {
        files.extend(list_locations(&Location::parse(p)?, &s3opts)?);
    }
    let mut total = Summary::default();
    let mut per_file = Vec::new();
    // Held back until every file decoded: on failure stdout stays empty, as for every command.
    let mut head = Vec::new();
    for f in &files {
        let (name, reader) = fmprep::source::open_raw(f, &s3opts)?;
        let s = summarize(BufReader::with_capacity(1 << 20, reader), &name, |rec| {
            if head.len() < a.head {
                head.push(serde_json::to_string(rec).unwrap_or_default());
            }
        });
        ui::info(&format!(
            "{name}: {} records, feature_dim {:?}",
            s.records,
            s.feature_dims.keys().collect::<Vec<_>>()
        ));
        total.merge(&s);
        per_file.push(serde_json::json!({"path": name, "records": s.records, "error": s.error}));
    }
    if let Some(err) = &total.error {
        return Err(fmprep::Error::bad_input(err.clone()).into());
    }
    let summary = serde_json::json!({"files": per_file, "total": total});
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in &head {
        writeln!(out, "{line}")?;
    }
    Ok(Some(summary.to_string()))
}
