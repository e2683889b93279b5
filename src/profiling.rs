//! Profiling switches the JS side sets: `index.js` turns heron's perf map on when Node runs
//! with a V8 perf flag (`--perf-basic-prof` and the like), so `perf` names wasm functions
//! next to V8's own code without `HERON_PERF_MAP=1`.

use napi_derive::napi;

/// Turns the perf map (`/tmp/perf-PID.map`) on for the rest of the process: every function
/// compiled from now on is listed.
#[napi]
pub fn enable_perf_map() {
    heron_engine::enable_perf_map();
}
