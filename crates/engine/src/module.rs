//! `Module`: a validated module (`environ/info.rs` decodes it into a `ModuleInfo`) with its
//! runtime handle, the tables of code that `runtime/lazy.rs` fills, eagerly or lazily, by
//! calling the compiler through `ModuleInner::compile`. Cheap to clone and shareable.
//!
//! Creating a module goes through two caches. The engine's map of live modules: a second
//! `Module::new` of the same bytes and options shares the first one's code. The persistent
//! code cache (`runtime/code_cache.rs`): on a hit, the bytes are decoded without validation
//! (the entry's key, a SHA-256 hash of them, proves they were validated when it was written;
//! re-parsing the 18 MB @swc/wasm this way takes a few ms, so `ModuleInfo` is not
//! serialized) and the entry's code is made executable as one block, every cached function
//! installed at once; functions the entry lacks compile as usual. Every
//! function compiled by the optimizing tier for the main table is queued for the entry.
#![forbid(unsafe_code)]

use crate::compiler;
use crate::engine::{Engine, LiveModuleKey, Trampolines};
use crate::environ::cache_entry::{self, CacheKey, CachedFunction};
use crate::environ::config::{BoundsChecks, CodeFlavour, Compilation, Tier};
use crate::environ::error::Result;
use crate::environ::index::DefinedFuncIndex;
use crate::environ::info::ModuleInfo;
use crate::environ::vmctx::VmOffsets;
use crate::runtime::code_cache::{self, LoadedEntry, PendingEntry};
use crate::runtime::code_memory::{BlockFunction, CodeMemory};
use crate::runtime::lazy::{CodeSource, LazyCode};
use crate::runtime::memory_image::MemoryImages;
use cranelift_entity::EntityRef;
use std::sync::{Arc, OnceLock};

pub use crate::environ::info::{ExportDesc, ImportDesc};

/// A validated module. Cheap to clone and safe to share between threads. Its functions may
/// still be compiling (see [`Compilation`]); calls compile or wait as needed.
#[derive(Clone)]
pub struct Module {
    pub(crate) inner: Arc<ModuleInner>,
}

pub(crate) struct ModuleInner {
    pub engine: Engine,
    pub info: ModuleInfo,
    /// Engine-wide signature id of each type index, copied into every instance's vmctx
    /// (compiled code reads them there; they are this process's, not the module's).
    pub type_ids: Vec<u32>,
    /// The trampolines of each type index, looked up once so that instantiation does not
    /// take the engine's signature lock per function.
    pub trampolines: Vec<Trampolines>,
    pub offsets: VmOffsets,
    /// The code `Module::new` compiles (eagerly or lazily): for memories with guard pages,
    /// unless the engine turned them off.
    pub code: LazyCode,
    /// The code of the other flavours (see `CodeFlavour`): for memories of the other kind,
    /// with interrupt checks, with fuel. Each table is made when the first instance needs
    /// it, and compiled function by function on first call.
    other_code: [OnceLock<LazyCode>; CodeFlavour::COUNT],
    /// Whether every NaN the code produces is canonical (see `Module::with_options`).
    deterministic: bool,
    /// Where newly compiled functions of `code` go to be written to the code cache; `None`
    /// without a cache.
    pending: Option<Arc<PendingEntry>>,
    /// Copy-on-write images of the initial memories, made by the first instantiation;
    /// `None` inside if the data segments must be copied (`runtime/memory_image.rs`).
    memory_images: OnceLock<Option<MemoryImages>>,
}

impl ModuleInner {
    /// The images of the defined memories' initial contents, made on first use; `None` if
    /// instances must copy the data segments.
    pub fn memory_images(&self) -> Option<&MemoryImages> {
        self.memory_images.get_or_init(|| MemoryImages::build(&self.info)).as_ref()
    }

    /// The table of code of `flavour`.
    pub fn code_for(&self, flavour: CodeFlavour) -> &LazyCode {
        if self.code.flavour() == flavour {
            &self.code
        } else {
            self.other_code[flavour.index()]
                .get_or_init(|| LazyCode::new(self.info.bodies.len(), flavour, Compilation::OnDemand))
        }
    }

    /// Makes a verified cache entry's code executable, as one block; returns the defined
    /// indices of its functions (without duplicates) and the code, in that order.
    fn load_cached(&self, entry: LoadedEntry) -> Result<(Vec<usize>, CodeMemory)> {
        let mut seen = vec![false; self.info.bodies.len()];
        let mut defined = Vec::with_capacity(entry.records.len());
        let mut functions = Vec::with_capacity(entry.records.len());
        for record in entry.records {
            let index = record.index as usize;
            if std::mem::replace(&mut seen[index], true) {
                continue;
            }
            defined.push(index);
            functions.push(BlockFunction {
                code: record.code,
                func_index: self.info.func_index(DefinedFuncIndex::new(index)).as_u32(),
                traps: record.traps,
                srclocs: record.srclocs,
                handlers: record.handlers,
            });
        }
        let memory = entry.code.publish(functions, entry.tables, &self.info.names)?;
        Ok((defined, memory))
    }
}

impl CodeSource for ModuleInner {
    fn info(&self) -> &ModuleInfo {
        &self.info
    }

    fn offsets(&self) -> &VmOffsets {
        &self.offsets
    }

    fn code(&self) -> &LazyCode {
        &self.code
    }

    /// The scheduler's one way to the compiler: compiles with the engine's compiler of
    /// `tier` and loads the code.
    fn compile(&self, flavour: CodeFlavour, tier: Tier, defined: &[usize], parallel: bool) -> Result<CodeMemory> {
        let isa = if self.deterministic { self.engine.deterministic_isa_for(tier)? } else { self.engine.isa_for(tier) };
        let compiled = compiler::compile_functions(
            isa,
            self.deterministic,
            &self.info,
            &self.offsets,
            flavour,
            defined,
            parallel,
        )?;
        if let Some(pending) = &self.pending {
            if tier == Tier::Optimized && flavour == self.code.flavour() {
                let copies = defined.iter().zip(&compiled);
                pending.add(copies.map(|(&index, code)| CachedFunction { index: index as u32, code: code.clone() }));
            }
        }
        CodeMemory::load(self.engine.isa_owned(), compiled, Some(&self.info.names))
    }

    fn compilation_finished(&self) {
        if let Some(pending) = &self.pending {
            pending.flush();
        }
    }
}

impl Module {
    /// Decodes and validates `bytes`, and compiles it as the engine's
    /// [`Engine::compilation`] mode says.
    pub fn new(engine: &Engine, bytes: &[u8]) -> Result<Module> {
        Module::with_compilation(engine, bytes, engine.compilation())
    }

    /// Decodes and validates `bytes`, and compiles it as `compilation` says. Whatever the
    /// mode, a module that is invalid or uses an unsupported feature fails here.
    pub fn with_compilation(engine: &Engine, bytes: &[u8], compilation: Compilation) -> Result<Module> {
        Module::with_options(engine, bytes, compilation, false)
    }

    /// `with_compilation`, and if `deterministic`, code in which every NaN a float
    /// instruction produces is the canonical NaN, so results are bit-identical on every
    /// machine (at some cost in float-heavy code).
    pub fn with_options(
        engine: &Engine,
        bytes: &[u8],
        compilation: Compilation,
        deterministic: bool,
    ) -> Result<Module> {
        let wasm_hash = cache_entry::wasm_hash(bytes);
        let live_key: LiveModuleKey = (wasm_hash, compilation, deterministic);
        if let Some(inner) = engine.live_module(&live_key) {
            return Ok(Module { inner });
        }
        let bounds_checks = if engine.guard_pages() { BoundsChecks::GuardPages } else { BoundsChecks::Explicit };
        let flavour = CodeFlavour::plain(bounds_checks);
        let cache = engine.code_cache().and_then(|cache| {
            let fingerprint = engine.code_fingerprint(flavour, deterministic)?;
            Some((cache.clone(), CacheKey { wasm_hash, fingerprint }))
        });
        // On a likely hit, the entry is read and verified while the bytes are decoded (without
        // validation: a hit proves they were validated before) and their types registered
        // (compiling new signatures' trampolines); on a miss, or if anything is off, the
        // bytes are validated as usual.
        let started = std::time::Instant::now();
        let (cached, trusted) = match &cache {
            Some((cache, key)) if cache.has_entry(key) => {
                let parse = || {
                    let started = std::time::Instant::now();
                    let info = ModuleInfo::parse_trusted(bytes).ok()?;
                    let decoded = started.elapsed();
                    let type_ids = engine.register_module_types(&info).ok()?;
                    code_cache::debug(&format!(
                        "decoded the module in {:.1} ms, registered its types by {:.1} ms",
                        decoded.as_secs_f64() * 1e3,
                        started.elapsed().as_secs_f64() * 1e3
                    ));
                    Some((info, type_ids))
                };
                rayon::join(|| cache.load(key), parse)
            }
            Some((cache, key)) => (cache.load(key), None),
            None => (None, None),
        };
        let (mut info, type_ids, cached) = match (cached, trusted) {
            (Some(entry), Some((info, type_ids)))
                if entry.records.iter().all(|f| (f.index as usize) < info.bodies.len()) =>
            {
                (info, type_ids, Some(entry))
            }
            _ => {
                let info = ModuleInfo::parse(bytes)?;
                let type_ids = engine.register_module_types(&info)?;
                (info, type_ids, None)
            }
        };
        let read = started.elapsed();
        info.register_types(&type_ids);
        let trampolines = type_ids.iter().map(|id| engine.trampolines(*id)).collect();
        let offsets = VmOffsets::new(&info);
        let code = LazyCode::new(info.bodies.len(), flavour, compilation);
        let complete = cached.as_ref().is_some_and(|entry| entry.records.len() == info.bodies.len());
        let pending = match cache {
            Some((cache, key)) if !complete => Some(Arc::new(PendingEntry::new(cache, key))),
            _ => None,
        };
        let inner = Arc::new(ModuleInner {
            engine: engine.clone(),
            info,
            type_ids,
            trampolines,
            offsets,
            code,
            other_code: std::array::from_fn(|_| OnceLock::new()),
            deterministic,
            pending,
            memory_images: OnceLock::new(),
        });
        // Code that does not load (out of memory) is compiled instead.
        if let Some(entry) = cached {
            let count = entry.records.len();
            if let Ok((defined, memory)) = inner.load_cached(entry) {
                LazyCode::install_cached(&*inner, &defined, memory);
            }
            code_cache::debug(&format!(
                "hit: {count} functions; read, verified and decoded with the module in {:.1} ms, loaded by {:.1} ms",
                read.as_secs_f64() * 1e3,
                started.elapsed().as_secs_f64() * 1e3
            ));
        }
        match compilation {
            Compilation::Eager => LazyCode::compile_all(&*inner)?,
            Compilation::Lazy => LazyCode::start_background(&inner),
            Compilation::OnDemand | Compilation::Baseline => {}
        }
        engine.add_live_module(live_key, &inner);
        Ok(Module { inner })
    }

    /// Compiles whatever is not compiled yet, on this thread and the background workers, and
    /// returns when every function is. Fails with the first function that did not compile.
    pub fn wait_for_compilation(&self) -> Result<()> {
        LazyCode::finish(&*self.inner)
    }

    /// How many of the module's defined functions are compiled (or failed to), and how many
    /// it defines.
    pub fn compilation_progress(&self) -> (usize, usize) {
        (self.inner.code.finished(), self.inner.info.bodies.len())
    }

    /// Checks that `bytes` is a module this engine can compile, without compiling it.
    pub fn validate(_engine: &Engine, bytes: &[u8]) -> Result<()> {
        let info = ModuleInfo::parse(bytes)?;
        compiler::check_supported(&info)
    }

    /// The imports, in the order `Instance::new` expects them.
    pub fn imports(&self) -> &[ImportDesc] {
        &self.inner.info.imports
    }

    /// The exports, in declaration order.
    pub fn exports(&self) -> &[ExportDesc] {
        &self.inner.info.exports
    }

    /// The machine code of every defined function, compiled now by the optimizing tier for
    /// memories with guard pages, as the compiler produced it (before loading). Compiled
    /// code is position-independent, so these bytes are the same in every process; tests
    /// check that.
    #[doc(hidden)]
    pub fn compiled_code_for_testing(&self) -> Result<Vec<Vec<u8>>> {
        self.compiled_flavour_for_testing(CodeFlavour::plain(BoundsChecks::GuardPages))
    }

    /// The machine code of every defined function in `flavour`, compiled now by the
    /// optimizing tier: for tests that compare what the controls add to the code.
    #[doc(hidden)]
    pub fn compiled_flavour_for_testing(&self, flavour: CodeFlavour) -> Result<Vec<Vec<u8>>> {
        let inner = &self.inner;
        let all: Vec<usize> = (0..inner.info.bodies.len()).collect();
        let isa = inner.engine.isa_for(Tier::Optimized);
        let compiled = compiler::compile_functions(isa, false, &inner.info, &inner.offsets, flavour, &all, false)?;
        Ok(compiled.into_iter().map(|f| f.bytes).collect())
    }

    /// Whether `self` and `other` run the same code (a second `Module::new` of the same bytes
    /// shares the first one's).
    #[doc(hidden)]
    pub fn shares_code_with(&self, other: &Module) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The engine this module was compiled with.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }
}
