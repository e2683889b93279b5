//! The builtins: Rust functions compiled code calls, with the host's calling convention,
//! through the table `builtins_table()` (declared by `environ/builtins.rs`'s list, reached
//! through every context's `builtins` field). None may unwind: a panic across `extern "C"`
//! aborts the process.

use crate::environ::builtins::{foreach_builtin, NUM_BUILTINS};
use crate::environ::error::HostError;
use crate::environ::exception::Exception;
use crate::environ::val_raw::ValRaw;
use crate::environ::vmctx::{VMContextHeader, VMException, VMFuncRef, VMMemoryDefinition};
use crate::func::HostFunc;
use crate::runtime::instance::InstanceInner;
use crate::runtime::shared_memory::Width;
use crate::runtime::throw::heron_throw as throw;

/// The instance whose compiled code called a libcall with its own `vmctx`.
fn instance_of<'a>(vmctx: *mut VMContextHeader) -> &'a InstanceInner {
    // SAFETY: libcalls taking a vmctx are called only by compiled code, with its own vmctx,
    // whose owner is the live instance running it for the whole call.
    unsafe { &*(*vmctx).owner.cast::<InstanceInner>() }
}

/// `memory.grow`: returns the old size in pages, or -1 (as u32) if the memory cannot grow.
extern "C" fn memory_grow(vmctx: *mut VMContextHeader, memory_index: u32, delta: u32) -> u32 {
    let instance = instance_of(vmctx);
    match instance.memory(memory_index).grow(u64::from(delta)) {
        Ok(old) => old as u32,
        Err(_) => u32::MAX,
    }
}

/// `memory.atomic.wait32` at byte `offset` (in bounds and aligned: compiled code checked):
/// 0 woken, 1 not equal, 2 timed out, or -1 (as u32) if the memory is not shared.
extern "C" fn memory_atomic_wait32(
    vmctx: *mut VMContextHeader,
    memory_index: u32,
    offset: u64,
    expected: u32,
    timeout_ns: u64,
) -> u32 {
    let memory = instance_of(vmctx).memory(memory_index);
    match memory.shared() {
        Some(shared) => shared.wait(offset, u64::from(expected), Width::Four, timeout_ns as i64),
        None => u32::MAX,
    }
}

/// `memory.atomic.wait64`: as `memory_atomic_wait32` with a 64-bit expected value.
extern "C" fn memory_atomic_wait64(
    vmctx: *mut VMContextHeader,
    memory_index: u32,
    offset: u64,
    expected: u64,
    timeout_ns: u64,
) -> u32 {
    let memory = instance_of(vmctx).memory(memory_index);
    match memory.shared() {
        Some(shared) => shared.wait(offset, expected, Width::Eight, timeout_ns as i64),
        None => u32::MAX,
    }
}

/// `memory.atomic.notify` at byte `offset` (in bounds and aligned): the number of waiters
/// woken; always 0 on an unshared memory, which nobody can wait on.
extern "C" fn memory_atomic_notify(vmctx: *mut VMContextHeader, memory_index: u32, offset: u64, count: u32) -> u32 {
    let memory = instance_of(vmctx).memory(memory_index);
    memory.shared().map_or(0, |shared| shared.notify(offset, count))
}

/// The code of the function `func_ref` describes, whose `wasm_call` is null: compiles it
/// (or waits for the thread compiling it), and stores it in `func_ref` so later calls
/// through it go straight to the code. Null if the function failed to compile.
///
/// # Safety
/// `func_ref` must point to a live `VMFuncRef` of a function an instance defines (or a copy
/// of one in an importer's vmctx), whose instance outlives the call.
pub(crate) unsafe fn resolve(func_ref: *mut VMFuncRef) -> *const u8 {
    // SAFETY: as the caller guarantees; only a function an instance defines has a null
    // `wasm_call`, so `vmctx` is that instance's context and its owner the instance.
    let (instance, index) = unsafe {
        let vmctx = (*func_ref).vmctx;
        (&*(*vmctx).owner.cast::<InstanceInner>(), (*func_ref).func_index)
    };
    let code = instance.code_of(index).unwrap_or(0) as *mut u8;
    if !code.is_null() {
        // SAFETY: the live `func_ref` of the function whose code `code` is. Another thread
        // may store optimized code there meanwhile; either is a valid entry.
        unsafe { VMFuncRef::store_wasm_call(func_ref, code) };
    }
    code
}

/// `resolve` for compiled code, which calls it before calling through a `VMFuncRef` whose
/// `wasm_call` is null; it traps if this returns null.
extern "C" fn resolve_func_ref(func_ref: *mut VMFuncRef) -> *const u8 {
    // SAFETY: compiled code passes a `VMFuncRef` of its own vmctx or a non-null table
    // element, both live while it runs; resolving catches compiler panics itself.
    unsafe { resolve(func_ref) }
}

/// Calls a host function: `vmctx` is its `HostFunc` context, `values` holds the arguments
/// and receives the results. Returns null, or if the host failed the exception the
/// trampoline throws: the wasm exception the host passed on, or one carrying its error.
extern "C" fn host_call(vmctx: *mut VMContextHeader, values: *mut ValRaw) -> *mut VMException {
    // SAFETY: host-call trampolines are only installed with a HostFunc's own context.
    let host = unsafe { &*(*vmctx).owner.cast::<HostFunc>() };
    let len = host.slots();
    // SAFETY: the trampoline passes an array of max(params, results, 1) slots.
    let values = unsafe { std::slice::from_raw_parts_mut(values, len) };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| host.invoke(values)));
    let error = match outcome {
        Ok(Ok(())) => {
            host.retain_results(values);
            return std::ptr::null_mut();
        }
        Ok(Err(error)) => error,
        Err(_) => HostError::new("host function panicked"),
    };
    let exception = error.as_exception().unwrap_or_else(|| Exception::from_host_error(error));
    exception.as_raw() as *mut VMException
}

/// `throw`: a new exception of the instance's tag `tag`, for compiled code to fill in.
extern "C" fn new_exception(vmctx: *mut VMContextHeader, tag: u32) -> *mut VMException {
    let exception = Exception::allocate(instance_of(vmctx).tag(tag).clone());
    exception.as_raw() as *mut VMException
}

/// `table.grow`: returns the old size, or -1 (as u32) if the table cannot grow. Like every
/// store of compiled code, needs no bookkeeping for the reference (see `store.rs`).
extern "C" fn table_grow(vmctx: *mut VMContextHeader, table_index: u32, init: usize, delta: u32) -> u32 {
    let instance = instance_of(vmctx);
    match instance.table(table_index).grow_raw(u64::from(delta), init) {
        Ok(old) => old as u32,
        Err(_) => u32::MAX,
    }
}

/// The check of interruptible code found `epoch >= deadline`: returns the trap to raise (a
/// `Trap::Timeout` or `Trap::Interrupted`, as `u32`), or 0 for a false alarm.
extern "C" fn interrupt_check(vmctx: *mut VMContextHeader) -> u32 {
    crate::runtime::interrupts::check_instance(instance_of(vmctx))
}

/// `table.fill`: returns nonzero if the range is out of bounds (nothing is written then).
extern "C" fn table_fill(vmctx: *mut VMContextHeader, table_index: u32, start: u32, value: usize, len: u32) -> u32 {
    let instance = instance_of(vmctx);
    let table = instance.table(table_index);
    u32::from(table.fill_raw(u64::from(start), value, u64::from(len)).is_err())
}

/// `memory.copy`: copies `len` bytes from `src` in one memory to `dst` in another (or the
/// same, ranges possibly overlapping). Returns nonzero, copying nothing, if either range is
/// out of bounds. Takes the memories' definitions directly: this is what C's `memcpy` and
/// `memmove` compile to, so it stays short.
extern "C" fn memory_copy(
    dst_memory: *const VMMemoryDefinition,
    dst: u32,
    src_memory: *const VMMemoryDefinition,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: compiled code passes definition pointers loaded from its own vmctx; the
    // instance keeps those memories alive while its code runs.
    let (dst_memory, src_memory) = unsafe { (&*dst_memory, &*src_memory) };
    let (dst, src, len) = (dst as usize, src as usize, len as usize);
    // Each sum is below 2^33, so it cannot overflow a 64-bit usize.
    if dst + len > dst_memory.current_length || src + len > src_memory.current_length {
        return 1;
    }
    // SAFETY: both ranges lie inside the accessible part of their memories (checked above),
    // and `ptr::copy` allows them to overlap.
    unsafe { std::ptr::copy(src_memory.base.add(src), dst_memory.base.add(dst), len) };
    0
}

/// `memory.fill`: sets `len` bytes from `dst` to the low byte of `value`. Returns nonzero,
/// writing nothing, if the range is out of bounds.
extern "C" fn memory_fill(memory: *const VMMemoryDefinition, dst: u32, value: u32, len: u32) -> u32 {
    // SAFETY: as in `memory_copy`.
    let memory = unsafe { &*memory };
    let (dst, len) = (dst as usize, len as usize);
    if dst + len > memory.current_length {
        return 1;
    }
    // SAFETY: the range lies inside the accessible part of the memory (checked above).
    unsafe { std::ptr::write_bytes(memory.base.add(dst), value as u8, len) };
    0
}

/// `memory.init`: returns nonzero, writing nothing, if either range is out of bounds.
extern "C" fn memory_init(
    vmctx: *mut VMContextHeader,
    memory_index: u32,
    segment: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    let instance = instance_of(vmctx);
    u32::from(instance.memory_init(memory_index, segment, dst, src, len).is_err())
}

/// `data.drop`.
extern "C" fn data_drop(vmctx: *mut VMContextHeader, segment: u32) {
    let instance = instance_of(vmctx);
    instance.data_drop(segment);
}

/// `table.init`: returns nonzero, writing nothing, if either range is out of bounds.
extern "C" fn table_init(
    vmctx: *mut VMContextHeader,
    table_index: u32,
    segment: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    let instance = instance_of(vmctx);
    u32::from(instance.table_init(table_index, segment, dst, src, len).is_err())
}

/// `elem.drop`.
extern "C" fn elem_drop(vmctx: *mut VMContextHeader, segment: u32) {
    let instance = instance_of(vmctx);
    instance.elem_drop(segment);
}

/// `table.copy`: returns nonzero, copying nothing, if either range is out of bounds.
extern "C" fn table_copy(
    vmctx: *mut VMContextHeader,
    dst_table: u32,
    src_table: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    let instance = instance_of(vmctx);
    u32::from(instance.table_copy(dst_table, src_table, dst, src, len).is_err())
}

/// The builtins table: one `extern "C"` function per entry of `environ/builtins.rs`'s list,
/// in its order, each with the signature the list gives (the compiler generates calls from
/// the list). One per process; every context points to it (`VMContextHeader::builtins`).
#[repr(C)]
struct BuiltinsTable([*const (); NUM_BUILTINS]);

// SAFETY: the table is immutable and holds addresses of functions, which any thread may call.
unsafe impl Sync for BuiltinsTable {}

macro_rules! builtins_table {
    ($( $(#[$attr:meta])* $name:ident( $($param:ident),* ) $(-> $result:ident)?; )*) => {
        static BUILTINS: BuiltinsTable = BuiltinsTable([$( $name as *const (), )*]);
    };
}

foreach_builtin!(builtins_table);

/// The address of the builtins table, for `VMContextHeader::builtins`.
pub(crate) fn builtins_table() -> *const usize {
    BUILTINS.0.as_ptr().cast()
}
