//! Globals: typed storage that compiled code reads and writes through a pointer in each
//! instance's vmctx, whether the global was defined by a module or created by the host.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::types::GlobalType;
use crate::values::{Val, ValRaw};
use crate::vmctx::VMGlobalDefinition;
use std::cell::UnsafeCell;
use std::sync::Arc;

/// A global. Cheap to clone; clones share the storage.
#[derive(Clone)]
pub struct Global {
    inner: Arc<GlobalInner>,
}

struct GlobalInner {
    storage: Box<UnsafeCell<VMGlobalDefinition>>,
    ty: GlobalType,
    /// Keeps a stored funcref's owner alive.
    value_owner: UnsafeCell<Option<Val>>,
}

impl Global {
    /// A new global of type `ty` holding `value`.
    pub fn new(_engine: &Engine, ty: GlobalType, value: Val) -> Result<Global> {
        let global = Global {
            inner: Arc::new(GlobalInner {
                storage: Box::new(UnsafeCell::new(VMGlobalDefinition { bytes: [0; 16] })),
                ty,
                value_owner: UnsafeCell::new(None),
            }),
        };
        global.write(value)?;
        Ok(global)
    }

    /// Its type.
    pub fn ty(&self) -> GlobalType {
        self.inner.ty
    }

    /// The current value.
    pub fn get(&self) -> Val {
        // SAFETY: the storage is 16 bytes with ValRaw's layout; reads race with nothing on
        // this thread (wasm threads are not supported).
        let raw = unsafe { *self.inner.storage.get().cast::<ValRaw>() };
        Val::from_raw(raw, self.inner.ty.content)
    }

    /// Sets the value; fails for an immutable global or a value of another type.
    pub fn set(&self, value: Val) -> Result<()> {
        if !self.inner.ty.mutable {
            return Err(Error::Link("cannot set an immutable global".into()));
        }
        self.write(value)
    }

    /// Sets the value during instantiation, mutable or not.
    pub(crate) fn set_initial(&self, value: Val) -> Result<()> {
        self.write(value)
    }

    fn write(&self, value: Val) -> Result<()> {
        if value.ty() != self.inner.ty.content {
            return Err(Error::Link(format!("global of type {} cannot hold a {}", self.inner.ty.content, value.ty())));
        }
        // SAFETY: as in `get`; the storage has ValRaw's size and alignment.
        unsafe {
            *self.inner.storage.get().cast::<ValRaw>() = value.to_raw();
            *self.inner.value_owner.get() = value.ty().is_ref().then_some(value);
        }
        Ok(())
    }

    /// The global's storage: 16 bytes holding the value as a [`ValRaw`] does (little-endian,
    /// low bytes first). Valid while any handle to the global lives. Embedders may read it,
    /// and write it for mutable numeric globals with a value of the global's type, to give
    /// fast access (e.g. a typed array view); funcrefs must go through [`Global::set`], which
    /// keeps their owners alive.
    pub fn storage_ptr(&self) -> *mut u8 {
        self.inner.storage.get().cast()
    }

    pub(crate) fn storage(&self) -> *mut VMGlobalDefinition {
        self.inner.storage.get()
    }

    /// A number identifying this global among the live ones (stable while any handle lives).
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// Whether two handles name the same global.
    pub fn same(&self, other: &Global) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
