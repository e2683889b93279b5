//! Executable memory: loads compiled functions with cranelift-jit, publishes them, and keeps
//! the process-wide registry of code ranges and trap sites that the signal handler consults.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::trap::{Trap, TrapTable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::Module as _;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// One function's machine code as the compiler produced it.
pub(crate) struct CompiledFunction {
    pub bytes: Vec<u8>,
    pub alignment: u64,
    pub traps: Vec<(u32, Trap)>,
}

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

/// Every function of every live `CodeMemory`, keyed by the address one past its end; the
/// value is its `CodeMemory`'s info and its index there.
static REGISTRY: RwLock<BTreeMap<usize, (Arc<CodeInfo>, usize)>> = RwLock::new(BTreeMap::new());

impl CodeMemory {
    /// Copies `functions` into executable memory and registers their trap sites.
    pub fn load(engine: &Engine, functions: Vec<CompiledFunction>) -> Result<CodeMemory> {
        let load_error = |e: cranelift_module::ModuleError| Error::Resource(format!("loading code failed: {e}"));
        let builder = JITBuilder::with_isa(engine.isa_owned(), cranelift_module::default_libcall_names());
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
        let mut registry = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
        for (index, (start, len, _)) in info.functions.iter().enumerate() {
            registry.insert(start + len.max(&1), (info.clone(), index));
        }
        drop(registry);
        Ok(CodeMemory { jit: Some(jit), info, starts })
    }

    /// Entry address of the `index`th function given to `load`.
    pub fn function(&self, index: usize) -> *const u8 {
        self.starts[index] as *const u8
    }
}

/// The trap recorded at `pc`, if `pc` is a trap site of heron-compiled code. Called by the
/// signal handler: it takes a read lock and allocates nothing.
pub(crate) fn trap_at(pc: usize) -> Option<Trap> {
    let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    let (_, (info, index)) = registry.range(pc + 1..).next()?;
    let (start, _, traps) = &info.functions[*index];
    traps.lookup(u32::try_from(pc.checked_sub(*start)?).ok()?)
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        let mut registry = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
        for (start, len, _) in &self.info.functions {
            registry.remove(&(start + len.max(&1)));
        }
        drop(registry);
        if let Some(jit) = self.jit.take() {
            // SAFETY: the code is unreachable now: every instance and function that could
            // run it holds (through its module) this `CodeMemory`, which is being dropped.
            unsafe { jit.free_memory() };
        }
    }
}
