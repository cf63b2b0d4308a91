//! Admin roles: `GET /api/v1/iam/assignees/users` (every user holding a role; limit 200, the
//! list is `value` in an envelope), `GET /api/v1/users/{userId}/roles` and
//! `GET /api/v1/groups/{groupId}/roles` (one principal's assignments, unpaged), and the targets
//! of a scoped standard role: `…/roles/{assignmentId}/targets/groups` and
//! `…/targets/catalog/apps` (limit 200). Okta has no listing of the groups holding roles, so
//! group roles are read group by group.

use serde_json::Value;
use url::Url;

use crate::client::http::ApiOrigin;
use crate::client::pagination::Pager;
use crate::okta::{Bucket, MAX_ACCESS_PAGE_SIZE};

/// Endpoint template of the role holders.
pub const ASSIGNEES_ENDPOINT: &str = "GET /api/v1/iam/assignees/users";
/// Endpoint template of a user's roles.
pub const USER_ROLES_ENDPOINT: &str = "GET /api/v1/users/{userId}/roles";
/// Endpoint template of a group's roles.
pub const GROUP_ROLES_ENDPOINT: &str = "GET /api/v1/groups/{groupId}/roles";
/// Endpoint template of a role's group targets.
pub const GROUP_TARGETS_ENDPOINT: &str =
    "GET /api/v1/{users|groups}/{id}/roles/{roleAssignmentId}/targets/groups";
/// Endpoint template of a role's app targets.
pub const APP_TARGETS_ENDPOINT: &str =
    "GET /api/v1/{users|groups}/{id}/roles/{roleAssignmentId}/targets/catalog/apps";

/// Who holds a role: a user or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// A user (`/api/v1/users/…`).
    User,
    /// A group (`/api/v1/groups/…`).
    Group,
}

impl Holder {
    fn path(self) -> &'static str {
        match self {
            Holder::User => "users",
            Holder::Group => "groups",
        }
    }

    fn bucket(self) -> Bucket {
        match self {
            Holder::User => Bucket::UserById,
            Holder::Group => Bucket::GroupById,
        }
    }
}

/// A pager over the users holding a role.
pub fn assignees_pager(origin: &ApiOrigin) -> Pager<Value> {
    let mut url = origin.url("/api/v1/iam/assignees/users");
    url.query_pairs_mut()
        .append_pair("limit", &MAX_ACCESS_PAGE_SIZE.to_string());
    Pager::new(url, ASSIGNEES_ENDPOINT, Bucket::Other).enveloped()
}

/// A pager over one principal's role assignments (one page).
pub fn roles_pager(origin: &ApiOrigin, holder: Holder, id: &str) -> Pager<Value> {
    let url = origin.url(&format!("/api/v1/{}/{id}/roles", holder.path()));
    let endpoint = match holder {
        Holder::User => USER_ROLES_ENDPOINT,
        Holder::Group => GROUP_ROLES_ENDPOINT,
    };
    Pager::new(url, endpoint, holder.bucket())
}

/// A pager over the group (`apps = false`) or app targets of one role assignment.
pub fn targets_pager(
    origin: &ApiOrigin,
    (holder, id): (Holder, &str),
    assignment: &str,
    apps: bool,
) -> Pager<Value> {
    let what = if apps { "catalog/apps" } else { "groups" };
    let mut url: Url = origin.url(&format!(
        "/api/v1/{}/{id}/roles/{assignment}/targets/{what}",
        holder.path()
    ));
    url.query_pairs_mut()
        .append_pair("limit", &MAX_ACCESS_PAGE_SIZE.to_string());
    let endpoint = if apps {
        APP_TARGETS_ENDPOINT
    } else {
        GROUP_TARGETS_ENDPOINT
    };
    Pager::new(url, endpoint, holder.bucket())
}
