//! The scopes the connector asks for by default: exactly what the configuration reads.

/// Which resource families a configuration reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ScopeNeeds<'a> {
    /// Users (`/api/v1/users`).
    pub users: bool,
    /// Groups and their members (`/api/v1/groups`).
    pub groups: bool,
    /// Applications and their assignments (`/api/v1/apps`).
    pub apps: bool,
    /// The System Log (`/api/v1/logs`), used for delta runs.
    pub logs: bool,
    /// Admin role assignments (`/api/v1/users/{id}/roles`, `/iam/…`).
    pub roles: bool,
    /// The read scopes of each configured IGA list (from the specs' `security`), in any order,
    /// duplicates allowed.
    pub iga: &'a [&'a str],
}

/// The space-separated `scope` parameter: core scopes in a fixed order, then each IGA scope
/// once, in the order first given. Empty when the configuration reads nothing.
pub(crate) fn default_scopes(needs: &ScopeNeeds<'_>) -> String {
    let core = [
        (needs.users, "okta.users.read"),
        (needs.groups, "okta.groups.read"),
        (needs.apps, "okta.apps.read"),
        (needs.logs, "okta.logs.read"),
        (needs.roles, "okta.roles.read"),
    ];
    let mut scopes: Vec<&str> = core.iter().filter(|(on, _)| *on).map(|(_, s)| *s).collect();
    for scope in needs.iga.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    scopes.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_then_each_iga_scope_once() {
        let iga = [
            "okta.governance.entitlements.read",
            "okta.governance.accessCertifications.read",
            "okta.governance.entitlements.read",
            " ",
        ];
        let needs = ScopeNeeds {
            users: true,
            groups: true,
            apps: false,
            logs: true,
            roles: false,
            iga: &iga,
        };
        assert_eq!(
            default_scopes(&needs),
            "okta.users.read okta.groups.read okta.logs.read \
             okta.governance.entitlements.read okta.governance.accessCertifications.read"
        );
    }

    #[test]
    fn every_core_family_and_nothing_else() {
        let all = ScopeNeeds {
            users: true,
            groups: true,
            apps: true,
            logs: true,
            roles: true,
            iga: &[],
        };
        assert_eq!(
            default_scopes(&all),
            "okta.users.read okta.groups.read okta.apps.read okta.logs.read okta.roles.read"
        );
        assert_eq!(default_scopes(&ScopeNeeds::default()), "");
        let apps_only = ScopeNeeds {
            apps: true,
            ..ScopeNeeds::default()
        };
        assert_eq!(default_scopes(&apps_only), "okta.apps.read");
    }
}
