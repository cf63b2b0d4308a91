//! Driving a run: the connector's `import` with the host's [`ChangeSink`], and cancellation
//! with a grace period. The sink acknowledges a batch once its upserts are queued for the
//! store's [writer thread](crate::store::writer) (the queue is bounded, so a connector faster
//! than the store waits); when the connector is done, the writer is drained and its error, if
//! any, fails the run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use connector_api::{
    CancellationToken, Change, ChangeSink, ConnectorError, Context, ImportOutcome, ImportRequest,
    Scope,
};

use super::lines::{self, Entry};
use super::{RunEnv, RunOptions, Target};
use crate::clock::{Clock, format_ts};
use crate::logging::ConnectorLogger;
use crate::progress::Progress;
use crate::store::writer::{ImportWriter, OnStored, Upsert, UpsertBatch, Written};
use crate::store::{DeleteWhere, RunKey, Store, StoreError, TypeCounts};

/// What came back once the connector's `import` returned (or was abandoned).
#[derive(Debug)]
pub(super) struct Driven {
    /// The connector's result.
    pub(super) result: connector_api::Result<ImportOutcome>,
    /// What the sink kept of the batches.
    pub(super) received: Received,
    /// How many connector log events of each name the run produced.
    pub(super) events: BTreeMap<String, u64>,
}

/// What the sink kept of a run's batches for its end.
#[derive(Debug, Default)]
pub(super) struct Received {
    /// Per object type.
    pub(super) counts: BTreeMap<String, TypeCounts>,
    /// Explicit deletes not cancelled by a later upsert, as (type, external id).
    pub(super) pending_deletes: BTreeSet<(String, String)>,
    /// Scopes the connector completed.
    pub(super) completed: BTreeSet<Scope>,
    /// Deletes by reference, one per (type, attribute, value), each with the objects upserted
    /// after its last occurrence.
    pub(super) by_reference: Vec<DeleteWhere>,
    /// (type, attribute) pairs deleted by, and where each (type, attribute, value) is in
    /// `by_reference`.
    reference_keys: BTreeSet<(String, String)>,
    reference_index: HashMap<(String, String, String), usize>,
    /// The store error that stopped the sink, if any.
    pub(super) failure: Option<StoreError>,
    /// Whether the sink refused a batch (cancelled, or after a store failure).
    pub(super) rejected: bool,
}

impl Received {
    /// Takes a batch in order: deletes and completed scopes are remembered for the end; the
    /// upserts (in `upserts`, one per [`Entry::Upsert`]) stay for the store.
    fn take(&mut self, upserts: &UpsertBatch, entries: Vec<Entry>) {
        let mut next = upserts.iter();
        for entry in entries {
            match entry {
                Entry::Upsert => {
                    if let Some(upsert) = next.next() {
                        self.upserted(upsert);
                    }
                }
                Entry::Other(Change::DeleteWhere {
                    object_type,
                    attribute,
                    value,
                }) => {
                    let t = object_type.as_str().to_owned();
                    self.counts.entry(t.clone()).or_default().deletes += 1;
                    self.delete_where(t, attribute, value);
                }
                Entry::Other(Change::Delete {
                    object_type,
                    external_id,
                }) => {
                    let t = object_type.as_str().to_owned();
                    self.counts.entry(t.clone()).or_default().deletes += 1;
                    self.pending_deletes.insert((t, external_id));
                }
                Entry::Other(Change::ScopeComplete(scope)) => {
                    self.completed.insert(scope);
                }
                // Upserts arrive as `Entry::Upsert`; other kinds are refused in `send` before
                // anything of the batch is stored.
                Entry::Other(_) => {}
            }
        }
    }

    /// The last change of an object wins: an upsert cancels an earlier delete, and one after
    /// a delete by reference that matches it is spared. (Most runs have neither: nothing is
    /// built for them.)
    fn upserted(&mut self, upsert: Upsert<'_>) {
        if !self.pending_deletes.is_empty() {
            self.pending_deletes
                .remove(&(upsert.object_type.to_owned(), upsert.external_id.to_owned()));
        }
        if !self.reference_keys.is_empty() {
            self.spare(upsert);
        }
    }

    /// Remembers a delete by reference; a repeated one forgets what the earlier one spared.
    fn delete_where(&mut self, object_type: String, attribute: String, value: String) {
        self.reference_keys
            .insert((object_type.clone(), attribute.clone()));
        let key = (object_type.clone(), attribute.clone(), value.clone());
        match self.reference_index.get(&key) {
            Some(&i) => self.by_reference[i].spared.clear(),
            None => {
                self.reference_index.insert(key, self.by_reference.len());
                self.by_reference.push(DeleteWhere {
                    object_type,
                    attribute,
                    value,
                    spared: BTreeSet::new(),
                });
            }
        }
    }

    /// An upsert after a delete by reference that matches it is kept (the last change wins).
    fn spare(&mut self, upsert: Upsert<'_>) {
        let attributes: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(upsert.attributes).unwrap_or_default();
        for (t, attribute) in &self.reference_keys {
            let Some(value) = (t == upsert.object_type)
                .then(|| attributes.get(attribute))
                .flatten()
                .and_then(|v| v.as_str())
            else {
                continue;
            };
            let key = (t.clone(), attribute.clone(), value.to_owned());
            if let Some(&i) = self.reference_index.get(&key) {
                self.by_reference[i]
                    .spared
                    .insert(upsert.external_id.to_owned());
            }
        }
    }

    /// Adds what the writer stored to the counts.
    fn count(&mut self, written: Written) {
        for (t, w) in written.counts {
            let c = self.counts.entry(t).or_default();
            c.upserts += w.upserts;
            c.created += w.created;
            c.updated += w.updated;
            c.unchanged += w.unchanged;
        }
    }
}

/// Step 2: runs the connector's `import` into the store. After cancellation the connector has
/// `options.cancel_grace` to stop; then the run is abandoned with a `cancelled` error.
pub(super) async fn drive(
    store: &Store,
    target: Target<'_>,
    run: RunKey<'_>,
    request: ImportRequest,
    options: &RunOptions,
    env: &RunEnv,
) -> Driven {
    let logger = ConnectorLogger::new(run.connector, env.progress.clone());
    let ctx = Context::new(env.cancel.clone(), Arc::new(logger.clone()));
    let writer = match start_writer(store, run, env.progress.clone()) {
        Ok(writer) => writer,
        Err(e) => {
            let received = Received {
                failure: Some(e),
                ..Received::default()
            };
            return Driven {
                result: Err(ConnectorError::internal(
                    "the host's store could not be opened",
                )),
                received,
                events: logger.event_counts(),
            };
        }
    };
    let mut sink = StoreSink {
        writer,
        clock: env.clock.as_ref(),
        cancel: env.cancel.clone(),
        received: Received::default(),
    };
    let grace = options.cancel_grace;
    let result = {
        let import = target.connector.import(&ctx, request, &mut sink);
        let watchdog = async {
            env.cancel.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = import => result,
            () = watchdog => Err(ConnectorError::cancelled(format!(
                "the connector did not stop within {} s of cancellation; the run was abandoned",
                grace.as_secs()
            ))),
        }
    };
    let StoreSink {
        writer,
        mut received,
        ..
    } = sink;
    // Everything acknowledged is stored (or the writer's error known) before the run ends.
    match writer.finish() {
        Ok(written) => received.count(written),
        Err(e) => {
            received.failure.get_or_insert(e);
        }
    }
    Driven {
        result,
        received,
        events: logger.event_counts(),
    }
}

/// Opens the writer's own connection and starts its thread.
fn start_writer(
    store: &Store,
    run: RunKey<'_>,
    progress: Option<Arc<Progress>>,
) -> Result<ImportWriter, StoreError> {
    let on_stored = progress.map(|p| -> OnStored { Box::new(move |counts| p.stored(counts)) });
    ImportWriter::start(store.open_writer()?, run.connector, run.run_id, on_stored)
}

/// The host's [`ChangeSink`]: upserts go to the writer's queue, the rest is kept for the end.
struct StoreSink<'a> {
    writer: ImportWriter,
    clock: &'a dyn Clock,
    cancel: CancellationToken,
    received: Received,
}

impl StoreSink<'_> {
    /// Refuses a batch when the run was cancelled or the store failed earlier.
    fn check_open(&mut self) -> connector_api::Result<()> {
        if self.cancel.is_cancelled() {
            self.received.rejected = true;
            return Err(ConnectorError::cancelled(
                "the run was cancelled by the host",
            ));
        }
        if self.writer.has_failed() {
            self.received.rejected = true;
            return Err(ConnectorError::internal(
                "the host's store failed earlier in this run",
            ));
        }
        Ok(())
    }

    /// Takes a read batch: refuses kinds this host does not store (before anything of it is
    /// kept), remembers the rest, and queues the upserts for the writer.
    fn accept(&mut self, upserts: UpsertBatch, entries: Vec<Entry>) -> connector_api::Result<()> {
        let refused = entries.iter().find_map(|e| match e {
            Entry::Other(
                Change::Delete { .. } | Change::ScopeComplete(_) | Change::DeleteWhere { .. },
            )
            | Entry::Upsert => None,
            Entry::Other(other) => Some(other.kind()),
        });
        if let Some(kind) = refused {
            self.received.rejected = true;
            return Err(ConnectorError::protocol(format!(
                "the connector sent a `{kind}` change, which this host does not store"
            )));
        }
        self.received.take(&upserts, entries);
        if upserts.is_empty() {
            return Ok(());
        }
        // Blocks only while the writer's queue is full: that is the backpressure on the
        // connector (before, every batch blocked here until it was committed).
        match self.writer.send(upserts) {
            Ok(()) => Ok(()),
            Err(_) => {
                self.received.rejected = true;
                Err(ConnectorError::internal(
                    "the host could not store a batch (the store's error is recorded on the run)",
                ))
            }
        }
    }
}

#[async_trait]
impl ChangeSink for StoreSink<'_> {
    async fn send(&mut self, changes: Vec<Change>) -> connector_api::Result<()> {
        self.check_open()?;
        let mut upserts = UpsertBatch::new(format_ts(self.clock.now()));
        let entries = changes
            .into_iter()
            .map(|change| match change {
                Change::Upsert(object) => {
                    upserts.push_object(&object);
                    Entry::Upsert
                }
                other => Entry::Other(other),
            })
            .collect();
        self.accept(upserts, entries)
    }

    /// Reads the boundary's JSON lines straight into a batch for the store (see
    /// [`lines`](super::lines)); what it accepts and refuses is what `send` would.
    async fn send_encoded(&mut self, batch: Vec<u8>) -> connector_api::Result<()> {
        self.check_open()?;
        let (upserts, entries) = lines::read(batch, format_ts(self.clock.now()))?;
        self.accept(upserts, entries)
    }
}
