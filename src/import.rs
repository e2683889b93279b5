//! JS functions imported by wasm, as engine host functions: each converts its arguments
//! and calls the JS function with `napi_call_function`. If the JS function throws, the
//! exception is taken out of N-API and unwinds through the wasm frames as a wasm exception
//! (`exception.rs`), which wasm handlers may catch; one that reaches the outermost export
//! is thrown from there as the very value the import threw.

use crate::convert::{to_js, to_wasm};
use crate::error::{self, Pending};
use crate::exception::exception_from_js;
use crate::export::INLINE_SLOTS;
use crate::napi_raw::{Env, Reference, Value};
use crate::scope::import_scope;
use heron_engine::{Engine, Func, FuncType, ValRaw, ValType};
use napi::sys;

/// A JS function held for wasm to call. Dropped with the engine's host function.
struct JsCallee {
    env: Env,
    function: Reference,
}

impl Drop for JsCallee {
    fn drop(&mut self) {
        // SAFETY: the reference was created on `env`, on this thread, and is deleted once.
        unsafe { self.env.delete_reference(self.function) };
    }
}

/// Wraps the JS function `function` as an engine host function of type `ty`.
pub(crate) fn host_function(
    env: sys::napi_env,
    engine: &Engine,
    function: sys::napi_value,
    ty: FuncType,
) -> Result<Func, Pending> {
    // SAFETY: called by `instantiate` with the env of its call.
    let env = unsafe { Env::from_raw(env) };
    let reference = env.reference(Value(function), 1).ok_or(Pending)?;
    let callee = JsCallee { env, function: reference };
    let params: Box<[ValType]> = ty.params().into();
    let results: Box<[ValType]> = ty.results().into();
    Ok(Func::new_raw(engine, ty, move |slots| {
        // SAFETY: wasm calls imports only on the thread running it, inside a JS call on
        // `callee.env`, so the env and reference are valid here.
        unsafe { call_js(&callee, &params, &results, slots) }.map_err(|Pending| exception_from_js(callee.env))
    }))
}

/// # Safety
/// `callee.env` must be the current JS environment, on its own thread.
unsafe fn call_js(
    callee: &JsCallee,
    params: &[ValType],
    results: &[ValType],
    slots: &mut [ValRaw],
) -> Result<(), Pending> {
    let env = callee.env;
    // SAFETY: per this function's contract; values created here live in the scope
    // `import_scope` provides, and need not outlive this call.
    let own_scope = unsafe { import_scope(env) };
    let outcome = (|| {
        let mut argv = [Value(std::ptr::null_mut()); INLINE_SLOTS];
        let mut heap_argv = Vec::new();
        let argv: &mut [Value] = if params.len() <= INLINE_SLOTS {
            &mut argv[..params.len()]
        } else {
            heap_argv.resize(params.len(), Value(std::ptr::null_mut()));
            &mut heap_argv
        };
        for (i, ty) in params.iter().enumerate() {
            // SAFETY: the current env.
            argv[i] = Value(unsafe { to_js(env.raw(), &slots[i], *ty) }?);
        }
        let function = env.reference_value(callee.function).ok_or(Pending)?;
        let returned = env.call(env.undefined(), function, argv)?;
        match results.len() {
            0 => Ok(()),
            // SAFETY: the current env and a value it just returned.
            1 => unsafe { to_wasm(env.raw(), returned.0, results[0], &mut slots[0]) },
            n => read_results(env, returned, results, &mut slots[..n]),
        }
    })();
    if let Some(scope) = own_scope {
        // SAFETY: opened by `import_scope` for this call, innermost, and nothing created in
        // it is used after this.
        unsafe { env.close_handle_scope(scope) };
    }
    outcome
}

/// Several results come back as an iterable (IterableToList), whose length must match.
fn read_results(env: Env, returned: Value, results: &[ValType], slots: &mut [ValRaw]) -> Result<(), Pending> {
    let global = env.global();
    let array_class = env.get_named(global, c"Array")?;
    let from = env.get_named(array_class, c"from")?;
    let list = env.call(array_class, from, &[returned])?;
    if env.array_length(list) as usize != results.len() {
        return Err(error::throw_type_error(env.raw(), "the import returned the wrong number of results"));
    }
    for (i, ty) in results.iter().enumerate() {
        let element = env.get_element(list, i as u32)?;
        // SAFETY: the current env and a value it just returned.
        unsafe { to_wasm(env.raw(), element.0, *ty, &mut slots[i]) }?;
    }
    Ok(())
}
