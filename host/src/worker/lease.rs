//! The lease keeper: renews every lease this worker holds every third of `lease_ttl`, and
//! cancels a connector's run as soon as its lease cannot be trusted any more.
//!
//! Two threads share the table of held leases:
//! * the renewer calls [`Backend::renew_lease`](crate::store::Backend::renew_lease) for each;
//!   `false` (the lease expired or another worker has it) cancels the run at once;
//! * the watchdog cancels a run whose last successful renewal was *sent* two thirds of
//!   `lease_ttl` ago or more — a store that hangs or is unreachable blocks the renewer, never
//!   the watchdog. The lease expires (store clock) no earlier than `lease_ttl` after that
//!   renewal was sent, so the run is told to stop a third of `lease_ttl` before another worker
//!   can take the connector over; fencing (`StoreError::RunClosed`) covers a run that is slow
//!   to stop.
//!
//! Each hold has a generation, so a renewal answered after the lease was released and taken
//! again by this worker never cancels the new run.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use connector_api::CancellationToken;

use crate::store::Store;

/// The store connection the loop and the keeper share (calls are short; one at a time).
pub type SharedStore = Arc<Mutex<Store>>;

/// Locks `m`, ignoring poisoning (the data stays consistent: every update is one statement).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether a lease whose last good renewal was sent at `last_ok` must be given up at `now`.
pub fn overdue(last_ok: Instant, now: Instant, ttl: Duration) -> bool {
    now.saturating_duration_since(last_ok) >= ttl * 2 / 3
}

/// A lease this worker holds for a running import.
#[derive(Debug)]
struct Held {
    cancel: CancellationToken,
    last_ok: Instant,
    generation: u64,
    lost: bool,
}

#[derive(Debug)]
struct Inner {
    store: SharedStore,
    holder: String,
    ttl: Duration,
    held: Mutex<BTreeMap<String, Held>>,
    next_generation: Mutex<u64>,
    stopped: Mutex<bool>,
    wake: Condvar,
}

/// Keeps this worker's leases alive while their imports run.
#[derive(Debug)]
pub struct LeaseKeeper {
    inner: Arc<Inner>,
    threads: Vec<JoinHandle<()>>,
}

impl LeaseKeeper {
    /// Starts the renewer and the watchdog for `holder`'s leases in `store`.
    pub fn start(store: SharedStore, holder: &str, ttl: Duration) -> Self {
        let inner = Arc::new(Inner {
            store,
            holder: holder.to_owned(),
            ttl,
            held: Mutex::new(BTreeMap::new()),
            next_generation: Mutex::new(0),
            stopped: Mutex::new(false),
            wake: Condvar::new(),
        });
        let renewer = Arc::clone(&inner);
        let watchdog = Arc::clone(&inner);
        let threads = vec![
            std::thread::spawn(move || renewer.renew_loop()),
            std::thread::spawn(move || watchdog.watch_loop()),
        ];
        Self { inner, threads }
    }

    /// Keeps the lease of `connector`, taken by a call sent at `sent`; `cancel` stops its run.
    pub fn hold(&self, connector: &str, cancel: CancellationToken, sent: Instant) {
        let generation = {
            let mut g = lock(&self.inner.next_generation);
            *g += 1;
            *g
        };
        let held = Held {
            cancel,
            last_ok: sent,
            generation,
            lost: false,
        };
        lock(&self.inner.held).insert(connector.to_owned(), held);
    }

    /// Stops keeping the lease of `connector` and gives it up in the store; whether the store
    /// still had it as this worker's.
    ///
    /// # Errors
    /// The store failed (the lease then expires by itself).
    pub fn release(&self, connector: &str) -> crate::store::Result<bool> {
        lock(&self.inner.held).remove(connector);
        lock(&self.inner.store).release_lease(connector, &self.inner.holder)
    }

    /// How many leases are kept.
    pub fn count(&self) -> usize {
        lock(&self.inner.held).len()
    }

    /// The connectors whose lease is kept.
    pub fn connectors(&self) -> Vec<String> {
        lock(&self.inner.held).keys().cloned().collect()
    }

    /// Stops both threads (leases still kept are not released: see [`Self::release`]).
    pub fn stop(mut self) {
        *lock(&self.inner.stopped) = true;
        self.inner.wake.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Inner {
    /// Sleeps up to `d`; whether the keeper was stopped.
    fn sleep(&self, d: Duration) -> bool {
        let stopped = lock(&self.stopped);
        let (stopped, _) = self
            .wake
            .wait_timeout_while(stopped, d, |s| !*s)
            .unwrap_or_else(PoisonError::into_inner);
        *stopped
    }

    fn renew_loop(&self) {
        while !self.sleep(self.ttl / 3) {
            let snapshot: Vec<(String, u64)> = lock(&self.held)
                .iter()
                .filter(|(_, h)| !h.lost)
                .map(|(c, h)| (c.clone(), h.generation))
                .collect();
            for (connector, generation) in snapshot {
                let sent = Instant::now();
                let result = lock(&self.store).renew_lease(&connector, &self.holder, self.ttl);
                self.renewed(&connector, generation, sent, result);
            }
        }
    }

    /// Applies the answer to a renewal sent at `sent`.
    fn renewed(
        &self,
        connector: &str,
        generation: u64,
        sent: Instant,
        result: crate::store::Result<bool>,
    ) {
        let mut held = lock(&self.held);
        let Some(h) = held
            .get_mut(connector)
            .filter(|h| h.generation == generation)
        else {
            return;
        };
        match result {
            Ok(true) => h.last_ok = h.last_ok.max(sent),
            Ok(false) => {
                tracing::error!(
                    connector,
                    "the lease was lost (it expired or another worker took it): cancelling the run"
                );
                h.lost = true;
                h.cancel.cancel();
            }
            // The watchdog cancels the run if this goes on for two thirds of lease_ttl.
            Err(e) => tracing::warn!(connector, "renewing the lease failed: {e}"),
        }
    }

    fn watch_loop(&self) {
        let tick = (self.ttl / 30).clamp(Duration::from_millis(10), Duration::from_millis(500));
        while !self.sleep(tick) {
            let now = Instant::now();
            for (connector, h) in lock(&self.held).iter_mut() {
                if !h.lost && overdue(h.last_ok, now, self.ttl) {
                    tracing::error!(
                        connector = connector.as_str(),
                        "no lease renewal succeeded for two thirds of lease_ttl: cancelling the \
                         run before another worker may take the connector over"
                    );
                    h.lost = true;
                    h.cancel.cancel();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_millis(600);

    fn shared() -> SharedStore {
        Arc::new(Mutex::new(Store::open_in_memory().unwrap()))
    }

    fn take(store: &SharedStore, connector: &str, holder: &str) -> Instant {
        take_for(store, connector, holder, TTL)
    }

    fn take_for(store: &SharedStore, connector: &str, holder: &str, ttl: Duration) -> Instant {
        let sent = Instant::now();
        assert!(lock(store).acquire_lease(connector, holder, ttl).unwrap());
        sent
    }

    #[test]
    fn overdue_at_two_thirds_of_the_ttl() {
        let t0 = Instant::now();
        let ttl = Duration::from_secs(3);
        assert!(!overdue(t0, t0 + Duration::from_millis(1999), ttl));
        assert!(overdue(t0, t0 + Duration::from_secs(2), ttl));
        assert!(
            !overdue(t0 + Duration::from_secs(1), t0, ttl),
            "clock order"
        );
    }

    #[test]
    fn renewals_keep_a_lease_past_its_ttl_and_release_frees_it() {
        let store = shared();
        let keeper = LeaseKeeper::start(Arc::clone(&store), "w1", TTL);
        let cancel = CancellationToken::new();
        keeper.hold("a", cancel.clone(), take(&store, "a", "w1"));
        std::thread::sleep(TTL * 3);
        assert!(!cancel.is_cancelled());
        let rows = lock(&store).leases().unwrap();
        assert_eq!((rows[0].holder.as_str(), rows[0].expired), ("w1", false));
        assert!(!lock(&store).acquire_lease("a", "w2", TTL).unwrap());
        assert_eq!(keeper.count(), 1);
        assert!(keeper.release("a").unwrap());
        assert_eq!(keeper.count(), 0);
        assert!(lock(&store).acquire_lease("a", "w2", TTL).unwrap());
        keeper.stop();
    }

    #[test]
    fn a_lease_taken_by_another_worker_cancels_the_run_at_the_next_renewal() {
        // Renewals every second; the watchdog alone would wait two.
        let ttl = Duration::from_secs(3);
        let store = shared();
        let keeper = LeaseKeeper::start(Arc::clone(&store), "w1", ttl);
        let (a, b) = (CancellationToken::new(), CancellationToken::new());
        keeper.hold("a", a.clone(), take_for(&store, "a", "w1", ttl));
        keeper.hold("b", b.clone(), take_for(&store, "b", "w1", ttl));
        {
            // Another worker takes `a` (as if w1's lease had expired).
            let mut s = lock(&store);
            assert!(s.release_lease("a", "w1").unwrap());
            assert!(s.acquire_lease("a", "w2", ttl).unwrap());
        }
        let start = Instant::now();
        while !a.is_cancelled() && start.elapsed() < ttl {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(a.is_cancelled(), "the run of the lost lease is cancelled");
        let at = start.elapsed();
        assert!(at < ttl * 2 / 3, "by the renewal, not the watchdog: {at:?}");
        assert!(!b.is_cancelled(), "the other lease is kept");
        keeper.stop();
    }

    #[test]
    fn a_store_that_hangs_cancels_the_run_within_two_thirds_of_the_ttl() {
        let store = shared();
        let keeper = LeaseKeeper::start(Arc::clone(&store), "w1", TTL);
        let cancel = CancellationToken::new();
        let sent = take(&store, "a", "w1");
        keeper.hold("a", cancel.clone(), sent);
        // The store stops answering: every call blocks on it.
        let hung = lock(&store);
        while !cancel.is_cancelled() && sent.elapsed() < TTL * 2 {
            std::thread::sleep(Duration::from_millis(5));
        }
        let at = sent.elapsed();
        drop(hung);
        assert!(cancel.is_cancelled());
        assert!(at >= TTL * 2 / 3, "{at:?}");
        assert!(at < TTL, "cancelled before the lease expires: {at:?}");
        keeper.stop();
    }

    #[test]
    fn a_late_answer_for_a_released_hold_does_not_cancel_the_next_one() {
        let store = shared();
        let keeper = LeaseKeeper::start(Arc::clone(&store), "w1", Duration::from_secs(60));
        let first = CancellationToken::new();
        keeper.hold("a", first, Instant::now());
        let old_generation = lock(&keeper.inner.held)["a"].generation;
        let second = CancellationToken::new();
        keeper.hold("a", second.clone(), Instant::now());
        keeper
            .inner
            .renewed("a", old_generation, Instant::now(), Ok(false));
        assert!(!second.is_cancelled());
        keeper.stop();
    }
}
