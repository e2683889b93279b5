//! The perf map: `/tmp/perf-<pid>.map`, where Linux `perf` looks up the names of JIT code.
//! When it is on, `code_memory.rs` appends a `START SIZE NAME` line (hex start and size) for
//! every function it publishes, wasm functions as `wasm:<module>:<function>`.
//!
//! The map is one per process, so the switch is too: `HERON_PERF_MAP=1` in the environment
//! when the first engine is made, or [`enable`] (the JS binding calls it when Node runs with
//! `--perf-basic-prof`). Node's V8 writes the same file then, through its own descriptor,
//! opened (`w+`) without `O_APPEND`: its writes would land at its own offset, over lines
//! heron appended. So when heron opens the map it also sets `O_APPEND` on every other
//! descriptor of the process open on it; with each batch of lines going out in one `write`,
//! lines from both stay whole and none is overwritten.

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
    let file = file.get_or_insert_with(|| {
        let opened = OpenOptions::new().create(true).append(true).open(path()).map_err(|_| ());
        make_other_writers_append();
        opened
    });
    if let Ok(file) = file {
        let _ = file.write_all(lines.as_bytes());
    }
}

/// Sets `O_APPEND` on every descriptor of this process open on the map (V8's, when Node
/// runs with `--perf-basic-prof`), so their writes go to the end too.
fn make_other_writers_append() {
    let Ok(descriptors) = std::fs::read_dir("/proc/self/fd") else { return };
    let map = std::path::PathBuf::from(path());
    for entry in descriptors.flatten() {
        let Some(fd) = entry.file_name().to_str().and_then(|name| name.parse::<libc::c_int>().ok()) else { continue };
        if std::fs::read_link(entry.path()).is_ok_and(|target| target == map) {
            // SAFETY: F_GETFL and F_SETFL read and change only the status flags of the open
            // file description (no memory is passed); a descriptor closed since the listing
            // makes them fail harmlessly with EBADF. O_APPEND changes only where writes go.
            unsafe {
                let flags = libc::fcntl(fd, libc::F_GETFL);
                if flags >= 0 && flags & libc::O_APPEND == 0 {
                    libc::fcntl(fd, libc::F_SETFL, flags | libc::O_APPEND);
                }
            }
        }
    }
}
