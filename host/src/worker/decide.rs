//! The loop's decisions, as pure functions of the store's history, the leases and the time:
//! which connectors are due, in which mode, and which of them to start with the free slots.

use chrono::{DateTime, Utc};

use crate::runner::ModeChoice;
use crate::scheduler::{self, History, Schedule};
use crate::store::LeaseRow;

/// What the store says about one connector, for the decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// Starts of the last run and of the last successful full run.
    pub history: History,
    /// The last run is still `running` in the store under a worker's lease, and this worker
    /// is not running it: its worker died or lost the lease, so it is taken over at once.
    pub orphaned: bool,
}

/// Whether to run a connector now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Not before `until` (nothing needs to be read again before then).
    Wait {
        /// The next slot.
        until: DateTime<Utc>,
    },
    /// Due now, in this mode.
    Due(ModeChoice),
}

/// The decision for a connector with `schedule`, given what the store says, at `now`.
pub fn decide(schedule: &Schedule, seen: &Seen, now: DateTime<Utc>) -> Decision {
    let slot = scheduler::next_slot(schedule, &seen.history, now);
    if seen.orphaned || slot.at <= now {
        // The slot is `now` when due; a takeover runs now in the mode the slot says.
        let at_now = scheduler::next_slot(
            schedule,
            &History {
                last_run_started: None,
                ..seen.history
            },
            now,
        );
        Decision::Due(at_now.mode)
    } else {
        Decision::Wait { until: slot.at }
    }
}

/// Whether another worker holds an unexpired lease of the connector (so it runs it now).
pub fn leased_elsewhere(lease: Option<&LeaseRow>, holder: &str) -> bool {
    lease.is_some_and(|l| !l.expired && l.holder != holder)
}

/// A due connector waiting for a free slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The connector.
    pub name: String,
    /// Since when it has been due (the end of its previous interval), for fairness.
    pub due_since: DateTime<Utc>,
}

/// The candidates to try with `free` slots: the longest-waiting first (then by name), at
/// most `free`. A candidate may still lose its lease race; the loop then tries the next.
pub fn pick(mut due: Vec<Candidate>, free: usize) -> Vec<Candidate> {
    due.sort_by(|a, b| a.due_since.cmp(&b.due_since).then(a.name.cmp(&b.name)));
    due.truncate(free);
    due
}

/// When a connector became due: `every` after its last run started, or the epoch if never run.
pub fn due_since(schedule: &Schedule, history: &History) -> DateTime<Utc> {
    history
        .last_run_started
        .map_or(DateTime::<Utc>::UNIX_EPOCH, |t| t + schedule.every)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn t(m: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(m)
    }

    fn sched() -> Schedule {
        Schedule {
            every: Duration::minutes(15),
            full_every: Duration::days(1),
        }
    }

    fn seen(last: Option<i64>, full: Option<i64>, orphaned: bool) -> Seen {
        Seen {
            history: History {
                last_run_started: last.map(t),
                last_full_success: full.map(t),
            },
            orphaned,
        }
    }

    #[test]
    fn never_run_is_due_full() {
        assert_eq!(
            decide(&sched(), &seen(None, None, false), t(0)),
            Decision::Due(ModeChoice::Full)
        );
    }

    #[test]
    fn a_recent_run_waits_for_its_slot_then_runs_auto() {
        let s = seen(Some(60), Some(0), false);
        assert_eq!(decide(&sched(), &s, t(70)), Decision::Wait { until: t(75) });
        assert_eq!(decide(&sched(), &s, t(75)), Decision::Due(ModeChoice::Auto));
    }

    #[test]
    fn a_full_run_is_due_when_the_last_full_success_is_old() {
        let s = seen(Some(24 * 60 - 5), Some(0), false);
        assert_eq!(
            decide(&sched(), &s, t(24 * 60 + 10)),
            Decision::Due(ModeChoice::Full)
        );
    }

    #[test]
    fn an_orphaned_run_is_taken_over_at_once() {
        // The dead worker's run started a minute ago: its slot is 14 minutes away, but the
        // connector has no live run, so it is due now.
        let s = seen(Some(60), Some(0), true);
        assert_eq!(decide(&sched(), &s, t(61)), Decision::Due(ModeChoice::Auto));
        // A dead full run (no full success yet) is taken over as a full run.
        let s = seen(Some(60), None, true);
        assert_eq!(decide(&sched(), &s, t(61)), Decision::Due(ModeChoice::Full));
    }

    #[test]
    fn only_an_unexpired_lease_of_another_holder_counts() {
        let row = |holder: &str, expired| LeaseRow {
            connector: "a".into(),
            holder: holder.into(),
            acquired_at: String::new(),
            renewed_at: String::new(),
            expires_at: String::new(),
            expired,
        };
        assert!(!leased_elsewhere(None, "me"));
        assert!(!leased_elsewhere(Some(&row("me", false)), "me"));
        assert!(leased_elsewhere(Some(&row("w2", false)), "me"));
        assert!(!leased_elsewhere(Some(&row("w2", true)), "me"));
    }

    #[test]
    fn the_longest_waiting_go_first_within_the_free_slots() {
        let c = |name: &str, m| Candidate {
            name: name.into(),
            due_since: t(m),
        };
        let due = vec![c("c", 30), c("b", 10), c("a", 30), c("d", 0)];
        let names = |v: Vec<Candidate>| v.into_iter().map(|c| c.name).collect::<Vec<_>>();
        assert_eq!(names(pick(due.clone(), 3)), ["d", "b", "a"]);
        assert_eq!(names(pick(due.clone(), 0)), Vec::<String>::new());
        assert_eq!(names(pick(due, 9)), ["d", "b", "a", "c"]);
        assert_eq!(
            due_since(&sched(), &History::default()),
            DateTime::<Utc>::UNIX_EPOCH
        );
        assert_eq!(
            due_since(&sched(), &seen(Some(60), None, false).history),
            t(75)
        );
    }
}
