//! The audit line of every write: which change, which operation, which endpoint, what Okta
//! answered and its `X-Okta-Request-Id`. No profile value, token or header is ever logged.

use connector_api::{Level, LogRecord};

use crate::telemetry::Event;

/// One write sent to Okta on behalf of an exported change.
#[derive(Debug)]
pub(super) struct ExportWrite<'a> {
    /// The change's idempotency key.
    pub key: &'a str,
    /// The `Export.Operations` name (`CreateUser`, `AddMember`…).
    pub operation: &'a str,
    /// Endpoint template (`POST /api/v1/users`).
    pub endpoint: &'a str,
    /// `User` or `GroupMember`.
    pub object_type: &'a str,
    /// The change's external id.
    pub external_id: &'a str,
    /// Okta's HTTP status; `None` when no answer arrived.
    pub status: Option<u16>,
    /// `X-Okta-Request-Id` of the answer.
    pub request_id: Option<&'a str>,
}

impl Event for ExportWrite<'_> {
    fn record(&self) -> LogRecord {
        let answer = self
            .status
            .map_or_else(|| "no answer".to_owned(), |s| format!("HTTP {s}"));
        let rid = self.request_id.unwrap_or("none");
        LogRecord::new(
            Level::Info,
            "export_write",
            format!(
                "export {} for change {} ({} {}): {} → {answer}, X-Okta-Request-Id {rid}",
                self.operation, self.key, self.object_type, self.external_id, self.endpoint
            ),
        )
        .field("key", self.key)
        .field("operation", self.operation)
        .field("endpoint", self.endpoint)
        .field("object_type", self.object_type)
        .field("external_id", self.external_id)
        .field("status", self.status.map_or(0, u32::from))
        .field("request_id", rid)
    }
}
