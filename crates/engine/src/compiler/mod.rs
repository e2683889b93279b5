//! The compiler: wasm function bodies and signatures in, machine code out. Depends on
//! `environ` only (an architecture test checks it) and needs no `unsafe`: what it knows of
//! the runtime is the layout in `environ/vmctx.rs` and the builtins in `environ/builtins.rs`.
#![forbid(unsafe_code)]

pub(crate) mod compile;
pub(crate) mod trampoline;
pub(crate) mod translate;

pub(crate) use compile::compile_functions;
pub(crate) use trampoline::compile_trampolines;
pub(crate) use translate::check_supported;
