//! `NativeMemory`: an engine memory and the ArrayBuffer that views it. The buffer is an
//! external ArrayBuffer over the wasm memory itself (no copies). Every grow, whether from JS
//! or from `memory.grow` in wasm, detaches the current buffer at once (glue code such as
//! wasm-bindgen's notices growth by `byteLength === 0`); the next `buffer` read makes a new one.
//!
//! The current buffer is tracked per memory, not per wrapper, in a thread-local map, so the
//! engine's grow observer needs to capture nothing but the memory's id.

use crate::external::external_buffer;
use crate::id_hash::IdMap;
use crate::{error, link};
use heron_engine::{AddressType, Engine, Extern, Limits, Memory, MemoryType};
use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use std::cell::{Cell, RefCell};
use std::ptr;
use std::sync::Arc;

/// The buffer currently handed out for one memory.
struct CurrentBuffer {
    env: sys::napi_env,
    /// Weak: the buffer lives as long as JS holds it; its finalizer removes this entry.
    buffer: sys::napi_ref,
    /// Distinguishes this buffer from later ones for the same memory, for the finalizer.
    serial: u64,
}

thread_local! {
    static CURRENT_BUFFERS: RefCell<IdMap<usize, CurrentBuffer>> = RefCell::new(IdMap::default());
    static NEXT_SERIAL: Cell<u64> = const { Cell::new(0) };
}

/// What an external buffer owns: the memory it views, kept mapped. Dropped when V8
/// collects the buffer; forgets the buffer if it is still the memory's current one.
struct BufferOwner {
    memory: Memory,
    serial: u64,
    env: sys::napi_env,
}

impl Drop for BufferOwner {
    fn drop(&mut self) {
        let id = self.memory.id();
        let entry = CURRENT_BUFFERS.with(|map| {
            let mut map = map.borrow_mut();
            match map.get(&id) {
                Some(current) if current.serial == self.serial => map.remove(&id),
                _ => None,
            }
        });
        if let Some(current) = entry {
            // SAFETY: the reference was made on this env, and is deleted once (it left the map).
            unsafe { sys::napi_delete_reference(self.env, current.buffer) };
        }
    }
}

/// A linear memory as `WebAssembly.Memory` wraps it.
#[napi]
pub struct NativeMemory {
    pub(crate) inner: Memory,
    link_id: u32,
    env: sys::napi_env,
    /// Bytes reported to V8 as external memory held by this object: the memory's size. V8
    /// knows nothing of the pages (nor of the 8 GiB reservation behind each memory), so
    /// without this a loop creating instances would run out of address space long before
    /// V8 felt any need to collect the objects that keep old memories alive.
    reported: i64,
}

impl NativeMemory {
    pub(crate) fn wrap(env: sys::napi_env, inner: Memory) -> NativeMemory {
        let link_id = link::register(Extern::Memory(inner.clone()));
        let mut memory = NativeMemory { inner, link_id, env, reported: 0 };
        memory.report_size();
        memory
    }

    /// Brings the external memory reported to V8 up to the memory's current size.
    fn report_size(&mut self) {
        let size = self.inner.data_size() as i64;
        let mut total = 0;
        // SAFETY: the env this object was made on, on its thread.
        unsafe { sys::napi_adjust_external_memory(self.env, size - self.reported, &mut total) };
        self.reported = size;
    }
}

/// Detaches the buffer handed out for memory `id`, if any, and forgets it.
fn detach_current_buffer(id: usize) {
    let Some(current) = CURRENT_BUFFERS.with(|map| map.borrow_mut().remove(&id)) else {
        return;
    };
    // SAFETY: the entry was made on this thread's env (the map is thread-local), and the
    // memory grows only on the thread that uses it.
    unsafe {
        let mut buffer = ptr::null_mut();
        sys::napi_get_reference_value(current.env, current.buffer, &mut buffer);
        if !buffer.is_null() {
            let mut detached = false;
            sys::napi_is_detached_arraybuffer(current.env, buffer, &mut detached);
            if !detached {
                sys::napi_detach_arraybuffer(current.env, buffer);
            }
        }
        sys::napi_delete_reference(current.env, current.buffer);
    }
}

#[napi]
impl NativeMemory {
    /// A new memory of `initial` pages, growable to `maximum` pages if given; shared
    /// between threads if `shared` (then `maximum` is required); a 64-bit memory if
    /// `address64`.
    #[napi(constructor)]
    pub fn new(
        env: Env,
        initial: u32,
        maximum: Option<u32>,
        shared: Option<bool>,
        address64: Option<bool>,
    ) -> Result<Self> {
        let limits = Limits { min: initial.into(), max: maximum.map(u64::from) };
        let address = if address64.unwrap_or(false) { AddressType::I64 } else { AddressType::I32 };
        let ty = MemoryType { limits, shared: shared.unwrap_or(false), address };
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

    /// The ArrayBuffer viewing the memory's current contents: the same object until the
    /// memory grows.
    #[napi]
    pub fn buffer<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        let env = env.raw();
        if let Some(shared) = self.inner.shared() {
            let buffer = crate::shared_buffer::shared_buffer(env, shared)?;
            // SAFETY: `buffer` is a live value of this env.
            return Ok(unsafe { Unknown::from_raw_unchecked(env, buffer) });
        }
        let id = self.inner.id();
        let known = CURRENT_BUFFERS.with(|map| map.borrow().get(&id).map(|current| current.buffer));
        if let Some(reference) = known {
            let mut buffer = ptr::null_mut();
            // SAFETY: a reference of this thread's env.
            unsafe { sys::napi_get_reference_value(env, reference, &mut buffer) };
            let mut detached = true;
            if !buffer.is_null() {
                // SAFETY: `buffer` is a live value of this env.
                unsafe { sys::napi_is_detached_arraybuffer(env, buffer, &mut detached) };
            }
            if !detached {
                // SAFETY: `buffer` is a live value of this env.
                return Ok(unsafe { Unknown::from_raw_unchecked(env, buffer) });
            }
        }
        let serial = NEXT_SERIAL.with(|next| {
            next.set(next.get() + 1);
            next.get()
        });
        let owner = BufferOwner { memory: self.inner.clone(), serial, env };
        // SAFETY: the memory's first `data_size` bytes are mapped read-write and stay mapped
        // while `owner` lives. The buffer is detached before the memory's size changes (see
        // `detach_current_buffer`).
        let buffer = unsafe { external_buffer(env, self.inner.data_ptr(), self.inner.data_size(), owner) }?;
        let mut reference = ptr::null_mut();
        // SAFETY: a weak reference to the buffer just created.
        unsafe { sys::napi_create_reference(env, buffer, 0, &mut reference) };
        CURRENT_BUFFERS.with(|map| map.borrow_mut().insert(id, CurrentBuffer { env, buffer: reference, serial }));
        self.inner.set_grow_observer(Some(Arc::new(move || detach_current_buffer(id))));
        // SAFETY: `buffer` is a live value of this env.
        Ok(unsafe { Unknown::from_raw_unchecked(env, buffer) })
    }

    /// A carrier of this shared memory to another Worker (see `transfer.rs`); throws for an
    /// unshared memory (`index.js` throws V8's DataCloneError before asking).
    #[napi]
    pub fn carrier<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        let Some(shared) = self.inner.shared() else {
            return Err(Error::new(Status::InvalidArg, "only a shared memory can be sent to another thread"));
        };
        let carrier = crate::transfer::carrier(crate::transfer::Carried::Memory(shared.clone()))?;
        // SAFETY: a live value of this env.
        Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), carrier) })
    }

    /// The shared memory a carrier made by `carrier` (in any Worker) carries, wrapped for
    /// this thread; throws if `view` is not a live carrier of a memory.
    #[napi(factory)]
    pub fn from_carrier(env: Env, view: Unknown) -> Result<NativeMemory> {
        match crate::transfer::carried(env.raw(), view.raw()) {
            Some(crate::transfer::Carried::Memory(shared)) => Ok(NativeMemory::wrap(env.raw(), Memory::from(shared))),
            _ => Err(Error::new(Status::InvalidArg, "not a carrier of a heron memory")),
        }
    }

    /// Whether the memory is a 64-bit one (its JS sizes are BigInts).
    #[napi]
    pub fn address64(&self) -> bool {
        self.inner.ty().address.is_64()
    }

    /// Whether the memory's type has a maximum size (`toResizableBuffer` needs one).
    #[napi]
    pub fn has_maximum(&self) -> bool {
        self.inner.ty().limits.max.is_some()
    }

    /// Whether the memory is shared between threads.
    #[napi]
    pub fn is_shared(&self) -> bool {
        self.inner.shared().is_some()
    }

    /// Grows by `delta` pages and returns the old size in pages; detaches the old buffer
    /// (even for a delta of 0, as the JS API specifies), unless the memory is shared: a
    /// shared memory's buffers stay valid, and `buffer` gives one of the new length.
    #[napi]
    pub fn grow(&mut self, env: Env, delta: u32) -> Result<u32> {
        match self.inner.grow(delta.into()) {
            Ok(old) if self.inner.shared().is_some() => {
                self.report_size();
                Ok(old as u32)
            }
            Ok(old) => {
                detach_current_buffer(self.inner.id());
                self.report_size();
                Ok(old as u32)
            }
            Err(e) => Err(error::throw(env.raw(), e).into()),
        }
    }
}

impl Drop for NativeMemory {
    fn drop(&mut self) {
        link::unregister(self.link_id);
        let mut total = 0;
        // SAFETY: runs in this object's finalizer, on its env's thread.
        unsafe { sys::napi_adjust_external_memory(self.env, -self.reported, &mut total) };
    }
}
