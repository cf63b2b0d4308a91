//! The per-resource IGA lists: discover the apps and groups (`Iga.ResourceTypes`, at most
//! `Iga.MaxResources` each), then per resource (scope = `APPLICATION:<id>` or `GROUP:<id>`):
//! entitlements, entitlement values, grants, resource owners, principal entitlements (apps
//! only: one request per user holding a grant), request conditions and request sequences.

use std::collections::{BTreeMap, BTreeSet};

use connector_api::{ConnectorError, ErrorKind, Result, Scope};
use serde_json::Value;

use super::endpoints::pager;
use super::mapping::to_change;
use super::skip::{Skip, reach};
use super::target::{IgaResource, Target};
use super::{IgaStage, Pager};
use crate::endpoints::{apps, groups};
use crate::okta::ResourceKind;
use crate::okta::iga::{IgaType, Level};

/// The ids of resources whose owners were not read (no ORN known), per kind.
type WithoutOrn = BTreeMap<ResourceKind, Vec<String>>;

/// The ORN an item names for the resource it was listed for, if `seen` has none yet
/// (copied, never built).
fn note_orn(seen: &mut Option<String>, item: &Value, field: Option<&str>) {
    if seen.is_none()
        && let Some(field) = field
        && let Some(orn) = item[field].as_str().filter(|s| s.starts_with("orn:"))
    {
        *seen = Some(orn.to_owned());
    }
}

impl IgaStage<'_> {
    pub(super) async fn per_resource(&mut self) -> Result<()> {
        let wanted: Vec<IgaType> = IgaType::ALL
            .into_iter()
            .filter(|t| t.per_resource() && self.iga.imports(*t))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let (resources, listed) = self.discover(&wanted).await?;
        let mut without_orn = WithoutOrn::new();
        for resource in &resources {
            self.resource(resource, &mut without_orn).await?;
        }
        for (kind, ids) in without_orn {
            self.owners_not_read(kind, &ids);
        }
        for t in wanted {
            let kinds = match t.spec().level {
                Level::PerResource(kinds) => kinds,
                Level::Org | Level::PerCampaign => &[],
            };
            let every_scope_listed = kinds.iter().all(|k| listed.contains(k));
            self.finish(t, every_scope_listed).await?;
        }
        Ok(())
    }

    /// Skips the owners of resources no list named an ORN for.
    fn owners_not_read(&mut self, kind: ResourceKind, ids: &[String]) {
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
                Some(err) => self.not_listed(wanted, kind, &err),
            }
        }
        Ok((resources, listed))
    }

    /// Skips every wanted type for resources of `kind`, which could not be listed.
    fn not_listed(&mut self, wanted: &[IgaType], kind: ResourceKind, err: &ConnectorError) {
        for t in wanted {
            if let Level::PerResource(kinds) = t.spec().level
                && !kinds.contains(&kind)
            {
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
    async fn resource(&mut self, r: &IgaResource, without_orn: &mut WithoutOrn) -> Result<()> {
        let scope = r.scope();
        // The resource's ORN as the IGA lists name it (copied, never built).
        let mut seen_orn: Option<String> = None;
        for t in [IgaType::Entitlement, IgaType::EntitlementValue] {
            self.plain(t, r, &scope, &mut seen_orn).await?;
        }
        let wants_principal =
            self.iga.imports(IgaType::PrincipalEntitlement) && r.kind == ResourceKind::Application;
        let mut principals = BTreeSet::new();
        let mut grants_failure = None;
        if self.iga.imports(IgaType::Grant) || wants_principal {
            grants_failure = self
                .grants(r, &scope, &mut seen_orn, &mut principals)
                .await?;
        }
        if self.iga.imports(IgaType::ResourceOwner) {
            match seen_orn.clone().or_else(|| r.orn.clone()) {
                Some(orn) => self.owners(r, &scope, &orn).await?,
                None => without_orn.entry(r.kind).or_default().push(r.id.clone()),
            }
        }
        if wants_principal {
            self.principal_entitlements(r, &scope, principals, grants_failure)
                .await?;
        }
        for t in [IgaType::RequestCondition, IgaType::RequestSequence] {
            self.plain(t, r, &scope, &mut seen_orn).await?;
        }
        Ok(())
    }

    /// Reads `t`'s list of `r` when `t` is imported (noting the ORN its items name).
    async fn plain(
        &mut self,
        t: IgaType,
        r: &IgaResource,
        scope: &str,
        seen_orn: &mut Option<String>,
    ) -> Result<()> {
        if !self.iga.imports(t) {
            return Ok(());
        }
        let target = Target::Resource(r);
        let pagers = vec![(
            pager(t.spec(), self.origin, target, self.iga.page_size)?,
            String::new(),
        )];
        let field = t.spec().parent_orn;
        self.read_scope(t, scope, true, pagers, |item, _| {
            note_orn(seen_orn, &item, field);
            to_change(t, item, target)
        })
        .await?;
        Ok(())
    }

    /// Reads the grants on `r` (emitted when imported), collecting the users holding one;
    /// returns why they could not be read, if so.
    async fn grants(
        &mut self,
        r: &IgaResource,
        scope: &str,
        seen_orn: &mut Option<String>,
        principals: &mut BTreeSet<String>,
    ) -> Result<Option<Skip>> {
        let t = IgaType::Grant;
        let target = Target::Resource(r);
        let pagers = vec![(
            pager(t.spec(), self.origin, target, self.iga.page_size)?,
            String::new(),
        )];
        let emit = self.iga.imports(t);
        let field = t.spec().parent_orn;
        self.read_scope(t, scope, emit, pagers, |item, _| {
            note_orn(seen_orn, &item, field);
            if item["targetPrincipal"]["type"] == "OKTA_USER"
                && let Some(user) = item["targetPrincipal"]["externalId"].as_str()
            {
                principals.insert(user.to_owned());
            }
            to_change(t, item, target)
        })
        .await
    }

    /// Reads the owners under `r`, named by its ORN.
    async fn owners(&mut self, r: &IgaResource, scope: &str, orn: &str) -> Result<()> {
        let t = IgaType::ResourceOwner;
        let target = Target::Owners(r, orn);
        let pagers = vec![(
            pager(t.spec(), self.origin, target, self.iga.page_size)?,
            String::new(),
        )];
        self.read_scope(t, scope, true, pagers, |item, _| to_change(t, item, target))
            .await?;
        Ok(())
    }

    /// Reads the effective entitlements of every user holding a grant on app `r`.
    async fn principal_entitlements(
        &mut self,
        r: &IgaResource,
        scope: &str,
        principals: BTreeSet<String>,
        grants_failure: Option<Skip>,
    ) -> Result<()> {
        let t = IgaType::PrincipalEntitlement;
        if let Some(failed) = grants_failure {
            self.types.entry(t).or_default().incomplete = true;
            let skip = Skip {
                reason: format!(
                    "principal entitlements are read for the users holding grants on the app, and its grants \
                     could not be read: {}",
                    failed.reason
                ),
                kind: failed.kind,
            };
            self.skip(Scope::within(t.name(), scope), skip);
            return Ok(());
        }
        let limit = self.iga.page_size;
        let pagers = principals
            .into_iter()
            .map(|user| {
                Ok((
                    pager(t.spec(), self.origin, Target::Principal(r, &user), limit)?,
                    user,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        self.read_scope(t, scope, true, pagers, |item, user| {
            to_change(t, item, Target::Principal(r, user))
        })
        .await?;
        Ok(())
    }
}
