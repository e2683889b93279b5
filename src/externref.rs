//! `externref` values: any JS value can enter wasm as an `externref`. The engine stores only
//! a non-zero number; this module maps those numbers to JS values, kept in a JS array that
//! the thread's environment holds (N-API references cannot hold primitives before Node 22).
//!
//! The engine has no garbage collector that could tell when wasm drops a reference, so a
//! value that entered wasm stays alive as long as the thread's JS environment does
//! (documented in the README): every crossing into wasm takes a new slot.

use heron_engine::ExternRef;
use napi::sys;
use std::cell::Cell;
use std::num::NonZeroUsize;
use std::ptr;

thread_local! {
    /// The array whose element `n - 1` is the value of externref `n`, and its length.
    static VALUES: Cell<(sys::napi_ref, u32)> = const { Cell::new((ptr::null_mut(), 0)) };
}

/// The array of values, created on first use.
///
/// # Safety
/// `env` must be the current JS environment.
unsafe fn values(env: sys::napi_env) -> (sys::napi_value, u32) {
    let (mut reference, length) = VALUES.get();
    let mut array = ptr::null_mut();
    // SAFETY: per this function's contract; the reference is kept for the env's lifetime.
    unsafe {
        if reference.is_null() {
            sys::napi_create_array(env, &mut array);
            sys::napi_create_reference(env, array, 1, &mut reference);
            VALUES.set((reference, 0));
        } else {
            sys::napi_get_reference_value(env, reference, &mut array);
        }
    }
    (array, length)
}

/// The externref for `value`.
///
/// # Safety
/// `env` must be the current JS environment and `value` a live value of it.
pub(crate) unsafe fn intern(env: sys::napi_env, value: sys::napi_value) -> ExternRef {
    // SAFETY: per this function's contract.
    unsafe {
        let (array, length) = values(env);
        sys::napi_set_element(env, array, length, value);
        VALUES.set((VALUES.get().0, length + 1));
        ExternRef(NonZeroUsize::new(length as usize + 1).expect("numbers start at 1"))
    }
}

/// The JS value of `externref` (`undefined` for a number this thread never handed out,
/// which only wasm code from another thread could produce).
///
/// # Safety
/// `env` must be the current JS environment.
pub(crate) unsafe fn value(env: sys::napi_env, externref: ExternRef) -> sys::napi_value {
    let mut value = ptr::null_mut();
    // SAFETY: per this function's contract; reading past the end gives `undefined`.
    unsafe {
        let (array, _) = values(env);
        sys::napi_get_element(env, array, (externref.0.get() - 1) as u32, &mut value);
    }
    value
}
