//! Wasm backtraces of traps and failed host functions (frames, names, module offsets), and
//! the perf map that names compiled code for `perf`.

use heron_engine::{Backtrace, Compilation, Engine, Extern, Func, FuncType, HostError, Instance, Module, Val};
use wasmparser::{Operator, Parser, Payload};

use crate::common::{export, wat_to_wasm};

const NAMED: &str = r#"(module $mymod
    (import "host" "fail" (func $fail))
    (func $inner (param i32) (result i32)
        (if (local.get 0) (then (call $fail)))
        unreachable)
    (func $outer (export "outer") (param i32) (result i32)
        nop
        (call $inner (local.get 0)))
    (func (export "anonymous") unreachable)
    (func $recurse (export "recurse") (call $recurse)))"#;

/// Module offsets of the operators of defined function `defined` matching `wanted`.
fn offsets_of(bytes: &[u8], defined: usize, wanted: fn(&Operator<'_>) -> bool) -> Vec<u32> {
    let body = Parser::new(0)
        .parse_all(bytes)
        .filter_map(|payload| match payload.expect("the test's module parses") {
            Payload::CodeSectionEntry(body) => Some(body),
            _ => None,
        })
        .nth(defined)
        .expect("the function exists");
    let mut reader = body.get_operators_reader().expect("the body reads");
    let mut offsets = Vec::new();
    while !reader.eof() {
        let offset = reader.original_position() as u32;
        if wanted(&reader.read().expect("the operator reads")) {
            offsets.push(offset);
        }
    }
    offsets
}

/// Module offset of the body of defined function `defined` (its locals, after the size).
fn body_start(bytes: &[u8], defined: usize) -> u32 {
    let body = Parser::new(0)
        .parse_all(bytes)
        .filter_map(|payload| match payload.expect("the test's module parses") {
            Payload::CodeSectionEntry(body) => Some(body),
            _ => None,
        })
        .nth(defined)
        .expect("the function exists");
    body.range().start as u32
}

fn instantiate(compilation: Compilation, bytes: &[u8]) -> Instance {
    let engine = Engine::default();
    let module = Module::with_compilation(&engine, bytes, compilation).expect("the module compiles");
    let fail = Func::new(&engine, FuncType::new([], []), |_, _| Err(HostError::new("failed")));
    Instance::new(&module, &[Extern::Func(fail)]).expect("the module instantiates")
}

/// (function index, function name, module offset) of each frame.
fn frames(backtrace: &Backtrace) -> Vec<(u32, Option<String>, u32)> {
    backtrace.frames().iter().map(|f| (f.func_index(), f.func_name().map(str::to_owned), f.module_offset())).collect()
}

#[test]
fn a_trap_lists_the_wasm_frames_innermost_first_in_every_compilation_mode() {
    let bytes = wat_to_wasm(NAMED);
    let unreachable = offsets_of(&bytes, 0, |op| matches!(op, Operator::Unreachable))[0];
    let call_inner = offsets_of(&bytes, 1, |op| matches!(op, Operator::Call { .. }))[0];
    for compilation in [Compilation::Eager, Compilation::Lazy, Compilation::OnDemand, Compilation::Baseline] {
        let instance = instantiate(compilation, &bytes);
        let error = export(&instance, "outer").call(&[Val::I32(0)]).expect_err("traps");
        assert!(matches!(error, heron_engine::Error::Trap(heron_engine::Trap::Unreachable)), "{error:?}");
        let backtrace = Backtrace::take_last().expect("a trap leaves a backtrace");
        assert_eq!(
            frames(&backtrace),
            [(1, Some("inner".to_owned()), unreachable), (2, Some("outer".to_owned()), call_inner)],
            "{compilation:?}"
        );
        assert_eq!(backtrace.frames()[0].module_name(), Some("mymod"));
        assert!(Backtrace::take_last().is_none(), "taken once");
    }
}

#[test]
fn a_failed_host_function_lists_the_wasm_frames_that_called_it() {
    let bytes = wat_to_wasm(NAMED);
    let call_fail = offsets_of(&bytes, 0, |op| matches!(op, Operator::Call { .. }))[0];
    let call_inner = offsets_of(&bytes, 1, |op| matches!(op, Operator::Call { .. }))[0];
    let instance = instantiate(Compilation::Eager, &bytes);
    let error = export(&instance, "outer").call(&[Val::I32(1)]).expect_err("the host fails");
    assert!(matches!(error, heron_engine::Error::Host(_)), "{error:?}");
    let backtrace = Backtrace::take_last().expect("a host failure leaves a backtrace");
    assert_eq!(
        frames(&backtrace),
        [(1, Some("inner".to_owned()), call_fail), (2, Some("outer".to_owned()), call_inner)]
    );
}

#[test]
fn functions_without_a_name_have_none() {
    let bytes = wat_to_wasm(NAMED);
    let instance = instantiate(Compilation::Eager, &bytes);
    export(&instance, "anonymous").call(&[]).expect_err("traps");
    let backtrace = Backtrace::take_last().expect("a trap leaves a backtrace");
    let unreachable = offsets_of(&bytes, 2, |op| matches!(op, Operator::Unreachable))[0];
    assert_eq!(frames(&backtrace), [(3, None, unreachable)]);
}

#[test]
fn a_stack_overflow_keeps_the_innermost_frames() {
    let bytes = wat_to_wasm(NAMED);
    let instance = instantiate(Compilation::Eager, &bytes);
    let error = export(&instance, "recurse").call(&[]).expect_err("overflows");
    assert!(matches!(error, heron_engine::Error::Trap(heron_engine::Trap::StackOverflow)), "{error:?}");
    let backtrace = Backtrace::take_last().expect("a trap leaves a backtrace");
    let call = offsets_of(&bytes, 3, |op| matches!(op, Operator::Call { .. }))[0];
    assert!(backtrace.frames().len() > 10, "{} frames", backtrace.frames().len());
    // Every frame below the innermost waits on the recursive call; the innermost overflowed
    // in the prologue, which is at the body's start (where V8 places it too).
    assert!(backtrace.frames()[1..].iter().all(|f| f.func_index() == 4 && f.module_offset() == call));
    assert_eq!(backtrace.frames()[0].module_offset(), body_start(&bytes, 3));
}

#[test]
fn the_perf_map_names_each_loaded_function() {
    heron_engine::enable_perf_map();
    let bytes = wat_to_wasm(NAMED);
    // An engine of its own: the process-wide one may share code another test loaded before
    // the map was on (a live module of the same bytes), and then nothing would be written.
    let engine = Engine::new().expect("an engine");
    let _module = Module::with_compilation(&engine, &bytes, Compilation::Eager).expect("the module compiles");
    let map = std::fs::read_to_string(heron_engine::perf_map_path()).expect("the perf map was written");
    for name in ["wasm:mymod:inner", "wasm:mymod:outer", "wasm:mymod:wasm-function[3]", "wasm:mymod:recurse"] {
        let line = map.lines().find(|line| line.ends_with(&format!(" {name}"))).unwrap_or_else(|| panic!("{name}"));
        let fields: Vec<&str> = line.splitn(3, ' ').collect();
        let start = u64::from_str_radix(fields[0], 16).expect("hex start");
        let size = u64::from_str_radix(fields[1], 16).expect("hex size");
        assert!(start > 0 && size > 0, "{line}");
    }
}
