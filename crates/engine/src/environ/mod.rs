//! Facts shared by the compiler and the runtime: wasm types, module metadata, the vmctx
//! layout, the list of builtins, configuration and trap codes. Depends on nothing else in
//! the crate (an architecture test checks it).

pub(crate) mod builtins;
pub(crate) mod cache_entry;
pub(crate) mod checksum;
pub(crate) mod compiled;
pub(crate) mod config;
pub(crate) mod error;
pub(crate) mod exception;
pub(crate) mod index;
pub(crate) mod info;
pub(crate) mod limits;
pub(crate) mod names;
pub(crate) mod trap;
pub(crate) mod type_registry;
pub(crate) mod types;
pub(crate) mod val_raw;
pub(crate) mod vmctx;
