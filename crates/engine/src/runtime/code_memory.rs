//! Executable memory: loads compiled functions with cranelift-jit, publishes them, and keeps
//! the process-wide registry of code ranges and trap sites that the signal handler consults.
//!
//! Code is loaded at any time (lazy and background compilation load it while other threads
//! run wasm), so the registry is read without locks: it is an immutable snapshot behind an
//! atomic pointer. Writers (serialised by a mutex) publish a new snapshot and free the old
//! one only once no reader is inside `trap_at`, which the signal handler calls; a reader
//! never blocks, allocates, or frees.

use crate::environ::compiled::CompiledFunction;
use crate::environ::error::{Error, Result};
use crate::environ::trap::{Trap, TrapTable};
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

/// What the signal handler needs to know about one `CodeMemory`.
struct CodeInfo {
    /// Start address, length and trap sites of each function. cranelift-jit may place a
    /// module's functions in several separate allocations, so each is registered alone.
    functions: Vec<(usize, usize, TrapTable)>,
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
    /// Copies `functions` into executable memory and registers their trap sites.
    pub fn load(isa: OwnedTargetIsa, functions: Vec<CompiledFunction>) -> Result<CodeMemory> {
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
        let entries: Vec<(usize, usize, TrapTable)> = functions
            .into_iter()
            .zip(&ids)
            .map(|(f, id)| (jit.get_finalized_function(*id) as usize, f.bytes.len(), TrapTable::new(f.traps)))
            .collect();
        let starts: Vec<usize> = entries.iter().map(|e| e.0).collect();
        let info = Arc::new(CodeInfo { functions: entries });
        update_registry(|registry| {
            for (index, (start, len, _)) in info.functions.iter().enumerate() {
                registry.push((start + len.max(&1), info.clone(), index));
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

/// The trap recorded at `pc`, if `pc` is a trap site of heron-compiled code. Called by the
/// signal handler: it takes no lock, allocates nothing and frees nothing.
pub(crate) fn trap_at(pc: usize) -> Option<Trap> {
    READERS.fetch_add(1, SeqCst);
    let registry = REGISTRY.load(SeqCst);
    let trap = if registry.is_null() {
        None
    } else {
        // SAFETY: a writer frees a snapshot only after unpublishing it and seeing READERS at
        // zero; this reader was counted before it loaded the pointer, so it stays valid.
        lookup(unsafe { &*registry }, pc)
    };
    READERS.fetch_sub(1, SeqCst);
    trap
}

fn lookup(registry: &Snapshot, pc: usize) -> Option<Trap> {
    let at = registry.partition_point(|entry| entry.0 <= pc);
    let (_, info, index) = registry.get(at)?;
    let (start, _, traps) = &info.functions[*index];
    traps.lookup(u32::try_from(pc.checked_sub(*start)?).ok()?)
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
