//! `GET /governance/api/v1/entitlements` and `GET /governance/api/v1/entitlements/values`: the
//! entitlements (and all their values) of one resource, with the required filter
//! `parent.externalId eq "<id>" AND parent.type eq "<APPLICATION|GROUP>"`; paged.

use url::Url;

use super::resources::IgaResource;
use super::{IgaList, MAX_PAGE_SIZE, quoted, url};
use crate::client::http::ApiOrigin;
use crate::client::rate_limit::Bucket;

/// The entitlement list.
pub const LIST: IgaList = IgaList {
    endpoint: "GET /governance/api/v1/entitlements",
    bucket: Bucket::IgaV1,
    oauth_scope: "okta.governance.entitlements.read",
    admin_role: "Application Administrator (APP_ADMIN) or Super Administrator",
    lifecycle: "GA",
};

/// The entitlement value list.
pub const VALUES: IgaList = IgaList {
    endpoint: "GET /governance/api/v1/entitlements/values",
    ..LIST
};

/// The required filter naming `resource`.
pub fn parent_filter(resource: &IgaResource) -> String {
    format!(
        "parent.externalId eq {} AND parent.type eq {}",
        quoted(&resource.id),
        quoted(resource.kind.filter_value())
    )
}

/// The first page of the entitlements of `resource`.
pub fn first(origin: &ApiOrigin, resource: &IgaResource, limit: u32) -> Url {
    let limit = limit.clamp(1, MAX_PAGE_SIZE).to_string();
    url(
        origin,
        &["governance", "api", "v1", "entitlements"],
        &[("limit", &limit), ("filter", &parent_filter(resource))],
    )
}

/// The first page of the entitlement values of `resource`.
pub fn first_values(origin: &ApiOrigin, resource: &IgaResource, limit: u32) -> Url {
    let limit = limit.clamp(1, MAX_PAGE_SIZE).to_string();
    url(
        origin,
        &["governance", "api", "v1", "entitlements", "values"],
        &[("limit", &limit), ("filter", &parent_filter(resource))],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_names_the_resource() {
        assert_eq!(
            parent_filter(&IgaResource::application("0oa1", None)),
            "parent.externalId eq \"0oa1\" AND parent.type eq \"APPLICATION\""
        );
    }
}
