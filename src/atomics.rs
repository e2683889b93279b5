//! `Atomics.wait`/`Atomics.notify` on the SharedArrayBuffers of heron's shared memories,
//! joined with wasm's `memory.atomic.wait*`/`notify`: `lib/atomics.js` sends those calls
//! here, to the memory's own parking lot (`shared_memory.rs`), so a JS waiter is woken by
//! wasm's notify and a wasm waiter by `Atomics.notify`, in any thread. V8's futex table,
//! which `Atomics` uses for every other buffer, has no API an addon could join instead.
//! `Atomics.waitAsync` queues a callback in the same lot; a notify on any thread runs it,
//! which resolves the promise on the waiting thread through a threadsafe function.
//!
//! A buffer is recognized by address: the memories with a SharedArrayBuffer alive (in any
//! thread) are registered here by `shared_buffer.rs`, so a clone of the buffer posted to
//! another Worker is recognized there too.

use heron_engine::{AsyncWaiter, SharedMemory, WaitWidth};
use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use std::cell::{Cell, RefCell};
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
pub fn atomics_wait(env: Env, view: Unknown, index: u32, expected: BigInt, timeout_ms: f64) -> Result<Option<String>> {
    let Some((memory, offset, width)) = element(env.raw(), view.raw(), index) else { return Ok(None) };
    let expected = expected_value(&expected, width);
    // Infinity (and anything past i64 nanoseconds) waits forever.
    let timeout_ns =
        if timeout_ms.is_finite() && timeout_ms * 1e6 < i64::MAX as f64 { (timeout_ms * 1e6) as i64 } else { -1 };
    match memory.wait(offset, expected, width, timeout_ns) {
        Ok(outcome) => Ok(Some(["ok", "not-equal", "timed-out"][outcome.min(2) as usize].to_string())),
        // Only a terminating Worker stops a wait (see `termination.rs`); V8 drops this error.
        Err(_) => Err(Error::new(Status::GenericFailure, "Atomics.wait was stopped: the thread is terminating")),
    }
}

/// `Atomics.notify` on a heron memory's buffer: the number of waiters woken (wasm's and
/// JS's); null if `view` is not over a heron memory.
#[napi]
pub fn atomics_notify(env: Env, view: Unknown, index: u32, count: u32) -> Option<u32> {
    let (memory, offset, _) = element(env.raw(), view.raw(), index)?;
    Some(memory.notify(offset, count))
}

/// The value a wait expects, as the memory holds it (`expected` is already ToInt32'd or
/// ToBigInt64'd by `lib/atomics.js`).
fn expected_value(expected: &BigInt, width: WaitWidth) -> u64 {
    let (expected, _) = expected.get_i64();
    match width {
        WaitWidth::Four => u64::from(expected as i32 as u32),
        WaitWidth::Eight => expected as u64,
    }
}

/// A pending `Atomics.waitAsync` of this thread: where it waits, and the threadsafe function
/// that resolves its promise.
struct PendingAsync {
    memory: SharedMemory,
    waiter: AsyncWaiter,
    resolve: ThreadsafeResolve,
}

/// A threadsafe function calling the JS callback that resolves a waitAsync's promise with
/// "ok". Node-API's threadsafe-function calls may be made from any thread.
#[derive(Clone, Copy)]
struct ThreadsafeResolve(sys::napi_threadsafe_function);

// SAFETY: Node-API documents napi_call_threadsafe_function and
// napi_release_threadsafe_function as callable from any thread.
unsafe impl Send for ThreadsafeResolve {}

impl ThreadsafeResolve {
    /// Queues the JS callback for `id`, then gives up this thread's use of the function.
    fn resolve_and_release(self, id: u32) {
        // SAFETY: the function has not been released yet (each pending wait releases it once:
        // here, or in `cancel` when the notify never came).
        unsafe {
            sys::napi_call_threadsafe_function(
                self.0,
                id as usize as *mut c_void,
                sys::ThreadsafeFunctionCallMode::nonblocking,
            );
            sys::napi_release_threadsafe_function(self.0, sys::ThreadsafeFunctionReleaseMode::release);
        }
    }

    /// Makes the function keep `env`'s event loop alive (until it is released).
    fn reference(self, env: sys::napi_env) {
        // SAFETY: called on the thread of `env`, the env the function was made on, which is
        // alive: a notify on this thread is made by its JS or its wasm, so the env runs.
        unsafe { sys::napi_ref_threadsafe_function(env, self.0) };
    }

    fn release(self) {
        // SAFETY: as in `resolve_and_release`: released once.
        unsafe { sys::napi_release_threadsafe_function(self.0, sys::ThreadsafeFunctionReleaseMode::release) };
    }
}

thread_local! {
    /// This thread's pending async waits, by the id `atomicsWaitAsync` returned.
    static PENDING: RefCell<HashMap<u32, PendingAsync>> = RefCell::new(HashMap::new());
    static NEXT_ASYNC_ID: Cell<u32> = const { Cell::new(1) };
    static CLEANUP_HOOKED: Cell<bool> = const { Cell::new(false) };
}

/// `Atomics.waitAsync` on a heron memory's buffer, with the arguments already converted:
/// `"not-equal"`, `"timed-out"` (a zero timeout), or the id of the pending wait, whose
/// `on_notify` (a JS function) is called on this thread once a notify (of wasm or JS, on any
/// thread) wakes it; null if `view` is not over a heron memory.
#[napi]
pub fn atomics_wait_async(
    env: Env,
    view: Unknown,
    index: u32,
    expected: BigInt,
    timeout_ms: f64,
    on_notify: Unknown,
) -> Result<Option<Either<String, u32>>> {
    let Some((memory, offset, width)) = element(env.raw(), view.raw(), index) else { return Ok(None) };
    let expected = expected_value(&expected, width);
    if timeout_ms <= 0.0 {
        let outcome = memory.wait(offset, expected, width, 0).unwrap_or(2);
        return Ok(Some(Either::A(if outcome == 1 { "not-equal" } else { "timed-out" }.to_string())));
    }
    hook_cleanup(env.raw());
    let resolve = threadsafe_resolve(env.raw(), on_notify.raw())?;
    let id = NEXT_ASYNC_ID.with(|next| {
        let id = next.get();
        next.set(id.wrapping_add(1).max(1));
        id
    });
    let (waiting_env, waiting_thread) = (env.raw() as usize, std::thread::current().id());
    let on_notify = Box::new(move || {
        if std::thread::current().id() == waiting_thread {
            // Notified on the waiting thread itself: nothing else may keep its event loop
            // alive until the call arrives (V8 resolves its own in a task the loop runs
            // before it ends), so the function holds the loop until it is released.
            resolve.reference(waiting_env as sys::napi_env);
        }
        resolve.resolve_and_release(id);
    });
    match memory.wait_async(offset, expected, width, on_notify) {
        Ok(waiter) => {
            PENDING.with(|pending| pending.borrow_mut().insert(id, PendingAsync { memory, waiter, resolve }));
            Ok(Some(Either::B(id)))
        }
        Err(_) => {
            resolve.release();
            Ok(Some(Either::A("not-equal".to_string())))
        }
    }
}

/// At a pending async wait's timeout: true if it was still pending (now removed: resolve
/// with "timed-out"), false if a notify has woken it (its callback is on its way).
#[napi]
pub fn atomics_cancel_wait_async(id: u32) -> bool {
    let Some(pending) = PENDING.with(|pending| pending.borrow_mut().remove(&id)) else { return false };
    let cancelled = pending.memory.cancel_async(&pending.waiter);
    if cancelled {
        pending.resolve.release();
    }
    cancelled
}

/// A threadsafe function over `callback`, unreferenced: like V8's own waitAsync, a pending
/// wait does not keep the event loop alive (a notify on this thread references it).
fn threadsafe_resolve(env: sys::napi_env, callback: sys::napi_value) -> Result<ThreadsafeResolve> {
    let mut name = ptr::null_mut();
    let mut function = ptr::null_mut();
    // SAFETY: `env` is this callback's env and `callback` a live value of it (a function:
    // lib/atomics.js passes one); one thread (the notifier's closure) uses the function.
    let status = unsafe {
        let text = "heron Atomics.waitAsync";
        sys::napi_create_string_utf8(env, text.as_ptr().cast(), text.len() as isize, &mut name);
        sys::napi_create_threadsafe_function(
            env,
            callback,
            ptr::null_mut(),
            name,
            0,
            1,
            ptr::null_mut(),
            None,
            ptr::null_mut(),
            Some(call_on_notify),
            &mut function,
        )
    };
    if status != sys::Status::napi_ok {
        return Err(Error::new(
            Status::GenericFailure,
            "could not create the threadsafe function of Atomics.waitAsync",
        ));
    }
    // SAFETY: a threadsafe function of this env, just made.
    unsafe { sys::napi_unref_threadsafe_function(env, function) };
    Ok(ThreadsafeResolve(function))
}

/// Runs on the waiting thread when a notify woke the wait `data` (its id): forgets it and
/// calls its JS callback.
unsafe extern "C" fn call_on_notify(
    env: sys::napi_env,
    callback: sys::napi_value,
    _context: *mut c_void,
    data: *mut c_void,
) {
    PENDING.with(|pending| pending.borrow_mut().remove(&(data as usize as u32)));
    if env.is_null() || callback.is_null() {
        return; // the env is going away
    }
    let (mut undefined, mut result) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: Node-API calls this on the env's thread with a handle scope open.
    unsafe {
        sys::napi_get_undefined(env, &mut undefined);
        sys::napi_call_function(env, undefined, callback, 0, ptr::null(), &mut result);
    }
}

/// Registers, once per thread, the env cleanup that cancels the thread's pending async waits,
/// so no notify calls into a threadsafe function of a Worker that is gone.
fn hook_cleanup(env: sys::napi_env) {
    if CLEANUP_HOOKED.with(|hooked| hooked.replace(true)) {
        return;
    }
    // SAFETY: a static function with no data, registered on this thread's env.
    unsafe { sys::napi_add_env_cleanup_hook(env, Some(cancel_all), ptr::null_mut()) };
}

unsafe extern "C" fn cancel_all(_data: *mut c_void) {
    let pending = PENDING.with(|pending| std::mem::take(&mut *pending.borrow_mut()));
    for (_, pending) in pending {
        if pending.memory.cancel_async(&pending.waiter) {
            pending.resolve.release();
        }
    }
    CLEANUP_HOOKED.with(|hooked| hooked.set(false));
}
