//! Streaming, parallel parsing of the reviews TSV into interned ratings.
//!
//! Three kinds of thread cooperate, so that decompression, parsing and interning overlap:
//!
//! 1. one **reader** thread pulls decompressed bytes into fixed-size chunks that end on a line
//!    boundary (a partial last line is carried into the next chunk);
//! 2. **parse** jobs on the rayon pool split each chunk into lines and fields with SIMD byte
//!    search, validate them, and hash the id fields;
//! 3. the calling thread **merges** parsed chunks strictly in input order, interning ids into
//!    dense codes. Order-dependent facts (codes by first appearance, bad-line numbers, the first
//!    title of a product) are therefore identical whatever the thread count or chunk size.
//!
//! Memory is bounded by a fixed pool of chunk buffers that circulates between the threads: the
//! reader blocks when all buffers are in flight. What grows is only the valid rows (8 bytes each)
//! and the distinct ids.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use memchr::memrchr;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::features::columns::{check_field, Column, ExtraColumn};
use crate::input::{read_error, read_error_at, Input};
use crate::keys::{ByteList, KeyRef, KeyTable, SmallKey};
use crate::progress::Progress;

/// How many bad lines may be skipped before the run fails.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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

impl BadLineLimit {
    fn allows(self, bad: u64, lines: u64) -> bool {
        match self {
            BadLineLimit::Count(n) => bad <= n,
            BadLineLimit::Fraction(f) => (bad as f64) <= f * lines as f64,
        }
    }
}

/// Names of the columns the pipeline reads, looked up in the header line.
#[derive(Debug, Clone, Serialize)]
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

/// Options of the TSV reader.
#[derive(Debug, Clone, Serialize)]
pub struct ReadOptions {
    /// Field separator byte (tab for the reviews dataset).
    pub delimiter: u8,
    /// When skipped lines become an error.
    pub max_bad_lines: BadLineLimit,
    /// Lines longer than this are skipped as `line_too_long` without being buffered whole.
    pub max_line_bytes: usize,
    /// Size of the chunks handed to parse jobs.
    pub chunk_bytes: usize,
    /// Column names to look up in the header.
    pub columns: ColumnNames,
    /// How many bad lines are kept as examples (with line numbers) for reporting.
    pub bad_line_examples: usize,
    /// Which rating values are valid.
    pub rating_scale: RatingScale,
    /// Read the time column (required then) into [`Ratings::times`]; off by default so the hot
    /// path and the memory stay as small as they are without it.
    pub read_times: bool,
    /// Feature columns to capture per valid row into [`Ratings::side`] (required then); empty by
    /// default, and then the parse loop does not look at any other column.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_columns: Vec<ExtraColumn>,
}

/// The rating values a reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RatingScale {
    /// Exactly one digit `1`..`5` (the reviews dataset's star ratings).
    #[default]
    Stars,
    /// `0.5`..`5.0` in steps of 0.5, written `4`, `4.0`, `4.5` or `.5` (MovieLens).
    HalfStars,
}

impl std::str::FromStr for RatingScale {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "stars" | "1-5" => Ok(RatingScale::Stars),
            "half-stars" | "0.5-5" => Ok(RatingScale::HalfStars),
            _ => Err(format!(
                "invalid rating scale {s:?}: use stars (1..5) or half-stars (0.5..5.0)"
            )),
        }
    }
}

impl RatingScale {
    /// The rating as half-steps (`2 * rating`, 1..=10), or `None` when not on this scale.
    #[inline]
    pub fn parse(self, field: &[u8]) -> Option<u8> {
        match (self, field) {
            (_, [b @ b'1'..=b'5']) => Some(2 * (b - b'0')),
            (RatingScale::Stars, _) => None,
            (RatingScale::HalfStars, _) => {
                let (int, frac) = match field.iter().position(|&b| b == b'.') {
                    Some(i) => (&field[..i], &field[i + 1..]),
                    None => (field, &b""[..]),
                };
                let whole = match int {
                    [] => 0,
                    [d @ b'0'..=b'5'] => d - b'0',
                    _ => return None,
                };
                let half = match frac {
                    [] => 0,
                    [b'0', rest @ ..] if rest.iter().all(|&b| b == b'0') => 0,
                    [b'5', rest @ ..] if rest.iter().all(|&b| b == b'0') => 1,
                    _ => return None,
                };
                if int.is_empty() && frac.is_empty() {
                    return None;
                }
                let h = 2 * whole + half;
                (1..=10).contains(&h).then_some(h)
            }
        }
    }
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
        }
    }
}

/// Why a line was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    fn describe(self) -> &'static str {
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
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
    #[serde(skip_serializing_if = "is_zero")]
    pub bad_time: u64,
    /// Lines whose numeric feature column does not parse (only with `--numeric`; omitted when
    /// zero).
    #[serde(skip_serializing_if = "is_zero")]
    pub bad_number: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl BadLineCounts {
    pub(crate) fn add(&mut self, kind: BadKind) {
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

    fn merge(&mut self, other: &BadLineCounts) {
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadLine {
    /// 1-based line number in the decompressed input (the header is line 1).
    pub line: u64,
    /// Why it was skipped.
    pub kind: BadKind,
    /// A short excerpt of the offending part.
    pub detail: String,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReadStats {
    /// Data lines seen (the header excluded, blank lines included).
    pub input_lines: u64,
    /// Blank lines, ignored.
    pub blank_lines: u64,
    /// Skipped lines per kind.
    pub bad_lines: BadLineCounts,
    /// Lines that became ratings.
    pub valid: u64,
    /// Decompressed bytes read, header included.
    pub bytes: u64,
    /// The first few skipped lines.
    #[serde(skip)]
    pub examples: Vec<BadLine>,
}

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
    /// UTC); empty unless [`ReadOptions::read_times`].
    pub times: Vec<u32>,
    /// Per [`ReadOptions::extra_columns`] entry, its value on every valid row (empty without
    /// them).
    pub side: Vec<Column>,
    /// Counters.
    pub stats: ReadStats,
}

impl Ratings {
    /// Build from in-memory `(customer_id, product_id, stars)` triples, e.g. for library users and
    /// tests. Triples with `stars` outside 1..=5 or empty ids are counted as bad and skipped.
    pub fn from_triples<'a, I>(triples: I) -> Self
    where
        I: IntoIterator<Item = (&'a str, &'a str, u8)>,
    {
        let mut r = Ratings::default();
        for (c, p, s) in triples {
            r.stats.input_lines += 1;
            let kind = if c.is_empty() {
                Some(BadKind::EmptyCustomerId)
            } else if p.is_empty() {
                Some(BadKind::EmptyProductId)
            } else if !(1..=5).contains(&s) {
                Some(BadKind::BadStarRating)
            } else {
                None
            };
            if let Some(kind) = kind {
                r.stats.bad_lines.add(kind);
                continue;
            }
            let cc = r.customers.intern(c.as_bytes());
            let (pc, new) = r.products.intern_ref(&KeyRef::new(p.as_bytes()));
            if new {
                r.titles.push(b"");
            }
            r.rows.push(Rating::new(cc, pc, s));
            r.stats.valid += 1;
        }
        r
    }
}

/// Where the needed columns sit in a line.
#[derive(Debug, Clone)]
struct Layout {
    fields: usize,
    /// Per column index: which role it plays (index into a row's spans), if any.
    role: Vec<Option<usize>>,
    /// Whether a title column exists.
    has_title: bool,
    /// Whether the time column is read (then it exists).
    has_time: bool,
    /// Valid rating values.
    scale: RatingScale,
    /// Field index of each extra column, in [`ReadOptions::extra_columns`] order.
    extra: Vec<usize>,
    extra_specs: Vec<ExtraColumn>,
}

const CUSTOMER: usize = 0;
const PRODUCT: usize = 1;
const RATING: usize = 2;
const TITLE: usize = 3;
const TIME: usize = 4;
/// Number of column roles: the spans of a line.
const ROLES: usize = 5;

fn parse_header(line: &[u8], opts: &ReadOptions, input: &str) -> Result<Layout> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let names: Vec<&[u8]> = line.split(|&b| b == opts.delimiter).collect();
    let mut role = vec![None; names.len()];
    let wanted = [
        (&opts.columns.customer, CUSTOMER, true),
        (&opts.columns.product, PRODUCT, true),
        (&opts.columns.rating, RATING, true),
        (&opts.columns.title, TITLE, false),
        (&opts.columns.time, TIME, opts.read_times),
    ];
    let mut missing = Vec::new();
    let mut has_title = false;
    for (name, slot, required) in wanted {
        if slot == TIME && !opts.read_times {
            continue;
        }
        let hits: Vec<usize> = names
            .iter()
            .enumerate()
            .filter(|(_, n)| **n == name.as_bytes())
            .map(|(i, _)| i)
            .collect();
        match hits.as_slice() {
            [i] => {
                role[*i] = Some(slot);
                has_title |= slot == TITLE;
            }
            [] if required => missing.push(name.as_str()),
            [] => {}
            _ => {
                return Err(Error::bad_input(format!(
                    "{input}: line 1: column {name:?} appears {} times in the header; column names must be unique",
                    hits.len()
                )))
            }
        }
    }
    let mut extra = Vec::new();
    for col in &opts.extra_columns {
        let hits: Vec<usize> = (0..names.len())
            .filter(|&i| names[i] == col.name.as_bytes())
            .collect();
        match hits.as_slice() {
            [i] => extra.push(*i),
            [] => missing.push(col.name.as_str()),
            _ => {
                return Err(Error::bad_input(format!(
                "{input}: line 1: column {:?} appears {} times in the header; column names must be unique",
                col.name,
                hits.len()
            )))
            }
        }
    }
    if !missing.is_empty() {
        // Escaped and cut short: the header of a wrong file may be binary garbage, and the message
        // must stay one readable line.
        let mut shown: Vec<String> = names.iter().take(20).map(|n| excerpt(n)).collect();
        if names.len() > 20 {
            shown.push(format!("… ({} columns)", names.len()));
        }
        let delim = match opts.delimiter {
            b'\t' => "tab".to_string(),
            d => format!("{:?}", d as char),
        };
        return Err(Error::bad_input(format!(
            "{input}: line 1: header has no column {} (delimiter {delim}; header columns: {}); \
             is this the reviews TSV with its header line, and is --delimiter right?",
            missing.join(", "),
            shown.join(", ")
        )));
    }
    Ok(Layout {
        fields: names.len(),
        role,
        has_title,
        has_time: opts.read_times,
        scale: opts.rating_scale,
        extra,
        extra_specs: opts.extra_columns.clone(),
    })
}

/// A row as found by a parse job: spans into the chunk plus the keys prepared for interning
/// (hash and packed form are computed here, in parallel, not in the serial merge).
struct ParsedRow {
    customer: (u32, u32),
    product: (u32, u32),
    title: (u32, u32),
    /// The rating in half-steps.
    stars: u8,
    /// Seconds since 1970; 0 when times are not read.
    time: u32,
    customer_hash: u64,
    product_hash: u64,
    customer_small: SmallKey,
    product_small: SmallKey,
}

/// The result of parsing one chunk.
struct ParsedChunk {
    data: Vec<u8>,
    lines: u64,
    blank: u64,
    rows: Vec<ParsedRow>,
    bad: BadLineCounts,
    /// (line index within the chunk, kind, detail) of the first few bad lines.
    examples: Vec<(u64, BadKind, String)>,
    /// The extra columns' spans, `layout.extra.len()` per row (empty without extra columns).
    extra: Vec<(u32, u32)>,
}

/// Append the spans of the extra columns of `line` (starting at `base` in the chunk) to `out`,
/// and check the numeric ones. Only called when extra columns are asked for, so the default
/// parse loop never pays for it.
fn capture_extra(
    line: &[u8],
    base: usize,
    delimiter: u8,
    layout: &Layout,
    out: &mut Vec<(u32, u32)>,
) -> std::result::Result<(), String> {
    let start = out.len();
    out.resize(start + layout.extra.len(), (0, 0));
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut field_start = 0usize;
    let ends = memchr::memchr_iter(delimiter, line).chain(std::iter::once(line.len()));
    for (i, end) in ends.enumerate() {
        for (k, &f) in layout.extra.iter().enumerate() {
            if f == i {
                out[start + k] = ((base + field_start) as u32, (base + end) as u32);
            }
        }
        field_start = end + 1;
    }
    for (k, spec) in layout.extra_specs.iter().enumerate() {
        let (a, b) = out[start + k];
        if let Some(why) = check_field(spec, &line[a as usize - base..b as usize - base]) {
            out.truncate(start);
            return Err(why);
        }
    }
    Ok(())
}

fn excerpt(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(40)];
    let mut s = String::from_utf8_lossy(cut).escape_debug().to_string();
    if bytes.len() > 40 {
        s.push('…');
    }
    s
}

fn is_utf8(bytes: &[u8]) -> bool {
    bytes.is_ascii() || std::str::from_utf8(bytes).is_ok()
}

/// Seconds since 1970-01-01 of a time field: `YYYY-MM-DD` (midnight UTC) or plain Unix seconds.
/// `None` for anything else, or outside 1970..=2106 (what a `u32` holds).
pub fn parse_time(field: &[u8]) -> Option<u32> {
    let digits = |b: &[u8]| -> Option<u64> {
        if b.is_empty() || b.len() > 19 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(b.iter().fold(0u64, |v, &d| v * 10 + (d - b'0') as u64))
    };
    if let Some(secs) = digits(field) {
        return u32::try_from(secs).ok();
    }
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *field else {
        return None;
    };
    let (y, m, d) = (
        digits(&[y0, y1, y2, y3])? as i64,
        digits(&[m0, m1])? as i64,
        digits(&[d0, d1])? as i64,
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > month_days[m as usize - 1] {
        return None;
    }
    // Days from the civil date (H. Hinnant's algorithm), proleptic Gregorian calendar.
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u32::try_from(days * 86_400).ok()
}

/// Validate one line's fields; returns the rating in half-steps and the time (0 unless read).
fn check_line(
    data: &[u8],
    line_len: usize,
    fields: usize,
    layout: &Layout,
    spans: &[(u32, u32); ROLES],
    max_line: usize,
) -> std::result::Result<(u8, u32), (BadKind, String)> {
    // The chunk reader skips a line over the limit only when it cannot find its end within its
    // buffer; one that arrived whole in a chunk is judged here, so the count does not depend on
    // where chunks happen to end.
    if line_len > max_line {
        // The same words as for a line skipped unread, which has no known length.
        return Err((BadKind::LineTooLong, format!("over {max_line} bytes")));
    }
    if fields != layout.fields {
        return Err((
            BadKind::FieldCount,
            format!("{fields} fields, header has {}", layout.fields),
        ));
    }
    let field = |role: usize| &data[spans[role].0 as usize..spans[role].1 as usize];
    let (customer, product, rating) = (field(CUSTOMER), field(PRODUCT), field(RATING));
    if customer.is_empty() {
        return Err((BadKind::EmptyCustomerId, String::new()));
    }
    if product.is_empty() {
        return Err((BadKind::EmptyProductId, String::new()));
    }
    if !is_utf8(customer) || !is_utf8(product) {
        return Err((
            BadKind::InvalidUtf8Id,
            excerpt(if is_utf8(customer) { product } else { customer }),
        ));
    }
    let Some(stars) = layout.scale.parse(rating) else {
        return Err((
            BadKind::BadStarRating,
            // `excerpt` escapes already; `{:?}` would escape the escapes.
            format!("star_rating \"{}\"", excerpt(rating)),
        ));
    };
    if !layout.has_time {
        return Ok((stars, 0));
    }
    let time = field(TIME);
    match parse_time(time) {
        Some(t) => Ok((stars, t)),
        None => Err((BadKind::BadTime, format!("time \"{}\"", excerpt(time)))),
    }
}

/// Bit masks of the separators in the first 64 bytes of `block`: bit i of the first mask is set
/// when byte i is the delimiter or a newline, of the second when it is a newline.
///
/// Fields are short and dense (14 tabs in ~360 bytes), so finding them with a byte-search call per
/// hit costs more than comparing whole 64-byte blocks at once and walking the set bits.
#[inline]
fn separator_masks(block: &[u8], delimiter: u8) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    if block.len() >= 64 {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86_64 baseline; the four 16-byte loads are within the 64
        // bytes checked above.
        unsafe {
            let d = _mm_set1_epi8(delimiter as i8);
            let n = _mm_set1_epi8(b'\n' as i8);
            let (mut any, mut nl) = (0u64, 0u64);
            for i in 0..4 {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * i) as *const __m128i);
                let is_nl = _mm_movemask_epi8(_mm_cmpeq_epi8(v, n)) as u16 as u64;
                let is_d = _mm_movemask_epi8(_mm_cmpeq_epi8(v, d)) as u16 as u64;
                any |= (is_nl | is_d) << (16 * i);
                nl |= is_nl << (16 * i);
            }
            return (any, nl);
        }
    }
    let (mut any, mut nl) = (0u64, 0u64);
    for (i, &b) in block.iter().take(64).enumerate() {
        if b == b'\n' {
            nl |= 1 << i;
            any |= 1 << i;
        } else if b == delimiter {
            any |= 1 << i;
        }
    }
    (any, nl)
}

fn parse_chunk(
    data: Vec<u8>,
    mut rows: Vec<ParsedRow>,
    layout: &Layout,
    delimiter: u8,
    max_line: usize,
    keep_examples: usize,
) -> ParsedChunk {
    rows.clear();
    let mut out = ParsedChunk {
        data: Vec::new(),
        lines: 0,
        blank: 0,
        rows,
        bad: BadLineCounts::default(),
        examples: Vec::new(),
        extra: Vec::new(),
    };
    let mut spans = [(0u32, 0u32); ROLES];
    let mut field = 0usize;
    let mut field_start = 0usize;
    let mut line_start = 0usize;
    let finish_line = |line_start: usize,
                       end: usize,
                       field: usize,
                       spans: &mut [(u32, u32); ROLES],
                       out: &mut ParsedChunk| {
        out.lines += 1;
        // A CRLF line: the '\r' belongs to the last field, whichever role it plays.
        if end > line_start && data[end - 1] == b'\r' {
            for s in spans.iter_mut() {
                if s.1 as usize == end {
                    s.1 -= 1;
                }
            }
            if end - 1 == line_start {
                out.blank += 1;
                return;
            }
        }
        if end == line_start {
            out.blank += 1;
            return;
        }
        let checked = check_line(&data, end - line_start, field, layout, spans, max_line).and_then(|ok| {
            if layout.extra.is_empty() {
                return Ok(ok);
            }
            capture_extra(
                &data[line_start..end],
                line_start,
                delimiter,
                layout,
                &mut out.extra,
            )
            .map(|()| ok)
            .map_err(|why| (BadKind::BadNumber, why))
        });
        match checked {
            Ok((stars, time)) => {
                let title = if layout.has_title { spans[TITLE] } else { (0, 0) };
                let key = |s: (u32, u32)| KeyRef::new(&data[s.0 as usize..s.1 as usize]);
                let (c, p) = (key(spans[CUSTOMER]), key(spans[PRODUCT]));
                out.rows.push(ParsedRow {
                    customer: spans[CUSTOMER],
                    product: spans[PRODUCT],
                    title,
                    stars,
                    time,
                    customer_hash: c.hash,
                    product_hash: p.hash,
                    customer_small: c.small,
                    product_small: p.small,
                });
            }
            Err((kind, detail)) => {
                out.bad.add(kind);
                if out.examples.len() < keep_examples {
                    out.examples.push((out.lines - 1, kind, detail));
                }
            }
        }
    };
    let mut base = 0usize;
    while base < data.len() {
        let (any, newlines) = separator_masks(&data[base..], delimiter);
        let mut m = any;
        while m != 0 {
            let bit = m.trailing_zeros();
            m &= m - 1;
            let pos = base + bit as usize;
            if let Some(Some(role)) = layout.role.get(field) {
                spans[*role] = (field_start as u32, pos as u32);
            }
            field += 1;
            field_start = pos + 1;
            if (newlines >> bit) & 1 != 0 {
                finish_line(line_start, pos, field, &mut spans, &mut out);
                field = 0;
                line_start = pos + 1;
            }
        }
        base += 64;
    }
    // The last line of the input may lack its newline.
    if line_start < data.len() {
        if let Some(Some(role)) = layout.role.get(field) {
            spans[*role] = (field_start as u32, data.len() as u32);
        }
        finish_line(line_start, data.len(), field + 1, &mut spans, &mut out);
    }
    out.data = data;
    out
}

/// Messages from the reader thread and parse jobs to the merging thread.
enum Msg {
    Parsed(u64, ParsedChunk),
    /// A line over the length limit was skipped at this position in the chunk sequence.
    LongLine(u64, Vec<u8>),
    /// Reading failed after the chunks before this position.
    ReadFailed(u64, std::io::Error),
    /// A parse job failed unexpectedly (a bug): the run stops instead of waiting for its chunk.
    Failed(Error),
    End(u64),
}

/// Reads chunks that end on line boundaries, with a bounded buffer pool.
struct ChunkReader {
    input: Input,
    carry: Vec<u8>,
    eof: bool,
    bytes: u64,
    /// A read error held back while the complete lines read before it are handed out, so that
    /// the error can be reported with the number of the last good line.
    failed: Option<std::io::Error>,
}

enum Next {
    Chunk(Vec<u8>),
    LongLine(Vec<u8>),
    Done,
}

impl ChunkReader {
    /// Read up to `want` more bytes into `buf`. Errors are returned raw: the merging thread knows
    /// the line number to report them with.
    fn read_some(&mut self, buf: &mut Vec<u8>, want: usize) -> std::io::Result<usize> {
        let old = buf.len();
        buf.resize(old + want, 0);
        // Fill all of `want`: a pipe hands out 64 KiB per read, and zeroing `want` bytes for each
        // of those would cost more than the data.
        let mut filled = old;
        let result = loop {
            if filled == buf.len() {
                break Ok(());
            }
            match self.input.reader.read(&mut buf[filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break Ok(());
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted && !crate::interrupt::requested() => {}
                // What was read before the error stays in `buf`.
                Err(e) => break Err(e),
            }
        };
        buf.truncate(filled);
        self.bytes += (filled - old) as u64;
        result.map(|()| filled - old)
    }

    /// Fill `buf` with the next run of whole lines (at least `chunk_bytes` unless the input ends).
    fn next(&mut self, mut buf: Vec<u8>, chunk_bytes: usize, max_line: usize) -> std::io::Result<Next> {
        if buf.capacity() > 2 * chunk_bytes {
            // A long line grew this buffer; do not keep the memory around.
            buf = Vec::with_capacity(chunk_bytes + (64 << 10));
        }
        buf.clear();
        buf.append(&mut self.carry);
        if let Some(e) = self.failed.take() {
            return self.fail_after_whole_lines(buf, e);
        }
        loop {
            if crate::interrupt::requested() {
                return Err(crate::interrupt::io_error());
            }
            if !self.eof && buf.len() < chunk_bytes {
                let want = (chunk_bytes - buf.len()).max(64 << 10);
                if let Err(e) = self.read_some(&mut buf, want) {
                    return self.fail_after_whole_lines(buf, e);
                }
                continue;
            }
            if self.eof {
                return Ok(if buf.is_empty() {
                    Next::Done
                } else {
                    Next::Chunk(buf)
                });
            }
            if let Some(i) = memrchr(b'\n', &buf) {
                self.carry.extend_from_slice(&buf[i + 1..]);
                buf.truncate(i + 1);
                return Ok(Next::Chunk(buf));
            }
            // One line fills the whole buffer: past the limit, skip it without buffering it whole.
            if buf.len() > max_line {
                self.skip_to_newline(&mut buf)?;
                return Ok(Next::LongLine(buf));
            }
            let grow = buf.len().max(64 << 10);
            if let Err(e) = self.read_some(&mut buf, grow) {
                return self.fail_after_whole_lines(buf, e);
            }
        }
    }

    /// On a read error, hand out the complete lines of `buf` first and the error on the next call.
    fn fail_after_whole_lines(&mut self, mut buf: Vec<u8>, e: std::io::Error) -> std::io::Result<Next> {
        match memrchr(b'\n', &buf) {
            Some(i) if !crate::interrupt::requested() => {
                buf.truncate(i + 1);
                self.carry.clear();
                self.failed = Some(e);
                Ok(Next::Chunk(buf))
            }
            _ => Err(e),
        }
    }

    fn skip_to_newline(&mut self, buf: &mut Vec<u8>) -> std::io::Result<()> {
        loop {
            if crate::interrupt::requested() {
                return Err(crate::interrupt::io_error());
            }
            buf.clear();
            self.read_some(buf, 1 << 20)?;
            if let Some(i) = memchr::memchr(b'\n', buf) {
                self.carry.extend_from_slice(&buf[i + 1..]);
                return Ok(());
            }
            if self.eof {
                return Ok(());
            }
        }
    }
}

/// Parse a whole input: header first, then all data lines, in parallel on `pool`; parsed lines
/// are added to `progress` as they are merged.
///
/// Fails on a missing or duplicated required column, on a read or decompression error, and when
/// skipped lines exceed `opts.max_bad_lines`.
pub fn read_ratings(
    input: Input,
    opts: &ReadOptions,
    pool: &Arc<rayon::ThreadPool>,
    progress: Option<&Progress>,
) -> Result<Ratings> {
    if opts.delimiter == b'\n' || opts.delimiter == b'\r' {
        return Err(Error::usage("the delimiter cannot be a line break"));
    }
    let name = input.name.clone();
    let compression = input.compression;
    let mut reader = ChunkReader {
        input,
        carry: Vec::new(),
        eof: false,
        bytes: 0,
        failed: None,
    };
    // Header: read until the first newline (bounded by the line limit).
    let mut head = Vec::new();
    let header_end = loop {
        if let Some(i) = memchr::memchr(b'\n', &head) {
            break i;
        }
        if reader.eof {
            break head.len();
        }
        if head.len() > opts.max_line_bytes {
            return Err(Error::bad_input(format!(
                "{name}: line 1 (the header) is longer than {} bytes; this is not a reviews TSV",
                opts.max_line_bytes
            )));
        }
        if let Err(e) = reader.read_some(&mut head, 64 << 10) {
            // Complete lines before the error are parsed first, so that the error can name the
            // last good line.
            match memchr::memchr(b'\n', &head) {
                Some(i) if !crate::interrupt::requested() => {
                    reader.failed = Some(e);
                    break i;
                }
                _ => return Err(read_error(&name, compression, e)),
            }
        }
    };
    if head.is_empty() {
        return Err(Error::bad_input(format!(
            "{name}: the input is empty; expected a header line and review rows"
        )));
    }
    let layout = Arc::new(parse_header(&head[..header_end], opts, &name)?);
    if header_end < head.len() {
        reader.carry.extend_from_slice(&head[header_end + 1..]);
    }

    let mut ratings = Ratings::default();
    if let Some(size) = reader.input.raw_size {
        // Reserve for the rows a file of this size can hold (gzip text shrinks ~3x; lines are
        // ~300+ bytes) so the largest vector does not grow by copying. Untouched capacity costs
        // no memory.
        let text = if reader.input.compression == crate::input::Compression::Gzip {
            size * 4
        } else {
            size
        };
        ratings.rows.reserve((text / 256).min(1 << 31) as usize);
    }
    ratings.side = opts.extra_columns.iter().cloned().map(Column::new).collect();
    let mut merger = Merger {
        ratings,
        line_base: 1,
        name: &name,
        opts,
        progress,
    };
    if pool.current_num_threads() == 1 {
        // One thread asked for: read, parse and merge on this thread, no helpers.
        let mut buf = Vec::with_capacity(opts.chunk_bytes + (64 << 10));
        let mut rows = Vec::new();
        loop {
            let next = reader
                .next(buf, opts.chunk_bytes, opts.max_line_bytes)
                .map_err(|e| read_error_at(&name, compression, e, Some(merger.line_base)))?;
            match next {
                Next::Chunk(data) => {
                    let chunk = parse_chunk(
                        data,
                        rows,
                        &layout,
                        opts.delimiter,
                        opts.max_line_bytes,
                        opts.bad_line_examples,
                    );
                    merger.chunk(&chunk)?;
                    (buf, rows) = (chunk.data, chunk.rows);
                }
                Next::LongLine(b) => {
                    merger.long_line()?;
                    buf = b;
                }
                Next::Done => break,
            }
        }
        return merger.finish();
    }

    let in_flight = pool.current_num_threads() * 2 + 2;
    let (free_tx, free_rx) = bounded::<Vec<u8>>(in_flight);
    for _ in 0..in_flight {
        free_tx
            .send(Vec::with_capacity(opts.chunk_bytes + (64 << 10)))
            .expect("fresh channel");
    }
    let (msg_tx, msg_rx) = unbounded::<Msg>();
    let spare: SpareRows = Arc::default();
    spawn_reader(
        reader,
        free_rx,
        Arc::clone(&spare),
        msg_tx,
        Arc::clone(pool),
        layout,
        opts.clone(),
    );

    let mut next_seq = 0u64;
    let mut end = None;
    let mut failure = None;
    let mut pending = BTreeMap::new();
    while end.is_none_or(|e| next_seq < e) {
        match msg_rx.recv() {
            Ok(Msg::Parsed(seq, chunk)) => {
                pending.insert(seq, Some(chunk));
            }
            Ok(Msg::LongLine(seq, buf)) => {
                pending.insert(seq, None);
                let _ = free_tx.send(buf);
            }
            // Merge what came before the failure first, so the message can say where it happened.
            Ok(Msg::ReadFailed(n, err)) => {
                end = Some(n);
                failure = Some(err);
            }
            Ok(Msg::Failed(err)) => return Err(err),
            Ok(Msg::End(n)) => end = Some(n),
            Err(_) => {
                return Err(Error::new(
                    crate::ErrorKind::Internal,
                    "reader thread stopped unexpectedly",
                ))
            }
        }
        while let Some(item) = pending.remove(&next_seq) {
            match item {
                Some(chunk) => {
                    merger.chunk(&chunk)?;
                    let _ = free_tx.send(chunk.data);
                    if let Ok(mut v) = spare.lock() {
                        v.push(chunk.rows);
                    }
                }
                None => merger.long_line()?,
            }
            next_seq += 1;
        }
    }
    if let Some(err) = failure {
        return Err(read_error_at(&name, compression, err, Some(merger.line_base)));
    }
    merger.finish()
}

impl Ratings {
    /// Release memory only needed while ids were being added (the id lookup indexes).
    fn done_adding(mut self) -> Self {
        self.customers.freeze();
        self.products.freeze();
        self
    }
}

/// Folds parsed chunks, strictly in input order, into the ratings.
struct Merger<'a> {
    ratings: Ratings,
    /// Line number of the last line merged (the header is line 1).
    line_base: u64,
    name: &'a str,
    opts: &'a ReadOptions,
    progress: Option<&'a Progress>,
}

impl Merger<'_> {
    fn chunk(&mut self, chunk: &ParsedChunk) -> Result<()> {
        merge_chunk(&mut self.ratings, chunk, self.line_base, self.opts).map_err(|e| e.context(self.name))?;
        self.line_base += chunk.lines;
        if let Some(p) = self.progress {
            Progress::add(&p.lines, chunk.lines);
        }
        self.check_count_limit()
    }

    fn long_line(&mut self) -> Result<()> {
        self.line_base += 1;
        let stats = &mut self.ratings.stats;
        stats.input_lines += 1;
        stats.bad_lines.add(BadKind::LineTooLong);
        if stats.examples.len() < self.opts.bad_line_examples {
            stats.examples.push(BadLine {
                line: self.line_base,
                kind: BadKind::LineTooLong,
                detail: format!("over {} bytes", self.opts.max_line_bytes),
            });
        }
        self.check_count_limit()
    }

    /// A count limit can fail early; a fraction needs the final line count.
    fn check_count_limit(&self) -> Result<()> {
        match self.opts.max_bad_lines {
            BadLineLimit::Count(n) if self.ratings.stats.bad_lines.total() > n => Err(too_many_bad(
                self.name,
                &self.ratings.stats,
                self.opts.max_bad_lines,
            )),
            _ => Ok(()),
        }
    }

    fn finish(self) -> Result<Ratings> {
        let stats = &self.ratings.stats;
        if !self
            .opts
            .max_bad_lines
            .allows(stats.bad_lines.total(), stats.input_lines)
        {
            return Err(too_many_bad(self.name, stats, self.opts.max_bad_lines));
        }
        Ok(self.ratings.done_adding())
    }
}

fn too_many_bad(name: &str, stats: &ReadStats, limit: BadLineLimit) -> Error {
    let first = stats
        .examples
        .first()
        .map(|b| format!("; first: {b}"))
        .unwrap_or_default();
    let limit = match limit {
        BadLineLimit::Count(n) => format!("{n} lines"),
        BadLineLimit::Fraction(f) => format!("{}% of lines", f * 100.0),
    };
    Error::bad_input(format!(
        "{name}: {} malformed lines out of {} exceed --max-bad-lines ({limit}){first}; check the \
         delimiter and the file, or raise --max-bad-lines",
        stats.bad_lines.total(),
        stats.input_lines
    ))
}

/// Row vectors handed back by the merger for reuse, so parse jobs do not allocate (and fault in)
/// fresh memory for every chunk.
type SpareRows = Arc<std::sync::Mutex<Vec<Vec<ParsedRow>>>>;

fn spawn_reader(
    mut reader: ChunkReader,
    free_rx: Receiver<Vec<u8>>,
    spare: SpareRows,
    msg_tx: Sender<Msg>,
    pool: Arc<rayon::ThreadPool>,
    layout: Arc<Layout>,
    opts: ReadOptions,
) {
    std::thread::Builder::new()
        .name("fmprep-reader".into())
        .spawn(move || {
            let mut seq = 0u64;
            loop {
                // All buffers in flight: wait. A closed channel means the merger gave up.
                let Ok(buf) = free_rx.recv() else { return };
                match reader.next(buf, opts.chunk_bytes, opts.max_line_bytes) {
                    Ok(Next::Chunk(data)) => {
                        let (tx, layout, spare_rows) =
                            (msg_tx.clone(), Arc::clone(&layout), Arc::clone(&spare));
                        let (delimiter, max_line, keep) =
                            (opts.delimiter, opts.max_line_bytes, opts.bad_line_examples);
                        let this = seq;
                        pool.spawn_fifo(move || {
                            let rows = spare_rows
                                .lock()
                                .map(|mut v| v.pop())
                                .ok()
                                .flatten()
                                .unwrap_or_default();
                            // A panic in a spawned job would abort the process (rayon's default),
                            // or, with a handler, leave the merger waiting for this chunk forever.
                            let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                parse_chunk(data, rows, &layout, delimiter, max_line, keep)
                            }));
                            let _ = tx.send(match parsed {
                                Ok(parsed) => Msg::Parsed(this, parsed),
                                Err(_) => Msg::Failed(Error::new(
                                    crate::ErrorKind::Internal,
                                    "a parse job failed unexpectedly (a bug); please report it",
                                )),
                            });
                        });
                    }
                    Ok(Next::LongLine(buf)) => {
                        let _ = msg_tx.send(Msg::LongLine(seq, buf));
                    }
                    Ok(Next::Done) => {
                        let _ = msg_tx.send(Msg::End(seq));
                        return;
                    }
                    Err(e) => {
                        let _ = msg_tx.send(Msg::ReadFailed(seq, e));
                        return;
                    }
                }
                seq += 1;
            }
        })
        .expect("spawning the reader thread");
}

fn merge_chunk(r: &mut Ratings, chunk: &ParsedChunk, line_base: u64, opts: &ReadOptions) -> Result<()> {
    let data = &chunk.data;
    let span = |s: (u32, u32)| &data[s.0 as usize..s.1 as usize];
    r.rows.reserve(chunk.rows.len());
    // Table slots are random memory accesses: ask for the slots of a row a few rows ahead so
    // their cache misses overlap with the work on this one.
    const AHEAD: usize = 8;
    for (i, row) in chunk.rows.iter().enumerate() {
        if let Some(next) = chunk.rows.get(i + AHEAD) {
            r.customers.prefetch(next.customer_hash);
            r.products.prefetch(next.product_hash);
        }
        let ckey = KeyRef {
            bytes: span(row.customer),
            hash: row.customer_hash,
            small: row.customer_small,
        };
        let pkey = KeyRef {
            bytes: span(row.product),
            hash: row.product_hash,
            small: row.product_small,
        };
        let (c, _) = r.customers.intern_ref(&ckey);
        let (p, new) = r.products.intern_ref(&pkey);
        if new {
            if p > Rating::MAX_PRODUCT {
                return Err(Error::bad_input(
                    "more than 2^28 distinct products; fmprep cannot index them",
                ));
            }
            r.titles.push(span(row.title));
        }
        r.rows.push(Rating::from_half_steps(c, p, row.stars));
        if opts.read_times {
            r.times.push(row.time);
        }
    }
    if !r.side.is_empty() {
        let n = r.side.len();
        for spans in chunk.extra.chunks_exact(n) {
            for (col, &s) in r.side.iter_mut().zip(spans) {
                col.push(span(s));
            }
        }
    }
    let s = &mut r.stats;
    s.input_lines += chunk.lines;
    s.blank_lines += chunk.blank;
    s.valid += chunk.rows.len() as u64;
    s.bytes += data.len() as u64;
    s.bad_lines.merge(&chunk.bad);
    for (rel, kind, detail) in &chunk.examples {
        if s.examples.len() >= opts.bad_line_examples {
            break;
        }
        s.examples.push(BadLine {
            line: line_base + 1 + rel,
            kind: *kind,
            detail: detail.clone(),
        });
    }
    Ok(())
}

/// Read and check only the header line of `input` (for `--dry-run`): the required columns must be
/// present. Returns the header's column names.
pub fn check_header(input: &mut Input, opts: &ReadOptions) -> Result<Vec<String>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match input.reader.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => {
                line.push(byte[0]);
                if line.len() > opts.max_line_bytes {
                    return Err(Error::bad_input(format!(
                        "{}: line 1 (the header) is longer than {} bytes",
                        input.name, opts.max_line_bytes
                    )));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(&input.name, input.compression, e)),
        }
    }
    if line.is_empty() {
        return Err(Error::bad_input(format!(
            "{}: the input is empty; expected a header line",
            input.name
        )));
    }
    parse_header(&line, opts, &input.name)?;
    let line = line.strip_suffix(b"\r").unwrap_or(&line);
    Ok(line
        .split(|&b| b == opts.delimiter)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect())
}

/// Decompressed bytes of an input, for the decompress-only benchmark: reads to the end in large
/// blocks and returns the byte count.
pub fn drain(mut input: Input, mut sink: impl std::io::Write) -> Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match input.reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(&input.name, input.compression, e)),
        };
        total += n as u64;
        sink.write_all(&buf[..n])
            .map_err(|e| Error::io("cannot write", "stdout", e))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "marketplace\tcustomer_id\treview_id\tproduct_id\tproduct_parent\tproduct_title\tproduct_category\tstar_rating\thelpful_votes\ttotal_votes\tvine\tverified_purchase\treview_headline\treview_body\treview_date\n";

    pub(crate) fn line(c: &str, p: &str, stars: &str) -> String {
        format!(
            "US\t{c}\tR1\t{p}\t123\tTitle of {p}\tVideo\t{stars}\t0\t0\tN\tY\thead\tbody \"q\"\t2015-08-31\n"
        )
    }

    fn parse(text: &str, opts: &ReadOptions, threads: usize) -> Result<Ratings> {
        let pool = Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap(),
        );
        let input = crate::input::open_source(
            "mem".into(),
            Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
            None,
        )?;
        read_ratings(input, opts, &pool, None)
    }

    #[test]
    fn parses_valid_rows_and_interns_in_first_appearance_order() {
        let text = format!(
            "{HEADER}{}{}{}",
            line("007", "B1", "5"),
            line("7", "B2", "3"),
            line("007", "B2", "1")
        );
        let r = parse(&text, &ReadOptions::default(), 2).unwrap();
        assert_eq!(r.stats.valid, 3);
        assert_eq!(r.customers.get(0), b"007");
        assert_eq!(r.customers.get(1), b"7");
        assert_eq!(r.titles.get(1), b"Title of B2");
        let triples: Vec<_> = r
            .rows
            .iter()
            .map(|x| (x.customer(), x.product(), x.stars()))
            .collect();
        assert_eq!(triples, vec![(0, 0, 5), (1, 1, 3), (0, 1, 1)]);
    }

    #[test]
    fn counts_each_kind_of_bad_line_with_line_numbers() {
        let mut text = HEADER.to_string();
        text += &line("1", "B1", "5"); // line 2 ok
        text += "US\t1\tR\tB1\n"; // 3: field count
        text += &line("", "B1", "5"); // 4
        text += &line("1", "", "5"); // 5
        for bad in ["0", "6", "4.5", "five", "-", " 5", ""] {
            text += &line("1", "B1", bad);
        }
        text += &line("1\u{0}\u{FFFD}", "B1", "5").replace("\u{FFFD}", "\u{0}"); // valid UTF-8, kept
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(b"US\t\xff\xfe\tR1\tB1\t1\tt\tc\t5\t0\t0\tN\tY\th\tb\td\n");
        let opts = ReadOptions {
            max_bad_lines: BadLineLimit::Count(100),
            ..Default::default()
        };
        let pool = Arc::new(rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap());
        let input =
            crate::input::open_source("mem".into(), Box::new(std::io::Cursor::new(bytes)), None).unwrap();
        let r = read_ratings(input, &opts, &pool, None).unwrap();
        let b = r.stats.bad_lines;
        assert_eq!(
            (
                b.field_count,
                b.empty_customer_id,
                b.empty_product_id,
                b.bad_star_rating,
                b.invalid_utf8_id
            ),
            (1, 1, 1, 7, 1)
        );
        assert_eq!(r.stats.valid, 2);
        assert_eq!(r.stats.input_lines, 13);
        assert_eq!(r.stats.examples[0].line, 3);
        assert_eq!(r.stats.examples[0].kind, BadKind::FieldCount);
        assert_eq!(r.stats.examples[3].line, 6);
    }

    #[test]
    fn crlf_and_missing_final_newline_are_fine() {
        let text = format!(
            "{}{}{}",
            HEADER.replace('\n', "\r\n"),
            line("1", "B1", "5").replace('\n', "\r\n"),
            line("2", "B1", "4").trim_end()
        );
        let r = parse(&text, &ReadOptions::default(), 1).unwrap();
        assert_eq!(r.stats.valid, 2);
        assert_eq!(r.stats.bad_lines.total(), 0);
    }

    #[test]
    fn rating_as_last_column_with_crlf() {
        let text = "customer_id,product_id,star_rating\r\n1,B,5\r\n2,C,4\r\n";
        let opts = ReadOptions {
            delimiter: b',',
            ..Default::default()
        };
        let r = parse(text, &opts, 1).unwrap();
        assert_eq!(r.rows.iter().map(|x| x.stars()).collect::<Vec<_>>(), vec![5, 4]);
    }

    #[test]
    fn missing_and_duplicate_columns_are_named() {
        let err = parse("customer_id\tproduct\tstar_rating\n", &ReadOptions::default(), 1).unwrap_err();
        assert!(err.message().contains("no column product_id"), "{err}");
        let err = parse(
            "customer_id\tproduct_id\tstar_rating\tproduct_id\n",
            &ReadOptions::default(),
            1,
        )
        .unwrap_err();
        assert!(err.message().contains("appears 2 times"), "{err}");
        let err = parse("", &ReadOptions::default(), 1).unwrap_err();
        assert!(err.message().contains("empty"), "{err}");
    }

    #[test]
    fn too_many_bad_lines_is_an_error() {
        let text = format!("{HEADER}{}{}", line("1", "B1", "x"), line("1", "B1", "5"));
        let opts = ReadOptions {
            max_bad_lines: BadLineLimit::Count(0),
            ..Default::default()
        };
        let err = parse(&text, &opts, 1).unwrap_err();
        assert!(err.message().contains("exceed --max-bad-lines"), "{err}");
        assert_eq!(err.kind(), crate::ErrorKind::BadInput);
    }

    #[test]
    fn long_lines_are_skipped_with_bounded_buffers() {
        let long = "x".repeat(300_000);
        let text = format!(
            "{HEADER}{}{}\n{}",
            line("1", "B1", "5"),
            long,
            line("2", "B2", "4")
        );
        let opts = ReadOptions {
            max_line_bytes: 100_000,
            chunk_bytes: 4096,
            max_bad_lines: BadLineLimit::Count(5),
            ..Default::default()
        };
        let r = parse(&text, &opts, 2).unwrap();
        assert_eq!(r.stats.bad_lines.line_too_long, 1);
        assert_eq!(r.stats.valid, 2);
        assert_eq!(r.stats.examples[0].line, 3);
    }

    #[test]
    fn chunking_and_threads_do_not_change_the_result() {
        let mut text = HEADER.to_string();
        for i in 0..3000 {
            text += &line(
                &(i % 97).to_string(),
                &format!("B{}", i % 31),
                &((i % 5) + 1).to_string(),
            );
            if i % 500 == 0 {
                text += "bad\tline\n";
            }
        }
        let a = parse(&text, &ReadOptions::default(), 1).unwrap();
        let small = ReadOptions {
            chunk_bytes: 1000,
            ..Default::default()
        };
        let b = parse(&text, &small, 4).unwrap();
        assert_eq!(a.rows, b.rows);
        assert_eq!(a.stats.examples, b.stats.examples);
        assert_eq!(a.stats.bad_lines, b.stats.bad_lines);
        assert_eq!(
            a.customers.iter().collect::<Vec<_>>(),
            b.customers.iter().collect::<Vec<_>>()
        );
    }

    #[test]
    fn rating_scales() {
        let stars = RatingScale::Stars;
        assert_eq!(stars.parse(b"4"), Some(8));
        assert_eq!(stars.parse(b"4.0"), None);
        let half = RatingScale::HalfStars;
        for (text, want) in [
            (&b"4"[..], Some(8)),
            (b"4.0", Some(8)),
            (b"4.5", Some(9)),
            (b".5", Some(1)),
            (b"0.5", Some(1)),
            (b"5.00", Some(10)),
            (b"5.5", None),
            (b"0", None),
            (b"0.0", None),
            (b"4.25", None),
            (b".", None),
            (b"", None),
            (b"10", None),
        ] {
            assert_eq!(half.parse(text), want, "{:?}", String::from_utf8_lossy(text));
        }
        assert_eq!(Rating::from_half_steps(3, 7, 9).value(), 4.5);
        assert_eq!(
            Rating::new(3, Rating::MAX_PRODUCT, 5).product(),
            Rating::MAX_PRODUCT
        );
    }

    #[test]
    fn times_parse_as_dates_or_unix_seconds() {
        assert_eq!(parse_time(b"1970-01-01"), Some(0));
        assert_eq!(parse_time(b"2015-08-31"), Some(1_440_979_200));
        assert_eq!(parse_time(b"2000-02-29"), Some(951_782_400));
        assert_eq!(parse_time(b"1260759144"), Some(1_260_759_144));
        for bad in [
            &b"2015-02-29"[..],
            b"2015-13-01",
            b"1969-12-31",
            b"2015-8-31",
            b"",
            b"-5",
            b"99999999999",
        ] {
            assert_eq!(parse_time(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn times_are_read_only_when_asked() {
        let text = format!("{HEADER}{}{}", line("1", "B1", "5"), line("2", "B1", "4"));
        let r = parse(&text, &ReadOptions::default(), 1).unwrap();
        assert!(r.times.is_empty());
        let opts = ReadOptions {
            read_times: true,
            ..Default::default()
        };
        let r = parse(&text, &opts, 2).unwrap();
        assert_eq!(r.times, vec![1_440_979_200; 2]);
    }

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
    }
}

/// Property tests against a line-by-line reference model of the format rules.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// Hands out at most `step` bytes per read, so that chunk boundaries fall anywhere.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.step).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    #[derive(Debug, Default, PartialEq)]
    struct Model {
        input_lines: u64,
        blank: u64,
        bad: BadLineCounts,
        rows: Vec<(Vec<u8>, Vec<u8>, u8)>,
        /// (line number, kind) of the first five bad lines.
        examples: Vec<(u64, BadKind)>,
    }

    /// The format rules, one line at a time: the specification the parallel reader must match.
    fn model(data: &[u8], max_line: usize) -> Option<Model> {
        let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
        if lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop(); // the final newline ends the last line, it does not start another
        }
        let header = lines.first()?;
        let header = header.strip_suffix(b"\r").unwrap_or(header);
        let names: Vec<&[u8]> = header.split(|&b| b == b'\t').collect();
        let find = |n: &[u8]| {
            let hits: Vec<usize> = (0..names.len()).filter(|&i| names[i] == n).collect();
            hits
        };
        let (c, p, r) = (find(b"customer_id"), find(b"product_id"), find(b"star_rating"));
        if c.len() != 1 || p.len() != 1 || r.len() != 1 || find(b"product_title").len() > 1 {
            return None;
        }
        let (c, p, r) = (c[0], p[0], r[0]);
        let mut m = Model::default();
        for (i, line) in lines.iter().enumerate().skip(1) {
            m.input_lines += 1;
            let content = line.strip_suffix(b"\r").unwrap_or(line);
            if content.is_empty() {
                m.blank += 1;
                continue;
            }
            let fields: Vec<&[u8]> = content.split(|&b| b == b'\t').collect();
            let kind = if line.len() > max_line {
                Some(BadKind::LineTooLong)
            } else if fields.len() != names.len() {
                Some(BadKind::FieldCount)
            } else if fields[c].is_empty() {
                Some(BadKind::EmptyCustomerId)
            } else if fields[p].is_empty() {
                Some(BadKind::EmptyProductId)
            } else if std::str::from_utf8(fields[c]).is_err() || std::str::from_utf8(fields[p]).is_err() {
                Some(BadKind::InvalidUtf8Id)
            } else if !matches!(fields[r], [b'1'..=b'5']) {
                Some(BadKind::BadStarRating)
            } else {
                None
            };
            match kind {
                Some(kind) => {
                    m.bad.add(kind);
                    if m.examples.len() < 5 {
                        m.examples.push((i as u64 + 1, kind));
                    }
                }
                None => m
                    .rows
                    .push((fields[c].to_vec(), fields[p].to_vec(), fields[r][0] - b'0')),
            }
        }
        Some(m)
    }

    fn observed(r: &Ratings) -> Model {
        Model {
            input_lines: r.stats.input_lines,
            blank: r.stats.blank_lines,
            bad: r.stats.bad_lines,
            rows: r
                .rows
                .iter()
                .map(|x| {
                    (
                        r.customers.get(x.customer()).to_vec(),
                        r.products.get(x.product()).to_vec(),
                        x.stars(),
                    )
                })
                .collect(),
            examples: r.stats.examples.iter().map(|b| (b.line, b.kind)).collect(),
        }
    }

    fn field() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => prop::sample::select(vec![
                &b""[..], b"1", b"3", b"5", b"0", b"6", b"c1", b"c2", b"p1", b"p2", b" 5", b"5 ",
                b"4.5", b"\r", b"\xff", b"\xc3\x28", b"\0", b"\"q\"", b"\xc3\xa9",
            ])
            .prop_map(|f| f.to_vec()),
            1 => prop::collection::vec(any::<u8>(), 0..12),
            1 => (0usize..120).prop_map(|n| vec![b'x'; n]),
        ]
    }

    fn line() -> impl Strategy<Value = Vec<u8>> {
        let good = prop::sample::select(vec![&b"c1"[..], b"c2", b"p1", b"1", b"2", b"4", b"5"]);
        prop_oneof![
            // Four plain values: mostly valid rows, whatever the column order.
            4 => prop::collection::vec(good, 4).prop_map(|f| f.join(&b'\t')),
            4 => prop::collection::vec(field(), 2..6).prop_map(|f| f.join(&b'\t')),
            1 => prop::collection::vec(any::<u8>(), 0..60),
        ]
    }

    /// A header with the four known columns in any order (sometimes one missing or doubled),
    /// then lines with LF or CRLF ends, the last one possibly without.
    fn input() -> impl Strategy<Value = Vec<u8>> {
        let names = prop_oneof![
            // Mostly a valid header: the model then has lines to compare.
            4 => Just(vec!["customer_id", "product_id", "star_rating", "product_title"]).prop_shuffle(),
            1 => prop::sample::subsequence(
                vec!["customer_id", "product_id", "star_rating", "product_title", "star_rating"],
                3..=4,
            )
            .prop_shuffle(),
        ];
        (
            names,
            any::<bool>(),
            prop::collection::vec((line(), prop::sample::select(vec![&b"\n"[..], b"\r\n"])), 0..40),
            any::<bool>(),
        )
            .prop_map(|(names, crlf, lines, final_newline)| {
                let mut out = names.join("\t").into_bytes();
                out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
                let n = lines.len();
                for (i, (l, end)) in lines.into_iter().enumerate() {
                    out.extend_from_slice(&l);
                    if i + 1 < n || final_newline {
                        out.extend_from_slice(end);
                    }
                }
                out
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever the chunk size, read size, thread count and line limit, the parallel reader
        /// agrees with the model line for line, and its counts add up.
        #[test]
        fn reader_matches_the_line_model(
            data in input(),
            chunk_bytes in 1usize..300,
            step in 1usize..100,
            threads in 1usize..4,
            max_line in 20usize..200,
        ) {
            let pool = Arc::new(rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap());
            let opts = ReadOptions {
                delimiter: b'\t',
                max_bad_lines: BadLineLimit::Fraction(1.0),
                max_line_bytes: max_line,
                chunk_bytes,
                ..ReadOptions::default()
            };
            let raw = Trickle { data: data.clone(), pos: 0, step };
            let input = crate::input::open_source("mem".into(), Box::new(raw), None).unwrap();
            let got = read_ratings(input, &opts, &pool, None);
            // Header lines longer than the limit are refused only when their end is not in the
            // first read; the model does not know reads, so such headers are not compared.
            let header_len = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
            match (model(&data, max_line), got) {
                (Some(want), Ok(r)) => {
                    let s = &r.stats;
                    prop_assert_eq!(s.valid + s.bad_lines.total() + s.blank_lines, s.input_lines);
                    prop_assert_eq!(s.valid, r.rows.len() as u64);
                    prop_assert_eq!(observed(&r), want);
                }
                (None, Err(e)) => prop_assert_eq!(e.kind(), crate::ErrorKind::BadInput),
                (Some(_), Err(e)) if header_len > max_line => {
                    prop_assert!(e.message().contains("(the header) is longer"), "{}", e);
                }
                (want, got) => prop_assert!(false, "model {:?} vs reader {:?}", want, got.map(|r| observed(&r))),
            }
        }

        /// Arbitrary bytes: never a panic or a hang, and when the input is accepted the counts
        /// add up.
        #[test]
        fn reader_survives_arbitrary_bytes(
            data in prop::collection::vec(any::<u8>(), 0..600),
            with_header in any::<bool>(),
            chunk_bytes in 1usize..200,
            max_line in 1usize..100,
        ) {
            let mut bytes = if with_header { b"customer_id\tproduct_id\tstar_rating\n".to_vec() } else { Vec::new() };
            bytes.extend_from_slice(&data);
            let pool = Arc::new(rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap());
            let opts = ReadOptions {
                max_bad_lines: BadLineLimit::Count(u64::MAX),
                max_line_bytes: max_line,
                chunk_bytes,
                ..ReadOptions::default()
            };
            let input = crate::input::open_source("mem".into(), Box::new(std::io::Cursor::new(bytes)), None).unwrap();
            if let Ok(r) = read_ratings(input, &opts, &pool, None) {
                let s = &r.stats;
                prop_assert_eq!(s.valid + s.bad_lines.total() + s.blank_lines, s.input_lines);
            }
        }
    }
}
