//! From `ModuleInfo` to loaded machine code: a set of defined functions is translated and
//! compiled (on all cores, or on the calling thread), then the results are loaded into one
//! `CodeMemory`. `lazy.rs` decides which functions and when. Also builds the per-signature
//! trampolines between the host's calling convention and wasm's.

use crate::code_memory::{CodeMemory, CompiledFunction};
use crate::engine::{Engine, Trampolines};
use crate::error::{Error, Result};
use crate::libcalls;
use crate::memory::BoundsChecks;
use crate::module::ModuleInfo;
use crate::translate::{self, wasm_signature};
use crate::trap::Trap;
use crate::types::FuncType;
use crate::vmctx::VmOffsets;
use cranelift_codegen::ir::{self, types, AbiParam, InstBuilder, MemFlagsData};
use cranelift_codegen::isa::CallConv;
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use rayon::prelude::*;

/// Size of one `ValRaw` slot in the array convention.
const SLOT: i32 = 16;

/// Which of the engine's two compilers to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tier {
    /// Fast to compile, slower to run: for a function's first calls while the optimized
    /// code is not ready (see `lazy.rs`).
    Baseline,
    /// Cranelift's optimizer and best register allocator.
    Optimized,
}

/// Compiles defined functions `defined` (indices among defined functions) of `info` with
/// `tier`, for memories checked as `bounds_checks` says, and loads them, in that order, into
/// one `CodeMemory`; in parallel on rayon's pool if `parallel`, else on the calling thread.
pub(crate) fn compile_functions(
    engine: &Engine,
    info: &ModuleInfo,
    offsets: &VmOffsets,
    bounds_checks: BoundsChecks,
    tier: Tier,
    defined: &[usize],
    parallel: bool,
) -> Result<CodeMemory> {
    let compile_one = |(context, builder_context): &mut (Context, FunctionBuilderContext), defined: usize| {
        context.clear();
        let index = info.num_imported_funcs + defined as u32;
        let frontend = engine.isa().frontend_config();
        translate::translate_function(
            info,
            offsets,
            frontend,
            index,
            bounds_checks,
            &mut context.func,
            builder_context,
        )?;
        finish(engine, tier, context, info.bodies[defined].start as u64)
    };
    let new_contexts = || (Context::new(), FunctionBuilderContext::new());
    let compiled = if parallel {
        defined
            .par_iter()
            .map_init(new_contexts, |contexts, &d| compile_one(contexts, d))
            .collect::<Result<Vec<_>>>()?
    } else {
        let mut contexts = new_contexts();
        defined.iter().map(|&d| compile_one(&mut contexts, d)).collect::<Result<Vec<_>>>()?
    };
    CodeMemory::load(engine, compiled)
}

/// Compiles the function in `context` and takes its code and trap sites.
fn finish(engine: &Engine, tier: Tier, context: &mut Context, offset: u64) -> Result<CompiledFunction> {
    let code = context
        .compile(engine.isa_for(tier), &mut Default::default())
        .map_err(|e| Error::compile(format!("code generation failed: {:?}", e.inner), offset))?;
    if !code.buffer.relocs().is_empty() {
        return Err(Error::compile("code generation needs a relocation heron does not support", offset));
    }
    let traps =
        code.buffer.traps().iter().filter_map(|t| Trap::from_clif(t.code).map(|trap| (t.offset, trap))).collect();
    Ok(CompiledFunction { bytes: code.code_buffer().to_vec(), alignment: code.buffer.alignment as u64, traps })
}

/// Builds and loads the two trampolines of signature `ty`.
pub(crate) fn compile_trampolines(engine: &Engine, ty: &FuncType) -> Result<(CodeMemory, Trampolines)> {
    let mut context = Context::new();
    let mut builder_context = FunctionBuilderContext::new();
    let frontend = engine.isa().frontend_config();
    build_array_call(ty, &mut context.func, &mut builder_context, frontend);
    let array_call = finish(engine, Tier::Optimized, &mut context, 0)?;
    context.clear();
    build_host_call(ty, &mut context.func, &mut builder_context, frontend);
    let host_call = finish(engine, Tier::Optimized, &mut context, 0)?;
    let code = CodeMemory::load(engine, vec![array_call, host_call])?;
    let trampolines = Trampolines { array_call: code.function(0), host_call: code.function(1) };
    Ok((code, trampolines))
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
/// stack array, calls `libcalls::host_call` with the host function's context, traps with
/// `Trap::HostError` if the host failed, and returns the results from the array.
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
    let mut sig = ir::Signature::new(CallConv::SystemV);
    sig.params.extend([AbiParam::new(types::I64), AbiParam::new(types::I64)]);
    sig.returns.push(AbiParam::new(types::I32));
    let sig = b.import_signature(sig);
    let callee = b.ins().iconst(types::I64, libcalls::host_call_address() as i64);
    let call = b.ins().call_indirect(sig, callee, &[params[0], values]);
    let failed = b.inst_results(call)[0];
    b.ins().trapnz(failed, Trap::HostError.to_clif());
    let results: Vec<_> = ty
        .results()
        .iter()
        .enumerate()
        .map(|(i, result)| b.ins().load(result.clif(), MemFlagsData::trusted(), values, i as i32 * SLOT))
        .collect();
    b.ins().return_(&results);
    b.finalize(frontend);
}
