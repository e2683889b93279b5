//! heron's Node.js binding: JS classes and value conversions over `heron_engine`, nothing
//! else. The JS API's shape (classes, overloads, promises) lives in the handwritten
//! `index.js`; this crate provides the native pieces it calls:
//!
//! - `module.rs`: `NativeModule` (compile, imports/exports descriptors) and `validate`.
//! - `instance.rs`: `instantiate`, turning import values into engine externs and exports
//!   into JS values.
//! - `func.rs`: the hot paths, in raw N-API: exported wasm functions called from JS, and JS
//!   functions called from wasm.
//! - `memory.rs`: `NativeMemory`, a memory and the ArrayBuffer over it.
//! - `table.rs`, `global.rs`: `NativeTable` and `NativeGlobal`.
//! - `link.rs`: the ids by which memory, table and global imports are passed in.
//! - `externref.rs`: the JS values behind `externref`s.
//! - `external.rs`: ArrayBuffers over engine-owned bytes.
//! - `convert.rs`: ToWebAssemblyValue / ToJSValue.
//! - `error.rs`: engine errors thrown as the JS error classes `index.js` registers.

mod convert;
mod error;
mod external;
mod externref;
mod func;
mod global;
mod instance;
mod link;
mod memory;
mod module;
mod table;
