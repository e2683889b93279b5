//! The persistent code cache: a hit behaves exactly as a miss (results, traps, backtraces);
//! lazily compiled functions are persisted; any damaged or foreign entry is a miss that the
//! next write replaces; concurrent writers leave a whole entry; the size bound evicts the
//! least recently used entries; `HERON_CACHE=off` and an unusable directory run without a
//! cache. Every test uses a directory of its own under the system's temporary directory.

use crate::common::{export, wat_to_wasm};
use heron_engine::{
    flush_code_cache, Backtrace, CacheConfig, Compilation, Config, Engine, Instance, Module, Val, DEFAULT_MAX_SIZE,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

const MODULE: &str = r#"(module
    (memory 1)
    (func $square (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
    (func (export "sum_squares") (param i32) (result i32) (local $acc i32)
        (block $done (loop $next
            (br_if $done (i32.eqz (local.get 0)))
            (local.set $acc (i32.add (local.get $acc) (call $square (local.get 0))))
            (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
            (br $next)))
        (local.get $acc))
    (func (export "divide") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
    (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
    (func $deep (param i32) (result i32) (if (local.get 0) (then unreachable)) (i32.const 1))
    (func (export "nested") (param i32) (result i32) (call $deep (local.get 0)))
    (tag $e (param i32))
    (func $thrower (param i32) (throw $e (local.get 0)))
    (func (export "catch") (param i32) (result i32)
        (block $h (result i32)
            (try_table (catch $e $h) (call $thrower (local.get 0)))
            (i32.const -1))))"#;

/// A fresh, empty directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "heron-cache-test-{}-{name}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn engine(dir: &Path, compilation: Compilation, max_size: u64) -> Engine {
    let code_cache = Some(CacheConfig { directory: dir.to_owned(), max_size });
    Engine::with_config(Config { compilation, guard_pages: true, code_cache }).expect("an engine")
}

/// The entry files of `dir`.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let Ok(list) = std::fs::read_dir(dir) else { return Vec::new() };
    list.flatten().map(|e| e.path()).filter(|p| p.file_name().is_some_and(|n| n.len() == 64)).collect()
}

/// Everything observable about running `MODULE`: results, trap messages and backtraces.
fn behaviour(module: &Module) -> Vec<String> {
    let instance = Instance::new(module, &[]).expect("instantiates");
    let mut seen = Vec::new();
    let mut call = |name: &str, args: &[i32]| {
        let args: Vec<Val> = args.iter().map(|&a| Val::I32(a)).collect();
        match export(&instance, name).call(&args) {
            Ok(results) => seen.push(format!("{name}{args:?} = {results:?}")),
            Err(error) => {
                let frames = Backtrace::take_last()
                    .map(|b| b.frames().iter().map(|f| (f.func_index(), f.module_offset())).collect::<Vec<_>>());
                seen.push(format!("{name}{args:?} trapped: {error} at {frames:?}"));
            }
        }
    };
    call("sum_squares", &[100]);
    call("divide", &[7, 2]);
    call("divide", &[7, 0]);
    call("divide", &[i32::MIN, -1]);
    call("load", &[8]);
    call("load", &[65535]);
    call("nested", &[0]);
    call("nested", &[1]);
    // Caught only if the entry kept the call's landing pad.
    call("catch", &[41]);
    seen
}

#[test]
fn a_hit_behaves_as_a_miss_and_compiles_nothing() {
    let dir = temp_dir("hit");
    let bytes = wat_to_wasm(MODULE);
    let cold = engine(&dir, Compilation::Eager, DEFAULT_MAX_SIZE);
    let module = Module::new(&cold, &bytes).expect("compiles");
    let expected = behaviour(&module);
    assert!(expected.iter().any(|line| line.contains("trapped")), "{expected:?}");
    assert!(expected.iter().any(|line| line == "catch[I32(41)] = [I32(41)]"), "{expected:?}");
    let stats = cold.code_cache().expect("on").stats();
    assert_eq!((stats.hits, stats.misses, stats.writes, stats.entries), (0, 1, 1, 1));

    // On demand compiles nothing by itself: everything installed comes from the entry.
    let warm = engine(&dir, Compilation::OnDemand, DEFAULT_MAX_SIZE);
    let module = Module::new(&warm, &bytes).expect("loads");
    assert_eq!(module.compilation_progress(), (8, 8));
    assert_eq!(behaviour(&module), expected);
    let stats = warm.code_cache().expect("on").stats();
    assert_eq!((stats.hits, stats.misses, stats.writes), (1, 0, 0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lazily_compiled_functions_are_persisted() {
    let dir = temp_dir("lazy");
    let bytes = wat_to_wasm(MODULE);
    let first = engine(&dir, Compilation::OnDemand, DEFAULT_MAX_SIZE);
    let module = Module::new(&first, &bytes).expect("compiles");
    let instance = Instance::new(&module, &[]).expect("instantiates");
    let results = export(&instance, "sum_squares").call(&[Val::I32(3)]).expect("runs");
    assert!(matches!(results[..], [Val::I32(14)]));
    flush_code_cache();
    assert_eq!(entries(&dir).len(), 1);

    // The second engine finds the two functions the first one ran, compiles the rest on call.
    let second = engine(&dir, Compilation::OnDemand, DEFAULT_MAX_SIZE);
    let module = Module::new(&second, &bytes).expect("loads");
    assert_eq!(module.compilation_progress(), (2, 8));
    let expected =
        behaviour(&Module::new(&engine(&temp_dir("lazy-reference"), Compilation::Eager, 0), &bytes).unwrap());
    assert_eq!(behaviour(&module), expected);
    flush_code_cache();
    let third = engine(&dir, Compilation::OnDemand, DEFAULT_MAX_SIZE);
    assert_eq!(Module::new(&third, &bytes).expect("loads").compilation_progress(), (8, 8));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes the entry of `MODULE` in `dir` and returns its path and contents.
fn write_entry(dir: &Path) -> (PathBuf, Vec<u8>) {
    let eager = engine(dir, Compilation::Eager, DEFAULT_MAX_SIZE);
    Module::new(&eager, &wat_to_wasm(MODULE)).expect("compiles");
    let path = entries(dir).pop().expect("an entry was written");
    let data = std::fs::read(&path).expect("reads");
    (path, data)
}

/// `MODULE` from `dir` is a miss that behaves correctly, and leaves a good entry behind.
fn assert_miss_and_replaced(dir: &Path, expected: &[String], what: &str) {
    let engine = engine(dir, Compilation::Eager, DEFAULT_MAX_SIZE);
    let module = Module::new(&engine, &wat_to_wasm(MODULE)).expect("compiles");
    let stats = engine.code_cache().expect("on").stats();
    assert_eq!((stats.hits, stats.misses), (0, 1), "{what} was not a miss");
    assert_eq!(behaviour(&module), expected, "{what}");
    let again = self::engine(dir, Compilation::OnDemand, DEFAULT_MAX_SIZE);
    let module = Module::new(&again, &wat_to_wasm(MODULE)).expect("loads");
    assert_eq!(module.compilation_progress(), (8, 8), "{what}: the entry was not replaced");
}

#[test]
fn a_damaged_entry_is_a_miss_and_is_replaced() {
    let dir = temp_dir("damaged");
    let (path, good) = write_entry(&dir);
    let expected = behaviour(&Module::new(&engine(&dir, Compilation::OnDemand, 0), &wat_to_wasm(MODULE)).unwrap());
    // Each field of the header (environ/cache_entry.rs), the first record (its index and its
    // exception-handler length), the side tables after MODULE's 8 records, the middle, and
    // the code (the last part).
    let n = good.len();
    let parts = [("magic", 0), ("version", 8), ("fingerprint", 12), ("wasm hash", 44), ("count", 76)];
    let sizes = [
        ("tables length", 80),
        ("code length", 88),
        ("checksum", 96),
        ("first index", 104),
        ("first handlers", 104 + 28),
    ];
    let more = [("side tables", 104 + 8 * 32), ("middle", n / 2), ("code", n - 2), ("last code byte", n - 1)];
    for (what, at) in parts.into_iter().chain(sizes).chain(more) {
        let mut bad = good.clone();
        bad[at] ^= 0x21;
        std::fs::write(&path, &bad).expect("writes");
        assert_miss_and_replaced(&dir, &expected, what);
    }
    for len in [0, 7, 60, 103, 104, 105, n / 2, n - 1] {
        std::fs::write(&path, &good[..len]).expect("writes");
        assert_miss_and_replaced(&dir, &expected, &format!("truncated to {len} bytes"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A module of more than a MiB (its key is hashed in pieces) whose code is several of the
/// pieces an entry is read and checked in: `FUNCTIONS` exported functions of long bodies,
/// and a megabyte and a half of passive data.
fn large_module() -> Vec<u8> {
    const FUNCTIONS: u32 = 120;
    let mut wat = format!("(module (data \"{}\")", "heron".repeat(300_000));
    for f in 0..FUNCTIONS {
        wat.push_str(&format!("(func (export \"f{f}\") (param i32) (result i32) (local.get 0)"));
        for k in 0..320u32 {
            let c = f.wrapping_mul(7919).wrapping_add(k.wrapping_mul(104_729)) | 1;
            wat.push_str(&format!(" (i32.const {c}) (i32.mul) (i32.const {k}) (i32.xor)"));
        }
        wat.push(')');
    }
    wat.push(')');
    wat_to_wasm(&wat)
}

/// The result of every export of `large_module` for one argument.
fn large_behaviour(module: &Module) -> Vec<i32> {
    let instance = Instance::new(module, &[]).expect("instantiates");
    (0..120)
        .map(|f| match export(&instance, &format!("f{f}")).call(&[Val::I32(f + 3)]).expect("runs")[..] {
            [Val::I32(v)] => v,
            ref other => panic!("f{f} returned {other:?}"),
        })
        .collect()
}

#[test]
fn a_large_entry_is_checked_whole_though_read_in_pieces() {
    let dir = temp_dir("large");
    let bytes = large_module();
    assert!(bytes.len() > 1 << 20, "the key is hashed in pieces");
    let eager = engine(&dir, Compilation::Eager, DEFAULT_MAX_SIZE);
    let expected = large_behaviour(&Module::new(&eager, &bytes).expect("compiles"));
    let path = entries(&dir).pop().expect("an entry was written");
    let good = std::fs::read(&path).expect("reads");
    // The code length (header bytes 88..96) spans more than one 256 KiB read piece.
    let code_len = u64::from_le_bytes(good[88..96].try_into().expect("8 bytes"));
    assert!(code_len > 256 << 10, "the code spans several read pieces: {code_len} bytes");
    let warm = engine(&dir, Compilation::OnDemand, DEFAULT_MAX_SIZE);
    let module = Module::new(&warm, &bytes).expect("loads");
    assert_eq!(module.compilation_progress(), (120, 120));
    assert_eq!(large_behaviour(&module), expected);
    // Damage in a later piece of the code, and at its very end, is caught before any of the
    // code is made executable.
    for at in [good.len() / 2, good.len() - 20_000, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        std::fs::write(&path, &bad).expect("writes");
        let engine = engine(&dir, Compilation::Eager, DEFAULT_MAX_SIZE);
        let module = Module::new(&engine, &bytes).expect("compiles");
        let stats = engine.code_cache().expect("on").stats();
        assert_eq!((stats.hits, stats.misses), (0, 1), "byte {at} flipped was not a miss");
        assert_eq!(large_behaviour(&module), expected);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn another_engines_entry_is_a_miss() {
    let dir = temp_dir("foreign");
    let (path, _) = write_entry(&dir);
    // The entry of the same bytes compiled deterministically (another fingerprint), put
    // under this engine's file name.
    let foreign_dir = temp_dir("foreign-source");
    let eager = engine(&foreign_dir, Compilation::Eager, DEFAULT_MAX_SIZE);
    Module::with_options(&eager, &wat_to_wasm(MODULE), Compilation::Eager, true).expect("compiles");
    let foreign = entries(&foreign_dir).pop().expect("written");
    assert_ne!(foreign.file_name(), path.file_name(), "the fingerprints differ");
    std::fs::copy(&foreign, &path).expect("copies");
    let expected =
        behaviour(&Module::new(&engine(&temp_dir("unused"), Compilation::Eager, 0), &wat_to_wasm(MODULE)).unwrap());
    assert_miss_and_replaced(&dir, &expected, "a foreign entry");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&foreign_dir);
}

#[test]
fn concurrent_writers_leave_a_whole_entry() {
    let dir = temp_dir("race");
    let bytes = wat_to_wasm(MODULE);
    // Each thread has an engine (and so a cache object) of its own: nothing in the process
    // serialises their writes, as between processes.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..5 {
                    let engine = engine(&dir, Compilation::Eager, DEFAULT_MAX_SIZE);
                    let module = Module::new(&engine, &bytes).expect("compiles or loads");
                    assert_eq!(module.compilation_progress(), (8, 8));
                }
            });
        }
    });
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(names.len(), 1, "one entry and no temporary file: {names:?}");
    let reader = engine(&dir, Compilation::OnDemand, DEFAULT_MAX_SIZE);
    let module = Module::new(&reader, &bytes).expect("loads");
    assert_eq!(module.compilation_progress(), (8, 8));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A module of its own for each `n`, with one function.
fn numbered_module(n: i32) -> Vec<u8> {
    wat_to_wasm(&format!("(module (func (export \"n\") (result i32) (i32.const {n})))"))
}

#[test]
fn the_least_recently_used_entries_are_evicted() {
    let dir = temp_dir("evict");
    let write = |n: i32, max_size: u64| {
        let engine = engine(&dir, Compilation::Eager, max_size);
        Module::new(&engine, &numbered_module(n)).expect("compiles or loads");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    write(1, DEFAULT_MAX_SIZE);
    let size = std::fs::metadata(&entries(&dir)[0]).unwrap().len();
    write(2, DEFAULT_MAX_SIZE);
    write(1, DEFAULT_MAX_SIZE); // a hit: 1 is now more recent than 2
    write(3, size * 5 / 2); // room for two entries: 2 goes
    assert_eq!(entries(&dir).len(), 2);
    let hit = |n: i32| {
        let engine = engine(&dir, Compilation::OnDemand, DEFAULT_MAX_SIZE);
        Module::new(&engine, &numbered_module(n)).unwrap();
        engine.code_cache().unwrap().stats().hits == 1
    };
    assert!(hit(1) && hit(3) && !hit(2));
    let engine = engine(&dir, Compilation::OnDemand, DEFAULT_MAX_SIZE);
    engine.code_cache().unwrap().clear().expect("clears");
    assert_eq!(engine.code_cache().unwrap().stats().entries, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unusable_directory_means_no_cache() {
    // A directory under a regular file cannot be created, even by root.
    let file = temp_dir("not-a-directory");
    std::fs::write(&file, b"").unwrap();
    let engine = engine(&file.join("cache"), Compilation::Eager, DEFAULT_MAX_SIZE);
    let module = Module::new(&engine, &wat_to_wasm(MODULE)).expect("compiles without a cache");
    assert!(behaviour(&module).iter().any(|line| line.contains("sum_squares[I32(100)] = [I32(338350)]")));
    assert_eq!(engine.code_cache().unwrap().stats().writes, 0);
    let _ = std::fs::remove_file(&file);

    // A read-only directory still serves its entries.
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("read-only");
    write_entry(&dir);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    let reader = self::engine(&dir, Compilation::Eager, DEFAULT_MAX_SIZE);
    let module = Module::new(&reader, &wat_to_wasm(MODULE)).expect("loads");
    assert_eq!(reader.code_cache().unwrap().stats().hits, 1);
    assert!(!behaviour(&module).is_empty());
    let other = Module::new(&reader, &numbered_module(7)).expect("compiles without writing");
    assert_eq!(other.compilation_progress(), (1, 1));
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn entries_are_private_to_the_user() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("modes");
    let (path, _) = write_entry(&dir);
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_second_module_of_the_same_bytes_shares_the_code() {
    let engine = Engine::with_config(Config { compilation: Compilation::OnDemand, ..Config::default() }).unwrap();
    let bytes = wat_to_wasm(MODULE);
    let first = Module::new(&engine, &bytes).unwrap();
    let second = Module::new(&engine, &bytes).unwrap();
    assert!(first.shares_code_with(&second));
    let other_mode = Module::with_compilation(&engine, &bytes, Compilation::Eager).unwrap();
    assert!(!first.shares_code_with(&other_mode));
    drop((first, second));
    let third = Module::new(&engine, &bytes).unwrap();
    assert!(!third.shares_code_with(&other_mode));
    assert_eq!(behaviour(&third), behaviour(&other_mode));
}

const CHILD: &str = "HERON_CACHE_TEST_CHILD";

#[test]
fn heron_cache_off_turns_it_off() {
    if let Ok(dir) = std::env::var(CHILD) {
        let engine = Engine::new().expect("an engine");
        assert!(engine.code_cache().is_none(), "HERON_CACHE=off");
        Module::with_compilation(&engine, &wat_to_wasm(MODULE), Compilation::Eager).expect("compiles");
        flush_code_cache();
        assert!(!Path::new(&dir).exists());
        return;
    }
    let dir = temp_dir("off");
    let path = module_path!().split_once("::").map_or(module_path!(), |(_, path)| path);
    let output = Command::new(std::env::current_exe().expect("the test executable"))
        .args([&format!("{path}::heron_cache_off_turns_it_off"), "--exact", "--nocapture"])
        .env(CHILD, &dir)
        .env("HERON_CACHE", "off")
        .env("HERON_CACHE_DIR", &dir)
        .output()
        .expect("the child runs");
    assert!(output.status.success(), "child failed: {}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 passed"));
    assert!(!dir.exists(), "nothing was written");
}
