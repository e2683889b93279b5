//! Every engine integration test but the spec runner (`spec.rs`, its own harness) and the
//! reservation-budget test (`reservation.rs`), in one binary (as Wasmtime's `tests/all`):
//! one link instead of one per file.

// `reservation.rs` uses part of the helpers only.
#[allow(dead_code)]
#[path = "../common/mod.rs"]
mod common;

mod api;
mod backtrace;
mod cache;
mod controls;
mod fuzz;
mod lazy;
mod lifetimes;
mod memory_image;
mod pic;
mod relaxed_simd;
mod tail_calls;
