//! Linear memory, in one of two styles (see [`BoundsChecks`]).
//!
//! Normally a memory reserves `RESERVATION` bytes of address space up front, so its base
//! never moves and every address a 32-bit index plus a 32-bit offset can form lies inside the
//! reservation: compiled code needs no bounds checks, and an access past the current length
//! hits inaccessible pages and faults into the trap handler.
//!
//! Reservations are big, and the address space is not endless (47 bits, 128 TiB, on x86-64
//! Linux). Once the memories alive hold `RESERVATION_BUDGET` bytes of it, or when a
//! reservation fails, a new memory maps only its current size instead and moves when it
//! grows; instances using such a memory run code compiled with explicit bounds checks.

use crate::engine::Engine;
use crate::environ::config::BoundsChecks;
use crate::environ::error::{Error, Result};
use crate::environ::trap::Trap;
use crate::environ::types::{AddressType, MemoryType};
use crate::environ::vmctx::VMMemoryDefinition;
use crate::runtime::memory_image::MemoryImage;
use crate::runtime::shared_memory::SharedMemory;
use crate::runtime::sys;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes in a wasm page.
pub const WASM_PAGE_SIZE: u64 = 65536;

/// Largest number of pages a 32-bit memory may have.
const MAX_PAGES: u64 = 65536;

/// Largest number of pages a 64-bit memory may have: the JS API's limit (16 GiB).
const MAX_PAGES_64: u64 = 262_144;

/// The most pages a memory of address type `address` may ever hold.
pub(crate) fn max_pages(address: AddressType) -> u64 {
    match address {
        AddressType::I32 => MAX_PAGES,
        AddressType::I64 => MAX_PAGES_64,
    }
}

/// Checks `ty` against the engine's size limits, and says whether a reservation can hold
/// every size the memory may grow to: always for a 32-bit memory; for a 64-bit one only if
/// its maximum is at most 4 GiB (its code then checks `index < 2^32` and lets the guard
/// region catch the rest, see `compiler/translate/bounds.rs`).
///
/// A 64-bit memory's maximum may exceed the engine's limit (validation allows 2^48 pages):
/// it then never grows past the limit, as one without a maximum.
pub(crate) fn check_size_limits(ty: &MemoryType) -> Result<bool> {
    let most = max_pages(ty.address);
    let too_big = |pages: u64| pages > most;
    if too_big(ty.limits.min) || (!ty.address.is_64() && ty.limits.max.is_some_and(too_big)) {
        let gib = (most * WASM_PAGE_SIZE) >> 30;
        return Err(Error::Resource(format!("memory size exceeds {most} pages ({gib} GiB)")));
    }
    Ok(ty.limits.max.unwrap_or(most).min(most) <= MAX_PAGES)
}

/// Address space reserved per memory: 4 GiB of index space, 4 GiB of offset space, and a
/// page for the widest access. Only committed pages cost memory; the rest is PROT_NONE.
pub(crate) const RESERVATION: usize = (8 << 30) + 65536;

/// Address space all live reservations together may take: half of what a process has, so the
/// rest of the process (the JS heap, thread stacks, malloc) never runs short because of wasm
/// memories. That is 8191 memories with guard pages alive at once; more fall back to
/// explicit bounds checks.
pub const RESERVATION_BUDGET: usize = 64 << 40;

/// Address space held by live reservations.
static RESERVED: AtomicUsize = AtomicUsize::new(0);

/// A linear memory. Cheap to clone; clones share the memory. A handle is single-threaded
/// (`Rc`), like the instances using it. An unshared memory is only ever touched by its one
/// thread, and the type system keeps it so; a shared one (`shared_memory.rs`) is reached
/// from other threads through their own handles (`Memory::from(SharedMemory)`).
#[derive(Clone)]
pub struct Memory {
    inner: Rc<MemoryInner>,
    /// Set for a shared memory, whose storage lives there; `inner` then only holds the
    /// handle's own state (the grow observer).
    shared: Option<SharedMemory>,
}

struct MemoryInner {
    /// Read by compiled code through a pointer in each instance's vmctx; written by `grow`.
    definition: Box<UnsafeCell<VMMemoryDefinition>>,
    ty: MemoryType,
    bounds_checks: BoundsChecks,
    /// Bytes mapped at the base (the reservation, or the explicit style's mapping).
    mapped: Cell<usize>,
    /// Told after every successful grow by a non-zero delta (see `set_grow_observer`).
    grow_observer: RefCell<Option<GrowObserver>>,
    /// The most pages the memory may hold under its instance's `Controls::memory_limit`
    /// (in bytes there), or `u64::MAX`.
    limit_pages: u64,
}

/// Called after the memory grew, from wherever the grow happened (the host or `memory.grow`
/// in compiled code).
pub type GrowObserver = Arc<dyn Fn() + Send + Sync>;

impl Memory {
    /// A new zero-filled memory of `ty.limits.min` pages.
    pub fn new(engine: &Engine, ty: MemoryType) -> Result<Memory> {
        Memory::with_limit(engine, ty, None)
    }

    /// A new zero-filled memory of `ty.limits.min` pages that never holds more than
    /// `limit` bytes (rounded down to whole pages): growing past it fails as growing past
    /// the maximum does, and an initial size above it is an error.
    pub fn with_limit(engine: &Engine, ty: MemoryType, limit: Option<u64>) -> Result<Memory> {
        let limit_pages = limit.map_or(u64::MAX, |bytes| bytes / WASM_PAGE_SIZE);
        if ty.limits.min > limit_pages {
            let (bytes, limit) = (ty.limits.min * WASM_PAGE_SIZE, limit.unwrap_or_default());
            return Err(Error::Resource(format!(
                "the initial memory size of {bytes} bytes exceeds the memory limit of {limit} bytes"
            )));
        }
        if ty.shared {
            return Ok(Memory::from(SharedMemory::new(ty, engine.guard_pages(), limit)?));
        }
        let fits_reservation = check_size_limits(&ty)?;
        let (base, mapped, bounds_checks) = match (engine.guard_pages() && fits_reservation).then(reserve).flatten() {
            Some(base) => (base, RESERVATION, BoundsChecks::GuardPages),
            None => {
                // At least a page, so that the base is a real mapping even while empty.
                let bytes = ((ty.limits.min * WASM_PAGE_SIZE) as usize).max(WASM_PAGE_SIZE as usize);
                (map_read_write(bytes)?, bytes, BoundsChecks::Explicit)
            }
        };
        let definition = VMMemoryDefinition { base, current_length: 0 };
        let memory = Memory {
            inner: Rc::new(MemoryInner {
                definition: Box::new(UnsafeCell::new(definition)),
                ty,
                bounds_checks,
                mapped: Cell::new(mapped),
                grow_observer: RefCell::new(None),
                limit_pages,
            }),
            shared: None,
        };
        memory.grow(ty.limits.min)?;
        Ok(memory)
    }

    /// How code using this memory must check its accesses; instances pick their code by it.
    pub fn bounds_checks(&self) -> BoundsChecks {
        if let Some(shared) = &self.shared {
            return shared.bounds_checks();
        }
        self.inner.bounds_checks
    }

    /// The type it was created with (its minimum is the initial size).
    pub fn ty(&self) -> MemoryType {
        if let Some(shared) = &self.shared {
            return shared.ty();
        }
        self.inner.ty
    }

    /// Current size in pages.
    pub fn size(&self) -> u64 {
        self.data_size() as u64 / WASM_PAGE_SIZE
    }

    /// Current size in bytes.
    pub fn data_size(&self) -> usize {
        if let Some(shared) = &self.shared {
            return shared.data_size();
        }
        // SAFETY: a plain read of the definition this memory owns; nothing writes it
        // meanwhile: `grow` runs on this thread (the memory is not `Send`) and holds no
        // reference across calls.
        unsafe { (*self.inner.definition.get()).current_length }
    }

    /// Start of the memory; valid for `data_size()` bytes until the next grow. With
    /// [`BoundsChecks::Explicit`] a grow may move the memory.
    pub fn data_ptr(&self) -> *mut u8 {
        if let Some(shared) = &self.shared {
            return shared.data_ptr();
        }
        // SAFETY: as in `data_size`.
        unsafe { (*self.inner.definition.get()).base }
    }

    /// Registers the function called after each grow that changes the size (replacing any
    /// earlier one). Embedders use it to invalidate views of the old size, e.g. to detach a
    /// JS ArrayBuffer at once, even when compiled code grows the memory.
    pub fn set_grow_observer(&self, observer: Option<GrowObserver>) {
        *self.inner.grow_observer.borrow_mut() = observer;
    }

    /// Grows by `delta` pages; returns the old size in pages.
    pub fn grow(&self, delta: u64) -> Result<u64> {
        let old_pages = self.grow_locked(delta)?;
        if delta > 0 {
            // Outside the grow lock, so the observer may use the memory freely.
            let observer = self.inner.grow_observer.borrow().clone();
            if let Some(observer) = observer {
                observer();
            }
        }
        Ok(old_pages)
    }

    fn grow_locked(&self, delta: u64) -> Result<u64> {
        if let Some(shared) = &self.shared {
            return shared.grow(delta);
        }
        let mapped = self.inner.mapped.get();
        let old_pages = self.size();
        let most = max_pages(self.inner.ty.address);
        let maximum = self.inner.ty.limits.max.unwrap_or(most).min(most);
        let new_pages = grown_size(&self.inner.ty, self.inner.limit_pages, old_pages, delta)?;
        if delta == 0 {
            return Ok(old_pages);
        }
        let old_bytes = self.data_size();
        let new_bytes = (new_pages * WASM_PAGE_SIZE) as usize;
        match self.inner.bounds_checks {
            BoundsChecks::GuardPages => {
                // SAFETY: the range lies inside this memory's reservation (new_pages <= 65536:
                // only memories whose maximum is at most that get one).
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
            }
            BoundsChecks::Explicit if new_bytes > mapped => {
                // Room to double (within the maximum), so growing page by page does not move
                // the memory every time; pages past the length are never touched, so cost
                // nothing.
                let new_mapped = new_bytes.max(mapped.saturating_mul(2).min((maximum * WASM_PAGE_SIZE) as usize));
                // SAFETY: `[base, base + mapped)` is this memory's own mapping. Nothing holds
                // its address across a grow: compiled code loads the base at every access,
                // and host views are invalidated by the grow observer.
                let moved = unsafe { sys::remap(self.data_ptr(), mapped, new_mapped) };
                let Some(moved) = moved else {
                    return Err(Error::Resource("out of memory growing a memory".into()));
                };
                self.inner.mapped.set(new_mapped);
                // SAFETY: the only writer of the definition, on the memory's one thread;
                // compiled code reading it is not running in the middle of this call.
                unsafe { (*self.inner.definition.get()).base = moved };
            }
            // The mapping is already big enough, and zero past the length: nothing ever
            // writes beyond it.
            BoundsChecks::Explicit => {}
        }
        // SAFETY: as above; compiled code only reads the length.
        unsafe { (*self.inner.definition.get()).current_length = new_bytes };
        Ok(old_pages)
    }

    /// Copies `bytes` to `offset`; fails, writing nothing, unless the whole range lies inside
    /// the memory.
    pub(crate) fn write_bytes(&self, offset: u64, bytes: &[u8]) -> std::result::Result<(), Trap> {
        if let Some(shared) = &self.shared {
            return shared.write_bytes(offset, bytes);
        }
        let fits = offset.checked_add(bytes.len() as u64).is_some_and(|end| end <= self.data_size() as u64);
        if !fits {
            return Err(Trap::MemoryOutOfBounds);
        }
        // SAFETY: `[offset, offset + len)` lies inside the accessible part of the memory (checked
        // above; it only ever grows), and `bytes` cannot overlap it: wasm memory is never lent
        // out as a Rust slice.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.data_ptr().add(offset as usize), bytes.len()) };
        Ok(())
    }

    /// Maps `image` (copy on write) over this memory, as if its bytes had been written.
    /// `Ok(false)` if this memory cannot take an image: the caller copies the segments
    /// instead. Only for a memory nothing has written to yet.
    pub(crate) fn map_image(&self, image: &MemoryImage) -> Result<bool> {
        // A memory with explicit bounds checks may move when it grows, and `mremap` moves
        // only a range that is one mapping; images are for guard-page reservations.
        // A shared memory may already be visible to other threads: its segments are copied.
        let fits = image.offset().checked_add(image.len()).is_some_and(|end| end <= self.data_size());
        if self.shared.is_some() || self.inner.bounds_checks != BoundsChecks::GuardPages || !fits {
            return Ok(false);
        }
        // SAFETY: `offset` is host-page-aligned and `[offset, offset + len)` lies inside the
        // accessible part of this memory's own reservation (checked above), which nothing
        // has written to: its zero pages are replaced by the image's.
        let addr = unsafe { self.data_ptr().add(image.offset()) };
        // SAFETY: as above.
        if unsafe { image.map_at(addr) } {
            return Ok(true);
        }
        // A failed MAP_FIXED may have unmapped the range: put zero pages back, so the
        // caller's copy lands in accessible memory.
        // SAFETY: the same range of this memory's reservation, replaced by fresh zero pages.
        let restored = unsafe {
            libc::mmap(
                addr.cast(),
                image.len(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if restored != addr.cast() {
            return Err(Error::Resource("out of memory initializing a memory".into()));
        }
        Ok(false)
    }

    /// The definition compiled code reads through an instance's vmctx.
    pub(crate) fn definition(&self) -> *mut VMMemoryDefinition {
        if let Some(shared) = &self.shared {
            return shared.definition();
        }
        self.inner.definition.get()
    }

    /// A number identifying this memory among the live ones (stable while any handle lives).
    pub fn id(&self) -> usize {
        match &self.shared {
            Some(shared) => shared.id(),
            None => Rc::as_ptr(&self.inner) as usize,
        }
    }

    /// Whether two handles name the same memory.
    pub fn same(&self, other: &Memory) -> bool {
        match (&self.shared, &other.shared) {
            (Some(a), Some(b)) => a.same(b),
            (None, None) => Rc::ptr_eq(&self.inner, &other.inner),
            _ => false,
        }
    }

    /// The thread-safe memory behind this handle, if it is shared.
    pub fn shared(&self) -> Option<&SharedMemory> {
        self.shared.as_ref()
    }
}

impl From<SharedMemory> for Memory {
    /// A handle for this thread on a shared memory.
    fn from(shared: SharedMemory) -> Memory {
        let inner = MemoryInner {
            definition: Box::new(UnsafeCell::new(VMMemoryDefinition { base: std::ptr::null_mut(), current_length: 0 })),
            ty: shared.ty(),
            bounds_checks: shared.bounds_checks(),
            mapped: Cell::new(0),
            grow_observer: RefCell::new(None),
            limit_pages: u64::MAX,
        };
        Memory { inner: Rc::new(inner), shared: Some(shared) }
    }
}

impl Drop for MemoryInner {
    fn drop(&mut self) {
        let mapped = self.mapped.get();
        if mapped == 0 {
            // A shared memory's handle: the storage belongs to the `SharedMemory`.
            return;
        }
        // SAFETY: the mapping made in `new` (or moved by `grow`); no instance refers to it any
        // more, since instances hold a `Memory` handle.
        unsafe { libc::munmap(self.definition.get_mut().base.cast(), mapped) };
        if self.bounds_checks == BoundsChecks::GuardPages {
            RESERVED.fetch_sub(RESERVATION, Ordering::Relaxed);
        }
    }
}

/// Reserves `RESERVATION` bytes of inaccessible address space, if the budget and the system
/// allow.
pub(crate) fn reserve() -> Option<*mut u8> {
    let claimed = RESERVED.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |reserved| {
        (reserved + RESERVATION <= RESERVATION_BUDGET).then_some(reserved + RESERVATION)
    });
    claimed.ok()?;
    let Some(base) = map_inaccessible(RESERVATION) else {
        RESERVED.fetch_sub(RESERVATION, Ordering::Relaxed);
        return None;
    };
    Some(base)
}

/// Maps `bytes` of inaccessible address space (made accessible page range by page range), or
/// `None` if the system refuses.
pub(crate) fn map_inaccessible(bytes: usize) -> Option<*mut u8> {
    // SAFETY: a fresh private mapping; nothing else refers to it.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    (base != libc::MAP_FAILED).then(|| base.cast())
}

/// Returns a reservation's share of the budget (after unmapping it).
pub(crate) fn release_reservation() {
    RESERVED.fetch_sub(RESERVATION, Ordering::Relaxed);
}

/// Maps `bytes` of zeroed read-write memory.
fn map_read_write(bytes: usize) -> Result<*mut u8> {
    // SAFETY: a fresh private mapping; nothing else refers to it.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(Error::Resource("could not map memory for a linear memory".into()));
    }
    Ok(base.cast())
}

/// The size in pages a memory of type `ty` and size `old_pages`, limited to `limit_pages` by
/// the controls, has after growing by `delta` pages, or why it cannot grow. Shared by unshared
/// and shared memories (`shared_memory.rs`).
pub(crate) fn grown_size(ty: &MemoryType, limit_pages: u64, old_pages: u64, delta: u64) -> Result<u64> {
    let most = max_pages(ty.address);
    let maximum = ty.limits.max.unwrap_or(most).min(most);
    let Some(new_pages) = old_pages.checked_add(delta).filter(|p| *p <= maximum) else {
        return Err(Error::Resource(format!(
            "cannot grow memory from {old_pages} by {delta} pages (maximum {maximum})"
        )));
    };
    if new_pages > limit_pages {
        let limit = limit_pages * WASM_PAGE_SIZE;
        return Err(Error::Resource(format!(
            "cannot grow memory from {old_pages} by {delta} pages: the memory limit is {limit} bytes"
        )));
    }
    Ok(new_pages)
}
