//! Side-feature flags of `run` and `preprocess`: categorical and numeric columns, side tables.

use crate::features::{self, ColumnRef, FeatureOptions, NumericSpec};
use clap::Args;

/// A parsed `--categorical` list (one flag value, several columns).
#[derive(Debug, Clone, Default)]
pub struct Columns(pub Vec<ColumnRef>);

/// A parsed `--numeric` list.
#[derive(Debug, Clone, Default)]
pub struct Numerics(pub Vec<NumericSpec>);

/// Feature columns beyond the customer and product one-hot blocks.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Side features")]
pub struct FeatureArgs {
    /// Columns to one-hot encode, one block each after the product block, in this order:
    /// `COL` of the input, `customer.COL` / `product.COL` of a side table.
    #[arg(long, env = "FMPREP_CATEGORICAL", value_name = "COL[,COL...]", value_parser = |s: &str| features::parse_categorical(s).map(Columns))]
    pub categorical: Option<Columns>,
    /// Numeric columns, one key each after the categorical blocks: `COL[:raw|log1p|standardize]`
    /// (standardize with the train split's mean and deviation).
    #[arg(long, env = "FMPREP_NUMERIC", value_name = "COL[:TRANSFORM][,...]", value_parser = |s: &str| features::parse_numeric(s).map(Numerics))]
    pub numeric: Option<Numerics>,
    /// Categorical values with fewer kept rows than this share one `__other__` slot per block.
    #[arg(
        long,
        env = "FMPREP_MIN_CATEGORY_COUNT",
        default_value_t = 1,
        value_name = "N"
    )]
    pub min_category_count: u32,
    /// Table of per-customer columns keyed by the customer id column (TSV, CSV or Parquet; local or s3://).
    #[arg(long, env = "FMPREP_CUSTOMER_FEATURES", value_name = "FILE")]
    pub customer_features: Option<String>,
    /// Table of per-product columns keyed by the product id column.
    #[arg(long, env = "FMPREP_PRODUCT_FEATURES", value_name = "FILE")]
    pub product_features: Option<String>,
}

impl FeatureArgs {
    /// The library options.
    pub fn options(&self) -> FeatureOptions {
        FeatureOptions {
            categorical: self.categorical.clone().map(|c| c.0).unwrap_or_default(),
            numeric: self.numeric.clone().map(|n| n.0).unwrap_or_default(),
            min_category_count: self.min_category_count,
            customer_table: self.customer_features.clone(),
            product_table: self.product_features.clone(),
        }
    }
}
