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
    /// `slots.len() == 1 << bits`. A key's home slot is the top `bits` bits of its hash, so up to
    /// 2^24 slots the tag alone gives the home slot and growing never rereads keys or rehashes.
    bits: u32,
}

impl std::fmt::Debug for KeyTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyTable").field("len", &self.len()).finish()
    }
}

/// Bits of the hash kept in a slot's tag.
const TAG_BITS: u32 = 24;

#[inline]
fn slot_meta(hash: u64, len: usize, code: u32) -> u64 {
    ((hash >> 40) << 40) | ((len.min(255) as u64) << 32) | (code as u64 + 1)
}

/// The index size (a power of two, at least 1024) that holds `keys` keys under the 3/4 load limit.
fn slots_for(keys: usize) -> usize {
    (keys.saturating_mul(4) / 3 + 1).next_power_of_two().max(1024)
}

/// The home slot of `hash` in a table of `1 << bits` slots (`bits >= 1`).
#[inline]
fn home(hash: u64, bits: u32) -> usize {
    (hash >> (64 - bits)) as usize
}

/// `a == b` for two keys whose lengths are equal and whose first 8 bytes already matched: ids of
/// 9 to 16 bytes (product ids are 10) are compared as two overlapping words, inline, instead of
/// through a `memcmp` call.
#[inline]
fn same_long_key(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if (8..=16).contains(&n) {
        let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
        return word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8);
    }
    a == b
}

impl KeyTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty table with room for `keys` distinct keys before its index grows, and `bytes` of
    /// key text before its arena grows. The index is allocated zeroed, so room never used costs
    /// address space only; pages are touched as keys land in them.
    pub fn with_capacity(keys: usize, bytes: usize) -> Self {
        let mut t = KeyTable {
            arena: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(keys),
            ..Self::default()
        };
        if keys > 0 {
            t.resize_index(slots_for(keys));
        }
        t
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
            let i = home(hash, self.bits);
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
        // At least double; a frozen table (no index) gets room for every key it holds.
        let cap = (self.slots.len() * 2).max(slots_for(self.len() + 1));
        self.resize_index(cap);
    }

    /// Rebuild the index with `cap` slots (a power of two above the key count).
    fn resize_index(&mut self, cap: usize) {
        let bits = cap.trailing_zeros();
        let mut slots = vec![[0u64; 2]; cap];
        let mask = cap - 1;
        let mut place = |home: usize, slot: [u64; 2]| {
            let mut i = home;
            while slots[i][1] != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = slot;
        };
        if bits <= TAG_BITS && !self.slots.is_empty() {
            // The tag holds the top 24 hash bits, which include every bit of the new home slot:
            // move the old slots over in order (sequential memory, no key read, no hashing).
            for &slot in &self.slots {
                if slot[1] != 0 {
                    place((slot[1] >> (64 - bits)) as usize, slot);
                }
            }
        } else {
            for code in 0..self.ends.len() as u32 {
                let key = self.get(code);
                let hash = KeyHasher::hash(key);
                place(
                    home(hash, bits),
                    [SmallKey::new(key).0, slot_meta(hash, key.len(), code)],
                );
            }
        }
        self.slots = slots;
        self.bits = bits;
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
        let mut i = home(key.hash, self.bits);
        loop {
            let [w, meta] = self.slots[i];
            if meta == 0 {
                break;
            }
            if w == word && meta & !0xffff_ffff == want {
                let code = (meta as u32) - 1;
                if key.bytes.len() <= 8 || same_long_key(self.get(code), key.bytes) {
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
        let mut i = home(hash, self.bits);
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
        // A frozen table holding more keys than the smallest index still takes new ones.
        let mut t = KeyTable::new();
        for i in 0..5000u32 {
            t.intern(i.to_string().as_bytes());
        }
        t.freeze();
        assert_eq!(t.intern(b"new"), 5000);
        assert_eq!(t.lookup(b"4999"), Some(4999));
    }

    #[test]
    fn keys_of_nine_to_sixteen_bytes_differ_in_their_tail() {
        let mut t = KeyTable::with_capacity(10, 100);
        let keys: [&[u8]; 6] = [
            b"B00000000X",
            b"B00000000Y",
            b"B0000000",
            b"B00000000XY",
            b"0123456789abcdef",
            b"0123456789abcdeF",
        ];
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(t.intern(k), i as u32);
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(t.intern(k), i as u32);
            assert_eq!(t.lookup(k), Some(i as u32));
        }
    }

    #[test]
    fn growth_past_the_tag_bits_rehashes_and_keeps_codes() {
        // 2^24 slots hold 12.6 M keys; go past that only in the index size, with few keys, by
        // asking for the capacity up front and then growing from there.
        let mut t = KeyTable::with_capacity(13_000_000, 0);
        assert_eq!(t.slots.len(), 1 << 25);
        for i in 0..20_000u32 {
            assert_eq!(t.intern(&i.to_le_bytes()), i);
        }
        t.resize_index(1 << 26);
        for i in 0..20_000u32 {
            assert_eq!(t.lookup(&i.to_le_bytes()), Some(i));
        }
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
