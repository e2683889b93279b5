//! The one list of builtins: Rust functions compiled code calls (`memory.grow`, bulk memory
//! and table operations, lazy compilation, host calls). Each is declared once here, with its
//! signature; the compiler generates calls from this list (`compiler/translate/func_env.rs`,
//! `compiler/trampoline.rs`) and the runtime fills the table from it (`runtime/libcalls.rs`).
//!
//! Compiled code never embeds a builtin's address: it loads the table's address from its
//! context (`VMContextHeader::builtins`, see `vmctx.rs`) and the function pointer from the
//! table, so the same machine code works in any process (a code cache needs that).
#![forbid(unsafe_code)]

/// Calls `$mac!` with every builtin as `name(param, ...) -> result;`. Parameter and result
/// kinds: `vmctx` (the caller's context), `pointer` (any other address), `i32`, `i64`.
macro_rules! foreach_builtin {
    ($mac:ident) => {
        $mac! {
            /// `memory.grow`: `(vmctx, memory, delta)`, the old size in pages or -1. Addresses,
            /// sizes and lengths of memories and tables are `i64` in every builtin, whatever the
            /// address type; compiled code zero-extends those of 32-bit ones.
            memory_grow(vmctx, i32, i64) -> i64;
            /// `memory.copy`: `(dst definition, dst, src definition, src, len)`, nonzero if out of bounds.
            memory_copy(pointer, i64, pointer, i64, i64) -> i32;
            /// `memory.fill`: `(definition, dst, value, len)`, nonzero if out of bounds.
            memory_fill(pointer, i64, i32, i64) -> i32;
            /// `memory.init`: `(vmctx, memory, segment, dst, src, len)`, nonzero if out of bounds.
            memory_init(vmctx, i32, i32, i64, i32, i32) -> i32;
            /// `data.drop`: `(vmctx, segment)`.
            data_drop(vmctx, i32);
            /// `table.grow`: `(vmctx, table, init, delta)`, the old size or -1.
            table_grow(vmctx, i32, pointer, i64) -> i64;
            /// `table.fill`: `(vmctx, table, start, value, len)`, nonzero if out of bounds.
            table_fill(vmctx, i32, i64, pointer, i64) -> i32;
            /// `table.copy`: `(vmctx, dst table, src table, dst, src, len)`, nonzero if out of bounds.
            table_copy(vmctx, i32, i32, i64, i64, i64) -> i32;
            /// `table.init`: `(vmctx, table, segment, dst, src, len)`, nonzero if out of bounds.
            table_init(vmctx, i32, i32, i64, i32, i32) -> i32;
            /// `elem.drop`: `(vmctx, segment)`.
            elem_drop(vmctx, i32);
            /// Compiles (or waits for) the function of a `VMFuncRef` whose code is null: its code, or null.
            resolve_func_ref(pointer) -> pointer;
            /// Calls a host function: `(host context, values)`; null, or the exception to
            /// throw if it failed (see `runtime/throw.rs`).
            host_call(vmctx, pointer) -> pointer;
            /// `throw`: `(vmctx, tag)`, a new exception of tag `tag` whose values the caller
            /// writes before throwing it.
            new_exception(vmctx, i32) -> pointer;
            /// Throws an exception: `(vmctx, exception)`. Never returns. Unlike the others,
            /// called with the wasm calling convention, so that a handler in the calling
            /// frame may catch it (`runtime/throw.rs`).
            throw(vmctx, pointer);
            /// An interrupt check found its `due` word raised: `(address of the word in the
            /// vmctx)`, the trap to raise (`Trap as u32`) or 0.
            interrupt_check(pointer) -> i32;
            /// `memory.copy` in interruptible code: `(vmctx, dst definition, dst, src definition, src, len)`,
            /// 0 or the trap to raise (`Trap as u32`): out of bounds, timed out or interrupted.
            memory_copy_interruptible(vmctx, pointer, i64, pointer, i64, i64) -> i32;
            /// `memory.fill` in interruptible code: `(vmctx, definition, dst, value, len)`, 0 or the trap to raise.
            memory_fill_interruptible(vmctx, pointer, i64, i32, i64) -> i32;
            /// `memory.atomic.wait32`: `(vmctx, memory, byte offset, expected, timeout ns)`,
            /// 0 woken, 1 not equal, 2 timed out, or a negative code of `WAIT_TRAPS`.
            memory_atomic_wait32(vmctx, i32, i64, i32, i64) -> i32;
            /// `memory.atomic.wait64`: as `memory_atomic_wait32` with an `i64` expected value.
            memory_atomic_wait64(vmctx, i32, i64, i64, i64) -> i32;
            /// `memory.atomic.notify`: `(vmctx, memory, byte offset, count)`, the number woken.
            memory_atomic_notify(vmctx, i32, i64, i32) -> i32;
        }
    };
}
pub(crate) use foreach_builtin;

/// What the wait builtins return instead of the wait's outcome (0, 1 or 2) when compiled code
/// must trap: the memory is not shared, or the call's timeout or an interrupt (including V8
/// terminating the thread's Worker) stopped the wait.
pub(crate) const WAIT_TRAPS: [(i32, crate::environ::trap::Trap); 3] = [
    (-1, crate::environ::trap::Trap::ExpectedSharedMemory),
    (-2, crate::environ::trap::Trap::Timeout),
    (-3, crate::environ::trap::Trap::Interrupted),
];

/// The kind of a builtin's parameter or result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BuiltinType {
    /// The caller's context pointer.
    Vmctx,
    /// Any other address.
    Pointer,
    /// A 32-bit integer.
    I32,
    /// A 64-bit integer.
    I64,
}

macro_rules! builtin_type {
    (vmctx) => {
        BuiltinType::Vmctx
    };
    (pointer) => {
        BuiltinType::Pointer
    };
    (i32) => {
        BuiltinType::I32
    };
    (i64) => {
        BuiltinType::I64
    };
}

macro_rules! declare_builtins {
    ($( $(#[$attr:meta])* $name:ident( $($param:ident),* ) $(-> $result:ident)?; )*) => {
        /// A builtin: its position in the builtins table.
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Builtin {
            $( $(#[$attr])* $name, )*
        }

        impl Builtin {
            /// Every builtin, in table order.
            pub(crate) const ALL: &'static [Builtin] = &[$( Builtin::$name, )*];

            /// The builtin's parameters and result.
            pub(crate) fn signature(self) -> (&'static [BuiltinType], Option<BuiltinType>) {
                match self {
                    $( Builtin::$name => (&[$( builtin_type!($param), )*], None $( .or(Some(builtin_type!($result))) )?), )*
                }
            }
        }
    };
}

foreach_builtin!(declare_builtins);

/// Number of builtins: entries in the table.
pub(crate) const NUM_BUILTINS: usize = Builtin::ALL.len();

impl Builtin {
    /// Index of this builtin in the table.
    pub(crate) fn index(self) -> u32 {
        self as u32
    }

    /// Whether compiled code calls the builtin with Cranelift's `preserve_all` convention:
    /// its table entry saves every register it uses (`libcalls::interrupt_check`,
    /// `libcalls::resolve_func_ref`), so the cold call in a check inside a hot loop (an
    /// interrupt check, or every call's check for code not compiled yet) makes the hot path
    /// spill nothing.
    pub(crate) fn preserves_all_registers(self) -> bool {
        cfg!(target_arch = "x86_64") && matches!(self, Builtin::interrupt_check | Builtin::resolve_func_ref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_order_is_declaration_order() {
        for (i, builtin) in Builtin::ALL.iter().enumerate() {
            assert_eq!(builtin.index() as usize, i, "{builtin:?}");
        }
        assert_eq!(
            Builtin::memory_grow.signature(),
            (&[BuiltinType::Vmctx, BuiltinType::I32, BuiltinType::I64][..], Some(BuiltinType::I64))
        );
        assert_eq!(Builtin::data_drop.signature().1, None);
    }
}
