//! The iterative long-tail filter (`--k-core`): the long-tail rule repeated until it removes
//! nothing, so that every kept customer has at least `min_customer_ratings` rows and every kept
//! product at least `min_product_ratings` rows *in the output*.
//!
//! Unlike the one-pass rule (which counts raw rows, duplicates included, as the Python pipeline
//! did), the k-core is taken on the de-duplicated rows: duplicates are dropped first (the first in
//! input order wins), then the rule is applied pass after pass. That is what makes the guarantee
//! checkable on the output: the `count` column of `maps/*.tsv` is never below the thresholds.
//!
//! Each pass only removes rows, and a removal can only lower other counts, so the passes end; in
//! practice after a handful (the reviews data: under 20).

use crate::model::{Rating, Ratings};
use crate::stages::filter::{self, count_codes, FilterOptions};

/// The result of the k-core filter.
#[derive(Debug, Clone, Default)]
pub struct KCore {
    /// The kept, de-duplicated rows, in input order.
    pub rows: Vec<Rating>,
    /// Raw valid rows (duplicates included) whose customer and product are both in the k-core:
    /// the `after_long_tail` count, comparable with the one-pass rule's.
    pub after_long_tail: u64,
    /// Counting passes run; the last one removed nothing (1 = the data already was a k-core).
    pub iterations: u32,
}

/// Apply the long-tail rule to the de-duplicated rows until nothing changes.
pub fn k_core(ratings: &Ratings, opts: &FilterOptions) -> KCore {
    let mut rows = filter::dedupe(ratings.rows.clone());
    let (nc, np) = (ratings.customers.len(), ratings.products.len());
    let mut iterations = 0;
    loop {
        iterations += 1;
        let per_customer = count_codes(&rows, nc, Rating::customer);
        let per_product = count_codes(&rows, np, Rating::product);
        let before = rows.len();
        rows.retain(|r| {
            per_customer[r.customer() as usize] >= opts.min_customer_ratings
                && per_product[r.product() as usize] >= opts.min_product_ratings
        });
        if rows.len() == before {
            break;
        }
    }
    let mut alive_customer = vec![false; nc];
    let mut alive_product = vec![false; np];
    for r in &rows {
        alive_customer[r.customer() as usize] = true;
        alive_product[r.product() as usize] = true;
    }
    let after_long_tail = ratings
        .rows
        .iter()
        .filter(|r| alive_customer[r.customer() as usize] && alive_product[r.product() as usize])
        .count() as u64;
    KCore {
        rows,
        after_long_tail,
        iterations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterates_to_a_fixed_point_on_distinct_pairs() {
        // Thresholds 2/2 on the distinct pairs. Pass 1 removes (c2,p3) (p3 has 1 row) and (c3,p1)
        // (c3 has 1 row); pass 2 then finds c2 and p1 with one row each and removes (c2,p2) and
        // (c1,p1); pass 3 removes (c1,p2), the last row of c1 and p2; pass 4 removes nothing. The
        // c4/c5 x p4/p5 square is the 2-core.
        let r = Ratings::from_triples([
            ("c1", "p1", 5),
            ("c1", "p2", 5),
            ("c2", "p2", 4),
            ("c2", "p3", 4),
            ("c3", "p1", 3),
            ("c4", "p4", 1),
            ("c4", "p5", 1),
            ("c5", "p4", 2),
            ("c5", "p5", 2),
            ("c5", "p5", 3), // duplicate: not counted
        ]);
        let opts = FilterOptions {
            min_customer_ratings: 2,
            min_product_ratings: 2,
        };
        let k = k_core(&r, &opts);
        let pairs: Vec<(u32, u32)> = k.rows.iter().map(|x| (x.customer(), x.product())).collect();
        assert_eq!(pairs, vec![(3, 3), (3, 4), (4, 3), (4, 4)]);
        assert_eq!(k.after_long_tail, 5);
        assert_eq!(k.iterations, 4);
        // The one-pass rule keeps c1/c2 rows: counts were taken before anything was removed.
        assert!(filter::long_tail(&r, &opts).len() > k.rows.len());
    }
}
