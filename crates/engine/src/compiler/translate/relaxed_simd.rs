//! Translation of the relaxed SIMD instructions, whose results the spec lets an engine
//! choose among a few (NaN and out-of-range lanes, fused or unfused rounding, the sign of a
//! dot product's second operand). Two lowerings, chosen per module:
//!
//! - **fast** (the default): the host's own instruction where x86 has one and Cranelift
//!   exposes it (`pshufb`, `cvttps2dq`, `pmulhrsw`, `pmaddubsw`, `blendv`, `minps`/`maxps`,
//!   a fused multiply-add on CPUs with FMA), so results may differ between machines;
//! - **deterministic** (`Module::with_options(.., deterministic: true)`): the spec's
//!   deterministic profile, the same on every machine: each instruction behaves as its
//!   non-relaxed counterpart (`i8x16.swizzle`, `i32x4.trunc_sat_*`, `v128.bitselect`,
//!   `f32x4.min`/`max`, `i16x8.q15mulr_sat_s`), `relaxed_madd`/`nmadd` round twice
//!   (`fadd(fmul(a, b), c)`), and the dot products treat both operands as signed (the `i16`
//!   sums wrap; the `i32` ones are exact).
#![forbid(unsafe_code)]

use super::simd::{binary, pop, push, translate_simd, unary};
use super::FuncEnv;
use cranelift_codegen::ir::{
    types::{F32X4, F64X2, I16X8, I32X4, I64X2, I8X16},
    InstBuilder, Type, Value,
};
use cranelift_codegen::isa::TargetIsa;
use cranelift_frontend::FunctionBuilder;
use wasmparser::Operator;

/// Which lowering the relaxed instructions get, and which host instructions the fast one may
/// use (each needs an x86 extension Cranelift checks for).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RelaxedSimd {
    deterministic: bool,
    x86: bool,
    fma: bool,
    pshufb: bool,
    pmulhrsw: bool,
    pmaddubsw: bool,
    /// `blendv` for 8-, 16-, 32- and 64-bit lanes.
    blendv: [bool; 4],
}

impl RelaxedSimd {
    /// The lowering for code compiled by `isa`, deterministic or fast.
    pub(crate) fn new(isa: &dyn TargetIsa, deterministic: bool) -> RelaxedSimd {
        let x86 = isa.name() == "x64";
        RelaxedSimd {
            deterministic,
            x86,
            fma: isa.has_native_fma(),
            pshufb: x86 && isa.has_x86_pshufb_lowering(),
            pmulhrsw: x86 && isa.has_x86_pmulhrsw_lowering(),
            pmaddubsw: x86 && isa.has_x86_pmaddubsw_lowering(),
            blendv: [I8X16, I16X8, I32X4, I64X2].map(|ty| isa.has_blendv_lowering(ty)),
        }
    }

    /// Whether the fast lowering applies and the host has what `available` says.
    fn fast(&self, available: bool) -> bool {
        !self.deterministic && available
    }
}

/// Translates `op` if it is a relaxed SIMD instruction. Returns false, changing nothing, for
/// any other instruction.
pub(crate) fn translate_relaxed_simd(
    op: &Operator,
    b: &mut FunctionBuilder,
    stack: &mut Vec<Value>,
    env: &FuncEnv,
    relaxed: &RelaxedSimd,
) -> bool {
    use Operator as O;
    match op {
        O::I8x16RelaxedSwizzle if relaxed.fast(relaxed.pshufb) => {
            binary(b, stack, I8X16, |b, x, y| b.ins().x86_pshufb(x, y))
        }
        O::I32x4RelaxedTruncF32x4S if relaxed.fast(relaxed.x86) => {
            unary(b, stack, F32X4, |b, x| b.ins().x86_cvtt2dq(I32X4, x))
        }
        O::I16x8RelaxedQ15mulrS if relaxed.fast(relaxed.pmulhrsw) => {
            binary(b, stack, I16X8, |b, x, y| b.ins().x86_pmulhrsw(x, y))
        }
        O::I8x16RelaxedLaneselect => laneselect(b, stack, relaxed, I8X16, 0),
        O::I16x8RelaxedLaneselect => laneselect(b, stack, relaxed, I16X8, 1),
        O::I32x4RelaxedLaneselect => laneselect(b, stack, relaxed, I32X4, 2),
        O::I64x2RelaxedLaneselect => laneselect(b, stack, relaxed, I64X2, 3),
        O::F32x4RelaxedMadd => multiply_add(b, stack, relaxed, F32X4, false),
        O::F32x4RelaxedNmadd => multiply_add(b, stack, relaxed, F32X4, true),
        O::F64x2RelaxedMadd => multiply_add(b, stack, relaxed, F64X2, false),
        O::F64x2RelaxedNmadd => multiply_add(b, stack, relaxed, F64X2, true),
        O::I16x8RelaxedDotI8x16I7x16S => binary(b, stack, I8X16, |b, x, y| dot_i16(b, relaxed, x, y)),
        O::I32x4RelaxedDotI8x16I7x16AddS => {
            let addend = pop(b, stack, I32X4);
            let y = pop(b, stack, I8X16);
            let x = pop(b, stack, I8X16);
            let dot = dot_i32(b, relaxed, x, y);
            let sum = b.ins().iadd(dot, addend);
            push(b, stack, sum);
        }
        _ => {
            let Some(counterpart) = counterpart(op, relaxed) else { return false };
            return translate_simd(&counterpart, b, stack, env);
        }
    }
    true
}

/// The non-relaxed instruction a relaxed one behaves as: its deterministic semantics, and
/// on x86 the pseudo-minimum and -maximum are `minps`/`maxps`'s own.
fn counterpart(op: &Operator, relaxed: &RelaxedSimd) -> Option<Operator<'static>> {
    use Operator as O;
    Some(match op {
        O::I8x16RelaxedSwizzle => O::I8x16Swizzle,
        O::I32x4RelaxedTruncF32x4S => O::I32x4TruncSatF32x4S,
        O::I32x4RelaxedTruncF32x4U => O::I32x4TruncSatF32x4U,
        O::I32x4RelaxedTruncF64x2SZero => O::I32x4TruncSatF64x2SZero,
        O::I32x4RelaxedTruncF64x2UZero => O::I32x4TruncSatF64x2UZero,
        O::I16x8RelaxedQ15mulrS => O::I16x8Q15MulrSatS,
        O::F32x4RelaxedMin if relaxed.fast(relaxed.x86) => O::F32x4PMin,
        O::F32x4RelaxedMax if relaxed.fast(relaxed.x86) => O::F32x4PMax,
        O::F64x2RelaxedMin if relaxed.fast(relaxed.x86) => O::F64x2PMin,
        O::F64x2RelaxedMax if relaxed.fast(relaxed.x86) => O::F64x2PMax,
        O::F32x4RelaxedMin => O::F32x4Min,
        O::F32x4RelaxedMax => O::F32x4Max,
        O::F64x2RelaxedMin => O::F64x2Min,
        O::F64x2RelaxedMax => O::F64x2Max,
        _ => return None,
    })
}

/// `relaxed_laneselect(a, b, mask)`: `v128.bitselect`, or x86's `blendv`, which looks at
/// the top bit of each mask lane only (the same result for the all-ones or all-zero lanes
/// the spec defines).
fn laneselect(b: &mut FunctionBuilder, stack: &mut Vec<Value>, relaxed: &RelaxedSimd, ty: Type, lane_size: usize) {
    let mask = pop(b, stack, ty);
    let if_false = pop(b, stack, ty);
    let if_true = pop(b, stack, ty);
    let result = if relaxed.fast(relaxed.blendv[lane_size]) {
        b.ins().blendv(mask, if_true, if_false)
    } else {
        b.ins().bitselect(mask, if_true, if_false)
    };
    push(b, stack, result);
}

/// `relaxed_madd(a, b, c)` = `a * b + c`, or `-(a * b) + c` for `nmadd`: fused (one
/// rounding) on a host with FMA in fast code, else rounded twice.
fn multiply_add(b: &mut FunctionBuilder, stack: &mut Vec<Value>, relaxed: &RelaxedSimd, ty: Type, negate: bool) {
    let addend = pop(b, stack, ty);
    let y = pop(b, stack, ty);
    let x = pop(b, stack, ty);
    let x = if negate { b.ins().fneg(x) } else { x };
    let result = if relaxed.fast(relaxed.fma) {
        b.ins().fma(x, y, addend)
    } else {
        let product = b.ins().fmul(x, y);
        b.ins().fadd(product, addend)
    };
    push(b, stack, result);
}

/// Lane-wise `i16` sums of adjacent products of the signed bytes of `x` with the bytes of
/// `y`: signed too when deterministic (wrapping), x86's `pmaddubsw` (`y` unsigned,
/// saturating) when fast.
fn dot_i16(b: &mut FunctionBuilder, relaxed: &RelaxedSimd, x: Value, y: Value) -> Value {
    if relaxed.fast(relaxed.pmaddubsw) {
        return b.ins().x86_pmaddubsw(x, y);
    }
    let (low, high) = signed_products(b, x, y);
    b.ins().iadd_pairwise(low, high)
}

/// Lane-wise `i32` sums of four adjacent products of the signed bytes of `x` with the bytes
/// of `y`: signed and exact when deterministic; the sum of two `pmaddubsw` lanes when fast.
fn dot_i32(b: &mut FunctionBuilder, relaxed: &RelaxedSimd, x: Value, y: Value) -> Value {
    if relaxed.fast(relaxed.pmaddubsw) {
        let pairs = b.ins().x86_pmaddubsw(x, y);
        let low = b.ins().swiden_low(pairs);
        let high = b.ins().swiden_high(pairs);
        return b.ins().iadd_pairwise(low, high);
    }
    let (low, high) = signed_products(b, x, y);
    let low_low = b.ins().swiden_low(low);
    let low_high = b.ins().swiden_high(low);
    let high_low = b.ins().swiden_low(high);
    let high_high = b.ins().swiden_high(high);
    let low_sums = b.ins().iadd_pairwise(low_low, low_high);
    let high_sums = b.ins().iadd_pairwise(high_low, high_high);
    b.ins().iadd_pairwise(low_sums, high_sums)
}

/// The `i16` products of the signed bytes of `x` and `y`, lanes 0–7 and 8–15.
fn signed_products(b: &mut FunctionBuilder, x: Value, y: Value) -> (Value, Value) {
    let x_low = b.ins().swiden_low(x);
    let y_low = b.ins().swiden_low(y);
    let low = b.ins().imul(x_low, y_low);
    let x_high = b.ins().swiden_high(x);
    let y_high = b.ins().swiden_high(y);
    let high = b.ins().imul(x_high, y_high);
    (low, high)
}
