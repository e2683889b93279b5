//! The per-signature trampolines between the host's calling convention and wasm's: the
//! array-call entry the host enters wasm through (`runtime/entry.rs`), and the host-call
//! function wasm calls a host function through.

use super::compile::finish;
use super::translate::{call_builtin, call_throw, wasm_signature};
use crate::environ::builtins::Builtin;
use crate::environ::compiled::CompiledFunction;
use crate::environ::error::Result;
use crate::environ::types::FuncType;
use cranelift_codegen::ir::{self, types, AbiParam, InstBuilder, MemFlagsData};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

/// Size of one `ValRaw` slot in the array convention.
const SLOT: i32 = 16;

/// Compiles the two trampolines of signature `ty` with `isa` (the optimizing tier's): the
/// array-call entry (host -> wasm) first, then the host-call function (wasm -> host).
pub(crate) fn compile_trampolines(isa: &dyn TargetIsa, ty: &FuncType) -> Result<[CompiledFunction; 2]> {
    let mut context = Context::new();
    let mut builder_context = FunctionBuilderContext::new();
    let frontend = isa.frontend_config();
    build_array_call(ty, &mut context.func, &mut builder_context, frontend);
    let array_call = finish(isa, &mut context, 0)?;
    context.clear();
    build_host_call(ty, &mut context.func, &mut builder_context, frontend);
    let host_call = finish(isa, &mut context, 0)?;
    Ok([array_call, host_call])
}

/// `extern "C" fn(wasm_call, vmctx, values: *mut ValRaw)`: reads the arguments from `values`,
/// calls the wasm function, and writes its results back to `values`.
fn build_array_call(
    ty: &FuncType,
    func: &mut ir::Function,
    builder_context: &mut FunctionBuilderContext,
    frontend: cranelift_codegen::isa::TargetFrontendConfig,
) {
    let mut sig = ir::Signature::new(CallConv::SystemV);
    sig.params.extend([AbiParam::new(types::I64), AbiParam::new(types::I64), AbiParam::new(types::I64)]);
    func.signature = sig;
    let mut b = FunctionBuilder::new(func, builder_context);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let [wasm_call, vmctx, values] = b.block_params(entry) else { unreachable!("three parameters") };
    let (wasm_call, vmctx, values) = (*wasm_call, *vmctx, *values);
    let mut args = vec![vmctx];
    for (i, param) in ty.params().iter().enumerate() {
        args.push(b.ins().load(param.clif(), MemFlagsData::trusted(), values, i as i32 * SLOT));
    }
    let callee_sig = b.import_signature(wasm_signature(ty));
    let call = b.ins().call_indirect(callee_sig, wasm_call, &args);
    let results = b.inst_results(call).to_vec();
    for (i, result) in results.into_iter().enumerate() {
        b.ins().store(MemFlagsData::trusted(), result, values, i as i32 * SLOT);
    }
    b.ins().return_(&[]);
    b.finalize(frontend);
}

/// A function with the wasm convention for signature `ty` that spills its arguments to a
/// stack array, calls the `host_call` builtin with the host function's context, throws the
/// exception it returns if the host failed, and returns the results from the array.
fn build_host_call(
    ty: &FuncType,
    func: &mut ir::Function,
    builder_context: &mut FunctionBuilderContext,
    frontend: cranelift_codegen::isa::TargetFrontendConfig,
) {
    func.signature = wasm_signature(ty);
    let slots = ty.params().len().max(ty.results().len()).max(1) as u32;
    let mut b = FunctionBuilder::new(func, builder_context);
    let array =
        b.create_sized_stack_slot(ir::StackSlotData::new(ir::StackSlotKind::ExplicitSlot, slots * SLOT as u32, 4));
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry).to_vec();
    let values = b.ins().stack_addr(types::I64, array, 0);
    for (i, param) in params[1..].iter().enumerate() {
        b.ins().store(MemFlagsData::trusted(), *param, values, i as i32 * SLOT);
    }
    // The host function's context holds the builtins table like an instance's.
    let exception = call_builtin(&mut b, params[0], Builtin::host_call, &[params[0], values])
        .expect("host_call returns the exception to throw, or null");
    let failed = b.create_block();
    let succeeded = b.create_block();
    b.ins().brif(exception, failed, &[], succeeded, &[]);
    b.switch_to_block(failed);
    b.seal_block(failed);
    b.set_cold_block(failed);
    // Thrown from here, the exception reaches the caller's handlers, if any.
    call_throw(&mut b, params[0], exception, None);
    b.switch_to_block(succeeded);
    b.seal_block(succeeded);
    let results: Vec<_> = ty
        .results()
        .iter()
        .enumerate()
        .map(|(i, result)| b.ins().load(result.clif(), MemFlagsData::trusted(), values, i as i32 * SLOT))
        .collect();
    b.ins().return_(&results);
    b.finalize(frontend);
}
