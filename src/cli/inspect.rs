//! `fmprep inspect`: decode RecordIO-protobuf files, local or on S3.

use std::io::{BufReader, Write};
use std::path::PathBuf;

use crate::tools::inspect::{list_locations, summarize, Summary};
use crate::Location;
use clap::Args;

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
    /// Output directory of the run whose manifest lists the feature blocks (default: found above
    /// a local file, e.g. out/ for out/train/train.protobuf); then each --head record names the
    /// block of each key and the summary counts keys per block.
    #[arg(long, value_name = "DIR")]
    pub layout: Option<PathBuf>,
    #[command(flatten)]
    pub s3: S3Args,
}

pub fn run(a: InspectArgs, cancel: &crate::cancel::Cancel) -> anyhow::Result<Option<String>> {
    let s3opts = a.s3.options(cancel);
    let mut files = Vec::new();
    for p in &a.paths {
        files.extend(list_locations(&Location::parse(p)?, &s3opts)?);
    }
    // The run's feature blocks, when it had side features.
    let layout = match &a.layout {
        Some(d) => crate::features::maps::read_layout(d)?,
        None => files
            .iter()
            .find_map(|f| {
                f.local_path()?
                    .ancestors()
                    .skip(1)
                    .take(2)
                    .find(|d| d.join("manifest.json").is_file())
            })
            .map(crate::features::maps::read_layout)
            .transpose()?
            .flatten(),
    };
    let mut per_block: std::collections::BTreeMap<(u64, String), u64> = Default::default();
    let mut total = Summary::default();
    let mut per_file = Vec::new();
    // Held back until every file decoded: on failure stdout stays empty, as for every command.
    let mut head = Vec::new();
    for f in &files {
        let (name, reader) = crate::source::open_raw(f, &s3opts)?;
        let s = summarize(BufReader::with_capacity(1 << 20, reader), &name, |rec| {
            let blocks: Option<Vec<&str>> = layout.as_ref().map(|l| {
                rec.keys
                    .iter()
                    .map(|&k| l.block_of(k).map_or("(outside)", |b| b.name.as_str()))
                    .collect()
            });
            if let (Some(l), Some(names)) = (&layout, &blocks) {
                for (&k, name) in rec.keys.iter().zip(names) {
                    let offset = l.block_of(k).map_or(u64::MAX, |b| b.offset);
                    *per_block.entry((offset, name.to_string())).or_default() += 1;
                }
            }
            if head.len() < a.head {
                let mut v = serde_json::to_value(rec).unwrap_or_default();
                if let Some(names) = blocks {
                    v["blocks"] = serde_json::json!(names);
                }
                head.push(v.to_string());
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
        return Err(crate::Error::bad_input(err.clone()).into());
    }
    let mut summary = serde_json::json!({"files": per_file, "total": total});
    if let Some(l) = &layout {
        // In key order; every block listed, also those no record has a key in.
        let counts: Vec<serde_json::Value> = l
            .blocks
            .iter()
            .map(|b| {
                let n = per_block.get(&(b.offset, b.name.clone())).copied().unwrap_or(0);
                serde_json::json!({"name": b.name, "kind": b.kind, "offset": b.offset, "size": b.size, "keys": n})
            })
            .collect();
        summary["blocks"] = serde_json::json!(counts);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in &head {
        if !super::embedded::capture_stdout(line) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(Some(summary.to_string()))
}
