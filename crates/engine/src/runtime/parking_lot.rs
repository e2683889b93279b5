//! The parking lot of one shared memory: the threads blocked in `memory.atomic.wait32/64`
//! (or `Atomics.wait`) and the pending `Atomics.waitAsync` calls, queued by byte offset and
//! woken by `notify` in the order they arrived (after Wasmtime's `parking_spot.rs`).
//!
//! One lock guards every queue: a waiter checks the memory's value under it, and `notify`
//! takes it, so a waiter that saw the old value is queued before any notifier that wrote the
//! new one looks.
//!
//! A blocked thread can also be stopped from outside: by its call's controls (a timeout or an
//! interrupt, polled through the `stop` closure the caller passes) and by the thread's
//! *cancellation hook*, which the embedder installs per thread (the Node binding's says
//! whether V8 is terminating the thread's Worker). Neither can wake a condition variable:
//! interrupts are raised from signal handlers and V8 terminates a thread without telling
//! anyone, so a blocked thread wakes every few milliseconds to poll them, outside the lock
//! (the hook runs JavaScript, which may notify this very memory).

use crate::environ::trap::Trap;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often a blocked thread polls `stop` when its call has controls (about the epoch's
/// resolution, so a timeout or an interrupt stops a wait as soon as it would stop a loop).
const CONTROLLED_POLL: Duration = Duration::from_millis(1);
/// The longest a blocked thread sleeps between two polls of its cancellation hook, which
/// bounds how long terminating a Worker blocked in a wait takes. Polls start at 1 ms and
/// double up to this, so short waits stay responsive and long ones cost little.
const MAX_POLL: Duration = Duration::from_millis(16);

thread_local! {
    /// This thread's cancellation hook: true once the thread must stop waiting.
    static CANCELLATION: RefCell<Option<Box<dyn Fn() -> bool>>> = const { RefCell::new(None) };
}

/// Installs (or, with `None`, removes) the calling thread's cancellation hook: a blocked wait
/// on this thread calls it every few milliseconds, on this thread and without any lock held,
/// and stops with [`Trap::Interrupted`] once it returns true.
pub fn set_cancellation_hook(hook: Option<Box<dyn Fn() -> bool>>) {
    CANCELLATION.with(|slot| *slot.borrow_mut() = hook);
}

fn cancelled() -> bool {
    // A hook that waits itself (it should not) finds the slot borrowed and is not re-entered.
    CANCELLATION.with(|slot| slot.try_borrow().ok().is_some_and(|hook| hook.as_ref().is_some_and(|hook| hook())))
}

/// How a parked thread or a pending async wait learns it was notified.
enum Wake {
    Thread(Condvar),
    /// Runs once, on the notifying thread, after the lock is released.
    Callback(Mutex<Option<Box<dyn FnOnce() + Send>>>),
}

struct Waiter {
    /// Set by `unpark` (under the lock) when it dequeues this waiter.
    notified: AtomicBool,
    wake: Wake,
}

/// Threads parked on addresses of one memory.
#[derive(Default)]
pub(crate) struct ParkingLot {
    queues: Mutex<HashMap<u64, VecDeque<Arc<Waiter>>>>,
}

/// A pending async wait (`Atomics.waitAsync`), for cancelling it at its timeout.
pub struct AsyncWaiter {
    key: u64,
    waiter: Arc<Waiter>,
}

impl ParkingLot {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, VecDeque<Arc<Waiter>>>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Parks the calling thread at `key` if `still_expected()` holds (checked under the lock):
    /// `Ok(0)` when woken, `Ok(1)` if the value differed, `Ok(2)` at the deadline, `Err` when
    /// `stop` (polled while parked) or the thread's cancellation hook stopped the wait.
    pub(crate) fn park(
        &self,
        key: u64,
        still_expected: impl FnOnce() -> bool,
        deadline: Option<Instant>,
        stop: &mut dyn FnMut() -> Option<Trap>,
        controlled: bool,
    ) -> Result<u32, Trap> {
        let waiter = {
            let mut queues = self.lock();
            if !still_expected() {
                return Ok(1);
            }
            let waiter = Arc::new(Waiter { notified: AtomicBool::new(false), wake: Wake::Thread(Condvar::new()) });
            queues.entry(key).or_default().push_back(waiter.clone());
            waiter
        };
        let Wake::Thread(condvar) = &waiter.wake else { unreachable!("made above") };
        let mut poll = if controlled { CONTROLLED_POLL } else { Duration::from_millis(1) };
        loop {
            {
                let mut queues = self.lock();
                let slept_until = Instant::now() + poll;
                loop {
                    if waiter.notified.load(Ordering::Relaxed) {
                        return Ok(0);
                    }
                    let now = Instant::now();
                    if deadline.is_some_and(|deadline| now >= deadline) {
                        Self::dequeue(&mut queues, key, &waiter);
                        return Ok(2);
                    }
                    if now >= slept_until {
                        break;
                    }
                    let until = deadline.map_or(slept_until, |deadline| deadline.min(slept_until));
                    queues = condvar.wait_timeout(queues, until - now).unwrap_or_else(|e| e.into_inner()).0;
                }
            }
            let stopped = stop().or_else(|| cancelled().then_some(Trap::Interrupted));
            if let Some(trap) = stopped {
                let mut queues = self.lock();
                if waiter.notified.load(Ordering::Relaxed) {
                    return Ok(0); // a notify counted this waiter: it was woken
                }
                Self::dequeue(&mut queues, key, &waiter);
                return Err(trap);
            }
            if !controlled {
                poll = (poll * 2).min(MAX_POLL);
            }
        }
    }

    /// Queues `on_notify` at `key` if `still_expected()` holds (checked under the lock); it
    /// runs once, on the notifying thread, unless [`cancel`](Self::cancel) removed it first.
    /// `Err(1)` if the value differed.
    pub(crate) fn park_async(
        &self,
        key: u64,
        still_expected: impl FnOnce() -> bool,
        on_notify: Box<dyn FnOnce() + Send>,
    ) -> Result<AsyncWaiter, u32> {
        let mut queues = self.lock();
        if !still_expected() {
            return Err(1);
        }
        let waiter =
            Arc::new(Waiter { notified: AtomicBool::new(false), wake: Wake::Callback(Mutex::new(Some(on_notify))) });
        queues.entry(key).or_default().push_back(waiter.clone());
        Ok(AsyncWaiter { key, waiter })
    }

    /// Removes a pending async wait (at its timeout): true if it was still queued (its
    /// callback will never run), false if a notify took it already.
    pub(crate) fn cancel(&self, pending: &AsyncWaiter) -> bool {
        let mut queues = self.lock();
        if pending.waiter.notified.load(Ordering::Relaxed) {
            return false;
        }
        Self::dequeue(&mut queues, pending.key, &pending.waiter);
        true
    }

    fn dequeue(queues: &mut HashMap<u64, VecDeque<Arc<Waiter>>>, key: u64, waiter: &Arc<Waiter>) {
        if let Some(queue) = queues.get_mut(&key) {
            queue.retain(|w| !Arc::ptr_eq(w, waiter));
            if queue.is_empty() {
                queues.remove(&key);
            }
        }
    }

    /// Wakes up to `count` waiters (threads and async waits) at `key`, in the order they
    /// parked; returns how many.
    pub(crate) fn unpark(&self, key: u64, count: u32) -> u32 {
        let mut callbacks = Vec::new();
        let mut woken = 0;
        {
            let mut queues = self.lock();
            let Some(queue) = queues.get_mut(&key) else { return 0 };
            while woken < count {
                let Some(waiter) = queue.pop_front() else { break };
                waiter.notified.store(true, Ordering::Relaxed);
                match &waiter.wake {
                    Wake::Thread(condvar) => condvar.notify_one(),
                    Wake::Callback(callback) => {
                        callbacks.extend(callback.lock().unwrap_or_else(|e| e.into_inner()).take());
                    }
                }
                woken += 1;
            }
            if queue.is_empty() {
                queues.remove(&key);
            }
        }
        for callback in callbacks {
            callback();
        }
        woken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn notify_runs_async_callbacks_in_order_with_threads() {
        let lot = ParkingLot::default();
        let order = Arc::new(Mutex::new(Vec::new()));
        let record = |n: u32| {
            let order = order.clone();
            Box::new(move || order.lock().unwrap().push(n)) as Box<dyn FnOnce() + Send>
        };
        let first = lot.park_async(8, || true, record(1)).ok().unwrap();
        let _second = lot.park_async(8, || true, record(2)).ok().unwrap();
        assert!(lot.park_async(8, || false, record(3)).is_err(), "a different value does not queue");
        assert_eq!(lot.unpark(8, 1), 1);
        assert_eq!(*order.lock().unwrap(), [1]);
        assert!(!lot.cancel(&first), "already notified");
        assert_eq!(lot.unpark(8, u32::MAX), 1);
        assert_eq!(*order.lock().unwrap(), [1, 2]);
    }

    #[test]
    fn a_cancelled_async_wait_is_not_woken() {
        let lot = ParkingLot::default();
        let ran = Arc::new(AtomicU32::new(0));
        let counter = ran.clone();
        let pending = lot
            .park_async(
                0,
                || true,
                Box::new(move || {
                    counter.fetch_add(1, Ordering::Relaxed);
                }),
            )
            .ok()
            .unwrap();
        assert!(lot.cancel(&pending));
        assert_eq!(lot.unpark(0, 1), 0);
        assert_eq!(ran.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn controls_and_the_cancellation_hook_stop_a_blocked_thread() {
        let lot = ParkingLot::default();
        let mut polls = 0;
        let mut timeout_on_third_poll = || {
            polls += 1;
            (polls == 3).then_some(Trap::Timeout)
        };
        assert_eq!(lot.park(4, || true, None, &mut timeout_on_third_poll, true), Err(Trap::Timeout));
        assert_eq!(lot.unpark(4, 1), 0, "the stopped waiter left the queue");
        set_cancellation_hook(Some(Box::new(|| true)));
        assert_eq!(lot.park(4, || true, None, &mut || None, false), Err(Trap::Interrupted));
        set_cancellation_hook(None);
        let deadline = Some(Instant::now() + Duration::from_millis(5));
        assert_eq!(lot.park(4, || true, deadline, &mut || None, false), Ok(2));
    }
}
