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

/// Appends the JSON line `connector_api::abi::batch::encode` writes for
/// [`to_change(group_id, member_id)`](to_change), without building the change: a member page
/// is a thousand of them.
pub fn encode(group_id: &str, member_id: &str, out: &mut Vec<u8>) {
    let parts: [&[u8]; 13] = [
        b"{\"op\":\"upsert\",\"type\":\"",
        GROUP_MEMBER.as_bytes(),
        b"\",\"id\":\"",
        group_id.as_bytes(),
        b":",
        member_id.as_bytes(),
        b"\",\"scope\":\"",
        group_id.as_bytes(),
        b"\",\"attrs\":{\"groupId\":\"",
        group_id.as_bytes(),
        b"\",\"memberId\":\"",
        member_id.as_bytes(),
        b"\",\"memberType\":\"User\"}}\n",
    ];
    if plain(group_id) && plain(member_id) {
        for part in parts {
            out.extend_from_slice(part);
        }
    } else {
        // Ids needing escapes (never seen from Okta): the general encoder.
        connector_api::abi::batch::encode(&[to_change(group_id, member_id.to_owned())], out);
    }
}

/// Whether `s` is written into JSON as it is (no quote, backslash or control character).
fn plain(s: &str) -> bool {
    s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_writes_what_the_general_encoder_writes() {
        for (g, m) in [
            ("00g1", "00u2"),
            ("00gAbC", "00uXyZ9"),
            ("g\"1", "u\\2"),
            ("g\n", "ü✓"),
            ("", ""),
        ] {
            let mut fast = b"x\n".to_vec();
            encode(g, m, &mut fast);
            let mut general = b"x\n".to_vec();
            connector_api::abi::batch::encode(&[to_change(g, m.to_owned())], &mut general);
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&general)
            );
            let decoded = connector_api::abi::batch::decode(&fast[2..]).unwrap();
            assert_eq!(decoded, [to_change(g, m.to_owned())]);
        }
    }

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
