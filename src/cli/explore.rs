//! `fmprep explore`: long-tail statistics, threshold sweep and plots of an input.

use crate::model::BadLineLimit;
use crate::source::ReadOptions;
use crate::tools::explore::{self, SweepGrid};
use crate::tools::plot::{self, PlotFormat};
use anyhow::Context;
use clap::Args;

use super::data::ColumnArgs;
use super::{parse_delimiter, ui, S3Args};

#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// Reviews TSV (or any delimited file with --*-col), plain or gzip; `-` reads stdin. Several
    /// files as one input like `run`: INPUT repeated, a directory, a quoted glob, an s3:// prefix.
    #[arg(required = true, num_args = 1..)]
    pub input: Vec<String>,
    /// Print one JSON line instead of the tables.
    #[arg(long)]
    pub json: bool,
    /// Draw the long-tail curves and the sweep heat map to FILE.svg or FILE.png (1200x500), a
    /// local path or s3://bucket/key.
    #[arg(long)]
    pub plot: Option<String>,
    /// The sweep's largest --min-customer-ratings.
    #[arg(long, default_value_t = 10)]
    pub sweep_customers: u32,
    /// The sweep's largest --min-product-ratings.
    #[arg(long, default_value_t = 20)]
    pub sweep_products: u32,
    /// Input field delimiter: one character, or `tab`, `comma`.
    #[arg(long, env = "FMPREP_DELIMITER", default_value = "tab", value_parser = parse_delimiter)]
    pub delimiter: u8,
    /// Malformed lines allowed before failing: a count or a fraction (1%).
    #[arg(long, env = "FMPREP_MAX_BAD_LINES", default_value = "1%")]
    pub max_bad_lines: BadLineLimit,
    /// Worker threads (default: one per core).
    #[arg(long, env = "FMPREP_THREADS", default_value_t = 0)]
    pub threads: usize,
    /// Also report candidate feature columns: distinct values, whether all are numbers, the most
    /// frequent values (e.g. `--cardinality vine,verified_purchase,helpful_votes`).
    #[arg(long, value_name = "COL[,COL...]", value_delimiter = ',')]
    pub cardinality: Vec<String>,
    #[command(flatten)]
    pub columns: ColumnArgs,
    #[command(flatten)]
    pub s3: S3Args,
}

pub fn run(a: ExploreArgs, cancel: &crate::cancel::Cancel) -> anyhow::Result<Option<String>> {
    let s3 = a.s3.options(cancel);
    if !(1..=1000).contains(&a.sweep_customers) || !(1..=1000).contains(&a.sweep_products) {
        return Err(crate::Error::usage("--sweep-customers and --sweep-products must be in 1..1000").into());
    }
    let format = a
        .plot
        .as_deref()
        .map(|p| PlotFormat::of(std::path::Path::new(p)))
        .transpose()?;
    let mut read = ReadOptions {
        delimiter: a.delimiter,
        max_bad_lines: a.max_bad_lines,
        cancel: cancel.clone(),
        ..ReadOptions::default()
    };
    a.columns.apply(&mut read);
    read.extra_columns = a
        .cardinality
        .iter()
        .map(|name| crate::features::columns::ExtraColumn {
            name: name.trim().to_string(),
            numeric: None,
        })
        .collect();
    let pool = crate::pipeline::Options {
        threads: a.threads,
        ..Default::default()
    }
    .pool()?;
    let start = std::time::Instant::now();
    let ratings = read_input(&a.input, &read, &pool, &s3)?;
    if ratings.rows.is_empty() {
        return Err(crate::Error::bad_input(format!("{}: no valid rating rows", a.input.join(" "))).into());
    }
    let grid = SweepGrid {
        max_customer: a.sweep_customers,
        max_product: a.sweep_products,
    };
    let report = explore::explore(&ratings, grid);
    ui::info(&format!(
        "explored {} valid rows in {:.2}s",
        report.valid,
        start.elapsed().as_secs_f64()
    ));
    if let (Some(path), Some(format)) = (&a.plot, format) {
        let bytes = plot::render(&report, format)?;
        let mut w = crate::store::create_file(path, &s3)?;
        std::io::Write::write_all(&mut w, &bytes).map_err(|e| crate::Error::io("cannot write", path, e))?;
        w.commit()?;
        ui::info(&format!("wrote {path} ({} bytes)", bytes.len()));
    }
    if a.json {
        return Ok(Some(serde_json::to_string(&report)?));
    }
    // A reader closing stdout early (`| head`) is its choice, as for the manifest line.
    match std::io::Write::write_all(&mut std::io::stdout().lock(), report.to_text().as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(crate::Error::io("cannot write", "stdout", e).into())
        }
        _ => Ok(None),
    }
}

/// Parse the input (the library decides: Parquet or delimited text), with progress on stderr.
fn read_input(
    specs: &[String],
    read: &ReadOptions,
    pool: &std::sync::Arc<rayon::ThreadPool>,
    s3: &crate::S3Options,
) -> anyhow::Result<crate::model::Ratings> {
    let locations = specs
        .iter()
        .map(|s| crate::Location::parse(s))
        .collect::<crate::Result<Vec<_>>>()?;
    let source = crate::source::open_ratings_all(&locations, s3)
        .with_context(|| format!("opening input {}", specs.join(" ")))?;
    ui::info(&format!("reading {} ({})", source.name(), source.kind()));
    let progress = source.progress();
    let watcher = ui::Watcher::start(std::sync::Arc::clone(&progress));
    let ratings = source.read(read, pool, Some(&progress));
    drop(watcher);
    Ok(ratings?)
}
