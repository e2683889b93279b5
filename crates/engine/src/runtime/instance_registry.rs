//! The live instances running one table of a module's code (`lazy.rs` owns one registry per
//! table; `instance.rs` attaches and detaches), so that optimized code published later
//! replaces baseline code in their `VMFuncRef`s. Its own file so that neither of the two
//! imports the other both ways.

use crate::environ::vmctx::VMFuncRef;
use std::collections::HashSet;
use std::sync::Mutex;

/// The live instances running one table of a module's code (see `lazy.rs`), by vmctx
/// address, so that optimized code can replace baseline code in their `VMFuncRef`s.
#[derive(Default)]
pub(crate) struct InstanceRegistry {
    vmctxs: Mutex<HashSet<usize>>,
}

impl InstanceRegistry {
    /// Runs `fill`, which writes the `VMFuncRef`s of `vmctx` from the table's entries, and
    /// registers `vmctx`, both under the lock, so no installation falls between the two.
    pub(crate) fn attach(&self, vmctx: *mut u8, fill: impl FnOnce()) {
        let mut vmctxs = self.vmctxs.lock().unwrap_or_else(|e| e.into_inner());
        fill();
        vmctxs.insert(vmctx as usize);
    }

    /// Unregisters `vmctx`; after this, no installation writes to it.
    pub(crate) fn detach(&self, vmctx: *mut u8) {
        self.vmctxs.lock().unwrap_or_else(|e| e.into_inner()).remove(&(vmctx as usize));
    }

    /// Stores each `(offset, code)`'s code as the `wasm_call` of the `VMFuncRef` at `offset`
    /// (from the module's `VmOffsets::func_ref`) in every registered vmctx.
    pub(crate) fn install(&self, code: &[(u32, usize)]) {
        let vmctxs = self.vmctxs.lock().unwrap_or_else(|e| e.into_inner());
        for &vmctx in vmctxs.iter() {
            for &(offset, entry) in code {
                // SAFETY: a registered vmctx is live: `InstanceInner::drop` detaches it, under
                // this lock, before freeing it. `offset` is that of a defined function's
                // `VMFuncRef` in the layout of the module all registered instances share, and
                // `entry` is published code of the same function.
                unsafe { VMFuncRef::store_wasm_call((vmctx + offset as usize) as *mut VMFuncRef, entry as *const u8) };
            }
        }
    }
}
