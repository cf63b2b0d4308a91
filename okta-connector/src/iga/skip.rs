//! Which IGA failures skip (a scope or a whole type) rather than fail the run, and the skip
//! reasons: the endpoint, the OAuth scope or admin role needed (from the type's spec row), and
//! what to do.

use connector_api::{ConnectorError, ErrorKind};

use crate::okta::iga::IgaType;

/// How a skippable failure applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reach {
    /// Only the scope (resource, campaign) that answered.
    Scope,
    /// The whole object type, for the rest of the run.
    Type,
}

/// Why something was not read.
#[derive(Debug, Clone)]
pub(super) struct Skip {
    pub(super) reason: String,
    pub(super) kind: ErrorKind,
}

/// Whether a failure is one that skips (and how far), rather than failing the run.
pub(super) fn reach(err: &ConnectorError) -> Option<Reach> {
    let vendor = err.vendor()?;
    match vendor.status? {
        400 | 404 => Some(Reach::Scope),
        401 if vendor.code.as_deref() == Some("E0000015") => Some(Reach::Type),
        403 | 405 => Some(Reach::Type),
        _ => None,
    }
}

/// The skip reason for a failure reading `t` (for `target`, if per scope), and its category.
pub(super) fn reason(t: IgaType, target: Option<&str>, err: &ConnectorError) -> Skip {
    let vendor = err.vendor();
    let status = vendor.and_then(|v| v.status).unwrap_or_default();
    let summary = vendor
        .and_then(|v| v.summary.clone())
        .map(|s| format!(" \"{s}\""))
        .unwrap_or_default();
    let id = vendor
        .and_then(|v| v.request_id.clone())
        .map(|r| format!(" (Okta error id {r})"))
        .unwrap_or_default();
    let at = target.map(|s| format!(" for {s}")).unwrap_or_default();
    let (text, kind) = explain(t, status, &at, &summary);
    Skip {
        reason: format!("{text}{id}"),
        kind,
    }
}

/// The words for `status` answered by `t`'s list.
fn explain(t: IgaType, status: u16, at: &str, summary: &str) -> (String, ErrorKind) {
    let spec = t.spec();
    let ep = spec.endpoint;
    let name = spec.name;
    let lifecycle = spec.lifecycle;
    let kept = format!("stored {name} objects{at} are kept");
    match status {
        400 => (
            format!(
                "{ep} answered 400{at}{summary}: the resource is not under Okta Identity Governance (Entitlement \
                 Management is off for it) or the org rejects the filter; put it under governance or leave it out \
                 (Iga.ResourceTypes, Iga.MaxResources); {kept}"
            ),
            ErrorKind::NotSupported,
        ),
        401 => (
            format!(
                "{ep} answered 401 E0000015{summary}: the org does not have this Okta Identity Governance feature \
                 enabled ({lifecycle} API); enable it or remove {name} from Iga.ObjectTypes; {kept}"
            ),
            ErrorKind::PermissionDenied,
        ),
        403 => (
            format!(
                "{ep} answered 403{summary}: the API token's administrator needs the {} role (an OAuth service app \
                 needs the scope {}); grant it or remove {name} from Iga.ObjectTypes; {kept}",
                spec.admin_role, spec.read_scope
            ),
            ErrorKind::PermissionDenied,
        ),
        404 => (
            format!(
                "{ep} answered 404{at}{summary}: the endpoint ({lifecycle} API) is not available in this org, or the \
                 resource no longer exists; {kept}"
            ),
            ErrorKind::NotFound,
        ),
        other => (
            format!(
                "{ep} answered {other}{summary}: this org does not serve the endpoint ({lifecycle} API) for reading; \
                 remove {name} from Iga.ObjectTypes; {kept}"
            ),
            ErrorKind::NotSupported,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_api::VendorDetails;

    fn http(status: u16, code: &str) -> ConnectorError {
        ConnectorError::permission_denied("x").with_vendor(
            VendorDetails::new()
                .with_status(status)
                .with_code(code)
                .with_summary("You do not have permission")
                .with_request_id("oae1"),
        )
    }

    #[test]
    fn failures_reach_a_scope_or_a_type() {
        assert_eq!(reach(&http(400, "E0000001")), Some(Reach::Scope));
        assert_eq!(reach(&http(404, "E0000007")), Some(Reach::Scope));
        assert_eq!(reach(&http(401, "E0000015")), Some(Reach::Type));
        assert_eq!(reach(&http(403, "E0000006")), Some(Reach::Type));
        assert_eq!(reach(&http(405, "E0000022")), Some(Reach::Type));
        // An invalid token, rate limits and outages fail the run.
        assert_eq!(reach(&http(401, "E0000011")), None);
        assert_eq!(reach(&http(429, "E0000047")), None);
        assert_eq!(reach(&http(503, "")), None);
        assert_eq!(reach(&ConnectorError::protocol("bad page")), None);
    }

    #[test]
    fn reasons_name_the_scope_role_and_fix() {
        let s = reason(IgaType::Campaign, None, &http(403, "E0000006"));
        assert_eq!(s.kind, ErrorKind::PermissionDenied);
        assert!(
            s.reason
                .contains("okta.governance.accessCertifications.read"),
            "{}",
            s.reason
        );
        assert!(
            s.reason.contains("ACCESS_CERTIFICATIONS_ADMIN"),
            "{}",
            s.reason
        );
        assert!(s.reason.contains("oae1"));
        let s = reason(
            IgaType::Grant,
            Some("APPLICATION:0oa1"),
            &http(400, "E0000001"),
        );
        assert_eq!(s.kind, ErrorKind::NotSupported);
        assert!(s.reason.contains("for APPLICATION:0oa1") && s.reason.contains("not under"));
        let s = reason(IgaType::Label, None, &http(401, "E0000015"));
        assert!(s.reason.contains("BETA") && s.reason.contains("Iga.ObjectTypes"));
    }
}
