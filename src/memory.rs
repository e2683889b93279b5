//! `NativeMemory`: an engine memory and the ArrayBuffer that views it. The buffer is an
//! external ArrayBuffer over the wasm memory itself (no copies); the same object is returned
//! until the memory grows, then it is detached and a new one made.

use crate::{error, link};
use heron_engine::{Engine, Extern, Limits, Memory, MemoryType};
use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use std::ffi::c_void;
use std::ptr;

/// A linear memory as `WebAssembly.Memory` wraps it.
#[napi]
pub struct NativeMemory {
    pub(crate) inner: Memory,
    link_id: u32,
    /// The current buffer and the byte length it was made with.
    buffer: Option<(sys::napi_ref, usize)>,
    env: sys::napi_env,
}

impl NativeMemory {
    pub(crate) fn wrap(env: sys::napi_env, inner: Memory) -> NativeMemory {
        let link_id = link::register(Extern::Memory(inner.clone()));
        NativeMemory { inner, link_id, buffer: None, env }
    }

    fn detach_buffer(&mut self) {
        if let Some((reference, _)) = self.buffer.take() {
            // SAFETY: the reference was created on `self.env`, on this thread.
            unsafe {
                let mut buffer = ptr::null_mut();
                sys::napi_get_reference_value(self.env, reference, &mut buffer);
                let mut detached = false;
                sys::napi_is_detached_arraybuffer(self.env, buffer, &mut detached);
                if !detached {
                    sys::napi_detach_arraybuffer(self.env, buffer);
                }
                sys::napi_delete_reference(self.env, reference);
            }
        }
    }
}

#[napi]
impl NativeMemory {
    /// A new memory of `initial` pages, growable to `maximum` pages if given.
    #[napi(constructor)]
    pub fn new(env: Env, initial: u32, maximum: Option<u32>) -> Result<Self> {
        let ty = MemoryType { limits: Limits { min: initial.into(), max: maximum.map(u64::from) }, shared: false };
        match Memory::new(&Engine::default(), ty) {
            Ok(inner) => Ok(NativeMemory::wrap(env.raw(), inner)),
            Err(e) => Err(error::throw(env.raw(), e).into()),
        }
    }

    /// The id under which `instantiate` accepts this memory as an import.
    #[napi]
    pub fn link_id(&self) -> u32 {
        self.link_id
    }

    /// Identifies the underlying memory: equal for every wrapper of the same memory.
    #[napi]
    pub fn identity(&self) -> f64 {
        self.inner.id() as f64
    }

    /// The ArrayBuffer viewing the memory's current contents.
    #[napi]
    pub fn buffer<'env>(&mut self, env: &'env Env) -> Result<Unknown<'env>> {
        let env = env.raw();
        let size = self.inner.data_size();
        if let Some((reference, length)) = self.buffer {
            // SAFETY: a reference of this env; the checks read into locals.
            unsafe {
                let mut buffer = ptr::null_mut();
                sys::napi_get_reference_value(env, reference, &mut buffer);
                let mut detached = false;
                sys::napi_is_detached_arraybuffer(env, buffer, &mut detached);
                if !detached && length == size {
                    return Ok(Unknown::from_raw_unchecked(env, buffer));
                }
            }
        }
        self.detach_buffer();
        // The buffer keeps the memory alive: its finalizer owns a handle to it.
        let keep_alive = Box::into_raw(Box::new(self.inner.clone()));
        let mut buffer = ptr::null_mut();
        // SAFETY: the memory's first `size` bytes are mapped read-write and stay mapped while
        // `keep_alive` lives, which the finalizer frees only when V8 drops the buffer.
        let status = unsafe {
            sys::napi_create_external_arraybuffer(
                env,
                self.inner.data_ptr().cast(),
                size,
                Some(release_memory),
                keep_alive.cast(),
                &mut buffer,
            )
        };
        if status != sys::Status::napi_ok {
            // SAFETY: not handed to V8, so still ours to free.
            drop(unsafe { Box::from_raw(keep_alive) });
            return Err(Error::new(Status::GenericFailure, "this runtime refuses external ArrayBuffers"));
        }
        let mut reference = ptr::null_mut();
        // SAFETY: a strong reference to the buffer just created.
        unsafe { sys::napi_create_reference(env, buffer, 1, &mut reference) };
        self.buffer = Some((reference, size));
        // SAFETY: `buffer` is a live value of this env.
        Ok(unsafe { Unknown::from_raw_unchecked(env, buffer) })
    }

    /// Grows by `delta` pages and returns the old size in pages; detaches the old buffer.
    #[napi]
    pub fn grow(&mut self, env: Env, delta: u32) -> Result<u32> {
        match self.inner.grow(delta.into()) {
            Ok(old) => {
                self.detach_buffer();
                Ok(old as u32)
            }
            Err(e) => Err(error::throw(env.raw(), e).into()),
        }
    }
}

impl Drop for NativeMemory {
    fn drop(&mut self) {
        link::unregister(self.link_id);
        if let Some((reference, _)) = self.buffer.take() {
            // SAFETY: runs in this object's finalizer, on its env's thread.
            unsafe { sys::napi_delete_reference(self.env, reference) };
        }
    }
}

unsafe extern "C" fn release_memory(_env: sys::napi_env, _data: *mut c_void, hint: *mut c_void) {
    // SAFETY: `hint` is the Box leaked in `buffer`, released exactly once, here.
    drop(unsafe { Box::from_raw(hint.cast::<Memory>()) });
}
