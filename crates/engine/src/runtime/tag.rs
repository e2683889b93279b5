//! Exception tags. A tag is an identity with a type: exceptions are caught by the tag they
//! were thrown with, never by another tag of the same type. Instances define and import
//! tags; compiled code compares the addresses of their `VMTag`s (`environ/vmctx.rs`).

use crate::environ::types::FuncType;
use crate::environ::vmctx::VMTag;
use std::sync::{Arc, OnceLock};

/// An exception tag. Cheap to clone; clones are the same tag.
#[derive(Clone)]
pub struct Tag(Arc<TagInner>);

struct TagInner {
    vm: VMTag,
    ty: FuncType,
}

impl Tag {
    /// A new tag whose exceptions carry values of `ty`'s parameter types (`ty` has no results).
    pub fn new(ty: FuncType) -> Tag {
        Tag(Arc::new(TagInner { vm: VMTag { _identity: 0 }, ty }))
    }

    /// The tag of exceptions the host throws through wasm (a JS exception thrown by an
    /// import): one `externref` value, the host's payload. The JS API's `WebAssembly.JSTag`.
    pub fn host() -> Tag {
        static HOST: OnceLock<Tag> = OnceLock::new();
        HOST.get_or_init(|| Tag::new(FuncType::new([crate::environ::types::ValType::EXTERNREF], []))).clone()
    }

    /// The types of the values its exceptions carry, as parameters.
    pub fn ty(&self) -> &FuncType {
        &self.0.ty
    }

    /// Whether `self` and `other` are the same tag.
    pub fn same(&self, other: &Tag) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// A number identifying this tag among live tags (what the JS API's tag cache keys on).
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// The address compiled code compares.
    pub(crate) fn vm_tag(&self) -> *const VMTag {
        &self.0.vm
    }
}

impl std::fmt::Debug for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tag({:p}, {})", Arc::as_ptr(&self.0), self.0.ty)
    }
}
