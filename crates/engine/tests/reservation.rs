//! What happens when memories have used up the address-space budget for guard-page
//! reservations: new memories fall back to explicit bounds checks and behave the same.
//!
//! One test in a binary of its own: it takes the whole budget, which no other test running
//! in the same process could then use.

use heron_engine::{BoundsChecks, Engine, Extern, Instance, Memory, MemoryType, Module, Trap, Val, RESERVATION_BUDGET};
use heron_engine::{Error, Limits};

#[allow(dead_code)] // uses part of the helpers
mod common;
use common::{export, wat_to_wasm};

const PROGRAM: &str = r#"(module
    (memory (export "memory") 1 100)
    (func (export "store") (param i32 i64) (i64.store (local.get 0) (local.get 1)))
    (func (export "load") (param i32) (result i64) (i64.load (local.get 0)))
    (func (export "load_far") (param i32) (result i32) (i32.load offset=65533 (local.get 0)))
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
    (func (export "size") (result i32) (memory.size)))"#;

const IMPORTER: &str = r#"(module
    (import "env" "memory" (memory 1))
    (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0))))"#;

fn call(instance: &Instance, name: &str, args: &[Val]) -> Result<Vec<Val>, Error> {
    export(instance, name).call(args)
}

fn i64_at(instance: &Instance, address: i32) -> i64 {
    match call(instance, "load", &[Val::I32(address)]).expect("in bounds")[..] {
        [Val::I64(value)] => value,
        ref other => panic!("expected an i64, got {other:?}"),
    }
}

fn is_out_of_bounds(result: Result<Vec<Val>, Error>) -> bool {
    matches!(result, Err(Error::Trap(Trap::MemoryOutOfBounds)))
}

fn memory_export(instance: &Instance) -> Memory {
    match instance.get_export("memory") {
        Some(Extern::Memory(memory)) => memory,
        _ => panic!("no memory export"),
    }
}

/// Runs the program's checks on an instance whose memory starts at one page.
fn exercise(instance: &Instance) {
    call(instance, "store", &[Val::I32(65528), Val::I64(0x0102_0304_0506_0708)]).expect("in bounds");
    assert_eq!(i64_at(instance, 65528), 0x0102_0304_0506_0708);
    // The last byte of the access is out of bounds: the whole access traps, writing nothing.
    assert!(is_out_of_bounds(call(instance, "store", &[Val::I32(65529), Val::I64(-1)])));
    assert!(is_out_of_bounds(call(instance, "load", &[Val::I32(-1)])));
    assert!(is_out_of_bounds(call(instance, "load_far", &[Val::I32(0)])));
    assert!(matches!(call(instance, "load_far", &[Val::I32(-65536)]), Err(Error::Trap(Trap::MemoryOutOfBounds))));

    // Growing (page by page, then by many) keeps the contents wherever the memory ends up.
    for _ in 0..3 {
        call(instance, "grow", &[Val::I32(1)]).expect("grows");
    }
    assert!(matches!(call(instance, "grow", &[Val::I32(60)]).expect("grows")[..], [Val::I32(4)]));
    assert!(matches!(call(instance, "size", &[]).expect("runs")[..], [Val::I32(64)]));
    assert_eq!(i64_at(instance, 65528), 0x0102_0304_0506_0708);
    assert_eq!(i64_at(instance, 64 * 65536 - 8), 0, "grown pages are zero");
    call(instance, "store", &[Val::I32(64 * 65536 - 8), Val::I64(7)]).expect("in bounds after growing");
    assert!(is_out_of_bounds(call(instance, "load", &[Val::I32(64 * 65536 - 7)])));
    assert!(matches!(call(instance, "grow", &[Val::I32(37)]).expect("runs")[..], [Val::I32(-1)]), "beyond the maximum");
    assert_eq!(memory_export(instance).size(), 64);
}

#[test]
fn memories_beyond_the_reservation_budget_use_explicit_bounds_checks() {
    let engine = Engine::default();
    let ty = MemoryType { limits: Limits { min: 1, max: None }, shared: false, address: Default::default() };
    let module = Module::new(&engine, &wat_to_wasm(PROGRAM)).expect("compiles");
    let importer = Module::new(&engine, &wat_to_wasm(IMPORTER)).expect("compiles");

    // Before the budget runs out: guard pages.
    let guarded = Instance::new(&module, &[]).expect("instantiates");
    assert_eq!(memory_export(&guarded).bounds_checks(), BoundsChecks::GuardPages);
    exercise(&guarded);

    // Use the budget up.
    let most_possible = RESERVATION_BUDGET / (8 << 30);
    let mut held = Vec::new();
    loop {
        let memory = Memory::new(&engine, ty).expect("a memory, one way or the other");
        if memory.bounds_checks() == BoundsChecks::Explicit {
            break;
        }
        held.push(memory);
        assert!(held.len() <= most_possible, "the budget bounds the reservations");
    }
    assert!(held.len() > 1000, "only {} memories got guard pages", held.len());

    // A memory an instance defines falls back as well, and its instance runs code with
    // explicit checks; the module's other instance keeps its own code.
    let checked = Instance::new(&module, &[]).expect("instantiates with a fallback memory");
    assert_eq!(memory_export(&checked).bounds_checks(), BoundsChecks::Explicit);
    exercise(&checked);
    assert!(matches!(call(&guarded, "size", &[]).expect("runs")[..], [Val::I32(64)]));

    // Importing a fallback memory also selects the checked code.
    let memory = Memory::new(&engine, ty).expect("a fallback memory");
    assert_eq!(memory.bounds_checks(), BoundsChecks::Explicit);
    let reader = Instance::new(&importer, &[Extern::Memory(memory.clone())]).expect("instantiates");
    let load8 = export(&reader, "load8");
    assert!(matches!(load8.call(&[Val::I32(65535)]).expect("in bounds")[..], [Val::I32(0)]));
    assert!(matches!(load8.call(&[Val::I32(65536)]), Err(Error::Trap(Trap::MemoryOutOfBounds))));
    memory.grow(1).expect("grows");
    assert!(matches!(load8.call(&[Val::I32(65536)]).expect("in bounds after growing")[..], [Val::I32(0)]));

    // Freeing reservations makes room for guard pages again.
    held.truncate(held.len() - 1);
    let memory = Memory::new(&engine, ty).expect("a memory");
    assert_eq!(memory.bounds_checks(), BoundsChecks::GuardPages);
}
