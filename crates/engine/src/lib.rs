//! heron-engine: a WebAssembly engine on Cranelift, with no knowledge of JS.
//!
//! The pipeline:
//! 1. [`Module::new`] decodes and validates the binary with wasmparser (`module.rs`) into a
//!    `ModuleInfo`: types, imports, exports, segments and function bodies.
//! 2. `compile.rs` translates function bodies to Cranelift IR (`translate/`), compiles them,
//!    and loads the code with cranelift-jit (`code_memory.rs`), keeping each function's trap
//!    sites. `lazy.rs` decides when: all at once, or in the background and on first call.
//! 3. [`Instance::new`] resolves imports, lays out the instance's `VMContext` (`vmctx.rs`),
//!    creates memories, tables and globals, runs the segment initialisers and the start function.
//! 4. [`Func::call`] enters compiled code through a per-signature trampoline (`entry.rs`); a trap
//!    is a signal at a recorded trap site (`signals.rs`) that unwinds to that entry.

mod compiler;
mod engine;
mod environ;
mod func;
mod module;
mod runtime;
mod values;

pub use engine::{Config, Engine};
pub use environ::config::{BoundsChecks, Compilation};
pub use environ::error::{Error, HostError, Result};
pub use environ::trap::Trap;
pub use environ::types::{ExternType, FuncType, GlobalType, Limits, MemoryType, TableType, ValType};
pub use func::Func;
pub use module::{ExportDesc, ImportDesc, Module};
pub use runtime::backtrace::{Backtrace, Frame};
pub use runtime::global::Global;
pub use runtime::instance::{Extern, Instance};
pub use runtime::memory::{GrowObserver, Memory, RESERVATION_BUDGET, WASM_PAGE_SIZE};
pub use runtime::perf_map::{enable as enable_perf_map, path as perf_map_path};
pub use runtime::table::Table;
pub use values::{ExternRef, Val, ValRaw};
