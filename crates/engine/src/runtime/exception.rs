//! Exception objects: what `throw` makes and an `exnref` points to, a tag and its values
//! (one `ValRaw` slot each, written by compiled code), and, for an exception the host threw
//! through wasm (a failed host function), the host's error.
//!
//! Compiled code copies `exnref`s freely (locals, globals, tables, other exceptions), so an
//! object must live as long as any of those may: until heron has a collector (the GC
//! issue), objects are never freed (a process-wide arena keeps them). The cost is memory
//! per throw (a few dozen bytes plus the values); handles and compiled code only ever see
//! stable addresses. An object is read and written only on the thread that made it (the
//! thread running the wasm that threw it): handles may travel with an `Error`, but using
//! one on another thread panics.

use crate::environ::error::HostError;
use crate::environ::exception::Exception;
use crate::environ::val_raw::ValRaw;
use crate::environ::vmctx::VMException;
use crate::runtime::tag::Tag;
use std::cell::{Cell, RefCell};
use std::ptr::NonNull;
use std::sync::Mutex;
use std::thread::ThreadId;

/// One exception. `#[repr(C)]` with the part compiled code reads first, so a pointer to the
/// object is a pointer to its `VMException`.
#[repr(C)]
struct ExceptionObject {
    vm: VMException,
    tag: Tag,
    /// Written by compiled code through `vm.values` while shared: hence cells.
    values: Box<[Cell<ValRaw>]>,
    /// The failure of a host function this exception carries through wasm, until the entry
    /// it reaches (or the host) takes it back.
    host: RefCell<Option<HostError>>,
    /// The thread that made it, the only one that may touch the cells above.
    thread: ThreadId,
}

/// Every exception ever made; see the module doc for why none is freed.
struct Arena(Vec<Box<ExceptionObject>>);

// SAFETY: the arena only owns the objects (it never reads them); each object's cells are
// accessed only on the thread recorded in it (`Exception::object` checks).
unsafe impl Send for Arena {}

static ARENA: Mutex<Arena> = Mutex::new(Arena(Vec::new()));

// SAFETY: a handle is a pointer to an object that is never freed; `Exception::object`, the
// only way to its contents, checks that the caller is the object's thread.
unsafe impl Send for Exception {}
// SAFETY: as above.
unsafe impl Sync for Exception {}

impl Exception {
    /// A new exception of `tag` with zeroed values, for compiled code or the host to fill in.
    pub(crate) fn allocate(tag: Tag) -> Exception {
        let len = tag.ty().params().len();
        let mut object = Box::new(ExceptionObject {
            vm: VMException { tag: tag.vm_tag(), values: std::ptr::null_mut() },
            tag,
            values: (0..len).map(|_| Cell::new(ValRaw::default())).collect(),
            host: RefCell::new(None),
            thread: std::thread::current().id(),
        });
        // `Cell<ValRaw>` has the layout of `ValRaw`.
        object.vm.values = object.values.as_ptr().cast::<ValRaw>().cast_mut();
        let pointer = NonNull::from(&object.vm);
        ARENA.lock().unwrap_or_else(|e| e.into_inner()).0.push(object);
        Exception(pointer)
    }

    /// An exception carrying a host function's failure through wasm, with the host tag
    /// ([`Tag::host`]) and a null value.
    pub(crate) fn from_host_error(error: HostError) -> Exception {
        let exception = Exception::allocate(Tag::host());
        *exception.object().host.borrow_mut() = Some(error);
        exception
    }

    fn object(&self) -> &ExceptionObject {
        // SAFETY: every `Exception` points to the `vm` field, at offset 0, of an object in
        // the arena, which frees nothing. The thread check below keeps the cells single-threaded.
        let object = unsafe { &*self.0.as_ptr().cast::<ExceptionObject>() };
        assert!(object.thread == std::thread::current().id(), "a wasm exception used on another thread");
        object
    }

    /// The tag it was thrown with.
    pub fn tag(&self) -> &Tag {
        &self.object().tag
    }

    /// Its values, as raw slots typed by the tag's parameters.
    pub fn raw_values(&self) -> Vec<ValRaw> {
        self.object().values.iter().map(Cell::get).collect()
    }

    /// Writes value `index` (typed by the tag's parameter `index`).
    pub(crate) fn set_raw_value(&self, index: usize, value: ValRaw) {
        self.object().values[index].set(value);
    }

    /// The host error this exception carries, taken out (so the host gets it once).
    pub(crate) fn take_host_error(&self) -> Option<HostError> {
        self.object().host.borrow_mut().take()
    }

    /// Whether this exception carries a host function's failure.
    pub fn is_host_error(&self) -> bool {
        self.object().host.borrow().is_some()
    }

    /// A number identifying this exception (what the JS API's exception cache keys on);
    /// exceptions are never freed, so no two ever share one.
    pub fn id(&self) -> usize {
        self.0.as_ptr() as usize
    }

    /// The value compiled code holds for this exception (an `exnref`).
    pub(crate) fn as_raw(&self) -> usize {
        self.0.as_ptr() as usize
    }

    /// The exception an `exnref` slot holds, or `None` for null.
    ///
    /// # Safety
    /// A non-null `raw` must come from [`Exception::as_raw`] (as every non-null `exnref`
    /// written by compiled code does).
    pub(crate) unsafe fn from_raw(raw: usize) -> Option<Exception> {
        NonNull::new(raw as *mut VMException).map(Exception)
    }
}
