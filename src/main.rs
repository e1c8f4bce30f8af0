//! The `fmprep` command line: parses flags and calls the library. See `fmprep --help`.

mod cmd;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Values from a --config file become FMPREP_* defaults before the flags are parsed, so
    // flags and the environment override them.
    if let Err(e) = cmd::config::apply_from_args(std::env::args_os()) {
        cmd::ui::error(&e);
        return ExitCode::from(2);
    }
    let cli = cmd::Cli::parse();
    cmd::ui::init(cli.global.verbosity(), cli.global.log_format);
    if let Err(e) = fmprep::interrupt::install_handlers() {
        cmd::ui::warn(&format!("cannot install signal handlers: {e}"));
    }
    match cmd::dispatch(cli) {
        Ok(last_line) => {
            if let Some(line) = last_line {
                // A closed stdout is the reader's choice, not a failure.
                let _ = writeln!(std::io::stdout(), "{line}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            let (code, message) = cmd::describe_error(&err);
            if code != 0 {
                cmd::ui::error(&message);
            }
            ExitCode::from(code as u8)
        }
    }
}
