//! Interning of id strings into dense integer codes.
//!
//! Customer and product ids are short strings seen millions of times. Each distinct id is stored
//! once in an append-only byte arena and gets a `u32` code in order of first appearance; every later
//! stage works on codes. The hash table holds only codes and looks keys up in the arena, so the
//! memory cost per distinct key is its bytes plus about 16 bytes.

use std::hash::BuildHasher;

use hashbrown::HashTable;

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

/// A set of distinct byte strings, each with a dense `u32` code in order of first insertion.
#[derive(Default)]
pub struct KeyTable {
    arena: Vec<u8>,
    /// `ends[i]` is the arena offset one past key `i`.
    ends: Vec<usize>,
    table: HashTable<u32>,
}

impl std::fmt::Debug for KeyTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyTable").field("len", &self.len()).finish()
    }
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
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.arena[start..self.ends[i]]
    }

    /// The code of `key`, inserting it if new. `hash` must be `KeyHasher::hash(key)`.
    /// Returns the code and whether the key was new.
    #[inline]
    pub fn intern_hashed(&mut self, hash: u64, key: &[u8]) -> (u32, bool) {
        let KeyTable { arena, ends, table } = self;
        let key_at = |code: u32| {
            let i = code as usize;
            let start = if i == 0 { 0 } else { ends[i - 1] };
            &arena[start..ends[i]]
        };
        if let Some(&code) = table.find(hash, |&c| key_at(c) == key) {
            return (code, false);
        }
        let code = u32::try_from(ends.len()).expect("more than 2^32 distinct keys");
        table.insert_unique(hash, code, |&c| KeyHasher::hash(key_at(c)));
        arena.extend_from_slice(key);
        ends.push(arena.len());
        (code, true)
    }

    /// The code of `key`, inserting it if new.
    pub fn intern(&mut self, key: &[u8]) -> u32 {
        self.intern_hashed(KeyHasher::hash(key), key).0
    }

    /// The code of `key` if present.
    pub fn lookup(&self, key: &[u8]) -> Option<u32> {
        self.table
            .find(KeyHasher::hash(key), |&c| self.get(c) == key)
            .copied()
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
        assert_eq!(t.len(), 3);
        assert_eq!(t.get(1), b"42");
        assert_eq!(t.get(2), b"");
        assert_eq!(t.lookup(b"42"), Some(1));
        assert_eq!(t.lookup(b"43"), None);
    }

    #[test]
    fn many_keys_survive_rehashing() {
        let mut t = KeyTable::new();
        for i in 0..50_000u32 {
            assert_eq!(t.intern(i.to_string().as_bytes()), i);
        }
        for i in (0..50_000u32).rev() {
            assert_eq!(t.lookup(i.to_string().as_bytes()), Some(i));
        }
    }
}
