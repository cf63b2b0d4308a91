//! The export checks for connectors that declare export (see [`check_export`](super::check_export)).

use std::collections::BTreeMap;

use super::{Subject, Verdict, import, skip, test_context, upserts};
use crate::connector::Connector;
use crate::export::{ExportReport, ExportRequest, ExportStatus};
use crate::model::{Descriptor, ImportRequest, Object, ObjectType};

/// What a full import sees, as comparable owned values.
type Snapshot = BTreeMap<(ObjectType, String), Object>;

async fn snapshot(connector: &dyn Connector) -> Result<Snapshot, String> {
    let (result, changes) = import(connector, ImportRequest::full()).await;
    result.map_err(|e| format!("a full import during the export check failed: {e}"))?;
    Ok(upserts(&changes)
        .into_iter()
        .map(|((t, id), o)| ((t.clone(), id.to_owned()), o.clone()))
        .collect())
}

async fn export(
    connector: &dyn Connector,
    request: &ExportRequest,
    cancelled: bool,
) -> Result<Option<ExportReport>, String> {
    let (ctx, token) = test_context();
    if cancelled {
        token.cancel();
    }
    match connector.export(&ctx, request.clone()).await {
        Ok(report) => {
            report.matches(request).map_err(|e| e.to_string())?;
            Ok(Some(report))
        }
        // Refusing a cancelled export as a whole is fine: nothing was attempted.
        Err(_) if cancelled => Ok(None),
        Err(e) => Err(format!("the export failed as a whole: {e}")),
    }
}

/// The checks for a connector declaring export; see [`check_export`](super::check_export).
pub(super) async fn check_declared(
    subject: &Subject,
    connector: &dyn Connector,
    descriptor: &Descriptor,
) -> Verdict {
    if subject.export_sample.is_empty() {
        return skip("the connector declares export, but the subject has no export_sample");
    }
    let request = ExportRequest::numbered(subject.export_sample.iter().cloned());
    let before = snapshot(connector).await?;
    export(connector, &request.clone().with_dry_run(true), false).await?;
    if snapshot(connector).await? != before {
        return Err("a dry-run export changed what a full import sees".into());
    }
    let cancelled = export(connector, &request, true).await?;
    if let Some(o) = cancelled
        .iter()
        .flat_map(|r| &r.outcomes)
        .find(|o| o.status.is_success())
    {
        return Err(format!(
            "an export whose context was already cancelled reported change {} as {}",
            o.key, o.status
        ));
    }
    if snapshot(connector).await? != before {
        return Err("an export whose context was already cancelled changed the source".into());
    }
    let first = export(connector, &request, false)
        .await?
        .ok_or("the export returned no report")?;
    outcome_rules(descriptor, &request, &first)?;
    let again = export(connector, &request, false)
        .await?
        .ok_or("the repeated export returned no report")?;
    for (one, two) in first.outcomes.iter().zip(&again.outcomes) {
        if matches!(one.status, ExportStatus::Applied { .. })
            && !matches!(two.status, ExportStatus::Unchanged)
        {
            return Err(format!(
                "change {} was applied, but sending it again reported {} instead of unchanged",
                one.key, two.status
            ));
        }
    }
    Ok(None)
}

/// Applied changes are declared exportable; failures and skips say why.
fn outcome_rules(
    descriptor: &Descriptor,
    request: &ExportRequest,
    report: &ExportReport,
) -> Result<(), String> {
    for (change, outcome) in request.changes.iter().zip(&report.outcomes) {
        let declared = descriptor
            .capabilities
            .can_export(change.change.object_type(), change.change.kind());
        match &outcome.status {
            ExportStatus::Applied { .. } if !declared => {
                return Err(format!(
                    "change {} ({} of `{}`) was applied, but the descriptor does not declare it exportable",
                    outcome.key,
                    change.change.kind(),
                    change.change.object_type()
                ));
            }
            ExportStatus::Failed { error } if error.message().trim().is_empty() => {
                return Err(format!("change {} failed without a message", outcome.key));
            }
            ExportStatus::Skipped { reason } if reason.trim().is_empty() => {
                return Err(format!(
                    "change {} was skipped without a reason",
                    outcome.key
                ));
            }
            _ => {}
        }
    }
    if report.outcomes.is_empty() && !request.changes.is_empty() {
        return Err("the export answered no outcome".into());
    }
    Ok(())
}
