//! Side features in the split tables of `preprocess`, read back by `prepare`.
//!
//! With side features, each split CSV has one more column per side block after
//! `customer,product,star_rating`, named like the block: a categorical block holds the value's
//! index within the block, a numeric block the transformed value as stored in the records
//! (shortest exact decimal of the `f32`); an empty field means no key (an id absent from its side
//! table, or a numeric 0). `prepare` finds the blocks in the preprocess manifest and adds the keys
//! at each block's offset, so its records equal `run`'s.
//!
//! `preprocess --format parquet` writes the same columns into its Parquet tables (an `Int64` index
//! or a `Float32` value per block, null for no key; [`parquet`]).

use std::io::Write;

use crate::error::{Error, Result};
use crate::stages::encode::{Encoded, Sample};
use crate::stages::index::Dims;
use crate::store::Source;

use super::layout::{self, BlockKind, Fitted, Layout};

/// Side entries of the rows of one split: `keys[starts[i]..starts[i + 1]]` are row `i`'s.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SideRows {
    /// Row starts, one more than rows.
    pub starts: Vec<usize>,
    /// Global keys, ascending per row.
    pub keys: Vec<u32>,
    /// Values.
    pub values: Vec<f32>,
}

impl SideRows {
    /// The side entries of kept rows `positions` under `fitted`.
    pub fn of(fitted: &Fitted, positions: &[u32]) -> Self {
        let mut s = SideRows {
            starts: Vec::with_capacity(positions.len() + 1),
            ..Default::default()
        };
        s.starts.push(0);
        for &p in positions {
            fitted.row(p, &mut s.keys, &mut s.values);
            s.starts.push(s.keys.len());
        }
        s
    }

    /// Row `i`'s keys and values.
    pub(crate) fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let r = self.starts[i]..self.starts[i + 1];
        (&self.keys[r.clone()], &self.values[r])
    }
}

/// The side blocks of `layout` (everything after customers and products).
pub(crate) fn side_blocks(layout: &Layout) -> &[layout::Block] {
    &layout.blocks[2.min(layout.blocks.len())..]
}

/// Where a split table with side columns is written: `csv_path` (`train/train.csv`), or the
/// `.parquet` beside it for Parquet tables.
pub fn table_path(csv_path: &str, parquet: bool) -> String {
    match parquet {
        true => csv_path.replace(".csv", ".parquet"),
        false => csv_path.to_string(),
    }
}

/// Write a split table with the side columns of `layout`: CSV ([`write_csv`]) or Parquet.
pub fn write<W: Write + Send + ?Sized>(
    out: &mut W,
    samples: &[Sample],
    side: &SideRows,
    layout: &Layout,
    parquet: bool,
) -> std::io::Result<()> {
    if !parquet {
        return write_csv(out, samples, side, layout);
    }
    #[cfg(feature = "parquet")]
    return parquet::write(out, samples, side, layout);
    #[cfg(not(feature = "parquet"))]
    Err(std::io::Error::other("this build has no Parquet support"))
}

/// Read the split table `csv_rel` of a preprocess output with side blocks `layout` at `source`:
/// the CSV, or else the Parquet table beside it; samples checked against `bounds`.
pub fn read_split(
    source: &dyn Source,
    csv_rel: &str,
    delimiter: u8,
    layout: &Layout,
    bounds: Option<(Dims, &str)>,
    cancel: &crate::cancel::Cancel,
) -> Result<(Vec<Sample>, SideRows)> {
    let read = |rel: &str| -> Result<Option<Vec<u8>>> {
        let Some(mut r) = source.open(rel)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut r, &mut bytes)
            .map_err(|e| Error::io("cannot read", format!("{}/{rel}", source.describe()), e))?;
        Ok(Some(bytes))
    };
    let name = format!("{}/{csv_rel}", source.describe());
    if let Some(bytes) = read(csv_rel)? {
        let samples =
            crate::format::preprocessed::read_csv_within(&bytes[..], delimiter, &name, bounds, cancel)?;
        let side = read_csv(&bytes, delimiter, layout, &name)?;
        return Ok((samples, side));
    }
    #[cfg(feature = "parquet")]
    {
        let rel = table_path(csv_rel, true);
        if let Some(bytes) = read(&rel)? {
            let name = format!("{}/{rel}", source.describe());
            let bytes = bytes::Bytes::from(bytes);
            let samples = crate::format::preprocessed::parquet::read_samples(bytes.clone(), &name)?;
            crate::format::preprocessed::check_bounds(&samples, bounds, &name)?;
            let side = parquet::read(bytes, layout, &name)?;
            return Ok((samples, side));
        }
    }
    Err(Error::new(
        source.missing_kind(),
        format!("{name}: not found; a preprocess output with side features has CSV or Parquet tables"),
    ))
}

/// Write a split CSV with the side columns of `layout`.
pub fn write_csv<W: Write + ?Sized>(
    out: &mut W,
    samples: &[Sample],
    side: &SideRows,
    layout: &Layout,
) -> std::io::Result<()> {
    let blocks = side_blocks(layout);
    let mut head = crate::format::preprocessed::HEADER.to_string();
    for b in blocks {
        head.push(',');
        head.push_str(&b.name);
    }
    head.push('\n');
    out.write_all(head.as_bytes())?;
    let mut base = Vec::new();
    let mut line = String::new();
    for (i, s) in samples.iter().enumerate() {
        base.clear();
        crate::format::preprocessed::write_csv(&mut base, std::slice::from_ref(s))?;
        // The one data line after the header line.
        let data = &base[crate::format::preprocessed::HEADER.len() + 1..base.len() - 1];
        out.write_all(data)?;
        let (keys, values) = side.row(i);
        line.clear();
        let mut k = 0;
        for b in blocks {
            line.push(',');
            if k < keys.len() && b.contains(keys[k] as u64) {
                match b.kind {
                    BlockKind::Categorical => line.push_str(&(keys[k] as u64 - b.offset).to_string()),
                    _ => line.push_str(&values[k].to_string()),
                }
                k += 1;
            }
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Read the side columns of a split CSV written by [`write_csv`] (`bytes`, the whole file).
pub fn read_csv(bytes: &[u8], delimiter: u8, layout: &Layout, name: &str) -> Result<SideRows> {
    let blocks = side_blocks(layout);
    let mut lines = bytes.split(|&b| b == b'\n');
    let header: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .strip_suffix(b"\r")
        .unwrap_or_else(|| bytes.split(|&b| b == b'\n').next().unwrap_or_default())
        .split(|&b| b == delimiter)
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .collect();
    let mut at = Vec::new();
    for b in blocks {
        match header.iter().position(|h| *h == b.name) {
            Some(i) => at.push(i),
            None => {
                return Err(Error::bad_input(format!(
                    "{name}: line 1: no column {} though the manifest lists that feature block; the \
                     tables and the manifest are of different runs, re-run preprocess",
                    b.name
                )))
            }
        }
    }
    let mut side = SideRows {
        starts: vec![0],
        ..Default::default()
    };
    for (n, line) in lines.enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&[u8]> = line.split(|&b| b == delimiter).collect();
        for (b, &i) in blocks.iter().zip(&at) {
            let f = std::str::from_utf8(fields.get(i).copied().unwrap_or_default())
                .unwrap_or("?")
                .trim();
            if f.is_empty() {
                continue;
            }
            let bad = || {
                Error::bad_input(format!(
                    "{name}: line {}: {} {f:?} is not a {} of that block; is this a preprocess output?",
                    n + 2,
                    b.name,
                    if b.kind == BlockKind::Categorical {
                        "index"
                    } else {
                        "number"
                    }
                ))
            };
            match b.kind {
                BlockKind::Categorical => {
                    let i: u64 = f.parse().map_err(|_| bad())?;
                    if i >= b.size {
                        return Err(bad());
                    }
                    side.keys.push((b.offset + i) as u32);
                    side.values.push(1.0);
                }
                _ => {
                    let v: f32 = f.parse().ok().filter(|v: &f32| v.is_finite()).ok_or_else(bad)?;
                    if v != 0.0 {
                        side.keys.push(b.offset as u32);
                        side.values.push(v);
                    }
                }
            }
        }
        side.starts.push(side.keys.len());
    }
    Ok(side)
}

/// The CSR of `samples` with their side entries `side`, `feature_dim` wide.
pub fn encode(samples: &[Sample], side: &SideRows, dims: Dims, feature_dim: u64) -> Result<Encoded> {
    if side.starts.len() != samples.len() + 1 {
        return Err(Error::bad_input(format!(
            "{} rows of ratings but {} of side features",
            samples.len(),
            side.starts.len().saturating_sub(1)
        )));
    }
    layout::encode_rows(samples, dims, feature_dim, |i, keys, values| {
        let (k, v) = side.row(i);
        keys.extend_from_slice(k);
        values.extend_from_slice(v);
    })
}

/// Side features in the Parquet split tables of `preprocess --format parquet` (cargo feature
/// `parquet`), read back by `prepare`: one column per side block after
/// `customer,product,star_rating`, named like the block, null where the row has no key. A
/// categorical block holds the value's index within the block (`Int64`), a numeric block the
/// value as stored in the records (`Float32`, so nothing is rounded twice).
#[cfg(feature = "parquet")]
pub mod parquet {
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float32Type, Float64Type};
    use arrow_array::{Array, ArrayRef, Float32Array, Int64Array};
    use arrow_schema::{DataType, Field};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use crate::error::{Error, Result};
    use crate::stages::encode::Sample;

    use super::super::layout::{Block, BlockKind, Layout};
    use super::{side_blocks, SideRows};

    /// The entry of row `i` of `side` in each block of `blocks` (`None`: no key there), as the key's
    /// offset within its block and its value.
    fn entries(side: &SideRows, i: usize, blocks: &[Block]) -> Vec<Option<(u64, f32)>> {
        let (keys, values) = side.row(i);
        let mut k = 0;
        blocks
            .iter()
            .map(|b| {
                let hit = k < keys.len() && b.contains(keys[k] as u64);
                hit.then(|| {
                    k += 1;
                    (keys[k - 1] as u64 - b.offset, values[k - 1])
                })
            })
            .collect()
    }

    /// Write `samples` with their side entries `side` as a Parquet table.
    pub fn write<W: std::io::Write + Send + ?Sized>(
        out: &mut W,
        samples: &[Sample],
        side: &SideRows,
        layout: &Layout,
    ) -> std::io::Result<()> {
        let blocks = side_blocks(layout);
        let fields = blocks
            .iter()
            .map(|b| match b.kind {
                BlockKind::Categorical => Field::new(&b.name, DataType::Int64, true),
                _ => Field::new(&b.name, DataType::Float32, true),
            })
            .collect();
        let columns = |rows: std::ops::Range<usize>| -> Vec<ArrayRef> {
            let per_row: Vec<Vec<Option<(u64, f32)>>> = rows.map(|i| entries(side, i, blocks)).collect();
            (blocks.iter().enumerate())
                .map(|(n, b)| -> ArrayRef {
                    let col = per_row.iter().map(|e| e[n]);
                    match b.kind {
                        BlockKind::Categorical => {
                            Arc::new(col.map(|e| e.map(|(i, _)| i as i64)).collect::<Int64Array>())
                        }
                        _ => Arc::new(col.map(|e| e.map(|(_, v)| v)).collect::<Float32Array>()),
                    }
                })
                .collect()
        };
        crate::format::preprocessed::parquet::write_samples_with(out, samples, fields, columns).map(|_| ())
    }

    /// Read the side columns of a Parquet split table written by [`write()`] (`bytes`, the whole file,
    /// called `name` in messages).
    pub fn read(bytes: bytes::Bytes, layout: &Layout, name: &str) -> Result<SideRows> {
        let blocks = side_blocks(layout);
        let bad = |e: &dyn std::fmt::Display| {
            Error::bad_input(format!("{name}: not a readable Parquet table: {e}"))
        };
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .map_err(|e| bad(&e))?
            .build()
            .map_err(|e| bad(&e))?;
        let mut side = SideRows {
            starts: vec![0],
            ..Default::default()
        };
        for batch in reader {
            let batch = batch.map_err(|e| bad(&e))?;
            // Per block: the index (categorical) or value (numeric) of each row of the batch.
            let mut cols: Vec<Vec<Option<f64>>> = Vec::with_capacity(blocks.len());
            for b in blocks {
                let Some(a) = batch.column_by_name(&b.name) else {
                    return Err(Error::bad_input(format!(
                        "{name}: no column {} though the manifest lists that feature block; the tables \
                         and the manifest are of different runs, re-run preprocess",
                        b.name
                    )));
                };
                cols.push(match a.data_type() {
                    DataType::Float32 => a
                        .as_primitive::<Float32Type>()
                        .iter()
                        .map(|v| v.map(f64::from))
                        .collect(),
                    DataType::Float64 => a.as_primitive::<Float64Type>().iter().collect(),
                    _ => crate::source::arrow::cast_i64(a, &b.name, name)?
                        .iter()
                        .map(|v| v.map(|x| x as f64))
                        .collect(),
                });
            }
            for i in 0..batch.num_rows() {
                let row = side.starts.len();
                for (b, col) in blocks.iter().zip(&cols) {
                    let Some(v) = col[i] else { continue };
                    let wrong = || {
                        Error::bad_input(format!(
                            "{name}: row {row}: {} {v} is not {} of that block; is this a preprocess output?",
                            b.name,
                            if b.kind == BlockKind::Categorical {
                                "an index"
                            } else {
                                "a number"
                            }
                        ))
                    };
                    match b.kind {
                        BlockKind::Categorical => {
                            if v < 0.0 || v >= b.size as f64 || v.fract() != 0.0 {
                                return Err(wrong());
                            }
                            side.keys.push((b.offset + v as u64) as u32);
                            side.values.push(1.0);
                        }
                        _ => {
                            let v = v as f32;
                            if !v.is_finite() {
                                return Err(wrong());
                            }
                            if v != 0.0 {
                                side.keys.push(b.offset as u32);
                                side.values.push(v);
                            }
                        }
                    }
                }
                side.starts.push(side.keys.len());
            }
        }
        Ok(side)
    }
}
