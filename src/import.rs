//! JS functions imported by wasm, as engine host functions: each converts its arguments
//! and calls the JS function with `napi_call_function`. If the JS function throws, the
//! exception stays pending, the wasm frames unwind, and the outermost export returns with
//! that very exception.

use crate::convert::{to_js, to_wasm};
use crate::error::{self, Pending};
use crate::export::{undefined, INLINE_SLOTS};
use crate::scope::import_scope;
use heron_engine::{Engine, Func, FuncType, HostError, ValRaw, ValType};
use napi::sys;
use std::ptr;

/// A JS function held for wasm to call. Dropped with the engine's host function.
struct JsCallee {
    env: sys::napi_env,
    function: sys::napi_ref,
}

impl Drop for JsCallee {
    fn drop(&mut self) {
        // SAFETY: the reference was created on `env`, on this thread, and is deleted once.
        unsafe { sys::napi_delete_reference(self.env, self.function) };
    }
}

/// Wraps the JS function `function` as an engine host function of type `ty`.
pub(crate) fn host_function(
    env: sys::napi_env,
    engine: &Engine,
    function: sys::napi_value,
    ty: FuncType,
) -> Result<Func, Pending> {
    let mut reference = ptr::null_mut();
    // SAFETY: a strong reference to a live function of this env.
    if unsafe { sys::napi_create_reference(env, function, 1, &mut reference) } != sys::Status::napi_ok {
        return Err(Pending);
    }
    let callee = JsCallee { env, function: reference };
    let params: Box<[ValType]> = ty.params().into();
    let results: Box<[ValType]> = ty.results().into();
    Ok(Func::new_raw(engine, ty, move |slots| {
        // SAFETY: wasm calls imports only on the thread running it, inside a JS call on
        // `callee.env`, so the env and reference are valid here.
        unsafe { call_js(&callee, &params, &results, slots) }.map_err(|Pending| HostError::opaque())
    }))
}


/// # Safety
/// `env` must be the current JS environment, on its own thread, and every value passed a live value of it.
unsafe fn call_js(
    callee: &JsCallee,
    params: &[ValType],
    results: &[ValType],
    slots: &mut [ValRaw],
) -> Result<(), Pending> {
    let env = callee.env;
    // SAFETY: (whole body) see `host_function`; values created here live in the scope
    // `import_scope` provides, and need not outlive this call.
    unsafe {
        let own_scope = import_scope(env);
        let outcome = (|| {
            let mut argv = [ptr::null_mut(); INLINE_SLOTS];
            let mut heap_argv = Vec::new();
            let argv: &mut [sys::napi_value] = if params.len() <= INLINE_SLOTS {
                &mut argv[..params.len()]
            } else {
                heap_argv.resize(params.len(), ptr::null_mut());
                &mut heap_argv
            };
            for (i, ty) in params.iter().enumerate() {
                argv[i] = to_js(env, &slots[i], *ty)?;
            }
            let mut function = ptr::null_mut();
            sys::napi_get_reference_value(env, callee.function, &mut function);
            let receiver = undefined(env);
            let mut returned = ptr::null_mut();
            let status = sys::napi_call_function(env, receiver, function, argv.len(), argv.as_ptr(), &mut returned);
            if status != sys::Status::napi_ok {
                return Err(Pending);
            }
            match results.len() {
                0 => Ok(()),
                1 => {
                    to_wasm(env, returned, results[0], &mut slots[0])?;
                    Ok(())
                }
                n => read_results(env, returned, results, &mut slots[..n]),
            }
        })();
        if let Some(scope) = own_scope {
            sys::napi_close_handle_scope(env, scope);
        }
        outcome
    }
}

/// Several results come back as an iterable (IterableToList), whose length must match.
/// # Safety
/// `env` must be the current JS environment, on its own thread, and every value passed a live value of it.
unsafe fn read_results(
    env: sys::napi_env,
    returned: sys::napi_value,
    results: &[ValType],
    slots: &mut [ValRaw],
) -> Result<(), Pending> {
    // SAFETY: see `call_js`.
    unsafe {
        let mut global = ptr::null_mut();
        sys::napi_get_global(env, &mut global);
        let mut array_class = ptr::null_mut();
        sys::napi_get_named_property(env, global, c"Array".as_ptr(), &mut array_class);
        let mut from = ptr::null_mut();
        sys::napi_get_named_property(env, array_class, c"from".as_ptr(), &mut from);
        let mut list = ptr::null_mut();
        if sys::napi_call_function(env, array_class, from, 1, &returned, &mut list) != sys::Status::napi_ok {
            return Err(Pending);
        }
        let mut length = 0u32;
        sys::napi_get_array_length(env, list, &mut length);
        if length as usize != results.len() {
            return Err(error::throw_type_error(env, "the import returned the wrong number of results"));
        }
        for (i, ty) in results.iter().enumerate() {
            let mut element = ptr::null_mut();
            sys::napi_get_element(env, list, i as u32, &mut element);
            to_wasm(env, element, *ty, &mut slots[i])?;
        }
        Ok(())
    }
}
