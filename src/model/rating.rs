//! The parsed input: [`Rating`] (one valid row packed into 64 bits) and [`Ratings`] (interned
//! ids, titles, rows in input order, optional times, and the read counters). Readers produce it
//! through the ratings builder; every later stage reads it.

use super::bad::ReadStats;
use super::keys::{ByteList, KeyTable};

/// One valid rating, packed into 64 bits: customer code (32 bits), product code (28 bits) and
/// the rating in half-steps (4 bits: `2 * rating`, 1..=10, so half-star scales fit). Packing halves
/// the memory of the largest table the pipeline keeps, and `pair()` gives a ready-made (customer,
/// product) key for de-duplication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rating(u64);

impl Rating {
    /// Largest product code that fits (268 million products; the whole reviews dataset has about
    /// 21 million).
    pub const MAX_PRODUCT: u32 = (1 << 28) - 1;

    /// Pack a rating. `stars` must be 1..=5 and `product <= MAX_PRODUCT`.
    #[inline]
    pub fn new(customer: u32, product: u32, stars: u8) -> Self {
        debug_assert!((1..=5).contains(&stars));
        Self::from_half_steps(customer, product, 2 * stars)
    }

    /// Pack a rating given in half-steps (`2 * rating`, 1..=10).
    #[inline]
    pub fn from_half_steps(customer: u32, product: u32, half_steps: u8) -> Self {
        debug_assert!(product <= Self::MAX_PRODUCT && (1..=10).contains(&half_steps));
        Rating(((customer as u64) << 32) | ((product as u64) << 4) | half_steps as u64)
    }

    /// Customer code.
    #[inline]
    pub fn customer(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// Product code.
    #[inline]
    pub fn product(self) -> u32 {
        ((self.0 >> 4) & Self::MAX_PRODUCT as u64) as u32
    }

    /// The rating in whole stars, rounded down: exact on the default 1..5 scale. See
    /// [`Rating::value`] for half-star scales.
    #[inline]
    pub fn stars(self) -> u8 {
        self.half_steps() / 2
    }

    /// The rating in half-steps, `2 * rating`, 1..=10.
    #[inline]
    pub fn half_steps(self) -> u8 {
        (self.0 & 15) as u8
    }

    /// The rating value (1.0..=5.0, or 0.5..=5.0 on the half-star scale).
    #[inline]
    pub fn value(self) -> f32 {
        self.half_steps() as f32 * 0.5
    }

    /// The (customer, product) pair as one integer.
    #[inline]
    pub fn pair(self) -> u64 {
        self.0 >> 4
    }
}

/// The parsed input: interned ids and the valid ratings in input order.
#[derive(Debug, Default)]
pub struct Ratings {
    /// Distinct customer ids; code = order of first appearance among valid rows.
    pub customers: KeyTable,
    /// Distinct product ids; code = order of first appearance among valid rows.
    pub products: KeyTable,
    /// The title on the first valid row of each product, by product code.
    pub titles: ByteList,
    /// Valid ratings in input order.
    pub rows: Vec<Rating>,
    /// Per row, its time in seconds since 1970 (a `YYYY-MM-DD` date counts from its midnight,
    /// UTC); empty unless the reader was asked for times.
    pub times: Vec<u32>,
    /// Per feature column the reader was asked to capture, its value on every valid row (empty
    /// without them).
    pub side: Vec<crate::features::columns::Column>,
    /// Counters.
    pub stats: ReadStats,
}

impl Ratings {
    /// Release memory only needed while ids were being added (the id lookup indexes).
    pub(super) fn done_adding(mut self) -> Self {
        self.customers.freeze();
        self.products.freeze();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips() {
        let r = Rating::from_half_steps(3, 7, 9);
        assert_eq!((r.customer(), r.product(), r.half_steps()), (3, 7, 9));
        assert_eq!(r.value(), 4.5);
        assert_eq!(r.stars(), 4);
        assert_eq!(
            Rating::new(3, Rating::MAX_PRODUCT, 5).product(),
            Rating::MAX_PRODUCT
        );
        assert_eq!(Rating::new(1, 2, 3).pair(), Rating::new(1, 2, 5).pair());
    }
}
