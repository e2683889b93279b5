//! Wasm types as the engine's API shows them. Converted from wasmparser here and nowhere else.
#![forbid(unsafe_code)]

use crate::environ::error::{Error, Result};
use cranelift_codegen::ir::types;
use std::fmt;

/// A value type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 128-bit vector.
    V128,
    /// Nullable function reference.
    FuncRef,
    /// Nullable host reference.
    ExternRef,
    /// Nullable exception reference (`exnref`; `nullexnref` and `(ref exn)` are held the
    /// same way, validation keeps them apart).
    ExnRef,
}

impl ValType {
    pub(crate) fn from_wasm(ty: wasmparser::ValType, offset: u64) -> Result<Self> {
        use wasmparser::ValType as W;
        Ok(match ty {
            W::I32 => ValType::I32,
            W::I64 => ValType::I64,
            W::F32 => ValType::F32,
            W::F64 => ValType::F64,
            W::V128 => ValType::V128,
            W::Ref(r) if r == wasmparser::RefType::FUNCREF => ValType::FuncRef,
            W::Ref(r) if r == wasmparser::RefType::EXTERNREF => ValType::ExternRef,
            W::Ref(r) if is_exn_heap(r.heap_type()) => ValType::ExnRef,
            W::Ref(r) => return Err(Error::compile(format!("unsupported reference type {r}"), offset)),
        })
    }

    /// The Cranelift type that holds a value of this type in compiled code.
    pub(crate) fn clif(self) -> types::Type {
        match self {
            ValType::I32 => types::I32,
            ValType::I64 => types::I64,
            ValType::F32 => types::F32,
            ValType::F64 => types::F64,
            ValType::V128 => types::I8X16,
            ValType::FuncRef | ValType::ExternRef | ValType::ExnRef => types::I64,
        }
    }

    /// Whether this is a reference type.
    pub fn is_ref(self) -> bool {
        matches!(self, ValType::FuncRef | ValType::ExternRef | ValType::ExnRef)
    }
}

/// Whether `heap` is `exn` or `noexn` (the exception references).
fn is_exn_heap(heap: wasmparser::HeapType) -> bool {
    use wasmparser::{AbstractHeapType as A, HeapType as H};
    matches!(heap, H::Abstract { ty: A::Exn | A::NoExn, .. })
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
            ValType::ExnRef => "exnref",
        })
    }
}

/// A function signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FuncType {
    params: Box<[ValType]>,
    results: Box<[ValType]>,
}

impl FuncType {
    /// A signature with these parameters and results.
    pub fn new(params: impl IntoIterator<Item = ValType>, results: impl IntoIterator<Item = ValType>) -> Self {
        FuncType { params: params.into_iter().collect(), results: results.into_iter().collect() }
    }

    /// Parameter types, in order.
    pub fn params(&self) -> &[ValType] {
        &self.params
    }

    /// Result types, in order.
    pub fn results(&self) -> &[ValType] {
        &self.results
    }

    pub(crate) fn from_wasm(ty: &wasmparser::FuncType, offset: u64) -> Result<Self> {
        let convert = |tys: &[wasmparser::ValType]| -> Result<Box<[ValType]>> {
            tys.iter().map(|t| ValType::from_wasm(*t, offset)).collect()
        };
        Ok(FuncType { params: convert(ty.params())?, results: convert(ty.results())? })
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |tys: &[ValType]| tys.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" ");
        write!(f, "[{}] -> [{}]", list(&self.params), list(&self.results))
    }
}

/// Size limits of a memory (in 64 KiB pages) or a table (in elements).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Initial size.
    pub min: u64,
    /// Largest size it may grow to, if bounded.
    pub max: Option<u64>,
}

impl Limits {
    /// Whether something with limits `self` may stand where `required` is expected
    /// (the spec's import subtyping on limits).
    pub fn matches(&self, required: &Limits) -> bool {
        self.min >= required.min
            && match (self.max, required.max) {
                (_, None) => true,
                (Some(actual), Some(required)) => actual <= required,
                (None, Some(_)) => false,
            }
    }
}

/// A linear memory's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryType {
    /// Limits in 64 KiB pages.
    pub limits: Limits,
    /// Whether the memory is shared between threads.
    pub shared: bool,
}

/// A table's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableType {
    /// `FuncRef` or `ExternRef`.
    pub element: ValType,
    /// Limits in elements.
    pub limits: Limits,
}

/// A global's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalType {
    /// The type of the value it holds.
    pub content: ValType,
    /// Whether `global.set` may change it.
    pub mutable: bool,
}

/// The type of an import or export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExternType {
    /// A function.
    Func(FuncType),
    /// A table.
    Table(TableType),
    /// A linear memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
    /// An exception tag, with the types of the values its exceptions carry (no results).
    Tag(FuncType),
}

impl ExternType {
    /// `function`, `table`, `memory`, `global` or `tag`: the JS API's names for the kinds.
    pub fn kind(&self) -> &'static str {
        match self {
            ExternType::Func(_) => "function",
            ExternType::Table(_) => "table",
            ExternType::Memory(_) => "memory",
            ExternType::Global(_) => "global",
            ExternType::Tag(_) => "tag",
        }
    }
}
