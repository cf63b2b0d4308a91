//! The Okta Identity Governance (IGA) part of a run: which lists are read, in what order, what
//! is completed and what is skipped. Every per-type fact comes from the one table in
//! [`crate::okta::iga`].
//!
//! | concern | file |
//! | --- | --- |
//! | the run: org-level lists, then reviews | `mod.rs`, [`org`] |
//! | resource discovery and the per-resource lists | [`resources`] |
//! | list URLs and filters | [`endpoints`] |
//! | JSON → objects | [`mapping`] |
//! | what skips, and the skip reasons | [`skip`] |
//! | `check` | [`check`] |
//!
//! IGA has no delta API, so whenever it is read it is read completely: on full runs, and on
//! delta runs only with `Iga.RescanOnDelta` (otherwise a delta run does not touch IGA and stays
//! as fast as the core delta). The watermark never depends on IGA.
//!
//! 1. Org-level lists, one after the other: campaigns, entitlement bundles, labels, collections,
//!    risk rules, delegates, request types, teams, access requests (v2), catalog entries; then
//!    the reviews of every campaign that is not DELETED (scope = campaign id).
//! 2. Resource discovery: `GET /api/v1/apps` and/or `GET /api/v1/groups` (`Iga.ResourceTypes`,
//!    at most `Iga.MaxResources` each), then per resource (scope = `APPLICATION:<id>` or
//!    `GROUP:<id>`): entitlements, entitlement values, grants, resource owners, principal
//!    entitlements (apps only: one request per user holding a grant), request conditions and
//!    request sequences.
//!
//! Completion: a sub-scope (one campaign's reviews, one resource's list) is marked complete as
//! soon as it was read to the end — in delta rescans too. A whole type is marked complete only
//! on full runs, and only when every one of its scopes was read: for per-resource types that
//! also means every configured resource type was listed without a `MaxResources` cap.
//!
//! Failures are per object type, not per run: 400 (resource not governed) and 404 skip that
//! scope; 401 `E0000015` (feature not enabled), 403 (scope or role missing) and 405 skip the
//! type (for the rest of the run). Each skip becomes an [`ImportOutcome::skipped`] entry whose
//! reason names the endpoint, the OAuth scope or admin role needed and what to do; a skipped
//! scope is never completed, so the host keeps what it stored before. Anything else (429 after
//! retries, 5xx, transport, protocol) fails the run as in the core.
//!
//! [`ImportOutcome::skipped`]: connector_api::ImportOutcome::skipped

pub mod check;
pub mod endpoints;
pub mod mapping;
mod org;
mod resources;
mod skip;
pub mod target;

use std::collections::BTreeMap;

use connector_api::{Change, ConnectorError, ImportMode, Result, Scope, Skipped};
use futures::SinkExt;
use serde_json::Value;

use crate::client::OktaClient;
use crate::client::http::ApiOrigin;
use crate::client::pagination::Pager;
use crate::config::{Config, IgaConfig};
use crate::mapping::Batches;
use crate::okta::iga::{IgaType, Level};
use crate::telemetry::{IgaNotRead, IgaSkipped, IgaStarted, ObjectsEmitted, RunTelemetry};
use skip::{Reach, Skip, reach, reason};

/// The org-level types, in the order they are read (reviews follow the campaigns).
fn org_level() -> impl Iterator<Item = IgaType> {
    IgaType::ALL
        .into_iter()
        .filter(|t| t.spec().level == Level::Org)
}

/// Reads the IGA part of a run into `batches` and returns what was skipped.
///
/// # Errors
/// A failure that is not per object type (rate limit after retries, 5xx, transport, protocol,
/// an invalid token), the sink stopping, or cancellation.
pub async fn run(
    client: &OktaClient,
    config: &Config,
    mode: ImportMode,
    tel: &RunTelemetry,
    batches: Batches,
) -> Result<Vec<Skipped>> {
    let iga = &config.iga;
    if !iga.enabled {
        return Ok(Vec::new());
    }
    if mode == ImportMode::Delta && !iga.rescan_on_delta {
        tel.emit(&IgaNotRead);
        return Ok(Vec::new());
    }
    tel.emit(&IgaStarted {
        plan: iga.describe(),
    });
    let mut stage = IgaStage {
        client,
        config,
        iga,
        origin: client.http.origin(),
        tel,
        batches,
        full: mode == ImportMode::Full,
        skipped: Vec::new(),
        types: BTreeMap::new(),
    };
    stage.org_level().await?;
    stage.per_resource().await?;
    Ok(stage.skipped)
}

/// What a run learned about one object type.
#[derive(Debug, Default)]
struct TypeState {
    /// A type-wide failure: no further scope of the type is requested.
    failed: Option<Skip>,
    /// Some scope of the type was not read completely.
    incomplete: bool,
    /// Some sub-scope of the type was marked complete.
    completed_any: bool,
}

struct IgaStage<'a> {
    client: &'a OktaClient,
    config: &'a Config,
    iga: &'a IgaConfig,
    origin: &'a ApiOrigin,
    tel: &'a RunTelemetry,
    batches: Batches,
    full: bool,
    skipped: Vec<Skipped>,
    types: BTreeMap<IgaType, TypeState>,
}

impl IgaStage<'_> {
    async fn send(&mut self, batch: Vec<Change>) -> Result<()> {
        self.batches
            .send(batch.into())
            .await
            .map_err(|_| ConnectorError::internal("the change forwarder stopped early"))
    }

    fn skip(&mut self, scope: Scope, skip: Skip) {
        self.tel.emit(&IgaSkipped {
            scope: &scope,
            reason: &skip.reason,
        });
        self.skipped
            .push(Skipped::new(scope, skip.reason, skip.kind));
    }

    /// Reads one listing to its end, mapping every item with `each` (and sending the changes
    /// when `emit`). `Ok(Err(e))` is a failure that skips rather than fails the run.
    async fn read_all<F>(
        &mut self,
        mut pager: Pager<Value>,
        t: IgaType,
        emit: bool,
        mut each: F,
    ) -> Result<std::result::Result<(), ConnectorError>>
    where
        F: FnMut(Value) -> Result<Change>,
    {
        loop {
            match pager.next_page(self.client, self.tel).await {
                Ok(Some(page)) => {
                    let mut batch = Vec::with_capacity(page.items.len());
                    let (mut upserts, mut deletes) = (0, 0);
                    for item in page.items {
                        let change = each(item)?;
                        match change {
                            Change::Delete { .. } => deletes += 1,
                            _ => upserts += 1,
                        }
                        batch.push(change);
                    }
                    if emit && !batch.is_empty() {
                        self.tel.count_objects(t.name(), upserts, deletes);
                        self.send(batch).await?;
                    }
                }
                Ok(None) => return Ok(Ok(())),
                Err(e) if reach(&e).is_some() => return Ok(Err(e)),
                Err(e) => return Err(e.context(format_args!("reading {}", t.name()))),
            }
        }
    }

    /// Reads every `(pager, tag)` of one scope of `t` (the tag is handed to `each`), then marks
    /// the scope complete when `emit`. Returns why the scope was not read completely, if so.
    async fn read_scope<F>(
        &mut self,
        t: IgaType,
        scope: &str,
        emit: bool,
        pagers: Vec<(Pager<Value>, String)>,
        mut each: F,
    ) -> Result<Option<Skip>>
    where
        F: FnMut(Value, &str) -> Result<Change>,
    {
        if let Some(failed) = self.failed_before(t, scope, emit) {
            return Ok(Some(failed));
        }
        for (pager, tag) in pagers {
            let read = self
                .read_all(pager, t, emit, |item| each(item, &tag))
                .await?;
            if let Err(err) = read {
                return Ok(Some(self.scope_failed(t, scope, emit, &err)));
            }
        }
        if emit {
            self.send(vec![Change::ScopeComplete(Scope::within(t.name(), scope))])
                .await?;
            self.types.entry(t).or_default().completed_any = true;
        }
        Ok(None)
    }

    /// The type-wide failure that keeps `scope` of `t` from being read, if any (skipped per
    /// scope once some scopes of the type were already complete).
    fn failed_before(&mut self, t: IgaType, scope: &str, emit: bool) -> Option<Skip> {
        let state = self.types.entry(t).or_default();
        let failed = state.failed.clone()?;
        state.incomplete = true;
        if emit && state.completed_any {
            let skip = Skip {
                reason: format!("not read after an earlier failure: {}", failed.reason),
                kind: failed.kind,
            };
            self.skip(Scope::within(t.name(), scope), skip);
        }
        Some(failed)
    }

    /// Records a skippable failure reading `scope` of `t`: the scope, or the whole type when
    /// the failure reaches the type and no scope of it was complete yet.
    fn scope_failed(&mut self, t: IgaType, scope: &str, emit: bool, err: &ConnectorError) -> Skip {
        let skip = reason(t, Some(scope), err);
        let state = self.types.entry(t).or_default();
        state.incomplete = true;
        let completed_any = state.completed_any;
        if reach(err) == Some(Reach::Type) {
            state.failed = Some(skip.clone());
            if emit && !completed_any {
                self.skip(Scope::whole(t.name()), skip.clone());
                return skip;
            }
        }
        if emit {
            self.skip(Scope::within(t.name(), scope), skip.clone());
        }
        skip
    }

    /// Marks a scoped type complete if every scope was read (full runs), and logs its totals.
    async fn finish(&mut self, t: IgaType, every_scope_listed: bool) -> Result<()> {
        let state = self.types.entry(t).or_default();
        let complete =
            self.full && every_scope_listed && !state.incomplete && state.failed.is_none();
        if complete {
            self.send(vec![Change::ScopeComplete(Scope::whole(t.name()))])
                .await?;
        }
        let (upserts, deletes) = self.tel.objects(t.name());
        self.tel.emit(&ObjectsEmitted {
            object_type: t.name(),
            upserts,
            deletes,
            complete,
        });
        Ok(())
    }
}
