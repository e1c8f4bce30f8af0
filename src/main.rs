//! The `fmprep` command line: parses flags and calls the library. See `fmprep --help`.

mod cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    cmd::ui::init(cli.global.verbosity());
    if let Err(e) = fmprep::interrupt::install_handlers() {
        cmd::ui::warn(&format!("cannot install signal handlers: {e}"));
    }
    match cmd::dispatch(cli) {
        Ok(last_line) => {
            if let Some(line) = last_line {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            let (code, message) = cmd::describe_error(&err);
            cmd::ui::error(&message);
            ExitCode::from(code as u8)
        }
    }
}
