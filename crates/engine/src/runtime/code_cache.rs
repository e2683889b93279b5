//! The persistent code cache's files: one entry per (wasm bytes, engine fingerprint) in a
//! user-only directory (`environ/cache_entry.rs` has the format), read when a module is
//! created and written when its functions are compiled: after a quiet period, when the
//! background compilation finishes, and when the embedder flushes (the binding does at
//! process exit). Mapping the code is `code_memory.rs`'s job; this file only moves bytes.
//!
//! The cache never makes heron fail: any I/O error (missing or unwritable directory, full
//! disk, read-only file system) means running without it, and an entry that does not
//! decode (truncated, corrupted, another engine's) is a miss and is replaced by the next
//! write. Writes go to a temporary file renamed over the entry, so readers in any process
//! see a whole entry or none; two processes writing one entry each leave a whole entry
//! (the last rename wins). Files are 0600 in a 0700 directory. The directory is bounded:
//! after each write, the least recently used entries (a hit touches its file's mtime) are
//! removed until the total fits `max_size`.
//!
//! A lookup reads the entry's code straight into the memory that will run it
//! (`WritableCode`), and its tables into a buffer that stays with the code; it verifies the
//! checksum over everything it read before the code can be made executable, so a damaged
//! entry's code never runs. It decodes nothing but the function records, and checks the
//! exception handlers (the one side table that is jumped through).
#![forbid(unsafe_code)]

use crate::environ::cache_entry::{self, CacheKey, CachedFunction, EntryError, FunctionRecord, HEADER_LEN};
use crate::runtime::code_memory::WritableCode;
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The default bound of a cache directory: 1 GiB (the 18 MB @swc/wasm, fully compiled, makes a
/// 60 MB entry).
pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;
/// New code is written once no function was compiled for this long.
const QUIET_PERIOD: Duration = Duration::from_millis(1000);
/// Temporary files older than this are left over by a killed process, and removed.
const STALE_TEMPORARY: Duration = Duration::from_secs(600);
/// The longest `flush_all` waits for writes in progress on other threads.
const FLUSH_WAIT: Duration = Duration::from_secs(10);
const TEMPORARY_PREFIX: &str = ".tmp-";
/// How much of an entry's code is read (and then hashed) at a time: well within L2.
const READ_PIECE: usize = 256 << 10;

/// Where the cache is and how big it may grow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// The directory of the entries, created (0700) on the first write.
    pub directory: PathBuf,
    /// The most bytes the entries may take together.
    pub max_size: u64,
}

impl CacheConfig {
    /// The cache the environment asks for: `None` if `HERON_CACHE=off` (or `0`, `false`) or
    /// no directory can be found; else `HERON_CACHE_DIR`, or `$XDG_CACHE_HOME/heron`, or
    /// `$HOME/.cache/heron`, bounded by `HERON_CACHE_MAX_SIZE` (bytes, with an optional K, M
    /// or G suffix; a bad value means the default) or `DEFAULT_MAX_SIZE`.
    pub fn from_env() -> Option<CacheConfig> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Ok(switch) = std::env::var("HERON_CACHE") {
            if matches!(switch.trim().to_ascii_lowercase().as_str(), "off" | "0" | "false") {
                return None;
            }
        }
        let directory = var("HERON_CACHE_DIR")
            .or_else(|| var("XDG_CACHE_HOME").filter(|p| p.is_absolute()).map(|p| p.join("heron")))
            .or_else(|| var("HOME").map(|p| p.join(".cache").join("heron")))?;
        let max_size = match std::env::var("HERON_CACHE_MAX_SIZE") {
            Ok(text) => parse_size(&text).unwrap_or_else(|| {
                debug(&format!("HERON_CACHE_MAX_SIZE={text:?} is not a byte count; using the default"));
                DEFAULT_MAX_SIZE
            }),
            Err(_) => DEFAULT_MAX_SIZE,
        };
        Some(CacheConfig { directory, max_size })
    }
}

/// `123`, `64K`, `512M`, `2G` (binary multiples) as bytes.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, scale) = match text.char_indices().last()? {
        (at, 'k' | 'K') => (&text[..at], 1 << 10),
        (at, 'm' | 'M') => (&text[..at], 1 << 20),
        (at, 'g' | 'G') => (&text[..at], 1 << 30),
        _ => (text, 1),
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(scale)
}

/// Prints what the cache did (and why it did not help), when `HERON_CACHE_DEBUG` is set.
pub(crate) fn debug(message: &str) {
    if std::env::var_os("HERON_CACHE_DEBUG").is_some() {
        eprintln!("heron code cache: {message}");
    }
}

/// What a cache holds and how it served this process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Entries in the directory now.
    pub entries: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Modules this process found in the cache.
    pub hits: u64,
    /// Modules this process looked up and did not find (or found unusable).
    pub misses: u64,
    /// Entries this process wrote.
    pub writes: u64,
}

/// One cache directory.
pub struct CodeCache {
    config: CacheConfig,
    hits: AtomicU64,
    misses: AtomicU64,
    writes: AtomicU64,
    /// Serialises this process's writes, so that merging with the entry on disk sees the
    /// previous write's functions; holds the directory's estimated size.
    writing: Mutex<SizeEstimate>,
}

/// What this process knows of the directory's size without listing it: listing on every
/// write would make filling a cache quadratic.
#[derive(Default)]
struct SizeEstimate {
    /// Total bytes of the entries at the last listing plus those written since.
    bytes: u64,
    /// Writes since the last listing; the directory is listed again every
    /// `WRITES_PER_LISTING` writes (other processes write too), or when `bytes` exceeds
    /// the bound.
    writes: u32,
    listed: bool,
}

const WRITES_PER_LISTING: u32 = 64;

impl CodeCache {
    /// The cache in `config.directory` (not touched until used).
    pub fn new(config: CacheConfig) -> CodeCache {
        CodeCache {
            config,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            writing: Mutex::new(SizeEstimate::default()),
        }
    }

    /// The directory of the entries.
    pub fn directory(&self) -> &Path {
        &self.config.directory
    }

    /// The most bytes the entries may take together.
    pub fn max_size(&self) -> u64 {
        self.config.max_size
    }

    fn entry_path(&self, key: &CacheKey) -> PathBuf {
        self.config.directory.join(key.file_name())
    }

    /// Whether the directory has a file for `key` (which `load` may still refuse).
    pub(crate) fn has_entry(&self, key: &CacheKey) -> bool {
        self.entry_path(key).is_file()
    }

    /// The entry of `key`, checksum verified, or `None` (a miss). A hit marks the entry as
    /// recently used.
    pub(crate) fn load(&self, key: &CacheKey) -> Option<LoadedEntry> {
        let path = self.entry_path(key);
        let started = Instant::now();
        let found = match load_entry(&path, key) {
            Ok(entry) => Some(entry),
            Err(LoadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => {
                debug(&format!("ignoring {}: {}", path.display(), error.describe()));
                None
            }
        };
        if found.is_some() {
            debug(&format!("read, verified and decoded the entry in {:.1} ms", started.elapsed().as_secs_f64() * 1e3));
        }
        match found {
            Some(_) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                // LRU order is mtime order; failing to touch (read-only) only ages the entry.
                if let Ok(file) = fs::OpenOptions::new().append(true).open(&path) {
                    let _ = file.set_modified(SystemTime::now());
                }
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
            }
        }
        found
    }

    /// Adds `functions` to the entry of `key` (keeping those it holds), writes it atomically,
    /// and evicts old entries beyond the size bound. Failures are only reported under
    /// `HERON_CACHE_DEBUG`.
    pub(crate) fn store(&self, key: &CacheKey, functions: Vec<CachedFunction>) {
        if functions.is_empty() {
            return;
        }
        let mut estimate = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let path = self.entry_path(key);
        let mut merged: BTreeMap<u32, CachedFunction> = BTreeMap::new();
        for function in read_entry(&path, key).into_iter().flatten().chain(functions) {
            merged.entry(function.index).or_insert(function);
        }
        let merged: Vec<CachedFunction> = merged.into_values().collect();
        let data = cache_entry::encode(key, &merged);
        match self.write_atomically(&path, &data) {
            Ok(()) => {
                self.writes.fetch_add(1, Ordering::Relaxed);
                estimate.bytes += data.len() as u64;
                estimate.writes += 1;
                if !estimate.listed || estimate.writes >= WRITES_PER_LISTING || estimate.bytes > self.config.max_size {
                    *estimate = SizeEstimate { bytes: self.evict(), writes: 0, listed: true };
                }
            }
            Err(error) => debug(&format!("cannot write {}: {error}", path.display())),
        }
    }

    /// Writes `data` to a new temporary file (0600) in the directory (made 0700 if
    /// missing), then renames it to `path`.
    fn write_atomically(&self, path: &Path, data: &[u8]) -> std::io::Result<()> {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.config.directory)?;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("entry");
        let temporary = self.config.directory.join(format!(
            "{TEMPORARY_PREFIX}{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temporary)?;
            file.write_all(data)?;
            drop(file);
            fs::rename(&temporary, path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written
    }

    /// The entries in the directory: (path, size, last use), and the temporary files.
    fn list(&self) -> (Vec<(PathBuf, u64, SystemTime)>, Vec<(PathBuf, SystemTime)>) {
        let mut entries = Vec::new();
        let mut temporaries = Vec::new();
        let Ok(dir) = fs::read_dir(&self.config.directory) else { return (entries, temporaries) };
        for item in dir.flatten() {
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            let Ok(meta) = item.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if is_entry_name(name) {
                entries.push((item.path(), meta.len(), modified));
            } else if name.starts_with(TEMPORARY_PREFIX) {
                temporaries.push((item.path(), modified));
            }
        }
        (entries, temporaries)
    }

    /// Removes the least recently used entries until the rest fit `max_size`, and stale
    /// temporary files; returns the size of the entries left.
    fn evict(&self) -> u64 {
        let (mut entries, temporaries) = self.list();
        for (path, modified) in temporaries {
            if modified.elapsed().is_ok_and(|age| age > STALE_TEMPORARY) {
                let _ = fs::remove_file(path);
            }
        }
        let mut total: u64 = entries.iter().map(|(_, size, _)| size).sum();
        entries.sort_by_key(|(_, _, used)| *used);
        for (path, size, _) in entries {
            if total <= self.config.max_size {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                total -= size;
            }
        }
        total
    }

    /// Removes every entry (and temporary file) of the directory; nothing else in it.
    pub fn clear(&self) -> std::io::Result<()> {
        let (entries, temporaries) = self.list();
        for path in entries.into_iter().map(|e| e.0).chain(temporaries.into_iter().map(|t| t.0)) {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The directory's contents and this process's use of it.
    pub fn stats(&self) -> CacheStats {
        let (entries, _) = self.list();
        CacheStats {
            entries: entries.len() as u64,
            bytes: entries.iter().map(|(_, size, _)| size).sum(),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
        }
    }
}

/// An entry's file name: 64 lowercase hex digits (`CacheKey::file_name`).
fn is_entry_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A verified entry, its code not yet executable.
pub(crate) struct LoadedEntry {
    /// Where each function's code and side tables are.
    pub records: Vec<FunctionRecord>,
    /// The tables part, which the records' `traps`, `srclocs` and `handlers` index.
    pub tables: Vec<u8>,
    /// The code part, in the memory that is to run it.
    pub code: WritableCode,
}

/// Why an entry could not be loaded.
enum LoadError {
    Io(std::io::Error),
    Entry(EntryError),
    Memory,
}

impl LoadError {
    fn describe(&self) -> String {
        match self {
            LoadError::Io(error) => error.to_string(),
            LoadError::Entry(error) => format!("{error:?}"),
            LoadError::Memory => "no memory to map its code".to_owned(),
        }
    }
}

impl From<EntryError> for LoadError {
    fn from(error: EntryError) -> Self {
        LoadError::Entry(error)
    }
}

impl From<std::io::Error> for LoadError {
    fn from(error: std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::UnexpectedEof {
            LoadError::Entry(EntryError::Truncated)
        } else {
            LoadError::Io(error)
        }
    }
}

/// Reads the entry at `path`, part by part, and verifies it as an entry of `key`.
fn load_entry(path: &Path, key: &CacheKey) -> Result<LoadedEntry, LoadError> {
    let mut file = fs::File::open(path)?;
    let mut header = [0u8; HEADER_LEN];
    file.read_exact(&mut header)?;
    let header = cache_entry::parse_header(key, &header)?;
    // Entries are replaced by rename, never written in place: the open file is whole.
    let expected = (HEADER_LEN + header.tables_len + header.code_len) as u64;
    if file.metadata()?.len() != expected {
        return Err(LoadError::Entry(EntryError::Truncated));
    }
    let mut tables = vec![0; header.tables_len];
    file.read_exact(&mut tables)?;
    let mut checksum = header.start_checksum();
    checksum.update(&tables);
    let mut code = WritableCode::new(header.code_len).map_err(|_| LoadError::Memory)?;
    // Piece by piece, each hashed while it is still in the cache the read left it in: one
    // pass over the code instead of two.
    for piece in code.bytes_mut().chunks_mut(READ_PIECE) {
        file.read_exact(piece)?;
        checksum.update(piece);
    }
    header.check(&checksum)?;
    let records = header.records(&tables)?;
    Ok(LoadedEntry { records, tables, code })
}

/// The decoded entry at `path` if it exists and is a valid entry of `key`.
fn read_entry(path: &Path, key: &CacheKey) -> Option<Vec<CachedFunction>> {
    let data = match fs::read(path) {
        Ok(data) => data,
        Err(e) => {
            if e.kind() != std::io::ErrorKind::NotFound {
                debug(&format!("cannot read {}: {e}", path.display()));
            }
            return None;
        }
    };
    match cache_entry::decode(key, &data) {
        Ok(functions) => Some(functions),
        Err(error) => {
            debug(&format!("ignoring {}: {error:?}", path.display()));
            None
        }
    }
}

/// Functions one module compiled that its entry does not hold yet. The module adds to it
/// as code is compiled; the writer thread, the end of background compilation or
/// `flush_all` writes it.
pub(crate) struct PendingEntry {
    cache: Arc<CodeCache>,
    key: CacheKey,
    functions: Mutex<Vec<CachedFunction>>,
}

impl PendingEntry {
    pub fn new(cache: Arc<CodeCache>, key: CacheKey) -> PendingEntry {
        PendingEntry { cache, key, functions: Mutex::default() }
    }

    /// Queues `functions` for writing after the next quiet period.
    pub fn add(self: &Arc<Self>, functions: impl IntoIterator<Item = CachedFunction>) {
        let was_empty = {
            let mut pending = self.functions.lock().unwrap_or_else(|e| e.into_inner());
            let was_empty = pending.is_empty();
            pending.extend(functions);
            was_empty
        };
        let mut state = WRITER.state.lock().unwrap_or_else(|e| e.into_inner());
        state.last_added = Instant::now();
        if was_empty && !state.dirty.iter().any(|e| Arc::ptr_eq(e, self)) {
            state.dirty.push(self.clone());
        }
        if !state.thread_started {
            state.thread_started =
                std::thread::Builder::new().name("heron-cache-writer".into()).spawn(write_when_quiet).is_ok();
        }
        drop(state);
        WRITER.changed.notify_all();
    }

    /// Writes what is pending now, on this thread.
    pub fn flush(&self) {
        WRITER.state.lock().unwrap_or_else(|e| e.into_inner()).in_flight += 1;
        self.write();
        WRITER.finish_one();
    }

    fn write(&self) {
        let functions = std::mem::take(&mut *self.functions.lock().unwrap_or_else(|e| e.into_inner()));
        self.cache.store(&self.key, functions);
    }
}

/// Entries waiting to be written, and the thread that writes them.
struct Writer {
    state: Mutex<WriterState>,
    changed: Condvar,
}

struct WriterState {
    dirty: Vec<Arc<PendingEntry>>,
    last_added: Instant,
    thread_started: bool,
    /// Writes under way (on any thread); `flush_all` waits for them.
    in_flight: usize,
}

static WRITER: std::sync::LazyLock<Writer> = std::sync::LazyLock::new(|| Writer {
    state: Mutex::new(WriterState {
        dirty: Vec::new(),
        last_added: Instant::now(),
        thread_started: false,
        in_flight: 0,
    }),
    changed: Condvar::new(),
});

impl Writer {
    fn finish_one(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).in_flight -= 1;
        self.changed.notify_all();
    }
}

/// The writer thread: writes the dirty entries once no function was added for
/// `QUIET_PERIOD`.
fn write_when_quiet() {
    let mut state = WRITER.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if state.dirty.is_empty() {
            state = WRITER.changed.wait(state).unwrap_or_else(|e| e.into_inner());
            continue;
        }
        let quiet = state.last_added.elapsed();
        if quiet < QUIET_PERIOD {
            state = WRITER.changed.wait_timeout(state, QUIET_PERIOD - quiet).unwrap_or_else(|e| e.into_inner()).0;
            continue;
        }
        let dirty = std::mem::take(&mut state.dirty);
        state.in_flight += 1;
        drop(state);
        for entry in dirty {
            entry.write();
        }
        WRITER.finish_one();
        state = WRITER.state.lock().unwrap_or_else(|e| e.into_inner());
    }
}

/// Writes every pending entry now, and waits (up to 10 s) for writes under way on other
/// threads: for the end of the process.
pub fn flush_all() {
    let dirty = std::mem::take(&mut WRITER.state.lock().unwrap_or_else(|e| e.into_inner()).dirty);
    for entry in dirty {
        entry.flush();
    }
    let deadline = Instant::now() + FLUSH_WAIT;
    let mut state = WRITER.state.lock().unwrap_or_else(|e| e.into_inner());
    while state.in_flight > 0 {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
        state = WRITER.changed.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("64K"), Some(64 << 10));
        assert_eq!(parse_size(" 512m "), Some(512 << 20));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn only_hex_names_are_entries() {
        assert!(is_entry_name(&"ab".repeat(32)));
        assert!(!is_entry_name(&"AB".repeat(32)));
        assert!(!is_entry_name("notes.txt"));
    }
}
