//! A System Log delta (`DeltaSource` `"SystemLog"`): reads the log since the watermark's cursor
//! and turns its events into changes, so a delta costs what changed.
//!
//! | event | change |
//! | --- | --- |
//! | `user.lifecycle.delete.initiated` / `.completed` | `User` delete, and every `GroupMember` of the user deleted (`delete_where memberId`, when the host accepts it) |
//! | `group.user_membership.add` / `.remove` | `GroupMember` `<groupId>:<userId>` upserted / deleted |
//! | `group.lifecycle.delete` | `Group` delete and the group's member scope completed empty |
//! | `group.lifecycle.create` | the group's member list is read in full (as `LastUpdated` does) |
//!
//! Events arrive late and out of order: the read starts a margin before the cursor, an event
//! seen twice (same `uuid`) counts once, and for each membership edge the event published last
//! wins. A group whose `lastMembershipUpdated` moved is read in full only when the log does not
//! explain the move (see [`LogDelta::explains`]).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Duration, Utc};
use connector_api::{Change, ConnectorError, Result, Scope};

use crate::client::OktaClient;
use crate::config::ExternalIdAttribute;
use crate::endpoints::groups::OktaGroup;
use crate::endpoints::logs::{self, LogEvent};
use crate::mapping::{self, GROUP, GROUP_MEMBER, USER};
use crate::telemetry::RunTelemetry;

/// How long Okta keeps the System Log.
pub const RETENTION: Duration = Duration::days(90);

/// How far an event that explains a group's membership move may be published before the
/// group's `lastMembershipUpdated` (Okta stamps both in the same request, not at the same
/// millisecond).
const EXPLAIN_SLACK: Duration = Duration::seconds(2);

/// The attribute of `GroupMember` a user's memberships are deleted by.
pub const MEMBER_ID: &str = "memberId";

/// What the log says changed since the cursor.
#[derive(Debug, Default)]
pub struct LogDelta {
    seen: HashSet<String>,
    /// Hard-deleted users: id → login (the `alternateId`).
    deleted_users: BTreeMap<String, Option<String>>,
    /// Membership edges: (group, user) → (published, member after the event).
    edges: BTreeMap<(String, String), (DateTime<Utc>, bool)>,
    deleted_groups: BTreeSet<String>,
    created_groups: BTreeSet<String>,
    /// Per group: the latest membership event naming it.
    touched: BTreeMap<String, DateTime<Utc>>,
    latest_user_delete: Option<DateTime<Utc>>,
    /// Events read (after de-duplication).
    pub events: u64,
}

impl LogDelta {
    /// Takes one event in; `false` if its `uuid` was seen before.
    pub fn add(&mut self, e: &LogEvent) -> bool {
        if !self.seen.insert(e.uuid.clone()) {
            return false;
        }
        self.events += 1;
        if !e.succeeded() {
            return true;
        }
        let user = e.target("User");
        let group = e.target("UserGroup").map(|t| t.id.clone());
        match (e.event_type.as_str(), user, group) {
            ("user.lifecycle.delete.initiated" | "user.lifecycle.delete.completed", Some(u), _) => {
                self.deleted_users
                    .insert(u.id.clone(), u.alternate_id.clone());
                self.latest_user_delete = self.latest_user_delete.max(Some(e.published));
            }
            (
                ty @ ("group.user_membership.add" | "group.user_membership.remove"),
                Some(u),
                Some(g),
            ) => {
                let member = ty.ends_with(".add");
                let slot = self
                    .edges
                    .entry((g.clone(), u.id.clone()))
                    .or_insert((e.published, member));
                // Events come oldest first; among equal times the later one in the stream wins.
                if e.published >= slot.0 {
                    *slot = (e.published, member);
                }
                let t = self.touched.entry(g).or_insert(e.published);
                *t = (*t).max(e.published);
            }
            ("group.lifecycle.create", _, Some(g)) => {
                self.created_groups.insert(g);
            }
            ("group.lifecycle.delete", _, Some(g)) => {
                self.deleted_groups.insert(g);
            }
            _ => {}
        }
        true
    }

    /// Whether the log explains why `group`'s `lastMembershipUpdated` moved, so its member list
    /// need not be read: a membership event for it (or, with `by_member` — the host deletes a
    /// user's memberships by member id — a user deletion) published no earlier than the move
    /// minus a small slack. A created group, or a group without a readable time, is never
    /// explained: its member list is read in full.
    pub fn explains(&self, group: &OktaGroup, by_member: bool) -> bool {
        if self.created_groups.contains(&group.id) {
            return false;
        }
        let Some(moved) = group
            .last_membership_updated
            .as_deref()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.to_utc())
        else {
            return false;
        };
        let own = self.touched.get(&group.id).copied();
        let by_delete = self.latest_user_delete.filter(|_| by_member);
        own.max(by_delete)
            .is_some_and(|t| t >= moved - EXPLAIN_SLACK)
    }

    /// The changes the log stands for, leaving out the membership edges of `read_in_full`
    /// (groups whose member list this run read and completed). `by_member`: the host accepts
    /// `delete_where`, so a deleted user's memberships go with it.
    pub fn changes(
        &self,
        targets: Targets,
        read_in_full: &HashSet<String>,
        by_member: bool,
    ) -> Result<Vec<Change>> {
        let mut out = Vec::new();
        if targets.memberships {
            for ((g, u), (_, member)) in &self.edges {
                if read_in_full.contains(g) || self.deleted_groups.contains(g) {
                    continue;
                }
                // A deleted user is a member of nothing, whatever came before.
                let member = *member && !self.deleted_users.contains_key(u);
                out.push(if member {
                    mapping::member::to_change(g, u.clone())
                } else {
                    Change::delete(GROUP_MEMBER, format!("{g}:{u}"))
                });
            }
        }
        for (id, login) in &self.deleted_users {
            if targets.users {
                out.push(Change::delete(
                    USER,
                    user_external_id(id, login.as_deref(), targets.external_id)?,
                ));
            }
            if targets.memberships && by_member {
                out.push(Change::delete_where(GROUP_MEMBER, MEMBER_ID, id.clone()));
            }
        }
        for g in &self.deleted_groups {
            if targets.groups {
                out.push(Change::delete(GROUP, g.clone()));
            }
            if targets.memberships && !read_in_full.contains(g) {
                out.push(Change::ScopeComplete(Scope::within(
                    GROUP_MEMBER,
                    g.clone(),
                )));
            }
        }
        Ok(out)
    }
}

/// Which object types a run imports, and how users are identified.
#[derive(Debug, Clone, Copy)]
pub struct Targets {
    /// `ImportUsers`.
    pub users: bool,
    /// `ImportGroups`.
    pub groups: bool,
    /// `ImportMemberships`.
    pub memberships: bool,
    /// `ExternalIdAttribute`.
    pub external_id: ExternalIdAttribute,
}

fn user_external_id(id: &str, login: Option<&str>, attr: ExternalIdAttribute) -> Result<String> {
    match attr {
        ExternalIdAttribute::Id => Ok(id.to_owned()),
        ExternalIdAttribute::Login => login.filter(|l| !l.is_empty()).map(str::to_owned).ok_or_else(|| {
            ConnectorError::protocol(format!(
                "the System Log reports user {id} deleted without its login (alternateId), which ExternalIdAttribute \"login\" needs"
            ))
            .with_remediation("Set ExternalIdAttribute to \"id\", or run a full import to remove the user")
        }),
    }
}

/// Reads the log from `since` until an empty page; returns what it says and Okta's `Date` of
/// the first page (the next cursor).
///
/// # Errors
/// The request's classified failure (a 403 is `permission_denied` naming `okta.logs.read` and
/// `DeltaSource`; a refused `since` is `watermark_expired`), or `watermark_expired` when
/// `since` is older than the log's 90 days.
pub async fn read(
    client: &OktaClient,
    tel: &RunTelemetry,
    since: DateTime<Utc>,
) -> Result<(LogDelta, i64)> {
    let mut pager = logs::pager(client.http.origin(), since);
    let mut delta = LogDelta::default();
    let mut started_at = None;
    while let Some(page) = pager.next_page(client, tel).await? {
        if started_at.is_none() {
            let date = page.date.ok_or_else(|| {
                ConnectorError::protocol(format!(
                    "{} answered without a Date header, so no safe log cursor can be computed",
                    logs::ENDPOINT
                ))
            })?;
            check_retention(since, date)?;
            started_at = Some(date);
        }
        if page.items.is_empty() {
            break;
        }
        for e in &page.items {
            delta.add(e);
        }
    }
    let date = started_at
        .ok_or_else(|| ConnectorError::protocol(format!("{} answered no page", logs::ENDPOINT)))?;
    Ok((delta, date))
}

/// `check`: one page of the log (the last hour), so a token that cannot read it fails `check`
/// rather than the first delta run.
///
/// # Errors
/// The request's classified failure (403: `permission_denied` naming `okta.logs.read` and
/// `DeltaSource`).
pub async fn probe(client: &OktaClient, tel: &RunTelemetry) -> Result<String> {
    let since = Utc::now() - Duration::hours(1);
    logs::pager(client.http.origin(), since)
        .next_page(client, tel)
        .await?;
    Ok(format!(
        "the token may read the System Log ({}), which DeltaSource \"SystemLog\" delta runs read",
        logs::ENDPOINT
    ))
}

/// `watermark_expired` when `since` is older than the log reaches at server time `date`.
fn check_retention(since: DateTime<Utc>, date: i64) -> Result<()> {
    let now = DateTime::from_timestamp(date, 0).unwrap_or_default();
    if since < now - RETENTION {
        return Err(ConnectorError::watermark_expired(format!(
            "the watermark's log cursor ({}) is older than the System Log's {} days (Okta's time is {}); a delta \
             run from it would miss changes",
            crate::watermark::format(since),
            RETENTION.num_days(),
            crate::watermark::format(now)
        ))
        .with_remediation("Run a full import (host import --mode auto does so on its own)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
