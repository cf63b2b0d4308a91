//! `GET /governance/api/v2/catalogs/default/entries`: the top-level access request catalog entries (`filter=not(parent pr)`, required), paged.

use url::Url;

use super::{IgaList, MAX_PAGE_SIZE, url};
use crate::client::http::ApiOrigin;
use crate::client::rate_limit::Bucket;

/// The list.
pub const LIST: IgaList = IgaList {
    endpoint: "GET /governance/api/v2/catalogs/default/entries",
    bucket: Bucket::IgaV2,
    oauth_scope: "okta.accessRequests.catalog.read",
    admin_role: "Access Requests Administrator (ACCESS_REQUESTS_ADMIN) or Super Administrator",
    lifecycle: "EA",
};

/// The first page's URL (`limit` 1–200).
pub fn first(origin: &ApiOrigin, limit: u32) -> Url {
    let limit = limit.clamp(1, MAX_PAGE_SIZE).to_string();
    url(
        origin,
        &["governance", "api", "v2", "catalogs", "default", "entries"],
        &[("limit", &limit), ("filter", "not(parent pr)")],
    )
}
