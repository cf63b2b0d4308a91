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
//! | what does a System Log delta read and change? | `syslog/`, `endpoints/logs.rs` |
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
mod export;
mod iga;
mod mapping;
pub mod okta;
mod plan;
mod run;
mod syslog;
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

/// What this connector is and emits, and what it can export: `User` and `GroupMember` upserts
/// and deletes. A host loading the library sees this; whether an instance writes depends on
/// its `Export` section ([`OktaConnector`]'s own descriptor declares export only when enabled).
pub fn descriptor() -> Descriptor {
    descriptor_with(true)
}

/// The descriptor, declaring export or not.
fn descriptor_with(export: bool) -> Descriptor {
    let mut capabilities = Capabilities::new()
        .with_delta(true)
        .with_scope_complete(true);
    if export {
        capabilities = capabilities
            .with_exportable(
                mapping::USER,
                [
                    connector_api::ChangeKind::Upsert,
                    connector_api::ChangeKind::Delete,
                ],
            )
            .with_exportable(
                mapping::GROUP_MEMBER,
                [
                    connector_api::ChangeKind::Upsert,
                    connector_api::ChangeKind::Delete,
                ],
            );
    }
    descriptor_base().with_capabilities(capabilities)
}

fn descriptor_base() -> Descriptor {
    Descriptor::new(NAME, env!("CARGO_PKG_VERSION"))
        .with_description(
            "Okta Users, Groups, group memberships and Identity Governance objects; writes users and \
             memberships back only when ConfigJson enables Export",
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
        let parts_config = config.clone();
        let credential_clock = clock.clone();
        let client = Arc::new(OktaClient::with_credential(
            &client_options(&config),
            clock,
            |transport, notices| {
                let parts = auth::CredentialParts {
                    config: parts_config,
                    transport,
                    clock: credential_clock,
                    notices,
                };
                auth::credential(auth, parts)
            },
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
        descriptor_with(self.config.export.enabled)
    }

    async fn check(&self, ctx: &Context) -> Result<CheckReport> {
        let tel = RunTelemetry::new(ctx);
        let origin = self.client.http.origin();
        let org = &self.config.org_domain;
        let (mut report, missing) =
            auth::check::report(self.client.http.credential(), &self.config).await?;

        // Only what the configuration imports is probed (at least one listing always is).
        if self.config.import_users && !missing.contains(&"okta.users.read") {
            let query = UserQuery {
                search: self.config.user_search_filter.clone(),
                updated_after: None,
            };
            let page = query.pager(origin, 1).next_page(&self.client, &tel).await?;
            report.checks.push(format!(
                "the credential is accepted by {org} and may list users (GET /api/v1/users)"
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
        if (self.config.import_groups || self.config.import_memberships)
            && !missing.contains(&"okta.groups.read")
        {
            let page = groups::pager(origin, 1, None)
                .next_page(&self.client, &tel)
                .await?;
            report.checks.push(format!(
                "the credential is accepted by {org} and may list groups (GET /api/v1/groups)"
            ));
            let first = page.and_then(|p| p.items.into_iter().next());
            if let (true, Some(group)) = (self.config.import_memberships, first) {
                members::pager(origin, &group.id, 1)
                    .next_page(&self.client, &tel)
                    .await?;
                report.checks.push(
                    "the credential may list group members (GET /api/v1/groups/{groupId}/users)"
                        .to_owned(),
                );
            }
        }
        let core =
            self.config.import_users || self.config.import_groups || self.config.import_memberships;
        if core && self.config.delta_source == config::DeltaSource::SystemLog {
            report.checks.push(syslog::probe(&self.client, &tel).await?);
        }
        access::check::check(&self.client, &self.config, &tel, &mut report).await?;
        iga::check::check(&self.client, &self.config, &tel, &mut report).await?;
        report.warnings.extend(config_warnings(&self.config));
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
        ctx: &Context,
        request: connector_api::ExportRequest,
    ) -> Result<connector_api::ExportReport> {
        export::export(&self.client, &self.config, ctx, request).await
    }
}

/// What `check` warns about in the configuration itself.
fn config_warnings(c: &Config) -> Vec<String> {
    let mut out = Vec::new();
    if c.rate_limit_share > 0.5 {
        out.push(format!(
            "RateLimitShare is {}: other integrations of this org get less than half of each rate-limit bucket",
            c.rate_limit_share
        ));
    }
    if c.external_id == config::ExternalIdAttribute::Login {
        out.push(
            "ExternalIdAttribute is \"login\": a renamed user appears as a new user, and the old one disappears \
             only on the next full run"
                .to_owned(),
        );
    }
    out
}
