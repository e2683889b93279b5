//! ArrayBuffers over engine-owned bytes (a memory's pages, a global's storage), made with
//! `napi_create_external_arraybuffer`: JS and wasm see the same bytes, no copies.

use napi::bindgen_prelude::*;
use napi::sys;
use std::ffi::c_void;
use std::ptr;

/// An ArrayBuffer over the `len` bytes at `data`, which keeps `owner` alive (and so the bytes
/// mapped) until V8 collects the buffer; `owner` is dropped then, on the JS thread.
///
/// # Safety
/// `env` must be the current JS environment, and the bytes must stay valid and accessible
/// for as long as `owner` lives (or until the buffer is detached).
pub(crate) unsafe fn external_buffer<T: 'static>(
    env: sys::napi_env,
    data: *mut u8,
    len: usize,
    owner: T,
) -> Result<sys::napi_value> {
    let owner = Box::into_raw(Box::new(owner));
    let mut buffer = ptr::null_mut();
    // SAFETY: per this function's contract; the finalizer frees `owner` exactly once.
    let status = unsafe {
        sys::napi_create_external_arraybuffer(env, data.cast(), len, Some(release::<T>), owner.cast(), &mut buffer)
    };
    if status != sys::Status::napi_ok {
        // SAFETY: not handed to V8, so still ours to free.
        drop(unsafe { Box::from_raw(owner) });
        return Err(Error::new(Status::GenericFailure, "this runtime refuses external ArrayBuffers"));
    }
    Ok(buffer)
}

unsafe extern "C" fn release<T>(_env: sys::napi_env, _data: *mut c_void, hint: *mut c_void) {
    // SAFETY: `hint` is the Box leaked in `external_buffer`, released exactly once, here.
    drop(unsafe { Box::from_raw(hint.cast::<T>()) });
}
