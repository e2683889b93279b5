//! `instantiate`: links a `NativeModule` with import values that `index.js` has already
//! read from the import object (in import order) and returns the export values;
//! `instantiateControlled` does the same under execution controls (README "Controls") and
//! also returns a `NativeInstance` for `heron.remainingFuel`, `addFuel` and
//! `interruptHandle`.

use crate::error::{self, Pending};
use crate::exception::NativeTag;
use crate::global::NativeGlobal;
use crate::link;
use crate::memory::NativeMemory;
use crate::module::NativeModule;
use crate::napi_raw::{Env as RawEnv, Value};
use crate::table::NativeTable;
use crate::{export, import, scope};
use heron_engine::{Controls, Engine, Extern, ExternType, Instance};
use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;

/// Instantiates `module` with `imports` (one value per import, in order: a function for a
/// function import, the link id of a `NativeMemory`, `NativeTable` or `NativeGlobal`
/// otherwise) and returns the export values in export order.
#[napi]
pub fn instantiate<'env>(env: &'env Env, module: &NativeModule, imports: Vec<Unknown<'env>>) -> Result<Unknown<'env>> {
    let raw_env = env.raw();
    let instance = link_and_run(raw_env, &module.inner, &imports, &Controls::default())?;
    let exports = export_values(raw_env, &instance)?;
    // SAFETY: `exports` is a live array created on this env just now.
    Ok(unsafe { Unknown::from_raw_unchecked(raw_env, exports) })
}

/// Execution controls as `index.js` passes them, already validated there: whole
/// milliseconds, bytes and elements as Numbers, fuel as a BigInt.
#[napi(object)]
pub struct ControlOptions {
    pub timeout: Option<f64>,
    pub interruptible: Option<bool>,
    pub break_on_sigint: Option<bool>,
    pub fuel: Option<BigInt>,
    pub memory_limit: Option<f64>,
    pub table_limit: Option<f64>,
}

impl ControlOptions {
    fn to_controls(&self) -> Controls {
        // `index.js` passes non-negative safe integers only; `as` saturates anything else.
        let whole = |value: Option<f64>| value.map(|v| v as u64);
        Controls {
            timeout: whole(self.timeout).map(std::time::Duration::from_millis),
            interruptible: self.interruptible.unwrap_or(false),
            break_on_sigint: self.break_on_sigint.unwrap_or(false),
            fuel: self.fuel.as_ref().map(|fuel| fuel.get_u64().1),
            memory_limit: whole(self.memory_limit),
            table_limit: whole(self.table_limit),
        }
    }
}

/// An instance created under controls, for the operations on them.
#[napi]
pub struct NativeInstance {
    inner: Instance,
}

#[napi]
impl NativeInstance {
    /// The fuel left, or `null` for an instance created without fuel.
    #[napi]
    pub fn remaining_fuel(&self) -> Option<BigInt> {
        self.inner.remaining_fuel().map(BigInt::from)
    }

    /// Adds fuel; `false` if the instance was created without fuel.
    #[napi]
    pub fn add_fuel(&self, fuel: BigInt) -> bool {
        self.inner.add_fuel(fuel.get_u64().1).is_ok()
    }

    /// The process-wide id of the instance's interrupt state, or `null` if the instance is
    /// not interruptible.
    #[napi]
    pub fn interrupt_id(&self) -> Option<f64> {
        // Ids count up from 1: far below 2^53.
        self.inner.interrupt_handle().map(|handle| handle.id() as f64)
    }
}

/// Interrupts the instance whose interrupt id is `id`, from any thread; `false` if it no
/// longer exists.
#[napi]
pub fn interrupt_instance(id: f64) -> bool {
    id >= 1.0 && id.fract() == 0.0 && heron_engine::interrupt_by_id(id as u64)
}

/// `instantiate` under `controls`: returns `[exports, NativeInstance]`.
#[napi]
pub fn instantiate_controlled<'env>(
    env: &'env Env,
    module: &NativeModule,
    imports: Vec<Unknown<'env>>,
    controls: ControlOptions,
) -> Result<Unknown<'env>> {
    let raw_env = env.raw();
    let instance = link_and_run(raw_env, &module.inner, &imports, &controls.to_controls())?;
    let exports = export_values(raw_env, &instance)?;
    let native = NativeInstance { inner: instance };
    // SAFETY: converting a fresh class value on the live env.
    let native = unsafe { NativeInstance::to_napi_value(raw_env, native) }?;
    // SAFETY: the env of this call.
    let raw = unsafe { RawEnv::from_raw(raw_env) };
    let pair = raw.array(2);
    raw.set_element(pair, 0, Value(exports))?;
    raw.set_element(pair, 1, Value(native))?;
    // SAFETY: `pair` is a live array created on this env just now.
    Ok(unsafe { Unknown::from_raw_unchecked(raw_env, pair.0) })
}

fn link_and_run(
    env: sys::napi_env,
    module: &heron_engine::Module,
    imports: &[Unknown<'_>],
    controls: &Controls,
) -> std::result::Result<Instance, Pending> {
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
        Instance::with_controls(module, &externs, controls)
    };
    // A start function's failure gets its wasm frames.
    instance.map_err(|e| error::throw_from_wasm(env, e))
}

fn interface_name(ty: &ExternType) -> &'static str {
    match ty {
        ExternType::Func(_) => "Function",
        ExternType::Memory(_) => "Memory",
        ExternType::Table(_) => "Table",
        ExternType::Global(_) => "Global",
        ExternType::Tag(_) => "Tag",
    }
}

/// The export values: functions as JS functions (the same object for the same function),
/// memories, tables, globals and tags as fresh native wrappers that `index.js` exchanges for the
/// JS object already standing for the same memory, table or global, if there is one.
fn export_values(env: sys::napi_env, instance: &Instance) -> std::result::Result<sys::napi_value, Pending> {
    let exports = instance.export_values();
    // SAFETY: `instantiate` passes the env of its call.
    let raw = unsafe { RawEnv::from_raw(env) };
    let array = raw.array(exports.len());
    for (i, value) in exports.enumerate() {
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
            Extern::Tag(tag) => {
                // SAFETY: as above.
                unsafe { NativeTag::to_napi_value(env, NativeTag::wrap(tag)) }.map_err(|_| Pending)?
            }
        };
        raw.set_element(array, i as u32, Value(js))?;
    }
    Ok(array.0)
}
