//! Execution controls (README "Controls"): timeouts, interrupt handles, fuel, memory and
//! table limits, on the engine alone.

use heron_engine::{Compilation, Controls, Engine, Error, Extern, Func, FuncType, Instance, Module, Trap, Val};
use std::time::{Duration, Instant};

use crate::common::{export, wat_to_wasm};

const SPIN: &str = r#"(module
    (func (export "spin") (loop $l (br $l)))
    (func (export "count") (param i32) (result i32) (local i32)
        (loop $l
            (local.set 1 (i32.add (local.get 1) (i32.const 1)))
            (br_if $l (i32.ne (local.get 1) (local.get 0))))
        (local.get 1))
    (func $fib (export "fib") (param i32) (result i32)
        (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
            (then (local.get 0))
            (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                           (call $fib (i32.sub (local.get 0) (i32.const 2))))))))"#;

fn module(compilation: Compilation) -> Module {
    let engine = Engine::with_compilation(compilation).expect("an engine");
    Module::new(&engine, &wat_to_wasm(SPIN)).expect("the module compiles")
}

fn trap_of(result: heron_engine::Result<Vec<Val>>) -> Trap {
    match result {
        Err(Error::Trap(trap)) => trap,
        Err(other) => panic!("expected a trap, got {other}"),
        Ok(values) => panic!("expected a trap, got {values:?}"),
    }
}

fn i32_result(result: heron_engine::Result<Vec<Val>>, what: &str) -> i32 {
    match result.expect(what).as_slice() {
        [Val::I32(value)] => *value,
        other => panic!("expected one i32, got {other:?}"),
    }
}

#[test]
fn a_loop_without_calls_times_out_close_to_its_deadline() {
    let controls = Controls { timeout: Some(Duration::from_millis(50)), ..Controls::default() };
    let instance = Instance::with_controls(&module(Compilation::Lazy), &[], &controls).expect("instantiates");
    let started = Instant::now();
    assert_eq!(trap_of(export(&instance, "spin").call(&[])), Trap::Timeout);
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(50), "fired early: {elapsed:?}");
    // Generous for a loaded machine; the JS tests check the 10 ms promise.
    assert!(elapsed < Duration::from_millis(500), "fired late: {elapsed:?}");
    assert_eq!(heron_engine::last_timeout(), Some(Duration::from_millis(50)));
    // Still usable, with a fresh deadline per call.
    assert_eq!(i32_result(export(&instance, "count").call(&[Val::I32(1000)]), "a short call finishes"), 1000);
    assert_eq!(trap_of(export(&instance, "spin").call(&[])), Trap::Timeout);
}

#[test]
fn an_interrupt_from_another_thread_stops_a_loop() {
    let controls = Controls { interruptible: true, ..Controls::default() };
    let instance = Instance::with_controls(&module(Compilation::Lazy), &[], &controls).expect("instantiates");
    let handle = instance.interrupt_handle().expect("interruptible");
    let id = handle.id();
    let interrupter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        assert!(heron_engine::interrupt_by_id(id));
    });
    assert_eq!(trap_of(export(&instance, "spin").call(&[])), Trap::Interrupted);
    interrupter.join().expect("the interrupter thread");
    // An interrupt while idle does not reach the next call.
    handle.interrupt();
    assert_eq!(i32_result(export(&instance, "count").call(&[Val::I32(10)]), "runs"), 10);
}

#[test]
fn an_instance_without_controls_has_no_interrupt_handle_or_fuel() {
    let instance = Instance::new(&module(Compilation::Lazy), &[]).expect("instantiates");
    assert!(instance.interrupt_handle().is_none());
    assert_eq!(instance.remaining_fuel(), None);
    assert!(instance.add_fuel(1).is_err());
}

/// The issue's promise "no cost for users who don't use the controls": an instance without
/// options (or with limits only) runs the module's code without checks, which is shorter
/// than the code with interrupt checks or fuel for every function here (each has a loop or
/// a call).
#[test]
fn an_instance_without_controls_runs_code_without_checks() {
    let module = module(Compilation::Lazy);
    let plain = Instance::new(&module, &[]).expect("instantiates");
    let flavour = plain.code_flavour();
    assert!(!flavour.interruptible && !flavour.fuel, "{flavour:?}");
    let limits = Controls { memory_limit: Some(1 << 20), table_limit: Some(10), ..Controls::default() };
    let limited = Instance::with_controls(&module, &[], &limits).expect("instantiates");
    assert_eq!(limited.code_flavour(), flavour);

    let timeout = Controls { timeout: Some(Duration::from_secs(10)), ..Controls::default() };
    let timed = Instance::with_controls(&module, &[], &timeout).expect("instantiates").code_flavour();
    assert!(timed.interruptible && !timed.fuel, "{timed:?}");
    let fuel = Controls { fuel: Some(1000), ..Controls::default() };
    let fueled = Instance::with_controls(&module, &[], &fuel).expect("instantiates").code_flavour();
    assert!(fueled.fuel && !fueled.interruptible, "{fueled:?}");

    let plain_code = module.compiled_flavour_for_testing(flavour).expect("compiles");
    for checked in [timed, fueled] {
        let checked_code = module.compiled_flavour_for_testing(checked).expect("compiles");
        for (i, (plain, checked_fn)) in plain_code.iter().zip(&checked_code).enumerate() {
            assert!(
                plain.len() < checked_fn.len(),
                "function {i}: {} bytes plain, {} with {checked:?}",
                plain.len(),
                checked_fn.len()
            );
        }
    }
}

/// A gibibyte memory and bulk operations on it, for the tests of long bulk operations.
const BULK: &str = r#"(module
    (memory (export "memory") 16384 16384)
    (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
    (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
    (func (export "byte") (param i32) (result i32) (i32.load8_u (local.get 0)))
    (func (export "pattern") (param $n i32) (local $i i32)
        (loop $l
            (i32.store8 (local.get $i) (i32.rem_u (i32.mul (local.get $i) (i32.const 7)) (i32.const 251)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $i) (local.get $n))))))"#;

const GIB: i32 = 1 << 30;

fn bulk_instance(controls: &Controls) -> Instance {
    let engine = Engine::default();
    let module = Module::new(&engine, &wat_to_wasm(BULK)).expect("the module compiles");
    Instance::with_controls(&module, &[], controls).expect("instantiates")
}

fn byte(instance: &Instance, at: i32) -> i32 {
    i32_result(export(instance, "byte").call(&[Val::I32(at)]), "a load in bounds")
}

/// A `memory.fill` of a whole gibibyte (hundreds of milliseconds with the page faults) is
/// checked between chunks: it stops at the deadline, leaving the memory's end untouched.
#[test]
fn a_huge_memory_fill_stops_at_its_deadline() {
    let controls = Controls { timeout: Some(Duration::from_millis(10)), ..Controls::default() };
    let instance = bulk_instance(&controls);
    let started = Instant::now();
    let result = export(&instance, "fill").call(&[Val::I32(0), Val::I32(1), Val::I32(GIB)]);
    let elapsed = started.elapsed();
    assert_eq!(trap_of(result), Trap::Timeout);
    assert_eq!(byte(&instance, 0), 1, "the first chunks are filled");
    assert_eq!(byte(&instance, GIB - 1), 0, "the fill stopped part-way");
    // Generous for a loaded machine: a chunk is about a millisecond of work.
    assert!(elapsed < Duration::from_millis(200), "stopped late: {elapsed:?}");
}

/// An interrupt from another thread stops a huge `memory.copy` between two chunks: the copy
/// (from the end, its ranges overlapping that way) leaves the start of its destination as it was.
#[test]
fn an_interrupt_stops_a_huge_memory_copy() {
    let controls = Controls { interruptible: true, ..Controls::default() };
    let instance = bulk_instance(&controls);
    export(&instance, "fill").call(&[Val::I32(0), Val::I32(1), Val::I32(GIB / 2 + 1)]).expect("in bounds");
    let handle = instance.interrupt_handle().expect("interruptible");
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let interrupter = {
        let done = done.clone();
        // Well inside the copy (hundreds of milliseconds with the page faults), then again
        // and again: an interrupt before the call starts is forgotten when it starts.
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                handle.interrupt();
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    // One instruction copying half a gigabyte; the function has no loop.
    let result = export(&instance, "copy").call(&[Val::I32(GIB / 2), Val::I32(1), Val::I32(GIB / 2)]);
    done.store(true, std::sync::atomic::Ordering::Release);
    interrupter.join().expect("the interrupter thread");
    assert_eq!(trap_of(result), Trap::Interrupted);
    assert_eq!(byte(&instance, GIB - 1), 1, "the last chunk is copied first");
    assert_eq!(byte(&instance, GIB / 2 + 1), 0, "the copy stopped part-way");
}

/// Copies in chunks give the result of one `memmove`, overlapping either way.
#[test]
fn chunked_memory_copies_overlap_correctly() {
    let controls = Controls { interruptible: true, ..Controls::default() };
    let instance = bulk_instance(&controls);
    let pattern = |at: i32| ((at as u64 * 7) % 251) as i32;
    let (shift, len) = ((1 << 20) + 3, 9 << 20);
    let samples = [0, 1, (4 << 20) - 1, 4 << 20, (4 << 20) + 1, (8 << 20) + 5, len - 1];
    for (dst, src) in [(0, shift), (shift, 0)] {
        export(&instance, "pattern").call(&[Val::I32(len + shift)]).expect("writes the pattern");
        export(&instance, "copy").call(&[Val::I32(dst), Val::I32(src), Val::I32(len)]).expect("in bounds");
        for k in samples {
            assert_eq!(byte(&instance, dst + k), pattern(src + k), "dst {dst}, src {src}, byte {k}");
        }
    }
}

/// Bulk instructions cost one unit plus one per 64 bytes (memory) or per element (tables).
#[test]
fn bulk_instructions_cost_fuel_by_length() {
    let controls = Controls { fuel: Some(1_000_000), ..Controls::default() };
    let instance = bulk_instance(&controls);
    let fill = export(&instance, "fill");
    let used = |len: i32| {
        let before = instance.remaining_fuel().expect("fueled");
        fill.call(&[Val::I32(0), Val::I32(0), Val::I32(len)]).expect("in bounds");
        before - instance.remaining_fuel().expect("fueled")
    };
    let base = used(0);
    assert_eq!(used(63), base);
    assert_eq!(used(6400), base + 100);
}

/// The fuel a call consumes and where it runs out depend on the instructions only.
#[test]
fn fuel_is_exact_across_runs_and_tiers() {
    let consumed = |compilation: Compilation, n: i32| {
        let controls = Controls { fuel: Some(1_000_000), ..Controls::default() };
        let instance = Instance::with_controls(&module(compilation), &[], &controls).expect("instantiates");
        export(&instance, "count").call(&[Val::I32(n)]).expect("within budget");
        1_000_000 - instance.remaining_fuel().expect("fueled")
    };
    let per_100 = consumed(Compilation::Eager, 100);
    assert!(per_100 > 100, "every iteration costs fuel: {per_100}");
    for compilation in [Compilation::Eager, Compilation::Lazy, Compilation::Baseline] {
        assert_eq!(consumed(compilation, 100), per_100, "{compilation:?}");
    }
    // Linear in the iterations: 8 units per iteration here (local.get, i32.const, i32.add,
    // local.set, local.get, local.get, i32.ne, br_if).
    assert_eq!(consumed(Compilation::Eager, 200) - per_100, 800);

    let run_out = |compilation: Compilation| {
        let controls = Controls { fuel: Some(10_000), ..Controls::default() };
        let instance = Instance::with_controls(&module(compilation), &[], &controls).expect("instantiates");
        assert_eq!(trap_of(export(&instance, "fib").call(&[Val::I32(30)])), Trap::OutOfFuel);
        // Out of fuel stays out of fuel; adding fuel makes it usable again.
        assert_eq!(instance.remaining_fuel(), Some(0));
        assert_eq!(trap_of(export(&instance, "count").call(&[Val::I32(10)])), Trap::OutOfFuel);
        instance.add_fuel(1_000).expect("fueled");
        assert_eq!(i32_result(export(&instance, "count").call(&[Val::I32(10)]), "refuelled"), 10);
        instance.remaining_fuel().expect("fueled")
    };
    let eager = run_out(Compilation::Eager);
    assert_eq!(run_out(Compilation::Eager), eager);
    assert_eq!(run_out(Compilation::Baseline), eager);
}

#[test]
fn memory_and_table_limits_bound_growth_and_instantiation() {
    let engine = Engine::default();
    let bytes = wat_to_wasm(
        r#"(module
            (memory (export "memory") 1)
            (table (export "table") 1 funcref)
            (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
            (func (export "grow_table") (param i32) (result i32) (table.grow (ref.null func) (local.get 0))))"#,
    );
    let module = Module::new(&engine, &bytes).expect("compiles");
    let controls = Controls { memory_limit: Some(3 << 16), table_limit: Some(10), ..Controls::default() };
    let instance = Instance::with_controls(&module, &[], &controls).expect("instantiates");
    let grow = export(&instance, "grow");
    assert_eq!(i32_result(grow.call(&[Val::I32(2)]), "runs"), 1);
    assert_eq!(i32_result(grow.call(&[Val::I32(1)]), "runs"), -1, "past the limit");
    let Some(Extern::Memory(memory)) = instance.get_export("memory") else { panic!("a memory export") };
    assert!(matches!(memory.grow(1), Err(Error::Resource(_))));
    assert_eq!(memory.size(), 3);
    let grow_table = export(&instance, "grow_table");
    assert_eq!(i32_result(grow_table.call(&[Val::I32(9)]), "runs"), 1);
    assert_eq!(i32_result(grow_table.call(&[Val::I32(1)]), "runs"), -1);

    let tight = Controls { memory_limit: Some(1000), ..Controls::default() };
    assert!(matches!(Instance::with_controls(&module, &[], &tight), Err(Error::Resource(_))));
    let tight = Controls { table_limit: Some(0), ..Controls::default() };
    assert!(matches!(Instance::with_controls(&module, &[], &tight), Err(Error::Resource(_))));
}

/// wasm -> host -> wasm: the inner call keeps the outer deadline, and an interrupt raised
/// while the host function runs fires as soon as it returns into wasm.
#[test]
fn nested_calls_keep_the_outermost_deadline() {
    let engine = Engine::default();
    let bytes = wat_to_wasm(
        r#"(module
            (import "host" "inner" (func $inner))
            (func (export "outer") (call $inner) (loop $l (br $l)))
            (func (export "spin") (loop $l (br $l))))"#,
    );
    let module = Module::new(&engine, &bytes).expect("compiles");
    let slot: std::rc::Rc<std::cell::RefCell<Option<Instance>>> = Default::default();
    let seen = slot.clone();
    let inner = Func::new(&engine, FuncType::new([], []), move |_, _| {
        let instance = seen.borrow().clone().expect("set before the call");
        let started = Instant::now();
        let trap = trap_of(export(&instance, "spin").call(&[]));
        // The re-entry does not restart the deadline: the outer call's governs.
        assert_eq!(trap, Trap::Timeout);
        assert!(started.elapsed() < Duration::from_secs(5));
        Ok(())
    });
    let controls = Controls { timeout: Some(Duration::from_millis(100)), ..Controls::default() };
    let instance = Instance::with_controls(&module, &[Extern::Func(inner)], &controls).expect("instantiates");
    *slot.borrow_mut() = Some(instance.clone());
    let started = Instant::now();
    assert_eq!(trap_of(export(&instance, "outer").call(&[])), Trap::Timeout);
    assert!(started.elapsed() < Duration::from_secs(5));
    slot.borrow_mut().take();
}

/// `deterministic`: NaNs come out canonical (0x7fc00000 / 0x7ff8000000000000), whatever the
/// hardware or the operands' payloads would give.
#[test]
fn deterministic_modules_produce_canonical_nans() {
    let bytes = wat_to_wasm(
        r#"(module
            (func (export "div32") (param f32 f32) (result i32) (i32.reinterpret_f32 (f32.div (local.get 0) (local.get 1))))
            (func (export "add32") (param f32) (result i32) (i32.reinterpret_f32 (f32.add (local.get 0) (f32.const 1))))
            (func (export "mul64") (param f64) (result i64) (i64.reinterpret_f64 (f64.mul (local.get 0) (f64.const 2)))))"#,
    );
    let engine = Engine::default();
    let payload32 = 0x7fa0_0001;
    let payload64 = 0x7ff4_0000_0000_0001;
    for compilation in [Compilation::Eager, Compilation::Baseline] {
        let module = Module::with_options(&engine, &bytes, compilation, true).expect("compiles");
        let instance = Instance::new(&module, &[]).expect("instantiates");
        let div = export(&instance, "div32").call(&[Val::F32(0), Val::F32(0)]);
        assert_eq!(i32_result(div, "runs") as u32, 0x7fc0_0000, "{compilation:?}");
        let add = export(&instance, "add32").call(&[Val::F32(payload32)]);
        assert_eq!(i32_result(add, "runs") as u32, 0x7fc0_0000, "{compilation:?}");
        match export(&instance, "mul64").call(&[Val::F64(payload64)]).expect("runs").as_slice() {
            [Val::I64(bits)] => assert_eq!(*bits as u64, 0x7ff8_0000_0000_0000, "{compilation:?}"),
            other => panic!("expected an i64, got {other:?}"),
        }
    }
    // Without the option the hardware's NaN shows through (x86's default NaN is negative),
    // which is what makes the option necessary.
    let module = Module::new(&engine, &bytes).expect("compiles");
    let instance = Instance::new(&module, &[]).expect("instantiates");
    let div = export(&instance, "div32").call(&[Val::F32(0), Val::F32(0)]);
    assert_ne!(i32_result(div, "runs") as u32, 0x7fc0_0000);
}
