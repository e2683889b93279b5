//! `instantiate`: links a `NativeModule` with import values that `index.js` has already
//! read from the import object (in import order) and returns the export values.

use crate::error::{self, Pending};
use crate::func;
use crate::memory::NativeMemory;
use crate::module::NativeModule;
use heron_engine::{Engine, Extern, ExternType, Instance};
use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use std::ptr;

/// Instantiates `module` with `imports` (one value per import, in order) and returns the
/// export values in export order.
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
        match &descriptor.ty {
            ExternType::Func(ty) => {
                if value.get_type().ok() != Some(ValueType::Function) {
                    return Err(error::throw_link_error(env, &format!("import {name}: expected a function")));
                }
                externs.push(Extern::Func(func::host_function(env, &engine, value.raw(), ty.clone())?));
            }
            ExternType::Memory(_) => {
                // index.js passes a memory import as its NativeMemory's link id.
                let memory = u32::from_unknown(*value).ok().and_then(crate::memory::by_link_id);
                match memory {
                    Some(memory) => externs.push(Extern::Memory(memory)),
                    None => {
                        return Err(error::throw_link_error(
                            env,
                            &format!("import {name}: expected a WebAssembly.Memory"),
                        ));
                    }
                }
            }
            other => {
                let message = format!("import {name}: {} imports are not supported yet", other.kind());
                return Err(error::throw_link_error(env, &message));
            }
        }
    }
    let instance = Instance::new(module, &externs).map_err(|e| error::throw(env, e))?;
    export_values(env, &instance)
}

fn export_values(env: sys::napi_env, instance: &Instance) -> std::result::Result<sys::napi_value, Pending> {
    let exports = instance.exports();
    let mut array = ptr::null_mut();
    // SAFETY: the live env and a pointer to a local.
    unsafe { sys::napi_create_array_with_length(env, exports.len(), &mut array) };
    // The same wasm function exported twice is the same JS function.
    let mut functions: Vec<(heron_engine::Func, sys::napi_value)> = Vec::new();
    for (i, (_, value)) in exports.into_iter().enumerate() {
        let js = match value {
            Extern::Func(f) => match functions.iter().find(|(known, _)| known.same(&f)) {
                Some((_, js)) => *js,
                None => {
                    let name = instance.func_index(&f).map(|i| i.to_string()).unwrap_or_default();
                    let js = func::export_function(env, f.clone(), &name)?;
                    functions.push((f, js));
                    js
                }
            },
            Extern::Memory(memory) => {
                let native = NativeMemory::wrap(env, memory);
                // SAFETY: converting a fresh class value on the live env.
                unsafe { NativeMemory::to_napi_value(env, native) }.map_err(|_| Pending)?
            }
            other => {
                let kind = match other {
                    _ => "global",
                };
                return Err(error::throw_link_error(env, &format!("{kind} exports are not supported yet")));
            }
        };
        // SAFETY: as above; `js` is a live value of this env.
        unsafe { sys::napi_set_element(env, array, i as u32, js) };
    }
    Ok(array)
}
