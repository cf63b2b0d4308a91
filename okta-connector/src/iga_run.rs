//! The Okta Identity Governance (IGA) part of a run: which lists are read, in what order, what
//! is completed and what is skipped.
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

use std::collections::{BTreeMap, BTreeSet};

use connector_api::{
    Change, ConnectorError, ErrorKind, ImportMode, Level, LogRecord, Result, Scope, Skipped,
};
use futures::SinkExt;
use futures::channel::mpsc;
use serde_json::Value;

use crate::client::OktaClient;
use crate::client::http::ApiOrigin;
use crate::client::pagination::Pager;
use crate::config::Config;
use crate::endpoints::iga::resources::{IgaResource, ResourceKind};
use crate::endpoints::iga::{
    IgaList, bundles, campaigns, catalog, collections, conditions, delegates, entitlements, grants,
    labels, list_of, owners, principal, request_types, requests, reviews, risk_rules, teams,
};
use crate::endpoints::{apps, groups};
use crate::iga_config::IgaConfig;
use crate::mapping::iga::{self as map, IgaType};
use crate::telemetry::{Event, ObjectsEmitted, RunTelemetry};

/// Where the IGA stage sends its batches (the run's forwarder).
pub type Batches = mpsc::Sender<Vec<Change>>;

/// The org-level types, in the order they are read (reviews follow the campaigns).
const ORG_LEVEL: [IgaType; 10] = [
    IgaType::Campaign,
    IgaType::EntitlementBundle,
    IgaType::Label,
    IgaType::Collection,
    IgaType::RiskRule,
    IgaType::Delegate,
    IgaType::RequestType,
    IgaType::Team,
    IgaType::Request,
    IgaType::CatalogEntry,
];

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

/// How a skippable failure applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Only the scope (resource, campaign) that answered.
    Scope,
    /// The whole object type, for the rest of the run.
    Type,
}

/// Whether a failure is one that skips (and how far), rather than failing the run.
fn reach(err: &ConnectorError) -> Option<Reach> {
    let vendor = err.vendor()?;
    match vendor.status? {
        400 | 404 => Some(Reach::Scope),
        401 if vendor.code.as_deref() == Some("E0000015") => Some(Reach::Type),
        403 | 405 => Some(Reach::Type),
        _ => None,
    }
}

/// The skip reason for a failure of `list` (for `target`, if per scope), and its category.
fn reason(list: &IgaList, t: IgaType, target: Option<&str>, err: &ConnectorError) -> Skip {
    let vendor = err.vendor();
    let status = vendor.and_then(|v| v.status).unwrap_or_default();
    let summary = vendor
        .and_then(|v| v.summary.clone())
        .map(|s| format!(" \"{s}\""))
        .unwrap_or_default();
    let id = vendor
        .and_then(|v| v.request_id.clone())
        .map(|r| format!(" (Okta error id {r})"))
        .unwrap_or_default();
    let ep = list.endpoint;
    let name = t.name();
    let at = target.map(|s| format!(" for {s}")).unwrap_or_default();
    let kept = format!("stored {name} objects{at} are kept");
    let (text, kind) = match status {
        400 => (
            format!(
                "{ep} answered 400{at}{summary}: the resource is not under Okta Identity Governance (Entitlement \
                 Management is off for it) or the org rejects the filter; put it under governance or leave it out \
                 (Iga.ResourceTypes, Iga.MaxResources); {kept}"
            ),
            ErrorKind::NotSupported,
        ),
        401 => (
            format!(
                "{ep} answered 401 E0000015{summary}: the org does not have this Okta Identity Governance feature \
                 enabled ({} API); enable it or remove {name} from Iga.ObjectTypes; {kept}",
                list.lifecycle
            ),
            ErrorKind::PermissionDenied,
        ),
        403 => (
            format!(
                "{ep} answered 403{summary}: the API token's administrator needs the {} role (an OAuth service app \
                 needs the scope {}); grant it or remove {name} from Iga.ObjectTypes; {kept}",
                list.admin_role, list.oauth_scope
            ),
            ErrorKind::PermissionDenied,
        ),
        404 => (
            format!(
                "{ep} answered 404{at}{summary}: the endpoint ({} API) is not available in this org, or the resource \
                 no longer exists; {kept}",
                list.lifecycle
            ),
            ErrorKind::NotFound,
        ),
        other => (
            format!(
                "{ep} answered {other}{summary}: this org does not serve the endpoint ({} API) for reading; remove \
                 {name} from Iga.ObjectTypes; {kept}",
                list.lifecycle
            ),
            ErrorKind::NotSupported,
        ),
    };
    Skip {
        reason: format!("{text}{id}"),
        kind,
    }
}

/// Why something was not read.
#[derive(Debug, Clone)]
struct Skip {
    reason: String,
    kind: ErrorKind,
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
            .send(batch)
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
        let state = self.types.entry(t).or_default();
        if let Some(failed) = state.failed.clone() {
            state.incomplete = true;
            let completed_any = state.completed_any;
            if emit && completed_any {
                // The type was skipped per scope (some scopes were already complete).
                let skip = Skip {
                    reason: format!("not read after an earlier failure: {}", failed.reason),
                    kind: failed.kind,
                };
                self.skip(Scope::within(t.name(), scope), skip);
            }
            return Ok(Some(failed));
        }
        for (pager, tag) in pagers {
            let read = self
                .read_all(pager, t, emit, |item| each(item, &tag))
                .await?;
            let Err(err) = read else { continue };
            let skip = reason(list_of(t), t, Some(scope), &err);
            let state = self.types.entry(t).or_default();
            state.incomplete = true;
            let completed_any = state.completed_any;
            if reach(&err) == Some(Reach::Type) {
                state.failed = Some(skip.clone());
                if emit && !completed_any {
                    self.skip(Scope::whole(t.name()), skip.clone());
                    return Ok(Some(skip));
                }
            }
            if emit {
                self.skip(Scope::within(t.name(), scope), skip.clone());
            }
            return Ok(Some(skip));
        }
        if emit {
            self.send(vec![Change::ScopeComplete(Scope::within(t.name(), scope))])
                .await?;
            self.types.entry(t).or_default().completed_any = true;
        }
        Ok(None)
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

    async fn org_level(&mut self) -> Result<()> {
        let limit = self.iga.page_size;
        let wants_reviews = self.iga.imports(IgaType::Review);
        let mut campaigns: std::result::Result<Vec<String>, Skip> = Err(Skip {
            reason: "campaigns were not listed".to_owned(),
            kind: ErrorKind::Internal,
        });
        for t in ORG_LEVEL {
            let emit = self.iga.imports(t);
            let needed = emit || (t == IgaType::Campaign && wants_reviews);
            if !needed {
                continue;
            }
            let o = self.origin;
            let first = match t {
                IgaType::Campaign => campaigns::first(o, limit),
                IgaType::EntitlementBundle => bundles::first(o, limit),
                IgaType::Label => labels::first(o),
                IgaType::Collection => collections::first(o, limit),
                IgaType::RiskRule => risk_rules::first(o, limit),
                IgaType::Delegate => delegates::first(o, limit),
                IgaType::RequestType => request_types::first(o, limit),
                IgaType::Team => teams::first(o, limit),
                IgaType::Request => requests::first(o, limit),
                _ => catalog::first(o, limit),
            };
            let mut live_campaigns = Vec::new();
            let read = self
                .read_all(list_of(t).pager(first), t, emit, |item| {
                    if t == IgaType::Campaign
                        && item["status"] != "DELETED"
                        && let Some(id) = item["id"].as_str()
                    {
                        live_campaigns.push(id.to_owned());
                    }
                    map_org_level(t, item)
                })
                .await?;
            match read {
                Ok(()) => {
                    if t == IgaType::Campaign {
                        campaigns = Ok(live_campaigns);
                    }
                    if emit {
                        self.finish(t, true).await?;
                    }
                }
                Err(err) => {
                    let skip = reason(list_of(t), t, None, &err);
                    if t == IgaType::Campaign {
                        campaigns = Err(skip.clone());
                    }
                    if emit {
                        self.types.entry(t).or_default().failed = Some(skip.clone());
                        self.skip(Scope::whole(t.name()), skip);
                        self.finish(t, true).await?;
                    }
                }
            }
        }
        if wants_reviews {
            self.reviews(campaigns).await?;
        }
        Ok(())
    }

    async fn reviews(&mut self, campaigns: std::result::Result<Vec<String>, Skip>) -> Result<()> {
        let t = IgaType::Review;
        match campaigns {
            Err(failed) => {
                let skip = Skip {
                    reason: format!(
                        "reviews are listed per campaign, and the campaigns could not be listed: {}",
                        failed.reason
                    ),
                    kind: failed.kind,
                };
                self.types.entry(t).or_default().failed = Some(skip.clone());
                self.skip(Scope::whole(t.name()), skip);
            }
            Ok(ids) => {
                for campaign in ids {
                    let first = reviews::first(self.origin, &campaign, self.iga.page_size);
                    let pagers = vec![(reviews::LIST.pager(first), campaign.clone())];
                    self.read_scope(t, &campaign, true, pagers, |item, campaign| {
                        map::review::to_change(item, campaign)
                    })
                    .await?;
                }
            }
        }
        self.finish(t, true).await
    }

    async fn per_resource(&mut self) -> Result<()> {
        let wanted: Vec<IgaType> = IgaType::ALL
            .into_iter()
            .filter(|t| t.per_resource() && self.iga.imports(*t))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let (resources, listed) = self.discover(&wanted).await?;
        let mut without_orn: BTreeMap<ResourceKind, Vec<String>> = BTreeMap::new();
        for resource in &resources {
            self.resource(resource, &mut without_orn).await?;
        }
        for (kind, ids) in without_orn {
            let t = IgaType::ResourceOwner;
            self.types.entry(t).or_default().incomplete = true;
            let shown: Vec<&str> = ids.iter().take(5).map(String::as_str).collect();
            let more = if ids.len() > shown.len() { ", …" } else { "" };
            let skip = Skip {
                reason: format!(
                    "the owners of {} {} resource(s) ({}{more}) were not read: resource owners are listed by the \
                     parent's ORN, Okta's {} listing gives none for them, no IGA list of this run named one, and the \
                     connector never builds ORNs",
                    ids.len(),
                    kind.filter_value(),
                    shown.join(", "),
                    kind.config_value()
                ),
                kind: ErrorKind::NotSupported,
            };
            self.skip(
                Scope::within(t.name(), format!("{}:*", kind.filter_value())),
                skip,
            );
        }
        for t in wanted {
            let kinds: &[ResourceKind] = if t == IgaType::PrincipalEntitlement {
                &[ResourceKind::Application]
            } else {
                &[ResourceKind::Application, ResourceKind::Group]
            };
            let every_scope_listed = kinds.iter().all(|k| listed.contains(k));
            self.finish(t, every_scope_listed).await?;
        }
        Ok(())
    }

    /// Lists the configured resources; returns them and the kinds listed completely (no
    /// failure, no `MaxResources` cap reached).
    async fn discover(
        &mut self,
        wanted: &[IgaType],
    ) -> Result<(Vec<IgaResource>, BTreeSet<ResourceKind>)> {
        let cap = self.iga.max_resources.unwrap_or(usize::MAX);
        let mut resources = Vec::new();
        let mut listed = BTreeSet::new();
        for kind in self.iga.resource_kinds.clone() {
            let (found, failure) = match kind {
                ResourceKind::Application => {
                    let mut pager = apps::pager(self.origin);
                    self.take(&mut pager, cap, |a| IgaResource::application(a.id, a.orn))
                        .await?
                }
                ResourceKind::Group => {
                    let mut pager = groups::pager(self.origin, self.config.group_page_size, None);
                    self.take(&mut pager, cap, |g| IgaResource::group(g.id))
                        .await?
                }
            };
            let capped = found.len() >= cap;
            resources.extend(found);
            match failure {
                None if !capped => {
                    listed.insert(kind);
                }
                None => {}
                Some(err) => {
                    for t in wanted {
                        if *t == IgaType::PrincipalEntitlement && kind == ResourceKind::Group {
                            continue;
                        }
                        self.types.entry(*t).or_default().incomplete = true;
                        let skip = Skip {
                            reason: format!(
                                "no {} IGA objects of {}s were read because the {} could not be listed ({err}); stored \
                                 ones are kept",
                                t.name(),
                                kind.filter_value().to_lowercase(),
                                kind.config_value()
                            ),
                            kind: err.kind(),
                        };
                        self.skip(
                            Scope::within(t.name(), format!("{}:*", kind.filter_value())),
                            skip,
                        );
                    }
                }
            }
        }
        Ok((resources, listed))
    }

    /// Up to `cap` resources from a core listing, and the failure that stopped it, if any.
    async fn take<T, F>(
        &mut self,
        pager: &mut Pager<T>,
        cap: usize,
        mut make: F,
    ) -> Result<(Vec<IgaResource>, Option<ConnectorError>)>
    where
        T: serde::de::DeserializeOwned,
        F: FnMut(T) -> IgaResource,
    {
        let mut found = Vec::new();
        while found.len() < cap {
            match pager.next_page(self.client, self.tel).await {
                Ok(Some(page)) => {
                    let room = cap - found.len();
                    found.extend(page.items.into_iter().take(room).map(&mut make));
                }
                Ok(None) => break,
                Err(e) if reach(&e).is_some() => return Ok((found, Some(e))),
                Err(e) => return Err(e.context("listing resources for IGA")),
            }
        }
        Ok((found, None))
    }

    /// Reads every per-resource list of one app or group.
    async fn resource(
        &mut self,
        r: &IgaResource,
        without_orn: &mut BTreeMap<ResourceKind, Vec<String>>,
    ) -> Result<()> {
        let o = self.origin;
        let limit = self.iga.page_size;
        let scope = r.scope();
        // The resource's ORN as the IGA lists name it (copied, never built).
        let mut seen_orn: Option<String> = None;
        let mut note_orn = |item: &Value, field: &str| {
            if seen_orn.is_none()
                && let Some(orn) = item[field].as_str().filter(|s| s.starts_with("orn:"))
            {
                seen_orn = Some(orn.to_owned());
            }
        };

        if self.iga.imports(IgaType::Entitlement) {
            let pagers = vec![(
                entitlements::LIST.pager(entitlements::first(o, r, limit)),
                String::new(),
            )];
            self.read_scope(IgaType::Entitlement, &scope, true, pagers, |item, _| {
                note_orn(&item, "parentResourceOrn");
                map::entitlement::to_change(item, r)
            })
            .await?;
        }
        if self.iga.imports(IgaType::EntitlementValue) {
            let first = entitlements::first_values(o, r, limit);
            let pagers = vec![(entitlements::VALUES.pager(first), String::new())];
            self.read_scope(
                IgaType::EntitlementValue,
                &scope,
                true,
                pagers,
                |item, _| {
                    note_orn(&item, "parentResourceOrn");
                    map::entitlement_value::to_change(item, r)
                },
            )
            .await?;
        }
        let wants_principal =
            self.iga.imports(IgaType::PrincipalEntitlement) && r.kind == ResourceKind::Application;
        let mut principals = BTreeSet::new();
        let mut grants_failure = None;
        if self.iga.imports(IgaType::Grant) || wants_principal {
            let pagers = vec![(
                grants::LIST.pager(grants::first(o, r, limit)),
                String::new(),
            )];
            let emit = self.iga.imports(IgaType::Grant);
            grants_failure = self
                .read_scope(IgaType::Grant, &scope, emit, pagers, |item, _| {
                    note_orn(&item, "targetResourceOrn");
                    if item["targetPrincipal"]["type"] == "OKTA_USER"
                        && let Some(user) = item["targetPrincipal"]["externalId"].as_str()
                    {
                        principals.insert(user.to_owned());
                    }
                    map::grant::to_change(item, r)
                })
                .await?;
        }
        if self.iga.imports(IgaType::ResourceOwner) {
            match seen_orn.clone().or_else(|| r.orn.clone()) {
                Some(orn) => {
                    let pagers = vec![(
                        owners::LIST.pager(owners::first(o, &orn, limit)),
                        String::new(),
                    )];
                    self.read_scope(IgaType::ResourceOwner, &scope, true, pagers, |item, _| {
                        map::resource_owner::to_change(item, r)
                    })
                    .await?;
                }
                None => without_orn.entry(r.kind).or_default().push(r.id.clone()),
            }
        }
        if wants_principal {
            let t = IgaType::PrincipalEntitlement;
            match grants_failure {
                Some(failed) => {
                    self.types.entry(t).or_default().incomplete = true;
                    let skip = Skip {
                        reason: format!(
                            "principal entitlements are read for the users holding grants on the app, and its grants \
                             could not be read: {}",
                            failed.reason
                        ),
                        kind: failed.kind,
                    };
                    self.skip(Scope::within(t.name(), scope.clone()), skip);
                }
                None => {
                    let pagers = principals
                        .into_iter()
                        .map(|user| (principal::LIST.pager(principal::first(o, r, &user)), user))
                        .collect();
                    self.read_scope(t, &scope, true, pagers, |item, user| {
                        map::principal_entitlement::to_change(item, r, user)
                    })
                    .await?;
                }
            }
        }
        if self.iga.imports(IgaType::RequestCondition) {
            let first = conditions::first_conditions(o, r);
            let pagers = vec![(conditions::CONDITIONS.pager(first), String::new())];
            self.read_scope(
                IgaType::RequestCondition,
                &scope,
                true,
                pagers,
                |item, _| map::request_condition::to_change(item, r),
            )
            .await?;
        }
        if self.iga.imports(IgaType::RequestSequence) {
            let first = conditions::first_sequences(o, r);
            let pagers = vec![(conditions::SEQUENCES.pager(first), String::new())];
            self.read_scope(IgaType::RequestSequence, &scope, true, pagers, |item, _| {
                map::request_sequence::to_change(item, r)
            })
            .await?;
        }
        Ok(())
    }
}

/// `check` for IGA (when `Iga.Enabled`): one page of one item from every org-level list that
/// is imported, so a missing feature, role or scope shows up before the first run. Lists that
/// answer 400/401 `E0000015`/403/404/405 become warnings with the run's skip reason; anything
/// else fails the check.
///
/// # Errors
/// As a run: an invalid token, rate limits after retries, 5xx, protocol errors.
pub async fn check(
    client: &OktaClient,
    config: &Config,
    tel: &RunTelemetry,
    report: &mut connector_api::CheckReport,
) -> Result<()> {
    let iga = &config.iga;
    if !iga.enabled {
        return Ok(());
    }
    let o = client.http.origin();
    for t in ORG_LEVEL.into_iter().filter(|t| iga.imports(*t)) {
        let first = match t {
            IgaType::Campaign => campaigns::first(o, 1),
            IgaType::EntitlementBundle => bundles::first(o, 1),
            IgaType::Label => labels::first(o),
            IgaType::Collection => collections::first(o, 1),
            IgaType::RiskRule => risk_rules::first(o, 1),
            IgaType::Delegate => delegates::first(o, 1),
            IgaType::RequestType => request_types::first(o, 1),
            IgaType::Team => teams::first(o, 1),
            IgaType::Request => requests::first(o, 1),
            _ => catalog::first(o, 1),
        };
        let list = list_of(t);
        match list.pager(first).next_page(client, tel).await {
            Ok(_) => report.checks.push(format!(
                "the token may list {} ({})",
                t.name(),
                list.endpoint
            )),
            Err(e) if reach(&e).is_some() => {
                let skip = reason(list, t, None, &e);
                report
                    .warnings
                    .push(format!("{} would be skipped: {}", t.name(), skip.reason));
            }
            Err(e) => return Err(e.context(format_args!("checking {}", t.name()))),
        }
    }
    Ok(())
}

/// The change for an item of an org-level list.
fn map_org_level(t: IgaType, item: Value) -> Result<Change> {
    match t {
        IgaType::Campaign => map::campaign::to_change(item),
        IgaType::EntitlementBundle => map::bundle::to_change(item),
        IgaType::Label => map::label::to_change(item),
        IgaType::Collection => map::collection::to_change(item),
        IgaType::RiskRule => map::risk_rule::to_change(item),
        IgaType::Delegate => map::delegate::to_change(item),
        IgaType::RequestType => map::request_type::to_change(item),
        IgaType::Team => map::team::to_change(item),
        IgaType::Request => map::request::to_change(item),
        IgaType::CatalogEntry => map::catalog_entry::to_change(item),
        other => Err(ConnectorError::internal(format!(
            "{} is not an org-level IGA type",
            other.name()
        ))),
    }
}

/// The IGA stage starts (full runs, or delta runs with `Iga.RescanOnDelta`).
#[derive(Debug)]
pub struct IgaStarted {
    /// What is read, in words.
    pub plan: String,
}

impl Event for IgaStarted {
    fn record(&self) -> LogRecord {
        LogRecord::new(
            Level::Info,
            "iga_started",
            format!(
                "reading Okta Identity Governance (full scan): {}",
                self.plan
            ),
        )
    }
}

/// A delta run leaves IGA alone (`Iga.RescanOnDelta` is false).
#[derive(Debug)]
pub struct IgaNotRead;

impl Event for IgaNotRead {
    fn record(&self) -> LogRecord {
        LogRecord::new(
            Level::Info,
            "iga_not_read",
            "delta run: Okta Identity Governance is read on full runs only (Iga.RescanOnDelta is false); stored IGA \
             objects are unchanged",
        )
    }
}

/// An IGA object type or scope was skipped; the run goes on.
#[derive(Debug)]
pub struct IgaSkipped<'a> {
    /// What was skipped.
    pub scope: &'a Scope,
    /// Why, and what to do.
    pub reason: &'a str,
}

impl Event for IgaSkipped<'_> {
    fn record(&self) -> LogRecord {
        LogRecord::new(
            Level::Warn,
            "iga_skipped",
            format!("skipped {}: {}", self.scope, self.reason),
        )
        .field("scope", self.scope.to_string())
        .field("reason", self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_api::VendorDetails;

    fn http(status: u16, code: &str) -> ConnectorError {
        ConnectorError::permission_denied("x").with_vendor(
            VendorDetails::new()
                .with_status(status)
                .with_code(code)
                .with_summary("You do not have permission")
                .with_request_id("oae1"),
        )
    }

    #[test]
    fn failures_reach_a_scope_or_a_type() {
        assert_eq!(reach(&http(400, "E0000001")), Some(Reach::Scope));
        assert_eq!(reach(&http(404, "E0000007")), Some(Reach::Scope));
        assert_eq!(reach(&http(401, "E0000015")), Some(Reach::Type));
        assert_eq!(reach(&http(403, "E0000006")), Some(Reach::Type));
        assert_eq!(reach(&http(405, "E0000022")), Some(Reach::Type));
        // An invalid token, rate limits and outages fail the run.
        assert_eq!(reach(&http(401, "E0000011")), None);
        assert_eq!(reach(&http(429, "E0000047")), None);
        assert_eq!(reach(&http(503, "")), None);
        assert_eq!(reach(&ConnectorError::protocol("bad page")), None);
    }

    #[test]
    fn reasons_name_the_scope_role_and_fix() {
        let s = reason(
            &campaigns::LIST,
            IgaType::Campaign,
            None,
            &http(403, "E0000006"),
        );
        assert_eq!(s.kind, ErrorKind::PermissionDenied);
        assert!(
            s.reason
                .contains("okta.governance.accessCertifications.read"),
            "{}",
            s.reason
        );
        assert!(
            s.reason.contains("ACCESS_CERTIFICATIONS_ADMIN"),
            "{}",
            s.reason
        );
        assert!(s.reason.contains("oae1"));
        let s = reason(
            &grants::LIST,
            IgaType::Grant,
            Some("APPLICATION:0oa1"),
            &http(400, "E0000001"),
        );
        assert_eq!(s.kind, ErrorKind::NotSupported);
        assert!(s.reason.contains("for APPLICATION:0oa1") && s.reason.contains("not under"));
        let s = reason(&labels::LIST, IgaType::Label, None, &http(401, "E0000015"));
        assert!(s.reason.contains("BETA") && s.reason.contains("Iga.ObjectTypes"));
    }
}
