//! The transforms between the ratings and the records, in pipeline order: [`filter`] (long tail,
//! de-duplication), [`kcore`] (`--k-core`), [`index`] (ids to indices, the maps), [`split`]
//! (train/validate/test), [`label`] (the record labels) and [`encode`] (one-hot CSR rows).
//! Each is a plain function over plain types; none does I/O.

pub mod encode;
pub mod filter;
pub mod index;
pub mod kcore;
pub mod label;
pub mod split;
