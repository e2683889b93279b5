//! The handle of an exception object, here so that `Error` can carry an exception that
//! reached the host. Only the runtime (`runtime/exception.rs`) makes and reads them; this
//! file owns nothing but the pointer.
#![forbid(unsafe_code)]

use crate::environ::vmctx::VMException;
use std::ptr::NonNull;

/// A wasm exception: a tag and the values thrown with it. The value of an `exnref`, and
/// what a call that threw returns in [`Error::Exception`](crate::Error::Exception). Handles
/// compare by identity: rethrowing an exception throws the same one. Its contents belong
/// to the thread that made it: reading them elsewhere panics.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Exception(pub(crate) NonNull<VMException>);

impl std::fmt::Debug for Exception {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Exception({:p})", self.0)
    }
}
