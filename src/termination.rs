//! Terminating a Worker that is blocked in one of heron's waits (wasm's
//! `memory.atomic.wait32/64`, or `Atomics.wait` on a heron memory's buffer).
//!
//! `worker.terminate()` (and process exit, which terminates every Worker) makes V8 stop the
//! thread's JavaScript at its next interrupt check; V8's own waits are woken for it, heron's
//! parking lot is not told. So a blocked thread polls its cancellation hook (see the engine's
//! `parking_lot.rs`), which this file installs on every thread heron loads in: it calls an
//! empty JS function, which V8 refuses to run once termination is requested (the call comes
//! back with the termination pending), and the wait then stops with a trap that unwinds the
//! wasm frames; V8 discards the error and finishes the termination.

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use std::ffi::c_void;
use std::ptr;

/// Makes heron's waits on this thread stop when V8 terminates it: `noop` is an empty JS
/// function the wait calls to learn whether termination is pending. Called once per thread,
/// by index.js.
#[napi]
pub fn install_wait_cancellation(env: Env, noop: Unknown) -> Result<()> {
    let env = env.raw();
    let mut reference = ptr::null_mut();
    // SAFETY: `noop` is a live value of this env; a strong reference keeps the function for
    // the env's lifetime (the cleanup hook drops the hook that uses it first).
    let status = unsafe { sys::napi_create_reference(env, noop.raw(), 1, &mut reference) };
    if status != sys::Status::napi_ok {
        return Err(Error::new(Status::GenericFailure, "could not keep the wait cancellation function"));
    }
    let (env_address, reference_address) = (env as usize, reference as usize);
    heron_engine::set_wait_cancellation_hook(Some(Box::new(move || {
        terminating(env_address as sys::napi_env, reference_address as sys::napi_ref)
    })));
    // SAFETY: a static function with no data, registered on this thread's env.
    unsafe { sys::napi_add_env_cleanup_hook(env, Some(uninstall), ptr::null_mut()) };
    Ok(())
}

/// Whether V8 refuses to run JavaScript on this thread: the only reason an empty function
/// fails is a pending termination.
fn terminating(env: sys::napi_env, noop: sys::napi_ref) -> bool {
    let (mut scope, mut function, mut receiver, mut result) =
        (ptr::null_mut(), ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    // SAFETY: the hook runs on the env's own thread, inside a Node-API callback (a wait is
    // made by JS calling heron, directly or through wasm), while the env and the reference
    // live (the cleanup hook removes the hook before the env goes); the scope opened here is
    // closed before returning, so it nests in whatever scopes are open.
    unsafe {
        if sys::napi_open_handle_scope(env, &mut scope) != sys::Status::napi_ok {
            return true; // Node-API refuses already: the env is stopping
        }
        sys::napi_get_reference_value(env, noop, &mut function);
        sys::napi_get_undefined(env, &mut receiver);
        let status = sys::napi_call_function(env, receiver, function, 0, ptr::null(), &mut result);
        sys::napi_close_handle_scope(env, scope);
        status != sys::Status::napi_ok
    }
}

unsafe extern "C" fn uninstall(_data: *mut c_void) {
    heron_engine::set_wait_cancellation_hook(None);
}
