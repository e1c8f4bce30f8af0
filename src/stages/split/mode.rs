//! The split of the de-duplicated rows ([`split_rows`]): draws the permutations ([`Permuter`]:
//! fmprep's generator or numpy's) and applies the mode to them, or hands `--shuffle hash` to
//! `split::hash`. The modes themselves are described in the `split` module.

use crate::error::{Error, Result};
use crate::model::{Rating, Ratings};
use crate::stages::split::cut::Split;
use crate::stages::split::membership::{by_membership, holdout_last_of, TEST, TRAIN, VALIDATE};
use crate::stages::split::numpy::Mt19937;
use crate::stages::split::options::{Shuffle, SplitMode, SplitOptions};
use crate::stages::split::rng::Rng;

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
                    "--shuffle hash draws no permutations; split with split::hash::split_rows",
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
        return crate::stages::split::hash::split_rows(rows, ratings, times, customer_index, o);
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
                .filter(|&&i| i != crate::stages::index::NO_INDEX)
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
            let member = holdout_last_of(rows, times, customer_index, o.holdout_validate)?;
            Ok(by_membership(&perm.permutation(n), &member))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::split::cut::SplitFractions;

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
        assert_eq!(
            s,
            crate::stages::split::cut::split(50, &SplitFractions::default(), 1)
        );
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
