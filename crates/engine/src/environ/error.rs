//! The engine's one error type. Each variant corresponds to one JS error class, so the
//! binding maps errors without inspecting messages.

use crate::environ::exception::Exception;
use crate::environ::trap::Trap;
use std::any::Any;
use std::fmt;

/// Failures heron reports.
#[derive(Debug)]
pub enum Error {
    /// Decoding, validation or an unsupported feature -> `WebAssembly.CompileError`.
    Compile {
        /// What is wrong, in wasmparser's or heron's words.
        message: String,
        /// Byte offset in the module where the problem was found.
        offset: usize,
    },
    /// An import is missing or has the wrong type -> `WebAssembly.LinkError`.
    Link(String),
    /// Compiled code trapped -> `WebAssembly.RuntimeError` (`RangeError` for stack overflow).
    Trap(Trap),
    /// A host function failed; the payload belongs to the embedder and is passed back as is.
    Host(HostError),
    /// A wasm exception no handler caught -> `WebAssembly.Exception`.
    Exception(Exception),
    /// A size limit or an OS allocation failed -> `RangeError`.
    Resource(String),
}

/// Result alias used throughout the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The failure of a host function. The engine never looks inside: the embedder gets it back
/// from the outermost call, unless wasm catches it on the way (`catch_all`), or the host
/// passes on a wasm exception, which wasm handlers see as the exception it is.
pub struct HostError {
    payload: Option<Box<dyn Any + Send>>,
    exception: Option<Exception>,
}

impl HostError {
    /// A host error carrying `payload`.
    pub fn new(payload: impl Any + Send) -> Self {
        HostError { payload: Some(Box::new(payload)), exception: None }
    }

    /// A host error whose details the embedder keeps elsewhere.
    pub fn opaque() -> Self {
        HostError { payload: None, exception: None }
    }

    /// The host passes on `exception` (one a call into wasm it made failed with, or one
    /// it made): its caller's handlers see that exception, not a host error.
    pub fn exception(exception: Exception) -> Self {
        HostError { payload: None, exception: Some(exception) }
    }

    /// The payload given to [`HostError::new`], if any.
    pub fn into_payload(self) -> Option<Box<dyn Any + Send>> {
        self.payload
    }

    /// The exception given to [`HostError::exception`], if any.
    pub fn as_exception(&self) -> Option<Exception> {
        self.exception
    }
}

impl fmt::Debug for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HostError")
    }
}

impl Error {
    /// A compile error at `offset`.
    pub fn compile(message: impl Into<String>, offset: u64) -> Self {
        Error::Compile { message: message.into(), offset: offset as usize }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Compile { message, offset } => write!(f, "{message} (at offset 0x{offset:x})"),
            Error::Link(message) | Error::Resource(message) => f.write_str(message),
            Error::Trap(trap) => f.write_str(trap.message()),
            Error::Host(_) => f.write_str("host function failed"),
            Error::Exception(_) => f.write_str("uncaught wasm exception"),
        }
    }
}

impl std::error::Error for Error {}

impl From<wasmparser::BinaryReaderError> for Error {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        Error::compile(e.message(), e.offset())
    }
}

impl From<Trap> for Error {
    fn from(trap: Trap) -> Self {
        Error::Trap(trap)
    }
}
