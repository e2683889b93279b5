//! A module's table of entry points and how it gets filled: eagerly, all at once, or lazily,
//! by background workers and by the first call of each function.
//!
//! Each defined function has an entry (its code address, 0 until compiled) and a state.
//! Exactly one thread moves a function from `PENDING` to `CLAIMED` and compiles it; the code
//! is loaded, made executable and registered for the signal handler before its entry is
//! stored, so whoever reads a nonzero entry can call it. A caller that finds a function
//! claimed by someone else waits for it. Nothing is compiled twice.
//!
//! Background workers run on a pool of their own with one thread per core but one, so the
//! thread that runs the module (typically JS's main thread) keeps a core to itself; they run
//! at a lower priority, so on a busy machine that thread still goes first. They hold the module weakly and stop when it is dropped; a batch being
//! compiled when that happens finishes first, and the last worker frees the module.
//!
//! Compiled code never reads this table directly: calls go through `VMFuncRef::wasm_call`,
//! which is null for a function not yet compiled when its instance was created, and then
//! filled in by `libcalls::resolve_func_ref` on the first call through it.
//!
//! `Compilation::Baseline` adds a first tier. A first call that finds no code compiles the
//! function with the baseline compiler (about twice as fast, code about half as fast) on
//! the calling thread, and queues it to be optimized before the others. When optimized code
//! is published, it replaces the baseline code in the `VMFuncRef`s of every live instance
//! running this table (`InstanceRegistry`), so calls made from then on run it; a call
//! already running baseline code finishes there. Not the default: baseline frames are far
//! bigger (single-pass register allocation gives every value its own stack slot: 40 times
//! the optimized frames' total for esbuild's Go code), so recursion reaches the stack limit
//! much sooner, and JS called from deep wasm can hit V8's own stack limit.
#![forbid(unsafe_code)]

use crate::environ::config::{CodeFlavour, Compilation, Tier};
use crate::environ::error::{Error, Result};
use crate::environ::index::DefinedFuncIndex;
use crate::environ::info::ModuleInfo;
use crate::environ::vmctx::VmOffsets;
use crate::runtime::code_memory::CodeMemory;
use crate::runtime::instance_registry::InstanceRegistry;
use cranelift_entity::EntityRef;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};

const PENDING: u8 = 0;
const CLAIMED: u8 = 1;
const DONE: u8 = 2;
const FAILED: u8 = 3;

// States of a function's baseline code.
const NO_BASELINE: u8 = 0;
const BASELINE_COMPILING: u8 = 1;
const BASELINE_READY: u8 = 2;
const BASELINE_FAILED: u8 = 3;

/// What the scheduler needs of a module: its metadata, its main table of code, and a way to
/// compile. The runtime's one path to the compiler: the API layer's module implements it
/// (`module.rs`), so this file names no compiler or API type (see ARCHITECTURE.md).
pub(crate) trait CodeSource: Send + Sync + 'static {
    /// The module's metadata.
    fn info(&self) -> &ModuleInfo;
    /// The module's vmctx layout.
    fn offsets(&self) -> &VmOffsets;
    /// The table `Module::new` fills, which background workers work on.
    fn code(&self) -> &LazyCode;
    /// Compiles defined functions `defined` with the compiler of `tier`, as code of
    /// `flavour`, and loads them, in that order, into one `CodeMemory`; on all cores if
    /// `parallel`.
    fn compile(&self, flavour: CodeFlavour, tier: Tier, defined: &[usize], parallel: bool) -> Result<CodeMemory>;
    /// Called once every function of the main table (`code()`) is compiled or failed.
    fn compilation_finished(&self);
}

/// A batch of background work: at most this many functions...
const BATCH_FUNCTIONS: usize = 64;
/// ...or about this many bytes of bodies, so waiting for a claimed function stays short.
const BATCH_BYTES: usize = 32 * 1024;
/// Stack a thread must have left to compile in place; with less (deep in wasm recursion),
/// compilation runs on a helper thread with a stack of `HELPER_STACK` bytes.
const COMPILE_STACK: usize = 2 << 20;
const HELPER_STACK: usize = 8 << 20;

/// The entry points of one module's defined functions, compiled as one flavour.
pub(crate) struct LazyCode {
    flavour: CodeFlavour,
    /// Whether first calls get baseline code (see the module comment).
    tiered: bool,
    /// The best code of each function: optimized, baseline, or 0.
    entries: Box<[AtomicUsize]>,
    /// Where each function's optimized code is.
    states: Box<[AtomicU8]>,
    /// Where each function's baseline code is.
    baseline: Box<[AtomicU8]>,
    /// Functions running baseline code, optimized before the others.
    priority: Mutex<VecDeque<usize>>,
    /// The instances whose `VMFuncRef`s get optimized code as it comes.
    instances: InstanceRegistry,
    /// Next function a background worker looks at.
    cursor: AtomicUsize,
    /// Functions that are `DONE` or `FAILED`.
    finished: AtomicUsize,
    /// Every piece of loaded code, and the first compile error; guarded together with
    /// `changed`, which is notified whenever functions finish.
    loaded: Mutex<Loaded>,
    changed: Condvar,
}

#[derive(Default)]
struct Loaded {
    code: Vec<CodeMemory>,
    error: Option<Error>,
}

impl LazyCode {
    /// A table of `count` functions, none compiled, filled as `compilation` says (except
    /// that `Module::new` starts eager compilation and the background workers itself).
    pub fn new(count: usize, flavour: CodeFlavour, compilation: Compilation) -> LazyCode {
        LazyCode {
            flavour,
            tiered: compilation.tiered(),
            entries: (0..count).map(|_| AtomicUsize::new(0)).collect(),
            states: (0..count).map(|_| AtomicU8::new(PENDING)).collect(),
            baseline: (0..count).map(|_| AtomicU8::new(NO_BASELINE)).collect(),
            priority: Mutex::default(),
            instances: InstanceRegistry::default(),
            cursor: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            loaded: Mutex::default(),
            changed: Condvar::new(),
        }
    }

    /// The flavour of the code in this table.
    pub fn flavour(&self) -> CodeFlavour {
        self.flavour
    }

    /// The instances running this code, to register with (see `InstanceRegistry`).
    pub fn instances(&self) -> &InstanceRegistry {
        &self.instances
    }

    /// Whether defined function `defined` has its optimized code (or failed to compile).
    pub fn is_optimized(&self, defined: usize) -> bool {
        matches!(self.states[defined].load(Ordering::Acquire), DONE | FAILED)
    }

    /// The code of defined function `defined`, or 0 if it is not compiled yet.
    pub fn entry(&self, defined: usize) -> usize {
        self.entries[defined].load(Ordering::Acquire)
    }

    /// Compiles every function of `module` in parallel now (eager mode).
    pub fn compile_all<M: CodeSource>(module: &M) -> Result<()> {
        let code = module.code();
        let pending: Vec<usize> = (0..code.entries.len()).filter(|&defined| code.claim(defined)).collect();
        if pending.is_empty() {
            return Ok(());
        }
        let memory = module.compile(code.flavour, Tier::Optimized, &pending, true)?;
        code.publish(module, &pending, Ok(memory));
        Ok(())
    }

    /// Installs code loaded from the code cache into the main table of `module`: `memory`
    /// holds the optimized code of the defined functions `defined`, in that order, none of
    /// which may be claimed yet (a fresh table).
    pub fn install_cached<M: CodeSource>(module: &M, defined: &[usize], memory: CodeMemory) {
        let code = module.code();
        for &index in defined {
            let claimed = code.claim(index);
            debug_assert!(claimed, "cached code goes into a fresh table");
        }
        code.publish(module, defined, Ok(memory));
    }

    /// Starts the background workers of `module`.
    pub fn start_background<M: CodeSource>(module: &Arc<M>) {
        let Some(pool) = background_pool() else {
            return; // no threads: functions compile on first call
        };
        let workers = pool.current_num_threads().min(module.code().entries.len().div_ceil(BATCH_FUNCTIONS));
        for _ in 0..workers {
            let weak = Arc::downgrade(module);
            pool.spawn(move || background(weak));
        }
    }

    /// The code of defined function `defined` of `module` in `code` (one of the module's
    /// tables), compiling it (or waiting for the thread compiling it) if needed. `None` if it
    /// failed to compile.
    pub fn get_or_compile<M: CodeSource>(module: &M, code: &LazyCode, defined: usize) -> Option<usize> {
        let entry = code.entry(defined);
        if entry != 0 {
            return Some(entry);
        }
        if code.tiered {
            if let Some(entry) = code.baseline_entry(module, defined) {
                return Some(entry);
            }
            // The baseline compiler failed: the optimizing one decides.
        }
        if code.claim(defined) {
            compile_with_stack(module, code, Tier::Optimized, &[defined]);
        }
        code.wait_for(defined)
    }

    /// Code for `defined` to run now: compiled by the baseline compiler on this thread (or
    /// by another thread doing so already), unless optimized code turns up first. `None` if
    /// the baseline compiler failed.
    fn baseline_entry<M: CodeSource>(&self, module: &M, defined: usize) -> Option<usize> {
        let claimed = self.baseline[defined].compare_exchange(
            NO_BASELINE,
            BASELINE_COMPILING,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        if claimed.is_ok() {
            compile_with_stack(module, self, Tier::Baseline, &[defined]);
        }
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let entry = self.entry(defined);
            if entry != 0 {
                return Some(entry);
            }
            let failed = self.baseline[defined].load(Ordering::Acquire) == BASELINE_FAILED
                || self.states[defined].load(Ordering::Acquire) == FAILED;
            if failed {
                return None;
            }
            loaded = self.changed.wait(loaded).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Compiles, on this thread, every function nobody has claimed yet, then waits for the
    /// others; the first compile error, if any.
    pub fn finish<M: CodeSource>(module: &M) -> Result<()> {
        loop {
            let batch = module.code().claim_batch(module);
            if batch.is_empty() {
                break;
            }
            compile_batch(module, module.code(), Tier::Optimized, &batch);
        }
        let code = module.code();
        let mut loaded = code.loaded.lock().unwrap_or_else(|e| e.into_inner());
        while code.finished.load(Ordering::Acquire) < code.entries.len() {
            loaded = code.changed.wait(loaded).unwrap_or_else(|e| e.into_inner());
        }
        loaded.error.as_ref().map_or(Ok(()), |error| Err(copy_error(error)))
    }

    /// Number of functions compiled (or failed) so far.
    pub fn finished(&self) -> usize {
        self.finished.load(Ordering::Acquire)
    }

    fn claim(&self, defined: usize) -> bool {
        self.states[defined].compare_exchange(PENDING, CLAIMED, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// Claims the next unclaimed functions, up to a batch: those running baseline code
    /// first, then in index order.
    fn claim_batch<M: CodeSource>(&self, module: &M) -> Vec<usize> {
        let mut batch = Vec::new();
        let mut bytes = 0;
        {
            let mut priority = self.priority.lock().unwrap_or_else(|e| e.into_inner());
            while batch.len() < BATCH_FUNCTIONS && bytes < BATCH_BYTES {
                let Some(next) = priority.pop_front() else { break };
                if self.claim(next) {
                    bytes += module.info().bodies[next].len();
                    batch.push(next);
                }
            }
        }
        while batch.len() < BATCH_FUNCTIONS && bytes < BATCH_BYTES {
            let next = self.cursor.fetch_add(1, Ordering::Relaxed);
            if next >= self.entries.len() {
                break;
            }
            if self.claim(next) {
                bytes += module.info().bodies[next].len();
                batch.push(next);
            }
        }
        batch
    }

    fn wait_for(&self, defined: usize) -> Option<usize> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match self.states[defined].load(Ordering::Acquire) {
                DONE => return Some(self.entry(defined)),
                FAILED => return None,
                _ => loaded = self.changed.wait(loaded).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }

    /// Installs the outcome of compiling the claimed functions `batch` with the optimizing
    /// compiler, wakes waiters, and hands the code to the registered instances.
    fn publish<M: CodeSource>(&self, module: &M, batch: &[usize], memory: Result<CodeMemory>) {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        let mut installed = Vec::new();
        match memory {
            Ok(memory) => {
                for (i, &defined) in batch.iter().enumerate() {
                    let entry = memory.function(i) as usize;
                    self.entries[defined].store(entry, Ordering::Release);
                    self.states[defined].store(DONE, Ordering::Release);
                    installed.push((
                        module.offsets().func_ref(module.info().func_index(DefinedFuncIndex::new(defined)).as_u32()),
                        entry,
                    ));
                }
                loaded.code.push(memory);
            }
            Err(error) => {
                for &defined in batch {
                    self.states[defined].store(FAILED, Ordering::Release);
                }
                loaded.error.get_or_insert(error);
            }
        }
        let finished = self.finished.fetch_add(batch.len(), Ordering::AcqRel) + batch.len();
        drop(loaded);
        self.changed.notify_all();
        if finished == self.entries.len() && !batch.is_empty() && std::ptr::eq(self, module.code()) {
            module.compilation_finished();
        }
        if self.tiered && !installed.is_empty() {
            self.instances.install(&installed);
        }
    }

    /// Installs the outcome of compiling `defined` with the baseline compiler (unless
    /// optimized code got there first), wakes waiters and queues it for optimizing.
    fn publish_baseline(&self, defined: usize, memory: Result<CodeMemory>) {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        match memory {
            Ok(memory) => {
                // Ignored if optimized code is already there.
                let _ = self.entries[defined].compare_exchange(
                    0,
                    memory.function(0) as usize,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
                self.baseline[defined].store(BASELINE_READY, Ordering::Release);
                loaded.code.push(memory);
            }
            Err(_) => self.baseline[defined].store(BASELINE_FAILED, Ordering::Release),
        }
        drop(loaded);
        self.changed.notify_all();
        self.priority.lock().unwrap_or_else(|e| e.into_inner()).push_back(defined);
    }
}

/// The pool background workers run on, made on first use; `None` if threads cannot be
/// created.
fn background_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        rayon::ThreadPoolBuilder::new()
            .num_threads(cores.saturating_sub(1).max(1))
            .thread_name(|i| format!("heron-compile-{i}"))
            .start_handler(|_| crate::runtime::signals::lower_thread_priority())
            .build()
            .ok()
    })
    .as_ref()
}

/// One background worker: compiles batches until none is left or the module is dropped.
fn background<M: CodeSource>(module: Weak<M>) {
    while let Some(module) = module.upgrade() {
        let module = &*module;
        let batch = module.code().claim_batch(module);
        if batch.is_empty() {
            return;
        }
        compile_batch(module, module.code(), Tier::Optimized, &batch);
    }
}

/// Compiles the functions `batch`, claimed in `code` (for `tier`), and publishes them there.
/// A batch that fails is retried function by function, so one bad function does not fail
/// its neighbours.
fn compile_batch<M: CodeSource>(module: &M, code: &LazyCode, tier: Tier, batch: &[usize]) {
    let compiled =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| module.compile(code.flavour, tier, batch, false)));
    let compiled = compiled.unwrap_or_else(|_| Err(Error::Resource("the compiler panicked".into())));
    match (tier, compiled) {
        (Tier::Optimized, Err(_)) if batch.len() > 1 => {
            for &defined in batch {
                compile_batch(module, code, tier, &[defined]);
            }
        }
        (Tier::Optimized, result) => code.publish(module, batch, result),
        (Tier::Baseline, result) => code.publish_baseline(batch[0], result),
    }
}

/// `compile_batch`, on this thread if it has stack enough, else on a helper thread. Runs on
/// threads deep in wasm recursion, whose remaining stack may be small.
fn compile_with_stack<M: CodeSource>(module: &M, code: &LazyCode, tier: Tier, batch: &[usize]) {
    if crate::runtime::entry::stack_left() >= COMPILE_STACK {
        return compile_batch(module, code, tier, batch);
    }
    std::thread::scope(|scope| {
        let helper = std::thread::Builder::new().stack_size(HELPER_STACK).spawn_scoped(scope, || {
            compile_batch(module, code, tier, batch);
        });
        // `compile_batch` catches panics, so joining cannot fail.
        if let Err(e) = helper {
            let error = Err(Error::Resource(format!("no compiler thread: {e}")));
            match tier {
                Tier::Optimized => code.publish(module, batch, error),
                Tier::Baseline => code.publish_baseline(batch[0], error),
            }
        }
    });
}

/// A copy of a stored compile error (`Error` holds host payloads, so it is not `Clone`).
fn copy_error(error: &Error) -> Error {
    match error {
        Error::Compile { message, offset } => Error::Compile { message: message.clone(), offset: *offset },
        other => Error::Resource(other.to_string()),
    }
}
