//! Helpers shared by the engine's integration tests.

use heron_engine::{Engine, Extern, Func, Instance, Module};

/// The binary of a module written in the text format.
pub fn wat_to_wasm(source: &str) -> Vec<u8> {
    let buffer = wast::parser::ParseBuffer::new(source).expect("the test's text lexes");
    let mut wat = wast::parser::parse::<wast::Wat>(&buffer).expect("the test's text parses");
    wat.encode().expect("the test's module encodes")
}

/// The function `instance` exports as `name`.
pub fn export(instance: &Instance, name: &str) -> Func {
    match instance.get_export(name) {
        Some(Extern::Func(func)) => func,
        _ => panic!("no function export {name}"),
    }
}

/// A module written in the text format, compiled by `engine`.
pub fn compile_wat(engine: &Engine, source: &str) -> Module {
    Module::new(engine, &wat_to_wasm(source)).expect("the test's module compiles")
}

/// `module` instantiated with `imports`.
pub fn instantiate(module: &Module, imports: &[Extern]) -> Instance {
    Instance::new(module, imports).expect("the test's module instantiates")
}
