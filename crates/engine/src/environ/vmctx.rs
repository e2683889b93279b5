//! Layout of `VMContext`, the per-instance block compiled code reaches through its `vmctx`
//! argument, and of the `VM*` structs it points to. Every offset generated code uses is
//! computed here.
//!
//! ```text
//! VMContext {
//!     magic: u32, _pad: u32,                  // VMCONTEXT_MAGIC or HOST_CONTEXT_MAGIC
//!     stack_limit: usize,                     // lowest SP wasm may use on this thread
//!     owner: *const (),                       // Rc pointer of the instance, Arc of the host function
//!     builtins: *const usize,                 // the process's builtins table (see builtins.rs)
//!     controls: VMControls,                   // `due` word and fuel (instances only)
//!     memories: [*mut VMMemoryDefinition; n_memories],
//!     globals:  [*mut VMGlobalDefinition; n_globals],
//!     tables:   [*mut VMTableDefinition; n_tables],
//!     tags:     [*const VMTag; n_tags],        // identity of each tag, imported ones first
//!     imported_func_refs: [*const VMFuncRef; n_imported_funcs],
//!     func_refs: [VMFuncRef; n_funcs],        // imported functions first, then defined ones
//!     type_ids: [u32; n_types],               // engine-wide signature id of each type index
//! }
//! ```
//! Compiled code embeds no address and no engine-wide id: builtins are called through the
//! `builtins` table and `call_indirect` compares a callee's `type_id` with the caller's
//! `type_ids` entry, so the same module compiles to the same bytes in every process.
//! Memories, globals and tables are reached through pointers whatever their origin
//! (defined, imported, created by the host), so one code shape serves all of them; the
//! pointer loads are read-only and Cranelift hoists them out of loops.
//!
//! A function has one canonical `VMFuncRef`: the one in the context of the instance that
//! defines it (or in its `HostFunc`). Funcref values, which wasm compares and the API uses
//! as identity, are always that address. `func_refs` also holds a *copy* of each imported
//! function's `VMFuncRef`, so a direct `call` loads code and context from the caller's own
//! context; `ref.func` of an imported function loads the canonical pointer from
//! `imported_func_refs` instead.
//!
//! `wasm_call` of a function defined by an instance is null while the function is not
//! compiled (see `lazy.rs`): every caller checks, and resolves it through a libcall that
//! compiles or waits, then stores the code in the `VMFuncRef` it called through.

use crate::environ::builtins::Builtin;
use crate::environ::info::ModuleInfo;
use std::mem::{offset_of, size_of};
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

/// Marks a block as an instance's `VMContext`.
pub(crate) const VMCONTEXT_MAGIC: u32 = u32::from_le_bytes(*b"hrnI");
/// Marks a block as a host function's context (a `VMContext` header and nothing else).
pub(crate) const HOST_CONTEXT_MAGIC: u32 = u32::from_le_bytes(*b"hrnH");

/// The fixed start of every context, instance or host.
#[repr(C)]
pub(crate) struct VMContextHeader {
    pub magic: u32,
    pub _pad: u32,
    pub stack_limit: usize,
    pub owner: *const (),
    /// The builtins table (`runtime/libcalls.rs`): one function pointer per entry of
    /// `environ/builtins.rs`'s list, in its order. Set in host contexts too: the host-call
    /// trampoline calls through it.
    pub builtins: *const usize,
}

/// What interruptible and fuel-counting code reads (see `runtime/interrupts.rs`): it calls
/// `interrupt_check` when `interrupt_due` is nonzero at a function entry or loop header,
/// and subtracts each stretch of instructions from `fuel`, trapping when it is negative
/// there. Code without checks never reads these fields.
#[repr(C)]
pub(crate) struct VMControls {
    /// This instance's `due` word: raised by an interrupt from any thread, or by the ticker
    /// thread when the running call's deadline has passed. Inline, so a check is one load
    /// from the vmctx with no pointer to keep in a register through a loop.
    pub interrupt_due: AtomicU64,
    /// Fuel left; negative once the instance ran more instructions than its budget.
    pub fuel: i64,
}

/// A linear memory as compiled code sees it. `base` never moves (the memory reserves its
/// whole address range up front); `current_length` changes on grow.
#[repr(C)]
pub struct VMMemoryDefinition {
    pub base: *mut u8,
    pub current_length: usize,
}

/// A global's storage: 16 bytes, value in the low bytes, as in a `ValRaw`.
#[repr(C, align(16))]
pub struct VMGlobalDefinition {
    pub bytes: [u8; 16],
}

/// A table as compiled code sees it: `length` elements at `base`, each a `*const VMFuncRef`
/// (funcref tables) or an extern reference (externref tables), 0 meaning null.
#[repr(C)]
pub struct VMTableDefinition {
    pub base: *mut usize,
    pub length: u32,
}

/// A tag as compiled code sees it: only its address matters, which is its identity (two
/// tags of the same type are different tags). The runtime's `Tag` owns it.
#[repr(C)]
pub struct VMTag {
    /// Unused by compiled code; keeps the struct non-empty so every tag has its own address.
    pub _identity: u8,
}

/// The part of an exception object compiled code reads: the tag it was thrown with and its
/// values, one `ValRaw` slot each (the runtime's `ExceptionObject` starts with this).
#[repr(C)]
pub struct VMException {
    pub tag: *const VMTag,
    pub values: *mut crate::environ::val_raw::ValRaw,
}

/// Everything needed to call a function, whoever defined it: the value a funcref holds is
/// a pointer to one of these.
#[repr(C)]
pub struct VMFuncRef {
    /// Entry with the wasm calling convention: `(vmctx, params...) -> results`.
    pub wasm_call: *const u8,
    /// Entry with the array convention: `(wasm_call, vmctx, *mut ValRaw)`, for host callers.
    pub array_call: *const u8,
    /// The callee's context: an instance's `VMContext` or a host function's.
    pub vmctx: *mut VMContextHeader,
    /// Engine-wide id of the signature, compared by `call_indirect`.
    pub type_id: u32,
    /// The function's index in its instance's module (0 for a host function), with which
    /// `libcalls::resolve_func_ref` finds the code when `wasm_call` is still null.
    pub func_index: u32,
}

impl VMFuncRef {
    /// `wasm_call` of `func_ref`, read atomically: another thread may be installing code
    /// there (optimized code replacing baseline code, see `lazy.rs`).
    ///
    /// # Safety
    /// `func_ref` must point to a live `VMFuncRef`.
    pub(crate) unsafe fn load_wasm_call(func_ref: *const VMFuncRef) -> *const u8 {
        // SAFETY: per this function's contract; the field is an aligned pointer-sized word,
        // and every writer stores it atomically (`store_wasm_call`) once the `VMFuncRef` is
        // shared.
        unsafe { AtomicPtr::from_ptr(std::ptr::addr_of!((*func_ref).wasm_call).cast_mut().cast::<*mut u8>()) }
            .load(Ordering::Acquire)
            .cast_const()
    }

    /// Stores `code` as `wasm_call` of `func_ref`, atomically (see `load_wasm_call`).
    ///
    /// # Safety
    /// `func_ref` must point to a live `VMFuncRef`, and `code` be published code of its
    /// function with its signature.
    pub(crate) unsafe fn store_wasm_call(func_ref: *mut VMFuncRef, code: *const u8) {
        // SAFETY: per this function's contract, as in `load_wasm_call`.
        unsafe { AtomicPtr::from_ptr(std::ptr::addr_of_mut!((*func_ref).wasm_call).cast::<*mut u8>()) }
            .store(code.cast_mut(), Ordering::Release);
    }
}

/// Offsets of one module's `VMContext` layout.
#[derive(Clone, Debug)]
pub(crate) struct VmOffsets {
    n_memories: u32,
    n_globals: u32,
    n_tables: u32,
    n_tags: u32,
    n_funcs: u32,
    n_imported_funcs: u32,
    n_types: u32,
    memories: u32,
    globals: u32,
    tables: u32,
    tags: u32,
    imported_func_refs: u32,
    func_refs: u32,
    type_ids: u32,
    size: u32,
}

const PTR: u32 = size_of::<usize>() as u32;

impl VmOffsets {
    pub fn new(module: &ModuleInfo) -> Self {
        let count = |n: usize| u32::try_from(n).expect("index spaces are bounded by the validator");
        let (n_memories, n_globals) = (count(module.memories.len()), count(module.globals.len()));
        let (n_tables, n_funcs) = (count(module.tables.len()), count(module.funcs.len()));
        let memories = (size_of::<VMContextHeader>() + size_of::<VMControls>()) as u32;
        let globals = memories + n_memories * PTR;
        let tables = globals + n_globals * PTR;
        let n_imported_funcs = module.num_imported_funcs;
        let n_tags = count(module.tags.len());
        let tags = tables + n_tables * PTR;
        let imported_func_refs = tags + n_tags * PTR;
        // VMFuncRef is 32 bytes of pointers: 8-aligned like everything before it.
        let func_refs = imported_func_refs + n_imported_funcs * PTR;
        let type_ids = func_refs + n_funcs * size_of::<VMFuncRef>() as u32;
        let n_types = count(module.types.len());
        let size = type_ids + n_types * size_of::<u32>() as u32;
        VmOffsets {
            n_memories,
            n_globals,
            n_tables,
            n_tags,
            n_funcs,
            n_imported_funcs,
            n_types,
            memories,
            globals,
            tables,
            tags,
            imported_func_refs,
            func_refs,
            type_ids,
            size,
        }
    }

    /// Total size of the `VMContext` in bytes.
    pub fn size(&self) -> u32 {
        self.size
    }

    pub const fn stack_limit() -> u32 {
        offset_of!(VMContextHeader, stack_limit) as u32
    }

    /// Offset of the instance's `VMControls`, right after the header.
    pub const fn controls() -> u32 {
        size_of::<VMContextHeader>() as u32
    }

    pub const fn controls_interrupt_due() -> u32 {
        VmOffsets::controls() + offset_of!(VMControls, interrupt_due) as u32
    }

    pub const fn controls_fuel() -> u32 {
        VmOffsets::controls() + offset_of!(VMControls, fuel) as u32
    }

    /// Offset of the pointer to the builtins table, in every context (instance or host).
    pub const fn builtins() -> u32 {
        offset_of!(VMContextHeader, builtins) as u32
    }

    /// Offset of a builtin's function pointer in the builtins table.
    pub fn builtin(builtin: Builtin) -> u32 {
        builtin.index() * PTR
    }

    /// Offset of the engine-wide signature id of type `index` (in the module's type index
    /// space), which `call_indirect` compares with the callee's `VMFuncRef::type_id`.
    pub fn type_id(&self, index: u32) -> u32 {
        assert!(index < self.n_types);
        self.type_ids + index * size_of::<u32>() as u32
    }

    /// Offset of the pointer to memory `index`'s definition.
    pub fn memory_pointer(&self, index: u32) -> u32 {
        assert!(index < self.n_memories);
        self.memories + index * PTR
    }

    /// Offset of the pointer to global `index`'s storage.
    pub fn global_pointer(&self, index: u32) -> u32 {
        assert!(index < self.n_globals);
        self.globals + index * PTR
    }

    /// Offset of the pointer to table `index`'s definition.
    pub fn table_pointer(&self, index: u32) -> u32 {
        assert!(index < self.n_tables);
        self.tables + index * PTR
    }

    /// Offset of the pointer to tag `index`'s `VMTag`.
    pub fn tag_pointer(&self, index: u32) -> u32 {
        assert!(index < self.n_tags);
        self.tags + index * PTR
    }

    /// Offset of an exception's tag pointer.
    pub const fn exception_tag() -> u32 {
        offset_of!(VMException, tag) as u32
    }

    /// Offset of the pointer to an exception's values.
    pub const fn exception_values() -> u32 {
        offset_of!(VMException, values) as u32
    }

    /// Offset of the pointer to imported function `index`'s canonical `VMFuncRef`.
    pub fn imported_func_ref_pointer(&self, index: u32) -> u32 {
        assert!(index < self.n_imported_funcs);
        self.imported_func_refs + index * PTR
    }

    /// Offset of function `index`'s `VMFuncRef`: for an imported function, the copy that
    /// direct calls load from (see the module doc).
    pub fn func_ref(&self, index: u32) -> u32 {
        assert!(index < self.n_funcs);
        self.func_refs + index * size_of::<VMFuncRef>() as u32
    }

    pub const fn memory_base() -> u32 {
        offset_of!(VMMemoryDefinition, base) as u32
    }

    pub const fn memory_length() -> u32 {
        offset_of!(VMMemoryDefinition, current_length) as u32
    }

    pub const fn table_base() -> u32 {
        offset_of!(VMTableDefinition, base) as u32
    }

    pub const fn table_length() -> u32 {
        offset_of!(VMTableDefinition, length) as u32
    }

    pub const fn func_ref_wasm_call() -> u32 {
        offset_of!(VMFuncRef, wasm_call) as u32
    }

    pub const fn func_ref_vmctx() -> u32 {
        offset_of!(VMFuncRef, vmctx) as u32
    }

    pub const fn func_ref_type_id() -> u32 {
        offset_of!(VMFuncRef, type_id) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structs_have_the_sizes_compiled_code_assumes() {
        assert_eq!(size_of::<VMContextHeader>(), 32);
        assert_eq!(VmOffsets::builtins(), 24);
        assert_eq!(size_of::<VMControls>(), 16);
        assert_eq!(VmOffsets::controls_fuel(), 40);
        assert_eq!(size_of::<VMFuncRef>(), 32);
        assert_eq!(size_of::<VMGlobalDefinition>(), 16);
        assert_eq!(VmOffsets::func_ref_type_id(), 24);
        assert_eq!(VmOffsets::memory_length(), 8);
    }
}
