//! The long-tail filter and de-duplication.
//!
//! Both follow the Python pipeline fmprep replaces: rating counts are taken once on all valid rows
//! (not iterated to a fixed point), a row survives when both its customer and its product reach
//! their thresholds, and among rows with the same (customer, product) pair only the first in input
//! order is kept. A customer may therefore end with fewer ratings than the threshold and stays.

use hashbrown::HashSet;
use rayon::prelude::*;
use serde::Serialize;

use crate::model::{Rating, Ratings};

/// Thresholds of the long-tail filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FilterOptions {
    /// Keep customers with at least this many valid rows.
    pub min_customer_ratings: u32,
    /// Keep products with at least this many valid rows.
    pub min_product_ratings: u32,
}

impl Default for FilterOptions {
    fn default() -> Self {
        FilterOptions {
            min_customer_ratings: 5,
            min_product_ratings: 10,
        }
    }
}

/// Count rows per code: `counts[code]` = number of rows with that code.
pub fn count_codes(rows: &[Rating], n_codes: usize, code: impl Fn(Rating) -> u32) -> Vec<u32> {
    let mut counts = vec![0u32; n_codes];
    for &r in rows {
        counts[code(r) as usize] += 1;
    }
    counts
}

/// Rows whose customer and product both reach the thresholds, counted on `ratings.rows`; input
/// order is kept.
pub fn long_tail(ratings: &Ratings, opts: &FilterOptions) -> Vec<Rating> {
    let (per_customer, per_product) = rayon::join(
        || count_codes(&ratings.rows, ratings.customers.len(), Rating::customer),
        || count_codes(&ratings.rows, ratings.products.len(), Rating::product),
    );
    // An ordered parallel iterator: `collect` keeps input order.
    ratings
        .rows
        .par_iter()
        .copied()
        .filter(|r| {
            per_customer[r.customer() as usize] >= opts.min_customer_ratings
                && per_product[r.product() as usize] >= opts.min_product_ratings
        })
        .collect()
}

fn pair_set(capacity: usize) -> HashSet<u64, foldhash::fast::FixedState> {
    HashSet::with_capacity_and_hasher(capacity, foldhash::fast::FixedState::with_seed(7))
}

/// Drop every row whose (customer, product) pair appeared earlier; the first rating wins.
///
/// One hash set over all pairs stops fitting in cache at tens of millions of rows. So rows are
/// first partitioned (stably) by customer-code range into 256 parts: all rows of a pair share a
/// part, each part's set stays small, and parts are checked in parallel.
pub fn dedupe(rows: Vec<Rating>) -> Vec<Rating> {
    const PARTS: usize = 256;
    if rows.len() < 1 << 16 || rows.len() > u32::MAX as usize {
        let mut seen = pair_set(rows.len());
        let mut rows = rows;
        rows.retain(|r| seen.insert(r.pair()));
        return rows;
    }
    let max_customer = rows.iter().map(|r| r.customer()).max().unwrap_or(0);
    let shift = (32 - max_customer.leading_zeros()).saturating_sub(8);
    let part_of = |r: &Rating| (r.customer() >> shift) as usize;
    let mut starts = vec![0usize; PARTS + 1];
    for r in &rows {
        starts[part_of(r) + 1] += 1;
    }
    for p in 0..PARTS {
        starts[p + 1] += starts[p];
    }
    let mut order = vec![0u32; rows.len()];
    let mut cursor = starts.clone();
    for (i, r) in rows.iter().enumerate() {
        let p = part_of(r);
        order[cursor[p]] = i as u32;
        cursor[p] += 1;
    }
    let duplicates: Vec<Vec<u32>> = (0..PARTS)
        .into_par_iter()
        .map(|p| {
            let positions = &order[starts[p]..starts[p + 1]];
            let mut seen = pair_set(positions.len());
            positions
                .iter()
                .copied()
                .filter(|&i| !seen.insert(rows[i as usize].pair()))
                .collect()
        })
        .collect();
    let mut drop = vec![false; rows.len()];
    for &i in duplicates.iter().flatten() {
        drop[i as usize] = true;
    }
    rows.into_par_iter()
        .zip(drop)
        .filter(|(_, d)| !d)
        .map(|(r, _)| r)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triples(rows: &[Rating], r: &Ratings) -> Vec<(String, String, u8)> {
        rows.iter()
            .map(|x| {
                (
                    String::from_utf8_lossy(r.customers.get(x.customer())).into(),
                    String::from_utf8_lossy(r.products.get(x.product())).into(),
                    x.stars(),
                )
            })
            .collect()
    }

    #[test]
    fn thresholds_are_counted_once_on_raw_rows() {
        // c1 has 3 rows, but one is on product p2 which has only 1 row: after the product filter
        // c1 keeps 2 rows (< 3) and still stays, as in the Python pipeline.
        let r = Ratings::from_triples([
            ("c1", "p1", 5),
            ("c1", "p1", 4),
            ("c1", "p2", 3),
            ("c2", "p1", 1),
            ("c2", "p1", 2),
            ("c3", "p1", 2),
        ]);
        let opts = FilterOptions {
            min_customer_ratings: 2,
            min_product_ratings: 2,
        };
        let kept = long_tail(&r, &opts);
        assert_eq!(
            triples(&kept, &r),
            vec![
                ("c1".into(), "p1".into(), 5),
                ("c1".into(), "p1".into(), 4),
                ("c2".into(), "p1".into(), 1),
                ("c2".into(), "p1".into(), 2),
            ]
        );
        let deduped = dedupe(kept);
        assert_eq!(
            triples(&deduped, &r),
            vec![("c1".into(), "p1".into(), 5), ("c2".into(), "p1".into(), 1)]
        );
    }

    #[test]
    fn partitioned_dedupe_equals_the_simple_rule() {
        // Enough rows for the partitioned path, with many repeated pairs and spread customers.
        let mut rows = Vec::new();
        let mut rng = crate::stages::split::rng::Rng::new(3);
        for _ in 0..200_000 {
            let c = rng.below(5_000) as u32 * 37 % 100_003;
            rows.push(Rating::new(c, rng.below(40) as u32, 1 + rng.below(5) as u8));
        }
        let mut seen = std::collections::HashSet::new();
        let want: Vec<Rating> = rows.iter().copied().filter(|r| seen.insert(r.pair())).collect();
        assert!(
            want.len() < rows.len() * 9 / 10,
            "the fixture must hold duplicates"
        );
        assert_eq!(dedupe(rows), want);
    }

    #[test]
    fn zero_and_one_thresholds_keep_everything() {
        let r = Ratings::from_triples([("a", "x", 1), ("b", "y", 2)]);
        for t in [0, 1] {
            let opts = FilterOptions {
                min_customer_ratings: t,
                min_product_ratings: t,
            };
            assert_eq!(long_tail(&r, &opts).len(), 2);
        }
    }
}
