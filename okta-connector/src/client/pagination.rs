//! The one pagination helper: follows Okta's `Link: <…>; rel="next"` until it stops.
//!
//! Two page formats: the core API's bare JSON array, and the Governance (IGA) API's envelope
//! `{"data": […], "_links": {"next": {"href": …}}}` (`/teams` writes `links`, and keeps
//! `"next": {}` on its last page) — see [`Pager::enveloped`]. For an envelope the body's `next`
//! wins, the `Link` header is the fallback; a list without paging parameters simply has no `next`.
//!
//! Okta sends `self` and `next` as separate `Link` header lines (sometimes comma-joined in one);
//! [`parse_links`] reads every value. A `next` link is followed as given (the `after` cursor is
//! opaque), but only on the configured origin: the org's own host and its `-admin` host are
//! re-homed onto it keeping only path and query (IGA's `next` links point at the `{org}-admin` host),
//! anything else is refused. A `next` that points at a page already read ends
//! the run with a protocol error instead of looping forever (after an empty page it is asked
//! again, at most `MAX_EMPTY_PAGES` times in a row). An empty page whose `next` moves on to
//! another page is read again instead of followed: Okta's cursor is the last object of a page
//! (users, groups, members and the IGA lists alike), so an empty page cannot move it, and
//! following it could skip whatever that page should have held; after `MaxRetries` such answers
//! in a row the run fails. Every page goes through
//! [`OktaClient::fetch`](super::OktaClient::fetch), so pacing and retries apply to each.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::header::LINK;
use serde::de::DeserializeOwned;
use url::Url;

use connector_api::{ConnectorError, Result};

use super::OktaClient;
use super::errors::RequestInfo;
use super::rate_limit::parse_http_date;
use crate::okta::Bucket;
use crate::telemetry::{PageFetched, RetryScheduled, RunTelemetry};

/// The relations of interest in a set of `Link` headers.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Links {
    /// `rel="next"`.
    pub next: Option<String>,
    /// `rel="self"`.
    pub this: Option<String>,
}

/// Parses every `Link` header value (RFC 8288): `<uri>; rel="next"`, several links per value
/// separated by commas, parameters quoted or not, several relation types per link.
pub fn parse_links<'a>(values: impl IntoIterator<Item = &'a str>) -> Links {
    let mut links = Links::default();
    for value in values {
        let mut rest = value;
        loop {
            rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
            let Some(after_lt) = rest.strip_prefix('<') else {
                break;
            };
            let Some(end) = after_lt.find('>') else {
                break;
            };
            let target = &after_lt[..end];
            rest = &after_lt[end + 1..];
            // Parameters up to the next comma outside quotes.
            let mut in_quotes = false;
            let params_end = rest
                .char_indices()
                .find(|&(_, c)| {
                    if c == '"' {
                        in_quotes = !in_quotes;
                    }
                    c == ',' && !in_quotes
                })
                .map_or(rest.len(), |(i, _)| i);
            let params = &rest[..params_end];
            rest = &rest[params_end..];
            for param in params.split(';') {
                let Some((name, val)) = param.split_once('=') else {
                    continue;
                };
                if !name.trim().eq_ignore_ascii_case("rel") {
                    continue;
                }
                for rel in val.trim().trim_matches('"').split_ascii_whitespace() {
                    let slot = if rel.eq_ignore_ascii_case("next") {
                        &mut links.next
                    } else if rel.eq_ignore_ascii_case("self") {
                        &mut links.this
                    } else {
                        continue;
                    };
                    if slot.is_none() {
                        *slot = Some(target.to_owned());
                    }
                }
            }
        }
    }
    links
}

/// One decoded page.
#[derive(Debug)]
pub struct Page<T> {
    /// The objects on the page.
    pub items: Vec<T>,
    /// The server's `Date` of the answer, epoch seconds.
    pub date: Option<i64>,
}

/// Consecutive empty pages tolerated before the listing is declared broken.
const MAX_EMPTY_PAGES: u32 = 50;

/// Walks one Okta list endpoint page by page.
#[derive(Debug)]
pub struct Pager<T> {
    next: Option<Url>,
    endpoint: &'static str,
    bucket: Bucket,
    group: Option<String>,
    user_search_filter: Option<String>,
    seen: HashSet<String>,
    number: u64,
    empty_streak: u32,
    empty_moving_on: u32,
    envelope: bool,
    polling: bool,
    decode: fn(&[u8]) -> std::result::Result<Vec<T>, String>,
}

impl<T: DeserializeOwned> Pager<T> {
    /// A pager starting at `first` (which carries the query: limit, filter, search).
    pub fn new(first: Url, endpoint: &'static str, bucket: Bucket) -> Self {
        let mut seen = HashSet::new();
        seen.insert(first.as_str().to_owned());
        Pager {
            next: Some(first),
            endpoint,
            bucket,
            group: None,
            user_search_filter: None,
            seen,
            number: 0,
            empty_streak: 0,
            empty_moving_on: 0,
            envelope: false,
            polling: false,
            decode: decode_list::<T>,
        }
    }

    /// Names the group a member listing belongs to (for logs).
    #[must_use]
    pub fn for_group(mut self, group: &str) -> Self {
        self.group = Some(group.to_owned());
        self
    }

    /// Reads pages as IGA envelopes (`{"data": […], "_links"|"links": {"next": {"href"}}}`)
    /// instead of bare arrays.
    #[must_use]
    pub fn enveloped(mut self) -> Self {
        self.envelope = true;
        self
    }

    /// A polled listing (the System Log without `until`): every page has a `next` link, and an
    /// empty page ends the listing.
    #[must_use]
    pub fn polling(mut self) -> Self {
        self.polling = true;
        self
    }

    /// Decodes bare-array pages with `decode` instead of `serde` (which `decode` falls back to
    /// for a page it cannot read itself, so that errors stay the same).
    #[must_use]
    pub fn with_decoder(
        mut self,
        decode: fn(&[u8]) -> std::result::Result<Vec<T>, String>,
    ) -> Self {
        self.decode = decode;
        self
    }

    /// Marks the listing as carrying the operator's `UserSearchFilter` (for a 400's message).
    #[must_use]
    pub fn with_user_search_filter(mut self, filter: Option<&str>) -> Self {
        self.user_search_filter = filter.map(str::to_owned);
        self
    }

    /// Reads the next page; `None` when the listing is complete.
    ///
    /// # Errors
    /// The request's classified failure, or a protocol error for a foreign or looping `next`.
    pub async fn next_page(
        &mut self,
        client: &OktaClient,
        tel: &RunTelemetry,
    ) -> Result<Option<Page<T>>> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        let req = RequestInfo {
            endpoint: self.endpoint,
            bucket: self.bucket,
            org: client.http.origin().org_domain(),
            user_search_filter: self.user_search_filter.as_deref(),
        };
        let started = client.clock.now();
        let envelope = self.envelope;
        let decode = self.decode;
        let fetched = client
            .fetch(&url, &req, tel, |body| {
                if envelope {
                    decode_envelope::<T>(body)
                } else {
                    decode(body).map(|items| (items, None))
                }
            })
            .await?;
        self.number += 1;
        let date = fetched
            .headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date);
        let links = parse_links(
            fetched
                .headers
                .get_all(LINK)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        let rate = super::rate_limit::RateHeaders::from_headers(&fetched.headers).seen();
        let (items, body_next) = fetched.value;
        self.follow(client, tel, url, body_next.or(links.next), items.is_empty())
            .await?;
        tel.emit(&PageFetched {
            endpoint: self.endpoint,
            group: self.group.as_deref(),
            page: self.number,
            objects: items.len(),
            elapsed: client
                .clock
                .now()
                .saturating_duration_since(started)
                .max(Duration::ZERO),
            rate,
        });
        Ok(Some(Page { items, date }))
    }

    /// Sets up the page after `url` from its `next` link `href`, if any (`empty`: the page
    /// had no items).
    async fn follow(
        &mut self,
        client: &OktaClient,
        tel: &RunTelemetry,
        url: Url,
        href: Option<String>,
        empty: bool,
    ) -> Result<()> {
        let Some(href) = href.filter(|_| !(self.polling && empty)) else {
            self.empty_moving_on = 0;
            return Ok(());
        };
        let next = self.resolve_next(client, &url, &href)?;
        if empty && next != url {
            self.read_again(client, tel, url).await?;
        } else {
            self.empty_moving_on = 0;
            self.next = Some(self.admit_next(client, next, empty)?);
        }
        Ok(())
    }

    /// The `next` link as a URL on the configured origin (re-homed), or a protocol error.
    fn resolve_next(&self, client: &OktaClient, current: &Url, href: &str) -> Result<Url> {
        let org = client.http.origin().org_domain();
        let resolved = current.join(href).map_err(|e| {
            ConnectorError::protocol(format!(
                "{} on {org}: the next link is not a URL ({e})",
                self.endpoint
            ))
        })?;
        client.http.origin().admit(resolved).map_err(|host| {
            ConnectorError::protocol(format!(
                "{} on {org}: refused to follow a next link to the foreign host {host}; the API token is only sent to \
                 the configured org",
                self.endpoint
            ))
            .with_remediation("Check ApiBaseUrl and any proxy that rewrites Okta's Link headers")
        })
    }

    /// After an empty page whose `next` moves on: reads `url` again after a back-off, or
    /// fails once that happened more than `MaxRetries` times in a row.
    async fn read_again(
        &mut self,
        client: &OktaClient,
        tel: &RunTelemetry,
        url: Url,
    ) -> Result<()> {
        let org = client.http.origin().org_domain();
        let max = client.policy.max_retries;
        self.empty_moving_on += 1;
        if self.empty_moving_on > max {
            return Err(ConnectorError::protocol(format!(
                "{} on {org}: page {} came back as an empty page with a next link to another page, {} times in a \
                 row; Okta's cursor is the last object of a page, so following it could skip whatever that page \
                 should hold (the run is failed, nothing was skipped)",
                self.endpoint, self.number, self.empty_moving_on
            ))
            .with_remediation(
                "Run the import again later; if it persists, report it to Okta support with the request id",
            ));
        }
        let wait = client.policy.backoff(self.empty_moving_on);
        tel.emit(&RetryScheduled {
            endpoint: self.endpoint,
            retry: self.empty_moving_on,
            max_retries: max,
            reason: "an empty page with a next link to another page",
            wait,
            rate: None,
        });
        let cancel = tel.context().cancellation().clone();
        tokio::select! {
            biased;
            () = cancel.cancelled() => {
                return Err(ConnectorError::cancelled(format!("cancelled during {}", self.endpoint)));
            }
            () = client.clock.sleep(wait) => {}
        }
        self.next = Some(url);
        Ok(())
    }

    /// Loop and empty-streak checks for an admitted `next` link; returns it to follow.
    fn admit_next(&mut self, client: &OktaClient, admitted: Url, empty: bool) -> Result<Url> {
        let org = client.http.origin().org_domain();
        // A next link back to a page already read is a loop — unless the page was empty,
        // which servers use to say "nothing yet, ask again" (bounded by MAX_EMPTY_PAGES).
        if !self.seen.insert(admitted.as_str().to_owned()) && !empty {
            return Err(ConnectorError::protocol(format!(
                "{} on {org}: the next link of page {} points back to a page already read; stopping instead of \
                 looping (the run is failed, nothing was skipped)",
                self.endpoint, self.number
            )));
        }
        self.empty_streak = if empty { self.empty_streak + 1 } else { 0 };
        if self.empty_streak > MAX_EMPTY_PAGES {
            return Err(ConnectorError::protocol(format!(
                "{} on {org}: {MAX_EMPTY_PAGES} empty pages in a row, each with a next link; the listing looks broken",
                self.endpoint
            )));
        }
        Ok(admitted)
    }
}

/// An IGA list page (or `/api/v1/iam/assignees/users`, which calls its list `value`).
#[derive(serde::Deserialize)]
struct Envelope<T> {
    #[serde(alias = "value")]
    data: Vec<T>,
    #[serde(default, rename = "_links")]
    underscore_links: Option<EnvelopeLinks>,
    /// `/teams` spells it without the underscore.
    #[serde(default)]
    links: Option<EnvelopeLinks>,
}

#[derive(serde::Deserialize)]
struct EnvelopeLinks {
    #[serde(default)]
    next: Option<Href>,
}

#[derive(serde::Deserialize)]
struct Href {
    #[serde(default)]
    href: Option<String>,
}

/// Decodes an IGA envelope page: its objects and its `next` href (absent, `null`, `{}` or an
/// empty href all mean "last page"), naming the JSON path of a problem.
fn decode_envelope<T: DeserializeOwned>(
    body: &[u8],
) -> std::result::Result<(Vec<T>, Option<String>), String> {
    let page: Envelope<T> = decode_json(body)?;
    let next = [page.underscore_links, page.links]
        .into_iter()
        .flatten()
        .filter_map(|l| l.next.and_then(|n| n.href))
        .find(|href| !href.trim().is_empty());
    Ok((page.data, next))
}

/// Decodes a JSON array page, naming the JSON path of a problem.
pub fn decode_list<T: DeserializeOwned>(body: &[u8]) -> std::result::Result<Vec<T>, String> {
    decode_json(body)
}

/// Decodes a whole body. The fast path is plain `serde_json`; only a body that fails is
/// decoded again with `serde_path_to_error` to name the JSON path of the problem (tracking
/// paths allocates for every key, which is most of the decoding time of a large page).
fn decode_json<T: DeserializeOwned>(body: &[u8]) -> std::result::Result<T, String> {
    serde_json::from_slice(body).map_err(|fast| {
        let mut de = serde_json::Deserializer::from_slice(body);
        match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Err(e) => format!("at `{}`: {}", e.path(), e.inner()),
            Ok(_) => format!("after the JSON value: {fast}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_separate_link_header_lines() {
        let l = parse_links([
            r#"<https://contoso.okta.com/api/v1/users?limit=200>; rel="self""#,
            r#"<https://contoso.okta.com/api/v1/users?after=00u2&limit=200>; rel="next""#,
        ]);
        assert_eq!(
            l.next.as_deref(),
            Some("https://contoso.okta.com/api/v1/users?after=00u2&limit=200")
        );
        assert_eq!(
            l.this.as_deref(),
            Some("https://contoso.okta.com/api/v1/users?limit=200")
        );
    }

    #[test]
    fn reads_comma_joined_links_in_any_order() {
        let l = parse_links([
            r#"<https://x/api/v1/groups?after=a,b&limit=2>; rel=next, <https://x/api/v1/groups?limit=2>; rel="self""#,
        ]);
        assert_eq!(
            l.next.as_deref(),
            Some("https://x/api/v1/groups?after=a,b&limit=2")
        );
        assert_eq!(l.this.as_deref(), Some("https://x/api/v1/groups?limit=2"));
    }

    #[test]
    fn handles_params_multiple_rels_and_garbage() {
        let l = parse_links([
            r#"<https://x/a>; title="a, b; c"; REL="prev next""#,
            "garbage",
            "",
        ]);
        assert_eq!(l.next.as_deref(), Some("https://x/a"));
        assert_eq!(l.this, None);
        assert_eq!(parse_links([r#"<https://x/a>; rel="self""#]).next, None);
        assert_eq!(parse_links(Vec::<&str>::new()), Links::default());
        // An unterminated target is ignored rather than misread.
        assert_eq!(parse_links([r#"<https://x/a; rel="next""#]).next, None);
    }

    #[test]
    fn decodes_iga_envelopes() {
        let (items, next) = decode_envelope::<serde_json::Value>(
            br#"{"data":[{"id":"ici1"}],"_links":{"self":{"href":"https://acme-admin.okta.com/x"},
                "next":{"href":"https://acme-admin.okta.com/governance/api/v1/campaigns?after=ici1&limit=1"}},
                "metadata":{"total":2}}"#,
        )
        .unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(
            next.as_deref(),
            Some("https://acme-admin.okta.com/governance/api/v1/campaigns?after=ici1&limit=1")
        );
        // `/teams`: `links`, and an empty `next` on the last page.
        let (items, next) = decode_envelope::<serde_json::Value>(
            br#"{"data":[{"id":"a"},{"id":"b"}],"links":{"self":{"href":"x"},"next":{}}}"#,
        )
        .unwrap();
        assert_eq!((items.len(), next), (2, None));
        // Lists without paging parameters: no next at all.
        let (_, next) =
            decode_envelope::<serde_json::Value>(br#"{"data":[],"_links":{}}"#).unwrap();
        assert_eq!(next, None);
        let (_, next) =
            decode_envelope::<serde_json::Value>(br#"{"data":[],"_links":{"next":{"href":""}}}"#)
                .unwrap();
        assert_eq!(next, None);
        #[derive(Debug, serde::Deserialize)]
        struct Item {
            #[allow(dead_code)]
            id: String,
        }
        let err = decode_envelope::<Item>(br#"{"data":[{"id":"a"},{"id":7}]}"#).unwrap_err();
        assert!(err.contains("data[1].id"), "{err}");
        assert!(decode_envelope::<Item>(br#"[{"id":"a"}]"#).is_err());
    }

    #[test]
    fn decode_names_the_json_path() {
        #[derive(Debug, serde::Deserialize)]
        struct Item {
            #[allow(dead_code)]
            id: String,
        }
        let err = decode_list::<Item>(br#"[{"id":"a"},{"id":5}]"#).unwrap_err();
        assert!(err.contains("[1].id"), "{err}");
        assert!(decode_list::<Item>(br#"[{"id":"a"}"#).is_err());
        assert!(decode_list::<Item>(br#"[{"id":"a"}] trailing"#).is_err());
        assert_eq!(decode_list::<Item>(b"[]").unwrap().len(), 0);
    }
}
