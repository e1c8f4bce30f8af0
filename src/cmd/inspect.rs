//! `fmprep inspect`: decode RecordIO-protobuf files.

use std::io::{BufReader, Write};
use std::path::PathBuf;

use clap::Args;
use fmprep::inspect::{list_files, summarize, Summary};

use super::ui;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// RecordIO-protobuf files, or directories searched for *.protobuf files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print the first N records as JSON lines on stdout before the summary.
    #[arg(long, default_value_t = 0)]
    pub head: usize,
}

pub fn run(a: InspectArgs) -> anyhow::Result<Option<String>> {
    let mut files = Vec::new();
    for p in &a.paths {
        files.extend(list_files(p)?);
    }
    let mut total = Summary::default();
    let mut per_file = Vec::new();
    // Held back until every file decoded: on failure stdout stays empty, as for every command.
    let mut head = Vec::new();
    for f in &files {
        let file = std::fs::File::open(f).map_err(|e| fmprep::Error::io("cannot open", f, e))?;
        let name = f.display().to_string();
        let s = summarize(BufReader::with_capacity(1 << 20, file), &name, |rec| {
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
