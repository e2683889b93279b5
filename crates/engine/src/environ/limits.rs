//! The implementation-defined limits of the JS API spec ("Implementation-defined Limits" in
//! `js-api.bs`), checked while a module is decoded so that a module over one fails to
//! compile (and `validate()` says false) with a message naming the limit.
//!
//! wasmparser enforces most of these limits itself, with its own constants and messages;
//! checking the counts here first gives heron one list of the numbers the JS API fixes and
//! messages that say what was exceeded. The checks read only the counts at the head of each
//! section, so they cost nothing on large modules. Limits that need more than a count
//! (locals per function, parameters and results, entries of one element segment, imported
//! tables and memories counted with defined ones) are left to wasmparser, whose numbers are
//! the spec's for every proposal heron implements.
//!
//! Table sizes are not checked here: the JS API's tests (and V8) treat a declared table
//! size over 10,000,000 as a limit reached when the table is created, so such a module
//! compiles and its instantiation fails with a `RangeError` (`table.rs`).
#![forbid(unsafe_code)]

use crate::environ::error::{Error, Result};
use wasmparser::Payload;

/// The largest module, in bytes (1 GiB).
pub(crate) const MAX_MODULE_SIZE: usize = 1 << 30;
/// The most types a module may define.
pub(crate) const MAX_TYPES: u32 = 1_000_000;
/// The most functions a module may define (imported ones aside).
pub(crate) const MAX_FUNCTIONS: u32 = 1_000_000;
/// The most imports a module may declare.
pub(crate) const MAX_IMPORTS: u32 = 1_000_000;
/// The most exports a module may declare.
pub(crate) const MAX_EXPORTS: u32 = 1_000_000;
/// The most globals a module may define.
pub(crate) const MAX_GLOBALS: u32 = 1_000_000;
/// The most data segments a module may define.
pub(crate) const MAX_DATA_SEGMENTS: u32 = 100_000;
/// The most tables, imported and defined together.
pub(crate) const MAX_TABLES: u32 = 100_000;
/// The most memories, imported and defined together.
pub(crate) const MAX_MEMORIES: u32 = 100;
/// The largest function body, local declarations included, in bytes.
pub(crate) const MAX_FUNCTION_BODY_SIZE: u64 = 7_654_321;

/// Fails for a module of `len` bytes if that is over the JS API's module size limit.
pub(crate) fn check_module_size(len: usize) -> Result<()> {
    if len > MAX_MODULE_SIZE {
        return Err(Error::compile(format!("module is {len} bytes; the limit is {MAX_MODULE_SIZE} bytes"), 0));
    }
    Ok(())
}

/// Fails if `payload` declares more entries than the JS API allows for its section, or is a
/// function body over the size limit. Call it on each payload before validating it.
pub(crate) fn check_payload(payload: &Payload<'_>) -> Result<()> {
    let (count, limit, what, offset) = match payload {
        // Without the GC proposal every recursion group holds exactly one type.
        Payload::TypeSection(s) => (s.count(), MAX_TYPES, "types", s.range().start),
        Payload::ImportSection(s) => (s.count(), MAX_IMPORTS, "imports", s.range().start),
        Payload::FunctionSection(s) => (s.count(), MAX_FUNCTIONS, "functions", s.range().start),
        Payload::TableSection(s) => (s.count(), MAX_TABLES, "tables", s.range().start),
        Payload::MemorySection(s) => (s.count(), MAX_MEMORIES, "memories", s.range().start),
        Payload::GlobalSection(s) => (s.count(), MAX_GLOBALS, "globals", s.range().start),
        Payload::ExportSection(s) => (s.count(), MAX_EXPORTS, "exports", s.range().start),
        Payload::DataSection(s) => (s.count(), MAX_DATA_SEGMENTS, "data segments", s.range().start),
        Payload::DataCountSection { count, range } => (*count, MAX_DATA_SEGMENTS, "data segments", range.start),
        Payload::CodeSectionEntry(body) => {
            let range = body.range();
            let size = range.end - range.start;
            if size > MAX_FUNCTION_BODY_SIZE {
                return Err(Error::compile(
                    format!("function body is {size} bytes; the limit is {MAX_FUNCTION_BODY_SIZE} bytes"),
                    range.start,
                ));
            }
            return Ok(());
        }
        _ => return Ok(()),
    };
    if count > limit {
        return Err(Error::compile(format!("module has {count} {what}; the limit is {limit}"), offset));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::Parser;

    /// Unsigned LEB128 of `n`.
    fn leb(mut n: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    /// A module with one section `id` whose vector claims `count` entries; only the count is
    /// present, which is all the limit checks read.
    fn section_claiming(id: u8, count: u64) -> Vec<u8> {
        let payload = leb(count);
        let mut bytes = b"\0asm\x01\0\0\0".to_vec();
        bytes.push(id);
        bytes.extend(leb(payload.len() as u64));
        bytes.extend(payload);
        bytes
    }

    /// The result of checking every payload of `bytes` until the first failure. The test
    /// modules hold only the counts the checks read, so the parser may fail after them (a
    /// function section without a code section); it stops the walk without counting.
    fn check(bytes: &[u8]) -> Result<()> {
        for payload in Parser::new(0).parse_all(bytes) {
            let Ok(payload) = payload else { break };
            check_payload(&payload)?;
        }
        Ok(())
    }

    fn message(result: Result<()>) -> String {
        match result {
            Err(Error::Compile { message, .. }) => message,
            other => panic!("expected a compile error, got {other:?}"),
        }
    }

    #[test]
    fn section_counts_at_the_limit_pass_and_over_it_fail() {
        let cases = [
            (1, MAX_TYPES, "types"),
            (2, MAX_IMPORTS, "imports"),
            (3, MAX_FUNCTIONS, "functions"),
            (4, MAX_TABLES, "tables"),
            (5, MAX_MEMORIES, "memories"),
            (6, MAX_GLOBALS, "globals"),
            (7, MAX_EXPORTS, "exports"),
            (11, MAX_DATA_SEGMENTS, "data segments"),
            (12, MAX_DATA_SEGMENTS, "data segments"),
        ];
        for (id, limit, what) in cases {
            assert!(check(&section_claiming(id, limit.into())).is_ok(), "{what} at the limit");
            let over = u64::from(limit) + 1;
            assert_eq!(
                message(check(&section_claiming(id, over))),
                format!("module has {over} {what}; the limit is {limit}"),
            );
        }
    }

    #[test]
    fn function_bodies_over_the_size_limit_fail() {
        let module_with_body = |size: usize| {
            // One type `[] -> []`, one function of it, and its body: no locals, `nop`s, `end`.
            let mut body = leb(size as u64);
            body.push(0);
            body.extend(std::iter::repeat_n(0x01, size - 2));
            body.push(0x0b);
            let mut code = vec![1];
            code.extend(body);
            let mut bytes = b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x0a".to_vec();
            bytes.extend(leb(code.len() as u64));
            bytes.extend(code);
            bytes
        };
        let limit = MAX_FUNCTION_BODY_SIZE as usize;
        assert!(check(&module_with_body(limit)).is_ok());
        assert_eq!(
            message(check(&module_with_body(limit + 1))),
            "function body is 7654322 bytes; the limit is 7654321 bytes",
        );
    }

    #[test]
    fn modules_over_one_gibibyte_fail() {
        // The check reads only the length, so no gigabyte is allocated here.
        assert!(check_module_size(MAX_MODULE_SIZE).is_ok());
        assert_eq!(
            message(check_module_size(MAX_MODULE_SIZE + 1)),
            "module is 1073741825 bytes; the limit is 1073741824 bytes",
        );
    }
}
