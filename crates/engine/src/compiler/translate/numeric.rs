//! Translation of WebAssembly's scalar numeric instructions (constants, comparisons, integer and
//! float arithmetic, conversions, reinterpretations and sign extensions) to Cranelift IR. Every
//! instruction here is a pure function of operand-stack values, so this module needs nothing but
//! the builder and the operand stack.
//!
//! Trapping cases are left to Cranelift's own instruction semantics, which match wasm's (checked
//! against Cranelift 0.135.8): `udiv`/`urem`/`sdiv`/`srem` trap with `INTEGER_DIVISION_BY_ZERO`,
//! `sdiv` of `INT_MIN / -1` traps with `INTEGER_OVERFLOW`, `srem` of `INT_MIN % -1` is 0, and
//! `fcvt_to_sint`/`fcvt_to_uint` trap with `BAD_CONVERSION_TO_INTEGER` on NaN and
//! `INTEGER_OVERFLOW` out of range. Shift counts are taken modulo the bit width, and
//! `fmin`/`fmax` propagate NaN and order -0 below +0, as in wasm.

use cranelift_codegen::ir::{
    self,
    condcodes::{FloatCC, IntCC},
    immediates::{Ieee32, Ieee64},
    types, InstBuilder,
};
use cranelift_frontend::FunctionBuilder;
use wasmparser::Operator;

/// Translates `op` if it is a numeric instruction; pops operands from and pushes results onto
/// `stack` (the wasm operand stack of Cranelift values, top at the end). Returns false, changing
/// nothing, if `op` is not one of them.
pub(crate) fn translate_numeric(op: &Operator, b: &mut FunctionBuilder, stack: &mut Vec<ir::Value>) -> bool {
    use Operator as Op;
    match op {
        // Constants. `iconst` wants the immediate zero-extended from the type's width.
        Op::I32Const { value } => {
            let constant = b.ins().iconst(types::I32, i64::from(value.cast_unsigned()));
            stack.push(constant);
        }
        Op::I64Const { value } => stack.push(b.ins().iconst(types::I64, *value)),
        // Through the bit pattern, so NaN payloads survive exactly.
        Op::F32Const { value } => stack.push(b.ins().f32const(Ieee32::with_bits(value.bits()))),
        Op::F64Const { value } => stack.push(b.ins().f64const(Ieee64::with_bits(value.bits()))),

        // Integer comparisons; i32 and i64 share instructions, the operand type picks the width.
        Op::I32Eqz | Op::I64Eqz => unary(b, stack, |b, x| {
            let is_zero = b.ins().icmp_imm_u(IntCC::Equal, x, 0);
            bool_to_i32(b, is_zero)
        }),
        Op::I32Eq | Op::I64Eq => int_compare(b, stack, IntCC::Equal),
        Op::I32Ne | Op::I64Ne => int_compare(b, stack, IntCC::NotEqual),
        Op::I32LtS | Op::I64LtS => int_compare(b, stack, IntCC::SignedLessThan),
        Op::I32LtU | Op::I64LtU => int_compare(b, stack, IntCC::UnsignedLessThan),
        Op::I32GtS | Op::I64GtS => int_compare(b, stack, IntCC::SignedGreaterThan),
        Op::I32GtU | Op::I64GtU => int_compare(b, stack, IntCC::UnsignedGreaterThan),
        Op::I32LeS | Op::I64LeS => int_compare(b, stack, IntCC::SignedLessThanOrEqual),
        Op::I32LeU | Op::I64LeU => int_compare(b, stack, IntCC::UnsignedLessThanOrEqual),
        Op::I32GeS | Op::I64GeS => int_compare(b, stack, IntCC::SignedGreaterThanOrEqual),
        Op::I32GeU | Op::I64GeU => int_compare(b, stack, IntCC::UnsignedGreaterThanOrEqual),

        // Float comparisons: all ordered (false on NaN) except `ne`, which is true on NaN.
        Op::F32Eq | Op::F64Eq => float_compare(b, stack, FloatCC::Equal),
        Op::F32Ne | Op::F64Ne => float_compare(b, stack, FloatCC::NotEqual),
        Op::F32Lt | Op::F64Lt => float_compare(b, stack, FloatCC::LessThan),
        Op::F32Gt | Op::F64Gt => float_compare(b, stack, FloatCC::GreaterThan),
        Op::F32Le | Op::F64Le => float_compare(b, stack, FloatCC::LessThanOrEqual),
        Op::F32Ge | Op::F64Ge => float_compare(b, stack, FloatCC::GreaterThanOrEqual),

        // Integer arithmetic.
        Op::I32Clz | Op::I64Clz => unary(b, stack, |b, x| b.ins().clz(x)),
        Op::I32Ctz | Op::I64Ctz => unary(b, stack, |b, x| b.ins().ctz(x)),
        Op::I32Popcnt | Op::I64Popcnt => unary(b, stack, |b, x| b.ins().popcnt(x)),
        Op::I32Add | Op::I64Add => binary(b, stack, |b, x, y| b.ins().iadd(x, y)),
        Op::I32Sub | Op::I64Sub => binary(b, stack, |b, x, y| b.ins().isub(x, y)),
        Op::I32Mul | Op::I64Mul => binary(b, stack, |b, x, y| b.ins().imul(x, y)),
        Op::I32DivS | Op::I64DivS => binary(b, stack, |b, x, y| b.ins().sdiv(x, y)),
        Op::I32DivU | Op::I64DivU => binary(b, stack, |b, x, y| b.ins().udiv(x, y)),
        Op::I32RemS | Op::I64RemS => binary(b, stack, |b, x, y| b.ins().srem(x, y)),
        Op::I32RemU | Op::I64RemU => binary(b, stack, |b, x, y| b.ins().urem(x, y)),
        Op::I32And | Op::I64And => binary(b, stack, |b, x, y| b.ins().band(x, y)),
        Op::I32Or | Op::I64Or => binary(b, stack, |b, x, y| b.ins().bor(x, y)),
        Op::I32Xor | Op::I64Xor => binary(b, stack, |b, x, y| b.ins().bxor(x, y)),
        Op::I32Shl | Op::I64Shl => binary(b, stack, |b, x, y| b.ins().ishl(x, y)),
        Op::I32ShrS | Op::I64ShrS => binary(b, stack, |b, x, y| b.ins().sshr(x, y)),
        Op::I32ShrU | Op::I64ShrU => binary(b, stack, |b, x, y| b.ins().ushr(x, y)),
        Op::I32Rotl | Op::I64Rotl => binary(b, stack, |b, x, y| b.ins().rotl(x, y)),
        Op::I32Rotr | Op::I64Rotr => binary(b, stack, |b, x, y| b.ins().rotr(x, y)),

        // Float arithmetic.
        Op::F32Abs | Op::F64Abs => unary(b, stack, |b, x| b.ins().fabs(x)),
        Op::F32Neg | Op::F64Neg => unary(b, stack, |b, x| b.ins().fneg(x)),
        Op::F32Ceil | Op::F64Ceil => unary(b, stack, |b, x| b.ins().ceil(x)),
        Op::F32Floor | Op::F64Floor => unary(b, stack, |b, x| b.ins().floor(x)),
        Op::F32Trunc | Op::F64Trunc => unary(b, stack, |b, x| b.ins().trunc(x)),
        Op::F32Nearest | Op::F64Nearest => unary(b, stack, |b, x| b.ins().nearest(x)),
        Op::F32Sqrt | Op::F64Sqrt => unary(b, stack, |b, x| b.ins().sqrt(x)),
        Op::F32Add | Op::F64Add => binary(b, stack, |b, x, y| b.ins().fadd(x, y)),
        Op::F32Sub | Op::F64Sub => binary(b, stack, |b, x, y| b.ins().fsub(x, y)),
        Op::F32Mul | Op::F64Mul => binary(b, stack, |b, x, y| b.ins().fmul(x, y)),
        Op::F32Div | Op::F64Div => binary(b, stack, |b, x, y| b.ins().fdiv(x, y)),
        Op::F32Min | Op::F64Min => binary(b, stack, |b, x, y| b.ins().fmin(x, y)),
        Op::F32Max | Op::F64Max => binary(b, stack, |b, x, y| b.ins().fmax(x, y)),
        Op::F32Copysign | Op::F64Copysign => binary(b, stack, |b, x, y| b.ins().fcopysign(x, y)),

        // Integer width changes.
        Op::I32WrapI64 => unary(b, stack, |b, x| b.ins().ireduce(types::I32, x)),
        Op::I64ExtendI32S => unary(b, stack, |b, x| b.ins().sextend(types::I64, x)),
        Op::I64ExtendI32U => unary(b, stack, |b, x| b.ins().uextend(types::I64, x)),
        Op::I32Extend8S | Op::I64Extend8S => unary(b, stack, |b, x| sign_extend_low_bits(b, x, types::I8)),
        Op::I32Extend16S | Op::I64Extend16S => unary(b, stack, |b, x| sign_extend_low_bits(b, x, types::I16)),
        Op::I64Extend32S => unary(b, stack, |b, x| sign_extend_low_bits(b, x, types::I32)),

        // Float to integer, trapping.
        Op::I32TruncF32S | Op::I32TruncF64S => unary(b, stack, |b, x| b.ins().fcvt_to_sint(types::I32, x)),
        Op::I32TruncF32U | Op::I32TruncF64U => unary(b, stack, |b, x| b.ins().fcvt_to_uint(types::I32, x)),
        Op::I64TruncF32S | Op::I64TruncF64S => unary(b, stack, |b, x| b.ins().fcvt_to_sint(types::I64, x)),
        Op::I64TruncF32U | Op::I64TruncF64U => unary(b, stack, |b, x| b.ins().fcvt_to_uint(types::I64, x)),

        // Float to integer, saturating (NaN becomes 0).
        Op::I32TruncSatF32S | Op::I32TruncSatF64S => unary(b, stack, |b, x| b.ins().fcvt_to_sint_sat(types::I32, x)),
        Op::I32TruncSatF32U | Op::I32TruncSatF64U => unary(b, stack, |b, x| b.ins().fcvt_to_uint_sat(types::I32, x)),
        Op::I64TruncSatF32S | Op::I64TruncSatF64S => unary(b, stack, |b, x| b.ins().fcvt_to_sint_sat(types::I64, x)),
        Op::I64TruncSatF32U | Op::I64TruncSatF64U => unary(b, stack, |b, x| b.ins().fcvt_to_uint_sat(types::I64, x)),

        // Integer to float, and float width changes.
        Op::F32ConvertI32S | Op::F32ConvertI64S => unary(b, stack, |b, x| b.ins().fcvt_from_sint(types::F32, x)),
        Op::F32ConvertI32U | Op::F32ConvertI64U => unary(b, stack, |b, x| b.ins().fcvt_from_uint(types::F32, x)),
        Op::F64ConvertI32S | Op::F64ConvertI64S => unary(b, stack, |b, x| b.ins().fcvt_from_sint(types::F64, x)),
        Op::F64ConvertI32U | Op::F64ConvertI64U => unary(b, stack, |b, x| b.ins().fcvt_from_uint(types::F64, x)),
        Op::F32DemoteF64 => unary(b, stack, |b, x| b.ins().fdemote(types::F32, x)),
        Op::F64PromoteF32 => unary(b, stack, |b, x| b.ins().fpromote(types::F64, x)),

        // Same bits, other type.
        Op::I32ReinterpretF32 => unary(b, stack, |b, x| reinterpret(b, x, types::I32)),
        Op::I64ReinterpretF64 => unary(b, stack, |b, x| reinterpret(b, x, types::I64)),
        Op::F32ReinterpretI32 => unary(b, stack, |b, x| reinterpret(b, x, types::F32)),
        Op::F64ReinterpretI64 => unary(b, stack, |b, x| reinterpret(b, x, types::F64)),

        _ => return false,
    }
    true
}

fn pop_operand(stack: &mut Vec<ir::Value>) -> ir::Value {
    stack.pop().expect("the validator guarantees every numeric instruction its operands")
}

/// Pops one operand, builds the result from it and pushes that.
fn unary(
    b: &mut FunctionBuilder,
    stack: &mut Vec<ir::Value>,
    build: impl FnOnce(&mut FunctionBuilder, ir::Value) -> ir::Value,
) {
    let operand = pop_operand(stack);
    let result = build(b, operand);
    stack.push(result);
}

/// Pops two operands (the left one is deeper), builds the result from them and pushes that.
fn binary(
    b: &mut FunctionBuilder,
    stack: &mut Vec<ir::Value>,
    build: impl FnOnce(&mut FunctionBuilder, ir::Value, ir::Value) -> ir::Value,
) {
    let right = pop_operand(stack);
    let left = pop_operand(stack);
    let result = build(b, left, right);
    stack.push(result);
}

/// Cranelift compares produce an i8 of 0 or 1; wasm wants an i32.
fn bool_to_i32(b: &mut FunctionBuilder, flag: ir::Value) -> ir::Value {
    b.ins().uextend(types::I32, flag)
}

fn int_compare(b: &mut FunctionBuilder, stack: &mut Vec<ir::Value>, condition: IntCC) {
    binary(b, stack, |b, x, y| {
        let flag = b.ins().icmp(condition, x, y);
        bool_to_i32(b, flag)
    });
}

fn float_compare(b: &mut FunctionBuilder, stack: &mut Vec<ir::Value>, condition: FloatCC) {
    binary(b, stack, |b, x, y| {
        let flag = b.ins().fcmp(condition, x, y);
        bool_to_i32(b, flag)
    });
}

/// Sign-extends the low `narrow` bits of `value` back to `value`'s own type.
fn sign_extend_low_bits(b: &mut FunctionBuilder, value: ir::Value, narrow: ir::Type) -> ir::Value {
    let wide = b.func.dfg.value_type(value);
    let low_bits = b.ins().ireduce(narrow, value);
    b.ins().sextend(wide, low_bits)
}

/// Scalar bitcasts between equally wide types need no byte order, hence default flags.
fn reinterpret(b: &mut FunctionBuilder, value: ir::Value, to: ir::Type) -> ir::Value {
    b.ins().bitcast(to, ir::MemFlagsData::new(), value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_codegen::ir::types::{F32, F64, I32, I64};
    use cranelift_codegen::ir::{AbiParam, InstructionData, Signature, UserFuncName};
    use cranelift_codegen::isa::{CallConv, OwnedTargetIsa};
    use cranelift_codegen::settings;
    use cranelift_codegen::verifier::verify_function;
    use cranelift_frontend::FunctionBuilderContext;

    fn host_isa() -> OwnedTargetIsa {
        cranelift_native::builder()
            .expect("host is supported by Cranelift")
            .finish(settings::Flags::new(settings::builder()))
            .expect("default flags are valid")
    }

    /// Translates `ops` over a block whose parameters (of `params` types) start the operand
    /// stack, returns whatever is left, verifies the function, and hands back the result types
    /// together with the finished function.
    fn translate_and_verify(params: &[ir::Type], ops: &[Operator]) -> (Vec<ir::Type>, ir::Function) {
        let mut signature = Signature::new(CallConv::SystemV);
        signature.params.extend(params.iter().map(|&ty| AbiParam::new(ty)));
        let mut func = ir::Function::with_name_signature(UserFuncName::default(), signature);
        let mut context = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut func, &mut context);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);

        let mut stack = b.block_params(entry).to_vec();
        for op in ops {
            assert!(translate_numeric(op, &mut b, &mut stack), "{op:?} not translated");
        }
        let result_types: Vec<ir::Type> = stack.iter().map(|&v| b.func.dfg.value_type(v)).collect();
        b.func.signature.returns.extend(result_types.iter().map(|&ty| AbiParam::new(ty)));
        b.ins().return_(&stack);
        let isa = host_isa();
        b.finalize(isa.frontend_config());

        if let Err(errors) = verify_function(&func, &*isa) {
            panic!("verifier rejected {ops:?}:\n{errors}\n{}", func.display());
        }
        (result_types, func)
    }

    #[test]
    fn integer_binary_ops_keep_their_type() {
        let ops = [
            Operator::I32Add,
            Operator::I32Sub,
            Operator::I32Mul,
            Operator::I32DivS,
            Operator::I32DivU,
            Operator::I32RemS,
            Operator::I32RemU,
            Operator::I32And,
            Operator::I32Or,
            Operator::I32Xor,
            Operator::I32Shl,
            Operator::I32ShrS,
            Operator::I32ShrU,
            Operator::I32Rotl,
            Operator::I32Rotr,
        ];
        for op in ops {
            assert_eq!(translate_and_verify(&[I32, I32], &[op]).0, [I32]);
        }
        let ops = [
            Operator::I64Add,
            Operator::I64Sub,
            Operator::I64Mul,
            Operator::I64DivS,
            Operator::I64DivU,
            Operator::I64RemS,
            Operator::I64RemU,
            Operator::I64And,
            Operator::I64Or,
            Operator::I64Xor,
            Operator::I64Shl,
            Operator::I64ShrS,
            Operator::I64ShrU,
            Operator::I64Rotl,
            Operator::I64Rotr,
        ];
        for op in ops {
            assert_eq!(translate_and_verify(&[I64, I64], &[op]).0, [I64]);
        }
    }

    #[test]
    fn comparisons_produce_i32() {
        let int_compares = [
            Operator::I64Eq,
            Operator::I64Ne,
            Operator::I64LtS,
            Operator::I64LtU,
            Operator::I64GtS,
            Operator::I64GtU,
            Operator::I64LeS,
            Operator::I64LeU,
            Operator::I64GeS,
            Operator::I64GeU,
        ];
        for op in int_compares {
            assert_eq!(translate_and_verify(&[I64, I64], &[op]).0, [I32]);
        }
        let float_compares =
            [Operator::F64Eq, Operator::F64Ne, Operator::F64Lt, Operator::F64Gt, Operator::F64Le, Operator::F64Ge];
        for op in float_compares {
            assert_eq!(translate_and_verify(&[F64, F64], &[op]).0, [I32]);
        }
        assert_eq!(translate_and_verify(&[I64], &[Operator::I64Eqz]).0, [I32]);
        assert_eq!(translate_and_verify(&[I32], &[Operator::I32Eqz]).0, [I32]);
    }

    #[test]
    fn float_ops_keep_their_type() {
        let unary_ops = [
            Operator::F32Abs,
            Operator::F32Neg,
            Operator::F32Ceil,
            Operator::F32Floor,
            Operator::F32Trunc,
            Operator::F32Nearest,
            Operator::F32Sqrt,
        ];
        for op in unary_ops {
            assert_eq!(translate_and_verify(&[F32], &[op]).0, [F32]);
        }
        let binary_ops = [
            Operator::F64Add,
            Operator::F64Sub,
            Operator::F64Mul,
            Operator::F64Div,
            Operator::F64Min,
            Operator::F64Max,
            Operator::F64Copysign,
        ];
        for op in binary_ops {
            assert_eq!(translate_and_verify(&[F64, F64], &[op]).0, [F64]);
        }
    }

    #[test]
    fn conversions_have_wasm_types() {
        let cases = [
            (Operator::I32WrapI64, I64, I32),
            (Operator::I64ExtendI32S, I32, I64),
            (Operator::I64ExtendI32U, I32, I64),
            (Operator::I32TruncF32S, F32, I32),
            (Operator::I32TruncF64U, F64, I32),
            (Operator::I64TruncF32U, F32, I64),
            (Operator::I64TruncF64S, F64, I64),
            (Operator::I32TruncSatF64S, F64, I32),
            (Operator::I64TruncSatF32U, F32, I64),
            (Operator::F32ConvertI64U, I64, F32),
            (Operator::F64ConvertI32S, I32, F64),
            (Operator::F32DemoteF64, F64, F32),
            (Operator::F64PromoteF32, F32, F64),
            (Operator::I32ReinterpretF32, F32, I32),
            (Operator::I64ReinterpretF64, F64, I64),
            (Operator::F32ReinterpretI32, I32, F32),
            (Operator::F64ReinterpretI64, I64, F64),
            (Operator::I32Extend8S, I32, I32),
            (Operator::I32Extend16S, I32, I32),
            (Operator::I64Extend8S, I64, I64),
            (Operator::I64Extend16S, I64, I64),
            (Operator::I64Extend32S, I64, I64),
            (Operator::I64Popcnt, I64, I64),
            (Operator::I32Clz, I32, I32),
        ];
        for (op, from, to) in cases {
            assert_eq!(translate_and_verify(&[from], std::slice::from_ref(&op)).0, [to], "{op:?}");
        }
    }

    #[test]
    fn constants_keep_exact_bits() {
        let signalling_nan = 0x7fa0_0001_u32;
        let negative_nan_payload = 0xfff0_0000_0000_0abc_u64;
        let ops = [
            Operator::I32Const { value: i32::MIN },
            Operator::I64Const { value: -1 },
            Operator::F32Const { value: f32::from_bits(signalling_nan).into() },
            Operator::F64Const { value: f64::from_bits(negative_nan_payload).into() },
        ];
        let (result_types, func) = translate_and_verify(&[], &ops);
        assert_eq!(result_types, [I32, I64, F32, F64]);

        let immediates: Vec<u64> = func
            .layout
            .blocks()
            .flat_map(|block| func.layout.block_insts(block))
            .filter_map(|inst| match func.dfg.insts[inst] {
                InstructionData::UnaryImm { imm, .. } => Some(imm.bits().cast_unsigned()),
                InstructionData::UnaryIeee32 { imm, .. } => Some(u64::from(imm.bits())),
                InstructionData::UnaryIeee64 { imm, .. } => Some(imm.bits()),
                _ => None,
            })
            .collect();
        assert_eq!(immediates, [0x8000_0000, u64::MAX, u64::from(signalling_nan), negative_nan_payload]);
    }

    #[test]
    fn chains_of_ops_verify() {
        // (i32.eqz (i32.rotl (i32.div_s p0 p1) (i32.const 3))), plus an i64 round trip.
        let ops = [
            Operator::I32DivS,
            Operator::I32Const { value: 3 },
            Operator::I32Rotl,
            Operator::I32Eqz,
            Operator::I64Const { value: 7 },
            Operator::F64ConvertI64S,
            Operator::F64Sqrt,
            Operator::I64TruncF64S,
        ];
        assert_eq!(translate_and_verify(&[I32, I32], &ops).0, [I32, I64]);
    }

    #[test]
    fn other_instructions_are_left_alone() {
        let mut signature = Signature::new(CallConv::SystemV);
        signature.params.push(AbiParam::new(I32));
        let mut func = ir::Function::with_name_signature(UserFuncName::default(), signature);
        let mut context = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut func, &mut context);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let mut stack = b.block_params(entry).to_vec();
        let before = stack.clone();
        for op in [Operator::Nop, Operator::Drop, Operator::LocalGet { local_index: 0 }] {
            assert!(!translate_numeric(&op, &mut b, &mut stack));
        }
        assert_eq!(stack, before);
        assert!(b.func.layout.block_insts(entry).next().is_none());
    }
}
