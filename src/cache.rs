//! The code cache as `index.js`'s `heron.cache` sees it: where it is, what it holds, and
//! clearing and flushing it (the process's exit hook flushes). The cache itself is the
//! engine's (`heron_engine::CodeCache`).

use heron_engine::Engine;
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// The default engine's code cache: its directory and bound, its contents and this
/// process's use of it.
#[napi(object)]
pub struct CodeCacheStats {
    pub directory: String,
    pub max_size: f64,
    pub entries: f64,
    pub bytes: f64,
    pub hits: f64,
    pub misses: f64,
    pub writes: f64,
}

/// The code cache's directory, or `null` when the cache is off.
#[napi]
pub fn code_cache_directory() -> Option<String> {
    Engine::default().code_cache().map(|cache| cache.directory().to_string_lossy().into_owned())
}

/// The cache's statistics, or `null` when the cache is off.
#[napi]
pub fn code_cache_stats() -> Option<CodeCacheStats> {
    let engine = Engine::default();
    let cache = engine.code_cache()?;
    let stats = cache.stats();
    Some(CodeCacheStats {
        directory: cache.directory().to_string_lossy().into_owned(),
        max_size: cache.max_size() as f64,
        entries: stats.entries as f64,
        bytes: stats.bytes as f64,
        hits: stats.hits as f64,
        misses: stats.misses as f64,
        writes: stats.writes as f64,
    })
}

/// Removes every entry of the cache directory; throws if one cannot be removed.
#[napi]
pub fn clear_code_cache() -> Result<()> {
    match Engine::default().code_cache() {
        Some(cache) => cache.clear().map_err(|e| Error::from_reason(format!("heron.cache.clear(): {e}"))),
        None => Ok(()),
    }
}

/// Writes every compiled function not in the cache yet, now.
#[napi]
pub fn flush_code_cache() {
    heron_engine::flush_code_cache();
}
