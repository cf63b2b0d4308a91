//! `GET /api/v1/groups/{groupId}/users`: the members of one group, with an explicit `limit`
//! (Okta's default page for this endpoint is 1000). Only each member's `id` is decoded.

use serde::Deserialize;
use url::Url;

use crate::client::http::ApiOrigin;
use crate::client::ids;
use crate::client::pagination::{Pager, decode_list};
use crate::okta::Bucket;

/// Endpoint template, for logs and errors.
pub const ENDPOINT: &str = "GET /api/v1/groups/{groupId}/users";

/// A member: Okta returns full user objects, of which only the id matters here.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct OktaMember {
    /// The user id, `00u…`.
    pub id: String,
}

/// The first page's URL.
pub fn url(origin: &ApiOrigin, group_id: &str, limit: u32) -> Url {
    let mut url = origin.url("/");
    if let Ok(mut segments) = url.path_segments_mut() {
        segments
            .clear()
            .extend(["api", "v1", "groups", group_id, "users"]);
    }
    url.query_pairs_mut()
        .append_pair("limit", &limit.to_string());
    url
}

/// A pager over one group's members.
pub fn pager(origin: &ApiOrigin, group_id: &str, limit: u32) -> Pager<OktaMember> {
    Pager::new(url(origin, group_id, limit), ENDPOINT, Bucket::GroupById)
        .for_group(group_id)
        .with_decoder(decode_page)
}

/// A member page: the ids read by [`ids::array_of_ids`] without decoding the users around them,
/// or, for a page it leaves aside, by `serde` (which names what is wrong, if anything).
fn decode_page(body: &[u8]) -> std::result::Result<Vec<OktaMember>, String> {
    match ids::array_of_ids(body) {
        Some(ids) => Ok(ids.into_iter().map(|id| OktaMember { id }).collect()),
        None => decode_list(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(page: &[OktaMember]) -> Vec<&str> {
        page.iter().map(|m| m.id.as_str()).collect()
    }

    #[test]
    fn pages_decode_alike_on_both_paths() {
        let plain = br#"[{"id":"00u1","profile":{"login":"a@x"}},{"id":"00u2"}]"#;
        assert_eq!(ids(&decode_page(plain).unwrap()), ["00u1", "00u2"]);
        // An escaped id is left to serde, which decodes it.
        let escaped = br#"[{"id":"00u\u0031"}]"#;
        assert_eq!(ids(&decode_page(escaped).unwrap()), ["00u1"]);
        // Errors are serde's, with the JSON path.
        let err = decode_page(br#"[{"id":"00u1"},{"id":5}]"#).unwrap_err();
        assert!(err.contains("[1].id"), "{err}");
        let err = decode_page(br#"[{"id":"00u1"},{"name":"x"}]"#).unwrap_err();
        assert!(err.contains("missing field `id`"), "{err}");
    }
}
