//! Tail calls (`return_call`, `return_call_indirect`): chains run in constant stack on every
//! tier and compilation mode, under controls, into imports, and leave honest backtraces.

use heron_engine::{
    Backtrace, Compilation, Controls, Engine, Error, Extern, Func, FuncType, Instance, Module, Trap, Val, ValType,
};
use std::time::Duration;

use crate::common::{export, wat_to_wasm};

/// Ten million calls: far deeper than any stack holds frames for.
const DEPTH: i64 = 10_000_000;

const CHAINS: &str = r#"(module
    (import "host" "add" (func $add (param i64 i64) (result i64)))
    (type $step (func (param i64 i64) (result i64)))
    (table funcref (elem $even_indirect $odd_indirect))
    ;; (n, acc): even/odd by mutual tail recursion, counting the steps in acc.
    (func $even (export "even") (param i64 i64) (result i64)
        (if (result i64) (i64.eqz (local.get 0))
            (then (local.get 1))
            (else (return_call $odd (i64.sub (local.get 0) (i64.const 1))
                                    (i64.add (local.get 1) (i64.const 1))))))
    (func $odd (param i64 i64) (result i64)
        (if (result i64) (i64.eqz (local.get 0))
            (then (i64.sub (i64.const 0) (local.get 1)))
            (else (return_call $even (i64.sub (local.get 0) (i64.const 1))
                                     (i64.add (local.get 1) (i64.const 1))))))
    (func $even_indirect (export "even_indirect") (param i64 i64) (result i64)
        (if (result i64) (i64.eqz (local.get 0))
            (then (local.get 1))
            (else (return_call_indirect (type $step)
                    (i64.sub (local.get 0) (i64.const 1)) (i64.add (local.get 1) (i64.const 1))
                    (i32.const 1)))))
    (func $odd_indirect (param i64 i64) (result i64)
        (if (result i64) (i64.eqz (local.get 0))
            (then (i64.sub (i64.const 0) (local.get 1)))
            (else (return_call_indirect (type $step)
                    (i64.sub (local.get 0) (i64.const 1)) (i64.add (local.get 1) (i64.const 1))
                    (i32.const 0)))))
    ;; A caller with two parameters tail-calls a callee with twelve, whose stack arguments
    ;; do not fit in the caller's incoming argument area, and back.
    (func $narrow (export "narrow") (param i64 i64) (result i64)
        (if (result i64) (i64.eqz (local.get 0))
            (then (local.get 1))
            (else (return_call $wide (i64.sub (local.get 0) (i64.const 1)) (local.get 1)
                    (i64.const 1) (i64.const 2) (i64.const 3) (i64.const 4) (i64.const 5)
                    (i64.const 6) (i64.const 7) (i64.const 8) (i64.const 9) (i64.const 10)))))
    (func $wide (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)
        (return_call $narrow (local.get 0)
            (i64.add (local.get 1) (i64.add (local.get 2) (local.get 11)))))
    ;; The tail call to an import returns the import's result to this function's caller.
    (func (export "to_import") (param i64 i64) (result i64)
        (return_call $add (local.get 0) (local.get 1)))
    ;; Traps after a tail call: the frame of the function that tail-called is gone.
    (func $trapper (param i64) (result i64) unreachable)
    (func $tail_to_trapper (param i64) (result i64) (return_call $trapper (local.get 0)))
    (func (export "trap_after_tail_call") (param i64) (result i64)
        (i64.add (call $tail_to_trapper (local.get 0)) (i64.const 1)))
    (func $spin (export "spin") (return_call $spin)))"#;

fn instantiate(compilation: Compilation, controls: &Controls) -> Instance {
    let engine = Engine::with_compilation(compilation).expect("an engine");
    let module = Module::new(&engine, &wat_to_wasm(CHAINS)).expect("the module compiles");
    let add = Func::new(&engine, FuncType::new([ValType::I64, ValType::I64], [ValType::I64]), |args, results| {
        match (&args[0], &args[1]) {
            (Val::I64(a), Val::I64(b)) => results[0] = Val::I64(a.wrapping_add(*b)),
            _ => unreachable!("the signature says two i64s"),
        }
        Ok(())
    });
    Instance::with_controls(&module, &[Extern::Func(add)], controls).expect("the module instantiates")
}

fn i64_result(result: heron_engine::Result<Vec<Val>>, what: &str) -> i64 {
    match result.unwrap_or_else(|e| panic!("{what}: {e}")).as_slice() {
        [Val::I64(value)] => *value,
        other => panic!("{what}: expected one i64, got {other:?}"),
    }
}

const MODES: [Compilation; 4] = [Compilation::Eager, Compilation::Lazy, Compilation::OnDemand, Compilation::Baseline];

#[test]
fn ten_million_mutual_tail_calls_run_in_constant_stack_in_every_mode() {
    for mode in MODES {
        let instance = instantiate(mode, &Controls::default());
        let args = [Val::I64(DEPTH), Val::I64(0)];
        assert_eq!(i64_result(export(&instance, "even").call(&args), "even"), DEPTH, "{mode:?}");
        let odd = [Val::I64(DEPTH + 1), Val::I64(0)];
        assert_eq!(i64_result(export(&instance, "even").call(&odd), "odd"), -(DEPTH + 1), "{mode:?}");
        let indirect = i64_result(export(&instance, "even_indirect").call(&args), "even_indirect");
        assert_eq!(indirect, DEPTH, "{mode:?}");
    }
}

#[test]
fn tail_calls_between_different_stack_argument_counts_run_in_constant_stack() {
    for mode in [Compilation::Eager, Compilation::Baseline] {
        let instance = instantiate(mode, &Controls::default());
        let result = i64_result(export(&instance, "narrow").call(&[Val::I64(DEPTH), Val::I64(0)]), "narrow");
        assert_eq!(result, DEPTH * 11, "{mode:?}");
    }
}

#[test]
fn a_tail_call_to_an_import_returns_its_result() {
    for mode in MODES {
        let instance = instantiate(mode, &Controls::default());
        let result = i64_result(export(&instance, "to_import").call(&[Val::I64(40), Val::I64(2)]), "to_import");
        assert_eq!(result, 42, "{mode:?}");
    }
}

#[test]
fn tail_call_chains_count_fuel_and_stop_at_deadlines() {
    // Ample fuel: the chain completes under fuel-counting and interruptible code.
    let controls = Controls { fuel: Some(1 << 40), timeout: Some(Duration::from_secs(3600)), ..Controls::default() };
    for mode in [Compilation::Eager, Compilation::Baseline] {
        let instance = instantiate(mode, &controls);
        let args = [Val::I64(DEPTH), Val::I64(0)];
        assert_eq!(i64_result(export(&instance, "even").call(&args), "even"), DEPTH, "{mode:?}");
    }
    // Too little fuel for the chain: it runs out part-way.
    let instance = instantiate(Compilation::Eager, &Controls { fuel: Some(1000), ..Controls::default() });
    match export(&instance, "even").call(&[Val::I64(DEPTH), Val::I64(0)]) {
        Err(Error::Trap(Trap::OutOfFuel)) => {}
        other => panic!("expected running out of fuel, got {other:?}"),
    }
    // An endless tail-call loop is stopped by its deadline (the callee's entry checks it).
    let timeout = Controls { timeout: Some(Duration::from_millis(50)), ..Controls::default() };
    let instance = instantiate(Compilation::Eager, &timeout);
    match export(&instance, "spin").call(&[]) {
        Err(Error::Trap(Trap::Timeout)) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn a_trap_after_a_tail_call_has_no_frame_for_the_tail_caller() {
    for mode in [Compilation::Eager, Compilation::Baseline] {
        let instance = instantiate(mode, &Controls::default());
        match export(&instance, "trap_after_tail_call").call(&[Val::I64(1)]) {
            Err(Error::Trap(Trap::Unreachable)) => {}
            other => panic!("expected unreachable, got {other:?}"),
        }
        let backtrace = Backtrace::take_last().expect("a trap leaves a backtrace");
        // $trapper (function 8), then the exporting caller (10): $tail_to_trapper (9) is gone.
        let functions: Vec<u32> = backtrace.frames().iter().map(|frame| frame.func_index()).collect();
        assert_eq!(functions, [8, 10], "{mode:?}");
    }
}
