//! The perf map: `/tmp/perf-<pid>.map`, where Linux `perf` looks up the names of JIT code.
//! When it is on, `code_memory.rs` appends a `START SIZE NAME` line (hex start and size) for
//! every function it publishes, wasm functions as `wasm:<module>:<function>`.
//!
//! The map is one per process, so the switch is too: `HERON_PERF_MAP=1` in the environment
//! when the first engine is made, or [`enable`] (the JS binding calls it when Node runs with
//! `--perf-basic-prof`). Node's V8 writes the same file then; the file is opened with
//! `O_APPEND` and each batch of lines goes out in one `write`, so lines from both stay whole.

use crate::environ::names::ModuleNames;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Mutex;

static ENABLED: AtomicBool = AtomicBool::new(false);
/// The open map, once something was written; `Err` remembers a failed open (not retried).
static FILE: Mutex<Option<Result<File, ()>>> = Mutex::new(None);

/// Turns the perf map on for the rest of the process: code loaded from now on is listed.
pub fn enable() {
    ENABLED.store(true, Relaxed);
}

/// Turns the perf map on if the environment says so (`HERON_PERF_MAP=1`).
pub(crate) fn enable_from_env() {
    if std::env::var("HERON_PERF_MAP").is_ok_and(|v| v == "1") {
        enable();
    }
}

/// Whether code loaded now must be listed.
pub(crate) fn enabled() -> bool {
    ENABLED.load(Relaxed)
}

/// The map's path for this process.
pub fn path() -> String {
    format!("/tmp/perf-{}.map", std::process::id())
}

/// The perf name of wasm function `index` of the module `names` describes:
/// `wasm:<module name, else the module's hash>:<function name, else wasm-function[index]>`.
pub(crate) fn wasm_function_name(names: &ModuleNames, index: u32) -> String {
    let module = names.module.clone().unwrap_or_else(|| format!("{:08x}", names.hash()));
    let function = names.function(index).map_or_else(|| format!("wasm-function[{index}]"), str::to_owned);
    // A line ends the name: names from the module must not start a forged line.
    format!("wasm:{module}:{function}").replace(['\n', '\r'], " ")
}

/// Appends `lines` (whole lines) to the map in one write. Profiling is best effort: a map
/// that cannot be opened or written is skipped, never an error for the code being loaded.
pub(crate) fn append(lines: &str) {
    let mut file = FILE.lock().unwrap_or_else(|e| e.into_inner());
    let file = file.get_or_insert_with(|| OpenOptions::new().create(true).append(true).open(path()).map_err(|_| ()));
    if let Ok(file) = file {
        let _ = file.write_all(lines.as_bytes());
    }
}
