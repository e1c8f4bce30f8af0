//! Side features in the split tables of `preprocess`, read back by `prepare`.
//!
//! With side features, each split CSV has one more column per side block after
//! `customer,product,star_rating`, named like the block: a categorical block holds the value's
//! index within the block, a numeric block the transformed value as stored in the records
//! (shortest exact decimal of the `f32`); an empty field means no key (an id absent from its side
//! table, or a numeric 0). `prepare` finds the blocks in the preprocess manifest and adds the keys
//! at each block's offset, so its records equal `run`'s.

use std::io::Write;

use crate::encode::{Encoded, Sample};
use crate::error::{Error, Result};
use crate::index::Dims;

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

    fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let r = self.starts[i]..self.starts[i + 1];
        (&self.keys[r.clone()], &self.values[r])
    }
}

/// The side blocks of `layout` (everything after customers and products).
fn side_blocks(layout: &Layout) -> &[layout::Block] {
    &layout.blocks[2.min(layout.blocks.len())..]
}

/// Write a split CSV with the side columns of `layout`.
pub fn write_csv<W: Write + ?Sized>(
    out: &mut W,
    samples: &[Sample],
    side: &SideRows,
    layout: &Layout,
) -> std::io::Result<()> {
    let blocks = side_blocks(layout);
    let mut head = crate::preprocessed::HEADER.to_string();
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
        crate::preprocessed::write_csv(&mut base, std::slice::from_ref(s))?;
        // The one data line after the header line.
        let data = &base[crate::preprocessed::HEADER.len() + 1..base.len() - 1];
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
