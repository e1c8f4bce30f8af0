//! The split tables of `preprocess --format parquet` (cargo feature `parquet`): written by
//! [`write_samples`], read back by `prepare` through [`read_samples`]. Columns `customer`,
//! `product` (indices) and `star_rating`.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type};
use arrow_array::{Array, ArrayRef, Float32Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};
use crate::source::arrow::cast_i64;
use crate::stages::encode::Sample;

/// The split tables' schema: `customer`, `product` (indices) and `star_rating` (Int64 when every
/// label is whole, as the CSVs write them; Float32 otherwise), then `extra` columns.
fn table_schema(float_labels: bool, extra: Vec<Field>) -> Arc<Schema> {
    let label = if float_labels {
        DataType::Float32
    } else {
        DataType::Int64
    };
    let mut fields = vec![
        Field::new("customer", DataType::Int64, false),
        Field::new("product", DataType::Int64, false),
        Field::new("star_rating", label, false),
    ];
    fields.extend(extra);
    Arc::new(Schema::new(fields))
}

/// Write `samples` as a snappy-compressed Parquet table. Returns the number of rows.
pub fn write_samples<W: std::io::Write + Send>(out: W, samples: &[Sample]) -> std::io::Result<u64> {
    write_samples_with(out, samples, Vec::new(), |_| Vec::new())
}

/// Write `samples` as [`write_samples`] does, with more columns after `star_rating`: `extra`
/// describes them, and `columns(rows)` gives their arrays for the samples at `rows` (side
/// features).
pub fn write_samples_with<W: std::io::Write + Send>(
    out: W,
    samples: &[Sample],
    extra: Vec<Field>,
    columns: impl Fn(std::ops::Range<usize>) -> Vec<ArrayRef>,
) -> std::io::Result<u64> {
    let float_labels = samples.iter().any(|s| s.label.fract() != 0.0);
    let schema = table_schema(float_labels, extra);
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let io = |e: parquet::errors::ParquetError| std::io::Error::other(e.to_string());
    let mut writer = ArrowWriter::try_new(out, Arc::clone(&schema), Some(props)).map_err(io)?;
    for (n, chunk) in samples.chunks(1 << 20).enumerate() {
        let customers: Int64Array = chunk.iter().map(|s| s.customer as i64).collect();
        let products: Int64Array = chunk.iter().map(|s| s.product as i64).collect();
        let labels: ArrayRef = if float_labels {
            Arc::new(chunk.iter().map(|s| s.label).collect::<Float32Array>())
        } else {
            Arc::new(chunk.iter().map(|s| s.label as i64).collect::<Int64Array>())
        };
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(customers), Arc::new(products), labels];
        arrays.extend(columns(n << 20..(n << 20) + chunk.len()));
        let batch = RecordBatch::try_new(Arc::clone(&schema), arrays)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        writer.write(&batch).map_err(io)?;
    }
    writer.close().map_err(io)?;
    Ok(samples.len() as u64)
}

/// Check that the Parquet table `bytes` has the columns [`read_samples`] needs, reading only its
/// schema (for `prepare --dry-run`).
pub fn check_columns(bytes: bytes::Bytes, name: &str) -> Result<()> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| Error::bad_input(format!("{name}: not a readable Parquet table: {e}")))?;
    let schema = builder.schema();
    let has = |names: &[&str]| names.iter().any(|n| schema.field_with_name(n).is_ok());
    if has(&["customer", "user"]) && has(&["product", "item"]) && has(&["star_rating", "rating"]) {
        Ok(())
    } else {
        Err(Error::bad_input(format!(
            "{name}: lacks a customer, product or star_rating column"
        )))
    }
}

/// Read a split table written by [`write_samples`] (or any Parquet file with integer `customer`
/// and `product` and numeric `star_rating`/`rating` columns).
pub fn read_samples(bytes: bytes::Bytes, name: &str) -> Result<Vec<Sample>> {
    let bad =
        |e: &dyn std::fmt::Display| Error::bad_input(format!("{name}: not a readable Parquet table: {e}"));
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| bad(&e))?
        .build()
        .map_err(|e| bad(&e))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| bad(&e))?;
        let get = |names: &[&str]| names.iter().find_map(|n| batch.column_by_name(n));
        let (Some(c), Some(p), Some(l)) = (
            get(&["customer", "user"]),
            get(&["product", "item"]),
            get(&["star_rating", "rating"]),
        ) else {
            return Err(Error::bad_input(format!(
                "{name}: lacks a customer, product or star_rating column"
            )));
        };
        let (c, p) = (cast_i64(c, "customer", name)?, cast_i64(p, "product", name)?);
        let labels: Vec<Option<f32>> = match l.data_type() {
            DataType::Float32 => l.as_primitive::<Float32Type>().iter().collect(),
            DataType::Float64 => l
                .as_primitive::<Float64Type>()
                .iter()
                .map(|v| v.map(|x| x as f32))
                .collect(),
            _ => cast_i64(l, "star_rating", name)?
                .iter()
                .map(|v| v.map(|x| x as f32))
                .collect(),
        };
        for (i, label) in labels.into_iter().enumerate() {
            let idx = |a: &Int64Array, what: &str| -> Result<u32> {
                a.is_valid(i)
                    .then(|| a.value(i))
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| {
                        Error::bad_input(format!("{name}: row {}: {what} is not an index", out.len() + 1))
                    })
            };
            let label = label.filter(|v| v.is_finite()).ok_or_else(|| {
                Error::bad_input(format!(
                    "{name}: row {}: star_rating is not a number",
                    out.len() + 1
                ))
            })?;
            out.push(Sample {
                customer: idx(&c, "customer")?,
                product: idx(&p, "product")?,
                label,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_round_trip_with_whole_and_half_labels() {
        for labels in [[5.0f32, 1.0], [3.5, 4.0]] {
            let s = vec![
                Sample {
                    customer: 0,
                    product: 7,
                    label: labels[0],
                },
                Sample {
                    customer: 3,
                    product: 1,
                    label: labels[1],
                },
            ];
            let mut buf = Vec::new();
            assert_eq!(write_samples(&mut buf, &s).unwrap(), 2);
            assert_eq!(&buf[..4], b"PAR1");
            assert_eq!(read_samples(bytes::Bytes::from(buf), "t.parquet").unwrap(), s);
        }
    }
}
