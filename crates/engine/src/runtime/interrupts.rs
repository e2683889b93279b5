//! Timeouts and interrupts. Interruptible code (see `CodeFlavour::interruptible`) reads, at
//! every function entry and loop header, its instance's `due` word (one load from its
//! vmctx, a test and a branch; `VMControls::interrupt_due`), and when it is nonzero calls
//! `libcalls::interrupt_check`, which decides why (`check`) and makes the code trap.
//!
//! The word lives in the vmctx, so the check needs no pointer held in a register through
//! a loop; but interrupt handles and the ticker may outlive the instance, so they store
//! through `InterruptState::due`, which the instance clears before its vmctx is freed,
//! waiting for stores under way (`raise`, `detach`).
//!
//! Two things raise `due`: an interrupt, from any thread (with the `interrupted` flag), and
//! a ticker thread that, while some timed call runs, raises it in every instance armed with
//! a deadline that has passed. The ticker sleeps until the earliest deadline (or until a
//! new one is armed), then every millisecond while a passed one stays armed, so a long
//! timeout costs the running code no wake-ups. A timed call sets its deadline to
//! `now + timeout` in milliseconds; the ticker and `check` both read the clock, so a timeout
//! never fires early, and fires about a millisecond late (more on a loaded machine).
//!
//! The outermost timed entry on a thread sets the deadline every instance entered during it
//! uses (`Timed`), so wasm -> host -> wasm nesting keeps the outermost call's deadline. An
//! instance entered again while it runs keeps its deadline too.

use crate::runtime::instance::InstanceInner;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

static START: OnceLock<Instant> = OnceLock::new();

/// Milliseconds since the first use: the clock deadlines are in.
fn now_ms() -> u64 {
    u64::try_from(START.get_or_init(Instant::now).elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// What the ticker thread serves: the number of timed calls running now (across threads;
/// it ticks while this is nonzero), whether the thread exists, and the instances armed
/// with a deadline, by id.
struct TickerState {
    users: usize,
    spawned: bool,
    watched: HashMap<u64, Arc<InterruptState>>,
}

struct Ticker {
    state: Mutex<Option<TickerState>>,
    wake: Condvar,
}

static TICKER: Ticker = Ticker { state: Mutex::new(None), wake: Condvar::new() };

impl Ticker {
    fn with<R>(&self, f: impl FnOnce(&mut TickerState) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(state.get_or_insert_with(|| TickerState { users: 0, spawned: false, watched: HashMap::new() }))
    }

    fn acquire(&'static self) {
        self.with(|state| {
            state.users += 1;
            if !state.spawned {
                let spawned = std::thread::Builder::new().name("heron-ticker".into()).spawn(move || self.run());
                // Without the thread, timeouts cannot fire; interrupts still work.
                state.spawned = spawned.is_ok();
            }
        });
        self.wake.notify_one();
    }

    fn release(&self) {
        self.with(|state| state.users -= 1);
    }

    /// Watches `state` (armed with a deadline) until `unwatch`.
    fn watch(&self, state: &Arc<InterruptState>) {
        self.with(|ticker| ticker.watched.insert(state.id, Arc::clone(state)));
        // The ticker may sleep past this deadline.
        self.wake.notify_one();
    }

    fn unwatch(&self, state: &InterruptState) {
        // The `Arc` removed is dropped after the lock is released: the last one's `Drop`
        // takes the registry's lock.
        let removed = self.with(|ticker| ticker.watched.remove(&state.id));
        drop(removed);
    }

    fn run(&self) {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            while guard.as_ref().is_none_or(|state| state.users == 0) {
                guard = self.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
            let now = now_ms();
            let mut earliest = u64::MAX;
            for watched in guard.as_ref().into_iter().flat_map(|state| state.watched.values()) {
                let deadline = watched.timeout_deadline.load(Ordering::Acquire);
                if now >= deadline {
                    watched.raise();
                }
                earliest = earliest.min(deadline);
            }
            // Every millisecond while a passed deadline stays armed (a false alarm's `check`
            // lowers `due`); else until the earliest deadline (at most a minute), or until a
            // `watch` or `acquire` wakes it.
            let sleep = Duration::from_millis(earliest.saturating_sub(now).clamp(1, 60_000));
            guard = self.wake.wait_timeout(guard, sleep).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

/// The interrupt state of one interruptible instance, shared with its interrupt handles
/// (which other threads may hold).
pub(crate) struct InterruptState {
    /// The instance's `due` word in its vmctx, which compiled code reads (nonzero sends its
    /// next check to `interrupt_check`); null before the vmctx is filled and once the
    /// instance is gone.
    due: AtomicPtr<AtomicU64>,
    /// Stores through `due` under way (`with_due`): `detach` waits for 0 before the vmctx
    /// may be freed.
    using_due: AtomicUsize,
    /// The deadline of the timed call the instance runs in (`u64::MAX` if none), in
    /// `now_ms` units.
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
            due: AtomicPtr::new(std::ptr::null_mut()),
            using_due: AtomicUsize::new(0),
            timeout_deadline: AtomicU64::new(u64::MAX),
            interrupted: AtomicBool::new(false),
            id,
        });
        registry().lock().unwrap_or_else(|e| e.into_inner()).insert(id, Arc::downgrade(&state));
        state
    }

    /// Makes `word` the `due` word.
    ///
    /// # Safety
    /// `word` must stay valid until `detach` has returned.
    pub(crate) unsafe fn attach(&self, word: &AtomicU64) {
        self.due.store((word as *const AtomicU64).cast_mut(), Ordering::SeqCst);
    }

    /// Forgets the `due` word, once no store through it is under way: after this, the
    /// word's memory may be freed.
    pub(crate) fn detach(&self) {
        self.due.store(std::ptr::null_mut(), Ordering::SeqCst);
        // A store on another thread finishes in a few instructions; one in a signal handler
        // on this thread finished before we resumed.
        while self.using_due.load(Ordering::SeqCst) != 0 {
            std::hint::spin_loop();
        }
    }

    /// Runs `f` on the `due` word, if the instance still has one. Async-signal-safe:
    /// atomics only, no waiting.
    fn with_due<R>(&self, f: impl FnOnce(&AtomicU64) -> R) -> Option<R> {
        // SeqCst on both sides: either `detach` sees this count, or this sees its null.
        self.using_due.fetch_add(1, Ordering::SeqCst);
        let word = self.due.load(Ordering::SeqCst);
        // SAFETY: a non-null `due` is the attached word, valid until `detach`, which waits
        // for `using_due` to drop back before it returns.
        let result = (!word.is_null()).then(|| f(unsafe { &*word }));
        self.using_due.fetch_sub(1, Ordering::SeqCst);
        result
    }

    /// Raises the `due` word: the running call's next check calls `check`.
    fn raise(&self) {
        self.with_due(|due| due.store(1, Ordering::Release));
    }

    /// Makes the running call (if any) trap with `Trap::Interrupted` at its next check.
    /// Async-signal-safe: atomics only, no waiting.
    pub(crate) fn interrupt(&self) {
        self.interrupted.store(true, Ordering::Release);
        self.raise();
    }

    /// Starts a call with `deadline` (`u64::MAX`: none), forgetting interrupts made while
    /// the instance was idle; `u64::MAX` also ends one, when the instance goes idle.
    fn arm(self: &Arc<Self>, deadline: u64) {
        self.interrupted.store(false, Ordering::Release);
        let previous = self.timeout_deadline.swap(deadline, Ordering::AcqRel);
        self.with_due(|due| due.store(0, Ordering::Release));
        if deadline != u64::MAX {
            TICKER.watch(self);
        } else if previous != u64::MAX {
            TICKER.unwatch(self);
        }
    }

    /// Why the check found `due` raised: `Some(trap)` to trap, `None` for a false alarm
    /// (`due` is lowered then).
    pub(crate) fn check(&self) -> Option<crate::environ::trap::Trap> {
        use crate::environ::trap::Trap;
        if self.interrupted.swap(false, Ordering::AcqRel) {
            return Some(Trap::Interrupted);
        }
        let timeout_deadline = self.timeout_deadline.load(Ordering::Acquire);
        if now_ms() >= timeout_deadline {
            LAST_TIMEOUT.with(|last| last.set(TIMED.with(|t| t.get()).map(|t| t.timeout_ms)));
            return Some(Trap::Timeout);
        }
        self.with_due(|due| due.store(0, Ordering::Release));
        // An interrupt between the swap and this store would be lost otherwise.
        if self.interrupted.load(Ordering::Acquire) {
            self.raise();
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
                // `now_ms` rounds down: one more millisecond so it never fires early.
                let deadline = now_ms().saturating_add(timeout_ms).saturating_add(1);
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
            // must not find a stale deadline or a raised `due`.
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

/// `libcalls::interrupt_check` for the instance `instance`, whose `due` word was raised:
/// the trap to raise as a `Trap as u32`, or 0 to go on.
pub(crate) fn check_instance(instance: &InstanceInner) -> u32 {
    match instance.controls().interrupts.as_ref().and_then(|state| state.check()) {
        Some(trap) => trap as u32,
        None => 0,
    }
}

/// For long operations inside a builtin of interruptible code (`libcalls.rs`), between two
/// pieces of work: `check_instance` if the instance's `due` word is raised, else 0.
pub(crate) fn poll_instance(instance: &InstanceInner) -> u32 {
    let due = instance
        .controls()
        .interrupts
        .as_ref()
        .is_some_and(|state| state.with_due(|due| due.load(Ordering::Acquire) != 0).unwrap_or(false));
    if due {
        check_instance(instance)
    } else {
        0
    }
}
