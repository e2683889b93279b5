//! Wasm stack traces. When compiled code traps (a host function's failure is a trap too),
//! the signal handler walks the frame-pointer chain (every function heron compiles keeps
//! frame pointers) from the trapping frame up to the entry that called compiled code, and
//! records the return addresses in a fixed per-thread buffer: no lock, no allocation. After
//! the entry has returned, `entry.rs` symbolizes them (code address -> function and wasm
//! offset, through the code registry) into a [`Backtrace`], which the embedder takes with
//! [`Backtrace::take_last`] right after the call that failed.

use crate::environ::names::ModuleNames;
use crate::runtime::code_memory;
use std::cell::{Cell, RefCell};
use std::sync::Arc;

/// Frames recorded per trap; deeper stacks keep their innermost frames.
const MAX_FRAMES: usize = 64;

/// The addresses the signal handler recorded for the last trap on this thread: the trapping
/// PC first, then return addresses, innermost first.
struct Recorded {
    pcs: [Cell<usize>; MAX_FRAMES],
    len: Cell<usize>,
}

thread_local! {
    static RECORDED: Recorded = const { Recorded { pcs: [const { Cell::new(0) }; MAX_FRAMES], len: Cell::new(0) } };
    static LAST: RefCell<Option<Backtrace>> = const { RefCell::new(None) };
}

/// Touches this thread's buffer so the signal handler never initialises a thread-local.
pub(crate) fn prepare_thread() {
    RECORDED.with(|recorded| recorded.len.set(0));
}

/// Called by the signal handler for a trap at `pc` with frame pointer `fp` and stack pointer
/// `sp`, in code entered by the entry whose own frame pointer is `entry_fp`: records `pc`
/// and the return address of every frame between. Allocates nothing.
pub(crate) fn record(pc: usize, mut fp: usize, sp: usize, entry_fp: usize) {
    RECORDED.with(|recorded| {
        recorded.pcs[0].set(pc);
        let mut len = 1;
        // Each frame of this activation lies above the previous one and below the entry's;
        // anything else is not a frame of the chain, and ends the walk.
        let mut low = sp;
        while len < MAX_FRAMES && fp >= low && fp % 8 == 0 && fp.saturating_add(16) <= entry_fp {
            // SAFETY: `fp` lies between the interrupted stack pointer and the entry's frame,
            // in the live stack of this thread, and points at a saved frame pointer followed
            // by a return address (the frame layout of all code heron compiles).
            let (caller_fp, return_address) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
            recorded.pcs[len].set(return_address);
            len += 1;
            low = fp + 16;
            fp = caller_fp;
        }
        recorded.len.set(len);
    });
}

/// The wasm frames of the last recorded trap, kept for [`Backtrace::take_last`]. Called by
/// the entry after a trap unwound to it.
pub(crate) fn symbolize_recorded() {
    let pcs: Vec<usize> = RECORDED.with(|recorded| recorded.pcs[..recorded.len.get()].iter().map(Cell::get).collect());
    let frames = pcs
        .iter()
        .enumerate()
        .filter_map(|(i, pc)| code_memory::wasm_frame_at(*pc, i > 0))
        .map(|frame| Frame { names: frame.names, func_index: frame.func_index, module_offset: frame.module_offset })
        .collect();
    set_last(Backtrace { frames });
}

/// Replaces this thread's last backtrace.
pub(crate) fn set_last(backtrace: Backtrace) {
    LAST.with(|last| *last.borrow_mut() = Some(backtrace));
}

/// The wasm frames that were live when compiled code trapped or a host function failed,
/// innermost first. Host frames are not in it: the embedder knows its own.
#[derive(Debug, Default)]
pub struct Backtrace {
    frames: Vec<Frame>,
}

impl Backtrace {
    /// The backtrace of the most recent call on this thread that trapped or whose host
    /// function failed, if not taken yet. Take it right after the failed call returns: the
    /// next failure replaces it.
    pub fn take_last() -> Option<Backtrace> {
        LAST.with(|last| last.borrow_mut().take())
    }

    /// The frames, innermost first.
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }
}

/// One wasm frame.
#[derive(Debug)]
pub struct Frame {
    names: Arc<ModuleNames>,
    func_index: u32,
    module_offset: u32,
}

impl Frame {
    /// The function's index in its module's function index space.
    pub fn func_index(&self) -> u32 {
        self.func_index
    }

    /// Byte offset in the module of the instruction the frame is at: the trapping one, or
    /// the call the frame is waiting on.
    pub fn module_offset(&self) -> u32 {
        self.module_offset
    }

    /// The function's name from the module's name section.
    pub fn func_name(&self) -> Option<&str> {
        self.names.function(self.func_index)
    }

    /// The module's name from its name section.
    pub fn module_name(&self) -> Option<&str> {
        self.names.module.as_deref()
    }

    /// The hash of the module's bytes that V8 shows in its `wasm://wasm/` URLs.
    pub fn module_hash(&self) -> u32 {
        self.names.hash()
    }
}
