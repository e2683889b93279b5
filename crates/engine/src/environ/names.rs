//! The names a module gives itself and its functions (the `name` custom section), and the
//! hash V8 puts in a module's `wasm://wasm/` URL. Stack traces and the perf map show them,
//! so heron's traces name frames exactly as V8's do for the same bytes.
//!
//! A malformed name section is not an error (the spec makes custom sections optional to
//! understand): the names read before the fault are kept, the rest ignored.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use wasmparser::{KnownCustom, Name, Parser, Payload};

/// What stack traces and the perf map call a module and its functions.
#[derive(Debug, Default)]
pub struct ModuleNames {
    /// The module's own name, from the name section.
    pub module: Option<String>,
    /// Function names from the name section, by index in the function index space.
    functions: HashMap<u32, String>,
    /// V8's hash of the module's bytes (see [`v8_wire_bytes_hash`]).
    pub hash: u32,
}

impl ModuleNames {
    /// The names in `bytes`, a module that has passed validation.
    pub(crate) fn parse(bytes: &[u8]) -> ModuleNames {
        let mut names = ModuleNames { hash: v8_wire_bytes_hash(bytes), ..Default::default() };
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
}

/// The hash V8 shows in `wasm://wasm/[NAME-]HASH` (printed as `{:08x}`): V8's string hash
/// (Jenkins' one-at-a-time with seed 0) of the module's bytes, as a string hash field, or
/// V8's trivial hash of the length for modules longer than V8 hashes (16383 bytes).
pub(crate) fn v8_wire_bytes_hash(bytes: &[u8]) -> u32 {
    const MAX_HASH_CALC_LENGTH: usize = 16383;
    const HASH_BITS_MAX: u32 = (1 << 30) - 1;
    const HASH_FIELD_TYPE_HASH: u32 = 0b10;
    let hash = if bytes.len() > MAX_HASH_CALC_LENGTH {
        bytes.len() as u32 & HASH_BITS_MAX
    } else {
        let mut running: u32 = 0;
        for &byte in bytes {
            running = running.wrapping_add(u32::from(byte));
            running = running.wrapping_add(running << 10);
            running ^= running >> 6;
        }
        running = running.wrapping_add(running << 3);
        running ^= running >> 11;
        running = running.wrapping_add(running << 15);
        match running & HASH_BITS_MAX {
            0 => 27,
            hash => hash,
        }
    };
    (hash << 2) | HASH_FIELD_TYPE_HASH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_v8_for_a_long_module() {
        // V8 (Node 20) shows wasm://wasm/0001398e for a 20067-byte module.
        assert_eq!(v8_wire_bytes_hash(&vec![0; 20067]), 0x0001398e);
    }

    #[test]
    fn hash_matches_v8_for_a_short_module() {
        // `(module (func (export "f") unreachable))`: V8 (Node 20) shows wasm://wasm/0145fffe.
        let bytes =
            [0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 5, 1, 3, 0, 0, 11];
        assert_eq!(v8_wire_bytes_hash(&bytes), 0x0145fffe);
    }
}
