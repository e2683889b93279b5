//! Lazy and background compilation: whichever moment a function is compiled at (before
//! instantiation, on its first call, from a table, deep in recursion, while other instances
//! run it), calls, traps, stack overflow and function identity behave the same.

use heron_engine::{Compilation, Engine, Error, Func, Instance, Module, Trap, Val};

use crate::common::{export, wat_to_wasm};

/// The engine of these tests: without a code cache, so that what they observe of compilation
/// (tiers, progress) is compilation's, not an entry's.
fn uncached_engine() -> Engine {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| Engine::with_config(heron_engine::Config::default()).expect("an engine")).clone()
}

fn call_i32(func: &Func, args: &[i32]) -> Result<i32, Error> {
    let args: Vec<Val> = args.iter().map(|a| Val::I32(*a)).collect();
    match func.call(&args)?.as_slice() {
        [Val::I32(v)] => Ok(*v),
        other => panic!("expected one i32, got {other:?}"),
    }
}

fn trap_of(result: Result<i32, Error>) -> Trap {
    match result {
        Err(Error::Trap(trap)) => trap,
        other => panic!("expected a trap, got {other:?}"),
    }
}

const ALL_MODES: [Compilation; 4] =
    [Compilation::Eager, Compilation::Lazy, Compilation::OnDemand, Compilation::Baseline];

const PROGRAM: &str = r#"(module
    (type $unary (func (param i32) (result i32)))
    (table 4 funcref)
    (elem (i32.const 0) $double $fib $divide $recurse)
    (func $double (type $unary) (i32.mul (local.get 0) (i32.const 2)))
    (func $fib (export "fib") (type $unary)
        (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
            (then (local.get 0))
            (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                           (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
    (func $divide (export "divide") (type $unary) (i32.div_s (i32.const 100) (local.get 0)))
    (func $recurse (export "recurse") (type $unary) (call $recurse (i32.add (local.get 0) (i32.const 1))))
    (func (export "indirect") (param i32 i32) (result i32)
        (call_indirect (type $unary) (local.get 1) (local.get 0)))
    (func (export "get") (param i32) (result funcref) (table.get (local.get 0))))"#;

fn instantiate(mode: Compilation) -> Instance {
    let module = Module::with_compilation(&uncached_engine(), &wat_to_wasm(PROGRAM), mode).expect("compiles");
    Instance::new(&module, &[]).expect("instantiates")
}

#[test]
fn calls_traps_and_call_indirect_behave_alike_in_every_mode() {
    for mode in ALL_MODES {
        let instance = instantiate(mode);
        let indirect = export(&instance, "indirect");
        // call_indirect to functions not compiled yet (in the lazy modes), by table slot.
        assert_eq!(call_i32(&indirect, &[0, 21]).unwrap(), 42, "{mode:?}");
        assert_eq!(call_i32(&indirect, &[1, 10]).unwrap(), 55, "{mode:?}");
        assert_eq!(trap_of(call_i32(&indirect, &[2, 0])), Trap::IntegerDivideByZero, "{mode:?}");
        assert_eq!(trap_of(call_i32(&indirect, &[4, 0])), Trap::UndefinedElement, "{mode:?}");
        // A trap inside a function compiled on its first call, called directly.
        assert_eq!(trap_of(call_i32(&export(&instance, "divide"), &[0])), Trap::IntegerDivideByZero);
        assert_eq!(call_i32(&export(&instance, "divide"), &[5]).unwrap(), 20);
        assert_eq!(call_i32(&export(&instance, "fib"), &[20]).unwrap(), 6765);
    }
}

#[test]
fn stack_overflow_in_a_function_compiled_on_first_call() {
    for mode in ALL_MODES {
        let instance = instantiate(mode);
        let recurse = export(&instance, "recurse");
        assert_eq!(trap_of(call_i32(&recurse, &[0])), Trap::StackOverflow, "{mode:?}");
        // Still usable afterwards, and a second overflow is the same trap.
        assert_eq!(trap_of(call_i32(&recurse, &[0])), Trap::StackOverflow, "{mode:?}");
        assert_eq!(call_i32(&export(&instance, "fib"), &[10]).unwrap(), 55);
    }
}

/// The first call of a function happens at the bottom of a deep wasm stack: compilation
/// must not run out of stack there (it moves to a helper thread).
#[test]
fn first_call_deep_in_recursion_compiles() {
    let bytes = wat_to_wasm(
        r#"(module
            (func $down (export "down") (param i32) (result i32)
                (if (result i32) (i32.eqz (local.get 0))
                    (then (call $leaf (i32.const 7)))
                    (else (i32.add (i32.const 1) (call $down (i32.sub (local.get 0) (i32.const 1)))))))
            (func $leaf (param i32) (result i32)
                (i32.mul (local.get 0) (i32.add (local.get 0) (i32.const 1)))))"#,
    );
    let module = Module::with_compilation(&uncached_engine(), &bytes, Compilation::OnDemand).unwrap();
    let instance = Instance::new(&module, &[]).unwrap();
    let down = export(&instance, "down");
    // Deep enough to leave well under the compile threshold of stack, short of overflowing.
    let mut depth = 1000;
    let mut last = None;
    while depth < 1 << 22 {
        match call_i32(&down, &[depth]) {
            Ok(v) => last = Some((depth, v)),
            Err(Error::Trap(Trap::StackOverflow)) => break,
            Err(e) => panic!("{e:?}"),
        }
        depth *= 2;
    }
    let (depth, value) = last.expect("some depth works");
    assert_eq!(value, depth + 56);
}

#[test]
fn funcref_identity_does_not_depend_on_compilation() {
    for mode in ALL_MODES {
        let instance = instantiate(mode);
        let get = export(&instance, "get");
        let from_table = match get.call(&[Val::I32(1)]).unwrap().as_slice() {
            [Val::FuncRef(Some(f))] => f.clone(),
            other => panic!("{other:?}"),
        };
        let fib = export(&instance, "fib");
        assert!(from_table.same(&fib), "{mode:?}");
        assert_eq!(call_i32(&from_table, &[12]).unwrap(), 144);
        assert!(export(&instance, "fib").same(&fib));
    }
}

/// Many functions, so the background is still compiling while instances run.
fn big_module(functions: usize) -> Vec<u8> {
    let mut text = String::from("(module (type $t (func (param i32) (result i32))) (table funcref (elem");
    for i in 0..functions {
        text.push_str(&format!(" $f{i}"));
    }
    text.push_str("))\n");
    for i in 0..functions {
        // Each function adds its index, then (but the last) calls the next one.
        let next = if i + 1 < functions { format!("(call $f{} (local.get 1))", i + 1) } else { "(local.get 1)".into() };
        text.push_str(&format!(
            "(func $f{i} (type $t) (local i32)
                (local.set 1 (i32.add (local.get 0) (i32.const {i})))
                (local.set 1 (i32.xor (i32.mul (local.get 1) (i32.const 3)) (i32.shr_u (local.get 1) (i32.const 5))))
                (local.set 1 (i32.sub (local.get 1) (i32.mul (local.get 1) (i32.const 2))))
                (local.set 1 (i32.add (local.get 1) (i32.mul (local.get 1) (i32.const 2))))
                {next})\n"
        ));
    }
    text.push_str("(func (export \"chain\") (param i32) (result i32) (call $f0 (local.get 0)))");
    text.push_str(
        "(func (export \"at\") (param i32 i32) (result i32) (call_indirect (type $t) (local.get 1) (local.get 0))))",
    );
    wat_to_wasm(&text)
}

#[test]
fn many_instances_before_compilation_finishes() {
    let bytes = big_module(3000);
    let engine = uncached_engine();
    let eager = Module::with_compilation(&engine, &bytes, Compilation::Eager).unwrap();
    let reference = Instance::new(&eager, &[]).unwrap();
    let expected = call_i32(&export(&reference, "chain"), &[5]).unwrap();
    let expected_at = call_i32(&export(&reference, "at"), &[2999, 9]).unwrap();

    let lazy = Module::with_compilation(&engine, &bytes, Compilation::Lazy).unwrap();
    let (done, total) = lazy.compilation_progress();
    assert!(done <= total && total == 3002);
    // Instances are not Send: each thread makes its own, all from the one module.
    let instances: Vec<Instance> = (0..5).map(|_| Instance::new(&lazy, &[]).unwrap()).collect();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let lazy = lazy.clone();
            scope.spawn(move || {
                let instances: Vec<Instance> = (0..5).map(|_| Instance::new(&lazy, &[]).unwrap()).collect();
                for instance in instances {
                    assert_eq!(call_i32(&export(&instance, "at"), &[2999, 9]).unwrap(), expected_at);
                    assert_eq!(call_i32(&export(&instance, "chain"), &[5]).unwrap(), expected);
                }
            });
        }
        for instance in &instances {
            assert_eq!(call_i32(&export(instance, "chain"), &[5]).unwrap(), expected);
        }
    });
    lazy.wait_for_compilation().unwrap();
    assert_eq!(lazy.compilation_progress(), (3002, 3002));
    // An instance made after compilation finished, and the old ones, agree.
    let late = Instance::new(&lazy, &[]).unwrap();
    assert_eq!(call_i32(&export(&late, "chain"), &[5]).unwrap(), expected);
    assert_eq!(call_i32(&export(&instances[0], "chain"), &[5]).unwrap(), expected);
}

#[test]
fn a_module_dropped_while_compiling_cancels_its_work() {
    let bytes = big_module(3000);
    let engine = uncached_engine();
    for _ in 0..5 {
        let module = Module::with_compilation(&engine, &bytes, Compilation::Lazy).unwrap();
        let instance = Instance::new(&module, &[]).unwrap();
        call_i32(&export(&instance, "at"), &[7, 1]).unwrap();
        drop(instance);
        drop(module);
    }
    // The workers stop at their next batch: a fresh module still compiles to the end.
    let module = Module::with_compilation(&engine, &bytes, Compilation::Lazy).unwrap();
    module.wait_for_compilation().unwrap();
    assert_eq!(module.compilation_progress(), (3002, 3002));
}

#[test]
fn invalid_modules_fail_at_once_in_every_mode() {
    let bad = wat_to_wasm("(module (func (result i32) (i64.const 1)))");
    let bad = bad.as_slice();
    for mode in ALL_MODES {
        match Module::with_compilation(&uncached_engine(), bad, mode) {
            Err(Error::Compile { .. }) => {}
            Err(e) => panic!("{mode:?}: {e:?}"),
            Ok(_) => panic!("{mode:?}: an invalid module compiled"),
        }
    }
}

/// Two tiers: first calls run baseline code; once optimized code is published (here by
/// `wait_for_compilation`), it replaces the baseline code in every live instance, including
/// where another instance calls the function through an import, and the results stay.
#[test]
fn optimized_code_replaces_baseline_code_in_live_instances() {
    let engine = uncached_engine();
    let module = Module::with_compilation(&engine, &wat_to_wasm(PROGRAM), Compilation::Baseline).unwrap();
    let first = Instance::new(&module, &[]).unwrap();
    let second = Instance::new(&module, &[]).unwrap();
    let caller = Module::new(
        &engine,
        &wat_to_wasm(
            r#"(module (import "m" "fib" (func $fib (param i32) (result i32)))
                (func (export "fib") (param i32) (result i32) (call $fib (local.get 0))))"#,
        ),
    )
    .unwrap();
    let linked = Instance::new(&caller, &[heron_engine::Extern::Func(export(&second, "fib"))]).unwrap();

    let fib = export(&first, "fib");
    assert!(!fib.runs_optimized_code(), "nothing is compiled before the first call");
    let before = call_i32(&fib, &[20]).unwrap();
    assert_eq!(before, 6765);
    assert!(!fib.runs_optimized_code(), "first calls run baseline code");
    assert_eq!(call_i32(&export(&linked, "fib"), &[15]).unwrap(), 610);
    assert_eq!(trap_of(call_i32(&export(&first, "recurse"), &[0])), Trap::StackOverflow);

    module.wait_for_compilation().unwrap();
    for instance in [&first, &second] {
        assert!(export(instance, "fib").runs_optimized_code());
        assert!(export(instance, "divide").runs_optimized_code(), "never called, installed all the same");
    }
    assert_eq!(call_i32(&fib, &[20]).unwrap(), before);
    assert_eq!(call_i32(&export(&linked, "fib"), &[15]).unwrap(), 610);
    assert_eq!(trap_of(call_i32(&export(&first, "recurse"), &[0])), Trap::StackOverflow);
    let third = Instance::new(&module, &[]).unwrap();
    assert!(export(&third, "fib").runs_optimized_code(), "new instances start with the optimized code");
}
