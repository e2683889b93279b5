//! `instantiate`: links a `NativeModule` with import values that `index.js` has already
//! read from the import object (in import order) and returns the export values.

use crate::error::{self, Pending};
use crate::{export, import, scope};
use crate::global::NativeGlobal;
use crate::link;
use crate::memory::NativeMemory;
use crate::module::NativeModule;
use crate::napi_raw::{Env as RawEnv, Value};
use crate::table::NativeTable;
use heron_engine::{Engine, Extern, ExternType, Instance};
use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;

/// Instantiates `module` with `imports` (one value per import, in order: a function for a
/// function import, the link id of a `NativeMemory`, `NativeTable` or `NativeGlobal`
/// otherwise) and returns the export values in export order.
#[napi]
pub fn instantiate<'env>(env: &'env Env, module: &NativeModule, imports: Vec<Unknown<'env>>) -> Result<Unknown<'env>> {
    let raw_env = env.raw();
    let exports = link_and_run(raw_env, &module.inner, &imports)?;
    // SAFETY: `exports` is a live array created on this env just now.
    Ok(unsafe { Unknown::from_raw_unchecked(raw_env, exports) })
}

fn link_and_run(
    env: sys::napi_env,
    module: &heron_engine::Module,
    imports: &[Unknown<'_>],
) -> std::result::Result<sys::napi_value, Pending> {
    let engine = Engine::default();
    let descriptors = module.imports();
    if imports.len() != descriptors.len() {
        return Err(error::throw_type_error(env, "wrong number of import values"));
    }
    let mut externs = Vec::with_capacity(imports.len());
    for (descriptor, value) in descriptors.iter().zip(imports) {
        let name = format!("{}.{}", descriptor.module, descriptor.name);
        let linked = match &descriptor.ty {
            ExternType::Func(ty) => {
                if value.get_type().ok() != Some(ValueType::Function) {
                    return Err(error::throw_link_error(env, &format!("import {name}: expected a function")));
                }
                // SAFETY: `value` is a live argument of this call.
                match unsafe { export::exported_func(env, value.raw()) } {
                    // A wasm function from another instance is linked directly, not through JS.
                    Some(wasm) => Extern::Func(wasm),
                    None => Extern::Func(import::host_function(env, &engine, value.raw(), ty.clone())?),
                }
            }
            other => {
                let linked = u32::from_unknown(*value).ok().and_then(link::lookup);
                match linked {
                    Some(linked) if linked.kind() == other.kind() => linked,
                    _ => {
                        let message = format!("import {name}: expected a WebAssembly.{}", interface_name(other));
                        return Err(error::throw_link_error(env, &message));
                    }
                }
            }
        };
        externs.push(linked);
    }
    let instance = {
        // The start function may call imports.
        let _entry = scope::WasmEntry::enter(env);
        Instance::new(module, &externs)
    };
    let instance = instance.map_err(|e| error::throw(env, e))?;
    export_values(env, &instance)
}

fn interface_name(ty: &ExternType) -> &'static str {
    match ty {
        ExternType::Func(_) => "Function",
        ExternType::Memory(_) => "Memory",
        ExternType::Table(_) => "Table",
        ExternType::Global(_) => "Global",
    }
}

/// The export values: functions as JS functions (the same object for the same function),
/// memories, tables and globals as fresh native wrappers that `index.js` exchanges for the
/// JS object already standing for the same memory, table or global, if there is one.
fn export_values(env: sys::napi_env, instance: &Instance) -> std::result::Result<sys::napi_value, Pending> {
    let exports = instance.exports();
    // SAFETY: `instantiate` passes the env of its call.
    let raw = unsafe { RawEnv::from_raw(env) };
    let array = raw.array(exports.len());
    for (i, (_, value)) in exports.into_iter().enumerate() {
        let js = match value {
            Extern::Func(f) => export::function_object(env, f)?,
            Extern::Memory(memory) => {
                // SAFETY: converting a fresh class value on the live env.
                unsafe { NativeMemory::to_napi_value(env, NativeMemory::wrap(env, memory)) }.map_err(|_| Pending)?
            }
            Extern::Table(table) => {
                // SAFETY: as above.
                unsafe { NativeTable::to_napi_value(env, NativeTable::wrap(table)) }.map_err(|_| Pending)?
            }
            Extern::Global(global) => {
                // SAFETY: as above.
                unsafe { NativeGlobal::to_napi_value(env, NativeGlobal::wrap(global)) }.map_err(|_| Pending)?
            }
        };
        raw.set_element(array, i as u32, Value(js))?;
    }
    Ok(array.0)
}
