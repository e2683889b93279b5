//! Entering compiled code and coming back from a trap.
//!
//! `heron_enter` (assembly below) saves the callee-saved registers and the stack pointer in
//! an `Activation`, then calls a signature's array trampoline. A trap is a signal at a
//! recorded trap site; the handler (`signals.rs`) points the interrupted context's stack
//! pointer back at the saved one and its PC at `heron_trap_landing`, which restores the
//! registers and returns 1 from `heron_enter`. An exception no handler catches before the
//! entry (`throw.rs`) comes back the same way. Activations nest (wasm -> host -> wasm) and
//! form a per-thread list.

use crate::environ::error::HostError;
use crate::environ::exception::Exception;
use crate::environ::trap::Trap;
use crate::environ::val_raw::ValRaw;
use crate::environ::vmctx::VMFuncRef;
use std::cell::Cell;
use std::ptr;

/// One entry into compiled code on this thread.
#[repr(C)]
pub(crate) struct Activation {
    /// Stack pointer after `heron_enter` saved its registers; written by `heron_enter`.
    saved_sp: usize,
    /// The trap the signal handler caught, as `Trap as u8`, or `UNCAUGHT_EXCEPTION`.
    trap: u8,
    previous: *mut Activation,
    /// The function this entry called.
    callee: *const VMFuncRef,
}

#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl heron_enter",
    ".hidden heron_enter",
    ".type heron_enter,@function",
    "heron_enter:",
    // (array_call: rdi, wasm_call: rsi, vmctx: rdx, values: rcx, activation: r8) -> eax
    "push rbp",
    "mov rbp, rsp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    // Keep SAVED_SP_BELOW_FP in step with the pushes above.
    "sub rsp, 8",
    "mov [r8], rsp",
    "mov rax, rdi",
    "mov rdi, rsi",
    "mov rsi, rdx",
    "mov rdx, rcx",
    "call rax",
    "xor eax, eax",
    "2:",
    "add rsp, 8",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    ".globl heron_trap_landing",
    ".hidden heron_trap_landing",
    "heron_trap_landing:",
    "mov eax, 1",
    "jmp 2b",
    ".size heron_enter, . - heron_enter",
);

/// How far below `heron_enter`'s frame pointer the stack pointer it saves is: five pushes
/// and eight bytes of alignment.
const SAVED_SP_BELOW_FP: usize = 48;

/// The frame pointer of the `heron_enter` frame that saved `saved_sp`: the end of the frame
/// chain a backtrace walks (`backtrace.rs`).
pub(crate) fn entry_frame_pointer(saved_sp: usize) -> usize {
    saved_sp + SAVED_SP_BELOW_FP
}

extern "C" {
    fn heron_enter(
        array_call: *const u8,
        wasm_call: *const u8,
        vmctx: *mut u8,
        values: *mut ValRaw,
        activation: *mut Activation,
    ) -> u32;
    fn heron_trap_landing();
}

/// The per-thread state of the entry path, in one thread-local so a call looks it up once:
/// in a dynamically loaded library (the Node addon) each thread-local access is a call to
/// `__tls_get_addr`.
struct EntryState {
    /// Innermost activation of this thread, null outside compiled code.
    current: Cell<*mut Activation>,
    /// The lowest stack address wasm may use on this thread; 0 until computed.
    stack_limit: Cell<usize>,
}

impl EntryState {
    fn stack_limit(&self) -> usize {
        if self.stack_limit.get() == 0 {
            crate::runtime::signals::prepare_thread();
            self.stack_limit.set(crate::runtime::signals::thread_stack_low() + STACK_RESERVE);
        }
        self.stack_limit.get()
    }
}

thread_local! {
    static STATE: EntryState =
        const { EntryState { current: Cell::new(ptr::null_mut()), stack_limit: Cell::new(0) } };
    /// The exception that unwound to the innermost entry, until that entry takes it.
    static UNCAUGHT: Cell<Option<Exception>> = const { Cell::new(None) };
}

/// `Activation::trap` of an entry an exception unwound to (no `Trap` has this code).
const UNCAUGHT_EXCEPTION: u8 = u8::MAX;

/// Stack kept free below the wasm limit: host calls, the trap path and the embedder's own
/// frames run there.
const STACK_RESERVE: usize = 256 * 1024;

/// The stack limit compiled code checks in its prologue, for the current thread.
pub(crate) fn thread_stack_limit() -> usize {
    STATE.with(EntryState::stack_limit)
}

/// Bytes of stack this thread has left below the caller's frame (down to the real end of
/// its stack, not the wasm limit).
pub(crate) fn stack_left() -> usize {
    let here = &0u8 as *const u8 as usize;
    here.saturating_sub(thread_stack_limit() - STACK_RESERVE)
}

/// Why a call into compiled code did not return normally.
pub(crate) enum Unwind {
    Trap(Trap),
    Host(HostError),
    /// A wasm exception no handler caught.
    Exception(Exception),
}

/// Calls `func_ref` with the arguments in `values`, leaving the results there.
///
/// # Safety
/// `func_ref` must point to a live `VMFuncRef` whose code and context outlive the call, and
/// `values` must hold at least max(params, results) slots, the params typed as it expects.
#[inline]
pub(crate) unsafe fn call(func_ref: *const VMFuncRef, values: *mut ValRaw) -> Result<(), Unwind> {
    // SAFETY: the caller guarantees `func_ref` is live. `wasm_call` is read atomically: a
    // background thread may be installing optimized code there (see `lazy.rs`).
    let mut wasm_call = unsafe { VMFuncRef::load_wasm_call(func_ref) };
    if wasm_call.is_null() {
        // SAFETY: a null `wasm_call` is that of a function an instance defines, and the
        // caller keeps it alive. `resolve` fills in `wasm_call` (or fails and leaves it null).
        wasm_call = unsafe { crate::runtime::libcalls::resolve(func_ref.cast_mut()) };
        if wasm_call.is_null() {
            crate::runtime::backtrace::set_last(Default::default());
            return Err(Unwind::Trap(Trap::CompileFailed));
        }
    }
    // Only the two small results leave the closure: copying the whole activation out would
    // reload bytes just written with narrower stores (a store-forwarding stall per call).
    let (trapped, trap_code) = STATE.with(|state| {
        let limit = state.stack_limit();
        // SAFETY: the caller guarantees `func_ref` is live; its context starts with a header.
        let (array_call, vmctx) = unsafe {
            let f = &*func_ref;
            (*f.vmctx).stack_limit = limit;
            (f.array_call, f.vmctx.cast::<u8>())
        };
        let mut activation = Activation { saved_sp: 0, trap: 0, previous: state.current.get(), callee: func_ref };
        state.current.set(&mut activation);
        // SAFETY: the trampoline matches the callee's signature (both come from its
        // VMFuncRef), `values` is as the caller guarantees, and `activation` outlives the call.
        let trapped = unsafe { heron_enter(array_call, wasm_call, vmctx, values, &mut activation) };
        state.current.set(activation.previous);
        (trapped, activation.trap)
    });
    if trapped == 0 {
        return Ok(());
    }
    crate::runtime::backtrace::symbolize_recorded();
    if trap_code == UNCAUGHT_EXCEPTION {
        let exception = UNCAUGHT.with(Cell::take).expect("the unwinder left the exception");
        // A host function's failure goes back to the host as it was, unless wasm caught
        // and rethrew it elsewhere (it is taken once).
        return Err(match exception.take_host_error() {
            Some(error) => Unwind::Host(error),
            None => Unwind::Exception(exception),
        });
    }
    Err(Unwind::Trap(Trap::from_u8(trap_code).unwrap_or(Trap::Unreachable)))
}

/// Called by the unwinder when no handler of the innermost entry catches `exception`:
/// records it for that entry and returns the (stack pointer, PC) to resume at.
pub(crate) fn unwind_exception(exception: Exception) -> (usize, usize) {
    let activation = STATE.with(|state| state.current.get());
    assert!(!activation.is_null(), "compiled code runs inside an entry");
    UNCAUGHT.with(|uncaught| uncaught.set(Some(exception)));
    // SAFETY: a non-null current activation is the one of a `call` still on this stack.
    unsafe {
        (*activation).trap = UNCAUGHT_EXCEPTION;
        ((*activation).saved_sp, heron_trap_landing as *const () as usize)
    }
}

/// The frame pointer of the innermost entry's `heron_enter` frame: where the frames of
/// compiled code it called end.
pub(crate) fn innermost_entry_frame_pointer() -> Option<usize> {
    let activation = STATE.with(|state| state.current.get());
    // SAFETY: a non-null current activation is the one of a `call` still on this stack.
    (!activation.is_null()).then(|| entry_frame_pointer(unsafe { (*activation).saved_sp }))
}

/// Called by the signal handler: if this thread is running compiled code, records `trap`
/// and returns the (stack pointer, PC) to resume at. Allocates nothing.
pub(crate) fn unwind_target(trap: Trap) -> Option<(usize, usize)> {
    let activation = STATE.with(|state| state.current.get());
    if activation.is_null() {
        return None;
    }
    // SAFETY: a non-null current activation is the one of a `call` still on this stack.
    unsafe {
        (*activation).trap = trap as u8;
        Some(((*activation).saved_sp, heron_trap_landing as *const () as usize))
    }
}

/// The function the innermost entry into compiled code on this thread called, if any. It is
/// alive: the entry's caller holds it for the duration of the call.
pub(crate) fn entered_func() -> Option<*const VMFuncRef> {
    let activation = STATE.with(|state| state.current.get());
    // SAFETY: a non-null current activation is the one of a `call` still on this stack.
    (!activation.is_null()).then(|| unsafe { (*activation).callee })
}

/// Whether this thread is inside compiled code.
pub(crate) fn in_wasm() -> bool {
    !STATE.with(|state| state.current.get()).is_null()
}
