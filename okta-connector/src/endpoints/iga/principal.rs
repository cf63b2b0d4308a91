//! `GET /governance/api/v1/principal-entitlements`: one user's effective entitlements in one app,
//! with the required filter naming both; no paging parameters.

use url::Url;

use super::resources::IgaResource;
use super::{IgaList, quoted, url};
use crate::client::http::ApiOrigin;
use crate::client::rate_limit::Bucket;

/// The list.
pub const LIST: IgaList = IgaList {
    endpoint: "GET /governance/api/v1/principal-entitlements",
    bucket: Bucket::IgaV1,
    oauth_scope: "okta.governance.entitlements.read",
    admin_role: "Application Administrator (APP_ADMIN) or Super Administrator",
    lifecycle: "GA",
};

/// The only page for user `user_id` in `app`.
pub fn first(origin: &ApiOrigin, app: &IgaResource, user_id: &str) -> Url {
    let filter = format!(
        "parent.externalId eq {} AND parent.type eq {} AND targetPrincipal.externalId eq {} AND \
         targetPrincipal.type eq \"OKTA_USER\"",
        quoted(&app.id),
        quoted(app.kind.filter_value()),
        quoted(user_id)
    );
    url(
        origin,
        &["governance", "api", "v1", "principal-entitlements"],
        &[("filter", &filter)],
    )
}
