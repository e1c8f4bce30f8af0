//! What each record's label is: the rating itself (FM's `regressor`) or a 0/1 "liked it" label
//! (FM's `binary_classifier`). This module owns that mapping and the `predictor_type` that must go
//! with it, so the manifest's hyperparameters always match the labels in the files.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::Rating;

/// The kind of label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelKind {
    /// The rating value as f32 (`predictor_type` = `regressor`).
    #[default]
    Rating,
    /// 1.0 when the rating is at least [`LabelOptions::positive_min`], else 0.0
    /// (`predictor_type` = `binary_classifier`).
    Binary,
}

impl std::str::FromStr for LabelKind {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "rating" => Ok(LabelKind::Rating),
            "binary" => Ok(LabelKind::Binary),
            _ => Err(format!("invalid label {s:?}: use rating or binary")),
        }
    }
}

/// How labels are made from ratings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LabelOptions {
    /// The kind of label.
    pub kind: LabelKind,
    /// Binary labels: the smallest rating that counts as positive.
    pub positive_min: f32,
}

impl Default for LabelOptions {
    /// Rating labels; a binary threshold of 4 stars (4 and 5 are "liked").
    fn default() -> Self {
        LabelOptions {
            kind: LabelKind::Rating,
            positive_min: 4.0,
        }
    }
}

impl LabelOptions {
    /// Check the threshold: a rating value between 0.5 and 5.
    pub fn validate(&self) -> Result<()> {
        if !(0.5..=5.0).contains(&self.positive_min) {
            return Err(Error::usage(format!(
                "--positive-min {} is outside the rating range 0.5..5",
                self.positive_min
            )));
        }
        Ok(())
    }

    /// The label of one rating.
    #[inline]
    pub fn label(&self, r: Rating) -> f32 {
        match self.kind {
            LabelKind::Rating => r.value(),
            LabelKind::Binary => {
                if r.value() >= self.positive_min {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }

    /// SageMaker FM's `predictor_type` for these labels.
    pub fn predictor_type(&self) -> &'static str {
        match self.kind {
            LabelKind::Rating => "regressor",
            LabelKind::Binary => "binary_classifier",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_threshold_is_inclusive() {
        let o = LabelOptions {
            kind: LabelKind::Binary,
            positive_min: 4.0,
        };
        let labels: Vec<f32> = (1..=5).map(|s| o.label(Rating::new(0, 0, s))).collect();
        assert_eq!(labels, vec![0.0, 0.0, 0.0, 1.0, 1.0]);
        assert_eq!(o.predictor_type(), "binary_classifier");
        assert_eq!(LabelOptions::default().label(Rating::new(0, 0, 3)), 3.0);
        assert!(LabelOptions {
            positive_min: 6.0,
            ..o
        }
        .validate()
        .is_err());
    }
}
