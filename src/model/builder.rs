//! [`RatingsBuilder`]: the one place where rows become [`Ratings`]. Every reader (the parallel TSV
//! merge, the Arrow/Parquet reader, in-memory triples) feeds it, so the rules are the same for all
//! of them: ids are interned by first appearance among valid rows, a product's title is the one on
//! its first valid row, skipped lines are counted per kind with the first few kept as examples,
//! the product count is checked against what a [`Rating`] can hold, and the bad-line limit is
//! applied with one message. [`RatingsBuilder::finish`] releases the lookup indexes.

use super::bad::{BadKind, BadLine, BadLineCounts, BadLineLimit, ReadStats};
use super::keys::KeyRef;
use super::rating::{Rating, Ratings};
use crate::error::{Error, Result};

/// Accumulates the rows of one input into [`Ratings`].
///
/// ```
/// use fmprep::model::{BadKind, BadLineLimit, KeyRef, RatingsBuilder};
///
/// let mut b = RatingsBuilder::new("memory", BadLineLimit::Count(1), 5);
/// b.push(&KeyRef::new(b"c1"), &KeyRef::new(b"p1"), b"A title", 10, 0).unwrap();
/// b.push_bad(3, BadKind::EmptyProductId, String::new);
/// let r = b.finish().unwrap();
/// assert_eq!((r.stats.valid, r.stats.input_lines), (1, 2));
/// assert_eq!(r.stats.examples[0].line, 3);
/// ```
#[derive(Debug)]
pub struct RatingsBuilder {
    ratings: Ratings,
    name: String,
    limit: BadLineLimit,
    keep_examples: usize,
    with_times: bool,
    /// The file lines are in now, for the examples of a many-file input.
    file: Option<String>,
}

impl RatingsBuilder {
    /// A builder for the input called `name` in messages, failing beyond `limit` skipped lines
    /// and keeping the first `keep_examples` of them as examples.
    pub fn new(name: impl Into<String>, limit: BadLineLimit, keep_examples: usize) -> Self {
        RatingsBuilder {
            ratings: Ratings::default(),
            name: name.into(),
            limit,
            keep_examples,
            with_times: false,
            file: None,
        }
    }

    /// Name the file that the lines pushed from now on are in (an input of several files: line
    /// numbers count within each); `None` for a single input.
    pub fn set_file(&mut self, file: Option<String>) {
        self.file = file;
    }

    /// The file set by [`set_file`](Self::set_file).
    pub fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }

    /// Keep each row's time in [`Ratings::times`] (off by default: the vector stays empty).
    pub fn with_times(mut self, on: bool) -> Self {
        self.with_times = on;
        self
    }

    /// Capture these feature columns per valid row into [`Ratings::side`], through
    /// [`push_side`](Self::push_side).
    pub fn with_side(mut self, columns: &[crate::features::columns::ExtraColumn]) -> Self {
        self.ratings.side = columns
            .iter()
            .cloned()
            .map(crate::features::columns::Column::new)
            .collect();
        self
    }

    /// Whether feature columns are captured.
    #[inline]
    pub fn has_side(&self) -> bool {
        !self.ratings.side.is_empty()
    }

    /// The feature fields of the row pushed last, one per [`with_side`](Self::with_side) column,
    /// already checked.
    pub fn push_side<'a>(&mut self, fields: impl IntoIterator<Item = &'a [u8]>) {
        for (col, f) in self.ratings.side.iter_mut().zip(fields) {
            col.push(f);
        }
    }

    /// The input's name, as messages give it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The counters so far.
    pub fn stats(&self) -> &ReadStats {
        &self.ratings.stats
    }

    /// Make room for `rows` more valid rows.
    pub fn reserve(&mut self, rows: usize) {
        self.ratings.rows.reserve(rows);
    }

    /// Size the id tables for about `customers` and `products` distinct ids before any row is
    /// pushed, so that they do not grow (copying and faulting in fresh pages) while the input is
    /// read. No effect once ids were interned.
    pub fn reserve_ids(&mut self, customers: usize, products: usize) {
        use super::keys::KeyTable;
        let r = &mut self.ratings;
        if r.customers.is_empty() && r.products.is_empty() {
            // Ids average under 12 bytes (customer ids are 8 digits, product ids 10 characters).
            r.customers = KeyTable::with_capacity(customers, customers * 8);
            r.products = KeyTable::with_capacity(products, products * 10);
        }
    }

    /// Hint the CPU to load the table slots of ids that will be pushed a few rows later: their
    /// cache misses then overlap with the work on the rows before.
    #[inline]
    pub fn prefetch(&self, customer_hash: u64, product_hash: u64) {
        self.ratings.customers.prefetch(customer_hash);
        self.ratings.products.prefetch(product_hash);
    }

    /// Add one valid row: its ids, the product title (kept when the product is new), the rating in
    /// half-steps (1..=10) and its time (kept only [`with_times`](Self::with_times)).
    ///
    /// Fails when the input has more distinct products than a [`Rating`] can hold.
    #[inline]
    pub fn push(
        &mut self,
        customer: &KeyRef<'_>,
        product: &KeyRef<'_>,
        title: &[u8],
        half_steps: u8,
        time: u32,
    ) -> Result<()> {
        let r = &mut self.ratings;
        let (c, _) = r.customers.intern_ref(customer);
        let (p, new) = r.products.intern_ref(product);
        if new {
            if p > Rating::MAX_PRODUCT {
                return Err(Error::bad_input(format!(
                    "{}: more than 2^28 distinct products; fmprep cannot index them",
                    self.name
                )));
            }
            r.titles.push(title);
        }
        r.rows.push(Rating::from_half_steps(c, p, half_steps));
        if self.with_times {
            r.times.push(time);
        }
        r.stats.valid += 1;
        r.stats.input_lines += 1;
        Ok(())
    }

    /// Append the ratings read on their own from a later part of the same input (a later file):
    /// ids new here get the next codes in their order of first appearance there, titles and
    /// feature values follow, counters add up and examples fill the room left. The result is the
    /// one of pushing the same rows here one by one.
    pub fn append(&mut self, other: Ratings) -> Result<()> {
        use crate::features::columns::Values;
        let r = &mut self.ratings;
        let customers: Vec<u32> = other.customers.iter().map(|k| r.customers.intern(k)).collect();
        let mut products = Vec::with_capacity(other.products.len());
        for (i, key) in other.products.iter().enumerate() {
            let before = r.products.len();
            let p = r.products.intern(key);
            if p as usize == before {
                if p > Rating::MAX_PRODUCT {
                    return Err(Error::bad_input(format!(
                        "{}: more than 2^28 distinct products; fmprep cannot index them",
                        self.name
                    )));
                }
                r.titles.push(other.titles.get(i));
            }
            products.push(p);
        }
        r.rows.reserve(other.rows.len());
        r.rows.extend(other.rows.iter().map(|x| {
            Rating::from_half_steps(
                customers[x.customer() as usize],
                products[x.product() as usize],
                x.half_steps(),
            )
        }));
        if self.with_times {
            r.times.extend_from_slice(&other.times);
        }
        for (mine, theirs) in r.side.iter_mut().zip(other.side) {
            match (&mut mine.values, theirs.values) {
                (Values::Categorical { table, codes }, Values::Categorical { table: t, codes: c }) => {
                    let map: Vec<u32> = t.iter().map(|k| table.intern(k)).collect();
                    codes.extend(c.iter().map(|&x| map[x as usize]));
                }
                (Values::Numeric(a), Values::Numeric(b)) => a.extend(b),
                _ => {
                    return Err(Error::new(
                        crate::ErrorKind::Internal,
                        "feature columns of two parts of one input differ (a bug)",
                    ))
                }
            }
        }
        let (s, o) = (&mut r.stats, other.stats);
        s.input_lines += o.input_lines;
        s.blank_lines += o.blank_lines;
        s.bad_lines.merge(&o.bad_lines);
        s.valid += o.valid;
        s.bytes += o.bytes;
        let room = self.keep_examples.saturating_sub(s.examples.len());
        s.examples.extend(o.examples.into_iter().take(room));
        Ok(())
    }

    /// Count one skipped line of `kind` at `line`; `detail` (a short excerpt of what was wrong)
    /// is made only when the line is kept as an example.
    pub fn push_bad(&mut self, line: u64, kind: BadKind, detail: impl FnOnce() -> String) {
        let s = &mut self.ratings.stats;
        s.input_lines += 1;
        s.bad_lines.add(kind);
        if s.examples.len() < self.keep_examples {
            s.examples.push(BadLine {
                line,
                kind,
                detail: detail(),
                file: self.file.clone(),
            });
        }
    }

    /// Count `n` blank lines (ignored, not malformed).
    pub fn push_blank(&mut self, n: u64) {
        let s = &mut self.ratings.stats;
        s.input_lines += n;
        s.blank_lines += n;
    }

    /// Count lines classified elsewhere (e.g. by a parse job on another thread): `bad` per kind,
    /// with `examples` the first of them in input order. Valid rows are [`push`](Self::push)ed
    /// separately.
    pub fn push_counted(&mut self, bad: &BadLineCounts, examples: impl IntoIterator<Item = BadLine>) {
        let s = &mut self.ratings.stats;
        s.input_lines += bad.total();
        s.bad_lines.merge(bad);
        let room = self.keep_examples.saturating_sub(s.examples.len());
        s.examples.extend(examples.into_iter().take(room));
    }

    /// Count `n` bytes of input read.
    pub fn add_bytes(&mut self, n: u64) {
        self.ratings.stats.bytes += n;
    }

    /// Fail now when a count limit is already exceeded (a fraction needs the final line count, so
    /// only [`finish`](Self::finish) applies it). Readers call this between chunks or batches.
    pub fn check_limit(&self) -> Result<()> {
        match self.limit {
            BadLineLimit::Count(n) if self.ratings.stats.bad_lines.total() > n => Err(self.too_many_bad()),
            _ => Ok(()),
        }
    }

    /// The ratings, once the bad-line limit is checked on the whole input. The id lookup indexes
    /// are released: codes and ids stay, later lookups scan.
    pub fn finish(self) -> Result<Ratings> {
        let s = &self.ratings.stats;
        if !self.limit.allows(s.bad_lines.total(), s.input_lines) {
            return Err(self.too_many_bad());
        }
        Ok(self.ratings.done_adding())
    }

    fn too_many_bad(&self) -> Error {
        let stats = &self.ratings.stats;
        let first = stats
            .examples
            .first()
            .map(|b| format!("; first: {b}"))
            .unwrap_or_default();
        Error::bad_input(format!(
            "{}: {} malformed lines out of {} exceed --max-bad-lines ({}){first}; check the \
             delimiter and the file, or raise --max-bad-lines",
            self.name,
            stats.bad_lines.total(),
            stats.input_lines,
            self.limit
        ))
    }
}

impl Ratings {
    /// Build from in-memory `(customer_id, product_id, stars)` triples, e.g. for library users and
    /// tests. Triples with `stars` outside 1..=5 or empty ids are counted as bad and skipped.
    pub fn from_triples<'a, I>(triples: I) -> Self
    where
        I: IntoIterator<Item = (&'a str, &'a str, u8)>,
    {
        // No limit, no examples: every triple is accounted for in the counters.
        let mut b = RatingsBuilder::new("triples", BadLineLimit::Count(u64::MAX), 0);
        let mut line = 0;
        for (c, p, s) in triples {
            line += 1;
            let kind = if c.is_empty() {
                Some(BadKind::EmptyCustomerId)
            } else if p.is_empty() {
                Some(BadKind::EmptyProductId)
            } else if !(1..=5).contains(&s) {
                Some(BadKind::BadStarRating)
            } else {
                None
            };
            match kind {
                Some(kind) => b.push_bad(line, kind, String::new),
                None => b
                    .push(
                        &KeyRef::new(c.as_bytes()),
                        &KeyRef::new(p.as_bytes()),
                        b"",
                        2 * s,
                        0,
                    )
                    .expect("a handful of triples cannot exceed 2^28 products"),
            }
        }
        b.finish().expect("no bad-line limit")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> KeyRef<'_> {
        KeyRef::new(s.as_bytes())
    }

    #[test]
    fn rows_intern_in_first_appearance_order_with_first_titles() {
        let mut b = RatingsBuilder::new("in", BadLineLimit::default(), 5).with_times(true);
        b.push(&key("c2"), &key("p1"), b"first", 10, 7).unwrap();
        b.push(&key("c1"), &key("p1"), b"second", 2, 8).unwrap();
        b.push(&key("c2"), &key("p2"), b"", 9, 9).unwrap();
        let r = b.finish().unwrap();
        assert_eq!(r.customers.get(0), b"c2");
        assert_eq!(r.titles.get(0), b"first");
        assert_eq!(r.rows[1], Rating::from_half_steps(1, 0, 2));
        assert_eq!(r.times, vec![7, 8, 9]);
        assert_eq!(r.customers.lookup(b"c1"), Some(1), "frozen tables still answer");
    }

    #[test]
    fn counts_add_up_and_examples_stop_at_the_limit() {
        let mut b = RatingsBuilder::new("in", BadLineLimit::Fraction(1.0), 2);
        b.push_blank(2);
        let mut chunk = BadLineCounts::default();
        chunk.add(BadKind::FieldCount);
        chunk.add(BadKind::BadTime);
        let ex = |line| BadLine {
            line,
            kind: BadKind::FieldCount,
            detail: String::new(),
            file: None,
        };
        b.push_counted(&chunk, [ex(4), ex(5)]);
        b.push_bad(9, BadKind::LineTooLong, || {
            unreachable!("no room for a third example")
        });
        b.push(&key("c"), &key("p"), b"", 4, 0).unwrap();
        let r = b.finish().unwrap();
        let s = &r.stats;
        assert_eq!(s.valid + s.bad_lines.total() + s.blank_lines, s.input_lines);
        assert_eq!((s.input_lines, s.bad_lines.total()), (6, 3));
        assert_eq!(s.examples.iter().map(|e| e.line).collect::<Vec<_>>(), [4, 5]);
        assert!(r.times.is_empty());
    }

    #[test]
    fn limits_fail_with_one_message() {
        let mut b = RatingsBuilder::new("in.tsv", BadLineLimit::Count(1), 5);
        b.push_bad(2, BadKind::EmptyCustomerId, String::new);
        b.check_limit().unwrap();
        b.push_bad(3, BadKind::BadStarRating, || "star_rating \"x\"".into());
        let err = b.check_limit().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::BadInput);
        assert_eq!(
            err.message(),
            "in.tsv: 2 malformed lines out of 2 exceed --max-bad-lines (1 lines); first: line 2: \
             empty customer id (); check the delimiter and the file, or raise --max-bad-lines"
        );
        let mut b = RatingsBuilder::new("in.tsv", BadLineLimit::Fraction(0.5), 5);
        b.push_bad(2, BadKind::EmptyCustomerId, String::new);
        b.check_limit().unwrap();
        assert!(b.finish().unwrap_err().message().contains("(50% of lines)"));
    }

    #[test]
    fn triples_count_bad_ones_and_intern_in_order() {
        let r = Ratings::from_triples([("a", "p", 5), ("", "p", 5), ("b", "q", 9), ("b", "p", 1)]);
        assert_eq!(r.stats.input_lines, 4);
        assert_eq!(r.stats.valid, 2);
        assert_eq!(r.stats.bad_lines.empty_customer_id, 1);
        assert_eq!(r.stats.bad_lines.bad_star_rating, 1);
        assert_eq!(r.customers.get(1), b"b");
        assert_eq!(r.titles.len(), 1);
    }
}

#[cfg(test)]
mod append_props {
    use super::*;
    use proptest::prelude::*;

    /// Rows numbered from `first` (their title and time say which row they are).
    fn build(rows: &[(u8, u8, u8)], first: usize) -> RatingsBuilder {
        let mut b = RatingsBuilder::new("in", BadLineLimit::Count(u64::MAX), 3).with_times(true);
        for (i, &(c, p, s)) in rows.iter().enumerate() {
            let (c, p, title) = (format!("c{c}"), format!("p{p}"), format!("t{}", first + i));
            b.push(
                &KeyRef::new(c.as_bytes()),
                &KeyRef::new(p.as_bytes()),
                title.as_bytes(),
                s,
                (first + i) as u32,
            )
            .unwrap();
        }
        b
    }

    proptest! {
        /// Appending the parts of an input read on their own equals reading it whole: the same
        /// codes, rows, first titles and times.
        #[test]
        fn appending_parts_equals_reading_the_whole(
            rows in proptest::collection::vec((0u8..12, 0u8..9, 1u8..=10), 0..60),
            cuts in proptest::collection::vec(0usize..60, 0..4),
        ) {
            let whole = build(&rows, 0).finish().unwrap();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(rows.len())).collect();
            cuts.extend([0, rows.len()]);
            cuts.sort();
            let mut b = RatingsBuilder::new("in", BadLineLimit::Count(u64::MAX), 3).with_times(true);
            for w in cuts.windows(2) {
                b.append(build(&rows[w[0]..w[1]], w[0]).finish().unwrap()).unwrap();
            }
            let got = b.finish().unwrap();
            prop_assert_eq!(&got.rows, &whole.rows);
            prop_assert_eq!(&got.times, &whole.times);
            let keys = |t: &crate::model::KeyTable| t.iter().map(<[u8]>::to_vec).collect::<Vec<_>>();
            prop_assert_eq!(keys(&got.customers), keys(&whole.customers));
            prop_assert_eq!(keys(&got.products), keys(&whole.products));
            let titles = |r: &Ratings| (0..r.titles.len()).map(|i| r.titles.get(i).to_vec()).collect::<Vec<_>>();
            prop_assert_eq!(titles(&got), titles(&whole));
            prop_assert_eq!(got.stats.valid, whole.stats.valid);
        }
    }
}
