//! JS functions imported by wasm, as engine host functions. Two ways of calling one:
//! - when every parameter is a number (i32, i64, f32, f64), there is at most one result, a
//!   number too, and the thread has call slots (`slots.rs`), the import is called through an
//!   adapter made once per import by `index.js` (`makeImportAdapter`): the host function
//!   stores the arguments in the call slots and calls the adapter without arguments; the
//!   adapter reads them (ToJSValue: an `Int32Array` read gives the Number, a
//!   `BigInt64Array` read the BigInt), calls the import with them, converts its result in
//!   JS (ToWebAssemblyValue, as exported functions convert their arguments) and stores it
//!   in the first slot, where the host function reads it. No N-API value is made or read
//!   per argument or result;
//! - otherwise the host function converts natively and calls the JS function itself with
//!   its arguments.
//!
//! Either way one `napi_call_function` remains per call: V8's `Function::Call` is the only
//! way from native code into JS. If the JS function (or a conversion) throws, the exception
//! is taken out of N-API and unwinds through the wasm frames as a wasm exception
//! (`exception.rs`), which wasm handlers may catch; one that reaches the outermost export
//! is thrown from there as the very value the import threw.
//!
//! The call slots are shared with exported functions: the adapter reads every argument
//! before calling the import (which may call exports that overwrite them) and converts the
//! result before storing it, and the host function reads it back before anything else runs.
//! What it reads is any bits of a numeric type, all valid.

use crate::convert::{to_js, to_wasm};
use crate::error::{self, Pending};
use crate::exception::exception_from_js;
use crate::export::{self, INLINE_SLOTS};
use crate::napi_raw::{Env, Reference, Value};
use crate::scope::import_scope;
use crate::slots::{CallSlots, SLOT_COUNT};
use heron_engine::{Engine, Func, FuncType, ValRaw, ValType};
use napi::bindgen_prelude::Unknown;
use napi::sys;
use napi_derive::napi;
use std::cell::Cell;

thread_local! {
    /// `makeImportAdapter(callee, signature)` from `index.js`, registered by the thread's
    /// first `setImportSupport` (a strong reference, kept for the env's lifetime).
    static MAKE_ADAPTER: Cell<Option<Reference>> = const { Cell::new(None) };
}

/// Registers `index.js`'s maker of import adapters (see the module comment) for this thread.
/// Only the first registration counts: later evaluations of `index.js` on the thread make
/// adapters that write where the first one's call slots are, which is the same memory.
#[napi(ts_args_type = "makeAdapter: (callee: Function, signature: string) => Function")]
pub fn set_import_support(env: &napi::Env, make_adapter: Unknown<'_>) -> napi::Result<()> {
    if MAKE_ADAPTER.with(Cell::get).is_some() {
        return Ok(());
    }
    let env = Env::of(env);
    let reference = env
        .reference(Value::of(&make_adapter), 1)
        .ok_or_else(|| napi::Error::from_reason("cannot set up imported functions"))?;
    MAKE_ADAPTER.with(|make| make.set(Some(reference)));
    Ok(())
}

/// A JS function held for wasm to call. Dropped with the engine's host function.
struct JsCallee {
    env: Env,
    /// The import's adapter if `slots` is set, else the import itself.
    function: Reference,
    /// The thread's call slots, through which the adapter takes arguments and gives the
    /// result (they live as long as the process).
    slots: Option<&'static CallSlots>,
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
    let (function, slots) = match adapter(env, Value(function), &ty)? {
        Some((adapter, slots)) => (adapter, Some(slots)),
        None => (Value(function), None),
    };
    let reference = env.reference(function, 1).ok_or(Pending)?;
    let callee = JsCallee { env, function: reference, slots };
    let params: Box<[ValType]> = ty.params().into();
    let results: Box<[ValType]> = ty.results().into();
    Ok(Func::new_raw(engine, ty, move |slots| {
        // SAFETY: wasm calls imports only on the thread running it, inside a JS call on
        // `callee.env`, so the env and reference are valid here.
        unsafe { call_js(&callee, &params, &results, slots) }.map_err(|Pending| exception_from_js(callee.env))
    }))
}

/// The adapter `index.js` makes for `function` if its signature `ty` takes the slot path
/// (see the module comment), with the call slots it uses.
fn adapter(env: Env, function: Value, ty: &FuncType) -> Result<Option<(Value, &'static CallSlots)>, Pending> {
    let numeric = ty.params().iter().chain(ty.results()).all(|t| export::type_letter(*t) != 'x');
    if !numeric || ty.results().len() > 1 || ty.params().len() > SLOT_COUNT {
        return Ok(None);
    }
    let (Some(make), Some(slots)) = (MAKE_ADAPTER.with(Cell::get), export::call_slots()) else {
        return Ok(None);
    };
    let params: String = ty.params().iter().map(|t| export::type_letter(*t)).collect();
    let results: String = ty.results().iter().map(|t| export::type_letter(*t)).collect();
    let make = env.reference_value(make).ok_or(Pending)?;
    let adapter = env.call(env.undefined(), make, &[function, env.string(&format!("{params}:{results}"))])?;
    Ok(Some((adapter, slots)))
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
    let outcome = match callee.slots {
        Some(call_slots) => call_adapter(callee, call_slots, params, results, slots),
        // SAFETY: per this function's contract.
        None => unsafe { call_converting(callee, params, results, slots) },
    };
    if let Some(scope) = own_scope {
        // SAFETY: opened by `import_scope` for this call, innermost, and nothing created in
        // it is used after this.
        unsafe { env.close_handle_scope(scope) };
    }
    outcome
}

/// Calls the import's adapter, which takes the `params` arguments from the call slots and
/// leaves its `results` (at most one) there.
#[inline(always)]
fn call_adapter(
    callee: &JsCallee,
    call_slots: &CallSlots,
    params: &[ValType],
    results: &[ValType],
    slots: &mut [ValRaw],
) -> Result<(), Pending> {
    let env = callee.env;
    call_slots.write_values(&slots[..params.len()], params);
    let adapter = env.reference_value(callee.function).ok_or(Pending)?;
    env.call(env.undefined(), adapter, &[])?;
    call_slots.read_values(&mut slots[..results.len()], results);
    Ok(())
}

/// Converts the arguments natively, calls the import with them and converts what it returns.
///
/// # Safety
/// `callee.env` must be the current JS environment, on its own thread.
unsafe fn call_converting(
    callee: &JsCallee,
    params: &[ValType],
    results: &[ValType],
    slots: &mut [ValRaw],
) -> Result<(), Pending> {
    let env = callee.env;
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
