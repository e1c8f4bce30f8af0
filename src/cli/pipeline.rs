//! `fmprep run`, `fmprep preprocess` and `fmprep prepare`: their flags, turned into
//! [`crate::pipeline`] options and calls.

use crate::format::manifest::Manifest;
use crate::pipeline::{self, Options, PrepareOptions};
use crate::stages::filter::FilterOptions;
use clap::Args;

use super::{parse_delimiter, ui, CommonArgs, OutputArgs, S3Args};

/// Check the output before the input is touched (see [`crate::outputs::preflight`]) and log
/// what was done there. Returns the manifest line of a reused run, and records the input's
/// objects in `opts` for the manifest.
fn check_output(
    store: &dyn crate::store::Store,
    out: &OutputArgs,
    opts: &mut Options,
    command: &str,
    input: &[crate::Location],
    s3: &crate::S3Options,
) -> anyhow::Result<Option<String>> {
    use crate::outputs::{self, IfExists, RunKey};
    let if_exists = out.if_exists()?;
    opts.overwrite = if_exists == IfExists::Overwrite;
    let mut objects = None;
    let found = outputs::preflight(store, if_exists, out.dry_run, &mut || {
        let input_objects = outputs::run_inputs(input, s3, &opts.features, &opts.side_s3)?;
        objects = Some(input_objects.clone());
        Ok(RunKey {
            command: command.to_string(),
            options: serde_json::to_value(&*opts).expect("options serialise"),
            input_objects,
        })
    })?;
    log(&found.notes);
    if let Some(bytes) = found.reused {
        ui::info(&format!(
            "reusing the finished run at {}: same input, options and fmprep version",
            store.describe()
        ));
        return Ok(Some(crate::outputs::lifecycle::one_line_json(&bytes)));
    }
    // Recorded for a later `--if-exists reuse`; a failure here is left to the input's opening,
    // whose message is the better one.
    opts.input_objects = match objects {
        Some(o) => o,
        None => outputs::run_inputs(input, s3, &opts.features, &opts.side_s3).unwrap_or_default(),
    };
    Ok(None)
}

/// Log what was done to the output location; `warning: ` notes as warnings.
fn log(notes: &[String]) {
    for note in notes {
        match note.strip_prefix("warning: ") {
            Some(w) => ui::warn(w),
            None => ui::info(note),
        }
    }
}

fn log_notes(progress: &crate::progress::Progress) {
    log(&progress.take_notes());
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Reviews TSV, plain or gzip (detected from its bytes): a path, s3://bucket/key, or `-` for
    /// stdin; several files as one input: INPUT repeated, a directory (its *.tsv, *.tsv.gz and
    /// *.gz files by name), a quoted glob, or an s3://bucket/prefix/ (every object, by key), rows
    /// in file order then line order. Also a Parquet file or a directory or s3:// prefix of
    /// Parquet files (partitioned), columns by name.
    #[arg(required = true, num_args = 1..)]
    pub input: Vec<String>,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    /// preprocess: format of the split tables, `csv` (the Python pipeline's) or `parquet`.
    #[arg(long, env = "FMPREP_FORMAT", default_value = "csv")]
    pub format: pipeline::TableFormat,
    #[command(flatten)]
    pub features: super::features::FeatureArgs,
    #[command(flatten)]
    pub s3: S3Args,
}

#[derive(Debug, Args)]
pub struct PrepareArgs {
    /// Directory or s3://bucket/prefix written by `fmprep preprocess` (train/train.csv,
    /// validate/validate.csv, test/test.csv).
    pub input: String,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub s3: S3Args,
    /// Delimiter of the CSVs.
    #[arg(long, env = "FMPREP_CSV_DELIMITER", default_value = "comma", value_parser = parse_delimiter)]
    pub delimiter: u8,
    /// Number of customers, when the input has neither manifest.json nor maps/ (default: largest index + 1).
    #[arg(long)]
    pub n_customers: Option<u64>,
    /// Number of products, likewise.
    #[arg(long)]
    pub n_products: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
pub enum Mode {
    Run,
    Preprocess,
}

fn options(out: &OutputArgs, common: Option<&CommonArgs>) -> Options {
    let mut o = Options {
        test_chunk: out.test_chunk,
        threads: out.threads,
        overwrite: out.overwrite,
        train_shards: out.train_shards,
        ..Options::default()
    };
    if let Some(c) = common {
        o.read = c.read_options();
        o.filter = FilterOptions {
            min_customer_ratings: c.min_customer_ratings,
            min_product_ratings: c.min_product_ratings,
        };
        o.split = c.split;
        o.seed = c.seed;
        c.data.apply(&mut o);
    }
    o
}

fn report(m: &Manifest) -> anyhow::Result<Option<String>> {
    let c = &m.counts;
    if let (Some(lines), Some(valid)) = (c.input_lines, c.valid) {
        ui::info(&format!(
            "read {lines} lines: {valid} valid, {} malformed skipped",
            c.bad_lines_total.unwrap_or(0)
        ));
    }
    if let Some(b) = &c.bad_lines {
        if b.total() > 0 {
            ui::warn(&format!("skipped lines by kind: {}", serde_json::to_string(b)?));
        }
    }
    for ex in &m.bad_line_examples {
        ui::warn(&format!("skipped {ex}"));
    }
    if let Some(kept) = c.after_long_tail {
        ui::info(&format!(
            "long-tail filter kept {kept} rows; {} after de-duplication",
            c.after_dedupe
        ));
    }
    ui::info(&format!(
        "{} customers + {} products = feature_dim {}; train {} / validate {} / test {}",
        m.n_customers, m.n_products, m.feature_dim, c.train, c.validate, c.test
    ));
    let files: usize = m.files.values().map(Vec::len).sum();
    ui::info(&format!(
        "wrote {files} files and manifest.json to {} in {:.2}s",
        m.output, m.elapsed_seconds
    ));
    ui::debug(&format!(
        "stage seconds: {}",
        serde_json::to_string(&m.stage_seconds)?
    ));
    Ok(Some(serde_json::to_string(m)?))
}

pub fn run(a: RunArgs, mode: Mode, cancel: &crate::cancel::Cancel) -> anyhow::Result<Option<String>> {
    let mut opts = options(&a.output, Some(&a.common)).with_cancel(cancel);
    if matches!(mode, Mode::Preprocess) && opts.train_shards.is_some() {
        return Err(crate::Error::usage(
            "--train-shards applies to the protobuf files of run and prepare, not to preprocess's CSVs",
        )
        .into());
    }
    if matches!(mode, Mode::Run) && a.format != pipeline::TableFormat::Csv {
        return Err(crate::Error::usage(
            "--format applies to preprocess's split tables; run writes RecordIO-protobuf",
        )
        .into());
    }
    opts.tables = a.format;
    opts.features = a.features.options();
    opts.side_s3 = a.s3.options(cancel);
    opts.validate()?;
    let s3 = a.s3.options(cancel);
    let locations = a
        .input
        .iter()
        .map(|i| crate::Location::parse(i))
        .collect::<crate::Result<Vec<_>>>()?;
    let store = crate::store::open_store_with(&a.output.output, &s3)?;
    let command = match mode {
        Mode::Run => "run",
        Mode::Preprocess => "preprocess",
    };
    let reused = check_output(store.as_ref(), &a.output, &mut opts, command, &locations, &s3)?;
    if let Some(line) = reused.filter(|_| !a.output.dry_run) {
        return Ok(Some(line));
    }
    // The library decides how to read the input; its messages already name it.
    let mut source = match super::embedded::take_frame() {
        Some(frame) => frame,
        None => crate::source::open_ratings_all(&locations, &s3)?,
    };
    if a.output.dry_run {
        let mut read = opts.read.clone();
        read.read_times |= opts.split_mode == crate::stages::split::SplitMode::HoldoutLast;
        let check = source.check(&read)?;
        ui::info(&format!(
            "dry run: {} and {} look usable; nothing written",
            check.input,
            store.describe()
        ));
        let mut line = serde_json::to_value(&check)?;
        line["dry_run"] = true.into();
        line["output"] = store.describe().into();
        return Ok(Some(line.to_string()));
    }
    ui::info(&format!("reading {} ({})", source.name(), source.kind()));
    let progress = source.progress();
    opts.progress = Some(std::sync::Arc::clone(&progress));
    let watcher = ui::Watcher::start(progress);
    let result = match mode {
        Mode::Run => pipeline::run(source, store.as_ref(), &opts),
        Mode::Preprocess => pipeline::preprocess(source, store.as_ref(), &opts),
    };
    drop(watcher);
    if let Some(p) = &opts.progress {
        log_notes(p);
    }
    report(&result?)
}

pub fn prepare(a: PrepareArgs, cancel: &crate::cancel::Cancel) -> anyhow::Result<Option<String>> {
    let mut opts = options(&a.output, None).with_cancel(cancel);
    opts.validate()?;
    let s3 = a.s3.options(cancel);
    let location = crate::Location::parse(&a.input)?;
    let store = crate::store::open_store_with(&a.output.output, &s3)?;
    let reused = check_output(
        store.as_ref(),
        &a.output,
        &mut opts,
        "prepare",
        std::slice::from_ref(&location),
        &s3,
    )?;
    if let Some(line) = reused.filter(|_| !a.output.dry_run) {
        return Ok(Some(line));
    }
    let source = crate::source::open_dir(&location, &s3)?;
    let popts = PrepareOptions {
        delimiter: Some(a.delimiter),
        n_customers: a.n_customers,
        n_products: a.n_products,
    };
    if a.output.dry_run {
        let tables = crate::format::preprocessed::read::check(source.as_ref(), a.delimiter)?;
        ui::info(&format!(
            "dry run: {} and {} look usable; nothing written",
            source.describe(),
            store.describe()
        ));
        let line = serde_json::json!({
            "dry_run": true,
            "input": source.describe(),
            "output": store.describe(),
            "tables": tables,
        });
        return Ok(Some(line.to_string()));
    }
    let progress = crate::progress::Progress::new();
    opts.progress = Some(std::sync::Arc::clone(&progress));
    let watcher = ui::Watcher::start(progress);
    let result = pipeline::prepare(source.as_ref(), store.as_ref(), &opts, &popts);
    drop(watcher);
    if let Some(p) = &opts.progress {
        log_notes(p);
    }
    report(&result?)
}
