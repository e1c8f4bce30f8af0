//! Flags that choose columns, rating scale, labels, filtering and split beyond the defaults of the
//! Python pipeline (shared by `run`, `preprocess` and `explore`).

use crate::model::RatingScale;
use crate::pipeline::Options;
use crate::source::{ColumnNames, ReadOptions};
use crate::stages::label::{LabelKind, LabelOptions};
use crate::stages::split::{Shuffle, SplitMode};
use clap::Args;

/// Input columns and rating scale.
#[derive(Debug, Args, Clone)]
pub struct ColumnArgs {
    /// Header name of the customer (user) id column.
    #[arg(long, env = "FMPREP_CUSTOMER_COL", default_value = "customer_id")]
    pub customer_col: String,
    /// Header name of the product (item) id column.
    #[arg(long, env = "FMPREP_PRODUCT_COL", default_value = "product_id")]
    pub product_col: String,
    /// Header name of the rating column.
    #[arg(long, env = "FMPREP_RATING_COL", default_value = "star_rating")]
    pub rating_col: String,
    /// Header name of the time column (YYYY-MM-DD or Unix seconds), read for --split-mode holdout-last.
    #[arg(long, env = "FMPREP_TIME_COL", default_value = "review_date")]
    pub time_col: String,
    /// Valid ratings: `stars` (exactly 1..5) or `half-stars` (0.5..5.0 in steps of 0.5, e.g. MovieLens).
    #[arg(long, env = "FMPREP_RATING_SCALE", default_value = "stars")]
    pub rating_scale: RatingScale,
}

impl ColumnArgs {
    /// Apply to reader options.
    pub fn apply(&self, read: &mut ReadOptions) {
        read.columns = ColumnNames {
            customer: self.customer_col.clone(),
            product: self.product_col.clone(),
            rating: self.rating_col.clone(),
            time: self.time_col.clone(),
            ..ColumnNames::default()
        };
        read.rating_scale = self.rating_scale;
    }
}

/// Labels, filter and split choices.
#[derive(Debug, Args, Clone)]
pub struct DataArgs {
    #[command(flatten)]
    pub columns: ColumnArgs,
    /// Record labels: `rating` (FM regressor) or `binary` (1.0 if rating >= --positive-min, FM binary_classifier).
    #[arg(long, env = "FMPREP_LABEL", default_value = "rating")]
    pub label: LabelKind,
    /// With --label binary: the smallest rating that is a positive.
    #[arg(long, env = "FMPREP_POSITIVE_MIN", default_value_t = 4.0)]
    pub positive_min: f32,
    /// Repeat the long-tail rule on de-duplicated rows until every customer and product meets it.
    #[arg(long, env = "FMPREP_K_CORE", value_parser = clap::builder::BoolishValueParser::new())]
    pub k_core: bool,
    /// `random` (seeded row shuffle, cut by --split), `holdout-last` (each customer's latest row
    /// to test) or `by-customer` (whole customers per split, cut by --split).
    #[arg(long, env = "FMPREP_SPLIT_MODE", default_value = "random")]
    pub split_mode: SplitMode,
    /// With --split-mode holdout-last: each customer's next latest row goes to validate.
    #[arg(long, env = "FMPREP_HOLDOUT_VALIDATE", value_parser = clap::builder::BoolishValueParser::new())]
    pub holdout_validate: bool,
    /// Shuffle generator: `fmprep`, `numpy` to reproduce numpy's RandomState(seed).permutation
    /// (pandas' sample(frac=1, random_state=seed)) for a migration check, or `hash`: rows ordered
    /// by a keyed hash of (seed, customer_id, product_id), the split the Spark job computes
    /// (docs/spark.md).
    #[arg(long, env = "FMPREP_SHUFFLE", default_value = "fmprep")]
    pub shuffle: Shuffle,
}

impl DataArgs {
    /// Apply to pipeline options.
    pub fn apply(&self, o: &mut Options) {
        self.columns.apply(&mut o.read);
        o.label = LabelOptions {
            kind: self.label,
            positive_min: self.positive_min,
        };
        o.k_core = self.k_core;
        o.split_mode = self.split_mode;
        o.holdout_validate = self.holdout_validate;
        o.shuffle = self.shuffle;
    }
}
