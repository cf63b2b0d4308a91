//! Write-back: exported changes → Okta calls, one change at a time, in order.
//!
//! | change | Okta |
//! |---|---|
//! | `User` upsert, no such user | `POST /api/v1/users?activate=<ActivateOnCreate>` ([`user`]) |
//! | `User` upsert, user exists | partial `POST /api/v1/users/{id}` of the differing attributes; `lifecycle/activate`, `reactivate` or `unsuspend` for `status: ACTIVE` |
//! | `User` delete | `POST /api/v1/users/{id}/lifecycle/deactivate` (never the purging `DELETE`) |
//! | `GroupMember` upsert / delete | `PUT` / `DELETE /api/v1/groups/{groupId}/users/{userId}` ([`member`]) |
//!
//! Every change is planned from what Okta holds now ([`io`] reads), so re-sending an applied
//! change reports `unchanged` and writes nothing; a dry run stops after planning. Operations
//! missing from `Export.Operations` are skipped with the key to add; Okta's refusals become
//! per-change failures ([`outcome`]); every write is logged with Okta's request id
//! ([`audit`]). Changes run one after another (one write in flight), paced by the client's
//! rate-limit buckets for writes; cancellation is checked between changes.

mod audit;
mod io;
mod member;
mod outcome;
mod user;

use connector_api::{
    Change, ChangeOutcome, ConnectorError, Context, ExportChange, ExportReport, ExportRequest,
    ExportStatus, Result,
};

use crate::client::OktaClient;
use crate::config::Config;
use crate::okta::{GROUP_MEMBER, USER};
use crate::telemetry::RunTelemetry;
use io::Io;

/// Applies (or with `dry_run`, plans) `request`; see the module documentation.
///
/// # Errors
/// [`ErrorKind::NotSupported`](connector_api::ErrorKind) when `Export.Enabled` is not set:
/// nothing is read or written.
pub async fn export(
    client: &OktaClient,
    config: &Config,
    ctx: &Context,
    request: ExportRequest,
) -> Result<ExportReport> {
    if !config.export.enabled {
        return Err(not_enabled());
    }
    let tel = RunTelemetry::new(ctx);
    let io = Io::new(client, config, &tel, request.dry_run);
    let mut outcomes = Vec::with_capacity(request.changes.len());
    for ExportChange { key, change, .. } in request.changes {
        if ctx.is_cancelled() {
            outcomes.push(ChangeOutcome::not_attempted(key));
            continue;
        }
        let status = match apply(&io, &key, &change).await {
            Ok(status) => status,
            Err(e) if e.kind() == connector_api::ErrorKind::Cancelled && !io.wrote(&key) => {
                outcomes.push(ChangeOutcome::not_attempted(key));
                continue;
            }
            Err(error) => ExportStatus::Failed { error },
        };
        outcomes.push(ChangeOutcome::new(key, status));
    }
    Ok(ExportReport::new(outcomes))
}

/// The NotSupported answer of a read-only configuration.
fn not_enabled() -> ConnectorError {
    ConnectorError::not_supported(
        "the Okta connector is read-only: this configuration has no \"Export\": {\"Enabled\": true} section, \
         so it reads users, groups and memberships but never writes to Okta",
    )
    .with_remediation(
        "To write back, add \"Export\": {\"Enabled\": true} to ConfigJson and give the token an administrator \
         role that may manage users and groups (see \"Write-back\" in docs/okta-connector.md)",
    )
}

/// One change: what kind, then its planner.
async fn apply(io: &Io<'_>, key: &str, change: &Change) -> Result<ExportStatus> {
    match change {
        Change::Upsert(o) if o.object_type == USER => user::upsert(io, key, o).await,
        Change::Delete {
            object_type,
            external_id,
        } if *object_type == USER => user::deactivate(io, key, external_id).await,
        Change::Upsert(o) if o.object_type == GROUP_MEMBER => {
            member::set(io, key, &o.external_id, &o.attributes, true).await
        }
        Change::Delete {
            object_type,
            external_id,
        } if *object_type == GROUP_MEMBER => {
            member::set(io, key, external_id, &Default::default(), false).await
        }
        other => Err(ConnectorError::not_supported(format!(
            "a {} change of {} cannot be exported to Okta",
            other.kind(),
            other.object_type()
        ))
        .with_remediation(
            "The Okta connector exports User upserts and deletes and GroupMember upserts and deletes; send \
             other changes to the system that owns them",
        )),
    }
}
