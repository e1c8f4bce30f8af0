//! Integration tests through the `fmprep` binary, one module per command.

mod columns;
mod container;
mod contract;
mod encode;
mod errors;
mod explore;
mod features;
mod hash_shuffle;
mod inputs;
mod inspect;
mod interrupt;
mod kcore;
mod labels;
mod migration;
mod outputs;
#[cfg(unix)]
mod parent;
#[cfg(feature = "parquet")]
mod parquet;
mod pinned;
mod prepare;
mod regression;
mod run;
mod shards;
mod split_modes;
mod synth;
mod util;
