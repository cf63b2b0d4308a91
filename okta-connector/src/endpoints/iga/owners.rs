//! `GET /governance/api/v1/resource-owners`: the owners of a parent resource and of the resources
//! under it (bundles, entitlement values), with the required filter `parentResourceOrn eq "…"`
//! and `include=parent_resource_owner` (so the parent's own owners are listed too); paged.
//! The ORN is always one Okta sent, never one built here.

use url::Url;

use super::{IgaList, MAX_PAGE_SIZE, quoted, url};
use crate::client::http::ApiOrigin;
use crate::client::rate_limit::Bucket;

/// The list.
pub const LIST: IgaList = IgaList {
    endpoint: "GET /governance/api/v1/resource-owners",
    bucket: Bucket::IgaV1,
    oauth_scope: "okta.governance.resourceOwner.read",
    admin_role: "Super Administrator (SUPER_ADMIN)",
    lifecycle: "BETA",
};

/// The first page of the owners under the resource with ORN `parent_orn`.
pub fn first(origin: &ApiOrigin, parent_orn: &str, limit: u32) -> Url {
    let limit = limit.clamp(1, MAX_PAGE_SIZE).to_string();
    let filter = format!("parentResourceOrn eq {}", quoted(parent_orn));
    url(
        origin,
        &["governance", "api", "v1", "resource-owners"],
        &[
            ("limit", &limit),
            ("filter", &filter),
            ("include", "parent_resource_owner"),
        ],
    )
}
