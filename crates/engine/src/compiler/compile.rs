//! Per function: translate a body to CLIF (`translate/`), compile it with Cranelift, and
//! collect its machine code and trap sites. Compiled code has no relocations: it reaches
//! everything through its `vmctx` (see `environ/vmctx.rs`), so the bytes do not depend on
//! where anything lives in this process.

use super::translate;
use crate::environ::compiled::{CompiledFunction, ExceptionHandler};
use crate::environ::config::CodeFlavour;
use crate::environ::error::{Error, Result};
use crate::environ::index::DefinedFuncIndex;
use crate::environ::info::ModuleInfo;
use crate::environ::trap::Trap;
use crate::environ::vmctx::VmOffsets;
use cranelift_codegen::isa::TargetIsa;
use cranelift_codegen::Context;
use cranelift_codegen::FinalizedMachExceptionHandler;
use cranelift_entity::EntityRef;
use cranelift_frontend::FunctionBuilderContext;
use rayon::prelude::*;

/// Compiles defined functions `defined` (indices among defined functions) of `info` with
/// `isa` (the tier's), as flavour `flavour` (bounds checks, interrupt checks, fuel), and returns their code
/// in that order; in parallel on rayon's pool if `parallel`, else on the calling thread.
/// `deterministic` code gives the relaxed SIMD instructions their deterministic semantics.
pub(crate) fn compile_functions(
    isa: &dyn TargetIsa,
    deterministic: bool,
    info: &ModuleInfo,
    offsets: &VmOffsets,
    flavour: CodeFlavour,
    defined: &[usize],
    parallel: bool,
) -> Result<Vec<CompiledFunction>> {
    let relaxed_simd = translate::RelaxedSimd::new(isa, deterministic);
    let compile_one = |(context, builder_context): &mut (Context, FunctionBuilderContext), defined: usize| {
        context.clear();
        let index = info.func_index(DefinedFuncIndex::new(defined)).as_u32();
        let frontend = isa.frontend_config();
        translate::translate_function(
            info,
            offsets,
            frontend,
            index,
            flavour,
            relaxed_simd,
            &mut context.func,
            builder_context,
        )?;
        let mut compiled = finish(isa, context, info.bodies[defined].start as u64)?;
        compiled.func_index = Some(index);
        Ok(compiled)
    };
    let new_contexts = || (Context::new(), FunctionBuilderContext::new());
    if parallel {
        defined.par_iter().map_init(new_contexts, |contexts, &d| compile_one(contexts, d)).collect::<Result<Vec<_>>>()
    } else {
        let mut contexts = new_contexts();
        defined.iter().map(|&d| compile_one(&mut contexts, d)).collect::<Result<Vec<_>>>()
    }
}

/// Compiles the function in `context` and takes its code, trap sites, exception handlers
/// and source locations (the caller sets `func_index`). `offset` is the body's in the module.
pub(super) fn finish(isa: &dyn TargetIsa, context: &mut Context, offset: u64) -> Result<CompiledFunction> {
    let code = context
        .compile(isa, &mut Default::default())
        .map_err(|e| Error::compile(format!("code generation failed: {:?}", e.inner), offset))?;
    if !code.buffer.relocs().is_empty() {
        return Err(Error::compile("code generation needs a relocation heron does not support", offset));
    }
    let traps =
        code.buffer.traps().iter().filter_map(|t| Trap::from_clif(t.code).map(|trap| (t.offset, trap))).collect();
    // Code without a wasm instruction's location is the prologue (whose stack check traps
    // on overflow, out of line) and the entry's checks: located at the body's start, as V8
    // locates them.
    let srclocs = code
        .buffer
        .get_srclocs_sorted()
        .iter()
        .map(|s| (s.start, if s.loc.is_default() { offset as u32 } else { s.loc.bits() }))
        .collect();
    let mut handlers = Vec::new();
    for site in code.buffer.call_sites() {
        // heron's landing pads catch everything (see `runtime/throw.rs`): one per call site.
        let Some(landing_pad) = site.exception_handlers.iter().find_map(|h| match h {
            FinalizedMachExceptionHandler::Default(offset) => Some(*offset),
            _ => None,
        }) else {
            continue;
        };
        let frame_offset = site
            .frame_offset
            .ok_or_else(|| Error::compile("code generation gave no frame offset for a call with a handler", offset))?;
        handlers.push(ExceptionHandler { return_address: site.ret_addr, landing_pad, frame_offset });
    }
    handlers.sort_by_key(|h| h.return_address);
    Ok(CompiledFunction {
        bytes: code.code_buffer().to_vec(),
        alignment: code.buffer.alignment as u64,
        traps,
        func_index: None,
        srclocs,
        handlers,
    })
}
