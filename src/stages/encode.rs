//! One-hot encoding of ratings into a sparse CSR matrix (sprs) and a label vector.
//!
//! Row `i` of a split is rating `i` of that split; it has exactly two non-zeros, both 1.0: at
//! column `customer_index` and at column `n_customers + product_index`, so column indices within a
//! row are strictly increasing (CSR's sorted-indices invariant holds by construction).

use rayon::prelude::*;
use sprs::CsMatI;

use crate::error::{Error, Result};
use crate::model::Rating;
use crate::stages::index::{Dims, Index};
use crate::stages::label::LabelOptions;

/// The sparse matrix type of a split: f32 values, u32 column indices, usize row pointers.
pub type Csr = CsMatI<f32, u32, usize>;

/// One rating in index space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Customer index, `0..n_customers`.
    pub customer: u32,
    /// Product index, `0..n_products` (not yet offset by `n_customers`).
    pub product: u32,
    /// The label (star rating).
    pub label: f32,
}

/// An encoded split: features and labels, row for row.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// `rows x feature_dim` one-hot features.
    pub features: Csr,
    /// One label per row.
    pub labels: Vec<f32>,
}

/// The samples of the rows at `positions` (one split, in its order), labelled with the rating.
pub fn samples(rows: &[Rating], positions: &[u32], index: &Index) -> Vec<Sample> {
    samples_labeled(rows, positions, index, &LabelOptions::default())
}

/// The samples of the rows at `positions`, with labels made by `label`.
pub fn samples_labeled(
    rows: &[Rating],
    positions: &[u32],
    index: &Index,
    label: &LabelOptions,
) -> Vec<Sample> {
    positions
        .par_iter()
        .map(|&pos| {
            let r = rows[pos as usize];
            Sample {
                customer: index.customers.index_of[r.customer() as usize],
                product: index.products.index_of[r.product() as usize],
                label: label.label(r),
            }
        })
        .collect()
}

/// Build the CSR features and labels of `samples`. Fails when an index is outside `dims`.
pub fn encode(samples: &[Sample], dims: Dims) -> Result<Encoded> {
    let feature_dim = dims.feature_dim();
    if feature_dim > u32::MAX as u64 {
        return Err(Error::bad_input(format!(
            "feature_dim {feature_dim} does not fit in 32 bits"
        )));
    }
    if let Some(bad) = samples
        .iter()
        .position(|s| s.customer as u64 >= dims.n_customers || s.product as u64 >= dims.n_products)
    {
        let s = samples[bad];
        return Err(Error::bad_input(format!(
            "row {bad}: customer index {} / product index {} outside 0..{} / 0..{}",
            s.customer, s.product, dims.n_customers, dims.n_products
        )));
    }
    let offset = dims.n_customers as u32;
    let mut indices = vec![0u32; samples.len() * 2];
    indices
        .par_chunks_mut(2)
        .zip(samples.par_iter())
        .for_each(|(pair, s)| {
            pair[0] = s.customer;
            pair[1] = offset + s.product;
        });
    let indptr: Vec<usize> = (0..=samples.len()).map(|i| 2 * i).collect();
    let data = vec![1.0f32; samples.len() * 2];
    let features = CsMatI::try_new((samples.len(), feature_dim as usize), indptr, indices, data)
        .map_err(|(_, _, _, e)| Error::new(crate::ErrorKind::Internal, format!("invalid CSR: {e}")))?;
    let labels = samples.iter().map(|s| s.label).collect();
    Ok(Encoded { features, labels })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_ones_per_row_at_customer_and_offset_product() {
        let dims = Dims {
            n_customers: 3,
            n_products: 2,
        };
        let s = [
            Sample {
                customer: 0,
                product: 1,
                label: 5.0,
            },
            Sample {
                customer: 2,
                product: 0,
                label: 3.0,
            },
        ];
        let e = encode(&s, dims).unwrap();
        assert_eq!(e.features.shape(), (2, 5));
        let rows: Vec<Vec<(usize, f32)>> = e
            .features
            .outer_iterator()
            .map(|r| r.iter().map(|(c, &v)| (c, v)).collect())
            .collect();
        assert_eq!(rows, vec![vec![(0, 1.0), (4, 1.0)], vec![(2, 1.0), (3, 1.0)]]);
        assert_eq!(e.labels, vec![5.0, 3.0]);
    }

    #[test]
    fn out_of_range_index_is_rejected() {
        let dims = Dims {
            n_customers: 1,
            n_products: 1,
        };
        let err = encode(
            &[Sample {
                customer: 0,
                product: 1,
                label: 1.0,
            }],
            dims,
        )
        .unwrap_err();
        assert!(err.message().contains("outside"), "{err}");
    }
}
