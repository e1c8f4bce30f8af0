//! Subcommands: flag definitions (clap) and thin adapters over the library.

pub mod config;
pub mod data;
pub mod encode;
pub mod explore;
pub mod features;
pub mod inspect;
pub mod parent;
pub mod pipeline;
pub mod synth;
pub mod ui;

use clap::{Args, Parser, Subcommand};
use fmprep::model::BadLineLimit;
use fmprep::source::ReadOptions;
use fmprep::split::SplitFractions;

const EXIT_CODES: &str = "\
Exit codes:
  0    success (the last stdout line is the JSON manifest)
  1    internal error
  2    usage: invalid flags or option values, malformed s3:// URL
  3    bad input data: too many malformed lines, corrupt/truncated gzip, missing column,
       unsupported compression, nothing left after filtering
  4    local I/O error: input missing or unreadable, output not writable, disk full
  5    S3 error: no credentials, access denied or bad secret, missing bucket or key, wrong
       region, network, or S3 failing after --s3-max-attempts
  6    the output already holds a finished run (manifest.json); pass --overwrite, or
       --if-exists reuse to accept it when made from the same input and options
  130  interrupted (SIGINT); 143 terminated (SIGTERM)";

/// Turn rating logs into SageMaker Factorization Machines training data.
#[derive(Debug, Parser)]
#[command(name = "fmprep", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags of every subcommand.
#[derive(Debug, Args)]
pub struct Global {
    /// Only print errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail on stderr.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Format of the logs on stderr.
    #[arg(long, global = true, env = "FMPREP_LOG_FORMAT", value_enum, default_value_t = ui::LogFormat::Human)]
    pub log_format: ui::LogFormat,
    /// TOML file of option values (keys as the long flags, e.g. `seed = 7`, `min-product-ratings = 10`,
    /// optionally under `[run]`, `[preprocess]`, `[prepare]`); flags and FMPREP_* variables override it.
    #[arg(long, global = true, env = "FMPREP_CONFIG")]
    pub config: Option<std::path::PathBuf>,
    /// Stop as on SIGTERM (staged files removed, no manifest) when the parent process dies, even by
    /// SIGKILL (Linux). The Python package sets it: Airflow does not signal the process group of a
    /// SIGKILLed task. Without it a run outlives its parent, as under nohup.
    #[arg(long, global = true, env = "FMPREP_EXIT_WITH_PARENT", value_parser = clap::builder::BoolishValueParser::new())]
    pub exit_with_parent: bool,
}

impl Global {
    pub fn verbosity(&self) -> u8 {
        match (self.quiet, self.verbose) {
            (true, _) => 0,
            (_, true) => 3,
            _ => 2,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole pipeline: reviews TSV(.gz) → RecordIO-protobuf train/validate/test + maps.
    #[command(after_help = "Example:\n  fmprep run data-samples/reviews_sample.tsv.gz --output out/")]
    Run(pipeline::RunArgs),
    /// Stages 1-4: filter, de-duplicate, index, split → train/validate/test CSVs + maps.
    #[command(after_help = "Example:\n  fmprep preprocess reviews.tsv.gz --output pre/")]
    Preprocess(pipeline::RunArgs),
    /// Stages 5-6: CSVs from `preprocess` (or the Python pipeline) → RecordIO-protobuf.
    #[command(after_help = "Example:\n  fmprep prepare pre/ --output prepared/")]
    Prepare(pipeline::PrepareArgs),
    /// Decode RecordIO-protobuf files: summary, and records as JSON lines with --head.
    Inspect(inspect::InspectArgs),
    /// Write a synthetic reviews TSV(.gz) with realistic long-tailed popularity.
    Synth(synth::SynthArgs),
    /// Decompress an input to stdout (measures the decompression floor in benchmarks).
    Decompress(synth::DecompressArgs),
    /// Inference input: (customer_id, product_id) pairs → RecordIO-protobuf or FM endpoint JSON,
    /// indexed with a run's maps.
    #[command(after_help = "Example:\n  fmprep encode pairs.csv --maps out/ --format json > request.json")]
    Encode(encode::EncodeArgs),
    /// Long-tail statistics of an input: rating-count quantiles, shares, a threshold sweep, plots.
    #[command(after_help = "Example:\n  fmprep explore reviews.tsv.gz --plot explore.png")]
    Explore(explore::ExploreArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout: `fmprep man > fmprep.1`.
    Man,
}

impl Command {
    /// Whether the command stages output files (and so must stop cooperatively on a signal).
    pub fn writes_files(&self) -> bool {
        matches!(
            self,
            Command::Run(_) | Command::Preprocess(_) | Command::Prepare(_) | Command::Synth(_)
        )
    }

    /// Whether the command's product goes to stdout, so that a reader closing it early (`| head`)
    /// is not a failure. For the others a broken pipe means an output went wrong.
    pub fn stdout_is_output(&self) -> bool {
        match self {
            Command::Synth(a) => a.output == "-",
            c => !c.writes_files(),
        }
    }
}

/// Flags that shape how the input is read and split.
#[derive(Debug, Args, Clone)]
pub struct CommonArgs {
    /// Seed of the train/validate/test shuffle.
    #[arg(long, env = "FMPREP_SEED", default_value_t = fmprep::split::DEFAULT_SEED)]
    pub seed: u64,
    /// Keep customers with at least this many valid ratings (counted on the raw rows).
    #[arg(long, env = "FMPREP_MIN_CUSTOMER_RATINGS", default_value_t = 5)]
    pub min_customer_ratings: u32,
    /// Keep products with at least this many valid ratings (counted on the raw rows).
    #[arg(long, env = "FMPREP_MIN_PRODUCT_RATINGS", default_value_t = 10)]
    pub min_product_ratings: u32,
    /// Train,validate,test fractions (two values: test gets the rest).
    #[arg(long, env = "FMPREP_SPLIT", default_value = "0.6,0.2,0.2")]
    pub split: SplitFractions,
    /// Input field delimiter: one character, or `tab`, `\t`, `comma`.
    #[arg(long, env = "FMPREP_DELIMITER", default_value = "tab", value_parser = parse_delimiter)]
    pub delimiter: u8,
    /// Malformed lines allowed before failing: a count (100) or a fraction of lines (0.01, 1%).
    #[arg(long, env = "FMPREP_MAX_BAD_LINES", default_value = "1%")]
    pub max_bad_lines: BadLineLimit,
    /// Lines longer than this (bytes) are skipped as malformed without being buffered.
    #[arg(long, env = "FMPREP_MAX_LINE_BYTES", default_value_t = 16 << 20)]
    pub max_line_bytes: usize,
    #[command(flatten)]
    pub data: data::DataArgs,
}

impl CommonArgs {
    pub fn read_options(&self) -> ReadOptions {
        let mut read = ReadOptions {
            delimiter: self.delimiter,
            max_bad_lines: self.max_bad_lines,
            max_line_bytes: self.max_line_bytes.max(1024),
            ..ReadOptions::default()
        };
        self.data.columns.apply(&mut read);
        read
    }
}

/// Flags of commands that write an output location.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Output directory (created if missing) or s3://bucket/prefix.
    #[arg(short, long, env = "FMPREP_OUTPUT")]
    pub output: String,
    /// Replace a finished run (a manifest.json) at the output location: `--if-exists overwrite`.
    #[arg(long, env = "FMPREP_OVERWRITE", value_parser = clap::builder::BoolishValueParser::new())]
    pub overwrite: bool,
    /// When the output already holds a finished run: `fail` (exit 6), `overwrite` (replace it,
    /// removing its files the new run does not write), or `reuse` (return its manifest without
    /// work when it was made from the same input objects, options and fmprep version; fail otherwise).
    #[arg(long, env = "FMPREP_IF_EXISTS", value_name = "fail|overwrite|reuse", value_parser = fmprep::outputs::IfExists::parse)]
    pub if_exists: Option<fmprep::outputs::IfExists>,
    /// Records per test file (test/test_<i>.protobuf).
    #[arg(long, env = "FMPREP_TEST_CHUNK", default_value_t = 10_000)]
    pub test_chunk: usize,
    /// Worker threads (default: one per core).
    #[arg(long, env = "FMPREP_THREADS", default_value_t = 0)]
    pub threads: usize,
    /// Write train/train_<i>.protobuf in N near-equal shards (for ShardedByS3Key) plus a SageMaker
    /// manifest file per split (train/train.manifest, ...).
    #[arg(long, env = "FMPREP_TRAIN_SHARDS")]
    pub train_shards: Option<usize>,
    /// Check the input (opens it, reads its header), the options and the output location, then
    /// stop without writing anything.
    #[arg(long, env = "FMPREP_DRY_RUN", value_parser = clap::builder::BoolishValueParser::new())]
    pub dry_run: bool,
}

impl OutputArgs {
    /// The `--if-exists` rule, `--overwrite` being its `overwrite`.
    pub fn if_exists(&self) -> Result<fmprep::outputs::IfExists, fmprep::Error> {
        use fmprep::outputs::IfExists;
        match (self.overwrite, self.if_exists) {
            (true, Some(r)) if r != IfExists::Overwrite => Err(fmprep::Error::usage(format!(
                "--overwrite (or FMPREP_OVERWRITE) contradicts --if-exists {}; give one of them",
                format!("{r:?}").to_lowercase()
            ))),
            (true, _) => Ok(IfExists::Overwrite),
            (false, r) => Ok(r.unwrap_or_default()),
        }
    }
}

/// How to reach S3, for commands that read or write `s3://` locations. Credentials come from the
/// standard AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, container or instance
/// role), never from flags.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "S3")]
pub struct S3Args {
    /// AWS region of the bucket (default: AWS_REGION, the profile, instance metadata, else us-east-1).
    #[arg(long, env = "FMPREP_REGION", value_name = "REGION")]
    pub region: Option<String>,
    /// S3-compatible endpoint such as http://localhost:9000 for MinIO, LocalStack or on-prem stores
    /// (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS).
    #[arg(long, env = "FMPREP_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Path-style addressing (endpoint/bucket/key); automatic when the endpoint host is an IP or localhost.
    #[arg(long, env = "FMPREP_S3_FORCE_PATH_STYLE", value_parser = clap::builder::BoolishValueParser::new())]
    pub s3_force_path_style: bool,
    /// Concurrent requests per transfer: ranged GETs of an input, parts of an upload.
    #[arg(long, env = "FMPREP_S3_CONCURRENCY", default_value_t = 8, value_name = "N")]
    pub s3_concurrency: usize,
    /// Size of multipart-upload parts and of ranged GETs, at least 5MiB (objects smaller than one
    /// part are uploaded with a single PUT).
    #[arg(long, env = "FMPREP_S3_PART_SIZE", default_value = "16MiB", value_parser = fmprep::store::s3::parse_size, value_name = "SIZE")]
    pub s3_part_size: usize,
    /// Attempts per S3 request, the first included (SDK standard retry mode, exponential backoff).
    #[arg(long, env = "FMPREP_S3_MAX_ATTEMPTS", default_value_t = 5, value_name = "N")]
    pub s3_max_attempts: u32,
}

impl S3Args {
    pub fn options(&self) -> fmprep::S3Options {
        fmprep::S3Options {
            region: self.region.clone().filter(|r| !r.is_empty()),
            endpoint_url: self.endpoint_url.clone().filter(|e| !e.is_empty()),
            force_path_style: self.s3_force_path_style,
            concurrency: self.s3_concurrency,
            part_size: self.s3_part_size,
            range_size: self.s3_part_size,
            max_attempts: self.s3_max_attempts,
        }
    }
}

pub fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" | "\t" | "TAB" => Ok(b'\t'),
        "comma" => Ok(b','),
        s if s.len() == 1 && s != "\n" && s != "\r" => Ok(s.as_bytes()[0]),
        _ => Err(format!(
            "invalid delimiter {s:?}: give one ASCII character, `tab` or `comma`"
        )),
    }
}

/// Run the chosen subcommand; returns the line to print last on stdout.
pub fn dispatch(cli: Cli) -> anyhow::Result<Option<String>> {
    match cli.command {
        Command::Run(a) => pipeline::run(a, pipeline::Mode::Run),
        Command::Preprocess(a) => pipeline::run(a, pipeline::Mode::Preprocess),
        Command::Prepare(a) => pipeline::prepare(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Synth(a) => synth::run(a),
        Command::Decompress(a) => synth::decompress(a),
        Command::Encode(a) => encode::run(a),
        Command::Explore(a) => explore::run(a),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "fmprep", &mut script);
            std::io::Write::write_all(&mut std::io::stdout(), &script)?;
            Ok(None)
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut page)?;
            std::io::Write::write_all(&mut std::io::stdout(), &page)?;
            Ok(None)
        }
    }
}

/// The exit code and one-line message for an error: contexts added here, then the library's
/// message (its sources are already part of it).
pub fn describe_error(err: &anyhow::Error, stdout_is_output: bool) -> (i32, String) {
    let broken_pipe = err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if broken_pipe && stdout_is_output {
        // The reader of our stdout went away (e.g. `| head`): not a failure of ours.
        return (0, String::new());
    }
    let mut parts = Vec::new();
    let mut code = 1;
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<fmprep::Error>() {
            code = e.kind().exit_code();
            parts.push(e.message().to_string());
            break;
        }
        parts.push(cause.to_string());
    }
    (code, parts.join(": "))
}
