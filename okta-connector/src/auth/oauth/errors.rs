//! What the token endpoint's refusals mean for the operator: each becomes a classified
//! `ConnectorError` with a remedy. Only the endpoint's `error` code and `error_description` are
//! quoted (they never hold the assertion or a token).

use connector_api::{ConnectorError, VendorDetails};
use reqwest::StatusCode;
use serde::Deserialize;

/// An RFC 6749 §5.2 error body.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct OAuthError {
    /// The error code (`invalid_client`, `use_dpop_nonce`…).
    #[serde(default)]
    pub error: String,
    /// The human-readable description.
    #[serde(default)]
    pub error_description: Option<String>,
}

impl OAuthError {
    /// Reads an error body; anything unreadable becomes an empty error.
    pub(crate) fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// Whether the server says the client must send DPoP proofs.
    pub(crate) fn requires_dpop(&self) -> bool {
        self.error == "invalid_dpop_proof"
            || self
                .error_description
                .as_deref()
                .is_some_and(|d| d.contains("DPoP proof is required"))
    }
}

const CHECK_CLIENT: &str = "check ClientId, that the app's public key in Okta matches PrivateKey \
    (and KeyId when the app has several keys), that the app authenticates with \"Public key / \
    Private key\", and that this machine's clock is correct";

/// The error the connector reports when `"Dpop": false` meets an app that requires DPoP.
pub(crate) fn dpop_disabled() -> ConnectorError {
    ConnectorError::invalid_config(
        "Dpop: the Okta app requires DPoP proofs but the configuration sets \"Dpop\": false",
    )
    .with_remediation("remove \"Dpop\": false (or set \"Dpop\": true) from the configuration")
}

/// Classifies a refusal from the token endpoint. `scopes` is what was asked for.
pub(crate) fn classify(status: StatusCode, err: &OAuthError, scopes: &str) -> ConnectorError {
    let code = if err.error.is_empty() {
        "no error code"
    } else {
        err.error.as_str()
    };
    let summary: Option<String> = err
        .error_description
        .as_deref()
        .map(|d| d.chars().take(300).collect());
    let message = match &summary {
        Some(d) => format!("the token endpoint refused the request: {code} ({d})"),
        None => format!("the token endpoint refused the request: {code}"),
    };
    let e = match (err.error.as_str(), status.as_u16()) {
        ("invalid_client", _) => {
            ConnectorError::unauthenticated(message).with_remediation(CHECK_CLIENT)
        }
        ("invalid_scope", _) => {
            ConnectorError::permission_denied(message).with_remediation(format!(
                "grant the app the Okta API scopes it asks for (Admin Console → Applications → the \
             app → Okta API Scopes): {scopes}; or set Scopes to the granted ones"
            ))
        }
        ("unauthorized_client", _) => ConnectorError::permission_denied(message).with_remediation(
            "the app must be an API Services app allowed the Client Credentials grant",
        ),
        ("invalid_dpop_proof", _) => ConnectorError::unauthenticated(message).with_remediation(
            "check this machine's clock: DPoP proofs must be dated within a minute of Okta's time",
        ),
        ("use_dpop_nonce", _) => ConnectorError::protocol(format!(
            "{message}: the DPoP nonce it issued was refused again"
        )),
        (_, 401) => ConnectorError::unauthenticated(message).with_remediation(CHECK_CLIENT),
        (_, 403) => ConnectorError::permission_denied(message)
            .with_remediation("check that the app is active and allowed to request tokens"),
        (_, 429) => ConnectorError::rate_limited(message),
        (_, s) if s >= 500 => ConnectorError::unavailable(message),
        _ => ConnectorError::protocol(message),
    };
    let mut vendor = VendorDetails::new().with_status(status.as_u16());
    if !err.error.is_empty() {
        vendor = vendor.with_code(err.error.clone());
    }
    if let Some(summary) = summary {
        vendor = vendor.with_summary(summary);
    }
    e.with_vendor(vendor)
}

#[cfg(test)]
mod tests {
    use connector_api::ErrorKind;

    use super::*;

    #[test]
    fn each_refusal_gets_its_kind_and_a_remedy() {
        let cases = [
            (
                400,
                r#"{"error":"invalid_client","error_description":"The client_assertion signature is invalid."}"#,
                ErrorKind::Unauthenticated,
                "ClientId",
            ),
            (
                400,
                r#"{"error":"invalid_scope","error_description":"The requested scope is invalid."}"#,
                ErrorKind::PermissionDenied,
                "okta.users.read okta.groups.read",
            ),
            (
                400,
                r#"{"error":"unauthorized_client"}"#,
                ErrorKind::PermissionDenied,
                "Client Credentials",
            ),
            (
                400,
                r#"{"error":"invalid_dpop_proof"}"#,
                ErrorKind::Unauthenticated,
                "clock",
            ),
            (401, "", ErrorKind::Unauthenticated, "ClientId"),
            (
                403,
                r#"{"error":"access_denied"}"#,
                ErrorKind::PermissionDenied,
                "active",
            ),
            (429, "", ErrorKind::RateLimited, ""),
            (503, "<html>", ErrorKind::Unavailable, ""),
            (
                400,
                r#"{"error":"use_dpop_nonce"}"#,
                ErrorKind::Protocol,
                "",
            ),
            (418, "", ErrorKind::Protocol, ""),
        ];
        for (status, body, kind, remedy) in cases {
            let err = classify(
                StatusCode::from_u16(status).unwrap(),
                &OAuthError::parse(body.as_bytes()),
                "okta.users.read okta.groups.read",
            );
            assert_eq!(err.kind(), kind, "{status} {body}: {err}");
            assert!(
                err.remediation().unwrap_or("").contains(remedy),
                "{status} {body}: {err}"
            );
            assert_eq!(err.vendor().unwrap().status, Some(status));
            assert!(
                err.message()
                    .starts_with("the token endpoint refused the request"),
                "{err}"
            );
        }
    }

    #[test]
    fn dpop_requirement_is_recognised() {
        assert!(OAuthError::parse(br#"{"error":"invalid_dpop_proof","error_description":"The DPoP proof JWT header is missing."}"#).requires_dpop());
        assert!(
            OAuthError::parse(
                br#"{"error":"invalid_request","error_description":"DPoP proof is required."}"#
            )
            .requires_dpop()
        );
        assert!(!OAuthError::parse(br#"{"error":"invalid_client"}"#).requires_dpop());
        let e = dpop_disabled();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        assert!(e.remediation().unwrap().contains("remove \"Dpop\": false"));
    }
}
