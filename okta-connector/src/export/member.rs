//! `GroupMember` changes: `PUT` / `DELETE /api/v1/groups/{groupId}/users/{userId}`.
//!
//! The external id is `<groupId>:<userId>` as the import emits it (or the `groupId` and
//! `memberId` attributes); the user may be named by id or login. Only `OKTA_GROUP` groups take
//! membership writes: an `APP_GROUP`'s members come from its app, `BUILT_IN` (`Everyone`) holds
//! every user.

use reqwest::Method;
use serde_json::Value;

use connector_api::{Attributes, ConnectorError, ExportStatus, Result};

use super::io::{Io, Write};
use super::outcome::{failed, not_allowed};
use crate::config::Operation;
use crate::okta::{Bucket, GROUP_MEMBER};

/// `(groupId, userId)` of a membership change.
fn parse(external_id: &str, attrs: &Attributes) -> Result<(String, String)> {
    let attr = |k: &str| {
        attrs
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if let (Some(g), Some(u)) = (attr("groupId"), attr("memberId")) {
        return Ok((g.to_owned(), u.to_owned()));
    }
    match external_id.split_once(':') {
        Some((g, u)) if !g.is_empty() && !u.is_empty() => Ok((g.to_owned(), u.to_owned())),
        _ => Err(ConnectorError::invalid_config(format!(
            "GroupMember id {external_id:?} is not `<groupId>:<userId>`"
        ))
        .with_remediation("Write GroupMember ids as the import does: <groupId>:<userId>")),
    }
}

/// Why a group's memberships cannot be written, if they cannot.
fn not_writable(group_id: &str, group_type: &str) -> Option<ConnectorError> {
    let why = match group_type {
        "OKTA_GROUP" => return None,
        "APP_GROUP" => {
            "is an APP_GROUP: its members are imported from its app (for example Active Directory), and \
                        Okta lets only that app change them"
        }
        "BUILT_IN" => {
            "is a BUILT_IN group (Everyone): Okta makes every user a member and manages it itself"
        }
        _ => "is not an OKTA_GROUP, and Okta changes memberships of OKTA_GROUP groups only",
    };
    Some(
        ConnectorError::not_supported(format!("group {group_id} {why}")).with_remediation(
            "Change this membership in the group's source, or use an OKTA_GROUP group",
        ),
    )
}

/// Adds (`add`) or removes a membership.
pub(super) async fn set(
    io: &Io<'_>,
    key: &str,
    external_id: &str,
    attrs: &Attributes,
    add: bool,
) -> Result<ExportStatus> {
    let (gid, uid) = match parse(external_id, attrs) {
        Ok(ids) => ids,
        Err(e) => return Ok(failed(e)),
    };
    let Some(group) = io.group(&gid).await? else {
        return Ok(failed(missing("group", &gid)));
    };
    if let Some(e) = not_writable(&gid, group.group_type.as_deref().unwrap_or("")) {
        return Ok(failed(e));
    }
    let Some(user) = io.user(&uid).await? else {
        if io.dry_run && add && io.planned_user(&uid) {
            // An earlier change of this dry run would create the user.
            return Ok(if io.settings().allows(Operation::AddMember) {
                ExportStatus::Applied { assigned_id: None }
            } else {
                not_allowed(Operation::AddMember)
            });
        }
        return Ok(failed(missing("user", &uid)));
    };
    let member = io.group_ids_of(&user.id).await?.contains(&group.id);
    if member == add {
        return Ok(ExportStatus::Unchanged);
    }
    let op = if add {
        Operation::AddMember
    } else {
        Operation::RemoveMember
    };
    if !io.settings().allows(op) {
        return Ok(not_allowed(op));
    }
    if io.dry_run {
        return Ok(ExportStatus::Applied { assigned_id: None });
    }
    send(io, key, external_id, (&group.id, &user.id), add).await
}

/// The `PUT` or `DELETE` itself; both are idempotent in Okta, so one without an answer is
/// sent once more.
async fn send(
    io: &Io<'_>,
    key: &str,
    external_id: &str,
    (group_id, user_id): (&str, &str),
    add: bool,
) -> Result<ExportStatus> {
    let (operation, method, endpoint, what) = if add {
        let e = "PUT /api/v1/groups/{groupId}/users/{userId}";
        (
            Operation::AddMember,
            Method::PUT,
            e,
            format!("adding user {user_id} to group {group_id}"),
        )
    } else {
        let e = "DELETE /api/v1/groups/{groupId}/users/{userId}";
        (
            Operation::RemoveMember,
            Method::DELETE,
            e,
            format!("removing user {user_id} from group {group_id}"),
        )
    };
    let w = Write {
        key,
        operation,
        method,
        url: io.url(&["groups", group_id, "users", user_id], &[])?,
        endpoint,
        bucket: Bucket::GroupMemberWrites,
        body: None,
        object_type: GROUP_MEMBER,
        external_id,
    };
    io.write_idempotent(&w, &what).await
}

fn missing(kind: &str, id: &str) -> ConnectorError {
    ConnectorError::not_found(format!("the {kind} {id} does not exist in Okta"))
        .with_remediation("Import again to refresh the stored ids, then fix the change")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_the_external_id_or_attributes() {
        let none = Attributes::new();
        assert_eq!(
            parse("00g1:00u2", &none).unwrap(),
            ("00g1".into(), "00u2".into())
        );
        assert!(parse("00g1", &none).is_err());
        assert!(parse(":00u2", &none).is_err());
        let mut a = Attributes::new();
        a.insert("groupId".into(), "00g9".into());
        a.insert("memberId".into(), "ann@example.com".into());
        assert_eq!(
            parse("x", &a).unwrap(),
            ("00g9".into(), "ann@example.com".into())
        );
        assert!(not_writable("g", "OKTA_GROUP").is_none());
        for t in ["APP_GROUP", "BUILT_IN"] {
            let e = not_writable("g", t).unwrap();
            assert!(
                e.message().contains(t) || e.message().contains("BUILT_IN"),
                "{e}"
            );
        }
    }
}
