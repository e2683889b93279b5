//! What the compiler hands the runtime: one function's machine code, its alignment, its
//! trap sites, its exception handlers and the wasm instruction each part of the code came
//! from, with no relocations (compiled code is position-independent).
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
    /// The calls inside a handler's scope (see `runtime/throw.rs`): (offset in `bytes` of
    /// the return address, offset of the landing pad, distance from the frame pointer down
    /// to the stack pointer at the call), sorted by return address.
    pub handlers: Vec<ExceptionHandler>,
}

/// Where an exception thrown through one call site lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ExceptionHandler {
    /// Offset of the call's return address in the function's code.
    pub return_address: u32,
    /// Offset of the landing pad, which takes the exception in the first payload register.
    pub landing_pad: u32,
    /// The frame pointer minus the stack pointer at the call: how the unwinder recovers the
    /// stack pointer the landing pad expects.
    pub frame_offset: u32,
}
