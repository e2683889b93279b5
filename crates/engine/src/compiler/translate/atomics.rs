//! The threads proposal's instructions: atomic loads, stores, read-modify-writes and
//! compare-exchanges of every width, `memory.atomic.wait32/wait64/notify` and `atomic.fence`.
//!
//! Every atomic access checks its alignment first (the spec traps with "unaligned atomic"
//! before it looks at bounds), then forms its address as any access does
//! (`FuncEnv::heap_address`: guard pages or explicit bounds checks), so an out-of-bounds
//! atomic traps as a plain access does. Narrow accesses operate on `i8`/`i16`/`i32` and
//! zero-extend their result, as the `_u` in their names says. Cranelift's atomics are
//! sequentially consistent, which is what wasm's atomics require.
#![forbid(unsafe_code)]

use super::FuncEnv;
use crate::environ::builtins::Builtin;
use crate::environ::trap::Trap;
use cranelift_codegen::ir::{condcodes::IntCC, types, AtomicRmwOp, InstBuilder, Type, Value};
use cranelift_frontend::FunctionBuilder;
use wasmparser::{MemArg, Operator};

/// Translates `op` if it is one of the threads proposal's; returns false otherwise.
pub(super) fn translate_atomic(
    op: &Operator<'_>,
    b: &mut FunctionBuilder<'_>,
    stack: &mut Vec<Value>,
    env: &FuncEnv<'_>,
) -> bool {
    use types::{I16, I32, I64, I8};
    use Operator as O;
    match *op {
        O::AtomicFence { .. } => {
            b.ins().fence();
        }
        O::MemoryAtomicNotify { memarg } => translate_notify(b, stack, env, &memarg),
        O::MemoryAtomicWait32 { memarg } => translate_wait(b, stack, env, &memarg, I32),
        O::MemoryAtomicWait64 { memarg } => translate_wait(b, stack, env, &memarg, I64),

        O::I32AtomicLoad { memarg } => load(b, stack, env, &memarg, I32, I32),
        O::I64AtomicLoad { memarg } => load(b, stack, env, &memarg, I64, I64),
        O::I32AtomicLoad8U { memarg } => load(b, stack, env, &memarg, I32, I8),
        O::I32AtomicLoad16U { memarg } => load(b, stack, env, &memarg, I32, I16),
        O::I64AtomicLoad8U { memarg } => load(b, stack, env, &memarg, I64, I8),
        O::I64AtomicLoad16U { memarg } => load(b, stack, env, &memarg, I64, I16),
        O::I64AtomicLoad32U { memarg } => load(b, stack, env, &memarg, I64, I32),

        O::I32AtomicStore { memarg } | O::I64AtomicStore { memarg } => store(b, stack, env, &memarg, None),
        O::I32AtomicStore8 { memarg } | O::I64AtomicStore8 { memarg } => store(b, stack, env, &memarg, Some(I8)),
        O::I32AtomicStore16 { memarg } | O::I64AtomicStore16 { memarg } => store(b, stack, env, &memarg, Some(I16)),
        O::I64AtomicStore32 { memarg } => store(b, stack, env, &memarg, Some(I32)),

        O::I32AtomicRmwCmpxchg { memarg } => cmpxchg(b, stack, env, &memarg, I32),
        O::I64AtomicRmwCmpxchg { memarg } => cmpxchg(b, stack, env, &memarg, I64),
        O::I32AtomicRmw8CmpxchgU { memarg } | O::I64AtomicRmw8CmpxchgU { memarg } => {
            cmpxchg(b, stack, env, &memarg, I8)
        }
        O::I32AtomicRmw16CmpxchgU { memarg } | O::I64AtomicRmw16CmpxchgU { memarg } => {
            cmpxchg(b, stack, env, &memarg, I16)
        }
        O::I64AtomicRmw32CmpxchgU { memarg } => cmpxchg(b, stack, env, &memarg, I32),

        _ => match rmw_op(op) {
            Some((rmw, memarg, width)) => read_modify_write(b, stack, env, &memarg, rmw, width),
            None => return false,
        },
    }
    true
}

/// The operation, memarg and access width of an `atomic.rmw` instruction (the value type
/// comes from the operand).
fn rmw_op(op: &Operator<'_>) -> Option<(AtomicRmwOp, MemArg, Type)> {
    use types::{I16, I32, I64, I8};
    use AtomicRmwOp as R;
    use Operator as O;
    Some(match *op {
        O::I32AtomicRmwAdd { memarg } => (R::Add, memarg, I32),
        O::I64AtomicRmwAdd { memarg } => (R::Add, memarg, I64),
        O::I32AtomicRmw8AddU { memarg } | O::I64AtomicRmw8AddU { memarg } => (R::Add, memarg, I8),
        O::I32AtomicRmw16AddU { memarg } | O::I64AtomicRmw16AddU { memarg } => (R::Add, memarg, I16),
        O::I64AtomicRmw32AddU { memarg } => (R::Add, memarg, I32),
        O::I32AtomicRmwSub { memarg } => (R::Sub, memarg, I32),
        O::I64AtomicRmwSub { memarg } => (R::Sub, memarg, I64),
        O::I32AtomicRmw8SubU { memarg } | O::I64AtomicRmw8SubU { memarg } => (R::Sub, memarg, I8),
        O::I32AtomicRmw16SubU { memarg } | O::I64AtomicRmw16SubU { memarg } => (R::Sub, memarg, I16),
        O::I64AtomicRmw32SubU { memarg } => (R::Sub, memarg, I32),
        O::I32AtomicRmwAnd { memarg } => (R::And, memarg, I32),
        O::I64AtomicRmwAnd { memarg } => (R::And, memarg, I64),
        O::I32AtomicRmw8AndU { memarg } | O::I64AtomicRmw8AndU { memarg } => (R::And, memarg, I8),
        O::I32AtomicRmw16AndU { memarg } | O::I64AtomicRmw16AndU { memarg } => (R::And, memarg, I16),
        O::I64AtomicRmw32AndU { memarg } => (R::And, memarg, I32),
        O::I32AtomicRmwOr { memarg } => (R::Or, memarg, I32),
        O::I64AtomicRmwOr { memarg } => (R::Or, memarg, I64),
        O::I32AtomicRmw8OrU { memarg } | O::I64AtomicRmw8OrU { memarg } => (R::Or, memarg, I8),
        O::I32AtomicRmw16OrU { memarg } | O::I64AtomicRmw16OrU { memarg } => (R::Or, memarg, I16),
        O::I64AtomicRmw32OrU { memarg } => (R::Or, memarg, I32),
        O::I32AtomicRmwXor { memarg } => (R::Xor, memarg, I32),
        O::I64AtomicRmwXor { memarg } => (R::Xor, memarg, I64),
        O::I32AtomicRmw8XorU { memarg } | O::I64AtomicRmw8XorU { memarg } => (R::Xor, memarg, I8),
        O::I32AtomicRmw16XorU { memarg } | O::I64AtomicRmw16XorU { memarg } => (R::Xor, memarg, I16),
        O::I64AtomicRmw32XorU { memarg } => (R::Xor, memarg, I32),
        O::I32AtomicRmwXchg { memarg } => (R::Xchg, memarg, I32),
        O::I64AtomicRmwXchg { memarg } => (R::Xchg, memarg, I64),
        O::I32AtomicRmw8XchgU { memarg } | O::I64AtomicRmw8XchgU { memarg } => (R::Xchg, memarg, I8),
        O::I32AtomicRmw16XchgU { memarg } | O::I64AtomicRmw16XchgU { memarg } => (R::Xchg, memarg, I16),
        O::I64AtomicRmw32XchgU { memarg } => (R::Xchg, memarg, I32),
        _ => return None,
    })
}

/// Traps with "unaligned atomic" unless `index + memarg.offset` is a multiple of `bytes`,
/// then returns the access's full address (trapping if it is out of bounds with explicit
/// checks; with guard pages the access itself faults). The memory's base is page-aligned,
/// so the wasm address's alignment is the machine address's.
fn atomic_address(b: &mut FunctionBuilder<'_>, env: &FuncEnv<'_>, memarg: &MemArg, index: Value, bytes: u32) -> Value {
    if bytes > 1 {
        let wide = b.ins().uextend(types::I64, index);
        let effective = b.ins().iadd_imm_u(wide, memarg.offset as i64);
        let misaligned = b.ins().band_imm_u(effective, i64::from(bytes - 1));
        b.ins().trapnz(misaligned, Trap::UnalignedAtomic.to_clif());
    }
    let (address, offset) = env.heap_address(b, memarg, index);
    if offset == 0 {
        address
    } else {
        b.ins().iadd_imm_s(address, i64::from(offset))
    }
}

/// `value` as `width` bits (a no-op at its own width).
fn narrow(b: &mut FunctionBuilder<'_>, value: Value, width: Type) -> Value {
    if b.func.dfg.value_type(value) == width {
        value
    } else {
        b.ins().ireduce(width, value)
    }
}

/// `value` zero-extended to `ty` (a no-op at its own width).
fn widen(b: &mut FunctionBuilder<'_>, value: Value, ty: Type) -> Value {
    if b.func.dfg.value_type(value) == ty {
        value
    } else {
        b.ins().uextend(ty, value)
    }
}

fn load(
    b: &mut FunctionBuilder<'_>,
    stack: &mut Vec<Value>,
    env: &FuncEnv<'_>,
    memarg: &MemArg,
    ty: Type,
    width: Type,
) {
    let index = stack.pop().expect("validated");
    let address = atomic_address(b, env, memarg, index, width.bytes());
    let value = b.ins().atomic_load(width, FuncEnv::heap_flags(), address);
    stack.push(widen(b, value, ty));
}

fn store(b: &mut FunctionBuilder<'_>, stack: &mut Vec<Value>, env: &FuncEnv<'_>, memarg: &MemArg, width: Option<Type>) {
    let value = stack.pop().expect("validated");
    let index = stack.pop().expect("validated");
    let width = width.unwrap_or(b.func.dfg.value_type(value));
    let address = atomic_address(b, env, memarg, index, width.bytes());
    let value = narrow(b, value, width);
    b.ins().atomic_store(FuncEnv::heap_flags(), value, address);
}

fn read_modify_write(
    b: &mut FunctionBuilder<'_>,
    stack: &mut Vec<Value>,
    env: &FuncEnv<'_>,
    memarg: &MemArg,
    op: AtomicRmwOp,
    width: Type,
) {
    let operand = stack.pop().expect("validated");
    let index = stack.pop().expect("validated");
    let ty = b.func.dfg.value_type(operand);
    let address = atomic_address(b, env, memarg, index, width.bytes());
    let operand = narrow(b, operand, width);
    let old = b.ins().atomic_rmw(width, FuncEnv::heap_flags(), op, address, operand);
    stack.push(widen(b, old, ty));
}

fn cmpxchg(b: &mut FunctionBuilder<'_>, stack: &mut Vec<Value>, env: &FuncEnv<'_>, memarg: &MemArg, width: Type) {
    let replacement = stack.pop().expect("validated");
    let expected = stack.pop().expect("validated");
    let index = stack.pop().expect("validated");
    let ty = b.func.dfg.value_type(replacement);
    let address = atomic_address(b, env, memarg, index, width.bytes());
    // A narrow compare-exchange compares the expected value's low bits only: the spec
    // wraps it to the access width first.
    let expected = narrow(b, expected, width);
    let replacement = narrow(b, replacement, width);
    let old = b.ins().atomic_cas(FuncEnv::heap_flags(), address, expected, replacement);
    stack.push(widen(b, old, ty));
}

/// The byte offset (`index + memarg.offset`, 64 bits) the wait and notify builtins key
/// their queues by, after the alignment and bounds checks. The bounds check is an atomic
/// load of the `bytes` at the address, which faults or traps exactly as an access would.
fn checked_offset(b: &mut FunctionBuilder<'_>, env: &FuncEnv<'_>, memarg: &MemArg, index: Value, bytes: u32) -> Value {
    let width = if bytes == 8 { types::I64 } else { types::I32 };
    let address = atomic_address(b, env, memarg, index, bytes);
    b.ins().atomic_load(width, FuncEnv::heap_flags(), address);
    let wide = b.ins().uextend(types::I64, index);
    b.ins().iadd_imm_u(wide, memarg.offset as i64)
}

fn translate_notify(b: &mut FunctionBuilder<'_>, stack: &mut Vec<Value>, env: &FuncEnv<'_>, memarg: &MemArg) {
    let count = stack.pop().expect("validated");
    let index = stack.pop().expect("validated");
    let offset = checked_offset(b, env, memarg, index, 4);
    let memory = b.ins().iconst(types::I32, i64::from(memory_index(memarg)));
    let woken = env.call_builtin_with_vmctx(b, Builtin::memory_atomic_notify, &[memory, offset, count]);
    stack.push(woken.expect("notify returns the number woken"));
}

fn translate_wait(b: &mut FunctionBuilder<'_>, stack: &mut Vec<Value>, env: &FuncEnv<'_>, memarg: &MemArg, ty: Type) {
    let timeout = stack.pop().expect("validated");
    let expected = stack.pop().expect("validated");
    let index = stack.pop().expect("validated");
    let offset = checked_offset(b, env, memarg, index, ty.bytes());
    let memory = b.ins().iconst(types::I32, i64::from(memory_index(memarg)));
    let builtin = if ty == types::I32 { Builtin::memory_atomic_wait32 } else { Builtin::memory_atomic_wait64 };
    let result = env.call_builtin_with_vmctx(b, builtin, &[memory, offset, expected, timeout]);
    let result = result.expect("wait returns its outcome");
    let unshared = b.ins().icmp_imm_s(IntCC::Equal, result, -1);
    b.ins().trapnz(unshared, Trap::ExpectedSharedMemory.to_clif());
    stack.push(result);
}

fn memory_index(memarg: &MemArg) -> u32 {
    match memarg.target {
        wasmparser::MemArgTarget::Memory(memory) => memory,
        _ => unreachable!("validated: wait and notify name a memory"),
    }
}
