//! The watermark: `{"u":"2026-11-23T10:00:00.000Z","g":"2026-11-23T10:00:00.000Z"}`.
//!
//! One ISO 8601 high-water timestamp per object family, in Okta's own clock:
//!
//! * `u` — users: the next delta run reads users with `lastUpdated` after it;
//! * `g` — groups and memberships: the next delta run reads groups whose `lastUpdated` or
//!   `lastMembershipUpdated` is after it, and re-reads the members of those whose
//!   `lastMembershipUpdated` is;
//! * `l` — the System Log cursor (`DeltaSource` `"SystemLog"`): Okta's time when the last delta
//!   run started reading the log. The next one reads events published since `l` minus
//!   `DeltaSafetyMarginSeconds` (events appear late; those seen twice change nothing). A
//!   watermark without `l` (written by a full run, or before the System Log was read) is valid:
//!   its first SystemLog delta reads from `g`.
//!
//! A new value is the server's `Date` at the start of the listing, minus
//! `DeltaSafetyMarginSeconds`: anything modified while the run was paging, or shortly before
//! it (Okta's `search` is eventually consistent), is after it and is read again by the next
//! delta run. The local clock plays no part. Operators may edit the values (any RFC 3339
//! timestamp is accepted; an earlier one only re-reads more). Keys of families a run did not
//! read are carried over unchanged.

use chrono::{DateTime, SecondsFormat, Utc};
use connector_api::{ConnectorError, Result, Watermark};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The parsed watermark.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaWatermark {
    /// Users high-water mark.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp")]
    pub u: Option<DateTime<Utc>>,
    /// Groups and memberships high-water mark.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp")]
    pub g: Option<DateTime<Utc>>,
    /// System Log cursor: Okta's time when the last log read started.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp")]
    pub l: Option<DateTime<Utc>>,
}

mod stamp {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_str(&super::format(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(s.trim())
            .map(|t| Some(t.to_utc()))
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "\"{s}\" is not an ISO 8601 timestamp like 2026-11-23T10:00:00.000Z ({e})"
                ))
            })
    }
}

/// `2026-11-23T10:00:00.000Z`.
pub fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Why a watermark cannot be used, with the fix.
fn invalid(what: String) -> ConnectorError {
    ConnectorError::invalid_watermark(what).with_remediation(
        "Run a full import (which writes a fresh watermark), or edit the watermark to the form \
         {\"u\":\"2026-11-23T10:00:00.000Z\",\"g\":\"2026-11-23T10:00:00.000Z\"}",
    )
}

impl OktaWatermark {
    /// Parses a stored watermark.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidWatermark`](connector_api::ErrorKind) naming the problem.
    pub fn parse(w: &Watermark) -> Result<Self> {
        let mut de = serde_json::Deserializer::from_str(w.as_str());
        let parsed: OktaWatermark = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let at = if path == "." {
                String::new()
            } else {
                format!(" at `{path}`")
            };
            invalid(format!(
                "the Okta watermark \"{}\" is not valid{at}: {}",
                truncate(w.as_str()),
                e.into_inner()
            ))
        })?;
        de.end()
            .map_err(|e| invalid(format!("the Okta watermark has trailing text ({e})")))?;
        Ok(parsed)
    }

    /// Checks that every family the configuration imports has a timestamp.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidWatermark`](connector_api::ErrorKind) naming the missing key.
    pub fn require(&self, users: bool, groups: bool) -> Result<()> {
        if users && self.u.is_none() {
            return Err(invalid(
                "the Okta watermark has no \"u\" (users) timestamp, but users are imported — it was written while \
                 ImportUsers was off"
                    .to_owned(),
            ));
        }
        if groups && self.g.is_none() {
            return Err(invalid(
                "the Okta watermark has no \"g\" (groups) timestamp, but groups or memberships are imported — it was \
                 written while both were off"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// The watermark text.
    pub fn to_watermark(&self) -> Watermark {
        Watermark::new(serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned()))
    }
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s.to_owned()
    }
}

/// The high-water mark for a listing whose first answer carried `Date: server_date` (epoch
/// seconds): that instant minus the safety margin.
pub fn high_water(server_date: i64, margin: chrono::Duration) -> DateTime<Utc> {
    DateTime::from_timestamp(server_date, 0).unwrap_or_default() - margin
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_api::ErrorKind;

    #[test]
    fn round_trips_hand_readable_json() {
        let w =
            Watermark::new(r#"{"u":"2026-11-23T10:00:00.000Z","g":"2026-11-23T11:00:00+01:00"}"#);
        let p = OktaWatermark::parse(&w).unwrap();
        assert_eq!(p.g, p.u);
        assert_eq!(
            p.to_watermark().as_str(),
            r#"{"u":"2026-11-23T10:00:00.000Z","g":"2026-11-23T10:00:00.000Z"}"#
        );
        let only_u = OktaWatermark {
            u: p.u,
            ..OktaWatermark::default()
        };
        assert_eq!(
            only_u.to_watermark().as_str(),
            r#"{"u":"2026-11-23T10:00:00.000Z"}"#
        );
    }

    #[test]
    fn rejects_garbage_with_a_hint() {
        for bad in [
            "",
            "yesterday",
            r#"{"u":"yesterday"}"#,
            r#"{"u":"2026-11-23T10:00:00.000Z","x":"2026-11-23T10:00:00.000Z"}"#,
            r#"{"u":5}"#,
            r#"{"u":"2026-11-23T10:00:00.000Z"} {}"#,
        ] {
            let e = OktaWatermark::parse(&Watermark::new(bad)).expect_err(bad);
            assert_eq!(e.kind(), ErrorKind::InvalidWatermark, "{bad}");
            assert!(e.remediation().unwrap().contains("full import"), "{bad}");
        }
        let e = OktaWatermark::parse(&Watermark::new(r#"{"u":"yesterday"}"#)).unwrap_err();
        assert!(e.message().contains("`u`"), "{e}");
    }

    #[test]
    fn require_names_the_missing_key() {
        let w =
            OktaWatermark::parse(&Watermark::new(r#"{"g":"2026-11-23T10:00:00.000Z"}"#)).unwrap();
        assert!(w.require(false, true).is_ok());
        let e = w.require(true, true).unwrap_err();
        assert!(e.message().contains("\"u\""));
    }

    #[test]
    fn the_log_cursor_is_optional_and_round_trips() {
        let old = r#"{"u":"2026-11-23T10:00:00.000Z","g":"2026-11-23T10:00:00.000Z"}"#;
        let p = OktaWatermark::parse(&Watermark::new(old)).unwrap();
        assert_eq!(p.l, None);
        let with_l = OktaWatermark {
            l: p.g,
            ..p.clone()
        };
        let text = with_l.to_watermark();
        assert_eq!(
            text.as_str(),
            r#"{"u":"2026-11-23T10:00:00.000Z","g":"2026-11-23T10:00:00.000Z","l":"2026-11-23T10:00:00.000Z"}"#
        );
        assert_eq!(OktaWatermark::parse(&text).unwrap(), with_l);
    }

    #[test]
    fn high_water_is_server_date_minus_margin() {
        let t = high_water(1_795_428_000, chrono::Duration::seconds(120));
        assert_eq!(format(t), "2026-11-23T09:58:00.000Z");
    }
}
