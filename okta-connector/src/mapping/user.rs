//! An Okta user → a `User` upsert, or a delete when the user is DEPROVISIONED.

use connector_api::{Change, ConnectorError, Object, Result};
use serde_json::Value;

use super::USER;
use crate::config::ExternalIdAttribute;
use crate::endpoints::users::OktaUser;

/// Okta's base (standard) user profile attributes; they are emitted under their own names.
/// Any other profile attribute is custom and emitted as `custom.<name>`.
pub const STANDARD_PROFILE: [&str; 31] = [
    "login",
    "email",
    "secondEmail",
    "firstName",
    "lastName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
    "title",
    "displayName",
    "nickName",
    "profileUrl",
    "primaryPhone",
    "mobilePhone",
    "streetAddress",
    "city",
    "state",
    "zipCode",
    "countryCode",
    "postalAddress",
    "preferredLanguage",
    "locale",
    "timezone",
    "userType",
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "managerId",
    "manager",
];

/// Statuses in which the account can be used (possibly after a password reset or unlock).
const ENABLED_STATUSES: [&str; 4] = ["ACTIVE", "PASSWORD_EXPIRED", "LOCKED_OUT", "RECOVERY"];

/// Whether a status counts as an enabled account: ACTIVE, PASSWORD_EXPIRED, LOCKED_OUT and
/// RECOVERY do; STAGED, PROVISIONED (never activated), SUSPENDED and DEPROVISIONED do not.
pub fn account_enabled(status: &str) -> bool {
    ENABLED_STATUSES.contains(&status)
}

/// The change for one user.
///
/// # Errors
/// A protocol error when `ExternalIdAttribute` is `login` and the user has no login.
pub fn to_change(user: OktaUser, external_id: ExternalIdAttribute) -> Result<Change> {
    let OktaUser {
        id,
        status,
        created,
        activated,
        status_changed,
        last_login,
        last_updated,
        password_changed,
        user_type,
        mut profile,
        ..
    } = user;
    let ext_id = match external_id {
        ExternalIdAttribute::Id => id.clone(),
        ExternalIdAttribute::Login => match profile.get("login") {
            Some(Value::String(login)) if !login.is_empty() => login.clone(),
            _ => {
                return Err(ConnectorError::protocol(format!(
                    "user {id} has no profile.login, which ExternalIdAttribute \"login\" needs"
                ))
                .with_remediation("Set ExternalIdAttribute to \"id\""));
            }
        },
    };
    let status = status.unwrap_or_default();
    if status == "DEPROVISIONED" {
        return Ok(Change::delete(USER, ext_id));
    }
    let opt = |v: Option<String>| v.map_or(Value::Null, Value::String);
    let mut obj = Object::new(USER, ext_id)
        .with("id", id)
        .with("accountEnabled", account_enabled(&status))
        .with("status", status)
        .with("created", opt(created))
        .with("activated", opt(activated))
        .with("statusChanged", opt(status_changed))
        .with("lastLogin", opt(last_login))
        .with("lastUpdated", opt(last_updated))
        .with("passwordChanged", opt(password_changed))
        .with("type", opt(user_type.and_then(|t| t.id)));
    for name in STANDARD_PROFILE {
        if let Some(v) = profile.remove(name)
            && !v.is_null()
        {
            obj.attributes.insert(name.to_owned(), v);
        }
    }
    for (name, v) in profile {
        if !v.is_null() {
            obj.attributes.insert(format!("custom.{name}"), v);
        }
    }
    Ok(Change::Upsert(obj))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(status: &str) -> OktaUser {
        serde_json::from_value(json!({
            "id": "00u1", "status": status,
            "created": "2026-01-01T00:00:00.000Z", "activated": "2026-01-02T00:00:00.000Z",
            "statusChanged": "2026-01-02T00:00:00.000Z", "lastLogin": null,
            "lastUpdated": "2026-02-01T00:00:00.000Z", "passwordChanged": null,
            "type": {"id": "oty1"},
            "profile": {"login": "ann@example.com", "email": "ann@example.com", "firstName": "Ann",
                        "lastName": "Lee", "department": "Eng", "nickName": null, "badge": 42}
        }))
        .unwrap()
    }

    #[test]
    fn maps_attributes() {
        let Change::Upsert(o) = to_change(user("LOCKED_OUT"), ExternalIdAttribute::Id).unwrap()
        else {
            panic!("upsert expected");
        };
        assert_eq!(o.external_id, "00u1");
        assert_eq!(o.object_type, "User");
        let a = &o.attributes;
        assert_eq!(a["id"], "00u1");
        assert_eq!(a["status"], "LOCKED_OUT");
        assert_eq!(a["accountEnabled"], true);
        assert_eq!(a["lastLogin"], Value::Null);
        assert_eq!(a["type"], "oty1");
        assert_eq!(a["login"], "ann@example.com");
        assert_eq!(a["department"], "Eng");
        assert_eq!(a["custom.badge"], 42);
        assert!(!a.contains_key("nickName"));
    }

    #[test]
    fn external_id_from_login() {
        let Change::Upsert(o) = to_change(user("SUSPENDED"), ExternalIdAttribute::Login).unwrap()
        else {
            panic!("upsert expected");
        };
        assert_eq!(o.external_id, "ann@example.com");
        assert_eq!(o.attributes["accountEnabled"], false);
    }

    #[test]
    fn deprovisioned_is_a_delete() {
        assert_eq!(
            to_change(user("DEPROVISIONED"), ExternalIdAttribute::Id).unwrap(),
            Change::delete("User", "00u1")
        );
    }

    #[test]
    fn enabled_statuses() {
        for s in ["ACTIVE", "PASSWORD_EXPIRED", "LOCKED_OUT", "RECOVERY"] {
            assert!(account_enabled(s), "{s}");
        }
        for s in ["STAGED", "PROVISIONED", "SUSPENDED", "DEPROVISIONED", ""] {
            assert!(!account_enabled(s), "{s}");
        }
    }
}
