//! `fmprep explore`: the long-tail numbers that motivate the filter thresholds, from one streaming
//! read of the input (the same reader as `run`).
//!
//! This module owns three computations on the parsed ratings:
//!
//! * **quantiles** of the per-customer and per-product rating counts (counted on all valid rows,
//!   as the long-tail rule counts them), with pandas' default linear interpolation, so the numbers
//!   match `df.customer_id.value_counts().quantile(q)`;
//! * the **share** of customers and of products with at least k ratings;
//! * the **threshold sweep**: for every (min-customer, min-product) pair in the grid, exactly what
//!   `fmprep run` with those thresholds would keep (rows after the long-tail rule, rows after
//!   de-duplication, customers, products, feature_dim).
//!
//! The sweep does not re-run the filter per pair. The filter keeps a row when its customer count
//! `cc >= mc` and its product count `pc >= mp`, so with counts capped at the grid's maximum, each
//! (raw row, distinct pair) falls in one cell of a small 2-d histogram and every pair's row count
//! is a suffix sum. A customer survives (mc, mp) when `cc >= mc` and its best product count
//! `max pc >= mp`; products likewise. So the whole grid costs one pass over the rows plus the
//! de-duplication `run` already does, whatever its size.

use serde::Serialize;

use crate::model::{Rating, Ratings};
use crate::stages::filter::{self, count_codes};

/// The quantile levels reported, in percent.
pub const QUANTILES: [f64; 17] = [
    0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 96.0, 97.0, 98.0, 99.0, 100.0,
];

/// The k of "share with at least k ratings".
pub const AT_LEAST: [u32; 13] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 50, 100];

/// Grid of the sweep.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SweepGrid {
    /// min-customer-ratings from 1 to this.
    pub max_customer: u32,
    /// min-product-ratings from 1 to this.
    pub max_product: u32,
}

impl Default for SweepGrid {
    /// 1..10 x 1..20.
    fn default() -> Self {
        SweepGrid {
            max_customer: 10,
            max_product: 20,
        }
    }
}

/// One quantile.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Quantile {
    /// Level in percent.
    pub percent: f64,
    /// Ratings per id at that level.
    pub value: f64,
}

/// Share of ids with at least `k` ratings.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Share {
    /// The threshold.
    pub k: u32,
    /// Ids with at least `k` ratings.
    pub count: u64,
    /// `count` / all ids.
    pub share: f64,
}

/// The distribution of ratings per id (customers or products).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Distribution {
    /// Distinct ids.
    pub ids: u64,
    /// Mean ratings per id.
    pub mean: f64,
    /// Quantiles of ratings per id.
    pub quantiles: Vec<Quantile>,
    /// Share with at least k ratings.
    pub at_least: Vec<Share>,
    /// Ratings per id, sorted descending (for the long-tail plot; not serialised).
    #[serde(skip)]
    pub sorted_desc: Vec<u32>,
}

/// What `fmprep run` keeps with one pair of thresholds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct SweepRow {
    /// --min-customer-ratings.
    pub min_customer: u32,
    /// --min-product-ratings.
    pub min_product: u32,
    /// Rows left by the long-tail rule (the manifest's `after_long_tail`).
    pub after_long_tail: u64,
    /// Rows after de-duplication (`after_dedupe`: the rows split and encoded).
    pub rows: u64,
    /// Customers indexed.
    pub customers: u64,
    /// Products indexed.
    pub products: u64,
    /// customers + products.
    pub feature_dim: u64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Data lines read.
    pub input_lines: u64,
    /// Valid rating rows.
    pub valid: u64,
    /// Skipped lines.
    pub bad_lines: u64,
    /// Distinct (customer, product) pairs.
    pub distinct_pairs: u64,
    /// Ratings per customer.
    pub customers: Distribution,
    /// Ratings per product.
    pub products: Distribution,
    /// The sweep grid.
    pub grid: SweepGrid,
    /// One row per (min_customer, min_product), min_customer major.
    pub sweep: Vec<SweepRow>,
    /// Candidate feature columns (`--cardinality`), absent when none was asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<crate::features::cardinality::ColumnStats>,
}

/// pandas' default (`linear`) quantile of ascending `sorted` at level `q` in 0..=1.
pub fn quantile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = pos - lo as f64;
    sorted[lo] as f64 + (sorted[hi] as f64 - sorted[lo] as f64) * frac
}

fn distribution(counts: &[u32]) -> Distribution {
    let mut sorted: Vec<u32> = counts.iter().copied().filter(|&c| c > 0).collect();
    sorted.sort_unstable();
    let n = sorted.len();
    let total: u64 = sorted.iter().map(|&c| c as u64).sum();
    let quantiles = QUANTILES
        .iter()
        .map(|&p| Quantile {
            percent: p,
            value: quantile(&sorted, p / 100.0),
        })
        .collect();
    let at_least = AT_LEAST
        .iter()
        .map(|&k| {
            let below = sorted.partition_point(|&c| c < k);
            let count = (n - below) as u64;
            Share {
                k,
                count,
                share: if n == 0 { 0.0 } else { count as f64 / n as f64 },
            }
        })
        .collect();
    sorted.reverse();
    Distribution {
        ids: n as u64,
        mean: if n == 0 { 0.0 } else { total as f64 / n as f64 },
        quantiles,
        at_least,
        sorted_desc: sorted,
    }
}

/// A 2-d histogram over capped (customer count, product count), with suffix sums.
struct Grid2 {
    w: usize,
    h: usize,
    cells: Vec<u64>,
}

impl Grid2 {
    fn new(w: usize, h: usize) -> Self {
        Grid2 {
            w,
            h,
            cells: vec![0; (w + 1) * (h + 1)],
        }
    }

    fn add(&mut self, a: u32, b: u32) {
        let (a, b) = ((a as usize).min(self.w), (b as usize).min(self.h));
        self.cells[a * (self.h + 1) + b] += 1;
    }

    /// Turn cell counts into "at least (a, b)" counts.
    fn suffix_sums(mut self) -> Self {
        let stride = self.h + 1;
        for a in (0..=self.w).rev() {
            for b in (0..=self.h).rev() {
                let mut v = self.cells[a * stride + b];
                if a < self.w {
                    v += self.cells[(a + 1) * stride + b];
                }
                if b < self.h {
                    v += self.cells[a * stride + b + 1];
                }
                if a < self.w && b < self.h {
                    v -= self.cells[(a + 1) * stride + b + 1];
                }
                self.cells[a * stride + b] = v;
            }
        }
        self
    }

    fn at_least(&self, a: u32, b: u32) -> u64 {
        self.cells[a as usize * (self.h + 1) + b as usize]
    }
}

/// The sweep over `grid` for `ratings`, exact for every cell (see the module docs).
pub fn sweep(
    ratings: &Ratings,
    per_customer: &[u32],
    per_product: &[u32],
    grid: SweepGrid,
) -> (Vec<SweepRow>, u64) {
    let (mc, mp) = (grid.max_customer, grid.max_product);
    let (wc, wp) = (mc as usize, mp as usize);
    let mut raw = Grid2::new(wc, wp);
    for r in &ratings.rows {
        raw.add(
            per_customer[r.customer() as usize],
            per_product[r.product() as usize],
        );
    }
    let pairs = filter::dedupe(ratings.rows.clone());
    let mut dedup = Grid2::new(wc, wp);
    // Best (capped) product count of each customer, and best customer count of each product,
    // over its distinct pairs.
    let mut best_product = vec![0u32; per_customer.len()];
    let mut best_customer = vec![0u32; per_product.len()];
    for r in &pairs {
        let (c, p) = (r.customer() as usize, r.product() as usize);
        let (cc, pc) = (per_customer[c].min(mc), per_product[p].min(mp));
        dedup.add(cc, pc);
        best_product[c] = best_product[c].max(pc);
        best_customer[p] = best_customer[p].max(cc);
    }
    let mut customers = Grid2::new(wc, wp);
    for (c, &n) in per_customer.iter().enumerate() {
        if n > 0 {
            customers.add(n, best_product[c]);
        }
    }
    let mut products = Grid2::new(wc, wp);
    for (p, &n) in per_product.iter().enumerate() {
        if n > 0 {
            products.add(best_customer[p], n);
        }
    }
    let (raw, dedup, customers, products) = (
        raw.suffix_sums(),
        dedup.suffix_sums(),
        customers.suffix_sums(),
        products.suffix_sums(),
    );
    let mut rows = Vec::with_capacity(wc * wp);
    for a in 1..=mc {
        for b in 1..=mp {
            let (c, p) = (customers.at_least(a, b), products.at_least(a, b));
            rows.push(SweepRow {
                min_customer: a,
                min_product: b,
                after_long_tail: raw.at_least(a, b),
                rows: dedup.at_least(a, b),
                customers: c,
                products: p,
                feature_dim: c + p,
            });
        }
    }
    (rows, pairs.len() as u64)
}

/// Everything `fmprep explore` reports, from parsed ratings.
pub fn explore(ratings: &Ratings, grid: SweepGrid) -> Report {
    let per_customer = count_codes(&ratings.rows, ratings.customers.len(), Rating::customer);
    let per_product = count_codes(&ratings.rows, ratings.products.len(), Rating::product);
    let (sweep, distinct_pairs) = sweep(ratings, &per_customer, &per_product, grid);
    Report {
        input_lines: ratings.stats.input_lines,
        valid: ratings.stats.valid,
        bad_lines: ratings.stats.bad_lines.total(),
        distinct_pairs,
        customers: distribution(&per_customer),
        products: distribution(&per_product),
        grid,
        sweep,
        columns: crate::features::cardinality::column_stats(ratings),
    }
}

impl Report {
    /// The sweep row of a threshold pair, if inside the grid.
    pub fn cell(&self, min_customer: u32, min_product: u32) -> Option<&SweepRow> {
        self.sweep
            .iter()
            .find(|r| r.min_customer == min_customer && r.min_product == min_product)
    }

    /// The human-readable report.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} data lines, {} valid ratings ({} skipped), {} distinct (customer, product) pairs",
            self.input_lines, self.valid, self.bad_lines, self.distinct_pairs
        );
        let _ = writeln!(
            s,
            "{} customers ({:.2} ratings each on average), {} products ({:.2} each)\n",
            self.customers.ids, self.customers.mean, self.products.ids, self.products.mean
        );
        let _ = writeln!(s, "Ratings per id, quantiles (linear interpolation, as pandas):");
        let _ = writeln!(s, "{:>8} {:>12} {:>12}", "quantile", "customer", "product");
        for (c, p) in self.customers.quantiles.iter().zip(&self.products.quantiles) {
            let _ = writeln!(
                s,
                "{:>7}% {:>12} {:>12}",
                c.percent,
                fmt_num(c.value),
                fmt_num(p.value)
            );
        }
        let _ = writeln!(s, "\nShare of ids with at least k ratings:");
        let _ = writeln!(s, "{:>8} {:>20} {:>20}", "k", "customers", "products");
        for (c, p) in self.customers.at_least.iter().zip(&self.products.at_least) {
            let _ = writeln!(
                s,
                "{:>8} {:>11} {:>7.2}% {:>11} {:>7.2}%",
                format!(">= {}", c.k),
                c.count,
                100.0 * c.share,
                p.count,
                100.0 * p.share
            );
        }
        let _ = writeln!(
            s,
            "\nThreshold sweep (what `fmprep run --min-customer-ratings C --min-product-ratings P` keeps):"
        );
        let _ = writeln!(
            s,
            "{:>3} {:>3} {:>14} {:>12} {:>10} {:>10} {:>12}",
            "C", "P", "after_long_tail", "rows", "customers", "products", "feature_dim"
        );
        for r in &self.sweep {
            let _ = writeln!(
                s,
                "{:>3} {:>3} {:>14} {:>12} {:>10} {:>10} {:>12}",
                r.min_customer,
                r.min_product,
                r.after_long_tail,
                r.rows,
                r.customers,
                r.products,
                r.feature_dim
            );
        }
        if !self.columns.is_empty() {
            let _ = writeln!(s, "\nCandidate feature columns (on the valid rows):");
            for c in &self.columns {
                let top: Vec<String> = c.top.iter().map(|(v, n)| format!("{v:?} {n}")).collect();
                let _ = writeln!(
                    s,
                    "  {}: {} distinct{}; top: {}",
                    c.name,
                    c.distinct,
                    if c.numeric { ", all numeric" } else { "" },
                    top.join(", ")
                );
            }
        }
        s
    }
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::filter::FilterOptions;

    #[test]
    fn quantiles_interpolate_like_pandas() {
        // pandas.Series([1, 2, 3, 10]).quantile([0, .25, .5, .9, 1]) = 1, 1.75, 2.5, 7.9, 10
        let s = [1, 2, 3, 10];
        let got: Vec<f64> = [0.0, 0.25, 0.5, 0.9, 1.0]
            .iter()
            .map(|&q| quantile(&s, q))
            .collect();
        let want = [1.0, 1.75, 2.5, 7.9, 10.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-9, "{got:?}");
        }
    }

    #[test]
    fn sweep_equals_running_the_filter_for_every_cell() {
        let mut triples = Vec::new();
        let names: Vec<(String, String)> = (0..300)
            .map(|i| {
                (
                    format!("c{}", (i * 7) % 23 + (i % 5) * (i % 3)),
                    format!("p{}", (i * i) % 17),
                )
            })
            .collect();
        for (i, (c, p)) in names.iter().enumerate() {
            triples.push((c.as_str(), p.as_str(), (i % 5 + 1) as u8));
        }
        let r = Ratings::from_triples(triples);
        let grid = SweepGrid {
            max_customer: 6,
            max_product: 12,
        };
        let rep = explore(&r, grid);
        assert_eq!(rep.sweep.len(), 72);
        for cell in &rep.sweep {
            let opts = FilterOptions {
                min_customer_ratings: cell.min_customer,
                min_product_ratings: cell.min_product,
            };
            let kept = filter::long_tail(&r, &opts);
            let after = kept.len() as u64;
            let rows = filter::dedupe(kept);
            let idx = crate::stages::index::Index::build(&rows, &r);
            let want = SweepRow {
                after_long_tail: after,
                rows: rows.len() as u64,
                customers: idx.customers.len() as u64,
                products: idx.products.len() as u64,
                feature_dim: idx.dims().feature_dim(),
                ..*cell
            };
            assert_eq!(*cell, want);
        }
    }
}
