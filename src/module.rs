//! `NativeModule`: a compiled engine module, with its import and export descriptors, and
//! `validate`. `index.js` wraps it in the JS API's `WebAssembly.Module`.

use crate::convert::value_type_name;
use crate::error;
use heron_engine::{Engine, ExternType, Module};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// One import as `WebAssembly.Module.imports` describes it, plus, for globals, the type
/// `index.js` needs to turn a Number or BigInt into a global.
#[napi(object)]
pub struct ImportDescriptor {
    pub module: String,
    pub name: String,
    pub kind: String,
    pub value_type: Option<String>,
    pub mutable: Option<bool>,
}

/// One export as `WebAssembly.Module.exports` describes it.
#[napi(object)]
pub struct ExportDescriptor {
    pub name: String,
    pub kind: String,
}

/// A compiled module.
#[napi]
pub struct NativeModule {
    pub(crate) inner: Module,
}

#[napi]
impl NativeModule {
    /// Decodes, validates and compiles `bytes`; throws `CompileError` if it cannot.
    #[napi(constructor)]
    pub fn new(env: Env, bytes: Uint8Array) -> Result<Self> {
        match Module::new(&Engine::default(), &bytes) {
            Ok(inner) => Ok(NativeModule { inner }),
            Err(e) => Err(error::throw(env.raw(), e).into()),
        }
    }

    /// The imports, in order.
    #[napi]
    pub fn imports(&self) -> Vec<ImportDescriptor> {
        self.inner
            .imports()
            .iter()
            .map(|i| {
                let global = match &i.ty {
                    ExternType::Global(ty) => Some(ty),
                    _ => None,
                };
                ImportDescriptor {
                    module: i.module.clone(),
                    name: i.name.clone(),
                    kind: i.ty.kind().into(),
                    value_type: global.map(|ty| value_type_name(ty.content).into()),
                    mutable: global.map(|ty| ty.mutable),
                }
            })
            .collect()
    }

    /// The exports, in order.
    #[napi]
    pub fn exports(&self) -> Vec<ExportDescriptor> {
        self.inner
            .exports()
            .iter()
            .map(|e| ExportDescriptor { name: e.name.clone(), kind: e.ty.kind().into() })
            .collect()
    }
}

/// Whether `bytes` is a module heron can compile.
#[napi]
pub fn validate(bytes: Uint8Array) -> bool {
    Module::validate(&Engine::default(), &bytes).is_ok()
}
