//! What `check` says about the credential: the auth mode, the scopes the access token was
//! granted, and each configured list whose scope is missing (a core list would fail the run,
//! an IGA list would be skipped).

use connector_api::{CheckReport, Result};

use super::Credential;
use crate::config::Config;
use crate::okta::ResourceKind;
use crate::okta::iga::{IgaType, Level};

/// Each list the configuration reads, with the scope an OAuth app needs for it, and whether
/// a missing scope fails the run (core) or skips the list (IGA).
pub(crate) fn configured_lists(config: &Config) -> Vec<(String, &'static str, bool)> {
    let mut lists = Vec::new();
    if config.import_users {
        lists.push((
            "users (GET /api/v1/users)".to_owned(),
            "okta.users.read",
            true,
        ));
    }
    if config.import_groups || config.import_memberships {
        let what = "groups and members (GET /api/v1/groups)".to_owned();
        lists.push((what, "okta.groups.read", true));
    }
    if !config.iga.enabled {
        return lists;
    }
    let types: Vec<IgaType> = IgaType::ALL
        .into_iter()
        .filter(|t| config.iga.imports(*t))
        .collect();
    for (kind, scope, list) in [
        (
            ResourceKind::Application,
            "okta.apps.read",
            "GET /api/v1/apps",
        ),
        (
            ResourceKind::Group,
            "okta.groups.read",
            "GET /api/v1/groups",
        ),
    ] {
        let discovers = config.iga.resource_kinds.contains(&kind)
            && types.iter().any(
                |t| matches!(t.spec().level, Level::PerResource(kinds) if kinds.contains(&kind)),
            );
        if discovers {
            lists.push((format!("IGA resource discovery ({list})"), scope, false));
        }
    }
    for t in types {
        let spec = t.spec();
        if !spec.read_scope.is_empty() {
            lists.push((
                format!("{} ({})", spec.name, spec.endpoint),
                spec.read_scope,
                false,
            ));
        }
    }
    lists
}

/// `check`'s report started with the credential's lines, and the scopes the configuration
/// needs and the token lacks (their lists are not probed).
///
/// # Errors
/// The token request's failure (a refused assertion, a scope refused outright…).
pub(crate) async fn report(
    credential: &dyn Credential,
    config: &Config,
) -> Result<(CheckReport, Vec<&'static str>)> {
    let mut report = CheckReport::default();
    let (checks, warnings) = (&mut report.checks, &mut report.warnings);
    // The scopes first: fetching a token settles whether the app requires DPoP.
    let scopes = credential.scopes().await?;
    checks.push(format!("authenticates as {}", credential.describe()));
    let Some(scopes) = scopes else {
        return Ok((report, Vec::new()));
    };
    checks.push(format!(
        "the token endpoint issued an access token with the scopes: {}",
        scopes.granted.join(" ")
    ));
    if !scopes.refused.is_empty() {
        warnings.push(format!(
            "the token endpoint refused the scopes {} (the app was not granted them); the connector asks without them",
            scopes.refused.join(" ")
        ));
    }
    let mut missing = Vec::new();
    for (list, scope, core) in configured_lists(config) {
        if scopes.granted.iter().any(|g| g == scope) {
            continue;
        }
        missing.push(scope);
        let effect = if core {
            "the import fails with permission_denied until it is granted"
        } else {
            "the import skips this list until it is granted"
        };
        warnings.push(format!(
            "{list} needs the scope {scope}, which the app was not granted: {effect} (Admin Console → Applications → the app → Okta API Scopes)"
        ));
    }
    Ok((report, missing))
}
