//! Relaxed SIMD: the fast lowering gives the host's (x86) results, deterministic code the
//! spec's deterministic profile, on inputs where the two differ.

use heron_engine::{Compilation, Engine, Instance, Module, Val};

use crate::common::{export, wat_to_wasm};

/// Each function computes one relaxed instruction on inputs where the fast and the
/// deterministic results differ.
const RELAXED: &str = r#"(module
    (func (export "swizzle") (result v128)
        ;; Index 17: pshufb reads lane 17 & 15 = 1; swizzle gives 0.
        (i8x16.relaxed_swizzle (v128.const i8x16 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25)
                               (v128.const i8x16 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0)))
    (func (export "trunc") (result v128)
        ;; NaN: cvttps2dq gives INT_MIN, trunc_sat 0.
        (i32x4.relaxed_trunc_f32x4_s (v128.const f32x4 nan 1 1 1)))
    (func (export "madd") (result v128)
        ;; (1 + 2^-12)^2 - (1 + 2^-11) is 2^-24 fused, 0 rounded twice.
        (f32x4.relaxed_madd (v128.const f32x4 0x1.001p0 0 0 0)
                            (v128.const f32x4 0x1.001p0 0 0 0)
                            (v128.const f32x4 -0x1.002p0 0 0 0)))
    (func (export "min") (result v128)
        ;; min(+0, -0): minps compares -0 < +0, false, and gives its first operand, +0;
        ;; f32x4.min gives -0.
        (f32x4.relaxed_min (v128.const f32x4 0 0 0 0) (v128.const f32x4 -0 0 0 0)))
    (func (export "q15mulr") (result v128)
        ;; -1 * -1 in Q15: pmulhrsw wraps to -32768, q15mulr_sat saturates to 32767.
        (i16x8.relaxed_q15mulr_s (v128.const i16x8 -32768 0 0 0 0 0 0 0)
                                 (v128.const i16x8 -32768 0 0 0 0 0 0 0)))
    (func (export "laneselect") (result v128)
        ;; A mask lane 0x80: blendv takes the whole lane, bitselect the top bit only.
        (i8x16.relaxed_laneselect (v128.const i8x16 -1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0)
                                  (v128.const i8x16 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0)
                                  (v128.const i8x16 0x80 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0)))
    (func (export "dot") (result v128)
        ;; -1 * 0x80, twice: pmaddubsw reads 0x80 unsigned (-256), the signed product is 256.
        (i16x8.relaxed_dot_i8x16_i7x16_s (v128.const i8x16 -1 -1 0 0 0 0 0 0 0 0 0 0 0 0 0 0)
                                         (v128.const i8x16 0x80 0x80 0 0 0 0 0 0 0 0 0 0 0 0 0 0))))"#;

fn lane0(instance: &Instance, name: &str, bytes: u32) -> u128 {
    match export(instance, name).call(&[]).expect("the function runs").as_slice() {
        [Val::V128(bits)] => bits & ((1u128 << (bytes * 8)) - 1),
        other => panic!("{name}: expected a v128, got {other:?}"),
    }
}

/// Lane 0 of each function's result (its width in bytes), fast and deterministic.
const EXPECTED: [(&str, u32, u128, u128); 7] = [
    ("swizzle", 1, 11, 0),
    ("trunc", 4, 0x8000_0000, 0),
    ("madd", 4, 0x3380_0000, 0), // 2^-24
    ("min", 4, 0, 0x8000_0000),  // +0, -0
    ("q15mulr", 2, 0x8000, 0x7fff),
    ("laneselect", 1, 0xff, 0x80),
    ("dot", 2, 0xff00, 0x0100), // -256, 256
];

#[test]
fn fast_code_gives_the_hosts_results_and_deterministic_code_the_deterministic_profile() {
    let engine = Engine::default();
    let bytes = wat_to_wasm(RELAXED);
    for tier in [Compilation::Eager, Compilation::Baseline] {
        let fast = Module::with_options(&engine, &bytes, tier, false).expect("compiles");
        let fast = Instance::new(&fast, &[]).expect("instantiates");
        let deterministic = Module::with_options(&engine, &bytes, tier, true).expect("compiles");
        let deterministic = Instance::new(&deterministic, &[]).expect("instantiates");
        let host_fma = std::arch::is_x86_feature_detected!("fma");
        for (name, width, fast_result, deterministic_result) in EXPECTED {
            let fast_expected = if name == "madd" && !host_fma { deterministic_result } else { fast_result };
            assert_eq!(lane0(&fast, name, width), fast_expected, "fast {name} ({tier:?})");
            assert_eq!(lane0(&deterministic, name, width), deterministic_result, "deterministic {name} ({tier:?})");
        }
    }
}
