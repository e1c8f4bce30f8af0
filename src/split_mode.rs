//! How de-duplicated rows are assigned to train / validate / test, beyond the default random cut.
//!
//! This module owns the choice of shuffle ([`Shuffle`]: fmprep's own generator or numpy's legacy
//! `RandomState`, for the migration check) and the split modes ([`SplitMode`]):
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

use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::{Rating, Ratings};
use crate::numpy_rng::Mt19937;
use crate::rng::Rng;
use crate::split::{Split, SplitFractions};

/// Which generator draws the permutations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shuffle {
    /// fmprep's xoshiro256** Fisher-Yates ([`crate::rng`]); any 64-bit seed.
    #[default]
    Fmprep,
    /// numpy's legacy `RandomState(seed).permutation(n)` ([`crate::numpy_rng`]); seeds < 2^32.
    Numpy,
    /// Rows ordered by a keyed hash of their ids ([`crate::hash_split`]): a split defined row by
    /// row, which the Spark job reproduces.
    Hash,
}

impl std::str::FromStr for Shuffle {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "fmprep" => Ok(Shuffle::Fmprep),
            "numpy" => Ok(Shuffle::Numpy),
            "hash" => Ok(Shuffle::Hash),
            _ => Err(format!("invalid shuffle {s:?}: use fmprep, numpy or hash")),
        }
    }
}

/// A stream of permutations from one seed: consecutive calls continue the same generator, as
/// consecutive `rs.permutation(...)` calls on one `RandomState` do.
#[derive(Debug)]
pub enum Permuter {
    /// fmprep's generator.
    Fmprep(Rng),
    /// numpy's legacy MT19937.
    Numpy(Box<Mt19937>),
}

impl Permuter {
    /// A fresh stream for `seed`. Fails for `Shuffle::Numpy` when the seed does not fit 32 bits,
    /// and for `Shuffle::Hash`, which orders rows by key instead of drawing permutations.
    pub fn new(shuffle: Shuffle, seed: u64) -> Result<Self> {
        Ok(match shuffle {
            Shuffle::Fmprep => Permuter::Fmprep(Rng::new(seed)),
            Shuffle::Numpy => Permuter::Numpy(Box::new(Mt19937::from_seed(seed)?)),
            Shuffle::Hash => {
                return Err(Error::new(
                    crate::ErrorKind::Internal,
                    "--shuffle hash draws no permutations; split with hash_split::split_rows",
                ))
            }
        })
    }

    /// The next permutation of `0..n`.
    pub fn permutation(&mut self, n: usize) -> Vec<u32> {
        let mut p: Vec<u32> = (0..n as u32).collect();
        match self {
            Permuter::Fmprep(r) => r.shuffle(&mut p),
            Permuter::Numpy(m) => m.shuffle(&mut p),
        }
        p
    }
}

/// The split mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitMode {
    /// Seeded random rows, cut by the fractions.
    #[default]
    Random,
    /// Each customer's latest row to test (and next latest to validate with `holdout_validate`).
    HoldoutLast,
    /// Whole customers to each split, customers shuffled and cut by the fractions.
    ByCustomer,
}

impl std::str::FromStr for SplitMode {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "random" => Ok(SplitMode::Random),
            "holdout-last" => Ok(SplitMode::HoldoutLast),
            "by-customer" => Ok(SplitMode::ByCustomer),
            _ => Err(format!(
                "invalid split mode {s:?}: use random, holdout-last or by-customer"
            )),
        }
    }
}

/// Everything that decides the split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SplitOptions {
    /// The mode.
    pub mode: SplitMode,
    /// Fractions (random and by-customer modes).
    pub fractions: SplitFractions,
    /// The generator.
    pub shuffle: Shuffle,
    /// Seed of the generator.
    pub seed: u64,
    /// holdout-last: also hold out each customer's next latest row, for validation.
    pub holdout_validate: bool,
}

/// The time of each of `rows` (a subset of `ratings.rows` without duplicate pairs, as the filters
/// leave them): the time of the first raw row with the same (customer, product) pair, which is the
/// row de-duplication kept. Only looked up, never iterated, so hash order cannot leak out.
pub fn times_of(rows: &[Rating], ratings: &Ratings) -> Vec<u32> {
    let mut first: hashbrown::HashMap<u64, Option<u32>, foldhash::fast::FixedState> =
        hashbrown::HashMap::with_capacity_and_hasher(rows.len(), foldhash::fast::FixedState::with_seed(11));
    for r in rows {
        first.insert(r.pair(), None);
    }
    for (r, &t) in ratings.rows.iter().zip(&ratings.times) {
        if let Some(slot @ None) = first.get_mut(&r.pair()) {
            *slot = Some(t);
        }
    }
    rows.iter()
        .map(|r| first[&r.pair()].expect("every kept row comes from the raw rows"))
        .collect()
}

/// Which split a row goes to.
const TRAIN: u8 = 0;
const VALIDATE: u8 = 1;
const TEST: u8 = 2;

pub(crate) fn by_membership(perm: &[u32], member: &[u8]) -> Split {
    let mut s = Split::default();
    for &pos in perm {
        match member[pos as usize] {
            TRAIN => s.train.push(pos),
            VALIDATE => s.validate.push(pos),
            _ => s.test.push(pos),
        }
    }
    s
}

/// Split the de-duplicated `rows` (input order). `times[i]` is the time of row `i` (seconds; only
/// read in holdout-last mode); `customer_index[code]` the index of each customer code; `ratings`
/// holds the ids (read by `--shuffle hash`).
pub fn split_rows(
    rows: &[Rating],
    ratings: &Ratings,
    times: Option<&[u32]>,
    customer_index: &[u32],
    o: &SplitOptions,
) -> Result<Split> {
    if o.shuffle == Shuffle::Hash {
        return crate::hash_split::split_rows(rows, ratings, times, customer_index, o);
    }
    let n = rows.len();
    let mut perm = Permuter::new(o.shuffle, o.seed)?;
    match o.mode {
        SplitMode::Random => {
            let mut p = perm.permutation(n);
            let (a, b) = o.fractions.cuts(n);
            let test = p.split_off(b);
            let validate = p.split_off(a);
            Ok(Split {
                train: p,
                validate,
                test,
            })
        }
        SplitMode::ByCustomer => {
            let n_customers = customer_index
                .iter()
                .filter(|&&i| i != crate::index::NO_INDEX)
                .count();
            let order = perm.permutation(n_customers);
            let (a, b) = o.fractions.cuts(n_customers);
            // split_of[customer index]
            let mut split_of = vec![TRAIN; n_customers];
            for (rank, &ci) in order.iter().enumerate() {
                split_of[ci as usize] = if rank < a {
                    TRAIN
                } else if rank < b {
                    VALIDATE
                } else {
                    TEST
                };
            }
            let member: Vec<u8> = rows
                .iter()
                .map(|r| split_of[customer_index[r.customer() as usize] as usize])
                .collect();
            Ok(by_membership(&perm.permutation(n), &member))
        }
        SplitMode::HoldoutLast => {
            let times = times.ok_or_else(|| {
                Error::new(
                    crate::ErrorKind::Internal,
                    "holdout-last split without a time per row",
                )
            })?;
            let member = holdout_last(rows, times, customer_index, o.holdout_validate);
            Ok(by_membership(&perm.permutation(n), &member))
        }
    }
}

/// The membership of each row in holdout-last mode.
pub(crate) fn holdout_last(
    rows: &[Rating],
    times: &[u32],
    customer_index: &[u32],
    holdout_validate: bool,
) -> Vec<u8> {
    let n_customers = customer_index
        .iter()
        .filter(|&&i| i != crate::index::NO_INDEX)
        .count();
    const NONE: u32 = u32::MAX;
    // Per customer: the latest and the next latest row and the row count. "Later" means a greater
    // time, or the same time and a later input position: rows are visited in input order and `>=`
    // lets a later row with an equal time win.
    let mut last = vec![NONE; n_customers];
    let mut second = vec![NONE; n_customers];
    let mut count = vec![0u32; n_customers];
    for (i, r) in rows.iter().enumerate() {
        let c = customer_index[r.customer() as usize] as usize;
        count[c] += 1;
        let t = times[i];
        if last[c] == NONE || t >= times[last[c] as usize] {
            second[c] = last[c];
            last[c] = i as u32;
        } else if second[c] == NONE || t >= times[second[c] as usize] {
            second[c] = i as u32;
        }
    }
    let mut member = vec![TRAIN; rows.len()];
    for c in 0..n_customers {
        if count[c] >= 2 {
            member[last[c] as usize] = TEST;
        }
        if holdout_validate && count[c] >= 3 {
            member[second[c] as usize] = VALIDATE;
        }
    }
    member
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(mode: SplitMode) -> SplitOptions {
        SplitOptions {
            mode,
            fractions: SplitFractions::default(),
            shuffle: Shuffle::Fmprep,
            seed: 1,
            holdout_validate: true,
        }
    }

    #[test]
    fn random_mode_matches_the_plain_split() {
        let r = Ratings::from_triples((0..50).map(|_| ("a", "p", 1)));
        let s = split_rows(&r.rows, &r, None, &[0], &opts(SplitMode::Random)).unwrap();
        assert_eq!(s, crate::split::split(50, &SplitFractions::default(), 1));
    }

    #[test]
    fn holdout_last_picks_latest_with_input_order_ties() {
        // customer a: times 5, 9, 9, 1 -> last = row 2 (tie at 9, later row), second = row 1.
        // customer b: two rows -> last held out, no validate row. customer c: one row, kept in train.
        let r = Ratings::from_triples([
            ("a", "p1", 1),
            ("a", "p2", 1),
            ("a", "p3", 1),
            ("a", "p4", 1),
            ("b", "p1", 1),
            ("b", "p2", 1),
            ("c", "p1", 1),
        ]);
        let times = [5, 9, 9, 1, 3, 2, 7];
        let member = holdout_last(&r.rows, &times, &[0, 1, 2], true);
        assert_eq!(member, vec![TRAIN, VALIDATE, TEST, TRAIN, TEST, TRAIN, TRAIN]);
        let member = holdout_last(&r.rows, &times, &[0, 1, 2], false);
        assert_eq!(member, vec![TRAIN, TRAIN, TEST, TRAIN, TEST, TRAIN, TRAIN]);
    }

    #[test]
    fn by_customer_keeps_customers_whole() {
        let mut triples = Vec::new();
        let names: Vec<String> = (0..40).map(|i| format!("c{i}")).collect();
        for (i, c) in names.iter().enumerate() {
            for k in 0..(i % 3 + 1) {
                triples.push((c.as_str(), ["p0", "p1", "p2"][k], 1u8));
            }
        }
        let r = Ratings::from_triples(triples);
        let index: Vec<u32> = (0..40).collect();
        let s = split_rows(&r.rows, &r, None, &index, &opts(SplitMode::ByCustomer)).unwrap();
        let customers = |pos: &[u32]| -> std::collections::BTreeSet<u32> {
            pos.iter().map(|&p| r.rows[p as usize].customer()).collect()
        };
        let (a, b, c) = (customers(&s.train), customers(&s.validate), customers(&s.test));
        assert_eq!((a.len(), b.len(), c.len()), (24, 8, 8));
        assert!(a.is_disjoint(&b) && a.is_disjoint(&c) && b.is_disjoint(&c));
        assert_eq!(s.train.len() + s.validate.len() + s.test.len(), r.rows.len());
    }
}
