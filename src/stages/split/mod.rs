//! How de-duplicated rows are assigned to train / validate / test: everything about the split.
//!
//! The choice of shuffle ([`Shuffle`]: fmprep's own generator, numpy's legacy `RandomState` for
//! the migration check, or a keyed hash of the ids) and the split modes ([`SplitMode`]):
//!
//! * **random** — a seeded permutation of the rows cut at `floor(f_train n)`, `floor((f_train +
//!   f_validate) n)`. With [`Shuffle::Numpy`] the permutation is numpy's
//!   `RandomState(seed).permutation(n)`, i.e. the order of pandas' `df.sample(frac=1,
//!   random_state=seed)`, so the splits are the Python pipeline's.
//! * **holdout-last** — per customer, the latest row (greatest time, ties: the later row in input
//!   order) goes to test, with `holdout_validate` the next latest to validate, the rest to train. A
//!   customer keeps at least one training row: the last row is held out only when the customer has
//!   two or more rows, the next latest only when it has three or more.
//! * **by-customer** — the customers (in index order) are shuffled and cut by the fractions; every
//!   row follows its customer.
//!
//! In every mode the rows of a split are listed in the order of the same seeded row permutation as
//! the random mode (drawn after the customer shuffle in by-customer mode), so training files are
//! shuffled, not grouped by customer or sorted by time. Membership depends only on the data, the
//! fractions and the seed; never on thread count or hash order.
//!
//! Data flows one way through the submodules, each using only those listed before it:
//!
//! | module | owns |
//! |---|---|
//! | [`rng`], [`numpy`] | the generators: fmprep's xoshiro256**, numpy's MT19937 |
//! | [`cut`] | [`SplitFractions`], the cut points, [`Split`], the plain seeded [`split()`] |
//! | [`options`] | [`Shuffle`], [`SplitMode`], [`SplitOptions`] |
//! | [`membership`] | holdout-last membership, [`times_of`] |
//! | [`hash`] | `--shuffle hash`: the keyed row order and its split |
//! | [`mode`] | [`split_rows`]: the split for any options |

pub mod cut;
pub mod hash;
pub mod membership;
pub mod mode;
pub mod numpy;
pub mod options;
pub mod rng;

pub use cut::{split, Split, SplitFractions, DEFAULT_SEED};
pub use membership::times_of;
pub use mode::{split_rows, Permuter};
pub use options::{Shuffle, SplitMode, SplitOptions};
