//! A group member → a `GroupMember` upsert with external id `<groupId>:<memberId>`, in the
//! group's scope so a full member list can be marked complete per group.

use connector_api::{Change, Object};

use super::GROUP_MEMBER;

/// The change for one membership. `member_id` is always the Okta user id (immutable), whatever
/// `ExternalIdAttribute` says, so memberships survive renames.
pub fn to_change(group_id: &str, member_id: String) -> Change {
    Change::Upsert(
        Object::new(GROUP_MEMBER, format!("{group_id}:{member_id}"))
            .in_scope(group_id)
            .with("groupId", group_id)
            .with("memberId", member_id)
            .with("memberType", "User"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_scope_and_attributes() {
        let Change::Upsert(o) = to_change("00g1", "00u2".into()) else {
            panic!("upsert expected")
        };
        assert_eq!(o.external_id, "00g1:00u2");
        assert_eq!(o.scope.as_deref(), Some("00g1"));
        assert_eq!(o.attributes["groupId"], "00g1");
        assert_eq!(o.attributes["memberId"], "00u2");
        assert_eq!(o.attributes["memberType"], "User");
    }
}
