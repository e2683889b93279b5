//! What translation knows about the runtime: how compiled code reaches memories, globals,
//! tables and functions through `vmctx`. The only file under `translate/` that reads
//! `VmOffsets` or generates calls of builtins (`atomics.rs` asks it for both).
#![forbid(unsafe_code)]

use super::memory64::{narrow_result, widen_address};
use super::wasm_signature;
use crate::environ::builtins::{Builtin, BuiltinType};
use crate::environ::config::{BoundsChecks, CodeFlavour};
use crate::environ::error::Result;
use crate::environ::info::ModuleInfo;
use crate::environ::trap::Trap;
use crate::environ::vmctx::VmOffsets;
use cranelift_codegen::ir::{self, condcodes::IntCC, types, AbiParam, InstBuilder, MemFlagsData, Type, Value};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::FunctionBuilder;
use wasmparser::{MemArg, Operator};

/// Calls `builtin` with `args`, loading its address from the builtins table of `vmctx` (any
/// context: an instance's or a host function's). No address is embedded in the code.
pub(crate) fn call_builtin(
    b: &mut FunctionBuilder<'_>,
    vmctx: Value,
    builtin: Builtin,
    args: &[Value],
) -> Option<Value> {
    let clif = |ty: BuiltinType| match ty {
        BuiltinType::Vmctx | BuiltinType::Pointer | BuiltinType::I64 => types::I64,
        BuiltinType::I32 => types::I32,
    };
    let (params, result) = builtin.signature();
    let call_conv = if builtin.preserves_all_registers() { CallConv::PreserveAll } else { CallConv::SystemV };
    let mut sig = ir::Signature::new(call_conv);
    sig.params.extend(params.iter().map(|t| AbiParam::new(clif(*t))));
    sig.returns.extend(result.map(|t| AbiParam::new(clif(t))));
    let sig = b.import_signature(sig);
    let table = b.ins().load(types::I64, invariant(), vmctx, VmOffsets::builtins() as i32);
    let callee = b.ins().load(types::I64, invariant(), table, VmOffsets::builtin(builtin) as i32);
    let call = b.ins().call_indirect(sig, callee, args);
    b.inst_results(call).first().copied()
}

pub(crate) struct FuncEnv<'a> {
    pub module: &'a ModuleInfo,
    offsets: &'a VmOffsets,
    vmctx: Value,
    flavour: CodeFlavour,
    /// The landing pad of the innermost exception handler whose scope the instruction being
    /// translated is in, if any: calls there are `try_call`s to it (`exceptions.rs`).
    pub handler: Option<ir::Block>,
    /// The landing pads some call unwinds to; a pad nothing reaches needs no dispatch code.
    pub used_landing_pads: std::collections::HashSet<ir::Block>,
}

/// Calls `callee` with `args` through `sig`; inside a handler's scope (`landing_pad`), as a
/// `try_call` whose exceptional edge goes to the pad with the exception. The results.
pub(crate) fn emit_call(
    b: &mut FunctionBuilder<'_>,
    sig: ir::SigRef,
    callee: Value,
    args: &[Value],
    landing_pad: Option<ir::Block>,
) -> Vec<Value> {
    let Some(landing_pad) = landing_pad else {
        let call = b.ins().call_indirect(sig, callee, args);
        return b.inst_results(call).to_vec();
    };
    let returns: Vec<Type> = b.func.dfg.signatures[sig].returns.iter().map(|r| r.value_type).collect();
    let normal = b.create_block();
    for ty in &returns {
        b.append_block_param(normal, *ty);
    }
    let pool = &mut b.func.dfg.value_lists;
    let normal_call = ir::BlockCall::new(normal, (0..returns.len() as u32).map(ir::BlockArg::TryCallRet), pool);
    let exception_call = ir::BlockCall::new(landing_pad, [ir::BlockArg::TryCallExn(0)], pool);
    let table = ir::ExceptionTableData::new(sig, normal_call, [ir::ExceptionTableItem::Default(exception_call)]);
    let table = b.func.dfg.exception_tables.push(table);
    b.ins().try_call_indirect(callee, args, table);
    b.switch_to_block(normal);
    b.seal_block(normal);
    b.block_params(normal).to_vec()
}

/// Throws `exception` (an `exnref`, not null) from code whose context is `vmctx`: calls the
/// `throw` builtin with the wasm convention (see `runtime/throw.rs`), as a `try_call` to
/// `landing_pad` inside a handler's scope. Leaves the current block terminated.
pub(crate) fn call_throw(b: &mut FunctionBuilder<'_>, vmctx: Value, exception: Value, landing_pad: Option<ir::Block>) {
    let mut sig = ir::Signature::new(super::WASM_CALL_CONV);
    sig.params.extend([AbiParam::new(types::I64), AbiParam::new(types::I64)]);
    let sig = b.import_signature(sig);
    let table = b.ins().load(types::I64, invariant(), vmctx, VmOffsets::builtins() as i32);
    let callee = b.ins().load(types::I64, invariant(), table, VmOffsets::builtin(Builtin::throw) as i32);
    emit_call(b, sig, callee, &[vmctx, exception], landing_pad);
    // The builtin never returns.
    b.ins().trap(Trap::Unreachable.to_clif());
}

/// Flags for loads of runtime fields that never change while compiled code runs.
fn readonly() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly()
}

/// Flags for loads of fields that never change, at addresses valid wherever the function
/// runs (reached from the vmctx through pointers that are never null): such a load may be
/// hoisted out of loops and shared by the whole function, as Wasmtime does with a static
/// memory's base, instead of being repeated on every iteration.
pub(super) fn invariant() -> MemFlagsData {
    readonly().with_can_move()
}

/// Flags for accesses to linear memory: little-endian, and a fault is an out-of-bounds trap.
fn heap() -> MemFlagsData {
    MemFlagsData::new().with_endianness(ir::Endianness::Little).with_trap_code(Some(Trap::MemoryOutOfBounds.to_clif()))
}

impl<'a> FuncEnv<'a> {
    /// The flags every access to linear memory uses, for callers that build their own access
    /// at an address from `heap_address`.
    pub(super) fn heap_flags() -> MemFlagsData {
        heap()
    }

    pub fn new(module: &'a ModuleInfo, offsets: &'a VmOffsets, vmctx: Value, flavour: CodeFlavour) -> Self {
        FuncEnv { module, offsets, vmctx, flavour, handler: None, used_landing_pads: Default::default() }
    }

    /// Translates memory, global, table and call instructions. Returns false for anything else.
    pub fn translate_runtime_op(
        &mut self,
        op: &Operator<'_>,
        b: &mut FunctionBuilder<'_>,
        stack: &mut Vec<Value>,
    ) -> Result<bool> {
        use Operator as O;
        match *op {
            O::GlobalGet { global_index } => {
                let global = self.module.global_type(global_index);
                // An immutable global keeps the value it was given at instantiation (or by
                // its creator, for an import: linking requires the same mutability).
                let flags = if global.mutable { MemFlagsData::trusted() } else { invariant() };
                let storage = self.global_storage(b, global_index);
                stack.push(b.ins().load(global.content.clif(), flags, storage, 0));
            }
            O::GlobalSet { global_index } => {
                let value = stack.pop().expect("validated");
                let storage = self.global_storage(b, global_index);
                b.ins().store(MemFlagsData::trusted(), value, storage, 0);
            }
            O::I32Load { memarg } | O::F32Load { memarg } | O::I64Load { memarg } | O::F64Load { memarg } => {
                let ty = match op {
                    O::I32Load { .. } => types::I32,
                    O::I64Load { .. } => types::I64,
                    O::F32Load { .. } => types::F32,
                    _ => types::F64,
                };
                let (addr, offset) = self.heap_address(b, &memarg, stack.pop().expect("validated"));
                stack.push(b.ins().load(ty, heap(), addr, offset));
            }
            O::I32Load8S { memarg } => self.extending_load(b, stack, &memarg, types::I32, 8, true),
            O::I32Load8U { memarg } => self.extending_load(b, stack, &memarg, types::I32, 8, false),
            O::I32Load16S { memarg } => self.extending_load(b, stack, &memarg, types::I32, 16, true),
            O::I32Load16U { memarg } => self.extending_load(b, stack, &memarg, types::I32, 16, false),
            O::I64Load8S { memarg } => self.extending_load(b, stack, &memarg, types::I64, 8, true),
            O::I64Load8U { memarg } => self.extending_load(b, stack, &memarg, types::I64, 8, false),
            O::I64Load16S { memarg } => self.extending_load(b, stack, &memarg, types::I64, 16, true),
            O::I64Load16U { memarg } => self.extending_load(b, stack, &memarg, types::I64, 16, false),
            O::I64Load32S { memarg } => self.extending_load(b, stack, &memarg, types::I64, 32, true),
            O::I64Load32U { memarg } => self.extending_load(b, stack, &memarg, types::I64, 32, false),
            O::I32Store { memarg } | O::I64Store { memarg } | O::F32Store { memarg } | O::F64Store { memarg } => {
                self.store(b, stack, &memarg, None)
            }
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => self.store(b, stack, &memarg, Some(8)),
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => self.store(b, stack, &memarg, Some(16)),
            O::I64Store32 { memarg } => self.store(b, stack, &memarg, Some(32)),
            O::MemorySize { mem } => {
                let definition = self.memory_definition(b, mem);
                let bytes = self.memory_length(b, definition);
                let pages = b.ins().ushr_imm_u(bytes, 16);
                stack.push(narrow_result(b, pages, self.memory64(mem)));
            }
            O::MemoryGrow { mem } => {
                let delta = stack.pop().expect("validated");
                let delta = widen_address(b, delta);
                let index = b.ins().iconst(types::I32, i64::from(mem));
                let args = [self.vmctx, index, delta];
                let old = self.call_builtin(b, Builtin::memory_grow, &args);
                let old = old.expect("memory_grow returns the old size");
                stack.push(narrow_result(b, old, self.memory64(mem)));
            }
            O::MemoryCopy { dst_mem, src_mem } => {
                // The length has the smaller of the two address types.
                let length = stack.pop().expect("validated");
                let src = stack.pop().expect("validated");
                let dst = stack.pop().expect("validated");
                let [length, src, dst] = [length, src, dst].map(|v| widen_address(b, v));
                let dst_memory = self.memory_definition(b, dst_mem);
                let src_memory = self.memory_definition(b, src_mem);
                if self.flavour.interruptible {
                    let args = [self.vmctx, dst_memory, dst, src_memory, src, length];
                    self.call_interruptible_builtin(
                        b,
                        Builtin::memory_copy_interruptible,
                        &args,
                        Trap::MemoryOutOfBounds,
                    );
                } else {
                    let args = [dst_memory, dst, src_memory, src, length];
                    self.call_trapping_builtin(b, Builtin::memory_copy, &args, Trap::MemoryOutOfBounds);
                }
            }
            O::MemoryFill { mem } => {
                let length = stack.pop().expect("validated");
                let value = stack.pop().expect("validated");
                let dst = stack.pop().expect("validated");
                let [length, dst] = [length, dst].map(|v| widen_address(b, v));
                let memory = self.memory_definition(b, mem);
                if self.flavour.interruptible {
                    let args = [self.vmctx, memory, dst, value, length];
                    self.call_interruptible_builtin(
                        b,
                        Builtin::memory_fill_interruptible,
                        &args,
                        Trap::MemoryOutOfBounds,
                    );
                } else {
                    let args = [memory, dst, value, length];
                    self.call_trapping_builtin(b, Builtin::memory_fill, &args, Trap::MemoryOutOfBounds);
                }
            }
            O::MemoryInit { data_index, mem } => {
                let length = stack.pop().expect("validated");
                let src = stack.pop().expect("validated");
                let dst = stack.pop().expect("validated");
                let dst = widen_address(b, dst);
                let memory = b.ins().iconst(types::I32, i64::from(mem));
                let segment = b.ins().iconst(types::I32, i64::from(data_index));
                let args = [self.vmctx, memory, segment, dst, src, length];
                self.call_trapping_builtin(b, Builtin::memory_init, &args, Trap::MemoryOutOfBounds);
            }
            O::DataDrop { data_index } => {
                let segment = b.ins().iconst(types::I32, i64::from(data_index));
                self.call_builtin(b, Builtin::data_drop, &[self.vmctx, segment]);
            }
            O::RefNull { .. } => stack.push(b.ins().iconst(types::I64, 0)),
            O::RefIsNull => {
                let reference = stack.pop().expect("validated");
                let is_null = b.ins().icmp_imm_u(IntCC::Equal, reference, 0);
                stack.push(b.ins().uextend(types::I32, is_null));
            }
            O::RefFunc { function_index } => {
                // The canonical VMFuncRef: this instance's own for a defined function, the
                // exporter's (through a pointer) for an imported one.
                let func_ref = if self.module.is_defined_func(function_index) {
                    let offset = b.ins().iconst(types::I64, i64::from(self.offsets.func_ref(function_index)));
                    b.ins().iadd(self.vmctx, offset)
                } else {
                    let offset = self.offsets.imported_func_ref_pointer(function_index) as i32;
                    b.ins().load(types::I64, invariant(), self.vmctx, offset)
                };
                stack.push(func_ref);
            }
            O::TableGet { table } => {
                let index = stack.pop().expect("validated");
                let slot = self.table_slot(b, table, index);
                stack.push(b.ins().load(types::I64, MemFlagsData::trusted(), slot, 0));
            }
            O::TableSet { table } => {
                let value = stack.pop().expect("validated");
                let index = stack.pop().expect("validated");
                let slot = self.table_slot(b, table, index);
                b.ins().store(MemFlagsData::trusted(), value, slot, 0);
            }
            O::TableSize { table } => {
                let ty = if self.table64(table) { types::I64 } else { types::I32 };
                let length = match self.fixed_table_length(table) {
                    Some(length) => b.ins().iconst(ty, length as i64),
                    None => {
                        let definition = self.table_definition(b, table);
                        let length = b.ins().load(
                            types::I32,
                            MemFlagsData::trusted(),
                            definition,
                            VmOffsets::table_length() as i32,
                        );
                        if ty == types::I64 {
                            b.ins().uextend(types::I64, length)
                        } else {
                            length
                        }
                    }
                };
                stack.push(length);
            }
            O::TableGrow { table } => {
                let delta = stack.pop().expect("validated");
                let delta = widen_address(b, delta);
                let init = stack.pop().expect("validated");
                let index = b.ins().iconst(types::I32, i64::from(table));
                let args = [self.vmctx, index, init, delta];
                let old = self.call_builtin(b, Builtin::table_grow, &args);
                let old = old.expect("table_grow returns the old size");
                stack.push(narrow_result(b, old, self.table64(table)));
            }
            O::TableFill { table } => {
                let length = stack.pop().expect("validated");
                let value = stack.pop().expect("validated");
                let start = stack.pop().expect("validated");
                let [length, start] = [length, start].map(|v| widen_address(b, v));
                let index = b.ins().iconst(types::I32, i64::from(table));
                let args = [self.vmctx, index, start, value, length];
                self.call_trapping_builtin(b, Builtin::table_fill, &args, Trap::TableOutOfBounds);
            }
            O::TableCopy { dst_table, src_table } => {
                let length = stack.pop().expect("validated");
                let src = stack.pop().expect("validated");
                let dst = stack.pop().expect("validated");
                let [length, src, dst] = [length, src, dst].map(|v| widen_address(b, v));
                let dst_index = b.ins().iconst(types::I32, i64::from(dst_table));
                let src_index = b.ins().iconst(types::I32, i64::from(src_table));
                let args = [self.vmctx, dst_index, src_index, dst, src, length];
                self.call_trapping_builtin(b, Builtin::table_copy, &args, Trap::TableOutOfBounds);
            }
            O::TableInit { elem_index, table } => {
                let length = stack.pop().expect("validated");
                let src = stack.pop().expect("validated");
                let dst = stack.pop().expect("validated");
                let dst = widen_address(b, dst);
                let table = b.ins().iconst(types::I32, i64::from(table));
                let segment = b.ins().iconst(types::I32, i64::from(elem_index));
                let args = [self.vmctx, table, segment, dst, src, length];
                self.call_trapping_builtin(b, Builtin::table_init, &args, Trap::TableOutOfBounds);
            }
            O::ElemDrop { elem_index } => {
                let segment = b.ins().iconst(types::I32, i64::from(elem_index));
                self.call_builtin(b, Builtin::elem_drop, &[self.vmctx, segment]);
            }
            O::Call { function_index } => self.translate_call(b, stack, function_index),
            O::CallIndirect { type_index, table_index } => {
                self.translate_call_indirect(b, stack, type_index, table_index)
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn global_storage(&self, b: &mut FunctionBuilder<'_>, index: u32) -> Value {
        b.ins().load(types::I64, invariant(), self.vmctx, self.offsets.global_pointer(index) as i32)
    }

    fn table_definition(&self, b: &mut FunctionBuilder<'_>, index: u32) -> Value {
        b.ins().load(types::I64, invariant(), self.vmctx, self.offsets.table_pointer(index) as i32)
    }

    /// The address of element `index` of a table, trapping if it is out of bounds.
    fn table_slot(&self, b: &mut FunctionBuilder<'_>, table: u32, index: Value) -> Value {
        self.checked_table_slot(b, table, index, Trap::TableOutOfBounds)
    }

    /// The length of table `table`, if it can never change: a table whose type has a
    /// maximum equal to its minimum. An imported table's actual limits lie within the
    /// declared ones (checked when linking), so this holds for imports too.
    fn fixed_table_length(&self, table: u32) -> Option<u64> {
        let limits = self.module.tables[table as usize].limits;
        (limits.max == Some(limits.min)).then_some(limits.min)
    }

    /// The address of element `index` (`i32`, or `i64` for a 64-bit table) of table
    /// `table`, trapping with `trap` if it is out of bounds. A table of fixed length is
    /// checked against that length as an immediate, and its element array, which only
    /// `grow` moves (`runtime/table.rs`), is loaded as an invariant the function may hoist
    /// out of loops: a `call_indirect` through such a table (what C and Rust compilers
    /// emit) loads nothing from the table's definition in a loop.
    fn checked_table_slot(&self, b: &mut FunctionBuilder<'_>, table: u32, index: Value, trap: Trap) -> Value {
        let definition = self.table_definition(b, table);
        let index64 = b.func.dfg.value_type(index) == types::I64;
        let (in_bounds, base_flags) = match self.fixed_table_length(table) {
            Some(length) => (b.ins().icmp_imm_u(IntCC::UnsignedLessThan, index, length as i64), invariant()),
            None => {
                let length =
                    b.ins().load(types::I32, MemFlagsData::trusted(), definition, VmOffsets::table_length() as i32);
                // A table's length fits in 32 bits (`runtime/table.rs`), whatever its address type.
                let length = if index64 { b.ins().uextend(types::I64, length) } else { length };
                (b.ins().icmp(IntCC::UnsignedLessThan, index, length), MemFlagsData::trusted())
            }
        };
        b.ins().trapz(in_bounds, trap.to_clif());
        let base = b.ins().load(types::I64, base_flags, definition, VmOffsets::table_base() as i32);
        let offset = widen_address(b, index);
        let offset = b.ins().ishl_imm_u(offset, 3);
        b.ins().iadd(base, offset)
    }

    fn memory_definition(&self, b: &mut FunctionBuilder<'_>, index: u32) -> Value {
        b.ins().load(types::I64, invariant(), self.vmctx, self.offsets.memory_pointer(index) as i32)
    }

    /// Whether memory `index` is a 64-bit memory.
    fn memory64(&self, index: u32) -> bool {
        self.module.memories[index as usize].address.is_64()
    }

    /// Whether table `index` is a 64-bit table.
    fn table64(&self, index: u32) -> bool {
        self.module.tables[index as usize].address.is_64()
    }

    /// How this code checks memory accesses.
    pub(super) fn bounds_checks(&self) -> BoundsChecks {
        self.flavour.bounds_checks
    }

    /// The current length in bytes of the memory at `definition`. Not read-only: it grows
    /// while code runs.
    pub(super) fn memory_length(&self, b: &mut FunctionBuilder<'_>, definition: Value) -> Value {
        b.ins().load(types::I64, MemFlagsData::trusted(), definition, VmOffsets::memory_length() as i32)
    }

    /// The base address of the memory at `definition`: read-only with guard pages, where it
    /// never moves (see memory.rs); loaded afresh otherwise, since such a memory moves when
    /// it grows.
    pub(super) fn memory_base(&self, b: &mut FunctionBuilder<'_>, definition: Value) -> Value {
        let flags = match self.flavour.bounds_checks {
            BoundsChecks::GuardPages => invariant(),
            BoundsChecks::Explicit => MemFlagsData::trusted(),
        };
        b.ins().load(types::I64, flags, definition, VmOffsets::memory_base() as i32)
    }

    /// The address of an access at `index + memarg.offset`, as a base and an immediate offset.
    ///
    /// With guard pages there is no bounds check: the memory's reservation covers every
    /// 32-bit index plus every 32-bit offset, and whatever lies beyond the current length is
    /// inaccessible, so an out-of-bounds access faults. With explicit checks, the access's
    /// end (`1 << memarg.max_align` bytes from its start: the natural size of every
    /// instruction with a memarg) is compared with the length first, and the base is loaded
    /// afresh, since such a memory moves when it grows.
    pub(super) fn heap_address(&self, b: &mut FunctionBuilder<'_>, memarg: &MemArg, index: Value) -> (Value, i32) {
        let wasmparser::MemArgTarget::Memory(memory) = memarg.target else {
            unreachable!("GC array accesses are rejected by validation")
        };
        let definition = self.memory_definition(b, memory);
        if self.memory64(memory) {
            return self.heap_address_64(b, memarg, definition, index);
        }
        let index = b.ins().uextend(types::I64, index);
        let base = match self.flavour.bounds_checks {
            // The base never moves (see memory.rs), so this load is read-only too.
            BoundsChecks::GuardPages => {
                b.ins().load(types::I64, invariant(), definition, VmOffsets::memory_base() as i32)
            }
            BoundsChecks::Explicit => {
                // At most 2^32 - 1 + 2^32 - 1 + 16: no overflow in 64 bits.
                let end = b.ins().iadd_imm_s(index, (memarg.offset + (1 << memarg.max_align)) as i64);
                let length =
                    b.ins().load(types::I64, MemFlagsData::trusted(), definition, VmOffsets::memory_length() as i32);
                let out_of_bounds = b.ins().icmp(IntCC::UnsignedGreaterThan, end, length);
                b.ins().trapnz(out_of_bounds, Trap::MemoryOutOfBounds.to_clif());
                b.ins().load(types::I64, MemFlagsData::trusted(), definition, VmOffsets::memory_base() as i32)
            }
        };
        let address = b.ins().iadd(base, index);
        match i32::try_from(memarg.offset) {
            Ok(offset) => (address, offset),
            Err(_) => {
                let offset = b.ins().iconst(types::I64, memarg.offset as i64);
                (b.ins().iadd(address, offset), 0)
            }
        }
    }

    fn extending_load(
        &self,
        b: &mut FunctionBuilder<'_>,
        stack: &mut Vec<Value>,
        memarg: &MemArg,
        ty: Type,
        bits: u8,
        signed: bool,
    ) {
        let (addr, offset) = self.heap_address(b, memarg, stack.pop().expect("validated"));
        let value = match (bits, signed) {
            (8, true) => b.ins().sload8(ty, heap(), addr, offset),
            (8, false) => b.ins().uload8(ty, heap(), addr, offset),
            (16, true) => b.ins().sload16(ty, heap(), addr, offset),
            (16, false) => b.ins().uload16(ty, heap(), addr, offset),
            (_, true) => b.ins().sload32(heap(), addr, offset),
            (_, false) => b.ins().uload32(heap(), addr, offset),
        };
        stack.push(value);
    }

    fn store(&self, b: &mut FunctionBuilder<'_>, stack: &mut Vec<Value>, memarg: &MemArg, bits: Option<u8>) {
        let value = stack.pop().expect("validated");
        let (addr, offset) = self.heap_address(b, memarg, stack.pop().expect("validated"));
        match bits {
            None => b.ins().store(heap(), value, addr, offset),
            Some(8) => b.ins().istore8(heap(), value, addr, offset),
            Some(16) => b.ins().istore16(heap(), value, addr, offset),
            Some(_) => b.ins().istore32(heap(), value, addr, offset),
        };
    }

    /// Calls `builtin` with this function's `vmctx` followed by `args` (for the other
    /// instruction files: `atomics.rs`).
    pub(super) fn call_builtin_with_vmctx(
        &self,
        b: &mut FunctionBuilder<'_>,
        builtin: Builtin,
        args: &[Value],
    ) -> Option<Value> {
        let mut all = vec![self.vmctx];
        all.extend_from_slice(args);
        self.call_builtin(b, builtin, &all)
    }

    /// Calls `builtin` through this function's builtins table.
    fn call_builtin(&self, b: &mut FunctionBuilder<'_>, builtin: Builtin, args: &[Value]) -> Option<Value> {
        call_builtin(b, self.vmctx, builtin, args)
    }

    /// Calls a builtin that returns a nonzero `u32` when it failed (having changed nothing),
    /// and traps with `trap` then.
    fn call_trapping_builtin(&self, b: &mut FunctionBuilder<'_>, builtin: Builtin, args: &[Value], trap: Trap) {
        let failed = self.call_builtin(b, builtin, args);
        b.ins().trapnz(failed.expect("a trapping builtin returns a status"), trap.to_clif());
    }

    /// Calls a builtin of interruptible code that returns 0 or the trap to raise
    /// (`Trap as u32`): `Timeout`, `Interrupted`, or `otherwise`.
    fn call_interruptible_builtin(
        &self,
        b: &mut FunctionBuilder<'_>,
        builtin: Builtin,
        args: &[Value],
        otherwise: Trap,
    ) {
        let status = self.call_builtin(b, builtin, args).expect("the builtin returns a status");
        for trap in [Trap::Timeout, Trap::Interrupted] {
            let is_trap = b.ins().icmp_imm_u(IntCC::Equal, status, i64::from(trap as u8));
            b.ins().trapnz(is_trap, trap.to_clif());
        }
        b.ins().trapnz(status, otherwise.to_clif());
    }

    /// The `wasm_call` of `func_ref`; if it is null (the function is not compiled yet, see
    /// `lazy.rs`), the libcall that compiles it and fills it in, trapping if that failed.
    /// Not a read-only load: the field changes, from null to the code, while code runs.
    fn func_ref_code(&self, b: &mut FunctionBuilder<'_>, func_ref: Value) -> Value {
        self.func_ref_code_with(b, func_ref, MemFlagsData::trusted())
    }

    /// `func_ref_code` with the first load's flags: `call_ref` makes that load its null
    /// check (a null `func_ref` faults there, in the unmapped first page).
    fn func_ref_code_with(&self, b: &mut FunctionBuilder<'_>, func_ref: Value, flags: MemFlagsData) -> Value {
        let offset = VmOffsets::func_ref_wasm_call() as i32;
        let code = b.ins().load(types::I64, flags, func_ref, offset);
        let resolve = b.create_block();
        let done = b.create_block();
        b.append_block_param(done, types::I64);
        b.ins().brif(code, done, &[code.into()], resolve, &[]);
        b.switch_to_block(resolve);
        b.set_cold_block(resolve);
        b.seal_block(resolve);
        let resolved = self.call_builtin(b, Builtin::resolve_func_ref, &[func_ref]);
        let resolved = resolved.expect("a result was declared");
        b.ins().trapz(resolved, Trap::CompileFailed.to_clif());
        b.ins().jump(done, &[resolved.into()]);
        b.switch_to_block(done);
        b.seal_block(done);
        b.block_params(done)[0]
    }

    fn translate_call(&mut self, b: &mut FunctionBuilder<'_>, stack: &mut Vec<Value>, index: u32) {
        let ty = self.module.func_type(index);
        let sig = b.import_signature(wasm_signature(ty));
        let (func_ref, callee_vmctx) = self.direct_callee(b, index);
        let code = self.func_ref_code(b, func_ref);
        self.emit_call(b, stack, sig, code, callee_vmctx, ty.params().len(), CallKind::Call);
    }

    /// `return_call`: like `call`, but the caller's frame is gone when the callee runs.
    pub fn translate_return_call(&mut self, b: &mut FunctionBuilder<'_>, stack: &mut Vec<Value>, index: u32) {
        let ty = self.module.func_type(index);
        let sig = b.import_signature(wasm_signature(ty));
        let (func_ref, callee_vmctx) = self.direct_callee(b, index);
        let code = self.func_ref_code(b, func_ref);
        self.emit_call(b, stack, sig, code, callee_vmctx, ty.params().len(), CallKind::Tail);
    }

    /// `return_call_indirect`: like `call_indirect`, but the caller's frame is gone when the
    /// callee runs.
    pub fn translate_return_call_indirect(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        stack: &mut Vec<Value>,
        type_index: u32,
        table_index: u32,
    ) {
        let ty = &self.module.types[type_index as usize];
        let (code, callee_vmctx) = self.indirect_callee(b, stack, type_index, table_index);
        let sig = b.import_signature(wasm_signature(ty));
        self.emit_call(b, stack, sig, code, callee_vmctx, ty.params().len(), CallKind::Tail);
    }

    /// `call_ref` / `return_call_ref`: calls the function reference on top of the stack,
    /// of type `type_index`. Validation proved its type, so there is no signature check; a
    /// null reference traps at the first load from it (no separate compare).
    pub fn translate_call_ref(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        stack: &mut Vec<Value>,
        type_index: u32,
        tail: bool,
    ) {
        let ty = &self.module.types[type_index as usize];
        let func_ref = stack.pop().expect("validated");
        let null_check = MemFlagsData::trusted().with_trap_code(Some(Trap::NullFunctionReference.to_clif()));
        let code = self.func_ref_code_with(b, func_ref, null_check);
        let callee_vmctx =
            b.ins().load(types::I64, MemFlagsData::trusted(), func_ref, VmOffsets::func_ref_vmctx() as i32);
        let sig = b.import_signature(wasm_signature(ty));
        let kind = if tail { CallKind::Tail } else { CallKind::Call };
        self.emit_call(b, stack, sig, code, callee_vmctx, ty.params().len(), kind);
    }

    fn translate_call_indirect(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        stack: &mut Vec<Value>,
        type_index: u32,
        table_index: u32,
    ) {
        let ty = &self.module.types[type_index as usize];
        let (code, callee_vmctx) = self.indirect_callee(b, stack, type_index, table_index);
        let sig = b.import_signature(wasm_signature(ty));
        self.emit_call(b, stack, sig, code, callee_vmctx, ty.params().len(), CallKind::Call);
    }

    /// The `VMFuncRef` of function `index` and the vmctx to call it with. An imported
    /// function is called through its canonical `VMFuncRef` (in the vmctx of the instance
    /// defining it), where optimized code replaces baseline code.
    fn direct_callee(&self, b: &mut FunctionBuilder<'_>, index: u32) -> (Value, Value) {
        if self.module.is_defined_func(index) {
            (b.ins().iadd_imm_s(self.vmctx, i64::from(self.offsets.func_ref(index))), self.vmctx)
        } else {
            let pointer = self.offsets.imported_func_ref_pointer(index) as i32;
            let func_ref = b.ins().load(types::I64, invariant(), self.vmctx, pointer);
            let callee_vmctx = b.ins().load(types::I64, invariant(), func_ref, VmOffsets::func_ref_vmctx() as i32);
            (func_ref, callee_vmctx)
        }
    }

    /// Pops the element index of an indirect call and returns the code and vmctx of the
    /// function at it in table `table_index`, trapping if the index is out of bounds, the
    /// element null, or its type not `type_index`.
    fn indirect_callee(
        &self,
        b: &mut FunctionBuilder<'_>,
        stack: &mut Vec<Value>,
        type_index: u32,
        table_index: u32,
    ) -> (Value, Value) {
        let element_index = stack.pop().expect("validated");
        let slot = self.checked_table_slot(b, table_index, element_index, Trap::UndefinedElement);
        let func_ref = b.ins().load(types::I64, MemFlagsData::trusted(), slot, 0);
        // A null element faults at this first load from it (in the unmapped first page, as
        // `call_ref`'s null check does): no separate compare and branch.
        let null_check = MemFlagsData::trusted().with_trap_code(Some(Trap::IndirectCallToNull.to_clif()));
        let type_id = b.ins().load(types::I32, null_check, func_ref, VmOffsets::func_ref_type_id() as i32);
        // The engine-wide id of the expected type comes from this instance's vmctx, not from
        // the code: ids depend on the order signatures were registered in this process.
        let expected_id = b.ins().load(types::I32, invariant(), self.vmctx, self.offsets.type_id(type_index) as i32);
        let matches = b.ins().icmp(IntCC::Equal, type_id, expected_id);
        b.ins().trapz(matches, Trap::BadSignature.to_clif());
        let code = self.func_ref_code(b, func_ref);
        let callee_vmctx =
            b.ins().load(types::I64, MemFlagsData::trusted(), func_ref, VmOffsets::func_ref_vmctx() as i32);
        (code, callee_vmctx)
    }

    /// Calls `code` with `callee_vmctx` and the top `num_params` operands. A plain call
    /// pushes the results and, inside a handler's scope, is a `try_call` to its landing pad;
    /// a tail call ends the block and leaves every handler of this frame behind, as the
    /// spec says (the frame is gone).
    #[allow(clippy::too_many_arguments)]
    fn emit_call(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        stack: &mut Vec<Value>,
        sig: ir::SigRef,
        code: Value,
        callee_vmctx: Value,
        num_params: usize,
        kind: CallKind,
    ) {
        let at = stack.len() - num_params;
        let mut args = vec![callee_vmctx];
        args.extend(stack.drain(at..));
        match kind {
            CallKind::Call => {
                if let Some(pad) = self.handler {
                    self.used_landing_pads.insert(pad);
                }
                let results = emit_call(b, sig, code, &args, self.handler);
                stack.extend(results);
            }
            CallKind::Tail => {
                b.ins().return_call_indirect(sig, code, &args);
            }
        }
    }

    /// `throw` / `throw_ref` / `rethrow` of `exception`, caught by `landing_pad` if given.
    pub fn throw(&mut self, b: &mut FunctionBuilder<'_>, exception: Value, landing_pad: Option<ir::Block>) {
        if let Some(pad) = landing_pad {
            self.used_landing_pads.insert(pad);
        }
        call_throw(b, self.vmctx, exception, landing_pad);
    }

    /// A new exception of tag `tag`, its values still to be written (`exception_values`).
    pub fn new_exception(&self, b: &mut FunctionBuilder<'_>, tag: u32) -> Value {
        let tag = b.ins().iconst(types::I32, i64::from(tag));
        self.call_builtin(b, Builtin::new_exception, &[self.vmctx, tag]).expect("new_exception returns the exception")
    }

    /// The address of `exception`'s values: one 16-byte slot each.
    pub fn exception_values(&self, b: &mut FunctionBuilder<'_>, exception: Value) -> Value {
        b.ins().load(types::I64, readonly(), exception, VmOffsets::exception_values() as i32)
    }

    /// Whether `exception` was thrown with this instance's tag `tag` (compares identities).
    pub fn exception_has_tag(&self, b: &mut FunctionBuilder<'_>, exception: Value, tag: u32) -> Value {
        let thrown = b.ins().load(types::I64, readonly(), exception, VmOffsets::exception_tag() as i32);
        let expected = b.ins().load(types::I64, invariant(), self.vmctx, self.offsets.tag_pointer(tag) as i32);
        b.ins().icmp(IntCC::Equal, thrown, expected)
    }
}

/// Whether a call returns to its caller or replaces the caller's frame (`return_call*`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum CallKind {
    Call,
    /// A tail call: the caller's frame is gone when the callee runs, so a chain of tail calls
    /// runs in constant stack. Caller and callee both use `WASM_CALL_CONV` (`tail`), which
    /// Cranelift requires of `return_call_indirect`; host functions are reached through a
    /// trampoline of that convention too (`trampoline.rs`), so a tail call to an import is a
    /// real tail call as well.
    Tail,
}
