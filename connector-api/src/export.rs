//! Write-back: what a host asks a connector to export, and what the connector answers per change.
//!
//! A host sends an [`ExportRequest`]: changes (the same [`Change`] model imports emit), each with
//! an idempotency key, and a dry-run flag. The connector answers with an [`ExportReport`] holding
//! one [`ChangeOutcome`] per change, in order, with the change's key:
//!
//! * [`ExportStatus::Applied`] — the target now reflects the change (optionally with the id the
//!   target assigned). With `dry_run`, *would be applied*; nothing was written.
//! * [`ExportStatus::Unchanged`] — the target already was in that state (re-sending an applied
//!   change is harmless and reports this).
//! * [`ExportStatus::Skipped`] — not attempted, with the reason (for example the export was
//!   cancelled before the change was reached).
//! * [`ExportStatus::Failed`] — attempted and refused, with a classified [`ConnectorError`].
//!
//! A connector never reports `Applied` or `Unchanged` for a change it did not apply or verify.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ConnectorError, ErrorKind};
use crate::model::Change;

/// One change to export, with its idempotency key.
///
/// The key identifies the change across retries: a host re-sending a change after a timeout
/// sends the same key, and a connector that keeps a record of applied keys may answer
/// `Unchanged` from it. Keys are opaque, non-empty and unique within a request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ExportChange {
    /// The idempotency key.
    pub key: String,
    /// The change.
    pub change: Change,
}

impl ExportChange {
    /// A change with its idempotency key.
    pub fn new(key: impl Into<String>, change: Change) -> Self {
        Self {
            key: key.into(),
            change,
        }
    }
}

/// What a host asks a connector to write.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ExportRequest {
    /// The changes, applied in order.
    pub changes: Vec<ExportChange>,
    /// Report what would happen without writing anything.
    pub dry_run: bool,
}

impl ExportRequest {
    /// A request to apply `changes` (not a dry run).
    pub fn new(changes: Vec<ExportChange>) -> Self {
        Self {
            changes,
            dry_run: false,
        }
    }

    /// A request whose keys are the changes' positions (`"1"`, `"2"`, …), for tests and tools
    /// that do not retry.
    pub fn numbered(changes: impl IntoIterator<Item = Change>) -> Self {
        Self::new(
            changes
                .into_iter()
                .enumerate()
                .map(|(i, c)| ExportChange::new((i + 1).to_string(), c))
                .collect(),
        )
    }

    /// Sets the dry-run flag.
    #[must_use]
    pub fn with_dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }
}

/// The options of an export that are not changes; crosses the C ABI as JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExportOptions {
    /// See [`ExportRequest::dry_run`].
    #[serde(default)]
    pub dry_run: bool,
}

impl ExportOptions {
    /// Options with `dry_run` set as given.
    pub fn new(dry_run: bool) -> Self {
        Self { dry_run }
    }
}

/// What happened to one exported change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExportStatus {
    /// The target now reflects the change (with `dry_run`: would be applied).
    Applied {
        /// The id the target assigned to a created object, when it differs from the change's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assigned_id: Option<String>,
    },
    /// The target already was in the state the change asks for; nothing was written.
    Unchanged,
    /// The change was not attempted.
    Skipped {
        /// Why, in words an operator can act on.
        reason: String,
    },
    /// The change was attempted and refused or failed.
    Failed {
        /// The classified reason, with remediation where there is one.
        error: ConnectorError,
    },
}

impl ExportStatus {
    /// A stable snake_case name: `applied`, `unchanged`, `skipped` or `failed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ExportStatus::Applied { .. } => "applied",
            ExportStatus::Unchanged => "unchanged",
            ExportStatus::Skipped { .. } => "skipped",
            ExportStatus::Failed { .. } => "failed",
        }
    }

    /// Whether the target holds the change: applied or unchanged.
    pub fn is_success(&self) -> bool {
        matches!(self, ExportStatus::Applied { .. } | ExportStatus::Unchanged)
    }
}

impl fmt::Display for ExportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportStatus::Applied {
                assigned_id: Some(id),
            } => write!(f, "applied (id {id})"),
            ExportStatus::Skipped { reason } => write!(f, "skipped: {reason}"),
            ExportStatus::Failed { error } => write!(f, "failed: {error}"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// The outcome of one change, under the change's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChangeOutcome {
    /// The key of the change this outcome is for.
    pub key: String,
    /// What happened.
    #[serde(flatten)]
    pub status: ExportStatus,
}

impl ChangeOutcome {
    /// An outcome for the change with `key`.
    pub fn new(key: impl Into<String>, status: ExportStatus) -> Self {
        Self {
            key: key.into(),
            status,
        }
    }

    /// `Applied` without an assigned id.
    pub fn applied(key: impl Into<String>) -> Self {
        Self::new(key, ExportStatus::Applied { assigned_id: None })
    }

    /// `Unchanged`.
    pub fn unchanged(key: impl Into<String>) -> Self {
        Self::new(key, ExportStatus::Unchanged)
    }

    /// `Skipped` with a reason.
    pub fn skipped(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(
            key,
            ExportStatus::Skipped {
                reason: reason.into(),
            },
        )
    }

    /// `Failed` with a classified error.
    pub fn failed(key: impl Into<String>, error: ConnectorError) -> Self {
        Self::new(key, ExportStatus::Failed { error })
    }

    /// `Skipped` because the export was cancelled before this change was reached.
    pub fn not_attempted(key: impl Into<String>) -> Self {
        Self::skipped(
            key,
            "not attempted: the export was cancelled before this change",
        )
    }
}

/// What a connector answers to an [`ExportRequest`]: one outcome per change, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportReport {
    /// One outcome per requested change, in the request's order.
    pub outcomes: Vec<ChangeOutcome>,
}

impl ExportReport {
    /// A report from its outcomes.
    pub fn new(outcomes: Vec<ChangeOutcome>) -> Self {
        Self { outcomes }
    }

    /// Whether every change was applied or unchanged.
    pub fn all_succeeded(&self) -> bool {
        self.outcomes.iter().all(|o| o.status.is_success())
    }

    /// How many outcomes have status `name` (`applied`, `unchanged`, `skipped`, `failed`).
    pub fn count(&self, name: &str) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.status.as_str() == name)
            .count()
    }

    /// Checks that the report answers `request`: one outcome per change, with the same keys in
    /// the same order.
    ///
    /// # Errors
    /// [`ErrorKind::Protocol`] naming the first mismatch.
    pub fn matches(&self, request: &ExportRequest) -> Result<(), ConnectorError> {
        if self.outcomes.len() != request.changes.len() {
            return Err(ConnectorError::new(
                ErrorKind::Protocol,
                format!(
                    "the connector answered {} outcomes for {} changes",
                    self.outcomes.len(),
                    request.changes.len()
                ),
            ));
        }
        let mismatch = request
            .changes
            .iter()
            .zip(&self.outcomes)
            .position(|(c, o)| c.key != o.key);
        match mismatch {
            None => Ok(()),
            Some(i) => Err(ConnectorError::protocol(format!(
                "outcome {} has key {:?}, but change {} has key {:?}",
                i + 1,
                self.outcomes[i].key,
                i + 1,
                request.changes[i].key
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Object;

    #[test]
    fn outcomes_round_trip_as_flat_json() {
        let cases = [
            (
                ChangeOutcome::applied("k1"),
                r#"{"key":"k1","status":"applied"}"#,
            ),
            (
                ChangeOutcome::new(
                    "k2",
                    ExportStatus::Applied {
                        assigned_id: Some("00u9".into()),
                    },
                ),
                r#"{"key":"k2","status":"applied","assigned_id":"00u9"}"#,
            ),
            (
                ChangeOutcome::unchanged("k3"),
                r#"{"key":"k3","status":"unchanged"}"#,
            ),
            (
                ChangeOutcome::skipped("k4", "later"),
                r#"{"key":"k4","status":"skipped","reason":"later"}"#,
            ),
            (
                ChangeOutcome::failed("k5", ConnectorError::not_found("no group g9")),
                r#"{"key":"k5","status":"failed","error":{"kind":"not_found","message":"no group g9"}}"#,
            ),
        ];
        for (outcome, json) in cases {
            assert_eq!(serde_json::to_string(&outcome).unwrap(), json);
            assert_eq!(
                serde_json::from_str::<ChangeOutcome>(json).unwrap(),
                outcome
            );
        }
    }

    #[test]
    fn a_report_must_answer_every_key_in_order() {
        let request = ExportRequest::numbered([
            Change::Upsert(Object::new("User", "a")),
            Change::delete("User", "b"),
        ]);
        let good = ExportReport::new(vec![
            ChangeOutcome::applied("1"),
            ChangeOutcome::unchanged("2"),
        ]);
        good.matches(&request).unwrap();
        assert!(good.all_succeeded());
        let short = ExportReport::new(vec![ChangeOutcome::applied("1")]);
        assert!(
            short
                .matches(&request)
                .unwrap_err()
                .message()
                .contains("1 outcomes for 2 changes")
        );
        let swapped = ExportReport::new(vec![
            ChangeOutcome::applied("2"),
            ChangeOutcome::applied("1"),
        ]);
        assert_eq!(
            swapped.matches(&request).unwrap_err().kind(),
            ErrorKind::Protocol
        );
        let failed = ExportReport::new(vec![
            ChangeOutcome::applied("1"),
            ChangeOutcome::not_attempted("2"),
        ]);
        assert!(!failed.all_succeeded());
        assert_eq!(failed.count("skipped"), 1);
    }
}
