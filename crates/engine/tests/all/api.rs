//! Rust API tests: what the spec scripts cannot reach, such as host functions with types the
//! `spectest` module does not offer.

use heron_engine::{Engine, Extern, Func, FuncType, Instance, Module, Val, ValType};

use crate::common::{export, wat_to_wasm};

fn v128(value: &Val) -> u128 {
    match value {
        Val::V128(bits) => *bits,
        other => panic!("expected a v128, got {other:?}"),
    }
}

/// `v128` arguments and results pass whole through the host-to-wasm trampoline, and through
/// the wasm-to-host trampoline in both directions.
#[test]
fn v128_crosses_both_trampolines() {
    let engine = Engine::default();
    let bytes = wat_to_wasm(
        r#"(module
            (import "host" "swap_halves" (func $swap (param v128 i32 v128) (result v128 i32)))
            (func (export "through_host") (param v128 v128) (result v128 i32)
                (call $swap (local.get 0) (i32.const 7) (local.get 1)))
            (func (export "add") (param v128 v128) (result v128)
                (i32x4.add (local.get 0) (local.get 1))))"#,
    );
    let module = Module::new(&engine, &bytes).expect("the module compiles");
    let ty = FuncType::new([ValType::V128, ValType::I32, ValType::V128], [ValType::V128, ValType::I32]);
    // Returns the high half of the first vector with the low half of the second, and the i32
    // plus one, so every byte of both vectors is checked on the way in and out.
    let swap = Func::new(&engine, ty, |args, results| {
        let (a, n, c) = (v128(&args[0]), &args[1], v128(&args[2]));
        let Val::I32(n) = n else { panic!("expected an i32") };
        results[0] = Val::V128((a >> 64) | (c << 64));
        results[1] = Val::I32(n + 1);
        Ok(())
    });
    let instance = Instance::new(&module, &[Extern::Func(swap)]).expect("the module instantiates");

    let a = 0x0f0e0d0c_0b0a0908_07060504_03020100_u128;
    let c = 0x1f1e1d1c_1b1a1918_17161514_13121110_u128;
    let results = export(&instance, "through_host").call(&[Val::V128(a), Val::V128(c)]).expect("no trap");
    assert_eq!(v128(&results[0]), 0x17161514_13121110_0f0e0d0c_0b0a0908);
    assert!(matches!(results[1], Val::I32(8)));

    let results = export(&instance, "add").call(&[Val::V128(a), Val::V128(c)]).expect("no trap");
    assert_eq!(v128(&results[0]), 0x2e2c2a28_26242220_1e1c1a18_16141210);
}

/// A `v128` load that runs past the end of memory traps like a scalar one.
#[test]
fn v128_load_out_of_bounds_traps() {
    let engine = Engine::default();
    let bytes = wat_to_wasm(
        r#"(module (memory 1)
            (func (export "load") (param i32) (result v128) (v128.load (local.get 0))))"#,
    );
    let module = Module::new(&engine, &bytes).expect("the module compiles");
    let instance = Instance::new(&module, &[]).expect("the module instantiates");
    let load = export(&instance, "load");
    assert!(load.call(&[Val::I32(65536 - 16)]).is_ok());
    let error = load.call(&[Val::I32(65536 - 15)]).expect_err("the last byte is out of bounds");
    assert!(error.to_string().contains("out of bounds memory access"), "{error}");
}
