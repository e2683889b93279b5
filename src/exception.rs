//! Tags and exceptions at the JS boundary: `NativeTag` and `NativeException`, the native
//! sides of `WebAssembly.Tag` and `WebAssembly.Exception`, and the two crossings of the
//! JS API's exception rules:
//!
//! - a JS exception thrown by an import (`exception_from_js`) is taken out of N-API (it is
//!   no longer pending) and enters wasm as an exception: a `WebAssembly.Exception` as the
//!   very exception it wraps, any other value as a `JSTag` exception carrying the value as
//!   its `externref`, so `catch_all`, `catch $JSTag` and `throw_ref` all see it;
//! - a wasm exception reaching JS (`throw_exception`) is thrown as its `JSTag` payload if it
//!   has that tag (the original JS value), else as the `WebAssembly.Exception` standing for
//!   it, which `index.js` keeps one of per exception (its cache), so identity holds both ways.
//!
//! Memory: payload values are converted like any value entering wasm (`convert.rs`): an
//! `externref` payload, and every JS value thrown through wasm, takes a slot of
//! `externref.rs` for the thread's lifetime, and the engine never frees exception objects
//! (`runtime/exception.rs`); both wait for a collector (the GC issue).

use crate::convert::{self, value_type, value_type_name};
use crate::error::{self, Pending};
use crate::externref;
use crate::link;
use crate::napi_raw::{Env as RawEnv, Reference, Value};
use heron_engine::{Exception, Extern, FuncType, HeapType, HostError, Tag, Val, ValType};
use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

thread_local! {
    /// `index.js`'s `exceptionObjectFor(nativeException)` (the cached or a new
    /// `WebAssembly.Exception`) and `nativeExceptionOf(value)` (the identity of its
    /// exception, or undefined for any other value), set by `setExceptionSupport`.
    static HOOKS: Cell<Option<(Reference, Reference)>> = const { Cell::new(None) };
    /// Every exception a `NativeException` was made for on this thread, by identity, so that
    /// one a JS import throws is found from the identity `nativeExceptionOf` reads. Entries
    /// stay: the engine never frees an exception either (see the module doc).
    static BY_IDENTITY: RefCell<HashMap<usize, Exception>> = RefCell::new(HashMap::new());
}

/// Registers `index.js`'s functions that map exceptions to their JS objects and back.
#[napi]
pub fn set_exception_support(env: Env, exception_object_for: Unknown, native_exception_of: Unknown) -> Result<()> {
    let env = RawEnv::of(&env);
    let failed = || Error::new(Status::GenericFailure, "cannot reference the exception hooks");
    // Strong references, kept for the env's lifetime.
    let to = env.reference(Value::of(&exception_object_for), 1).ok_or_else(failed)?;
    let from = env.reference(Value::of(&native_exception_of), 1).ok_or_else(failed)?;
    HOOKS.with(|hooks| hooks.set(Some((to, from))));
    Ok(())
}

/// An exception tag and its link id.
#[napi]
pub struct NativeTag {
    pub(crate) inner: Tag,
    link_id: u32,
}

impl NativeTag {
    pub(crate) fn wrap(inner: Tag) -> NativeTag {
        NativeTag { link_id: link::register(Extern::Tag(inner.clone())), inner }
    }
}

#[napi]
impl NativeTag {
    /// A new tag whose exceptions carry values of the named types ("i32", "externref", ...;
    /// `index.js` has checked the names).
    #[napi(constructor)]
    pub fn new(env: Env, parameters: Vec<String>) -> Result<Self> {
        let mut types = Vec::with_capacity(parameters.len());
        for name in &parameters {
            let ty = value_type(name).ok_or_else(|| {
                Error::from(error::throw_type_error(env.raw(), &format!("unknown value type {name}")))
            })?;
            types.push(ty);
        }
        Ok(NativeTag::wrap(Tag::new(FuncType::new(types, []))))
    }

    /// The tag of JS exceptions thrown through wasm (`WebAssembly.JSTag`).
    #[napi(factory)]
    pub fn js_tag() -> Self {
        NativeTag::wrap(Tag::host())
    }

    /// The id under which `instantiate` accepts this tag as an import.
    #[napi]
    pub fn link_id(&self) -> u32 {
        self.link_id
    }

    /// Identifies the underlying tag: equal for every wrapper of the same tag.
    #[napi]
    pub fn identity(&self) -> f64 {
        self.inner.id() as f64
    }
}

impl Drop for NativeTag {
    fn drop(&mut self) {
        link::unregister(self.link_id);
    }
}

/// A wasm exception, as `WebAssembly.Exception` wraps it.
#[napi]
pub struct NativeException {
    inner: Exception,
}

impl NativeException {
    fn wrap(inner: Exception) -> NativeException {
        BY_IDENTITY.with(|map| map.borrow_mut().insert(inner.id(), inner));
        NativeException { inner }
    }
}

#[napi]
impl NativeException {
    /// A new exception of `tag` carrying `payload` converted by ToWebAssemblyValue; a
    /// TypeError for `JSTag`, a payload of the wrong length, or a `v128`/`exnref` parameter.
    #[napi(constructor)]
    pub fn new(env: Env, tag: &NativeTag, payload: Vec<Unknown>) -> Result<Self> {
        let env = env.raw();
        let tag = &tag.inner;
        if tag.same(&Tag::host()) {
            return Err(
                error::throw_type_error(env, "WebAssembly.Exception(): the tag cannot be WebAssembly.JSTag").into()
            );
        }
        let types = tag.ty().params();
        if payload.len() != types.len() {
            let message = format!(
                "WebAssembly.Exception(): the tag takes {} values, the payload has {}",
                types.len(),
                payload.len()
            );
            return Err(error::throw_type_error(env, &message).into());
        }
        let mut values = Vec::with_capacity(types.len());
        for (value, ty) in payload.iter().zip(types) {
            if *ty == ValType::V128 || ty.as_ref_type().is_some_and(|r| r.heap.top() == HeapType::Exn) {
                let message = format!("WebAssembly.Exception(): a {} value cannot come from JS", value_type_name(*ty));
                return Err(error::throw_type_error(env, &message).into());
            }
            // SAFETY: `value` is a live argument of this call on `env`.
            values.push(unsafe { convert::to_val(env, value.raw(), *ty) }?);
        }
        let inner = Exception::new(tag, &values).map_err(|e| Error::from(error::throw(env, e)))?;
        Ok(NativeException::wrap(inner))
    }

    /// Identifies the underlying exception: equal for every wrapper of the same exception.
    #[napi]
    pub fn identity(&self) -> f64 {
        self.inner.id() as f64
    }

    /// Whether the exception has `tag`.
    #[napi]
    pub fn is(&self, tag: &NativeTag) -> bool {
        self.inner.tag().same(&tag.inner)
    }

    /// Value `index` of the payload, by ToJSValue: a RangeError past the end, a TypeError
    /// for a `v128` or `exnref` value.
    #[napi]
    pub fn get_arg<'env>(&self, env: &'env Env, index: u32) -> Result<Unknown<'env>> {
        let env = env.raw();
        let mut values = self.inner.values();
        let count = values.len();
        if index as usize >= count {
            let message =
                format!("WebAssembly.Exception.getArg(): index {index} is out of range for a payload of {count}");
            return Err(error::throw_range_error(env, &message).into());
        }
        let value = values.swap_remove(index as usize);
        if matches!(value, Val::V128(_) | Val::ExnRef(_)) {
            let message =
                format!("WebAssembly.Exception.getArg(): a {} value cannot go to JS", value_type_name(value.ty()));
            return Err(error::throw_type_error(env, &message).into());
        }
        // SAFETY: converting on the live env of this call.
        let value = unsafe { convert::val_to_js(env, value) }?;
        // SAFETY: `value` is a live value of this env.
        Ok(unsafe { Unknown::from_raw_unchecked(env, value) })
    }
}

/// The exception a JS import's failure enters wasm as, taking the pending JS exception out
/// of N-API. With nothing pending (the JS environment is terminating), an opaque host
/// error, which unwinds like any exception and reaches the outermost call unchanged.
pub(crate) fn exception_from_js(env: RawEnv) -> HostError {
    let Some(thrown) = env.take_exception() else { return HostError::opaque() };
    if let Some(exception) = native_exception_of(env, thrown) {
        return HostError::exception(exception);
    }
    // SAFETY: `thrown` is a live value of the current env.
    let payload = unsafe { externref::intern(env.raw(), thrown.0) };
    let exception =
        Exception::new(&Tag::host(), &[Val::ExternRef(Some(payload))]).expect("JSTag carries one externref");
    HostError::exception(exception)
}

/// The engine exception behind `value` if it is a `WebAssembly.Exception`.
fn native_exception_of(env: RawEnv, value: Value) -> Option<Exception> {
    if env.type_of(value) != sys::ValueType::napi_object {
        return None;
    }
    let (_, from) = HOOKS.with(Cell::get)?;
    let hook = env.reference_value(from)?;
    let Ok(identity) = env.call(env.undefined(), hook, &[value]) else {
        // The hook only reads a private field; should it fail, the value passes as itself.
        env.take_exception();
        return None;
    };
    let identity = env.number_as_f64(identity)?;
    BY_IDENTITY.with(|map| map.borrow().get(&(identity as usize)).copied())
}

/// Throws `exception`, which no wasm handler caught, as the JS API says: a `JSTag`
/// exception as its payload, any other as its `WebAssembly.Exception`.
pub(crate) fn throw_exception(env: sys::napi_env, exception: Exception) -> Pending {
    // SAFETY: the env of the current call.
    let env = unsafe { RawEnv::from_raw(env) };
    if exception.tag().same(&Tag::host()) {
        let value = match exception.values().first() {
            // SAFETY: the current env.
            Some(Val::ExternRef(Some(externref))) => Value(unsafe { externref::value(env.raw(), *externref) }),
            _ => env.null(),
        };
        return env.throw(value);
    }
    let Some(hook) = HOOKS.with(Cell::get).and_then(|(to, _)| env.reference_value(to)) else {
        return error::throw_type_error(env.raw(), "uncaught wasm exception (index.js registered no Exception class)");
    };
    // SAFETY: converting a fresh class value on the live env.
    let native = match unsafe { NativeException::to_napi_value(env.raw(), NativeException::wrap(exception)) } {
        Ok(native) => Value(native),
        Err(_) => return Pending,
    };
    match env.call(env.undefined(), hook, &[native]) {
        Ok(object) => env.throw(object),
        Err(pending) => pending,
    }
}
