//! The mass-delete guard: refuse a run that would delete an unusual amount of stored data.
//!
//! An Okta token that lost a role, a `UserSearchFilter` typo, or a connector bug can make a
//! perfectly "successful" full run return far fewer objects than exist. Scope completion would
//! then delete the rest. The guard runs after the connector finished and before the run's final
//! transaction commits: when it trips, the deletes are rolled back, the watermark is kept, and
//! the run is recorded as failed with the reasons — an operator must look, and reruns with
//! `--allow-mass-delete` if the deletions are real.
//!
//! Rules (evaluated per object type, on objects that were stored *before* the run):
//! 1. **Share**: deleting more than `max_delete_share` of a type's stored objects trips, unless
//!    the number deleted is at most `allow_deletes_up_to` (a floor for tiny stores; default 0).
//! 2. **Empty full run**: a full run that emitted no object at all while the store has objects
//!    for the connector trips, whatever it would delete.
//! 3. **Emptied type**: a full run that would delete every stored object of a type and emitted
//!    none of it trips, regardless of the floor.

use std::collections::BTreeMap;
use std::fmt;

use connector_api::ImportMode;
use serde::{Deserialize, Serialize};

/// Guard settings (`[guard]` in host.toml).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GuardPolicy {
    /// The largest share (0–1) of a type's stored objects one run may delete. Default 0.2.
    pub max_delete_share: f64,
    /// Deleting at most this many objects of a type never trips the share rule. Default 0.
    pub allow_deletes_up_to: u64,
}

impl Default for GuardPolicy {
    fn default() -> Self {
        Self {
            max_delete_share: 0.2,
            allow_deletes_up_to: 0,
        }
    }
}

/// What the guard looks at.
#[derive(Debug, Clone, Default)]
pub struct GuardInput {
    /// Objects of each type stored before the run.
    pub stored_before: BTreeMap<String, u64>,
    /// Objects of each type (stored before the run) the run would delete, explicit and by scope.
    pub would_delete: BTreeMap<String, u64>,
    /// Upserts the run emitted, per type.
    pub emitted: BTreeMap<String, u64>,
}

/// Why the guard stopped a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum GuardTrip {
    /// Rule 1.
    Share {
        /// Object type.
        object_type: String,
        /// How many would be deleted.
        deleting: u64,
        /// How many were stored.
        stored: u64,
        /// The configured maximum share.
        limit: f64,
    },
    /// Rule 2.
    EmptyFullRun {
        /// Objects stored for the connector.
        stored: u64,
    },
    /// Rule 3.
    EmptiedType {
        /// Object type.
        object_type: String,
        /// How many would be deleted (all of them).
        stored: u64,
    },
}

impl fmt::Display for GuardTrip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuardTrip::Share {
                object_type,
                deleting,
                stored,
                limit,
            } => write!(
                f,
                "would delete {deleting} of {stored} stored {object_type} objects ({:.1}%, more \
                 than the {:.1}% allowed by guard.max_delete_share)",
                *deleting as f64 * 100.0 / *stored as f64,
                limit * 100.0
            ),
            GuardTrip::EmptyFullRun { stored } => write!(
                f,
                "the full run returned no objects at all, but the store has {stored}"
            ),
            GuardTrip::EmptiedType {
                object_type,
                stored,
            } => write!(
                f,
                "the full run returned no {object_type} objects and would delete all {stored} \
                 stored ones"
            ),
        }
    }
}

/// Applies the rules; an empty result means the run may commit its deletes.
pub fn evaluate(policy: &GuardPolicy, mode: ImportMode, input: &GuardInput) -> Vec<GuardTrip> {
    let mut trips = Vec::new();
    let stored_total: u64 = input.stored_before.values().sum();
    let emitted_total: u64 = input.emitted.values().sum();
    if mode == ImportMode::Full && emitted_total == 0 && stored_total > 0 {
        trips.push(GuardTrip::EmptyFullRun {
            stored: stored_total,
        });
    }
    for (object_type, &deleting) in &input.would_delete {
        let stored = input.stored_before.get(object_type).copied().unwrap_or(0);
        if deleting == 0 || stored == 0 {
            continue;
        }
        let emitted = input.emitted.get(object_type).copied().unwrap_or(0);
        if mode == ImportMode::Full && emitted == 0 && deleting >= stored {
            trips.push(GuardTrip::EmptiedType {
                object_type: object_type.clone(),
                stored,
            });
            continue;
        }
        let share_exceeded = deleting as f64 > policy.max_delete_share * stored as f64;
        if share_exceeded && deleting > policy.allow_deletes_up_to {
            trips.push(GuardTrip::Share {
                object_type: object_type.clone(),
                deleting,
                stored,
                limit: policy.max_delete_share,
            });
        }
    }
    trips
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    fn input(stored: &[(&str, u64)], del: &[(&str, u64)], emitted: &[(&str, u64)]) -> GuardInput {
        GuardInput {
            stored_before: map(stored),
            would_delete: map(del),
            emitted: map(emitted),
        }
    }

    #[test]
    fn share_at_the_limit_passes_above_trips() {
        let p = GuardPolicy::default();
        let at_limit = input(&[("User", 100)], &[("User", 20)], &[("User", 80)]);
        assert!(evaluate(&p, ImportMode::Full, &at_limit).is_empty());
        let above = input(&[("User", 100)], &[("User", 21)], &[("User", 79)]);
        let trips = evaluate(&p, ImportMode::Full, &above);
        assert_eq!(
            trips,
            vec![GuardTrip::Share {
                object_type: "User".into(),
                deleting: 21,
                stored: 100,
                limit: 0.2
            }]
        );
        assert_eq!(
            trips[0].to_string(),
            "would delete 21 of 100 stored User objects (21.0%, more than the 20.0% allowed by \
             guard.max_delete_share)"
        );
    }

    #[test]
    fn share_is_per_type() {
        let p = GuardPolicy::default();
        // 30 of 1000 objects overall, but 30 of 50 groups.
        let i = input(
            &[("User", 950), ("Group", 50)],
            &[("Group", 30)],
            &[("User", 950), ("Group", 20)],
        );
        let trips = evaluate(&p, ImportMode::Delta, &i);
        assert_eq!(trips.len(), 1);
        assert!(
            matches!(&trips[0], GuardTrip::Share { object_type, .. } if object_type == "Group")
        );
    }

    #[test]
    fn floor_lets_small_deletions_through() {
        let p = GuardPolicy {
            max_delete_share: 0.2,
            allow_deletes_up_to: 3,
        };
        let small = input(&[("Group", 4)], &[("Group", 2)], &[("Group", 2)]);
        assert!(evaluate(&p, ImportMode::Full, &small).is_empty());
        let strict = GuardPolicy::default();
        assert_eq!(evaluate(&strict, ImportMode::Full, &small).len(), 1);
    }

    #[test]
    fn empty_full_run_trips_even_without_deletes() {
        let p = GuardPolicy::default();
        let i = input(&[("User", 10)], &[], &[]);
        assert_eq!(
            evaluate(&p, ImportMode::Full, &i),
            vec![GuardTrip::EmptyFullRun { stored: 10 }]
        );
        // An empty delta run is normal.
        assert!(evaluate(&p, ImportMode::Delta, &i).is_empty());
        // An empty full run on an empty store is normal too.
        assert!(evaluate(&p, ImportMode::Full, &GuardInput::default()).is_empty());
    }

    #[test]
    fn emptied_type_trips_despite_the_floor() {
        let p = GuardPolicy {
            max_delete_share: 0.2,
            allow_deletes_up_to: 100,
        };
        let i = input(
            &[("User", 10), ("Group", 5)],
            &[("Group", 5)],
            &[("User", 10)],
        );
        assert_eq!(
            evaluate(&p, ImportMode::Full, &i),
            vec![GuardTrip::EmptiedType {
                object_type: "Group".into(),
                stored: 5
            }]
        );
    }

    #[test]
    fn a_share_of_one_allows_everything_but_an_emptied_type() {
        let p = GuardPolicy {
            max_delete_share: 1.0,
            allow_deletes_up_to: 0,
        };
        let i = input(&[("User", 10)], &[("User", 9)], &[("User", 1)]);
        assert!(evaluate(&p, ImportMode::Full, &i).is_empty());
    }
}
