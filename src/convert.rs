//! ToWebAssemblyValue and ToJSValue from the JS API spec, on raw N-API values (this runs on
//! every call across the boundary, so it goes through `napi_raw` rather than the napi-rs
//! macro layer).

use crate::error::{throw_type_error, Pending};
use crate::napi_raw::{Env, Value};
use crate::{export, externref};
use heron_engine::{HeapType, RefType, Val, ValRaw, ValType};
use napi::sys;

/// Converts `value` to a wasm value of type `ty` (ToWebAssemblyValue), written to `slot`.
/// On `Err` a JS exception is pending.
///
/// The value is written in place rather than returned: a 16-byte slot returned through
/// memory and copied with one wide load after narrow stores stalls store forwarding, which
/// cost several ns per argument on the export call path.
///
/// # Safety
/// `env` must be the current JS environment and `value` a live value of it.
pub(crate) unsafe fn to_wasm(
    env: sys::napi_env,
    value: sys::napi_value,
    ty: ValType,
    slot: &mut ValRaw,
) -> Result<(), Pending> {
    let raw_env = env;
    // SAFETY: per this function's contract.
    let env = unsafe { Env::from_raw(env) };
    let value = Value(value);
    *slot = match ty {
        ValType::I32 => match env.number_as_i32(value) {
            Some(int) => ValRaw::i32(int),
            None => ValRaw::i32(env.number_as_i32(env.to_number(value)?).unwrap_or(0)),
        },
        ValType::F32 | ValType::F64 => {
            let double = match env.number_as_f64(value) {
                Some(double) => double,
                None => env.number_as_f64(env.to_number(value)?).unwrap_or(f64::NAN),
            };
            if ty == ValType::F32 {
                ValRaw::u32((double as f32).to_bits())
            } else {
                ValRaw::u64(double.to_bits())
            }
        }
        ValType::I64 => ValRaw::i64(to_bigint64(env, value)?),
        ValType::V128 => return Err(throw_type_error(raw_env, "v128 values cannot cross the JS boundary")),
        // The JS API: ToWebAssemblyValue of an exnref (null included) throws a TypeError.
        ValType::Ref(r) if r.heap.top() == HeapType::Exn => {
            return Err(throw_type_error(raw_env, "exnref values cannot cross the JS boundary"))
        }
        ValType::Ref(r) if is_null(env, value) => {
            if !r.nullable {
                return Err(throw_type_error(raw_env, &format!("null is not a value of the non-nullable type {r}")));
            }
            ValRaw::ptr(0)
        }
        // SAFETY: a live value of the current env.
        ValType::Ref(r) => ValRaw::ptr(unsafe { to_reference(raw_env, value, r) }?),
    };
    Ok(())
}

/// ToWebAssemblyValue of a non-null `value` for reference type `r`, as a raw reference.
///
/// # Safety
/// `env` must be the current JS environment and `value` a live value of it.
unsafe fn to_reference(env: sys::napi_env, value: Value, r: RefType) -> Result<usize, Pending> {
    match r.heap {
        // SAFETY: per this function's contract.
        HeapType::Extern => Ok(unsafe { externref::intern(env, value.0) }.0.get()),
        HeapType::Func | HeapType::Registered(_) => {
            // SAFETY: per this function's contract.
            let Some(func) = (unsafe { export::exported_func(env, value.0) }) else {
                return Err(throw_type_error(env, &format!("a {r} must be null or a WebAssembly function")));
            };
            match r.heap {
                HeapType::Registered(id) if func.type_id() != id => Err(throw_type_error(
                    env,
                    &format!("the WebAssembly function is of type {}, not of the expected {r}", func.ty()),
                )),
                _ => Ok(func.id()),
            }
        }
        // A host value (or an i31 for a small integral Number, which comes back as the same
        // Number, as V8's does, -0 included): kept as the value itself.
        // SAFETY: per this function's contract.
        HeapType::Any => Ok(unsafe { externref::intern(env, value.0) }.0.get()),
        _ => Err(throw_type_error(
            env,
            &format!("only null is a value of {r} in heron (it implements the GC proposal's types, not its objects)"),
        )),
    }
}

fn is_null(env: Env, value: Value) -> bool {
    env.type_of(value) == sys::ValueType::napi_null
}

/// ToBigInt64: BigInts wrap modulo 2^64; booleans are 0 and 1; strings parse as BigInt does
/// (a SyntaxError if they do not); objects convert with ToPrimitive (hint number) first, and
/// a primitive that is not a BigInt, boolean or string (a Number above all) is a TypeError.
fn to_bigint64(env: Env, value: Value) -> Result<i64, Pending> {
    if let Some(int) = env.bigint_as_i64(value) {
        return Ok(int);
    }
    match env.type_of(value) {
        sys::ValueType::napi_boolean => Ok(i64::from(env.boolean(value).unwrap_or(false))),
        sys::ValueType::napi_string | sys::ValueType::napi_object | sys::ValueType::napi_function => {
            // BigInt.asIntN(64, value) is exactly ToBigInt64: ToBigInt (ToPrimitive with hint
            // number, then a TypeError for a Number) wrapped to 64 bits. `BigInt(value)` is
            // not: it turns an integral Number from `valueOf` into a BigInt.
            let constructor = env.get_named(env.global(), c"BigInt")?;
            let as_int_n = env.get_named(constructor, c"asIntN")?;
            if env.type_of(as_int_n) != sys::ValueType::napi_function {
                // The global BigInt was replaced by something without a callable asIntN.
                return Err(throw_type_error(
                    env.raw(),
                    "Cannot convert value to a BigInt: BigInt.asIntN is not a function",
                ));
            }
            let bigint = env.call(constructor, as_int_n, &[env.int32(64), value])?;
            env.bigint_as_i64(bigint)
                .ok_or_else(|| throw_type_error(env.raw(), "Cannot convert value to a BigInt for an i64 parameter"))
        }
        _ => Err(throw_type_error(env.raw(), "Cannot convert value to a BigInt for an i64 parameter")),
    }
}

/// Converts a wasm value of type `ty` to JS (ToJSValue).
///
/// # Safety
/// `env` must be the current JS environment, and `raw` a value of `ty` written by wasm or
/// the engine (a funcref there is a live function's).
pub(crate) unsafe fn to_js(env: sys::napi_env, raw: &ValRaw, ty: ValType) -> Result<sys::napi_value, Pending> {
    let raw_env = env;
    // SAFETY: per this function's contract.
    let env = unsafe { Env::from_raw(env) };
    let value = match ty {
        ValType::I32 => env.int32(raw.get_i32()),
        ValType::I64 => env.bigint_i64(raw.get_i64()),
        ValType::F32 => env.double(f64::from(f32::from_bits(raw.get_u32()))),
        ValType::F64 => env.double(f64::from_bits(raw.get_u64())),
        ValType::V128 => return Err(throw_type_error(raw_env, "v128 values cannot cross the JS boundary")),
        // The JS API: ToJSValue of an exnref (null included) throws a TypeError.
        ValType::Ref(r) if r.heap.top() == HeapType::Exn => {
            return Err(throw_type_error(raw_env, "exnref values cannot cross the JS boundary"))
        }
        // SAFETY: `raw` holds a value of `ty` written by wasm or the engine; a funcref there is
        // a canonical `VMFuncRef` of a live function.
        ValType::Ref(_) => match unsafe { Val::from_raw(*raw, ty) } {
            Val::FuncRef(Some(function)) => return export::function_object(raw_env, function),
            // SAFETY: the current env.
            Val::ExternRef(Some(reference)) | Val::AnyRef(Some(reference)) => {
                return Ok(unsafe { externref::value(raw_env, reference) })
            }
            _ => env.null(),
        },
    };
    Ok(value.0)
}

/// The value type the JS API calls `name` ("funcref" is accepted for "anyfunc" too).
pub(crate) fn value_type(name: &str) -> Option<ValType> {
    Some(match name {
        "i32" => ValType::I32,
        "i64" => ValType::I64,
        "f32" => ValType::F32,
        "f64" => ValType::F64,
        "v128" => ValType::V128,
        "anyfunc" | "funcref" => ValType::FUNCREF,
        "externref" => ValType::EXTERNREF,
        _ => return None,
    })
}

/// The JS API's name for `ty`.
pub(crate) fn value_type_name(ty: ValType) -> &'static str {
    match ty {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        ValType::V128 => "v128",
        // Typed references have no name in the JS API: their hierarchy's top type names them.
        ValType::Ref(r) => match r.heap.top() {
            HeapType::Func => "anyfunc",
            HeapType::Extern => "externref",
            HeapType::Exn => "exnref",
            _ => "anyref",
        },
    }
}

/// ToWebAssemblyValue of `value`, or the spec's DefaultValue(`ty`) when it is missing
/// (`undefined` counts as missing, as WebIDL says for optional arguments): zero, null, or
/// for `externref` the value `undefined`.
///
/// # Safety
/// `env` must be the current JS environment and `value` a live value of it.
pub(crate) unsafe fn to_val_or_default(
    env: sys::napi_env,
    value: Option<sys::napi_value>,
    ty: ValType,
) -> Result<Val, Pending> {
    // SAFETY: per this function's contract.
    let token = unsafe { Env::from_raw(env) };
    let value = match value {
        Some(value) if token.type_of(Value(value)) != sys::ValueType::napi_undefined => value,
        _ if ty == ValType::EXTERNREF => token.undefined().0,
        // DefaultValue is an error for a non-nullable type: a TypeError, as WebIDL's missing
        // argument would be.
        _ if !ty.is_defaultable() => {
            return Err(throw_type_error(env, &format!("a value is required for the non-nullable type {ty}")));
        }
        _ => return Ok(Val::default_for(ty)),
    };
    // SAFETY: per this function's contract, or a value just made.
    unsafe { to_val(env, value, ty) }
}

/// ToWebAssemblyValue of `value` as a typed value.
///
/// # Safety
/// `env` must be the current JS environment and `value` a live value of it.
pub(crate) unsafe fn to_val(env: sys::napi_env, value: sys::napi_value, ty: ValType) -> Result<Val, Pending> {
    // SAFETY: per this function's contract.
    let mut slot = ValRaw::default();
    // SAFETY: per this function's contract.
    unsafe { to_wasm(env, value, ty, &mut slot) }?;
    // SAFETY: `to_wasm` wrote a value of `ty`: a funcref only from a live wasm function
    // object, which `value` keeps alive.
    Ok(unsafe { Val::from_raw(slot, ty) })
}

/// ToJSValue of a typed value.
///
/// # Safety
/// `env` must be the current JS environment.
pub(crate) unsafe fn val_to_js(env: sys::napi_env, value: Val) -> Result<sys::napi_value, Pending> {
    let ty = value.ty();
    // SAFETY: per this function's contract.
    unsafe { to_js(env, &value.to_raw(), ty) }
}
