//! `GET /governance/api/v1/labels`: governance labels (id field `labelId`), org-level, without
//! paging parameters (one answer holds every label).

use url::Url;

use super::{IgaList, url};
use crate::client::http::ApiOrigin;
use crate::client::rate_limit::Bucket;

/// The list.
pub const LIST: IgaList = IgaList {
    endpoint: "GET /governance/api/v1/labels",
    bucket: Bucket::IgaV1,
    oauth_scope: "okta.governance.labels.read",
    admin_role: "Super Administrator (SUPER_ADMIN)",
    lifecycle: "BETA",
};

/// The only page's URL.
pub fn first(origin: &ApiOrigin) -> Url {
    url(origin, &["governance", "api", "v1", "labels"], &[])
}
