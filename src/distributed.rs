//! The kernels of a distributed run (cargo feature `arrow`): what the tasks of the Spark job
//! (`fmprep.spark` in the Python package) run on the executors, on Arrow batches, while the engine
//! does the global work (counts, joins, the sort) with its own operators.
//!
//! * [`parse_file`]: one text file (gzip or not) into Arrow batches of valid rows with their
//!   input position, by fmprep's own reader and line checks, plus the file's read counters and
//!   first bad lines, so that the counts and the `--max-bad-lines` check add up over files to what
//!   a single-machine run reports.
//! * [`encode_records`] / [`encode_batch`]: rows in index space into framed RecordIO-protobuf
//!   records, byte for byte what `fmprep run` writes for the same rows in the same order.
//!
//! Input order over several files is (file number, line number); [`position`] packs both into
//! one sortable `i64` so that "first in input order" is a `min` over one column.

use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, Float32Builder, Int64Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::error::{Error, Result};
use crate::format::recordio::encode_sparse_record;
use crate::source::decompress::Input;
use crate::source::tsv::rows::{read_rows, FileRows};
use crate::source::ReadOptions;
use crate::stages::index::Dims;
use crate::stages::split::hash::row_key;

/// Bits of a [`position`] that hold the line number: 2^40 lines (a trillion) per file, 2^23
/// files (8 million), and the packed value stays a non-negative `i64`.
pub const LINE_BITS: u32 = 40;

/// The input position of line `line` of file number `file` (0 for the first file of the input),
/// ordered as the input is read: by file, then by line.
pub fn position(file: u32, line: u64) -> Result<i64> {
    if file >= 1 << (63 - LINE_BITS) || line >= 1 << LINE_BITS {
        return Err(Error::bad_input(format!(
            "input position out of range: file {file}, line {line} (at most {} files of {} lines)",
            1u64 << (63 - LINE_BITS),
            1u64 << LINE_BITS
        )));
    }
    Ok(((file as i64) << LINE_BITS) | line as i64)
}

/// The `--shuffle hash` key of a row ([`row_key`]) as an `i64` that sorts as the unsigned key
/// does (the top bit flipped): engines without unsigned 64-bit integers (Spark) sort by it.
pub fn split_key(seed: u64, customer_id: &[u8], product_id: &[u8]) -> i64 {
    (row_key(seed, customer_id, product_id) ^ (1 << 63)) as i64
}

/// The schema of [`parse_file`]'s batches: `customer_id` and `product_id` (UTF-8, as in the
/// input), `rating` (the label value, e.g. `5.0`), `product_title` (the raw bytes: titles are
/// copied into the product map byte for byte, valid UTF-8 or not), `pos` ([`position`]) and
/// `key` ([`split_key`]).
pub fn rows_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Utf8, false),
        Field::new("product_id", DataType::Utf8, false),
        Field::new("rating", DataType::Float32, false),
        Field::new("product_title", DataType::Binary, false),
        Field::new("pos", DataType::Int64, false),
        Field::new("key", DataType::Int64, false),
    ]))
}

/// Parse the text file `input` (file number `file` of the job's input) with fmprep's reader, keys
/// for `--shuffle hash --seed seed`, and
/// hand its valid rows to `each` as batches of at most `batch_rows` rows ([`rows_schema`]), in
/// line order. Returns the file's header and counters; the bad-line limit is the caller's to
/// check on the totals over all files (a fraction is of all lines).
///
/// Fails on a missing required column, a read or decompression error, a position out of range,
/// and with what `each` returns.
pub fn parse_file(
    input: Input,
    file: u32,
    seed: u64,
    opts: &ReadOptions,
    batch_rows: usize,
    each: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<FileRows> {
    let batch_rows = batch_rows.max(1);
    let mut out = Batcher::new(batch_rows);
    let read = read_rows(input, opts, &mut |chunk| {
        for r in &chunk.rows {
            let (c, p) = (chunk.bytes(r.customer), chunk.bytes(r.product));
            out.push(
                c,
                p,
                r.half_steps as f32 / 2.0,
                chunk.bytes(r.title),
                position(file, r.line)?,
                split_key(seed, c, p),
            );
            if out.len == batch_rows {
                each(out.finish()?)?;
            }
        }
        Ok(())
    })?;
    if out.len > 0 {
        each(out.finish()?)?;
    }
    Ok(read)
}

/// Column builders of one batch of rows.
struct Batcher {
    customer: StringBuilder,
    product: StringBuilder,
    rating: Float32Builder,
    title: BinaryBuilder,
    pos: Int64Builder,
    key: Int64Builder,
    len: usize,
    cap: usize,
}

impl Batcher {
    fn new(cap: usize) -> Self {
        Batcher {
            customer: StringBuilder::with_capacity(cap, cap * 16),
            product: StringBuilder::with_capacity(cap, cap * 12),
            rating: Float32Builder::with_capacity(cap),
            title: BinaryBuilder::with_capacity(cap, cap * 48),
            pos: Int64Builder::with_capacity(cap),
            key: Int64Builder::with_capacity(cap),
            len: 0,
            cap,
        }
    }

    fn push(&mut self, customer: &[u8], product: &[u8], rating: f32, title: &[u8], pos: i64, key: i64) {
        // The reader let only UTF-8 ids through (`invalid_utf8_id` otherwise).
        self.customer
            .append_value(std::str::from_utf8(customer).expect("ids are checked UTF-8"));
        self.product
            .append_value(std::str::from_utf8(product).expect("ids are checked UTF-8"));
        self.rating.append_value(rating);
        self.title.append_value(title);
        self.pos.append_value(pos);
        self.key.append_value(key);
        self.len += 1;
    }

    fn finish(&mut self) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.customer.finish()),
            Arc::new(self.product.finish()),
            Arc::new(self.rating.finish()),
            Arc::new(self.title.finish()),
            Arc::new(self.pos.finish()),
            Arc::new(self.key.finish()),
        ];
        *self = Batcher::new(self.cap);
        RecordBatch::try_new(rows_schema(), columns)
            .map_err(|e| Error::new(crate::ErrorKind::Internal, format!("a parsed batch: {e}")))
    }
}

/// Append the framed RecordIO-protobuf records of rows `(customers[i], products[i], labels[i])`
/// (indices as [`crate::stages::index`] numbers them) to `out`: the features are `1.0` at `customer` and
/// at `n_customers + product`, the label is the label, exactly as [`crate::stages::encode::encode`] and
/// [`crate::format::recordio::write_records`] write them.
///
/// Fails when the slices differ in length or an index is outside `dims`.
pub fn encode_records(
    customers: &[u32],
    products: &[u32],
    labels: &[f32],
    dims: Dims,
    out: &mut Vec<u8>,
) -> Result<()> {
    if customers.len() != products.len() || customers.len() != labels.len() {
        return Err(Error::bad_input(format!(
            "encode_records: {} customers, {} products and {} labels; one each per row",
            customers.len(),
            products.len(),
            labels.len()
        )));
    }
    let dim = dims.feature_dim();
    out.reserve(customers.len() * 64);
    for ((&c, &p), &label) in customers.iter().zip(products).zip(labels) {
        if c as u64 >= dims.n_customers || p as u64 >= dims.n_products {
            return Err(Error::bad_input(format!(
                "encode_records: row (customer {c}, product {p}) outside {} customers x {} products",
                dims.n_customers, dims.n_products
            )));
        }
        let keys = [c, (dims.n_customers + p as u64) as u32];
        encode_sparse_record(out, &keys, &[1.0, 1.0], dim, label);
    }
    Ok(())
}

/// Index columns of a batch as `u32`: Spark hands integers over as `int32` or `int64`.
fn index_column(batch: &RecordBatch, name: &str) -> Result<Vec<u32>> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| Error::bad_input(format!("encode_batch: no column {name:?}")))?;
    if col.null_count() > 0 {
        return Err(Error::bad_input(format!(
            "encode_batch: column {name:?} has nulls"
        )));
    }
    let bad = |v: i64| Error::bad_input(format!("encode_batch: {name} {v} is not an index"));
    match col.data_type() {
        DataType::Int32 => col
            .as_primitive::<Int32Type>()
            .values()
            .iter()
            .map(|&v| u32::try_from(v).map_err(|_| bad(v as i64)))
            .collect(),
        DataType::Int64 => col
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .map(|&v| u32::try_from(v).map_err(|_| bad(v)))
            .collect(),
        t => Err(Error::bad_input(format!(
            "encode_batch: column {name:?} is {t}, not int32/int64"
        ))),
    }
}

/// [`encode_records`] over a batch with integer columns `customer` and `product` and a float
/// column `label` (`float32`, or `float64` narrowed as `fmprep run` narrows labels to `f32`).
pub fn encode_batch(batch: &RecordBatch, dims: Dims, out: &mut Vec<u8>) -> Result<()> {
    let customers = index_column(batch, "customer")?;
    let products = index_column(batch, "product")?;
    let col = batch
        .column_by_name("label")
        .ok_or_else(|| Error::bad_input("encode_batch: no column \"label\""))?;
    if col.null_count() > 0 {
        return Err(Error::bad_input("encode_batch: column \"label\" has nulls"));
    }
    let labels: Vec<f32> = match col.data_type() {
        DataType::Float32 => col.as_primitive::<Float32Type>().values().to_vec(),
        DataType::Float64 => col
            .as_primitive::<arrow_array::types::Float64Type>()
            .values()
            .iter()
            .map(|&v| v as f32)
            .collect(),
        t => {
            return Err(Error::bad_input(format!(
                "encode_batch: column \"label\" is {t}, not a float"
            )))
        }
    };
    encode_records(&customers, &products, &labels, dims, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::decompress::open_source;
    use crate::stages::encode::{encode, Sample};
    use arrow_array::{Float32Array, Int32Array, Int64Array};

    fn input(text: &[u8]) -> Input {
        open_source(
            "part.tsv".into(),
            Box::new(std::io::Cursor::new(text.to_vec())),
            None,
        )
        .unwrap()
    }

    #[test]
    fn encoded_records_are_what_run_writes() {
        let dims = Dims {
            n_customers: 300,
            n_products: 70_000,
        };
        let samples: Vec<Sample> = (0..500u32)
            .map(|i| Sample {
                customer: (i * 7) % 300,
                product: (i * 131) % 70_000,
                label: (1 + i % 5) as f32,
            })
            .collect();
        let enc = encode(&samples, dims).unwrap();
        let mut want = Vec::new();
        crate::format::recordio::write_records(&mut want, &enc, 0..samples.len()).unwrap();
        let batch = RecordBatch::try_from_iter([
            (
                "customer",
                Arc::new(Int32Array::from_iter_values(
                    samples.iter().map(|s| s.customer as i32),
                )) as ArrayRef,
            ),
            (
                "product",
                Arc::new(Int64Array::from_iter_values(
                    samples.iter().map(|s| s.product as i64),
                )) as ArrayRef,
            ),
            (
                "label",
                Arc::new(Float32Array::from_iter_values(samples.iter().map(|s| s.label))) as ArrayRef,
            ),
        ])
        .unwrap();
        let mut got = Vec::new();
        encode_batch(&batch, dims, &mut got).unwrap();
        assert_eq!(got, want);
        // An index outside the dimensions is an error, not a record of another row.
        let small = Dims {
            n_customers: 10,
            n_products: 10,
        };
        assert!(encode_batch(&batch, small, &mut Vec::new()).is_err());
        assert!(encode_records(&[0], &[], &[1.0], small, &mut Vec::new()).is_err());
    }

    #[test]
    fn parsed_batches_hold_valid_rows_with_positions() {
        let text = b"marketplace\tcustomer_id\tproduct_id\tproduct_title\tstar_rating\n\
            US\tc1\tp1\tTitle \xff\t5\n\
            US\tc2\tp2\tT2\tfive\n\
            US\tc3\tp1\tT3\t2\n";
        let mut batches = Vec::new();
        let read = parse_file(input(text), 3, 42, &ReadOptions::default(), 1, &mut |b| {
            batches.push(b);
            Ok(())
        })
        .unwrap();
        assert_eq!(batches.len(), 2);
        assert_eq!(read.stats.bad_lines.bad_star_rating, 1);
        assert_eq!(read.stats.examples[0].line, 3);
        let b = &batches[0];
        assert_eq!(b.schema(), rows_schema());
        assert_eq!(b.column(0).as_string::<i32>().value(0), "c1");
        assert_eq!(b.column(2).as_primitive::<Float32Type>().value(0), 5.0);
        assert_eq!(b.column(3).as_binary::<i32>().value(0), b"Title \xff");
        assert_eq!(
            b.column(4).as_primitive::<Int64Type>().value(0),
            (3 << LINE_BITS) | 2
        );
        let b = &batches[1];
        assert_eq!(
            b.column(4).as_primitive::<Int64Type>().value(0),
            (3 << LINE_BITS) | 4
        );
    }

    #[test]
    fn split_keys_sort_as_unsigned_keys() {
        let rows: Vec<(String, String)> = (0..200)
            .map(|i| (format!("c{i}"), format!("p{}", i % 13)))
            .collect();
        let mut by_u64: Vec<usize> = (0..rows.len()).collect();
        by_u64.sort_by_key(|&i| row_key(9, rows[i].0.as_bytes(), rows[i].1.as_bytes()));
        let mut by_i64: Vec<usize> = (0..rows.len()).collect();
        by_i64.sort_by_key(|&i| split_key(9, rows[i].0.as_bytes(), rows[i].1.as_bytes()));
        assert_eq!(by_u64, by_i64);
    }

    #[test]
    fn positions_order_by_file_then_line() {
        assert!(position(0, 99).unwrap() < position(1, 2).unwrap());
        assert!(position(1 << 23, 2).is_err());
        assert!(position(0, 1 << 40).is_err());
    }

    #[test]
    fn a_missing_column_fails() {
        let err = parse_file(
            input(b"a\tb\n1\t2\n"),
            0,
            42,
            &ReadOptions::default(),
            10,
            &mut |_| Ok(()),
        )
        .unwrap_err();
        assert!(err.to_string().contains("customer_id"), "{err}");
    }
}
