//! `--shuffle hash`: a split defined row by row, so that a distributed job can compute it.
//!
//! The default shuffles draw one permutation of all `n` rows, so a row's place depends on every
//! other row. Here each de-duplicated row gets a key that depends only on the seed and its own
//! ids:
//!
//! ```text
//! key = SipHash-2-4(k0 = seed, k1 = 0,
//!                   message = u32_le(len(customer_id)) || customer_id || product_id)
//! ```
//!
//! with the ids as the raw bytes of the input fields. Rows are ordered by ascending key (as an
//! unsigned 64-bit integer), ties by input position, and that order is cut at `floor(f_train n)`
//! and `floor((f_train + f_validate) n)` like the other shuffles. Records of each split are listed
//! in that order. `docs/spark.md` spells the function out with a Python reference.
//!
//! In holdout-last mode membership is decided by the data as always and the key order only lists
//! the rows; by-customer mode needs a customer shuffle and is not defined for this shuffle.

use crate::error::{Error, Result};
use crate::model::{Rating, Ratings};
use crate::stages::split::cut::Split;
use crate::stages::split::membership::{by_membership, holdout_last_of};
use crate::stages::split::options::{SplitMode, SplitOptions};

/// One SipHash round on the four state words.
#[inline(always)]
fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

/// An incremental SipHash-2-4 over byte slices, written here so the key stream is part of the
/// file format (like [`crate::stages::split::rng`]) and needs no per-part allocation.
struct Sip24 {
    v: [u64; 4],
    tail: u64,
    ntail: usize,
    len: usize,
}

impl Sip24 {
    fn new(k0: u64, k1: u64) -> Self {
        Sip24 {
            v: [
                k0 ^ 0x736f_6d65_7073_6575,
                k1 ^ 0x646f_7261_6e64_6f6d,
                k0 ^ 0x6c79_6765_6e65_7261,
                k1 ^ 0x7465_6462_7974_6573,
            ],
            tail: 0,
            ntail: 0,
            len: 0,
        }
    }

    #[inline(always)]
    fn word(&mut self, m: u64) {
        self.v[3] ^= m;
        sip_round(&mut self.v);
        sip_round(&mut self.v);
        self.v[0] ^= m;
    }

    fn write(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len();
        // Fill a pending partial word first.
        while self.ntail > 0 && !bytes.is_empty() {
            self.tail |= (bytes[0] as u64) << (8 * self.ntail);
            self.ntail += 1;
            bytes = &bytes[1..];
            if self.ntail == 8 {
                let m = self.tail;
                self.word(m);
                self.tail = 0;
                self.ntail = 0;
            }
        }
        if bytes.is_empty() {
            return;
        }
        // Here no partial word is pending.
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        for (i, &b) in chunks.remainder().iter().enumerate() {
            self.tail |= (b as u64) << (8 * i);
        }
        self.ntail = chunks.remainder().len();
    }

    fn finish(mut self) -> u64 {
        let b = ((self.len as u64) << 56) | self.tail;
        self.word(b);
        self.v[2] ^= 0xff;
        for _ in 0..4 {
            sip_round(&mut self.v);
        }
        self.v[0] ^ self.v[1] ^ self.v[2] ^ self.v[3]
    }
}

/// SipHash-2-4 of `msg` with the 128-bit key `(k0, k1)` (each word little-endian, as in the
/// reference implementation where the key bytes are `k0.to_le_bytes() || k1.to_le_bytes()`).
pub fn siphash24(k0: u64, k1: u64, msg: &[u8]) -> u64 {
    let mut h = Sip24::new(k0, k1);
    h.write(msg);
    h.finish()
}

/// The key of one row under `--shuffle hash --seed seed`: SipHash-2-4 keyed by `(seed, 0)` of
/// `u32_le(len(customer_id)) || customer_id || product_id`. The length prefix keeps
/// `("ab", "c")` and `("a", "bc")` apart.
pub fn row_key(seed: u64, customer_id: &[u8], product_id: &[u8]) -> u64 {
    let mut h = Sip24::new(seed, 0);
    h.write(&(customer_id.len() as u32).to_le_bytes());
    h.write(customer_id);
    h.write(product_id);
    h.finish()
}

/// Positions `0..rows.len()` ordered by ascending [`row_key`], ties by position.
pub fn key_order(rows: &[Rating], ratings: &Ratings, seed: u64) -> Vec<u32> {
    let mut keyed: Vec<(u64, u32)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let c = ratings.customers.get(r.customer());
            let p = ratings.products.get(r.product());
            (row_key(seed, c, p), i as u32)
        })
        .collect();
    // (key, position) pairs are distinct, so an unstable sort is deterministic.
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// The split of the de-duplicated `rows` (input order) under `--shuffle hash`; see the module doc.
pub fn split_rows(
    rows: &[Rating],
    ratings: &Ratings,
    times: Option<&[u32]>,
    customer_index: &[u32],
    o: &SplitOptions,
) -> Result<Split> {
    let order = key_order(rows, ratings, o.seed);
    match o.mode {
        SplitMode::Random => {
            let mut p = order;
            let (a, b) = o.fractions.cuts(rows.len());
            let test = p.split_off(b);
            let validate = p.split_off(a);
            Ok(Split {
                train: p,
                validate,
                test,
            })
        }
        SplitMode::HoldoutLast => {
            let member = holdout_last_of(rows, times, customer_index, o.holdout_validate)?;
            Ok(by_membership(&order, &member))
        }
        SplitMode::ByCustomer => Err(unsupported_mode()),
    }
}

/// The error for `--split-mode by-customer --shuffle hash`.
pub fn unsupported_mode() -> Error {
    Error::usage(
        "--shuffle hash orders rows, not customers: use it with --split-mode random or holdout-last, \
         or pick --shuffle fmprep for by-customer",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_vectors() {
        // From the SipHash paper: key 00..0f, messages 00..(n-1).
        let (k0, k1) = (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908);
        let msg: Vec<u8> = (0..64).collect();
        assert_eq!(siphash24(k0, k1, &[]), 0x726f_db47_dd0e_0e31);
        assert_eq!(siphash24(k0, k1, &msg[..15]), 0xa129_ca61_49be_45e5);
        // And std's (deprecated) SipHasher, which is SipHash-2-4 over the written bytes.
        #[allow(deprecated)]
        for n in 0..64 {
            use std::hash::Hasher;
            let mut s = std::hash::SipHasher::new_with_keys(k0, k1);
            s.write(&msg[..n]);
            assert_eq!(siphash24(k0, k1, &msg[..n]), s.finish(), "n={n}");
        }
    }

    #[test]
    fn incremental_writes_match_one_write() {
        let (c, p) = (b"customer-12345".as_slice(), b"B00ABCDEF".as_slice());
        let mut m = (c.len() as u32).to_le_bytes().to_vec();
        m.extend_from_slice(c);
        m.extend_from_slice(p);
        for seed in [0, 1, 42, u64::MAX] {
            assert_eq!(row_key(seed, c, p), siphash24(seed, 0, &m));
        }
        assert_ne!(row_key(1, b"ab", b"c"), row_key(1, b"a", b"bc"));
        // Every split point of a message into writes.
        let msg: Vec<u8> = (0..40).collect();
        for i in 0..=msg.len() {
            for j in i..=msg.len() {
                let mut h = Sip24::new(5, 6);
                h.write(&msg[..i]);
                h.write(&msg[i..j]);
                h.write(&msg[j..]);
                assert_eq!(h.finish(), siphash24(5, 6, &msg), "{i} {j}");
            }
        }
    }

    #[test]
    fn pinned_keys() {
        // Pinned: docs/spark.md quotes these, and a change here changes every hash-split file.
        assert_eq!(row_key(42, b"c1", b"p1"), 0x0ccc_0840_5b11_bbb1);
    }

    #[test]
    fn split_is_a_partition_in_key_order() {
        let triples: Vec<(String, String, u8)> = (0..100)
            .map(|i| (format!("c{}", i % 7), format!("p{i}"), 1))
            .collect();
        let r = Ratings::from_triples(triples.iter().map(|(c, p, s)| (c.as_str(), p.as_str(), *s)));
        let o = SplitOptions {
            mode: SplitMode::Random,
            fractions: Default::default(),
            shuffle: crate::stages::split::options::Shuffle::Hash,
            seed: 3,
            holdout_validate: false,
        };
        let s = split_rows(&r.rows, &r, None, &[], &o).unwrap();
        assert_eq!((s.train.len(), s.validate.len(), s.test.len()), (60, 20, 20));
        let all: Vec<u32> = s
            .train
            .iter()
            .chain(&s.validate)
            .chain(&s.test)
            .copied()
            .collect();
        let keys: Vec<u64> = all
            .iter()
            .map(|&i| {
                row_key(
                    3,
                    triples[i as usize].0.as_bytes(),
                    triples[i as usize].1.as_bytes(),
                )
            })
            .collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]));
        let mut sorted = all.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    }
}
