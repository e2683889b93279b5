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
    /// Decodes and validates `bytes`, throwing `CompileError` if it cannot, and compiles it
    /// (by default in the background and on first call; `HERON_COMPILATION` in the engine);
    /// with canonical NaNs if `deterministic`.
    #[napi(constructor)]
    pub fn new(env: Env, bytes: Uint8Array, deterministic: Option<bool>) -> Result<Self> {
        match compile_module(&bytes, deterministic.unwrap_or(false)) {
            Ok(inner) => Ok(NativeModule { inner }),
            Err(e) => Err(error::throw(env.raw(), e).into()),
        }
    }

    /// A carrier of this module to another Worker (see `transfer.rs`).
    #[napi]
    pub fn carrier<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        let carrier = crate::transfer::carrier(crate::transfer::Carried::Module(self.inner.clone()))?;
        // SAFETY: a live value of this env.
        Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), carrier) })
    }

    /// The module a carrier made by `carrier` (in any Worker) carries; throws if `view` (a
    /// Uint8Array over the whole carrier) is not a live carrier of a module.
    #[napi(factory)]
    pub fn from_carrier(env: Env, view: Unknown) -> Result<NativeModule> {
        match crate::transfer::carried(env.raw(), view.raw()) {
            Some(crate::transfer::Carried::Module(inner)) => Ok(NativeModule { inner }),
            _ => Err(Error::new(Status::InvalidArg, "not a carrier of a heron module")),
        }
    }

    /// Returns once every function is compiled; throws `CompileError` if one cannot be.
    #[napi]
    pub fn wait_for_compilation(&self, env: Env) -> Result<()> {
        self.inner.wait_for_compilation().map_err(|e| error::throw(env.raw(), e).into())
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

/// Compiling on a libuv worker thread, for `WebAssembly.compile` and `instantiate`.
pub struct CompileTask {
    bytes: Vec<u8>,
    deterministic: bool,
}

/// Compiles `bytes` with the default engine's compilation mode.
fn compile_module(bytes: &[u8], deterministic: bool) -> heron_engine::Result<Module> {
    let engine = Engine::default();
    Module::with_options(&engine, bytes, engine.compilation(), deterministic)
}

impl Task for CompileTask {
    type Output = std::result::Result<Module, heron_engine::Error>;
    type JsValue = Unknown<'static>;

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(compile_module(&self.bytes, self.deterministic))
    }

    /// Resolves to a `NativeModule`, or to the `CompileError` object (not thrown) for
    /// `index.js` to reject with: the promise machinery of napi-rs only knows plain Errors.
    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Self::JsValue> {
        let value = match output {
            // SAFETY: converting a fresh class value on the live env.
            Ok(inner) => unsafe { NativeModule::to_napi_value(env.raw(), NativeModule { inner }) }?,
            Err(e) => error::create(env.raw(), e).map_err(Error::from)?,
        };
        // SAFETY: `value` is a live value of this env.
        Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), value) })
    }
}

/// Compiles `bytes` off the main thread; the promise resolves to a `NativeModule` or to the
/// error to reject with.
#[napi(ts_return_type = "Promise<NativeModule | Error>")]
pub fn compile_async(bytes: Uint8Array, deterministic: Option<bool>) -> AsyncTask<CompileTask> {
    AsyncTask::new(CompileTask { bytes: bytes.to_vec(), deterministic: deterministic.unwrap_or(false) })
}
