//! Signal handling: turns a fault at a trap site of heron's code into a trap, and passes
//! every other signal to the handler installed before heron's (Node's and V8's among them).
//! Also gives each thread that enters compiled code an alternate signal stack, and finds
//! the thread's stack bounds.

use crate::runtime::backtrace;
use crate::runtime::code_memory;
use crate::runtime::entry;
use std::cell::Cell;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::Once;

const SIGNALS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

/// The handlers that were installed before heron's, in `SIGNALS` order. Written once by
/// `install` before heron's handlers are registered, read-only afterwards.
static mut PREVIOUS: [MaybeUninit<libc::sigaction>; 4] = [MaybeUninit::uninit(); 4];

/// Installs heron's handlers once per process.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (i, signal) in SIGNALS.iter().enumerate() {
            // SAFETY: `sigaction` with a zeroed, then filled, struct is the documented use;
            // PREVIOUS[i] is written before the new handler can run, and only here.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
                libc::sigemptyset(&mut action.sa_mask);
                let previous = &mut *ptr::addr_of_mut!(PREVIOUS[i]);
                if libc::sigaction(*signal, &action, previous.as_mut_ptr()) != 0 {
                    panic!("sigaction failed for signal {signal}");
                }
            }
        }
    });
}

extern "C" fn on_signal(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let ucontext = context.cast::<libc::ucontext_t>();
    // SAFETY: the kernel passes a valid ucontext to an SA_SIGINFO handler.
    let pc = unsafe { (*ucontext).uc_mcontext.gregs[libc::REG_RIP as usize] as usize };
    if entry::in_wasm() {
        if let Some(trap) = code_memory::trap_at(pc) {
            if let Some((sp, resume)) = entry::unwind_target(trap) {
                // SAFETY: as above.
                let (fp, trap_sp) = unsafe {
                    let gregs = &(*ucontext).uc_mcontext.gregs;
                    (gregs[libc::REG_RBP as usize] as usize, gregs[libc::REG_RSP as usize] as usize)
                };
                backtrace::record(pc, fp, trap_sp, entry::entry_frame_pointer(sp));
                // SAFETY: as above; resuming at the landing pad with the entry's saved stack
                // pointer abandons only compiled-code frames, which own no resources.
                unsafe {
                    (*ucontext).uc_mcontext.gregs[libc::REG_RSP as usize] = sp as i64;
                    (*ucontext).uc_mcontext.gregs[libc::REG_RIP as usize] = resume as i64;
                }
                return;
            }
        }
    }
    // SAFETY: not ours: hand it to the previous handler exactly as we received it.
    unsafe { chain(signal, info, context) }
}

/// # Safety
/// Must be called from the signal handler with the arguments it received.
unsafe fn chain(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let Some(index) = SIGNALS.iter().position(|s| *s == signal) else {
        return;
    };
    // SAFETY: PREVIOUS was filled by `install` before this handler was registered.
    let previous = unsafe { (*ptr::addr_of!(PREVIOUS[index])).assume_init_ref() };
    let handler = previous.sa_sigaction;
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // Restore the default action and return: the faulting instruction runs again and
        // the process terminates the way it would have without heron.
        // SAFETY: resetting a signal to its default disposition.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
    } else if previous.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was registered with SA_SIGINFO, so it has this type.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(handler) };
        f(signal, info, context);
    } else {
        // SAFETY: a handler registered without SA_SIGINFO takes the signal number only.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
        f(signal);
    }
}

/// An alternate signal stack owned by the thread that installed it.
struct AltStack {
    mapping: *mut libc::c_void,
    size: usize,
}

const ALT_STACK_SIZE: usize = 64 * 1024;

impl Drop for AltStack {
    fn drop(&mut self) {
        // SAFETY: disable the alternate stack before unmapping it; both calls act on this
        // thread's own alternate stack, which nothing else uses once the thread is exiting.
        unsafe {
            let disable = libc::stack_t { ss_sp: ptr::null_mut(), ss_flags: libc::SS_DISABLE, ss_size: 0 };
            libc::sigaltstack(&disable, ptr::null_mut());
            libc::munmap(self.mapping, self.size);
        }
    }
}

thread_local! {
    static ALT_STACK: Cell<Option<AltStack>> = const { Cell::new(None) };
}

/// Makes the current thread ready to run compiled code: gives it an alternate signal stack
/// (no thread in Node has one, and a fault near the stack's end needs one) and touches the
/// thread-locals the signal handler reads, so the handler never initialises them.
pub(crate) fn prepare_thread() {
    let _ = entry::in_wasm();
    backtrace::prepare_thread();
    // SAFETY: querying this thread's alternate signal stack into a local struct.
    let has_alt_stack = unsafe {
        let mut current: libc::stack_t = std::mem::zeroed();
        libc::sigaltstack(ptr::null(), &mut current) == 0 && current.ss_flags & libc::SS_DISABLE == 0
    };
    if has_alt_stack {
        return;
    }
    let page = 4096;
    let size = ALT_STACK_SIZE + page;
    // SAFETY: a fresh private mapping; the lowest page stays PROT_NONE as a guard.
    unsafe {
        let mapping = libc::mmap(
            ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if mapping == libc::MAP_FAILED {
            return;
        }
        libc::mprotect(mapping, page, libc::PROT_NONE);
        let stack =
            libc::stack_t { ss_sp: mapping.cast::<u8>().add(page).cast(), ss_flags: 0, ss_size: ALT_STACK_SIZE };
        if libc::sigaltstack(&stack, ptr::null_mut()) != 0 {
            libc::munmap(mapping, size);
            return;
        }
        ALT_STACK.with(|slot| slot.set(Some(AltStack { mapping, size })));
    }
}

/// The lowest usable address of the current thread's stack.
pub(crate) fn thread_stack_low() -> usize {
    let here = &0u8 as *const u8 as usize;
    // SAFETY: pthread_getattr_np fills `attr` for the calling thread; it is destroyed after use.
    let (low, size) = unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return here.saturating_sub(1 << 20);
        }
        let mut address: *mut libc::c_void = ptr::null_mut();
        let mut size: libc::size_t = 0;
        libc::pthread_attr_getstack(&attr, &mut address, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        (address as usize, size)
    };
    // An unlimited main-thread stack reports an enormous size: budget 8 MiB below here.
    if size > 64 << 20 {
        return here.saturating_sub(8 << 20);
    }
    low
}

/// Makes the calling thread yield the CPU to normal-priority threads (nice +10): background
/// compiler threads call it, so the thread running wasm and JS goes first. Thread setup,
/// like `prepare_thread`; best effort.
pub(crate) fn lower_thread_priority() {
    // SAFETY: gettid has no preconditions; setpriority on this thread's own id changes only
    // its scheduling priority.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}
