//! Read-only Okta connector: Users, Groups and GroupMembers, full and delta, rate-limit aware;
//! apps, app assignments, admin roles, MFA factors and group rules (off by default); plus Okta
//! Identity Governance objects (`Iga*` types, off by default).
//!
//! Create instances with [`OktaConnectorFactory`] (or load the `cdylib`); configuration and
//! behaviour are documented for operators in `docs/okta-connector.md`.
//!
//! | question | file |
//! | --- | --- |
//! | what does Okta say about each object type, page limit, rate-limit bucket? | `okta/` |
//! | which config keys exist, how are they validated? | `config/` |
//! | how is a request authenticated (API token; OAuth 2.0 service app with DPoP)? | `auth/` |
//! | what does a full / delta run fetch? | `plan.rs` (decisions), `run.rs` (execution) |
//! | what does the IGA part of a run read, complete, skip? | `iga/`, `config/iga.rs` |
//! | how are apps, assignments, roles, factors and group rules read and completed? | `access/`, `config/access.rs` |
//! | how is a page requested, paged, paced, retried? | `client/` |
//! | which query does each core endpoint get? | `endpoints/` |
//! | how does Okta JSON become objects? | `mapping/` (core), `iga/mapping.rs` |
//! | what is in the watermark? | `watermark.rs` |
//! | what gets logged? | `telemetry.rs` |
//! | where does time come from? | `clock.rs` |
//!
//! Modules depend one way only, from the crate root down to the Okta facts; the rank table and
//! the check are in `tests/it/layering.rs` (`cargo test -p okta-connector layering`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

mod access;
mod auth;
mod client;
pub mod clock;
pub mod config;
mod endpoints;
mod iga;
mod mapping;
pub mod okta;
mod plan;
mod run;
mod telemetry;
pub mod watermark;

/// The `Link` header parser (for the fuzz targets).
#[doc(hidden)]
pub use client::pagination::parse_links;

use std::sync::Arc;

use async_trait::async_trait;
use connector_api::{
    Capabilities, ChangeSink, CheckReport, Connector, ConnectorFactory, Context, Descriptor,
    ImportOutcome, ImportRequest, ObjectTypeInfo, Result, Settings, Watermark,
};

use crate::client::{ClientOptions, OktaClient};
use crate::clock::{Clock, TokioClock};
use crate::config::Config;
use crate::endpoints::users::UserQuery;
use crate::endpoints::{groups, members};
use crate::telemetry::RunTelemetry;
use crate::watermark::OktaWatermark;

/// The connector's machine name.
pub const NAME: &str = "okta";

/// What this connector is and emits.
pub fn descriptor() -> Descriptor {
    Descriptor::new(NAME, env!("CARGO_PKG_VERSION"))
        .with_description(
            "Okta Users, Groups, group memberships and Identity Governance objects (read-only)",
        )
        .with_object_types([
            ObjectTypeInfo::new(mapping::USER).with_description(
                "An Okta user in any status; external id = Okta user id (or login, per \
                 ExternalIdAttribute). DEPROVISIONED users are emitted as deletes.",
            ),
            ObjectTypeInfo::new(mapping::GROUP).with_description(
                "An Okta group (OKTA_GROUP, APP_GROUP, BUILT_IN); external id = Okta group id.",
            ),
            ObjectTypeInfo::new(mapping::GROUP_MEMBER)
                .with_description(
                    "A user's membership in a group; external id = <groupId>:<userId>, scope = groupId.",
                )
                .with_scoped(true),
        ])
        .with_object_types(access::object_types())
        .with_object_types(iga::mapping::object_types())
        .with_capabilities(
            Capabilities::new()
                .with_delta(true)
                .with_scope_complete(true),
        )
}

/// Creates [`OktaConnector`]s from [`Settings`]; what the `cdylib` exports.
#[derive(Debug, Default, Clone, Copy)]
pub struct OktaConnectorFactory;

impl ConnectorFactory for OktaConnectorFactory {
    fn descriptor(&self) -> Descriptor {
        descriptor()
    }

    fn create(&self, settings: Settings) -> Result<Box<dyn Connector>> {
        Ok(Box::new(OktaConnector::new(&settings)?))
    }
}

// The C-ABI entry points of the `cdylib` (the macro owns the only `unsafe`).
connector_api::export_connector!(OktaConnectorFactory);

/// A configured connection to one Okta org.
#[derive(Debug)]
pub struct OktaConnector {
    config: Config,
    client: Arc<OktaClient>,
}

impl OktaConnector {
    /// Validates `settings` and builds the client; does not contact Okta.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`](connector_api::ErrorKind) naming the field and the fix.
    pub fn new(settings: &Settings) -> Result<Self> {
        Self::with_clock(settings, Arc::new(TokioClock))
    }

    /// Like [`new`](Self::new) with an injected clock (tests).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_clock(settings: &Settings, clock: Arc<dyn Clock>) -> Result<Self> {
        let (config, auth) = Config::from_settings(settings)?;
        let credential = auth::credential(auth);
        let client = Arc::new(OktaClient::new(
            &client_options(&config),
            credential,
            clock,
        )?);
        Ok(OktaConnector { config, client })
    }

    /// The validated configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// What the client takes from the configuration.
fn client_options(config: &Config) -> ClientOptions {
    ClientOptions {
        base_url: config.base_url.clone(),
        org_domain: config.org_domain.clone(),
        max_retries: config.max_retries,
        max_backoff: config.max_backoff,
        max_concurrency: config.max_concurrency,
        rate_limit_share: config.rate_limit_share,
        request_timeout: config.request_timeout,
        time_scale: config.time_scale,
    }
}

#[async_trait]
impl Connector for OktaConnector {
    fn descriptor(&self) -> Descriptor {
        descriptor()
    }

    async fn check(&self, ctx: &Context) -> Result<CheckReport> {
        let tel = RunTelemetry::new(ctx);
        let origin = self.client.http.origin();
        let org = &self.config.org_domain;
        let mut report = CheckReport::default();

        // Only what the configuration imports is probed (at least one listing always is).
        if self.config.import_users {
            let query = UserQuery {
                search: self.config.user_search_filter.clone(),
                updated_after: None,
            };
            let page = query.pager(origin, 1).next_page(&self.client, &tel).await?;
            report.checks.push(format!(
                "the API token is accepted by {org} and may list users (GET /api/v1/users)"
            ));
            if let Some(expr) = &self.config.user_search_filter {
                report
                    .checks
                    .push(format!("Okta accepts UserSearchFilter \"{expr}\""));
                if page.is_some_and(|p| p.items.is_empty()) {
                    report.warnings.push(format!(
                        "UserSearchFilter \"{expr}\" matches no user: a full run would mark every stored user deleted"
                    ));
                }
            }
        }
        if self.config.import_groups || self.config.import_memberships {
            let page = groups::pager(origin, 1, None)
                .next_page(&self.client, &tel)
                .await?;
            report.checks.push(format!(
                "the API token is accepted by {org} and may list groups (GET /api/v1/groups)"
            ));
            let first = page.and_then(|p| p.items.into_iter().next());
            if let (true, Some(group)) = (self.config.import_memberships, first) {
                members::pager(origin, &group.id, 1)
                    .next_page(&self.client, &tel)
                    .await?;
                report.checks.push(
                    "the token may list group members (GET /api/v1/groups/{groupId}/users)"
                        .to_owned(),
                );
            }
        }
        access::check::check(&self.client, &self.config, &tel, &mut report).await?;
        iga::check::check(&self.client, &self.config, &tel, &mut report).await?;
        if self.config.rate_limit_share > 0.5 {
            report.warnings.push(format!(
                "RateLimitShare is {}: other integrations of this org get less than half of each rate-limit bucket",
                self.config.rate_limit_share
            ));
        }
        if self.config.external_id == config::ExternalIdAttribute::Login {
            report.warnings.push(
                "ExternalIdAttribute is \"login\": a renamed user appears as a new user, and the old one disappears \
                 only on the next full run"
                    .to_owned(),
            );
        }
        Ok(report)
    }

    async fn import(
        &self,
        ctx: &Context,
        request: ImportRequest,
        sink: &mut dyn ChangeSink,
    ) -> Result<ImportOutcome> {
        run::import(&self.client, &self.config, ctx, request, sink).await
    }

    fn validate_watermark(&self, watermark: &Watermark) -> Result<()> {
        OktaWatermark::parse(watermark)?.require(
            self.config.import_users,
            self.config.import_groups || self.config.import_memberships,
        )
    }

    async fn export(
        &self,
        _ctx: &Context,
        _request: connector_api::ExportRequest,
    ) -> Result<connector_api::ExportReport> {
        Err(connector_api::ConnectorError::not_supported(
            "the Okta connector is import-only in this version: it reads users, groups and memberships but never \
             writes to Okta",
        )
        .with_remediation(
            "Make changes in the Okta Admin Console or with Okta's own provisioning; this connector only imports",
        ))
    }
}
