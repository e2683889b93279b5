//! `NativeTable`: an engine table as `WebAssembly.Table` wraps it. `index.js` checks the
//! descriptor and argument ranges; this side converts elements with ToWebAssemblyValue /
//! ToJSValue, so a function read twice is the same JS object.

use crate::convert::{self, value_type};
use crate::{error, link};
use heron_engine::{AddressType, Engine, Extern, Limits, Table, TableType};
use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;

/// A table and its link id.
#[napi]
pub struct NativeTable {
    pub(crate) inner: Table,
    link_id: u32,
}

impl NativeTable {
    pub(crate) fn wrap(inner: Table) -> NativeTable {
        NativeTable { link_id: link::register(Extern::Table(inner.clone())), inner }
    }
}

#[napi]
impl NativeTable {
    /// A new table of `element` type ("anyfunc" or "externref") with `initial` elements, each
    /// `value` (or the element type's DefaultValue when `value` is missing); a 64-bit table if
    /// `address64`.
    #[napi(constructor)]
    pub fn new(
        env: Env,
        element: String,
        initial: u32,
        maximum: Option<u32>,
        value: Unknown,
        address64: Option<bool>,
    ) -> Result<Self> {
        let env = env.raw();
        let element = value_type(&element).filter(|ty| ty.is_ref()).ok_or_else(|| {
            Error::from(error::throw_type_error(env, &format!("unknown table element type {element}")))
        })?;
        // SAFETY: `value` is a live argument of this call on `env`.
        let init = unsafe { convert::to_val_or_default(env, Some(value.raw()), element) }?;
        let limits = Limits { min: initial.into(), max: maximum.map(u64::from) };
        let address = if address64.unwrap_or(false) { AddressType::I64 } else { AddressType::I32 };
        let ty = TableType { element, limits, address };
        match Table::new(&Engine::default(), ty, init) {
            Ok(inner) => Ok(NativeTable::wrap(inner)),
            Err(e) => Err(error::throw(env, e).into()),
        }
    }

    /// The id under which `instantiate` accepts this table as an import.
    #[napi]
    pub fn link_id(&self) -> u32 {
        self.link_id
    }

    /// Identifies the underlying table: equal for every wrapper of the same table.
    #[napi]
    pub fn identity(&self) -> f64 {
        self.inner.id() as f64
    }

    /// Whether the table is a 64-bit one (its JS indices and sizes are BigInts).
    #[napi]
    pub fn address64(&self) -> bool {
        self.inner.ty().address.is_64()
    }

    /// The number of elements.
    #[napi]
    pub fn length(&self) -> u32 {
        self.inner.size() as u32
    }

    /// Element `index`; a RangeError past the end.
    #[napi]
    pub fn get<'env>(&self, env: &'env Env, index: u32) -> Result<Unknown<'env>> {
        let env = env.raw();
        let Some(element) = self.inner.get(index.into()) else {
            return Err(out_of_range(env, index, self.inner.size()));
        };
        // SAFETY: converting on the live env of this call.
        let value = unsafe { convert::val_to_js(env, element) }?;
        // SAFETY: `value` is a live value of this env.
        Ok(unsafe { Unknown::from_raw_unchecked(env, value) })
    }

    /// Sets element `index` to `value`, or to the element type's DefaultValue when the caller
    /// passed no value (`given` is false; an explicit `undefined` is converted like any other
    /// value). A RangeError past the end.
    #[napi]
    pub fn set(&self, env: Env, index: u32, value: Unknown, given: bool) -> Result<()> {
        let env = env.raw();
        let element = self.inner.element();
        // SAFETY: `value` is a live argument of this call on `env`.
        let value = unsafe {
            if given {
                convert::to_val(env, value.raw(), element)
            } else {
                convert::to_val_or_default(env, None, element)
            }
        }?;
        if u64::from(index) >= self.inner.size() {
            return Err(out_of_range(env, index, self.inner.size()));
        }
        self.inner.set(index.into(), value).map_err(|e| Error::from(error::throw(env, e)))
    }

    /// Grows by `delta` elements set to `value`; returns the old length. A RangeError if the
    /// table cannot grow that far.
    #[napi]
    pub fn grow(&self, env: Env, delta: u32, value: Unknown) -> Result<u32> {
        let env = env.raw();
        // SAFETY: `value` is a live argument of this call on `env`.
        let value = unsafe { convert::to_val_or_default(env, Some(value.raw()), self.inner.element()) }?;
        match self.inner.grow(delta.into(), value) {
            Ok(old) => Ok(old as u32),
            Err(e) => Err(error::throw(env, e).into()),
        }
    }
}

fn out_of_range(env: sys::napi_env, index: u32, length: u64) -> Error {
    error::throw_range_error(env, &format!("table index {index} is out of bounds (length {length})")).into()
}

impl Drop for NativeTable {
    fn drop(&mut self) {
        link::unregister(self.link_id);
    }
}
