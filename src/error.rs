//! Engine errors as JS exceptions. `index.js` registers its `CompileError`, `LinkError` and
//! `RuntimeError` classes once per thread (each Node thread has its own JS environment);
//! errors are thrown as instances of them, stack exhaustion as a `RangeError`, and a host
//! function's exception is left pending untouched.

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use std::cell::Cell;
use std::ffi::CString;
use std::ptr;

/// An exception is pending in the JS environment; the native call must return at once.
#[derive(Debug)]
pub(crate) struct Pending;

impl From<Pending> for napi::Error {
    fn from(_: Pending) -> Self {
        napi::Error::new(Status::PendingException, "")
    }
}

#[derive(Clone, Copy)]
enum Class {
    Compile = 0,
    Link = 1,
    Runtime = 2,
}

thread_local! {
    /// References to this thread's error constructors, set by `setErrorClasses`.
    static CLASSES: Cell<[sys::napi_ref; 3]> = const { Cell::new([ptr::null_mut(); 3]) };
}

/// Registers the JS error classes heron throws on this thread.
#[napi]
pub fn set_error_classes(env: Env, compile_error: Unknown, link_error: Unknown, runtime_error: Unknown) -> Result<()> {
    let mut refs = [ptr::null_mut(); 3];
    for (slot, class) in refs.iter_mut().zip([compile_error, link_error, runtime_error]) {
        // SAFETY: a strong reference to a live value of this env; kept for the env's lifetime.
        let status = unsafe { sys::napi_create_reference(env.raw(), class.raw(), 1, slot) };
        if status != sys::Status::napi_ok {
            return Err(Error::new(Status::GenericFailure, "cannot reference the error classes"));
        }
    }
    CLASSES.with(|c| c.set(refs));
    Ok(())
}

/// Throws `error` as the JS exception the JS API specifies for it.
pub(crate) fn throw(env: sys::napi_env, error: heron_engine::Error) -> Pending {
    use heron_engine::{Error as E, Trap};
    match error {
        E::Compile { .. } => throw_class(env, Class::Compile, &error.to_string()),
        E::Link(message) => throw_class(env, Class::Link, &message),
        E::Trap(Trap::StackOverflow) => throw_range_error(env, "Maximum call stack size exceeded"),
        E::Trap(Trap::Timeout) => {
            let message = match heron_engine::last_timeout() {
                Some(timeout) => format!("wasm execution timed out after {} ms", timeout.as_millis()),
                None => Trap::Timeout.message().to_string(),
            };
            throw_coded(env, &message, "ERR_HERON_TIMEOUT")
        }
        E::Trap(trap @ Trap::Interrupted) => throw_coded(env, trap.message(), "ERR_HERON_INTERRUPTED"),
        E::Trap(trap @ Trap::OutOfFuel) => throw_coded(env, trap.message(), "ERR_HERON_OUT_OF_FUEL"),
        E::Trap(trap) => throw_class(env, Class::Runtime, trap.message()),
        E::Resource(message) => throw_range_error(env, &message),
        // The host function's exception is still pending: it reaches the caller unchanged.
        E::Host(_) => Pending,
    }
}

/// The JS error object for `error`, created but not thrown (a `Host` error has no object
/// of its own and gives `Err`).
pub(crate) fn create(env: sys::napi_env, error: heron_engine::Error) -> std::result::Result<sys::napi_value, Pending> {
    let thrown = throw(env, error);
    let mut exception = ptr::null_mut();
    // SAFETY: takes the exception `throw` just left pending on this env.
    match unsafe { sys::napi_get_and_clear_last_exception(env, &mut exception) } {
        sys::Status::napi_ok if !exception.is_null() => Ok(exception),
        _ => Err(thrown),
    }
}

/// Throws a `LinkError` with `message`.
pub(crate) fn throw_link_error(env: sys::napi_env, message: &str) -> Pending {
    throw_class(env, Class::Link, message)
}

/// Throws a `TypeError` with `message`.
pub(crate) fn throw_type_error(env: sys::napi_env, message: &str) -> Pending {
    let message = c_string(message);
    // SAFETY: a valid env and a NUL-terminated message.
    unsafe { sys::napi_throw_type_error(env, ptr::null(), message.as_ptr()) };
    Pending
}

/// Throws a `RangeError` with `message`.
pub(crate) fn throw_range_error(env: sys::napi_env, message: &str) -> Pending {
    let message = c_string(message);
    // SAFETY: a valid env and a NUL-terminated message.
    unsafe { sys::napi_throw_range_error(env, ptr::null(), message.as_ptr()) };
    Pending
}

/// Throws a `RuntimeError` with `message` and a `code` property (the execution controls'
/// errors: a `catch` for RuntimeError still sees them, and `code` tells them apart).
fn throw_coded(env: sys::napi_env, message: &str, code: &str) -> Pending {
    let thrown = throw_class(env, Class::Runtime, message);
    let mut error = ptr::null_mut();
    // SAFETY: takes the exception just left pending on this env, sets a string property on
    // it and throws it again; every value is live on this env.
    unsafe {
        if sys::napi_get_and_clear_last_exception(env, &mut error) != sys::Status::napi_ok || error.is_null() {
            return thrown;
        }
        let mut code_value = ptr::null_mut();
        sys::napi_create_string_utf8(env, code.as_ptr().cast(), code.len() as isize, &mut code_value);
        sys::napi_set_named_property(env, error, c"code".as_ptr(), code_value);
        sys::napi_throw(env, error);
    }
    Pending
}

fn throw_class(env: sys::napi_env, class: Class, message: &str) -> Pending {
    let reference = CLASSES.with(|c| c.get())[class as usize];
    if reference.is_null() {
        // `index.js` always registers the classes; a bare binding falls back to Error.
        let message = c_string(message);
        // SAFETY: a valid env and a NUL-terminated message.
        unsafe { sys::napi_throw_error(env, ptr::null(), message.as_ptr()) };
        return Pending;
    }
    // SAFETY: `reference` was created on this thread's env by `set_error_classes`; the
    // constructor is called with one string argument and the result thrown.
    unsafe {
        let mut constructor = ptr::null_mut();
        sys::napi_get_reference_value(env, reference, &mut constructor);
        let mut text = ptr::null_mut();
        sys::napi_create_string_utf8(env, message.as_ptr().cast(), message.len() as isize, &mut text);
        let mut error = ptr::null_mut();
        if sys::napi_new_instance(env, constructor, 1, &text, &mut error) == sys::Status::napi_ok {
            sys::napi_throw(env, error);
        }
    }
    Pending
}

fn c_string(message: &str) -> CString {
    CString::new(message.replace('\0', " ")).expect("NULs were replaced")
}
