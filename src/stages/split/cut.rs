//! The cut of a row order into train / validate / test: [`SplitFractions`] and their cut points,
//! [`Split`] (the positions of each part) and the plain seeded [`split()`].
//!
//! A uniform random permutation of the de-duplicated rows (Fisher-Yates driven by
//! [`crate::stages::split::rng::Rng`]) is cut at `floor(f_train * n)` and `floor((f_train + f_validate) * n)`,
//! the same float arithmetic as the Python pipeline's `int(.6 * n)`. Records in each split follow
//! the permutation order. The result depends only on `n` and the seed.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::stages::split::rng::Rng;

/// The default seed: fixed so that runs are reproducible unless asked otherwise.
pub const DEFAULT_SEED: u64 = 42;

/// Fractions of the rows going to train, validate and test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SplitFractions {
    /// Share of rows for training.
    pub train: f64,
    /// Share of rows for validation (the tuning job's `test` channel).
    pub validate: f64,
    /// Share of rows for batch-transform testing.
    pub test: f64,
}

impl Default for SplitFractions {
    fn default() -> Self {
        SplitFractions {
            train: 0.6,
            validate: 0.2,
            test: 0.2,
        }
    }
}

impl std::str::FromStr for SplitFractions {
    type Err = String;

    /// `0.6,0.2,0.2` (three non-negative shares summing to 1) or `0.6,0.2` (test gets the rest).
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let parts: std::result::Result<Vec<f64>, _> = s.split(',').map(|p| p.trim().parse::<f64>()).collect();
        let parts = parts.map_err(|_| format!("invalid split {s:?}: expected numbers like 0.6,0.2,0.2"))?;
        let f = match parts.as_slice() {
            [a, b] => SplitFractions {
                train: *a,
                validate: *b,
                test: remainder(*a, *b),
            },
            [a, b, c] => SplitFractions {
                train: *a,
                validate: *b,
                test: *c,
            },
            _ => {
                return Err(format!(
                    "invalid split {s:?}: give 2 or 3 fractions, like 0.6,0.2,0.2"
                ))
            }
        };
        f.validate().map_err(|e| e.message().to_string())?;
        Ok(f)
    }
}

/// `1 - a - b` without the binary rounding noise of the subtraction (`0.8,0.2` leaves exactly 0,
/// not -5.55e-17; `0.7,0.2` leaves 0.1): fractions are given in decimal, so 12 decimals are
/// plenty, and a remainder below 0 by noise is 0.
fn remainder(a: f64, b: f64) -> f64 {
    let r = ((1.0 - a - b) * 1e12).round() / 1e12;
    // `+ 0.0` turns a -0.0 into 0.0.
    if r.abs() < 1e-12 {
        0.0
    } else {
        r + 0.0
    }
}

impl SplitFractions {
    /// Check that each share is in 0..=1 and they sum to 1 (within 1e-9).
    pub fn validate(&self) -> Result<()> {
        let all = [self.train, self.validate, self.test];
        if all
            .iter()
            .any(|f| !f.is_finite() || *f < -1e-12 || *f > 1.0 + 1e-12)
        {
            return Err(Error::usage(format!(
                "invalid split {},{},{}: each fraction must be between 0 and 1",
                self.train, self.validate, self.test
            )));
        }
        let sum: f64 = all.iter().sum();
        if (sum - 1.0).abs() > 1e-9 {
            // Rounded: 0.5 + 0.2 + 0.2 prints as 0.9, not 0.8999999999999999.
            let shown = (sum * 1e9).round() / 1e9;
            return Err(Error::usage(format!(
                "invalid split {},{},{}: the fractions sum to {shown}, they must sum to 1",
                self.train, self.validate, self.test
            )));
        }
        Ok(())
    }

    /// The two cut points for `n` rows.
    pub fn cuts(&self, n: usize) -> (usize, usize) {
        let a = ((self.train * n as f64).floor() as usize).min(n);
        let b = (((self.train + self.validate) * n as f64).floor() as usize).clamp(a, n);
        (a, b)
    }
}

/// Row positions of each split, in permutation order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Split {
    /// Positions (into the de-duplicated rows) of the training rows.
    pub train: Vec<u32>,
    /// Positions of the validation rows.
    pub validate: Vec<u32>,
    /// Positions of the test rows.
    pub test: Vec<u32>,
}

/// Shuffle `0..n` with `seed` and cut it by `fractions`.
pub fn split(n: usize, fractions: &SplitFractions, seed: u64) -> Split {
    let mut perm: Vec<u32> = (0..n as u32).collect();
    Rng::new(seed).shuffle(&mut perm);
    let (a, b) = fractions.cuts(n);
    let test = perm.split_off(b);
    let validate = perm.split_off(a);
    Split {
        train: perm,
        validate,
        test,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_python_int_cuts() {
        let f = SplitFractions::default();
        for n in [0usize, 1, 2, 3, 4, 5, 7, 10, 11, 99, 1_710_000] {
            let s = split(n, &f, 1);
            let a = (0.6 * n as f64) as usize;
            let b = (0.8 * n as f64) as usize;
            assert_eq!(
                (s.train.len(), s.validate.len(), s.test.len()),
                (a, b - a, n - b),
                "n={n}"
            );
        }
    }

    #[test]
    fn seeded_and_a_partition() {
        let f = SplitFractions::default();
        assert_eq!(split(1000, &f, 9), split(1000, &f, 9));
        assert_ne!(split(1000, &f, 9), split(1000, &f, 10));
        let s = split(1000, &f, 9);
        let mut all: Vec<u32> = s
            .train
            .iter()
            .chain(&s.validate)
            .chain(&s.test)
            .copied()
            .collect();
        all.sort();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn fractions_parse_and_validate() {
        assert_eq!(
            "0.6,0.2,0.2".parse::<SplitFractions>().unwrap(),
            SplitFractions::default()
        );
        assert_eq!("0.8,0.1".parse::<SplitFractions>().unwrap().cuts(10), (8, 9));
        assert!("0.6,0.3,0.2"
            .parse::<SplitFractions>()
            .unwrap_err()
            .contains("sum to"));
        assert!("1.2,-0.2,0"
            .parse::<SplitFractions>()
            .unwrap_err()
            .contains("between 0 and 1"));
        assert!("a,b".parse::<SplitFractions>().is_err());
    }

    #[test]
    fn two_fractions_leave_an_exact_remainder() {
        let test = |s: &str| s.parse::<SplitFractions>().unwrap().test;
        // 1 - 0.8 - 0.2 is -5.55e-17 in binary floating point.
        assert_eq!(test("0.8,0.2").to_bits(), 0f64.to_bits());
        assert_eq!(test("0.7,0.2"), 0.1);
        assert_eq!(test("0.6,0.2"), 0.2);
        assert_eq!(test("0.9,0.05"), 0.05);
        assert_eq!(test("1,0"), 0.0);
    }
}
