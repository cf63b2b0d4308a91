//! Okta facts: the object types this connector emits, Okta's page limits, its rate-limit
//! buckets, the resource kinds IGA lists are read for, and the IGA type table ([`iga`]).
//!
//! This is the leaf of the crate: it imports nothing from it, and every other module may
//! import it.

pub mod iga;

/// The `User` object type.
pub const USER: &str = "User";
/// The `Group` object type.
pub const GROUP: &str = "Group";
/// The `GroupMember` object type.
pub const GROUP_MEMBER: &str = "GroupMember";

/// The `App` object type.
pub const APP: &str = "App";
/// The `AppUser` object type (a user's assignment to an app).
pub const APP_USER: &str = "AppUser";
/// The `AppGroup` object type (a group's assignment to an app).
pub const APP_GROUP: &str = "AppGroup";
/// The `RoleAssignment` object type (an admin role held by a user or a group).
pub const ROLE_ASSIGNMENT: &str = "RoleAssignment";
/// The `UserFactor` object type (an enrolled MFA factor).
pub const USER_FACTOR: &str = "UserFactor";
/// The `GroupRule` object type.
pub const GROUP_RULE: &str = "GroupRule";

/// Okta's maximum `limit` for `GET /api/v1/apps/{appId}/users`.
pub const MAX_APP_USER_PAGE_SIZE: u32 = 500;
/// Okta's maximum `limit` for `GET /api/v1/apps/{appId}/groups`, role targets,
/// `GET /api/v1/iam/assignees/users` and `GET /api/v1/groups/rules`.
pub const MAX_ACCESS_PAGE_SIZE: u32 = 200;

/// Okta's maximum `limit` for `GET /api/v1/users`.
pub const MAX_USER_PAGE_SIZE: u32 = 200;
/// Okta's maximum `limit` for `GET /api/v1/groups`.
pub const MAX_GROUP_PAGE_SIZE: u32 = 10_000;
/// The largest `limit` this connector sends to `GET /api/v1/groups/{groupId}/users` (Okta's own
/// default page size for that endpoint; the spec sets no maximum).
pub const MAX_MEMBER_PAGE_SIZE: u32 = 1_000;
/// Okta's maximum `limit` for every paged IGA list.
pub const MAX_IGA_PAGE_SIZE: u32 = 200;

/// The admin-console host of an Okta-hosted org (`contoso-admin.okta.com` for
/// `contoso.okta.com`); `None` for a custom domain. Okta's IGA APIs put it in `next` links.
pub fn admin_domain(org_domain: &str) -> Option<String> {
    let (sub, rest) = org_domain.split_once('.')?;
    let okta_hosted = [
        "okta.com",
        "oktapreview.com",
        "okta-emea.com",
        "okta-gov.com",
        "okta.mil",
    ];
    okta_hosted
        .contains(&rest)
        .then(|| format!("{sub}-admin.{rest}"))
}

/// An Okta rate-limit bucket this connector uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bucket {
    /// `GET /api/v1/users` (list, filter, search).
    Users,
    /// `GET /api/v1/groups`.
    Groups,
    /// `/api/v1/groups/{groupId}` and below (member listings).
    GroupById,
    /// `GET /api/v1/apps` (resource discovery for IGA).
    Apps,
    /// `/api/v1/apps/{appId}` and below (app users and groups).
    AppById,
    /// `/api/v1/users/{userId}` and below (factors, roles; export's reads of one user and its
    /// groups).
    UserById,
    /// `/api/v1/iam/*` and other `/api/v1` endpoints.
    Other,
    /// `/governance/api/v1/*` (IGA lists, about 50 per minute).
    IgaV1,
    /// `/governance/api/v2/requests` (access requests, 30 per minute).
    IgaRequests,
    /// Other `/governance/api/v2/*` lists (catalog, request conditions and sequences).
    IgaV2,
    /// `GET /api/v1/logs` (System Log, 50 per minute on Enterprise orgs).
    Logs,
    /// `POST /api/v1/users` (create), `POST /api/v1/users/{id}` (update) and
    /// `POST /api/v1/users/{id}/lifecycle/*` (export's user writes).
    UserWrites,
    /// `PUT` / `DELETE /api/v1/groups/{groupId}/users/{userId}` (export's membership writes).
    GroupMemberWrites,
    /// `POST /oauth2/v1/token` (OAuth 2.0 service-app access tokens).
    Token,
}

impl Bucket {
    /// Every bucket, in a fixed order.
    pub const ALL: [Bucket; 14] = [
        Bucket::Users,
        Bucket::Groups,
        Bucket::GroupById,
        Bucket::Apps,
        Bucket::AppById,
        Bucket::UserById,
        Bucket::Other,
        Bucket::IgaV1,
        Bucket::IgaRequests,
        Bucket::IgaV2,
        Bucket::Logs,
        Bucket::UserWrites,
        Bucket::GroupMemberWrites,
        Bucket::Token,
    ];

    /// Okta's name of the bucket (its endpoint pattern).
    pub fn name(self) -> &'static str {
        match self {
            Bucket::Users => "/api/v1/users",
            Bucket::Groups => "/api/v1/groups",
            Bucket::GroupById => "/api/v1/groups/{id}",
            Bucket::Apps => "/api/v1/apps",
            Bucket::AppById => "/api/v1/apps/{id}",
            Bucket::UserById => "/api/v1/users/{id}",
            Bucket::Other => "/api/v1/*",
            Bucket::IgaV1 => "/governance/api/v1/*",
            Bucket::IgaRequests => "/governance/api/v2/requests",
            Bucket::IgaV2 => "/governance/api/v2/*",
            Bucket::Logs => "/api/v1/logs",
            Bucket::UserWrites => "POST /api/v1/users*",
            Bucket::GroupMemberWrites => "PUT|DELETE /api/v1/groups/{id}/users/{userId}",
            Bucket::Token => "/oauth2/v1/token",
        }
    }

    /// The position in [`Bucket::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Which kind of resource per-resource IGA objects are read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
pub enum ResourceKind {
    /// An app (`0oa…`).
    #[serde(rename = "applications")]
    Application,
    /// A group (`00g…`).
    #[serde(rename = "groups")]
    Group,
}

impl ResourceKind {
    /// The spelling in IGA filters and in scopes: `APPLICATION` or `GROUP`.
    pub fn filter_value(self) -> &'static str {
        match self {
            ResourceKind::Application => "APPLICATION",
            ResourceKind::Group => "GROUP",
        }
    }

    /// The spelling in `Iga.ResourceTypes`: `applications` or `groups`.
    pub fn config_value(self) -> &'static str {
        match self {
            ResourceKind::Application => "applications",
            ResourceKind::Group => "groups",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_domains_only_for_okta_hosted_orgs() {
        assert_eq!(
            admin_domain("contoso.okta.com").as_deref(),
            Some("contoso-admin.okta.com")
        );
        assert_eq!(admin_domain("login.contoso.com"), None);
        assert_eq!(ResourceKind::Group.config_value(), "groups");
        assert!(Bucket::ALL.iter().enumerate().all(|(i, b)| b.index() == i));
    }
}
