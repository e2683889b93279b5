//! The on-disk format of one persistent code-cache entry: its key (wasm hash and engine
//! fingerprint, which covers the code flavour and tier) and the encoding of a module's
//! compiled functions (code, alignment, trap sites, source locations, exception landing pads),
//! sealed by a SHA-256
//! checksum that `decode` verifies before returning anything. Pure data: the files belong
//! to `runtime/code_cache.rs`, the mapping of code to `runtime/code_memory.rs`.
#![forbid(unsafe_code)]

use sha2::{Digest, Sha256};

use crate::environ::compiled::{CompiledFunction, ExceptionHandler};
use crate::environ::trap::Trap;

/// First bytes of every entry.
const MAGIC: &[u8; 8] = b"HERONCC\0";
/// Bumped whenever the layout below changes; older entries are then refused.
const FORMAT_VERSION: u32 = 4;
/// Length of the trailing checksum.
const CHECKSUM_LEN: usize = 32;

/// What identifies an entry. Each field is hashed in order, so a new field (such as the
/// execution-control flavour) is one more `push`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    /// SHA-256 of the wasm bytes.
    pub wasm_hash: [u8; 32],
    /// SHA-256 of everything about the engine that changes code (see `fingerprint`).
    pub fingerprint: [u8; 32],
}

impl CacheKey {
    /// The key of `wasm` compiled by an engine with `fingerprint`.
    #[cfg(test)]
    pub(crate) fn new(wasm: &[u8], fingerprint: [u8; 32]) -> CacheKey {
        CacheKey { wasm_hash: wasm_hash(wasm), fingerprint }
    }

    /// The entry's file name: hex of the hash of both fields.
    pub(crate) fn file_name(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.wasm_hash);
        hasher.update(self.fingerprint);
        hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// SHA-256 of `wasm`: what identifies a module's bytes, in the cache and in the engine's
/// map of live modules.
pub(crate) fn wasm_hash(wasm: &[u8]) -> [u8; 32] {
    Sha256::digest(wasm).into()
}

/// Hashes the engine's code-relevant settings, each as a length-prefixed string, so that
/// no two different lists hash alike.
pub(crate) fn fingerprint(parts: &[&str]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().into()
}

/// One cached function: its defined-function index and its compiled code (whose
/// `func_index` the loader sets from the module; it is not stored).
pub(crate) struct CachedFunction {
    pub index: u32,
    pub code: CompiledFunction,
}

/// Why an entry was refused; only for `HERON_CACHE_DEBUG` messages.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum EntryError {
    Truncated,
    BadChecksum,
    BadMagic,
    FormatVersion(u32),
    ForeignKey,
    BadTrap(u8),
    BadRecord,
}

/// Serializes `functions` under `key`: header, per-function records, checksum.
pub(crate) fn encode(key: &CacheKey, functions: &[CachedFunction]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&key.fingerprint);
    out.extend_from_slice(&key.wasm_hash);
    out.extend_from_slice(&(functions.len() as u32).to_le_bytes());
    for f in functions {
        out.extend_from_slice(&f.index.to_le_bytes());
        out.extend_from_slice(&f.code.alignment.to_le_bytes());
        out.extend_from_slice(&(f.code.bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&f.code.bytes);
        // Per-function tables follow the code, each prefixed by its entry count, with
        // offsets as LEB128 deltas from the previous entry's (zigzag where they may go
        // back): they are a third of an entry in fixed width. A new table is appended here
        // with a format-version bump.
        out.extend_from_slice(&(f.code.traps.len() as u32).to_le_bytes());
        let mut previous = 0i64;
        for (offset, trap) in &f.code.traps {
            put_varint(&mut out, zigzag(i64::from(*offset) - previous));
            previous = i64::from(*offset);
            out.push(*trap as u8);
        }
        out.extend_from_slice(&(f.code.srclocs.len() as u32).to_le_bytes());
        let (mut previous_code, mut previous_wasm) = (0u32, 0i64);
        for (code_offset, wasm_offset) in &f.code.srclocs {
            put_varint(&mut out, u64::from(code_offset - previous_code));
            put_varint(&mut out, zigzag(i64::from(*wasm_offset) - previous_wasm));
            (previous_code, previous_wasm) = (*code_offset, i64::from(*wasm_offset));
        }
        // Exception handlers (format 4): sorted by return address, so that one is a delta.
        out.extend_from_slice(&(f.code.handlers.len() as u32).to_le_bytes());
        let mut previous_return = 0u32;
        for handler in &f.code.handlers {
            put_varint(&mut out, u64::from(handler.return_address - previous_return));
            put_varint(&mut out, u64::from(handler.landing_pad));
            put_varint(&mut out, u64::from(handler.frame_offset));
            previous_return = handler.return_address;
        }
    }
    let checksum = Sha256::digest(&out);
    out.extend_from_slice(&checksum);
    out
}

/// Verifies the checksum of `data`, then its header against `key`, then decodes its records.
pub(crate) fn decode(key: &CacheKey, data: &[u8]) -> Result<Vec<CachedFunction>, EntryError> {
    if data.len() < CHECKSUM_LEN {
        return Err(EntryError::Truncated);
    }
    let (body, checksum) = data.split_at(data.len() - CHECKSUM_LEN);
    if Sha256::digest(body).as_slice() != checksum {
        return Err(EntryError::BadChecksum);
    }
    let mut reader = Reader { data: body };
    if reader.take(MAGIC.len())? != MAGIC {
        return Err(EntryError::BadMagic);
    }
    let version = reader.u32()?;
    if version != FORMAT_VERSION {
        return Err(EntryError::FormatVersion(version));
    }
    if reader.take(32)? != key.fingerprint || reader.take(32)? != key.wasm_hash {
        return Err(EntryError::ForeignKey);
    }
    let count = reader.u32()?;
    let mut functions = Vec::new();
    for _ in 0..count {
        let index = reader.u32()?;
        let alignment = reader.u64()?;
        if !alignment.is_power_of_two() {
            return Err(EntryError::BadRecord);
        }
        let len = reader.u32()? as usize;
        let bytes = reader.take(len)?.to_vec();
        let trap_count = reader.u32()?;
        let mut traps = Vec::with_capacity((trap_count as usize).min(reader.data.len()));
        let mut previous = 0i64;
        for _ in 0..trap_count {
            let offset = previous.checked_add(unzigzag(reader.varint()?)).ok_or(EntryError::BadRecord)?;
            let raw = reader.take(1)?[0];
            if offset < 0 || offset as usize >= bytes.len() {
                return Err(EntryError::BadRecord);
            }
            previous = offset;
            traps.push((offset as u32, Trap::from_u8(raw).ok_or(EntryError::BadTrap(raw))?));
        }
        let srcloc_count = reader.u32()?;
        let mut srclocs = Vec::with_capacity((srcloc_count as usize).min(reader.data.len()));
        let (mut code_offset, mut wasm_offset) = (0u64, 0i64);
        for _ in 0..srcloc_count {
            code_offset = code_offset.checked_add(reader.varint()?).ok_or(EntryError::BadRecord)?;
            wasm_offset = wasm_offset.checked_add(unzigzag(reader.varint()?)).ok_or(EntryError::BadRecord)?;
            if code_offset > bytes.len() as u64 || !(0..=i64::from(u32::MAX)).contains(&wasm_offset) {
                return Err(EntryError::BadRecord);
            }
            srclocs.push((code_offset as u32, wasm_offset as u32));
        }
        let handlers = decode_handlers(&mut reader, bytes.len())?;
        let code = CompiledFunction { bytes, alignment, traps, func_index: None, srclocs, handlers };
        functions.push(CachedFunction { index, code });
    }
    if !reader.data.is_empty() {
        return Err(EntryError::BadRecord);
    }
    Ok(functions)
}

/// A function's exception handlers, each of whose return address and landing pad must lie
/// inside its `code_len` bytes of code (the unwinder jumps to the pad).
fn decode_handlers(reader: &mut Reader<'_>, code_len: usize) -> Result<Vec<ExceptionHandler>, EntryError> {
    let count = reader.u32()?;
    let mut handlers = Vec::with_capacity((count as usize).min(reader.data.len()));
    let mut return_address = 0u64;
    for _ in 0..count {
        return_address = return_address.checked_add(reader.varint()?).ok_or(EntryError::BadRecord)?;
        let landing_pad = reader.varint()?;
        let frame_offset = reader.varint()?;
        if return_address > code_len as u64 || landing_pad >= code_len as u64 || frame_offset > u64::from(u32::MAX) {
            return Err(EntryError::BadRecord);
        }
        handlers.push(ExceptionHandler {
            return_address: return_address as u32,
            landing_pad: landing_pad as u32,
            frame_offset: frame_offset as u32,
        });
    }
    Ok(handlers)
}

/// Appends `value` as unsigned LEB128.
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A signed delta as an unsigned number with small magnitudes small.
fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    (value >> 1) as i64 ^ -((value & 1) as i64)
}

/// Bounds-checked little-endian reading.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EntryError> {
        if self.data.len() < n {
            return Err(EntryError::Truncated);
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, EntryError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    /// Unsigned LEB128 of at most 10 bytes that fits 64 bits.
    fn varint(&mut self) -> Result<u64, EntryError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(EntryError::BadRecord);
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(EntryError::BadRecord)
    }

    fn u64(&mut self) -> Result<u64, EntryError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (CacheKey, Vec<u8>) {
        let key = CacheKey::new(b"\0asm\x01\0\0\0", fingerprint(&["heron 0.1.0", "speed"]));
        let functions = vec![CachedFunction {
            index: 3,
            code: CompiledFunction {
                bytes: vec![0x90, 0x0f, 0x0b, 0xc3],
                alignment: 16,
                traps: vec![(1, Trap::Unreachable), (3, Trap::MemoryOutOfBounds)],
                func_index: None,
                srclocs: vec![(0, 400), (2, 42), (4, 70_000)],
                handlers: vec![
                    ExceptionHandler { return_address: 2, landing_pad: 3, frame_offset: 16 },
                    ExceptionHandler { return_address: 4, landing_pad: 1, frame_offset: 32 },
                ],
            },
        }];
        let data = encode(&key, &functions);
        (key, data)
    }

    #[test]
    fn round_trips() {
        let (key, data) = sample();
        let functions = decode(&key, &data).unwrap();
        assert_eq!(functions.len(), 1);
        assert_eq!(functions[0].index, 3);
        assert_eq!(functions[0].code.bytes, [0x90, 0x0f, 0x0b, 0xc3]);
        assert_eq!(functions[0].code.alignment, 16);
        assert_eq!(functions[0].code.traps, [(1, Trap::Unreachable), (3, Trap::MemoryOutOfBounds)]);
        assert_eq!(functions[0].code.srclocs, [(0, 400), (2, 42), (4, 70_000)]);
        assert_eq!(
            functions[0].code.handlers,
            [
                ExceptionHandler { return_address: 2, landing_pad: 3, frame_offset: 16 },
                ExceptionHandler { return_address: 4, landing_pad: 1, frame_offset: 32 },
            ]
        );
    }

    #[test]
    fn varints_round_trip() {
        for value in [0, 1, -1, 63, -64, 64, 1 << 31, -(1 << 40), i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            put_varint(&mut out, zigzag(value));
            let mut reader = Reader { data: &out };
            assert_eq!(unzigzag(reader.varint().unwrap()), value);
            assert!(reader.data.is_empty());
        }
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let (key, data) = sample();
        for i in 0..data.len() {
            let mut bad = data.clone();
            bad[i] ^= 0x40;
            assert!(decode(&key, &bad).is_err(), "byte {i} flipped was accepted");
        }
    }

    #[test]
    fn every_truncation_is_refused() {
        let (key, data) = sample();
        for len in 0..data.len() {
            assert!(decode(&key, &data[..len]).is_err(), "length {len} was accepted");
        }
    }

    #[test]
    fn foreign_fingerprint_is_refused() {
        let (key, data) = sample();
        let other = CacheKey { fingerprint: fingerprint(&["heron 0.2.0", "speed"]), ..key };
        assert_eq!(decode(&other, &data).err(), Some(EntryError::ForeignKey));
        assert_ne!(other.file_name(), sample().0.file_name());
    }
}
