//! Executable memory: loads compiled functions with cranelift-jit, or maps a code-cache
//! entry's code as one block (`WritableCode`: filled by the cache, then made executable at
//! once), publishes them (and lists them in the perf map when it is on, `perf_map.rs`), and
//! keeps the process-wide registry of code ranges, trap sites, source locations and exception
//! handlers that the signal handler, stack traces and the unwinder (`throw.rs`) consult. A
//! cached block's side tables stay in the entry's encoding and are scanned in place when a
//! trap, a trace or a throw asks.
//!
//! Code is loaded at any time (lazy and background compilation load it while other threads
//! run wasm), so the registry is read without locks: it is an immutable snapshot behind an
//! atomic pointer. Writers (serialised by a mutex) publish a new snapshot and free the old
//! one only once no reader is inside `trap_at`, which the signal handler calls; a reader
//! never blocks, allocates, or frees.

use crate::environ::cache_entry;
use crate::environ::compiled::{CompiledFunction, ExceptionHandler};
use crate::environ::error::{Error, Result};
use crate::environ::names::ModuleNames;
use crate::environ::trap::{Trap, TrapTable};
use crate::runtime::perf_map;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::Module as _;
use std::ops::Range;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

/// Loaded, executable code of a set of functions. Freed, and unregistered, on drop.
pub(crate) struct CodeMemory {
    backing: Backing,
    info: Arc<CodeInfo>,
    /// Entry address of each function, in the order given to `load`.
    starts: Vec<usize>,
}

/// Who owns the executable memory.
enum Backing {
    /// cranelift-jit's allocations (`None` once freed).
    Jit(Option<JITModule>),
    /// One private anonymous mapping of `len` bytes (a cache entry's code).
    Mapped { base: *mut u8, len: usize },
}

/// What the signal handler and stack traces need to know about one `CodeMemory`.
struct CodeInfo {
    /// Each function; sorted by start address when `block` is set.
    functions: Vec<FunctionCode>,
    /// The one range all of `functions` lie in (a cache entry's mapping), registered as a
    /// whole; `None` for cranelift-jit's code, which may place a module's functions in
    /// several separate allocations, so each function is registered alone.
    block: Option<Range<usize>>,
    /// The names of the module the functions belong to; `None` for trampolines.
    names: Option<Arc<ModuleNames>>,
    /// A cache entry's tables part, which `SideTables::Encoded` ranges index; empty for
    /// compiled code.
    encoded: Vec<u8>,
}

/// One loaded function.
struct FunctionCode {
    start: usize,
    len: usize,
    /// Index in the function index space of a wasm function; `None` for a trampoline.
    func_index: Option<u32>,
    tables: SideTables,
}

/// A function's trap sites, source locations and exception handlers.
enum SideTables {
    /// As the compiler produced them; source locations are (code offset, module offset of
    /// the wasm instruction), sorted by code offset; handlers are sorted by return address.
    Decoded { traps: TrapTable, srclocs: Vec<(u32, u32)>, handlers: Vec<ExceptionHandler> },
    /// Ranges of its `CodeInfo::encoded`, in the cache entry's encoding (the handlers
    /// checked when the entry's records were read).
    Encoded { traps: Range<usize>, srclocs: Range<usize>, handlers: Range<usize> },
}

impl SideTables {
    fn trap_at(&self, encoded: &[u8], offset: u32) -> Option<Trap> {
        match self {
            SideTables::Decoded { traps, .. } => traps.lookup(offset),
            SideTables::Encoded { traps, .. } => cache_entry::trap_at(encoded.get(traps.clone())?, offset),
        }
    }

    /// The handler of the call whose return address is at `offset`, if that call is in a
    /// handler's scope.
    fn handler_at(&self, encoded: &[u8], offset: u32) -> Option<ExceptionHandler> {
        match self {
            SideTables::Decoded { handlers, .. } => {
                let at = handlers.binary_search_by_key(&offset, |h| h.return_address).ok()?;
                Some(handlers[at])
            }
            SideTables::Encoded { handlers, .. } => cache_entry::handler_at(encoded.get(handlers.clone())?, offset),
        }
    }

    /// The module offset of the instruction code at `offset` came from. The compiler
    /// locates all code (the prologue at the body's start); code before the first location,
    /// had a function any, would be at its first instruction.
    fn module_offset_at(&self, encoded: &[u8], offset: u32) -> u32 {
        match self {
            SideTables::Decoded { srclocs, .. } => {
                let at = srclocs.partition_point(|(code, _)| *code <= offset);
                srclocs.get(at.saturating_sub(1)).map_or(0, |(_, wasm)| *wasm)
            }
            SideTables::Encoded { srclocs, .. } => {
                encoded.get(srclocs.clone()).and_then(|stream| cache_entry::srcloc_at(stream, offset)).unwrap_or(0)
            }
        }
    }
}

/// One function of a cache entry's code block: its code's range in the block, its index in
/// the function index space, and its side tables' ranges in the entry's tables part.
pub(crate) struct BlockFunction {
    pub code: Range<usize>,
    pub func_index: u32,
    pub traps: Range<usize>,
    pub srclocs: Range<usize>,
    pub handlers: Range<usize>,
}

/// Page-aligned, private, writable memory that a cache entry's code is read into, then
/// made executable as a whole by `publish` (which consumes it: no writable view of code
/// survives). Unmapped on drop if never published.
pub(crate) struct WritableCode {
    base: *mut u8,
    /// The length asked for.
    len: usize,
    /// The mapped length: `len` rounded up to whole pages (at least one).
    mapped: usize,
}

/// The size of a transparent huge page on x86-64.
const HUGE_PAGE: usize = 2 << 20;

// SAFETY: the mapping is owned by this value alone; moving it to another thread moves the
// only access to it.
unsafe impl Send for WritableCode {}

impl WritableCode {
    /// `len` bytes of zeroed writable memory, page-aligned.
    pub fn new(len: usize) -> Result<WritableCode> {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let mapped =
            len.max(1).checked_next_multiple_of(page).ok_or_else(|| Error::Resource("code too large".into()))?;
        // SAFETY: a new private anonymous mapping at an address the kernel chooses touches no
        // existing memory.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                mapped,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Error::Resource(format!("mapping {mapped} bytes for code failed")));
        }
        // Large blocks in transparent huge pages: filling them takes a fault per 2 MiB
        // instead of per 4 KiB (most of the time a big entry took to read), and running them
        // fewer TLB misses. Only a hint: without it, pages are small.
        if mapped >= HUGE_PAGE {
            // SAFETY: advice on this value's own mapping; it changes no contents.
            unsafe { libc::madvise(base, mapped, libc::MADV_HUGEPAGE) };
        }
        Ok(WritableCode { base: base.cast(), len, mapped })
    }

    /// The memory, to fill.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: `base` is a live read-write mapping of at least `len` bytes that only this
        // value, borrowed mutably here, reaches.
        unsafe { std::slice::from_raw_parts_mut(self.base, self.len) }
    }

    /// Makes the block executable (and read-only) and registers `functions` in it, whose
    /// side tables are ranges of `encoded`; `names` are the module's.
    pub fn publish(
        self,
        functions: Vec<BlockFunction>,
        encoded: Vec<u8>,
        names: &Arc<ModuleNames>,
    ) -> Result<CodeMemory> {
        if functions.iter().any(|f| f.code.start > f.code.end || f.code.end > self.len) {
            return Err(Error::Resource("cached code outside its block".into()));
        }
        // x86-64 keeps instruction caches coherent with stores: no flush is needed before
        // the code runs (the only target heron maps code on).
        // SAFETY: `base..base + mapped` is this value's own mapping; `self` is consumed
        // below, so no `&mut [u8]` into it remains once it is executable.
        if unsafe { libc::mprotect(self.base.cast(), self.mapped, libc::PROT_READ | libc::PROT_EXEC) } != 0 {
            return Err(Error::Resource("making cached code executable failed".into()));
        }
        let (base, mapped) = (self.base, self.mapped);
        std::mem::forget(self);
        let block = Some(base as usize..base as usize + mapped);
        let entries: Vec<FunctionCode> = functions
            .into_iter()
            .map(|f| FunctionCode {
                start: base as usize + f.code.start,
                len: f.code.len(),
                func_index: Some(f.func_index),
                tables: SideTables::Encoded { traps: f.traps, srclocs: f.srclocs, handlers: f.handlers },
            })
            .collect();
        Ok(CodeMemory::register(Backing::Mapped { base, len: mapped }, entries, block, Some(names), encoded))
    }
}

impl Drop for WritableCode {
    fn drop(&mut self) {
        // SAFETY: the mapping is this value's own and nothing runs or reads it.
        unsafe { libc::munmap(self.base.cast(), self.mapped) };
    }
}

/// A wasm function's frame as a stack trace shows it.
pub(crate) struct WasmFrame {
    pub names: Arc<ModuleNames>,
    pub func_index: u32,
    /// Byte offset in the module of the instruction the frame is at.
    pub module_offset: u32,
}

// SAFETY: once `load` or `publish` returns, the JIT module or mapping is never touched again
// except by `drop`, which has exclusive access; the code it owns is immutable and executable
// from any thread.
unsafe impl Send for CodeMemory {}
// SAFETY: as above: no `&self` method reaches the JIT module or the mapping.
unsafe impl Sync for CodeMemory {}

/// Every registered range of every live `CodeMemory` (a function, or a whole cached block),
/// sorted by the address one past its end, with its `CodeMemory`'s info and what it holds.
type Snapshot = Vec<(usize, Arc<CodeInfo>, Registered)>;

/// What one registry range holds.
#[derive(Clone, Copy)]
enum Registered {
    /// The function at this index of `CodeInfo::functions`.
    Function(usize),
    /// `CodeInfo::block`: any of its functions, found by address.
    Block,
}

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
                func_index: f.func_index,
                tables: SideTables::Decoded {
                    traps: TrapTable::new(f.traps),
                    srclocs: f.srclocs,
                    handlers: f.handlers,
                },
            })
            .collect();
        Ok(CodeMemory::register(Backing::Jit(Some(jit)), entries, None, names, Vec::new()))
    }

    /// Lists `entries` (executable code owned by `backing`) in the perf map and the registry:
    /// each function alone, or, if they all lie in `block`, that one range (a cached
    /// module's thousands of functions cost the registry one entry).
    fn register(
        backing: Backing,
        mut entries: Vec<FunctionCode>,
        block: Option<Range<usize>>,
        names: Option<&Arc<ModuleNames>>,
        encoded: Vec<u8>,
    ) -> CodeMemory {
        let starts: Vec<usize> = entries.iter().map(|e| e.start).collect();
        if block.is_some() {
            // Lookups in the block search by address (already in order for an entry's code).
            entries.sort_by_key(|e| e.start);
        }
        let info = Arc::new(CodeInfo { functions: entries, block, names: names.cloned(), encoded });
        if perf_map::enabled() {
            perf_map::append(&perf_map_lines(&info));
        }
        update_registry(|registry| {
            let mut added: Vec<(usize, Arc<CodeInfo>, Registered)> = match &info.block {
                Some(block) => vec![(block.end, info.clone(), Registered::Block)],
                None => (info.functions.iter().enumerate())
                    .map(|(index, f)| (f.start + f.len.max(1), info.clone(), Registered::Function(index)))
                    .collect(),
            };
            added.sort_unstable_by_key(|entry| entry.0);
            // Both sorted: one merge, not a sort of everything registered.
            let old = std::mem::take(registry);
            registry.reserve(old.len() + added.len());
            let (mut old, mut added) = (old.into_iter().peekable(), added.into_iter().peekable());
            loop {
                let take_old = match (old.peek(), added.peek()) {
                    (Some(a), Some(b)) => a.0 <= b.0,
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    (None, None) => break,
                };
                registry.extend(if take_old { old.next() } else { added.next() });
            }
        });
        CodeMemory { backing, info, starts }
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
        registry.get(at).and_then(|(_, info, registered)| {
            let index = match registered {
                Registered::Function(index) => *index,
                Registered::Block => info.functions.partition_point(|f| f.start <= pc).checked_sub(1)?,
            };
            let function = &info.functions[index];
            if pc >= function.start + function.len.max(1) {
                return None; // between functions (alignment padding) or before the first
            }
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
    with_function_at(pc, |info, function, offset| function.tables.trap_at(&info.encoded, offset))
}

/// The landing pad of the call returning to `pc`, if that call is in a handler's scope:
/// its address and the frame offset there (see `throw.rs`). Takes no lock, allocates nothing.
pub(crate) fn handler_at(pc: usize) -> Option<(usize, u32)> {
    // A return address belongs to the call before it, which may end the function's code.
    with_function_at(pc.checked_sub(1)?, |info, function, offset| {
        let handler = function.tables.handler_at(&info.encoded, offset + 1)?;
        // Compiled and cached handlers alike have their landing pad in the function.
        let landing_pad = handler.landing_pad as usize;
        (landing_pad < function.len).then(|| (function.start + landing_pad, handler.frame_offset))
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
        let module_offset = function.tables.module_offset_at(&info.encoded, offset);
        Some(WasmFrame { names, func_index, module_offset })
    })
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        update_registry(|registry| registry.retain(|(_, info, _)| !Arc::ptr_eq(info, &self.info)));
        match &mut self.backing {
            Backing::Jit(jit) => {
                if let Some(jit) = jit.take() {
                    // SAFETY: the code is unreachable now: every instance and function that
                    // could run it holds (through its module) this `CodeMemory`, which is
                    // being dropped.
                    unsafe { jit.free_memory() };
                }
            }
            Backing::Mapped { base, len } => {
                // SAFETY: as above, and the mapping is this `CodeMemory`'s own.
                unsafe { libc::munmap(base.cast(), *len) };
            }
        }
    }
}
