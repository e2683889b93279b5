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
    /// A reference (`funcref`, `externref`, `(ref $t)`, ...).
    Ref(RefType),
}

/// A reference type: a heap type and whether null is a value of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RefType {
    /// Whether null is a value of this type (`(ref null ...)`).
    pub nullable: bool,
    /// What the reference points to.
    pub heap: HeapType,
}

/// What a reference points to. heron implements the GC proposal's type system but not its
/// objects: references in the `any` hierarchy are null or, from the host, opaque host
/// values; struct and array types cannot be defined (see `environ/info.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeapType {
    /// Any function (`func`).
    Func,
    /// No function: only null (`nofunc`).
    NoFunc,
    /// Host references (`extern`).
    Extern,
    /// No host reference: only null (`noextern`).
    NoExtern,
    /// The top of the GC hierarchy (`any`).
    Any,
    /// Comparable references (`eq`).
    Eq,
    /// Unboxed 31-bit integers (`i31`).
    I31,
    /// Any struct (`struct`).
    Struct,
    /// Any array (`array`).
    Array,
    /// The bottom of the GC hierarchy: only null (`none`).
    None,
    /// Exception references (`exn`).
    Exn,
    /// No exception: only null (`noexn`).
    NoExn,
    /// A function type of a module by its type index. Only in a `ModuleInfo` before its
    /// types are registered with an engine; in the engine's rec-group keys, an index
    /// relative to the group (see `engine.rs`).
    Concrete(u32),
    /// A function type by its engine-wide id (the id `call_indirect` compares): what every
    /// type the API hands out uses.
    Registered(u32),
}

impl HeapType {
    /// The top type of this type's hierarchy: `Func`, `Extern`, `Any` or `Exn`.
    pub fn top(self) -> HeapType {
        use HeapType as H;
        match self {
            H::Func | H::NoFunc | H::Concrete(_) | H::Registered(_) => H::Func,
            H::Extern | H::NoExtern => H::Extern,
            H::Any | H::Eq | H::I31 | H::Struct | H::Array | H::None => H::Any,
            H::Exn | H::NoExn => H::Exn,
        }
    }

    /// The bottom type of this type's hierarchy, whose only value is null.
    pub fn bottom(self) -> HeapType {
        match self.top() {
            HeapType::Func => HeapType::NoFunc,
            HeapType::Extern => HeapType::NoExtern,
            HeapType::Exn => HeapType::NoExn,
            _ => HeapType::None,
        }
    }

    /// Whether every reference of `self` is one of `other` (heap subtyping). Function types
    /// have no declared supertypes in heron (`info.rs` refuses them), so a registered type
    /// is a subtype of itself, `func`, and nothing else.
    pub fn is_subtype_of(self, other: HeapType) -> bool {
        use HeapType as H;
        if self == other {
            return true;
        }
        match (self, other) {
            (H::NoFunc, H::Func | H::Concrete(_) | H::Registered(_)) => true,
            (H::Concrete(_) | H::Registered(_), H::Func) => true,
            (H::NoExtern, H::Extern) => true,
            (H::None, H::Any | H::Eq | H::I31 | H::Struct | H::Array) => true,
            (H::I31 | H::Struct | H::Array, H::Any | H::Eq) => true,
            (H::Eq, H::Any) => true,
            (H::NoExn, H::Exn) => true,
            _ => false,
        }
    }

    fn from_wasm(heap: wasmparser::HeapType, offset: u64) -> Result<Self> {
        use wasmparser::AbstractHeapType as A;
        Ok(match heap {
            wasmparser::HeapType::Abstract { shared: false, ty } => match ty {
                A::Func => HeapType::Func,
                A::NoFunc => HeapType::NoFunc,
                A::Extern => HeapType::Extern,
                A::NoExtern => HeapType::NoExtern,
                A::Any => HeapType::Any,
                A::Eq => HeapType::Eq,
                A::I31 => HeapType::I31,
                A::Struct => HeapType::Struct,
                A::Array => HeapType::Array,
                A::None => HeapType::None,
                A::Exn => HeapType::Exn,
                A::NoExn => HeapType::NoExn,
                other => return Err(Error::compile(format!("unsupported heap type {other:?}"), offset)),
            },
            wasmparser::HeapType::Concrete(index) | wasmparser::HeapType::Exact(index) => match index.as_module_index()
            {
                Some(index) => HeapType::Concrete(index),
                None => return Err(Error::compile("unsupported canonicalized type index", offset)),
            },
            other => return Err(Error::compile(format!("unsupported heap type {other:?}"), offset)),
        })
    }

    /// This type with a module's type indices replaced by `map(index)`.
    pub(crate) fn map_concrete(self, map: impl Fn(u32) -> HeapType) -> HeapType {
        match self {
            HeapType::Concrete(index) => map(index),
            other => other,
        }
    }
}

impl RefType {
    /// `funcref`: a nullable reference to any function.
    pub const FUNCREF: RefType = RefType { nullable: true, heap: HeapType::Func };
    /// `externref`: a nullable host reference.
    pub const EXTERNREF: RefType = RefType { nullable: true, heap: HeapType::Extern };
    /// `exnref`: a nullable exception reference.
    pub const EXNREF: RefType = RefType { nullable: true, heap: HeapType::Exn };

    /// Whether every value of `self` is a value of `other`.
    pub fn is_subtype_of(self, other: RefType) -> bool {
        (!self.nullable || other.nullable) && self.heap.is_subtype_of(other.heap)
    }
}

impl fmt::Display for HeapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeapType::Func => f.write_str("func"),
            HeapType::NoFunc => f.write_str("nofunc"),
            HeapType::Extern => f.write_str("extern"),
            HeapType::NoExtern => f.write_str("noextern"),
            HeapType::Any => f.write_str("any"),
            HeapType::Eq => f.write_str("eq"),
            HeapType::I31 => f.write_str("i31"),
            HeapType::Struct => f.write_str("struct"),
            HeapType::Array => f.write_str("array"),
            HeapType::None => f.write_str("none"),
            HeapType::Exn => f.write_str("exn"),
            HeapType::NoExn => f.write_str("noexn"),
            HeapType::Concrete(index) | HeapType::Registered(index) => write!(f, "{index}"),
        }
    }
}

impl fmt::Display for RefType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = match self.heap {
            HeapType::Func => "funcref",
            HeapType::Extern => "externref",
            HeapType::Any => "anyref",
            HeapType::Eq => "eqref",
            HeapType::I31 => "i31ref",
            HeapType::Struct => "structref",
            HeapType::Array => "arrayref",
            HeapType::None => "nullref",
            HeapType::NoFunc => "nullfuncref",
            HeapType::NoExtern => "nullexternref",
            HeapType::Exn => "exnref",
            HeapType::NoExn => "nullexnref",
            _ => "",
        };
        match (self.nullable, short) {
            (true, short) if !short.is_empty() => f.write_str(short),
            (true, _) => write!(f, "(ref null {})", self.heap),
            (false, _) => write!(f, "(ref {})", self.heap),
        }
    }
}

impl ValType {
    /// `funcref`.
    pub const FUNCREF: ValType = ValType::Ref(RefType::FUNCREF);
    /// `externref`.
    pub const EXTERNREF: ValType = ValType::Ref(RefType::EXTERNREF);
    /// `exnref`.
    pub const EXNREF: ValType = ValType::Ref(RefType::EXNREF);

    pub(crate) fn from_wasm(ty: wasmparser::ValType, offset: u64) -> Result<Self> {
        use wasmparser::ValType as W;
        Ok(match ty {
            W::I32 => ValType::I32,
            W::I64 => ValType::I64,
            W::F32 => ValType::F32,
            W::F64 => ValType::F64,
            W::V128 => ValType::V128,
            W::Ref(r) => ValType::Ref(RefType::from_wasm(r, offset)?),
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
            ValType::Ref(_) => types::I64,
        }
    }

    /// Whether this is a reference type.
    pub fn is_ref(self) -> bool {
        matches!(self, ValType::Ref(_))
    }

    /// The reference type, if this is one.
    pub fn as_ref_type(self) -> Option<RefType> {
        match self {
            ValType::Ref(r) => Some(r),
            _ => None,
        }
    }

    /// Whether this is a reference to functions (`funcref`, `(ref $t)`, `nullfuncref`...),
    /// whose values are `VMFuncRef` pointers that keep their owners alive through stores.
    pub fn is_func_ref(self) -> bool {
        matches!(self, ValType::Ref(r) if r.heap.top() == HeapType::Func)
    }

    /// Whether every value of `self` is a value of `other`.
    pub fn is_subtype_of(self, other: ValType) -> bool {
        match (self, other) {
            (ValType::Ref(a), ValType::Ref(b)) => a.is_subtype_of(b),
            (a, b) => a == b,
        }
    }

    /// Whether a value of this type has a default (zero or null), so a local of it needs no
    /// initialization and a table of it no initializer.
    pub fn is_defaultable(self) -> bool {
        !matches!(self, ValType::Ref(RefType { nullable: false, .. }))
    }

    /// This type with a module's type indices replaced by `map(index)`.
    pub(crate) fn map_concrete(self, map: impl Fn(u32) -> HeapType) -> ValType {
        match self {
            ValType::Ref(r) => ValType::Ref(RefType { nullable: r.nullable, heap: r.heap.map_concrete(map) }),
            other => other,
        }
    }
}

impl RefType {
    pub(crate) fn from_wasm(r: wasmparser::RefType, offset: u64) -> Result<Self> {
        Ok(RefType { nullable: r.is_nullable(), heap: HeapType::from_wasm(r.heap_type(), offset)? })
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValType::I32 => f.write_str("i32"),
            ValType::I64 => f.write_str("i64"),
            ValType::F32 => f.write_str("f32"),
            ValType::F64 => f.write_str("f64"),
            ValType::V128 => f.write_str("v128"),
            ValType::Ref(r) => r.fmt(f),
        }
    }
}

/// A function signature. Two signatures are equal when their parameters and results are;
/// a function's identity for linking and `call_indirect` is its type's engine-wide id
/// ([`FuncType::registered_id`]), which also tells apart structurally equal types of
/// different recursion groups.
#[derive(Clone, Debug)]
pub struct FuncType {
    params: Box<[ValType]>,
    results: Box<[ValType]>,
    /// The engine-wide id, for every type the API hands out (see `engine.rs`).
    registered: Option<u32>,
}

impl PartialEq for FuncType {
    fn eq(&self, other: &Self) -> bool {
        self.params == other.params && self.results == other.results
    }
}

impl Eq for FuncType {}

impl std::hash::Hash for FuncType {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.params.hash(state);
        self.results.hash(state);
    }
}

impl FuncType {
    /// A signature with these parameters and results.
    pub fn new(params: impl IntoIterator<Item = ValType>, results: impl IntoIterator<Item = ValType>) -> Self {
        FuncType { params: params.into_iter().collect(), results: results.into_iter().collect(), registered: None }
    }

    /// Parameter types, in order.
    pub fn params(&self) -> &[ValType] {
        &self.params
    }

    /// Result types, in order.
    pub fn results(&self) -> &[ValType] {
        &self.results
    }

    /// The engine-wide id of this type, if it came from an engine (a module's type, a
    /// function's).
    pub fn registered_id(&self) -> Option<u32> {
        self.registered
    }

    /// This type with its engine-wide id.
    pub(crate) fn with_registered_id(mut self, id: u32) -> FuncType {
        self.registered = Some(id);
        self
    }

    /// This type with a module's type indices replaced by `map(index)`.
    pub(crate) fn map_concrete(&self, map: impl Fn(u32) -> HeapType + Copy) -> FuncType {
        FuncType {
            params: self.params.iter().map(|t| t.map_concrete(map)).collect(),
            results: self.results.iter().map(|t| t.map_concrete(map)).collect(),
            registered: self.registered,
        }
    }

    pub(crate) fn from_wasm(ty: &wasmparser::FuncType, offset: u64) -> Result<Self> {
        let convert = |tys: &[wasmparser::ValType]| -> Result<Box<[ValType]>> {
            tys.iter().map(|t| ValType::from_wasm(*t, offset)).collect()
        };
        Ok(FuncType { params: convert(ty.params())?, results: convert(ty.results())?, registered: None })
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

/// The type of the addresses (indices) of a memory or table: `i64` for the memory64
/// proposal's 64-bit memories and tables. An import matches only an export of the same type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AddressType {
    /// 32-bit addresses (WebAssembly 1.0 and 2.0).
    #[default]
    I32,
    /// 64-bit addresses.
    I64,
}

impl AddressType {
    /// The value type of an address.
    pub fn val_type(self) -> ValType {
        match self {
            AddressType::I32 => ValType::I32,
            AddressType::I64 => ValType::I64,
        }
    }

    /// Whether addresses are 64-bit.
    pub fn is_64(self) -> bool {
        self == AddressType::I64
    }

    pub(crate) fn from_flag(table64_or_memory64: bool) -> Self {
        if table64_or_memory64 {
            AddressType::I64
        } else {
            AddressType::I32
        }
    }
}

impl fmt::Display for AddressType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.val_type().fmt(f)
    }
}

/// A linear memory's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryType {
    /// Limits in 64 KiB pages.
    pub limits: Limits,
    /// Whether the memory is shared between threads.
    pub shared: bool,
    /// `i32`, or `i64` for a 64-bit memory.
    pub address: AddressType,
}

/// A table's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableType {
    /// A reference type.
    pub element: ValType,
    /// Limits in elements.
    pub limits: Limits,
    /// `i32`, or `i64` for a 64-bit table.
    pub address: AddressType,
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
