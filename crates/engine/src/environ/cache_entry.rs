//! The on-disk format of one persistent code-cache entry: its key (wasm hash and engine
//! fingerprint, which covers the code flavour and tier) and the encoding of a module's
//! compiled functions (code, alignment, trap sites, source locations, exception landing
//! pads), sealed by a checksum (`checksum.rs`) that the loader verifies before
//! any of the code is made executable. Pure data: the files belong to
//! `runtime/code_cache.rs`, the mapping of code to `runtime/code_memory.rs`.
//!
//! ```text
//! header (HEADER_LEN bytes, little-endian):
//!     magic "HERONCC\0", format version u32, engine fingerprint [32], wasm hash [32],
//!     function count u32, tables length u64, code length u64,
//!     checksum u64: XXH64 of the header before it, the tables and the code
//! tables:
//!     one record per function (RECORD_LEN bytes): defined index, alignment, code offset,
//!     code length, side-table offset, trap-site bytes, source-location bytes,
//!     exception-handler bytes (all u32)
//!     side tables: each function's trap sites, then its source locations, then its
//!     exception handlers
//! code:
//!     every function's machine code, each at an offset that is a multiple of its alignment
//! ```
//!
//! The code comes last so the loader reads it straight into the memory it then makes
//! executable, in one piece. The side tables stay encoded (LEB128 deltas, a third of their
//! fixed-width size) and are only scanned when a trap or a stack trace needs them
//! (`trap_at`, `srcloc_at`, `handler_at`: no allocation, so the signal handler may call
//! them); a new table is appended to the record with a format-version bump. The unwinder
//! jumps to a handler's landing pad, so unlike the other tables the handlers are checked
//! whole when the records are read (`records`): a damaged handler table refuses the entry.
#![forbid(unsafe_code)]

use sha2::{Digest, Sha256};
use std::ops::Range;

use crate::environ::checksum::Checksum;
use crate::environ::compiled::{CompiledFunction, ExceptionHandler};
use crate::environ::trap::Trap;

/// First bytes of every entry.
const MAGIC: &[u8; 8] = b"HERONCC\0";
/// Bumped whenever the layout above changes; older entries are then refused.
const FORMAT_VERSION: u32 = 6;
/// Length of the header, checksum included.
pub(crate) const HEADER_LEN: usize = 104;
/// Where the checksum is in the header (it is the header's last field).
const CHECKSUM_AT: usize = HEADER_LEN - 8;
/// Length of one function's record.
const RECORD_LEN: usize = 32;
/// The largest alignment a function's code may ask for: the loader places the code at a
/// page boundary, so any alignment up to a page holds.
pub(crate) const MAX_ALIGNMENT: u32 = 4096;

/// What identifies an entry. Each field is hashed in order, so a new field (such as the
/// execution-control flavour) is one more `push`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    /// `wasm_hash` of the wasm bytes.
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

/// What identifies a module's bytes, in the cache and in the engine's map of live modules:
/// their SHA-256, or, beyond one `HASH_PIECE`, the SHA-256 of a tag, their length and the
/// SHA-256 of each piece, the pieces hashed in parallel (SHA-256 is sequential: the 18 MB
/// @swc/wasm took 10 ms on one core). Still collision-resistant as SHA-256 is: the tagged
/// message cannot be a module's bytes, and equal trees need equal piece digests.
pub(crate) fn wasm_hash(wasm: &[u8]) -> [u8; 32] {
    use rayon::prelude::*;
    if wasm.len() <= HASH_PIECE {
        return Sha256::digest(wasm).into();
    }
    let pieces: Vec<[u8; 32]> = wasm.par_chunks(HASH_PIECE).map(|piece| Sha256::digest(piece).into()).collect();
    let mut hasher = Sha256::new();
    hasher.update(b"heron wasm pieces\0");
    hasher.update((wasm.len() as u64).to_le_bytes());
    for piece in pieces {
        hasher.update(piece);
    }
    hasher.finalize().into()
}

/// The piece size of `wasm_hash`'s tree: big enough that small modules hash plainly.
const HASH_PIECE: usize = 1 << 20;

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

/// What an entry's header says: the sizes of the parts that follow it, and their checksum.
pub(crate) struct EntryHeader {
    pub count: usize,
    pub tables_len: usize,
    pub code_len: usize,
    /// The header's bytes (checked against the checksum together with the parts).
    bytes: [u8; HEADER_LEN],
}

/// One function of an entry: where its code is in the code part, and its encoded side
/// tables in the tables part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FunctionRecord {
    /// Defined-function index.
    pub index: u32,
    pub alignment: u32,
    pub code: Range<usize>,
    pub traps: Range<usize>,
    pub srclocs: Range<usize>,
    /// Checked by `records`: each return address and landing pad lies in `code`, in
    /// increasing order of return address.
    pub handlers: Range<usize>,
}

/// Serializes `functions` under `key`. Functions whose alignment exceeds `MAX_ALIGNMENT`
/// (none today) are left out: they compile again when needed.
pub(crate) fn encode(key: &CacheKey, functions: &[CachedFunction]) -> Vec<u8> {
    let functions: Vec<&CachedFunction> = functions
        .iter()
        .filter(|f| f.code.alignment.is_power_of_two() && f.code.alignment <= u64::from(MAX_ALIGNMENT))
        .collect();
    let mut records = Vec::with_capacity(functions.len() * RECORD_LEN);
    let mut streams = Vec::new();
    let mut code = Vec::new();
    for f in &functions {
        let alignment = f.code.alignment as usize;
        code.resize(code.len().next_multiple_of(alignment), 0);
        let streams_offset = streams.len();
        // Offsets as LEB128 deltas from the previous entry's (zigzag where they may go back).
        let mut previous = 0i64;
        for (offset, trap) in &f.code.traps {
            put_varint(&mut streams, zigzag(i64::from(*offset) - previous));
            previous = i64::from(*offset);
            streams.push(*trap as u8);
        }
        let traps_len = streams.len() - streams_offset;
        let (mut previous_code, mut previous_wasm) = (0u32, 0i64);
        for (code_offset, wasm_offset) in &f.code.srclocs {
            put_varint(&mut streams, u64::from(code_offset - previous_code));
            put_varint(&mut streams, zigzag(i64::from(*wasm_offset) - previous_wasm));
            (previous_code, previous_wasm) = (*code_offset, i64::from(*wasm_offset));
        }
        let srclocs_len = streams.len() - streams_offset - traps_len;
        // Return addresses increase (the compiler sorts them): each is a delta from the last.
        let mut previous_return = 0u32;
        for handler in &f.code.handlers {
            put_varint(&mut streams, u64::from(handler.return_address - previous_return));
            put_varint(&mut streams, u64::from(handler.landing_pad));
            put_varint(&mut streams, u64::from(handler.frame_offset));
            previous_return = handler.return_address;
        }
        let handlers_len = streams.len() - streams_offset - traps_len - srclocs_len;
        let fields = [
            f.index as usize,
            alignment,
            code.len(),
            f.code.bytes.len(),
            streams_offset,
            traps_len,
            srclocs_len,
            handlers_len,
        ];
        for field in fields.map(|v| u32::try_from(v as u64).expect("an entry part fits 4 GiB")) {
            records.extend_from_slice(&field.to_le_bytes());
        }
        code.extend_from_slice(&f.code.bytes);
    }
    let mut out = Vec::with_capacity(HEADER_LEN + records.len() + streams.len() + code.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&key.fingerprint);
    out.extend_from_slice(&key.wasm_hash);
    out.extend_from_slice(&(functions.len() as u32).to_le_bytes());
    out.extend_from_slice(&((records.len() + streams.len()) as u64).to_le_bytes());
    out.extend_from_slice(&(code.len() as u64).to_le_bytes());
    debug_assert_eq!(out.len(), CHECKSUM_AT);
    let mut checksum = Checksum::new();
    for part in [&out[..], &records, &streams, &code] {
        checksum.update(part);
    }
    out.extend_from_slice(&checksum.finish().to_le_bytes());
    for part in [records, streams, code] {
        out.extend_from_slice(&part);
    }
    out
}

/// Reads the header of an entry of `key` (its first `HEADER_LEN` bytes). The sizes it gives
/// are still unverified: the checksum covers them (`verify`).
pub(crate) fn parse_header(key: &CacheKey, header: &[u8]) -> Result<EntryHeader, EntryError> {
    let bytes: [u8; HEADER_LEN] = header.get(..HEADER_LEN).ok_or(EntryError::Truncated)?.try_into().expect("sized");
    let mut reader = Reader { data: &bytes };
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
    let count = reader.u32()? as usize;
    let size = |n: u64| usize::try_from(n).ok().filter(|&n| n <= u32::MAX as usize).ok_or(EntryError::BadRecord);
    let tables_len = size(reader.u64()?)?;
    let code_len = size(reader.u64()?)?;
    if count.checked_mul(RECORD_LEN).is_none_or(|records| records > tables_len) {
        return Err(EntryError::BadRecord);
    }
    Ok(EntryHeader { count, tables_len, code_len, bytes })
}

impl EntryHeader {
    /// Checks the checksum over the header and the `tables` and `code` parts it announced.
    pub fn verify(&self, tables: &[u8], code: &[u8]) -> Result<(), EntryError> {
        if tables.len() != self.tables_len || code.len() != self.code_len {
            return Err(EntryError::Truncated);
        }
        let mut checksum = self.start_checksum();
        checksum.update(tables);
        checksum.update(code);
        self.check(&checksum)
    }

    /// The checksum over the header, to be continued with the tables and the code part in
    /// order (as a reader receives them, so each piece is hashed while in cache) and then
    /// given to `check`.
    pub fn start_checksum(&self) -> Checksum {
        let mut checksum = Checksum::new();
        checksum.update(&self.bytes[..CHECKSUM_AT]);
        checksum
    }

    /// Whether `checksum`, continued from `start_checksum` over the parts, is the stored one.
    pub fn check(&self, checksum: &Checksum) -> Result<(), EntryError> {
        let stored = u64::from_le_bytes(self.bytes[CHECKSUM_AT..].try_into().expect("8 bytes"));
        if checksum.finish() != stored {
            return Err(EntryError::BadChecksum);
        }
        Ok(())
    }

    /// The function records of a verified entry, each checked to lie within its parts
    /// (`traps`, `srclocs` and `handlers` are ranges of `tables`; `code` of the code part),
    /// and each handler table checked whole (see `check_handlers`).
    pub fn records(&self, tables: &[u8]) -> Result<Vec<FunctionRecord>, EntryError> {
        let records = tables.get(..self.count * RECORD_LEN).ok_or(EntryError::Truncated)?;
        let streams_start = records.len();
        let mut reader = Reader { data: records };
        let mut out = Vec::with_capacity(self.count);
        for _ in 0..self.count {
            let mut field = || reader.u32().map(|v| v as usize);
            let (index, alignment, code_offset, code_len) = (field()?, field()?, field()?, field()?);
            let (streams_offset, traps_len, srclocs_len, handlers_len) = (field()?, field()?, field()?, field()?);
            if !alignment.is_power_of_two() || alignment > MAX_ALIGNMENT as usize || code_offset % alignment != 0 {
                return Err(EntryError::BadRecord);
            }
            let code = code_offset..code_offset.checked_add(code_len).ok_or(EntryError::BadRecord)?;
            let traps_start = streams_start + streams_offset;
            let traps = traps_start..traps_start.checked_add(traps_len).ok_or(EntryError::BadRecord)?;
            let srclocs = traps.end..traps.end.checked_add(srclocs_len).ok_or(EntryError::BadRecord)?;
            let handlers = srclocs.end..srclocs.end.checked_add(handlers_len).ok_or(EntryError::BadRecord)?;
            if code.end > self.code_len || handlers.end > tables.len() {
                return Err(EntryError::BadRecord);
            }
            check_handlers(&tables[handlers.clone()], code.len())?;
            let alignment = alignment as u32;
            out.push(FunctionRecord { index: index as u32, alignment, code, traps, srclocs, handlers });
        }
        Ok(out)
    }
}

/// Verifies `data` (a whole entry of `key`) and decodes every function in it, side tables
/// included: for merging new functions into an entry.
pub(crate) fn decode(key: &CacheKey, data: &[u8]) -> Result<Vec<CachedFunction>, EntryError> {
    let header = parse_header(key, data)?;
    let rest = &data[HEADER_LEN..];
    if rest.len() != header.tables_len + header.code_len {
        return Err(EntryError::Truncated);
    }
    let (tables, code) = rest.split_at(header.tables_len);
    header.verify(tables, code)?;
    let mut functions = Vec::with_capacity(header.count);
    for record in header.records(tables)? {
        let bytes = code[record.code.clone()].to_vec();
        let traps = decode_traps(&tables[record.traps], bytes.len())?;
        let srclocs = decode_srclocs(&tables[record.srclocs], bytes.len())?;
        // `records` checked the handlers.
        let handlers = Handlers::new(&tables[record.handlers]).map_while(Result::ok).collect();
        let alignment = u64::from(record.alignment);
        let code = CompiledFunction { bytes, alignment, traps, func_index: None, srclocs, handlers };
        functions.push(CachedFunction { index: record.index, code });
    }
    Ok(functions)
}

/// The trap sites of one function's stream, each checked to lie in its `code_len` bytes.
fn decode_traps(stream: &[u8], code_len: usize) -> Result<Vec<(u32, Trap)>, EntryError> {
    let mut traps = Vec::new();
    for site in TrapSites::new(stream) {
        let (offset, raw) = site?;
        if offset as usize >= code_len {
            return Err(EntryError::BadRecord);
        }
        traps.push((offset, Trap::from_u8(raw).ok_or(EntryError::BadTrap(raw))?));
    }
    Ok(traps)
}

/// The source locations of one function's stream, each checked to lie in its code.
fn decode_srclocs(stream: &[u8], code_len: usize) -> Result<Vec<(u32, u32)>, EntryError> {
    let mut srclocs = Vec::new();
    for location in SourceLocations::new(stream) {
        let (code_offset, wasm_offset) = location?;
        if code_offset as usize > code_len {
            return Err(EntryError::BadRecord);
        }
        srclocs.push((code_offset, wasm_offset));
    }
    Ok(srclocs)
}

/// Checks one function's encoded exception handlers, the table the unwinder trusts with a
/// jump: every one decodes, return addresses strictly increase (so `handler_at` may stop
/// early) and lie in the function's `code_len` bytes (the last may end them), and every
/// landing pad lies inside them.
fn check_handlers(stream: &[u8], code_len: usize) -> Result<(), EntryError> {
    let mut previous = None;
    for handler in Handlers::new(stream) {
        let handler = handler?;
        let in_order = previous.is_none_or(|previous| handler.return_address > previous);
        if !in_order || handler.return_address as usize > code_len || handler.landing_pad as usize >= code_len {
            return Err(EntryError::BadRecord);
        }
        previous = Some(handler.return_address);
    }
    Ok(())
}

/// The exception handler of the call whose return address is at exactly `return_address`
/// in one function, by its encoded handlers (checked by `records`). Scans the stream, up to
/// that address: no allocation.
pub(crate) fn handler_at(stream: &[u8], return_address: u32) -> Option<ExceptionHandler> {
    Handlers::new(stream)
        .map_while(Result::ok)
        .take_while(|handler| handler.return_address <= return_address)
        .find(|handler| handler.return_address == return_address)
}

/// The trap recorded at exactly `offset` in one function's encoded trap sites. Scans the
/// stream: no allocation, so the signal handler may call it; a malformed stream (which the
/// checksum makes a bug, not damage) ends the scan.
pub(crate) fn trap_at(stream: &[u8], offset: u32) -> Option<Trap> {
    TrapSites::new(stream).map_while(Result::ok).find(|site| site.0 == offset).and_then(|site| Trap::from_u8(site.1))
}

/// The module offset of the wasm instruction that code at `offset` in one function came
/// from, by its encoded source locations: the last location at or before `offset` (code
/// before the first location is at the first one's instruction). `None` for no locations.
pub(crate) fn srcloc_at(stream: &[u8], offset: u32) -> Option<u32> {
    let mut found = None;
    for (code_offset, wasm_offset) in SourceLocations::new(stream).map_while(Result::ok) {
        if code_offset > offset && found.is_some() {
            break;
        }
        found = Some(wasm_offset);
    }
    found
}

/// The (offset, raw trap code) pairs of a trap-site stream.
struct TrapSites<'a> {
    reader: Reader<'a>,
    previous: i64,
}

impl<'a> TrapSites<'a> {
    fn new(stream: &'a [u8]) -> Self {
        TrapSites { reader: Reader { data: stream }, previous: 0 }
    }
}

impl Iterator for TrapSites<'_> {
    type Item = Result<(u32, u8), EntryError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.reader.data.is_empty() {
            return None;
        }
        let mut site = || {
            let offset = self.previous.checked_add(unzigzag(self.reader.varint()?)).ok_or(EntryError::BadRecord)?;
            let raw = self.reader.take(1)?[0];
            let offset = u32::try_from(offset).map_err(|_| EntryError::BadRecord)?;
            self.previous = i64::from(offset);
            Ok((offset, raw))
        };
        let site = site();
        if site.is_err() {
            self.reader.data = &[];
        }
        Some(site)
    }
}

/// The (code offset, module offset) pairs of a source-location stream.
struct SourceLocations<'a> {
    reader: Reader<'a>,
    code: u64,
    wasm: i64,
}

impl<'a> SourceLocations<'a> {
    fn new(stream: &'a [u8]) -> Self {
        SourceLocations { reader: Reader { data: stream }, code: 0, wasm: 0 }
    }
}

impl Iterator for SourceLocations<'_> {
    type Item = Result<(u32, u32), EntryError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.reader.data.is_empty() {
            return None;
        }
        let mut location = || {
            self.code = self.code.checked_add(self.reader.varint()?).ok_or(EntryError::BadRecord)?;
            self.wasm = self.wasm.checked_add(unzigzag(self.reader.varint()?)).ok_or(EntryError::BadRecord)?;
            let code = u32::try_from(self.code).map_err(|_| EntryError::BadRecord)?;
            let wasm = u32::try_from(self.wasm).map_err(|_| EntryError::BadRecord)?;
            Ok((code, wasm))
        };
        let location = location();
        if location.is_err() {
            self.reader.data = &[];
        }
        Some(location)
    }
}

/// The handlers of an exception-handler stream.
struct Handlers<'a> {
    reader: Reader<'a>,
    return_address: u64,
}

impl<'a> Handlers<'a> {
    fn new(stream: &'a [u8]) -> Self {
        Handlers { reader: Reader { data: stream }, return_address: 0 }
    }
}

impl Iterator for Handlers<'_> {
    type Item = Result<ExceptionHandler, EntryError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.reader.data.is_empty() {
            return None;
        }
        let mut handler = || {
            let delta = self.reader.varint()?;
            self.return_address = self.return_address.checked_add(delta).ok_or(EntryError::BadRecord)?;
            let fits = |value: u64| u32::try_from(value).map_err(|_| EntryError::BadRecord);
            Ok(ExceptionHandler {
                return_address: fits(self.return_address)?,
                landing_pad: fits(self.reader.varint()?)?,
                frame_offset: fits(self.reader.varint()?)?,
            })
        };
        let handler = handler();
        if handler.is_err() {
            self.reader.data = &[];
        }
        Some(handler)
    }
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

    fn function(index: u32, bytes: Vec<u8>, alignment: u64) -> CachedFunction {
        CachedFunction {
            index,
            code: CompiledFunction {
                alignment,
                traps: vec![(1, Trap::Unreachable), (3, Trap::MemoryOutOfBounds), (2, Trap::IntegerOverflow)],
                func_index: None,
                srclocs: vec![(0, 400), (2, 42), (4, 70_000)],
                handlers: vec![
                    ExceptionHandler { return_address: 2, landing_pad: 3, frame_offset: 16 },
                    ExceptionHandler { return_address: 4, landing_pad: 1, frame_offset: 32 },
                ],
                bytes,
            },
        }
    }

    fn sample() -> (CacheKey, Vec<u8>) {
        let key = CacheKey::new(b"\0asm\x01\0\0\0", fingerprint(&["heron 0.1.0", "speed"]));
        let functions = vec![function(3, vec![0x90, 0x0f, 0x0b, 0xc3, 0x90], 16), function(7, vec![0xc3; 9], 16)];
        let data = encode(&key, &functions);
        (key, data)
    }

    #[test]
    fn round_trips() {
        let (key, data) = sample();
        let functions = decode(&key, &data).unwrap();
        assert_eq!(functions.len(), 2);
        assert_eq!(functions[0].index, 3);
        assert_eq!(functions[0].code.bytes, [0x90, 0x0f, 0x0b, 0xc3, 0x90]);
        assert_eq!(functions[0].code.alignment, 16);
        assert_eq!(
            functions[0].code.traps,
            [(1, Trap::Unreachable), (3, Trap::MemoryOutOfBounds), (2, Trap::IntegerOverflow)]
        );
        assert_eq!(functions[0].code.srclocs, [(0, 400), (2, 42), (4, 70_000)]);
        assert_eq!(
            functions[0].code.handlers,
            [
                ExceptionHandler { return_address: 2, landing_pad: 3, frame_offset: 16 },
                ExceptionHandler { return_address: 4, landing_pad: 1, frame_offset: 32 },
            ]
        );
        assert_eq!(functions[1].index, 7);
        assert_eq!(functions[1].code.bytes, [0xc3; 9]);
    }

    #[test]
    fn the_code_part_is_aligned_and_the_tables_are_scanned_in_place() {
        let (key, data) = sample();
        let header = parse_header(&key, &data).unwrap();
        let (tables, code) = data[HEADER_LEN..].split_at(header.tables_len);
        header.verify(tables, code).unwrap();
        let records = header.records(tables).unwrap();
        assert_eq!(records[0].code, 0..5);
        assert_eq!(records[1].code, 16..25, "the second function starts at its alignment");
        assert_eq!(&code[records[1].code.clone()], &[0xc3; 9]);
        let traps = &tables[records[0].traps.clone()];
        assert_eq!(trap_at(traps, 3), Some(Trap::MemoryOutOfBounds));
        assert_eq!(trap_at(traps, 2), Some(Trap::IntegerOverflow));
        assert_eq!(trap_at(traps, 0), None);
        let srclocs = &tables[records[0].srclocs.clone()];
        assert_eq!(srcloc_at(srclocs, 0), Some(400));
        assert_eq!(srcloc_at(srclocs, 3), Some(42));
        assert_eq!(srcloc_at(srclocs, 9), Some(70_000));
        assert_eq!(srcloc_at(&[], 9), None);
        let handlers = &tables[records[0].handlers.clone()];
        assert_eq!(
            handler_at(handlers, 4),
            Some(ExceptionHandler { return_address: 4, landing_pad: 1, frame_offset: 32 })
        );
        assert_eq!(handler_at(handlers, 2).map(|h| h.landing_pad), Some(3));
        assert_eq!(handler_at(handlers, 3), None, "not a return address");
        assert_eq!(handler_at(&[], 2), None);
    }

    #[test]
    fn a_function_aligned_beyond_a_page_is_left_out() {
        let key = CacheKey::new(b"x", fingerprint(&["a"]));
        let data = encode(&key, &[function(0, vec![0xc3; 8], 8192), function(1, vec![0xc3; 8], 1)]);
        let functions = decode(&key, &data).unwrap();
        assert_eq!(functions.iter().map(|f| f.index).collect::<Vec<_>>(), [1]);
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
    fn every_truncation_and_extension_is_refused() {
        let (key, data) = sample();
        for len in 0..data.len() {
            assert!(decode(&key, &data[..len]).is_err(), "length {len} was accepted");
        }
        let mut longer = data.clone();
        longer.push(0);
        assert!(decode(&key, &longer).is_err(), "a trailing byte was accepted");
    }

    /// `data` (an entry of `key`, edited) with its checksum recomputed, and what reading its
    /// records then gives: the checks behind the checksum, as a bug rather than damage
    /// would meet them.
    fn resealed_records(key: &CacheKey, mut data: Vec<u8>) -> Result<Vec<FunctionRecord>, EntryError> {
        let header = parse_header(key, &data).unwrap();
        let (tables, code) = data[HEADER_LEN..].split_at(header.tables_len);
        let mut checksum = Checksum::new();
        for part in [&data[..CHECKSUM_AT], tables, code] {
            checksum.update(part);
        }
        let checksum = checksum.finish();
        data[CHECKSUM_AT..HEADER_LEN].copy_from_slice(&checksum.to_le_bytes());
        let header = parse_header(key, &data).unwrap();
        let (tables, code) = data[HEADER_LEN..].split_at(header.tables_len);
        header.verify(tables, code).unwrap();
        let records = header.records(tables);
        if records.is_ok() {
            decode(key, &data).expect("what `records` accepts decodes");
        }
        records
    }

    #[test]
    fn records_outside_their_parts_are_refused_even_with_a_good_checksum() {
        let (key, data) = sample();
        assert!(resealed_records(&key, data.clone()).is_ok());
        // The second record's code offset (at HEADER_LEN + RECORD_LEN + 8) past the code.
        let mut bad = data.clone();
        bad[HEADER_LEN + RECORD_LEN + 8] = 0xf0;
        assert_eq!(resealed_records(&key, bad).err(), Some(EntryError::BadRecord));
        // The first record's handler bytes (its last field) past the tables.
        let mut bad = data;
        bad[HEADER_LEN + RECORD_LEN - 4] = 0xf0;
        assert_eq!(resealed_records(&key, bad).err(), Some(EntryError::BadRecord));
    }

    #[test]
    fn a_damaged_handler_table_is_refused_even_with_a_good_checksum() {
        let (key, data) = sample();
        let header = parse_header(&key, &data).unwrap();
        let records = header.records(&data[HEADER_LEN..][..header.tables_len]).unwrap();
        // The first function's (5 bytes of code) handlers: return address deltas 2 and 2,
        // landing pads 3 and 1, frame offsets 16 and 32.
        let at = HEADER_LEN + records[0].handlers.start;
        assert_eq!(&data[at..HEADER_LEN + records[0].handlers.end], [2, 3, 16, 2, 1, 32]);
        for (offset, byte, what) in [
            (1, 5, "a landing pad past the code"),
            (3, 4, "a return address past the code"),
            (3, 0, "return addresses out of order"),
            (5, 0x80, "a handler cut short"),
        ] {
            let mut bad = data.clone();
            bad[at + offset] = byte;
            let result = resealed_records(&key, bad);
            assert!(result.is_err(), "{what} was accepted");
        }
    }

    #[test]
    fn large_bytes_are_hashed_in_pieces_and_every_piece_counts() {
        let small = vec![7u8; HASH_PIECE];
        assert_eq!(wasm_hash(&small), <[u8; 32]>::from(Sha256::digest(&small)), "one piece: plain SHA-256");
        let large: Vec<u8> = (0..3 * HASH_PIECE + 5).map(|i| (i * 31 % 251) as u8).collect();
        let hash = wasm_hash(&large);
        assert_ne!(hash, <[u8; 32]>::from(Sha256::digest(&large)));
        assert_eq!(hash, wasm_hash(&large.clone()), "deterministic");
        for at in [0, HASH_PIECE, 2 * HASH_PIECE + 17, large.len() - 1] {
            let mut other = large.clone();
            other[at] ^= 1;
            assert_ne!(wasm_hash(&other), hash, "byte {at} changed and the hash did not");
        }
        assert_ne!(wasm_hash(&large[..large.len() - 1]), hash, "the length counts");
    }

    #[test]
    fn foreign_fingerprint_is_refused() {
        let (key, data) = sample();
        let other = CacheKey { fingerprint: fingerprint(&["heron 0.2.0", "speed"]), ..key };
        assert_eq!(decode(&other, &data).err(), Some(EntryError::ForeignKey));
        assert_ne!(other.file_name(), sample().0.file_name());
    }
}
