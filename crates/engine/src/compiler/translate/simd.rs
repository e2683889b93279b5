//! Translation of the fixed-width SIMD instructions (`v128` and its lane interpretations) to
//! Cranelift IR.
//!
//! Every `v128` on the operand stack, in a local, a block parameter or a signature is an
//! `I8X16` (see `ValType::clif`). An instruction bitcasts its operands to the lane type it works
//! on and bitcasts its result back, always little-endian, so lane `i` of any interpretation is
//! the same bytes wasm calls lane `i`. Bitcasts between equal types are skipped, and Cranelift
//! folds the rest away, so they cost nothing at run time.
//!
//! Loads and stores compute their address with `FuncEnv::heap_address` and use its memory
//! flags, so an out-of-bounds access faults on the guard region and is reported as
//! `out of bounds memory access`, exactly like a scalar access.
//!
//! Some instructions are built from a shape the x64 backend recognises as one machine
//! sequence (extended multiplies, pairwise adds, the dot product, the `f64x2` to `i32x4`
//! conversions); keep those operands directly connected, without bitcasts in between, or the
//! backend falls back to a slower generic lowering (or, for the conversions, has none).
#![forbid(unsafe_code)]

use super::FuncEnv;
use cranelift_codegen::ir::{
    condcodes::{FloatCC, IntCC},
    types::{self, F32X4, F64X2, I16X8, I32X4, I64X2, I8X16},
    ConstantData, Endianness, InstBuilder, MemFlagsData, Type, Value,
};
use cranelift_frontend::FunctionBuilder;
use wasmparser::{MemArg, Operator};

/// Translates `op` if it is a SIMD instruction, popping its operands from and pushing its
/// result onto `stack`. Returns false, changing nothing, for any other instruction.
pub(crate) fn translate_simd(op: &Operator, b: &mut FunctionBuilder, stack: &mut Vec<Value>, env: &FuncEnv) -> bool {
    if translate_memory(op, b, stack, env) || translate_lanes(op, b, stack) || translate_integer(op, b, stack) {
        return true;
    }
    translate_float(op, b, stack)
}

/// Flags for bitcasts between vector types: lane order is little-endian, as in wasm.
fn lane_order() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

/// `value` reinterpreted as `ty`, which has the same width.
pub(super) fn cast(b: &mut FunctionBuilder, value: Value, ty: Type) -> Value {
    if b.func.dfg.value_type(value) == ty {
        value
    } else {
        b.ins().bitcast(ty, lane_order(), value)
    }
}

pub(super) fn pop(b: &mut FunctionBuilder, stack: &mut Vec<Value>, ty: Type) -> Value {
    let value = stack.pop().expect("the validator guarantees every SIMD instruction its operands");
    cast(b, value, ty)
}

/// Pushes a vector result in the canonical `I8X16` representation.
pub(super) fn push(b: &mut FunctionBuilder, stack: &mut Vec<Value>, value: Value) {
    let value = cast(b, value, I8X16);
    stack.push(value);
}

pub(super) fn unary(
    b: &mut FunctionBuilder,
    stack: &mut Vec<Value>,
    ty: Type,
    build: impl FnOnce(&mut FunctionBuilder, Value) -> Value,
) {
    let x = pop(b, stack, ty);
    let result = build(b, x);
    push(b, stack, result);
}

/// Pops two operands of lane type `ty` (the left one is deeper) and pushes the built result.
pub(super) fn binary(
    b: &mut FunctionBuilder,
    stack: &mut Vec<Value>,
    ty: Type,
    build: impl FnOnce(&mut FunctionBuilder, Value, Value) -> Value,
) {
    let y = pop(b, stack, ty);
    let x = pop(b, stack, ty);
    let result = build(b, x, y);
    push(b, stack, result);
}

/// A vector whose bits are `bytes` (lane 0 first).
pub(super) fn constant(b: &mut FunctionBuilder, ty: Type, bytes: &[u8; 16]) -> Value {
    let handle = b.func.dfg.constants.insert(ConstantData::from(bytes.as_slice()));
    b.ins().vconst(ty, handle)
}

/// Cranelift's boolean reductions produce an i8 of 0 or 1; wasm wants an i32.
fn to_i32(b: &mut FunctionBuilder, flag: Value) -> Value {
    b.ins().uextend(types::I32, flag)
}

/// The vector type with lanes of `lane` and 128 bits in all.
fn vector_of(lane: Type) -> Type {
    lane.by(128 / lane.bits()).expect("lane types divide 128 bits")
}

/// `v128.load*`, `v128.store*`: whole vectors, extending loads, splats, zero-filling loads and
/// single lanes.
fn translate_memory(op: &Operator, b: &mut FunctionBuilder, stack: &mut Vec<Value>, env: &FuncEnv) -> bool {
    use Operator as O;
    let flags = FuncEnv::heap_flags();
    match *op {
        O::V128Load { memarg } => {
            let (addr, offset) = address(b, stack, env, &memarg);
            let value = b.ins().load(I8X16, flags, addr, offset);
            push(b, stack, value);
        }
        O::V128Load8x8S { memarg }
        | O::V128Load8x8U { memarg }
        | O::V128Load16x4S { memarg }
        | O::V128Load16x4U { memarg }
        | O::V128Load32x2S { memarg }
        | O::V128Load32x2U { memarg } => {
            let (addr, offset) = address(b, stack, env, &memarg);
            let value = match op {
                O::V128Load8x8S { .. } => b.ins().sload8x8(flags, addr, offset),
                O::V128Load8x8U { .. } => b.ins().uload8x8(flags, addr, offset),
                O::V128Load16x4S { .. } => b.ins().sload16x4(flags, addr, offset),
                O::V128Load16x4U { .. } => b.ins().uload16x4(flags, addr, offset),
                O::V128Load32x2S { .. } => b.ins().sload32x2(flags, addr, offset),
                _ => b.ins().uload32x2(flags, addr, offset),
            };
            push(b, stack, value);
        }
        O::V128Load8Splat { memarg }
        | O::V128Load16Splat { memarg }
        | O::V128Load32Splat { memarg }
        | O::V128Load64Splat { memarg } => {
            let lane = match op {
                O::V128Load8Splat { .. } => types::I8,
                O::V128Load16Splat { .. } => types::I16,
                O::V128Load32Splat { .. } => types::I32,
                _ => types::I64,
            };
            let (addr, offset) = address(b, stack, env, &memarg);
            let scalar = b.ins().load(lane, flags, addr, offset);
            let value = b.ins().splat(vector_of(lane), scalar);
            push(b, stack, value);
        }
        O::V128Load32Zero { memarg } | O::V128Load64Zero { memarg } => {
            let lane = if matches!(op, O::V128Load32Zero { .. }) { types::I32 } else { types::I64 };
            let (addr, offset) = address(b, stack, env, &memarg);
            let scalar = b.ins().load(lane, flags, addr, offset);
            let value = b.ins().scalar_to_vector(vector_of(lane), scalar);
            push(b, stack, value);
        }
        O::V128Store { memarg } => {
            let value = pop(b, stack, I8X16);
            let (addr, offset) = address(b, stack, env, &memarg);
            b.ins().store(flags, value, addr, offset);
        }
        O::V128Load8Lane { memarg, lane }
        | O::V128Load16Lane { memarg, lane }
        | O::V128Load32Lane { memarg, lane }
        | O::V128Load64Lane { memarg, lane } => {
            let lane_type = match op {
                O::V128Load8Lane { .. } => types::I8,
                O::V128Load16Lane { .. } => types::I16,
                O::V128Load32Lane { .. } => types::I32,
                _ => types::I64,
            };
            let vector = pop(b, stack, vector_of(lane_type));
            let (addr, offset) = address(b, stack, env, &memarg);
            let scalar = b.ins().load(lane_type, flags, addr, offset);
            let value = b.ins().insertlane(vector, scalar, lane);
            push(b, stack, value);
        }
        O::V128Store8Lane { memarg, lane }
        | O::V128Store16Lane { memarg, lane }
        | O::V128Store32Lane { memarg, lane }
        | O::V128Store64Lane { memarg, lane } => {
            let lane_type = match op {
                O::V128Store8Lane { .. } => types::I8,
                O::V128Store16Lane { .. } => types::I16,
                O::V128Store32Lane { .. } => types::I32,
                _ => types::I64,
            };
            let vector = pop(b, stack, vector_of(lane_type));
            let (addr, offset) = address(b, stack, env, &memarg);
            let scalar = b.ins().extractlane(vector, lane);
            b.ins().store(flags, scalar, addr, offset);
        }
        _ => return false,
    }
    true
}

/// Pops the index operand of a memory access and computes its address.
fn address(b: &mut FunctionBuilder, stack: &mut Vec<Value>, env: &FuncEnv, memarg: &MemArg) -> (Value, i32) {
    let index = stack.pop().expect("the validator guarantees a memory index operand");
    env.heap_address(b, memarg, index)
}

/// Constants, splats, lane access, shuffles and the whole-vector bitwise instructions.
fn translate_lanes(op: &Operator, b: &mut FunctionBuilder, stack: &mut Vec<Value>) -> bool {
    use Operator as O;
    match *op {
        O::V128Const { value } => {
            let value = constant(b, I8X16, value.bytes());
            push(b, stack, value);
        }
        O::I8x16Splat | O::I16x8Splat | O::I32x4Splat | O::I64x2Splat | O::F32x4Splat | O::F64x2Splat => {
            let ty = match op {
                O::I8x16Splat => I8X16,
                O::I16x8Splat => I16X8,
                O::I32x4Splat => I32X4,
                O::I64x2Splat => I64X2,
                O::F32x4Splat => F32X4,
                _ => F64X2,
            };
            let mut scalar = stack.pop().expect("validated");
            if ty.lane_bits() < 32 {
                scalar = b.ins().ireduce(ty.lane_type(), scalar);
            }
            let value = b.ins().splat(ty, scalar);
            push(b, stack, value);
        }
        O::I8x16ExtractLaneS { lane } | O::I16x8ExtractLaneS { lane } => {
            let ty = if matches!(op, O::I8x16ExtractLaneS { .. }) { I8X16 } else { I16X8 };
            let vector = pop(b, stack, ty);
            let narrow = b.ins().extractlane(vector, lane);
            stack.push(b.ins().sextend(types::I32, narrow));
        }
        O::I8x16ExtractLaneU { lane } | O::I16x8ExtractLaneU { lane } => {
            let ty = if matches!(op, O::I8x16ExtractLaneU { .. }) { I8X16 } else { I16X8 };
            let vector = pop(b, stack, ty);
            let narrow = b.ins().extractlane(vector, lane);
            stack.push(b.ins().uextend(types::I32, narrow));
        }
        O::I32x4ExtractLane { lane }
        | O::I64x2ExtractLane { lane }
        | O::F32x4ExtractLane { lane }
        | O::F64x2ExtractLane { lane } => {
            let ty = match op {
                O::I32x4ExtractLane { .. } => I32X4,
                O::I64x2ExtractLane { .. } => I64X2,
                O::F32x4ExtractLane { .. } => F32X4,
                _ => F64X2,
            };
            let vector = pop(b, stack, ty);
            stack.push(b.ins().extractlane(vector, lane));
        }
        O::I8x16ReplaceLane { lane }
        | O::I16x8ReplaceLane { lane }
        | O::I32x4ReplaceLane { lane }
        | O::I64x2ReplaceLane { lane }
        | O::F32x4ReplaceLane { lane }
        | O::F64x2ReplaceLane { lane } => {
            let ty = match op {
                O::I8x16ReplaceLane { .. } => I8X16,
                O::I16x8ReplaceLane { .. } => I16X8,
                O::I32x4ReplaceLane { .. } => I32X4,
                O::I64x2ReplaceLane { .. } => I64X2,
                O::F32x4ReplaceLane { .. } => F32X4,
                _ => F64X2,
            };
            let mut scalar = stack.pop().expect("validated");
            if ty.lane_bits() < 32 {
                scalar = b.ins().ireduce(ty.lane_type(), scalar);
            }
            let vector = pop(b, stack, ty);
            let value = b.ins().insertlane(vector, scalar, lane);
            push(b, stack, value);
        }
        O::I8x16Shuffle { lanes } => {
            let y = pop(b, stack, I8X16);
            let x = pop(b, stack, I8X16);
            let mask = b.func.dfg.immediates.push(ConstantData::from(lanes.as_slice()));
            let value = b.ins().shuffle(x, y, mask);
            push(b, stack, value);
        }
        // Cranelift's swizzle, like wasm's, yields 0 for an index outside 0..16.
        O::I8x16Swizzle => binary(b, stack, I8X16, |b, x, y| b.ins().swizzle(x, y)),

        O::V128Not => unary(b, stack, I8X16, |b, x| b.ins().bnot(x)),
        O::V128And => binary(b, stack, I8X16, |b, x, y| b.ins().band(x, y)),
        O::V128AndNot => binary(b, stack, I8X16, |b, x, y| b.ins().band_not(x, y)),
        O::V128Or => binary(b, stack, I8X16, |b, x, y| b.ins().bor(x, y)),
        O::V128Xor => binary(b, stack, I8X16, |b, x, y| b.ins().bxor(x, y)),
        O::V128Bitselect => {
            let mask = pop(b, stack, I8X16);
            let if_false = pop(b, stack, I8X16);
            let if_true = pop(b, stack, I8X16);
            let value = b.ins().bitselect(mask, if_true, if_false);
            push(b, stack, value);
        }
        O::V128AnyTrue => {
            let vector = pop(b, stack, I8X16);
            let flag = b.ins().vany_true(vector);
            stack.push(to_i32(b, flag));
        }
        _ => return false,
    }
    true
}

/// Lane-wise integer arithmetic, comparisons, shifts, reductions, narrowing and widening.
fn translate_integer(op: &Operator, b: &mut FunctionBuilder, stack: &mut Vec<Value>) -> bool {
    use Operator as O;
    match *op {
        O::I8x16Abs => unary(b, stack, I8X16, |b, x| b.ins().iabs(x)),
        O::I16x8Abs => unary(b, stack, I16X8, |b, x| b.ins().iabs(x)),
        O::I32x4Abs => unary(b, stack, I32X4, |b, x| b.ins().iabs(x)),
        O::I64x2Abs => unary(b, stack, I64X2, |b, x| b.ins().iabs(x)),
        O::I8x16Neg => unary(b, stack, I8X16, |b, x| b.ins().ineg(x)),
        O::I16x8Neg => unary(b, stack, I16X8, |b, x| b.ins().ineg(x)),
        O::I32x4Neg => unary(b, stack, I32X4, |b, x| b.ins().ineg(x)),
        O::I64x2Neg => unary(b, stack, I64X2, |b, x| b.ins().ineg(x)),
        O::I8x16Popcnt => unary(b, stack, I8X16, |b, x| b.ins().popcnt(x)),

        O::I8x16Add => binary(b, stack, I8X16, |b, x, y| b.ins().iadd(x, y)),
        O::I16x8Add => binary(b, stack, I16X8, |b, x, y| b.ins().iadd(x, y)),
        O::I32x4Add => binary(b, stack, I32X4, |b, x, y| b.ins().iadd(x, y)),
        O::I64x2Add => binary(b, stack, I64X2, |b, x, y| b.ins().iadd(x, y)),
        O::I8x16Sub => binary(b, stack, I8X16, |b, x, y| b.ins().isub(x, y)),
        O::I16x8Sub => binary(b, stack, I16X8, |b, x, y| b.ins().isub(x, y)),
        O::I32x4Sub => binary(b, stack, I32X4, |b, x, y| b.ins().isub(x, y)),
        O::I64x2Sub => binary(b, stack, I64X2, |b, x, y| b.ins().isub(x, y)),
        O::I16x8Mul => binary(b, stack, I16X8, |b, x, y| b.ins().imul(x, y)),
        O::I32x4Mul => binary(b, stack, I32X4, |b, x, y| b.ins().imul(x, y)),
        O::I64x2Mul => binary(b, stack, I64X2, |b, x, y| b.ins().imul(x, y)),

        O::I8x16AddSatS => binary(b, stack, I8X16, |b, x, y| b.ins().sadd_sat(x, y)),
        O::I8x16AddSatU => binary(b, stack, I8X16, |b, x, y| b.ins().uadd_sat(x, y)),
        O::I8x16SubSatS => binary(b, stack, I8X16, |b, x, y| b.ins().ssub_sat(x, y)),
        O::I8x16SubSatU => binary(b, stack, I8X16, |b, x, y| b.ins().usub_sat(x, y)),
        O::I16x8AddSatS => binary(b, stack, I16X8, |b, x, y| b.ins().sadd_sat(x, y)),
        O::I16x8AddSatU => binary(b, stack, I16X8, |b, x, y| b.ins().uadd_sat(x, y)),
        O::I16x8SubSatS => binary(b, stack, I16X8, |b, x, y| b.ins().ssub_sat(x, y)),
        O::I16x8SubSatU => binary(b, stack, I16X8, |b, x, y| b.ins().usub_sat(x, y)),

        O::I8x16MinS => binary(b, stack, I8X16, |b, x, y| b.ins().smin(x, y)),
        O::I8x16MinU => binary(b, stack, I8X16, |b, x, y| b.ins().umin(x, y)),
        O::I8x16MaxS => binary(b, stack, I8X16, |b, x, y| b.ins().smax(x, y)),
        O::I8x16MaxU => binary(b, stack, I8X16, |b, x, y| b.ins().umax(x, y)),
        O::I16x8MinS => binary(b, stack, I16X8, |b, x, y| b.ins().smin(x, y)),
        O::I16x8MinU => binary(b, stack, I16X8, |b, x, y| b.ins().umin(x, y)),
        O::I16x8MaxS => binary(b, stack, I16X8, |b, x, y| b.ins().smax(x, y)),
        O::I16x8MaxU => binary(b, stack, I16X8, |b, x, y| b.ins().umax(x, y)),
        O::I32x4MinS => binary(b, stack, I32X4, |b, x, y| b.ins().smin(x, y)),
        O::I32x4MinU => binary(b, stack, I32X4, |b, x, y| b.ins().umin(x, y)),
        O::I32x4MaxS => binary(b, stack, I32X4, |b, x, y| b.ins().smax(x, y)),
        O::I32x4MaxU => binary(b, stack, I32X4, |b, x, y| b.ins().umax(x, y)),
        O::I8x16AvgrU => binary(b, stack, I8X16, |b, x, y| b.ins().avg_round(x, y)),
        O::I16x8AvgrU => binary(b, stack, I16X8, |b, x, y| b.ins().avg_round(x, y)),
        O::I16x8Q15MulrSatS => binary(b, stack, I16X8, |b, x, y| b.ins().sqmul_round_sat(x, y)),

        // Comparisons produce all-ones or all-zero lanes, which is what Cranelift's vector
        // `icmp` returns.
        O::I8x16Eq => int_compare(b, stack, I8X16, IntCC::Equal),
        O::I8x16Ne => int_compare(b, stack, I8X16, IntCC::NotEqual),
        O::I8x16LtS => int_compare(b, stack, I8X16, IntCC::SignedLessThan),
        O::I8x16LtU => int_compare(b, stack, I8X16, IntCC::UnsignedLessThan),
        O::I8x16GtS => int_compare(b, stack, I8X16, IntCC::SignedGreaterThan),
        O::I8x16GtU => int_compare(b, stack, I8X16, IntCC::UnsignedGreaterThan),
        O::I8x16LeS => int_compare(b, stack, I8X16, IntCC::SignedLessThanOrEqual),
        O::I8x16LeU => int_compare(b, stack, I8X16, IntCC::UnsignedLessThanOrEqual),
        O::I8x16GeS => int_compare(b, stack, I8X16, IntCC::SignedGreaterThanOrEqual),
        O::I8x16GeU => int_compare(b, stack, I8X16, IntCC::UnsignedGreaterThanOrEqual),
        O::I16x8Eq => int_compare(b, stack, I16X8, IntCC::Equal),
        O::I16x8Ne => int_compare(b, stack, I16X8, IntCC::NotEqual),
        O::I16x8LtS => int_compare(b, stack, I16X8, IntCC::SignedLessThan),
        O::I16x8LtU => int_compare(b, stack, I16X8, IntCC::UnsignedLessThan),
        O::I16x8GtS => int_compare(b, stack, I16X8, IntCC::SignedGreaterThan),
        O::I16x8GtU => int_compare(b, stack, I16X8, IntCC::UnsignedGreaterThan),
        O::I16x8LeS => int_compare(b, stack, I16X8, IntCC::SignedLessThanOrEqual),
        O::I16x8LeU => int_compare(b, stack, I16X8, IntCC::UnsignedLessThanOrEqual),
        O::I16x8GeS => int_compare(b, stack, I16X8, IntCC::SignedGreaterThanOrEqual),
        O::I16x8GeU => int_compare(b, stack, I16X8, IntCC::UnsignedGreaterThanOrEqual),
        O::I32x4Eq => int_compare(b, stack, I32X4, IntCC::Equal),
        O::I32x4Ne => int_compare(b, stack, I32X4, IntCC::NotEqual),
        O::I32x4LtS => int_compare(b, stack, I32X4, IntCC::SignedLessThan),
        O::I32x4LtU => int_compare(b, stack, I32X4, IntCC::UnsignedLessThan),
        O::I32x4GtS => int_compare(b, stack, I32X4, IntCC::SignedGreaterThan),
        O::I32x4GtU => int_compare(b, stack, I32X4, IntCC::UnsignedGreaterThan),
        O::I32x4LeS => int_compare(b, stack, I32X4, IntCC::SignedLessThanOrEqual),
        O::I32x4LeU => int_compare(b, stack, I32X4, IntCC::UnsignedLessThanOrEqual),
        O::I32x4GeS => int_compare(b, stack, I32X4, IntCC::SignedGreaterThanOrEqual),
        O::I32x4GeU => int_compare(b, stack, I32X4, IntCC::UnsignedGreaterThanOrEqual),
        O::I64x2Eq => int_compare(b, stack, I64X2, IntCC::Equal),
        O::I64x2Ne => int_compare(b, stack, I64X2, IntCC::NotEqual),
        O::I64x2LtS => int_compare(b, stack, I64X2, IntCC::SignedLessThan),
        O::I64x2GtS => int_compare(b, stack, I64X2, IntCC::SignedGreaterThan),
        O::I64x2LeS => int_compare(b, stack, I64X2, IntCC::SignedLessThanOrEqual),
        O::I64x2GeS => int_compare(b, stack, I64X2, IntCC::SignedGreaterThanOrEqual),

        // Cranelift takes vector shift counts modulo the lane width, as wasm does.
        O::I8x16Shl => shift(b, stack, I8X16, |b, x, n| b.ins().ishl(x, n)),
        O::I16x8Shl => shift(b, stack, I16X8, |b, x, n| b.ins().ishl(x, n)),
        O::I32x4Shl => shift(b, stack, I32X4, |b, x, n| b.ins().ishl(x, n)),
        O::I64x2Shl => shift(b, stack, I64X2, |b, x, n| b.ins().ishl(x, n)),
        O::I8x16ShrS => shift(b, stack, I8X16, |b, x, n| b.ins().sshr(x, n)),
        O::I16x8ShrS => shift(b, stack, I16X8, |b, x, n| b.ins().sshr(x, n)),
        O::I32x4ShrS => shift(b, stack, I32X4, |b, x, n| b.ins().sshr(x, n)),
        O::I64x2ShrS => shift(b, stack, I64X2, |b, x, n| b.ins().sshr(x, n)),
        O::I8x16ShrU => shift(b, stack, I8X16, |b, x, n| b.ins().ushr(x, n)),
        O::I16x8ShrU => shift(b, stack, I16X8, |b, x, n| b.ins().ushr(x, n)),
        O::I32x4ShrU => shift(b, stack, I32X4, |b, x, n| b.ins().ushr(x, n)),
        O::I64x2ShrU => shift(b, stack, I64X2, |b, x, n| b.ins().ushr(x, n)),

        O::I8x16AllTrue => all_true(b, stack, I8X16),
        O::I16x8AllTrue => all_true(b, stack, I16X8),
        O::I32x4AllTrue => all_true(b, stack, I32X4),
        O::I64x2AllTrue => all_true(b, stack, I64X2),
        O::I8x16Bitmask => bitmask(b, stack, I8X16),
        O::I16x8Bitmask => bitmask(b, stack, I16X8),
        O::I32x4Bitmask => bitmask(b, stack, I32X4),
        O::I64x2Bitmask => bitmask(b, stack, I64X2),

        O::I8x16NarrowI16x8S => binary(b, stack, I16X8, |b, x, y| b.ins().snarrow(x, y)),
        O::I8x16NarrowI16x8U => binary(b, stack, I16X8, |b, x, y| b.ins().unarrow(x, y)),
        O::I16x8NarrowI32x4S => binary(b, stack, I32X4, |b, x, y| b.ins().snarrow(x, y)),
        O::I16x8NarrowI32x4U => binary(b, stack, I32X4, |b, x, y| b.ins().unarrow(x, y)),

        O::I16x8ExtendLowI8x16S => unary(b, stack, I8X16, |b, x| b.ins().swiden_low(x)),
        O::I16x8ExtendHighI8x16S => unary(b, stack, I8X16, |b, x| b.ins().swiden_high(x)),
        O::I16x8ExtendLowI8x16U => unary(b, stack, I8X16, |b, x| b.ins().uwiden_low(x)),
        O::I16x8ExtendHighI8x16U => unary(b, stack, I8X16, |b, x| b.ins().uwiden_high(x)),
        O::I32x4ExtendLowI16x8S => unary(b, stack, I16X8, |b, x| b.ins().swiden_low(x)),
        O::I32x4ExtendHighI16x8S => unary(b, stack, I16X8, |b, x| b.ins().swiden_high(x)),
        O::I32x4ExtendLowI16x8U => unary(b, stack, I16X8, |b, x| b.ins().uwiden_low(x)),
        O::I32x4ExtendHighI16x8U => unary(b, stack, I16X8, |b, x| b.ins().uwiden_high(x)),
        O::I64x2ExtendLowI32x4S => unary(b, stack, I32X4, |b, x| b.ins().swiden_low(x)),
        O::I64x2ExtendHighI32x4S => unary(b, stack, I32X4, |b, x| b.ins().swiden_high(x)),
        O::I64x2ExtendLowI32x4U => unary(b, stack, I32X4, |b, x| b.ins().uwiden_low(x)),
        O::I64x2ExtendHighI32x4U => unary(b, stack, I32X4, |b, x| b.ins().uwiden_high(x)),

        O::I16x8ExtAddPairwiseI8x16S => ext_add_pairwise(b, stack, I8X16, Extend::Signed),
        O::I16x8ExtAddPairwiseI8x16U => ext_add_pairwise(b, stack, I8X16, Extend::Unsigned),
        O::I32x4ExtAddPairwiseI16x8S => ext_add_pairwise(b, stack, I16X8, Extend::Signed),
        O::I32x4ExtAddPairwiseI16x8U => ext_add_pairwise(b, stack, I16X8, Extend::Unsigned),

        O::I16x8ExtMulLowI8x16S => ext_mul(b, stack, I8X16, Extend::Signed, Half::Low),
        O::I16x8ExtMulHighI8x16S => ext_mul(b, stack, I8X16, Extend::Signed, Half::High),
        O::I16x8ExtMulLowI8x16U => ext_mul(b, stack, I8X16, Extend::Unsigned, Half::Low),
        O::I16x8ExtMulHighI8x16U => ext_mul(b, stack, I8X16, Extend::Unsigned, Half::High),
        O::I32x4ExtMulLowI16x8S => ext_mul(b, stack, I16X8, Extend::Signed, Half::Low),
        O::I32x4ExtMulHighI16x8S => ext_mul(b, stack, I16X8, Extend::Signed, Half::High),
        O::I32x4ExtMulLowI16x8U => ext_mul(b, stack, I16X8, Extend::Unsigned, Half::Low),
        O::I32x4ExtMulHighI16x8U => ext_mul(b, stack, I16X8, Extend::Unsigned, Half::High),
        O::I64x2ExtMulLowI32x4S => ext_mul(b, stack, I32X4, Extend::Signed, Half::Low),
        O::I64x2ExtMulHighI32x4S => ext_mul(b, stack, I32X4, Extend::Signed, Half::High),
        O::I64x2ExtMulLowI32x4U => ext_mul(b, stack, I32X4, Extend::Unsigned, Half::Low),
        O::I64x2ExtMulHighI32x4U => ext_mul(b, stack, I32X4, Extend::Unsigned, Half::High),

        // The sum of the products of adjacent pairs of signed 16-bit lanes, in that shape so the
        // backend can use one `pmaddwd`.
        O::I32x4DotI16x8S => binary(b, stack, I16X8, |b, x, y| {
            let x_low = b.ins().swiden_low(x);
            let y_low = b.ins().swiden_low(y);
            let low = b.ins().imul(x_low, y_low);
            let x_high = b.ins().swiden_high(x);
            let y_high = b.ins().swiden_high(y);
            let high = b.ins().imul(x_high, y_high);
            b.ins().iadd_pairwise(low, high)
        }),
        _ => return false,
    }
    true
}

#[derive(Clone, Copy)]
enum Extend {
    Signed,
    Unsigned,
}

#[derive(Clone, Copy)]
enum Half {
    Low,
    High,
}

/// The `half` lanes of `x`, each extended to twice its width.
fn widen(b: &mut FunctionBuilder, x: Value, extend: Extend, half: Half) -> Value {
    match (extend, half) {
        (Extend::Signed, Half::Low) => b.ins().swiden_low(x),
        (Extend::Signed, Half::High) => b.ins().swiden_high(x),
        (Extend::Unsigned, Half::Low) => b.ins().uwiden_low(x),
        (Extend::Unsigned, Half::High) => b.ins().uwiden_high(x),
    }
}

fn int_compare(b: &mut FunctionBuilder, stack: &mut Vec<Value>, ty: Type, condition: IntCC) {
    binary(b, stack, ty, |b, x, y| b.ins().icmp(condition, x, y));
}

/// Pops an i32 shift count and a vector of `ty`, and pushes the shifted vector.
fn shift(
    b: &mut FunctionBuilder,
    stack: &mut Vec<Value>,
    ty: Type,
    build: impl FnOnce(&mut FunctionBuilder, Value, Value) -> Value,
) {
    let count = stack.pop().expect("validated");
    unary(b, stack, ty, |b, x| build(b, x, count));
}

fn all_true(b: &mut FunctionBuilder, stack: &mut Vec<Value>, ty: Type) {
    let vector = pop(b, stack, ty);
    let flag = b.ins().vall_true(vector);
    stack.push(to_i32(b, flag));
}

/// The top bit of every lane of `ty`, gathered into the low bits of an i32.
fn bitmask(b: &mut FunctionBuilder, stack: &mut Vec<Value>, ty: Type) {
    let vector = pop(b, stack, ty);
    stack.push(b.ins().vhigh_bits(types::I32, vector));
}

/// Adds adjacent pairs of lanes of `ty` into lanes twice as wide.
fn ext_add_pairwise(b: &mut FunctionBuilder, stack: &mut Vec<Value>, ty: Type, extend: Extend) {
    unary(b, stack, ty, |b, x| {
        let low = widen(b, x, extend, Half::Low);
        let high = widen(b, x, extend, Half::High);
        b.ins().iadd_pairwise(low, high)
    });
}

/// Multiplies one half of the lanes of two vectors of `ty` into lanes twice as wide.
fn ext_mul(b: &mut FunctionBuilder, stack: &mut Vec<Value>, ty: Type, extend: Extend, half: Half) {
    binary(b, stack, ty, |b, x, y| {
        let x = widen(b, x, extend, half);
        let y = widen(b, y, extend, half);
        b.ins().imul(x, y)
    });
}

/// Lane-wise float arithmetic, comparisons, rounding and conversions.
fn translate_float(op: &Operator, b: &mut FunctionBuilder, stack: &mut Vec<Value>) -> bool {
    use Operator as O;
    match *op {
        O::F32x4Abs => unary(b, stack, F32X4, |b, x| b.ins().fabs(x)),
        O::F64x2Abs => unary(b, stack, F64X2, |b, x| b.ins().fabs(x)),
        O::F32x4Neg => unary(b, stack, F32X4, |b, x| b.ins().fneg(x)),
        O::F64x2Neg => unary(b, stack, F64X2, |b, x| b.ins().fneg(x)),
        O::F32x4Sqrt => unary(b, stack, F32X4, |b, x| b.ins().sqrt(x)),
        O::F64x2Sqrt => unary(b, stack, F64X2, |b, x| b.ins().sqrt(x)),
        O::F32x4Ceil => unary(b, stack, F32X4, |b, x| b.ins().ceil(x)),
        O::F64x2Ceil => unary(b, stack, F64X2, |b, x| b.ins().ceil(x)),
        O::F32x4Floor => unary(b, stack, F32X4, |b, x| b.ins().floor(x)),
        O::F64x2Floor => unary(b, stack, F64X2, |b, x| b.ins().floor(x)),
        O::F32x4Trunc => unary(b, stack, F32X4, |b, x| b.ins().trunc(x)),
        O::F64x2Trunc => unary(b, stack, F64X2, |b, x| b.ins().trunc(x)),
        O::F32x4Nearest => unary(b, stack, F32X4, |b, x| b.ins().nearest(x)),
        O::F64x2Nearest => unary(b, stack, F64X2, |b, x| b.ins().nearest(x)),

        O::F32x4Add => binary(b, stack, F32X4, |b, x, y| b.ins().fadd(x, y)),
        O::F64x2Add => binary(b, stack, F64X2, |b, x, y| b.ins().fadd(x, y)),
        O::F32x4Sub => binary(b, stack, F32X4, |b, x, y| b.ins().fsub(x, y)),
        O::F64x2Sub => binary(b, stack, F64X2, |b, x, y| b.ins().fsub(x, y)),
        O::F32x4Mul => binary(b, stack, F32X4, |b, x, y| b.ins().fmul(x, y)),
        O::F64x2Mul => binary(b, stack, F64X2, |b, x, y| b.ins().fmul(x, y)),
        O::F32x4Div => binary(b, stack, F32X4, |b, x, y| b.ins().fdiv(x, y)),
        O::F64x2Div => binary(b, stack, F64X2, |b, x, y| b.ins().fdiv(x, y)),
        // `fmin`/`fmax` have wasm's semantics: NaN if either lane is NaN, -0 below +0.
        O::F32x4Min => binary(b, stack, F32X4, |b, x, y| b.ins().fmin(x, y)),
        O::F64x2Min => binary(b, stack, F64X2, |b, x, y| b.ins().fmin(x, y)),
        O::F32x4Max => binary(b, stack, F32X4, |b, x, y| b.ins().fmax(x, y)),
        O::F64x2Max => binary(b, stack, F64X2, |b, x, y| b.ins().fmax(x, y)),
        // The pseudo-min and -max are defined by one comparison: `pmin(x, y) = y < x ? y : x`
        // and `pmax(x, y) = x < y ? y : x`, so a NaN or a tie yields `x`.
        O::F32x4PMin => binary(b, stack, F32X4, |b, x, y| pseudo_select(b, y, x, y, x)),
        O::F64x2PMin => binary(b, stack, F64X2, |b, x, y| pseudo_select(b, y, x, y, x)),
        O::F32x4PMax => binary(b, stack, F32X4, |b, x, y| pseudo_select(b, x, y, y, x)),
        O::F64x2PMax => binary(b, stack, F64X2, |b, x, y| pseudo_select(b, x, y, y, x)),

        O::F32x4Eq => float_compare(b, stack, F32X4, FloatCC::Equal),
        O::F32x4Ne => float_compare(b, stack, F32X4, FloatCC::NotEqual),
        O::F32x4Lt => float_compare(b, stack, F32X4, FloatCC::LessThan),
        O::F32x4Gt => float_compare(b, stack, F32X4, FloatCC::GreaterThan),
        O::F32x4Le => float_compare(b, stack, F32X4, FloatCC::LessThanOrEqual),
        O::F32x4Ge => float_compare(b, stack, F32X4, FloatCC::GreaterThanOrEqual),
        O::F64x2Eq => float_compare(b, stack, F64X2, FloatCC::Equal),
        O::F64x2Ne => float_compare(b, stack, F64X2, FloatCC::NotEqual),
        O::F64x2Lt => float_compare(b, stack, F64X2, FloatCC::LessThan),
        O::F64x2Gt => float_compare(b, stack, F64X2, FloatCC::GreaterThan),
        O::F64x2Le => float_compare(b, stack, F64X2, FloatCC::LessThanOrEqual),
        O::F64x2Ge => float_compare(b, stack, F64X2, FloatCC::GreaterThanOrEqual),

        // Saturating conversions: NaN becomes 0, out-of-range values the nearest bound.
        O::I32x4TruncSatF32x4S => unary(b, stack, F32X4, |b, x| b.ins().fcvt_to_sint_sat(I32X4, x)),
        O::I32x4TruncSatF32x4U => unary(b, stack, F32X4, |b, x| b.ins().fcvt_to_uint_sat(I32X4, x)),
        // Two results in the low lanes, zeros above. Cranelift cannot narrow an I64X2, but
        // the backend lowers exactly this convert-then-narrow-with-zero shape in one sequence.
        O::I32x4TruncSatF64x2SZero => unary(b, stack, F64X2, |b, x| {
            let wide = b.ins().fcvt_to_sint_sat(I64X2, x);
            let zero = constant(b, I64X2, &[0; 16]);
            b.ins().snarrow(wide, zero)
        }),
        O::I32x4TruncSatF64x2UZero => unary(b, stack, F64X2, |b, x| {
            let wide = b.ins().fcvt_to_uint_sat(I64X2, x);
            let zero = constant(b, I64X2, &[0; 16]);
            b.ins().uunarrow(wide, zero)
        }),
        O::F32x4ConvertI32x4S => unary(b, stack, I32X4, |b, x| b.ins().fcvt_from_sint(F32X4, x)),
        O::F32x4ConvertI32x4U => unary(b, stack, I32X4, |b, x| b.ins().fcvt_from_uint(F32X4, x)),
        O::F64x2ConvertLowI32x4S => unary(b, stack, I32X4, |b, x| {
            let wide = b.ins().swiden_low(x);
            b.ins().fcvt_from_sint(F64X2, wide)
        }),
        O::F64x2ConvertLowI32x4U => unary(b, stack, I32X4, |b, x| {
            let wide = b.ins().uwiden_low(x);
            b.ins().fcvt_from_uint(F64X2, wide)
        }),
        O::F32x4DemoteF64x2Zero => unary(b, stack, F64X2, |b, x| b.ins().fvdemote(x)),
        O::F64x2PromoteLowF32x4 => unary(b, stack, F32X4, |b, x| b.ins().fvpromote_low(x)),
        _ => return false,
    }
    true
}

fn float_compare(b: &mut FunctionBuilder, stack: &mut Vec<Value>, ty: Type, condition: FloatCC) {
    binary(b, stack, ty, |b, x, y| b.ins().fcmp(condition, x, y));
}

/// Lane-wise `less < greater ? if_less : otherwise`, for the pseudo-min and -max.
fn pseudo_select(b: &mut FunctionBuilder, less: Value, greater: Value, if_less: Value, otherwise: Value) -> Value {
    let ty = b.func.dfg.value_type(less);
    let mask = b.ins().fcmp(FloatCC::LessThan, less, greater);
    let mask = cast(b, mask, ty);
    b.ins().bitselect(mask, if_less, otherwise)
}
