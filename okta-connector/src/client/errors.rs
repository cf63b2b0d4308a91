//! Okta's error answers and transport failures → [`ConnectorError`]s an operator can act on.
//!
//! Okta error bodies carry `errorCode`, `errorSummary`, `errorLink`, `errorId` and
//! `errorCauses`; they end up in [`VendorDetails`] next to the endpoint. Remediation texts name
//! the console path, the admin role or the config key to change.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, WWW_AUTHENTICATE};
use serde::Deserialize;

use connector_api::{ConnectorError, ErrorKind, VendorDetails};

use super::http::TransportError;
use crate::okta::Bucket;

/// Okta's JSON error body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OktaErrorBody {
    /// e.g. `E0000011`.
    pub error_code: Option<String>,
    /// e.g. `Invalid token provided`.
    pub error_summary: Option<String>,
    /// Link to Okta's description of the code.
    pub error_link: Option<String>,
    /// Unique id of this error occurrence (for Okta support).
    pub error_id: Option<String>,
    /// Details, e.g. which part of a filter is wrong.
    pub error_causes: Vec<OktaErrorCause>,
}

/// One entry of `errorCauses`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OktaErrorCause {
    /// The cause, in words.
    pub error_summary: Option<String>,
}

/// What was being requested, for messages.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    /// Endpoint template, e.g. `GET /api/v1/groups/{groupId}/users`.
    pub endpoint: &'a str,
    /// Rate-limit bucket of the endpoint.
    pub bucket: Bucket,
    /// The org host.
    pub org: &'a str,
    /// The operator's `UserSearchFilter` (or, on the group listing, `GroupSearchFilter`),
    /// when this request carries it.
    pub user_search_filter: Option<&'a str>,
}

/// Vendor details of an HTTP answer (status, Okta's error fields, request id).
pub fn vendor_details(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    req: &RequestInfo<'_>,
) -> (VendorDetails, OktaErrorBody) {
    let parsed: OktaErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let request_id = headers
        .get("x-okta-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut details = VendorDetails::new().with_status(status.as_u16());
    details.code = parsed.error_code.clone();
    details.summary = parsed.error_summary.clone();
    details.request_id = parsed.error_id.clone().or_else(|| request_id.clone());
    details
        .extra
        .insert("endpoint".into(), req.endpoint.to_owned());
    if let (Some(rid), Some(_)) = (&request_id, &parsed.error_id) {
        details
            .extra
            .insert("x-okta-request-id".into(), rid.clone());
    }
    if let Some(link) = &parsed.error_link {
        details.extra.insert("errorLink".into(), link.clone());
    }
    let causes = causes(&parsed);
    if !causes.is_empty() {
        details.extra.insert("errorCauses".into(), causes);
    }
    (details, parsed)
}

fn causes(body: &OktaErrorBody) -> String {
    body.error_causes
        .iter()
        .filter_map(|c| c.error_summary.as_deref())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The error for a final, non-retryable HTTP answer.
pub fn http_error(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    req: &RequestInfo<'_>,
) -> ConnectorError {
    let (details, parsed) = vendor_details(status, headers, body, req);
    if let Some((err, scope)) = oauth_refusal(status, headers, req) {
        return err.with_vendor(match scope {
            Some(s) => details.with_extra("scope", s),
            None => details,
        });
    }
    let code = parsed.error_code.as_deref().unwrap_or("");
    let org = req.org;
    let ep = req.endpoint;
    let err = match status.as_u16() {
        401 if code == "E0000015" => ConnectorError::permission_denied(format!(
            "{org} answered {ep} with \"feature not enabled\" for this token"
        ))
        .with_remediation(
            "The org's edition or the token's admin lacks this feature; ask the Okta super administrator to enable it",
        ),
        401 => token_rejected(org, ep),
        403 => ConnectorError::permission_denied(format!(
            "the API token may not call {ep} on {org}"
        ))
        .with_remediation(format!(
            "API tokens act with the roles of the administrator who created them. {} Then run the import again",
            needed_for(req)
        )),
        400 if req.user_search_filter.is_some() => search_rejected(req, &parsed),
        400 if req.bucket == Bucket::Logs => log_cursor_refused(org, &parsed),
        404 => ConnectorError::not_found(format!(
            "{org} answered 404 Not Found for {ep}"
        ))
        .with_remediation(
            "Check OrgDomain: the org's host name and region (okta.com, oktapreview.com, okta-emea.com or the custom \
             domain); a typo in the subdomain reaches no org",
        ),
        300..=399 => redirected(headers, req),
        429 => ConnectorError::rate_limited(format!("{ep} on {org} is rate limited")).with_remediation(
            rate_limit_hint(),
        ),
        500..=599 => ConnectorError::unavailable(format!(
            "{org} answered HTTP {} for {ep}",
            status.as_u16()
        ))
        .with_remediation("Okta is having problems; check status.okta.com and run the import again later"),
        400 => ConnectorError::protocol(format!(
            "{org} rejected a request for {ep} as invalid"
        ))
        .with_remediation("This is a bug in the connector or an Okta API change; report it with the error id"),
        other => ConnectorError::protocol(format!(
            "{org} answered an unexpected HTTP {other} for {ep}"
        )),
    };
    err.with_vendor(details)
}

/// A 401 that is not "feature not enabled": the API token is not (or no longer) valid.
fn token_rejected(org: &str, ep: &str) -> ConnectorError {
    ConnectorError::unauthenticated(format!("Okta rejected the API token for {org} ({ep})"))
        .with_remediation(
            "Okta API tokens expire after 30 days without use, can be revoked, and stop working when the administrator \
             who created them is deactivated. Create a new token under Security → API → Tokens (signed in as an \
             administrator with the Read-Only Administrator role) and store it as this connector's ApiKey secret",
        )
}

/// A 400 on the System Log: the `since` from the watermark's log cursor is refused (older
/// than the log's retention), so a delta would miss changes.
fn log_cursor_refused(org: &str, parsed: &OktaErrorBody) -> ConnectorError {
    ConnectorError::watermark_expired(format!(
        "{org} refused the System Log read from the watermark's log cursor ({})",
        parsed.error_summary.as_deref().unwrap_or("invalid since")
    ))
    .with_remediation(
        "The System Log keeps 90 days: the watermark is older than that, so a delta run would miss changes. \
         Run a full import (host import --mode auto does so on its own)",
    )
}

/// The scope a `403` names in `WWW-Authenticate: … error="insufficient_scope", scope="…"`
/// (an OAuth access token without the endpoint's scope).
pub fn insufficient_scope(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| v.contains("error=\"insufficient_scope\""))
        .find_map(|v| {
            let start = v.find("scope=\"")? + "scope=\"".len();
            let len = v[start..].find('"')?;
            Some(v[start..start + len].to_owned()).filter(|s| !s.is_empty())
        })
}

/// A final 401 or 403 to an OAuth access token: the error, and the missing scope a 403
/// `insufficient_scope` names. `None` for SSWS answers (and anything else).
fn oauth_refusal(
    status: StatusCode,
    headers: &HeaderMap,
    req: &RequestInfo<'_>,
) -> Option<(ConnectorError, Option<String>)> {
    match status.as_u16() {
        403 => insufficient_scope(headers).map(|scope| (missing_scope(&scope, req), Some(scope))),
        401 if is_oauth_challenge(headers) => Some((
            ConnectorError::unauthenticated(format!(
                "Okta rejected the OAuth service app's access token for {} ({}) again after a fresh token",
                req.org, req.endpoint
            ))
            .with_remediation(
                "Check that the app is active, that its key and ClientId match the configuration, that this \
                 machine's clock is correct, and that no proxy strips the Authorization or DPoP headers",
            ),
            None,
        )),
        _ => None,
    }
}

/// Whether a 401 challenges an OAuth access token (`Bearer …`/`DPoP …`) rather than SSWS.
fn is_oauth_challenge(headers: &HeaderMap) -> bool {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with("Bearer ") || v.starts_with("DPoP "))
}

/// The error for an access token that lacks `scope`: the scope to grant, where.
fn missing_scope(scope: &str, req: &RequestInfo<'_>) -> ConnectorError {
    ConnectorError::permission_denied(format!(
        "the OAuth service app's access token lacks the scope {scope}, which {} on {} needs",
        req.endpoint, req.org
    ))
    .with_remediation(format!(
        "Grant {scope} to the app (Admin Console → Applications → the app → Okta API Scopes → Grant), or leave \
         out of the configuration what needs it; if AuthJson.Scopes is set, add {scope} to it. Then run the import again"
    ))
}

/// A 400 to a user search: the `UserSearchFilter` is not an expression Okta accepts.
fn search_rejected(req: &RequestInfo<'_>, parsed: &OktaErrorBody) -> ConnectorError {
    let filter = req.user_search_filter.unwrap_or_default();
    // The group listing carries GroupSearchFilter, every other listing UserSearchFilter.
    let (setting, example) = if req.endpoint.starts_with("GET /api/v1/groups") {
        (
            "GroupSearchFilter",
            "profile.name sw \"IM-\" or type eq \"OKTA_GROUP\"",
        )
    } else {
        ("UserSearchFilter", "profile.department eq \"Engineering\"")
    };
    let mut why = parsed
        .error_summary
        .clone()
        .unwrap_or_else(|| "invalid search".to_owned());
    let causes = causes(parsed);
    if !causes.is_empty() {
        why = format!("{why}: {causes}");
    }
    ConnectorError::invalid_config(format!(
        "Okta rejected {setting} \"{filter}\" ({why})"
    ))
    .with_remediation(format!(
        "Fix {setting} in ConfigJson. It must be an Okta search expression such as {example}; property names \
         are case sensitive, operators are eq, sw, co, gt, ge, lt, le combined with and/or, and string values are \
         double-quoted"
    ))
}

/// A redirect: never followed, so the token never leaves the configured origin.
fn redirected(headers: &HeaderMap, req: &RequestInfo<'_>) -> ConnectorError {
    let to = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| url::Url::parse(l).ok())
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "another location".to_owned());
    ConnectorError::protocol(format!(
        "{} redirected {} to {to}; redirects are not followed so the token never leaves the configured origin",
        req.org, req.endpoint
    ))
    .with_remediation("Set OrgDomain to the org's own Okta host (not a vanity URL that redirects)")
}

/// What a 403 on `req` needs: the endpoint's own need for the access endpoints, else the
/// bucket's.
fn needed_for(req: &RequestInfo<'_>) -> &'static str {
    let ep = req.endpoint;
    if ep.contains("/roles") || ep.contains("/iam/") {
        return "Reading admin role assignments needs the okta.roles.read scope (OAuth) and the Read-Only \
                Administrator role or higher (a custom role cannot read role assignments).";
    }
    if ep.contains("/factors") {
        return "Reading MFA factors needs the okta.users.read scope (OAuth) and the Read-Only Administrator role \
                (or a custom admin role with okta.users.read over all users).";
    }
    if ep.contains("/groups/rules") {
        return "Reading group rules needs the okta.groups.read scope (OAuth) and the Read-Only Administrator role.";
    }
    if ep.contains("/apps/{appId}") {
        return "Reading app assignments needs the okta.apps.read scope (OAuth) and the Read-Only Administrator \
                role (or a custom admin role with okta.apps.read over the apps).";
    }
    needed_role(req.bucket)
}

/// What an administrator needs to call endpoints of `bucket`, for remediation texts.
pub fn needed_role(bucket: Bucket) -> &'static str {
    match bucket {
        Bucket::Users => {
            "Reading users needs the Read-Only Administrator role (or a custom admin role with okta.users.read over all users)."
        }
        Bucket::Groups | Bucket::GroupById => {
            "Reading groups and their members needs the Read-Only Administrator role (or a custom admin role with \
             okta.groups.read and okta.users.read over all groups and users)."
        }
        Bucket::Apps | Bucket::AppById => {
            "Listing apps needs the Read-Only Administrator role (or a custom admin role with okta.apps.read)."
        }
        Bucket::UserById | Bucket::Other => {
            "This endpoint needs the Read-Only Administrator role (or a custom admin role with the matching read \
             permission)."
        }
        Bucket::Logs => {
            "A delta run with DeltaSource \"SystemLog\" reads the System Log: grant the Read-Only Administrator role \
             (OAuth: the scope okta.logs.read), or set DeltaSource to \"LastUpdated\" in ConfigJson (hard deletes then \
             wait for the next full run)."
        }
        Bucket::UserWrites => {
            "Creating, updating and deactivating users needs an administrator role that may manage users (User \
             Administrator, Organization Administrator, or a custom role with okta.users.manage) and, for an OAuth \
             service app, the okta.users.manage scope."
        }
        Bucket::GroupMemberWrites => {
            "Changing group memberships needs an administrator role that may manage the groups (Group Membership \
             Administrator, Group Administrator, or a custom role with okta.groups.manage) and, for an OAuth service \
             app, the okta.groups.manage scope."
        }
        Bucket::IgaV1 | Bucket::IgaRequests | Bucket::IgaV2 => {
            "Okta Identity Governance lists need the org's governance features and an administrator with the \
             matching governance role (see the IGA section of docs/okta-connector.md for the scope and role per object type)."
        }
        Bucket::Token => {
            "Requesting access tokens needs an active API Services app allowed the Client Credentials grant."
        }
    }
}

fn rate_limit_hint() -> &'static str {
    "Other integrations are using the same Okta rate-limit bucket. Run the import again later, schedule it away from \
     other heavy integrations, or lower RateLimitShare; raising MaxRetries makes the connector wait longer"
}

/// The error for a transport failure that is final (not retryable, or retries exhausted).
pub fn transport_error(err: &TransportError, req: &RequestInfo<'_>) -> ConnectorError {
    let org = req.org;
    let ep = req.endpoint;
    let what = err.describe();
    match err {
        TransportError::Dns(_) => ConnectorError::not_found(format!(
            "cannot resolve {org} for {ep} ({what})"
        ))
        .with_remediation(
            "Check OrgDomain: spelling and region (okta.com, oktapreview.com, okta-emea.com); for a custom domain check \
             that this machine's DNS resolves it",
        ),
        TransportError::Tls(_) => ConnectorError::unavailable(format!(
            "secure connection to {org} failed for {ep} ({what})"
        ))
        .with_remediation(
            "If a TLS-inspecting proxy sits between this machine and Okta, add its CA certificate to the system trust store",
        ),
        TransportError::ForeignOrigin(host) => ConnectorError::protocol(format!(
            "refused to follow a link from {ep} to the foreign host {host}: the API token is only sent to {org}"
        )),
        TransportError::Timeout(_) | TransportError::Connection(_) => {
            ConnectorError::unavailable(format!("{ep} on {org}: {what}")).with_remediation(
                "Check network connectivity to Okta (proxy, firewall) and run the import again; RequestTimeoutSeconds \
                 raises the per-request timeout",
            )
        }
    }
}

/// The error when every retry failed; `last` is the last failure.
pub fn retries_exhausted(last: ConnectorError, retries: u32, elapsed: Duration) -> ConnectorError {
    let kind = last.kind();
    let remediation = match kind {
        ErrorKind::RateLimited => rate_limit_hint().to_owned(),
        _ => last
            .remediation()
            .unwrap_or("Run the import again later")
            .to_owned(),
    };
    let mut err = ConnectorError::new(
        kind,
        format!(
            "{} — gave up after {retries} retries over {:.1} s; the run is failed, no page was skipped",
            last.message(),
            elapsed.as_secs_f64()
        ),
    )
    .with_remediation(remediation);
    if let Some(v) = last.vendor() {
        err = err.with_vendor(v.clone());
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn req(filter: Option<&'static str>, bucket: Bucket) -> RequestInfo<'static> {
        RequestInfo {
            endpoint: "GET /api/v1/users",
            bucket,
            org: "contoso.okta.com",
            user_search_filter: filter,
        }
    }

    fn body(code: &str, summary: &str) -> Vec<u8> {
        serde_json::json!({
            "errorCode": code, "errorSummary": summary, "errorLink": code,
            "errorId": "oaeXyZ", "errorCauses": [{"errorSummary": "Invalid search criteria."}]
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn invalid_token_names_the_console_path() {
        let mut h = HeaderMap::new();
        h.insert("x-okta-request-id", HeaderValue::from_static("req-1"));
        let e = http_error(
            StatusCode::UNAUTHORIZED,
            &h,
            &body("E0000011", "Invalid token provided"),
            &req(None, Bucket::Users),
        );
        assert_eq!(e.kind(), ErrorKind::Unauthenticated);
        assert!(e.remediation().unwrap().contains("Security → API → Tokens"));
        assert!(e.remediation().unwrap().contains("30 days"));
        let v = e.vendor().unwrap();
        assert_eq!(v.status, Some(401));
        assert_eq!(v.code.as_deref(), Some("E0000011"));
        assert_eq!(v.summary.as_deref(), Some("Invalid token provided"));
        assert_eq!(v.request_id.as_deref(), Some("oaeXyZ"));
        assert_eq!(v.extra["x-okta-request-id"], "req-1");
    }

    #[test]
    fn forbidden_names_endpoint_and_role() {
        let e = http_error(
            StatusCode::FORBIDDEN,
            &HeaderMap::new(),
            &body(
                "E0000006",
                "You do not have permission to perform the requested action",
            ),
            &RequestInfo {
                endpoint: "GET /api/v1/groups/{groupId}/users",
                bucket: Bucket::GroupById,
                org: "contoso.okta.com",
                user_search_filter: None,
            },
        );
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(e.message().contains("GET /api/v1/groups/{groupId}/users"));
        assert!(e.remediation().unwrap().contains("Read-Only Administrator"));
    }

    #[test]
    fn bad_search_filter_is_quoted() {
        let e = http_error(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            &body("E0000031", "Invalid search."),
            &req(Some("profile.dept eq Eng"), Bucket::Users),
        );
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        assert!(e.message().contains("\"profile.dept eq Eng\""), "{e}");
        assert!(e.message().contains("Invalid search criteria."), "{e}");
        assert_eq!(e.vendor().unwrap().code.as_deref(), Some("E0000031"));
    }

    #[test]
    fn transport_failures_are_classified() {
        let r = req(None, Bucket::Users);
        let dns = transport_error(&TransportError::Dns("no such host".into()), &r);
        assert_eq!(dns.kind(), ErrorKind::NotFound);
        assert!(dns.remediation().unwrap().contains("OrgDomain"));
        let drop = transport_error(&TransportError::Connection("reset".into()), &r);
        assert_eq!(drop.kind(), ErrorKind::Unavailable);
        let gave_up = retries_exhausted(drop, 3, Duration::from_secs(7));
        assert_eq!(gave_up.kind(), ErrorKind::Unavailable);
        assert!(gave_up.message().contains("gave up after 3 retries"));
    }

    #[test]
    fn redirects_are_reported_not_followed() {
        let mut h = HeaderMap::new();
        h.insert(
            LOCATION,
            HeaderValue::from_static("https://login.example.com/api/v1/users?limit=200"),
        );
        let e = http_error(StatusCode::FOUND, &h, b"", &req(None, Bucket::Users));
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert!(e.message().contains("redirected"), "{e}");
        assert!(e.message().contains("login.example.com"), "{e}");
        assert!(e.remediation().unwrap().contains("OrgDomain"));
    }

    #[test]
    fn non_json_error_bodies_still_classify() {
        let e = http_error(
            StatusCode::SERVICE_UNAVAILABLE,
            &HeaderMap::new(),
            b"<html>down</html>",
            &req(None, Bucket::Users),
        );
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(e.vendor().unwrap().status, Some(503));
    }
}
