//! Integration tests through the `fmprep` binary, one module per command.

mod inspect;
mod kcore;
mod labels;
mod migration;
mod prepare;
mod run;
mod shards;
mod synth;
mod util;
