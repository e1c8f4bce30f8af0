//! Interning of id strings into dense integer codes.
//!
//! Customer and product ids are short strings seen millions of times; interning them is the one
//! serial step of the read stage, so it is built for memory latency:
//!
//! - every distinct id is stored once in an append-only byte arena and gets a `u32` code in order
//!   of first insertion;
//! - the hash table is open-addressed (linear probing, load ≤ 3/4) with 16-byte slots that hold
//!   the first 8 bytes of the id, its length and 24 more hash bits, so looking up an id of up to
//!   8 bytes (every customer id) touches one cache line and never the arena;
//! - the caller computes hashes and small keys in parallel ([`KeyRef::new`]) and can
//!   [`KeyTable::prefetch`] the slot of a key it will look up a few rows later.
//!
//! Slots are zero-initialised (`0` = empty), so a large table costs no memory until used.

use std::hash::BuildHasher;

/// The hasher used for id keys. Fixed seed: hashes are computed in parallel by the parser and must
/// match the table's.
#[derive(Clone, Copy, Default, Debug)]
pub struct KeyHasher;

impl KeyHasher {
    /// Hash of an id's bytes.
    #[inline]
    pub fn hash(key: &[u8]) -> u64 {
        foldhash::fast::FixedState::with_seed(0x5eed_f00d).hash_one(key)
    }
}

/// The first 8 bytes of an id, zero-padded, as one word: with the length it identifies any id of
/// up to 8 bytes. The parser computes it in parallel so the serial merge only compares words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SmallKey(u64);

impl SmallKey {
    /// Pack the first 8 bytes of `key`.
    #[inline]
    pub fn new(key: &[u8]) -> Self {
        let mut b = [0u8; 8];
        let n = key.len().min(8);
        b[..n].copy_from_slice(&key[..n]);
        SmallKey(u64::from_le_bytes(b))
    }
}

/// A key prepared for lookup: its bytes, hash and packed form.
#[derive(Debug, Clone, Copy)]
pub struct KeyRef<'a> {
    /// The id bytes.
    pub bytes: &'a [u8],
    /// `KeyHasher::hash(bytes)`.
    pub hash: u64,
    /// `SmallKey::new(bytes)`.
    pub small: SmallKey,
}

impl<'a> KeyRef<'a> {
    /// Prepare `bytes` for lookup.
    #[inline]
    pub fn new(bytes: &'a [u8]) -> Self {
        KeyRef {
            bytes,
            hash: KeyHasher::hash(bytes),
            small: SmallKey::new(bytes),
        }
    }
}

/// A set of distinct byte strings, each with a dense `u32` code in order of first insertion.
#[derive(Default)]
pub struct KeyTable {
    arena: Vec<u8>,
    /// `ends[i]` is the arena offset one past key `i` (u32: 4 GiB of distinct ids is far beyond
    /// any ratings file, and halves this array).
    ends: Vec<u32>,
    /// Slots of 16 bytes: `[first 8 key bytes, tag << 40 | len << 32 | (code + 1)]`; zero = empty.
    /// A key of at most 8 bytes (every customer id) is compared inside the slot; a longer one is
    /// confirmed through the arena after the tag (24 more hash bits) and first 8 bytes match.
    slots: Vec<[u64; 2]>,
}

impl std::fmt::Debug for KeyTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyTable").field("len", &self.len()).finish()
    }
}

#[inline]
fn slot_meta(hash: u64, len: usize, code: u32) -> u64 {
    ((hash >> 40) << 40) | ((len.min(255) as u64) << 32) | (code as u64 + 1)
}

impl KeyTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of distinct keys.
    #[inline]
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether no key was inserted.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The bytes of the key with `code`.
    #[inline]
    pub fn get(&self, code: u32) -> &[u8] {
        let i = code as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.arena[start..self.ends[i] as usize]
    }

    /// Hint the CPU to load the slot where a key with `hash` would start probing.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        #[cfg(target_arch = "x86_64")]
        if !self.slots.is_empty() {
            let i = hash as usize & (self.slots.len() - 1);
            // SAFETY: prefetching is a hint; the pointer is in bounds of `slots`.
            unsafe {
                use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                _mm_prefetch(self.slots.as_ptr().add(i) as *const i8, _MM_HINT_T0);
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = hash;
    }

    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(1024);
        self.slots = vec![[0u64; 2]; cap];
        let mask = cap - 1;
        for code in 0..self.ends.len() as u32 {
            let key = self.get(code);
            let hash = KeyHasher::hash(key);
            let slot = [SmallKey::new(key).0, slot_meta(hash, key.len(), code)];
            let mut i = hash as usize & mask;
            while self.slots[i][1] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = slot;
        }
    }

    /// The code of `key`, inserting it if new. Returns the code and whether it was new.
    #[inline]
    pub fn intern_ref(&mut self, key: &KeyRef<'_>) -> (u32, bool) {
        // Grow at 3/4 load: linear probing stays short and 16-byte slots keep memory modest.
        if (self.ends.len() + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let word = key.small.0;
        let want = slot_meta(key.hash, key.bytes.len(), 0) & !0xffff_ffff;
        let mut i = key.hash as usize & mask;
        loop {
            let [w, meta] = self.slots[i];
            if meta == 0 {
                break;
            }
            if w == word && meta & !0xffff_ffff == want {
                let code = (meta as u32) - 1;
                if key.bytes.len() <= 8 || self.get(code) == key.bytes {
                    return (code, false);
                }
            }
            i = (i + 1) & mask;
        }
        let code = u32::try_from(self.ends.len()).expect("more than 2^32 distinct keys");
        self.slots[i] = [word, slot_meta(key.hash, key.bytes.len(), code)];
        self.arena.extend_from_slice(key.bytes);
        self.ends
            .push(u32::try_from(self.arena.len()).expect("more than 4 GiB of distinct ids"));
        (code, true)
    }

    /// The code of `key`, inserting it if new.
    pub fn intern(&mut self, key: &[u8]) -> u32 {
        self.intern_ref(&KeyRef::new(key)).0
    }

    /// Drop the lookup index to save its memory once no more keys will be added: codes and
    /// [`KeyTable::get`] stay valid; a later insert rebuilds the index, a lookup scans.
    pub fn freeze(&mut self) {
        self.slots = Vec::new();
    }

    /// The code of `key` if present.
    pub fn lookup(&self, key: &[u8]) -> Option<u32> {
        if self.slots.is_empty() {
            return self.iter().position(|k| k == key).map(|i| i as u32);
        }
        let hash = KeyHasher::hash(key);
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let meta = self.slots[i][1];
            if meta == 0 {
                return None;
            }
            let code = (meta as u32) - 1;
            if self.get(code) == key {
                return Some(code);
            }
            i = (i + 1) & mask;
        }
    }

    /// Iterate over keys in code order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len() as u32).map(move |c| self.get(c))
    }
}

/// An append-only list of byte strings addressed by position (e.g. one product title per code).
#[derive(Default, Debug)]
pub struct ByteList {
    arena: Vec<u8>,
    ends: Vec<usize>,
}

impl ByteList {
    /// Append `item`.
    pub fn push(&mut self, item: &[u8]) {
        self.arena.extend_from_slice(item);
        self.ends.push(self.arena.len());
    }

    /// The item at `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.arena[start..self.ends[i]]
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_first_appearance_and_keys_round_trip() {
        let mut t = KeyTable::new();
        assert_eq!(t.intern(b"0042"), 0);
        assert_eq!(t.intern(b"42"), 1);
        assert_eq!(t.intern(b"0042"), 0);
        assert_eq!(t.intern(b""), 2);
        assert_eq!(t.intern(b"42\0"), 3, "a NUL byte is part of the key");
        assert_eq!(t.len(), 4);
        assert_eq!(t.get(1), b"42");
        assert_eq!(t.get(2), b"");
        assert_eq!(t.lookup(b"42"), Some(1));
        assert_eq!(t.lookup(b"43"), None);
    }

    #[test]
    fn long_keys_compare_through_the_arena() {
        let mut t = KeyTable::new();
        let a = b"a-very-long-customer-identifier-1";
        let b = b"a-very-long-customer-identifier-2";
        assert_eq!(t.intern(a), 0);
        assert_eq!(t.intern(b), 1);
        assert_eq!(t.intern(a), 0);
        assert_eq!(t.intern(&a[..8]), 2, "8 bytes: compared in the slot");
        assert_eq!(t.intern(&a[..9]), 3);
        assert_eq!(t.lookup(b), Some(1));
    }

    #[test]
    fn frozen_table_keeps_codes_and_rebuilds_on_insert() {
        let mut t = KeyTable::new();
        for k in ["a", "bb", "customer-000000001"] {
            t.intern(k.as_bytes());
        }
        t.freeze();
        assert_eq!(t.get(1), b"bb");
        assert_eq!(t.lookup(b"customer-000000001"), Some(2));
        assert_eq!(t.intern(b"bb"), 1);
        assert_eq!(t.intern(b"c"), 3);
    }

    #[test]
    fn many_keys_survive_growth() {
        let mut t = KeyTable::new();
        for i in 0..50_000u32 {
            assert_eq!(t.intern(i.to_string().as_bytes()), i);
        }
        for i in (0..50_000u32).rev() {
            assert_eq!(t.lookup(i.to_string().as_bytes()), Some(i));
            assert_eq!(t.intern(i.to_string().as_bytes()), i);
        }
    }
}
