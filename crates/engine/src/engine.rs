//! `Engine`: the target ISA and Cranelift flags, the engine-wide registry of signatures
//! (so `call_indirect` compares one integer), the per-signature trampolines, the code
//! cache (`runtime/code_cache.rs`) with the fingerprint that keys its entries, and the map
//! of live modules by wasm hash through which a second `Module::new` of the same bytes
//! reuses the first one's code.

use crate::compiler;
use crate::environ::cache_entry;
use crate::environ::compiled::CompiledFunction;
use crate::environ::config::{CodeFlavour, Compilation, Tier};
use crate::environ::error::{Error, Result};
use crate::environ::info::ModuleInfo;
use crate::environ::type_registry::TypeRegistry;
use crate::environ::types::FuncType;
use crate::module::ModuleInner;
use crate::runtime::code_cache::{CacheConfig, CodeCache};
use crate::runtime::code_memory::CodeMemory;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// Compiles and runs modules. Cheap to clone; all clones share one state.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    isa: OwnedTargetIsa,
    /// The first tier: no mid-end optimisation and the single-pass register allocator,
    /// compiling about twice as fast as `isa` into code about half as fast.
    baseline_isa: OwnedTargetIsa,
    /// Both tiers again with NaN canonicalization, for deterministic modules; built on
    /// first use.
    deterministic_isas: OnceLock<std::result::Result<(OwnedTargetIsa, OwnedTargetIsa), String>>,
    config: Config,
    signatures: Mutex<SignatureRegistry>,
    /// The persistent code cache, unless turned off.
    cache: Option<Arc<CodeCache>>,
    /// Live modules by what makes their code: a second `Module::new` of the same bytes with
    /// the same options shares the first one's `ModuleInner` (and so its code).
    live_modules: Mutex<HashMap<LiveModuleKey, Weak<ModuleInner>>>,
}

/// What makes two `Module::new` calls of one engine give the same module: the bytes (by
/// SHA-256), the compilation mode and determinism.
pub(crate) type LiveModuleKey = ([u8; 32], Compilation, bool);

#[derive(Default)]
struct SignatureRegistry {
    /// The canonical types and their ids.
    types: TypeRegistry,
    /// The trampolines of each id.
    trampolines: Vec<Trampolines>,
    /// Code of every trampoline made so far; lives as long as the engine.
    code: Vec<CodeMemory>,
}

impl SignatureRegistry {
    /// Makes the trampolines of the ids in `new`, just registered: compiled on up to one
    /// thread per core and loaded as one `CodeMemory` (a module brings its types in bulk:
    /// @swc/wasm's 117 cost one mapping and one registry update, not 117). Scoped threads,
    /// not rayon's pool: the registry's lock is held, and a pool job could be waiting on it.
    fn add_trampolines(&mut self, engine: &Engine, new: std::ops::Range<u32>) -> Result<()> {
        let types: Vec<&FuncType> = new.map(|id| self.types.get(id)).collect();
        if types.is_empty() {
            return Ok(());
        }
        let isa = engine.isa_for(Tier::Optimized);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(types.len().div_ceil(8));
        let per_thread = types.len().div_ceil(threads);
        let compile = |chunk: &[&FuncType]| -> Result<Vec<CompiledFunction>> {
            let mut out = Vec::with_capacity(chunk.len() * 2);
            for ty in chunk {
                out.extend(compiler::compile_trampolines(isa, ty)?);
            }
            Ok(out)
        };
        let chunks: Vec<Result<Vec<CompiledFunction>>> = std::thread::scope(|scope| {
            let mut chunks = types.chunks(per_thread);
            let first = chunks.next().unwrap_or_default();
            // A chunk whose thread cannot start compiles on this one.
            let others: Vec<_> = chunks
                .map(|chunk| std::thread::Builder::new().spawn_scoped(scope, move || compile(chunk)).map_err(|_| chunk))
                .collect();
            let mut results = vec![compile(first)];
            for other in others {
                results.push(match other {
                    Ok(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    Err(chunk) => compile(chunk),
                });
            }
            results
        });
        let mut compiled = Vec::with_capacity(types.len() * 2);
        for chunk in chunks {
            compiled.extend(chunk?);
        }
        let code = CodeMemory::load(engine.isa_owned(), compiled, None)?;
        for i in 0..types.len() {
            self.trampolines
                .push(Trampolines { array_call: code.function(2 * i), host_call: code.function(2 * i + 1) });
        }
        self.code.push(code);
        Ok(())
    }
}

/// Entry points shared by every function of one signature.
#[derive(Clone, Copy)]
pub(crate) struct Trampolines {
    /// `extern "C" fn(wasm_call, vmctx, *mut ValRaw)`: host -> wasm.
    pub array_call: *const u8,
    /// A function with the wasm convention that calls a host function (wasm -> host).
    pub host_call: *const u8,
}

// SAFETY: the pointers are entries of code that is immutable once published and freed only
// with the engine; sharing them between threads is sharing read-only code.
unsafe impl Send for Trampolines {}
// SAFETY: as above.
unsafe impl Sync for Trampolines {}

/// How an engine compiles and runs modules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// How `Module::new` turns function bodies into code.
    pub compilation: Compilation,
    /// Whether memories reserve address space with guard pages while the budget lasts
    /// ([`crate::BoundsChecks::GuardPages`]); if false, every memory uses explicit bounds checks.
    pub guard_pages: bool,
    /// The persistent code cache, or `None` for none.
    pub code_cache: Option<CacheConfig>,
}

impl Default for Config {
    /// Lazy compilation, guard pages, no persistent code cache.
    fn default() -> Self {
        Config { compilation: Compilation::Lazy, guard_pages: true, code_cache: None }
    }
}

impl Config {
    /// The defaults, changed by `HERON_COMPILATION` ([`Compilation::from_env`]), by
    /// `HERON_BOUNDS_CHECKS=explicit`, which turns guard pages off, and with the code cache
    /// the `HERON_CACHE*` variables describe ([`CacheConfig::from_env`]; on by default).
    pub fn from_env() -> Config {
        let explicit = std::env::var("HERON_BOUNDS_CHECKS").is_ok_and(|v| v == "explicit");
        Config { compilation: Compilation::from_env(), guard_pages: !explicit, code_cache: CacheConfig::from_env() }
    }
}

impl Default for Engine {
    /// The process-wide engine with default settings.
    fn default() -> Self {
        static DEFAULT: OnceLock<Engine> = OnceLock::new();
        DEFAULT.get_or_init(|| Engine::new().expect("the host ISA is supported")).clone()
    }
}

impl Engine {
    /// An engine for the host CPU configured by the environment ([`Config::from_env`]).
    pub fn new() -> Result<Engine> {
        Engine::with_config(Config::from_env())
    }

    /// An engine for the host CPU whose `Module::new` compiles as `compilation` says.
    pub fn with_compilation(compilation: Compilation) -> Result<Engine> {
        Engine::with_config(Config { compilation, ..Config::from_env() })
    }

    /// An engine for the host CPU configured by `config`.
    pub fn with_config(config: Config) -> Result<Engine> {
        if !cfg!(all(target_arch = "x86_64", unix)) {
            return Err(Error::Resource("heron runs on x86-64 Unix only for now".into()));
        }
        let isa = Engine::build_isa(&[("opt_level", "speed")])?;
        let baseline_isa = Engine::build_isa(&[("opt_level", "none"), ("regalloc_algorithm", "single_pass")])?;
        crate::runtime::signals::install();
        crate::runtime::perf_map::enable_from_env();
        let cache = config.code_cache.clone().map(|c| Arc::new(CodeCache::new(c)));
        Ok(Engine {
            inner: Arc::new(EngineInner {
                isa,
                baseline_isa,
                deterministic_isas: OnceLock::new(),
                config,
                signatures: Mutex::default(),
                cache,
                live_modules: Mutex::default(),
            }),
        })
    }

    /// The persistent code cache, if on.
    pub fn code_cache(&self) -> Option<&Arc<CodeCache>> {
        self.inner.cache.as_ref()
    }

    /// The live module made from the same bytes with the same options, if any.
    pub(crate) fn live_module(&self, key: &LiveModuleKey) -> Option<Arc<ModuleInner>> {
        let live = self.inner.live_modules.lock().unwrap_or_else(|e| e.into_inner());
        live.get(key).and_then(Weak::upgrade)
    }

    /// Records `module` as the live module of `key`, forgetting dropped ones now and then.
    pub(crate) fn add_live_module(&self, key: LiveModuleKey, module: &Arc<ModuleInner>) {
        let mut live = self.inner.live_modules.lock().unwrap_or_else(|e| e.into_inner());
        if live.len() >= 64 && live.len().is_power_of_two() {
            live.retain(|_, module| module.strong_count() > 0);
        }
        live.insert(key, Arc::downgrade(module));
    }

    /// The fingerprint that keys this engine's cache entries of optimized code of `flavour`:
    /// everything that changes the code but the wasm bytes (heron's version and build id,
    /// Cranelift's version, every Cranelift flag including the detected CPU features, tier,
    /// flavour, determinism, the enabled wasm features). `None` if the deterministic
    /// compiler cannot be built.
    pub(crate) fn code_fingerprint(&self, flavour: CodeFlavour, deterministic: bool) -> Option<[u8; 32]> {
        let isa = if deterministic {
            self.deterministic_isa_for(Tier::Optimized).ok()?
        } else {
            self.isa_for(Tier::Optimized)
        };
        let mut parts = vec![
            concat!("heron-engine ", env!("CARGO_PKG_VERSION")).to_owned(),
            concat!("build ", env!("HERON_BUILD_ID")).to_owned(),
            concat!("cranelift ", env!("HERON_CRANELIFT_VERSION")).to_owned(),
            isa.triple().to_string(),
            isa.flags().to_string(),
        ];
        parts.extend(isa.isa_flags().iter().map(|flag| flag.to_string()));
        parts.push(format!("tier {:?}", Tier::Optimized));
        parts.push(format!("{flavour:?}"));
        parts.push(format!("deterministic {deterministic}"));
        parts.push(format!("{:?}", crate::environ::info::features()));
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        Some(cache_entry::fingerprint(&parts))
    }

    /// A Cranelift ISA for the host with heron's flags plus `tier_flags`.
    fn build_isa(tier_flags: &[(&str, &str)]) -> Result<OwnedTargetIsa> {
        let mut flags = settings::builder();
        let set = |flags: &mut settings::Builder, name: &str, value: &str| {
            flags.set(name, value).map_err(|e| Error::Resource(format!("cranelift flag {name}: {e}")))
        };
        for (name, value) in tier_flags {
            set(&mut flags, name, value)?;
        }
        set(&mut flags, "enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" })?;
        set(&mut flags, "preserve_frame_pointers", "true")?;
        // Multi-value functions may return more values than the ABI has return registers.
        // With this flag Cranelift passes a hidden return-area pointer for the excess, on both
        // sides of every call; all code that calls wasm functions (wasm itself and the
        // trampolines) is compiled here with the same flags, so both sides always agree.
        // The flag is deprecated upstream; the replacement is an explicit `StructReturn`
        // parameter in `wasm_signature` and at every call and return.
        set(&mut flags, "enable_multi_ret_implicit_sret", "true")?;
        let isa_builder = cranelift_native::builder().map_err(|e| Error::Resource(format!("unsupported host: {e}")))?;
        isa_builder.finish(settings::Flags::new(flags)).map_err(|e| Error::Resource(format!("cranelift ISA: {e}")))
    }

    /// How `Module::new` compiles.
    pub fn compilation(&self) -> Compilation {
        self.inner.config.compilation
    }

    /// Whether new memories get guard-page reservations (while the budget lasts).
    pub fn guard_pages(&self) -> bool {
        self.inner.config.guard_pages
    }

    pub(crate) fn isa_owned(&self) -> OwnedTargetIsa {
        self.inner.isa.clone()
    }

    /// The ISA that compiles code of `tier`.
    pub(crate) fn isa_for(&self, tier: Tier) -> &dyn cranelift_codegen::isa::TargetIsa {
        match tier {
            Tier::Optimized => &*self.inner.isa,
            Tier::Baseline => &*self.inner.baseline_isa,
        }
    }

    /// The ISA that compiles code of `tier` for a deterministic module: every NaN a float
    /// instruction produces is the canonical one (Cranelift's `enable_nan_canonicalization`).
    pub(crate) fn deterministic_isa_for(&self, tier: Tier) -> Result<&dyn cranelift_codegen::isa::TargetIsa> {
        let isas = self.inner.deterministic_isas.get_or_init(|| {
            let nan = ("enable_nan_canonicalization", "true");
            let optimized = Engine::build_isa(&[("opt_level", "speed"), nan]).map_err(|e| e.to_string())?;
            let baseline = Engine::build_isa(&[("opt_level", "none"), ("regalloc_algorithm", "single_pass"), nan])
                .map_err(|e| e.to_string())?;
            Ok((optimized, baseline))
        });
        match isas {
            Ok((optimized, baseline)) => Ok(match tier {
                Tier::Optimized => &**optimized,
                Tier::Baseline => &**baseline,
            }),
            Err(error) => Err(Error::Resource(format!("cannot build the deterministic compiler: {error}"))),
        }
    }

    /// The engine-wide id of `ty` (its own if it came from this engine, else that of a
    /// final type in a group of its own), compiling its trampolines the first time.
    pub(crate) fn register_signature(&self, ty: &FuncType) -> Result<u32> {
        let mut registry = self.inner.signatures.lock().unwrap_or_else(|e| e.into_inner());
        let (id, new) = registry.types.register_single(ty);
        registry.add_trampolines(self, new)?;
        Ok(id)
    }

    /// The engine-wide ids of `module`'s types, by type index (see
    /// `environ/type_registry.rs`), compiling the trampolines of new ones.
    pub(crate) fn register_module_types(&self, module: &ModuleInfo) -> Result<Vec<u32>> {
        let mut registry = self.inner.signatures.lock().unwrap_or_else(|e| e.into_inner());
        let (ids, new) = registry.types.register_module(module);
        registry.add_trampolines(self, new)?;
        Ok(ids)
    }

    /// The registered form of type `id`.
    pub(crate) fn registered_type(&self, id: u32) -> FuncType {
        let registry = self.inner.signatures.lock().unwrap_or_else(|e| e.into_inner());
        registry.types.get(id).clone()
    }

    /// The trampolines of a registered signature.
    pub(crate) fn trampolines(&self, id: u32) -> Trampolines {
        let registry = self.inner.signatures.lock().unwrap_or_else(|e| e.into_inner());
        registry.trampolines[id as usize]
    }
}
