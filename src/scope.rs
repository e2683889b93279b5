//! Handle scopes for import calls: calls from wasm to JS made under one entry into wasm
//! share a handle scope instead of opening one each.

use crate::napi_raw::Env;
use napi::sys;
use std::cell::{Cell, RefCell};

/// Import calls made under one entry into wasm share a handle scope, closed and reopened
/// every `IMPORT_SCOPE_BATCH` calls and when the entry returns: opening an N-API handle
/// scope allocates, which was the largest avoidable cost of a call from wasm to JS.
const IMPORT_SCOPE_BATCH: u32 = 256;

/// This thread's nesting of entries into wasm and the shared scopes of those that have made
/// import calls.
struct ImportScopes {
    /// How many `WasmEntry`s are active.
    depth: Cell<u32>,
    /// The depth of the innermost entry with a shared scope (0: none).
    top_depth: Cell<u32>,
    /// (entry depth, shared scope, calls made in it), innermost last.
    frames: RefCell<Vec<(u32, sys::napi_handle_scope, u32)>>,
}

thread_local! {
    static IMPORT_SCOPES: ImportScopes = const {
        ImportScopes { depth: Cell::new(0), top_depth: Cell::new(0), frames: RefCell::new(Vec::new()) }
    };
}

/// Marks a native call that runs wasm code (an export call, an instantiation running a start
/// function). Import calls inside it share handle scopes; dropping it closes the last one,
/// so it must be dropped before the native call creates any handle it returns to JS.
/// Entering costs one thread-local access: export calls that make no import call do nothing
/// else.
pub(crate) struct WasmEntry {
    env: Env,
    /// This thread's `IMPORT_SCOPES` (the guard is not `Send`, so it stays on the thread).
    scopes: *const ImportScopes,
}

impl WasmEntry {
    #[inline(always)]
    pub(crate) fn enter(env: sys::napi_env) -> WasmEntry {
        let scopes = IMPORT_SCOPES.with(|scopes| {
            scopes.depth.set(scopes.depth.get() + 1);
            scopes as *const ImportScopes
        });
        // SAFETY: callers pass the env of the native call that runs wasm.
        WasmEntry { env: unsafe { Env::from_raw(env) }, scopes }
    }
}

impl Drop for WasmEntry {
    fn drop(&mut self) {
        // SAFETY: a thread-local of this thread, which outlives the guard.
        let scopes = unsafe { &*self.scopes };
        let depth = scopes.depth.get();
        if scopes.top_depth.get() == depth {
            let mut frames = scopes.frames.borrow_mut();
            if let Some((_, scope, _)) = frames.pop() {
                // SAFETY: the scope was opened on this env by an import call of this entry,
                // and every scope opened after it has been closed (nested entries close
                // theirs first).
                unsafe { self.env.close_handle_scope(scope) };
            }
            scopes.top_depth.set(frames.last().map_or(0, |frame| frame.0));
        }
        scopes.depth.set(depth - 1);
    }
}

/// Makes sure handles created by an import call now live in a scope that is closed soon:
/// the innermost entry's shared scope, or else (an entry this module did not mark) a scope
/// of its own, returned for the caller to close.
///
/// # Safety
/// `env` must be the current JS environment, with no scope opened since the entry's shared
/// scope still open (true between import calls: each leaves nothing open).
pub(crate) unsafe fn import_scope(env: Env) -> Option<sys::napi_handle_scope> {
    IMPORT_SCOPES.with(|scopes| {
        let depth = scopes.depth.get();
        if depth == 0 {
            return Some(env.open_handle_scope());
        }
        let mut frames = scopes.frames.borrow_mut();
        match frames.last_mut() {
            Some((frame_depth, scope, calls)) if *frame_depth == depth => {
                if *calls >= IMPORT_SCOPE_BATCH {
                    // SAFETY: the entry's shared scope, innermost per this function's
                    // contract; the import calls that used its values have returned.
                    unsafe { env.close_handle_scope(*scope) };
                    *scope = env.open_handle_scope();
                    *calls = 0;
                }
                *calls += 1;
            }
            _ => {
                frames.push((depth, env.open_handle_scope(), 1));
                scopes.top_depth.set(depth);
            }
        }
        None
    })
}
