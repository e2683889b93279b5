//! The builtins: Rust functions compiled code calls, with the host's calling convention,
//! through the table `builtins_table()` (declared by `environ/builtins.rs`'s list, reached
//! through every context's `builtins` field). None may unwind: a panic across `extern "C"`
//! aborts the process.

use crate::environ::builtins::{foreach_builtin, NUM_BUILTINS, WAIT_TRAPS};
use crate::environ::error::HostError;
use crate::environ::exception::Exception;
use crate::environ::trap::Trap;
use crate::environ::val_raw::ValRaw;
use crate::environ::vmctx::{VMContextHeader, VMException, VMFuncRef, VMMemoryDefinition, VmOffsets};
use crate::func::HostFunc;
use crate::runtime::instance::InstanceInner;
use crate::runtime::shared_memory::Width;
use crate::runtime::throw::heron_throw as throw;
use std::sync::atomic::AtomicU64;

/// The instance whose compiled code called a libcall with its own `vmctx`.
fn instance_of<'a>(vmctx: *mut VMContextHeader) -> &'a InstanceInner {
    // SAFETY: libcalls taking a vmctx are called only by compiled code, with its own vmctx,
    // whose owner is the live instance running it for the whole call.
    unsafe { &*(*vmctx).owner.cast::<InstanceInner>() }
}

/// `memory.grow`: returns the old size in pages, or -1 (as u64) if the memory cannot grow.
/// Compiled code truncates both to 32 bits for a 32-bit memory (whose delta it zero-extends).
extern "C" fn memory_grow(vmctx: *mut VMContextHeader, memory_index: u32, delta: u64) -> u64 {
    let instance = instance_of(vmctx);
    instance.memory(memory_index).grow(delta).unwrap_or(u64::MAX)
}

/// `memory.atomic.wait32` at byte `offset` (in bounds and aligned: compiled code checked):
/// 0 woken, 1 not equal, 2 timed out, or a negative code of `WAIT_TRAPS` to trap with.
extern "C" fn memory_atomic_wait32(
    vmctx: *mut VMContextHeader,
    memory_index: u32,
    offset: u64,
    expected: u32,
    timeout_ns: u64,
) -> u32 {
    wait(instance_of(vmctx), memory_index, offset, u64::from(expected), Width::Four, timeout_ns as i64)
}

/// `memory.atomic.wait64`: as `memory_atomic_wait32` with a 64-bit expected value.
extern "C" fn memory_atomic_wait64(
    vmctx: *mut VMContextHeader,
    memory_index: u32,
    offset: u64,
    expected: u64,
    timeout_ns: u64,
) -> u32 {
    wait(instance_of(vmctx), memory_index, offset, expected, Width::Eight, timeout_ns as i64)
}

/// A wait of `instance`'s code. Under controls (a timeout, interrupts, Ctrl-C) the instance's
/// interrupt state is polled while the thread is blocked, so the wait stops with the trap a
/// loop would have raised at its next check.
fn wait(instance: &InstanceInner, memory_index: u32, offset: u64, expected: u64, width: Width, timeout_ns: i64) -> u32 {
    let Some(shared) = instance.memory(memory_index).shared() else { return trap_code(Trap::ExpectedSharedMemory) };
    let outcome = if instance.controls().interrupts.is_some() {
        // As the checks in compiled code read `interrupt_check`'s answer.
        let mut stop = || match crate::runtime::interrupts::check_instance(instance) {
            0 => None,
            code if code == Trap::Timeout as u32 => Some(Trap::Timeout),
            _ => Some(Trap::Interrupted),
        };
        shared.wait_controlled(offset, expected, width, timeout_ns, Some(&mut stop))
    } else {
        shared.wait(offset, expected, width, timeout_ns)
    };
    outcome.unwrap_or_else(trap_code)
}

/// The code of `WAIT_TRAPS` for `trap`.
fn trap_code(trap: Trap) -> u32 {
    let (code, _) = WAIT_TRAPS.iter().find(|(_, t)| *t == trap).expect("a wait stops only with one of these traps");
    *code as u32
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

/// Defines `$name`, the stub through which compiled code calls `$body` with Cranelift's
/// `preserve_all` convention (`Builtin::preserves_all_registers`): it saves every register
/// the host convention lets a call clobber (all but `rax`, which holds the result), calls
/// the body with the one argument in `rdi`, and restores them. Elsewhere than x86-64,
/// compiled code calls the body with the host convention.
macro_rules! preserve_all_stub {
    ($(#[$doc:meta])* fn $name:ident($arg:ident: $arg_type:ty) -> $result:ty => $body:ident) => {
        $(#[$doc])*
        #[cfg(target_arch = "x86_64")]
        #[unsafe(naked)]
        extern "C" fn $name($arg: $arg_type) -> $result {
            // SAFETY: the stub keeps the stack balanced and 16-byte aligned at the call
            // (entry at 8 mod 16, then rbp and 8 more pushes, then 256 bytes), passes `rdi`
            // through untouched as the body's argument, and restores every register it saved
            // before returning; the body preserves the callee-saved ones itself.
            std::arch::naked_asm!(
                "push rbp",
                "mov rbp, rsp",
                "push rcx",
                "push rdx",
                "push rsi",
                "push rdi",
                "push r8",
                "push r9",
                "push r10",
                "push r11",
                "sub rsp, 256",
                "movdqu [rsp], xmm0",
                "movdqu [rsp + 16], xmm1",
                "movdqu [rsp + 32], xmm2",
                "movdqu [rsp + 48], xmm3",
                "movdqu [rsp + 64], xmm4",
                "movdqu [rsp + 80], xmm5",
                "movdqu [rsp + 96], xmm6",
                "movdqu [rsp + 112], xmm7",
                "movdqu [rsp + 128], xmm8",
                "movdqu [rsp + 144], xmm9",
                "movdqu [rsp + 160], xmm10",
                "movdqu [rsp + 176], xmm11",
                "movdqu [rsp + 192], xmm12",
                "movdqu [rsp + 208], xmm13",
                "movdqu [rsp + 224], xmm14",
                "movdqu [rsp + 240], xmm15",
                "call {body}",
                "movdqu xmm0, [rsp]",
                "movdqu xmm1, [rsp + 16]",
                "movdqu xmm2, [rsp + 32]",
                "movdqu xmm3, [rsp + 48]",
                "movdqu xmm4, [rsp + 64]",
                "movdqu xmm5, [rsp + 80]",
                "movdqu xmm6, [rsp + 96]",
                "movdqu xmm7, [rsp + 112]",
                "movdqu xmm8, [rsp + 128]",
                "movdqu xmm9, [rsp + 144]",
                "movdqu xmm10, [rsp + 160]",
                "movdqu xmm11, [rsp + 176]",
                "movdqu xmm12, [rsp + 192]",
                "movdqu xmm13, [rsp + 208]",
                "movdqu xmm14, [rsp + 224]",
                "movdqu xmm15, [rsp + 240]",
                "add rsp, 256",
                "pop r11",
                "pop r10",
                "pop r9",
                "pop r8",
                "pop rdi",
                "pop rsi",
                "pop rdx",
                "pop rcx",
                "pop rbp",
                "ret",
                body = sym $body,
            )
        }

        #[cfg(not(target_arch = "x86_64"))]
        use $body as $name;
    };
}

/// `resolve` for compiled code, which calls it before calling through a `VMFuncRef` whose
/// `wasm_call` is null; it traps if this returns null.
extern "C" fn resolve_func_ref_body(func_ref: *mut VMFuncRef) -> *const u8 {
    // SAFETY: compiled code passes a `VMFuncRef` of its own vmctx or a non-null table
    // element, both live while it runs; resolving catches compiler panics itself.
    unsafe { resolve(func_ref) }
}

preserve_all_stub! {
    /// `resolve_func_ref_body` as compiled code calls it, with Cranelift's `preserve_all`
    /// convention (`Builtin::preserves_all_registers`): every call's check for code not compiled
    /// yet has this call on its cold path, and with a plain call there the register allocator
    /// spilled the call's arguments (live across both paths) to the stack on the hot path too.
    fn resolve_func_ref(func_ref: *mut VMFuncRef) -> *const u8 => resolve_func_ref_body
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

/// `table.grow`: returns the old size, or -1 (as u64) if the table cannot grow. Like every
/// store of compiled code, needs no bookkeeping for the reference (see `store.rs`).
extern "C" fn table_grow(vmctx: *mut VMContextHeader, table_index: u32, init: usize, delta: u64) -> u64 {
    let instance = instance_of(vmctx);
    instance.table(table_index).grow_raw(delta, init).unwrap_or(u64::MAX)
}

/// The check of interruptible code found the `due` word at `due` (in its vmctx) raised:
/// returns the trap to raise (a `Trap::Timeout` or `Trap::Interrupted`, as `u32`), or 0 for
/// a false alarm. Takes the word's address, computed in the cold block, not the vmctx, so
/// the check's cold call constrains no long-lived value of the hot loop to an argument
/// register.
extern "C" fn interrupt_check_body(due: *const AtomicU64) -> u32 {
    let vmctx = due.cast::<u8>().wrapping_sub(VmOffsets::controls_interrupt_due() as usize).cast_mut();
    crate::runtime::interrupts::check_instance(instance_of(vmctx.cast()))
}

preserve_all_stub! {
    /// `interrupt_check` as compiled code calls it, with Cranelift's `preserve_all` convention
    /// (`Builtin::preserves_all_registers`): saves every register the host convention lets a
    /// call clobber (all but `rax`, which holds the result), calls `interrupt_check_body`, and
    /// restores them. Interrupt checks sit in hot loops; with a plain call on their cold path,
    /// the register allocator spills the loop's float values around the whole loop.
    fn interrupt_check(due: *const AtomicU64) -> u32 => interrupt_check_body
}

/// `table.fill`: returns nonzero if the range is out of bounds (nothing is written then).
extern "C" fn table_fill(vmctx: *mut VMContextHeader, table_index: u32, start: u64, value: usize, len: u64) -> u32 {
    let instance = instance_of(vmctx);
    let table = instance.table(table_index);
    u32::from(table.fill_raw(start, value, len).is_err())
}

/// `memory.copy`: copies `len` bytes from `src` in one memory to `dst` in another (or the
/// same, ranges possibly overlapping). Returns nonzero, copying nothing, if either range is
/// out of bounds. Takes the memories' definitions directly: this is what C's `memcpy` and
/// `memmove` compile to, so it stays short.
extern "C" fn memory_copy(
    dst_memory: *const VMMemoryDefinition,
    dst: u64,
    src_memory: *const VMMemoryDefinition,
    src: u64,
    len: u64,
) -> u32 {
    // SAFETY: compiled code passes definition pointers loaded from its own vmctx; the
    // instance keeps those memories alive while its code runs.
    let (dst_memory, src_memory) = unsafe { (&*dst_memory, &*src_memory) };
    // 64-bit memories pass any 64-bit values: a sum that wraps is out of bounds.
    let (Some(dst), Some(src)) = (in_bounds(dst, len, dst_memory), in_bounds(src, len, src_memory)) else {
        return 1;
    };
    let len = len as usize;
    // SAFETY: both ranges lie inside the accessible part of their memories (checked above),
    // and `ptr::copy` allows them to overlap.
    unsafe { std::ptr::copy(src_memory.base.add(src), dst_memory.base.add(dst), len) };
    0
}

/// Bytes a bulk memory operation of interruptible code moves between two interrupt checks:
/// a millisecond of work or less, so a huge `memory.fill` or `memory.copy` stops close to its
/// deadline.
const BULK_CHUNK: usize = 4 << 20;

/// `memory.copy` in interruptible code: as `memory_copy`, in chunks of `BULK_CHUNK` bytes
/// with an interrupt check between two. Returns 0, or the trap to raise (`Trap as u32`):
/// out of bounds (copying nothing), or timed out or interrupted (the chunks done stay done).
extern "C" fn memory_copy_interruptible(
    vmctx: *mut VMContextHeader,
    dst_memory: *const VMMemoryDefinition,
    dst: u64,
    src_memory: *const VMMemoryDefinition,
    src: u64,
    len: u64,
) -> u32 {
    // SAFETY: as in `memory_copy`.
    let (dst_memory, src_memory) = unsafe { (&*dst_memory, &*src_memory) };
    let (Some(dst), Some(src)) = (in_bounds(dst, len, dst_memory), in_bounds(src, len, src_memory)) else {
        return Trap::MemoryOutOfBounds as u32;
    };
    let len = len as usize;
    // With `dst` after `src` in one memory, copying from the end keeps each chunk's source
    // bytes from being overwritten before they are read.
    let backward = dst > src;
    let mut done = 0;
    while done < len {
        let n = (len - done).min(BULK_CHUNK);
        let at = if backward { len - done - n } else { done };
        // SAFETY: both chunks lie inside the ranges checked above, which stay accessible
        // while the libcall runs (no wasm of this thread runs; another thread can only grow
        // a shared memory, whose base never moves), and `ptr::copy` allows them to overlap.
        unsafe { std::ptr::copy(src_memory.base.add(src + at), dst_memory.base.add(dst + at), n) };
        done += n;
        if done < len {
            let trap = crate::runtime::interrupts::poll_instance(instance_of(vmctx));
            if trap != 0 {
                return trap;
            }
        }
    }
    0
}

/// `memory.fill` in interruptible code: as `memory_fill`, in chunks with an interrupt check
/// between two, returning as `memory_copy_interruptible` does.
extern "C" fn memory_fill_interruptible(
    vmctx: *mut VMContextHeader,
    memory: *const VMMemoryDefinition,
    dst: u64,
    value: u32,
    len: u64,
) -> u32 {
    // SAFETY: as in `memory_copy`.
    let memory = unsafe { &*memory };
    let Some(dst) = in_bounds(dst, len, memory) else {
        return Trap::MemoryOutOfBounds as u32;
    };
    let len = len as usize;
    let mut done = 0;
    while done < len {
        let n = (len - done).min(BULK_CHUNK);
        // SAFETY: the chunk lies inside the range checked above.
        unsafe { std::ptr::write_bytes(memory.base.add(dst + done), value as u8, n) };
        done += n;
        if done < len {
            let trap = crate::runtime::interrupts::poll_instance(instance_of(vmctx));
            if trap != 0 {
                return trap;
            }
        }
    }
    0
}

/// `start` as a `usize` if `[start, start + len)` lies inside `memory`'s accessible part.
fn in_bounds(start: u64, len: u64, memory: &VMMemoryDefinition) -> Option<usize> {
    let end = start.checked_add(len)?;
    (end <= memory.current_length as u64).then_some(start as usize)
}

/// `memory.fill`: sets `len` bytes from `dst` to the low byte of `value`. Returns nonzero,
/// writing nothing, if the range is out of bounds.
extern "C" fn memory_fill(memory: *const VMMemoryDefinition, dst: u64, value: u32, len: u64) -> u32 {
    // SAFETY: as in `memory_copy`.
    let memory = unsafe { &*memory };
    let Some(dst) = in_bounds(dst, len, memory) else {
        return 1;
    };
    let len = len as usize;
    // SAFETY: the range lies inside the accessible part of the memory (checked above).
    unsafe { std::ptr::write_bytes(memory.base.add(dst), value as u8, len) };
    0
}

/// `memory.init`: returns nonzero, writing nothing, if either range is out of bounds.
extern "C" fn memory_init(
    vmctx: *mut VMContextHeader,
    memory_index: u32,
    segment: u32,
    dst: u64,
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
    dst: u64,
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
    dst: u64,
    src: u64,
    len: u64,
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
