//! The choices that decide a split, as the library and the manifest name them: the generator
//! ([`Shuffle`]), the mode ([`SplitMode`]) and both together with the fractions and the seed
//! ([`SplitOptions`], recorded in the manifest's `options`).

use serde::Serialize;

use crate::stages::split::cut::SplitFractions;

/// Which generator draws the permutations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shuffle {
    /// fmprep's xoshiro256** Fisher-Yates (`split::rng`); any 64-bit seed.
    #[default]
    Fmprep,
    /// numpy's legacy `RandomState(seed).permutation(n)` (`split::numpy`); seeds < 2^32.
    Numpy,
    /// Rows ordered by a keyed hash of their ids (`split::hash`): a split defined row by
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
