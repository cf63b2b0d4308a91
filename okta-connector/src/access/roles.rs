//! `RoleAssignment`: the users holding a role (`/iam/assignees/users`) and every group (Okta
//! lists no group role holders), each principal's assignments, and the targets of the
//! standard roles that take them (group targets: `USER_ADMIN`, `HELP_DESK_ADMIN`,
//! `GROUP_MEMBERSHIP_ADMIN`; app targets: `APP_ADMIN`). Completed in the org scope.

use connector_api::{Change, Result, Scope};
use futures::TryStreamExt;
use serde_json::Value;

use super::{Reader, vanished};
use crate::endpoints::groups;
use crate::endpoints::roles::{self, Holder};
use crate::mapping::access::{Targets, role_assignment};
use crate::mapping::app::id_of;
use crate::mapping::{Batches, ORG_SCOPE, ROLE_ASSIGNMENT};

/// Standard role types scoped by group targets.
const GROUP_TARGETED: [&str; 3] = ["USER_ADMIN", "HELP_DESK_ADMIN", "GROUP_MEMBERSHIP_ADMIN"];

impl Reader {
    /// Every user's and group's role assignments.
    pub(super) async fn roles(&self, mut batches: Batches) -> Result<()> {
        if !self.config.access.roles {
            return Ok(());
        }
        let mut principals: Vec<(Holder, String)> = Vec::new();
        let mut pager = roles::assignees_pager(self.origin());
        while let Some(page) = pager.next_page(&self.client, &self.tel).await? {
            for v in &page.items {
                principals.push((Holder::User, id_of(v, "id", "a role assignee")?.to_owned()));
            }
        }
        let limit = self.config.group_page_size;
        let mut pager = groups::pager(self.origin(), limit, None);
        while let Some(page) = pager.next_page(&self.client, &self.tel).await? {
            principals.extend(page.items.into_iter().map(|g| (Holder::Group, g.id)));
        }
        let max = self.config.max_concurrency as usize;
        futures::stream::iter(principals.into_iter().map(Ok))
            .try_for_each_concurrent(max, |(holder, id)| {
                self.clone().roles_of(holder, id, batches.clone())
            })
            .await?;
        self.complete(&mut batches, Scope::within(ROLE_ASSIGNMENT, ORG_SCOPE))
            .await?;
        self.emitted(ROLE_ASSIGNMENT, true);
        Ok(())
    }

    /// One principal's assignments with their targets; a principal deleted meanwhile (404) has
    /// none.
    async fn roles_of(self, holder: Holder, id: String, mut batches: Batches) -> Result<()> {
        let mut pager = roles::roles_pager(self.origin(), holder, &id);
        let mut assignments: Vec<Value> = Vec::new();
        loop {
            match pager.next_page(&self.client, &self.tel).await {
                Ok(Some(page)) => assignments.extend(page.items),
                Ok(None) => break,
                Err(e) if vanished(&e) => return Ok(()),
                Err(e) => return Err(e.context(format_args!("reading the roles of {id}"))),
            }
        }
        let kind = match holder {
            Holder::User => "USER",
            Holder::Group => "GROUP",
        };
        let mut batch: Vec<Change> = Vec::with_capacity(assignments.len());
        for a in &assignments {
            let targets = self.targets(holder, &id, a).await?;
            batch.push(role_assignment(kind, &id, a, &targets)?);
        }
        self.emit(&mut batches, ROLE_ASSIGNMENT, batch).await
    }

    /// The targets of one assignment: only read for the standard roles that take them.
    async fn targets(&self, holder: Holder, id: &str, a: &Value) -> Result<Targets> {
        let role_type = a.get("type").and_then(Value::as_str).unwrap_or("");
        let assignment = id_of(a, "id", "a role assignment")?;
        let mut targets = Targets::default();
        let apps = match role_type {
            t if GROUP_TARGETED.contains(&t) => false,
            "APP_ADMIN" => true,
            _ => return Ok(targets),
        };
        let mut pager = roles::targets_pager(self.origin(), (holder, id), assignment, apps);
        while let Some(page) = pager.next_page(&self.client, &self.tel).await? {
            for t in &page.items {
                let name = t.get("name").and_then(Value::as_str);
                let tid = t.get("id").and_then(Value::as_str);
                match (apps, name, tid) {
                    (false, _, Some(g)) => targets.groups.push(g.to_owned()),
                    (true, Some(n), Some(i)) => targets.apps.push(format!("{n}:{i}")),
                    (true, Some(n), None) => targets.apps.push(n.to_owned()),
                    _ => {}
                }
            }
        }
        Ok(targets)
    }
}
