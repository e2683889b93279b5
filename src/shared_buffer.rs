//! SharedArrayBuffers over shared wasm memories, as V8 gives for its own shared
//! `WebAssembly.Memory`: the same bytes (no copies), frozen, one buffer per length: after a
//! grow (here or on another thread) `buffer` is a new SharedArrayBuffer of the new length,
//! and the old one stays valid (a shared memory never moves or shrinks).
//!
//! Node-API cannot make a SharedArrayBuffer over external memory, so the buffer comes from
//! `src/shim/shared_buffer.cc` (see build.rs): a few lines of C++ calling V8's
//! `SharedArrayBuffer::NewBackingStore`/`New`, whose signatures every supported Node exports
//! unchanged. The backing store keeps a clone of the `SharedMemory` and drops it when V8
//! frees the store, which may happen on any thread, since a SharedArrayBuffer posted to a
//! Worker shares the store: `SharedMemory` is `Send + Sync`.
//!
//! The memories with a buffer alive are registered with `atomics.rs`, which routes
//! `Atomics.wait`/`Atomics.notify` on these buffers to the memory's parking lot.

use heron_engine::SharedMemory;
use napi::bindgen_prelude::*;
use napi::sys;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::ptr;

#[cfg(not(heron_no_shared_buffer))]
unsafe extern "C" {
    /// See `src/shim/shared_buffer.cc`.
    fn heron_create_shared_array_buffer(
        data: *mut c_void,
        length: usize,
        release: Release,
        owner: *mut c_void,
    ) -> sys::napi_value;
}

/// What V8 calls, on any thread, when a backing store made here dies: `(data, length, owner)`.
pub(crate) type Release = unsafe extern "C" fn(*mut c_void, usize, *mut c_void);

/// A SharedArrayBuffer over the `length` bytes at `data`; `release(data, length, owner)` runs
/// once, on any thread, when V8 frees the backing store (after every clone of the buffer in
/// every Worker is gone). On failure `release` is not called.
///
/// # Safety
/// Must be called inside a Node-API callback (a handle scope is open); the bytes must stay
/// valid, and safe to access from any thread, until `release` runs.
#[cfg(not(heron_no_shared_buffer))]
pub(crate) unsafe fn external_shared_buffer(
    data: *mut u8,
    length: usize,
    release: Release,
    owner: *mut c_void,
) -> Result<sys::napi_value> {
    // SAFETY: per this function's contract.
    let buffer = unsafe { heron_create_shared_array_buffer(data.cast(), length, release, owner) };
    if buffer.is_null() {
        return Err(Error::new(Status::GenericFailure, "V8 could not create a SharedArrayBuffer"));
    }
    Ok(buffer)
}

/// Without the shim (no V8 headers at build time), no SharedArrayBuffer can be made.
///
/// # Safety
/// None needed; `unsafe` only to match the real function.
#[cfg(heron_no_shared_buffer)]
pub(crate) unsafe fn external_shared_buffer(
    _data: *mut u8,
    _length: usize,
    _release: Release,
    _owner: *mut c_void,
) -> Result<sys::napi_value> {
    Err(Error::new(
        Status::GenericFailure,
        "this heron build has no SharedArrayBuffer support (Node's V8 headers were missing when it was built)",
    ))
}

/// The buffer last handed out for a shared memory on this thread, and its length.
struct CurrentBuffer {
    /// Weak: the buffer lives as long as JS holds it.
    buffer: sys::napi_ref,
    length: usize,
}

thread_local! {
    static CURRENT: RefCell<HashMap<usize, CurrentBuffer>> = RefCell::new(HashMap::new());
}

/// The SharedArrayBuffer over `memory`'s current length: the one handed out last on this
/// thread if the length has not changed since (and JS still holds it), else a new one.
pub(crate) fn shared_buffer(env: sys::napi_env, memory: &SharedMemory) -> Result<sys::napi_value> {
    let (id, length) = (memory.id(), memory.data_size());
    let known = CURRENT.with(|map| map.borrow().get(&id).filter(|c| c.length == length).map(|c| c.buffer));
    if let Some(reference) = known {
        let mut buffer = ptr::null_mut();
        // SAFETY: a reference made on this thread's env.
        unsafe { sys::napi_get_reference_value(env, reference, &mut buffer) };
        if !buffer.is_null() {
            return Ok(buffer);
        }
    }
    let buffer = create(env, memory, length)?;
    // SAFETY: `buffer` is a live object of this env; freezing an empty-keyed buffer object
    // only marks it non-extensible, as V8 does for its own shared memories' buffers.
    unsafe { sys::napi_object_freeze(env, buffer) };
    let mut reference = ptr::null_mut();
    // SAFETY: a weak reference to the buffer just created.
    unsafe { sys::napi_create_reference(env, buffer, 0, &mut reference) };
    let previous = CURRENT.with(|map| map.borrow_mut().insert(id, CurrentBuffer { buffer: reference, length }));
    if let Some(previous) = previous {
        // SAFETY: the old entry's reference, made on this env and no longer in the map.
        unsafe { sys::napi_delete_reference(env, previous.buffer) };
    }
    Ok(buffer)
}

fn create(_env: sys::napi_env, memory: &SharedMemory, length: usize) -> Result<sys::napi_value> {
    let owner = Box::into_raw(Box::new(memory.clone()));
    crate::atomics::buffer_created(memory);
    // SAFETY: called inside a Node-API callback; the first `length` bytes at `data_ptr` are
    // accessible, from any thread, and stay mapped while `owner` (a clone of the memory)
    // lives, and `release` frees `owner` exactly once.
    let buffer = unsafe { external_shared_buffer(memory.data_ptr(), length, release, owner.cast()) };
    if buffer.is_err() {
        // SAFETY: V8 did not take `owner`: `release` frees it and unregisters, once.
        unsafe { release(ptr::null_mut(), length, owner.cast()) };
    }
    buffer
}

/// V8's deleter for a backing store made in `create`: drops the memory clone it kept.
unsafe extern "C" fn release(_data: *mut c_void, _length: usize, owner: *mut c_void) {
    // SAFETY: `owner` is the Box leaked in `create`; V8 calls the deleter once per store.
    let memory = unsafe { Box::from_raw(owner.cast::<SharedMemory>()) };
    crate::atomics::buffer_released(&memory);
}
