//! Sequential indices for customers and products, and the maps saved for inference.
//!
//! Indices are assigned on the de-duplicated rows: by descending number of rows, ties broken by
//! first appearance in those rows. Customers are numbered `0..n_customers`, products
//! `0..n_products`; in the feature vector products start at column `n_customers`.

use serde::Serialize;

use crate::model::{Rating, Ratings};
use crate::stages::filter::count_codes;

/// Marks a code that has no index (its rows were all filtered out).
pub const NO_INDEX: u32 = u32::MAX;

/// The index assignment of one id space (customers or products).
#[derive(Debug, Clone, Default)]
pub struct Numbering {
    /// `index_of[code]`: the index of the id with that code, or [`NO_INDEX`].
    pub index_of: Vec<u32>,
    /// `code_of[index]`: the code holding that index.
    pub code_of: Vec<u32>,
    /// `count_of[index]`: rows of that id after de-duplication.
    pub count_of: Vec<u32>,
}

impl Numbering {
    /// Number the codes that occur in `rows`: descending count, ties by first appearance.
    pub fn assign(rows: &[Rating], n_codes: usize, code: impl Fn(Rating) -> u32) -> Self {
        let counts = count_codes(rows, n_codes, &code);
        let mut first_seen = Vec::new();
        let mut seen = vec![false; n_codes];
        for &r in rows {
            let c = code(r) as usize;
            if !seen[c] {
                seen[c] = true;
                first_seen.push(c as u32);
            }
        }
        // Stable sort keeps first-appearance order among equal counts.
        let mut code_of = first_seen;
        code_of.sort_by_key(|&c| std::cmp::Reverse(counts[c as usize]));
        let mut index_of = vec![NO_INDEX; n_codes];
        for (i, &c) in code_of.iter().enumerate() {
            index_of[c as usize] = i as u32;
        }
        let count_of = code_of.iter().map(|&c| counts[c as usize]).collect();
        Numbering {
            index_of,
            code_of,
            count_of,
        }
    }

    /// Number of indexed ids.
    pub fn len(&self) -> usize {
        self.code_of.len()
    }

    /// Whether nothing was indexed.
    pub fn is_empty(&self) -> bool {
        self.code_of.is_empty()
    }
}

/// Customer and product indices of a dataset.
#[derive(Debug, Clone, Default)]
pub struct Index {
    /// Customer numbering.
    pub customers: Numbering,
    /// Product numbering.
    pub products: Numbering,
}

/// Sizes of an index, as reported in the manifest.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Dims {
    /// Number of customers (the first columns of the feature vector).
    pub n_customers: u64,
    /// Number of products (the columns after the customers).
    pub n_products: u64,
}

impl Dims {
    /// Width of the one-hot feature vector: customers then products.
    pub fn feature_dim(&self) -> u64 {
        self.n_customers + self.n_products
    }
}

impl Index {
    /// Index the ids present in `rows` (the de-duplicated rows).
    pub fn build(rows: &[Rating], ratings: &Ratings) -> Self {
        Index {
            customers: Numbering::assign(rows, ratings.customers.len(), Rating::customer),
            products: Numbering::assign(rows, ratings.products.len(), Rating::product),
        }
    }

    /// The sizes of this index.
    pub fn dims(&self) -> Dims {
        Dims {
            n_customers: self.customers.len() as u64,
            n_products: self.products.len() as u64,
        }
    }
}

/// Write `customer_id<TAB>index<TAB>count` lines, header first, in index order.
pub fn write_customer_map<W: std::io::Write + ?Sized>(
    out: &mut W,
    index: &Index,
    ratings: &Ratings,
) -> std::io::Result<()> {
    out.write_all(b"customer_id\tindex\tcount\n")?;
    let n = &index.customers;
    let mut num = itoa::Buffer::new();
    for (i, &code) in n.code_of.iter().enumerate() {
        out.write_all(ratings.customers.get(code))?;
        out.write_all(b"\t")?;
        out.write_all(num.format(i).as_bytes())?;
        out.write_all(b"\t")?;
        out.write_all(num.format(n.count_of[i]).as_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Write `product_id<TAB>index<TAB>count<TAB>product_title` lines, header first, in index order.
/// Titles are copied byte for byte (the input has no tabs or newlines inside fields).
pub fn write_product_map<W: std::io::Write + ?Sized>(
    out: &mut W,
    index: &Index,
    ratings: &Ratings,
) -> std::io::Result<()> {
    out.write_all(b"product_id\tindex\tcount\tproduct_title\n")?;
    let n = &index.products;
    let mut num = itoa::Buffer::new();
    for (i, &code) in n.code_of.iter().enumerate() {
        out.write_all(ratings.products.get(code))?;
        out.write_all(b"\t")?;
        out.write_all(num.format(i).as_bytes())?;
        out.write_all(b"\t")?;
        out.write_all(num.format(n.count_of[i]).as_bytes())?;
        out.write_all(b"\t")?;
        out.write_all(ratings.titles.get(code as usize))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descending_count_ties_by_first_appearance_in_kept_rows() {
        // Customer codes by raw first appearance: z=0, a=1, b=2. In the rows indexed, b appears
        // before a, both twice; z once.
        let r = Ratings::from_triples([
            ("z", "p", 1),
            ("b", "p", 1),
            ("a", "q", 1),
            ("b", "q", 2),
            ("a", "p", 3),
        ]);
        let idx = Index::build(&r.rows, &r);
        let names: Vec<&[u8]> = idx
            .customers
            .code_of
            .iter()
            .map(|&c| r.customers.get(c))
            .collect();
        assert_eq!(names, vec![&b"b"[..], b"a", b"z"]);
        assert_eq!(idx.customers.count_of, vec![2, 2, 1]);
        // Products: p has 3 rows, q 2.
        assert_eq!(
            idx.products
                .code_of
                .iter()
                .map(|&c| r.products.get(c))
                .collect::<Vec<_>>(),
            vec![&b"p"[..], b"q"]
        );
        assert_eq!(idx.dims().feature_dim(), 5);
    }

    #[test]
    fn numbering_is_a_permutation_and_unused_codes_have_no_index() {
        let r = Ratings::from_triples([("a", "p", 1), ("b", "p", 1), ("c", "p", 1)]);
        let kept = vec![r.rows[0], r.rows[2]];
        let n = Numbering::assign(&kept, r.customers.len(), Rating::customer);
        assert_eq!(n.index_of, vec![0, NO_INDEX, 1]);
        let mut seen: Vec<u32> = n.code_of.iter().map(|&c| n.index_of[c as usize]).collect();
        seen.sort();
        assert_eq!(seen, vec![0, 1]);
    }

    #[test]
    fn maps_are_written_in_index_order() {
        let r = Ratings::from_triples([("007", "B1", 5), ("7", "B1", 4), ("7", "B2", 4)]);
        let idx = Index::build(&r.rows, &r);
        let mut out = Vec::new();
        write_customer_map(&mut out, &idx, &r).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "customer_id\tindex\tcount\n7\t0\t2\n007\t1\t1\n"
        );
        let mut out = Vec::new();
        write_product_map(&mut out, &idx, &r).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "product_id\tindex\tcount\tproduct_title\nB1\t0\t2\t\nB2\t1\t1\t\n"
        );
    }
}
