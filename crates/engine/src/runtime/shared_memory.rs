//! Shared linear memory (the threads proposal): one memory used by instances on several
//! threads at once, with the parking lot (`parking_lot.rs`) behind `memory.atomic.wait32/wait64/notify`.
//!
//! A shared memory never moves: it lives in a guard-page reservation (see `memory.rs`), or,
//! when the reservation budget is spent, in a mapping of its maximum size (a shared memory
//! must declare one), inaccessible past the current length, with explicit bounds checks in
//! the code using it. Growing is serialized by a lock and only ever makes more pages
//! accessible; the new length is published with a release store after the pages are, so a
//! thread that sees the length can touch every page below it. Compiled code reads the base
//! and the length through the `VMMemoryDefinition` this type owns, as it does for any memory.
//!
//! `SharedMemory` is `Send + Sync`; a thread uses it through a [`Memory`] handle
//! (`Memory::from(shared)`), so instances keep taking `Memory` whatever its kind.
//!
//! [`Memory`]: crate::runtime::memory::Memory

use crate::environ::config::BoundsChecks;
use crate::environ::error::{Error, Result};
use crate::environ::trap::Trap;
use crate::environ::types::MemoryType;
use crate::environ::vmctx::VMMemoryDefinition;
use crate::runtime::memory::{self, release_reservation, reserve, RESERVATION, WASM_PAGE_SIZE};
use crate::runtime::parking_lot::{AsyncWaiter, ParkingLot};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A shared linear memory. Cheap to clone; clones (on any thread) share the memory.
#[derive(Clone)]
pub struct SharedMemory {
    inner: Arc<SharedMemoryInner>,
}

struct SharedMemoryInner {
    /// Read by compiled code on every thread through each instance's vmctx. `base` never
    /// changes; `current_length` is only written under `grow_lock`, atomically.
    definition: Box<UnsafeCell<VMMemoryDefinition>>,
    ty: MemoryType,
    bounds_checks: BoundsChecks,
    /// Bytes mapped at the base: the reservation, or the maximum size.
    mapped: usize,
    /// The most pages the memory may hold under the creating instance's memory limit.
    limit_pages: u64,
    /// Serializes `grow`.
    grow_lock: Mutex<()>,
    /// Threads blocked in `memory.atomic.wait*`, by byte offset.
    parking_lot: ParkingLot,
}

// SAFETY: the definition's `base` is written only in `new`, before the memory is shared;
// `current_length` is written only under `grow_lock` and read atomically (`data_size`) or by
// compiled code as a naturally aligned word, which x86-64 never tears. The mapping itself
// is plain shared memory that wasm's memory model allows any thread to access.
unsafe impl Send for SharedMemoryInner {}
// SAFETY: as for `Send`.
unsafe impl Sync for SharedMemoryInner {}

impl SharedMemory {
    /// A new zero-filled shared memory of `ty.limits.min` pages, which never holds more than
    /// `limit` bytes. `ty` must be shared and have a maximum (validation ensures both for
    /// memories a module declares).
    pub fn new(ty: MemoryType, guard_pages: bool, limit: Option<u64>) -> Result<SharedMemory> {
        let Some(maximum) = ty.limits.max.filter(|_| ty.shared) else {
            return Err(Error::Resource("a shared memory must have a maximum size".into()));
        };
        let fits_reservation = memory::check_size_limits(&ty)?;
        let maximum = maximum.min(memory::max_pages(ty.address));
        let limit_pages = limit.map_or(u64::MAX, |bytes| bytes / WASM_PAGE_SIZE);
        if ty.limits.min > limit_pages {
            let (bytes, limit) = (ty.limits.min * WASM_PAGE_SIZE, limit.unwrap_or_default());
            return Err(Error::Resource(format!(
                "the initial memory size of {bytes} bytes exceeds the memory limit of {limit} bytes"
            )));
        }
        let (base, mapped, bounds_checks) = match (guard_pages && fits_reservation).then(reserve).flatten() {
            Some(base) => (base, RESERVATION, BoundsChecks::GuardPages),
            None => {
                let bytes = ((maximum * WASM_PAGE_SIZE) as usize).max(WASM_PAGE_SIZE as usize);
                (map_inaccessible(bytes)?, bytes, BoundsChecks::Explicit)
            }
        };
        let memory = SharedMemory {
            inner: Arc::new(SharedMemoryInner {
                definition: Box::new(UnsafeCell::new(VMMemoryDefinition { base, current_length: 0 })),
                ty,
                bounds_checks,
                mapped,
                limit_pages,
                grow_lock: Mutex::new(()),
                parking_lot: ParkingLot::default(),
            }),
        };
        memory.grow(ty.limits.min)?;
        Ok(memory)
    }

    /// How code using this memory must check its accesses.
    pub fn bounds_checks(&self) -> BoundsChecks {
        self.inner.bounds_checks
    }

    /// The type it was created with.
    pub fn ty(&self) -> MemoryType {
        self.inner.ty
    }

    /// Current size in bytes (a snapshot: another thread may grow the memory at any time).
    pub fn data_size(&self) -> usize {
        self.length().load(Ordering::Acquire)
    }

    /// Start of the memory; valid for the memory's lifetime (it never moves).
    pub fn data_ptr(&self) -> *mut u8 {
        // SAFETY: `base` is written only in `new`, before any other reference existed.
        unsafe { (*self.inner.definition.get()).base }
    }

    /// Bytes of address space at `data_ptr()` that stay mapped (accessible or not) while the
    /// memory lives: an upper bound on every length it will ever have.
    pub fn mapped_size(&self) -> usize {
        self.inner.mapped
    }

    fn length(&self) -> &AtomicUsize {
        // SAFETY: `current_length` is a naturally aligned `usize` inside the boxed definition,
        // which lives as long as `self`; every Rust access to it goes through this atomic view.
        unsafe { AtomicUsize::from_ptr(&raw mut (*self.inner.definition.get()).current_length) }
    }

    /// Grows by `delta` pages; returns the old size in pages. Serialized with other grows.
    pub fn grow(&self, delta: u64) -> Result<u64> {
        let _guard = self.inner.grow_lock.lock().unwrap_or_else(|e| e.into_inner());
        let old_bytes = self.data_size();
        let old_pages = old_bytes as u64 / WASM_PAGE_SIZE;
        let new_pages = memory::grown_size(&self.inner.ty, self.inner.limit_pages, old_pages, delta)?;
        if delta == 0 {
            return Ok(old_pages);
        }
        let new_bytes = (new_pages * WASM_PAGE_SIZE) as usize;
        // SAFETY: `[old_bytes, new_bytes)` lies inside the mapping (new_pages <= maximum, and
        // the mapping covers the maximum); making pages accessible never invalidates an access
        // another thread makes meanwhile.
        let status = unsafe {
            libc::mprotect(
                self.data_ptr().add(old_bytes).cast(),
                new_bytes - old_bytes,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if status != 0 {
            return Err(Error::Resource("out of memory growing a memory".into()));
        }
        self.length().store(new_bytes, Ordering::Release);
        Ok(old_pages)
    }

    /// Copies `bytes` to `offset`; fails, writing nothing, unless the whole range lies inside
    /// the memory. Other threads may access the same bytes meanwhile (a data race wasm allows).
    pub(crate) fn write_bytes(&self, offset: u64, bytes: &[u8]) -> std::result::Result<(), Trap> {
        let fits = offset.checked_add(bytes.len() as u64).is_some_and(|end| end <= self.data_size() as u64);
        if !fits {
            return Err(Trap::MemoryOutOfBounds);
        }
        // SAFETY: the range is accessible (checked above; the memory only grows) and cannot
        // overlap `bytes`, which is Rust-owned memory.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.data_ptr().add(offset as usize), bytes.len()) };
        Ok(())
    }

    /// The definition compiled code reads through an instance's vmctx.
    pub(crate) fn definition(&self) -> *mut VMMemoryDefinition {
        self.inner.definition.get()
    }

    /// A number identifying this memory among the live ones.
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// Whether two handles name the same memory.
    pub fn same(&self, other: &SharedMemory) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// `memory.atomic.wait32` / `wait64` (or `Atomics.wait`) at byte `offset` (in bounds and
    /// aligned: the caller checked), expecting `expected` (of `width` bytes). Blocks until
    /// notified (`Ok(0)`), returns at once if the value differs (`Ok(1)`), or after
    /// `timeout_ns` (`Ok(2)`; a negative timeout waits forever). `Err(Trap::Interrupted)` when
    /// the thread's cancellation hook stopped it (see `parking_lot.rs`).
    pub fn wait(&self, offset: u64, expected: u64, width: Width, timeout_ns: i64) -> Result<u32, Trap> {
        self.wait_controlled(offset, expected, width, timeout_ns, None)
    }

    /// `wait` in a call with controls: `stop`, polled every millisecond while blocked, ends
    /// the wait with the trap it returns (a timeout or an interrupt).
    pub(crate) fn wait_controlled(
        &self,
        offset: u64,
        expected: u64,
        width: Width,
        timeout_ns: i64,
        stop: Option<&mut dyn FnMut() -> Option<Trap>>,
    ) -> Result<u32, Trap> {
        let deadline = u64::try_from(timeout_ns).ok().map(|ns| Instant::now() + Duration::from_nanos(ns));
        let controlled = stop.is_some();
        let mut no_controls = || None;
        let stop = stop.unwrap_or(&mut no_controls);
        self.inner.parking_lot.park(offset, || self.load(offset, width) == expected, deadline, stop, controlled)
    }

    /// `Atomics.waitAsync` at byte `offset` (in bounds and aligned): queues `on_notify`, which
    /// a notify at `offset` runs once on its own thread, unless `cancel_async` removed it
    /// first; `Err(1)` at once if the value differs.
    pub fn wait_async(
        &self,
        offset: u64,
        expected: u64,
        width: Width,
        on_notify: Box<dyn FnOnce() + Send>,
    ) -> std::result::Result<AsyncWaiter, u32> {
        self.inner.parking_lot.park_async(offset, || self.load(offset, width) == expected, on_notify)
    }

    /// Removes a pending async wait (at its timeout): true if it was still pending, false
    /// if a notify has taken it (its callback runs or has run).
    pub fn cancel_async(&self, pending: &AsyncWaiter) -> bool {
        self.inner.parking_lot.cancel(pending)
    }

    /// The value of `width` bytes at `offset` (in bounds and aligned), read atomically.
    fn load(&self, offset: u64, width: Width) -> u64 {
        // SAFETY: `offset` is in bounds and aligned to `width` (the callers checked) and the
        // memory never shrinks or moves; wasm memory is accessed atomically from any thread.
        unsafe {
            let address = self.data_ptr().add(offset as usize);
            match width {
                Width::Four => u64::from(AtomicU32::from_ptr(address.cast()).load(Ordering::SeqCst)),
                Width::Eight => AtomicU64::from_ptr(address.cast()).load(Ordering::SeqCst),
            }
        }
    }

    /// `memory.atomic.notify` at byte `offset`: wakes up to `count` waiters, oldest first;
    /// returns how many it woke.
    pub fn notify(&self, offset: u64, count: u32) -> u32 {
        self.inner.parking_lot.unpark(offset, count)
    }
}

/// The size of the value `wait` compares.
#[derive(Clone, Copy, Debug)]
pub enum Width {
    /// `memory.atomic.wait32`.
    Four,
    /// `memory.atomic.wait64`.
    Eight,
}

impl Drop for SharedMemoryInner {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`; no instance refers to it any more, since
        // instances hold a handle.
        unsafe { libc::munmap(self.definition.get_mut().base.cast(), self.mapped) };
        if self.bounds_checks == BoundsChecks::GuardPages {
            release_reservation();
        }
    }
}

/// Maps `bytes` of inaccessible address space (made accessible page range by page range).
fn map_inaccessible(bytes: usize) -> Result<*mut u8> {
    crate::runtime::memory::map_inaccessible(bytes)
        .ok_or_else(|| Error::Resource("could not map memory for a shared memory".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environ::types::Limits;

    fn shared(min: u64, max: u64) -> SharedMemory {
        let ty = MemoryType { limits: Limits { min, max: Some(max) }, shared: true, address: Default::default() };
        SharedMemory::new(ty, true, None).unwrap()
    }

    #[test]
    fn grows_in_place_up_to_the_maximum() {
        let memory = shared(1, 3);
        let base = memory.data_ptr();
        assert_eq!(memory.grow(2).unwrap(), 1);
        assert_eq!(memory.data_ptr(), base);
        assert_eq!(memory.data_size(), 3 * WASM_PAGE_SIZE as usize);
        assert!(memory.grow(1).is_err());
    }

    #[test]
    fn wait_returns_at_once_on_a_different_value_or_times_out() {
        let memory = shared(1, 1);
        assert_eq!(memory.wait(0, 1, Width::Four, -1), Ok(1));
        assert_eq!(memory.wait(0, 0, Width::Eight, 1_000), Ok(2));
        assert_eq!(memory.notify(0, 1), 0);
    }

    #[test]
    fn notify_wakes_a_waiter_on_another_thread() {
        let memory = shared(1, 1);
        let waiter = {
            let memory = memory.clone();
            std::thread::spawn(move || memory.wait(8, 0, Width::Four, -1))
        };
        let mut woken = 0;
        while woken == 0 {
            woken = memory.notify(8, 1);
            std::thread::yield_now();
        }
        assert_eq!(waiter.join().unwrap(), Ok(0));
    }
}
