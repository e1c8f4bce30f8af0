//! Who reviews what: the customer and product popularity of a synthetic file (see "Popularity
//! model" in the `synth` module doc): casual one-time reviewers, power-law regulars, power-law
//! products, each row's customer and product drawn independently.

use crate::stages::split::rng::Rng;

/// Share of rows written by casual (mostly one-time) reviewers.
const CASUAL_SHARE: f64 = 0.49;
/// Casual pool size per casual row: large, so that few casual customers review twice.
const CASUAL_POOL_PER_ROW: f64 = 12.0;
/// Regular reviewers per row of the file.
const REGULARS_PER_ROW: f64 = 0.0392;
/// Power-law exponent of regular reviewers' popularity.
const REGULAR_EXPONENT: f64 = 0.6;
/// Head shift (in ranks) of regular reviewers: flattens the very top so no single customer
/// dominates.
const REGULAR_SHIFT: f64 = 100.0;
/// Products per row of the file.
const PRODUCTS_PER_ROW: f64 = 0.045;
/// Power-law exponent of product popularity.
const PRODUCT_EXPONENT: f64 = 1.05;
/// Head shift (in ranks) of product popularity.
const PRODUCT_SHIFT: f64 = 10.0;

/// A continuous power law with density proportional to `(x + shift)^-exponent` on `[0, n)`,
/// sampled by inverse CDF and floored to a rank in `0..n`.
#[derive(Debug, Clone)]
struct PowerLaw {
    n: u64,
    shift: f64,
    lo: f64,
    span: f64,
    inv: f64,
}

impl PowerLaw {
    fn new(n: u64, exponent: f64, shift: f64) -> Self {
        debug_assert!(n > 0 && shift > 0.0 && exponent != 1.0);
        let e = 1.0 - exponent;
        let lo = shift.powf(e);
        let hi = (n as f64 + shift).powf(e);
        PowerLaw {
            n,
            shift,
            lo,
            span: hi - lo,
            inv: 1.0 / e,
        }
    }

    #[inline]
    fn sample(&self, u: f64) -> u64 {
        let x = (self.lo + u * self.span).powf(self.inv) - self.shift;
        // `as` saturates a tiny negative rounding error to 0.
        (x as u64).min(self.n - 1)
    }
}

/// Who reviews what: the customer and product populations of a file of `rows` rows.
#[derive(Debug, Clone)]
pub(super) struct Popularity {
    regulars: PowerLaw,
    casual_pool: u64,
    products: PowerLaw,
}

impl Popularity {
    pub(super) fn new(rows: u64) -> Self {
        let scaled = |per_row: f64| ((rows as f64 * per_row).ceil() as u64).max(1);
        let n_regulars = scaled(REGULARS_PER_ROW);
        let casual_pool = scaled(CASUAL_SHARE * CASUAL_POOL_PER_ROW);
        let n_products = scaled(PRODUCTS_PER_ROW);
        Popularity {
            regulars: PowerLaw::new(n_regulars, REGULAR_EXPONENT, REGULAR_SHIFT),
            casual_pool,
            products: PowerLaw::new(n_products, PRODUCT_EXPONENT, PRODUCT_SHIFT),
        }
    }

    /// Customers that can appear: the regulars and the casual pool.
    pub(super) fn n_customers(&self) -> u64 {
        self.regulars.n + self.casual_pool
    }

    /// Products that can appear.
    pub(super) fn n_products(&self) -> u64 {
        self.products.n
    }

    /// A customer rank: regulars are `0..n_regulars`, casual reviewers follow.
    #[inline]
    pub(super) fn customer(&self, rng: &mut Rng) -> u64 {
        if rng.f64() < CASUAL_SHARE {
            self.regulars.n + rng.below(self.casual_pool)
        } else {
            self.regulars.sample(rng.f64())
        }
    }

    #[inline]
    pub(super) fn product(&self, rng: &mut Rng) -> u64 {
        self.products.sample(rng.f64())
    }
}
