//! Exported wasm functions as JS functions. An exported function is a small JS arrow
//! function made by `index.js` (`makeExportFunction`) that calls one of two native
//! functions shared by all exports of the thread:
//! - when every parameter and result is a number (i32, i64, f32, f64), the arrow converts
//!   the arguments itself (`x | 0`, `+x`, `BigInt.asIntN(64, x)`: exactly
//!   ToWebAssemblyValue, and inlined by V8's JIT), stores them and the address of the
//!   function's `ExportData` in this thread's call slots (a buffer shared with JS through
//!   typed arrays), calls `call_export_fast` without arguments and reads the results back
//!   from the slots: the call makes no N-API call at all;
//! - other signatures pass the arrow itself and the JS values to `call_export`, which
//!   unwraps the arrow (checking its type tag) and converts natively.
//!
//! The native functions are reachable only from inside those arrows. The function JS sees
//! is an arrow function, so like V8's exported functions it is not a constructor. Each
//! function object is cached per wasm function (the spec's Exported Function cache).

use crate::convert::{to_js, to_wasm};
use crate::error::{self, Pending};
use crate::scope::WasmEntry;
use heron_engine::{Func, ValRaw, ValType};
use napi::bindgen_prelude::{Env, JsValue, Unknown};
use napi::sys;
use napi_derive::napi;
use std::cell::Cell;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::ptr;

/// Calls with at most this many parameters or results use stack storage only.
pub(crate) const INLINE_SLOTS: usize = 8;

/// Size of this thread's call slots: signatures of numbers with at most this many
/// parameters and results take the fast path.
const CALL_SLOTS: usize = 16;
const SLOT_BYTES: usize = std::mem::size_of::<ValRaw>();

/// What an exported function's JS function points to (it owns it: its finalizer frees it).
struct ExportData {
    func: Func,
    params: Box<[ValType]>,
    results: Box<[ValType]>,
    /// False if a parameter or result is a `v128`: such functions throw a TypeError when
    /// called from JS, before running.
    crosses_boundary: bool,
    /// The weak reference `napi_wrap` made to the JS function, deleted in its finalizer.
    wrap_reference: Cell<sys::napi_ref>,
}

/// Marks the function objects made by `function_object`, so that `exported_func` can tell
/// them from other wrapped objects before unwrapping.
static EXPORT_TAG: sys::napi_type_tag =
    sys::napi_type_tag { lower: 0x6865_726f_6e2d_6578, upper: 0x706f_7274_2d66_6e31 };

/// What this thread has for making exported functions.
#[derive(Clone, Copy)]
struct ExportSupport {
    /// `makeExportFunction(native, data, signature, name, length)` from `index.js`, or null
    /// before it is set.
    make_function: sys::napi_ref,
    /// The call slots: `CALL_SLOTS` slots of 16 bytes, laid out as `ValRaw`s (maybe less
    /// aligned), then the `ExportData` address as an f64; or null if the fast path is off.
    call_slots: *mut u8,
    /// The ArrayBuffer of the call slots (null if none).
    slots_buffer: sys::napi_ref,
    /// The native functions behind every exported function: `call_export_fast` and
    /// `call_export`.
    fast_native: sys::napi_ref,
    generic_native: sys::napi_ref,
}

thread_local! {
    static EXPORT_SUPPORT: Cell<ExportSupport> = const {
        Cell::new(ExportSupport {
            make_function: ptr::null_mut(),
            call_slots: ptr::null_mut(),
            slots_buffer: ptr::null_mut(),
            fast_native: ptr::null_mut(),
            generic_native: ptr::null_mut(),
        })
    };
    /// The JS function made for each wasm function on this thread, by `Func::id`, so the
    /// same function always reaches JS as the same object (the spec's Exported Function
    /// cache). Weak references: an entry goes when its function object is collected.
    static FUNCTION_OBJECTS: RefCell<HashMap<usize, (sys::napi_ref, *const ExportData)>> =
        RefCell::new(HashMap::new());
}

/// Registers what `index.js` provides for exported functions on this thread: the function
/// that makes them (see the module comment) and the ArrayBuffer of the call slots (at least
/// `CALL_SLOTS + 1` × 16 bytes), or null to keep every call on the native-conversion path.
/// Returns the call slots to use (or null): those of the first registration on the thread,
/// since `index.js` may be evaluated more than once (module registries of test runners) and
/// every exported function must write where the native side reads.
#[napi]
pub fn set_export_support<'env>(
    env: &'env Env,
    make_function: Unknown,
    call_slots: Unknown<'env>,
) -> napi::Result<Unknown<'env>> {
    let env = env.raw();
    let registered = EXPORT_SUPPORT.with(Cell::get);
    let mut value = ptr::null_mut();
    if !registered.make_function.is_null() {
        // SAFETY: a reference of this thread's env, and a pointer to a local.
        unsafe {
            if registered.slots_buffer.is_null() {
                sys::napi_get_null(env, &mut value);
            } else {
                sys::napi_get_reference_value(env, registered.slots_buffer, &mut value);
            }
            return Ok(Unknown::from_raw_unchecked(env, value));
        }
    }
    let failed = || napi::Error::from_reason("cannot set up exported functions");
    let mut data = ptr::null_mut();
    let mut length = 0;
    // SAFETY: (whole block) N-API calls on live values of this env with pointers to locals.
    // The references are strong and never deleted: all live as long as the env, and the
    // slots' memory with their ArrayBuffer.
    let support = unsafe {
        let mut is_buffer = false;
        sys::napi_is_arraybuffer(env, call_slots.raw(), &mut is_buffer);
        if is_buffer {
            sys::napi_get_arraybuffer_info(env, call_slots.raw(), &mut data, &mut length);
        }
        let big_enough = !data.is_null() && length >= (CALL_SLOTS + 1) * SLOT_BYTES;
        ExportSupport {
            make_function: strong_reference(env, make_function.raw()).ok_or_else(failed)?,
            call_slots: if big_enough { data.cast() } else { ptr::null_mut() },
            slots_buffer: if big_enough {
                strong_reference(env, call_slots.raw()).ok_or_else(failed)?
            } else {
                ptr::null_mut()
            },
            fast_native: native_function(env, call_export_fast).ok_or_else(failed)?,
            generic_native: native_function(env, call_export).ok_or_else(failed)?,
        }
    };
    EXPORT_SUPPORT.with(|cell| cell.set(support));
    if support.call_slots.is_null() {
        // SAFETY: the live env, and a pointer to a local.
        unsafe {
            sys::napi_get_null(env, &mut value);
            return Ok(Unknown::from_raw_unchecked(env, value));
        }
    }
    Ok(call_slots)
}

/// # Safety
/// `env` must be the current JS environment and `value` a live value of it.
unsafe fn strong_reference(env: sys::napi_env, value: sys::napi_value) -> Option<sys::napi_ref> {
    let mut reference = ptr::null_mut();
    // SAFETY: per this function's contract, with a pointer to a local.
    let status = unsafe { sys::napi_create_reference(env, value, 1, &mut reference) };
    (status == sys::Status::napi_ok).then_some(reference)
}

/// A strong reference to a new native function running `callback`.
///
/// # Safety
/// `env` must be the current JS environment.
unsafe fn native_function(
    env: sys::napi_env,
    callback: unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value,
) -> Option<sys::napi_ref> {
    let mut function = ptr::null_mut();
    // SAFETY: per this function's contract, with a pointer to a local.
    unsafe {
        let status = sys::napi_create_function(env, ptr::null(), 0, Some(callback), ptr::null_mut(), &mut function);
        if status != sys::Status::napi_ok {
            return None;
        }
        strong_reference(env, function)
    }
}

/// One letter per value type, for `makeExportFunction`: the numbers the fast path carries,
/// and `x` for anything that must be converted natively.
fn type_letter(ty: ValType) -> char {
    match ty {
        ValType::I32 => 'i',
        ValType::I64 => 'I',
        ValType::F32 => 'f',
        ValType::F64 => 'F',
        _ => 'x',
    }
}

/// The JS function for `func`: the one made before if it is still alive, else a new one
/// whose `name` is the function index and `length` its parameter count.
pub(crate) fn function_object(env: sys::napi_env, func: Func) -> Result<sys::napi_value, Pending> {
    let known = FUNCTION_OBJECTS.with(|map| map.borrow().get(&func.id()).map(|(reference, _)| *reference));
    if let Some(reference) = known {
        let mut function = ptr::null_mut();
        // SAFETY: entries hold references created on this thread's env.
        unsafe { sys::napi_get_reference_value(env, reference, &mut function) };
        if !function.is_null() {
            return Ok(function);
        }
    }
    let support = EXPORT_SUPPORT.with(Cell::get);
    if support.make_function.is_null() {
        return Err(error::throw_type_error(env, "heron's binding must be loaded through its index.js"));
    }
    let name = func.index().map(|i| i.to_string()).unwrap_or_default();
    let id = func.id();
    let ty = func.ty().clone();
    let crosses_boundary = ty.params().iter().chain(ty.results()).all(|t| *t != ValType::V128);
    let params: String = ty.params().iter().map(|t| type_letter(*t)).collect();
    let results: String = ty.results().iter().map(|t| type_letter(*t)).collect();
    let signature = format!("{params}:{results}");
    let fast = !support.call_slots.is_null()
        && !signature.contains('x')
        && ty.params().len().max(ty.results().len()) <= CALL_SLOTS;
    let data = Box::into_raw(Box::new(ExportData {
        params: ty.params().into(),
        results: ty.results().into(),
        crosses_boundary,
        wrap_reference: Cell::new(ptr::null_mut()),
        func,
    }));
    // SAFETY: (whole block) N-API calls on the live env with pointers to locals. The JS
    // function made here owns `data`: its finalizer frees it.
    unsafe {
        let mut args = [ptr::null_mut(); 5];
        let native = if fast { support.fast_native } else { support.generic_native };
        sys::napi_get_reference_value(env, native, &mut args[0]);
        // Exact: user-space addresses have fewer than 53 bits.
        sys::napi_create_double(env, data as usize as f64, &mut args[1]);
        sys::napi_create_string_utf8(env, signature.as_ptr().cast(), signature.len() as isize, &mut args[2]);
        sys::napi_create_string_utf8(env, name.as_ptr().cast(), name.len() as isize, &mut args[3]);
        sys::napi_create_uint32(env, ty.params().len() as u32, &mut args[4]);
        let mut make_function = ptr::null_mut();
        sys::napi_get_reference_value(env, support.make_function, &mut make_function);
        let mut function = ptr::null_mut();
        let made =
            sys::napi_call_function(env, undefined(env), make_function, args.len(), args.as_ptr(), &mut function);
        // The wrap's weak reference doubles as the cache entry; `finalize_export` deletes it.
        let mut reference = ptr::null_mut();
        if made != sys::Status::napi_ok
            || sys::napi_wrap(env, function, data.cast(), Some(finalize_export), ptr::null_mut(), &mut reference)
                != sys::Status::napi_ok
        {
            drop(Box::from_raw(data));
            return Err(Pending);
        }
        (*data).wrap_reference.set(reference);
        sys::napi_type_tag_object(env, function, &EXPORT_TAG);
        FUNCTION_OBJECTS.with(|map| map.borrow_mut().insert(id, (reference, data.cast_const())));
        Ok(function)
    }
}

/// The wasm function behind `value` if it is a function made by `function_object`.
///
/// # Safety
/// `env` must be the current JS environment and `value` a live value of it.
pub(crate) unsafe fn exported_func(env: sys::napi_env, value: sys::napi_value) -> Option<Func> {
    // SAFETY: per this function's contract.
    unsafe { exported_data(env, value) }.map(|export| export.func.clone())
}

/// The `ExportData` of `value` if it is a function made by `function_object`; it lives as
/// long as `value`.
///
/// # Safety
/// `env` must be the current JS environment and `value` a live value of it.
unsafe fn exported_data<'a>(env: sys::napi_env, value: sys::napi_value) -> Option<&'a ExportData> {
    // SAFETY: per this function's contract; the unwrapped pointer is an ExportData because
    // only `function_object` tags objects with EXPORT_TAG, and it lives as long as `value`.
    unsafe {
        let mut tagged = false;
        sys::napi_check_object_type_tag(env, value, &EXPORT_TAG, &mut tagged);
        if !tagged {
            return None;
        }
        let mut data = ptr::null_mut();
        if sys::napi_unwrap(env, value, &mut data) != sys::Status::napi_ok {
            return None;
        }
        Some(&*data.cast::<ExportData>())
    }
}

/// Frees the `ExportData` of a collected exported function, deletes the weak reference its
/// wrap made, and forgets it in `FUNCTION_OBJECTS` unless a newer function has taken its
/// place.
///
/// # Safety
/// Called by N-API once per JS function made by `function_object`, with the pointer wrapped
/// into it.
unsafe extern "C" fn finalize_export(env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the Box leaked in `function_object`, freed exactly once. Nothing
    // can call the function any more. The wrap's reference may be deleted only here, by
    // N-API's rules, and only this finalizer deletes it.
    unsafe {
        let export = Box::from_raw(data.cast::<ExportData>());
        let id = export.func.id();
        FUNCTION_OBJECTS.with(|map| {
            let mut map = map.borrow_mut();
            if map.get(&id).is_some_and(|(_, owner)| *owner == data.cast_const().cast()) {
                map.remove(&id);
            }
        });
        sys::napi_delete_reference(env, export.wrap_reference.get());
    }
}

/// The native function behind exported functions on the fast path: the JS function has
/// written the converted arguments and its `ExportData` address to the thread's call slots;
/// the results go back there.
///
/// # Safety
/// Called by N-API only, from the JS functions `makeExportFunction` made for fast signatures
/// (nothing else can reach this function), on the thread that owns the call slots.
unsafe extern "C" fn call_export_fast(env: sys::napi_env, _info: sys::napi_callback_info) -> sys::napi_value {
    let call_slots = EXPORT_SUPPORT.with(|support| support.get().call_slots);
    // SAFETY: the slots are this thread's, CALL_SLOTS + 1 slots long; the calling JS function
    // wrote its `ExportData` address after the argument slots, and it owns that data, so the
    // data is alive while it runs.
    let export = unsafe {
        let address = ptr::read_unaligned(call_slots.add(CALL_SLOTS * SLOT_BYTES).cast::<f64>());
        &*(address as usize as *const ExportData)
    };
    let (params, results) = (export.params.len(), export.results.len());
    let mut slots = [ValRaw::default(); CALL_SLOTS];
    // SAFETY: the call slots hold `CALL_SLOTS` values and belong to this thread; the JS
    // wrapper has just written the arguments there. They are copied out before wasm runs,
    // since a nested call would overwrite them.
    unsafe { ptr::copy_nonoverlapping(call_slots, slots.as_mut_ptr().cast::<u8>(), params * SLOT_BYTES) };
    let outcome = {
        let _entry = WasmEntry::enter(env);
        // SAFETY: the slots hold one value of each parameter's type, and room for the results.
        unsafe { export.func.call_raw(&mut slots[..params.max(results).max(1)]) }
    };
    match outcome {
        // SAFETY: as above; the wrapper reads the results before anything else can run.
        Ok(()) => unsafe { ptr::copy_nonoverlapping(slots.as_ptr().cast::<u8>(), call_slots, results * SLOT_BYTES) },
        Err(error) => drop(error::throw(env, error)),
    }
    ptr::null_mut()
}

/// The native function behind exported functions off the fast path, called with the
/// exported function itself and then its arguments, which it converts natively.
///
/// # Safety
/// Called by N-API only.
unsafe extern "C" fn call_export(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // The first argument is the exported function itself, the others its arguments.
    let mut argc = INLINE_SLOTS + 1;
    let mut argv = [ptr::null_mut(); INLINE_SLOTS + 1];
    // SAFETY: N-API writes at most `argc` values into `argv`.
    unsafe { sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut()) };
    // SAFETY: `argv[0]` is a live value (undefined if missing); `exported_data` checks it.
    let Some(export) = (argc > 0).then(|| unsafe { exported_data(env, argv[0]) }).flatten() else {
        error::throw_type_error(env, "not a WebAssembly exported function");
        return ptr::null_mut();
    };
    let (argc, argv) = (argc - 1, &argv[1..]);
    if !export.crosses_boundary {
        error::throw_type_error(env, "a function with v128 parameters or results cannot be called from JS");
        return ptr::null_mut();
    }
    let slots_needed = export.params.len().max(export.results.len()).max(1);
    let result = if slots_needed <= INLINE_SLOTS && argc <= INLINE_SLOTS {
        let mut slots = [ValRaw::default(); INLINE_SLOTS];
        // SAFETY: `argv` holds `argc` live values (N-API reports the full count).
        unsafe { call_with(env, export, &argv[..argc.min(INLINE_SLOTS)], &mut slots[..slots_needed]) }
    } else {
        let mut all_args = vec![ptr::null_mut(); argc + 1];
        let mut count = argc + 1;
        // SAFETY: as above, with a vector of the full argument count.
        unsafe {
            sys::napi_get_cb_info(env, info, &mut count, all_args.as_mut_ptr(), ptr::null_mut(), ptr::null_mut())
        };
        let mut slots = vec![ValRaw::default(); slots_needed];
        // SAFETY: as above.
        unsafe { call_with(env, export, &all_args[1..], &mut slots) }
    };
    result.unwrap_or(ptr::null_mut())
}

/// Converts the arguments (missing ones are `undefined`), calls, converts the results.
/// # Safety
/// `env` must be the current JS environment, on its own thread, and every value passed a live value of it.
unsafe fn call_with(
    env: sys::napi_env,
    export: &ExportData,
    args: &[sys::napi_value],
    slots: &mut [ValRaw],
) -> Result<sys::napi_value, Pending> {
    // SAFETY: (whole body) `env` is the current env and `args` are its live values.
    unsafe {
        for (i, ty) in export.params.iter().enumerate() {
            let arg = match args.get(i) {
                Some(value) => *value,
                None => undefined(env),
            };
            to_wasm(env, arg, *ty, &mut slots[i])?;
        }
        let outcome = {
            let _entry = WasmEntry::enter(env);
            // SAFETY: the slots hold one converted value per parameter and room for the results.
            export.func.call_raw(slots)
        };
        outcome.map_err(|e| error::throw(env, e))?;
        match export.results.len() {
            0 => Ok(undefined(env)),
            1 => to_js(env, &slots[0], export.results[0]),
            n => {
                let mut array = ptr::null_mut();
                sys::napi_create_array_with_length(env, n, &mut array);
                for (i, ty) in export.results.iter().enumerate() {
                    let value = to_js(env, &slots[i], *ty)?;
                    sys::napi_set_element(env, array, i as u32, value);
                }
                Ok(array)
            }
        }
    }
}

/// # Safety
/// `env` must be the current JS environment, on its own thread, and every value passed a live value of it.
pub(crate) unsafe fn undefined(env: sys::napi_env) -> sys::napi_value {
    let mut value = ptr::null_mut();
    // SAFETY: the live env and a pointer to a local.
    unsafe { sys::napi_get_undefined(env, &mut value) };
    value
}
