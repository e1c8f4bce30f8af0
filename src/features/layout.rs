//! Fitting the feature blocks on the kept rows and encoding rows with them.
//!
//! [`fit`] takes every feature column as one value per kept (de-duplicated) row
//! ([`KeptColumn`]) and returns the [`Layout`] (blocks, offsets, statistics, for the manifest)
//! and the [`Fitted`] encoders; [`Fitted::encode`] turns the samples of a split into its CSR
//! matrix with the extra blocks. Nothing here iterates a hash map, so the output depends only on
//! the rows.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sprs::CsMatI;

use crate::error::{Error, ErrorKind, Result};
use crate::model::KeyTable;
use crate::stages::encode::{Encoded, Sample};
use crate::stages::index::Dims;

use super::{ColumnRef, Transform, OTHER};

/// Marks a kept row without a value (its id is absent from the side table).
pub const MISSING: u32 = u32::MAX;

/// The values of one feature column on the kept rows, in kept-row order.
#[derive(Debug)]
pub enum KeptValues<'a> {
    /// Codes into `table` ([`MISSING`] for no value).
    Categorical {
        /// Distinct values by code.
        table: &'a KeyTable,
        /// Per kept row.
        codes: Vec<u32>,
    },
    /// Values before the transform (NaN for no value).
    Numeric(Vec<f64>),
}

/// One feature column on the kept rows.
#[derive(Debug)]
pub struct KeptColumn<'a> {
    /// The column as named.
    pub column: ColumnRef,
    /// The transform of a numeric column.
    pub transform: Option<Transform>,
    /// The values.
    pub values: KeptValues<'a>,
}

/// What a block holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockKind {
    /// Customer one-hot.
    Customer,
    /// Product one-hot.
    Product,
    /// One-hot of a categorical column.
    Categorical,
    /// One numeric value.
    Numeric,
}

/// One block of the feature vector, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// `customer`, `product`, or the column as named (`vine`, `product.brand`).
    pub name: String,
    /// What it holds.
    pub kind: BlockKind,
    /// Its first key.
    pub offset: u64,
    /// Its number of keys.
    pub size: u64,
    /// Numeric: the transform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<Transform>,
    /// Numeric, standardize: the train split's mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// Numeric, standardize: the train split's population standard deviation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<f64>,
    /// Categorical: index within the block of `__other__`, when rare values were folded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<u64>,
    /// Categorical: the map file (value, index, count), relative to the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<String>,
    /// Side-table columns: kept rows whose id has no row in the table (no key in this block).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_rows: Option<u64>,
}

impl Block {
    /// Whether `key` falls in this block.
    pub fn contains(&self, key: u64) -> bool {
        key >= self.offset && key < self.offset + self.size
    }
}

/// The blocks of a run, in key order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    /// Blocks; each starts where the previous ends.
    pub blocks: Vec<Block>,
}

impl Layout {
    /// The customer and product blocks of `dims`.
    pub fn base(dims: Dims) -> Self {
        let block = |name: &str, kind, offset, size| Block {
            name: name.to_string(),
            kind,
            offset,
            size,
            transform: None,
            mean: None,
            std: None,
            other: None,
            map: None,
            missing_rows: None,
        };
        Layout {
            blocks: vec![
                block("customer", BlockKind::Customer, 0, dims.n_customers),
                block("product", BlockKind::Product, dims.n_customers, dims.n_products),
            ],
        }
    }

    /// Total width: the end of the last block.
    pub fn feature_dim(&self) -> u64 {
        self.blocks.last().map_or(0, |b| b.offset + b.size)
    }

    /// The block holding `key`.
    pub fn block_of(&self, key: u64) -> Option<&Block> {
        // Blocks are sorted by offset and contiguous.
        let i = self.blocks.partition_point(|b| b.offset + b.size <= key);
        self.blocks.get(i).filter(|b| b.contains(key))
    }

    /// Check that blocks are contiguous from 0 (a manifest read back must be).
    pub fn check(&self, name: &str) -> Result<()> {
        let mut end = 0;
        for b in &self.blocks {
            if b.offset != end {
                return Err(Error::bad_input(format!(
                    "{name}: block {} starts at {} but the previous block ends at {end}; the manifest is damaged",
                    b.name, b.offset
                )));
            }
            end = b.offset + b.size;
        }
        Ok(())
    }
}

/// The index of one categorical column: its values in index order with their kept-row counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CategoryIndex {
    /// `index_of[code]`: the value's index in the block ([`MISSING`] for a code no kept row has).
    pub index_of: Vec<u32>,
    /// Values that have their own slot, in index order.
    pub values: Vec<Vec<u8>>,
    /// Kept rows per value, in index order.
    pub counts: Vec<u64>,
    /// Kept rows of the values folded into `__other__` (0 when nothing was folded).
    pub other_rows: u64,
    /// Values folded into `__other__`.
    pub other_values: u64,
}

impl CategoryIndex {
    /// Index the codes present in `codes` (one per kept row): descending count, ties by first
    /// appearance; codes with fewer than `min_count` rows fold into `__other__`.
    pub fn fit(table: &KeyTable, codes: &[u32], min_count: u32) -> Self {
        let mut counts = vec![0u64; table.len()];
        let mut first = Vec::new();
        for &c in codes {
            if c == MISSING {
                continue;
            }
            if counts[c as usize] == 0 {
                first.push(c);
            }
            counts[c as usize] += 1;
        }
        // Stable: first appearance breaks ties.
        first.sort_by_key(|&c| std::cmp::Reverse(counts[c as usize]));
        let mut ix = CategoryIndex {
            index_of: vec![MISSING; table.len()],
            ..Default::default()
        };
        let mut folded = Vec::new();
        for c in first {
            let n = counts[c as usize];
            if n < min_count as u64 {
                folded.push(c);
                ix.other_rows += n;
                continue;
            }
            ix.index_of[c as usize] = ix.values.len() as u32;
            ix.values.push(table.get(c).to_vec());
            ix.counts.push(n);
        }
        ix.other_values = folded.len() as u64;
        if let Some(other) = ix.other() {
            for c in folded {
                ix.index_of[c as usize] = other as u32;
            }
        }
        ix
    }

    /// Index of `__other__` in the block, when something was folded.
    pub fn other(&self) -> Option<u64> {
        (self.other_values > 0).then_some(self.values.len() as u64)
    }

    /// Keys in the block.
    pub fn size(&self) -> u64 {
        self.values.len() as u64 + u64::from(self.other_values > 0)
    }

    /// Write the map file: `value<TAB>index<TAB>count`, header first, in index order, then
    /// `__other__` when present.
    pub fn write_map<W: std::io::Write + ?Sized>(&self, out: &mut W) -> std::io::Result<()> {
        out.write_all(b"value\tindex\tcount\n")?;
        let mut num = itoa::Buffer::new();
        let mut line = |out: &mut W, v: &[u8], i: usize, n: u64| -> std::io::Result<()> {
            // A tab or newline inside a value would break the table; such values are rare in
            // categorical columns and are written escaped.
            if v.iter().any(|&b| b == b'\t' || b == b'\n' || b == b'\r') {
                out.write_all(String::from_utf8_lossy(v).escape_debug().to_string().as_bytes())?;
            } else {
                out.write_all(v)?;
            }
            out.write_all(b"\t")?;
            out.write_all(num.format(i).as_bytes())?;
            out.write_all(b"\t")?;
            out.write_all(num.format(n).as_bytes())?;
            out.write_all(b"\n")
        };
        for (i, (v, &n)) in self.values.iter().zip(&self.counts).enumerate() {
            line(out, v, i, n)?;
        }
        if let Some(o) = self.other() {
            line(out, OTHER.as_bytes(), o as usize, self.other_rows)?;
        }
        Ok(())
    }
}

/// Mean and population standard deviation of the values at the `train` kept rows (NaN values
/// skipped), summed in kept-row order so the figures do not depend on the shuffle.
pub fn train_stats(values: &[f64], train: &[u32]) -> (f64, f64) {
    let mut is_train = vec![false; values.len()];
    for &p in train {
        is_train[p as usize] = true;
    }
    let picked = || {
        values
            .iter()
            .zip(&is_train)
            .filter(|(v, &t)| t && !v.is_nan())
            .map(|(v, _)| *v)
    };
    let n = picked().count();
    if n == 0 {
        return (0.0, 0.0);
    }
    let mean = picked().sum::<f64>() / n as f64;
    let var = picked().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
    (mean, var.sqrt())
}

/// One fitted column.
#[derive(Debug)]
enum Encoder {
    Categorical {
        codes: Vec<u32>,
        index: CategoryIndex,
        offset: u32,
    },
    Numeric {
        values: Vec<f64>,
        transform: Transform,
        stats: (f64, f64),
        key: u32,
    },
}

/// The fitted columns, ready to encode splits.
#[derive(Debug)]
pub struct Fitted {
    encoders: Vec<Encoder>,
    feature_dim: u64,
}

/// A categorical column's index with its name, for writing map files.
pub struct CategoryMap<'a> {
    /// The column as named.
    pub column: String,
    /// Where the manifest says its map is.
    pub path: String,
    /// The index.
    pub index: &'a CategoryIndex,
}

/// The map file of a categorical column: `maps/features/<name>.tsv`, characters other than
/// letters, digits, `.`, `-` and `_` replaced by `_`.
pub fn map_path(column: &str) -> String {
    let safe: String = column
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("maps/features/{safe}.tsv")
}

/// Fit the blocks of `columns` after the customer and product blocks of `dims`; `train` are the
/// kept-row positions of the train split (for `standardize`).
pub fn fit(
    dims: Dims,
    columns: Vec<KeptColumn<'_>>,
    min_category_count: u32,
    train: &[u32],
) -> Result<(Layout, Fitted)> {
    let mut layout = Layout::base(dims);
    let mut encoders = Vec::new();
    for col in columns {
        let offset = layout.feature_dim();
        let name = col.column.to_string();
        let side = col.column.origin != super::Origin::Input;
        let mut block = Block {
            name: name.clone(),
            kind: BlockKind::Numeric,
            offset,
            size: 1,
            transform: col.transform,
            mean: None,
            std: None,
            other: None,
            map: None,
            missing_rows: None,
        };
        let key = u32::try_from(offset).map_err(|_| too_wide(offset))?;
        match col.values {
            KeptValues::Categorical { table, codes } => {
                let index = CategoryIndex::fit(table, &codes, min_category_count);
                block.kind = BlockKind::Categorical;
                block.size = index.size();
                block.other = index.other();
                block.map = Some(map_path(&name));
                if side {
                    block.missing_rows = Some(codes.iter().filter(|&&c| c == MISSING).count() as u64);
                }
                encoders.push(Encoder::Categorical {
                    codes,
                    index,
                    offset: key,
                });
            }
            KeptValues::Numeric(values) => {
                let transform = col.transform.unwrap_or_default();
                let stats = if transform == Transform::Standardize {
                    let s = train_stats(&values, train);
                    (block.mean, block.std) = (Some(s.0), Some(s.1));
                    s
                } else {
                    (0.0, 0.0)
                };
                if side {
                    block.missing_rows = Some(values.iter().filter(|v| v.is_nan()).count() as u64);
                }
                encoders.push(Encoder::Numeric {
                    values,
                    transform,
                    stats,
                    key,
                });
            }
        }
        layout.blocks.push(block);
    }
    let feature_dim = layout.feature_dim();
    if feature_dim > u32::MAX as u64 {
        return Err(too_wide(feature_dim));
    }
    Ok((
        layout,
        Fitted {
            encoders,
            feature_dim,
        },
    ))
}

fn too_wide(dim: u64) -> Error {
    Error::bad_input(format!("feature_dim {dim} does not fit in 32 bits"))
}

impl Fitted {
    /// Width of the feature vector.
    pub fn feature_dim(&self) -> u64 {
        self.feature_dim
    }

    /// The categorical indices, in block order, with their map paths.
    pub fn category_maps(&self, layout: &Layout) -> Vec<CategoryMap<'_>> {
        let cats = layout.blocks.iter().filter(|b| b.kind == BlockKind::Categorical);
        let idx = self.encoders.iter().filter_map(|e| match e {
            Encoder::Categorical { index, .. } => Some(index),
            _ => None,
        });
        cats.zip(idx)
            .map(|(b, index)| CategoryMap {
                column: b.name.clone(),
                path: b.map.clone().unwrap_or_else(|| map_path(&b.name)),
                index,
            })
            .collect()
    }

    /// Append the side keys and values of kept row `pos` (ascending keys).
    #[inline]
    pub fn row(&self, pos: u32, keys: &mut Vec<u32>, values: &mut Vec<f32>) {
        for e in &self.encoders {
            match e {
                Encoder::Categorical { codes, index, offset } => {
                    let code = codes[pos as usize];
                    if code != MISSING {
                        let i = index.index_of[code as usize];
                        if i != MISSING {
                            keys.push(offset + i);
                            values.push(1.0);
                        }
                    }
                }
                Encoder::Numeric {
                    values: raw,
                    transform,
                    stats,
                    key,
                } => {
                    let v = raw[pos as usize];
                    if !v.is_nan() {
                        let f = transform.apply(v, *stats) as f32;
                        if f != 0.0 {
                            keys.push(*key);
                            values.push(f);
                        }
                    }
                }
            }
        }
    }

    /// The CSR of one split: `samples[i]` is kept row `positions[i]`; customer and product keys
    /// as in [`crate::stages::encode::encode`], then the side keys.
    pub fn encode(&self, samples: &[Sample], positions: &[u32], dims: Dims) -> Result<Encoded> {
        debug_assert_eq!(samples.len(), positions.len());
        encode_rows(samples, dims, self.feature_dim, |i, keys, values| {
            self.row(positions[i], keys, values)
        })
    }
}

/// The CSR of `samples`, `feature_dim` wide: the customer and product keys of row `i`, then
/// what `side(i, keys, values)` appends (ascending keys after the product block).
pub fn encode_rows(
    samples: &[Sample],
    dims: Dims,
    feature_dim: u64,
    side: impl Fn(usize, &mut Vec<u32>, &mut Vec<f32>) + Sync,
) -> Result<Encoded> {
    const BLOCK: usize = 16_384;
    let offset = dims.n_customers as u32;
    let parts: Vec<(Vec<u32>, Vec<f32>, Vec<u32>)> = samples
        .par_chunks(BLOCK)
        .enumerate()
        .map(|(b, s)| {
            let (mut keys, mut values) = (Vec::with_capacity(s.len() * 4), Vec::with_capacity(s.len() * 4));
            let mut lens = Vec::with_capacity(s.len());
            for (j, s) in s.iter().enumerate() {
                let start = keys.len();
                keys.extend_from_slice(&[s.customer, offset + s.product]);
                values.extend_from_slice(&[1.0, 1.0]);
                side(b * BLOCK + j, &mut keys, &mut values);
                lens.push((keys.len() - start) as u32);
            }
            (keys, values, lens)
        })
        .collect();
    let nnz: usize = parts.iter().map(|p| p.0.len()).sum();
    let mut indptr = Vec::with_capacity(samples.len() + 1);
    indptr.push(0usize);
    let (mut indices, mut data) = (Vec::with_capacity(nnz), Vec::with_capacity(nnz));
    for (k, v, lens) in parts {
        for l in lens {
            indptr.push(indptr.last().copied().unwrap_or(0) + l as usize);
        }
        indices.extend(k);
        data.extend(v);
    }
    let features = CsMatI::try_new((samples.len(), feature_dim as usize), indptr, indices, data)
        .map_err(|(_, _, _, e)| Error::new(ErrorKind::Internal, format!("invalid CSR: {e}")))?;
    Ok(Encoded {
        features,
        labels: samples.iter().map(|s| s.label).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Origin;

    fn table(values: &[&str]) -> KeyTable {
        let mut t = KeyTable::new();
        for v in values {
            t.intern(v.as_bytes());
        }
        t
    }

    #[test]
    fn categories_by_count_then_first_appearance_with_other() {
        let t = table(&["a", "b", "c", "d"]);
        // counts: a 1, b 3, c 3 (c first seen before b), d 2
        let codes = [2, 0, 1, 2, 1, 3, 2, 1, 3, MISSING];
        let ix = CategoryIndex::fit(&t, &codes, 1);
        assert_eq!(
            ix.values,
            vec![b"c".to_vec(), b"b".to_vec(), b"d".to_vec(), b"a".to_vec()]
        );
        assert_eq!(ix.counts, vec![3, 3, 2, 1]);
        assert_eq!(ix.other(), None);
        let ix = CategoryIndex::fit(&t, &codes, 3);
        assert_eq!(ix.values, vec![b"c".to_vec(), b"b".to_vec()]);
        assert_eq!((ix.other(), ix.other_rows, ix.other_values), (Some(2), 3, 2));
        assert_eq!(ix.index_of, vec![2, 1, 0, 2]);
        let mut out = Vec::new();
        ix.write_map(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "value\tindex\tcount\nc\t0\t3\nb\t1\t3\n__other__\t2\t3\n"
        );
    }

    /// The SDK's bytes for the rows of `tests/fixtures/sdk/side_features.json` (made by
    /// `make_side_features.py` with `write_spmatrix_to_sparse_tensor`).
    #[test]
    fn sdk_fixture() {
        let spec: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/sdk/side_features.json")).unwrap();
        let want = include_bytes!("../../tests/fixtures/sdk/side_features.protobuf");
        let nums = |k: &str| -> Vec<f64> {
            spec[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        };
        let dims = Dims {
            n_customers: spec["n_customers"].as_u64().unwrap(),
            n_products: spec["n_products"].as_u64().unwrap(),
        };
        let (c, p, l) = (nums("customer"), nums("product"), nums("label"));
        let samples: Vec<Sample> = (0..c.len())
            .map(|i| Sample {
                customer: c[i] as u32,
                product: p[i] as u32,
                label: l[i] as f32,
            })
            .collect();
        let mut t = KeyTable::new();
        let codes = spec["vine"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| t.intern(v.as_str().unwrap().as_bytes()))
            .collect();
        let col = |name: &str| ColumnRef {
            origin: Origin::Input,
            name: name.into(),
        };
        let cols = vec![
            KeptColumn {
                column: col("vine"),
                transform: None,
                values: KeptValues::Categorical { table: &t, codes },
            },
            KeptColumn {
                column: col("helpful_votes"),
                transform: Some(Transform::Log1p),
                values: KeptValues::Numeric(nums("helpful_votes")),
            },
            KeptColumn {
                column: col("age"),
                transform: Some(Transform::Standardize),
                values: KeptValues::Numeric(nums("age")),
            },
        ];
        let train: Vec<u32> = nums("train").iter().map(|&x| x as u32).collect();
        let min = spec["min_category_count"].as_u64().unwrap() as u32;
        let (layout, fitted) = fit(dims, cols, min, &train).unwrap();
        assert_eq!(layout.feature_dim(), spec["feature_dim"].as_u64().unwrap());
        assert_eq!(layout.blocks[4].mean, spec["mean"].as_f64());
        assert_eq!(layout.blocks[4].std, spec["std"].as_f64());
        let positions: Vec<u32> = (0..samples.len() as u32).collect();
        let enc = fitted.encode(&samples, &positions, dims).unwrap();
        let mut got = Vec::new();
        crate::format::recordio::write_records(&mut got, &enc, 0..samples.len()).unwrap();
        assert_eq!(got, want.to_vec());
    }

    #[test]
    fn standardize_uses_train_rows_only() {
        let v = [1.0, 3.0, 100.0, f64::NAN];
        let (m, s) = train_stats(&v, &[1, 0, 3]);
        assert_eq!((m, s), (2.0, 1.0));
    }

    #[test]
    fn rows_get_ascending_keys_and_zeros_are_not_stored() {
        let dims = Dims {
            n_customers: 2,
            n_products: 3,
        };
        let t = table(&["N", "Y"]);
        let cols = vec![
            KeptColumn {
                column: ColumnRef {
                    origin: Origin::Input,
                    name: "vine".into(),
                },
                transform: None,
                values: KeptValues::Categorical {
                    table: &t,
                    codes: vec![0, 1, 0],
                },
            },
            KeptColumn {
                column: ColumnRef {
                    origin: Origin::Input,
                    name: "votes".into(),
                },
                transform: Some(Transform::Log1p),
                values: KeptValues::Numeric(vec![0.0, 1.0, 3.0]),
            },
        ];
        let (layout, fitted) = fit(dims, cols, 1, &[0, 1, 2]).unwrap();
        assert_eq!(layout.feature_dim(), 2 + 3 + 2 + 1);
        assert_eq!(layout.block_of(5).unwrap().name, "vine");
        assert_eq!(layout.block_of(7).unwrap().name, "votes");
        assert!(layout.block_of(8).is_none());
        let samples = [
            Sample {
                customer: 1,
                product: 2,
                label: 5.0,
            },
            Sample {
                customer: 0,
                product: 0,
                label: 1.0,
            },
        ];
        let enc = fitted.encode(&samples, &[0, 1], dims).unwrap();
        let rows: Vec<Vec<(usize, f32)>> = enc
            .features
            .outer_iterator()
            .map(|r| r.iter().map(|(c, &v)| (c, v)).collect())
            .collect();
        assert_eq!(rows[0], vec![(1, 1.0), (4, 1.0), (5, 1.0)]);
        assert_eq!(rows[1], vec![(0, 1.0), (2, 1.0), (6, 1.0), (7, 2f64.ln() as f32)]);
    }
}
