//! Integration tests through the `fmprep` binary, one module per command.

mod contract;
mod errors;
mod inspect;
mod interrupt;
mod prepare;
mod regression;
mod run;
mod synth;
mod util;
