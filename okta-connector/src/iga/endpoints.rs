//! IGA list URLs, built from the type's [`IgaSpec`] row: the path (with the resource id in
//! it where the list is per resource), `limit` for paged lists, the filter the API requires
//! for the target, then the row's fixed query parameters.
//!
//! Every IGA list answers an envelope (`{"data": […], "_links": {"next": …}}`); pages are read
//! with the one pager of [`client::pagination`](crate::client::pagination) in envelope mode,
//! whose `next` links (on the `{org}-admin` host) are re-homed onto the configured origin.

use connector_api::Result;
use serde_json::Value;
use url::Url;

use super::target::{IgaResource, Target, mismatch};
use crate::client::http::ApiOrigin;
use crate::client::pagination::Pager;
use crate::okta::MAX_IGA_PAGE_SIZE;
use crate::okta::iga::{Filter, IgaSpec};

/// A pager over the first page of `spec`'s list for `target` (`limit` 1–200 when paged).
///
/// # Errors
/// An internal error when `target` does not fit the list (a bug, never input).
pub fn pager(
    spec: &IgaSpec,
    origin: &ApiOrigin,
    target: Target<'_>,
    limit: u32,
) -> Result<Pager<Value>> {
    let first = first_url(spec, origin, target, limit)?;
    Ok(Pager::new(first, spec.endpoint, spec.bucket).enveloped())
}

/// The first page's URL of `spec`'s list for `target`.
///
/// # Errors
/// An internal error when `target` does not fit the list (a bug, never input).
pub fn first_url(
    spec: &IgaSpec,
    origin: &ApiOrigin,
    target: Target<'_>,
    limit: u32,
) -> Result<Url> {
    let resource_id = target.resource().map(|r| r.id.as_str());
    let mut segments = Vec::new();
    for segment in spec.path().split('/').filter(|s| !s.is_empty()) {
        match (segment, resource_id) {
            ("{resourceId}", Some(id)) => segments.push(id),
            ("{resourceId}", None) => return Err(mismatch(spec, target)),
            (literal, _) => segments.push(literal),
        }
    }
    let limit = limit.clamp(1, MAX_IGA_PAGE_SIZE).to_string();
    let mut query: Vec<(&str, &str)> = Vec::new();
    if spec.paged {
        query.push(("limit", &limit));
    }
    let filter = filter(spec, target)?;
    if let Some(filter) = &filter {
        query.push(("filter", filter));
    }
    query.extend(spec.query.iter().copied());
    Ok(url(origin, &segments, &query))
}

/// The filter `spec`'s list requires for `target`, if any.
fn filter(spec: &IgaSpec, target: Target<'_>) -> Result<Option<String>> {
    let filter = match (spec.filter, target) {
        (Filter::None, _) => return Ok(None),
        (Filter::Campaign, Target::Campaign(id)) => format!("campaignId eq {}", quoted(id)),
        (Filter::Parent, Target::Resource(r)) => parent_filter(r),
        (Filter::Target, Target::Resource(r)) => format!(
            "target.externalId eq {} AND target.type eq {}",
            quoted(&r.id),
            quoted(r.kind.filter_value())
        ),
        (Filter::ParentOrn, Target::Owners(_, orn)) => {
            format!("parentResourceOrn eq {}", quoted(orn))
        }
        (Filter::Principal, Target::Principal(app, user)) => format!(
            "{} AND targetPrincipal.externalId eq {} AND targetPrincipal.type eq \"OKTA_USER\"",
            parent_filter(app),
            quoted(user)
        ),
        _ => return Err(mismatch(spec, target)),
    };
    Ok(Some(filter))
}

/// The filter naming `resource` as the parent: `parent.externalId eq "<id>" AND parent.type eq
/// "<APPLICATION|GROUP>"`.
pub fn parent_filter(resource: &IgaResource) -> String {
    format!(
        "parent.externalId eq {} AND parent.type eq {}",
        quoted(&resource.id),
        quoted(resource.kind.filter_value())
    )
}

/// `path` (segments, each percent-encoded) on the configured origin with `query`.
fn url(origin: &ApiOrigin, segments: &[&str], query: &[(&str, &str)]) -> Url {
    let mut url = origin.url("/");
    if let Ok(mut path) = url.path_segments_mut() {
        path.clear().extend(segments);
    }
    if !query.is_empty() {
        let mut q = url.query_pairs_mut();
        for (k, v) in query {
            q.append_pair(k, v);
        }
    }
    url
}

/// A SCIM filter string literal: `"…"` with `"` and `\` escaped.
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::okta::iga::IgaType;

    fn origin() -> ApiOrigin {
        ApiOrigin::new(
            Url::parse("http://127.0.0.1:9000").unwrap(),
            "contoso.okta.com",
        )
    }

    fn first(t: IgaType, target: Target<'_>, limit: u32) -> String {
        first_url(t.spec(), &origin(), target, limit)
            .unwrap()
            .to_string()
    }

    #[test]
    fn urls_encode_filters_and_path_segments() {
        let r = IgaResource::application("0oa/1", None);
        assert_eq!(
            first(IgaType::RequestCondition, Target::Resource(&r), 200),
            "http://127.0.0.1:9000/governance/api/v2/resources/0oa%2F1/request-conditions"
        );
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(
            parent_filter(&IgaResource::application("0oa1", None)),
            "parent.externalId eq \"0oa1\" AND parent.type eq \"APPLICATION\""
        );
    }

    #[test]
    fn every_list_gets_its_query_in_order() {
        let app = IgaResource::application("0oa1", None);
        let base = "http://127.0.0.1:9000/governance/api";
        for (t, target, want) in [
            (IgaType::Campaign, Target::Org, "/v1/campaigns?limit=200"),
            (IgaType::Label, Target::Org, "/v1/labels"),
            (
                IgaType::EntitlementBundle,
                Target::Org,
                "/v1/entitlement-bundles?limit=200&include=full_entitlements",
            ),
            (
                IgaType::Collection,
                Target::Org,
                "/v1/collections?limit=200&include=counts",
            ),
            (
                IgaType::CatalogEntry,
                Target::Org,
                "/v2/catalogs/default/entries?limit=200&filter=not%28parent+pr%29",
            ),
            (
                IgaType::Review,
                Target::Campaign("ici1"),
                "/v1/reviews?limit=200&filter=campaignId+eq+%22ici1%22",
            ),
            (
                IgaType::Grant,
                Target::Resource(&app),
                "/v1/grants?limit=200&filter=target.externalId+eq+%220oa1%22+AND+target.type+eq+%22APPLICATION%22",
            ),
            (
                IgaType::EntitlementValue,
                Target::Resource(&app),
                "/v1/entitlements/values?limit=200&filter=parent.externalId+eq+%220oa1%22+AND+parent.type+eq+%22APPLICATION%22",
            ),
            (
                IgaType::ResourceOwner,
                Target::Owners(&app, "orn:x"),
                "/v1/resource-owners?limit=200&filter=parentResourceOrn+eq+%22orn%3Ax%22&include=parent_resource_owner",
            ),
            (
                IgaType::PrincipalEntitlement,
                Target::Principal(&app, "00u1"),
                "/v1/principal-entitlements?filter=parent.externalId+eq+%220oa1%22+AND+parent.type+eq+%22APPLICATION%22+AND+targetPrincipal.externalId+eq+%2200u1%22+AND+targetPrincipal.type+eq+%22OKTA_USER%22",
            ),
            (
                IgaType::RequestSequence,
                Target::Resource(&app),
                "/v2/resources/0oa1/request-sequences",
            ),
        ] {
            assert_eq!(first(t, target, 500), format!("{base}{want}"), "{t:?}");
        }
        assert!(first_url(IgaType::Grant.spec(), &origin(), Target::Org, 1).is_err());
    }
}
