//! `GET /governance/api/v1/campaigns`: access certification campaigns, org-level, paged.

use url::Url;

use super::{IgaList, MAX_PAGE_SIZE, url};
use crate::client::http::ApiOrigin;
use crate::client::rate_limit::Bucket;

/// The list.
pub const LIST: IgaList = IgaList {
    endpoint: "GET /governance/api/v1/campaigns",
    bucket: Bucket::IgaV1,
    oauth_scope: "okta.governance.accessCertifications.read",
    admin_role: "Access Certifications Administrator (ACCESS_CERTIFICATIONS_ADMIN) or Super Administrator",
    lifecycle: "GA",
};

/// The first page's URL (`limit` 1–200).
pub fn first(origin: &ApiOrigin, limit: u32) -> Url {
    let limit = limit.clamp(1, MAX_PAGE_SIZE).to_string();
    url(
        origin,
        &["governance", "api", "v1", "campaigns"],
        &[("limit", &limit)],
    )
}
