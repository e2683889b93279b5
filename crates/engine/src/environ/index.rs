//! Typed indices: one type per index space, so that an index into all functions (imports
//! first) cannot be used where an index among defined functions is meant, and back.
//! `FuncIndex` spans imports plus definitions, `DefinedFuncIndex` definitions only; the same
//! pairs exist for tables, memories and globals. Convert only through `ModuleInfo`
//! (`defined_func`, `func_index`, ...), which knows how many of each are imported.
#![forbid(unsafe_code)]

use cranelift_entity::entity_impl;

macro_rules! index_type {
    ($( $(#[$attr:meta])* $name:ident, $prefix:literal; )*) => {
        $(
            $(#[$attr])*
            #[allow(dead_code, reason = "every index space has its types; not all are used yet")]
            #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
            pub(crate) struct $name(u32);
            entity_impl!($name, $prefix);
        )*
    };
}

index_type! {
    /// A function in the module's function index space (imports first).
    FuncIndex, "func";
    /// A function the module defines, counted from its first definition.
    DefinedFuncIndex, "defined_func";
    /// A table in the module's table index space (imports first).
    TableIndex, "table";
    /// A table the module defines.
    DefinedTableIndex, "defined_table";
    /// A memory in the module's memory index space (imports first).
    MemoryIndex, "memory";
    /// A memory the module defines.
    DefinedMemoryIndex, "defined_memory";
    /// A global in the module's global index space (imports first).
    GlobalIndex, "global";
    /// A global the module defines.
    DefinedGlobalIndex, "defined_global";
    /// A type in the module's type section.
    TypeIndex, "type";
}

/// Converts between an index space and its definitions, given how many are imported.
fn defined(index: u32, imported: u32) -> Option<u32> {
    index.checked_sub(imported)
}

macro_rules! conversions {
    ($( $all:ident, $def:ident, $imported:ident, $to_def:ident, $to_all:ident; )*) => {
        #[allow(dead_code, reason = "every index space has its conversions; not all are used yet")]
        impl crate::environ::info::ModuleInfo {
            $(
                /// The definition `index` names, or `None` for an import.
                pub(crate) fn $to_def(&self, index: $all) -> Option<$def> {
                    defined(index.as_u32(), self.$imported).map($def::from_u32)
                }

                /// The index in the whole index space of definition `index`.
                pub(crate) fn $to_all(&self, index: $def) -> $all {
                    $all::from_u32(self.$imported + index.as_u32())
                }
            )*
        }
    };
}

conversions! {
    FuncIndex, DefinedFuncIndex, num_imported_funcs, defined_func, func_index;
    TableIndex, DefinedTableIndex, num_imported_tables, defined_table, table_index;
    MemoryIndex, DefinedMemoryIndex, num_imported_memories, defined_memory, memory_index;
    GlobalIndex, DefinedGlobalIndex, num_imported_globals, defined_global, global_index;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environ::info::ModuleInfo;
    use cranelift_entity::EntityRef;

    #[test]
    fn conversions_go_through_the_import_counts() {
        let info = ModuleInfo { num_imported_funcs: 2, num_imported_globals: 1, ..Default::default() };
        assert_eq!(info.defined_func(FuncIndex::from_u32(1)), None);
        assert_eq!(info.defined_func(FuncIndex::from_u32(2)), Some(DefinedFuncIndex::new(0)));
        assert_eq!(info.func_index(DefinedFuncIndex::new(3)), FuncIndex::from_u32(5));
        assert_eq!(info.global_index(DefinedGlobalIndex::new(0)), GlobalIndex::from_u32(1));
        assert_eq!(info.defined_table(TableIndex::from_u32(0)), Some(DefinedTableIndex::new(0)));
    }
}
