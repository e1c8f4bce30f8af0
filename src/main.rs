//! The `fmprep` command line: parses flags and calls the library. See `fmprep --help`.

mod cmd;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // First of all, for --exit-with-parent: a parent that dies from here on is noticed.
    let first_parent = cmd::parent::parent_pid();
    fix_malloc_threshold();
    // Values from a --config file become FMPREP_* defaults before the flags are parsed, so
    // flags and the environment override them.
    if let Err(e) = cmd::config::apply_from_args(std::env::args_os()) {
        cmd::ui::error(&e);
        return ExitCode::from(2);
    }
    let cli = cmd::Cli::parse();
    cmd::ui::init(cli.global.verbosity(), cli.global.log_format);
    // Commands that stage output files stop cooperatively so that they can remove them; `inspect`
    // and `decompress` only read, and keep the default: die at once.
    if cli.command.writes_files() {
        if let Err(e) = fmprep::interrupt::install_handlers() {
            cmd::ui::warn(&format!("cannot install signal handlers: {e}"));
        }
    }
    if cli.global.exit_with_parent {
        match cmd::parent::exit_with_parent(first_parent) {
            Ok(true) => cmd::ui::warn("the parent process is gone; stopping (--exit-with-parent)"),
            Ok(false) => {}
            Err(e) => cmd::ui::warn(&format!("--exit-with-parent has no effect: {e}")),
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
        cmd::ui::error(&format!(
            "internal error (a bug, please report it): {}{at}",
            what.replace('\n', " ")
        ));
    }));
    match std::panic::catch_unwind(|| cmd::dispatch(cli)) {
        Ok(Ok(last_line)) => {
            let Some(line) = last_line else {
                return ExitCode::SUCCESS;
            };
            match writeln!(std::io::stdout().lock(), "{line}") {
                // A closed stdout is the reader's choice (`| head`), not a failure: the run is
                // finished and its manifest is on disk too. Other write errors lose the line.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    cmd::ui::error(&format!("cannot write the manifest line to stdout: {e}"));
                    ExitCode::from(4)
                }
                _ => ExitCode::SUCCESS,
            }
        }
        Ok(Err(err)) => {
            let (mut code, message) = cmd::describe_error(&err, stdout_is_output);
            // After a signal, whatever error the unwinding produced, the cause is the signal.
            if fmprep::interrupt::requested() {
                code = fmprep::interrupt::exit_code();
            }
            if code != 0 {
                cmd::ui::error(&message);
            }
            ExitCode::from(code as u8)
        }
        Err(_) => ExitCode::from(1),
    }
}

/// Keep glibc's mmap threshold at its initial 128 KiB. By default glibc raises it each time a
/// large block is freed, after which the readers' multi-megabyte chunk buffers and row vectors
/// come from the heap arenas and are never returned: measured on the full-size input, peak RSS
/// 195 MB instead of 158 MB for one file and 320 MB instead of 212 MB for four files read at
/// once (BENCHMARKS.md). A process-wide allocator policy, so it is set here, not in the library.
fn fix_malloc_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
