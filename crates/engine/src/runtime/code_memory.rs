//! Executable memory: loads compiled functions with cranelift-jit, publishes them (and lists
//! them in the perf map when it is on, `perf_map.rs`), and keeps the process-wide registry
//! of code ranges, trap sites and source locations that the signal handler and stack traces
//! consult.
//!
//! Code is loaded at any time (lazy and background compilation load it while other threads
//! run wasm), so the registry is read without locks: it is an immutable snapshot behind an
//! atomic pointer. Writers (serialised by a mutex) publish a new snapshot and free the old
//! one only once no reader is inside `trap_at`, which the signal handler calls; a reader
//! never blocks, allocates, or frees.

use crate::environ::compiled::{CompiledFunction, ExceptionHandler};
use crate::environ::error::{Error, Result};
use crate::environ::names::ModuleNames;
use crate::environ::trap::{Trap, TrapTable};
use crate::runtime::perf_map;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::Module as _;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

/// Loaded, executable code of a set of functions. Freed, and unregistered, on drop.
pub(crate) struct CodeMemory {
    jit: Option<JITModule>,
    info: Arc<CodeInfo>,
    /// Entry address of each function, in the order given to `load`.
    starts: Vec<usize>,
}

/// What the signal handler and stack traces need to know about one `CodeMemory`.
struct CodeInfo {
    /// Each function. cranelift-jit may place a module's functions in several separate
    /// allocations, so each is registered alone.
    functions: Vec<FunctionCode>,
    /// The names of the module the functions belong to; `None` for trampolines.
    names: Option<Arc<ModuleNames>>,
}

/// One loaded function.
struct FunctionCode {
    start: usize,
    len: usize,
    traps: TrapTable,
    /// Index in the function index space of a wasm function; `None` for a trampoline.
    func_index: Option<u32>,
    /// (code offset, module offset of the wasm instruction), sorted by code offset.
    srclocs: Vec<(u32, u32)>,
    /// Landing pads by return address, sorted (see `throw.rs`).
    handlers: Vec<ExceptionHandler>,
}

/// A wasm function's frame as a stack trace shows it.
pub(crate) struct WasmFrame {
    pub names: Arc<ModuleNames>,
    pub func_index: u32,
    /// Byte offset in the module of the instruction the frame is at.
    pub module_offset: u32,
}

// SAFETY: once `load` returns, the JIT module is never touched again except by `drop`, which
// has exclusive access; the code it owns is immutable and executable from any thread.
unsafe impl Send for CodeMemory {}
// SAFETY: as above: no `&self` method reaches the JIT module.
unsafe impl Sync for CodeMemory {}

/// Every function of every live `CodeMemory`, sorted by the address one past its end, with
/// its `CodeMemory`'s info and its index there.
type Snapshot = Vec<(usize, Arc<CodeInfo>, usize)>;

/// The current snapshot (a leaked `Box<Snapshot>`), or null when nothing was ever loaded.
static REGISTRY: AtomicPtr<Snapshot> = AtomicPtr::new(ptr::null_mut());
/// Readers inside `trap_at`; a writer frees a replaced snapshot only when this is zero.
static READERS: AtomicUsize = AtomicUsize::new(0);
/// Serialises writers.
static WRITER: Mutex<()> = Mutex::new(());

/// Replaces the registry by `edit` applied to a copy of it, then frees the old snapshot
/// once no reader can still see it.
fn update_registry(edit: impl FnOnce(&mut Snapshot)) {
    let _writer = WRITER.lock().unwrap_or_else(|e| e.into_inner());
    let old = REGISTRY.load(SeqCst);
    // SAFETY: only writers, serialised by WRITER, replace or free the snapshot; `old` is
    // the live one (or null) and stays allocated until this function frees it below.
    let mut new = if old.is_null() { Snapshot::new() } else { unsafe { (*old).clone() } };
    edit(&mut new);
    REGISTRY.store(Box::into_raw(Box::new(new)), SeqCst);
    // A reader that loaded `old` incremented READERS before its load (both SeqCst), so it
    // is counted here until it is done with it; later readers see the new snapshot.
    while READERS.load(SeqCst) != 0 {
        std::hint::spin_loop();
    }
    if !old.is_null() {
        // SAFETY: `old` came from Box::into_raw, is no longer published, and no reader holds it.
        drop(unsafe { Box::from_raw(old) });
    }
}

impl CodeMemory {
    /// Copies `functions` into executable memory and registers their trap sites and source
    /// locations; `names` are those of the module the functions belong to (`None` for
    /// trampolines).
    pub fn load(
        isa: OwnedTargetIsa,
        functions: Vec<CompiledFunction>,
        names: Option<&Arc<ModuleNames>>,
    ) -> Result<CodeMemory> {
        let load_error = |e: cranelift_module::ModuleError| Error::Resource(format!("loading code failed: {e}"));
        let builder = JITBuilder::with_isa(isa, cranelift_module::default_libcall_names());
        let mut jit = JITModule::new(builder);
        let signature = jit.make_signature();
        let mut ids = Vec::with_capacity(functions.len());
        for function in &functions {
            let id = jit.declare_anonymous_function(&signature).map_err(load_error)?;
            jit.define_function_bytes(id, function.alignment, &function.bytes, &[]).map_err(load_error)?;
            ids.push(id);
        }
        jit.finalize_definitions().map_err(load_error)?;
        let entries: Vec<FunctionCode> = functions
            .into_iter()
            .zip(&ids)
            .map(|(f, id)| FunctionCode {
                start: jit.get_finalized_function(*id) as usize,
                len: f.bytes.len(),
                traps: TrapTable::new(f.traps),
                func_index: f.func_index,
                srclocs: f.srclocs,
                handlers: f.handlers,
            })
            .collect();
        let starts: Vec<usize> = entries.iter().map(|e| e.start).collect();
        let info = Arc::new(CodeInfo { functions: entries, names: names.cloned() });
        if perf_map::enabled() {
            perf_map::append(&perf_map_lines(&info));
        }
        update_registry(|registry| {
            for (index, function) in info.functions.iter().enumerate() {
                registry.push((function.start + function.len.max(1), info.clone(), index));
            }
            registry.sort_unstable_by_key(|entry| entry.0);
        });
        Ok(CodeMemory { jit: Some(jit), info, starts })
    }

    /// Entry address of the `index`th function given to `load`.
    pub fn function(&self, index: usize) -> *const u8 {
        self.starts[index] as *const u8
    }
}

/// The perf map's lines for the functions of `info`: `START SIZE NAME`, hex, one a line.
fn perf_map_lines(info: &CodeInfo) -> String {
    use std::fmt::Write as _;
    let mut lines = String::new();
    for function in &info.functions {
        let name = match (function.func_index, &info.names) {
            (Some(index), Some(names)) => perf_map::wasm_function_name(names, index),
            _ => "heron:trampoline".to_owned(),
        };
        let _ = writeln!(lines, "{:x} {:x} {name}", function.start, function.len);
    }
    lines
}

/// Runs `read` on the function containing `pc` and `pc`'s offset in it, if heron loaded
/// code there. Takes no lock, allocates nothing and frees nothing (unless `read` does).
fn with_function_at<T>(pc: usize, read: impl FnOnce(&CodeInfo, &FunctionCode, u32) -> Option<T>) -> Option<T> {
    READERS.fetch_add(1, SeqCst);
    let registry = REGISTRY.load(SeqCst);
    let found = if registry.is_null() {
        None
    } else {
        // SAFETY: a writer frees a snapshot only after unpublishing it and seeing READERS at
        // zero; this reader was counted before it loaded the pointer, so it stays valid.
        let registry = unsafe { &*registry };
        let at = registry.partition_point(|entry| entry.0 <= pc);
        registry.get(at).and_then(|(_, info, index)| {
            let function = &info.functions[*index];
            let offset = u32::try_from(pc.checked_sub(function.start)?).ok()?;
            read(info, function, offset)
        })
    };
    READERS.fetch_sub(1, SeqCst);
    found
}

/// The trap recorded at `pc`, if `pc` is a trap site of heron-compiled code. Called by the
/// signal handler: it takes no lock, allocates nothing and frees nothing.
pub(crate) fn trap_at(pc: usize) -> Option<Trap> {
    with_function_at(pc, |_, function, offset| function.traps.lookup(offset))
}

/// The landing pad of the call returning to `pc`, if that call is in a handler's scope:
/// its address and the frame offset there (see `throw.rs`). Takes no lock, allocates nothing.
pub(crate) fn handler_at(pc: usize) -> Option<(usize, u32)> {
    // A return address belongs to the call before it, which may end the function's code.
    with_function_at(pc.checked_sub(1)?, |_, function, offset| {
        let return_address = offset + 1;
        let at = function.handlers.binary_search_by_key(&return_address, |h| h.return_address).ok()?;
        let handler = function.handlers[at];
        Some((function.start + handler.landing_pad as usize, handler.frame_offset))
    })
}

/// The wasm frame at `pc`, if `pc` is in a wasm function's code: at a trap site, or (with
/// `return_address`) just after a call. Not for the signal handler: it clones an `Arc`.
pub(crate) fn wasm_frame_at(pc: usize, return_address: bool) -> Option<WasmFrame> {
    // A return address belongs to the call before it, which may end the function's code.
    let pc = if return_address { pc.checked_sub(1)? } else { pc };
    with_function_at(pc, |info, function, offset| {
        let func_index = function.func_index?;
        let names = info.names.clone()?;
        let at = function.srclocs.partition_point(|(code, _)| *code <= offset);
        // The compiler locates all code (the prologue at the body's start); code before the
        // first location, had a function any, would be at its first instruction.
        let module_offset = function.srclocs.get(at.saturating_sub(1)).map_or(0, |(_, wasm)| *wasm);
        Some(WasmFrame { names, func_index, module_offset })
    })
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        update_registry(|registry| registry.retain(|(_, info, _)| !Arc::ptr_eq(info, &self.info)));
        if let Some(jit) = self.jit.take() {
            // SAFETY: the code is unreachable now: every instance and function that could
            // run it holds (through its module) this `CodeMemory`, which is being dropped.
            unsafe { jit.free_memory() };
        }
    }
}
