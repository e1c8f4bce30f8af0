//! `fmprep inspect`: decode RecordIO-protobuf files, local or on S3.

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use fmprep::inspect::{list_files, summarize, Summary};
use fmprep::store::s3;

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

/// A file to decode: a local path or an S3 URL.
enum Target {
    Local(PathBuf),
    S3(String),
}

pub fn run(a: InspectArgs) -> anyhow::Result<Option<String>> {
    let s3opts = a.s3.options();
    let mut files = Vec::new();
    for p in &a.paths {
        if s3::is_s3_url(p) {
            files.extend(s3::list_s3_recordio(p, &s3opts)?.into_iter().map(Target::S3));
        } else {
            files.extend(list_files(Path::new(p))?.into_iter().map(Target::Local));
        }
    }
    let mut total = Summary::default();
    let mut per_file = Vec::new();
    // Held back until every file decoded: on failure stdout stays empty, as for every command.
    let mut head = Vec::new();
    for f in &files {
        let (name, reader): (String, Box<dyn Read + Send>) = match f {
            Target::Local(f) => (
                f.display().to_string(),
                Box::new(std::fs::File::open(f).map_err(|e| fmprep::Error::io("cannot open", f, e))?),
            ),
            Target::S3(url) => (url.clone(), s3::open_s3_object(url, &s3opts)?),
        };
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
