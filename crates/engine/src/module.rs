//! `Module`: a validated module (`environ/info.rs` decodes it into a `ModuleInfo`) with its
//! runtime handle, the tables of code that `runtime/lazy.rs` fills, eagerly or lazily, by
//! calling the compiler through `ModuleInner::compile`. Cheap to clone and shareable.
#![forbid(unsafe_code)]

use crate::compiler;
use crate::engine::Engine;
use crate::environ::config::{BoundsChecks, CodeFlavour, Compilation, Tier};
use crate::environ::error::Result;
use crate::environ::info::ModuleInfo;
use crate::environ::vmctx::VmOffsets;
use crate::runtime::code_memory::CodeMemory;
use crate::runtime::lazy::{CodeSource, LazyCode};
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
}

impl ModuleInner {
    /// The table of code of `flavour`.
    pub fn code_for(&self, flavour: CodeFlavour) -> &LazyCode {
        if self.code.flavour() == flavour {
            &self.code
        } else {
            self.other_code[flavour.index()]
                .get_or_init(|| LazyCode::new(self.info.bodies.len(), flavour, Compilation::OnDemand))
        }
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
        let compiled = compiler::compile_functions(isa, &self.info, &self.offsets, flavour, defined, parallel)?;
        CodeMemory::load(self.engine.isa_owned(), compiled, Some(&self.info.names))
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
        // Validation rejects everything heron cannot compile (`translate::check_supported`
        // finds nothing more today), so a lazy module fails here or not at all.
        let info = ModuleInfo::parse(bytes)?;
        let type_ids = info.types.iter().map(|ty| engine.register_signature(ty)).collect::<Result<_>>()?;
        let offsets = VmOffsets::new(&info);
        let bounds_checks = if engine.guard_pages() { BoundsChecks::GuardPages } else { BoundsChecks::Explicit };
        let code = LazyCode::new(info.bodies.len(), CodeFlavour::plain(bounds_checks), compilation);
        let inner = Arc::new(ModuleInner {
            engine: engine.clone(),
            info,
            type_ids,
            offsets,
            code,
            other_code: std::array::from_fn(|_| OnceLock::new()),
            deterministic,
        });
        match compilation {
            Compilation::Eager => LazyCode::compile_all(&*inner)?,
            Compilation::Lazy => LazyCode::start_background(&inner),
            Compilation::OnDemand | Compilation::Baseline => {}
        }
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
        let compiled = compiler::compile_functions(isa, &inner.info, &inner.offsets, flavour, &all, false)?;
        Ok(compiled.into_iter().map(|f| f.bytes).collect())
    }

    /// The engine this module was compiled with.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }
}
