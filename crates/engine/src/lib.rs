//! heron-engine: a WebAssembly engine on Cranelift, with no knowledge of JS.
//!
//! The pipeline, by layer (ARCHITECTURE.md at the repository root has the rules):
//! 0. [`Module::new`] looks the bytes up in the engine's live modules and in the persistent
//!    code cache (`runtime/code_cache.rs`); a hit skips validation and compilation.
//! 1. `environ/`: [`Module::new`] decodes and validates the binary with wasmparser
//!    (`environ/info.rs`) into a `ModuleInfo`: types, imports, exports, segments and function
//!    bodies; `environ/vmctx.rs` lays out the instances' `VMContext`.
//! 2. `compiler/`: translates function bodies to Cranelift IR (`compiler/translate/`) and
//!    compiles them into position-independent code with its trap sites.
//! 3. `runtime/`: loads the code (`code_memory.rs`) when `lazy.rs` says so (all at once, or in
//!    the background and on first call); [`Instance::new`] resolves imports, fills the
//!    `VMContext`, creates memories, tables and globals, runs the segment initialisers and the
//!    start function; [`Func::call`] enters compiled code through a per-signature trampoline
//!    (`entry.rs`), and a trap is a signal at a recorded trap site (`signals.rs`) that unwinds
//!    to that entry.
//! 4. The API on top: `engine.rs`, `module.rs`, `func.rs`, `values.rs`.

mod compiler;
mod engine;
mod environ;
mod func;
mod module;
mod runtime;
mod values;

pub use engine::{Config, Engine};
pub use environ::config::{BoundsChecks, CodeFlavour, Compilation, Controls};
pub use environ::error::{Error, HostError, Result};
pub use environ::exception::Exception;
pub use environ::names::{set_v8_hash, V8Hash};
pub use environ::trap::Trap;
pub use environ::types::{
    AddressType, ExternType, FuncType, GlobalType, HeapType, Limits, MemoryType, RefType, TableType, ValType,
};
pub use func::Func;
pub use module::{ExportDesc, ImportDesc, Module};
pub use runtime::backtrace::{Backtrace, Frame};
pub use runtime::code_cache::{flush_all as flush_code_cache, CacheConfig, CacheStats, CodeCache, DEFAULT_MAX_SIZE};
pub use runtime::entry::threads_that_ran_wasm;
pub use runtime::global::Global;
pub use runtime::instance::{Extern, Instance};
pub use runtime::interrupts::{interrupt_by_id, last_timeout, InterruptHandle};
pub use runtime::memory::{GrowObserver, Memory, RESERVATION_BUDGET, WASM_PAGE_SIZE};
pub use runtime::parking_lot::{set_cancellation_hook as set_wait_cancellation_hook, AsyncWaiter};
pub use runtime::perf_map::{enable as enable_perf_map, path as perf_map_path};
pub use runtime::shared_memory::{SharedMemory, Width as WaitWidth};
pub use runtime::table::Table;
pub use runtime::tag::Tag;
pub use values::{ExternRef, Val, ValRaw};
