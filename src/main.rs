//! The `fmprep` command line: all of it is [`fmprep::cli::main_with_args`]. See `fmprep --help`.

fn main() -> std::process::ExitCode {
    let code = fmprep::cli::main_with_args(std::env::args_os().collect());
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
