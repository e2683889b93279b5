//! What the compiler hands the runtime: one function's machine code, its alignment and its
//! trap sites, with no relocations (compiled code is position-independent).
#![forbid(unsafe_code)]

use crate::environ::trap::Trap;

/// One function's machine code as the compiler produced it.
pub(crate) struct CompiledFunction {
    /// The code, ready to be copied anywhere.
    pub bytes: Vec<u8>,
    /// Alignment the code needs.
    pub alignment: u64,
    /// Offsets of trap sites in `bytes`, each with its trap.
    pub traps: Vec<(u32, Trap)>,
}
