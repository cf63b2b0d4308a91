//! Okta's answers to writes → per-change outcomes an operator can act on.
//!
//! * 400 `E0000001` → `invalid_config` naming the attributes from `errorCauses`
//!   (`email: The field cannot be left blank`), with "fix the change";
//! * 403 `E0000038` / `E0000016` (a lifecycle transition Okta does not allow) → `not_supported`;
//! * any other 403 → `permission_denied` with the role and scope the write needs;
//! * 404 → `not_found` (the user or group is gone);
//! * the rest as for reads (429 after retries is `rate_limited`, 5xx `unavailable`).

use connector_api::{ConnectorError, ExportStatus};

use crate::client::errors::{RequestInfo, http_error, needed_role, vendor_details};
use crate::client::http::RawResponse;

/// The failure for a non-2xx answer to a write; `what` names the change ("creating user x").
pub(super) fn refused(resp: &RawResponse, req: &RequestInfo<'_>, what: &str) -> ConnectorError {
    let (details, parsed) = vendor_details(resp.status, &resp.headers, &resp.body, req);
    let code = parsed.error_code.as_deref().unwrap_or("");
    let summary = parsed.error_summary.as_deref().unwrap_or("no summary");
    let causes: Vec<&str> = parsed
        .error_causes
        .iter()
        .filter_map(|c| c.error_summary.as_deref())
        .collect();
    let err = match (resp.status.as_u16(), code) {
        (400, "E0000001") => {
            let fields = cause_fields(&causes);
            ConnectorError::invalid_config(format!(
                "Okta refused {what}: {} ({})",
                if causes.is_empty() { summary.to_owned() } else { causes.join("; ") },
                if fields.is_empty() { "no field named".to_owned() } else { format!("fields: {}", fields.join(", ")) }
            ))
            .with_remediation(format!(
                "Correct {} in the change and send it again",
                if fields.is_empty() { "the change's attributes".to_owned() } else { fields.join(", ") }
            ))
        }
        (403, "E0000038" | "E0000016") => ConnectorError::not_supported(format!(
            "Okta refused {what}: {summary}"
        ))
        .with_remediation(
            "The user's current status does not allow this transition; import again to see its status, and change \
             it in the Admin Console if needed",
        ),
        (403, _) => ConnectorError::permission_denied(format!(
            "Okta refused {what}: the token may not call {} on {} ({summary})",
            req.endpoint, req.org
        ))
        .with_remediation(format!(
            "Write-back needs a token whose administrator may write: {} Read-only tokens can import but not export",
            needed_role(req.bucket)
        )),
        (404, _) => ConnectorError::not_found(format!(
            "Okta answered 404 for {what} ({summary})"
        ))
        .with_remediation(
            "The user or group does not exist (any more) in Okta; import again to refresh the ids, then fix the change",
        ),
        _ => return http_error(resp.status, &resp.headers, &resp.body, req),
    };
    err.with_vendor(details)
}

/// The attribute names of `field: reason` causes, in order, without repeats.
fn cause_fields<'c>(causes: &[&'c str]) -> Vec<&'c str> {
    let mut out: Vec<&str> = Vec::new();
    for c in causes {
        if let Some((field, _)) = c.split_once(':')
            && !field.contains(' ')
            && !out.contains(&field)
        {
            out.push(field);
        }
    }
    out
}

/// A failed outcome.
pub(super) fn failed(error: ConnectorError) -> ExportStatus {
    ExportStatus::Failed { error }
}

/// `Skipped` because `Export.Operations` does not list `op`.
pub(super) fn not_allowed(op: crate::config::Operation) -> ExportStatus {
    let name = op.name();
    ExportStatus::Skipped {
        reason: format!(
            "Export.Operations does not include {name}; add \"{name}\" to Export.Operations in ConfigJson to allow it"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_come_from_the_causes() {
        assert_eq!(
            cause_fields(&[
                "email: The field cannot be left blank",
                "login: Username must be in the form of an email address",
                "email: Does not match required pattern",
                "Something without a field",
            ]),
            vec!["email", "login"]
        );
    }
}
