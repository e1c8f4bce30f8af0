//! The taxonomy of skipped input rows: why a line (or a Parquet/Arrow row) was skipped
//! ([`BadKind`]), how many of each kind ([`BadLineCounts`]), the first few as examples
//! ([`BadLine`]), how many may be skipped before a run fails ([`BadLineLimit`]), and the read
//! stage's counters ([`ReadStats`]). Every reader reports through these types, via
//! [`RatingsBuilder`](super::RatingsBuilder).

use serde::{Deserialize, Serialize};

/// How many bad lines may be skipped before the run fails.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BadLineLimit {
    /// At most this many bad lines.
    Count(u64),
    /// At most this share of the data lines (0.0..=1.0).
    Fraction(f64),
}

impl Default for BadLineLimit {
    /// 1% of the lines: far above the handful of broken lines real exports have, far below what a
    /// wrong delimiter or a wrong file produces.
    fn default() -> Self {
        BadLineLimit::Fraction(0.01)
    }
}

impl std::str::FromStr for BadLineLimit {
    type Err = String;

    /// `100` is a count; `0.01` or `1%` a fraction of the data lines.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let s = s.trim();
        let bad =
            || format!("invalid bad-line limit {s:?}: use a count like 100 or a fraction like 0.01 or 1%");
        if let Some(p) = s.strip_suffix('%') {
            let v: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(0.0..=100.0).contains(&v) {
                return Err(bad());
            }
            return Ok(BadLineLimit::Fraction(v / 100.0));
        }
        if let Ok(n) = s.parse::<u64>() {
            return Ok(BadLineLimit::Count(n));
        }
        let v: f64 = s.parse().map_err(|_| bad())?;
        if !(0.0..=1.0).contains(&v) {
            return Err(bad());
        }
        Ok(BadLineLimit::Fraction(v))
    }
}

impl std::fmt::Display for BadLineLimit {
    /// As the too-many-bad-lines message names it: `5 lines` or `1% of lines`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadLineLimit::Count(n) => write!(f, "{n} lines"),
            BadLineLimit::Fraction(x) => write!(f, "{}% of lines", x * 100.0),
        }
    }
}

impl BadLineLimit {
    /// Whether `bad` skipped lines out of `lines` data lines are within the limit.
    pub fn allows(self, bad: u64, lines: u64) -> bool {
        match self {
            BadLineLimit::Count(n) => bad <= n,
            BadLineLimit::Fraction(f) => (bad as f64) <= f * lines as f64,
        }
    }
}

/// Why a line was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BadKind {
    /// The number of fields differs from the header's.
    FieldCount,
    /// The customer id is empty.
    EmptyCustomerId,
    /// The product id is empty.
    EmptyProductId,
    /// The star rating is not exactly one of `1`..`5`.
    BadStarRating,
    /// An id column is not valid UTF-8.
    InvalidUtf8Id,
    /// The line is longer than the configured limit.
    LineTooLong,
    /// The time column is not a `YYYY-MM-DD` date (1970..2106) or Unix seconds (only checked when
    /// times are read).
    BadTime,
    /// A numeric feature column (`--numeric`) is missing, not a number, or outside its
    /// transform's domain.
    BadNumber,
}

impl BadKind {
    /// The kind in words, as reports print it.
    pub fn describe(self) -> &'static str {
        match self {
            BadKind::FieldCount => "wrong number of fields",
            BadKind::EmptyCustomerId => "empty customer id",
            BadKind::EmptyProductId => "empty product id",
            BadKind::BadStarRating => "star rating is not an integer 1..5",
            BadKind::InvalidUtf8Id => "id is not valid UTF-8",
            BadKind::LineTooLong => "line longer than --max-line-bytes",
            BadKind::BadTime => "time is not YYYY-MM-DD or Unix seconds",
            BadKind::BadNumber => "numeric feature is not a number",
        }
    }
}

/// Skipped lines per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadLineCounts {
    /// Lines whose field count differs from the header's.
    pub field_count: u64,
    /// Lines with an empty customer id.
    pub empty_customer_id: u64,
    /// Lines with an empty product id.
    pub empty_product_id: u64,
    /// Lines whose rating is not `1`..`5`.
    pub bad_star_rating: u64,
    /// Lines whose customer or product id is not UTF-8.
    pub invalid_utf8_id: u64,
    /// Lines over the length limit.
    pub line_too_long: u64,
    /// Lines whose time column does not parse (only when times are read; omitted when zero).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bad_time: u64,
    /// Lines whose numeric feature column does not parse (only with `--numeric`; omitted when
    /// zero).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bad_number: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl BadLineCounts {
    /// Count one line of `kind`.
    #[inline]
    pub fn add(&mut self, kind: BadKind) {
        *self.slot(kind) += 1;
    }

    fn slot(&mut self, kind: BadKind) -> &mut u64 {
        match kind {
            BadKind::FieldCount => &mut self.field_count,
            BadKind::EmptyCustomerId => &mut self.empty_customer_id,
            BadKind::EmptyProductId => &mut self.empty_product_id,
            BadKind::BadStarRating => &mut self.bad_star_rating,
            BadKind::InvalidUtf8Id => &mut self.invalid_utf8_id,
            BadKind::LineTooLong => &mut self.line_too_long,
            BadKind::BadTime => &mut self.bad_time,
            BadKind::BadNumber => &mut self.bad_number,
        }
    }

    /// Add the counts of `other` (e.g. of a chunk parsed on another thread).
    pub fn merge(&mut self, other: &BadLineCounts) {
        self.field_count += other.field_count;
        self.empty_customer_id += other.empty_customer_id;
        self.empty_product_id += other.empty_product_id;
        self.bad_star_rating += other.bad_star_rating;
        self.invalid_utf8_id += other.invalid_utf8_id;
        self.line_too_long += other.line_too_long;
        self.bad_time += other.bad_time;
        self.bad_number += other.bad_number;
    }

    /// All skipped lines.
    pub fn total(&self) -> u64 {
        self.field_count
            + self.empty_customer_id
            + self.empty_product_id
            + self.bad_star_rating
            + self.invalid_utf8_id
            + self.line_too_long
            + self.bad_time
            + self.bad_number
    }
}

/// One skipped line, kept as an example for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadLine {
    /// 1-based line number in the decompressed input (the header is line 1); for Parquet and
    /// Arrow input the 1-based row position over the whole input.
    pub line: u64,
    /// Why it was skipped.
    pub kind: BadKind,
    /// A short excerpt of the offending part.
    pub detail: String,
    /// The file the line is in, when the input is several files (the line number counts within
    /// it); absent for a single input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file} ")?;
        }
        write!(
            f,
            "line {}: {} ({})",
            self.line,
            self.kind.describe(),
            self.detail
        )
    }
}

/// Counters of the read stage.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReadStats {
    /// Data lines seen (the header excluded, blank lines included).
    pub input_lines: u64,
    /// Blank lines, ignored.
    pub blank_lines: u64,
    /// Skipped lines per kind.
    pub bad_lines: BadLineCounts,
    /// Lines that became ratings.
    pub valid: u64,
    /// Decompressed bytes of the data lines (the header excluded; 0 for Parquet and Arrow input).
    pub bytes: u64,
    /// The first few skipped lines.
    #[serde(skip)]
    pub examples: Vec<BadLine>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_line_limit_parses() {
        assert_eq!("100".parse::<BadLineLimit>().unwrap(), BadLineLimit::Count(100));
        assert_eq!(
            "0.5".parse::<BadLineLimit>().unwrap(),
            BadLineLimit::Fraction(0.5)
        );
        assert_eq!(
            "2%".parse::<BadLineLimit>().unwrap(),
            BadLineLimit::Fraction(0.02)
        );
        assert!("1.5".parse::<BadLineLimit>().is_err());
        assert!("-1".parse::<BadLineLimit>().is_err());
        assert_eq!(BadLineLimit::Count(5).to_string(), "5 lines");
        assert_eq!(BadLineLimit::Fraction(0.01).to_string(), "1% of lines");
    }

    #[test]
    fn counts_round_trip_through_json() {
        let mut c = BadLineCounts::default();
        c.add(BadKind::FieldCount);
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("bad_time"), "{json}");
        assert_eq!(serde_json::from_str::<BadLineCounts>(&json).unwrap(), c);
    }
}
