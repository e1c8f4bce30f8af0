//! From a parsed, filtered and split dataset to fitted feature blocks: the per-row values of
//! every feature column are looked up for the kept rows (input columns through each kept row's
//! raw row, side-table columns through its customer or product id) and [`layout::fit`] indexes
//! them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::Result;
use crate::model::{KeyTable, Rating, Ratings};
use crate::stages::index::Dims;
use crate::store::S3Options;

use super::columns::Values;
use super::layout::{self, Fitted, KeptColumn, KeptValues, Layout, MISSING};
use super::side::{self, SideTable};
use super::{FeatureOptions, Origin};

/// How a side table joined the kept rows, for the manifest.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct SideTableStats {
    /// The table as given.
    pub path: String,
    /// Its rows.
    pub rows: u64,
    /// Kept customers (or products) with no row in it.
    pub ids_missing: u64,
    /// Kept rating rows whose id has no row in it.
    pub rows_missing: u64,
}

/// The fitted side features of a run.
#[derive(Debug)]
pub struct Features {
    /// The blocks, for the manifest.
    pub layout: Layout,
    /// The encoders.
    pub fitted: Fitted,
    /// `customer` / `product` side tables and how they joined.
    pub side_tables: BTreeMap<String, SideTableStats>,
}

/// Per kept row, the position of its raw row in `ratings.rows`: the first row of its (customer,
/// product) pair, the one de-duplication keeps.
pub fn raw_positions(rows: &[Rating], ratings: &Ratings) -> Vec<u32> {
    let hasher = foldhash::fast::FixedState::with_seed(13);
    let mut first: hashbrown::HashMap<u64, u32, _> =
        hashbrown::HashMap::with_capacity_and_hasher(rows.len(), hasher);
    for r in rows {
        first.insert(r.pair(), u32::MAX);
    }
    for (i, r) in ratings.rows.iter().enumerate() {
        if let Some(slot) = first.get_mut(&r.pair()) {
            if *slot == u32::MAX {
                *slot = i as u32;
            }
        }
    }
    rows.iter().map(|r| first[&r.pair()]).collect()
}

/// Load the side tables `opts` names, keyed by `customer_col` / `product_col`.
pub fn load_tables(
    opts: &FeatureOptions,
    customer_col: &str,
    product_col: &str,
    s3: &S3Options,
) -> Result<(Option<SideTable>, Option<SideTable>)> {
    let load = |spec: &Option<String>, origin, id_col: &str| -> Result<Option<SideTable>> {
        let wanted = opts.table_columns(origin);
        match spec {
            Some(spec) => side::load(spec, id_col, &wanted, s3).map(Some),
            None => Ok(None),
        }
    };
    Ok((
        load(&opts.customer_table, Origin::Customer, customer_col)?,
        load(&opts.product_table, Origin::Product, product_col)?,
    ))
}

/// Fit the feature blocks of `opts` on the kept `rows` (`train`: positions of the train split).
/// `None` when `opts` asks for no side feature.
pub fn build(
    opts: &FeatureOptions,
    ratings: &Ratings,
    tables: (Option<SideTable>, Option<SideTable>),
    rows: &[Rating],
    train: &[u32],
    dims: Dims,
) -> Result<Option<Features>> {
    if opts.is_empty() {
        return Ok(None);
    }
    let raw = opts
        .all_columns()
        .any(|(c, _)| c.origin == Origin::Input)
        .then(|| raw_positions(rows, ratings));
    let (customers, products) = tables;
    let mut side_tables = BTreeMap::new();
    // Per kept row, its row in each side table.
    let mut join = |table: &Option<SideTable>, name: &str, keys: &KeyTable, code: fn(Rating) -> u32| {
        table.as_ref().map(|t| {
            let of_code = t.rows_of(keys);
            let per_row: Vec<u32> = rows.iter().map(|&r| of_code[code(r) as usize]).collect();
            let mut seen = vec![false; of_code.len()];
            let mut ids_missing = 0;
            for &r in rows {
                let c = code(r) as usize;
                if !seen[c] {
                    seen[c] = true;
                    ids_missing += u64::from(of_code[c] == MISSING);
                }
            }
            side_tables.insert(
                name.to_string(),
                SideTableStats {
                    path: t.name.clone(),
                    rows: t.rows() as u64,
                    ids_missing,
                    rows_missing: per_row.iter().filter(|&&x| x == MISSING).count() as u64,
                },
            );
            per_row
        })
    };
    let customer_rows = join(&customers, "customer", &ratings.customers, Rating::customer);
    let product_rows = join(&products, "product", &ratings.products, Rating::product);
    let (mut next_input, mut next_c, mut next_p) = (0usize, 0usize, 0usize);
    let mut columns = Vec::new();
    for (col, transform) in opts.all_columns() {
        let (source, at) = match col.origin {
            Origin::Input => {
                next_input += 1;
                (
                    &ratings.side[next_input - 1],
                    raw.as_deref().expect("raw positions"),
                )
            }
            Origin::Customer => {
                next_c += 1;
                let t = customers.as_ref().expect("validated: customer table given");
                (&t.columns[next_c - 1], customer_rows.as_deref().expect("joined"))
            }
            Origin::Product => {
                next_p += 1;
                let t = products.as_ref().expect("validated: product table given");
                (&t.columns[next_p - 1], product_rows.as_deref().expect("joined"))
            }
        };
        let values = match &source.values {
            Values::Categorical { table, codes } => KeptValues::Categorical {
                table,
                codes: at
                    .iter()
                    .map(|&i| if i == MISSING { MISSING } else { codes[i as usize] })
                    .collect(),
            },
            Values::Numeric(v) => KeptValues::Numeric(
                at.iter()
                    .map(|&i| if i == MISSING { f64::NAN } else { v[i as usize] })
                    .collect(),
            ),
        };
        columns.push(KeptColumn {
            column: col.clone(),
            transform,
            values,
        });
    }
    let (layout, fitted) = layout::fit(dims, columns, opts.min_category_count, train)?;
    Ok(Some(Features {
        layout,
        fitted,
        side_tables,
    }))
}
