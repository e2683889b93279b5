//! `externref` values: any JS value can enter wasm as an `externref`. The engine stores only
//! a non-zero number; this module maps those numbers to JS values, kept in a JS array that
//! the thread's environment holds (N-API references cannot hold primitives before Node 22).
//!
//! The engine has no garbage collector that could tell when wasm drops a reference, so a
//! value that entered wasm stays alive as long as the thread's JS environment does
//! (documented in the README): every crossing into wasm takes a new slot.

use crate::napi_raw::{Env, Reference, Value};
use heron_engine::ExternRef;
use napi::sys;
use std::cell::Cell;
use std::num::NonZeroUsize;

thread_local! {
    /// The array whose element `n - 1` is the value of externref `n`, and its length.
    static VALUES: Cell<Option<(Reference, u32)>> = const { Cell::new(None) };
}

/// The array of values, created on first use, and its length.
fn values(env: Env) -> (Value, u32) {
    if let Some((reference, length)) = VALUES.get() {
        if let Some(array) = env.reference_value(reference) {
            return (array, length);
        }
    }
    let array = env.array(0);
    // Strong: kept for the env's lifetime.
    if let Some(reference) = env.reference(array, 1) {
        VALUES.set(Some((reference, 0)));
    }
    (array, 0)
}

/// The externref for `value`.
///
/// # Safety
/// `env` must be the current JS environment and `value` a live value of it.
pub(crate) unsafe fn intern(env: sys::napi_env, value: sys::napi_value) -> ExternRef {
    // SAFETY: per this function's contract.
    let env = unsafe { Env::from_raw(env) };
    let (array, length) = values(env);
    // A plain array element: no setter can throw.
    let _ = env.set_element(array, length, Value(value));
    if let Some((reference, _)) = VALUES.get() {
        VALUES.set(Some((reference, length + 1)));
    }
    ExternRef(NonZeroUsize::new(length as usize + 1).expect("numbers start at 1"))
}

/// The JS value of `externref` (`undefined` for a number this thread never handed out,
/// which only wasm code from another thread could produce).
///
/// # Safety
/// `env` must be the current JS environment.
pub(crate) unsafe fn value(env: sys::napi_env, externref: ExternRef) -> sys::napi_value {
    // SAFETY: per this function's contract.
    let env = unsafe { Env::from_raw(env) };
    let (array, _) = values(env);
    // Reading past the end gives `undefined`.
    env.get_element(array, (externref.0.get() - 1) as u32).unwrap_or_else(|_| env.undefined()).0
}
