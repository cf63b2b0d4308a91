//! Driving a run: the connector's `import` with the host's [`ChangeSink`], each batch written
//! as it arrives, and cancellation with a grace period.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use connector_api::{
    CancellationToken, Change, ChangeSink, ConnectorError, Context, ImportOutcome, ImportRequest,
    Object, Scope,
};

use super::{RunEnv, RunOptions, Target};
use crate::clock::{Clock, format_ts};
use crate::logging::ConnectorLogger;
use crate::progress::Progress;
use crate::store::{RunKey, Store, StoreError, TypeCounts, UpsertOutcome};

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
    /// The store error that stopped the sink, if any.
    pub(super) failure: Option<StoreError>,
    /// Whether the sink refused a batch (cancelled, or after a store failure).
    pub(super) rejected: bool,
}

impl Received {
    /// Takes a batch in order: deletes and completed scopes are remembered for the end, the
    /// upserts are returned for the store.
    fn take(&mut self, changes: Vec<Change>) -> Vec<Object> {
        let mut upserts = Vec::new();
        for change in changes {
            match change {
                Change::Upsert(object) => {
                    // The last change of an object wins: an upsert cancels an earlier delete.
                    self.pending_deletes.remove(&(
                        object.object_type.as_str().to_owned(),
                        object.external_id.clone(),
                    ));
                    upserts.push(object);
                }
                Change::Delete {
                    object_type,
                    external_id,
                } => {
                    let t = object_type.as_str().to_owned();
                    self.counts.entry(t.clone()).or_default().deletes += 1;
                    self.pending_deletes.insert((t, external_id));
                }
                Change::ScopeComplete(scope) => {
                    self.completed.insert(scope);
                }
                // Refused in `send` before anything of the batch is stored.
                _ => {}
            }
        }
        upserts
    }

    /// Counts stored upserts.
    fn count(&mut self, upserts: &[Object], outcomes: Vec<UpsertOutcome>) {
        for (object, outcome) in upserts.iter().zip(outcomes) {
            let c = self
                .counts
                .entry(object.object_type.as_str().to_owned())
                .or_default();
            c.upserts += 1;
            match outcome {
                UpsertOutcome::Created => c.created += 1,
                UpsertOutcome::Updated => c.updated += 1,
                UpsertOutcome::Unchanged => c.unchanged += 1,
            }
        }
    }
}

/// Step 2: runs the connector's `import` into the store. After cancellation the connector has
/// `options.cancel_grace` to stop; then the run is abandoned with a `cancelled` error.
pub(super) async fn drive(
    store: &mut Store,
    target: Target<'_>,
    run: RunKey<'_>,
    request: ImportRequest,
    options: &RunOptions,
    env: &RunEnv,
) -> Driven {
    let logger = ConnectorLogger::new(run.connector, env.progress.clone());
    let ctx = Context::new(env.cancel.clone(), Arc::new(logger.clone()));
    let mut sink = StoreSink {
        store,
        run,
        clock: env.clock.as_ref(),
        cancel: env.cancel.clone(),
        progress: env.progress.clone(),
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
    Driven {
        result,
        received: sink.received,
        events: logger.event_counts(),
    }
}

/// The host's [`ChangeSink`]: one transaction per batch.
struct StoreSink<'a> {
    store: &'a mut Store,
    run: RunKey<'a>,
    clock: &'a dyn Clock,
    cancel: CancellationToken,
    progress: Option<Arc<Progress>>,
    received: Received,
}

impl StoreSink<'_> {
    fn apply(&mut self, changes: Vec<Change>) -> Result<(), StoreError> {
        let at = format_ts(self.clock.now());
        let upserts = self.received.take(changes);
        let outcomes = self.store.write_upserts(self.run, &upserts, &at)?;
        self.received.count(&upserts, outcomes);
        if let Some(p) = &self.progress {
            p.stored(&self.received.counts);
        }
        Ok(())
    }
}

#[async_trait]
impl ChangeSink for StoreSink<'_> {
    async fn send(&mut self, changes: Vec<Change>) -> connector_api::Result<()> {
        if self.cancel.is_cancelled() {
            self.received.rejected = true;
            return Err(ConnectorError::cancelled(
                "the run was cancelled by the host",
            ));
        }
        if self.received.failure.is_some() {
            self.received.rejected = true;
            return Err(ConnectorError::internal(
                "the host's store failed earlier in this run",
            ));
        }
        if let Some(other) = changes.iter().find(|c| {
            !matches!(
                c,
                Change::Upsert(_) | Change::Delete { .. } | Change::ScopeComplete(_)
            )
        }) {
            self.received.rejected = true;
            return Err(ConnectorError::protocol(format!(
                "the connector sent a `{}` change, which this host does not store",
                other.kind()
            )));
        }
        match self.apply(changes) {
            Ok(()) => Ok(()),
            Err(e) => {
                let message = format!("the host could not store a batch: {e}");
                self.received.failure = Some(e);
                self.received.rejected = true;
                Err(ConnectorError::internal(message))
            }
        }
    }
}
