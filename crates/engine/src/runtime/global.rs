//! Globals: typed storage that compiled code reads and writes through a pointer in each
//! instance's vmctx, whether the global was defined by a module or created by the host.
//! The function a funcref global holds is kept alive by its store (`store.rs`).

use crate::engine::Engine;
use crate::environ::error::{Error, Result};
use crate::environ::types::GlobalType;
use crate::environ::val_raw::ValRaw;
use crate::environ::vmctx::VMGlobalDefinition;
use crate::runtime::store::Store;
use crate::values::Val;
use std::cell::UnsafeCell;
use std::rc::Rc;

/// A global. Cheap to clone; clones share the storage.
#[derive(Clone)]
pub struct Global {
    inner: Rc<GlobalInner>,
    /// For a funcref global, the store that keeps its function alive. `None` for other
    /// types, and in an instance's own handles of its globals (its store owns it).
    store: Option<Store>,
}

struct GlobalInner {
    storage: Box<UnsafeCell<VMGlobalDefinition>>,
    ty: GlobalType,
}

impl Global {
    /// A new global of type `ty` holding `value`.
    pub fn new(_engine: &Engine, ty: GlobalType, value: Val) -> Result<Global> {
        let store = ty.content.is_func_ref().then(Store::new);
        let global = Global::new_in(ty, store);
        global.write(value)?;
        Ok(global)
    }

    /// A new zero global of type `ty` in `store`.
    pub(crate) fn new_in(ty: GlobalType, store: Option<Store>) -> Global {
        let storage = Box::new(UnsafeCell::new(VMGlobalDefinition { bytes: [0; 16] }));
        Global { inner: Rc::new(GlobalInner { storage, ty }), store }
    }

    /// This handle with its store handle replaced (see the `store` field).
    pub(crate) fn with_store(&self, store: Option<Store>) -> Global {
        let store = store.filter(|_| self.inner.ty.content.is_func_ref());
        Global { inner: self.inner.clone(), store }
    }

    /// The store of a funcref global (`None` for other globals and internal handles).
    pub(crate) fn store(&self) -> Option<&Store> {
        self.store.as_ref()
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
        // SAFETY: a funcref global holds null or a canonical `VMFuncRef` of a function its
        // store keeps alive (see `store.rs`).
        unsafe { Val::from_raw(raw, self.inner.ty.content) }
    }

    /// Sets the value; fails for an immutable global or a value of another type.
    pub fn set(&self, value: Val) -> Result<()> {
        if !self.inner.ty.mutable {
            return Err(Error::Link("cannot set an immutable global".into()));
        }
        self.write(value)
    }

    /// Sets the value during instantiation, mutable or not. The value must belong to the
    /// instance's store already.
    pub(crate) fn set_initial(&self, value: Val) -> Result<()> {
        self.write(value)
    }

    fn write(&self, value: Val) -> Result<()> {
        if !value.matches(self.inner.ty.content) {
            return Err(Error::Link(format!("global of type {} cannot hold a {}", self.inner.ty.content, value.ty())));
        }
        // SAFETY: as in `get`; the storage has ValRaw's size and alignment.
        unsafe { *self.inner.storage.get().cast::<ValRaw>() = value.to_raw() };
        if let (Val::FuncRef(Some(func)), Some(store)) = (&value, &self.store) {
            store.retain(func);
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
        Rc::as_ptr(&self.inner) as usize
    }

    /// Whether two handles name the same global.
    pub fn same(&self, other: &Global) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}
