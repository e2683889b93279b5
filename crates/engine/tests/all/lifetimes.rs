//! Function identity across instances, and what keeps instances, tables and memories alive
//! (see `store.rs`): handles that outlive the objects they came from still work, and dropped
//! instances are freed.

use crate::common::{compile_wat, export, instantiate};
use heron_engine::{Engine, Extern, Func, FuncType, Global, Instance, Table, TableType, Val, ValType};
use heron_engine::{Limits, ValRaw};

fn table(instance: &Instance, name: &str) -> Table {
    match instance.get_export(name) {
        Some(Extern::Table(t)) => t,
        _ => panic!("no table export {name}"),
    }
}

fn global(instance: &Instance, name: &str) -> Global {
    match instance.get_export(name) {
        Some(Extern::Global(g)) => g,
        _ => panic!("no global export {name}"),
    }
}

fn funcref(value: Option<Val>) -> Func {
    match value {
        Some(Val::FuncRef(Some(f))) => f,
        other => panic!("expected a function, got {other:?}"),
    }
}

fn call_i32(f: &Func, arg: i32) -> i32 {
    match f.call(&[Val::I32(arg)]).expect("runs")[..] {
        [Val::I32(v)] => v,
        ref other => panic!("expected one i32, got {other:?}"),
    }
}

const EXPORTER: &str = r#"(module
    (func $other)
    (func (export "inc") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1))))"#;

const REEXPORTER: &str = r#"(module
    (import "a" "inc" (func $inc (param i32) (result i32)))
    (table (export "table") 2 funcref)
    (elem (i32.const 0) func $inc)
    (global (export "global") funcref (ref.func $inc))
    (export "inc" (func $inc))
    (func (export "get") (result funcref) (ref.func $inc))
    (func (export "call_slot") (param i32 i32) (result i32)
        (call_indirect (param i32) (result i32) (local.get 0) (local.get 1))))"#;

#[test]
fn an_imported_function_has_one_identity_everywhere() {
    let engine = Engine::default();
    let a = instantiate(&compile_wat(&engine, EXPORTER), &[]);
    let original = export(&a, "inc");
    let b = instantiate(&compile_wat(&engine, REEXPORTER), &[Extern::Func(original.clone())]);

    let reexported = export(&b, "inc");
    let from_table = funcref(table(&b, "table").get(0));
    let from_global = funcref(Some(global(&b, "global").get()));
    let from_ref_func = funcref(export(&b, "get").call(&[]).expect("runs").pop());
    let expected_ty = FuncType::new([ValType::I32], [ValType::I32]);
    for (what, f) in
        [("re-export", &reexported), ("elem", &from_table), ("global", &from_global), ("ref.func", &from_ref_func)]
    {
        assert!(f.same(&original), "{what} is not the same function");
        assert_eq!(f.id(), original.id(), "{what} has another id");
        assert_eq!(f.ty(), &expected_ty, "{what} has the wrong type");
        assert_eq!(f.index(), Some(1), "{what} has the wrong index");
    }
    assert_eq!(b.func_index(&original), Some(0), "index in the importer's index space");
    assert_eq!(a.func_index(&original), Some(1), "index in the definer's index space");
    let through_table = export(&b, "call_slot").call(&[Val::I32(41), Val::I32(0)]).expect("runs");
    assert!(matches!(through_table[..], [Val::I32(42)]), "call_indirect through the elem segment");

    // Everything but one handle goes; the function must still run.
    drop((a, b, original, reexported, from_table, from_global));
    assert_eq!(call_i32(&from_ref_func, 1), 2);
}

#[test]
fn a_table_outlives_the_instance_that_defined_and_filled_it() {
    let engine = Engine::default();
    let definer = compile_wat(
        &engine,
        r#"(module
            (memory 1)
            (table (export "table") 3 funcref)
            (func $seven (result i32) (i32.const 7))
            (func $load (result i32) (i32.load (i32.const 0)))
            (data (i32.const 0) "\2a")
            (elem (i32.const 0) func $seven $load))"#,
    );
    let table = table(&instantiate(&definer, &[]), "table");
    drop(definer);

    // A second instance writes one of its own functions into the table with table.set,
    // then goes away too.
    let writer = compile_wat(
        &engine,
        r#"(module
            (import "m" "table" (table 3 funcref))
            (func $nine (result i32) (i32.const 9))
            (elem declare func $nine)
            (func (export "store") (table.set 0 (i32.const 2) (ref.func $nine))))"#,
    );
    export(&instantiate(&writer, &[Extern::Table(table.clone())]), "store").call(&[]).expect("runs");
    drop(writer);

    let caller = compile_wat(
        &engine,
        r#"(module
            (import "m" "table" (table 3 funcref))
            (func (export "call") (param i32) (result i32) (call_indirect (result i32) (local.get 0))))"#,
    );
    let call = export(&instantiate(&caller, &[Extern::Table(table.clone())]), "call");
    drop(caller);
    assert_eq!(call_i32(&call, 0), 7);
    assert_eq!(call_i32(&call, 1), 42, "the defining instance's memory is alive");
    assert_eq!(call_i32(&call, 2), 9);
    drop(call);
    for (slot, expected) in [(0, 7), (1, 42), (2, 9)] {
        let result = funcref(table.get(slot)).call(&[]).expect("runs");
        assert!(matches!(result[..], [Val::I32(v)] if v == expected), "slot {slot}");
    }
}

#[test]
fn a_host_table_keeps_the_functions_wasm_put_in_it() {
    let engine = Engine::default();
    let limits = Limits { min: 2, max: None };
    let host_table = Table::new(
        &engine,
        TableType { element: ValType::FUNCREF, limits, address: Default::default() },
        Val::FuncRef(None),
    )
    .expect("creates");
    let module = compile_wat(
        &engine,
        r#"(module
            (import "m" "table" (table 2 funcref))
            (func $five (result i32) (i32.const 5))
            (elem (i32.const 0) func $five)
            (func (export "fill") (table.fill 0 (i32.const 1) (ref.func $five) (i32.const 1))))"#,
    );
    let instance = instantiate(&module, &[Extern::Table(host_table.clone())]);
    export(&instance, "fill").call(&[]).expect("runs");
    drop((instance, module));
    for slot in 0..2 {
        let result = funcref(host_table.get(slot)).call(&[]).expect("runs");
        assert!(matches!(result[..], [Val::I32(5)]), "slot {slot}");
    }
}

#[test]
fn funcrefs_passed_to_wasm_or_returned_by_the_host_stay_alive() {
    let engine = Engine::default();
    let sink = compile_wat(
        &engine,
        r#"(module
            (import "host" "make" (func $make (result funcref)))
            (table (export "table") 2 funcref)
            (func (export "keep") (param funcref) (table.set 0 (i32.const 0) (local.get 0)))
            (func (export "keep_made") (table.set 0 (i32.const 1) (call $make)))
            (func (export "call") (param i32) (result i32) (call_indirect (result i32) (local.get 0))))"#,
    );
    let source = compile_wat(&engine, r#"(module (func (export "f") (result i32) (i32.const 11)))"#);
    let make_source = source.clone();
    let make = Func::new(&engine, FuncType::new([], [ValType::FUNCREF]), move |_, results| {
        // A fresh instance whose only handle the host drops on return.
        let instance = Instance::new(&make_source, &[]).expect("instantiates");
        results[0] = Val::FuncRef(Some(export(&instance, "f")));
        Ok(())
    });
    let sink = instantiate(&sink, &[Extern::Func(make)]);
    let passed = export(&instantiate(&source, &[]), "f");
    // Through the raw path, as the Node binding calls.
    let mut slots = [ValRaw::ptr(passed.id())];
    // SAFETY: one funcref argument, no results, and `passed` is alive during the call.
    unsafe { export(&sink, "keep").call_raw(&mut slots).expect("runs") };
    drop(passed);
    export(&sink, "keep_made").call(&[]).expect("runs");
    let call = export(&sink, "call");
    assert_eq!(call_i32(&call, 0), 11);
    assert_eq!(call_i32(&call, 1), 11);
}

#[test]
fn a_funcref_global_outlives_its_instance() {
    let engine = Engine::default();
    let module = compile_wat(
        &engine,
        r#"(module
            (global (export "g") (mut funcref) (ref.null func))
            (func $three (result i32) (i32.const 3))
            (elem declare func $three)
            (func (export "set") (global.set 0 (ref.func $three))))"#,
    );
    let instance = instantiate(&module, &[]);
    export(&instance, "set").call(&[]).expect("runs");
    let g = global(&instance, "g");
    drop((instance, module));
    let result = funcref(Some(g.get())).call(&[]).expect("runs");
    assert!(matches!(result[..], [Val::I32(3)]));
}

/// Resident set size of this process, in bytes.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("reads statm");
    let pages: usize = statm.split_whitespace().nth(1).expect("has resident").parse().expect("a number");
    pages * 4096 // the page size on x86-64 Linux
}

#[test]
fn a_hundred_thousand_instances_hold_steady_memory() {
    let engine = Engine::default();
    // A memory (an 8 GiB reservation each), a table holding its own functions, a funcref
    // global of its own function, and wasm writes of its own functions into its table
    // (table.fill and table.set): every way an instance used to keep itself alive.
    let module = compile_wat(
        &engine,
        r#"(module
            (memory (export "memory") 1)
            (table (export "table") 4 funcref)
            (global (export "global") (mut funcref) (ref.func $one))
            (func $one (result i32) (i32.const 1))
            (func $two (result i32) (i32.const 2))
            (elem (i32.const 0) func $one $two)
            (func $start
                (table.fill 0 (i32.const 2) (ref.func $two) (i32.const 1))
                (table.set 0 (i32.const 3) (global.get 0))
                (global.set 0 (ref.func $two))
                (i32.store (i32.const 0) (i32.const 1)))
            (start $start))"#,
    );
    let mut baseline = 0;
    for i in 0..100_000 {
        let instance = instantiate(&module, &[]);
        if i % 1000 == 0 {
            // Exercise the exports too, then drop them with the instance.
            let t = table(&instance, "table");
            assert!(funcref(t.get(3)).call(&[]).is_ok());
        }
        drop(instance);
        if i == 1000 {
            baseline = rss();
        }
    }
    let end = rss();
    assert!(end < baseline + (64 << 20), "RSS grew from {baseline} to {end} bytes");
}
