//! The feature layout of a finished run read back for inference: the manifest's blocks, the
//! category map files, and the side tables looked up by id, so that `encode` gives a pair the
//! keys and values its training row had.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::store::S3Options;

use super::columns::{parse_number, ExtraColumn};
use super::layout::{BlockKind, Layout, MISSING};
use super::side::{self, SideTable};
use super::{ColumnRef, Origin, Transform, OTHER};

/// One side block, ready to encode raw values.
#[derive(Debug)]
enum BlockMap {
    Categorical {
        column: ColumnRef,
        offset: u32,
        index: HashMap<Vec<u8>, u32>,
        other: Option<u32>,
    },
    Numeric {
        column: ColumnRef,
        key: u32,
        transform: Transform,
        stats: (f64, f64),
    },
}

impl BlockMap {
    fn column(&self) -> &ColumnRef {
        match self {
            BlockMap::Categorical { column, .. } | BlockMap::Numeric { column, .. } => column,
        }
    }
}

/// Counters of side features at inference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SideCounts {
    /// Categorical values not in their map: encoded as `__other__` when the block has one.
    pub unseen_to_other: u64,
    /// Categorical values not in their map and left out (the block has no `__other__`).
    pub unseen_omitted: u64,
    /// Lookups of an id absent from its side table (no key in that table's blocks).
    pub side_ids_missing: u64,
}

impl SideCounts {
    /// Whether nothing was counted.
    pub fn is_zero(&self) -> bool {
        *self == SideCounts::default()
    }
}

/// The side blocks of a run, for inference.
#[derive(Debug)]
pub struct FeatureMaps {
    layout: Layout,
    blocks: Vec<BlockMap>,
    customer_table: Option<SideTable>,
    product_table: Option<SideTable>,
    /// Per block, its column's position among its side table's columns.
    table_at: Vec<usize>,
}

/// Read the manifest's `blocks` in `run_dir` (when the run had side features; `None` without a
/// manifest or without blocks).
pub fn read_layout(run_dir: &Path) -> Result<Option<Layout>> {
    let path = run_dir.join(crate::store::MANIFEST);
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(None);
    };
    layout_of_manifest(&bytes, &path.display().to_string())
}

/// The `blocks` of a manifest's bytes, checked; `None` when it has none.
pub fn layout_of_manifest(bytes: &[u8], name: &str) -> Result<Option<Layout>> {
    let m = crate::format::manifest::Manifest::from_json(bytes, name, "the manifest is damaged")?;
    if m.blocks.is_empty() {
        return Ok(None);
    }
    let layout = Layout { blocks: m.blocks };
    layout.check(name)?;
    Ok(Some(layout))
}

/// A category map read back: value → index, and the index of `__other__`.
type CategoryLookup = (HashMap<Vec<u8>, u32>, Option<u32>);

fn parse_category_map(text: &str, name: &str) -> Result<CategoryLookup> {
    let mut lines = text.lines();
    if !lines.next().unwrap_or_default().starts_with("value\tindex") {
        return Err(Error::bad_input(format!(
            "{name}: header is not `value<TAB>index…`; give the output of an fmprep run"
        )));
    }
    let mut index = HashMap::new();
    let mut other = None;
    for (i, line) in lines.enumerate() {
        let mut f = line.split('\t');
        let (value, ix) = (f.next().unwrap_or_default(), f.next().unwrap_or_default());
        if ix.parse::<usize>().ok() != Some(i) {
            return Err(Error::bad_input(format!(
                "{name}: line {}: index {ix:?}, expected {i}",
                i + 2
            )));
        }
        if value == OTHER {
            other = Some(i as u32);
        } else {
            index.insert(value.as_bytes().to_vec(), i as u32);
        }
    }
    Ok((index, other))
}

impl FeatureMaps {
    /// Load the side blocks of the run at `run_dir` (its manifest and `maps/features/`); `None`
    /// when it had none.
    pub fn load(run_dir: &Path) -> Result<Option<FeatureMaps>> {
        let Some(layout) = read_layout(run_dir)? else {
            return Ok(None);
        };
        let mut blocks = Vec::new();
        for b in &layout.blocks {
            let column = ColumnRef::parse(&b.name).map_err(Error::bad_input)?;
            let offset = b.offset as u32;
            match b.kind {
                BlockKind::Customer | BlockKind::Product => continue,
                BlockKind::Categorical => {
                    let rel = b.map.clone().unwrap_or_else(|| super::layout::map_path(&b.name));
                    let path = run_dir.join(&rel);
                    let text =
                        std::fs::read_to_string(&path).map_err(|e| Error::io("cannot read map", &path, e))?;
                    let (index, other) = parse_category_map(&text, &path.display().to_string())?;
                    blocks.push(BlockMap::Categorical {
                        column,
                        offset,
                        index,
                        other,
                    });
                }
                BlockKind::Numeric => blocks.push(BlockMap::Numeric {
                    column,
                    key: offset,
                    transform: b.transform.unwrap_or_default(),
                    stats: (b.mean.unwrap_or(0.0), b.std.unwrap_or(0.0)),
                }),
            }
        }
        let n = blocks.len();
        Ok(Some(FeatureMaps {
            layout,
            blocks,
            customer_table: None,
            product_table: None,
            table_at: vec![0; n],
        }))
    }

    /// The blocks of the run.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Width of the feature vector.
    pub fn feature_dim(&self) -> u64 {
        self.layout.feature_dim()
    }

    /// The columns of `origin`'s side table the blocks need, in block order.
    pub fn table_columns(&self, origin: Origin) -> Vec<ExtraColumn> {
        self.blocks
            .iter()
            .filter(|b| b.column().origin == origin)
            .map(|b| ExtraColumn {
                name: b.column().name.clone(),
                numeric: match b {
                    BlockMap::Numeric { transform, .. } => Some(*transform),
                    _ => None,
                },
            })
            .collect()
    }

    /// Load the side tables the blocks need (`customer_table` / `product_table`, keyed by
    /// `id_cols`); fails when one is needed and not given.
    pub fn attach_tables(
        &mut self,
        customer_table: Option<&str>,
        product_table: Option<&str>,
        id_cols: (&str, &str),
        s3: &S3Options,
    ) -> Result<()> {
        for (origin, spec, id_col, flag) in [
            (Origin::Customer, customer_table, id_cols.0, "--customer-features"),
            (Origin::Product, product_table, id_cols.1, "--product-features"),
        ] {
            let wanted = self.table_columns(origin);
            if wanted.is_empty() {
                continue;
            }
            let Some(spec) = spec else {
                return Err(Error::usage(format!(
                    "the run has {} features ({}); give their table with {flag} FILE",
                    if origin == Origin::Customer {
                        "customer"
                    } else {
                        "product"
                    },
                    wanted
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            let t = side::load(spec, id_col, &wanted, s3)?;
            match origin {
                Origin::Customer => self.customer_table = Some(t),
                _ => self.product_table = Some(t),
            }
        }
        let (mut c, mut p) = (0, 0);
        for (i, b) in self.blocks.iter().enumerate() {
            match b.column().origin {
                Origin::Customer => {
                    self.table_at[i] = c;
                    c += 1;
                }
                Origin::Product => {
                    self.table_at[i] = p;
                    p += 1;
                }
                Origin::Input => {}
            }
        }
        Ok(())
    }

    /// Per block, the position of its input column in the pairs header `header` (`None` for
    /// side-table blocks). Fails when a column is missing.
    pub fn bind_header(&self, header: &[&str], name: &str) -> Result<Vec<Option<usize>>> {
        let mut input_at = vec![None; self.blocks.len()];
        for (i, b) in self.blocks.iter().enumerate() {
            let col = b.column();
            if col.origin != Origin::Input {
                continue;
            }
            match header.iter().position(|h| *h == col.name) {
                Some(at) => input_at[i] = Some(at),
                None => {
                    return Err(Error::bad_input(format!(
                    "{name}: line 1: no column {} (the run has a feature block for it); add it to the pairs",
                    col.name
                )))
                }
            }
        }
        Ok(input_at)
    }

    /// Append the side keys and values of one pair; `fields` is its row of the pairs input.
    /// `input_at` comes from [`FeatureMaps::bind_header`]. Fails on a numeric value that does not
    /// parse.
    #[allow(clippy::too_many_arguments)]
    pub fn row(
        &self,
        input_at: &[Option<usize>],
        fields: &[&str],
        customer: &str,
        product: &str,
        keys: &mut Vec<u64>,
        values: &mut Vec<f32>,
        counts: &mut SideCounts,
    ) -> std::result::Result<(), String> {
        let lookup = |t: &Option<SideTable>, id: &str| {
            t.as_ref()
                .map(|t| t.ids.lookup(id.as_bytes()).unwrap_or(MISSING))
                .unwrap_or(MISSING)
        };
        let (crow, prow) = (
            lookup(&self.customer_table, customer),
            lookup(&self.product_table, product),
        );
        counts.side_ids_missing += u64::from(self.customer_table.is_some() && crow == MISSING)
            + u64::from(self.product_table.is_some() && prow == MISSING);
        for (i, b) in self.blocks.iter().enumerate() {
            let col = b.column();
            // The raw value: from the pairs row, or from the side table row of the id.
            let (table, row) = match col.origin {
                Origin::Input => (None, 0),
                Origin::Customer => (self.customer_table.as_ref(), crow),
                Origin::Product => (self.product_table.as_ref(), prow),
            };
            if col.origin != Origin::Input && row == MISSING {
                continue;
            }
            match b {
                BlockMap::Categorical {
                    offset, index, other, ..
                } => {
                    let hit = match (table, input_at[i]) {
                        (Some(t), _) => match &t.columns[self.table_at[i]].values {
                            super::columns::Values::Categorical { table, codes } => {
                                index.get(table.get(codes[row as usize])).copied()
                            }
                            _ => None,
                        },
                        (None, Some(at)) => index.get(fields[at].as_bytes()).copied(),
                        (None, None) => None,
                    };
                    match (hit, other) {
                        (Some(ix), _) => {
                            keys.push((offset + ix) as u64);
                            values.push(1.0);
                        }
                        (None, Some(o)) => {
                            counts.unseen_to_other += 1;
                            keys.push((offset + o) as u64);
                            values.push(1.0);
                        }
                        (None, None) => counts.unseen_omitted += 1,
                    }
                }
                BlockMap::Numeric {
                    key,
                    transform,
                    stats,
                    ..
                } => {
                    let v = match (table, input_at[i]) {
                        (Some(t), _) => match &t.columns[self.table_at[i]].values {
                            super::columns::Values::Numeric(v) => v[row as usize],
                            _ => f64::NAN,
                        },
                        (None, Some(at)) => {
                            let raw = fields[at];
                            match parse_number(raw.as_bytes()).filter(|&v| transform.accepts(v)) {
                                Some(v) => v,
                                None => {
                                    return Err(format!(
                                        "{} {raw:?} is not a number its transform takes",
                                        col.name
                                    ))
                                }
                            }
                        }
                        (None, None) => f64::NAN,
                    };
                    if v.is_nan() {
                        continue;
                    }
                    let f = transform.apply(v, *stats) as f32;
                    if f != 0.0 {
                        keys.push(*key as u64);
                        values.push(f);
                    }
                }
            }
        }
        Ok(())
    }
}
