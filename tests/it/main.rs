//! Integration tests through the `fmprep` binary, one module per command.

mod inspect;
mod migration;
mod prepare;
mod run;
mod synth;
mod util;
