//! What export reads and writes: one user (by id or login), one group, a user's groups, and
//! the writes themselves with their audit line.

use std::collections::HashSet;
use std::sync::Mutex;

use reqwest::Method;
use serde_json::Value;
use url::Url;

use connector_api::{ConnectorError, ErrorKind, ExportStatus, Result};

use super::audit::ExportWrite;
use super::outcome::{failed, refused};
use crate::client::OktaClient;
use crate::client::errors::RequestInfo;
use crate::client::write::Sent;
use crate::config::{Config, ExportConfig, Operation};
use crate::endpoints::groups::OktaGroup;
use crate::endpoints::users::OktaUser;
use crate::okta::Bucket;
use crate::telemetry::RunTelemetry;

/// One write to send.
#[derive(Debug)]
pub(super) struct Write<'a> {
    /// The change's key.
    pub key: &'a str,
    /// What the operator allowed it as.
    pub operation: Operation,
    /// Method and URL.
    pub method: Method,
    pub url: Url,
    /// Endpoint template, for logs and errors.
    pub endpoint: &'static str,
    /// Its rate-limit bucket.
    pub bucket: Bucket,
    /// The JSON body, if any.
    pub body: Option<Value>,
    /// `User` or `GroupMember`, and the change's external id (for the audit line).
    pub object_type: &'a str,
    pub external_id: &'a str,
}

/// The reads and writes of one export.
pub(super) struct Io<'a> {
    client: &'a OktaClient,
    config: &'a Config,
    tel: &'a RunTelemetry,
    /// Plan only.
    pub dry_run: bool,
    /// Keys of changes a write was sent for.
    wrote: Mutex<HashSet<String>>,
    /// Dry run: ids and logins of the users the request would create, so later changes of the
    /// same request may name them.
    would_create: Mutex<HashSet<String>>,
}

impl<'a> Io<'a> {
    pub(super) fn new(
        client: &'a OktaClient,
        config: &'a Config,
        tel: &'a RunTelemetry,
        dry_run: bool,
    ) -> Self {
        Io {
            client,
            config,
            tel,
            dry_run,
            wrote: Mutex::new(HashSet::new()),
            would_create: Mutex::new(HashSet::new()),
        }
    }

    /// Dry run: notes that the request would create a user known by these names.
    pub(super) fn plan_user(&self, names: &[&str]) {
        let mut set = self.would_create.lock().unwrap_or_else(|p| p.into_inner());
        set.extend(names.iter().map(|n| n.to_ascii_lowercase()));
    }

    /// Dry run: whether an earlier change of the request would create the user `name`.
    pub(super) fn planned_user(&self, name: &str) -> bool {
        self.would_create
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&name.to_ascii_lowercase())
    }

    /// The export settings.
    pub(super) fn settings(&self) -> &ExportConfig {
        &self.config.export
    }

    /// Whether a write was sent for the change with `key`.
    pub(super) fn wrote(&self, key: &str) -> bool {
        self.wrote
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(key)
    }

    /// `https://org/api/v1/<segments…>` with each segment escaped, plus `query`.
    pub(super) fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url> {
        let mut url = self.client.http.origin().url("/api/v1");
        url.path_segments_mut()
            .map_err(|()| ConnectorError::internal("the API base URL cannot take a path"))?
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    fn req(&self, endpoint: &'static str, bucket: Bucket) -> RequestInfo<'a> {
        RequestInfo {
            endpoint,
            bucket,
            org: &self.config.org_domain,
            user_search_filter: None,
        }
    }

    /// A GET that answers `None` on 404.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        url: &Url,
        endpoint: &'static str,
        bucket: Bucket,
    ) -> Result<Option<T>> {
        let req = self.req(endpoint, bucket);
        let decode = |b: &[u8]| serde_json::from_slice::<T>(b).map_err(|e| e.to_string());
        match self.client.fetch(url, &req, self.tel, decode).await {
            Ok(f) => Ok(Some(f.value)),
            Err(e) if is_404(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The user with this id or login, if any.
    pub(super) async fn user(&self, id_or_login: &str) -> Result<Option<OktaUser>> {
        let url = self.url(&["users", id_or_login], &[])?;
        self.get(&url, "GET /api/v1/users/{id}", Bucket::UserById)
            .await
    }

    /// The group with this id, if any.
    pub(super) async fn group(&self, id: &str) -> Result<Option<OktaGroup>> {
        let url = self.url(&["groups", id], &[])?;
        self.get(&url, "GET /api/v1/groups/{groupId}", Bucket::GroupById)
            .await
    }

    /// The ids of the groups the user is a member of.
    pub(super) async fn group_ids_of(&self, user_id: &str) -> Result<Vec<String>> {
        let url = self.url(&["users", user_id, "groups"], &[])?;
        let groups: Option<Vec<OktaGroup>> = self
            .get(&url, "GET /api/v1/users/{id}/groups", Bucket::UserById)
            .await?;
        Ok(groups
            .unwrap_or_default()
            .into_iter()
            .map(|g| g.id)
            .collect())
    }

    /// Sends `w` and logs its audit line.
    pub(super) async fn write(&self, w: &Write<'_>) -> Result<(Sent, RequestInfo<'a>)> {
        let req = self.req(w.endpoint, w.bucket);
        self.wrote
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(w.key.to_owned());
        let sent = self
            .client
            .write(w.method.clone(), &w.url, w.body.as_ref(), &req, self.tel)
            .await?;
        self.tel.emit(&ExportWrite {
            key: w.key,
            operation: w.operation.name(),
            endpoint: w.endpoint,
            object_type: w.object_type,
            external_id: w.external_id,
            status: match &sent {
                Sent::Answered(r) => Some(r.status.as_u16()),
                Sent::Unknown(_) => None,
            },
            request_id: sent.request_id(),
        });
        Ok((sent, req))
    }
}

impl Io<'_> {
    /// Sends a write Okta applies at most once in effect (a partial update, a membership
    /// `PUT` or `DELETE`): when no answer arrives it is sent once more; `what` names it in
    /// failures.
    pub(super) async fn write_idempotent(&self, w: &Write<'_>, what: &str) -> Result<ExportStatus> {
        let mut lost = ConnectorError::unavailable(format!("{what}: no answer"));
        for _ in 0..2 {
            match self.write(w).await? {
                (Sent::Answered(r), _) if r.status.is_success() => {
                    return Ok(ExportStatus::Applied { assigned_id: None });
                }
                (Sent::Answered(r), req) => return Ok(failed(refused(&r, &req, what))),
                (Sent::Unknown(e), _) => lost = e,
            }
        }
        Ok(failed(lost.context(what)))
    }
}

/// Whether `e` is Okta's 404.
fn is_404(e: &ConnectorError) -> bool {
    e.kind() == ErrorKind::NotFound && e.vendor().and_then(|v| v.status) == Some(404)
}
