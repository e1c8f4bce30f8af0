//! Ratings from Arrow record batches (cargo feature `arrow`, on with `parquet`): any iterator of
//! [`RecordBatch`]es, e.g. a Parquet file's batches (`source::parquet`) or an Arrow C stream
//! handed over from Python, with the columns found by name ([`ReadOptions::columns`]) and the same
//! rules, counters and messages as the TSV reader (through [`RatingsBuilder`]).
//!
//! Column types accepted: ids as strings (also dictionary-encoded or views) or integers (written
//! in decimal); ratings as integers, floats or strings, checked against
//! [`ReadOptions::rating_scale`]; times as `date32`/`date64`/timestamps, integers (Unix seconds)
//! or strings (`YYYY-MM-DD`). A null or out-of-scale value makes the row malformed, counted per
//! kind as for the TSV; the "line" number of a row is its 1-based position over all batches.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type};
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, DataType, SchemaRef, TimeUnit};

use crate::error::{Error, Result};
use crate::model::{parse_time, BadKind, KeyRef, Ratings, RatingsBuilder};
use crate::source::ReadOptions;

/// Read the ratings of `batches`, the input called `name` in messages.
///
/// Fails on a missing required column or a column of an unusable type, on a failed batch (its
/// error as the message), and when skipped rows exceed `opts.max_bad_lines`.
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
///
/// let batch = RecordBatch::try_from_iter([
///     ("customer_id", Arc::new(StringArray::from(vec!["c1", "c2"])) as ArrayRef),
///     ("product_id", Arc::new(StringArray::from(vec!["p1", "p1"])) as ArrayRef),
///     ("star_rating", Arc::new(Int64Array::from(vec![5, 3])) as ArrayRef),
/// ])
/// .unwrap();
/// let opts = fmprep::source::ReadOptions::default();
/// let batches = [Ok::<_, arrow_schema::ArrowError>(batch)];
/// let r = fmprep::source::arrow::ratings_from_batches(batches, "frame", &opts).unwrap();
/// assert_eq!(r.stats.valid, 2);
/// assert_eq!(r.products.len(), 1);
/// ```
pub fn ratings_from_batches<I, E>(batches: I, name: &str, opts: &ReadOptions) -> Result<Ratings>
where
    I: IntoIterator<Item = std::result::Result<RecordBatch, E>>,
    E: std::fmt::Display,
{
    let mut r = BatchRatings::new(name, opts);
    for batch in batches {
        opts.cancel.check()?;
        let batch = batch.map_err(|e| Error::bad_input(format!("{name}: cannot read a batch: {e}")))?;
        r.add(&batch, name)?;
    }
    r.finish()
}

/// A stream of record batches to read ratings from, one batch at a time (so that memory grows
/// with the kept rows, not with the stream): the input of
/// [`RatingsSource::Arrow`](crate::source::RatingsSource::Arrow). Any [`RecordBatchReader`] will
/// do, e.g. an `ArrowArrayStreamReader` over a stream exported by polars, pandas or pyarrow.
pub struct BatchInput {
    /// The input as named in messages and the manifest.
    pub name: String,
    schema: SchemaRef,
    batches: Box<dyn Iterator<Item = std::result::Result<RecordBatch, ArrowError>> + Send>,
}

impl BatchInput {
    /// The batches of `reader`, the input called `name` in messages.
    pub fn new(name: impl Into<String>, reader: impl RecordBatchReader + Send + 'static) -> Self {
        BatchInput {
            name: name.into(),
            schema: reader.schema(),
            batches: Box::new(reader),
        }
    }

    /// The column names of the stream's schema.
    pub fn columns(&self) -> Vec<String> {
        self.schema.fields().iter().map(|f| f.name().clone()).collect()
    }

    /// Read the ratings, counting rows into `progress` (its `lines`) as batches arrive.
    ///
    /// The schema is checked for the required columns before the first batch is pulled, so a
    /// wrong column name fails without consuming the stream.
    pub fn read(self, opts: &ReadOptions, progress: Option<&crate::progress::Progress>) -> Result<Ratings> {
        check_columns(&self.columns(), opts, &self.name)?;
        let name = self.name;
        let mut r = BatchRatings::new(&name, opts);
        for batch in self.batches {
            opts.cancel.check()?;
            let batch = batch.map_err(|e| Error::bad_input(format!("{name}: cannot read a batch: {e}")))?;
            r.add(&batch, &name)?;
            if let Some(p) = progress {
                crate::progress::Progress::add(&p.lines, batch.num_rows() as u64);
            }
        }
        r.finish()
    }
}

/// Ratings accumulated batch by batch, for inputs made of several parts (the files of a Parquet
/// dataset): examples name the part and the row within it.
pub struct BatchRatings<'a> {
    builder: RatingsBuilder,
    opts: &'a ReadOptions,
    /// Rows seen over all batches.
    row_no: u64,
    /// The current part and the rows seen in it.
    part: String,
    part_rows: u64,
}

impl<'a> BatchRatings<'a> {
    /// Start the input called `name` in messages.
    pub fn new(name: &str, opts: &'a ReadOptions) -> Self {
        BatchRatings {
            builder: opts.builder(name),
            opts,
            row_no: 0,
            part: String::new(),
            part_rows: 0,
        }
    }

    /// Add the rows of `batch`, which belongs to the part called `part` in examples.
    pub fn add(&mut self, batch: &RecordBatch, part: &str) -> Result<()> {
        if part != self.part {
            self.part = part.to_string();
            self.part_rows = 0;
        }
        let names: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        check_columns(&names, self.opts, part)?;
        let opts = self.opts;
        let cols = &opts.columns;
        let col = |name: &str| batch.column_by_name(name);
        let required = |name: &str| col(name).expect("checked above");
        let customers = Text::new(required(&cols.customer), &cols.customer, part)?;
        let products = Text::new(required(&cols.product), &cols.product, part)?;
        let titles = match col(&cols.title) {
            Some(t) => Some(Text::new(t, &cols.title, part)?),
            None => None,
        };
        let stars = ratings_of(required(&cols.rating), opts, part)?;
        let times = match opts.read_times {
            true => Some(times_of(required(&cols.time), &cols.time, part)?),
            false => None,
        };
        // Feature columns as text, as the TSV reader sees them (a null is an empty field).
        let extras: Vec<Text<'_>> = (opts.extra_columns.iter())
            .map(|e| Text::new(required(&e.name), &e.name, part))
            .collect::<Result<_>>()?;
        let mut extra_bufs: Vec<(itoa::Buffer, String)> = extras
            .iter()
            .map(|_| (itoa::Buffer::new(), String::new()))
            .collect();
        let (mut b1, mut b2, mut b3) = (itoa::Buffer::new(), itoa::Buffer::new(), itoa::Buffer::new());
        let b = &mut self.builder;
        b.reserve(batch.num_rows());
        for i in 0..batch.num_rows() {
            self.row_no += 1;
            self.part_rows += 1;
            let c = customers.get(i, &mut b1).unwrap_or_default();
            let p = products.get(i, &mut b2).unwrap_or_default();
            let time = times.as_ref().map(|t| t[i]);
            let bad = if c.is_empty() {
                Some((BadKind::EmptyCustomerId, ""))
            } else if p.is_empty() {
                Some((BadKind::EmptyProductId, ""))
            } else if stars[i] == 0 {
                Some((BadKind::BadStarRating, "rating null or out of scale"))
            } else if time == Some(None) {
                Some((BadKind::BadTime, "time null or out of range"))
            } else {
                None
            };
            if let Some((kind, detail)) = bad {
                let (part, row) = (&self.part, self.part_rows);
                b.push_bad(self.row_no, kind, || {
                    let sep = if detail.is_empty() { "" } else { ": " };
                    format!("{part} row {row}{sep}{detail}")
                });
                continue;
            }
            let title = titles
                .as_ref()
                .and_then(|t| t.get(i, &mut b3))
                .unwrap_or_default();
            let fields: Vec<&[u8]> = (extras.iter().zip(extra_bufs.iter_mut()))
                .map(|(t, (ib, fb))| t.field(i, ib, fb))
                .collect();
            let why = (opts.extra_columns.iter().zip(&fields))
                .find_map(|(spec, f)| crate::features::columns::check_field(spec, f));
            if let Some(why) = why {
                let (part, row) = (&self.part, self.part_rows);
                b.push_bad(self.row_no, BadKind::BadNumber, || {
                    format!("{part} row {row}: {why}")
                });
                continue;
            }
            let t = time.flatten().unwrap_or(0);
            b.push(&KeyRef::new(c), &KeyRef::new(p), title, stars[i], t)?;
            b.push_side(fields);
        }
        b.check_limit()
    }

    /// The ratings, once the bad-line limit is checked on the whole input.
    pub fn finish(self) -> Result<Ratings> {
        self.builder.finish()
    }
}

/// The columns to read: (header name, required).
fn wanted(opts: &ReadOptions) -> Vec<(&str, bool)> {
    let c = &opts.columns;
    let mut w = vec![
        (c.customer.as_str(), true),
        (c.product.as_str(), true),
        (c.rating.as_str(), true),
        (c.title.as_str(), false),
    ];
    if opts.read_times {
        w.push((c.time.as_str(), true));
    }
    w.extend(opts.extra_columns.iter().map(|e| (e.name.as_str(), true)));
    w
}

/// The indices in `names` of the columns to read (required and present optional ones), in
/// `names` order.
pub(crate) fn projection(names: &[String], opts: &ReadOptions) -> Vec<usize> {
    let mut roots: Vec<usize> = wanted(opts)
        .into_iter()
        .filter_map(|(n, _)| names.iter().position(|x| x == n))
        .collect();
    roots.sort_unstable();
    roots
}

/// Fail unless `names` (the columns of `what`) hold every required column.
pub fn check_columns(names: &[String], opts: &ReadOptions, what: &str) -> Result<()> {
    let missing: Vec<&str> = wanted(opts)
        .into_iter()
        .filter(|(n, req)| *req && !names.iter().any(|x| x == n))
        .map(|(n, _)| n)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let features_only = (missing.iter()).all(|m| opts.extra_columns.iter().any(|e| e.name == *m));
    let hint = match features_only {
        true => "check the names in --categorical/--numeric",
        false => "name the columns with --customer-col/--product-col/--rating-col",
    };
    Err(Error::bad_input(format!(
        "{what}: no column {} (columns: {}); {hint}",
        missing.join(", "),
        names.join(", ")
    )))
}

/// Strings of an id or title column, whatever its Arrow type.
enum Text<'a> {
    Utf8(&'a arrow_array::StringArray),
    Large(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
    Dict(Vec<usize>, Box<Text<'a>>, &'a dyn Array),
    Int(Int64Array),
    /// Floats (side-feature numbers); read through [`text_rows`], which writes their shortest
    /// exact decimal.
    Float(Vec<Option<f64>>),
}

impl<'a> Text<'a> {
    fn new(a: &'a ArrayRef, col: &str, what: &str) -> Result<Text<'a>> {
        Ok(match a.data_type() {
            DataType::Utf8 => Text::Utf8(a.as_string::<i32>()),
            DataType::LargeUtf8 => Text::Large(a.as_string::<i64>()),
            DataType::Utf8View => Text::View(a.as_string_view()),
            DataType::Dictionary(_, _) => {
                let d = a.as_any_dictionary();
                let values = Text::new(d.values(), col, what)?;
                Text::Dict(d.normalized_keys(), Box::new(values), a.as_ref())
            }
            t if t.is_integer() => Text::Int(cast_i64(a, col, what)?),
            DataType::Float32 => Text::Float(
                a.as_primitive::<Float32Type>()
                    .iter()
                    .map(|v| v.map(f64::from))
                    .collect(),
            ),
            DataType::Float64 => Text::Float(a.as_primitive::<Float64Type>().iter().collect()),
            t => {
                return Err(Error::bad_input(format!(
                    "{what}: column {col} has type {t}; expected strings or integers"
                )))
            }
        })
    }

    /// The value of row `i` as bytes (written into `buf` for integers); `None` when null.
    fn get<'b>(&'b self, i: usize, buf: &'b mut itoa::Buffer) -> Option<&'b [u8]> {
        match self {
            Text::Utf8(a) => a.is_valid(i).then(|| a.value(i).as_bytes()),
            Text::Large(a) => a.is_valid(i).then(|| a.value(i).as_bytes()),
            Text::View(a) => a.is_valid(i).then(|| a.value(i).as_bytes()),
            Text::Dict(keys, values, arr) => {
                if arr.is_null(i) {
                    None
                } else {
                    values.get(keys[i], buf)
                }
            }
            Text::Int(a) => a.is_valid(i).then(|| buf.format(a.value(i)).as_bytes()),
            Text::Float(_) => None,
        }
    }

    /// The value of row `i` as a feature field: floats in their shortest exact decimal (written
    /// into `text`), null as empty, as the TSV would hold it.
    fn field<'b>(&'b self, i: usize, buf: &'b mut itoa::Buffer, text: &'b mut String) -> &'b [u8] {
        match self {
            Text::Float(v) => {
                text.clear();
                if let Some(x) = v[i] {
                    use std::fmt::Write;
                    let _ = write!(text, "{x}");
                }
                text.as_bytes()
            }
            t => t.get(i, buf).unwrap_or_default(),
        }
    }
}

/// Hand each row of `columns` of `batch` to `row` as text (integers in decimal, floats in their
/// shortest exact decimal, null as `None`): for side tables. `what` names the input in messages.
pub fn text_rows(
    batch: &RecordBatch,
    columns: &[&str],
    what: &str,
    mut row: impl FnMut(&[Option<&[u8]>]) -> Result<()>,
) -> Result<()> {
    let arrays: Vec<&ArrayRef> = columns
        .iter()
        .map(|c| {
            batch
                .column_by_name(c)
                .ok_or_else(|| Error::bad_input(format!("{what}: no column {c}")))
        })
        .collect::<Result<_>>()?;
    let texts: Vec<Text<'_>> = arrays
        .iter()
        .zip(columns)
        .map(|(a, c)| Text::new(a, c, what))
        .collect::<Result<_>>()?;
    let mut bufs: Vec<itoa::Buffer> = columns.iter().map(|_| itoa::Buffer::new()).collect();
    let mut floats: Vec<String> = vec![String::new(); columns.len()];
    for i in 0..batch.num_rows() {
        for (t, f) in texts.iter().zip(floats.iter_mut()) {
            if let Text::Float(v) = t {
                f.clear();
                if let Some(x) = v[i] {
                    use std::fmt::Write;
                    let _ = write!(f, "{x}");
                }
            }
        }
        let fields: Vec<Option<&[u8]>> = texts
            .iter()
            .zip(bufs.iter_mut())
            .zip(&floats)
            .map(|((t, b), f)| match t {
                Text::Float(v) => v[i].map(|_| f.as_bytes()),
                t => t.get(i, b),
            })
            .collect();
        row(&fields)?;
    }
    Ok(())
}

/// An integer column as i64 (`col` of `what` named in the error for other types).
pub(crate) fn cast_i64(a: &ArrayRef, col: &str, what: &str) -> Result<Int64Array> {
    use arrow_array::types::*;
    macro_rules! conv {
        ($t:ty) => {
            a.as_primitive::<$t>()
                .iter()
                .map(|v| v.map(|x| x as i64))
                .collect()
        };
    }
    Ok(match a.data_type() {
        DataType::Int8 => conv!(Int8Type),
        DataType::Int16 => conv!(Int16Type),
        DataType::Int32 => conv!(Int32Type),
        DataType::Int64 => a.as_primitive::<Int64Type>().clone(),
        DataType::UInt8 => conv!(UInt8Type),
        DataType::UInt16 => conv!(UInt16Type),
        DataType::UInt32 => conv!(UInt32Type),
        DataType::UInt64 => conv!(UInt64Type),
        t => {
            return Err(Error::bad_input(format!(
                "{what}: column {col} has type {t}; expected integers"
            )))
        }
    })
}

/// The rating of each row in half-steps (0 = invalid or null).
fn ratings_of(a: &ArrayRef, opts: &ReadOptions, what: &str) -> Result<Vec<u8>> {
    let scale = opts.rating_scale;
    let num = |v: f64| scale.from_number(v).unwrap_or(0);
    let col = &opts.columns.rating;
    Ok(match a.data_type() {
        t if t.is_integer() => cast_i64(a, col, what)?
            .iter()
            .map(|v| v.map_or(0, |x| if (0..=5).contains(&x) { num(x as f64) } else { 0 }))
            .collect(),
        DataType::Float32 => a
            .as_primitive::<Float32Type>()
            .iter()
            .map(|v| v.map_or(0, |x| num(x as f64)))
            .collect(),
        DataType::Float64 => a
            .as_primitive::<Float64Type>()
            .iter()
            .map(|v| v.map_or(0, num))
            .collect(),
        _ => {
            let t = Text::new(a, col, what)?;
            let mut buf = itoa::Buffer::new();
            (0..a.len())
                .map(|i| t.get(i, &mut buf).and_then(|s| scale.parse(s)).unwrap_or(0))
                .collect()
        }
    })
}

/// The time of each row in seconds since 1970 (`None` = null or unparsable).
fn times_of(a: &ArrayRef, col: &str, what: &str) -> Result<Vec<Option<u32>>> {
    use arrow_array::types::*;
    let secs = |v: Option<i64>| v.and_then(|s| u32::try_from(s).ok());
    Ok(match a.data_type() {
        DataType::Date32 => a
            .as_primitive::<Date32Type>()
            .iter()
            .map(|d| secs(d.map(|d| d as i64 * 86_400)))
            .collect(),
        DataType::Date64 => a
            .as_primitive::<Date64Type>()
            .iter()
            .map(|d| secs(d.map(|ms| ms.div_euclid(1000))))
            .collect(),
        DataType::Timestamp(unit, _) => {
            let div = match unit {
                TimeUnit::Second => 1,
                TimeUnit::Millisecond => 1_000,
                TimeUnit::Microsecond => 1_000_000,
                TimeUnit::Nanosecond => 1_000_000_000,
            };
            let raw: Vec<Option<i64>> = match unit {
                TimeUnit::Second => a.as_primitive::<TimestampSecondType>().iter().collect(),
                TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().iter().collect(),
                TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().iter().collect(),
                TimeUnit::Nanosecond => a.as_primitive::<TimestampNanosecondType>().iter().collect(),
            };
            raw.into_iter()
                .map(|v| secs(v.map(|x| x.div_euclid(div))))
                .collect()
        }
        t if t.is_integer() => cast_i64(a, col, what)?.iter().map(secs).collect(),
        _ => {
            let t = Text::new(a, col, what)?;
            let mut buf = itoa::Buffer::new();
            (0..a.len())
                .map(|i| t.get(i, &mut buf).and_then(parse_time))
                .collect()
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Float64Array, StringArray};

    use super::*;
    use crate::model::BadLineLimit;

    fn batch(c: Vec<Option<&str>>, p: Vec<Option<&str>>, r: Vec<f64>) -> RecordBatch {
        RecordBatch::try_from_iter([
            ("customer_id", Arc::new(StringArray::from(c)) as ArrayRef),
            ("product_id", Arc::new(StringArray::from(p)) as ArrayRef),
            ("star_rating", Arc::new(Float64Array::from(r)) as ArrayRef),
        ])
        .unwrap()
    }

    #[test]
    fn rows_over_batches_follow_the_shared_rules() {
        let a = batch(
            vec![Some("c1"), None],
            vec![Some("p1"), Some("p1")],
            vec![5.0, 4.0],
        );
        let b = batch(
            vec![Some("c2"), Some("c1")],
            vec![Some("p2"), Some("p1")],
            vec![4.5, 1.0],
        );
        let opts = ReadOptions {
            max_bad_lines: BadLineLimit::Count(5),
            ..ReadOptions::default()
        };
        let batches = [Ok::<_, String>(a), Ok(b)];
        let r = ratings_from_batches(batches, "frame", &opts).unwrap();
        let s = &r.stats;
        assert_eq!((s.input_lines, s.valid), (4, 2));
        assert_eq!(s.bad_lines.empty_customer_id, 1);
        assert_eq!(s.bad_lines.bad_star_rating, 1, "4.5 is off the 1..5 star scale");
        assert_eq!(s.examples[0].line, 2);
        assert_eq!(s.examples[1].detail, "frame row 3: rating null or out of scale");
        assert_eq!(r.customers.len(), 1, "c2 only has a skipped row");
    }

    #[test]
    fn limits_and_missing_columns_fail_with_the_tsv_words() {
        let a = batch(vec![None, None], vec![Some("p"), Some("p")], vec![5.0, 5.0]);
        let opts = ReadOptions {
            max_bad_lines: BadLineLimit::Count(1),
            ..ReadOptions::default()
        };
        let err = ratings_from_batches([Ok::<_, String>(a)], "frame", &opts).unwrap_err();
        assert!(
            err.message()
                .starts_with("frame: 2 malformed lines out of 2 exceed --max-bad-lines (1 lines)"),
            "{err}"
        );
        let only =
            RecordBatch::try_from_iter([("x", Arc::new(Float64Array::from(vec![1.0])) as ArrayRef)]).unwrap();
        let err = ratings_from_batches([Ok::<_, String>(only)], "frame", &opts).unwrap_err();
        assert!(
            err.message()
                .contains("no column customer_id, product_id, star_rating"),
            "{err}"
        );
        let err = ratings_from_batches([Err::<RecordBatch, _>("boom")], "frame", &opts).unwrap_err();
        assert_eq!(err.message(), "frame: cannot read a batch: boom");
    }

    #[test]
    fn a_batch_input_checks_the_schema_before_the_first_batch() {
        use arrow_array::RecordBatchIterator;
        let a = batch(
            vec![Some("c1"), Some("c2")],
            vec![Some("p1"), None],
            vec![5.0, 4.0],
        );
        let schema = a.schema();
        let input = BatchInput::new(
            "frame",
            RecordBatchIterator::new([Ok(a.clone()), Ok(a)], schema.clone()),
        );
        assert_eq!(input.columns(), ["customer_id", "product_id", "star_rating"]);
        let progress = crate::progress::Progress::new();
        let lenient = ReadOptions {
            max_bad_lines: BadLineLimit::Count(5),
            ..ReadOptions::default()
        };
        let r = input.read(&lenient, Some(&progress)).unwrap();
        assert_eq!((r.stats.input_lines, r.stats.valid), (4, 2));
        assert_eq!(crate::progress::Progress::get(&progress.lines), 4);

        // A wrong column name fails on the schema alone: the failing batch is never pulled.
        let opts = ReadOptions {
            columns: crate::source::ColumnNames {
                rating: "stars".into(),
                ..Default::default()
            },
            ..ReadOptions::default()
        };
        let failing = std::iter::once(Err(ArrowError::ComputeError("pulled".into())));
        let err = BatchInput::new("frame", RecordBatchIterator::new(failing, schema))
            .read(&opts, None)
            .unwrap_err();
        assert!(err.message().starts_with("frame: no column stars"), "{err}");
    }
}
