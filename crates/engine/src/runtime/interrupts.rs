//! Timeouts and interrupts, in the manner of Wasmtime's epochs. Interruptible code (see
//! `CodeFlavour::interruptible`) compares, at every function entry and loop header, the
//! process-wide `EPOCH` with its instance's deadline, and on `epoch >= deadline` calls
//! `libcalls::interrupt_check`, which decides why (`check`) and makes the code trap.
//!
//! The epoch is a clock: milliseconds since the first timed call, stored by a ticker thread
//! every millisecond while some timed call runs (the thread sleeps otherwise). A timed call
//! sets its deadline to `now + timeout`; since the epoch never runs ahead of real time, a
//! timeout never fires early, and fires about a millisecond late (more on a loaded machine).
//! An interrupt, from any thread, raises the instance's `interrupted` flag and stores 0 as
//! its deadline, so the next check fires whatever the epoch.
//!
//! The outermost timed entry on a thread sets the deadline every instance entered during it
//! uses (`Timed`), so wasm -> host -> wasm nesting keeps the outermost call's deadline. An
//! instance entered again while it runs keeps its deadline too.

use crate::runtime::instance::InstanceInner;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

/// The epoch compiled code reads through `VMControls::epoch`.
pub(crate) static EPOCH: AtomicU64 = AtomicU64::new(0);

static START: OnceLock<Instant> = OnceLock::new();

fn now_ms() -> u64 {
    u64::try_from(START.get_or_init(Instant::now).elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// How many timed calls run now, across threads; the ticker ticks while this is nonzero.
struct Ticker {
    users: Mutex<(usize, bool)>,
    wake: Condvar,
}

static TICKER: Ticker = Ticker { users: Mutex::new((0, false)), wake: Condvar::new() };

impl Ticker {
    fn acquire(&'static self) {
        EPOCH.store(now_ms(), Ordering::Release);
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.0 += 1;
        if !users.1 {
            let spawned = std::thread::Builder::new().name("heron-epoch".into()).spawn(move || self.run());
            // Without the thread, timeouts cannot fire; interrupts still work.
            users.1 = spawned.is_ok();
        }
        drop(users);
        self.wake.notify_one();
    }

    fn release(&self) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.0 -= 1;
    }

    fn run(&self) {
        loop {
            {
                let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
                while users.0 == 0 {
                    users = self.wake.wait(users).unwrap_or_else(|e| e.into_inner());
                }
            }
            EPOCH.store(now_ms(), Ordering::Release);
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The interrupt state of one interruptible instance, shared with its interrupt handles
/// (which other threads may hold).
pub(crate) struct InterruptState {
    /// What compiled code compares the epoch with.
    deadline: AtomicU64,
    /// The deadline of the timed call the instance runs in (`u64::MAX` if none), which
    /// `deadline` returns to after a false alarm.
    timeout_deadline: AtomicU64,
    /// Set by `interrupt`, cleared when the interrupted code traps or a new call starts.
    interrupted: AtomicBool,
    /// The number interrupt handles carry across threads (see `interrupt_by_id`).
    id: u64,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn registry() -> &'static Mutex<HashMap<u64, Weak<InterruptState>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<u64, Weak<InterruptState>>>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

impl InterruptState {
    pub(crate) fn new() -> Arc<InterruptState> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(InterruptState {
            deadline: AtomicU64::new(u64::MAX),
            timeout_deadline: AtomicU64::new(u64::MAX),
            interrupted: AtomicBool::new(false),
            id,
        });
        registry().lock().unwrap_or_else(|e| e.into_inner()).insert(id, Arc::downgrade(&state));
        state
    }

    /// The address compiled code reads the deadline from.
    pub(crate) fn deadline_address(&self) -> *const AtomicU64 {
        &self.deadline
    }

    /// Makes the running call (if any) trap with `Trap::Interrupted` at its next check.
    /// Async-signal-safe: atomic stores only.
    pub(crate) fn interrupt(&self) {
        self.interrupted.store(true, Ordering::Release);
        self.deadline.store(0, Ordering::Release);
    }

    /// Starts a call with `deadline`, forgetting interrupts made while the instance was idle.
    fn arm(&self, deadline: u64) {
        self.interrupted.store(false, Ordering::Release);
        self.timeout_deadline.store(deadline, Ordering::Release);
        self.deadline.store(deadline, Ordering::Release);
    }

    /// Why the check at `epoch >= deadline` fired: `Some(trap)` to trap, `None` for a false
    /// alarm (the deadline is restored then).
    pub(crate) fn check(&self) -> Option<crate::environ::trap::Trap> {
        use crate::environ::trap::Trap;
        if self.interrupted.swap(false, Ordering::AcqRel) {
            return Some(Trap::Interrupted);
        }
        let timeout_deadline = self.timeout_deadline.load(Ordering::Acquire);
        if EPOCH.load(Ordering::Acquire) >= timeout_deadline {
            LAST_TIMEOUT.with(|last| last.set(TIMED.with(|t| t.get()).map(|t| t.timeout_ms)));
            return Some(Trap::Timeout);
        }
        self.deadline.store(timeout_deadline, Ordering::Release);
        // An interrupt between the swap and this store would be lost otherwise.
        if self.interrupted.load(Ordering::Acquire) {
            self.deadline.store(0, Ordering::Release);
        }
        None
    }
}

impl Drop for InterruptState {
    fn drop(&mut self) {
        registry().lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}

/// A way to interrupt an instance's running call from any thread.
#[derive(Clone)]
pub struct InterruptHandle {
    state: Arc<InterruptState>,
}

impl InterruptHandle {
    /// Makes the instance's running call, if any, trap with [`crate::Trap::Interrupted`] at
    /// its next function entry or loop header (or as soon as a host function it is in
    /// returns). Does nothing while the instance is not running.
    pub fn interrupt(&self) {
        self.state.interrupt();
    }

    /// A number naming this instance's interrupt state process-wide, for
    /// [`interrupt_by_id`] on another thread.
    pub fn id(&self) -> u64 {
        self.state.id
    }
}

/// Interrupts the instance whose [`InterruptHandle::id`] is `id`; false if that instance
/// no longer exists.
pub fn interrupt_by_id(id: u64) -> bool {
    let state = registry().lock().unwrap_or_else(|e| e.into_inner()).get(&id).and_then(Weak::upgrade);
    // Used after the lock is released: dropping the last `Arc` takes the lock in `drop`.
    match state {
        Some(state) => {
            state.interrupt();
            true
        }
        None => false,
    }
}

/// The timed call running on this thread: its deadline and its timeout.
#[derive(Clone, Copy)]
struct Timed {
    deadline: u64,
    timeout_ms: u64,
}

thread_local! {
    static TIMED: Cell<Option<Timed>> = const { Cell::new(None) };
    /// The timeout of the call that last timed out on this thread, for its error message.
    static LAST_TIMEOUT: Cell<Option<u64>> = const { Cell::new(None) };
}

/// The timeout of the call that last trapped with [`crate::Trap::Timeout`] on this thread
/// (the outermost timed call's), for error messages.
pub fn last_timeout() -> Option<Duration> {
    LAST_TIMEOUT.with(|last| last.get()).map(Duration::from_millis)
}

/// The runtime side of an instance's `Controls`: what entering and leaving it does.
pub(crate) struct InstanceControls {
    /// Present when the instance's code is interruptible.
    pub interrupts: Option<Arc<InterruptState>>,
    timeout_ms: Option<u64>,
    break_on_sigint: bool,
    /// Entries into the instance running on its thread now.
    depth: Cell<u32>,
}

impl InstanceControls {
    pub(crate) fn new(controls: &crate::environ::config::Controls) -> InstanceControls {
        InstanceControls {
            interrupts: controls.needs_interrupt_checks().then(InterruptState::new),
            timeout_ms: controls.timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1)),
            break_on_sigint: controls.break_on_sigint,
            depth: Cell::new(0),
        }
    }

    /// A handle for other threads, if the instance is interruptible.
    pub(crate) fn handle(&self) -> Option<InterruptHandle> {
        self.interrupts.clone().map(|state| InterruptHandle { state })
    }

    /// Bookkeeping for a call from the host into the instance, undone when the guard drops.
    pub(crate) fn enter(&self) -> CallGuard<'_> {
        let depth = self.depth.get();
        self.depth.set(depth + 1);
        let mut guard = CallGuard { controls: self, started_timer: false, sigint: false };
        let Some(state) = &self.interrupts else { return guard };
        if depth > 0 {
            return guard; // re-entered: the running call's deadline stands
        }
        let deadline = match (TIMED.with(|t| t.get()), self.timeout_ms) {
            (Some(outer), _) => outer.deadline,
            (None, Some(timeout_ms)) => {
                TICKER.acquire();
                let deadline = now_ms().saturating_add(timeout_ms);
                TIMED.with(|t| t.set(Some(Timed { deadline, timeout_ms })));
                guard.started_timer = true;
                deadline
            }
            (None, None) => u64::MAX,
        };
        state.arm(deadline);
        if self.break_on_sigint {
            guard.sigint = crate::runtime::sigint::arm(state);
        }
        guard
    }
}

/// Undoes `InstanceControls::enter`.
pub(crate) struct CallGuard<'a> {
    controls: &'a InstanceControls,
    started_timer: bool,
    sigint: bool,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        let depth = self.controls.depth.get() - 1;
        self.controls.depth.set(depth);
        if let (0, Some(state)) = (depth, &self.controls.interrupts) {
            // Idle: a function of this instance called directly by another instance's code
            // must not find a stale deadline.
            state.arm(u64::MAX);
        }
        if self.sigint {
            crate::runtime::sigint::disarm();
        }
        if self.started_timer {
            TIMED.with(|t| t.set(None));
            TICKER.release();
        }
    }
}

/// `libcalls::interrupt_check` for the instance `instance`: the trap to raise as a
/// `Trap as u32`, or 0 to go on.
pub(crate) fn check_instance(instance: &InstanceInner) -> u32 {
    match instance.controls().interrupts.as_ref().and_then(|state| state.check()) {
        Some(trap) => trap as u32,
        None => 0,
    }
}
