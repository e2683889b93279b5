//! Tables: arrays of references that compiled code indexes through a `VMTableDefinition`
//! (for `call_indirect`), whether the table was defined by a module or created by the host.
//! The functions a funcref table holds are kept alive by its store (`store.rs`): the
//! host-side mutators retain what they store there, in O(1); compiled code needs nothing.

use crate::engine::Engine;
use crate::environ::error::{Error, Result};
use crate::environ::trap::Trap;
use crate::environ::types::{TableType, ValType};
use crate::environ::val_raw::ValRaw;
use crate::environ::vmctx::VMTableDefinition;
use crate::runtime::store::Store;
use crate::values::Val;
use std::cell::UnsafeCell;
use std::rc::Rc;

/// Largest table heron creates, in elements.
const MAX_ELEMENTS: u64 = 10_000_000;

/// A table. Cheap to clone; clones share the table.
#[derive(Clone)]
pub struct Table {
    inner: Rc<TableInner>,
    /// For a funcref table, the store that keeps its functions alive. `None` for other
    /// element types, and in an instance's own handles of its tables (its store owns it).
    store: Option<Store>,
}

struct TableInner {
    /// Read by compiled code; updated whenever `elements` reallocates or grows.
    definition: Box<UnsafeCell<VMTableDefinition>>,
    elements: UnsafeCell<Vec<usize>>,
    ty: TableType,
    /// The most elements under the defining instance's `Controls::table_limit`, or
    /// `u64::MAX`.
    limit: u64,
}

impl Table {
    /// A new table of `ty.limits.min` elements, each `init`.
    pub fn new(_engine: &Engine, ty: TableType, init: Val) -> Result<Table> {
        let store = ty.element.is_func_ref().then(Store::new);
        let table = Table::new_in(ty, store)?;
        table.grow(ty.limits.min, init)?;
        Ok(table)
    }

    /// A new empty table of type `ty` in `store`; the caller grows it to its minimum.
    pub(crate) fn new_in(ty: TableType, store: Option<Store>) -> Result<Table> {
        Table::new_limited(ty, store, None)
    }

    /// `new_in` for a table that never holds more than `limit` elements: growing past it
    /// fails as growing past the maximum does, and an initial size above it is an error.
    pub(crate) fn new_limited(ty: TableType, store: Option<Store>, limit: Option<u64>) -> Result<Table> {
        if let Some(limit) = limit.filter(|limit| ty.limits.min > *limit) {
            let min = ty.limits.min;
            return Err(Error::Resource(format!(
                "the initial table size of {min} elements exceeds the table limit of {limit} elements"
            )));
        }
        if ty.limits.min > MAX_ELEMENTS {
            return Err(Error::Resource(format!("table size exceeds {MAX_ELEMENTS} elements")));
        }
        Ok(Table {
            inner: Rc::new(TableInner {
                definition: Box::new(UnsafeCell::new(VMTableDefinition { base: std::ptr::null_mut(), length: 0 })),
                elements: UnsafeCell::new(Vec::new()),
                ty,
                limit: limit.unwrap_or(u64::MAX),
            }),
            store,
        })
    }

    /// This handle with its store handle replaced (see the `store` field).
    pub(crate) fn with_store(&self, store: Option<Store>) -> Table {
        let store = store.filter(|_| self.inner.ty.element.is_func_ref());
        Table { inner: self.inner.clone(), store }
    }

    /// The store of a funcref table (`None` for other tables and internal handles).
    pub(crate) fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// Its type (the minimum is the initial size).
    pub fn ty(&self) -> TableType {
        self.inner.ty
    }

    /// Number of elements.
    pub fn size(&self) -> u64 {
        // SAFETY: reads of the table's own vector; single-threaded use (see `grow`).
        unsafe { (*self.inner.elements.get()).len() as u64 }
    }

    /// Element `index`, or `None` past the end.
    pub fn get(&self, index: u64) -> Option<Val> {
        // SAFETY: as in `size`.
        let raw = unsafe { *(&*self.inner.elements.get()).get(usize::try_from(index).ok()?)? };
        // SAFETY: elements are null, extern references, or canonical `VMFuncRef`s of
        // functions the table's store keeps alive (see `store.rs`).
        Some(unsafe { Val::from_raw(ValRaw::ptr(raw), self.inner.ty.element) })
    }

    /// Sets element `index`.
    pub fn set(&self, index: u64, value: Val) -> Result<()> {
        self.check(&value)?;
        let raw = value.to_raw().get_ptr();
        // SAFETY: as in `size`.
        unsafe {
            let elements = &mut *self.inner.elements.get();
            let slot = usize::try_from(index).ok().and_then(|i| elements.get_mut(i)).ok_or(Trap::TableOutOfBounds)?;
            *slot = raw;
        }
        self.retain(&value);
        Ok(())
    }

    /// Grows by `delta` elements set to `init`; returns the old size.
    pub fn grow(&self, delta: u64, init: Val) -> Result<u64> {
        self.check(&init)?;
        let old = self.grow_raw(delta, init.to_raw().get_ptr())?;
        self.retain(&init);
        Ok(old)
    }

    /// `grow` with a raw element of this table's type, which the caller keeps alive.
    pub(crate) fn grow_raw(&self, delta: u64, raw: usize) -> Result<u64> {
        let old = self.size();
        let maximum = self.inner.ty.limits.max.unwrap_or(MAX_ELEMENTS).min(MAX_ELEMENTS);
        let new = old.checked_add(delta).filter(|n| *n <= maximum);
        let Some(new) = new else {
            return Err(Error::Resource(format!(
                "cannot grow table from {old} by {delta} elements (maximum {maximum})"
            )));
        };
        if new > self.inner.limit {
            let limit = self.inner.limit;
            return Err(Error::Resource(format!(
                "cannot grow table from {old} by {delta} elements: the table limit is {limit} elements"
            )));
        }
        // SAFETY: tables are used from one thread at a time (no wasm threads), and compiled
        // code reads `definition` only while no host call into this method is running on it.
        unsafe {
            let elements = &mut *self.inner.elements.get();
            elements.resize(new as usize, raw);
            let definition = &mut *self.inner.definition.get();
            definition.base = elements.as_mut_ptr();
            definition.length = new as u32;
        }
        Ok(old)
    }

    fn check(&self, value: &Val) -> Result<()> {
        if !value.matches(self.inner.ty.element) {
            return Err(Error::Link(format!("table of {} cannot hold a {}", self.inner.ty.element, value.ty())));
        }
        Ok(())
    }

    /// Keeps the function in `value`, if any, alive as long as this table's store.
    fn retain(&self, value: &Val) {
        if let (Val::FuncRef(Some(func)), Some(store)) = (value, &self.store) {
            store.retain(func);
        }
    }

    /// Sets `len` elements from `start` to `value`; fails, writing nothing, if the range
    /// does not fit.
    pub fn fill(&self, start: u64, value: Val, len: u64) -> Result<()> {
        self.check(&value)?;
        self.fill_raw(start, value.to_raw().get_ptr(), len)?;
        self.retain(&value);
        Ok(())
    }

    /// `fill` with a raw element of this table's type, which the caller keeps alive.
    pub(crate) fn fill_raw(&self, start: u64, raw: usize, len: u64) -> std::result::Result<(), Trap> {
        let range = checked_range(start, len, self.size())?;
        // SAFETY: as in `grow`; the range was checked above.
        unsafe { (&mut *self.inner.elements.get())[range].fill(raw) };
        Ok(())
    }

    /// Stores raw elements (funcref or externref values of this table's type) from `start`;
    /// fails, writing nothing, unless all of them fit. Used by instantiation and `table.init`.
    pub(crate) fn write_raw(&self, start: u64, items: &[usize]) -> std::result::Result<(), Trap> {
        let range = checked_range(start, items.len() as u64, self.size())?;
        // SAFETY: as in `grow`; the range was checked above.
        unsafe { (&mut *self.inner.elements.get())[range].copy_from_slice(items) };
        Ok(())
    }

    /// `table.copy`: copies `len` elements of `src_table` from `src` to this table at `dst`,
    /// as if through a temporary buffer when both ranges are in the same table. Fails,
    /// writing nothing, unless both ranges fit. The tables must have the same element type.
    pub(crate) fn copy_within_or_from(
        &self,
        dst: u64,
        src_table: &Table,
        src: u64,
        len: u64,
    ) -> std::result::Result<(), Trap> {
        let dst_range = checked_range(dst, len, self.size())?;
        let src_range = checked_range(src, len, src_table.size())?;
        if self.same(src_table) {
            // SAFETY: as in `grow`; both ranges were checked above.
            unsafe { (&mut *self.inner.elements.get()).copy_within(src_range, dst_range.start) };
        } else {
            // SAFETY: as in `grow`; two distinct tables, so the two borrows do not alias.
            unsafe {
                let from = &(&*src_table.inner.elements.get())[src_range];
                (&mut *self.inner.elements.get())[dst_range].copy_from_slice(from);
            }
        }
        Ok(())
    }

    pub(crate) fn definition(&self) -> *mut VMTableDefinition {
        self.inner.definition.get()
    }

    /// Element type.
    pub fn element(&self) -> ValType {
        self.inner.ty.element
    }

    /// A number identifying this table among the live ones (stable while any handle lives).
    pub fn id(&self) -> usize {
        Rc::as_ptr(&self.inner) as usize
    }

    /// Whether two handles name the same table.
    pub fn same(&self, other: &Table) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

/// `start..start + len` as indices, if that range lies within `size` elements.
fn checked_range(start: u64, len: u64, size: u64) -> std::result::Result<std::ops::Range<usize>, Trap> {
    match start.checked_add(len) {
        // Both ends are at most `size`, which is a vector length, so they fit in usize.
        Some(end) if end <= size => Ok(start as usize..end as usize),
        _ => Err(Trap::TableOutOfBounds),
    }
}
