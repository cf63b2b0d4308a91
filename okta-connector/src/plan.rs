//! What a run fetches: the decisions, separated from their execution (`run.rs`).
//!
//! | | full run | delta run (watermark `u`, `g`) |
//! | --- | --- | --- |
//! | users | every user, every status; `User` marked complete | users with `lastUpdated > u` |
//! | groups | every group; `Group` marked complete | groups with `lastUpdated > g` or `lastMembershipUpdated > g` |
//! | members | every group's members; each group's scope and `GroupMember` marked complete | members of groups with `lastMembershipUpdated > g`; each such group's scope marked complete |
//!
//! With `DeltaSource` `"SystemLog"` (the default) a delta run also reads the System Log from
//! the watermark's `l` minus `DeltaSafetyMarginSeconds` (from `g` when the watermark has no
//! `l`), and reads a changed group's members only when the log does not explain the change
//! (`syslog/`, applied in `run.rs`).
//!
//! DEPROVISIONED users become deletes in both. `UserSearchFilter` moves the user listing from
//! `filter` to `search` (see [`crate::endpoints::users`]); `GroupSearchFilter` does the same
//! for the group listing, and then a full run completes only the groups it read — each
//! group's member scope — never the whole `Group` or `GroupMember` type, so no group outside
//! the filter (nor its members) is ever deleted.

use chrono::{DateTime, Utc};
use connector_api::{ConnectorError, ImportMode, ImportRequest, Result};

use crate::config::{Config, DeltaSource};
use crate::endpoints::groups::OktaGroup;
use crate::endpoints::users::UserQuery;
use crate::watermark::{self, OktaWatermark};

/// Which groups get their members read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberPlan {
    /// Memberships are not imported.
    Skip,
    /// Every listed group (full runs).
    EveryGroup,
    /// Groups whose `lastMembershipUpdated` is after this instant (delta runs).
    ChangedAfter(DateTime<Utc>),
}

/// The plan of one import run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Full or delta.
    pub mode: ImportMode,
    /// The user listing, if users are imported.
    pub users: Option<UserQuery>,
    /// The group listing (`Some(None)` = every group, `Some(Some(t))` = changed after `t`),
    /// needed when groups or memberships are imported.
    pub groups: Option<Option<DateTime<Utc>>>,
    /// Whether listed groups are emitted as `Group` objects.
    pub emit_groups: bool,
    /// Which groups' members are read.
    pub members: MemberPlan,
    /// The operator's `GroupSearchFilter`, if any.
    pub group_search: Option<String>,
    /// The watermark the run started from (empty for full runs).
    pub previous: OktaWatermark,
    /// Where a System Log delta reads the log from (`None`: full runs and `LastUpdated`).
    pub log_since: Option<DateTime<Utc>>,
}

impl Plan {
    /// Plans a run.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidWatermark`](connector_api::ErrorKind) for a delta run without a
    /// usable watermark.
    pub fn new(config: &Config, request: &ImportRequest) -> Result<Plan> {
        let needs_groups = config.import_groups || config.import_memberships;
        let previous = match request.mode {
            ImportMode::Full => OktaWatermark::default(),
            ImportMode::Delta => {
                let w = request.watermark.as_ref().ok_or_else(|| {
                    ConnectorError::invalid_watermark(
                        "a delta run needs the watermark of an earlier run",
                    )
                    .with_remediation("Run a full import first")
                })?;
                let parsed = OktaWatermark::parse(w)?;
                parsed.require(config.import_users, needs_groups)?;
                parsed
            }
        };
        let since_u = previous.u;
        let since_g = previous.g;
        let log_since = match (request.mode, config.delta_source) {
            (ImportMode::Delta, DeltaSource::SystemLog) => previous
                .l
                .map(|l| l - config.delta_safety_margin)
                .or(since_g)
                .or(since_u),
            _ => None,
        };
        Ok(Plan {
            mode: request.mode,
            users: config.import_users.then(|| UserQuery {
                search: config.user_search_filter.clone(),
                updated_after: since_u,
            }),
            groups: needs_groups.then_some(since_g),
            emit_groups: config.import_groups,
            members: match (config.import_memberships, since_g) {
                (false, _) => MemberPlan::Skip,
                (true, None) => MemberPlan::EveryGroup,
                (true, Some(t)) => MemberPlan::ChangedAfter(t),
            },
            group_search: config.access.group_search_filter.clone(),
            previous,
            log_since,
        })
    }

    /// Whether whole types may be marked complete (full runs only).
    pub fn completes_types(&self) -> bool {
        self.mode == ImportMode::Full
    }

    /// Whether the whole `Group` and `GroupMember` types may be marked complete: full runs
    /// without a `GroupSearchFilter`.
    pub fn completes_group_types(&self) -> bool {
        self.completes_types() && self.group_search.is_none()
    }

    /// Whether the members of `group` are read in this run.
    pub fn reads_members_of(&self, group: &OktaGroup) -> bool {
        match self.members {
            MemberPlan::Skip => false,
            MemberPlan::EveryGroup => true,
            MemberPlan::ChangedAfter(t) => match group
                .last_membership_updated
                .as_deref()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            {
                Some(changed) => changed.to_utc() > t,
                // Unknown: read it, re-delivery is harmless.
                None => true,
            },
        }
    }

    /// Fails when the watermark is ahead of Okta's own clock (an edited watermark in the
    /// future would silently skip every change until that time).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidWatermark`](connector_api::ErrorKind).
    pub fn check_not_ahead(
        &self,
        key: &str,
        since: Option<DateTime<Utc>>,
        server_date: i64,
    ) -> Result<()> {
        let Some(since) = since else { return Ok(()) };
        let now = DateTime::from_timestamp(server_date, 0).unwrap_or_default();
        if since > now {
            return Err(ConnectorError::invalid_watermark(format!(
                "the watermark's \"{key}\" ({}) is later than Okta's current time ({}); a delta run from it would \
                 miss every change until then",
                watermark::format(since),
                watermark::format(now)
            ))
            .with_remediation("Run a full import, or edit the watermark to an earlier time"));
        }
        Ok(())
    }

    /// The plan in words, for the run-started log record.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(q) = &self.users {
            let (name, value) = q.parameter();
            parts.push(format!("users ({name}={value})"));
        }
        if let Some(expr) = &self.group_search {
            parts.push(format!("groups matching GroupSearchFilter {expr}"));
        }
        match (self.groups, self.emit_groups) {
            (Some(None), true) => parts.push("all groups".to_owned()),
            (Some(Some(t)), true) => {
                parts.push(format!("groups changed after {}", watermark::format(t)))
            }
            _ => {}
        }
        match self.members {
            MemberPlan::Skip => {}
            MemberPlan::EveryGroup => parts.push("members of every group".to_owned()),
            MemberPlan::ChangedAfter(t) => parts.push(format!(
                "members of groups whose membership changed after {}{}",
                watermark::format(t),
                if self.log_since.is_some() {
                    " and the System Log does not explain"
                } else {
                    ""
                }
            )),
        }
        if let Some(t) = self.log_since {
            parts.push(format!("System Log since {}", watermark::format(t)));
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigJson;
    use connector_api::{ErrorKind, Watermark};

    fn config(extra: serde_json::Value) -> Config {
        let mut v = serde_json::json!({"OrgDomain": "contoso.okta.com"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        Config::validate(serde_json::from_value::<ConfigJson>(v).unwrap()).unwrap()
    }

    fn group(lmu: Option<&str>) -> OktaGroup {
        serde_json::from_value(serde_json::json!({"id": "00g1", "lastMembershipUpdated": lmu}))
            .unwrap()
    }

    #[test]
    fn full_run_reads_everything() {
        let p = Plan::new(&config(serde_json::json!({})), &ImportRequest::full()).unwrap();
        assert!(p.completes_types());
        assert_eq!(
            p.users,
            Some(UserQuery {
                search: None,
                updated_after: None
            })
        );
        assert_eq!(p.groups, Some(None));
        assert!(p.reads_members_of(&group(Some("2001-01-01T00:00:00.000Z"))));
    }

    #[test]
    fn delta_reads_changes_and_changed_member_lists_only() {
        let w =
            Watermark::new(r#"{"u":"2026-11-23T10:00:00.000Z","g":"2026-11-23T09:00:00.000Z"}"#);
        let p = Plan::new(&config(serde_json::json!({})), &ImportRequest::delta(w)).unwrap();
        assert!(!p.completes_types());
        assert_eq!(
            p.users.as_ref().unwrap().parameter(),
            (
                "filter",
                "lastUpdated gt \"2026-11-23T10:00:00.000Z\"".into()
            )
        );
        assert!(p.reads_members_of(&group(Some("2026-11-23T09:00:01.000Z"))));
        assert!(!p.reads_members_of(&group(Some("2026-11-23T09:00:00.000Z"))));
        assert!(p.reads_members_of(&group(None)));
        assert!(
            p.describe()
                .contains("membership changed after 2026-11-23T09:00:00.000Z")
        );
    }

    #[test]
    fn delta_needs_a_complete_watermark() {
        let c = config(serde_json::json!({}));
        let missing_g = Watermark::new(r#"{"u":"2026-11-23T10:00:00.000Z"}"#);
        let e = Plan::new(&c, &ImportRequest::delta(missing_g.clone())).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidWatermark);
        // ...unless groups and memberships are not imported.
        let users_only =
            config(serde_json::json!({"ImportGroups": false, "ImportMemberships": false}));
        let p = Plan::new(&users_only, &ImportRequest::delta(missing_g)).unwrap();
        assert_eq!(p.groups, None);
        assert_eq!(p.members, MemberPlan::Skip);
        let no_wm = ImportRequest::new(ImportMode::Delta);
        assert_eq!(
            Plan::new(&c, &no_wm).unwrap_err().kind(),
            ErrorKind::InvalidWatermark
        );
    }

    #[test]
    fn a_system_log_delta_reads_from_the_log_cursor_minus_the_margin_or_from_g() {
        let c = config(serde_json::json!({}));
        let old =
            Watermark::new(r#"{"u":"2026-11-23T10:00:00.000Z","g":"2026-11-23T09:00:00.000Z"}"#);
        let p = Plan::new(&c, &ImportRequest::delta(old)).unwrap();
        assert_eq!(
            p.log_since.map(watermark::format).as_deref(),
            Some("2026-11-23T09:00:00.000Z")
        );
        assert!(
            p.describe()
                .contains("System Log since 2026-11-23T09:00:00.000Z")
        );
        let with_l = Watermark::new(
            r#"{"u":"2026-11-23T10:00:00.000Z","g":"2026-11-23T09:00:00.000Z","l":"2026-11-23T11:00:00.000Z"}"#,
        );
        let p = Plan::new(&c, &ImportRequest::delta(with_l.clone())).unwrap();
        assert_eq!(
            p.log_since.map(watermark::format).as_deref(),
            Some("2026-11-23T10:58:00.000Z")
        );
        let last_updated = config(serde_json::json!({"DeltaSource": "LastUpdated"}));
        assert_eq!(
            Plan::new(&last_updated, &ImportRequest::delta(with_l))
                .unwrap()
                .log_since,
            None
        );
        assert_eq!(
            Plan::new(&c, &ImportRequest::full()).unwrap().log_since,
            None
        );
    }

    #[test]
    fn watermark_ahead_of_the_server_is_rejected() {
        let p = Plan::new(&config(serde_json::json!({})), &ImportRequest::full()).unwrap();
        let t = DateTime::from_timestamp(2_000_000_000, 0);
        assert!(p.check_not_ahead("u", t, 2_000_000_000).is_ok());
        assert_eq!(
            p.check_not_ahead("u", t, 1_999_999_999).unwrap_err().kind(),
            ErrorKind::InvalidWatermark
        );
    }
}
