//! The one small, safe wrapper over the raw N-API calls that the binding's hot paths make
//! (export calls, import calls, value conversion), where napi-rs's typed layer would cost
//! an allocation or a check per call. Every function is `#[inline(always)]` and compiles to
//! the bare N-API call.
//!
//! Invariants that make these functions safe to call:
//! - an [`Env`] is made only from the env of the N-API call running now on this thread
//!   (`Env::of` from napi-rs's `Env`, or `unsafe Env::from_raw` in a raw callback). Env
//!   tokens may be kept (a host function keeps the env it was made in) but are used only on
//!   that thread while its JS environment lives, which is where wasm runs its imports;
//! - a [`Value`] comes from N-API (an argument, or a result of a call here) and is never
//!   kept past the native call that got it: the binding keeps JS values only as
//!   [`Reference`]s;
//! - a [`Reference`] is made here, on the env it is used with, and deleted at most once
//!   (`delete_reference` is unsafe for that reason).

use crate::error::Pending;
use napi::bindgen_prelude::Unknown;
use napi::sys;
use std::ffi::{c_void, CStr};
use std::ptr;

/// The JS environment of the current thread (see the module comment).
#[derive(Clone, Copy)]
pub(crate) struct Env(sys::napi_env);

/// A JS value handle, valid during the native call that got it.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(crate) struct Value(pub(crate) sys::napi_value);

/// An N-API reference: keeps a JS value (strong) or can tell whether it is alive (weak).
#[derive(Clone, Copy)]
pub(crate) struct Reference(pub(crate) sys::napi_ref);

/// A native function N-API can call.
pub(crate) type Callback = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

impl Value {
    /// The value napi-rs hands a `#[napi]` function.
    #[inline(always)]
    pub(crate) fn of(value: &Unknown<'_>) -> Value {
        use napi::bindgen_prelude::JsValue;
        Value(value.raw())
    }
}

impl Env {
    /// The env of a `#[napi]` function's call.
    #[inline(always)]
    pub(crate) fn of(env: &napi::Env) -> Env {
        Env(env.raw())
    }

    /// # Safety
    /// `env` must be the env of the N-API call running now on this thread.
    #[inline(always)]
    pub(crate) unsafe fn from_raw(env: sys::napi_env) -> Env {
        Env(env)
    }

    #[inline(always)]
    pub(crate) fn raw(self) -> sys::napi_env {
        self.0
    }

    /// `value` as napi-rs's `Unknown`, to return from a `#[napi]` function.
    #[inline(always)]
    pub(crate) fn to_unknown<'env>(self, value: Value) -> Unknown<'env> {
        // SAFETY: a live value of this env (module invariants).
        unsafe { Unknown::from_raw_unchecked(self.0, value.0) }
    }

    /// Runs an N-API call that writes one value; `None` if it fails (an exception may be
    /// pending).
    #[inline(always)]
    fn out<T: Copy>(self, initial: T, call: impl FnOnce(sys::napi_env, *mut T) -> sys::napi_status) -> Option<T> {
        let mut result = initial;
        (call(self.0, &mut result) == sys::Status::napi_ok).then_some(result)
    }

    #[inline(always)]
    pub(crate) fn undefined(self) -> Value {
        // SAFETY: the live env and a pointer to a local.
        Value(
            self.out(ptr::null_mut(), |env, out| unsafe { sys::napi_get_undefined(env, out) })
                .unwrap_or(ptr::null_mut()),
        )
    }

    #[inline(always)]
    pub(crate) fn null(self) -> Value {
        // SAFETY: the live env and a pointer to a local.
        Value(self.out(ptr::null_mut(), |env, out| unsafe { sys::napi_get_null(env, out) }).unwrap_or(ptr::null_mut()))
    }

    #[inline(always)]
    pub(crate) fn global(self) -> Value {
        // SAFETY: the live env and a pointer to a local.
        Value(
            self.out(ptr::null_mut(), |env, out| unsafe { sys::napi_get_global(env, out) }).unwrap_or(ptr::null_mut()),
        )
    }

    #[inline(always)]
    pub(crate) fn uint32(self, number: u32) -> Value {
        // SAFETY: the live env and a pointer to a local.
        Value(
            self.out(ptr::null_mut(), |env, out| unsafe { sys::napi_create_uint32(env, number, out) })
                .unwrap_or(ptr::null_mut()),
        )
    }

    #[inline(always)]
    pub(crate) fn string(self, text: &str) -> Value {
        let len = text.len() as isize;
        // SAFETY: the live env, `len` bytes of UTF-8 and a pointer to a local.
        let made = self.out(ptr::null_mut(), |env, out| unsafe {
            sys::napi_create_string_utf8(env, text.as_ptr().cast(), len, out)
        });
        Value(made.unwrap_or(ptr::null_mut()))
    }

    #[inline(always)]
    pub(crate) fn object(self) -> Option<Value> {
        // SAFETY: the live env and a pointer to a local.
        self.out(ptr::null_mut(), |env, out| unsafe { sys::napi_create_object(env, out) }).map(Value)
    }

    #[inline(always)]
    pub(crate) fn array(self, length: usize) -> Value {
        // SAFETY: the live env and a pointer to a local.
        let made =
            self.out(ptr::null_mut(), |env, out| unsafe { sys::napi_create_array_with_length(env, length, out) });
        Value(made.unwrap_or(ptr::null_mut()))
    }

    /// `object[name] = value`; `Err` with an exception pending if a setter throws.
    #[inline(always)]
    pub(crate) fn set_named(self, object: Value, name: &CStr, value: Value) -> Result<(), Pending> {
        // SAFETY: live values of this env and a NUL-terminated name.
        let status = unsafe { sys::napi_set_named_property(self.0, object.0, name.as_ptr(), value.0) };
        (status == sys::Status::napi_ok).then_some(()).ok_or(Pending)
    }

    /// `object[name]`; `Err` with an exception pending if a getter throws.
    #[inline(always)]
    pub(crate) fn get_named(self, object: Value, name: &CStr) -> Result<Value, Pending> {
        // SAFETY: live values of this env, a NUL-terminated name and a pointer to a local.
        let got = self.out(ptr::null_mut(), |env, out| unsafe {
            sys::napi_get_named_property(env, object.0, name.as_ptr(), out)
        });
        got.map(Value).ok_or(Pending)
    }

    /// `array[index] = value`; `Err` with an exception pending if a setter throws.
    #[inline(always)]
    pub(crate) fn set_element(self, array: Value, index: u32, value: Value) -> Result<(), Pending> {
        // SAFETY: live values of this env.
        let status = unsafe { sys::napi_set_element(self.0, array.0, index, value.0) };
        (status == sys::Status::napi_ok).then_some(()).ok_or(Pending)
    }

    /// `array[index]`; `Err` with an exception pending if a getter throws.
    #[inline(always)]
    pub(crate) fn get_element(self, array: Value, index: u32) -> Result<Value, Pending> {
        // SAFETY: live values of this env and a pointer to a local.
        let got = self.out(ptr::null_mut(), |env, out| unsafe { sys::napi_get_element(env, array.0, index, out) });
        got.map(Value).ok_or(Pending)
    }

    /// The `length` of an array (0 for anything else).
    #[inline(always)]
    pub(crate) fn array_length(self, array: Value) -> u32 {
        // SAFETY: a live value of this env and a pointer to a local.
        self.out(0, |env, out| unsafe { sys::napi_get_array_length(env, array.0, out) }).unwrap_or(0)
    }

    /// `function.apply(receiver, args)`; `Err` with the exception pending if it throws.
    #[inline(always)]
    pub(crate) fn call(self, receiver: Value, function: Value, args: &[Value]) -> Result<Value, Pending> {
        // SAFETY: live values of this env; `Value` is a transparent `napi_value`, so `args`
        // is an array of `args.len()` values.
        let returned = self.out(ptr::null_mut(), |env, out| unsafe {
            sys::napi_call_function(env, receiver.0, function.0, args.len(), args.as_ptr().cast(), out)
        });
        returned.map(Value).ok_or(Pending)
    }

    /// A new JS function named `name` that runs `callback`.
    #[inline(always)]
    pub(crate) fn function(self, name: &CStr, callback: Callback) -> Option<Value> {
        let len = name.to_bytes().len() as isize;
        // SAFETY: the live env, `len` bytes of name, a callback of N-API's signature and a
        // pointer to a local.
        let made = self.out(ptr::null_mut(), |env, out| unsafe {
            sys::napi_create_function(env, name.as_ptr(), len, Some(callback), ptr::null_mut(), out)
        });
        made.map(Value)
    }

    /// A reference that keeps `value` alive (`count` 1) or only tracks it (`count` 0).
    #[inline(always)]
    pub(crate) fn reference(self, value: Value, count: u32) -> Option<Reference> {
        // SAFETY: a live value of this env and a pointer to a local.
        let made =
            self.out(ptr::null_mut(), |env, out| unsafe { sys::napi_create_reference(env, value.0, count, out) });
        made.map(Reference)
    }

    /// The value `reference` holds, or `None` if it was weak and the value is gone.
    #[inline(always)]
    pub(crate) fn reference_value(self, reference: Reference) -> Option<Value> {
        // SAFETY: a reference made on this env and not deleted (module invariants), and a
        // pointer to a local.
        let value =
            self.out(ptr::null_mut(), |env, out| unsafe { sys::napi_get_reference_value(env, reference.0, out) });
        value.filter(|value| !value.is_null()).map(Value)
    }

    /// # Safety
    /// `reference` must not be used again, nor deleted again.
    #[inline(always)]
    pub(crate) unsafe fn delete_reference(self, reference: Reference) {
        // SAFETY: a reference of this env, deleted once per the caller's contract.
        unsafe { sys::napi_delete_reference(self.0, reference.0) };
    }

    /// Tags `object` with `tag` (once per object).
    #[inline(always)]
    pub(crate) fn type_tag(self, object: Value, tag: &'static sys::napi_type_tag) {
        // SAFETY: a live value of this env and a tag that outlives it.
        unsafe { sys::napi_type_tag_object(self.0, object.0, tag) };
    }

    /// Whether `value` is an object tagged with `tag`.
    #[inline(always)]
    pub(crate) fn has_type_tag(self, value: Value, tag: &'static sys::napi_type_tag) -> bool {
        // SAFETY: a live value of this env, a tag and a pointer to a local.
        self.out(false, |env, out| unsafe { sys::napi_check_object_type_tag(env, value.0, tag, out) }).unwrap_or(false)
    }

    /// Opens a handle scope. The caller closes it with `close_handle_scope`.
    #[inline(always)]
    pub(crate) fn open_handle_scope(self) -> sys::napi_handle_scope {
        // SAFETY: the live env and a pointer to a local.
        self.out(ptr::null_mut(), |env, out| unsafe { sys::napi_open_handle_scope(env, out) })
            .unwrap_or(ptr::null_mut())
    }

    /// # Safety
    /// `scope` must have been opened on this env, not closed yet, and be the innermost open
    /// scope; no value created in it may be used afterwards.
    #[inline(always)]
    pub(crate) unsafe fn close_handle_scope(self, scope: sys::napi_handle_scope) {
        // SAFETY: per this function's contract.
        unsafe { sys::napi_close_handle_scope(self.0, scope) };
    }

    /// Wraps `data` into `object`, to be passed to `finalize` when `object` is collected;
    /// returns the wrap's weak reference (which `finalize` must delete).
    ///
    /// # Safety
    /// `finalize` must accept `data` exactly once.
    #[inline(always)]
    pub(crate) unsafe fn wrap(
        self,
        object: Value,
        data: *mut c_void,
        finalize: unsafe extern "C" fn(sys::napi_env, *mut c_void, *mut c_void),
    ) -> Option<Reference> {
        // SAFETY: a live value of this env; `finalize` takes `data` per the contract.
        let made = self.out(ptr::null_mut(), |env, out| unsafe {
            sys::napi_wrap(env, object.0, data, Some(finalize), ptr::null_mut(), out)
        });
        made.map(Reference)
    }

    /// The pointer `wrap` put into `object`.
    #[inline(always)]
    pub(crate) fn unwrap(self, object: Value) -> Option<*mut c_void> {
        // SAFETY: a live value of this env and a pointer to a local.
        self.out(ptr::null_mut(), |env, out| unsafe { sys::napi_unwrap(env, object.0, out) })
    }

    #[inline(always)]
    pub(crate) fn double(self, number: f64) -> Value {
        // SAFETY: the live env and a pointer to a local.
        Value(
            self.out(ptr::null_mut(), |env, out| unsafe { sys::napi_create_double(env, number, out) })
                .unwrap_or(ptr::null_mut()),
        )
    }

    #[inline(always)]
    pub(crate) fn int32(self, number: i32) -> Value {
        // SAFETY: the live env and a pointer to a local.
        Value(
            self.out(ptr::null_mut(), |env, out| unsafe { sys::napi_create_int32(env, number, out) })
                .unwrap_or(ptr::null_mut()),
        )
    }

    #[inline(always)]
    pub(crate) fn bigint_i64(self, number: i64) -> Value {
        // SAFETY: the live env and a pointer to a local.
        let made = self.out(ptr::null_mut(), |env, out| unsafe { sys::napi_create_bigint_int64(env, number, out) });
        Value(made.unwrap_or(ptr::null_mut()))
    }

    /// `value` as an i32 if it is a Number (ToInt32 of it), else `None`.
    #[inline(always)]
    pub(crate) fn number_as_i32(self, value: Value) -> Option<i32> {
        // SAFETY: a live value of this env and a pointer to a local.
        self.out(0, |env, out| unsafe { sys::napi_get_value_int32(env, value.0, out) })
    }

    /// `value` if it is a Number, else `None`.
    #[inline(always)]
    pub(crate) fn number_as_f64(self, value: Value) -> Option<f64> {
        // SAFETY: a live value of this env and a pointer to a local.
        self.out(0.0, |env, out| unsafe { sys::napi_get_value_double(env, value.0, out) })
    }

    /// `value` modulo 2^64 if it is a BigInt, else `None`.
    #[inline(always)]
    pub(crate) fn bigint_as_i64(self, value: Value) -> Option<i64> {
        let mut lossless = false;
        // SAFETY: a live value of this env and pointers to locals.
        self.out(0, |env, out| unsafe { sys::napi_get_value_bigint_int64(env, value.0, out, &mut lossless) })
    }

    /// `value` if it is a Boolean, else `None`.
    #[inline(always)]
    pub(crate) fn boolean(self, value: Value) -> Option<bool> {
        // SAFETY: a live value of this env and a pointer to a local.
        self.out(false, |env, out| unsafe { sys::napi_get_value_bool(env, value.0, out) })
    }

    /// ToNumber, which may run user code (`valueOf`) and throw.
    #[inline(always)]
    pub(crate) fn to_number(self, value: Value) -> Result<Value, Pending> {
        // SAFETY: a live value of this env and a pointer to a local.
        let number = self.out(ptr::null_mut(), |env, out| unsafe { sys::napi_coerce_to_number(env, value.0, out) });
        number.map(Value).ok_or(Pending)
    }

    /// The `typeof` of `value`.
    #[inline(always)]
    pub(crate) fn type_of(self, value: Value) -> sys::napi_valuetype {
        // SAFETY: a live value of this env and a pointer to a local.
        self.out(sys::ValueType::napi_undefined, |env, out| unsafe { sys::napi_typeof(env, value.0, out) })
            .unwrap_or(sys::ValueType::napi_undefined)
    }

    /// `new constructor(...args)`; `Err` with the exception pending if it throws.
    #[inline(always)]
    pub(crate) fn construct(self, constructor: Value, args: &[Value]) -> Result<Value, Pending> {
        // SAFETY: live values of this env; `Value` is a transparent `napi_value`.
        let made = self.out(ptr::null_mut(), |env, out| unsafe {
            sys::napi_new_instance(env, constructor.0, args.len(), args.as_ptr().cast(), out)
        });
        made.map(Value).ok_or(Pending)
    }

    /// Throws `value`.
    #[inline(always)]
    pub(crate) fn throw(self, value: Value) -> Pending {
        // SAFETY: a live value of this env.
        unsafe { sys::napi_throw(self.0, value.0) };
        Pending
    }

    /// Throws a new `Error`, `TypeError` or `RangeError` (`kind`) with `message`.
    #[inline(always)]
    pub(crate) fn throw_new(self, kind: ErrorKind, message: &CStr) -> Pending {
        // SAFETY: the live env and a NUL-terminated message.
        unsafe {
            match kind {
                ErrorKind::Error => sys::napi_throw_error(self.0, ptr::null(), message.as_ptr()),
                ErrorKind::TypeError => sys::napi_throw_type_error(self.0, ptr::null(), message.as_ptr()),
                ErrorKind::RangeError => sys::napi_throw_range_error(self.0, ptr::null(), message.as_ptr()),
            }
        };
        Pending
    }

    /// Takes the pending exception, if any.
    #[inline(always)]
    pub(crate) fn take_exception(self) -> Option<Value> {
        // SAFETY: the live env and a pointer to a local.
        let taken = self.out(ptr::null_mut(), |env, out| unsafe { sys::napi_get_and_clear_last_exception(env, out) });
        taken.filter(|value| !value.is_null()).map(Value)
    }
}

/// The built-in error classes `Env::throw_new` can throw.
#[derive(Clone, Copy)]
pub(crate) enum ErrorKind {
    Error,
    TypeError,
    RangeError,
}
