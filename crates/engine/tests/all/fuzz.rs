//! Fuzz-style robustness test: thousands of valid modules from `wasm-smith`, compiled,
//! instantiated and run on heron-engine.
//!
//! Every module comes from a seed. A small xorshift generator turns the seed into the byte
//! buffer `wasm-smith` reads, so a run is reproducible without any corpus on disk. For each
//! module the test checks that:
//! - validation agrees with wasmparser under the engine's feature set, and `Module::new`
//!   succeeds, or fails with a compile error naming something unsupported (counted; these must
//!   stay a small minority);
//! - instantiation with synthesized imports of the right types (host functions returning zeros
//!   or failing, fresh memories, tables and globals) never fails to link;
//! - calling every exported function with arbitrary arguments returns or traps, and never
//!   panics, crashes or hangs;
//! - a second, fresh instance given the same calls behaves identically: same results, same
//!   traps, same host calls and the same final state of exported globals, tables and memories.
//!
//! `wasm-smith`'s `ensure_termination` pass bounds every loop and recursion with a fuel global,
//! and memories and tables have small maximums, so every call ends quickly.
//!
//! Environment:
//! - `HERON_FUZZ_ITERS=n`: modules to try (default [`DEFAULT_ITERS`]);
//! - `HERON_FUZZ_SEED=n`: base seed (default [`DEFAULT_SEED`]), to explore other modules;
//! - `HERON_FUZZ_ONLY=seed`: run just the module of that seed (as printed by a failure);
//! - `HERON_FUZZ_DUMP=dir`: write each failing module to `dir/<seed>.wasm`;
//! - `HERON_FUZZ_VERBOSE=1`: print each module's seed before running it, to find a module that
//!   kills the process with a signal.

use arbitrary::Unstructured;
use heron_engine::{
    Compilation, Engine, Error, Extern, ExternRef, ExternType, Func, Global, HostError, ImportDesc, Instance, Memory,
    Module, Table, Trap, Val, ValType,
};
use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Modules tried by default: about half a minute in a release build on two cores.
const DEFAULT_ITERS: u64 = 5000;

/// Base seed of the default run.
const DEFAULT_SEED: u64 = 0x6865_726f_6e5f_667a; // "heron_fz"

/// Fuel given to each instance by `ensure_termination`: every loop iteration and every call
/// costs one unit, and the fuel is shared by the start function and all export calls.
const FUEL: u32 = 20_000;

/// A single module taking longer than this (compile, two instances, all calls) is a hang.
const HANG_TIMEOUT: Duration = Duration::from_secs(60);

/// Largest share of generated modules the engine may reject as unsupported.
const MAX_UNSUPPORTED_SHARE: f64 = 0.05;

/// xorshift64*: small, fast, and good enough to feed `wasm-smith`.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 of the seed, so nearby seeds start far apart and the state is never 0.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

/// The `wasm-smith` configuration: the proposals heron implements, small modules, small
/// memories and tables. A few limits vary per module (swarm testing).
fn smith_config(rng: &mut Rng) -> wasm_smith::Config {
    let mut config = wasm_smith::Config::default();
    // Implemented: MVP, multi-value, sign extension, saturating conversions, reference types,
    // bulk memory, SIMD (in a quarter of the modules, to keep the rest of the mix).
    config.multi_value_enabled = true;
    config.sign_extension_ops_enabled = true;
    config.saturating_float_to_int_enabled = true;
    config.reference_types_enabled = true;
    config.bulk_memory_enabled = true;
    config.simd_enabled = rng.below(4) == 0;
    // Not implemented.
    config.relaxed_simd_enabled = false;
    config.threads_enabled = false;
    config.shared_everything_threads_enabled = false;
    config.tail_call_enabled = false;
    config.exceptions_enabled = false;
    config.gc_enabled = false;
    config.custom_descriptors_enabled = false;
    config.memory64_enabled = false;
    config.custom_page_sizes_enabled = false;
    config.wide_arithmetic_enabled = false;
    config.extended_const_enabled = false;
    config.compact_imports_enabled = false;
    config.max_memories = 1; // no multi-memory
                             // Sizes: small enough to compile fast, big enough to be interesting.
                             // wasm-smith adds optional items with probability 1/2 each, so minimums set the scale.
    config.min_types = 1 + rng.below(4) as usize;
    config.max_types = 20;
    config.min_imports = rng.below(4) as usize;
    config.max_imports = 10;
    config.min_funcs = 1 + rng.below(8) as usize;
    config.max_funcs = 20;
    config.max_instructions = 10 + rng.below(1000) as usize;
    config.min_globals = rng.below(4) as usize;
    config.max_globals = 10;
    config.min_memories = u32::from(rng.below(4) != 0);
    config.min_tables = u32::from(rng.below(2) != 0);
    config.max_tables = 1 + rng.below(3) as usize;
    // Segments need a table or memory to go to (passive ones need bulk memory).
    config.min_element_segments = if config.min_tables > 0 { rng.below(3) as usize } else { 0 };
    config.max_element_segments = 10;
    config.max_elements = 20;
    config.min_data_segments = if config.min_memories > 0 { rng.below(3) as usize } else { 0 };
    config.max_data_segments = 10;
    config.export_everything = true;
    // Bounded growth: at most 16 pages of memory and 1000 table elements.
    config.max_memory32_bytes = 16 * 65536;
    config.memory_max_size_required = true;
    config.max_table_elements = 1000;
    config.table_max_size_required = true;
    config.allow_start_export = true;
    // Random code traps early and often; in half of the modules wasm-smith guards loads,
    // divisions and conversions so that execution goes deeper.
    config.disallow_traps = rng.below(2) == 0;
    config
}

/// A generated module, or why the seed produced none. The minimums of a configuration can be
/// impossible to meet (say, one memory required when an imported one already fills the
/// maximum), so a few configurations derived from the seed are tried in turn.
fn generate(seed: u64) -> Result<Vec<u8>, String> {
    let mut last_error = String::new();
    for attempt in 0..8u64 {
        let mut rng = Rng::new(seed.wrapping_add(attempt.wrapping_mul(0x5851_f42d_4c95_7f2d)));
        let config = smith_config(&mut rng);
        let len = 1024 + rng.below(32 * 1024) as usize;
        let data = rng.bytes(len);
        match wasm_smith::Module::new(config, &mut Unstructured::new(&data)) {
            Ok(mut module) => {
                module.ensure_termination(FUEL).map_err(|e| e.to_string())?;
                return Ok(module.to_bytes());
            }
            Err(e) => last_error = e.to_string(),
        }
    }
    Err(last_error)
}

/// wasmparser's verdict under the proposals heron enables.
fn reference_validate(bytes: &[u8]) -> Result<(), String> {
    use wasmparser::WasmFeatures as F;
    let features = F::WASM1
        | F::SIGN_EXTENSION
        | F::SATURATING_FLOAT_TO_INT
        | F::MULTI_VALUE
        | F::REFERENCE_TYPES
        | F::BULK_MEMORY
        | F::SIMD;
    wasmparser::Validator::new_with_features(features).validate_all(bytes).map(|_| ()).map_err(|e| e.to_string())
}

/// A value in a form that compares across instances: numbers by bits, functions by index in
/// the instance's function space.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Value {
    Num(ValType, u128),
    /// `None` is null; `Some(None)` a function that is not in the instance's index space.
    Func(Option<Option<u32>>),
    Extern(Option<usize>),
}

impl Value {
    fn of(val: &Val, instance: Option<&Instance>) -> Value {
        match val {
            Val::I32(v) => Value::Num(ValType::I32, *v as u32 as u128),
            Val::I64(v) => Value::Num(ValType::I64, *v as u64 as u128),
            Val::F32(v) => Value::Num(ValType::F32, *v as u128),
            Val::F64(v) => Value::Num(ValType::F64, *v as u128),
            Val::V128(v) => Value::Num(ValType::V128, *v),
            Val::FuncRef(f) => Value::Func(f.as_ref().map(|f| instance.and_then(|i| i.func_index(f)))),
            Val::ExternRef(r) | Val::AnyRef(r) => Value::Extern(r.map(|r| r.0.get())),
            // Exceptions compare by identity, which differs between runs: only null-ness.
            Val::ExnRef(e) => Value::Num(ValType::EXNREF, u128::from(e.is_some())),
        }
    }
}

/// What one step of a run did.
#[derive(Debug, PartialEq)]
enum Outcome {
    Instantiated,
    Returned(Vec<Value>),
    Trapped(Trap),
    HostFailed,
    /// A size limit or allocation failure (allowed, but must be deterministic).
    Resource(String),
}

/// One call of a host function: the import's index and the arguments.
type HostCall = (usize, Vec<Value>);

/// Everything observable about one run of a module, compared between two fresh instances.
#[derive(Debug, PartialEq)]
struct Trace {
    steps: Vec<(String, Outcome)>,
    /// Calls made to host functions: import index and arguments.
    host_calls: Vec<HostCall>,
    /// Exported globals, tables and memories after the last call.
    final_state: Vec<(String, Value)>,
}

/// A failure of the engine on one module.
struct Failure {
    seed: u64,
    message: String,
}

/// Interesting integers, mixed with random ones for arguments.
const EDGE_I64: [i64; 10] = [0, 1, -1, 2, i32::MIN as i64, i32::MAX as i64, i64::MIN, i64::MAX, 65535, 65536];

fn arbitrary_arg(rng: &mut Rng, ty: ValType, funcs: &[Func]) -> Val {
    let pick_edge = rng.below(2) == 0;
    let bits = if pick_edge { EDGE_I64[rng.below(EDGE_I64.len() as u64) as usize] as u64 } else { rng.next() };
    match ty {
        ValType::I32 => Val::I32(bits as i32),
        ValType::I64 => Val::I64(bits as i64),
        ValType::F32 => Val::F32(if pick_edge { (bits as f32).to_bits() } else { bits as u32 }),
        ValType::F64 => Val::F64(if pick_edge { (bits as f64).to_bits() } else { bits }),
        ValType::V128 => Val::V128(((rng.next() as u128) << 64) | bits as u128),
        ValType::FUNCREF => match rng.below(funcs.len() as u64 + 1) as usize {
            0 => Val::FuncRef(None),
            i => Val::FuncRef(Some(funcs[i - 1].clone())),
        },
        ValType::EXTERNREF => Val::ExternRef(NonZeroUsize::new(bits as usize).map(ExternRef)),
        other => Val::default_for(other),
    }
}

/// Imports of the right types. Host functions log their calls and return zeros, except that
/// every fifth one (chosen by seed) fails, to exercise unwinding through wasm frames.
fn synthesize_imports(
    engine: &Engine,
    imports: &[ImportDesc],
    seed: u64,
    host_calls: &Rc<RefCell<Vec<HostCall>>>,
) -> Result<Vec<Extern>, String> {
    let mut externs = Vec::with_capacity(imports.len());
    for (index, import) in imports.iter().enumerate() {
        let what = || format!("import {}.{}", import.module, import.name);
        externs.push(match &import.ty {
            ExternType::Func(ty) => {
                let log = host_calls.clone();
                let fails = (seed as usize).wrapping_add(index) % 5 == 4;
                // `Func::new` hands the callback results already set to zero (or null).
                Extern::Func(Func::new(engine, ty.clone(), move |args, _results| {
                    log.borrow_mut().push((index, args.iter().map(|a| Value::of(a, None)).collect()));
                    if fails {
                        return Err(HostError::opaque());
                    }
                    Ok(())
                }))
            }
            ExternType::Memory(ty) => {
                Extern::Memory(Memory::new(engine, *ty).map_err(|e| format!("{}: Memory::new: {e}", what()))?)
            }
            ExternType::Table(ty) => Extern::Table(
                Table::new(engine, *ty, Val::default_for(ty.element))
                    .map_err(|e| format!("{}: Table::new: {e}", what()))?,
            ),
            ExternType::Global(ty) => Extern::Global(
                Global::new(engine, *ty, Val::default_for(ty.content))
                    .map_err(|e| format!("{}: Global::new: {e}", what()))?,
            ),
            ExternType::Tag(ty) => Extern::Tag(heron_engine::Tag::new(ty.clone())),
        });
    }
    Ok(externs)
}

fn outcome_of_error(e: Error) -> Result<Outcome, String> {
    match e {
        Error::Trap(trap) => Ok(Outcome::Trapped(trap)),
        Error::Host(_) => Ok(Outcome::HostFailed),
        Error::Resource(message) => Ok(Outcome::Resource(message)),
        other @ (Error::Compile { .. } | Error::Link(_) | Error::Exception(_)) => {
            Err(format!("unexpected error: {other:?}"))
        }
    }
}

/// Instantiates `module` and calls every exported function; arguments come from `seed`, so
/// two runs with the same seed make the same calls.
fn run(engine: &Engine, module: &Module, seed: u64) -> Result<Trace, String> {
    let host_calls = Rc::new(RefCell::new(Vec::new()));
    let imports = synthesize_imports(engine, module.imports(), seed, &host_calls)?;
    let mut steps = Vec::new();
    let instance = match Instance::new(module, &imports) {
        Ok(instance) => instance,
        Err(e) => {
            steps.push(("<instantiate>".to_string(), outcome_of_error(e)?));
            return Ok(Trace { steps, host_calls: host_calls.take(), final_state: Vec::new() });
        }
    };
    steps.push(("<instantiate>".to_string(), Outcome::Instantiated));

    let exports = instance.exports();
    let funcs: Vec<Func> =
        exports.iter().filter_map(|(_, e)| if let Extern::Func(f) = e { Some(f.clone()) } else { None }).collect();
    let mut rng = Rng::new(seed ^ 0xa5a5_a5a5);
    for (name, export) in &exports {
        let Extern::Func(func) = export else { continue };
        for _ in 0..2 {
            let args: Vec<Val> = func.ty().params().iter().map(|t| arbitrary_arg(&mut rng, *t, &funcs)).collect();
            let outcome = match func.call(&args) {
                Ok(results) => {
                    let types: Vec<ValType> = results.iter().map(Val::ty).collect();
                    if types != func.ty().results() {
                        return Err(format!("{name}: results {types:?} for a function of type {}", func.ty()));
                    }
                    Outcome::Returned(results.iter().map(|v| Value::of(v, Some(&instance))).collect())
                }
                Err(e) => outcome_of_error(e).map_err(|m| format!("{name}: {m}"))?,
            };
            steps.push((name.clone(), outcome));
        }
    }

    let mut final_state = Vec::new();
    for (name, export) in &exports {
        match export {
            Extern::Global(global) => final_state.push((name.clone(), Value::of(&global.get(), Some(&instance)))),
            Extern::Memory(memory) => {
                let mut hasher = DefaultHasher::new();
                // SAFETY: no wasm runs on this thread during the read, the memory is not shared
                // with other threads, and `memory` keeps the `data_size()` bytes at
                // `data_ptr()` mapped and initialised.
                let bytes = unsafe { std::slice::from_raw_parts(memory.data_ptr(), memory.data_size()) };
                bytes.hash(&mut hasher);
                final_state.push((name.clone(), Value::Num(ValType::I64, u128::from(hasher.finish()))));
            }
            Extern::Table(table) => {
                for i in 0..table.size() {
                    let element = table.get(i).ok_or_else(|| format!("{name}: table.get({i}) within size failed"))?;
                    final_state.push((format!("{name}[{i}]"), Value::of(&element, Some(&instance))));
                }
            }
            Extern::Func(_) | Extern::Tag(_) => {}
        }
    }
    Ok(Trace { steps, host_calls: host_calls.take(), final_state })
}

/// How a module turned out, for the counters.
enum Verdict {
    /// `wasm-smith` produced no module from this seed.
    NotGenerated,
    /// Uses a proposal heron does not enable (the generator's configuration is wrong).
    OutsideFeatures(String),
    /// Valid, but uses something heron reports as unsupported.
    Unsupported(String),
    /// Compiled and ran; what each step did.
    Ran(Vec<Outcome>),
}

/// Everything the test does with one seed.
fn check_seed(engine: &Engine, seed: u64) -> Result<Verdict, String> {
    let Ok(bytes) = generate(seed) else { return Ok(Verdict::NotGenerated) };
    let reference = reference_validate(&bytes);
    let validated = Module::validate(engine, &bytes);
    let module = match (Module::new(engine, &bytes), &reference) {
        (Ok(module), Ok(())) => module,
        (Ok(_), Err(reason)) => return Err(format!("compiled a module wasmparser rejects: {reason}")),
        (Err(Error::Compile { message, .. }), Ok(())) if message.contains("unsupported") => {
            return Ok(Verdict::Unsupported(message));
        }
        (Err(Error::Compile { .. }), Err(reason)) => return Ok(Verdict::OutsideFeatures(reason.clone())),
        (Err(e), _) => return Err(format!("Module::new failed: {e:?}")),
    };
    if let Err(e) = validated {
        return Err(format!("Module::validate rejects a module Module::new compiles: {e:?}"));
    }
    let first = run(engine, &module, seed)?;
    let second = run(engine, &module, seed)?;
    if first != second {
        return Err(format!("two fresh instances differ:\n first: {first:?}\nsecond: {second:?}"));
    }
    // The same with the baseline compiler's code. Each tier is deterministic on its own, but
    // they may differ where the spec allows it: baseline frames are bigger, so deep
    // recursion exhausts the stack sooner.
    let baseline = Module::with_compilation(engine, &bytes, Compilation::Baseline)
        .map_err(|e| format!("Module::with_compilation(Baseline) failed: {e:?}"))?;
    let third = run(engine, &baseline, seed)?;
    let fourth = run(engine, &baseline, seed)?;
    if third != fourth {
        return Err(format!("two fresh instances of baseline code differ:\n first: {third:?}\nsecond: {fourth:?}"));
    }
    Ok(Verdict::Ran(first.steps.into_iter().map(|(_, outcome)| outcome).collect()))
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={text} is not a number")))
}

/// Aborts the process if the main loop makes no progress for [`HANG_TIMEOUT`]: a hang must
/// fail the run rather than stall it.
fn start_watchdog(current_seed: Arc<AtomicU64>, progress: Arc<AtomicU64>, done: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let mut last = progress.load(Ordering::SeqCst);
        let mut since = Instant::now();
        while !done.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(200));
            let now = progress.load(Ordering::SeqCst);
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() > HANG_TIMEOUT {
                eprintln!(
                    "fuzz: module of seed {:#x} still running after {HANG_TIMEOUT:?}: hang; aborting",
                    current_seed.load(Ordering::SeqCst)
                );
                std::process::abort();
            }
        }
    });
}

#[test]
fn generated_modules_compile_and_run_deterministically() {
    // Optimized code compiled up front; `check_seed` also runs the baseline compiler's.
    let engine = Engine::with_compilation(Compilation::Eager).expect("engine");
    let iters = env_u64("HERON_FUZZ_ITERS").unwrap_or(DEFAULT_ITERS);
    let base = env_u64("HERON_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let only = env_u64("HERON_FUZZ_ONLY");
    let verbose = std::env::var_os("HERON_FUZZ_VERBOSE").is_some();
    let dump = std::env::var_os("HERON_FUZZ_DUMP").map(std::path::PathBuf::from);
    let seeds: Vec<u64> = match only {
        Some(seed) => vec![seed],
        None => (0..iters).map(|i| base.wrapping_add(i.wrapping_mul(0x9e37_79b9))).collect(),
    };

    let current_seed = Arc::new(AtomicU64::new(0));
    let progress = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    start_watchdog(current_seed.clone(), progress.clone(), done.clone());

    let started = Instant::now();
    let (mut ran, mut not_generated) = (0u64, 0u64);
    // How often each kind of outcome happened, for judging what the run exercised.
    let mut outcomes: std::collections::BTreeMap<String, u64> = Default::default();
    let mut unsupported: Vec<(u64, String)> = Vec::new();
    let mut outside: Vec<(u64, String)> = Vec::new();
    let mut failures: Vec<Failure> = Vec::new();
    for &seed in &seeds {
        current_seed.store(seed, Ordering::SeqCst);
        progress.fetch_add(1, Ordering::SeqCst);
        if verbose {
            eprintln!("fuzz: seed {seed:#x}");
        }
        let result = panic::catch_unwind(AssertUnwindSafe(|| check_seed(&engine, seed))).unwrap_or_else(|payload| {
            let text = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("non-string payload");
            Err(format!("panicked: {text}"))
        });
        match result {
            Ok(Verdict::Ran(steps)) => {
                ran += 1;
                for outcome in steps {
                    let kind = match outcome {
                        Outcome::Returned(_) => "returned".to_string(),
                        Outcome::Trapped(trap) => format!("{trap:?}"),
                        other => format!("{other:?}"),
                    };
                    *outcomes.entry(kind).or_default() += 1;
                }
            }
            Ok(Verdict::NotGenerated) => not_generated += 1,
            Ok(Verdict::Unsupported(message)) => unsupported.push((seed, message)),
            Ok(Verdict::OutsideFeatures(message)) => outside.push((seed, message)),
            Err(message) => {
                if let (Some(dir), Ok(bytes)) = (&dump, generate(seed)) {
                    let _ = std::fs::create_dir_all(dir);
                    let _ = std::fs::write(dir.join(format!("{seed:#x}.wasm")), bytes);
                }
                failures.push(Failure { seed, message });
            }
        }
    }
    done.store(true, Ordering::SeqCst);

    let tried = seeds.len() as u64 - not_generated;
    println!(
        "fuzz: {} seeds in {:.1?}: {ran} modules ran, {} unsupported, {} outside heron's \
         features, {not_generated} not generated, {} failures",
        seeds.len(),
        started.elapsed(),
        unsupported.len(),
        outside.len(),
        failures.len()
    );
    println!("fuzz: outcomes: {outcomes:?}");
    for (seed, message) in unsupported.iter().take(10) {
        println!("fuzz: unsupported (seed {seed:#x}): {message}");
    }
    for (seed, message) in outside.iter().take(10) {
        println!("fuzz: outside heron's features (seed {seed:#x}): {message}");
    }
    let report: Vec<String> = failures
        .iter()
        .take(20)
        .map(|f| {
            let mut message = f.message.clone();
            message.truncate(2000);
            format!("seed {:#x}: {message}", f.seed)
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} modules failed (rerun one with HERON_FUZZ_ONLY=<seed>):\n{}",
        failures.len(),
        seeds.len(),
        report.join("\n")
    );
    assert!(
        (unsupported.len() as f64) <= MAX_UNSUPPORTED_SHARE * tried.max(1) as f64,
        "{} of {tried} valid modules use unsupported features",
        unsupported.len()
    );
    assert!(only.is_some() || ran * 2 >= seeds.len() as u64, "only {ran} of {} seeds made a module", seeds.len());
}

/// An instance whose own global holds a `ref.func` of it must still be freed (the fuzz test
/// found this as an `Arc` cycle; stores broke it). Each leaked instance would keep its memory's
/// address-space reservation, and after about 16,000 of them `Memory::new` would fail.
#[test]
fn instance_referenced_from_its_own_global_is_freed() {
    let engine = Engine::new().expect("engine");
    let text = r#"(module (memory 1) (func $f) (global funcref (ref.func $f)))"#;
    let buffer = wast::parser::ParseBuffer::new(text).expect("lex");
    let mut wat: wast::Wat = wast::parser::parse(&buffer).expect("parse");
    let module = Module::new(&engine, &wat.encode().expect("encode")).expect("compile");
    for i in 0..20_000 {
        if let Err(e) = Instance::new(&module, &[]) {
            panic!("instantiation {i} failed, earlier instances were not freed: {e}");
        }
    }
}
