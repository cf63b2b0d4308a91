//! `GET /governance/api/v2/resources/{resourceId}/request-conditions` and
//! `…/request-sequences`: the access request conditions of one resource and the approval
//! sequences usable for it; no paging parameters.

use url::Url;

use super::resources::IgaResource;
use super::{IgaList, url};
use crate::client::http::ApiOrigin;
use crate::client::rate_limit::Bucket;

/// The condition list.
pub const CONDITIONS: IgaList = IgaList {
    endpoint: "GET /governance/api/v2/resources/{resourceId}/request-conditions",
    bucket: Bucket::IgaV2,
    oauth_scope: "okta.accessRequests.condition.read",
    admin_role: "Access Requests Administrator (ACCESS_REQUESTS_ADMIN) or Super Administrator",
    lifecycle: "GA",
};

/// The sequence list.
pub const SEQUENCES: IgaList = IgaList {
    endpoint: "GET /governance/api/v2/resources/{resourceId}/request-sequences",
    ..CONDITIONS
};

/// The conditions of `resource`.
pub fn first_conditions(origin: &ApiOrigin, resource: &IgaResource) -> Url {
    url(
        origin,
        &[
            "governance",
            "api",
            "v2",
            "resources",
            &resource.id,
            "request-conditions",
        ],
        &[],
    )
}

/// The sequences usable for `resource`.
pub fn first_sequences(origin: &ApiOrigin, resource: &IgaResource) -> Url {
    url(
        origin,
        &[
            "governance",
            "api",
            "v2",
            "resources",
            &resource.id,
            "request-sequences",
        ],
        &[],
    )
}
