//! The memory64 proposal's part of translation: addresses of accesses to 64-bit memories,
//! whose `i64` index may be anything, and the widening of 32-bit addresses, sizes and
//! lengths to the `i64` every memory and table builtin takes (`environ/builtins.rs`).
//!
//! A 64-bit memory gets guard pages only when its maximum is at most 4 GiB
//! (`runtime/memory.rs::check_size_limits`), so in guard-page code (`BoundsChecks::GuardPages`:
//! every memory of the instance has a reservation) an index below 2^32 with an offset below
//! 2^32 stays inside the reservation, exactly as a 32-bit access does: one compare with a
//! constant replaces the load of the length. Otherwise the end of the access,
//! `index + offset + size`, is computed with overflow traps (it must not wrap around 2^64)
//! and compared with the current length.
#![forbid(unsafe_code)]

use super::func_env::FuncEnv;
use crate::environ::config::BoundsChecks;
use crate::environ::trap::Trap;
use cranelift_codegen::ir::{condcodes::IntCC, types, InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;
use wasmparser::MemArg;

/// `value` zero-extended to 64 bits: a 32-bit memory's or table's address, size or length
/// for a builtin. A no-op on a 64-bit one.
pub(super) fn widen_address(b: &mut FunctionBuilder<'_>, value: Value) -> Value {
    if b.func.dfg.value_type(value) == types::I64 {
        value
    } else {
        b.ins().uextend(types::I64, value)
    }
}

/// A 64-bit builtin result (an old size, or -1) as the instruction's result type: truncated
/// for a 32-bit memory or table (-1 stays -1).
pub(super) fn narrow_result(b: &mut FunctionBuilder<'_>, value: Value, address64: bool) -> Value {
    if address64 {
        value
    } else {
        b.ins().ireduce(types::I32, value)
    }
}

impl FuncEnv<'_> {
    /// `heap_address` for a 64-bit memory: `definition` is the memory's `VMMemoryDefinition`,
    /// `index` the access's `i64` operand.
    pub(super) fn heap_address_64(
        &self,
        b: &mut FunctionBuilder<'_>,
        memarg: &MemArg,
        definition: Value,
        index: Value,
    ) -> (Value, i32) {
        let guard_pages = self.bounds_checks() == BoundsChecks::GuardPages;
        let oob = Trap::MemoryOutOfBounds.to_clif();
        if guard_pages && memarg.offset <= u64::from(u32::MAX) {
            // The memory is at most 4 GiB and its reservation covers 8 GiB and a page.
            let too_far = b.ins().icmp_imm_u(IntCC::UnsignedGreaterThan, index, i64::from(u32::MAX));
            b.ins().trapnz(too_far, oob);
        } else {
            let offset = b.ins().iconst(types::I64, memarg.offset as i64);
            let end = b.ins().uadd_overflow_trap(index, offset, oob);
            let size = b.ins().iconst(types::I64, 1i64 << memarg.max_align);
            let end = b.ins().uadd_overflow_trap(end, size, oob);
            let length = self.memory_length(b, definition);
            let out_of_bounds = b.ins().icmp(IntCC::UnsignedGreaterThan, end, length);
            b.ins().trapnz(out_of_bounds, oob);
        }
        let base = self.memory_base(b, definition);
        let address = b.ins().iadd(base, index);
        match i32::try_from(memarg.offset) {
            Ok(offset) => (address, offset),
            Err(_) => {
                let offset = b.ins().iconst(types::I64, memarg.offset as i64);
                (b.ins().iadd(address, offset), 0)
            }
        }
    }
}
