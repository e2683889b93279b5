//! The typed function references proposal's instructions: `ref.as_non_null`, `br_on_null`,
//! `br_on_non_null`, `call_ref` and `return_call_ref` (the calls' runtime side is
//! `FuncEnv::translate_call_ref`). References are `VMFuncRef` pointers or host values, null is
//! 0, and validation proved every type, so no instruction here checks one.
#![forbid(unsafe_code)]

use super::FuncTranslator;
use crate::environ::trap::Trap;
use cranelift_codegen::ir::{self, condcodes::IntCC, InstBuilder};
use wasmparser::Operator;

impl FuncTranslator<'_, '_> {
    /// Translates `op` if it is one of this file's instructions; returns whether it was.
    pub(super) fn translate_reference_op(&mut self, op: &Operator<'_>) -> bool {
        match *op {
            Operator::RefAsNonNull => {
                let reference = *self.stack.last().expect("validated");
                self.b.ins().trapz(reference, Trap::NullReference.to_clif());
            }
            Operator::BrOnNull { relative_depth } => {
                // Null: branch with the values below the reference. Otherwise the reference
                // stays on the stack, now known non-null.
                let reference = self.pop();
                let (target, arity) = self.branch_to(relative_depth);
                let args: Vec<ir::BlockArg> = self.peek_n(arity).iter().map(|v| (*v).into()).collect();
                let is_null = self.b.ins().icmp_imm_u(IntCC::Equal, reference, 0);
                let fallthrough = self.b.create_block();
                self.b.ins().brif(is_null, target, &args, fallthrough, &[]);
                self.b.seal_block(fallthrough);
                self.b.switch_to_block(fallthrough);
                self.stack.push(reference);
            }
            Operator::BrOnNonNull { relative_depth } => {
                // Non-null: branch with the reference as the label's last value. Null: drop it.
                let reference = self.pop();
                let (target, arity) = self.branch_to(relative_depth);
                let mut args: Vec<ir::BlockArg> = self.peek_n(arity - 1).iter().map(|v| (*v).into()).collect();
                args.push(reference.into());
                let fallthrough = self.b.create_block();
                self.b.ins().brif(reference, target, &args, fallthrough, &[]);
                self.b.seal_block(fallthrough);
                self.b.switch_to_block(fallthrough);
            }
            Operator::CallRef { type_index } => {
                self.env.translate_call_ref(&mut self.b, &mut self.stack, type_index, false);
            }
            Operator::ReturnCallRef { type_index } => {
                self.env.translate_call_ref(&mut self.b, &mut self.stack, type_index, true);
                self.reachable = false;
            }
            _ => return false,
        }
        true
    }
}
