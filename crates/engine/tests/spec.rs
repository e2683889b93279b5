//! The WebAssembly spec testsuite, run against heron-engine.
//!
//! Runs every `.wast` script under the testsuite's `2.0` and `3.0` directories (by default
//! `../shared/testsuite` beside the workspace; `HERON_TESTSUITE` may name that directory or its
//! `2.0` directory) and every `tests/misc/*.wast`, and prints one line per script. Each script
//! runs with its version's features: a `2.0` script's modules must also validate as
//! WebAssembly 2.0 (its `assert_invalid`s reject what later versions allow, such as a second
//! memory), while `3.0` and `misc` scripts get everything the engine enables. Scripts that
//! do not pass completely yet are listed, with the number of commands they pass, in
//! `tests/spec-expectations.txt`: the run fails only when an unlisted script fails a command or a
//! listed one passes fewer commands than recorded, so progress is kept and regressions are caught.
//! `HERON_BLESS=1` rewrites that list from the current results. For development,
//! `HERON_WAST_FILTER=substring` runs only the scripts whose path contains the substring,
//! `HERON_WAST_VERBOSE=1` prints every failing command to stderr, and `HERON_WAST_VERBOSE=2` also
//! prints each command's position before running it (to find a command that crashes the process).
//! `HERON_WAST_CONTROLS=1` instantiates every module interruptible, with a one-hour timeout
//! and fuel of 2^62, so the code with interrupt checks and fuel counting runs the suite.

use heron_engine::{
    AddressType, Compilation, Config, Engine, Error, Extern, ExternRef, Func, FuncType, Global, GlobalType, ImportDesc,
    Instance, Limits, Memory, MemoryType, Module, SharedMemory, Table, TableType, Trap, Val, ValType,
};
use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroUsize;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use wasmparser::WasmFeatures;
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::lexer::Lexer;
use wast::parser::ParseBuffer;
use wast::token::{Id, F32, F64};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, WastThread, Wat};

/// The controls every instance gets: none, or under `HERON_WAST_CONTROLS=1` interrupt checks
/// (a deadline never reached) and fuel (a budget never used up).
fn spec_controls() -> heron_engine::Controls {
    if std::env::var("HERON_WAST_CONTROLS").is_ok_and(|v| v == "1") {
        heron_engine::Controls {
            timeout: Some(std::time::Duration::from_secs(3600)),
            fuel: Some(1 << 62),
            ..heron_engine::Controls::default()
        }
    } else {
        heron_engine::Controls::default()
    }
}

/// The expectations file, relative to this crate's `tests` directory.
const EXPECTATIONS_FILE: &str = "spec-expectations.txt";

/// Header written above the entries when blessing.
const EXPECTATIONS_HEADER: &str = "\
# Spec-test expectations for heron-engine, read by tests/spec.rs.
#
# Each entry is a .wast script that does not pass completely yet, with the number of its
# commands that pass:
#     <path relative to the testsuite root (misc/ for tests/misc)> <passed commands>
# The spec test fails if a script not listed here fails any command, or if a listed script
# passes fewer commands than recorded. Scripts that improve only print a note; record the
# improvement (and drop scripts that now pass) by regenerating this file:
#     HERON_BLESS=1 cargo test --release -p heron-engine --test spec
";

fn main() {
    let suite_root = locate_testsuite().unwrap_or_else(|message| exit_with(&message));
    // Command-line arguments are ignored: `cargo test NAME` passes its unit-test filter here too.
    let filter = std::env::var("HERON_WAST_FILTER").ok().filter(|filter| !filter.is_empty());
    let verbosity = std::env::var("HERON_WAST_VERBOSE").ok().and_then(|v| v.parse::<u8>().ok()).unwrap_or(0);
    let blessing = env_flag("HERON_BLESS");
    let expectations_path = tests_dir().join(EXPECTATIONS_FILE);
    let expectations = read_expectations(&expectations_path).unwrap_or_else(|message| exit_with(&message));

    let scripts: Vec<Script> = collect_scripts(&suite_root)
        .into_iter()
        .filter(|script| filter.as_ref().is_none_or(|filter| script.key.contains(filter.as_str())))
        .collect();
    if scripts.is_empty() {
        exit_with(&format!("no .wast scripts found under {} (filter: {filter:?})", suite_root.display()));
    }

    let mut results = Vec::new();
    for script in &scripts {
        let report = run_script_isolated(&Engine::default(), script, false, verbosity);
        println!("{}", report.summary_line(&script.key));
        results.push((script.key.clone(), report));
    }

    let mut problems = check_ratchet(&results, &expectations, filter.is_none());
    problems.extend(run_extra_passes(&scripts, &expectations, verbosity));
    if blessing {
        let blessed = blessed_expectations(&results, &expectations);
        if let Err(e) = std::fs::write(&expectations_path, blessed) {
            exit_with(&format!("cannot write {}: {e}", expectations_path.display()));
        }
        println!("blessed: rewrote {}", expectations_path.display());
    } else {
        for problem in &problems {
            println!("ERROR: {problem}");
        }
    }

    let mut files = Counts::default();
    let mut commands = Counts::default();
    for (_, report) in &results {
        match report.status() {
            Status::Pass => files.passed += 1,
            Status::Fail => files.failed += 1,
            Status::Skip => files.skipped += 1,
        }
        commands.passed += report.passed;
        commands.failed += report.failed;
        commands.skipped += report.skipped;
    }
    println!(
        "files: {} passed, {} failed, {} skipped; commands: {} passed, {} failed, {} skipped",
        files.passed, files.failed, files.skipped, commands.passed, commands.failed, commands.skipped
    );
    if !problems.is_empty() && !blessing {
        println!("the spec test regressed; see the ERROR lines above (HERON_BLESS=1 records the current state)");
    }
    // Last line: the test summary CI tools look for (counting scripts).
    println!("{} passed, {} failed", files.passed, files.failed);
    if !problems.is_empty() && !blessing {
        std::process::exit(1);
    }
}

fn exit_with(message: &str) -> ! {
    eprintln!("spec: {message}");
    std::process::exit(1);
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|value| !value.is_empty() && value != "0")
}

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

// ---------------------------------------------------------------------------------------------
// Finding the scripts

/// The testsuite's directories that are run, one per version of the spec.
const SUITE_VERSIONS: [&str; 2] = ["2.0", "3.0"];

/// The testsuite's directories of proposals heron implements beyond those versions, always run.
const PROPOSAL_DIRS: [&str; 2] = ["threads", "legacy-exceptions"];

/// A `.wast` file and the key it is reported and recorded under.
struct Script {
    key: String,
    path: PathBuf,
    /// What its modules must validate as besides the engine's own features: WebAssembly 2.0
    /// for the `2.0` scripts, nothing more for the others.
    version_features: Option<WasmFeatures>,
    /// Whether this is a `3.0` script whose file name a `2.0` script has too: mostly the
    /// same commands again, so the extra passes leave it out (the main pass runs it).
    repeats_2_0: bool,
}

/// The directory holding the testsuite's `2.0` directory.
fn locate_testsuite() -> Result<PathBuf, String> {
    let candidates = match std::env::var_os("HERON_TESTSUITE") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            // Accept the `2.0` directory itself as well as the directory containing it.
            vec![dir.join("2.0"), dir]
        }
        None => {
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            vec![workspace.join("../shared/testsuite/2.0")]
        }
    };
    for candidate in &candidates {
        if candidate.is_dir() && candidate.file_name().is_some_and(|name| name == "2.0") {
            let canonical = candidate.canonicalize().unwrap_or_else(|_| candidate.clone());
            return Ok(canonical.parent().map_or(canonical.clone(), Path::to_path_buf));
        }
    }
    let looked = candidates.iter().map(|c| format!("  {}", c.display())).collect::<Vec<_>>().join("\n");
    Err(format!(
        "spec testsuite not found; looked for a `2.0` directory at:\n{looked}\n\
         set HERON_TESTSUITE to the testsuite directory (the one containing `2.0`)"
    ))
}

/// All scripts, sorted: the testsuite's `2.0` and `3.0` trees and proposal directories, then
/// `tests/misc`.
fn collect_scripts(suite_root: &Path) -> Vec<Script> {
    let mut scripts = Vec::new();
    let mut names_2_0 = std::collections::HashSet::new();
    for version in SUITE_VERSIONS {
        let mut paths = Vec::new();
        collect_wast_files(&suite_root.join(version), &mut paths);
        paths.sort();
        for path in paths {
            let name = path.file_name().map(|name| name.to_os_string()).unwrap_or_default();
            let (version_features, repeats_2_0) = match version {
                "2.0" => {
                    names_2_0.insert(name);
                    (Some(WasmFeatures::WASM2), false)
                }
                _ => (None, names_2_0.contains(&name)),
            };
            scripts.push(Script { key: key_for(&path, suite_root), path, version_features, repeats_2_0 });
        }
    }
    for dir in PROPOSAL_DIRS {
        let mut paths = Vec::new();
        collect_wast_files(&suite_root.join(dir), &mut paths);
        paths.sort();
        for path in paths {
            scripts.push(Script { key: key_for(&path, suite_root), path, version_features: None, repeats_2_0: false });
        }
    }

    let misc = tests_dir().join("misc");
    let mut misc_paths = Vec::new();
    if misc.is_dir() {
        collect_wast_files(&misc, &mut misc_paths);
    }
    misc_paths.sort();
    scripts.extend(misc_paths.into_iter().map(|path| Script {
        key: key_for(&path, &tests_dir()),
        path,
        version_features: None,
        repeats_2_0: false,
    }));
    scripts
}

fn collect_wast_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_wast_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "wast") {
            out.push(path);
        }
    }
}

/// `path` relative to `root`, with `/` separators whatever the platform.
fn key_for(path: &Path, root: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

// ---------------------------------------------------------------------------------------------
// Expectations ratchet

fn read_expectations(path: &Path) -> Result<BTreeMap<String, usize>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut expectations = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut fields = line.split_whitespace();
        let entry = match (fields.next(), fields.next().map(str::parse::<usize>), fields.next()) {
            (Some(key), Some(Ok(passed)), None) => (key.to_string(), passed),
            _ => {
                return Err(format!(
                    "{}:{}: expected `<script path> <passed commands>`, found `{line}`",
                    path.display(),
                    number + 1
                ))
            }
        };
        expectations.insert(entry.0, entry.1);
    }
    Ok(expectations)
}

/// Compares results with the recorded expectations: prints notes about improvements and
/// returns the regressions.
fn check_ratchet(
    results: &[(String, FileReport)],
    expectations: &BTreeMap<String, usize>,
    ran_everything: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (key, report) in results {
        let recorded = expectations.get(key).copied();
        match (report.status(), recorded) {
            (Status::Skip, _) | (Status::Pass, None) => {}
            (Status::Pass, Some(_)) => {
                println!("note: {key} now passes completely; remove it from the list (or bless)");
            }
            (Status::Fail, None) => problems.push(format!(
                "{key} failed {} of {} commands but is not listed in {EXPECTATIONS_FILE}",
                report.failed,
                report.total()
            )),
            (Status::Fail, Some(recorded)) if report.passed < recorded => problems.push(format!(
                "{key} passed {} commands, fewer than the {recorded} recorded in {EXPECTATIONS_FILE}",
                report.passed
            )),
            (Status::Fail, Some(recorded)) if report.passed > recorded => println!(
                "note: {key} passes {} commands, more than the {recorded} recorded; bless to raise the bar",
                report.passed
            ),
            (Status::Fail, Some(_)) => {}
        }
    }
    if ran_everything {
        for key in expectations.keys() {
            if !results.iter().any(|(ran, _)| ran == key) {
                println!("note: {key} is listed in {EXPECTATIONS_FILE} but no such script was run");
            }
        }
    }
    problems
}

/// The expectations file for the current results. Entries of scripts that were not run (because
/// of a filter) are kept as they were.
fn blessed_expectations(results: &[(String, FileReport)], previous: &BTreeMap<String, usize>) -> String {
    let mut entries: BTreeMap<String, usize> = previous
        .iter()
        .filter(|(key, _)| !results.iter().any(|(ran, _)| ran == *key))
        .map(|(key, passed)| (key.clone(), *passed))
        .collect();
    for (key, report) in results {
        if report.status() == Status::Fail {
            entries.insert(key.clone(), report.passed);
        }
    }
    let mut text = EXPECTATIONS_HEADER.to_string();
    for (key, passed) in entries {
        text.push_str(&format!("{key} {passed}\n"));
    }
    text
}

// ---------------------------------------------------------------------------------------------
// Per-script reports

#[derive(Default)]
struct Counts {
    passed: usize,
    failed: usize,
    skipped: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Pass,
    Fail,
    Skip,
}

/// What happened to the commands of one script.
#[derive(Default)]
struct FileReport {
    passed: usize,
    failed: usize,
    skipped: usize,
    first_error: Option<String>,
}

impl FileReport {
    fn total(&self) -> usize {
        self.passed + self.failed
    }

    fn status(&self) -> Status {
        match (self.failed, self.passed) {
            (0, 0) => Status::Skip,
            (0, _) => Status::Pass,
            _ => Status::Fail,
        }
    }

    fn fail(&mut self, message: String) {
        self.failed += 1;
        self.first_error.get_or_insert(message);
    }

    fn summary_line(&self, key: &str) -> String {
        match self.status() {
            Status::Pass => format!("PASS {key} ({}/{})", self.passed, self.total()),
            Status::Skip => format!("SKIP {key} ({} unsupported commands)", self.skipped),
            Status::Fail => format!(
                "FAIL {key} ({}/{}) first error: {}",
                self.passed,
                self.total(),
                self.first_error.as_deref().unwrap_or("?")
            ),
        }
    }
}

/// Scripts that exercise linear memory, run again with guard pages off: every memory then
/// uses explicit bounds checks (heron's fallback when address space runs short).
const MEMORY_SCRIPTS: &[&str] = &[
    "address",
    "align",
    "bulk",
    "data",
    "endianness",
    "float_memory",
    "left-to-right",
    "linking",
    "load",
    "memory",
    "store",
    "traps",
];

/// An extra pass: its label, its engine's configuration, whether its modules are compiled
/// deterministic, and which scripts it runs.
type Pass = (&'static str, Config, bool, fn(&Script) -> bool);

/// The passes after the main one (the default engine, whose code is partly baseline and
/// partly optimized, as the background gets to it): each code tier alone over every script
/// (but the `3.0` ones that repeat a `2.0` script), and explicit bounds checks over the memory
/// scripts, and deterministic code over the SIMD scripts (the relaxed instructions' other
/// lowering).
fn extra_passes() -> [Pass; 4] {
    let all = |script: &Script| !script.repeats_2_0;
    let simd = |script: &Script| !script.repeats_2_0 && script.key.contains("simd");
    let memory = |script: &Script| !script.repeats_2_0 && MEMORY_SCRIPTS.iter().any(|name| script.key.contains(name));
    [
        ("optimized code", Config { compilation: Compilation::Eager, ..Config::from_env() }, false, all),
        (
            "baseline code",
            Config { compilation: Compilation::Baseline, guard_pages: true, code_cache: None },
            false,
            all,
        ),
        ("explicit bounds checks", Config { guard_pages: false, ..Config::from_env() }, false, memory),
        ("deterministic", Config::from_env(), true, simd),
    ]
}

/// Runs `scripts` again in the extra passes; each script must pass as many commands as in
/// the main pass (all, unless listed in the expectations). Returns the problems.
fn run_extra_passes(scripts: &[Script], expectations: &BTreeMap<String, usize>, verbosity: u8) -> Vec<String> {
    let mut problems = Vec::new();
    for (label, config, deterministic, selects) in extra_passes() {
        let engine = Engine::with_config(config).expect("engine");
        for script in scripts.iter().filter(|script| selects(script)) {
            let report = run_script_isolated(&engine, script, deterministic, verbosity);
            let key = format!("{} ({label})", script.key);
            println!("{}", report.summary_line(&key));
            let expected = expectations.get(&script.key).copied();
            if report.status() == Status::Fail && expected.is_none_or(|passed| report.passed < passed) {
                problems.push(format!("{key} failed {} of {} commands", report.failed, report.total()));
            }
        }
    }
    problems
}

/// Runs one script, turning a panic into failures of the commands that did not get to run.
fn run_script_isolated(engine: &Engine, script: &Script, deterministic: bool, verbosity: u8) -> FileReport {
    let mut report = FileReport::default();
    let mut progress = Progress::default();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        run_script(engine, script, deterministic, verbosity, &mut report, &mut progress)
    }));
    if let Err(payload) = outcome {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_string());
        let panic = format!("panicked at {}: {}", progress.position, one_line(&message));
        report.first_error = Some(match report.first_error.take() {
            Some(first) => format!("{first}; later {panic}"),
            None => panic,
        });
        // The panicking command and every command after it count as failed.
        let unfinished = progress.planned.saturating_sub(report.passed + report.failed).max(1);
        report.failed += unfinished;
    }
    report
}

/// Where a script run got to, kept outside `catch_unwind` so a panic can be reported.
#[derive(Default)]
struct Progress {
    /// Commands the script will run (skipped ones excluded).
    planned: usize,
    /// `line:column` of the command running now.
    position: String,
}

fn run_script(
    engine: &Engine,
    script: &Script,
    deterministic: bool,
    verbosity: u8,
    report: &mut FileReport,
    progress: &mut Progress,
) {
    let path = script.path.as_path();
    let source: Arc<str> = match std::fs::read_to_string(path) {
        Ok(source) => source.into(),
        Err(e) => return report.fail(format!("cannot read the script: {e}")),
    };
    // The wast crate reads the legacy `try` only in its flat form.
    let source: Arc<str> = if source.contains("(try") { unfold_legacy_try(&source).into() } else { source };
    let mut lexer = Lexer::new(&source);
    // names.wast uses bidirectional-override characters in names on purpose.
    lexer.allow_confusing_unicode(true);
    let buffer = match ParseBuffer::new_with_lexer(lexer) {
        Ok(buffer) => buffer,
        Err(e) => return report.fail(parse_failure(e, &source)),
    };
    let wast = match wast::parser::parse::<Wast>(&buffer) {
        Ok(wast) => wast,
        Err(e) => return report.fail(parse_failure(e, &source)),
    };
    progress.planned = wast.directives.iter().filter(|d| unsupported(d).is_none()).count();

    let mut runner = match ScriptRunner::new(engine, source.clone(), script.version_features, deterministic) {
        Ok(runner) => runner,
        Err(e) => {
            report.failed = progress.planned.max(1);
            report.first_error = Some(format!("cannot create the spectest module: {}", describe_error(&e)));
            return;
        }
    };
    for directive in wast.directives {
        let (line, column) = directive.span().linecol_in(&source);
        progress.position = format!("{}:{}", line + 1, column + 1);
        if let Some(what) = unsupported(&directive) {
            if verbosity >= 2 {
                eprintln!("{}:{}: skipped ({what})", path.display(), progress.position);
            }
            report.skipped += 1;
            continue;
        }
        if verbosity >= 2 {
            eprintln!("{}:{}: running", path.display(), progress.position);
        }
        match runner.run(directive) {
            Ok(()) => report.passed += 1,
            Err(message) => {
                let message = format!("{}: {}", progress.position, one_line(&message));
                if verbosity >= 1 {
                    eprintln!("{}:{message}", path.display());
                }
                report.fail(message);
            }
        }
    }
}

/// Rewrites the folded legacy `(try ... (do ...) (catch $e ...) (catch_all ...))` and
/// `(try ... (do ...) (delegate l))` into the flat `try ... catch $e ... catch_all ... end`
/// and `try ... delegate l`, which the wast crate parses (`legacy-exceptions/` uses the
/// folded form). Comments and strings are copied as they are.
fn unfold_legacy_try(source: &str) -> String {
    let bytes = source.as_bytes();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(skip) = verbatim_len(bytes, i) {
            out.push_str(&source[i..i + skip]);
            i += skip;
        } else if source[i..].starts_with("(try")
            && bytes.get(i + 4).is_some_and(|c| c.is_ascii_whitespace() || *c == b')')
        {
            let end = matching_paren(bytes, i);
            out.push_str(&unfold_try(&source[i + 1..end]));
            i = end + 1;
        } else {
            let c = source[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// `try ...` (the inside of a folded `try`) in flat form, its parts unfolded too.
fn unfold_try(inner: &str) -> String {
    let bytes = inner.as_bytes();
    let mut out = String::from("try");
    let mut i = 3;
    let mut ends_with_delegate = false;
    while i < bytes.len() {
        if let Some(skip) = verbatim_len(bytes, i) {
            out.push_str(&inner[i..i + skip]);
            i += skip;
            continue;
        }
        if bytes[i] == b'(' {
            let end = matching_paren(bytes, i);
            let list = &inner[i + 1..end];
            let head: String = list.chars().take_while(|c| !c.is_whitespace() && *c != '(' && *c != ')').collect();
            match head.as_str() {
                "do" => out.push_str(&unfold_legacy_try(&list[2..])),
                "catch" | "catch_all" => {
                    out.push(' ');
                    out.push_str(&head);
                    out.push_str(&unfold_legacy_try(&list[head.len()..]));
                }
                "delegate" => {
                    out.push_str(" delegate");
                    out.push_str(&list[8..]);
                    ends_with_delegate = true;
                }
                // Block annotations: (result ..), (param ..), (type ..).
                _ => out.push_str(&inner[i..=end]),
            }
            i = end + 1;
        } else {
            let c = inner[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
    }
    if !ends_with_delegate {
        out.push_str(" end");
    }
    out
}

/// The length of a comment or string starting at `i`, to copy unchanged.
fn verbatim_len(bytes: &[u8], i: usize) -> Option<usize> {
    if bytes[i..].starts_with(b";;") {
        return Some(bytes[i..].iter().position(|c| *c == b'\n').unwrap_or(bytes.len() - i));
    }
    if bytes[i..].starts_with(b"(;") {
        return Some(bytes[i..].windows(2).position(|w| w == b";)").map_or(bytes.len() - i, |p| p + 2));
    }
    if bytes[i] == b'"' {
        let mut j = i + 1;
        while j < bytes.len() && bytes[j] != b'"' {
            j += if bytes[j] == b'\\' { 2 } else { 1 };
        }
        return Some((j + 1).min(bytes.len()) - i);
    }
    None
}

/// The index of the `)` closing the `(` at `open`, skipping comments and strings.
fn matching_paren(bytes: &[u8], open: usize) -> usize {
    let mut depth = 0;
    let mut i = open;
    while i < bytes.len() {
        if let Some(skip) = verbatim_len(bytes, i) {
            i += skip;
            continue;
        }
        match bytes[i] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
        i += 1;
    }
    bytes.len() - 1
}

fn parse_failure(error: wast::Error, source: &str) -> String {
    let (line, column) = error.span().linecol_in(source);
    format!("{}:{}: cannot parse the script: {}", line + 1, column + 1, error.message())
}

/// Why the runner does not run `directive`, if it does not: proposals heron does not implement.
fn unsupported(directive: &WastDirective) -> Option<&'static str> {
    let is_component =
        |module: &QuoteWat| matches!(module, QuoteWat::Wat(Wat::Component(_)) | QuoteWat::QuoteComponent(..));
    match directive {
        WastDirective::Module(module)
        | WastDirective::ModuleDefinition(module)
        | WastDirective::AssertInvalid { module, .. }
        | WastDirective::AssertMalformed { module, .. }
            if is_component(module) =>
        {
            Some("component")
        }
        WastDirective::AssertUnlinkable { module: Wat::Component(_), .. } => Some("component"),
        WastDirective::AssertTrap { exec: WastExecute::Wat(Wat::Component(_)), .. } => Some("component"),
        WastDirective::AssertInvalidCustom { .. } | WastDirective::AssertMalformedCustom { .. } => {
            Some("custom-section assertion")
        }
        WastDirective::AssertSuspension { .. } => Some("stack switching"),
        _ => None,
    }
}

/// Flattens a multi-line message (wast errors render source snippets) for the one-line report.
fn one_line(message: &str) -> String {
    message.split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" | ")
}

// ---------------------------------------------------------------------------------------------
// Running commands

/// Where imports of one module name come from.
enum Namespace {
    Host(HashMap<&'static str, Extern>),
    Instance(Rc<Instance>),
    /// An instance of another thread, of which only the shared memories came along.
    Shared(HashMap<String, Extern>),
}

/// The state of one script: instances, registrations and the module commands default to.
struct ScriptRunner {
    engine: Engine,
    namespaces: HashMap<String, Namespace>,
    named_instances: HashMap<String, Rc<Instance>>,
    /// The most recently instantiated module; `None` after a module failed, so that commands
    /// meant for it fail instead of running against an older one.
    current: Option<Rc<Instance>>,
    /// `(module definition ...)` modules, by name; the unnamed one under "".
    definitions: HashMap<String, Module>,
    /// The script's text, which `thread` commands parse again on their own thread.
    source: Arc<str>,
    /// Threads started by `thread` commands and not yet waited for, by name.
    threads: HashMap<String, std::thread::JoinHandle<Result<(), String>>>,
    /// Instances a `thread` command shared with this (thread's) runner, by name: their
    /// shared memories, by export name.
    shared_instances: HashMap<String, SharedExports>,
    /// The script's version's features, which its modules must validate with too.
    version_features: Option<WasmFeatures>,
    /// Whether modules are compiled deterministic (`Module::with_options`).
    deterministic: bool,
}

/// What a command ran into: `Err` is a problem of the script or the runner (no such module or
/// export), `Ok` holds the engine's answer.
type Execution = Result<Result<Vec<Val>, Error>, String>;

impl ScriptRunner {
    fn new(
        engine: &Engine,
        source: Arc<str>,
        version_features: Option<WasmFeatures>,
        deterministic: bool,
    ) -> Result<Self, Error> {
        let engine = engine.clone();
        let mut namespaces = HashMap::new();
        namespaces.insert("spectest".to_string(), Namespace::Host(spectest(&engine)?));
        Ok(ScriptRunner {
            engine,
            namespaces,
            named_instances: HashMap::new(),
            current: None,
            definitions: HashMap::new(),
            source,
            threads: HashMap::new(),
            shared_instances: HashMap::new(),
            version_features,
            deterministic,
        })
    }

    /// Compiles `bytes` as the script's version of WebAssembly: a module using a feature of
    /// a later version is rejected as invalid, as that version's testsuite expects.
    fn new_module(&self, bytes: &[u8]) -> Result<Module, Error> {
        if let Some(features) = self.version_features {
            wasmparser::Validator::new_with_features(features)
                .validate_all(bytes)
                .map_err(|e| Error::compile(e.message(), e.offset() as u64))?;
        }
        Module::with_options(&self.engine, bytes, self.engine.compilation(), self.deterministic)
    }

    /// Runs one supported command; `Err` explains how it did not do what the script expects.
    fn run(&mut self, directive: WastDirective) -> Result<(), String> {
        match directive {
            WastDirective::Module(mut module) => {
                let name = module.name().map(|id| id.name().to_string());
                let result =
                    self.compile(&mut module).and_then(|m| self.instantiate(&m).map_err(|e| describe_error(&e)));
                self.set_current(name, result)
            }
            WastDirective::ModuleDefinition(mut module) => {
                let name = module.name().map_or(String::new(), |id| id.name().to_string());
                let compiled = self.compile(&mut module);
                match compiled {
                    Ok(module) => {
                        self.definitions.insert(name, module);
                        Ok(())
                    }
                    Err(message) => {
                        self.definitions.remove(&name);
                        Err(message)
                    }
                }
            }
            WastDirective::ModuleInstance { instance, module, .. } => {
                let definition = module.map_or("", |id| id.name());
                let result = match self.definitions.get(definition) {
                    Some(module) => self.instantiate(module).map_err(|e| describe_error(&e)),
                    None => Err(format!("no module definition named {definition:?}")),
                };
                self.set_current(instance.map(|id| id.name().to_string()), result)
            }
            WastDirective::Register { name, module: Some(id), .. } if self.shared_instances.contains_key(id.name()) => {
                let exports = &self.shared_instances[id.name()];
                let items = exports.iter().map(|(n, m)| (n.clone(), Extern::Memory(Memory::from(m.clone())))).collect();
                self.namespaces.insert(name.to_string(), Namespace::Shared(items));
                Ok(())
            }
            WastDirective::Register { name, module, .. } => {
                let instance = self.instance(module)?.clone();
                self.namespaces.insert(name.to_string(), Namespace::Instance(instance));
                Ok(())
            }
            WastDirective::Invoke(invoke) => match self.invoke(&invoke)? {
                Ok(_) => Ok(()),
                Err(e) => Err(format!("invoke failed: {}", describe_error(&e))),
            },
            WastDirective::AssertReturn { exec, results, .. } => self.assert_return(exec, &results),
            WastDirective::AssertTrap { exec, message, .. } => match self.execute(exec)? {
                Err(Error::Trap(trap)) if trap_message_matches(&trap.to_string(), message) => Ok(()),
                Err(e) => Err(format!("expected trap \"{message}\", got {}", describe_error(&e))),
                Ok(values) => Err(format!("expected trap \"{message}\", got results {}", show_vals(&values))),
            },
            WastDirective::AssertException { exec, .. } => match self.execute(exec)? {
                Err(Error::Exception(_)) => Ok(()),
                Err(e) => Err(format!("expected an exception, got {}", describe_error(&e))),
                Ok(values) => Err(format!("expected an exception, got results {}", show_vals(&values))),
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call)? {
                Err(Error::Trap(Trap::StackOverflow)) => Ok(()),
                Err(e) => Err(format!("expected \"{message}\", got {}", describe_error(&e))),
                Ok(values) => Err(format!("expected \"{message}\", got results {}", show_vals(&values))),
            },
            WastDirective::AssertInvalid { module, .. } => self.assert_rejected(module, "invalid"),
            WastDirective::AssertMalformed { module, .. } => self.assert_rejected(module, "malformed"),
            WastDirective::AssertUnlinkable { mut module, message, .. } => {
                let bytes = module.encode().map_err(|e| format!("wast cannot encode the module: {e}"))?;
                let module = self.new_module(&bytes).map_err(|e| {
                    format!("expected unlinkable (\"{message}\"), but compiling failed: {}", describe_error(&e))
                })?;
                match self.instantiate(&module) {
                    Err(Error::Link(_)) => Ok(()),
                    Err(e) => Err(format!("expected link error \"{message}\", got {}", describe_error(&e))),
                    Ok(_) => Err(format!("expected link error \"{message}\", but the module instantiated")),
                }
            }
            WastDirective::Thread(thread) => self.spawn_thread(&thread),
            WastDirective::Wait { thread, .. } => self.wait_thread(thread),
            _ => Err("the runner does not handle this command".to_string()),
        }
    }

    /// Makes the outcome of instantiating a module the current instance (and the named one).
    fn set_current(&mut self, name: Option<String>, result: Result<Instance, String>) -> Result<(), String> {
        let instance = result.map(Rc::new);
        if let Some(name) = name {
            match &instance {
                Ok(instance) => self.named_instances.insert(name, instance.clone()),
                Err(_) => self.named_instances.remove(&name),
            };
        }
        self.current = instance.as_ref().ok().cloned();
        instance.map(drop)
    }

    fn compile(&self, module: &mut QuoteWat) -> Result<Module, String> {
        let bytes = module.encode().map_err(|e| format!("wast cannot encode the module: {e}"))?;
        self.new_module(&bytes).map_err(|e| describe_error(&e))
    }

    fn instantiate(&self, module: &Module) -> Result<Instance, Error> {
        let imports =
            module.imports().iter().map(|import| self.resolve_import(import)).collect::<Result<Vec<_>, _>>()?;
        Instance::with_controls(module, &imports, &spec_controls())
    }

    fn resolve_import(&self, import: &ImportDesc) -> Result<Extern, Error> {
        let found = match self.namespaces.get(&import.module) {
            Some(Namespace::Host(items)) => items.get(import.name.as_str()).cloned(),
            Some(Namespace::Instance(instance)) => instance.get_export(&import.name),
            Some(Namespace::Shared(items)) => items.get(&import.name).cloned(),
            None => None,
        };
        // Type mismatches are the engine's to find; a missing import is a link error too.
        found.ok_or_else(|| Error::Link(format!("unknown import {:?} {:?}", import.module, import.name)))
    }

    /// The instance named `id`, or the current one.
    fn instance(&self, id: Option<Id>) -> Result<&Rc<Instance>, String> {
        match id {
            Some(id) => self
                .named_instances
                .get(id.name())
                .ok_or_else(|| format!("no instance named ${} (did its module fail?)", id.name())),
            None => self.current.as_ref().ok_or_else(|| "no current instance (did its module fail?)".to_string()),
        }
    }

    fn invoke(&self, invoke: &WastInvoke) -> Execution {
        let func = match self.instance(invoke.module)?.get_export(invoke.name) {
            Some(Extern::Func(func)) => func,
            Some(_) => return Err(format!("export {:?} is not a function", invoke.name)),
            None => return Err(format!("no export named {:?}", invoke.name)),
        };
        let args = invoke.args.iter().map(arg_to_val).collect::<Result<Vec<_>, _>>()?;
        Ok(func.call(&args))
    }

    fn execute(&self, exec: WastExecute) -> Execution {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(&invoke),
            WastExecute::Get { module, global, .. } => match self.instance(module)?.get_export(global) {
                Some(Extern::Global(g)) => Ok(Ok(vec![g.get()])),
                Some(_) => Err(format!("export {global:?} is not a global")),
                None => Err(format!("no export named {global:?}")),
            },
            // A module-level assertion (`assert_trap` of a module: the start function or a
            // segment initialiser should trap); the instance itself is dropped.
            WastExecute::Wat(mut module) => {
                let bytes = module.encode().map_err(|e| format!("wast cannot encode the module: {e}"))?;
                let module = match self.new_module(&bytes) {
                    Ok(module) => module,
                    Err(e) => return Ok(Err(e)),
                };
                Ok(self.instantiate(&module).map(|_| Vec::new()))
            }
        }
    }

    fn assert_return(&self, exec: WastExecute, expected: &[WastRet]) -> Result<(), String> {
        let actual = self.execute(exec)?.map_err(|e| format!("expected results, got {}", describe_error(&e)))?;
        if actual.len() != expected.len() {
            return Err(format!("expected {} results, got {}", expected.len(), show_vals(&actual)));
        }
        for (index, (actual, expected)) in actual.iter().zip(expected).enumerate() {
            let WastRet::Core(expected) = expected else {
                return Err("component-model results are not supported".to_string());
            };
            if !result_matches(actual, expected) {
                return Err(format!("result {index}: expected {}, got {}", show_expected(expected), show_val(actual)));
            }
        }
        Ok(())
    }

    /// `assert_invalid` / `assert_malformed`: the module must not compile. Heron's messages are
    /// wasmparser's, not the reference interpreter's, so the expected text is not compared.
    fn assert_rejected(&self, mut module: QuoteWat, kind: &str) -> Result<(), String> {
        let bytes = match module.encode() {
            Ok(bytes) => bytes,
            // Text the wast crate cannot parse is malformed: that is the expected outcome.
            Err(_) if kind == "malformed" && matches!(module, QuoteWat::QuoteModule(..)) => return Ok(()),
            Err(e) => return Err(format!("wast cannot encode the module: {e}")),
        };
        match self.new_module(&bytes) {
            Err(Error::Compile { .. }) => Ok(()),
            Err(e) => Err(format!("expected a compile error ({kind} module), got {}", describe_error(&e))),
            Ok(_) => Err(format!("expected a compile error ({kind} module), but it compiled")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Threads: the threads proposal's `thread` and `wait` commands

/// What a `thread` command shares of an instance: its shared memories, by export name. Only
/// those can cross threads (instances and everything else are single-threaded), and the
/// testsuite's shared modules export nothing else.
type SharedExports = Vec<(String, SharedMemory)>;

impl ScriptRunner {
    /// `(thread $name (shared (module $m))? command*)`: runs the commands on a new thread,
    /// with a runner of their own that sees `$m`'s shared memories.
    fn spawn_thread(&mut self, thread: &WastThread) -> Result<(), String> {
        let mut shared = HashMap::new();
        if let Some(id) = thread.shared_module {
            shared.insert(id.name().to_string(), self.shared_exports(id)?);
        }
        let (engine, source, offset) = (self.engine.clone(), self.source.clone(), thread.span.offset());
        let (version_features, deterministic) = (self.version_features, self.deterministic);
        let name = thread.name.name().to_string();
        let handle = std::thread::Builder::new()
            .name(format!("wast thread ${name}"))
            .spawn(move || run_thread(&engine, source, offset, shared, version_features, deterministic))
            .map_err(|e| format!("cannot start thread ${name}: {e}"))?;
        self.threads.insert(name, handle);
        Ok(())
    }

    /// `(wait $name)`: joins the thread; fails if any of its commands failed.
    fn wait_thread(&mut self, id: Id) -> Result<(), String> {
        let handle = self.threads.remove(id.name()).ok_or_else(|| format!("no running thread named ${}", id.name()))?;
        match handle.join() {
            Ok(outcome) => outcome.map_err(|e| format!("thread ${}: {e}", id.name())),
            Err(_) => Err(format!("thread ${} panicked", id.name())),
        }
    }

    /// The shared memories an instance of this runner (or one shared with it) exports.
    fn shared_exports(&self, id: Id) -> Result<SharedExports, String> {
        if let Some(exports) = self.shared_instances.get(id.name()) {
            return Ok(exports.clone());
        }
        let instance = self.instance(Some(id))?;
        let memories = instance.exports().into_iter().filter_map(|(name, export)| match export {
            Extern::Memory(memory) => memory.shared().map(|shared| (name, shared.clone())),
            _ => None,
        });
        Ok(memories.collect())
    }
}

/// The body of a `thread` command, on its own thread: parses the script again (the parsed
/// commands borrow the text and cannot cross threads), finds the `thread` command that starts
/// at `offset`, and runs its commands in order. The first failure is the thread's.
fn run_thread(
    engine: &Engine,
    source: Arc<str>,
    offset: usize,
    shared: HashMap<String, SharedExports>,
    version_features: Option<WasmFeatures>,
    deterministic: bool,
) -> Result<(), String> {
    let mut lexer = Lexer::new(&source);
    lexer.allow_confusing_unicode(true);
    let buffer = ParseBuffer::new_with_lexer(lexer).map_err(|e| e.message())?;
    let wast = wast::parser::parse::<Wast>(&buffer).map_err(|e| e.message())?;
    let thread = find_thread(wast.directives, offset).ok_or("the thread's command is gone")?;
    let mut runner =
        ScriptRunner::new(engine, source.clone(), version_features, deterministic).map_err(|e| describe_error(&e))?;
    runner.shared_instances = shared;
    for directive in thread.directives {
        if unsupported(&directive).is_some() {
            continue;
        }
        let (line, column) = directive.span().linecol_in(&source);
        runner.run(directive).map_err(|e| format!("{}:{}: {}", line + 1, column + 1, one_line(&e)))?;
    }
    Ok(())
}

/// The `thread` command starting at `offset`, among `directives` or nested in their threads.
fn find_thread(directives: Vec<WastDirective<'_>>, offset: usize) -> Option<WastThread<'_>> {
    for directive in directives {
        if let WastDirective::Thread(thread) = directive {
            if thread.span.offset() == offset {
                return Some(thread);
            }
            if let Some(found) = find_thread(thread.directives, offset) {
                return Some(found);
            }
        }
    }
    None
}

/// The `spectest` module the testsuite imports from.
fn spectest(engine: &Engine) -> Result<HashMap<&'static str, Extern>, Error> {
    use ValType::{F32, F64, I32, I64};
    let mut items = HashMap::new();
    let printers: [(&'static str, &[ValType]); 7] = [
        ("print", &[]),
        ("print_i32", &[I32]),
        ("print_i64", &[I64]),
        ("print_f32", &[F32]),
        ("print_f64", &[F64]),
        ("print_i32_f32", &[I32, F32]),
        ("print_f64_f64", &[F64, F64]),
    ];
    for (name, params) in printers {
        let ty = FuncType::new(params.iter().copied(), []);
        items.insert(name, Extern::Func(Func::new(engine, ty, |_, _| Ok(()))));
    }
    let globals = [
        ("global_i32", Val::I32(666)),
        ("global_i64", Val::I64(666)),
        ("global_f32", Val::F32(666.6f32.to_bits())),
        ("global_f64", Val::F64(666.6f64.to_bits())),
    ];
    for (name, value) in globals {
        let ty = GlobalType { content: value.ty(), mutable: false };
        items.insert(name, Extern::Global(Global::new(engine, ty, value)?));
    }
    let table_ty =
        TableType { element: ValType::FUNCREF, limits: Limits { min: 10, max: Some(20) }, address: Default::default() };
    items.insert("table", Extern::Table(Table::new(engine, table_ty, Val::FuncRef(None))?));
    // The reference interpreter's 64-bit table (memory64's `table64.wast` imports it).
    let table64_ty = TableType { address: AddressType::I64, ..table_ty };
    items.insert("table64", Extern::Table(Table::new(engine, table64_ty, Val::FuncRef(None))?));
    let memory_ty = MemoryType { limits: Limits { min: 1, max: Some(2) }, shared: false, address: Default::default() };
    items.insert("memory", Extern::Memory(Memory::new(engine, memory_ty)?));
    Ok(items)
}

// ---------------------------------------------------------------------------------------------
// Values

/// The host reference standing for the script's `(ref.extern n)`; offset by one because
/// `ExternRef` is non-zero.
fn host_ref(n: u32) -> ExternRef {
    ExternRef(NonZeroUsize::MIN.saturating_add(n as usize))
}

fn arg_to_val(arg: &WastArg) -> Result<Val, String> {
    let WastArg::Core(arg) = arg else {
        return Err("component-model arguments are not supported".to_string());
    };
    Ok(match arg {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(heap) if is_func_heap(heap) => Val::FuncRef(None),
        WastArgCore::RefNull(heap) if is_extern_heap(heap) => Val::ExternRef(None),
        WastArgCore::RefNull(heap) if is_any_heap(heap) => Val::AnyRef(None),
        WastArgCore::RefNull(heap) if is_exn_heap(heap) => Val::ExnRef(None),
        WastArgCore::RefExtern(n) => Val::ExternRef(Some(host_ref(*n))),
        other => return Err(format!("unsupported argument {other:?}")),
    })
}

fn is_func_heap(heap: &HeapType) -> bool {
    matches!(heap, HeapType::Abstract { ty: AbstractHeapType::Func | AbstractHeapType::NoFunc, .. })
        || matches!(heap, HeapType::Concrete(_) | HeapType::Exact(_))
}

fn is_any_heap(heap: &HeapType) -> bool {
    use AbstractHeapType as A;
    matches!(heap, HeapType::Abstract { ty: A::Any | A::Eq | A::I31 | A::Struct | A::Array | A::None, .. })
}

fn is_extern_heap(heap: &HeapType) -> bool {
    matches!(heap, HeapType::Abstract { ty: AbstractHeapType::Extern | AbstractHeapType::NoExtern, .. })
}

fn is_exn_heap(heap: &HeapType) -> bool {
    matches!(heap, HeapType::Abstract { ty: AbstractHeapType::Exn | AbstractHeapType::NoExn, .. })
}

fn result_matches(actual: &Val, expected: &WastRetCore) -> bool {
    match (expected, actual) {
        (WastRetCore::I32(e), Val::I32(a)) => a == e,
        (WastRetCore::I64(e), Val::I64(a)) => a == e,
        (WastRetCore::F32(e), Val::F32(a)) => f32_matches(*a, e),
        (WastRetCore::F64(e), Val::F64(a)) => f64_matches(*a, e),
        (WastRetCore::V128(e), Val::V128(a)) => v128_matches(*a, e),
        (WastRetCore::RefNull(heap), Val::FuncRef(None)) => heap.as_ref().is_none_or(is_func_heap),
        (WastRetCore::RefNull(heap), Val::ExternRef(None)) => heap.as_ref().is_none_or(is_extern_heap),
        (WastRetCore::RefNull(heap), Val::AnyRef(None)) => heap.as_ref().is_none_or(is_any_heap),
        (WastRetCore::RefNull(heap), Val::ExnRef(None)) => heap.as_ref().is_none_or(is_exn_heap),
        (WastRetCore::RefFunc(_), Val::FuncRef(Some(_))) => true,
        (WastRetCore::RefExtern(None), Val::ExternRef(Some(_))) => true,
        (WastRetCore::RefExtern(Some(n)), Val::ExternRef(Some(r))) => *r == host_ref(*n),
        (WastRetCore::Either(options), _) => options.iter().any(|option| result_matches(actual, option)),
        _ => false,
    }
}

// A canonical NaN has only the quiet bit of the payload set; an arithmetic NaN has the quiet bit
// set and any other payload. Either sign. Non-NaN patterns compare bit for bit.

fn f32_matches(bits: u32, pattern: &NanPattern<F32>) -> bool {
    const QUIET_NAN: u32 = 0x7fc0_0000;
    match pattern {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff == QUIET_NAN,
        NanPattern::ArithmeticNan => bits & QUIET_NAN == QUIET_NAN,
        NanPattern::Value(value) => bits == value.bits,
    }
}

fn f64_matches(bits: u64, pattern: &NanPattern<F64>) -> bool {
    const QUIET_NAN: u64 = 0x7ff8_0000_0000_0000;
    match pattern {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == QUIET_NAN,
        NanPattern::ArithmeticNan => bits & QUIET_NAN == QUIET_NAN,
        NanPattern::Value(value) => bits == value.bits,
    }
}

/// Lane `index` of `vector` split into lanes of `width` bits (lane 0 in the low bits).
fn lane(vector: u128, width: u32, index: usize) -> u128 {
    (vector >> (width * index as u32)) & (u128::MAX >> (128 - width))
}

fn v128_matches(actual: u128, pattern: &V128Pattern) -> bool {
    match pattern {
        V128Pattern::I8x16(lanes) => lanes.iter().enumerate().all(|(i, e)| lane(actual, 8, i) == *e as u8 as u128),
        V128Pattern::I16x8(lanes) => lanes.iter().enumerate().all(|(i, e)| lane(actual, 16, i) == *e as u16 as u128),
        V128Pattern::I32x4(lanes) => lanes.iter().enumerate().all(|(i, e)| lane(actual, 32, i) == *e as u32 as u128),
        V128Pattern::I64x2(lanes) => lanes.iter().enumerate().all(|(i, e)| lane(actual, 64, i) == *e as u64 as u128),
        V128Pattern::F32x4(lanes) => lanes.iter().enumerate().all(|(i, e)| f32_matches(lane(actual, 32, i) as u32, e)),
        V128Pattern::F64x2(lanes) => lanes.iter().enumerate().all(|(i, e)| f64_matches(lane(actual, 64, i) as u64, e)),
    }
}

/// Whether a trap's message is the one the script expects. The reference interpreter's texts
/// sometimes carry more detail than heron's (or the reverse), so containment either way counts.
fn trap_message_matches(actual: &str, expected: &str) -> bool {
    actual.contains(expected) || expected.contains(actual)
}

// ---------------------------------------------------------------------------------------------
// Describing values and errors in failure messages

fn describe_error(error: &Error) -> String {
    match error {
        Error::Compile { .. } => format!("compile error: {error}"),
        Error::Link(_) => format!("link error: {error}"),
        Error::Trap(_) => format!("trap: {error}"),
        Error::Host(_) => format!("host error: {error}"),
        Error::Exception(_) => format!("exception: {error}"),
        Error::Resource(_) => format!("resource error: {error}"),
    }
}

fn show_val(value: &Val) -> String {
    match value {
        Val::I32(v) => format!("i32 {v}"),
        Val::I64(v) => format!("i64 {v}"),
        Val::F32(bits) => format!("f32 {} (0x{bits:08x})", f32::from_bits(*bits)),
        Val::F64(bits) => format!("f64 {} (0x{bits:016x})", f64::from_bits(*bits)),
        Val::V128(v) => format!("v128 0x{v:032x}"),
        Val::FuncRef(None) => "null funcref".to_string(),
        Val::FuncRef(Some(_)) => "funcref".to_string(),
        Val::ExternRef(None) => "null externref".to_string(),
        Val::ExternRef(Some(r)) => format!("ref.extern {}", r.0.get() - 1),
        Val::AnyRef(None) => "null anyref".to_string(),
        Val::AnyRef(Some(r)) => format!("ref.host {}", r.0.get() - 1),
        Val::ExnRef(None) => "null exnref".to_string(),
        Val::ExnRef(Some(_)) => "exnref".to_string(),
    }
}

fn show_vals(values: &[Val]) -> String {
    format!("[{}]", values.iter().map(show_val).collect::<Vec<_>>().join(", "))
}

fn show_expected(expected: &WastRetCore) -> String {
    fn float<T>(pattern: &NanPattern<T>, show: impl Fn(&T) -> String) -> String {
        match pattern {
            NanPattern::CanonicalNan => "nan:canonical".to_string(),
            NanPattern::ArithmeticNan => "nan:arithmetic".to_string(),
            NanPattern::Value(value) => show(value),
        }
    }
    match expected {
        WastRetCore::I32(v) => format!("i32 {v}"),
        WastRetCore::I64(v) => format!("i64 {v}"),
        WastRetCore::F32(p) => {
            format!("f32 {}", float(p, |v| format!("{} (0x{:08x})", f32::from_bits(v.bits), v.bits)))
        }
        WastRetCore::F64(p) => {
            format!("f64 {}", float(p, |v| format!("{} (0x{:016x})", f64::from_bits(v.bits), v.bits)))
        }
        WastRetCore::RefNull(_) => "ref.null".to_string(),
        WastRetCore::RefFunc(_) => "ref.func".to_string(),
        WastRetCore::RefExtern(Some(n)) => format!("ref.extern {n}"),
        other => format!("{other:?}"),
    }
}
