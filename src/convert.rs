//! ToWebAssemblyValue and ToJSValue from the JS API spec, on raw N-API values (this runs on
//! every call across the boundary, so it avoids the napi-rs macro layer).

use crate::error::{throw_type_error, Pending};
use crate::{externref, func};
use heron_engine::{Val, ValRaw, ValType};
use napi::sys;
use std::ptr;

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
    // SAFETY: (whole body) every call passes the live env and values the caller vouched for,
    // or values just returned by N-API, plus pointers to locals.
    unsafe {
        *slot = match ty {
            ValType::I32 => {
                let mut int = 0i32;
                if sys::napi_get_value_int32(env, value, &mut int) != sys::Status::napi_ok {
                    let number = to_number(env, value)?;
                    sys::napi_get_value_int32(env, number, &mut int);
                }
                ValRaw::i32(int)
            }
            ValType::F32 | ValType::F64 => {
                let mut double = 0f64;
                if sys::napi_get_value_double(env, value, &mut double) != sys::Status::napi_ok {
                    let number = to_number(env, value)?;
                    sys::napi_get_value_double(env, number, &mut double);
                }
                if ty == ValType::F32 {
                    ValRaw::u32((double as f32).to_bits())
                } else {
                    ValRaw::u64(double.to_bits())
                }
            }
            ValType::I64 => ValRaw::i64(to_bigint64(env, value)?),
            ValType::V128 => return Err(throw_type_error(env, "v128 values cannot cross the JS boundary")),
            ValType::FuncRef if is_null(env, value) => ValRaw::ptr(0),
            ValType::FuncRef => match func::exported_func(env, value) {
                Some(func) => ValRaw::ptr(func.id()),
                None => return Err(throw_type_error(env, "a funcref must be null or a WebAssembly function")),
            },
            ValType::ExternRef if is_null(env, value) => ValRaw::ptr(0),
            ValType::ExternRef => ValRaw::ptr(externref::intern(env, value).0.get()),
        };
        Ok(())
    }
}

/// # Safety
/// `env` must be the current JS environment and `value` a live value of it.
unsafe fn is_null(env: sys::napi_env, value: sys::napi_value) -> bool {
    let mut kind = 0;
    // SAFETY: per this function's contract.
    unsafe { sys::napi_typeof(env, value, &mut kind) };
    kind == sys::ValueType::napi_null
}

/// ToNumber, which may run user code (`valueOf`) and throw.
/// # Safety
/// `env` must be the current JS environment, on its own thread, and every value passed a live value of it.
unsafe fn to_number(env: sys::napi_env, value: sys::napi_value) -> Result<sys::napi_value, Pending> {
    let mut number = ptr::null_mut();
    // SAFETY: per this module's contract.
    match unsafe { sys::napi_coerce_to_number(env, value, &mut number) } {
        sys::Status::napi_ok => Ok(number),
        _ => Err(Pending),
    }
}

/// ToBigInt64: BigInts wrap modulo 2^64; booleans are 0 and 1; strings parse as BigInt does;
/// anything else (Numbers included) is a TypeError.
/// # Safety
/// `env` must be the current JS environment, on its own thread, and every value passed a live value of it.
unsafe fn to_bigint64(env: sys::napi_env, value: sys::napi_value) -> Result<i64, Pending> {
    // SAFETY: per this module's contract.
    unsafe {
        let mut int = 0i64;
        let mut lossless = false;
        if sys::napi_get_value_bigint_int64(env, value, &mut int, &mut lossless) == sys::Status::napi_ok {
            return Ok(int);
        }
        let mut kind = 0;
        sys::napi_typeof(env, value, &mut kind);
        match kind {
            sys::ValueType::napi_boolean => {
                let mut flag = false;
                sys::napi_get_value_bool(env, value, &mut flag);
                Ok(i64::from(flag))
            }
            sys::ValueType::napi_string | sys::ValueType::napi_object => {
                // BigInt(value) implements ToBigInt's string parsing and ToPrimitive.
                let bigint = call_global_bigint(env, value)?;
                sys::napi_get_value_bigint_int64(env, bigint, &mut int, &mut lossless);
                Ok(int)
            }
            _ => Err(throw_type_error(env, "Cannot convert value to a BigInt for an i64 parameter")),
        }
    }
}

/// # Safety
/// `env` must be the current JS environment, on its own thread, and every value passed a live value of it.
unsafe fn call_global_bigint(env: sys::napi_env, value: sys::napi_value) -> Result<sys::napi_value, Pending> {
    // SAFETY: per this module's contract.
    unsafe {
        let mut global = ptr::null_mut();
        sys::napi_get_global(env, &mut global);
        let mut constructor = ptr::null_mut();
        sys::napi_get_named_property(env, global, c"BigInt".as_ptr(), &mut constructor);
        let mut result = ptr::null_mut();
        if sys::napi_call_function(env, global, constructor, 1, &value, &mut result) != sys::Status::napi_ok {
            return Err(Pending);
        }
        let mut kind = 0;
        sys::napi_typeof(env, result, &mut kind);
        if kind != sys::ValueType::napi_bigint {
            return Err(throw_type_error(env, "Cannot convert value to a BigInt for an i64 parameter"));
        }
        Ok(result)
    }
}

/// Converts a wasm value of type `ty` to JS (ToJSValue).
///
/// # Safety
/// `env` must be the current JS environment, and `raw` a value of `ty` written by wasm or
/// the engine (a funcref there is a live function's).
pub(crate) unsafe fn to_js(env: sys::napi_env, raw: &ValRaw, ty: ValType) -> Result<sys::napi_value, Pending> {
    let mut value = ptr::null_mut();
    // SAFETY: the live env and a pointer to a local.
    unsafe {
        match ty {
            ValType::I32 => sys::napi_create_int32(env, raw.get_i32(), &mut value),
            ValType::I64 => sys::napi_create_bigint_int64(env, raw.get_i64(), &mut value),
            ValType::F32 => sys::napi_create_double(env, f64::from(f32::from_bits(raw.get_u32())), &mut value),
            ValType::F64 => sys::napi_create_double(env, f64::from_bits(raw.get_u64()), &mut value),
            ValType::V128 => return Err(throw_type_error(env, "v128 values cannot cross the JS boundary")),
            // `Val::from_raw` (inside this unsafe block): `raw` holds a value of `ty` written by
            // wasm or the engine, so a funcref there is a live function's (this function's
            // contract).
            ValType::FuncRef | ValType::ExternRef => match Val::from_raw(*raw, ty) {
                Val::FuncRef(Some(function)) => return func::function_object(env, function),
                Val::ExternRef(Some(reference)) => return Ok(externref::value(env, reference)),
                _ => sys::napi_get_null(env, &mut value),
            },
        };
    }
    Ok(value)
}

/// The value type the JS API calls `name` ("funcref" is accepted for "anyfunc" too).
pub(crate) fn value_type(name: &str) -> Option<ValType> {
    Some(match name {
        "i32" => ValType::I32,
        "i64" => ValType::I64,
        "f32" => ValType::F32,
        "f64" => ValType::F64,
        "v128" => ValType::V128,
        "anyfunc" | "funcref" => ValType::FuncRef,
        "externref" => ValType::ExternRef,
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
        ValType::FuncRef => "anyfunc",
        ValType::ExternRef => "externref",
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
    unsafe {
        let value = match value {
            Some(value) if !is_undefined(env, value) => value,
            _ if ty == ValType::ExternRef => {
                let mut undefined = ptr::null_mut();
                sys::napi_get_undefined(env, &mut undefined);
                undefined
            }
            _ => return Ok(Val::default_for(ty)),
        };
        to_val(env, value, ty)
    }
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

/// # Safety
/// `env` must be the current JS environment and `value` a live value of it.
unsafe fn is_undefined(env: sys::napi_env, value: sys::napi_value) -> bool {
    let mut kind = 0;
    // SAFETY: per this function's contract.
    unsafe { sys::napi_typeof(env, value, &mut kind) };
    kind == sys::ValueType::napi_undefined
}
