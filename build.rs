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
    build_shared_buffer_shim();
}

/// Compiles `src/shim/shared_buffer.cc` (SharedArrayBuffers over wasm memory, which
/// Node-API cannot make) against the V8 headers of the Node running the build (or
/// `HERON_NODE_INCLUDE`), and links it in. Without headers the addon builds without it
/// (`cfg(heron_no_shared_buffer)`), and shared memories' `buffer` throws saying so.
fn build_shared_buffer_shim() {
    println!("cargo:rustc-check-cfg=cfg(heron_no_shared_buffer)");
    println!("cargo:rerun-if-changed=src/shim/shared_buffer.cc");
    println!("cargo:rerun-if-env-changed=HERON_NODE_INCLUDE");
    let include = std::env::var_os("HERON_NODE_INCLUDE").map(std::path::PathBuf::from).or_else(node_include_dir);
    let Some(include) = include.filter(|dir| dir.join("v8.h").is_file() && dir.join("node_api.h").is_file()) else {
        println!("cargo:warning=Node's V8 headers not found: shared memories will have no buffer");
        println!("cargo:rustc-cfg=heron_no_shared_buffer");
        return;
    };
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let object = out.join("shared_buffer.o");
    let compiler = std::env::var("CXX").unwrap_or_else(|_| "c++".to_string());
    let status = std::process::Command::new(&compiler)
        .args(["-c", "-O2", "-fPIC", "-std=c++20", "-fno-exceptions", "-fno-rtti", "-w"])
        .arg("-I")
        .arg(&include)
        .arg("src/shim/shared_buffer.cc")
        .arg("-o")
        .arg(&object)
        .status();
    let archive = out.join("libheron_shared_buffer.a");
    let archived = status.is_ok_and(|s| s.success())
        && std::process::Command::new("ar").arg("crs").arg(&archive).arg(&object).status().is_ok_and(|s| s.success());
    if !archived {
        println!("cargo:warning=could not compile src/shim/shared_buffer.cc with {compiler}: shared memories will have no buffer");
        println!("cargo:rustc-cfg=heron_no_shared_buffer");
        return;
    }
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=heron_shared_buffer");
}

/// `<prefix>/include/node` of the `node` on PATH (the one building the package).
fn node_include_dir() -> Option<std::path::PathBuf> {
    let output = std::process::Command::new("node").args(["-p", "process.execPath"]).output().ok()?;
    let exec = std::path::PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    Some(exec.parent()?.parent()?.join("include").join("node"))
}
