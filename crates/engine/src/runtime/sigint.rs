//! Ctrl-C for instances created with `break_on_sigint`: while such an instance runs, SIGINT
//! interrupts it (it traps with `Trap::Interrupted`) instead of reaching the process. At any
//! other time the signal goes to the handler installed before heron's (Node's own, or the
//! application's through libuv), or gets its default action, which ends the process.
//!
//! One call at a time can be the target (the first armed; in Node, the main thread's). The
//! handler is (re)installed when a call arms it, since libuv replaces the SIGINT handler
//! whenever the application starts listening for 'SIGINT'; heron's then runs first and
//! chains to libuv's.

use crate::runtime::interrupts::InterruptState;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

/// The interrupt state of the call Ctrl-C interrupts now, or null.
static TARGET: AtomicPtr<InterruptState> = AtomicPtr::new(ptr::null_mut());
/// Handlers inside their use of `TARGET`; `disarm` waits for 0 before the state may go.
static BUSY: AtomicU32 = AtomicU32::new(0);
/// The action that was installed before heron's (leaked, replaced on reinstall).
static PREVIOUS: AtomicPtr<libc::sigaction> = AtomicPtr::new(ptr::null_mut());

/// Makes SIGINT interrupt `state`'s call, unless another call is the target already.
/// Returns whether it did; `disarm` must then be called before `state` may be dropped.
pub(crate) fn arm(state: &InterruptState) -> bool {
    install();
    let target = (state as *const InterruptState).cast_mut();
    TARGET.compare_exchange(ptr::null_mut(), target, Ordering::AcqRel, Ordering::Acquire).is_ok()
}

/// Undoes a successful `arm`, waiting until no handler uses the target.
pub(crate) fn disarm() {
    TARGET.store(ptr::null_mut(), Ordering::Release);
    // A handler running on this thread finished before we resumed; one on another thread
    // finishes in a few instructions.
    while BUSY.load(Ordering::Acquire) != 0 {
        std::hint::spin_loop();
    }
}

/// Installs `on_sigint` unless it is the current handler, remembering the current one.
fn install() {
    // SAFETY: querying and setting the SIGINT action with zeroed then filled structs is the
    // documented use of sigaction; the previous action is leaked, so a handler that read the
    // pointer keeps a valid struct.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGINT, ptr::null(), &mut current) != 0 {
            return;
        }
        if current.sa_sigaction == on_sigint as *const () as usize {
            return;
        }
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigint as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
        libc::sigemptyset(&mut action.sa_mask);
        PREVIOUS.store(Box::into_raw(Box::new(current)), Ordering::Release);
        libc::sigaction(libc::SIGINT, &action, ptr::null_mut());
    }
}

extern "C" fn on_sigint(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    BUSY.fetch_add(1, Ordering::AcqRel);
    let target = TARGET.load(Ordering::Acquire);
    if !target.is_null() {
        // SAFETY: an armed target stays alive until `disarm` has seen BUSY at 0.
        unsafe { (*target).interrupt() };
        BUSY.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    BUSY.fetch_sub(1, Ordering::AcqRel);
    let previous = PREVIOUS.load(Ordering::Acquire);
    if previous.is_null() {
        return;
    }
    // SAFETY: `previous` is a leaked, never freed copy of the earlier action.
    let previous = unsafe { &*previous };
    let handler = previous.sa_sigaction;
    if handler == libc::SIG_IGN {
        return;
    }
    if handler == libc::SIG_DFL {
        // SAFETY: the default action of SIGINT ends the process, as without heron; with
        // SA_NODEFER the raised signal is delivered at once.
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::raise(libc::SIGINT);
        }
        return;
    }
    if previous.sa_flags & libc::SA_RESETHAND != 0 {
        // The kernel would have reset the action before running it (Node's own handler,
        // which re-raises the signal, relies on that): do the same, or it raises into
        // heron's handler again.
        // SAFETY: resetting SIGINT to its default disposition.
        unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) };
    }
    if previous.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: registered with SA_SIGINFO, so it has the three-argument type.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(handler) };
        f(signal, info, context);
    } else {
        // SAFETY: registered without SA_SIGINFO, so it has the one-argument type.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
        f(signal);
    }
}
