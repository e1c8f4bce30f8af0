//! `fmprep explore`: long-tail statistics, threshold sweep and plots of an input.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use fmprep::explore::{self, SweepGrid};
use fmprep::model::BadLineLimit;
use fmprep::plot::{self, PlotFormat};
use fmprep::source::ReadOptions;
use fmprep::store::{LocalStore, Store};

use super::data::ColumnArgs;
use super::{parse_delimiter, ui};

#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// Reviews TSV (or any delimited file with --*-col), plain or gzip; `-` reads stdin. Several
    /// files as one input like `run`: INPUT repeated, a directory, a quoted glob, an s3:// prefix.
    #[arg(required = true, num_args = 1..)]
    pub input: Vec<String>,
    /// Print one JSON line instead of the tables.
    #[arg(long)]
    pub json: bool,
    /// Draw the long-tail curves and the sweep heat map to FILE.svg or FILE.png (1200x500).
    #[arg(long)]
    pub plot: Option<PathBuf>,
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
}

pub fn run(a: ExploreArgs) -> anyhow::Result<Option<String>> {
    if !(1..=1000).contains(&a.sweep_customers) || !(1..=1000).contains(&a.sweep_products) {
        return Err(fmprep::Error::usage("--sweep-customers and --sweep-products must be in 1..1000").into());
    }
    let format = a.plot.as_deref().map(PlotFormat::of).transpose()?;
    let mut read = ReadOptions {
        delimiter: a.delimiter,
        max_bad_lines: a.max_bad_lines,
        ..ReadOptions::default()
    };
    a.columns.apply(&mut read);
    read.extra_columns = a
        .cardinality
        .iter()
        .map(|name| fmprep::features::columns::ExtraColumn {
            name: name.trim().to_string(),
            numeric: None,
        })
        .collect();
    let pool = fmprep::pipeline::Options {
        threads: a.threads,
        ..Default::default()
    }
    .pool()?;
    let start = std::time::Instant::now();
    let ratings = read_input(&a.input, &read, &pool)?;
    if ratings.rows.is_empty() {
        return Err(fmprep::Error::bad_input(format!("{}: no valid rating rows", a.input.join(" "))).into());
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
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let store = LocalStore::new(dir);
        let name = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut w = store.create(&name)?;
        std::io::Write::write_all(&mut w, &bytes).map_err(|e| fmprep::Error::io("cannot write", path, e))?;
        w.commit()?;
        ui::info(&format!("wrote {} ({} bytes)", path.display(), bytes.len()));
    }
    if a.json {
        return Ok(Some(serde_json::to_string(&report)?));
    }
    // A reader closing stdout early (`| head`) is its choice, as for the manifest line.
    match std::io::Write::write_all(&mut std::io::stdout().lock(), report.to_text().as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(fmprep::Error::io("cannot write", "stdout", e).into())
        }
        _ => Ok(None),
    }
}

/// Parse the input (the library decides: Parquet or delimited text), with progress on stderr.
fn read_input(
    specs: &[String],
    read: &ReadOptions,
    pool: &std::sync::Arc<rayon::ThreadPool>,
) -> anyhow::Result<fmprep::model::Ratings> {
    let locations = specs
        .iter()
        .map(|s| fmprep::Location::parse(s))
        .collect::<fmprep::Result<Vec<_>>>()?;
    let source = fmprep::source::open_ratings_all(&locations, &fmprep::S3Options::default())
        .with_context(|| format!("opening input {}", specs.join(" ")))?;
    ui::info(&format!("reading {} ({})", source.name(), source.kind()));
    let progress = source.progress();
    let watcher = ui::Watcher::start(std::sync::Arc::clone(&progress));
    let ratings = source.read(read, pool, Some(&progress));
    drop(watcher);
    Ok(ratings?)
}
