//! Apps and their assignments → `App`, `AppUser` and `AppGroup` upserts.
//!
//! `App` objects are in the org scope ([`ORG_SCOPE`]) so that every run, full or delta, can
//! complete them after reading the whole listing; `AppUser` (`<appId>:<userId>`) and `AppGroup`
//! (`<appId>:<groupId>`) are in their app's scope. Assignment profiles are flattened as
//! `profile.<name>` with Okta's JSON types kept.

use connector_api::{Change, ConnectorError, Object, Result};
use serde_json::Value;

use super::{APP, APP_GROUP, APP_USER, ORG_SCOPE};
use crate::endpoints::apps::OktaApp;

fn opt(v: &Option<String>) -> Value {
    v.clone().map_or(Value::Null, Value::String)
}

/// The change for one app. Its external id is the app id.
pub fn app(a: &OktaApp) -> Change {
    Change::Upsert(
        Object::new(APP, a.id.clone())
            .in_scope(ORG_SCOPE)
            .with("id", a.id.clone())
            .with("name", opt(&a.name))
            .with("label", opt(&a.label))
            .with("status", opt(&a.status))
            .with("signOnMode", opt(&a.sign_on_mode))
            .with("created", opt(&a.created))
            .with("lastUpdated", opt(&a.last_updated))
            .with("orn", opt(&a.orn)),
    )
}

/// `v[key]` as a string id, or a protocol error naming the endpoint.
pub(crate) fn id_of<'v>(v: &'v Value, key: &str, what: &str) -> Result<&'v str> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ConnectorError::protocol(format!("{what} without \"{key}\": {v}")))
}

fn copy(obj: Object, v: &Value, keys: &[&str]) -> Object {
    keys.iter().fold(obj, |o, k| {
        o.with(*k, v.get(*k).cloned().unwrap_or(Value::Null))
    })
}

fn with_profile(mut obj: Object, v: &Value) -> Object {
    if let Some(p) = v.get("profile").and_then(Value::as_object) {
        for (k, x) in p {
            obj.attributes.insert(format!("profile.{k}"), x.clone());
        }
    }
    obj
}

/// The change for one entry of `GET /api/v1/apps/{appId}/users`.
///
/// # Errors
/// A protocol error for an entry without an `id`.
pub fn app_user(app_id: &str, v: &Value) -> Result<Change> {
    let user = id_of(v, "id", "an app user")?;
    let obj = Object::new(APP_USER, format!("{app_id}:{user}"))
        .in_scope(app_id)
        .with("appId", app_id)
        .with("userId", user);
    let obj = copy(
        obj,
        v,
        &["scope", "status", "syncState", "created", "lastUpdated"],
    );
    let user_name = v
        .pointer("/credentials/userName")
        .cloned()
        .unwrap_or(Value::Null);
    Ok(Change::Upsert(with_profile(
        obj.with("userName", user_name),
        v,
    )))
}

/// The change for one entry of `GET /api/v1/apps/{appId}/groups`.
///
/// # Errors
/// A protocol error for an entry without an `id`.
pub fn app_group(app_id: &str, v: &Value) -> Result<Change> {
    let group = id_of(v, "id", "an app group")?;
    let obj = Object::new(APP_GROUP, format!("{app_id}:{group}"))
        .in_scope(app_id)
        .with("appId", app_id)
        .with("groupId", group);
    let obj = copy(obj, v, &["priority", "lastUpdated"]);
    Ok(Change::Upsert(with_profile(obj, v)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn app_users_keep_scope_status_and_typed_profiles() {
        let v = json!({"id": "00u1", "scope": "GROUP", "status": "PROVISIONED",
            "syncState": "SYNCHRONIZED", "created": "2026-01-01T00:00:00.000Z",
            "lastUpdated": "2026-01-02T00:00:00.000Z", "credentials": {"userName": "ann@x.com"},
            "profile": {"department": "Eng", "seats": 3, "roles": ["a", "b"]}});
        let Change::Upsert(o) = app_user("0oa1", &v).unwrap() else {
            panic!("upsert expected")
        };
        assert_eq!(o.external_id, "0oa1:00u1");
        assert_eq!(o.scope.as_deref(), Some("0oa1"));
        assert_eq!(o.attributes["scope"], "GROUP");
        assert_eq!(o.attributes["userName"], "ann@x.com");
        assert_eq!(o.attributes["profile.seats"], 3);
        assert_eq!(o.attributes["profile.roles"], json!(["a", "b"]));
        assert!(app_user("0oa1", &json!({"scope": "USER"})).is_err());
        let Change::Upsert(g) =
            app_group("0oa1", &json!({"id": "00g1", "priority": 2, "profile": {}})).unwrap()
        else {
            panic!("upsert expected")
        };
        assert_eq!(g.external_id, "0oa1:00g1");
        assert_eq!(g.attributes["priority"], 2);
    }
}
