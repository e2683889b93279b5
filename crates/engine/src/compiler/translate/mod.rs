//! Translation of one wasm function body to Cranelift IR: locals, the operand stack, and
//! structured control flow. Scalar numeric instructions are in `numeric.rs`, `v128` instructions
//! in `simd.rs` (the relaxed ones in `relaxed_simd.rs`), the threads proposal's in `atomics.rs`,
//! 64-bit memory addresses in `memory64.rs`, exception handling in `exceptions.rs`; everything
//! that reads the runtime layout (memories, globals, tables, calls) is in `func_env.rs`, and
//! the execution controls' checks (interrupts, fuel) in `controls.rs`.
#![forbid(unsafe_code)]

mod atomics;
mod controls;
mod exceptions;
mod func_env;
mod memory64;
mod numeric;
mod references;
mod relaxed_simd;
mod simd;

use crate::environ::config::CodeFlavour;
use crate::environ::error::{Error, Result};
use crate::environ::index::FuncIndex;
use crate::environ::info::ModuleInfo;
use crate::environ::trap::Trap;
use crate::environ::types::{FuncType, ValType};
use crate::environ::vmctx::VmOffsets;
use cranelift_codegen::ir::{self, types, AbiParam, ArgumentPurpose, Block, InstBuilder, Value};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_entity::EntityRef;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use wasmparser::{BlockType, FunctionBody, Operator, OperatorsReader};

use controls::ControlChecks;
pub(crate) use func_env::{call_builtin, call_throw, FuncEnv};
pub(crate) use relaxed_simd::RelaxedSimd;

/// The calling convention of every function with the wasm ABI.
pub(crate) const WASM_CALL_CONV: CallConv = CallConv::Tail;

/// The Cranelift signature of a wasm function of type `ty`: `(vmctx, params...) -> results`.
pub(crate) fn wasm_signature(ty: &FuncType) -> ir::Signature {
    let mut sig = ir::Signature::new(WASM_CALL_CONV);
    sig.params.push(AbiParam::special(types::I64, ArgumentPurpose::VMContext));
    sig.params.extend(ty.params().iter().map(|t| AbiParam::new(t.clif())));
    sig.returns.extend(ty.results().iter().map(|t| AbiParam::new(t.clif())));
    sig
}

/// Checks, without translating, that every instruction of every body is one heron compiles.
/// Validation already rejects the proposals heron does not enable; this catches the rest.
pub(crate) fn check_supported(module: &ModuleInfo) -> Result<()> {
    for range in &module.bodies {
        let body = body_reader(module, range.clone());
        let mut reader = body.get_operators_reader()?;
        while !reader.eof() {
            let offset = reader.original_position();
            let op = reader.read()?;
            if let Some(name) = unsupported(&op) {
                return Err(unsupported_error(name, offset));
            }
        }
    }
    Ok(())
}

fn body_reader(module: &ModuleInfo, range: std::ops::Range<usize>) -> FunctionBody<'_> {
    FunctionBody::new(wasmparser::BinaryReader::new(&module.bytes[range.clone()], range.start as u64))
}

fn unsupported_error(name: &str, offset: u64) -> Error {
    Error::compile(format!("unsupported instruction: {name} at offset 0x{offset:x}"), offset)
}

/// Names an instruction that validation accepts but heron cannot yet compile. Every
/// instruction of the proposals `module::features()` enables is compiled today; a proposal
/// enabled before all of its instructions are lists the missing ones here, and then
/// `Module::with_compilation` must call `check_supported` too, since lazy compilation
/// would only meet the instruction at its function's first call.
fn unsupported(_op: &Operator<'_>) -> Option<&'static str> {
    None
}

/// The kind of a control frame and what its end needs.
enum FrameKind {
    Block,
    Loop {
        header: Block,
    },
    /// `else_block` is taken when the condition is false; `params` are the values the
    /// else arm starts with; `head_reachable` says whether the `if` itself was reachable.
    If {
        else_block: Block,
        params: Vec<Value>,
        head_reachable: bool,
        seen_else: bool,
    },
    /// A `try_table`: its body is the scope of the handler at `landing_pad`.
    TryTable {
        landing_pad: Block,
        catches: Vec<wasmparser::Catch>,
    },
    /// A legacy `try`.
    Try(Box<exceptions::LegacyTry>),
}

struct Frame {
    kind: FrameKind,
    /// The block after `end`; its parameters are the frame's results.
    next: Block,
    num_params: usize,
    num_results: usize,
    /// Operand stack height below the frame's parameters.
    height: usize,
    /// Whether anything jumps to `next`.
    next_reached: bool,
}

impl Frame {
    /// The block a branch to this frame goes to, and how many values it carries.
    fn branch_target(&self) -> (Block, usize) {
        match self.kind {
            FrameKind::Loop { header } => (header, self.num_params),
            _ => (self.next, self.num_results),
        }
    }
}

/// Translates one function. Owns the operand stack and control frames of the body.
pub(crate) struct FuncTranslator<'a, 'f> {
    b: FunctionBuilder<'f>,
    env: FuncEnv<'a>,
    stack: Vec<Value>,
    frames: Vec<Frame>,
    locals: Vec<Variable>,
    reachable: bool,
    /// Depth of blocks opened inside unreachable code, skipped until their `end`.
    unreachable_depth: usize,
    /// Interrupt checks and fuel, in the flavours that have them.
    controls: ControlChecks,
    /// How the relaxed SIMD instructions are lowered (fast or deterministic).
    relaxed_simd: RelaxedSimd,
    /// Open frames whose body is a handler's scope (`exceptions.rs`).
    handler_frames: usize,
}

/// Translates defined function `index` (in the function index space) into `func`.
pub(crate) fn translate_function(
    module: &ModuleInfo,
    offsets: &VmOffsets,
    frontend: TargetFrontendConfig,
    index: u32,
    flavour: CodeFlavour,
    relaxed_simd: RelaxedSimd,
    func: &mut ir::Function,
    builder_context: &mut FunctionBuilderContext,
) -> Result<()> {
    let ty = module.func_type(index);
    func.signature = wasm_signature(ty);
    let vmctx = func.create_global_value(ir::GlobalValueData::VMContext);
    let trusted = func.dfg.mem_flags.insert_unchecked(ir::MemFlagsData::trusted());
    let stack_limit = func.create_global_value(ir::GlobalValueData::Load {
        base: vmctx,
        offset: (VmOffsets::stack_limit() as i32).into(),
        global_type: types::I64,
        flags: trusted,
    });
    func.stack_limit = Some(stack_limit);

    let mut b = FunctionBuilder::new(func, builder_context);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let vmctx_value = b.block_params(entry)[0];
    let env = FuncEnv::new(module, offsets, vmctx_value, flavour);
    let controls = ControlChecks::new(&mut b, vmctx_value, flavour);
    let mut t = FuncTranslator {
        b,
        env,
        stack: Vec::new(),
        frames: Vec::new(),
        locals: Vec::new(),
        reachable: true,
        unreachable_depth: 0,
        controls,
        relaxed_simd,
        handler_frames: 0,
    };

    let def_index = module.defined_func(FuncIndex::from_u32(index)).expect("a defined function").index();
    let body = body_reader(module, module.bodies[def_index].clone());
    for (i, param) in ty.params().iter().enumerate() {
        let value = t.b.block_params(entry)[i + 1];
        t.declare_local(*param, Some(value));
    }
    let mut locals = body.get_locals_reader()?;
    for _ in 0..locals.get_count() {
        let (count, ty) = locals.read()?;
        let ty = ValType::from_wasm(ty, locals.original_position())?;
        for _ in 0..count {
            t.declare_local(ty, None);
        }
    }

    let exit = t.b.create_block();
    for result in ty.results() {
        t.b.append_block_param(exit, result.clif());
    }
    t.frames.push(Frame {
        kind: FrameKind::Block,
        next: exit,
        num_params: 0,
        num_results: ty.results().len(),
        height: 0,
        next_reached: false,
    });

    t.controls.function_entry(&mut t.b, body.get_operators_reader()?)?;

    let mut reader: OperatorsReader<'_> = body.get_operators_reader()?;
    while !reader.eof() {
        let offset = reader.original_position();
        let op = reader.read()?;
        // Stack traces map code back to this instruction (its byte offset in the module).
        t.b.set_srcloc(ir::SourceLoc::new(offset as u32));
        t.translate_operator(&op, offset)?;
    }
    // The final `end` switched to `exit` and left the results on the stack.
    if t.reachable {
        let results = std::mem::take(&mut t.stack);
        t.controls.before_return(&mut t.b);
        t.b.ins().return_(&results);
    }
    t.b.finalize(frontend);
    Ok(())
}

impl<'a> FuncTranslator<'a, '_> {
    fn declare_local(&mut self, ty: ValType, init: Option<Value>) {
        let var = self.b.declare_var(ty.clif());
        let value = init.unwrap_or_else(|| match ty {
            ValType::F32 => self.b.ins().f32const(0.0),
            ValType::F64 => self.b.ins().f64const(0.0),
            ValType::V128 => {
                let zero = self.b.ins().iconst(types::I64, 0);
                let wide = self.b.ins().uextend(types::I128, zero);
                self.b.ins().bitcast(
                    types::I8X16,
                    ir::MemFlagsData::new().with_endianness(ir::Endianness::Little),
                    wide,
                )
            }
            other => self.b.ins().iconst(other.clif(), 0),
        });
        self.b.def_var(var, value);
        self.locals.push(var);
    }

    fn pop(&mut self) -> Value {
        self.stack.pop().expect("validated code never underflows the operand stack")
    }

    fn pop_n(&mut self, n: usize) -> Vec<Value> {
        let at = self.stack.len() - n;
        self.stack.split_off(at)
    }

    fn peek_n(&self, n: usize) -> &[Value] {
        &self.stack[self.stack.len() - n..]
    }

    fn block_arity(&self, ty: BlockType) -> (Vec<ir::Type>, Vec<ir::Type>) {
        match ty {
            BlockType::Empty => (vec![], vec![]),
            BlockType::Type(t) => (vec![], vec![ValType::from_wasm(t, 0).map_or(types::I64, |t| t.clif())]),
            BlockType::FuncType(index) => {
                let ty = &self.env.module.types[index as usize];
                (ty.params().iter().map(|t| t.clif()).collect(), ty.results().iter().map(|t| t.clif()).collect())
            }
        }
    }

    fn block_with_params(&mut self, tys: &[ir::Type]) -> Block {
        let block = self.b.create_block();
        for ty in tys {
            self.b.append_block_param(block, *ty);
        }
        block
    }

    fn jump(&mut self, target: Block, args: &[Value]) {
        let args: Vec<ir::BlockArg> = args.iter().map(|v| (*v).into()).collect();
        self.b.ins().jump(target, &args);
    }

    /// Marks the frame `depth` levels up as branched to and returns its target and arity.
    fn branch_to(&mut self, depth: u32) -> (Block, usize) {
        let index = self.frames.len() - 1 - depth as usize;
        let frame = &mut self.frames[index];
        if !matches!(frame.kind, FrameKind::Loop { .. }) {
            frame.next_reached = true;
        }
        frame.branch_target()
    }

    fn translate_operator(&mut self, op: &Operator<'_>, offset: u64) -> Result<()> {
        if !self.reachable {
            return self.translate_unreachable_operator(op);
        }
        self.controls.before_op(&mut self.b, op, &self.stack);
        self.translate_reachable_operator(op, offset)?;
        self.controls.after_op(&mut self.b, op);
        Ok(())
    }

    fn translate_reachable_operator(&mut self, op: &Operator<'_>, offset: u64) -> Result<()> {
        use Operator as O;
        match *op {
            O::Nop => {}
            O::Unreachable => {
                self.b.ins().trap(Trap::Unreachable.to_clif());
                self.reachable = false;
            }
            O::Block { blockty } => {
                let (params, results) = self.block_arity(blockty);
                let next = self.block_with_params(&results);
                self.push_frame(FrameKind::Block, next, params.len(), results.len());
            }
            O::Loop { blockty } => {
                let (params, results) = self.block_arity(blockty);
                let header = self.block_with_params(&params);
                let next = self.block_with_params(&results);
                let args = self.pop_n(params.len());
                self.jump(header, &args);
                self.b.switch_to_block(header);
                self.stack.extend_from_slice(self.b.block_params(header));
                self.controls.loop_header(&mut self.b);
                self.push_frame(FrameKind::Loop { header }, next, params.len(), results.len());
            }
            O::If { blockty } => {
                let condition = self.pop();
                let (params, results) = self.block_arity(blockty);
                let then_block = self.b.create_block();
                let else_block = self.b.create_block();
                let next = self.block_with_params(&results);
                self.b.ins().brif(condition, then_block, &[], else_block, &[]);
                self.b.seal_block(then_block);
                self.b.seal_block(else_block);
                self.b.switch_to_block(then_block);
                let params_values = self.peek_n(params.len()).to_vec();
                let kind = FrameKind::If { else_block, params: params_values, head_reachable: true, seen_else: false };
                self.push_frame(kind, next, params.len(), results.len());
            }
            O::Else => self.translate_else(),
            O::End => self.translate_end(),
            O::TryTable { ref try_table } => self.translate_try_table(try_table),
            O::Throw { tag_index } => self.translate_throw(tag_index),
            O::ThrowRef => self.translate_throw_ref(),
            O::Try { blockty } => self.translate_try(blockty),
            O::Catch { tag_index } => self.translate_catch(Some(tag_index)),
            O::CatchAll => self.translate_catch(None),
            O::Delegate { relative_depth } => self.translate_delegate(relative_depth),
            O::Rethrow { relative_depth } => self.translate_rethrow(relative_depth),
            O::Br { relative_depth } => {
                let (target, arity) = self.branch_to(relative_depth);
                let args = self.peek_n(arity).to_vec();
                self.jump(target, &args);
                self.reachable = false;
            }
            O::BrIf { relative_depth } => {
                let condition = self.pop();
                let (target, arity) = self.branch_to(relative_depth);
                let args: Vec<ir::BlockArg> = self.peek_n(arity).iter().map(|v| (*v).into()).collect();
                let fallthrough = self.b.create_block();
                self.b.ins().brif(condition, target, &args, fallthrough, &[]);
                self.b.seal_block(fallthrough);
                self.b.switch_to_block(fallthrough);
            }
            O::BrTable { ref targets } => self.translate_br_table(targets)?,
            O::Return => {
                let arity = self.frames[0].num_results;
                let results = self.peek_n(arity).to_vec();
                self.controls.before_return(&mut self.b);
                self.b.ins().return_(&results);
                self.reachable = false;
            }
            O::ReturnCall { function_index } => {
                self.env.translate_return_call(&mut self.b, &mut self.stack, function_index);
                self.reachable = false;
            }
            O::ReturnCallIndirect { type_index, table_index } => {
                self.env.translate_return_call_indirect(&mut self.b, &mut self.stack, type_index, table_index);
                self.reachable = false;
            }
            O::Drop => {
                self.pop();
            }
            O::Select | O::TypedSelect { .. } => {
                let condition = self.pop();
                let if_false = self.pop();
                let if_true = self.pop();
                let value = self.b.ins().select(condition, if_true, if_false);
                self.stack.push(value);
            }
            O::LocalGet { local_index } => {
                let value = self.b.use_var(self.locals[local_index as usize]);
                self.stack.push(value);
            }
            O::LocalSet { local_index } => {
                let value = self.pop();
                self.b.def_var(self.locals[local_index as usize], value);
            }
            O::LocalTee { local_index } => {
                let value = *self.stack.last().expect("validated");
                self.b.def_var(self.locals[local_index as usize], value);
            }
            _ => {
                if self.translate_reference_op(op) {
                    return Ok(());
                }
                if numeric::translate_numeric(op, &mut self.b, &mut self.stack)
                    || simd::translate_simd(op, &mut self.b, &mut self.stack, &self.env)
                    || atomics::translate_atomic(op, &mut self.b, &mut self.stack, &self.env)
                    || relaxed_simd::translate_relaxed_simd(
                        op,
                        &mut self.b,
                        &mut self.stack,
                        &self.env,
                        &self.relaxed_simd,
                    )
                {
                    return Ok(());
                }
                self.env.handler = self.current_handler();
                if !self.env.translate_runtime_op(op, &mut self.b, &mut self.stack)? {
                    let name = unsupported(op).unwrap_or("this instruction");
                    return Err(unsupported_error(name, offset));
                }
            }
        }
        Ok(())
    }

    fn push_frame(&mut self, kind: FrameKind, next: Block, num_params: usize, num_results: usize) {
        let height = self.stack.len() - num_params;
        self.frames.push(Frame { kind, next, num_params, num_results, height, next_reached: false });
    }

    /// In unreachable code only the nesting matters, and an `else` or `end` that closes a
    /// reachable frame.
    fn translate_unreachable_operator(&mut self, op: &Operator<'_>) -> Result<()> {
        match *op {
            Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::TryTable { .. }
            | Operator::Try { .. } => self.unreachable_depth += 1,
            Operator::Else if self.unreachable_depth == 0 => self.translate_else(),
            Operator::Catch { tag_index } if self.unreachable_depth == 0 => self.translate_catch(Some(tag_index)),
            Operator::CatchAll if self.unreachable_depth == 0 => self.translate_catch(None),
            Operator::Delegate { relative_depth } if self.unreachable_depth == 0 => {
                self.translate_delegate(relative_depth)
            }
            Operator::End if self.unreachable_depth == 0 => self.translate_end(),
            Operator::End | Operator::Delegate { .. } => self.unreachable_depth -= 1,
            _ => {}
        }
        Ok(())
    }

    fn translate_else(&mut self) {
        let frame = self.frames.last_mut().expect("validated");
        let FrameKind::If { else_block, ref params, head_reachable, ref mut seen_else } = frame.kind else {
            unreachable!("validated: else closes an if")
        };
        *seen_else = true;
        let params = params.clone();
        let (next, num_results, height) = (frame.next, frame.num_results, frame.height);
        if self.reachable {
            frame.next_reached = true;
            let results = self.pop_n(num_results);
            self.jump(next, &results);
        }
        self.stack.truncate(height);
        self.stack.extend(params);
        self.b.switch_to_block(else_block);
        self.reachable = head_reachable;
    }

    fn translate_end(&mut self) {
        let frame = self.frames.pop().expect("validated");
        if self.reachable {
            let results = self.pop_n(frame.num_results);
            self.jump(frame.next, &results);
        }
        let mut next_reached = frame.next_reached || self.reachable;
        match frame.kind {
            FrameKind::Loop { header } => self.b.seal_block(header),
            FrameKind::If { else_block, params, head_reachable, seen_else: false } => {
                // An `if` without `else` passes its parameters through when false.
                self.b.switch_to_block(else_block);
                self.jump(frame.next, &params);
                next_reached |= head_reachable;
            }
            FrameKind::TryTable { landing_pad, ref catches } => self.finish_try_table(landing_pad, catches),
            FrameKind::Try(ref state) => self.finish_try(state),
            _ => {}
        }
        self.b.switch_to_block(frame.next);
        self.b.seal_block(frame.next);
        self.stack.truncate(frame.height);
        self.stack.extend_from_slice(self.b.block_params(frame.next));
        self.reachable = next_reached;
        if !next_reached {
            // Nothing reaches the continuation: keep the IR valid and skip what follows.
            self.b.ins().trap(Trap::Unreachable.to_clif());
        }
    }

    fn translate_br_table(&mut self, targets: &wasmparser::BrTable<'_>) -> Result<()> {
        let index = self.pop();
        let default_depth = targets.default();
        let depths = targets.targets().collect::<std::result::Result<Vec<u32>, _>>()?;
        let (_, arity) = self.branch_to(default_depth);
        let args = self.peek_n(arity).to_vec();
        // Jump tables cannot pass values directly to every target here, so each distinct
        // depth gets an edge block that forwards the branch values.
        let mut edge_for_depth = std::collections::HashMap::new();
        let mut edge = |t: &mut Self, depth: u32| -> Block {
            *edge_for_depth.entry(depth).or_insert_with(|| {
                let (target, _) = t.branch_to(depth);
                if arity == 0 {
                    return target;
                }
                let block = t.b.create_block();
                let current = t.b.current_block().expect("inside a block");
                t.b.switch_to_block(block);
                t.jump(target, &args);
                t.b.seal_block(block);
                t.b.switch_to_block(current);
                block
            })
        };
        let default_block = edge(self, default_depth);
        let table_blocks: Vec<Block> = depths.iter().map(|d| edge(self, *d)).collect();
        let pool = &mut self.b.func.dfg.value_lists;
        let default_call = ir::BlockCall::new(default_block, std::iter::empty(), pool);
        let calls: Vec<ir::BlockCall> =
            table_blocks.iter().map(|b| ir::BlockCall::new(*b, std::iter::empty(), pool)).collect();
        let table = self.b.create_jump_table(ir::JumpTableData::new(default_call, &calls));
        self.b.ins().br_table(index, table);
        self.reachable = false;
        Ok(())
    }
}
