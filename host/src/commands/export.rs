//! `host export <name> --changes FILE.jsonl [--dry-run]`: send changes to a connector that can
//! write back, and record the outcome of every change.
//!
//! The file holds one `Change` JSON per line, exactly as on the plug-in ABI
//! (`{"op":"upsert","type":"Group","id":"g1","attrs":{"name":"Ops"}}`,
//! `{"op":"delete","type":"Person","id":"p2"}`). The whole file is validated before anything is
//! sent: a connector that does not declare export, a line that is not a change, a type the
//! connector does not declare or a change kind it does not export is refused with the line, and
//! nothing is sent. Changes then go out in batches; each change's idempotency key is derived
//! from its content, so sending the same file again sends the same keys. Every outcome is stored
//! (`exports`), the run too (`export_runs`, shown by `host runs`).
//!
//! Exit codes: 0 when every change was applied or unchanged, 4 when any failed or was not
//! attempted, 130 when cancelled, 2 for an invalid file or a read-only connector.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use connector_api::{
    CancellationToken, Change, ChangeKind, ChangeOutcome, Connector, Context, Descriptor,
    ExportChange, ExportRequest,
};
use serde::Serialize;

use super::{App, Outcome, cancel_on_ctrl_c};
use crate::clock::format_ts;
use crate::error::{ExitCode, HostError};
use crate::logging::ConnectorLogger;
use crate::output;
use crate::plugin;
use crate::store::{ExportRow, ExportRunRecord, Store};

/// Arguments of `export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The connector's name in host.toml.
    pub name: String,
    /// The changes: one `Change` JSON per line (blank lines are ignored).
    #[arg(long, value_name = "FILE.jsonl")]
    pub changes: PathBuf,
    /// Report what would happen without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// How many changes to send per call.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..))]
    pub batch_size: u16,
}

/// One change of the file, with its line number.
#[derive(Debug)]
struct Line {
    number: i64,
    change: ExportChange,
}

#[derive(Debug, Serialize)]
struct ExportOutput<'a> {
    run_id: i64,
    connector: &'a str,
    dry_run: bool,
    counts: &'a BTreeMap<String, u64>,
    outcomes: &'a [ExportRow],
}

/// Runs `export`.
///
/// # Errors
/// Configuration, secrets, loading, an invalid changes file, a read-only connector, or the
/// store failed.
pub async fn run(app: &App, args: Args) -> Outcome {
    let config = app.config.connector(&args.name)?;
    let factory = plugin::load_factory(&config.name, &config.library)?;
    let descriptor = connector_api::ConnectorFactory::descriptor(&factory);
    require_export(&args.name, &descriptor)?;
    let text = std::fs::read_to_string(&args.changes)
        .map_err(|e| HostError::Io(format!("reading {}: {e}", args.changes.display())))?;
    let shown = args.changes.display().to_string();
    let lines = parse(&shown, &text, &descriptor)?;
    let chain = app.config.secrets.chain();
    let connector = plugin::instantiate(&factory, config, &chain)?;
    let mut store = app.open_store()?;
    let now = format_ts(app.clock.now());
    let library = config.library.display().to_string();
    store.ensure_connector(&args.name, &library, Some(&descriptor), &now)?;
    let run_id = store.begin_export_run(&args.name, args.dry_run, &shown, &now)?;
    let cancel = CancellationToken::new();
    let _ctrl_c = cancel_on_ctrl_c(cancel.clone());
    let ctx = Context::new(
        cancel.clone(),
        Arc::new(ConnectorLogger::new(&args.name, None)),
    );
    let sent = send(&*connector, &ctx, &mut store, run_id, lines, &args).await;
    let counts = count(&sent.rows);
    let status = match (&sent.error, cancel.is_cancelled()) {
        (_, true) => "cancelled",
        (Some(_), false) => "failed",
        (None, false) if counts.keys().all(|k| k == "applied" || k == "unchanged") => "succeeded",
        (None, false) => "failed",
    };
    let at = format_ts(app.clock.now());
    store.finish_export_run(run_id, status, &counts, sent.error.as_deref(), &at)?;
    report(app, run_id, &args, &counts, &sent.rows);
    if let Some(error) = &sent.error {
        tracing::error!("export stopped: {error}");
    }
    Ok(match status {
        "succeeded" => ExitCode::Success,
        "cancelled" => ExitCode::Cancelled,
        _ => ExitCode::RunFailed,
    })
}

/// Refuses a connector that does not declare export, before anything is read or sent.
fn require_export(name: &str, descriptor: &Descriptor) -> Result<(), HostError> {
    if descriptor.capabilities.export {
        return Ok(());
    }
    Err(HostError::Usage(format!(
        "connector `{name}` ({} {}) is read-only: it does not declare export, so nothing was \
         sent. Export needs a connector that declares it (built against connector-api 1.0 or \
         later, with `exportable` types)",
        descriptor.name, descriptor.version
    )))
}

/// Parses and validates the whole file; the first bad line is an error naming it.
fn parse(file: &str, text: &str, descriptor: &Descriptor) -> Result<Vec<Line>, HostError> {
    let mut lines = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let number = index as i64 + 1;
        let bad = |what: String| {
            HostError::Usage(format!("{file} line {number}: {what}; nothing was sent"))
        };
        let change: Change = serde_json::from_str(raw).map_err(|e| {
            bad(format!(
                "not a change ({e}); expected one JSON change per line, e.g. \
                 {{\"op\":\"upsert\",\"type\":\"Group\",\"id\":\"g1\",\"attrs\":{{}}}}"
            ))
        })?;
        validate(&change, descriptor).map_err(bad)?;
        let digest = fnv1a(raw.trim().as_bytes());
        let n = seen.entry(digest.clone()).or_default();
        *n += 1;
        let key = if *n == 1 {
            digest
        } else {
            format!("{digest}-{n}")
        };
        lines.push(Line {
            number,
            change: ExportChange::new(key, change),
        });
    }
    if lines.is_empty() {
        return Err(HostError::Usage(format!(
            "{file} holds no changes; nothing was sent"
        )));
    }
    Ok(lines)
}

/// Checks one change against what the connector declares.
fn validate(change: &Change, descriptor: &Descriptor) -> Result<(), String> {
    let object_type = change.object_type();
    if change.kind() == ChangeKind::ScopeComplete {
        return Err("`scope_complete` markers cannot be exported; send upserts and deletes".into());
    }
    if !descriptor
        .object_types
        .iter()
        .any(|t| &t.name == object_type)
    {
        let known: Vec<&str> = descriptor
            .object_types
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        return Err(format!(
            "unknown object type `{object_type}` (the {} connector declares: {})",
            descriptor.name,
            known.join(", ")
        ));
    }
    if !descriptor
        .capabilities
        .can_export(object_type, change.kind())
    {
        return Err(format!(
            "the {} connector does not export `{}` changes of `{object_type}`",
            descriptor.name,
            change.kind()
        ));
    }
    Ok(())
}

/// A stable key from a change's text: FNV-1a (64 bits), in hex.
fn fnv1a(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// What was sent: the stored rows, and the error that stopped the run, if one did.
struct Sent {
    rows: Vec<ExportRow>,
    error: Option<String>,
}

/// Sends the changes in batches and stores each batch's outcomes. After a batch fails as a
/// whole, or on cancellation, the remaining changes are recorded as not attempted.
async fn send(
    connector: &dyn Connector,
    ctx: &Context,
    store: &mut Store,
    run_id: i64,
    lines: Vec<Line>,
    args: &Args,
) -> Sent {
    let mut sent = Sent {
        rows: Vec::with_capacity(lines.len()),
        error: None,
    };
    for batch in lines.chunks(usize::from(args.batch_size)) {
        let outcomes = match (&sent.error, ctx.is_cancelled()) {
            (Some(e), _) => not_attempted(batch, &format!("an earlier batch failed: {e}")),
            (None, true) => not_attempted(batch, "the export was cancelled"),
            (None, false) => {
                let request = ExportRequest::new(batch.iter().map(|l| l.change.clone()).collect())
                    .with_dry_run(args.dry_run);
                let asked = request.clone();
                let answer = connector.export(ctx, request).await;
                match answer.and_then(|r| r.matches(&asked).map(|()| r)) {
                    Ok(report) => report.outcomes,
                    Err(e) => {
                        sent.error = Some(format!("[{}] {e}", e.kind()));
                        not_attempted(batch, &e.to_string())
                    }
                }
            }
        };
        let rows: Vec<ExportRow> = batch
            .iter()
            .zip(&outcomes)
            .map(|(line, outcome)| ExportRow::new(line.number, &line.change, outcome))
            .collect();
        if let Err(e) = store.record_exports(run_id, &rows) {
            sent.error.get_or_insert(format!("[store] {e}"));
        }
        sent.rows.extend(rows);
    }
    sent
}

fn not_attempted(batch: &[Line], why: &str) -> Vec<ChangeOutcome> {
    batch
        .iter()
        .map(|l| ChangeOutcome::skipped(l.change.key.clone(), format!("not attempted: {why}")))
        .collect()
}

fn count(rows: &[ExportRow]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for row in rows {
        *counts.entry(row.outcome.clone()).or_default() += 1;
    }
    counts
}

/// Prints the per-change table (or JSON) and a summary line.
fn report(app: &App, run_id: i64, args: &Args, counts: &BTreeMap<String, u64>, rows: &[ExportRow]) {
    if app.json {
        output::json(&ExportOutput {
            run_id,
            connector: &args.name,
            dry_run: args.dry_run,
            counts,
            outcomes: rows,
        });
        return;
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let text = |k: &str| r.change[k].as_str().unwrap_or_default().to_owned();
            let detail = r
                .error
                .clone()
                .or_else(|| r.assigned_id.as_ref().map(|id| format!("assigned id {id}")))
                .unwrap_or_default();
            vec![
                r.line.to_string(),
                text("op"),
                text("type"),
                text("id"),
                r.outcome.clone(),
                output::truncate(&detail, 100),
            ]
        })
        .collect();
    output::print(&output::table(
        &["line", "op", "type", "id", "outcome", "detail"],
        &table,
    ));
    let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    output::println(&format!(
        "export run {run_id} of `{}`{}: {}",
        args.name,
        if args.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        },
        summary.join(", ")
    ));
}

/// Prints the export runs of `connector` under `host runs` (nothing when there are none).
///
/// # Errors
/// The store cannot be read.
pub fn show_runs(store: &Store, connector: &str, limit: usize) -> Outcome {
    let runs = store.export_runs(connector, limit)?;
    if runs.is_empty() {
        return Ok(ExitCode::Success);
    }
    let rows: Vec<Vec<String>> = runs.iter().map(run_row).collect();
    output::println(&format!("\nexport runs of `{connector}`:"));
    output::print(&output::table(
        &[
            "id", "mode", "status", "started", "changes", "source", "error",
        ],
        &rows,
    ));
    Ok(ExitCode::Success)
}

fn run_row(r: &ExportRunRecord) -> Vec<String> {
    let counts: Vec<String> = r.counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    vec![
        r.id.to_string(),
        if r.dry_run {
            "export (dry run)"
        } else {
            "export"
        }
        .to_owned(),
        r.status.clone(),
        r.started_at.clone(),
        counts.join(", "),
        r.source.clone(),
        output::truncate(r.error.as_deref().unwrap_or_default(), 80),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_api::{Capabilities, ObjectTypeInfo};

    fn descriptor() -> Descriptor {
        Descriptor::new("dir", "1.0.0")
            .with_object_types([ObjectTypeInfo::new("Group"), ObjectTypeInfo::new("Audit")])
            .with_capabilities(Capabilities::new().with_exportable("Group", [ChangeKind::Upsert]))
    }

    #[test]
    fn every_bad_line_is_named_and_nothing_passes() {
        let d = descriptor();
        let cases = [
            ("not json", "f line 1: not a change"),
            (
                r#"{"op":"upsert","type":"User","id":"u1"}"#,
                "f line 1: unknown object type `User` (the dir connector declares: Group, Audit)",
            ),
            (
                r#"{"op":"upsert","type":"Audit","id":"a1"}"#,
                "f line 1: the dir connector does not export `upsert` changes of `Audit`",
            ),
            (
                r#"{"op":"delete","type":"Group","id":"g1"}"#,
                "does not export `delete` changes of `Group`",
            ),
            (
                r#"{"op":"scope_complete","type":"Group"}"#,
                "`scope_complete` markers cannot be exported",
            ),
            ("\n\n", "f holds no changes"),
        ];
        for (text, want) in cases {
            let err = parse("f", text, &d).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        let err = parse(
            "f",
            "{\"op\":\"upsert\",\"type\":\"Group\",\"id\":\"g1\"}\n\n[]",
            &d,
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("f line 3: not a change"),
            "{err}"
        );
        assert_eq!(err.exit_code(), ExitCode::Usage);
    }

    #[test]
    fn keys_are_stable_and_unique_within_a_file() {
        let d = descriptor();
        let line = r#"{"op":"upsert","type":"Group","id":"g1"}"#;
        let text = format!("{line}\n{line}\n");
        let a = parse("f", &text, &d).unwrap();
        let b = parse("f", &text, &d).unwrap();
        assert_eq!(a[0].change.key, b[0].change.key);
        assert_ne!(a[0].change.key, a[1].change.key);
        assert_eq!(a[1].number, 2);
    }

    #[test]
    fn read_only_connectors_are_refused() {
        let d = Descriptor::new("okta", "0.1.0");
        let err = require_export("okta", &d).unwrap_err().to_string();
        assert!(err.contains("`okta` (okta 0.1.0) is read-only"), "{err}");
        assert!(err.contains("nothing was sent"), "{err}");
    }
}
