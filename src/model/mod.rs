//! The ratings data model, shared by every reader and every stage after them.
//!
//! | piece | file | what it is |
//! |---|---|---|
//! | [`Rating`], [`Ratings`] | `rating.rs` | one valid row in 64 bits; the parsed input |
//! | [`RatingsBuilder`] | `builder.rs` | the one way rows become [`Ratings`]: interning, counters, examples, limits |
//! | [`BadKind`], [`BadLineCounts`], [`BadLine`], [`BadLineLimit`], [`ReadStats`] | `bad.rs` | skipped rows and the read counters |
//! | [`RatingScale`], [`parse_time`] | `values.rs` | which rating and time values are valid |
//! | [`KeyTable`], [`ByteList`], [`KeyRef`] | `keys.rs` | id interning into dense codes |
//!
//! Nothing here reads bytes from anywhere; the readers that feed the builder come later in the
//! data flow.

mod bad;
mod builder;
pub mod keys;
mod rating;
mod values;

pub use bad::{BadKind, BadLine, BadLineCounts, BadLineLimit, ReadStats};
pub use builder::RatingsBuilder;
pub use keys::{ByteList, KeyHasher, KeyRef, KeyTable, SmallKey};
pub use rating::{Rating, Ratings};
pub use values::{parse_time, RatingScale};
