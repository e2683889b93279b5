//! Throwing exceptions: the unwinder. Zero cost until something throws: calls inside a
//! handler's scope are Cranelift `try_call`s, whose return addresses the compiler records
//! with their landing pads (`CompiledFunction::handlers`); nothing runs at `try` itself.
//!
//! Compiled code throws by calling `heron_throw` (assembly below; the `throw` builtin) with
//! the wasm calling convention, so the caller's frame pointer is intact and its return
//! address is on the stack. The unwinder walks the frame-pointer chain from there up to the
//! innermost entry into compiled code (`entry.rs`): at the first return address with a
//! landing pad it resumes there, with the stack pointer the pad expects (frame pointer minus
//! the recorded frame offset) and the exception in the first payload register. Cranelift
//! treats every register as clobbered on an exception edge of a wasm-convention call, so
//! nothing else needs restoring. With no pad before the entry, the exception unwinds to the
//! entry as a trap does, and the entry returns it to the host.
//!
//! Landing pads catch everything; the code behind them compares tags and rethrows what it
//! does not handle (`compiler/translate/exceptions.rs`), so the unwinder needs no tags.
//! Traps are signals and never reach a landing pad: a trap is not catchable.

use crate::environ::exception::Exception;
use crate::environ::vmctx::{VMContextHeader, VMException};
use crate::runtime::{backtrace, code_memory, entry};
use std::ptr::NonNull;

#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl heron_throw",
    ".hidden heron_throw",
    ".type heron_throw,@function",
    "heron_throw:",
    // (vmctx: rdi, exception: rsi), called with the wasm convention. The thrower's return
    // address is at [rsp] and its frame pointer still in rbp.
    "mov rdx, [rsp]",
    "mov rcx, rbp",
    "push rbp",
    "mov rbp, rsp",
    "call {unwind}",
    "ud2",
    ".size heron_throw, . - heron_throw",
    unwind = sym unwind,
);

extern "C" {
    /// The `throw` builtin's entry (see the module doc). Only compiled code calls it.
    pub(crate) fn heron_throw();
}

/// Finds the handler of `exception`, thrown by the compiled function whose frame pointer is
/// `fp` from the call returning to `pc`, and resumes there, or at the innermost entry.
extern "C" fn unwind(_vmctx: *mut VMContextHeader, exception: *mut VMException, pc: usize, fp: usize) -> ! {
    let entry_fp = entry::innermost_entry_frame_pointer().expect("compiled code runs inside an entry");
    if let Some((landing_pad, sp, fp)) = find_handler(pc, fp, entry_fp) {
        // SAFETY: `landing_pad` is a landing pad of the live frame `fp`, and `sp` the stack
        // pointer it expects; the frames below it are compiled code's, which own no resources,
        // and this function holds nothing that needs dropping.
        unsafe { resume(landing_pad, sp, fp, exception as usize) }
    }
    backtrace::record(pc - 1, fp, fp, entry_fp);
    let exception = Exception(NonNull::new(exception).expect("compiled code throws non-null exceptions"));
    let (sp, landing) = entry::unwind_exception(exception);
    // SAFETY: the entry's saved stack pointer and its landing pad, which restores the
    // registers `heron_enter` saved; everything below is compiled code's frames and this one.
    unsafe { resume(landing, sp, 0, 0) }
}

/// Walks from the frame `fp` (executing the call that returns to `pc`) toward the entry
/// whose frame pointer is `entry_fp`: the first landing pad, its stack pointer and frame.
fn find_handler(mut pc: usize, mut fp: usize, entry_fp: usize) -> Option<(usize, usize, usize)> {
    let mut low = fp;
    loop {
        if let Some((landing_pad, frame_offset)) = code_memory::handler_at(pc) {
            return Some((landing_pad, fp - frame_offset as usize, fp));
        }
        // Frames of this entry lie above each other and below the entry's own.
        if fp < low || fp % 8 != 0 || fp.saturating_add(16) > entry_fp {
            return None;
        }
        // SAFETY: `fp` lies between the thrower's frame and the entry's, in this thread's
        // live stack, and points at a saved frame pointer followed by a return address.
        let (caller_fp, return_address) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
        low = fp + 16;
        pc = return_address;
        fp = caller_fp;
    }
}

/// Jumps to `pc` with the stack pointer `sp`, the frame pointer `fp` and `payload` in the
/// first exception payload register (rax; rdx, the second, is zero).
///
/// # Safety
/// `pc` must be a landing pad (or the entry's landing) expecting exactly this state.
#[cfg(target_arch = "x86_64")]
unsafe fn resume(pc: usize, sp: usize, fp: usize, payload: usize) -> ! {
    // SAFETY: per this function's contract.
    unsafe {
        std::arch::asm!(
            "mov rsp, rcx",
            "mov rbp, rsi",
            "jmp rdi",
            in("rax") payload,
            in("rdx") 0usize,
            in("rcx") sp,
            in("rsi") fp,
            in("rdi") pc,
            options(noreturn, nostack),
        )
    }
}
