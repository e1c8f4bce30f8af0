//! `fmprep synth` and `fmprep decompress`: their flags, over [`crate::synth`] and the library's
//! input decompression.

use std::io::{BufWriter, Write};

use crate::synth::{write_synth, SynthOptions};
use anyhow::Context;
use clap::Args;

use super::{ui, S3Args};

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Data lines to write (malformed lines included).
    #[arg(long, default_value_t = 4_057_147)]
    pub rows: u64,
    /// Seed: the same rows and seed give the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output file; a name ending in .gz is gzip-compressed; `-` writes plain text to stdout.
    #[arg(short, long)]
    pub output: String,
    /// gzip level 0-9 for .gz output.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(0..=9))]
    pub gzip_level: u32,
    /// Share of malformed lines.
    #[arg(long)]
    pub bad_line_rate: Option<f64>,
    /// Share of repeated (customer, product) pairs.
    #[arg(long)]
    pub duplicate_rate: Option<f64>,
    #[command(flatten)]
    pub s3: S3Args,
}

#[derive(Debug, Args)]
pub struct DecompressArgs {
    /// Input file (plain or gzip): a path, s3://bucket/key, or `-` for stdin.
    pub input: String,
    #[command(flatten)]
    pub s3: S3Args,
}

pub fn run(a: SynthArgs, cancel: &crate::cancel::Cancel) -> anyhow::Result<Option<String>> {
    let mut opts = SynthOptions {
        rows: a.rows,
        seed: a.seed,
        cancel: cancel.clone(),
        ..SynthOptions::default()
    };
    if let Some(r) = a.bad_line_rate {
        opts.bad_line_rate = r;
    }
    if let Some(r) = a.duplicate_rate {
        opts.duplicate_rate = r;
    }
    let stats = if a.output == "-" {
        let stdout = std::io::stdout();
        let mut w = BufWriter::with_capacity(1 << 20, stdout.lock());
        let s = write_synth(&opts, &mut w).context("writing to stdout")?;
        w.flush()?;
        s
    } else {
        // Staged beside the target (a local file or an S3 object) and committed whole, so an
        // interrupted run leaves no plausible file; a writer dropped on error discards its data.
        let mut file = crate::store::create_file(&a.output, &a.s3.options(cancel))?;
        let result = (|| -> anyhow::Result<_> {
            if a.output.ends_with(".gz") {
                let mut gz = flate2::write::GzEncoder::new(&mut file, flate2::Compression::new(a.gzip_level));
                let s = write_synth(&opts, &mut gz)?;
                gz.finish()?.flush()?;
                Ok(s)
            } else {
                let mut w = BufWriter::with_capacity(1 << 20, &mut file);
                let s = write_synth(&opts, &mut w)?;
                w.flush()?;
                Ok(s)
            }
        })();
        match result.and_then(|s| Ok((s, file.commit()?))) {
            Ok((s, _)) => s,
            Err(e) => return Err(e.context(format!("writing {}", a.output))),
        }
    };
    ui::info(&format!(
        "wrote {} lines ({} malformed, {} duplicates) to {}",
        stats.rows, stats.bad_lines, stats.duplicates, a.output
    ));
    Ok(Some(serde_json::to_string(&stats)?))
}

pub fn decompress(a: DecompressArgs, cancel: &crate::cancel::Cancel) -> anyhow::Result<Option<String>> {
    let input = crate::source::decompress::open_input_with(&a.input, &a.s3.options(cancel))?;
    let stdout = std::io::stdout();
    let bytes = input.drain(stdout.lock())?;
    ui::info(&format!("{bytes} bytes"));
    Ok(None)
}
