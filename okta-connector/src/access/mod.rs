//! The access part of a run: apps, app assignments, admin role assignments, MFA factors and
//! group rules, each behind its switch (`ImportApps`, `ImportAppAssignments`, `ImportRoles`,
//! `ImportFactors`, `ImportGroupRules`; all off by default).
//!
//! Okta offers no change feed for these types besides the System Log, so every run — full or
//! delta — reads each enabled type completely with its cheapest listing and completes it:
//!
//! | type | listing | completed as |
//! | --- | --- | --- |
//! | `App` | `GET /api/v1/apps?limit=200` | scope `org` |
//! | `AppUser`, `AppGroup` | the app list, then per app `/apps/{id}/users?limit=500` and `/apps/{id}/groups?limit=200` | the app's scope; whole type on full runs |
//! | `RoleAssignment` | `/iam/assignees/users`, then per holder `/users/{id}/roles`; every group's `/groups/{id}/roles` (the group list read for it); targets only for roles that take them | scope `org` |
//! | `UserFactor` | every user (as the user stage lists them), then per user `/users/{id}/factors` | the user's scope (a DEPROVISIONED user's scope is completed empty, without a request); whole type on full runs |
//! | `GroupRule` | `/groups/rules?limit=200` | scope `org` |
//!
//! A scope is completed only after it was read to the end; an app or principal that vanished
//! between the listing and its read (404) is left uncompleted. Per-app, per-user and
//! per-group reads run `MaxConcurrency` at a time. Any failure fails the run, named with the
//! switch that caused the read.

mod apps;
pub mod check;
mod factors;
mod roles;

use std::sync::Arc;

use connector_api::{Change, ConnectorError, ErrorKind, ImportMode, ObjectTypeInfo, Result, Scope};
use futures::SinkExt;

use crate::client::OktaClient;
use crate::config::Config;
use crate::mapping::{Batches, GROUP_RULE, ORG_SCOPE};
use crate::telemetry::{ObjectsEmitted, RunTelemetry};

/// The object types of the access part, for the descriptor.
pub fn object_types() -> Vec<ObjectTypeInfo> {
    use crate::mapping::{APP, APP_GROUP, APP_USER, ROLE_ASSIGNMENT, USER_FACTOR};
    let t = |name: &str, scoped: bool, d: &str| {
        ObjectTypeInfo::new(name)
            .with_description(d)
            .with_scoped(scoped)
    };
    vec![
        t(
            APP,
            true,
            "An app (ImportApps); external id = app id, scope = \"org\".",
        ),
        t(
            APP_USER,
            true,
            "A user's assignment to an app, USER or GROUP scope (ImportAppAssignments); external id = <appId>:<userId>, scope = appId.",
        ),
        t(
            APP_GROUP,
            true,
            "A group's assignment to an app (ImportAppAssignments); external id = <appId>:<groupId>, scope = appId.",
        ),
        t(
            ROLE_ASSIGNMENT,
            true,
            "An admin role held by a user or group, with its targets (ImportRoles); external id = <principalId>:<assignmentId>, scope = \"org\".",
        ),
        t(
            USER_FACTOR,
            true,
            "An enrolled MFA factor (ImportFactors); external id = <userId>:<factorId>, scope = userId.",
        ),
        t(
            GROUP_RULE,
            true,
            "A group rule (ImportGroupRules); external id = rule id, scope = \"org\".",
        ),
    ]
}

/// What every access reader needs.
#[derive(Clone)]
struct Reader {
    client: Arc<OktaClient>,
    config: Arc<Config>,
    tel: Arc<RunTelemetry>,
    full: bool,
}

/// Reads every enabled access type.
///
/// # Errors
/// Any failure of a request or the sink, with the switch named.
pub async fn run(
    client: &Arc<OktaClient>,
    config: &Config,
    mode: ImportMode,
    tel: &Arc<RunTelemetry>,
    batches: Batches,
) -> Result<()> {
    if !config.access.any() {
        return Ok(());
    }
    let r = Reader {
        client: client.clone(),
        config: Arc::new(config.clone()),
        tel: tel.clone(),
        full: mode == ImportMode::Full,
    };
    futures::future::try_join4(
        named(r.apps(batches.clone()), "ImportApps/ImportAppAssignments"),
        named(r.roles(batches.clone()), "ImportRoles"),
        named(r.factors(batches.clone()), "ImportFactors"),
        named(r.rules(batches), "ImportGroupRules"),
    )
    .await?;
    Ok(())
}

async fn named(f: impl Future<Output = Result<()>>, switch: &str) -> Result<()> {
    f.await.map_err(|e| e.context(format_args!("{switch}")))
}

/// Hands one batch to the forwarder.
async fn send(batches: &mut Batches, batch: Vec<Change>) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    batches
        .send(batch.into())
        .await
        .map_err(|_| ConnectorError::internal("the change forwarder stopped early"))
}

/// Whether `e` is Okta's 404 for an object deleted after it was listed.
fn vanished(e: &ConnectorError) -> bool {
    e.kind() == ErrorKind::NotFound && e.vendor().and_then(|v| v.status) == Some(404)
}

impl Reader {
    fn origin(&self) -> &crate::client::http::ApiOrigin {
        self.client.http.origin()
    }

    /// Counts and sends mapped changes of `object_type`.
    async fn emit(
        &self,
        batches: &mut Batches,
        object_type: &str,
        batch: Vec<Change>,
    ) -> Result<()> {
        self.tel.count_objects(object_type, batch.len() as u64, 0);
        send(batches, batch).await
    }

    /// Marks `scope` complete.
    async fn complete(&self, batches: &mut Batches, scope: Scope) -> Result<()> {
        send(batches, vec![Change::ScopeComplete(scope)]).await
    }

    /// Logs what was emitted of `object_type`.
    fn emitted(&self, object_type: &str, complete: bool) {
        let (upserts, deletes) = self.tel.objects(object_type);
        self.tel.emit(&ObjectsEmitted {
            object_type,
            upserts,
            deletes,
            complete,
        });
    }

    /// Every group rule, completed in the org scope.
    async fn rules(&self, mut batches: Batches) -> Result<()> {
        if !self.config.access.group_rules {
            return Ok(());
        }
        let mut pager = crate::endpoints::group_rules::pager(self.origin());
        while let Some(page) = pager.next_page(&self.client, &self.tel).await? {
            let batch = page
                .items
                .iter()
                .map(crate::mapping::access::group_rule)
                .collect::<Result<Vec<_>>>()?;
            self.emit(&mut batches, GROUP_RULE, batch).await?;
        }
        self.complete(&mut batches, Scope::within(GROUP_RULE, ORG_SCOPE))
            .await?;
        self.emitted(GROUP_RULE, true);
        Ok(())
    }
}
