//! `GET /governance/api/v1/grants`: the grants on one resource, with the required filter
//! `target.externalId eq "<id>" AND target.type eq "<APPLICATION|GROUP>"`; paged.

use url::Url;

use super::resources::IgaResource;
use super::{IgaList, MAX_PAGE_SIZE, quoted, url};
use crate::client::http::ApiOrigin;
use crate::client::rate_limit::Bucket;

/// The list.
pub const LIST: IgaList = IgaList {
    endpoint: "GET /governance/api/v1/grants",
    bucket: Bucket::IgaV1,
    oauth_scope: "okta.governance.entitlements.read",
    admin_role: "Application Administrator (APP_ADMIN) or Super Administrator",
    lifecycle: "BETA",
};

/// The first page of the grants on `resource`.
pub fn first(origin: &ApiOrigin, resource: &IgaResource, limit: u32) -> Url {
    let limit = limit.clamp(1, MAX_PAGE_SIZE).to_string();
    let filter = format!(
        "target.externalId eq {} AND target.type eq {}",
        quoted(&resource.id),
        quoted(resource.kind.filter_value())
    );
    url(
        origin,
        &["governance", "api", "v1", "grants"],
        &[("limit", &limit), ("filter", &filter)],
    )
}
