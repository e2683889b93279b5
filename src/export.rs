//! Exported wasm functions as JS functions. An exported function is a small JS arrow
//! function made by `index.js` (`makeExportFunction`) that calls one of two native
//! functions shared by all exports of the thread:
//! - when every parameter and result is a number (i32, i64, f32, f64) and there are at most
//!   `slots::SLOT_COUNT` of each, the arrow converts the arguments itself (`x | 0`, `+x`,
//!   `BigInt.asIntN(64, x)`: exactly ToWebAssemblyValue, and inlined by V8's JIT), stores
//!   them and the function's index in this thread's export table into the call slots
//!   (`slots.rs`: memory shared with JS through typed arrays), calls `call_export_fast`
//!   without arguments and reads the results back from the slots: the call makes no N-API
//!   call at all;
//! - other signatures pass the arrow itself and the JS values to `call_export`, which
//!   unwraps the arrow (checking its type tag) and converts natively.
//!
//! The native functions are reachable only from inside those arrows, but JS code may still
//! reach the call slots (a debugger can), so `call_export_fast` trusts nothing it reads
//! there: the index is bounds-checked against the export table and must name a live entry
//! (else a TypeError), the table holds only functions of numeric signatures (for which any
//! bits are valid arguments), and the call holds its own `Rc` of the entry, so not even a
//! collection during the call can free what it uses.
//!
//! The function JS sees is an arrow function, so like V8's exported functions it is not a
//! constructor. Each function object is cached per wasm function (the spec's Exported
//! Function cache). The registration is per thread and the first one wins: `index.js` may
//! be evaluated more than once on a thread (module registries of test runners), and every
//! exported function must write where the native side reads.

use crate::convert::{to_js, to_wasm};
use crate::error::{self, Pending};
use crate::id_hash::IdMap;
use crate::napi_raw::{Env, Reference, Value};
use crate::scope::WasmEntry;
use crate::slots::{CallSlots, SLOT_COUNT};
use heron_engine::{Func, ValRaw, ValType};
use napi::bindgen_prelude::Unknown;
use napi::sys;
use napi_derive::napi;
use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::ptr;
use std::rc::Rc;

/// Calls with at most this many parameters or results use stack storage only.
pub(crate) const INLINE_SLOTS: usize = 8;

/// What an exported function's JS function holds (through `napi_wrap`; its finalizer drops
/// it), shared with the export table for fast-path functions.
struct ExportData {
    func: Func,
    params: Box<[ValType]>,
    results: Box<[ValType]>,
    /// False if a parameter or result is a `v128`: such functions throw a TypeError when
    /// called from JS, before running.
    crosses_boundary: bool,
    /// The function's entry in the export table, for fast-path functions.
    table_index: Option<u32>,
    /// The weak reference `napi_wrap` made to the JS function, deleted in its finalizer.
    wrap_reference: Cell<Option<Reference>>,
}

/// Marks the function objects made by `function_object`, so that `exported_func` can tell
/// them from other wrapped objects before unwrapping.
static EXPORT_TAG: sys::napi_type_tag =
    sys::napi_type_tag { lower: 0x6865_726f_6e2d_6578, upper: 0x706f_7274_2d66_6e31 };

/// What the thread's first `setExportSupport` registered (strong references, kept for the
/// env's lifetime).
#[derive(Clone, Copy)]
struct Registration {
    /// `makeExportFunction(native, index, signature, name, length)` from `index.js`.
    make_function: Reference,
    /// The layout object handed to `index.js`, if the fast path is on.
    layout: Option<Reference>,
    /// The native functions behind every exported function.
    fast_native: Reference,
    generic_native: Reference,
}

/// The fast-path functions of this thread, by the index their JS functions write into the
/// call slots. Freed entries are `None` (and their index reused): an index read from the
/// slots reaches a live function of a numeric signature or nothing.
struct ExportTable {
    entries: Vec<Option<Rc<ExportData>>>,
    free: Vec<u32>,
}

impl ExportTable {
    /// A new index, empty until `fill`ed.
    fn reserve(&mut self) -> u32 {
        self.free.pop().unwrap_or_else(|| {
            self.entries.push(None);
            u32::try_from(self.entries.len() - 1).expect("fewer than 2^32 live exported functions")
        })
    }

    fn fill(&mut self, index: u32, export: Rc<ExportData>) {
        self.entries[index as usize] = Some(export);
    }

    /// Empties entry `index` for reuse and gives back what it held.
    fn release(&mut self, index: u32) -> Option<Rc<ExportData>> {
        let export = self.entries[index as usize].take();
        self.free.push(index);
        export
    }

    #[inline(always)]
    fn get(&self, index: u32) -> Option<Rc<ExportData>> {
        self.entries.get(index as usize)?.clone()
    }
}

struct ThreadExports {
    registration: Cell<Option<Registration>>,
    /// The call slots, if the fast path is on.
    slots: Cell<Option<&'static CallSlots>>,
    table: RefCell<ExportTable>,
}

thread_local! {
    static EXPORTS: ThreadExports = const {
        ThreadExports {
            registration: Cell::new(None),
            slots: Cell::new(None),
            table: RefCell::new(ExportTable { entries: Vec::new(), free: Vec::new() }),
        }
    };
    /// The JS function made for each wasm function on this thread, by `Func::id`, so the
    /// same function always reaches JS as the same object (the spec's Exported Function
    /// cache). Weak references: an entry goes when its function object is collected.
    static FUNCTION_OBJECTS: RefCell<IdMap<usize, (Reference, *const ExportData)>> =
        RefCell::new(IdMap::default());
}

/// Registers what `index.js` provides for exported functions on this thread: the function
/// that makes them (see the module comment), and whether calls of numeric signatures may
/// take the fast path (not if `index.js` cannot compile source text). Returns the call
/// slots' layout object (`slots.rs`), or null if the fast path is off: those of the first
/// registration on the thread, which every later one shares.
#[napi(
    ts_args_type = "makeFunction: (native: Function, index: number | null, signature: string, name: string, length: number) => Function, fastPath: boolean",
    ts_return_type = "{ buffer: ArrayBuffer, slotCount: number, slotBytes: number, indexOffset: number } | null"
)]
pub fn set_export_support<'env>(
    env: &'env napi::Env,
    make_function: Unknown<'env>,
    fast_path: bool,
) -> napi::Result<Unknown<'env>> {
    let env = Env::of(env);
    let registration = match EXPORTS.with(|exports| exports.registration.get()) {
        Some(registration) => registration,
        None => {
            let failed = || napi::Error::from_reason("cannot set up exported functions");
            let slots = fast_path.then(CallSlots::leak);
            let layout = match slots {
                Some(slots) => Some(env.reference(slots.layout_object(env)?, 1).ok_or_else(failed)?),
                None => None,
            };
            let native = |name, callback| env.function(name, callback).and_then(|f| env.reference(f, 1));
            let registration = Registration {
                make_function: env.reference(Value::of(&make_function), 1).ok_or_else(failed)?,
                layout,
                fast_native: native(c"callExportFast", call_export_fast).ok_or_else(failed)?,
                generic_native: native(c"callExport", call_export).ok_or_else(failed)?,
            };
            EXPORTS.with(|exports| {
                exports.registration.set(Some(registration));
                exports.slots.set(slots);
            });
            registration
        }
    };
    let layout = registration.layout.and_then(|layout| env.reference_value(layout));
    Ok(env.to_unknown(layout.unwrap_or_else(|| env.null())))
}

/// This thread's call slots, if `setExportSupport` turned the fast path on.
pub(crate) fn call_slots() -> Option<&'static CallSlots> {
    EXPORTS.with(|exports| exports.slots.get())
}

/// One letter per value type, for `makeExportFunction`: the numbers the fast path carries,
/// and `x` for anything that must be converted natively.
pub(crate) fn type_letter(ty: ValType) -> char {
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
    // SAFETY: called by native calls of this binding with their env.
    let env = unsafe { Env::from_raw(env) };
    let known = FUNCTION_OBJECTS.with(|map| map.borrow().get(&func.id()).map(|(reference, _)| *reference));
    if let Some(function) = known.and_then(|reference| env.reference_value(reference)) {
        return Ok(function.0);
    }
    let Some(registration) = EXPORTS.with(|exports| exports.registration.get()) else {
        return Err(error::throw_type_error(env.raw(), "heron's binding must be loaded through its index.js"));
    };
    let name = func.index().map(|i| i.to_string()).unwrap_or_default();
    let id = func.id();
    let ty = func.ty();
    let crosses_boundary = ty.params().iter().chain(ty.results()).all(|t| *t != ValType::V128);
    let param_letters: String = ty.params().iter().map(|t| type_letter(*t)).collect();
    let result_letters: String = ty.results().iter().map(|t| type_letter(*t)).collect();
    let signature = format!("{param_letters}:{result_letters}");
    let fast = registration.layout.is_some()
        && !signature.contains('x')
        && ty.params().len().max(ty.results().len()) <= SLOT_COUNT;
    let (params, results): (Box<[ValType]>, Box<[ValType]>) = (ty.params().into(), ty.results().into());
    let table_index = fast.then(|| EXPORTS.with(|exports| exports.table.borrow_mut().reserve()));
    let export =
        Rc::new(ExportData { params, results, crosses_boundary, table_index, wrap_reference: Cell::new(None), func });
    let made = make_function(env, registration, &export, &signature, &name);
    match made {
        Ok(function) => {
            if let Some(index) = table_index {
                EXPORTS.with(|exports| exports.table.borrow_mut().fill(index, export.clone()));
            }
            let reference = export.wrap_reference.get().expect("set by make_function");
            FUNCTION_OBJECTS.with(|map| map.borrow_mut().insert(id, (reference, Rc::as_ptr(&export))));
            Ok(function.0)
        }
        Err(pending) => {
            if let Some(index) = table_index {
                EXPORTS.with(|exports| exports.table.borrow_mut().release(index));
            }
            Err(pending)
        }
    }
}

/// Calls `makeExportFunction` and wraps a counted `export` into the function it returns.
fn make_function(
    env: Env,
    registration: Registration,
    export: &Rc<ExportData>,
    signature: &str,
    name: &str,
) -> Result<Value, Pending> {
    let native = if export.table_index.is_some() { registration.fast_native } else { registration.generic_native };
    let args = [
        env.reference_value(native).ok_or(Pending)?,
        export.table_index.map_or_else(|| env.null(), |index| env.uint32(index)),
        env.string(signature),
        env.string(name),
        env.uint32(export.params.len() as u32),
    ];
    let make = env.reference_value(registration.make_function).ok_or(Pending)?;
    let function = env.call(env.undefined(), make, &args)?;
    let data = Rc::into_raw(export.clone()).cast_mut().cast::<c_void>();
    // SAFETY: `finalize_export` takes back this count of the `Rc` exactly once.
    // The wrap's weak reference doubles as the cache entry; `finalize_export` deletes it.
    let Some(reference) = (unsafe { env.wrap(function, data, finalize_export) }) else {
        // SAFETY: not handed to N-API after all, so this count is still ours.
        drop(unsafe { Rc::from_raw(data.cast::<ExportData>()) });
        return Err(Pending);
    };
    export.wrap_reference.set(Some(reference));
    env.type_tag(function, &EXPORT_TAG);
    Ok(function)
}

/// The wasm function behind `value` if it is a function made by `function_object`.
///
/// # Safety
/// `env` must be the current JS environment and `value` a live value of it.
pub(crate) unsafe fn exported_func(env: sys::napi_env, value: sys::napi_value) -> Option<Func> {
    // SAFETY: per this function's contract.
    unsafe { exported_data(Env::from_raw(env), Value(value)) }.map(|export| export.func.clone())
}

/// The `ExportData` of `value` if it is a function made by `function_object`; it lives as
/// long as `value`.
///
/// # Safety
/// `value` must stay alive as long as the returned reference is used.
unsafe fn exported_data<'a>(env: Env, value: Value) -> Option<&'a ExportData> {
    if !env.has_type_tag(value, &EXPORT_TAG) {
        return None;
    }
    let data = env.unwrap(value)?;
    // SAFETY: only `function_object` tags objects with EXPORT_TAG, and it wraps an `Rc`'s
    // `ExportData` into them, which their finalizer drops: alive as long as `value`.
    Some(unsafe { &*data.cast::<ExportData>() })
}

/// Drops the `ExportData` count of a collected exported function, deletes the weak
/// reference its wrap made, empties its export table entry, and forgets it in
/// `FUNCTION_OBJECTS` unless a newer function has taken its place.
///
/// # Safety
/// Called by N-API once per JS function made by `function_object`, with the pointer wrapped
/// into it.
unsafe extern "C" fn finalize_export(env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the `Rc` count leaked in `make_function`, taken back exactly once.
    let export = unsafe { Rc::from_raw(data.cast::<ExportData>()) };
    let id = export.func.id();
    // `try_with`: at thread exit the thread-locals may be gone already (nothing to forget).
    let _ = FUNCTION_OBJECTS.try_with(|map| {
        let mut map = map.borrow_mut();
        if map.get(&id).is_some_and(|(_, owner)| *owner == Rc::as_ptr(&export)) {
            map.remove(&id);
        }
    });
    if let Some(index) = export.table_index {
        // Dropped after the borrow ends.
        let _entry = EXPORTS.try_with(|exports| exports.table.borrow_mut().release(index));
    }
    if let Some(reference) = export.wrap_reference.get() {
        // SAFETY: N-API calls finalizers with the env of the function; the wrap's reference
        // may be deleted only here, by N-API's rules, and only this finalizer deletes it.
        unsafe { Env::from_raw(env).delete_reference(reference) };
    }
}

/// The native function behind exported functions on the fast path: the JS function has
/// written the converted arguments and its index in the export table to the thread's call
/// slots; the results go back there. Whatever the slots hold, the index is checked: an
/// index naming no live function gives a TypeError.
///
/// # Safety
/// Called by N-API only.
unsafe extern "C" fn call_export_fast(env: sys::napi_env, _info: sys::napi_callback_info) -> sys::napi_value {
    let found = EXPORTS.with(|exports| {
        let slots = exports.slots.get()?;
        let export = exports.table.borrow().get(slots.function_index())?;
        Some((slots, export))
    });
    let Some((slots, export)) = found else {
        error::throw_type_error(env, "not a heron exported function: the call slots name no live function");
        return ptr::null_mut();
    };
    // Most signatures need few slots: the local copy is made (zeroed) only as large as needed.
    if export.params.len().max(export.results.len()) <= FEW_SLOTS {
        call_on_slots::<FEW_SLOTS>(env, slots, &export);
    } else {
        call_on_slots::<SLOT_COUNT>(env, slots, &export);
    }
    ptr::null_mut()
}

/// Signatures with at most this many parameters and results use a smaller local copy of
/// the call slots.
const FEW_SLOTS: usize = 4;

/// `call_export_fast`'s call, with a local copy of `N` slots (at least the function's
/// max(params, results)).
#[inline(always)]
fn call_on_slots<const N: usize>(env: sys::napi_env, slots: &CallSlots, export: &ExportData) {
    let (params, results) = (export.params.len(), export.results.len());
    let mut values = [ValRaw::default(); N];
    // Copied out before wasm runs, since a nested call would overwrite them.
    slots.read_values(&mut values[..params], &export.params);
    let outcome = {
        let _entry = WasmEntry::enter(env);
        // SAFETY: the table holds only functions whose parameters and results are numbers,
        // at most N of each (the caller checked): any bits are a valid value of each
        // parameter's type, and there is room for the results.
        unsafe { export.func.call_raw(&mut values[..params.max(results).max(1)]) }
    };
    match outcome {
        Ok(()) => slots.write_values(&values[..results], &export.results),
        Err(error) => drop(error::throw_from_wasm(env, error)),
    }
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
    // SAFETY: N-API calls this with the env of the call; `argv[0]` is a live argument (or
    // undefined), alive for the whole call.
    let Some(export) = (argc > 0).then(|| unsafe { exported_data(Env::from_raw(env), Value(argv[0])) }).flatten()
    else {
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
    // SAFETY: per this function's contract.
    let token = unsafe { Env::from_raw(env) };
    for (i, ty) in export.params.iter().enumerate() {
        let arg = args.get(i).copied().unwrap_or_else(|| token.undefined().0);
        // SAFETY: a live value of the current env.
        unsafe { to_wasm(env, arg, *ty, &mut slots[i]) }?;
    }
    let outcome = {
        let _entry = WasmEntry::enter(env);
        // SAFETY: the slots hold one converted value per parameter and room for the results.
        unsafe { export.func.call_raw(slots) }
    };
    outcome.map_err(|e| error::throw_from_wasm(env, e))?;
    match export.results.len() {
        0 => Ok(token.undefined().0),
        // SAFETY: the current env.
        1 => unsafe { to_js(env, &slots[0], export.results[0]) },
        n => {
            let array = token.array(n);
            for (i, ty) in export.results.iter().enumerate() {
                // SAFETY: the current env.
                let value = unsafe { to_js(env, &slots[i], *ty) }?;
                token.set_element(array, i as u32, Value(value))?;
            }
            Ok(array.0)
        }
    }
}
