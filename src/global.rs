//! `NativeGlobal`: an engine global as `WebAssembly.Global` wraps it. `index.js` checks the
//! descriptor; this side converts values with ToWebAssemblyValue / ToJSValue.

use crate::convert::{self, value_type};
use crate::error;
use crate::external::external_buffer;
use crate::link;
use crate::napi_raw::{Env as RawEnv, Value};
use heron_engine::{Engine, Extern, Global, GlobalType, ValType};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A global and its link id.
#[napi]
pub struct NativeGlobal {
    pub(crate) inner: Global,
    link_id: u32,
}

impl NativeGlobal {
    pub(crate) fn wrap(inner: Global) -> NativeGlobal {
        NativeGlobal { link_id: link::register(Extern::Global(inner.clone())), inner }
    }
}

#[napi]
impl NativeGlobal {
    /// A new global of `value_type` ("i32", "anyfunc", ...) holding `value` converted by
    /// ToWebAssemblyValue, or the type's DefaultValue when `value` is missing.
    #[napi(constructor)]
    pub fn new(env: Env, value_type_name: String, mutable: bool, value: Unknown) -> Result<Self> {
        let env = env.raw();
        let content = value_type(&value_type_name).ok_or_else(|| {
            Error::from(error::throw_type_error(env, &format!("unknown value type {value_type_name}")))
        })?;
        // SAFETY: `value` is a live argument of this call on `env`.
        let initial = unsafe { convert::to_val_or_default(env, Some(value.raw()), content) }?;
        match Global::new(&Engine::default(), GlobalType { content, mutable }, initial) {
            Ok(inner) => Ok(NativeGlobal::wrap(inner)),
            Err(e) => Err(error::throw(env, e).into()),
        }
    }

    /// The id under which `instantiate` accepts this global as an import.
    #[napi]
    pub fn link_id(&self) -> u32 {
        self.link_id
    }

    /// Identifies the underlying global: equal for every wrapper of the same global.
    #[napi]
    pub fn identity(&self) -> f64 {
        self.inner.id() as f64
    }

    /// The current value, as ToJSValue gives it.
    #[napi]
    pub fn value<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        let env = env.raw();
        // SAFETY: converting on the live env of this call.
        let value = unsafe { convert::val_to_js(env, self.inner.get()) }?;
        // SAFETY: `value` is a live value of this env.
        Ok(unsafe { Unknown::from_raw_unchecked(env, value) })
    }

    /// Sets the value; a TypeError for immutable globals.
    #[napi]
    pub fn set_value(&self, env: Env, value: Unknown) -> Result<()> {
        let env = env.raw();
        let ty = self.inner.ty();
        if !ty.mutable {
            return Err(error::throw_type_error(env, "cannot set the value of an immutable global").into());
        }
        // SAFETY: `value` is a live argument of this call on `env`.
        let value = unsafe { convert::to_val(env, value.raw(), ty.content) }?;
        self.inner.set(value).map_err(|e| Error::from(error::throw(env, e)))
    }

    /// An ArrayBuffer over the value's 16 bytes of storage, for numeric globals, so that
    /// `index.js` reads and writes the value through a typed array without a native call
    /// (typed array stores convert exactly as ToWebAssemblyValue does for these types);
    /// `null` for reference and v128 globals.
    #[napi(ts_return_type = "ArrayBuffer | null")]
    pub fn storage<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        let env = RawEnv::of(env);
        let numeric = matches!(self.inner.ty().content, ValType::I32 | ValType::I64 | ValType::F32 | ValType::F64);
        if !numeric {
            return Ok(env.to_unknown(env.null()));
        }
        // SAFETY: the storage is 16 bytes that live as long as the global handle the buffer
        // owns.
        let buffer = unsafe { external_buffer(env.raw(), self.inner.storage_ptr(), 16, self.inner.clone()) }?;
        Ok(env.to_unknown(Value(buffer)))
    }

    /// The value type, as the JS API names it.
    #[napi]
    pub fn value_type(&self) -> &'static str {
        convert::value_type_name(self.inner.ty().content)
    }

    /// Whether the global is mutable.
    #[napi]
    pub fn mutable(&self) -> bool {
        self.inner.ty().mutable
    }
}

impl Drop for NativeGlobal {
    fn drop(&mut self) {
        link::unregister(self.link_id);
    }
}
