//! Admin role assignments, MFA factors and group rules → `RoleAssignment`, `UserFactor` and
//! `GroupRule` upserts.
//!
//! `RoleAssignment` (`<principalId>:<assignmentId>`) and `GroupRule` (rule id) are in the org
//! scope ([`ORG_SCOPE`]): they are read completely on every run and completed there.
//! `UserFactor` (`<userId>:<factorId>`) is in its user's scope.

use connector_api::{Change, Object, Result};
use serde_json::Value;

use super::app::id_of;
use super::{GROUP_RULE, ORG_SCOPE, ROLE_ASSIGNMENT, USER_FACTOR};

fn field(v: &Value, pointer: &str) -> Value {
    v.pointer(pointer).cloned().unwrap_or(Value::Null)
}

/// A role assignment and its targets.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    /// Ids of the groups a scoped role is limited to.
    pub groups: Vec<String>,
    /// Apps a scoped role is limited to: `name` (every instance) or `name:appId`.
    pub apps: Vec<String>,
}

/// The change for one role assignment of a user (`principal_type` `USER`) or group.
///
/// `roleId` is the custom role id for `CUSTOM` roles and the role type for standard ones.
///
/// # Errors
/// A protocol error for an assignment without an `id`.
pub fn role_assignment(
    principal_type: &str,
    principal_id: &str,
    v: &Value,
    targets: &Targets,
) -> Result<Change> {
    let id = id_of(v, "id", "a role assignment")?;
    let role_type = field(v, "/type");
    let role_id = match v.get("role") {
        Some(Value::String(r)) => Value::String(r.clone()),
        _ => role_type.clone(),
    };
    Ok(Change::Upsert(
        Object::new(ROLE_ASSIGNMENT, format!("{principal_id}:{id}"))
            .in_scope(ORG_SCOPE)
            .with("principalType", principal_type)
            .with("principalId", principal_id)
            .with("assignmentId", id)
            .with("roleType", role_type)
            .with("label", field(v, "/label"))
            .with("roleId", role_id)
            .with("resourceSet", field(v, "/resource-set"))
            .with("status", field(v, "/status"))
            .with("assignmentType", field(v, "/assignmentType"))
            .with("created", field(v, "/created"))
            .with("lastUpdated", field(v, "/lastUpdated"))
            .with("targetGroupIds", targets.groups.clone())
            .with("targetApps", targets.apps.clone()),
    ))
}

/// The change for one factor of a user.
///
/// # Errors
/// A protocol error for a factor without an `id`.
pub fn user_factor(user_id: &str, v: &Value) -> Result<Change> {
    let id = id_of(v, "id", "a factor")?;
    let mut obj = Object::new(USER_FACTOR, format!("{user_id}:{id}"))
        .in_scope(user_id)
        .with("userId", user_id)
        .with("factorId", id);
    for k in [
        "factorType",
        "provider",
        "vendorName",
        "status",
        "created",
        "lastUpdated",
    ] {
        obj = obj.with(k, field(v, &format!("/{k}")));
    }
    Ok(Change::Upsert(obj))
}

/// The change for one group rule.
///
/// # Errors
/// A protocol error for a rule without an `id`.
pub fn group_rule(v: &Value) -> Result<Change> {
    let id = id_of(v, "id", "a group rule")?;
    let ids = |p: &str| match v.pointer(p) {
        Some(Value::Array(xs)) => Value::Array(xs.clone()),
        _ => Value::Array(Vec::new()),
    };
    Ok(Change::Upsert(
        Object::new(GROUP_RULE, id)
            .in_scope(ORG_SCOPE)
            .with("id", id)
            .with("name", field(v, "/name"))
            .with("status", field(v, "/status"))
            .with("expression", field(v, "/conditions/expression/value"))
            .with("expressionType", field(v, "/conditions/expression/type"))
            .with(
                "targetGroupIds",
                ids("/actions/assignUserToGroups/groupIds"),
            )
            .with("excludedUserIds", ids("/conditions/people/users/exclude"))
            .with("created", field(v, "/created"))
            .with("lastUpdated", field(v, "/lastUpdated")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn custom_roles_name_their_role_and_resource_set() {
        let v = json!({"id": "irb1", "type": "CUSTOM", "label": "Auditor", "role": "cr01",
            "resource-set": "iam1", "status": "ACTIVE", "assignmentType": "GROUP"});
        let t = Targets::default();
        let Change::Upsert(o) = role_assignment("GROUP", "00g1", &v, &t).unwrap() else {
            panic!("upsert expected")
        };
        assert_eq!(o.external_id, "00g1:irb1");
        assert_eq!(o.attributes["roleId"], "cr01");
        assert_eq!(o.attributes["resourceSet"], "iam1");
        let std = json!({"id": "ra1", "type": "APP_ADMIN"});
        let t = Targets {
            groups: vec![],
            apps: vec!["salesforce:0oa1".into()],
        };
        let Change::Upsert(o) = role_assignment("USER", "00u1", &std, &t).unwrap() else {
            panic!("upsert expected")
        };
        assert_eq!(o.attributes["roleId"], "APP_ADMIN");
        assert_eq!(o.attributes["targetApps"], json!(["salesforce:0oa1"]));
        assert_eq!(o.attributes["resourceSet"], Value::Null);
    }

    #[test]
    fn factors_and_rules() {
        let f = json!({"id": "mbl1", "factorType": "sms", "provider": "OKTA", "status": "ACTIVE"});
        let Change::Upsert(o) = user_factor("00u1", &f).unwrap() else {
            panic!("upsert expected")
        };
        assert_eq!(
            (o.external_id.as_str(), o.scope.as_deref()),
            ("00u1:mbl1", Some("00u1"))
        );
        assert_eq!(o.attributes["factorType"], "sms");
        let r = json!({"id": "0pr1", "name": "Eng", "status": "INACTIVE",
            "conditions": {"expression": {"value": "user.department==\"Eng\"", "type": "urn:okta:expression:1.0"},
                           "people": {"users": {"exclude": ["00u9"]}}},
            "actions": {"assignUserToGroups": {"groupIds": ["00g1", "00g2"]}}});
        let Change::Upsert(o) = group_rule(&r).unwrap() else {
            panic!("upsert expected")
        };
        assert_eq!(o.attributes["targetGroupIds"], json!(["00g1", "00g2"]));
        assert_eq!(o.attributes["excludedUserIds"], json!(["00u9"]));
        assert_eq!(o.attributes["expression"], "user.department==\"Eng\"");
    }
}
