//! numpy's legacy random stream, reproduced exactly: `numpy.random.RandomState(seed).permutation(n)`.
//!
//! This module owns the migration check (`--shuffle numpy`): a team moving from the pandas pipeline
//! (`df.sample(frac=1, random_state=seed)`, which is `RandomState(seed).permutation(n)`) gets the
//! very same row order from fmprep, so the split files can be compared with the old ones.
//!
//! What numpy does, step by step (numpy 1.17+ `RandomState`, unchanged in 2.x because the legacy
//! stream is frozen by numpy's compatibility policy):
//!
//! * **Seeding**: an integer seed `0 <= seed < 2^32` goes through `mt19937_seed`, which is the
//!   reference `init_genrand` of MT19937 (Matsumoto & Nishimura, 2002). Larger seeds are an error in
//!   numpy, and so they are here.
//! * **32-bit draws**: the standard MT19937 tempered output.
//! * **64-bit draws**: `(first << 32) | second`, two 32-bit draws, the first one high.
//! * **Bounded integers** (`random_interval(max)`): the smallest all-ones mask `>= max`, then draws
//!   `& mask` until one is `<= max` (rejection, no modulo). 32-bit draws when `max < 2^32`, 64-bit
//!   draws otherwise.
//! * **Shuffle** (`_shuffle_raw` for a 1-d array): Fisher-Yates from the end, `for i in n-1..=1:
//!   j = random_interval(i); swap(i, j)`. `permutation(n)` shuffles `arange(n)`.
//!
//! `tests/fixtures/numpy_permutations.json` (written by `scripts/gen_numpy_fixtures.py` with numpy
//! itself) pins all of it, including the 64-bit branch.

use crate::error::{Error, Result};

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// The MT19937 generator with numpy's legacy seeding and bounded-integer sampler.
#[derive(Clone)]
pub struct Mt19937 {
    key: [u32; N],
    pos: usize,
}

impl std::fmt::Debug for Mt19937 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mt19937").field("pos", &self.pos).finish()
    }
}

impl Mt19937 {
    /// `RandomState(seed)`: `init_genrand(seed)`. Only 32-bit seeds exist in numpy's legacy API.
    pub fn new(seed: u32) -> Self {
        let mut key = [0u32; N];
        key[0] = seed;
        for i in 1..N {
            let prev = key[i - 1];
            key[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { key, pos: N }
    }

    /// Like [`Mt19937::new`] for an fmprep `--seed`, which is 64-bit: seeds numpy would refuse are a
    /// usage error rather than silently truncated.
    pub fn from_seed(seed: u64) -> Result<Self> {
        let s = u32::try_from(seed).map_err(|_| {
            Error::usage(format!(
                "--shuffle numpy needs a seed between 0 and 4294967295 (numpy's RandomState limit), got {seed}"
            ))
        })?;
        Ok(Mt19937::new(s))
    }

    fn generate(&mut self) {
        let k = &mut self.key;
        for i in 0..N {
            let y = (k[i] & UPPER_MASK) | (k[(i + 1) % N] & LOWER_MASK);
            let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
            k[i] = k[(i + M) % N] ^ (y >> 1) ^ mag;
        }
        self.pos = 0;
    }

    /// The next tempered 32-bit output.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        if self.pos == N {
            self.generate();
        }
        let mut y = self.key[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// numpy's `mt19937_next64`: two 32-bit outputs, the first in the high half.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let hi = self.next_u32() as u64;
        let lo = self.next_u32() as u64;
        (hi << 32) | lo
    }

    /// numpy's `random_interval(max)`: uniform in `0..=max` by masked rejection.
    #[inline]
    pub fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mask = u64::MAX >> max.leading_zeros();
        if max <= u32::MAX as u64 {
            loop {
                let v = (self.next_u32() as u64) & mask;
                if v <= max {
                    return v;
                }
            }
        }
        loop {
            let v = self.next_u64() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// numpy's legacy `shuffle` of a 1-d array, in place.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.interval(i as u64) as usize;
            items.swap(i, j);
        }
    }
}

/// `numpy.random.RandomState(seed).permutation(n)` as `u32` positions.
pub fn permutation(seed: u32, n: usize) -> Vec<u32> {
    let mut p: Vec<u32> = (0..n as u32).collect();
    Mt19937::new(seed).shuffle(&mut p);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_mt19937_outputs() {
        // init_genrand(5489), the reference implementation's default seed: first outputs of
        // mt19937ar.c (and of C++'s std::mt19937, whose 10000th output is 4123659995).
        let mut mt = Mt19937::new(5489);
        assert_eq!(mt.next_u32(), 3_499_211_612);
        assert_eq!(mt.next_u32(), 581_869_302);
        let mut mt = Mt19937::new(5489);
        let last = (0..10_000).map(|_| mt.next_u32()).last().unwrap();
        assert_eq!(last, 4_123_659_995);
    }

    #[test]
    fn interval_zero_and_small_ranges() {
        let mut mt = Mt19937::new(1);
        assert_eq!(mt.interval(0), 0);
        for _ in 0..1000 {
            assert!(mt.interval(6) <= 6);
        }
    }

    #[test]
    fn seeds_above_32_bits_are_refused() {
        assert!(Mt19937::from_seed(u32::MAX as u64).is_ok());
        let err = Mt19937::from_seed(1 << 32).unwrap_err();
        assert!(err.message().contains("4294967295"), "{err}");
    }
}
