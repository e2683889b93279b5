//! Signal handling: turns a fault at a trap site of heron's code into a trap, and passes
//! every other signal to the handler installed before heron's (Node's and V8's among them).
//! Also gives each thread that enters compiled code an alternate signal stack, and finds
//! the thread's stack bounds. Platform specifics (the interrupted context's registers,
//! thread stacks, priorities) are in `sys/`.

use crate::environ::trap::Trap;
use crate::runtime::backtrace;
use crate::runtime::code_memory;
use crate::runtime::entry;
use crate::runtime::sys;
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

/// Whether a fault at `pc` is heron's: only on a thread inside compiled code (`in_wasm`),
/// and only at a recorded trap site (`trap_at`, the code registry's lookup). Everything
/// else, V8's own guard-page faults included, belongs to the previous handler. Takes the
/// thread state and the lookup as arguments so it can be tested without raising a signal.
pub(crate) fn classify(pc: usize, in_wasm: bool, trap_at: impl FnOnce(usize) -> Option<Trap>) -> Option<Trap> {
    if in_wasm {
        trap_at(pc)
    } else {
        None
    }
}

extern "C" fn on_signal(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid ucontext to an SA_SIGINFO handler.
    let pc = unsafe { sys::context_pc(context) };
    if let Some(trap) = classify(pc, entry::in_wasm(), code_memory::trap_at) {
        if let Some((sp, resume)) = entry::unwind_target(trap) {
            // SAFETY: as above.
            let (fp, trap_sp) = unsafe { sys::context_frame(context) };
            backtrace::record(pc, fp, trap_sp, entry::entry_frame_pointer(sp));
            // SAFETY: as above; resuming at the landing pad with the entry's saved stack
            // pointer abandons only compiled-code frames, which own no resources.
            unsafe { sys::context_resume(context, sp, resume) };
            return;
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
    sys::thread_stack_low()
}

/// Makes the calling thread yield the CPU to normal-priority threads: background compiler
/// threads call it, so the thread running wasm and JS goes first. Best effort.
pub(crate) fn lower_thread_priority() {
    sys::lower_thread_priority()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environ::compiled::CompiledFunction;
    use crate::runtime::code_memory::CodeMemory;
    use cranelift_codegen::settings;

    #[test]
    fn only_recorded_sites_on_a_thread_in_wasm_are_traps() {
        let site = |pc: usize| (pc == 0x1000).then_some(Trap::IntegerDivideByZero);
        assert_eq!(classify(0x1000, true, site), Some(Trap::IntegerDivideByZero));
        assert_eq!(classify(0x1001, true, site), None, "a fault next to a site is not ours");
        assert_eq!(classify(0x1000, false, site), None, "a thread outside wasm is never ours");
    }

    #[test]
    fn faults_in_loaded_code_are_classified_by_its_trap_table() {
        let isa = cranelift_native::builder().unwrap().finish(settings::Flags::new(settings::builder())).unwrap();
        // ud2; ud2; ret: a trap site at offset 2 only.
        let code = CompiledFunction {
            bytes: vec![0x0f, 0x0b, 0x0f, 0x0b, 0xc3],
            alignment: 16,
            traps: vec![(2, Trap::Unreachable)],
            func_index: None,
            srclocs: Vec::new(),
            handlers: Vec::new(),
        };
        let memory = CodeMemory::load(isa, vec![code], None).unwrap();
        let start = memory.function(0) as usize;
        assert_eq!(classify(start + 2, true, code_memory::trap_at), Some(Trap::Unreachable));
        assert_eq!(classify(start, true, code_memory::trap_at), None, "not a recorded site");
        assert_eq!(classify(start + 2, false, code_memory::trap_at), None);
        drop(memory);
        assert_eq!(classify(start + 2, true, code_memory::trap_at), None, "unloaded code is forgotten");
    }
}
