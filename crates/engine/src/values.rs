//! Values: `Val`, the typed value of the API, over `ValRaw`, the untyped slot of the array
//! ABI (`environ/val_raw.rs`).

use crate::environ::exception::Exception;
use crate::environ::types::{HeapType, RefType, ValType};
pub use crate::environ::val_raw::ValRaw;
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
    /// A reference of the `any` hierarchy (`anyref`, `eqref`, `nullref`...); `None` is null.
    /// Without GC objects, a non-null one is a host value the embedder passed in, opaque as
    /// an `externref`.
    AnyRef(Option<ExternRef>),
    /// An `exnref`; `None` is null.
    ExnRef(Option<Exception>),
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
            Val::FuncRef(_) => ValType::FUNCREF,
            Val::ExternRef(_) => ValType::EXTERNREF,
            Val::AnyRef(_) => ValType::Ref(RefType { nullable: true, heap: HeapType::Any }),
            Val::ExnRef(_) => ValType::EXNREF,
        }
    }

    /// Whether this value is one of type `ty`: for a function, whether its own type is `ty`'s
    /// (or `ty` is any function), for null whether `ty` is nullable, of the same hierarchy.
    pub fn matches(&self, ty: ValType) -> bool {
        let ValType::Ref(expected) = ty else {
            return self.ty() == ty;
        };
        let top = expected.heap.top();
        match self {
            Val::FuncRef(None) | Val::ExternRef(None) | Val::AnyRef(None) | Val::ExnRef(None) => {
                expected.nullable && self.ty().as_ref_type().is_some_and(|own| own.heap == top)
            }
            Val::FuncRef(Some(func)) => match expected.heap {
                HeapType::Func => true,
                HeapType::Registered(id) => func.type_id() == id,
                _ => false,
            },
            Val::ExternRef(Some(_)) => expected.heap == HeapType::Extern,
            Val::AnyRef(Some(_)) => expected.heap == HeapType::Any,
            Val::ExnRef(Some(_)) => expected.heap == HeapType::Exn,
            _ => false,
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
            ValType::Ref(r) => match r.heap.top() {
                HeapType::Func => Val::FuncRef(None),
                HeapType::Extern => Val::ExternRef(None),
                HeapType::Exn => Val::ExnRef(None),
                _ => Val::AnyRef(None),
            },
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
            Val::ExternRef(r) | Val::AnyRef(r) => ValRaw::ptr(r.map_or(0, |r| r.0.get())),
            Val::ExnRef(e) => ValRaw::ptr(e.as_ref().map_or(0, Exception::as_raw)),
        }
    }

    /// Reads a raw slot as a value of type `ty`. A function reference becomes a handle that
    /// calls through the slot's `VMFuncRef` and keeps its owner alive; other slots are bits.
    ///
    /// # Safety
    /// A non-null slot read as an exception reference holds an exception of this thread; one
    /// read as a function reference, a live engine-made `VMFuncRef` (as compiled code and
    /// [`Val::to_raw`] of a live function write).
    pub unsafe fn from_raw(raw: ValRaw, ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(raw.get_i32()),
            ValType::I64 => Val::I64(raw.get_i64()),
            ValType::F32 => Val::F32(raw.get_u32()),
            ValType::F64 => Val::F64(raw.get_u64()),
            ValType::V128 => Val::V128(raw.get_v128()),
            ValType::Ref(r) => match r.heap.top() {
                // SAFETY: per this function's contract.
                HeapType::Func => Val::FuncRef(unsafe { Func::from_vm_func_ref(raw.get_ptr() as *const VMFuncRef) }),
                HeapType::Extern => Val::ExternRef(NonZeroUsize::new(raw.get_ptr()).map(ExternRef)),
                // SAFETY: per this function's contract, a non-null exnref slot holds an
                // exception of this thread.
                HeapType::Exn => Val::ExnRef(unsafe { Exception::from_raw(raw.get_ptr()) }),
                _ => Val::AnyRef(NonZeroUsize::new(raw.get_ptr()).map(ExternRef)),
            },
        }
    }
}

impl Exception {
    /// A new exception of `tag` carrying `values` (typed as the tag's parameters), for the
    /// host to throw into wasm or hand over as an `exnref`.
    pub fn new(tag: &crate::runtime::tag::Tag, values: &[Val]) -> crate::environ::error::Result<Exception> {
        let types = tag.ty().params();
        if values.len() != types.len() || values.iter().zip(types).any(|(v, t)| !v.matches(*t)) {
            return Err(crate::environ::error::Error::Link(format!(
                "an exception of tag type {} cannot carry these values",
                tag.ty()
            )));
        }
        let exception = Exception::allocate(tag.clone());
        for (i, value) in values.iter().enumerate() {
            exception.set_raw_value(i, value.to_raw());
        }
        Ok(exception)
    }

    /// The values it carries, typed by its tag.
    pub fn values(&self) -> Vec<Val> {
        let types = self.tag().ty().params().to_vec();
        self.raw_values()
            .into_iter()
            .zip(types)
            .map(|(raw, ty)| {
                // SAFETY: the slots were written as the tag's types, by compiled code or `new`.
                unsafe { Val::from_raw(raw, ty) }
            })
            .collect()
    }
}
