//! The names a module gives itself and its functions (the `name` custom section), and the
//! hash V8 puts in a module's `wasm://wasm/` URL. Stack traces and the perf map show them,
//! so heron's traces name frames exactly as V8's do for the same bytes.
//!
//! V8 changed its string hash in 14.1 (Node 25): before, Jenkins' one-at-a-time; since,
//! rapidhash. Both are computed for each module and [`set_v8_hash`] picks the one shown, so
//! the same heron binary matches whichever Node loads it.
//!
//! A malformed name section is not an error (the spec makes custom sections optional to
//! understand): the names read before the fault are kept, the rest ignored.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use wasmparser::{KnownCustom, Name, Parser, Payload};

/// What stack traces and the perf map call a module and its functions.
#[derive(Debug, Default)]
pub struct ModuleNames {
    /// The module's own name, from the name section.
    pub module: Option<String>,
    /// Function names from the name section, by index in the function index space.
    functions: HashMap<u32, String>,
    /// V8's hashes of the module's bytes, one per [`V8Hash`].
    hashes: WireBytesHashes,
}

/// The string hash of the V8 whose URLs heron imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V8Hash {
    /// Jenkins' one-at-a-time, V8 before 14.1 (Node 24 and older). The default.
    OneAtATime,
    /// rapidhash, V8 14.1 and later (Node 25 and newer).
    Rapid,
}

static RAPID_SELECTED: AtomicBool = AtomicBool::new(false);

/// Picks the hash [`ModuleNames::hash`] gives, for the rest of the process (the embedder
/// knows which V8 it runs next to).
pub fn set_v8_hash(hash: V8Hash) {
    RAPID_SELECTED.store(hash == V8Hash::Rapid, Relaxed);
}

#[derive(Debug, Default)]
struct WireBytesHashes {
    one_at_a_time: u32,
    rapid: u32,
}

impl ModuleNames {
    /// The names in `bytes`, a module that has passed validation.
    pub(crate) fn parse(bytes: &[u8]) -> ModuleNames {
        let hashes = WireBytesHashes {
            one_at_a_time: v8_wire_bytes_hash(bytes, V8Hash::OneAtATime),
            rapid: v8_wire_bytes_hash(bytes, V8Hash::Rapid),
        };
        let mut names = ModuleNames { hashes, ..Default::default() };
        for payload in Parser::new(0).parse_all(bytes) {
            let Ok(Payload::CustomSection(section)) = payload else { continue };
            if let KnownCustom::Name(reader) = section.as_known() {
                names.read_name_section(reader);
            }
        }
        names
    }

    fn read_name_section(&mut self, reader: wasmparser::NameSectionReader<'_>) {
        for subsection in reader {
            match subsection {
                Ok(Name::Module { name, .. }) => self.module = Some(name.to_owned()),
                Ok(Name::Function(map)) => {
                    for naming in map {
                        let Ok(naming) = naming else { break };
                        self.functions.entry(naming.index).or_insert_with(|| naming.name.to_owned());
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }

    /// The name of function `index` (function index space), if the name section gives one.
    pub fn function(&self, index: u32) -> Option<&str> {
        self.functions.get(&index).map(String::as_str)
    }

    /// The hash V8 shows in this module's `wasm://wasm/` URL, by the hash [`set_v8_hash`]
    /// picked.
    pub fn hash(&self) -> u32 {
        if RAPID_SELECTED.load(Relaxed) {
            self.hashes.rapid
        } else {
            self.hashes.one_at_a_time
        }
    }
}

/// The hash V8 shows in `wasm://wasm/[NAME-]HASH` (printed as `{:08x}`): V8's string hash
/// of the module's bytes with seed 0, as a string hash field (30 bits of hash above the
/// field type `0b10`), or V8's trivial hash of the length for modules longer than V8 hashes
/// (16383 bytes).
pub(crate) fn v8_wire_bytes_hash(bytes: &[u8], kind: V8Hash) -> u32 {
    const MAX_HASH_CALC_LENGTH: usize = 16383;
    const HASH_BITS_MAX: u32 = (1 << 30) - 1;
    /// V8 never uses 0, which marks a hash not computed yet.
    const ZERO_HASH: u32 = 27;
    const HASH_FIELD_TYPE_HASH: u32 = 0b10;
    let hash = if bytes.len() > MAX_HASH_CALC_LENGTH {
        bytes.len() as u32 & HASH_BITS_MAX
    } else {
        let raw = match kind {
            V8Hash::OneAtATime => one_at_a_time(bytes),
            V8Hash::Rapid => rapidhash(bytes, 0) as u32,
        };
        match raw & HASH_BITS_MAX {
            0 => ZERO_HASH,
            hash => hash,
        }
    };
    (hash << 2) | HASH_FIELD_TYPE_HASH
}

/// Jenkins' one-at-a-time hash with seed 0, as V8 before 14.1 hashes strings.
fn one_at_a_time(bytes: &[u8]) -> u32 {
    let mut running: u32 = 0;
    for &byte in bytes {
        running = running.wrapping_add(u32::from(byte));
        running = running.wrapping_add(running << 10);
        running ^= running >> 6;
    }
    running = running.wrapping_add(running << 3);
    running ^= running >> 11;
    running.wrapping_add(running << 15)
}

/// rapidhash (Nicolas De Carli's, after wyhash) with its default secret, as V8 14.1 and
/// later hash strings (`third_party/rapidhash-v8`).
fn rapidhash(bytes: &[u8], seed: u64) -> u64 {
    const SECRET: [u64; 3] = [0x2d35_8dcc_aa6c_78a5, 0x8bb8_4b93_962e_acc9, 0x4b33_a62e_d433_d4a3];
    fn multiply(a: u64, b: u64) -> (u64, u64) {
        let product = u128::from(a) * u128::from(b);
        (product as u64, (product >> 64) as u64)
    }
    fn mix(a: u64, b: u64) -> u64 {
        let (low, high) = multiply(a, b);
        low ^ high
    }
    let read64 = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let read32 = |at: usize| u64::from(u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")));
    let len = bytes.len();
    let mut seed = seed ^ mix(seed ^ SECRET[0], SECRET[1]) ^ len as u64;
    let (a, b);
    if len <= 16 {
        if len >= 4 {
            let last = len - 4;
            // 4 from 8 bytes on, else 0: the two reads overlap for short inputs.
            let delta = (len & 24) >> (len >> 3);
            a = (read32(0) << 32) | read32(last);
            b = (read32(delta) << 32) | read32(last - delta);
        } else if len > 0 {
            a = (u64::from(bytes[0]) << 56) | (u64::from(bytes[len >> 1]) << 32) | u64::from(bytes[len - 1]);
            b = 0;
        } else {
            (a, b) = (0, 0);
        }
    } else {
        let mut at = 0;
        let mut left = len;
        if left > 48 {
            let (mut see1, mut see2) = (seed, seed);
            while left >= 48 {
                seed = mix(read64(at) ^ SECRET[0], read64(at + 8) ^ seed);
                see1 = mix(read64(at + 16) ^ SECRET[1], read64(at + 24) ^ see1);
                see2 = mix(read64(at + 32) ^ SECRET[2], read64(at + 40) ^ see2);
                at += 48;
                left -= 48;
            }
            seed ^= see1 ^ see2;
        }
        if left > 16 {
            seed = mix(read64(at) ^ SECRET[2], read64(at + 8) ^ seed ^ SECRET[1]);
            if left > 32 {
                seed = mix(read64(at + 16) ^ SECRET[2], read64(at + 24) ^ seed);
            }
        }
        // The last 16 bytes, which may reach back before `at`.
        a = read64(at + left - 16);
        b = read64(at + left - 8);
    }
    let (a, b) = multiply(a ^ SECRET[1], b ^ seed);
    mix(a ^ SECRET[0] ^ len as u64, b ^ SECRET[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_v8_for_a_long_module() {
        // V8 (Node 20) shows wasm://wasm/0001398e for a 20067-byte module.
        for kind in [V8Hash::OneAtATime, V8Hash::Rapid] {
            assert_eq!(v8_wire_bytes_hash(&vec![0; 20067], kind), 0x0001398e);
        }
    }

    /// `(module (func (export "f") unreachable))`.
    const SHORT: [u8; 32] =
        [0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 5, 1, 3, 0, 0, 11];

    #[test]
    fn hash_matches_v8_for_a_short_module() {
        // V8 11.3 to 13.6 (Node 20 to 24) show wasm://wasm/0145fffe, V8 14.6 (Node 26)
        // wasm://wasm/e30a2672.
        assert_eq!(v8_wire_bytes_hash(&SHORT, V8Hash::OneAtATime), 0x0145fffe);
        assert_eq!(v8_wire_bytes_hash(&SHORT, V8Hash::Rapid), 0xe30a2672);
    }

    #[test]
    fn rapidhash_covers_every_length_class() {
        // `SHORT` padded with a custom section: the hashes V8 14.6 (Node 26) and V8 11.3
        // (Node 20) show. rapidhash reads inputs of up to 48 bytes, and longer ones, apart.
        let shown = [
            (40, 0x8cc3e626, 0x3aef5ce2),
            (60, 0xed40d176, 0xa0b82576),
            (100, 0xacc447f6, 0x427a1bce),
            (1000, 0x1a284936, 0x33c2322e),
            (16383, 0x9cc0f4a2, 0x26e722fe),
        ];
        for (len, rapid, one_at_a_time) in shown {
            assert_eq!(v8_wire_bytes_hash(&padded(len), V8Hash::Rapid), rapid, "{len} bytes");
            assert_eq!(v8_wire_bytes_hash(&padded(len), V8Hash::OneAtATime), one_at_a_time, "{len} bytes");
        }
    }

    /// `SHORT`, then a custom section named "x" of zeros up to `len` bytes.
    fn padded(len: usize) -> Vec<u8> {
        let mut bytes = SHORT.to_vec();
        let payload = len - SHORT.len() - 4;
        bytes.extend([0, 0x80 | (payload & 0x7f) as u8, 0x80 | ((payload >> 7) & 0x7f) as u8, (payload >> 14) as u8]);
        bytes.extend([1, b'x']);
        bytes.resize(len, 0);
        bytes
    }
}
