//! What every ratings reader is told: [`ReadOptions`] (delimiter and line limits for text, the
//! column names, the rating scale, whether times are read, the bad-line limit) and
//! [`ColumnNames`]. The TSV reader uses all of it; the Arrow and Parquet readers the parts that
//! apply to typed columns.

use serde::{Deserialize, Serialize};

use crate::model::{BadLineLimit, RatingScale};

/// Names of the columns the pipeline reads, looked up in the header line (or the schema).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnNames {
    /// The customer (user) id column.
    pub customer: String,
    /// The product (item) id column.
    pub product: String,
    /// The 1..5 star rating column.
    pub rating: String,
    /// The product title column; optional, titles are empty when absent from the header.
    pub title: String,
    /// The time column (`YYYY-MM-DD` or Unix seconds), read only when [`ReadOptions::read_times`].
    pub time: String,
}

impl Default for ColumnNames {
    fn default() -> Self {
        ColumnNames {
            customer: "customer_id".into(),
            product: "product_id".into(),
            rating: "star_rating".into(),
            title: "product_title".into(),
            time: "review_date".into(),
        }
    }
}

/// Options of the ratings readers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadOptions {
    /// Field separator byte (tab for the reviews dataset); text input only.
    pub delimiter: u8,
    /// When skipped lines become an error.
    pub max_bad_lines: BadLineLimit,
    /// Lines longer than this are skipped as `line_too_long` without being buffered whole; text
    /// input only.
    pub max_line_bytes: usize,
    /// Size of the chunks handed to parse jobs; text input only.
    pub chunk_bytes: usize,
    /// Column names to look up in the header.
    pub columns: ColumnNames,
    /// How many bad lines are kept as examples (with line numbers) for reporting.
    pub bad_line_examples: usize,
    /// Which rating values are valid.
    pub rating_scale: RatingScale,
    /// Read the time column (required then) into [`Ratings::times`](crate::model::Ratings::times);
    /// off by default so the hot path and the memory stay as small as they are without it.
    pub read_times: bool,
    /// Feature columns to capture per valid row into
    /// [`Ratings::side`](crate::model::Ratings::side) (required then); empty by default, and then
    /// the parse loop does not look at any other column.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_columns: Vec<crate::features::columns::ExtraColumn>,
    /// Reading stops with [`ErrorKind::Interrupted`](crate::ErrorKind::Interrupted) at the next
    /// chunk or batch once this token is set (never, by default).
    #[serde(skip)]
    pub cancel: crate::cancel::Cancel,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            delimiter: b'\t',
            max_bad_lines: BadLineLimit::default(),
            max_line_bytes: 16 << 20,
            chunk_bytes: 2 << 20,
            columns: ColumnNames::default(),
            bad_line_examples: 5,
            rating_scale: RatingScale::Stars,
            read_times: false,
            extra_columns: Vec::new(),
            cancel: crate::cancel::Cancel::default(),
        }
    }
}

impl ReadOptions {
    /// A [`RatingsBuilder`](crate::model::RatingsBuilder) for the input `name` with these
    /// options' limit, examples and times.
    pub fn builder(&self, name: impl Into<String>) -> crate::model::RatingsBuilder {
        crate::model::RatingsBuilder::new(name, self.max_bad_lines, self.bad_line_examples)
            .with_times(self.read_times)
            .with_side(&self.extra_columns)
    }
}
