//! Linux x86-64 specifics: the registers of an interrupted context (`ucontext_t`), thread
//! stack bounds, thread priorities, moving a mapping (`mremap`), and sealed in-memory files
//! mapped copy-on-write (`memfd_create`). Everything else in the runtime is written against
//! these functions.

use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::ptr;

/// The program counter of the context a signal interrupted.
///
/// # Safety
/// `context` must be the `ucontext_t` the kernel passed to an `SA_SIGINFO` handler.
pub(crate) unsafe fn context_pc(context: *mut libc::c_void) -> usize {
    let ucontext = context.cast::<libc::ucontext_t>();
    // SAFETY: per this function's contract.
    unsafe { (*ucontext).uc_mcontext.gregs[libc::REG_RIP as usize] as usize }
}

/// The frame pointer and stack pointer of the context a signal interrupted.
///
/// # Safety
/// As for `context_pc`.
pub(crate) unsafe fn context_frame(context: *mut libc::c_void) -> (usize, usize) {
    let ucontext = context.cast::<libc::ucontext_t>();
    // SAFETY: per this function's contract.
    unsafe {
        let gregs = &(*ucontext).uc_mcontext.gregs;
        (gregs[libc::REG_RBP as usize] as usize, gregs[libc::REG_RSP as usize] as usize)
    }
}

/// Makes the interrupted context continue at `pc` with stack pointer `sp` when the handler
/// returns.
///
/// # Safety
/// As for `context_pc`; and `pc` must be code that expects stack pointer `sp`.
pub(crate) unsafe fn context_resume(context: *mut libc::c_void, sp: usize, pc: usize) {
    let ucontext = context.cast::<libc::ucontext_t>();
    // SAFETY: per this function's contract.
    unsafe {
        (*ucontext).uc_mcontext.gregs[libc::REG_RSP as usize] = sp as i64;
        (*ucontext).uc_mcontext.gregs[libc::REG_RIP as usize] = pc as i64;
    }
}

/// Moves (or grows in place) the mapping of `old_len` bytes at `base` to `new_len` bytes;
/// `None` if the system refuses.
///
/// # Safety
/// `[base, base + old_len)` must be a mapping the caller owns, whose address nothing holds
/// across the call.
pub(crate) unsafe fn remap(base: *mut u8, old_len: usize, new_len: usize) -> Option<*mut u8> {
    // SAFETY: per this function's contract.
    let moved = unsafe { libc::mremap(base.cast(), old_len, new_len, libc::MREMAP_MAYMOVE) };
    (moved != libc::MAP_FAILED).then_some(moved.cast())
}

/// A sealed anonymous in-memory file of `len` bytes that reads as `writes` (each `(offset,
/// bytes)` written in order, later ones over earlier ones) and as zero elsewhere; `None` if
/// the system refuses (no `memfd_create`, out of memory), so the caller can do without.
/// Sealed against writes and resizing, so that every private mapping of it sees the same
/// bytes for as long as it lives.
pub(crate) fn sealed_memfd<'a>(len: usize, writes: impl IntoIterator<Item = (usize, &'a [u8])>) -> Option<OwnedFd> {
    // SAFETY: a plain system call with a valid NUL-terminated name.
    let fd = unsafe { libc::memfd_create(c"heron-memory-image".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.set_len(len as u64).ok()?;
    for (offset, bytes) in writes {
        file.write_all_at(bytes, offset as u64).ok()?;
    }
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: a plain system call on a descriptor this function owns.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return None;
    }
    Some(OwnedFd::from(file))
}

/// Maps the first `len` bytes of `file` privately (copy on write: writes stay in this
/// mapping) and read-write at `addr`, replacing whatever was mapped there; false if the
/// system refuses, in which case what was mapped there may be gone too.
///
/// # Safety
/// `[addr, addr + len)` must be page-aligned, lie inside a mapping the caller owns, and hold
/// nothing anyone still needs; `file` must be at least `len` bytes long.
pub(crate) unsafe fn map_file_private(addr: *mut u8, len: usize, file: BorrowedFd<'_>) -> bool {
    // SAFETY: per this function's contract; MAP_FIXED replaces only the caller's range.
    let mapped = unsafe {
        libc::mmap(
            addr.cast(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_FIXED,
            file.as_raw_fd(),
            0,
        )
    };
    mapped == addr.cast()
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

/// Lowers the calling thread's priority (nice +10).
pub(crate) fn lower_thread_priority() {
    // SAFETY: gettid has no preconditions; setpriority on this thread's own id changes only
    // its scheduling priority.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}
