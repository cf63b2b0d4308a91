//! When the next scheduled run is due, and whether it is a full or a delta run.
//!
//! `host schedule okta --every 15m --full-every 7d` runs a delta import every 15 minutes and a
//! full import (which detects hard deletes) once the last *successful* full run is 7 days old.
//! The decision is a pure function of the run history and the current time, which the caller
//! passes in, so it is tested without waiting.
//!
//! Rules:
//! * the next run starts `every` after the previous run *started* (runs do not drift by their
//!   own duration), or at once when that moment has passed or there is no previous run —
//!   missed slots are not caught up one by one;
//! * that run is a full run when no full run ever succeeded, or when the last successful one
//!   started at least `full_every` before the slot; otherwise it is a delta run (`auto`: a full
//!   run when no watermark is stored).

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::runner::ModeChoice;

/// The cadence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Schedule {
    /// Time between runs.
    pub every: Duration,
    /// Maximum age of the last successful full run.
    pub full_every: Duration,
}

/// What the store says about past runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct History {
    /// Start of the most recent run, whatever its outcome.
    pub last_run_started: Option<DateTime<Utc>>,
    /// Start of the most recent successful full run.
    pub last_full_success: Option<DateTime<Utc>>,
}

/// The next run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Slot {
    /// When it should start.
    pub at: DateTime<Utc>,
    /// Full, or auto (delta when a watermark exists).
    pub mode: ModeChoice,
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.mode {
            ModeChoice::Full => "full",
            _ => "delta",
        };
        write!(f, "{kind} run at {}", crate::clock::format_ts(self.at))
    }
}

/// The next slot after `history`, as seen at `now`.
pub fn next_slot(schedule: &Schedule, history: &History, now: DateTime<Utc>) -> Slot {
    let at = match history.last_run_started {
        Some(last) => (last + schedule.every).max(now),
        None => now,
    };
    let full_due = match history.last_full_success {
        None => true,
        Some(full) => at >= full + schedule.full_every,
    };
    Slot {
        at,
        mode: if full_due {
            ModeChoice::Full
        } else {
            ModeChoice::Auto
        },
    }
}

/// Parses a duration such as `90s`, `15m`, `1h30m`, `7d` or `2w` (units s, m, h, d, w).
///
/// # Errors
/// A message saying what was expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let expected =
        || format!("`{text}` is not a duration; expected e.g. 90s, 15m, 1h30m, 7d or 2w");
    let mut total = Duration::zero();
    let mut digits = String::new();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().map_err(|_| expected())?;
        digits.clear();
        let unit = match c {
            's' => Duration::try_seconds(n),
            'm' => Duration::try_minutes(n),
            'h' => Duration::try_hours(n),
            'd' => Duration::try_days(n),
            'w' => Duration::try_weeks(n),
            _ => None,
        }
        .ok_or_else(expected)?;
        total = total.checked_add(&unit).ok_or_else(expected)?;
        any = true;
    }
    if !digits.is_empty() || !any {
        return Err(expected());
    }
    if total < Duration::seconds(1) {
        return Err(format!("`{text}` is too short; the minimum is 1s"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(h: i64, m: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
            + Duration::hours(h)
            + Duration::minutes(m)
    }

    fn sched() -> Schedule {
        Schedule {
            every: Duration::minutes(15),
            full_every: Duration::days(7),
        }
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("15m").unwrap(), Duration::minutes(15));
        assert_eq!(parse_duration("7d").unwrap(), Duration::days(7));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::minutes(90));
        assert_eq!(parse_duration("90s").unwrap(), Duration::seconds(90));
        assert_eq!(parse_duration("2w").unwrap(), Duration::weeks(2));
        for bad in ["", "15", "m", "15x", "1.5h", "-5m", "0s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn first_run_is_full_and_immediate() {
        let slot = next_slot(&sched(), &History::default(), t(0, 0));
        assert_eq!(
            slot,
            Slot {
                at: t(0, 0),
                mode: ModeChoice::Full
            }
        );
    }

    #[test]
    fn deltas_follow_every_from_the_last_start() {
        let h = History {
            last_run_started: Some(t(1, 0)),
            last_full_success: Some(t(0, 0)),
        };
        let slot = next_slot(&sched(), &h, t(1, 3));
        assert_eq!(
            slot,
            Slot {
                at: t(1, 15),
                mode: ModeChoice::Auto
            }
        );
    }

    #[test]
    fn missed_slots_run_once_now() {
        let h = History {
            last_run_started: Some(t(1, 0)),
            last_full_success: Some(t(0, 0)),
        };
        let slot = next_slot(&sched(), &h, t(5, 0));
        assert_eq!(slot.at, t(5, 0));
    }

    #[test]
    fn full_run_when_the_last_full_is_old_enough() {
        let week = 7 * 24;
        let h = History {
            last_run_started: Some(t(week - 1, 50)),
            last_full_success: Some(t(0, 0)),
        };
        // The slot at week+0:05 is past the full run's due time.
        let slot = next_slot(&sched(), &h, t(week - 1, 51));
        assert_eq!(
            slot,
            Slot {
                at: t(week, 5),
                mode: ModeChoice::Full
            }
        );
        // Just before, deltas.
        let h = History {
            last_run_started: Some(t(week - 1, 30)),
            ..h
        };
        assert_eq!(
            next_slot(&sched(), &h, t(week - 1, 31)).mode,
            ModeChoice::Auto
        );
    }

    #[test]
    fn a_failed_full_run_is_retried_at_the_next_slot() {
        // The last run (a full one) failed: no successful full run yet.
        let h = History {
            last_run_started: Some(t(0, 0)),
            last_full_success: None,
        };
        assert_eq!(
            next_slot(&sched(), &h, t(0, 1)),
            Slot {
                at: t(0, 15),
                mode: ModeChoice::Full
            }
        );
    }
}
