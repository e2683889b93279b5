//! Build facts for the code cache's engine fingerprint (`engine.rs`): the Cranelift version
//! (from Cargo.lock) and a build id, a hash of the engine's sources and of Cargo.lock, so
//! that any change to the code generator, even without a version bump, keys new entries.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let lock_path = manifest.join("../../Cargo.lock");
    let lock = std::fs::read_to_string(&lock_path).unwrap_or_default();
    let mut hasher = DefaultHasher::new();
    lock.hash(&mut hasher);
    let mut files = Vec::new();
    rust_files(&manifest.join("src"), &mut files);
    files.push(manifest.join("Cargo.toml"));
    files.sort();
    for file in &files {
        file.strip_prefix(&manifest).unwrap_or(file).hash(&mut hasher);
        std::fs::read(file).unwrap_or_default().hash(&mut hasher);
    }
    println!("cargo:rustc-env=HERON_BUILD_ID={:016x}", hasher.finish());
    println!("cargo:rustc-env=HERON_CRANELIFT_VERSION={}", cranelift_version(&lock));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed={}", lock_path.display());
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The version of `cranelift-codegen` Cargo.lock names, or "unknown".
fn cranelift_version(lock: &str) -> String {
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"cranelift-codegen\"" {
            if let Some(version) = lines.next().and_then(|l| l.trim().strip_prefix("version = ")) {
                return version.trim_matches('"').to_owned();
            }
        }
    }
    "unknown".to_owned()
}
