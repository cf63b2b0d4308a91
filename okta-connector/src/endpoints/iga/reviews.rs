//! `GET /governance/api/v1/reviews?filter=campaignId eq "…"`: the reviews of one campaign, paged.

use url::Url;

use super::{IgaList, MAX_PAGE_SIZE, quoted, url};
use crate::client::http::ApiOrigin;
use crate::client::rate_limit::Bucket;

/// The list.
pub const LIST: IgaList = IgaList {
    endpoint: "GET /governance/api/v1/reviews",
    bucket: Bucket::IgaV1,
    oauth_scope: "okta.governance.accessCertifications.read",
    admin_role: "Access Certifications Administrator (ACCESS_CERTIFICATIONS_ADMIN) or Super Administrator",
    lifecycle: "GA",
};

/// The first page's URL for the reviews of `campaign_id`.
pub fn first(origin: &ApiOrigin, campaign_id: &str, limit: u32) -> Url {
    let limit = limit.clamp(1, MAX_PAGE_SIZE).to_string();
    let filter = format!("campaignId eq {}", quoted(campaign_id));
    url(
        origin,
        &["governance", "api", "v1", "reviews"],
        &[("limit", &limit), ("filter", &filter)],
    )
}
