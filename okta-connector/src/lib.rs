//! Read-only Okta connector: Users, Groups and GroupMembers, full and delta, rate-limit aware,
//! plus Okta Identity Governance objects (`Iga*` types, off by default).
//!
//! Create instances with [`OktaConnectorFactory`] (or load the `cdylib`); configuration and
//! behaviour are documented for operators in `docs/okta-connector.md`.
//!
//! | question | file |
//! | --- | --- |
//! | which config keys exist, how are they validated? | `config.rs` |
//! | what does a full / delta run fetch? | `plan.rs` (decisions), `run.rs` (execution) |
//! | what does the IGA part of a run read, complete, skip? | `iga_run.rs`, `iga_config.rs` |
//! | how is a page requested, paged, paced, retried? | `client/` |
//! | how does a request get its credentials (OAuth 2.0 service app, DPoP)? | `auth/` |
//! | which query does each endpoint get? | `endpoints/` |
//! | how does Okta JSON become objects? | `mapping/` |
//! | what is in the watermark? | `watermark.rs` |
//! | what gets logged? | `telemetry.rs` |
//! | where does time come from? | `clock.rs` |
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod auth;
pub mod client;
pub mod clock;
pub mod config;
pub mod endpoints;
pub mod iga_config;
pub mod iga_run;
pub mod mapping;
pub mod plan;
pub mod run;
pub mod telemetry;
pub mod watermark;

use std::sync::Arc;

use async_trait::async_trait;
use connector_api::{
    Capabilities, ChangeSink, CheckReport, Connector, ConnectorFactory, Context, Descriptor,
    ImportOutcome, ImportRequest, ObjectTypeInfo, Result, Settings, Watermark,
};

use crate::client::OktaClient;
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
    Descriptor {
        name: NAME.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        description: "Okta Users, Groups, group memberships and Identity Governance objects (read-only)"
            .to_owned(),
        object_types: [
            ObjectTypeInfo {
                name: mapping::USER.into(),
                description: "An Okta user in any status; external id = Okta user id (or login, per \
                              ExternalIdAttribute). DEPROVISIONED users are emitted as deletes."
                    .to_owned(),
                scoped: false,
            },
            ObjectTypeInfo {
                name: mapping::GROUP.into(),
                description: "An Okta group (OKTA_GROUP, APP_GROUP, BUILT_IN); external id = Okta group id."
                    .to_owned(),
                scoped: false,
            },
            ObjectTypeInfo {
                name: mapping::GROUP_MEMBER.into(),
                description: "A user's membership in a group; external id = <groupId>:<userId>, scope = groupId."
                    .to_owned(),
                scoped: true,
            },
        ]
        .into_iter()
        .chain(mapping::iga::object_types())
        .collect(),
        capabilities: Capabilities {
            delta: true,
            export: false,
            scope_complete: true,
        },
    }
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
        let (config, token) = Config::from_settings(settings)?;
        let client = Arc::new(OktaClient::new(&config, token, clock)?);
        Ok(OktaConnector { config, client })
    }

    /// The validated configuration.
    pub fn config(&self) -> &Config {
        &self.config
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
        iga_run::check(&self.client, &self.config, &tel, &mut report).await?;
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

    async fn export(&self, _ctx: &Context, _changes: Vec<connector_api::Change>) -> Result<()> {
        Err(connector_api::ConnectorError::not_supported(
            "the Okta connector is import-only in this version: it reads users, groups and memberships but never \
             writes to Okta",
        )
        .with_remediation(
            "Make changes in the Okta Admin Console or with Okta's own provisioning; this connector only imports",
        ))
    }
}
