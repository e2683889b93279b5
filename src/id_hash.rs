//! `IdMap`: a `HashMap` keyed by the binding's ids (wasm function ids, link ids, memory
//! ids: counters and addresses), hashed by one multiplication instead of SipHash. Making
//! an instance inserts one entry per exported function and memory and collecting it
//! removes them, so the hash is on the path of every instantiation. The keys come from
//! heron, never from the user, so SipHash's resistance to chosen keys buys nothing here.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A map by id; `IdMap::default()` makes an empty one.
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Fibonacci hashing of one integer: the multiplication moves the key's varying bits
/// (the low bits of counters, the middle bits of addresses) into the top bits, which
/// hashbrown reads for its control bytes, and spreads them over the rest.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only integer keys use this hasher; fold anything else in byte by byte anyway.
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u32(&mut self, value: u32) {
        self.write_u64(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0 ^ value).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(32);
    }

    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }
}
