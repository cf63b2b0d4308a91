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

/// Whether a status counts as an enabled account, as the runbook defines it: only `ACTIVE`.
/// PASSWORD_EXPIRED, LOCKED_OUT and RECOVERY (the user cannot sign in until a reset or an
/// unlock), STAGED, PROVISIONED, SUSPENDED and DEPROVISIONED do not.
pub fn account_enabled(status: &str) -> bool {
    status == "ACTIVE"
}

/// The change for one user. Custom profile attributes are emitted (as `custom.<name>`, with
/// Okta's JSON type kept) only when `custom_attributes` (`ImportCustomAttributes`) is set.
///
/// # Errors
/// A protocol error when `ExternalIdAttribute` is `login` and the user has no login.
pub fn to_change(
    user: OktaUser,
    external_id: ExternalIdAttribute,
    custom_attributes: bool,
) -> Result<Change> {
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
        profile,
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
        .with("type", user_type.unwrap_or(Value::Null));
    // One pass over the profile, its keys moved rather than copied.
    for (name, v) in profile {
        if v.is_null() {
            continue;
        }
        if STANDARD_PROFILE.contains(&name.as_str()) {
            obj.attributes.insert(name, v);
        } else if custom_attributes {
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
            "type": {"id": "oty1", "name": "user"},
            "profile": {"login": "ann@example.com", "email": "ann@example.com", "firstName": "Ann",
                        "lastName": "Lee", "department": "Eng", "nickName": null, "badge": 42,
                        "fte": 0.8, "floors": [3, 4], "scores": [4.5], "tags": ["a"], "remote": true}
        }))
        .unwrap()
    }

    #[test]
    fn maps_attributes() {
        let Change::Upsert(o) =
            to_change(user("LOCKED_OUT"), ExternalIdAttribute::Id, true).unwrap()
        else {
            panic!("upsert expected");
        };
        assert_eq!(o.external_id, "00u1");
        assert_eq!(o.object_type, "User");
        let a = &o.attributes;
        assert_eq!(a["id"], "00u1");
        assert_eq!(a["status"], "LOCKED_OUT");
        // Only ACTIVE is enabled (the runbook's rule; LOCKED_OUT used to count as enabled).
        assert_eq!(a["accountEnabled"], false);
        assert_eq!(a["lastLogin"], Value::Null);
        // The whole user type object, not only its id.
        assert_eq!(a["type"], json!({"id": "oty1", "name": "user"}));
        assert_eq!(a["login"], "ann@example.com");
        assert_eq!(a["department"], "Eng");
        // Custom attributes keep Okta's JSON types.
        assert_eq!(a["custom.badge"], 42);
        assert_eq!(a["custom.fte"], 0.8);
        assert_eq!(a["custom.floors"], json!([3, 4]));
        assert_eq!(a["custom.scores"], json!([4.5]));
        assert_eq!(a["custom.tags"], json!(["a"]));
        assert_eq!(a["custom.remote"], true);
        assert!(!a.contains_key("nickName"));
    }

    #[test]
    fn custom_attributes_only_when_asked() {
        let Change::Upsert(o) = to_change(user("ACTIVE"), ExternalIdAttribute::Id, false).unwrap()
        else {
            panic!("upsert expected");
        };
        assert!(!o.attributes.keys().any(|k| k.starts_with("custom.")));
        assert_eq!(o.attributes["department"], "Eng");
        assert_eq!(o.attributes["accountEnabled"], true);
    }

    #[test]
    fn external_id_from_login() {
        let Change::Upsert(o) =
            to_change(user("SUSPENDED"), ExternalIdAttribute::Login, false).unwrap()
        else {
            panic!("upsert expected");
        };
        assert_eq!(o.external_id, "ann@example.com");
        assert_eq!(o.attributes["accountEnabled"], false);
    }

    #[test]
    fn deprovisioned_is_a_delete() {
        assert_eq!(
            to_change(user("DEPROVISIONED"), ExternalIdAttribute::Id, false).unwrap(),
            Change::delete("User", "00u1")
        );
    }

    #[test]
    fn enabled_statuses() {
        assert!(account_enabled("ACTIVE"));
        for s in [
            "PASSWORD_EXPIRED",
            "LOCKED_OUT",
            "RECOVERY",
            "STAGED",
            "PROVISIONED",
            "SUSPENDED",
            "DEPROVISIONED",
            "",
        ] {
            assert!(!account_enabled(s), "{s}");
        }
    }
}
