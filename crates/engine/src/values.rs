//! Values: `Val`, the typed value of the API, and `ValRaw`, the untyped 16-byte slot that
//! trampolines read arguments from and write results to (the "array ABI").

use crate::environ::types::ValType;
use crate::environ::vmctx::VMFuncRef;
use crate::func::Func;
use std::num::NonZeroUsize;

/// An opaque host reference (`externref`). The engine only stores and compares it; what it
/// points to, and keeping that alive, is the embedder's business.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExternRef(pub NonZeroUsize);

/// A typed wasm value.
#[derive(Clone, Debug)]
pub enum Val {
    /// An `i32`.
    I32(i32),
    /// An `i64`.
    I64(i64),
    /// An `f32`, as its bit pattern (NaN payloads are kept).
    F32(u32),
    /// An `f64`, as its bit pattern.
    F64(u64),
    /// A `v128`.
    V128(u128),
    /// A `funcref`; `None` is null.
    FuncRef(Option<Func>),
    /// An `externref`; `None` is null.
    ExternRef(Option<ExternRef>),
}

impl Val {
    /// The type of this value.
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FuncRef,
            Val::ExternRef(_) => ValType::ExternRef,
        }
    }

    /// The zero value of `ty` (null for references).
    pub fn default_for(ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::FuncRef => Val::FuncRef(None),
            ValType::ExternRef => Val::ExternRef(None),
        }
    }

    /// This value as a raw slot.
    pub fn to_raw(&self) -> ValRaw {
        match self {
            Val::I32(v) => ValRaw::i32(*v),
            Val::I64(v) => ValRaw::i64(*v),
            Val::F32(v) => ValRaw::u32(*v),
            Val::F64(v) => ValRaw::u64(*v),
            Val::V128(v) => ValRaw::v128(*v),
            Val::FuncRef(f) => ValRaw::ptr(f.as_ref().map_or(0, |f| f.vm_func_ref() as usize)),
            Val::ExternRef(r) => ValRaw::ptr(r.map_or(0, |r| r.0.get())),
        }
    }

    /// Reads a raw slot as a value of type `ty`.
    ///
    /// A non-null `funcref` slot must point to a live `VMFuncRef` made by this engine (as every
    /// slot written by compiled code or by [`Val::to_raw`] does).
    pub fn from_raw(raw: ValRaw, ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(raw.get_i32()),
            ValType::I64 => Val::I64(raw.get_i64()),
            ValType::F32 => Val::F32(raw.get_u32()),
            ValType::F64 => Val::F64(raw.get_u64()),
            ValType::V128 => Val::V128(raw.get_v128()),
            ValType::FuncRef => Val::FuncRef(Func::from_vm_func_ref(raw.get_ptr() as *const VMFuncRef)),
            ValType::ExternRef => Val::ExternRef(NonZeroUsize::new(raw.get_ptr()).map(ExternRef)),
        }
    }
}

/// One untyped value slot: 16 bytes, little-endian, the low bytes holding scalars.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
#[repr(C, align(16))]
pub struct ValRaw([u8; 16]);

impl ValRaw {
    /// Slot holding an `i32`.
    pub fn i32(v: i32) -> Self {
        Self::u64(v as u32 as u64)
    }
    /// Slot holding an `i64`.
    pub fn i64(v: i64) -> Self {
        Self::u64(v as u64)
    }
    /// Slot holding 32 bits (an `f32`'s bit pattern).
    pub fn u32(v: u32) -> Self {
        Self::u64(v as u64)
    }
    /// Slot holding 64 bits (an `f64`'s bit pattern).
    pub fn u64(v: u64) -> Self {
        Self::v128(v as u128)
    }
    /// Slot holding a `v128`.
    pub fn v128(v: u128) -> Self {
        ValRaw(v.to_le_bytes())
    }
    /// Slot holding a pointer-sized reference.
    pub fn ptr(v: usize) -> Self {
        Self::u64(v as u64)
    }
    /// The `i32` in this slot.
    pub fn get_i32(&self) -> i32 {
        self.get_u32() as i32
    }
    /// The `i64` in this slot.
    pub fn get_i64(&self) -> i64 {
        self.get_u64() as i64
    }
    /// The low 32 bits.
    pub fn get_u32(&self) -> u32 {
        u32::from_le_bytes(self.0[..4].try_into().unwrap())
    }
    /// The low 64 bits.
    pub fn get_u64(&self) -> u64 {
        u64::from_le_bytes(self.0[..8].try_into().unwrap())
    }
    /// All 128 bits.
    pub fn get_v128(&self) -> u128 {
        u128::from_le_bytes(self.0)
    }
    /// The pointer-sized reference.
    pub fn get_ptr(&self) -> usize {
        self.get_u64() as usize
    }
}

impl std::fmt::Debug for ValRaw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ValRaw({:#x})", self.get_v128())
    }
}
