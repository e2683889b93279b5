//! Rust functions that compiled code calls by absolute address, with the host's calling
//! convention. None may unwind: a panic across `extern "C"` aborts the process.

use crate::entry;
use crate::error::HostError;
use crate::func::HostFunc;
use crate::instance::InstanceInner;
use crate::values::{Val, ValRaw};
use crate::vmctx::VMContextHeader;

/// `memory.grow`: returns the old size in pages, or -1 (as u32) if the memory cannot grow.
extern "C" fn memory_grow(vmctx: *mut VMContextHeader, memory_index: u32, delta: u32) -> u32 {
    // SAFETY: compiled code passes its own vmctx, whose owner is the live instance running it.
    let instance = unsafe { &*(*vmctx).owner.cast::<InstanceInner>() };
    match instance.memory(memory_index).grow(u64::from(delta)) {
        Ok(old) => old as u32,
        Err(_) => u32::MAX,
    }
}

/// Calls a host function: `vmctx` is its `HostFunc` context, `values` holds the arguments
/// and receives the results. Returns nonzero if the host failed; the trampoline then traps.
extern "C" fn host_call(vmctx: *mut VMContextHeader, values: *mut ValRaw) -> u32 {
    // SAFETY: host-call trampolines are only installed with a HostFunc's own context.
    let host = unsafe { &*(*vmctx).owner.cast::<HostFunc>() };
    let len = host.slots();
    // SAFETY: the trampoline passes an array of max(params, results, 1) slots.
    let values = unsafe { std::slice::from_raw_parts_mut(values, len) };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| host.invoke(values)));
    match outcome {
        Ok(Ok(())) => 0,
        Ok(Err(error)) => {
            entry::set_host_error(error);
            1
        }
        Err(_) => {
            entry::set_host_error(HostError::new("host function panicked"));
            1
        }
    }
}

/// `table.grow`: returns the old size, or -1 (as u32) if the table cannot grow.
extern "C" fn table_grow(vmctx: *mut VMContextHeader, table_index: u32, init: usize, delta: u32) -> u32 {
    // SAFETY: as in `memory_grow`.
    let instance = unsafe { &*(*vmctx).owner.cast::<InstanceInner>() };
    let table = instance.table(table_index);
    let init = Val::from_raw(ValRaw::ptr(init), table.element());
    match table.grow(u64::from(delta), init) {
        Ok(old) => old as u32,
        Err(_) => u32::MAX,
    }
}

/// `table.fill`: returns nonzero if the range is out of bounds (nothing is written then).
extern "C" fn table_fill(vmctx: *mut VMContextHeader, table_index: u32, start: u32, value: usize, len: u32) -> u32 {
    // SAFETY: as in `memory_grow`.
    let instance = unsafe { &*(*vmctx).owner.cast::<InstanceInner>() };
    let table = instance.table(table_index);
    let value = Val::from_raw(ValRaw::ptr(value), table.element());
    u32::from(table.fill(u64::from(start), value, u64::from(len)).is_err())
}

pub(crate) fn table_grow_address() -> usize {
    table_grow as *const () as usize
}

pub(crate) fn table_fill_address() -> usize {
    table_fill as *const () as usize
}

pub(crate) fn memory_grow_address() -> usize {
    memory_grow as *const () as usize
}

pub(crate) fn host_call_address() -> usize {
    host_call as *const () as usize
}
