//! Sets up the napi-rs link flags, and refuses targets heron's engine has not been ported
//! to, naming what is missing, rather than failing later with obscure errors or building
//! an addon that crashes. `package.json`'s `napi.targets` lists the same supported target.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if os != "linux" || arch != "x86_64" {
        let mut unported = Vec::new();
        if arch != "x86_64" {
            unported.push(
                "trap handling reads the x86-64 registers RIP and RSP of the signal \
                 ucontext, and the wasm entry stub is x86-64 assembly",
            );
        }
        if os != "linux" {
            unported.push(
                "linear memories grow with Linux mremap, trap handling reads the Linux \
                 ucontext layout, and the wasm entry stub uses ELF directives",
            );
        }
        panic!(
            "heron does not support target {arch}-{os} yet: only x86_64 Linux (x86_64-unknown-linux-gnu) is \
             ported. Unported parts of crates/engine: {}.",
            unported.join("; ")
        );
    }
    napi_build::setup();
}
