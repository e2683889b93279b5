//! `Atomics.wait`/`Atomics.notify` on the SharedArrayBuffers of heron's shared memories,
//! joined with wasm's `memory.atomic.wait*`/`notify`: `lib/atomics.js` sends those calls
//! here, to the memory's own parking lot (`shared_memory.rs`), so a JS waiter is woken by
//! wasm's notify and a wasm waiter by `Atomics.notify`, in any thread. V8's futex table,
//! which `Atomics` uses for every other buffer, has no API an addon could join instead.
//! (`Atomics.waitAsync` stays V8's: it does not see heron's notifies.)
//!
//! A buffer is recognized by address: the memories with a SharedArrayBuffer alive (in any
//! thread) are registered here by `shared_buffer.rs`, so a clone of the buffer posted to
//! another Worker is recognized there too.

use heron_engine::{SharedMemory, WaitWidth};
use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use std::collections::HashMap;
use std::ffi::c_void;
use std::ptr;
use std::sync::{LazyLock, Mutex, MutexGuard};

/// Shared memories with SharedArrayBuffers alive, by id: the memory and how many buffers.
static VIEWED: LazyLock<Mutex<HashMap<usize, (SharedMemory, usize)>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn viewed() -> MutexGuard<'static, HashMap<usize, (SharedMemory, usize)>> {
    VIEWED.lock().unwrap_or_else(|e| e.into_inner())
}

/// A SharedArrayBuffer over `memory` was made.
pub(crate) fn buffer_created(memory: &SharedMemory) {
    viewed().entry(memory.id()).or_insert_with(|| (memory.clone(), 0)).1 += 1;
}

/// V8 freed one of `memory`'s SharedArrayBuffers.
pub(crate) fn buffer_released(memory: &SharedMemory) {
    let mut viewed = viewed();
    if let Some(entry) = viewed.get_mut(&memory.id()) {
        entry.1 -= 1;
        if entry.1 == 0 {
            viewed.remove(&memory.id());
        }
    }
}

/// The shared memory, byte offset and width of element `index` of the typed array `view`
/// (an `Int32Array` or `BigInt64Array`), if its buffer views a heron shared memory.
fn element(env: sys::napi_env, view: sys::napi_value, index: u32) -> Option<(SharedMemory, u64, WaitWidth)> {
    let (mut kind, mut length, mut data) = (0, 0usize, ptr::null_mut::<c_void>());
    let (mut buffer, mut offset) = (ptr::null_mut(), 0usize);
    // SAFETY: `view` is a live value of this env; anything but a typed array fails.
    let status = unsafe {
        sys::napi_get_typedarray_info(env, view, &mut kind, &mut length, &mut data, &mut buffer, &mut offset)
    };
    let (size, width) = match kind {
        sys::TypedarrayType::int32_array => (4, WaitWidth::Four),
        sys::TypedarrayType::bigint64_array => (8, WaitWidth::Eight),
        _ => return None,
    };
    if status != sys::Status::napi_ok || index as usize >= length {
        return None;
    }
    let address = data as usize + index as usize * size;
    viewed().values().find_map(|(memory, _)| {
        let base = memory.data_ptr() as usize;
        (address >= base && address + size <= base + memory.data_size())
            .then(|| (memory.clone(), (address - base) as u64, width))
    })
}

/// Whether element `index` of `view` lies in a heron shared memory.
#[napi]
pub fn atomics_is_heron(env: Env, view: Unknown, index: u32) -> bool {
    element(env.raw(), view.raw(), index).is_some()
}

/// `Atomics.wait` on a heron memory's buffer, with the arguments already converted:
/// `"ok"`, `"not-equal"` or `"timed-out"`; null if `view` is not over a heron memory.
#[napi]
pub fn atomics_wait(env: Env, view: Unknown, index: u32, expected: BigInt, timeout_ms: f64) -> Option<String> {
    let (memory, offset, width) = element(env.raw(), view.raw(), index)?;
    let (expected, _) = expected.get_i64();
    let expected = match width {
        WaitWidth::Four => u64::from(expected as i32 as u32),
        WaitWidth::Eight => expected as u64,
    };
    // Infinity (and anything past i64 nanoseconds) waits forever.
    let timeout_ns =
        if timeout_ms.is_finite() && timeout_ms * 1e6 < i64::MAX as f64 { (timeout_ms * 1e6) as i64 } else { -1 };
    let outcome = memory.wait(offset, expected, width, timeout_ns);
    Some(["ok", "not-equal", "timed-out"][outcome.min(2) as usize].to_string())
}

/// `Atomics.notify` on a heron memory's buffer: the number of waiters woken (wasm's and
/// JS's); null if `view` is not over a heron memory.
#[napi]
pub fn atomics_notify(env: Env, view: Unknown, index: u32, count: u32) -> Option<u32> {
    let (memory, offset, _) = element(env.raw(), view.raw(), index)?;
    Some(memory.notify(offset, count))
}
