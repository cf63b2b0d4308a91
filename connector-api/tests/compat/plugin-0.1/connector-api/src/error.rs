//! Errors a host can act on.
//!
//! Every failure is classified into an [`ErrorKind`] that tells the host *what to do*
//! (fix the configuration, renew a credential, retry later, report a bug), carries a message a
//! person can read, an optional remediation hint, and optional vendor details (HTTP status,
//! vendor error code and summary, request id) for support tickets.
//!
//! Messages and details must never contain credentials: they are logged, stored and shown.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The category of a [`ConnectorError`]: what the host should do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The connector's configuration or credentials reference is malformed or inconsistent.
    /// Retrying will not help; the operator must fix the configuration.
    InvalidConfig,
    /// The stored watermark cannot be understood. Fix or clear it, or run a full import.
    InvalidWatermark,
    /// The source rejected the credentials (expired, revoked, wrong). Renew them.
    Unauthenticated,
    /// The credentials are valid but lack a permission, role, scope or licensed feature.
    PermissionDenied,
    /// A configured resource (organisation, endpoint, object) does not exist.
    NotFound,
    /// The source's rate limit was exhausted and retries did not get through. Retry later, or
    /// lower the connector's share of the rate limit for other integrations.
    RateLimited,
    /// The source or the network was unavailable (timeouts, 5xx, DNS, TLS, dropped connections).
    /// Usually transient: retry later.
    Unavailable,
    /// The source answered something the connector cannot interpret (bad JSON, broken paging).
    Protocol,
    /// The operation is not supported by this connector (for example export on a read-only one).
    NotSupported,
    /// The operation was cancelled by the host.
    Cancelled,
    /// A bug or an unexpected failure inside the connector or the plug-in boundary.
    Internal,
}

impl ErrorKind {
    /// Whether retrying the same operation later may succeed without operator action.
    pub fn is_transient(self) -> bool {
        matches!(self, ErrorKind::RateLimited | ErrorKind::Unavailable)
    }

    /// A stable snake_case name, as used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidConfig => "invalid_config",
            ErrorKind::InvalidWatermark => "invalid_watermark",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Protocol => "protocol",
            ErrorKind::NotSupported => "not_supported",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the source system said about a failure, for support and troubleshooting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorDetails {
    /// HTTP status code, when the failure was an HTTP response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The vendor's error code (for Okta, `errorCode` such as `E0000011`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The vendor's error summary text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The vendor's error or request identifier (for Okta, `errorId` / `X-Okta-Request-Id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Anything else worth keeping (endpoint, causes), ordered by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

/// An error returned by a connector, classified for the host.
///
/// Build one with the kind-named constructors and add context with the `with_*` methods:
///
/// ```
/// use connector_api::{ConnectorError, ErrorKind};
/// let err = ConnectorError::unauthenticated("Okta rejected the API token (E0000011)")
///     .with_remediation("Create a new token under Security > API > Tokens and store it again");
/// assert_eq!(err.kind(), ErrorKind::Unauthenticated);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorError {
    kind: ErrorKind,
    message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    remediation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vendor: Option<Box<VendorDetails>>,
}

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $kind:ident;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(message: impl Into<String>) -> Self {
                Self::new(ErrorKind::$kind, message)
            }
        )*
    };
}

impl ConnectorError {
    /// Creates an error of any kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            remediation: None,
            vendor: None,
        }
    }

    constructors! {
        /// An [`ErrorKind::InvalidConfig`] error; name the offending field in the message.
        invalid_config => InvalidConfig;
        /// An [`ErrorKind::InvalidWatermark`] error.
        invalid_watermark => InvalidWatermark;
        /// An [`ErrorKind::Unauthenticated`] error.
        unauthenticated => Unauthenticated;
        /// An [`ErrorKind::PermissionDenied`] error.
        permission_denied => PermissionDenied;
        /// An [`ErrorKind::NotFound`] error.
        not_found => NotFound;
        /// An [`ErrorKind::RateLimited`] error.
        rate_limited => RateLimited;
        /// An [`ErrorKind::Unavailable`] error.
        unavailable => Unavailable;
        /// An [`ErrorKind::Protocol`] error.
        protocol => Protocol;
        /// An [`ErrorKind::NotSupported`] error.
        not_supported => NotSupported;
        /// An [`ErrorKind::Cancelled`] error.
        cancelled => Cancelled;
        /// An [`ErrorKind::Internal`] error.
        internal => Internal;
    }

    /// Adds a hint telling the operator what to do.
    #[must_use]
    pub fn with_remediation(mut self, hint: impl Into<String>) -> Self {
        self.remediation = Some(hint.into());
        self
    }

    /// Attaches what the source system said.
    #[must_use]
    pub fn with_vendor(mut self, details: VendorDetails) -> Self {
        self.vendor = Some(Box::new(details));
        self
    }

    /// Prefixes the message with context, e.g. `"listing users"`.
    #[must_use]
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The category.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The remediation hint, if any.
    pub fn remediation(&self) -> Option<&str> {
        self.remediation.as_deref()
    }

    /// The vendor details, if any.
    pub fn vendor(&self) -> Option<&VendorDetails> {
        self.vendor.as_deref()
    }
}

impl fmt::Display for ConnectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.kind)?;
        if let Some(v) = &self.vendor {
            let mut parts = Vec::new();
            if let Some(s) = v.status {
                parts.push(format!("HTTP {s}"));
            }
            if let Some(c) = &v.code {
                parts.push(c.clone());
            }
            if let Some(s) = &v.summary {
                parts.push(format!("\"{s}\""));
            }
            if let Some(r) = &v.request_id {
                parts.push(format!("id {r}"));
            }
            if !parts.is_empty() {
                write!(f, " [{}]", parts.join(", "))?;
            }
        }
        if let Some(h) = &self.remediation {
            write!(f, ". {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConnectorError {}

/// Shorthand for results whose error is a [`ConnectorError`].
pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_includes_kind_vendor_and_hint() {
        let err = ConnectorError::permission_denied("listing users")
            .with_vendor(VendorDetails {
                status: Some(403),
                code: Some("E0000006".into()),
                summary: Some("You do not have permission".into()),
                request_id: Some("abc".into()),
                extra: BTreeMap::new(),
            })
            .with_remediation("Grant the Read-Only Administrator role");
        assert_eq!(
            err.to_string(),
            "listing users (permission_denied) [HTTP 403, E0000006, \"You do not have permission\", id abc]. Grant the Read-Only Administrator role"
        );
    }

    #[test]
    fn round_trips_through_json() {
        let err =
            ConnectorError::rate_limited("gave up after 3 retries").context("GET /api/v1/users");
        let json = serde_json::to_string(&err).unwrap();
        let back: ConnectorError = serde_json::from_str(&json).unwrap();
        assert_eq!(back, err);
        assert_eq!(back.message(), "GET /api/v1/users: gave up after 3 retries");
        assert!(back.kind().is_transient());
    }
}
