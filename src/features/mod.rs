//! Side features: categorical and numeric columns beside the customer and product one-hot
//! blocks, from the input itself or from side tables keyed by customer or product id.
//!
//! The feature vector is a sequence of blocks, in this order:
//!
//! | block | size | value |
//! |---|---|---|
//! | customers | `n_customers` | 1.0 at the customer's index |
//! | products | `n_products` | 1.0 at the product's index |
//! | one per `--categorical` column, in the order given | distinct kept values (+1 for `__other__`) | 1.0 at the value's index |
//! | one per `--numeric` column, in the order given | 1 | the transformed value (absent when 0) |
//!
//! Every block starts where the previous one ends ([`layout::Block::offset`]), so the keys of a
//! record are ascending by construction. Categorical values are indexed like the ids: descending
//! count on the kept (de-duplicated) rows, ties by first appearance; values seen fewer than
//! `--min-category-count` times share one `__other__` slot at the end of their block, present only
//! when something was folded. Numeric values are computed in `f64` and stored as `f32`; a value
//! that is 0 as `f32` is not stored, as a scipy CSR matrix would not store it. `standardize` uses
//! the mean and population standard deviation of the train split only (so nothing leaks from
//! validate and test), kept in the manifest for inference.
//!
//! Modules: [`columns`] (the raw per-row values the reader and the side tables capture),
//! [`side`] (side tables: TSV, CSV or Parquet keyed by id), [`layout`] (fitting the blocks and
//! encoding rows), [`maps`] (the category map files and the layout read back for inference).

pub mod cardinality;
pub mod columns;
pub mod gather;
pub mod layout;
pub mod maps;
pub mod side;
pub mod tables;

use serde::{Serialize, Serializer};

use crate::error::{Error, Result};

/// The name of the slot that collects rare categorical values.
pub const OTHER: &str = "__other__";

/// Where a feature column lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// A column of the ratings input.
    Input,
    /// A column of the customer side table (`customer.COL`).
    Customer,
    /// A column of the product side table (`product.COL`).
    Product,
}

/// A feature column as named on the command line: `COL`, `customer.COL` or `product.COL`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ColumnRef {
    /// Which table holds it.
    pub origin: Origin,
    /// The column name in that table's header.
    pub name: String,
}

impl ColumnRef {
    /// Parse `COL`, `customer.COL` or `product.COL`.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        let (origin, name) = if let Some(n) = s.strip_prefix("customer.") {
            (Origin::Customer, n)
        } else if let Some(n) = s.strip_prefix("product.") {
            (Origin::Product, n)
        } else {
            (Origin::Input, s)
        };
        if name.is_empty() {
            return Err(format!("empty column name in {s:?}"));
        }
        Ok(ColumnRef {
            origin,
            name: name.to_string(),
        })
    }
}

impl std::fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.origin {
            Origin::Input => write!(f, "{}", self.name),
            Origin::Customer => write!(f, "customer.{}", self.name),
            Origin::Product => write!(f, "product.{}", self.name),
        }
    }
}

impl Serialize for ColumnRef {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How a numeric column becomes a feature value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transform {
    /// The value as it is.
    #[default]
    Raw,
    /// `ln(1 + value)`; values must be above -1.
    Log1p,
    /// `(value - mean) / std` with the train split's mean and population standard deviation
    /// (`value - mean` when the deviation is 0).
    Standardize,
}

impl std::str::FromStr for Transform {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "raw" => Ok(Transform::Raw),
            "log1p" => Ok(Transform::Log1p),
            "standardize" | "std" => Ok(Transform::Standardize),
            _ => Err(format!("invalid transform {s:?}: use raw, log1p or standardize")),
        }
    }
}

impl Transform {
    /// Whether `v` is in the domain of the transform (finite, and above -1 for `log1p`).
    #[inline]
    pub fn accepts(self, v: f64) -> bool {
        v.is_finite() && (self != Transform::Log1p || v > -1.0)
    }

    /// The transformed value; `stats` are (mean, std) for [`Transform::Standardize`].
    #[inline]
    pub fn apply(self, v: f64, stats: (f64, f64)) -> f64 {
        match self {
            Transform::Raw => v,
            Transform::Log1p => v.ln_1p(),
            Transform::Standardize => {
                let (mean, std) = stats;
                if std > 0.0 {
                    (v - mean) / std
                } else {
                    v - mean
                }
            }
        }
    }
}

/// One `--numeric` column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NumericSpec {
    /// The column.
    pub column: ColumnRef,
    /// Its transform.
    pub transform: Transform,
}

impl std::str::FromStr for NumericSpec {
    type Err = String;

    /// `COL` or `COL:TRANSFORM`.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let (col, transform) = match s.rsplit_once(':') {
            Some((c, t)) => (c, t.trim().parse()?),
            None => (s, Transform::Raw),
        };
        Ok(NumericSpec {
            column: ColumnRef::parse(col)?,
            transform,
        })
    }
}

/// The side features of a run. Empty (the default) means the customer and product blocks only,
/// byte for byte today's output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureOptions {
    /// One-hot blocks, in this order after the product block.
    pub categorical: Vec<ColumnRef>,
    /// One key each, in this order after the categorical blocks.
    pub numeric: Vec<NumericSpec>,
    /// Categorical values with fewer kept rows fold into `__other__`.
    pub min_category_count: u32,
    /// Side table keyed by customer id (TSV, CSV or Parquet, local or s3://).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_table: Option<String>,
    /// Side table keyed by product id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_table: Option<String>,
}

impl Default for FeatureOptions {
    fn default() -> Self {
        FeatureOptions {
            categorical: Vec::new(),
            numeric: Vec::new(),
            min_category_count: 1,
            customer_table: None,
            product_table: None,
        }
    }
}

impl FeatureOptions {
    /// Whether no side feature is asked for.
    pub fn is_empty(&self) -> bool {
        self.categorical.is_empty() && self.numeric.is_empty()
    }

    /// Every feature column, categorical first, each with its transform (`None` = categorical).
    pub fn all_columns(&self) -> impl Iterator<Item = (&ColumnRef, Option<Transform>)> {
        self.categorical
            .iter()
            .map(|c| (c, None))
            .chain(self.numeric.iter().map(|n| (&n.column, Some(n.transform))))
    }

    /// The columns to capture from the ratings input, in block order.
    pub fn input_columns(&self) -> Vec<columns::ExtraColumn> {
        self.all_columns()
            .filter(|(c, _)| c.origin == Origin::Input)
            .map(|(c, t)| columns::ExtraColumn {
                name: c.name.clone(),
                numeric: t,
            })
            .collect()
    }

    /// The columns to read from the side table of `origin`, in block order.
    pub fn table_columns(&self, origin: Origin) -> Vec<columns::ExtraColumn> {
        self.all_columns()
            .filter(|(c, _)| c.origin == origin)
            .map(|(c, t)| columns::ExtraColumn {
                name: c.name.clone(),
                numeric: t,
            })
            .collect()
    }

    /// Check the combination: no column twice, a side table for every `customer.`/`product.`
    /// column, `--min-category-count` at least 1.
    pub fn validate(&self) -> Result<()> {
        if self.min_category_count == 0 {
            return Err(Error::usage("--min-category-count must be at least 1"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (c, _) in self.all_columns() {
            if !seen.insert(c.to_string()) {
                return Err(Error::usage(format!(
                    "column {c} is named twice in --categorical/--numeric; give each column once"
                )));
            }
            let (needs, flag) = match c.origin {
                Origin::Input => continue,
                Origin::Customer => (&self.customer_table, "--customer-features"),
                Origin::Product => (&self.product_table, "--product-features"),
            };
            if needs.is_none() {
                return Err(Error::usage(format!(
                    "column {c} names a side table: give it with {flag} FILE"
                )));
            }
        }
        Ok(())
    }
}

/// Parse a comma-separated `--categorical` list.
pub fn parse_categorical(s: &str) -> std::result::Result<Vec<ColumnRef>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(ColumnRef::parse)
        .collect()
}

/// Parse a comma-separated `--numeric` list of `COL[:TRANSFORM]`.
pub fn parse_numeric(s: &str) -> std::result::Result<Vec<NumericSpec>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(str::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let n = parse_numeric("helpful_votes:log1p, product.price:standardize,total_votes").unwrap();
        assert_eq!(n[0].transform, Transform::Log1p);
        assert_eq!(n[1].column.origin, Origin::Product);
        assert_eq!(n[1].column.to_string(), "product.price");
        assert_eq!(n[2].transform, Transform::Raw);
        assert!(parse_numeric("x:cube").unwrap_err().contains("invalid transform"));
        let c = parse_categorical("vine,customer.segment").unwrap();
        assert_eq!(c[1].origin, Origin::Customer);
        assert!(parse_categorical("customer.").is_err());
    }

    #[test]
    fn validation_names_the_problem() {
        let mut o = FeatureOptions {
            categorical: parse_categorical("vine,customer.segment").unwrap(),
            ..Default::default()
        };
        assert!(o
            .validate()
            .unwrap_err()
            .message()
            .contains("--customer-features"));
        o.customer_table = Some("c.tsv".into());
        o.validate().unwrap();
        o.numeric = parse_numeric("vine").unwrap();
        assert!(o.validate().unwrap_err().message().contains("named twice"));
    }

    #[test]
    fn transforms() {
        assert_eq!(Transform::Log1p.apply(0.0, (0.0, 0.0)), 0.0);
        assert!(!Transform::Log1p.accepts(-1.0));
        assert!(Transform::Raw.accepts(-1.0));
        assert!(!Transform::Raw.accepts(f64::NAN));
        assert_eq!(Transform::Standardize.apply(3.0, (1.0, 2.0)), 1.0);
        assert_eq!(Transform::Standardize.apply(3.0, (1.0, 0.0)), 2.0);
    }
}
