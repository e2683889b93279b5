//! The engine's layers (ARCHITECTURE.md), checked: every `crate::` path in a module must
//! name a layer its own layer may depend on.
//!
//! - `environ/` depends on nothing else in the crate;
//! - `compiler/` on `environ` only;
//! - `runtime/` on `environ`, plus the API types listed in `RUNTIME_UPWARD` (a ratchet:
//!   the list may shrink, never grow); it reaches the compiler through
//!   `runtime::lazy::CodeSource`, which the API layer implements;
//! - the API files at the top (`engine.rs`, `module.rs`, `func.rs`, `values.rs`, `lib.rs`)
//!   on everything.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Runtime modules that still name API types (the runtime objects `Memory`, `Table`,
/// `Global`, `Instance` are public API types themselves, and take an `Engine` or hold `Val`s
/// and `Func`s). `(runtime file, API module)`.
const RUNTIME_UPWARD: &[(&str, &str)] = &[
    ("runtime/global.rs", "engine"),
    ("runtime/global.rs", "values"),
    ("runtime/instance.rs", "func"),
    ("runtime/instance.rs", "module"),
    ("runtime/instance.rs", "values"),
    ("runtime/libcalls.rs", "func"),
    ("runtime/memory.rs", "engine"),
    ("runtime/store.rs", "func"),
    ("runtime/table.rs", "engine"),
    ("runtime/table.rs", "values"),
];

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the source directory reads") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without comments (line comments, doc comments and block comments), so that
/// paths named in prose do not count.
fn strip_comments(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while !rest.is_empty() {
        if rest.starts_with("//") {
            rest = rest.find('\n').map_or("", |end| &rest[end..]);
        } else if rest.starts_with("/*") {
            rest = rest.find("*/").map_or("", |end| &rest[end + 2..]);
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn ident(text: &str) -> &str {
    let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(text.len());
    &text[..end]
}

/// The top-level crate modules a file names through `crate::` paths, grouped imports
/// (`use crate::{a::X, b}`) included.
fn crate_modules(source: &str) -> BTreeSet<String> {
    let source = strip_comments(source);
    let mut modules = BTreeSet::new();
    for (at, _) in source.match_indices("crate::") {
        let after = source[at + "crate::".len()..].trim_start();
        if let Some(group) = after.strip_prefix('{') {
            // Top-level items of the group: the first identifier after `{` and after each
            // comma at depth 0.
            let mut depth = 0;
            let mut start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && (c.is_alphanumeric() || c == '_') => {
                        modules.insert(ident(&group[i..]).to_owned());
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident(after);
            if !name.is_empty() {
                modules.insert(name.to_owned());
            }
        }
    }
    modules
}

/// Which layer a file (relative to `src/`) belongs to.
fn layer(relative: &str) -> &'static str {
    match relative.split('/').next() {
        Some("environ") => "environ",
        Some("compiler") => "compiler",
        Some("runtime") => "runtime",
        _ => "api",
    }
}

#[test]
fn layers_depend_only_downwards() {
    let root = source_dir();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut violations = Vec::new();
    let mut upward_seen = BTreeSet::new();
    for path in &files {
        let relative = path.strip_prefix(&root).expect("under src").to_string_lossy().replace('\\', "/");
        let source = std::fs::read_to_string(path).expect("the file reads");
        let layer = layer(&relative);
        for module in crate_modules(&source) {
            let allowed = match (layer, module.as_str()) {
                (_, "environ") => true,
                ("compiler", "compiler") | ("runtime", "runtime") | ("api", _) => true,
                ("runtime", api) if RUNTIME_UPWARD.contains(&(relative.as_str(), api)) => {
                    upward_seen.insert((relative.clone(), api.to_owned()));
                    true
                }
                _ => false,
            };
            if !allowed {
                violations.push(format!("{relative} ({layer}) imports crate::{module}"));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "dependencies against the layering (see ARCHITECTURE.md):\n{}",
        violations.join("\n")
    );
    let stale: Vec<_> = RUNTIME_UPWARD
        .iter()
        .filter(|(file, api)| !upward_seen.contains(&(file.to_string(), api.to_string())))
        .collect();
    assert!(stale.is_empty(), "no longer needed, remove from RUNTIME_UPWARD: {stale:?}");
}

#[test]
fn the_compiler_forbids_unsafe_code() {
    let source = std::fs::read_to_string(source_dir().join("compiler/mod.rs")).expect("reads");
    assert!(source.contains("#![forbid(unsafe_code)]"));
}

#[test]
fn the_parser_sees_every_form_of_path() {
    let source = "use crate::environ::x;\n// crate::runtime in a comment\nuse crate::{compiler::a, runtime::{b, c}};\nfn f() { crate::module::g(); }";
    let found: Vec<_> = crate_modules(source).into_iter().collect();
    assert_eq!(found, ["compiler", "environ", "module", "runtime"]);
}
