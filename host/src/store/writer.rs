//! The import writer: a thread of its own that stores the batches a run queues, so that the
//! connector's reading and decoding overlap with the store's writing.
//!
//! The runner acknowledges a batch once it is queued. The queue is bounded
//! ([`QUEUE_BATCHES`]), so a connector faster than the store waits for it (backpressure). The
//! writer gathers batches for a transaction (see `take_queued`) and stores them at once through
//! [`ImportBackend::write_upserts`], the only operation it needs from a backend: no SQL lives
//! here.
//!
//! Guarantees, unchanged from writing each batch before acknowledging it:
//! * a failed write stops the writer; the next [`ImportWriter::send`] is refused and
//!   [`ImportWriter::finish`] returns the error, so the run fails before its final transaction
//!   and no watermark is stored;
//! * a crash loses at most batches that were acknowledged but not committed; the watermark is
//!   only ever stored by the final transaction, after [`ImportWriter::finish`] returned, so the
//!   next run reads them again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use super::batch::{Upsert, UpsertBatch};
use super::{Result, RunKey, StoreError, TypeCounts, UpsertOutcome};

/// Batches that may wait in the queue before [`ImportWriter::send`] blocks.
pub const QUEUE_BATCHES: usize = 8;

/// The writer stops adding queued batches to a transaction once it holds this many objects.
pub const MAX_OBJECTS_PER_TRANSACTION: usize = 50_000;

/// Below this many objects the writer waits (up to [`GATHER_FOR`]) for more batches before it
/// commits.
pub const MIN_OBJECTS_PER_TRANSACTION: usize = 10_000;

/// How long the writer waits for batches to fill a transaction.
pub const GATHER_FOR: Duration = Duration::from_millis(50);

/// A store the writer can write batches to: the one operation an import needs from a backend
/// while its connector runs.
pub trait ImportBackend: Send + 'static {
    /// Stores `batches` (emitted by `run`) in one transaction; returns what each upsert did,
    /// in order. On error nothing of them is stored.
    ///
    /// # Errors
    /// The backend failed.
    fn write_upserts(
        &mut self,
        run: RunKey<'_>,
        batches: &[UpsertBatch],
    ) -> Result<Vec<UpsertOutcome>>;
}

impl<B: ImportBackend + ?Sized> ImportBackend for Box<B> {
    fn write_upserts(
        &mut self,
        run: RunKey<'_>,
        batches: &[UpsertBatch],
    ) -> Result<Vec<UpsertOutcome>> {
        (**self).write_upserts(run, batches)
    }
}

/// Called by the writer thread after each transaction with what is stored so far, per type.
pub type OnStored = Box<dyn FnMut(&BTreeMap<String, TypeCounts>) + Send>;

/// What the writer stored: per type, the upserts with their outcome (`upserts`, `created`,
/// `updated`, `unchanged`; the delete counters stay zero).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Written {
    /// Per object type.
    pub counts: BTreeMap<String, TypeCounts>,
}

impl Written {
    fn count(&mut self, batches: &[UpsertBatch], outcomes: &[UpsertOutcome]) {
        let upserts = batches.iter().flat_map(UpsertBatch::iter);
        for (upsert, outcome) in upserts.zip(outcomes) {
            let c = match self.counts.get_mut(upsert.object_type) {
                Some(c) => c,
                None => self
                    .counts
                    .entry(upsert.object_type.to_owned())
                    .or_default(),
            };
            c.upserts += 1;
            match outcome {
                UpsertOutcome::Created => c.created += 1,
                UpsertOutcome::Updated => c.updated += 1,
                UpsertOutcome::Unchanged => c.unchanged += 1,
            }
        }
    }
}

/// The writer stopped: a write failed (see [`ImportWriter::finish`] for the error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterStopped;

/// A running writer thread and the queue to it.
#[derive(Debug)]
pub struct ImportWriter {
    queue: Option<SyncSender<UpsertBatch>>,
    failed: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<Written>>>,
}

impl ImportWriter {
    /// Starts a writer thread that stores the batches of run `run_id` of `connector` into
    /// `backend`, calling `on_stored` after each transaction.
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn start<B: ImportBackend>(
        backend: B,
        connector: &str,
        run_id: i64,
        on_stored: Option<OnStored>,
    ) -> Result<Self> {
        let (queue, incoming) = sync_channel(QUEUE_BATCHES);
        let failed = Arc::new(AtomicBool::new(false));
        let job = Job {
            backend,
            connector: connector.to_owned(),
            run_id,
            incoming,
            failed: Arc::clone(&failed),
            on_stored,
        };
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || job.run())
            .map_err(|e| StoreError::Io {
                path: "store-writer".into(),
                message: format!("starting the writer thread: {e}"),
            })?;
        Ok(Self {
            queue: Some(queue),
            failed,
            thread: Some(thread),
        })
    }

    /// Whether a write failed; batches are refused from then on.
    pub fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Queues `batch`; blocks while the queue is full (the writer is behind).
    ///
    /// # Errors
    /// The writer stopped after a failed write; [`finish`](Self::finish) tells why.
    pub fn send(&self, batch: UpsertBatch) -> Result<(), WriterStopped> {
        if self.has_failed() {
            return Err(WriterStopped);
        }
        let queue = self.queue.as_ref().ok_or(WriterStopped)?;
        queue.send(batch).map_err(|_| WriterStopped)
    }

    /// Closes the queue, waits until everything queued is stored, and returns what was stored.
    ///
    /// # Errors
    /// A write failed (the first error; nothing after it was stored), or the thread panicked.
    pub fn finish(mut self) -> Result<Written> {
        self.join()
    }

    fn join(&mut self) -> Result<Written> {
        self.queue = None;
        let Some(thread) = self.thread.take() else {
            return Ok(Written::default());
        };
        thread.join().unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(StoreError::Io {
                path: "store-writer".into(),
                message: format!("the writer thread panicked: {message}"),
            })
        })
    }
}

impl Drop for ImportWriter {
    /// A writer dropped without [`finish`](ImportWriter::finish) still stores what was queued
    /// before the thread ends, so no write outlives the run that queued it.
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// The writer thread's state.
struct Job<B> {
    backend: B,
    connector: String,
    run_id: i64,
    incoming: Receiver<UpsertBatch>,
    failed: Arc<AtomicBool>,
    on_stored: Option<OnStored>,
}

impl<B: ImportBackend> Job<B> {
    fn run(mut self) -> Result<Written> {
        let mut written = Written::default();
        let run = RunKey {
            connector: &self.connector,
            run_id: self.run_id,
        };
        // Blocks for the first batch of a transaction; ends when the queue is closed and empty.
        while let Ok(first) = self.incoming.recv() {
            let batches = take_queued(&self.incoming, first);
            match self.backend.write_upserts(run, &batches) {
                Ok(outcomes) => written.count(&batches, &outcomes),
                Err(e) => {
                    self.failed.store(true, Ordering::Release);
                    return Err(e);
                }
            }
            if let Some(on_stored) = &mut self.on_stored {
                on_stored(&written.counts);
            }
        }
        Ok(written)
    }
}

/// `first` and what follows it: batches arriving within [`GATHER_FOR`] until the
/// transaction holds [`MIN_OBJECTS_PER_TRANSACTION`] objects, then whatever else is queued, up
/// to [`MAX_OBJECTS_PER_TRANSACTION`]. The connector does not wait for this (its batches were
/// acknowledged when queued); fewer, larger transactions write each B-tree page fewer times.
fn take_queued(incoming: &Receiver<UpsertBatch>, first: UpsertBatch) -> Vec<UpsertBatch> {
    let deadline = Instant::now() + GATHER_FOR;
    let mut objects = first.len();
    let mut batches = vec![first];
    while objects < MAX_OBJECTS_PER_TRANSACTION {
        let next = if objects < MIN_OBJECTS_PER_TRANSACTION {
            let left = deadline.saturating_duration_since(Instant::now());
            incoming.recv_timeout(left).ok()
        } else {
            incoming.try_recv().ok()
        };
        let Some(batch) = next else { break };
        objects += batch.len();
        batches.push(batch);
    }
    batches
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use connector_api::Object;

    use super::*;

    /// A backend that records what it was asked to write and fails on a chosen call.
    #[derive(Clone, Default)]
    struct Recording {
        transactions: Arc<Mutex<Vec<Vec<String>>>>,
        fail_on: Option<usize>,
    }

    impl ImportBackend for Recording {
        fn write_upserts(
            &mut self,
            run: RunKey<'_>,
            batches: &[UpsertBatch],
        ) -> Result<Vec<UpsertOutcome>> {
            assert_eq!((run.connector, run.run_id), ("c", 7));
            let mut log = self.transactions.lock().unwrap();
            if self.fail_on == Some(log.len()) {
                return Err(StoreError::Io {
                    path: "test".into(),
                    message: "disk full".into(),
                });
            }
            let ids: Vec<String> = batches
                .iter()
                .flat_map(|b| b.iter().map(|u| u.external_id.to_owned()))
                .collect();
            let outcomes = ids
                .iter()
                .map(|id| {
                    if id.ends_with('!') {
                        UpsertOutcome::Unchanged
                    } else {
                        UpsertOutcome::Created
                    }
                })
                .collect();
            log.push(ids);
            Ok(outcomes)
        }
    }

    fn batch(ids: &[&str]) -> UpsertBatch {
        let objects: Vec<Object> = ids.iter().map(|id| Object::new("User", *id)).collect();
        UpsertBatch::from_objects(&objects, "t")
    }

    #[test]
    fn stores_every_batch_in_order_and_counts_outcomes() {
        let backend = Recording::default();
        let log = Arc::clone(&backend.transactions);
        let writer = ImportWriter::start(backend, "c", 7, None).unwrap();
        writer.send(batch(&["a", "b!"])).unwrap();
        writer.send(batch(&["c"])).unwrap();
        let written = writer.finish().unwrap();
        let all: Vec<String> = log.lock().unwrap().concat();
        assert_eq!(all, ["a", "b!", "c"]);
        let users = &written.counts["User"];
        assert_eq!((users.upserts, users.created, users.unchanged), (3, 2, 1));
    }

    #[test]
    fn queued_batches_share_a_transaction() {
        let batches: Vec<UpsertBatch> = (0..5).map(|_| batch(&["x"])).collect();
        let (queue, incoming) = sync_channel(QUEUE_BATCHES);
        for b in batches.iter().skip(1) {
            queue.send(b.clone()).unwrap();
        }
        let taken = take_queued(&incoming, batches[0].clone());
        assert_eq!(taken.len(), 5);
        assert!(incoming.try_recv().is_err());
    }

    #[test]
    fn a_failed_write_stops_the_writer_and_surfaces_at_finish() {
        let backend = Recording {
            fail_on: Some(1),
            ..Recording::default()
        };
        let log = Arc::clone(&backend.transactions);
        let writer = ImportWriter::start(backend, "c", 7, None).unwrap();
        writer.send(batch(&["a"])).unwrap();
        // Wait until the first transaction is done, so the second batch is a transaction of
        // its own, the failing one.
        while log.lock().unwrap().is_empty() {
            std::thread::yield_now();
        }
        writer.send(batch(&["b"])).unwrap();
        while !writer.has_failed() {
            std::thread::yield_now();
        }
        assert_eq!(writer.send(batch(&["c"])), Err(WriterStopped));
        let err = writer.finish().unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        assert_eq!(log.lock().unwrap().concat(), ["a"]);
    }

    #[test]
    fn on_stored_sees_the_running_counts() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let on_stored: OnStored = Box::new(move |counts| {
            sink.lock().unwrap().push(counts["User"].upserts);
        });
        let writer = ImportWriter::start(Recording::default(), "c", 7, Some(on_stored)).unwrap();
        writer.send(batch(&["a", "b"])).unwrap();
        writer.finish().unwrap();
        assert_eq!(*seen.lock().unwrap(), [2]);
    }
}
