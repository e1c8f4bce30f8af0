//! Candidate feature columns at a glance (`fmprep explore --cardinality COL,...`): distinct
//! values, whether every value is a number, and the most frequent values, on the valid rows.

use serde::Serialize;

use crate::model::Ratings;

use super::columns::{parse_number, Values};

/// What one candidate column looks like.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnStats {
    /// Header name.
    pub name: String,
    /// Distinct values on the valid rows (the size of its `--categorical` block before the
    /// long-tail filter and `--min-category-count`).
    pub distinct: u64,
    /// Whether every value parses as a number (a `--numeric` candidate).
    pub numeric: bool,
    /// Up to five most frequent values with their rows, most frequent first (ties by first
    /// appearance).
    pub top: Vec<(String, u64)>,
}

/// The statistics of every column captured in `ratings.side` (read as categorical).
pub fn column_stats(ratings: &Ratings) -> Vec<ColumnStats> {
    ratings
        .side
        .iter()
        .filter_map(|c| match &c.values {
            Values::Categorical { table, codes } => {
                let mut counts = vec![0u64; table.len()];
                for &code in codes {
                    counts[code as usize] += 1;
                }
                // Codes are in first-appearance order, so a stable sort breaks ties by it.
                let mut order: Vec<u32> = (0..table.len() as u32).collect();
                order.sort_by_key(|&i| std::cmp::Reverse(counts[i as usize]));
                Some(ColumnStats {
                    name: c.spec.name.clone(),
                    distinct: table.len() as u64,
                    numeric: !table.is_empty() && table.iter().all(|v| parse_number(v).is_some()),
                    top: order
                        .iter()
                        .take(5)
                        .map(|&i| {
                            (
                                String::from_utf8_lossy(table.get(i)).into_owned(),
                                counts[i as usize],
                            )
                        })
                        .collect(),
                })
            }
            Values::Numeric(_) => None,
        })
        .collect()
}
