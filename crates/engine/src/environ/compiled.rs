//! What the compiler hands the runtime: one function's machine code, its alignment, its
//! trap sites and the wasm instruction each part of the code came from, with no
//! relocations (compiled code is position-independent).
#![forbid(unsafe_code)]

use crate::environ::trap::Trap;

/// One function's machine code as the compiler produced it.
#[derive(Clone)]
pub(crate) struct CompiledFunction {
    /// The code, ready to be copied anywhere.
    pub bytes: Vec<u8>,
    /// Alignment the code needs.
    pub alignment: u64,
    /// Offsets of trap sites in `bytes`, each with its trap.
    pub traps: Vec<(u32, Trap)>,
    /// The wasm function this is, by index in the function index space; `None` for a
    /// trampoline. Stack traces and the perf map name code by it.
    pub func_index: Option<u32>,
    /// Where code came from: (offset in `bytes`, byte offset in the module of the wasm
    /// instruction it implements), sorted by code offset, one entry per change. Empty for
    /// a trampoline.
    pub srclocs: Vec<(u32, u32)>,
}
