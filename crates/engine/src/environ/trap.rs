//! Why compiled code stopped: the `Trap` enum, its spec wording, the one mapping to and from
//! Cranelift trap codes, and the per-function tables that map a faulting PC to a trap.

use cranelift_codegen::ir::TrapCode;

/// Why compiled code stopped. `message()` is the text the spec testsuite's `assert_trap`
/// expects, so the wast runner compares strings directly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Trap {
    /// `unreachable` executed.
    Unreachable = 1,
    /// A load, store or bulk memory operation outside linear memory.
    MemoryOutOfBounds,
    /// A table access outside the table.
    TableOutOfBounds,
    /// `call_indirect` with an index past the end of the table.
    UndefinedElement,
    /// `call_indirect` through a null entry.
    IndirectCallToNull,
    /// `call_indirect` whose callee has another signature.
    BadSignature,
    /// Signed division overflow or a float too large for the integer type.
    IntegerOverflow,
    /// Integer division or remainder by zero.
    IntegerDivideByZero,
    /// Float-to-int conversion of NaN.
    InvalidConversionToInteger,
    /// The wasm stack budget of this thread ran out.
    StackOverflow,
    /// A host function failed; compiled code traps with this code to unwind to the entry.
    HostError,
    /// A lazily compiled function failed to compile when called (validation passed, so
    /// this is a heron limitation, e.g. a function too large for the code generator).
    CompileFailed,
    /// The call from the host ran past its deadline (`Controls::timeout`).
    Timeout,
    /// An interrupt handle was used, or Ctrl-C came, while the call ran.
    Interrupted,
    /// The instance used up its fuel (`Controls::fuel`).
    OutOfFuel,
    /// An atomic access at an address that is not a multiple of its size.
    UnalignedAtomic,
    /// `memory.atomic.wait32`/`wait64` on a memory that is not shared.
    ExpectedSharedMemory,
    /// `ref.as_non_null` of null.
    NullReference,
    /// `call_ref` or `return_call_ref` of null.
    NullFunctionReference,
    /// `throw_ref` of a null exception reference.
    NullExceptionReference,
}

const ALL: [Trap; 20] = [
    Trap::Unreachable,
    Trap::MemoryOutOfBounds,
    Trap::TableOutOfBounds,
    Trap::UndefinedElement,
    Trap::IndirectCallToNull,
    Trap::BadSignature,
    Trap::IntegerOverflow,
    Trap::IntegerDivideByZero,
    Trap::InvalidConversionToInteger,
    Trap::StackOverflow,
    Trap::HostError,
    Trap::CompileFailed,
    Trap::Timeout,
    Trap::Interrupted,
    Trap::OutOfFuel,
    Trap::UnalignedAtomic,
    Trap::ExpectedSharedMemory,
    Trap::NullReference,
    Trap::NullFunctionReference,
    Trap::NullExceptionReference,
];

impl Trap {
    /// The spec's wording of this trap.
    pub fn message(self) -> &'static str {
        match self {
            Trap::Unreachable => "unreachable",
            Trap::MemoryOutOfBounds => "out of bounds memory access",
            Trap::TableOutOfBounds => "out of bounds table access",
            Trap::UndefinedElement => "undefined element",
            Trap::IndirectCallToNull => "uninitialized element",
            Trap::BadSignature => "indirect call type mismatch",
            Trap::IntegerOverflow => "integer overflow",
            Trap::IntegerDivideByZero => "integer divide by zero",
            Trap::InvalidConversionToInteger => "invalid conversion to integer",
            Trap::StackOverflow => "call stack exhausted",
            Trap::HostError => "host function failed",
            Trap::CompileFailed => "function failed to compile",
            Trap::Timeout => "wasm execution timed out",
            Trap::Interrupted => "wasm execution was interrupted",
            Trap::OutOfFuel => "wasm execution ran out of fuel",
            Trap::UnalignedAtomic => "unaligned atomic",
            Trap::ExpectedSharedMemory => "expected shared memory",
            Trap::NullReference => "null reference",
            Trap::NullFunctionReference => "null function reference",
            Trap::NullExceptionReference => "null exception reference",
        }
    }

    /// The Cranelift trap code compiled code uses for this trap. The only place heron
    /// chooses trap codes.
    pub(crate) fn to_clif(self) -> TrapCode {
        match self {
            Trap::MemoryOutOfBounds => TrapCode::HEAP_OUT_OF_BOUNDS,
            Trap::IntegerOverflow => TrapCode::INTEGER_OVERFLOW,
            Trap::IntegerDivideByZero => TrapCode::INTEGER_DIVISION_BY_ZERO,
            Trap::InvalidConversionToInteger => TrapCode::BAD_CONVERSION_TO_INTEGER,
            Trap::StackOverflow => TrapCode::STACK_OVERFLOW,
            user => TrapCode::unwrap_user(user as u8),
        }
    }

    /// The trap a Cranelift trap code stands for.
    pub(crate) fn from_clif(code: TrapCode) -> Option<Trap> {
        ALL.iter().copied().find(|t| t.to_clif() == code)
    }

    pub(crate) fn from_u8(raw: u8) -> Option<Trap> {
        ALL.iter().copied().find(|t| *t as u8 == raw)
    }
}

impl std::fmt::Display for Trap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// Trap sites of one compiled function: code offsets, sorted, each with its trap.
#[derive(Default, Debug)]
pub(crate) struct TrapTable {
    offsets: Vec<u32>,
    traps: Vec<Trap>,
}

impl TrapTable {
    /// Builds a table from `(offset, trap)` pairs in any order.
    pub fn new(mut sites: Vec<(u32, Trap)>) -> Self {
        sites.sort_by_key(|s| s.0);
        TrapTable { offsets: sites.iter().map(|s| s.0).collect(), traps: sites.iter().map(|s| s.1).collect() }
    }

    /// The trap recorded at exactly `offset`. Runs inside the signal handler: no allocation.
    pub fn lookup(&self, offset: u32) -> Option<Trap> {
        self.offsets.binary_search(&offset).ok().map(|i| self.traps[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clif_codes_round_trip() {
        for trap in ALL {
            assert_eq!(Trap::from_clif(trap.to_clif()), Some(trap));
            assert_eq!(Trap::from_u8(trap as u8), Some(trap));
        }
    }

    #[test]
    fn lookup_finds_exact_sites_only() {
        let table = TrapTable::new(vec![(40, Trap::Unreachable), (8, Trap::IntegerOverflow)]);
        assert_eq!(table.lookup(8), Some(Trap::IntegerOverflow));
        assert_eq!(table.lookup(40), Some(Trap::Unreachable));
        assert_eq!(table.lookup(9), None);
    }
}
