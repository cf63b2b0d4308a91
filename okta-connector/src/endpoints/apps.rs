//! `GET /api/v1/apps`: the org's apps, for IGA resource discovery and the `App` objects
//! (Okta's maximum page is 200).

use serde::Deserialize;
use url::Url;

use crate::client::http::ApiOrigin;
use crate::client::pagination::Pager;
use crate::okta::Bucket;

/// Endpoint template, for logs and errors.
pub const ENDPOINT: &str = "GET /api/v1/apps";

/// Okta's maximum `limit` for the app listing.
pub const MAX_PAGE_SIZE: u32 = 200;

/// An app as Okta returns it (only the fields IGA discovery and the `App` mapping read).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct OktaApp {
    /// Immutable id, `0oa…`.
    pub id: String,
    /// The app's Okta resource name, when Okta sends one (copied, never built).
    #[serde(default)]
    pub orn: Option<String>,
    /// The catalog app name (`salesforce`, `oidc_client`…).
    #[serde(default)]
    pub name: Option<String>,
    /// The label admins gave it.
    #[serde(default)]
    pub label: Option<String>,
    /// `ACTIVE` or `INACTIVE`.
    #[serde(default)]
    pub status: Option<String>,
    /// `SAML_2_0`, `OPENID_CONNECT`, `BOOKMARK`…
    #[serde(default)]
    pub sign_on_mode: Option<String>,
    /// Created.
    #[serde(default)]
    pub created: Option<String>,
    /// Last change.
    #[serde(default)]
    pub last_updated: Option<String>,
}

/// The first page's URL.
pub fn url(origin: &ApiOrigin) -> Url {
    let mut url = origin.url("/api/v1/apps");
    url.query_pairs_mut()
        .append_pair("limit", &MAX_PAGE_SIZE.to_string());
    url
}

/// A pager over the listing.
pub fn pager(origin: &ApiOrigin) -> Pager<OktaApp> {
    Pager::new(url(origin), ENDPOINT, Bucket::Apps)
}
