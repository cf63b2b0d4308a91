//! `User` changes: create, partial update, reactivation, deactivation.
//!
//! Attributes map back as the import names them: Okta's base profile attributes under their
//! own names, custom ones as `custom.<name>`; `status: ACTIVE` asks for an active account.
//! The import's system attributes (`id`, `accountEnabled`, timestamps, `type`) are ignored;
//! any other name is refused, naming it.

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use connector_api::{ConnectorError, ExportStatus, Object, Result};

use super::io::{Io, Write};
use super::outcome::{failed, not_allowed, refused};
use crate::client::write::Sent;
use crate::config::Operation;
use crate::endpoints::users::OktaUser;
use crate::mapping::user::STANDARD_PROFILE;
use crate::okta::{Bucket, USER};

/// What the import emits besides the profile; never written.
const SYSTEM: [&str; 9] = [
    "id",
    "accountEnabled",
    "created",
    "activated",
    "statusChanged",
    "lastLogin",
    "lastUpdated",
    "passwordChanged",
    "type",
];

/// Attributes Okta requires of a new user.
const REQUIRED: [&str; 4] = ["login", "email", "firstName", "lastName"];

/// The user a change asks for.
#[derive(Debug)]
struct Desired {
    profile: Map<String, Value>,
    status: Option<String>,
}

impl Desired {
    fn of(o: &Object) -> Result<Desired> {
        let mut profile = Map::new();
        let mut status = None;
        for (name, v) in &o.attributes {
            if name == "status" {
                status = v.as_str().map(str::to_ascii_uppercase);
            } else if let Some(custom) = name.strip_prefix("custom.") {
                profile.insert(custom.to_owned(), v.clone());
            } else if STANDARD_PROFILE.contains(&name.as_str()) {
                profile.insert(name.clone(), v.clone());
            } else if !SYSTEM.contains(&name.as_str()) {
                return Err(ConnectorError::invalid_config(format!(
                    "User {}: `{name}` is not an Okta profile attribute",
                    o.external_id
                ))
                .with_remediation(format!(
                    "Use Okta's base attribute names (login, email, firstName, lastName, …) or custom.{name} for a \
                     custom attribute of the user profile"
                )));
            }
        }
        Ok(Desired { profile, status })
    }

    fn login(&self) -> Option<&str> {
        self.profile.get("login").and_then(Value::as_str)
    }

    /// The attributes whose value differs from `current`'s (`null` and absent are equal).
    fn diff(&self, current: &OktaUser) -> Map<String, Value> {
        self.profile
            .iter()
            .filter(|(k, v)| {
                let now = current.profile.get(*k).unwrap_or(&Value::Null);
                now != *v
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// A `User` upsert.
pub(super) async fn upsert(io: &Io<'_>, key: &str, o: &Object) -> Result<ExportStatus> {
    let desired = match Desired::of(o) {
        Ok(d) => d,
        Err(e) => return Ok(failed(e)),
    };
    let mut current = io.user(&o.external_id).await?;
    if current.is_none()
        && let Some(login) = desired.login().filter(|l| *l != o.external_id)
    {
        current = io.user(login).await?;
    }
    match current {
        None => create(io, key, o, &desired).await,
        Some(u) => update(io, key, o, &desired, &u).await,
    }
}

/// Okta's required attributes and formats, checked before anything is sent.
fn check_new(o: &Object, d: &Desired) -> Option<ConnectorError> {
    let text = |k: &str| {
        d.profile
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    };
    let missing: Vec<&str> = REQUIRED.into_iter().filter(|k| text(k).is_none()).collect();
    let email_like = |s: &str| {
        s.split_once('@')
            .is_some_and(|(l, h)| !l.is_empty() && !h.is_empty())
    };
    let malformed: Vec<&str> = ["login", "email"]
        .into_iter()
        .filter(|k| text(k).is_some_and(|v| !email_like(v)))
        .collect();
    let problem = match (missing.is_empty(), malformed.is_empty()) {
        (true, true) => return None,
        (false, _) => format!(
            "lacks {} (Okta requires login, email, firstName and lastName)",
            missing.join(", ")
        ),
        (true, false) => format!(
            "has {} not in the form of an email address",
            malformed.join(", ")
        ),
    };
    let fields = [missing, malformed].concat().join(", ");
    Some(
        ConnectorError::invalid_config(format!("the new user {} {problem}", o.external_id))
            .with_remediation(format!(
                "Set {fields} in the change's attributes and send it again"
            )),
    )
}

/// `POST /api/v1/users?activate=…`; a lost answer is resolved by looking the login up.
async fn create(io: &Io<'_>, key: &str, o: &Object, d: &Desired) -> Result<ExportStatus> {
    if let Some(e) = check_new(o, d) {
        return Ok(failed(e));
    }
    if !io.settings().allows(Operation::CreateUser) {
        return Ok(not_allowed(Operation::CreateUser));
    }
    if io.dry_run {
        io.plan_user(&[&o.external_id, d.login().unwrap_or_default()]);
        return Ok(ExportStatus::Applied { assigned_id: None });
    }
    let activate = if io.settings().activate_on_create {
        "true"
    } else {
        "false"
    };
    let profile: Map<String, Value> = d
        .profile
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let w = Write {
        key,
        operation: Operation::CreateUser,
        method: Method::POST,
        url: io.url(&["users"], &[("activate", activate)])?,
        endpoint: "POST /api/v1/users",
        bucket: Bucket::UserWrites,
        body: Some(json!({ "profile": profile })),
        object_type: USER,
        external_id: &o.external_id,
    };
    let login = d.login().unwrap_or_default();
    for attempt in 0..2u32 {
        let (sent, req) = io.write(&w).await?;
        let lost = match sent {
            Sent::Answered(r) if r.status.is_success() => {
                let u: OktaUser = serde_json::from_slice(&r.body).map_err(|e| {
                    ConnectorError::protocol(format!(
                        "Okta's answer to the create of {login} is not a user: {e}"
                    ))
                })?;
                return Ok(ExportStatus::Applied {
                    assigned_id: Some(u.id),
                });
            }
            Sent::Answered(r) => {
                return Ok(failed(refused(&r, &req, &format!("creating user {login}"))));
            }
            Sent::Unknown(e) => e,
        };
        // The answer was lost: Okta may hold the user already. Never create twice blindly.
        if let Some(status) = after_lost_create(io, d, login, lost, attempt).await? {
            return Ok(status);
        }
    }
    Ok(failed(ConnectorError::unavailable(format!(
        "creating user {login} got no answer"
    ))))
}

/// After a create without an answer: adopt the user Okta holds under `login` when its profile
/// matches the change, fail when it differs, and (`None`) send the create again once when there
/// is no such user.
async fn after_lost_create(
    io: &Io<'_>,
    d: &Desired,
    login: &str,
    lost: ConnectorError,
    attempt: u32,
) -> Result<Option<ExportStatus>> {
    Ok(match io.user(login).await? {
        Some(u) if d.diff(&u).is_empty() => Some(ExportStatus::Applied {
            assigned_id: Some(u.id),
        }),
        Some(u) => Some(failed(
            ConnectorError::unavailable(format!(
                "the answer to creating {login} was lost ({lost}), and Okta's user {} with that login \
                 differs from the change",
                u.id
            ))
            .with_remediation("Check the user in the Admin Console, then send the change again"),
        )),
        None if attempt == 0 => None,
        None => Some(failed(
            lost.context(format!("creating user {login} (no answer twice)")),
        )),
    })
}

/// The lifecycle call that makes a user of `from` ACTIVE: `(operation path, query)`.
fn reactivation(from: &str) -> std::result::Result<(&'static str, bool), String> {
    match from {
        "DEPROVISIONED" | "STAGED" => Ok(("activate", true)),
        "SUSPENDED" => Ok(("unsuspend", false)),
        "PROVISIONED" | "RECOVERY" => Ok(("reactivate", true)),
        other => Err(format!(
            "Okta has no lifecycle call from {other} to ACTIVE (unlock or reset the password in the Admin Console)"
        )),
    }
}

/// What an upsert of an existing user needs: a lifecycle call, then a partial update.
async fn update(
    io: &Io<'_>,
    key: &str,
    o: &Object,
    d: &Desired,
    u: &OktaUser,
) -> Result<ExportStatus> {
    let status = u.status.clone().unwrap_or_default();
    let lifecycle = match d.status.as_deref() {
        None => None,
        Some(s) if s == status => None,
        Some("ACTIVE") => match reactivation(&status) {
            Ok(op) => Some(op),
            Err(why) => {
                return Ok(failed(ConnectorError::not_supported(format!(
                    "User {}: {why}",
                    o.external_id
                ))));
            }
        },
        Some(other) => {
            return Ok(failed(
                ConnectorError::not_supported(format!(
                    "User {}: status {other} cannot be exported (the user is {status})",
                    o.external_id
                ))
                .with_remediation(
                    "Send status ACTIVE to reactivate, or a User delete to deactivate",
                ),
            ));
        }
    };
    let diff = d.diff(u);
    if lifecycle.is_none() && diff.is_empty() {
        return Ok(ExportStatus::Unchanged);
    }
    if status == "DEPROVISIONED" && lifecycle.is_none() {
        return Ok(failed(
            ConnectorError::not_supported(format!(
                "User {} is deactivated, and Okta does not update a deactivated user's profile",
                o.external_id
            ))
            .with_remediation("Send the change with status ACTIVE to reactivate the user first"),
        ));
    }
    for (needed, op) in [
        (lifecycle.is_some(), Operation::ReactivateUser),
        (!diff.is_empty(), Operation::UpdateUser),
    ] {
        if needed && !io.settings().allows(op) {
            return Ok(not_allowed(op));
        }
    }
    if io.dry_run {
        return Ok(ExportStatus::Applied { assigned_id: None });
    }
    if let Some((op, quiet)) = lifecycle
        && let Some(fail) = transition(io, key, o, u, op, quiet).await?
    {
        return Ok(fail);
    }
    if diff.is_empty() {
        return Ok(ExportStatus::Applied { assigned_id: None });
    }
    patch(io, key, o, u, diff).await
}

/// `POST /api/v1/users/{id}` with the differing attributes; sent again once if no answer
/// arrived (a partial update is idempotent).
async fn patch(
    io: &Io<'_>,
    key: &str,
    o: &Object,
    u: &OktaUser,
    diff: Map<String, Value>,
) -> Result<ExportStatus> {
    let w = Write {
        key,
        operation: Operation::UpdateUser,
        method: Method::POST,
        url: io.url(&["users", &u.id], &[])?,
        endpoint: "POST /api/v1/users/{id}",
        bucket: Bucket::UserWrites,
        body: Some(json!({ "profile": diff })),
        object_type: USER,
        external_id: &o.external_id,
    };
    io.write_idempotent(&w, &format!("updating user {}", u.id))
        .await
}

/// A lifecycle call; `Some(failure)` when Okta refused it or its effect cannot be confirmed.
async fn transition(
    io: &Io<'_>,
    key: &str,
    o: &Object,
    u: &OktaUser,
    op: &'static str,
    quiet: bool,
) -> Result<Option<ExportStatus>> {
    let (operation, endpoint, target) = match op {
        "deactivate" => (
            Operation::DeactivateUser,
            "POST /api/v1/users/{id}/lifecycle/deactivate",
            "DEPROVISIONED",
        ),
        "unsuspend" => (
            Operation::ReactivateUser,
            "POST /api/v1/users/{id}/lifecycle/unsuspend",
            "ACTIVE",
        ),
        "reactivate" => (
            Operation::ReactivateUser,
            "POST /api/v1/users/{id}/lifecycle/reactivate",
            "ACTIVE",
        ),
        _ => (
            Operation::ReactivateUser,
            "POST /api/v1/users/{id}/lifecycle/activate",
            "ACTIVE",
        ),
    };
    let query: &[(&str, &str)] = if quiet {
        &[("sendEmail", "false")]
    } else {
        &[]
    };
    let w = Write {
        key,
        operation,
        method: Method::POST,
        url: io.url(&["users", &u.id, "lifecycle", op], query)?,
        endpoint,
        bucket: Bucket::UserWrites,
        body: None,
        object_type: USER,
        external_id: &o.external_id,
    };
    let what = format!("{op} of user {}", u.id);
    match io.write(&w).await? {
        (Sent::Answered(r), _) if r.status.is_success() || r.status == StatusCode::NO_CONTENT => {
            Ok(None)
        }
        (Sent::Answered(r), req) => Ok(Some(failed(refused(&r, &req, &what)))),
        (Sent::Unknown(e), _) => {
            // No answer: the transition happened only if Okta now shows its target status.
            let now = io.user(&u.id).await?;
            if now.and_then(|n| n.status).as_deref() == Some(target) {
                Ok(None)
            } else {
                Ok(Some(failed(e.context(what))))
            }
        }
    }
}

/// A `User` delete: deactivation (`lifecycle/deactivate`), never the purging `DELETE`.
pub(super) async fn deactivate(io: &Io<'_>, key: &str, external_id: &str) -> Result<ExportStatus> {
    let Some(u) = io.user(external_id).await? else {
        return Ok(failed(
            ConnectorError::not_found(format!(
                "User {external_id} does not exist in Okta, so it cannot be deactivated"
            ))
            .with_remediation("Import again to refresh the stored user ids, then fix the change"),
        ));
    };
    if u.status.as_deref() == Some("DEPROVISIONED") {
        return Ok(ExportStatus::Unchanged);
    }
    if !io.settings().allows(Operation::DeactivateUser) {
        return Ok(not_allowed(Operation::DeactivateUser));
    }
    if io.dry_run {
        return Ok(ExportStatus::Applied { assigned_id: None });
    }
    let o = Object::new(USER, external_id);
    Ok(transition(io, key, &o, &u, "deactivate", false)
        .await?
        .unwrap_or(ExportStatus::Applied { assigned_id: None }))
}
