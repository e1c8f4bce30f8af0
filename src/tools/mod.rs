//! Commands beside the pipeline: [`explore`] (long-tail statistics and the threshold sweep),
//! [`plot`] (its pictures, feature `plot`), [`infer`] (`encode`: inference records through a
//! run's maps) and [`inspect`] (RecordIO read back and summarised).

pub mod explore;
#[cfg(feature = "proto")]
pub mod infer;
#[cfg(feature = "proto")]
pub mod inspect;
#[cfg(feature = "plot")]
pub mod plot;
