//! The execution controls' checks in compiled code (see `runtime/interrupts.rs` and README
//! "Controls"): interrupt checks and fuel, at function entries and loop headers, in the
//! flavours that ask for them (`CodeFlavour`); plain code gets none of this.
//!
//! Interrupt checks sit at loop headers, and at the entry of functions that call: a
//! function without calls runs each instruction outside its loops at most once, so its
//! callers' checks and its own loop headers' already bound how long it runs without one
//! (any recursion, direct, indirect or through tail calls, passes through the entries of
//! functions that call). Fuel is checked at every entry, which its exact counts rely on.
//!
//! An interrupt check is one load of the instance's `due` word from the vmctx, a test and a
//! branch to a cold block that calls `interrupt_check` with the `preserve_all` convention,
//! so the hot path holds no register and spills nothing for it. Fuel lives in a Cranelift variable for the whole
//! function, as in Wasmtime: each straight-line stretch subtracts its cost from the variable,
//! which is written back to `VMControls::fuel` only where something can observe it (before
//! calls, tail calls and returns, and when it runs out) and read again after calls. A trap
//! other than running out of fuel leaves `VMControls::fuel` as of the trapping function's
//! last call or entry: still the same on every run and tier, since it depends on the code
//! only.
#![forbid(unsafe_code)]

use super::func_env::call_builtin;
use crate::environ::builtins::Builtin;
use crate::environ::config::CodeFlavour;
use crate::environ::trap::Trap;
use crate::environ::vmctx::VmOffsets;
use cranelift_codegen::ir::{condcodes::IntCC, types, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::{FunctionBuilder, Variable};
use wasmparser::{Operator, OperatorsReader};

/// Fuel units an instruction costs: one, except for those that compile to no work of their
/// own (as in Wasmtime): `nop`, `drop`, `block`, `loop`, `unreachable`, `return`, `else`
/// and `end`. The same on every tier and machine, since it depends on the instruction only.
fn fuel_cost(op: &Operator<'_>) -> u64 {
    use Operator as O;
    match op {
        O::Nop
        | O::Drop
        | O::Block { .. }
        | O::Loop { .. }
        | O::Unreachable
        | O::Return
        | O::Else
        | O::End
        | O::TryTable { .. }
        | O::Try { .. }
        | O::Catch { .. }
        | O::CatchAll
        | O::Delegate { .. } => 0,
        _ => 1,
    }
}

/// Whether fuel must be charged before `op`: it branches, calls, or ends a block.
fn ends_stretch(op: &Operator<'_>) -> bool {
    use Operator as O;
    matches!(
        op,
        O::Loop { .. }
            | O::If { .. }
            | O::Else
            | O::End
            | O::Br { .. }
            | O::BrIf { .. }
            | O::BrTable { .. }
            | O::Return
            | O::Call { .. }
            | O::CallIndirect { .. }
            | O::ReturnCall { .. }
            | O::ReturnCallIndirect { .. }
            | O::CallRef { .. }
            | O::ReturnCallRef { .. }
            | O::BrOnNull { .. }
            | O::BrOnNonNull { .. }
            | O::TryTable { .. }
            | O::Throw { .. }
            | O::ThrowRef
            | O::Try { .. }
            | O::Catch { .. }
            | O::CatchAll
            | O::Delegate { .. }
            | O::Rethrow { .. }
    )
}

/// For a bulk memory or table instruction, whose length operand is on top of the stack: the
/// shift that turns its length into its fuel beyond the one unit of the instruction (one
/// more unit per 64 bytes, or per table element), so a budget bounds their work too.
fn bulk_length_shift(op: &Operator<'_>) -> Option<i64> {
    use Operator as O;
    match op {
        O::MemoryFill { .. } | O::MemoryCopy { .. } | O::MemoryInit { .. } => Some(6),
        O::TableFill { .. } | O::TableCopy { .. } | O::TableInit { .. } => Some(0),
        _ => None,
    }
}

/// Whether `op` calls code that may read or change the instance's fuel and then returns to
/// this function, which reads the fuel again.
fn calls(op: &Operator<'_>) -> bool {
    matches!(op, Operator::Call { .. } | Operator::CallIndirect { .. } | Operator::CallRef { .. })
}

/// Whether `op` leaves this function for code that reads the fuel, never coming back: a tail
/// call (the callee's entry check reads what this function stored).
fn tail_calls(op: &Operator<'_>) -> bool {
    matches!(op, Operator::ReturnCall { .. } | Operator::ReturnCallIndirect { .. } | Operator::ReturnCallRef { .. })
}

/// Whether `op` throws: a handler in this or a calling function reads the fuel next.
fn throws(op: &Operator<'_>) -> bool {
    matches!(op, Operator::Throw { .. } | Operator::ThrowRef | Operator::Rethrow { .. })
}

/// The control checks of one function being translated.
pub(super) struct ControlChecks {
    vmctx: Value,
    interruptible: bool,
    /// The fuel left, in fuel-counting code.
    fuel: Option<Variable>,
    /// Fuel of the instructions translated since the last charge.
    fuel_pending: u64,
}

impl ControlChecks {
    /// Sets up the checks of a function whose entry block `b` is in (it loads the fuel
    /// there); call `function_entry` once the parameters are declared.
    pub fn new(b: &mut FunctionBuilder<'_>, vmctx: Value, flavour: CodeFlavour) -> ControlChecks {
        let fuel = flavour.fuel.then(|| {
            let var = b.declare_var(types::I64);
            let fuel = b.ins().load(types::I64, MemFlagsData::trusted(), vmctx, VmOffsets::controls_fuel() as i32);
            b.def_var(var, fuel);
            var
        });
        ControlChecks { vmctx, interruptible: flavour.interruptible, fuel, fuel_pending: 0 }
    }

    /// The checks of a function's entry, given its body's operators: out of fuel, then
    /// interrupted if the function calls.
    pub fn function_entry(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        mut body: OperatorsReader<'_>,
    ) -> Result<(), wasmparser::BinaryReaderError> {
        self.make_fuel_check(b);
        if self.interruptible {
            let mut calls_any = false;
            while !calls_any && !body.eof() {
                let op = body.read()?;
                calls_any = calls(&op) || tail_calls(&op);
            }
            if calls_any {
                self.make_interrupt_check(b);
            }
        }
        Ok(())
    }

    /// The checks of a loop header: out of fuel, then interrupted.
    pub fn loop_header(&mut self, b: &mut FunctionBuilder<'_>) {
        self.make_fuel_check(b);
        if self.interruptible {
            self.make_interrupt_check(b);
        }
    }

    /// Traps with `OutOfFuel` if the fuel counted so far is negative.
    fn make_fuel_check(&mut self, b: &mut FunctionBuilder<'_>) {
        if let Some(var) = self.fuel {
            let fuel = b.use_var(var);
            let exhausted = b.ins().icmp_imm_s(IntCC::SignedLessThan, fuel, 0);
            let out = b.create_block();
            let next = b.create_block();
            b.ins().brif(exhausted, out, &[], next, &[]);
            b.switch_to_block(out);
            b.set_cold_block(out);
            b.seal_block(out);
            // Stored, so the instance stays out of fuel after the trap.
            self.save_fuel(b);
            b.ins().trap(Trap::OutOfFuel.to_clif());
            b.switch_to_block(next);
            b.seal_block(next);
        }
    }

    /// A raised `due` word calls `interrupt_check`, which says whether to trap and why.
    fn make_interrupt_check(&self, b: &mut FunctionBuilder<'_>) {
        // Not read-only: other threads store to the word.
        let due =
            b.ins().load(types::I64, MemFlagsData::trusted(), self.vmctx, VmOffsets::controls_interrupt_due() as i32);
        let check = b.create_block();
        let next = b.create_block();
        b.ins().brif(due, check, &[], next, &[]);
        b.switch_to_block(check);
        b.set_cold_block(check);
        b.seal_block(check);
        let due_address = b.ins().iadd_imm_s(self.vmctx, i64::from(VmOffsets::controls_interrupt_due()));
        let trap = call_builtin(b, self.vmctx, Builtin::interrupt_check, &[due_address]);
        let trap = trap.expect("the builtin returns a trap code");
        let timed_out = b.ins().icmp_imm_u(IntCC::Equal, trap, i64::from(Trap::Timeout as u8));
        b.ins().trapnz(timed_out, Trap::Timeout.to_clif());
        b.ins().trapnz(trap, Trap::Interrupted.to_clif());
        b.ins().jump(next, &[]);
        b.switch_to_block(next);
        b.seal_block(next);
    }

    /// Accounts for `op`, about to be translated in reachable code with operand stack
    /// `stack`: adds its cost, and charges what is pending if it ends a stretch; before a
    /// call, also stores the fuel for the callee (`after_op` reads it back).
    pub fn before_op(&mut self, b: &mut FunctionBuilder<'_>, op: &Operator<'_>, stack: &[Value]) {
        let Some(var) = self.fuel else { return };
        if matches!(op, Operator::Unreachable) {
            self.fuel_pending = 0; // charged by nothing: the code traps
            return;
        }
        self.fuel_pending += fuel_cost(op);
        if ends_stretch(op) && self.fuel_pending > 0 {
            let fuel = b.use_var(var);
            let fuel = b.ins().iadd_imm_s(fuel, -(self.fuel_pending as i64));
            b.def_var(var, fuel);
            self.fuel_pending = 0;
        }
        if let Some(shift) = bulk_length_shift(op) {
            let length = *stack.last().expect("validated: a bulk instruction has a length");
            let length =
                if b.func.dfg.value_type(length) == types::I64 { length } else { b.ins().uextend(types::I64, length) };
            let units = b.ins().ushr_imm_u(length, shift);
            let fuel = b.use_var(var);
            let fuel = b.ins().isub(fuel, units);
            b.def_var(var, fuel);
        }
        if calls(op) || tail_calls(op) || throws(op) {
            self.save_fuel(b);
        }
    }

    /// After `op` was translated: a call's callee may have used or added fuel. (A tail call
    /// ended the block: there is nothing after it to read the fuel.)
    pub fn after_op(&mut self, b: &mut FunctionBuilder<'_>, op: &Operator<'_>) {
        if let (Some(var), true) = (self.fuel, calls(op)) {
            let fuel = b.ins().load(types::I64, MemFlagsData::trusted(), self.vmctx, VmOffsets::controls_fuel() as i32);
            b.def_var(var, fuel);
        }
    }

    /// At the start of a landing pad: whatever threw (a callee, or a `throw` here) stored the
    /// fuel left when it threw.
    pub fn at_landing_pad(&mut self, b: &mut FunctionBuilder<'_>) {
        if let Some(var) = self.fuel {
            let fuel = b.ins().load(types::I64, MemFlagsData::trusted(), self.vmctx, VmOffsets::controls_fuel() as i32);
            b.def_var(var, fuel);
        }
    }

    /// Before a `return`: the caller (or the host) reads the fuel next.
    pub fn before_return(&mut self, b: &mut FunctionBuilder<'_>) {
        self.save_fuel(b);
    }

    fn save_fuel(&self, b: &mut FunctionBuilder<'_>) {
        if let Some(var) = self.fuel {
            let fuel = b.use_var(var);
            b.ins().store(MemFlagsData::trusted(), fuel, self.vmctx, VmOffsets::controls_fuel() as i32);
        }
    }
}
