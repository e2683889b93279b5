//! Everything that maps memory, runs code or handles signals, and the process's state: the
//! code cache's files, code memory, signals, entry, exceptions and their unwinder,
//! builtins (libcalls), memories, tables, globals, instances, stores, and the scheduler
//! that fills a module's code table. Depends on `environ`; reaches the compiler only
//! through `lazy::CodeSource`, which the API layer implements.

pub(crate) mod backtrace;
pub(crate) mod code_cache;
pub(crate) mod code_memory;
pub(crate) mod entry;
pub(crate) mod exception;
pub(crate) mod global;
pub(crate) mod instance;
pub(crate) mod instance_registry;
pub(crate) mod interrupts;
pub(crate) mod lazy;
pub(crate) mod libcalls;
pub(crate) mod memory;
pub(crate) mod memory_image;
pub(crate) mod perf_map;
pub(crate) mod shared_memory;
pub(crate) mod sigint;
pub(crate) mod signals;
pub(crate) mod store;
pub(crate) mod sys;
pub(crate) mod table;
pub(crate) mod tag;
pub(crate) mod throw;
