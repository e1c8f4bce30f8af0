//! What fmprep writes and reads back: the file [`names`] of a run, [`recordio`]
//! (RecordIO-protobuf records), the [`manifest`], the training [`shards`] with SageMaker manifest
//! files, the split tables of `preprocess` ([`preprocessed`]), and [`write`](mod@write), which
//! puts each file into a store whole or not at all.

pub mod manifest;
pub mod names;
pub mod preprocessed;
pub mod recordio;
pub mod shards;
pub mod write;
