//! heron's Node.js binding: JS classes and value conversions over `heron_engine`, nothing
//! else. The JS API's shape (classes, overloads, promises) lives in the handwritten
//! `index.js`; this crate provides the native pieces it calls:
//!
//! - `module.rs`: `NativeModule` (compile, imports/exports descriptors) and `validate`.
//! - `instance.rs`: `instantiate`, turning import values into engine externs and exports
//!   into JS values.
//! - `export.rs`: exported wasm functions called from JS (the native entries behind every
//!   exported function, the per-thread export table the call slots index).
//! - `import.rs`: JS functions imported by wasm, as engine host functions.
//! - `scope.rs`: the handle scopes that import calls under one entry into wasm share.
//! - `slots.rs`: the call slots' layout, defined here once and handed to `index.js`.
//! - `profiling.rs`: the perf map switch; how many threads have run wasm.
//! - `napi_raw.rs`: the small safe wrapper over the raw N-API calls of the hot paths.
//! - `memory.rs`: `NativeMemory`, a memory and the ArrayBuffer over it.
//! - `table.rs`, `global.rs`: `NativeTable` and `NativeGlobal`.
//! - `exception.rs`: `NativeTag` and `NativeException`, and exceptions crossing the JS
//!   boundary both ways.
//! - `link.rs`: the ids by which memory, table, global and tag imports are passed in.
//! - `id_hash.rs`: `IdMap`, the maps by id above, with a cheap hash.
//! - `externref.rs`: the JS values behind `externref`s.
//! - `external.rs`: ArrayBuffers over engine-owned bytes.
//! - `atomics.rs`: `Atomics.wait`/`notify` on shared memories' buffers, in heron's parking lot.
//! - `termination.rs`: a terminating Worker stops its waits in heron's parking lot.
//! - `transfer.rs`: carriers of modules and shared memories to other Workers (`lib/transfer.js`).
//! - `shared_buffer.rs`: SharedArrayBuffers over shared memories (with the C++ shim in `shim/`).
//! - `convert.rs`: ToWebAssemblyValue / ToJSValue.
//! - `cache.rs`: the code cache's directory, statistics, clearing and flushing.
//! - `error.rs`: engine errors thrown as the JS error classes `index.js` registers.

mod atomics;
mod cache;
mod convert;
mod error;
mod exception;
mod export;
mod external;
mod externref;
mod global;
mod id_hash;
mod import;
mod instance;
mod link;
mod memory;
mod module;
mod napi_raw;
mod profiling;
mod scope;
mod shared_buffer;
mod slots;
mod table;
mod termination;
mod transfer;
