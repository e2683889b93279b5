//! Compiled code is position-independent: the same module compiles to the same bytes in two
//! processes with different address-space layouts (ASLR moves the builtins table and every
//! other address) and different engine-wide signature ids. A persistent code cache relies
//! on it.
//!
//! The test runs itself twice as a child process (the same test executable, filtered to this
//! test, with `HERON_PIC_CHILD` set); each child prints a digest of every function's machine
//! code, and the parent compares them.

use crate::common::wat_to_wasm;
use heron_engine::{Compilation, Engine, Module};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::process::Command;

/// Calls, `call_indirect`, loads and stores, builtins (`memory.grow`, `memory.copy`,
/// `memory.fill`, `table.grow`, `table.fill`, `memory.init`, `data.drop`), globals, tables,
/// and `ref.func` of an import.
const MODULE: &str = r#"(module
    (type $binary (func (param i32 i32) (result i32)))
    (type $unary (func (param i64) (result i64)))
    (import "host" "log" (func $log (param i32)))
    (memory 1 10)
    (table $funcs 4 funcref)
    (table $refs 1 externref)
    (global $counter (mut i32) (i32.const 0))
    (global $wide (mut i64) (i64.const 7))
    (data $bytes "abcdef")
    (elem (table $funcs) (i32.const 0) func $add $sub)
    (elem declare func $log)
    (func $add (type $binary) (i32.add (local.get 0) (local.get 1)))
    (func $sub (type $binary) (i32.sub (local.get 0) (local.get 1)))
    (func $square (type $unary) (i64.mul (local.get 0) (local.get 0)))
    (func (export "dispatch") (param i32 i32 i32) (result i32)
        (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
        (call $log (global.get $counter))
        (call_indirect (type $binary) (local.get 1) (local.get 2) (local.get 0)))
    (func (export "memory_ops") (param i32) (result i32)
        (drop (memory.grow (i32.const 1)))
        (memory.copy (i32.const 100) (i32.const 0) (local.get 0))
        (memory.fill (i32.const 200) (i32.const 7) (i32.const 16))
        (memory.init $bytes (i32.const 300) (i32.const 0) (i32.const 6))
        (data.drop $bytes)
        (i32.store offset=8 (local.get 0) (i32.load8_u (i32.const 300)))
        (i32.add (memory.size) (i32.load (i32.const 8))))
    (func (export "table_ops") (result i32)
        (drop (table.grow $refs (ref.null extern) (i32.const 2)))
        (table.fill $funcs (i32.const 2) (ref.func $log) (i32.const 2))
        (table.size $funcs))
    (func (export "wide") (param i64) (result i64)
        (global.set $wide (call $square (local.get 0)))
        (global.get $wide)))"#;

/// A module whose types other engines register first, so that the engine-wide signature ids
/// of `MODULE`'s types differ between the two children.
const SHIFT_IDS: &str = r#"(module
    (func (param f64 f64 f64) (result f64) (local.get 0))
    (func (param f32) (result i32 i32) (i32.const 0) (i32.const 1))
    (func (param i32 i32) (result i32) (local.get 0)))"#;

const CHILD: &str = "HERON_PIC_CHILD";
const MARK: &str = "heron-pic-code ";

fn digest(code: &[Vec<u8>]) -> Vec<String> {
    code.iter()
        .map(|bytes| {
            let mut hasher = DefaultHasher::new();
            bytes.hash(&mut hasher);
            format!("{}:{:016x}", bytes.len(), hasher.finish())
        })
        .collect()
}

/// What a child prints: where the builtins live in this process (an address of heron-engine's
/// code, which moves with the library), then the digest of each function's code.
fn child(shift_ids: bool) {
    let engine = Engine::with_compilation(Compilation::OnDemand).expect("an engine");
    if shift_ids {
        Module::new(&engine, &wat_to_wasm(SHIFT_IDS)).expect("compiles");
    }
    let module = Module::new(&engine, &wat_to_wasm(MODULE)).expect("compiles");
    let code = module.compiled_code_for_testing().expect("compiles");
    println!("{MARK}address {:#x}", Engine::new as fn() -> _ as usize);
    for line in digest(&code) {
        println!("{MARK}{line}");
    }
}

fn run_child(shift_ids: bool) -> Vec<String> {
    let path = module_path!().split_once("::").map_or(module_path!(), |(_, path)| path);
    let output = Command::new(std::env::current_exe().expect("the test executable"))
        .args([&format!("{path}::machine_code_is_the_same_in_every_process"), "--exact", "--nocapture"])
        .env(CHILD, if shift_ids { "shift" } else { "plain" })
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "child failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    stdout.lines().filter_map(|line| line.strip_prefix(MARK)).map(str::to_owned).collect()
}

#[test]
fn machine_code_is_the_same_in_every_process() {
    if let Ok(mode) = std::env::var(CHILD) {
        return child(mode == "shift");
    }
    let first = run_child(false);
    let second = run_child(true);
    assert!(first.len() > 5, "the child printed its code: {first:?}");
    let aslr = std::fs::read_to_string("/proc/sys/kernel/randomize_va_space").is_ok_and(|v| v.trim() != "0");
    if aslr {
        assert_ne!(first[0], second[0], "the two processes have different layouts");
    }
    assert_eq!(first[1..], second[1..], "machine code differs between processes");
}
