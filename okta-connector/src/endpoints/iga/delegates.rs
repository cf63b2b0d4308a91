//! `GET /governance/api/v1/delegates`: delegate appointments, org-level, paged.

use url::Url;

use super::{IgaList, MAX_PAGE_SIZE, url};
use crate::client::http::ApiOrigin;
use crate::client::rate_limit::Bucket;

/// The list.
pub const LIST: IgaList = IgaList {
    endpoint: "GET /governance/api/v1/delegates",
    bucket: Bucket::IgaV1,
    oauth_scope: "okta.governance.delegates.read",
    admin_role: "Super Administrator (SUPER_ADMIN)",
    lifecycle: "BETA",
};

/// The first page's URL (`limit` 1–200).
pub fn first(origin: &ApiOrigin, limit: u32) -> Url {
    let limit = limit.clamp(1, MAX_PAGE_SIZE).to_string();
    url(
        origin,
        &["governance", "api", "v1", "delegates"],
        &[("limit", &limit)],
    )
}
