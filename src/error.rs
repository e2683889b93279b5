//! Engine errors as JS exceptions. `index.js` registers its `CompileError`, `LinkError` and
//! `RuntimeError` classes once per thread (each Node thread has its own JS environment);
//! errors are thrown as instances of them, stack exhaustion as a `RangeError`, and a host
//! function's exception is left pending untouched, and a wasm exception is thrown as
//! `exception.rs` says.
//!
//! An exception leaving a call into wasm also gets the call's wasm frames in its `stack`:
//! this file formats them as V8 does, and `lib/stack-traces.js` (registered by
//! `setStackTraceSupport`) writes them in place of the exported function's JS frame.

use crate::napi_raw::{Env as RawEnv, ErrorKind, Reference, Value};
use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use std::cell::Cell;
use std::ffi::CString;

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
    static CLASSES: Cell<Option<[Reference; 3]>> = const { Cell::new(None) };
    /// `addWasmFrames(error, frames)` of `lib/stack-traces.js`, set by `setStackTraceSupport`.
    static ADD_WASM_FRAMES: Cell<Option<Reference>> = const { Cell::new(None) };
}

/// Registers the JS error classes heron throws on this thread.
#[napi]
pub fn set_error_classes(env: Env, compile_error: Unknown, link_error: Unknown, runtime_error: Unknown) -> Result<()> {
    let env = RawEnv::of(&env);
    let failed = || Error::new(Status::GenericFailure, "cannot reference the error classes");
    // Strong references, kept for the env's lifetime.
    let reference = |class: &Unknown| env.reference(Value::of(class), 1).ok_or_else(failed);
    let refs = [reference(&compile_error)?, reference(&link_error)?, reference(&runtime_error)?];
    CLASSES.with(|c| c.set(Some(refs)));
    Ok(())
}

/// Registers the function that writes wasm frames into an exception's `stack` on this thread
/// (the first registration on a thread stays: the function keeps no state), and picks the
/// hash of `wasm://` URLs for the process: `rapidHash` for V8 14.1 and later.
#[napi]
pub fn set_stack_trace_support(env: Env, add_wasm_frames: Unknown, rapid_hash: bool) -> Result<()> {
    heron_engine::set_v8_hash(if rapid_hash { heron_engine::V8Hash::Rapid } else { heron_engine::V8Hash::OneAtATime });
    if ADD_WASM_FRAMES.with(Cell::get).is_none() {
        let reference = RawEnv::of(&env)
            .reference(Value::of(&add_wasm_frames), 1)
            .ok_or_else(|| Error::new(Status::GenericFailure, "cannot reference addWasmFrames"))?;
        ADD_WASM_FRAMES.with(|f| f.set(Some(reference)));
    }
    Ok(())
}

/// Throws `error`, the failure of a call into wasm (for a host function's failure, leaves
/// its exception pending), with the call's wasm frames written into the exception's stack.
pub(crate) fn throw_from_wasm(env: sys::napi_env, error: heron_engine::Error) -> Pending {
    // Taken whatever the error, so that no later failure finds this one's frames.
    let backtrace = heron_engine::Backtrace::take_last();
    let ran_wasm = matches!(
        error,
        heron_engine::Error::Trap(_) | heron_engine::Error::Host(_) | heron_engine::Error::Exception(_)
    );
    let pending = throw(env, error);
    if let Some(backtrace) = backtrace.filter(|backtrace| ran_wasm && !backtrace.frames().is_empty()) {
        add_wasm_frames(raw_env(env), &backtrace);
    }
    pending
}

/// Passes the pending exception and `backtrace`'s frames to `addWasmFrames`, then throws
/// the same exception again. Only objects are passed: other thrown values have no stack.
fn add_wasm_frames(env: RawEnv, backtrace: &heron_engine::Backtrace) {
    let Some(exception) = env.take_exception() else { return };
    if env.type_of(exception) == sys::ValueType::napi_object {
        if let Some(add) = ADD_WASM_FRAMES.with(Cell::get).and_then(|add| env.reference_value(add)) {
            let frames = env.string(&format_frames(backtrace));
            if env.call(env.undefined(), add, &[exception, frames]).is_err() {
                // `addWasmFrames` does not throw, but may fail to run (no JS stack left):
                // the exception keeps its stack as it was.
                env.take_exception();
            }
        }
    }
    env.throw(exception);
}

/// The frames as V8 writes them in a stack, innermost first, one line each:
/// `    at MODULE.FUNCTION (wasm://wasm/MODULE-HASH:wasm-function[INDEX]:0xOFFSET)`, where
/// the parts the name section does not give are left out (`MODULE (URL)`, `FUNCTION (URL)`
/// or just `URL`).
fn format_frames(backtrace: &heron_engine::Backtrace) -> String {
    let lines: Vec<String> = backtrace
        .frames()
        .iter()
        .map(|frame| {
            let hash = frame.module_hash();
            let (script, name) = match (frame.module_name(), frame.func_name()) {
                (Some(module), Some(function)) => {
                    (format!("{module}-{hash:08x}"), Some(format!("{module}.{function}")))
                }
                (Some(module), None) => (format!("{module}-{hash:08x}"), Some(module.to_owned())),
                (None, function) => (format!("{hash:08x}"), function.map(str::to_owned)),
            };
            let location =
                format!("wasm://wasm/{script}:wasm-function[{}]:0x{:x}", frame.func_index(), frame.module_offset());
            match name {
                Some(name) => format!("    at {name} ({location})"),
                None => format!("    at {location}"),
            }
        })
        .collect();
    lines.join("\n")
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
        E::Exception(exception) => crate::exception::throw_exception(env, exception),
    }
}

/// The JS error object for `error`, created but not thrown (a `Host` error has no object
/// of its own and gives `Err`).
pub(crate) fn create(env: sys::napi_env, error: heron_engine::Error) -> std::result::Result<sys::napi_value, Pending> {
    let thrown = throw(env, error);
    // Takes the exception `throw` just left pending.
    raw_env(env).take_exception().map(|exception| exception.0).ok_or(thrown)
}

/// Throws a `LinkError` with `message`.
pub(crate) fn throw_link_error(env: sys::napi_env, message: &str) -> Pending {
    throw_class(env, Class::Link, message)
}

/// Throws a `TypeError` with `message`.
pub(crate) fn throw_type_error(env: sys::napi_env, message: &str) -> Pending {
    raw_env(env).throw_new(ErrorKind::TypeError, &c_string(message))
}

/// Throws a `RangeError` with `message`.
pub(crate) fn throw_range_error(env: sys::napi_env, message: &str) -> Pending {
    raw_env(env).throw_new(ErrorKind::RangeError, &c_string(message))
}

/// Throws a `RuntimeError` with `message` and a `code` property (the execution controls'
/// errors: a `catch` for RuntimeError still sees them, and `code` tells them apart).
fn throw_coded(env: sys::napi_env, message: &str, code: &str) -> Pending {
    let env = raw_env(env);
    let Some(constructor) =
        CLASSES.with(|c| c.get()).and_then(|classes| env.reference_value(classes[Class::Runtime as usize]))
    else {
        return env.throw_new(ErrorKind::Error, &c_string(message));
    };
    match env.construct(constructor, &[env.string(message)]) {
        Ok(error) => match env.set_named(error, c"code", env.string(code)) {
            Ok(()) => env.throw(error),
            Err(pending) => pending,
        },
        Err(pending) => pending,
    }
}

fn throw_class(env: sys::napi_env, class: Class, message: &str) -> Pending {
    let env = raw_env(env);
    let Some(classes) = CLASSES.with(|c| c.get()) else {
        // `index.js` always registers the classes; a bare binding falls back to Error.
        return env.throw_new(ErrorKind::Error, &c_string(message));
    };
    let Some(constructor) = env.reference_value(classes[class as usize]) else {
        return Pending;
    };
    match env.construct(constructor, &[env.string(message)]) {
        Ok(error) => env.throw(error),
        Err(pending) => pending,
    }
}

/// The env of the binding's native call running now: every function here is called only
/// from such calls, with their env.
fn raw_env(env: sys::napi_env) -> RawEnv {
    // SAFETY: see above; `Pending` results make sure the calls return at once.
    unsafe { RawEnv::from_raw(env) }
}

fn c_string(message: &str) -> CString {
    CString::new(message.replace('\0', " ")).expect("NULs were replaced")
}
