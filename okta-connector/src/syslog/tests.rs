use super::*;

fn event(uuid: &str, at: &str, ty: &str, user: Option<&str>, group: Option<&str>) -> LogEvent {
    let mut target = Vec::new();
    if let Some(u) = user {
        target.push(
            serde_json::json!({"id": u, "type": "User", "alternateId": format!("{u}@example.com")}),
        );
    }
    if let Some(g) = group {
        target.push(serde_json::json!({"id": g, "type": "UserGroup"}));
    }
    serde_json::from_value(serde_json::json!({
        "uuid": uuid, "published": at, "eventType": ty,
        "outcome": {"result": "SUCCESS"}, "target": target
    }))
    .unwrap()
}

type Row<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// A delta that took in these events, in order.
fn delta_of(rows: &[Row<'_>]) -> LogDelta {
    let mut d = LogDelta::default();
    for &(uuid, at, ty, user, group) in rows {
        d.add(&event(uuid, at, ty, user, group));
    }
    d
}

const ADD: &str = "group.user_membership.add";
const REMOVE: &str = "group.user_membership.remove";

fn targets() -> Targets {
    Targets {
        users: true,
        groups: true,
        memberships: true,
        external_id: ExternalIdAttribute::Id,
    }
}

fn group(id: &str, lmu: &str) -> OktaGroup {
    serde_json::from_value(serde_json::json!({"id": id, "lastMembershipUpdated": lmu})).unwrap()
}

#[test]
fn an_event_seen_twice_counts_once_and_the_last_published_wins() {
    let mut d = LogDelta::default();
    assert!(d.add(&event(
        "a",
        "2026-01-01T00:00:01Z",
        ADD,
        Some("00u1"),
        Some("00g1")
    )));
    assert!(d.add(&event(
        "b",
        "2026-01-01T00:00:03Z",
        REMOVE,
        Some("00u1"),
        Some("00g1")
    )));
    // Late: published before the remove, delivered after it.
    assert!(d.add(&event(
        "c",
        "2026-01-01T00:00:02Z",
        ADD,
        Some("00u1"),
        Some("00g1")
    )));
    assert!(!d.add(&event(
        "a",
        "2026-01-01T00:00:01Z",
        ADD,
        Some("00u1"),
        Some("00g1")
    )));
    assert_eq!(d.events, 3);
    let changes = d.changes(targets(), &HashSet::new(), true).unwrap();
    assert_eq!(changes, vec![Change::delete(GROUP_MEMBER, "00g1:00u1")]);
}

#[test]
fn failed_events_change_nothing() {
    let mut d = LogDelta::default();
    let mut e = event("a", "2026-01-01T00:00:01Z", ADD, Some("00u1"), Some("00g1"));
    e.outcome = Some(crate::endpoints::logs::LogOutcome {
        result: Some("FAILURE".into()),
    });
    assert!(d.add(&e));
    assert!(
        d.changes(targets(), &HashSet::new(), true)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_deleted_user_takes_its_memberships_and_a_deleted_group_its_scope() {
    let d = delta_of(&[
        ("a", "2026-01-01T00:00:01Z", ADD, Some("00u1"), Some("00g1")),
        (
            "b",
            "2026-01-01T00:00:02Z",
            "user.lifecycle.delete.initiated",
            Some("00u1"),
            None,
        ),
        (
            "c",
            "2026-01-01T00:00:02Z",
            "user.lifecycle.delete.completed",
            Some("00u1"),
            None,
        ),
        ("d", "2026-01-01T00:00:03Z", ADD, Some("00u2"), Some("00g2")),
        (
            "e",
            "2026-01-01T00:00:04Z",
            "group.lifecycle.delete",
            None,
            Some("00g2"),
        ),
    ]);
    let changes = d.changes(targets(), &HashSet::new(), true).unwrap();
    assert_eq!(
        changes,
        vec![
            Change::delete(GROUP_MEMBER, "00g1:00u1"),
            Change::delete(USER, "00u1"),
            Change::delete_where(GROUP_MEMBER, MEMBER_ID, "00u1"),
            Change::delete(GROUP, "00g2"),
            Change::ScopeComplete(Scope::within(GROUP_MEMBER, "00g2")),
        ]
    );
    // An older host: no delete_where; the login is the external id when configured so.
    let login = Targets {
        external_id: ExternalIdAttribute::Login,
        ..targets()
    };
    let changes = d.changes(login, &HashSet::new(), false).unwrap();
    assert!(changes.contains(&Change::delete(USER, "00u1@example.com")));
    assert!(
        !changes
            .iter()
            .any(|c| matches!(c, Change::DeleteWhere { .. }))
    );
}

#[test]
fn groups_read_in_full_keep_their_own_edges() {
    let d = delta_of(&[
        ("a", "2026-01-01T00:00:01Z", ADD, Some("00u1"), Some("00g1")),
        ("b", "2026-01-01T00:00:01Z", ADD, Some("00u1"), Some("00g2")),
    ]);
    let full = HashSet::from(["00g1".to_owned()]);
    let changes = d.changes(targets(), &full, true).unwrap();
    assert_eq!(
        changes,
        vec![mapping::member::to_change("00g2", "00u1".into())]
    );
}

#[test]
fn a_move_is_explained_by_a_membership_event_or_a_user_delete() {
    let d = delta_of(&[
        ("a", "2026-01-01T00:00:10Z", ADD, Some("00u1"), Some("00g1")),
        (
            "b",
            "2026-01-01T00:00:20Z",
            "user.lifecycle.delete.completed",
            Some("00u2"),
            None,
        ),
        (
            "c",
            "2026-01-01T00:00:05Z",
            "group.lifecycle.create",
            None,
            Some("00g3"),
        ),
        ("d", "2026-01-01T00:00:06Z", ADD, Some("00u1"), Some("00g3")),
    ]);
    assert!(d.explains(&group("00g1", "2026-01-01T00:00:10.000Z"), false));
    // A later move than the last event: something the log has not shown yet.
    assert!(!d.explains(&group("00g1", "2026-01-01T00:00:15.000Z"), false));
    // Moved by the user delete: explained only when the host deletes by member id.
    assert!(d.explains(&group("00g2", "2026-01-01T00:00:20.000Z"), true));
    assert!(!d.explains(&group("00g2", "2026-01-01T00:00:20.000Z"), false));
    // A created group is read in full.
    assert!(!d.explains(&group("00g3", "2026-01-01T00:00:06.000Z"), true));
}

#[test]
fn a_cursor_older_than_the_retention_is_expired() {
    let now = 1_800_000_000;
    let t = DateTime::from_timestamp(now, 0).unwrap();
    assert!(check_retention(t - Duration::days(89), now).is_ok());
    let e = check_retention(t - Duration::days(91), now).unwrap_err();
    assert_eq!(e.kind(), connector_api::ErrorKind::WatermarkExpired);
    assert!(e.remediation().unwrap().contains("full import"));
}
