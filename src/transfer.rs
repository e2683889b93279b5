//! Heron's modules and shared memories across Workers. Node's structured clone cannot clone
//! napi-wrapped objects, so `lib/transfer.js` replaces a heron `Module` or shared `Memory` in
//! a message by a marker holding a *carrier*: a small SharedArrayBuffer whose backing store
//! owns a clone of the engine object (`Module` and `SharedMemory` are `Send + Sync`). The
//! carrier clones natively into the receiving Worker, which looks the carrier's data address
//! up here and wraps the same engine object: the same compiled code, the same memory.
//!
//! The registry maps the address of each live carrier's 8 bytes to its object; an entry
//! lives exactly as long as V8 keeps the carrier's backing store (in any thread). A
//! SharedArrayBuffer made by user code can never name an entry: its address is not a live
//! carrier's, and the bytes' contents are never read.

use heron_engine::{Module, SharedMemory};
use napi::bindgen_prelude::*;
use napi::sys;
use std::collections::HashMap;
use std::ffi::c_void;
use std::ptr;
use std::sync::{LazyLock, Mutex};

use crate::shared_buffer::external_shared_buffer;

/// What a carrier carries.
#[derive(Clone)]
pub(crate) enum Carried {
    Module(Module),
    Memory(SharedMemory),
}

/// Carriers alive in the process, by the address of their bytes.
static CARRIED: LazyLock<Mutex<HashMap<usize, Carried>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// Bytes of a carrier (their contents mean nothing; only their address does).
const CARRIER_BYTES: usize = 8;

/// A new carrier of `carried`.
pub(crate) fn carrier(carried: Carried) -> Result<sys::napi_value> {
    let bytes = Box::into_raw(Box::new([0u8; CARRIER_BYTES]));
    lock().insert(bytes as usize, carried);
    // SAFETY: called from Node-API callbacks only; the 8 bytes (plain integers, which any
    // thread may read or write) stay allocated until `release`, which V8 calls once.
    let buffer = unsafe { external_shared_buffer(bytes.cast(), CARRIER_BYTES, release, bytes.cast()) };
    if buffer.is_err() {
        // SAFETY: V8 did not take the bytes; `release` frees them and the entry, once.
        unsafe { release(bytes.cast(), CARRIER_BYTES, bytes.cast()) };
    }
    buffer
}

unsafe extern "C" fn release(_data: *mut c_void, _length: usize, owner: *mut c_void) {
    lock().remove(&(owner as usize));
    // SAFETY: the Box leaked in `carrier`, freed once, here.
    drop(unsafe { Box::from_raw(owner.cast::<[u8; CARRIER_BYTES]>()) });
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<usize, Carried>> {
    CARRIED.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the carrier viewed by `view` (a `Uint8Array` over the whole carrier) carries, if it
/// is a live carrier.
pub(crate) fn carried(env: sys::napi_env, view: sys::napi_value) -> Option<Carried> {
    let (mut kind, mut length, mut data) = (0, 0usize, ptr::null_mut::<c_void>());
    let (mut buffer, mut offset) = (ptr::null_mut(), 0usize);
    // SAFETY: `view` is a live value of this env; a non-typed-array fails with a status.
    let status = unsafe {
        sys::napi_get_typedarray_info(env, view, &mut kind, &mut length, &mut data, &mut buffer, &mut offset)
    };
    if status != sys::Status::napi_ok || offset != 0 || length != CARRIER_BYTES {
        return None;
    }
    lock().get(&(data as usize)).cloned()
}
