//! Copy-on-write memory images (`runtime/memory_image.rs`): instances of one module start
//! from the same image yet never see each other's writes, and modules whose segments cannot
//! be imaged (imported memories, offsets from globals, out-of-bounds segments, sparse
//! images, memories with explicit bounds checks) are initialized by copying, with the same
//! result.

use heron_engine::{
    Compilation, Config, Engine, Error, Extern, Global, GlobalType, Instance, Memory, MemoryType, Module, Val, ValType,
};

use crate::common::{export, instantiate, wat_to_wasm};

fn load(instance: &Instance, address: i32) -> i32 {
    match export(instance, "load").call(&[Val::I32(address)]).expect("no trap")[..] {
        [Val::I32(value)] => value,
        ref other => panic!("expected an i32, got {other:?}"),
    }
}

fn store(instance: &Instance, address: i32, value: i32) {
    export(instance, "store").call(&[Val::I32(address), Val::I32(value)]).expect("no trap");
}

/// Load and store functions over memory 0, plus whatever `rest` declares.
fn module_text(rest: &str) -> String {
    format!(
        r#"(module {rest}
            (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
            (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
            (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#
    )
}

fn engines() -> Vec<Engine> {
    let guard_pages = Engine::default();
    let explicit =
        Engine::with_config(Config { compilation: Compilation::Eager, guard_pages: false, code_cache: None })
            .expect("an engine");
    vec![guard_pages, explicit]
}

#[test]
fn instances_share_the_image_but_not_their_writes() {
    for engine in engines() {
        let bytes = wat_to_wasm(&module_text(
            r#"(memory 2) (data (i32.const 8) "\01\00\00\00") (data (i32.const 70000) "\02\00\00\00")"#,
        ));
        let module = Module::new(&engine, &bytes).expect("compiles");
        let instances: Vec<Instance> = (0..50).map(|_| instantiate(&module, &[])).collect();
        if engine.guard_pages() {
            let maps = std::fs::read_to_string("/proc/self/maps").expect("the process's mappings");
            assert!(maps.contains("heron-memory-image"), "the memories map the module's image");
        }
        for (i, instance) in instances.iter().enumerate() {
            assert_eq!(load(instance, 8), 1);
            assert_eq!(load(instance, 70000), 2);
            store(instance, 8, 100 + i as i32);
            store(instance, 70000, 200 + i as i32);
            store(instance, 4096 * 3, 300 + i as i32);
        }
        for (i, instance) in instances.iter().enumerate() {
            assert_eq!(load(instance, 8), 100 + i as i32);
            assert_eq!(load(instance, 70000), 200 + i as i32);
            assert_eq!(load(instance, 4096 * 3), 300 + i as i32);
        }
        // A new instance after all those writes still starts from the segments.
        let fresh = instantiate(&module, &[]);
        assert_eq!((load(&fresh, 8), load(&fresh, 70000), load(&fresh, 4096 * 3)), (1, 2, 0));
    }
}

#[test]
fn overlapping_segments_apply_in_order_and_the_rest_reads_zero() {
    let bytes = wat_to_wasm(&module_text(
        r#"(memory 1) (data (i32.const 4094) "\aa\bb\cc\dd\ee\ff") (data (i32.const 4096) "\11\22")"#,
    ));
    let instance = instantiate(&Module::new(&Engine::default(), &bytes).expect("compiles"), &[]);
    assert_eq!(load(&instance, 4092) as u32, 0xbbaa_0000);
    assert_eq!(load(&instance, 4096) as u32, 0xffee_2211);
    assert_eq!(load(&instance, 0), 0);
    assert_eq!(load(&instance, 65532), 0);
}

#[test]
fn segments_at_high_offsets() {
    // Dense near the end of a big memory, and sparse (a 16 MiB extent with 8 bytes of data:
    // copied instead of imaged); both read the same.
    for segments in [
        r#"(memory 300) (data (i32.const 19660000) "\05\00\00\00")"#,
        r#"(memory 300) (data (i32.const 16) "\06\00\00\00") (data (i32.const 16777216) "\07\00\00\00")"#,
    ] {
        let bytes = wat_to_wasm(&module_text(segments));
        let module = Module::new(&Engine::default(), &bytes).expect("compiles");
        for _ in 0..3 {
            let instance = instantiate(&module, &[]);
            if segments.contains("19660000") {
                assert_eq!(load(&instance, 19660000), 5);
                store(&instance, 19660000, 9);
            } else {
                assert_eq!((load(&instance, 16), load(&instance, 16777216)), (6, 7));
                store(&instance, 16777216, 9);
            }
            assert_eq!(load(&instance, 300 * 65536 - 4), 0);
        }
    }
}

#[test]
fn memory_grow_after_the_image() {
    for engine in engines() {
        let bytes = wat_to_wasm(&module_text(r#"(memory 1 4) (data (i32.const 65532) "\2a\00\00\00")"#));
        let module = Module::new(&engine, &bytes).expect("compiles");
        let instance = instantiate(&module, &[]);
        let grow = |delta| export(&instance, "grow").call(&[Val::I32(delta)]).expect("no trap");
        assert!(export(&instance, "load").call(&[Val::I32(65536)]).is_err(), "past the end traps");
        assert!(matches!(grow(2)[..], [Val::I32(1)]));
        assert_eq!(load(&instance, 65532), 42);
        assert_eq!(load(&instance, 65536), 0);
        store(&instance, 65536 * 3 - 4, 7);
        assert_eq!(load(&instance, 65536 * 3 - 4), 7);
        assert!(export(&instance, "load").call(&[Val::I32(65536 * 3)]).is_err(), "past the new end traps");
        assert!(matches!(grow(2)[..], [Val::I32(-1)]), "the maximum still holds");
    }
}

#[test]
fn an_imported_memory_is_initialized_by_copying() {
    let engine = Engine::default();
    let bytes =
        wat_to_wasm(&module_text(r#"(import "env" "memory" (memory 1)) (data (i32.const 100) "\03\00\00\00")"#));
    let module = Module::new(&engine, &bytes).expect("compiles");
    let memory = Memory::new(&engine, MemoryType { limits: heron_engine::Limits { min: 1, max: None }, shared: false })
        .expect("a memory");
    let first = instantiate(&module, &[Extern::Memory(memory.clone())]);
    store(&first, 100, 8);
    store(&first, 200, 9);
    // The second instance's segment writes the shared memory again; the rest stays.
    let second = instantiate(&module, &[Extern::Memory(memory)]);
    assert_eq!((load(&first, 100), load(&second, 200)), (3, 9));
}

#[test]
fn offsets_from_globals_and_out_of_bounds_segments_are_copied() {
    let engine = Engine::default();
    let bytes = wat_to_wasm(&module_text(
        r#"(import "env" "base" (global i32)) (memory 1) (data (global.get 0) "\04\00\00\00")"#,
    ));
    let module = Module::new(&engine, &bytes).expect("compiles");
    for base in [0, 512, 65532] {
        let global = Global::new(&engine, GlobalType { content: ValType::I32, mutable: false }, Val::I32(base));
        let instance = instantiate(&module, &[Extern::Global(global.expect("a global"))]);
        assert_eq!(load(&instance, base), 4);
    }
    // A segment past the initial size traps at instantiation, after the segments before it
    // were written (to a memory nobody sees here, so only the error is checked).
    let bytes = wat_to_wasm(&module_text(r#"(memory 1) (data (i32.const 0) "\01") (data (i32.const 65535) "\01\02")"#));
    let module = Module::new(&engine, &bytes).expect("compiles");
    assert!(matches!(Instance::new(&module, &[]), Err(Error::Trap(_))));
}
