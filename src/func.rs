//! The two hot paths across the JS boundary, in raw N-API:
//! - an exported wasm function is a JS function made by `napi_create_function` whose data
//!   pointer leads straight to the engine `Func` and its signature: no lookup, no lock, no
//!   allocation for up to `INLINE_SLOTS` values;
//! - a JS function imported by wasm becomes an engine host function that converts its
//!   arguments and calls the JS function with `napi_call_function`. If the JS function
//!   throws, the exception stays pending, the wasm frames unwind, and the outermost export
//!   returns with that very exception.

use crate::convert::{to_js, to_wasm};
use crate::error::{self, Pending};
use heron_engine::{Engine, Func, FuncType, HostError, ValRaw, ValType};
use napi::sys;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::c_void;
use std::ptr;

/// Calls with at most this many parameters or results use stack storage only.
const INLINE_SLOTS: usize = 8;

/// What an exported function's JS object points to.
struct ExportData {
    func: Func,
    params: Box<[ValType]>,
    results: Box<[ValType]>,
    /// False if a parameter or result is a `v128`: such functions throw a TypeError when
    /// called from JS, before running.
    crosses_boundary: bool,
}

/// Marks the function objects made by `function_object`, so that `exported_func` can tell
/// them from other wrapped objects before unwrapping.
static EXPORT_TAG: sys::napi_type_tag =
    sys::napi_type_tag { lower: 0x6865_726f_6e2d_6578, upper: 0x706f_7274_2d66_6e31 };

thread_local! {
    /// The JS function made for each wasm function on this thread, by `Func::id`, so the
    /// same function always reaches JS as the same object (the spec's Exported Function
    /// cache). Weak references: an entry goes when its function object is collected.
    static FUNCTION_OBJECTS: RefCell<HashMap<usize, (sys::napi_ref, *const ExportData)>> =
        RefCell::new(HashMap::new());
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
    let name = func.index().map(|i| i.to_string()).unwrap_or_default();
    let id = func.id();
    let ty = func.ty().clone();
    let crosses_boundary = ty.params().iter().chain(ty.results()).all(|t| *t != ValType::V128);
    let data = Box::into_raw(Box::new(ExportData {
        params: ty.params().into(),
        results: ty.results().into(),
        crosses_boundary,
        func,
    }));
    let mut function = ptr::null_mut();
    // SAFETY: `data` is a live heap allocation handed to the function object, which frees it
    // in `finalize_export` when the function is garbage collected.
    unsafe {
        let status = sys::napi_create_function(
            env,
            name.as_ptr().cast(),
            name.len() as isize,
            Some(call_export),
            data.cast(),
            &mut function,
        );
        if status != sys::Status::napi_ok
            || sys::napi_wrap(env, function, data.cast(), Some(finalize_export), ptr::null_mut(), ptr::null_mut())
                != sys::Status::napi_ok
        {
            drop(Box::from_raw(data));
            return Err(Pending);
        }
        sys::napi_type_tag_object(env, function, &EXPORT_TAG);
        let mut length = ptr::null_mut();
        sys::napi_create_uint32(env, ty.params().len() as u32, &mut length);
        let property = sys::napi_property_descriptor {
            utf8name: c"length".as_ptr(),
            name: ptr::null_mut(),
            method: None,
            getter: None,
            setter: None,
            value: length,
            attributes: sys::PropertyAttributes::configurable,
            data: ptr::null_mut(),
        };
        sys::napi_define_properties(env, function, 1, &property);
        let mut reference = ptr::null_mut();
        sys::napi_create_reference(env, function, 0, &mut reference);
        let replaced = FUNCTION_OBJECTS.with(|map| map.borrow_mut().insert(id, (reference, data.cast_const())));
        if let Some((stale, _)) = replaced {
            sys::napi_delete_reference(env, stale);
        }
    }
    Ok(function)
}

/// The wasm function behind `value` if it is a function made by `function_object`.
///
/// # Safety
/// `env` must be the current JS environment and `value` a live value of it.
pub(crate) unsafe fn exported_func(env: sys::napi_env, value: sys::napi_value) -> Option<Func> {
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
        Some((*data.cast::<ExportData>()).func.clone())
    }
}

/// # Safety
/// Called by N-API once, with the data pointer given in `function_object`.
unsafe extern "C" fn finalize_export(env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the Box leaked in `function_object`, finalized exactly once. The cache
    // entry is removed only if it still belongs to this function object (a newer object for
    // the same wasm function may have replaced it after this one was collected).
    unsafe {
        let export = Box::from_raw(data.cast::<ExportData>());
        let id = export.func.id();
        let entry = FUNCTION_OBJECTS.with(|map| {
            let mut map = map.borrow_mut();
            match map.get(&id) {
                Some((_, owner)) if *owner == data.cast_const().cast() => map.remove(&id),
                _ => None,
            }
        });
        if let Some((reference, _)) = entry {
            sys::napi_delete_reference(env, reference);
        }
    }
}

/// The body of every exported function.
///
/// # Safety
/// Called by N-API only, for functions made by `function_object`.
unsafe extern "C" fn call_export(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let mut argc = INLINE_SLOTS;
    let mut argv = [ptr::null_mut(); INLINE_SLOTS];
    let mut data = ptr::null_mut();
    // SAFETY: N-API writes at most `argc` values into `argv` and the data pointer.
    unsafe { sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), &mut data) };
    // Exported functions are not constructors. (N-API functions always have [[Construct]],
    // so `new f()` is refused here rather than by the engine as V8 does.)
    let mut new_target = ptr::null_mut();
    // SAFETY: reads the callback's new.target into a local.
    unsafe { sys::napi_get_new_target(env, info, &mut new_target) };
    if !new_target.is_null() {
        error::throw_type_error(env, "WebAssembly exported functions are not constructors");
        return ptr::null_mut();
    }
    // SAFETY: the data pointer of these functions is always their live ExportData.
    let export = unsafe { &*data.cast::<ExportData>() };
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
        let mut all_args = vec![ptr::null_mut(); argc];
        let mut count = argc;
        // SAFETY: as above, with a vector of the full argument count.
        unsafe {
            sys::napi_get_cb_info(env, info, &mut count, all_args.as_mut_ptr(), ptr::null_mut(), ptr::null_mut())
        };
        let mut slots = vec![ValRaw::default(); slots_needed];
        // SAFETY: as above.
        unsafe { call_with(env, export, &all_args, &mut slots) }
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
unsafe fn undefined(env: sys::napi_env) -> sys::napi_value {
    let mut value = ptr::null_mut();
    // SAFETY: the live env and a pointer to a local.
    unsafe { sys::napi_get_undefined(env, &mut value) };
    value
}

/// A JS function held for wasm to call. Dropped with the engine's host function.
struct JsCallee {
    env: sys::napi_env,
    function: sys::napi_ref,
}

impl Drop for JsCallee {
    fn drop(&mut self) {
        // SAFETY: the reference was created on `env`, on this thread, and is deleted once.
        unsafe { sys::napi_delete_reference(self.env, self.function) };
    }
}

/// Wraps the JS function `function` as an engine host function of type `ty`.
pub(crate) fn host_function(
    env: sys::napi_env,
    engine: &Engine,
    function: sys::napi_value,
    ty: FuncType,
) -> Result<Func, Pending> {
    let mut reference = ptr::null_mut();
    // SAFETY: a strong reference to a live function of this env.
    if unsafe { sys::napi_create_reference(env, function, 1, &mut reference) } != sys::Status::napi_ok {
        return Err(Pending);
    }
    let callee = JsCallee { env, function: reference };
    let params: Box<[ValType]> = ty.params().into();
    let results: Box<[ValType]> = ty.results().into();
    Ok(Func::new_raw(engine, ty, move |slots| {
        // SAFETY: wasm calls imports only on the thread running it, inside a JS call on
        // `callee.env`, so the env and reference are valid here.
        unsafe { call_js(&callee, &params, &results, slots) }.map_err(|Pending| HostError::opaque())
    }))
}

/// Import calls made under one entry into wasm share a handle scope, closed and reopened
/// every `IMPORT_SCOPE_BATCH` calls and when the entry returns: opening an N-API handle
/// scope allocates, which was the largest avoidable cost of a call from wasm to JS.
const IMPORT_SCOPE_BATCH: u32 = 256;

/// This thread's nesting of entries into wasm and the shared scopes of those that have made
/// import calls.
struct ImportScopes {
    /// How many `WasmEntry`s are active.
    depth: Cell<u32>,
    /// The depth of the innermost entry with a shared scope (0: none).
    top_depth: Cell<u32>,
    /// (entry depth, shared scope, calls made in it), innermost last.
    frames: RefCell<Vec<(u32, sys::napi_handle_scope, u32)>>,
}

thread_local! {
    static IMPORT_SCOPES: ImportScopes = const {
        ImportScopes { depth: Cell::new(0), top_depth: Cell::new(0), frames: RefCell::new(Vec::new()) }
    };
}

/// Marks a native call that runs wasm code (an export call, an instantiation running a start
/// function). Import calls inside it share handle scopes; dropping it closes the last one,
/// so it must be dropped before the native call creates any handle it returns to JS.
/// Entering costs one thread-local access: export calls that make no import call do nothing
/// else.
pub(crate) struct WasmEntry {
    env: sys::napi_env,
    /// This thread's `IMPORT_SCOPES` (the guard is not `Send`, so it stays on the thread).
    scopes: *const ImportScopes,
}

impl WasmEntry {
    pub(crate) fn enter(env: sys::napi_env) -> WasmEntry {
        let scopes = IMPORT_SCOPES.with(|scopes| {
            scopes.depth.set(scopes.depth.get() + 1);
            scopes as *const ImportScopes
        });
        WasmEntry { env, scopes }
    }
}

impl Drop for WasmEntry {
    fn drop(&mut self) {
        // SAFETY: a thread-local of this thread, which outlives the guard.
        let scopes = unsafe { &*self.scopes };
        let depth = scopes.depth.get();
        if scopes.top_depth.get() == depth {
            let mut frames = scopes.frames.borrow_mut();
            if let Some((_, scope, _)) = frames.pop() {
                // SAFETY: the scope was opened on this env by an import call of this entry,
                // and every scope opened after it has been closed (nested entries close
                // theirs first).
                unsafe { sys::napi_close_handle_scope(self.env, scope) };
            }
            scopes.top_depth.set(frames.last().map_or(0, |frame| frame.0));
        }
        scopes.depth.set(depth - 1);
    }
}

/// Makes sure handles created by an import call now live in a scope that is closed soon:
/// the innermost entry's shared scope, or else (an entry this module did not mark) a scope
/// of its own, returned for the caller to close.
///
/// # Safety
/// `env` must be the current JS environment, with no scope opened since the entry's shared
/// scope still open (true between import calls: each leaves nothing open).
unsafe fn import_scope(env: sys::napi_env) -> Option<sys::napi_handle_scope> {
    IMPORT_SCOPES.with(|scopes| {
        let depth = scopes.depth.get();
        let mut own = ptr::null_mut();
        // SAFETY: per this function's contract.
        unsafe {
            if depth == 0 {
                sys::napi_open_handle_scope(env, &mut own);
                return Some(own);
            }
            let mut frames = scopes.frames.borrow_mut();
            match frames.last_mut() {
                Some((frame_depth, scope, calls)) if *frame_depth == depth => {
                    if *calls >= IMPORT_SCOPE_BATCH {
                        sys::napi_close_handle_scope(env, *scope);
                        sys::napi_open_handle_scope(env, scope);
                        *calls = 0;
                    }
                    *calls += 1;
                }
                _ => {
                    sys::napi_open_handle_scope(env, &mut own);
                    frames.push((depth, own, 1));
                    scopes.top_depth.set(depth);
                }
            }
        }
        None
    })
}

/// # Safety
/// `env` must be the current JS environment, on its own thread, and every value passed a live value of it.
unsafe fn call_js(
    callee: &JsCallee,
    params: &[ValType],
    results: &[ValType],
    slots: &mut [ValRaw],
) -> Result<(), Pending> {
    let env = callee.env;
    // SAFETY: (whole body) see `host_function`; values created here live in the scope
    // `import_scope` provides, and need not outlive this call.
    unsafe {
        let own_scope = import_scope(env);
        let outcome = (|| {
            let mut argv = [ptr::null_mut(); INLINE_SLOTS];
            let mut heap_argv = Vec::new();
            let argv: &mut [sys::napi_value] = if params.len() <= INLINE_SLOTS {
                &mut argv[..params.len()]
            } else {
                heap_argv.resize(params.len(), ptr::null_mut());
                &mut heap_argv
            };
            for (i, ty) in params.iter().enumerate() {
                argv[i] = to_js(env, &slots[i], *ty)?;
            }
            let mut function = ptr::null_mut();
            sys::napi_get_reference_value(env, callee.function, &mut function);
            let receiver = undefined(env);
            let mut returned = ptr::null_mut();
            let status = sys::napi_call_function(env, receiver, function, argv.len(), argv.as_ptr(), &mut returned);
            if status != sys::Status::napi_ok {
                return Err(Pending);
            }
            match results.len() {
                0 => Ok(()),
                1 => {
                    to_wasm(env, returned, results[0], &mut slots[0])?;
                    Ok(())
                }
                n => read_results(env, returned, results, &mut slots[..n]),
            }
        })();
        if let Some(scope) = own_scope {
            sys::napi_close_handle_scope(env, scope);
        }
        outcome
    }
}

/// Several results come back as an iterable (IterableToList), whose length must match.
/// # Safety
/// `env` must be the current JS environment, on its own thread, and every value passed a live value of it.
unsafe fn read_results(
    env: sys::napi_env,
    returned: sys::napi_value,
    results: &[ValType],
    slots: &mut [ValRaw],
) -> Result<(), Pending> {
    // SAFETY: see `call_js`.
    unsafe {
        let mut global = ptr::null_mut();
        sys::napi_get_global(env, &mut global);
        let mut array_class = ptr::null_mut();
        sys::napi_get_named_property(env, global, c"Array".as_ptr(), &mut array_class);
        let mut from = ptr::null_mut();
        sys::napi_get_named_property(env, array_class, c"from".as_ptr(), &mut from);
        let mut list = ptr::null_mut();
        if sys::napi_call_function(env, array_class, from, 1, &returned, &mut list) != sys::Status::napi_ok {
            return Err(Pending);
        }
        let mut length = 0u32;
        sys::napi_get_array_length(env, list, &mut length);
        if length as usize != results.len() {
            return Err(error::throw_type_error(env, "the import returned the wrong number of results"));
        }
        for (i, ty) in results.iter().enumerate() {
            let mut element = ptr::null_mut();
            sys::napi_get_element(env, list, i as u32, &mut element);
            to_wasm(env, element, *ty, &mut slots[i])?;
        }
        Ok(())
    }
}
