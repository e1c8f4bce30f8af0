//! The `fmprep` command line (feature `cli`): flag definitions (clap), thin adapters over the
//! library, and [`main_with_args`], the whole program. The binary is one call to it; the Python
//! package's `fmprep` command is another.
//!
//! What the library leaves to its edge lives here: the config file, logs and progress on stderr,
//! signal handlers that set the run's [`Cancel`] token, `--exit-with-parent`, and the mapping of
//! error kinds to exit codes.

mod config;
mod data;
mod embedded;
mod encode;
mod explore;
mod features;
mod inspect;
mod parent;
mod pipeline;
mod signals;
mod synth;
mod ui;

pub use embedded::{execute_with, Hooks, LogSink};

use std::ffi::OsString;
use std::io::Write;

use crate::cancel::Cancel;

use crate::model::BadLineLimit;
use crate::source::ReadOptions;
use crate::stages::split::SplitFractions;
use clap::{Args, Parser, Subcommand};

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
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags of every subcommand.
#[derive(Debug, Args)]
pub(crate) struct Global {
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
pub(crate) enum Command {
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
pub(crate) struct CommonArgs {
    /// Seed of the train/validate/test shuffle.
    #[arg(long, env = "FMPREP_SEED", default_value_t = crate::stages::split::DEFAULT_SEED)]
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
pub(crate) struct OutputArgs {
    /// Output directory (created if missing) or s3://bucket/prefix.
    #[arg(short, long, env = "FMPREP_OUTPUT")]
    pub output: String,
    /// Replace a finished run (a manifest.json) at the output location: `--if-exists overwrite`.
    #[arg(long, env = "FMPREP_OVERWRITE", value_parser = clap::builder::BoolishValueParser::new())]
    pub overwrite: bool,
    /// When the output already holds a finished run: `fail` (exit 6), `overwrite` (replace it,
    /// removing its files the new run does not write), or `reuse` (return its manifest without
    /// work when it was made from the same input objects, options and fmprep version; fail otherwise).
    #[arg(long, env = "FMPREP_IF_EXISTS", value_name = "fail|overwrite|reuse", value_parser = crate::outputs::IfExists::parse)]
    pub if_exists: Option<crate::outputs::IfExists>,
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
    pub fn if_exists(&self) -> Result<crate::outputs::IfExists, crate::Error> {
        use crate::outputs::IfExists;
        match (self.overwrite, self.if_exists) {
            (true, Some(r)) if r != IfExists::Overwrite => Err(crate::Error::usage(format!(
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
pub(crate) struct S3Args {
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
    #[arg(long, env = "FMPREP_S3_PART_SIZE", default_value = "16MiB", value_parser = crate::store::s3::parse_size, value_name = "SIZE")]
    pub s3_part_size: usize,
    /// Attempts per S3 request, the first included (SDK standard retry mode, exponential backoff).
    #[arg(long, env = "FMPREP_S3_MAX_ATTEMPTS", default_value_t = 5, value_name = "N")]
    pub s3_max_attempts: u32,
}

impl S3Args {
    /// The S3 options these flags give, stopping with `cancel`.
    pub fn options(&self, cancel: &Cancel) -> crate::S3Options {
        crate::S3Options {
            cancel: cancel.clone(),
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

pub(crate) fn parse_delimiter(s: &str) -> Result<u8, String> {
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
fn dispatch(cli: Cli, cancel: &Cancel) -> anyhow::Result<Option<String>> {
    match cli.command {
        Command::Run(a) => pipeline::run(a, pipeline::Mode::Run, cancel),
        Command::Preprocess(a) => pipeline::run(a, pipeline::Mode::Preprocess, cancel),
        Command::Prepare(a) => pipeline::prepare(a, cancel),
        Command::Inspect(a) => inspect::run(a, cancel),
        Command::Synth(a) => synth::run(a, cancel),
        Command::Decompress(a) => synth::decompress(a, cancel),
        Command::Encode(a) => encode::run(a, cancel),
        Command::Explore(a) => explore::run(a, cancel),
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
fn describe_error(err: &anyhow::Error, stdout_is_output: bool, cancel: &Cancel) -> (i32, String) {
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
        if let Some(e) = cause.downcast_ref::<crate::Error>() {
            code = match e.kind() {
                crate::ErrorKind::Interrupted => signals::exit_code(cancel),
                k => k.exit_code(),
            };
            parts.push(e.message().to_string());
            break;
        }
        parts.push(cause.to_string());
    }
    (code, parts.join(": "))
}

/// A command that did not succeed: what the program would print and exit with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The process exit code (see `fmprep --help`; 0 never appears here).
    pub code: i32,
    /// The one-line message, without the `fmprep: error: ` prefix.
    pub message: String,
    /// The library's error kind, when the library failed (`None` for flag errors, which are
    /// usage errors with code 2, and for failures of the command line itself).
    pub kind: Option<crate::ErrorKind>,
}

/// Parse `args` (the program name first) and run the command with `cancel`, in this process and
/// without touching signal handlers or the process environment: the Python package's way in.
/// Returns the line the program prints last on stdout (the manifest, for the pipeline commands).
/// `--help` and `--version` come back as a `Failure` with code 0 and the text as message.
pub fn execute(args: Vec<OsString>, cancel: &Cancel) -> Result<Option<String>, Failure> {
    let command = config::command(&args).map_err(|message| Failure {
        code: 2,
        message,
        kind: Some(crate::ErrorKind::Usage),
    })?;
    let cli = command
        .try_get_matches_from(&args)
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m))
        .map_err(|e| Failure {
            code: e.exit_code(),
            message: e.to_string().trim_end().to_string(),
            kind: (e.exit_code() != 0).then_some(crate::ErrorKind::Usage),
        })?;
    ui::init(cli.global.verbosity(), cli.global.log_format);
    let stdout_is_output = cli.command.stdout_is_output();
    dispatch(cli, cancel).map_err(|err| {
        let kind = err
            .chain()
            .find_map(|c| c.downcast_ref::<crate::Error>())
            .map(crate::Error::kind);
        let (code, message) = if cancel.is_cancelled() {
            (signals::exit_code(cancel), cancel.error().message().to_string())
        } else {
            describe_error(&err, stdout_is_output, cancel)
        };
        Failure {
            code,
            message,
            kind: if cancel.is_cancelled() {
                Some(crate::ErrorKind::Interrupted)
            } else {
                kind
            },
        }
    })
}

/// The `fmprep` program: parse `args` (the program name first), run the subcommand, print the
/// manifest line last on stdout and logs on stderr; returns the process exit code. Installs the
/// signal handlers (for the commands that stage files) and may exit the process itself: on
/// `--help`/`--version` and flag errors (clap's way) and on a second signal.
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    // First of all, for --exit-with-parent: a parent that dies from here on is noticed.
    let first_parent = parent::parent_pid();
    fix_malloc_threshold();
    let command = match config::command(&args) {
        Ok(c) => c,
        Err(e) => {
            ui::error(&e);
            return 2;
        }
    };
    let cli = match command
        .try_get_matches_from(&args)
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    ui::init(cli.global.verbosity(), cli.global.log_format);
    let cancel = Cancel::new();
    // Commands that stage output files stop cooperatively so that they can remove them; `inspect`
    // and `decompress` only read, and keep the default: die at once.
    if cli.command.writes_files() {
        if let Err(e) = signals::install(&cancel) {
            ui::warn(&format!("cannot install signal handlers: {e}"));
        }
    }
    if cli.global.exit_with_parent {
        match parent::exit_with_parent(first_parent) {
            Ok(true) => ui::warn("the parent process is gone; stopping (--exit-with-parent)"),
            Ok(false) => {}
            Err(e) => ui::warn(&format!("--exit-with-parent has no effect: {e}")),
        }
    }
    let stdout_is_output = cli.command.stdout_is_output();
    // A panic is a bug, but Airflow should still see one line and exit code 1, not a backtrace
    // and 101. The hook prints that line; the payload is reported where it happened.
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info.location().map(|l| format!(" at {l}")).unwrap_or_default();
        ui::error(&format!(
            "internal error (a bug, please report it): {}{at}",
            what.replace('\n', " ")
        ));
    }));
    match std::panic::catch_unwind(|| dispatch(cli, &cancel)) {
        Ok(Ok(None)) => 0,
        Ok(Ok(Some(line))) => match writeln!(std::io::stdout().lock(), "{line}") {
            // A closed stdout is the reader's choice (`| head`), not a failure: the run is
            // finished and its manifest is on disk too. Other write errors lose the line.
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                ui::error(&format!("cannot write the manifest line to stdout: {e}"));
                4
            }
            _ => 0,
        },
        Ok(Err(err)) => {
            // After a signal, whatever error the unwinding produced (a pipe closed by a dying
            // producer, say), the cause is the signal.
            let (code, message) = if cancel.is_cancelled() {
                (signals::exit_code(&cancel), cancel.error().message().to_string())
            } else {
                describe_error(&err, stdout_is_output, &cancel)
            };
            if code != 0 {
                ui::error(&message);
            }
            code
        }
        Err(_) => 1,
    }
}

/// Keep glibc's mmap threshold at its initial 128 KiB. By default glibc raises it each time a
/// large block is freed, after which the readers' multi-megabyte chunk buffers and row vectors
/// come from the heap arenas and are never returned: measured on the full-size input, peak RSS
/// 195 MB instead of 158 MB for one file and 320 MB instead of 212 MB for four files read at
/// once (BENCHMARKS.md). A process-wide allocator policy, so the program sets it, not the library.
fn fix_malloc_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
