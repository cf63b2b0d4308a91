//! `host runs <name>`: the run history.

use super::{App, Outcome};
use crate::error::ExitCode;
use crate::output;
use crate::store::{RunRecord, Store};

/// Arguments of `runs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The connector's name.
    pub name: String,
    /// How many runs to show, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Show one run in full (counts per type, connector counters, notes, error).
    #[arg(long)]
    pub id: Option<i64>,
}

/// Runs `runs`.
///
/// # Errors
/// The store is missing or cannot be read.
pub async fn run(app: &App, args: Args) -> Outcome {
    let store = app.open_existing_store()?;
    if let Some(id) = args.id {
        return show_one(app, &store, &args.name, id);
    }
    let runs = store.runs(&args.name, args.limit)?;
    if app.json {
        output::json(&runs);
        return Ok(ExitCode::Success);
    }
    if runs.is_empty() {
        output::println(&format!("no runs of `{}` yet", args.name));
        return super::export::show_runs(&store, &args.name, args.limit);
    }
    let rows: Vec<Vec<String>> = runs.iter().map(history_row).collect();
    output::print(&output::table(
        &[
            "id",
            "mode",
            "status",
            "started",
            "took",
            "objects (+new ~changed -deleted)",
            "error",
        ],
        &rows,
    ));
    output::println(&format!(
        "details: host runs {} --id <id>   (or --json)",
        args.name
    ));
    super::export::show_runs(&store, &args.name, args.limit)
}

/// `runs <name> --id <id>`: one run in full.
fn show_one(app: &App, store: &Store, name: &str, id: i64) -> Outcome {
    let run = store.run(id)?.filter(|r| r.connector == name);
    let Some(run) = run else {
        return Err(crate::HostError::Usage(format!(
            "no run {id} of connector `{name}` in {}",
            store.location()
        )));
    };
    if app.json {
        output::json(&run);
    } else {
        let report = crate::runner::RunReport {
            elapsed_ms: elapsed_ms(&run),
            // What is stored now says nothing about that run: leave the column out.
            stored: Default::default(),
            guard: Vec::new(),
            fell_back_to_full: None,
            run,
        };
        output::print(&output::run_report(&report));
    }
    Ok(ExitCode::Success)
}

/// One row of the history table.
fn history_row(r: &RunRecord) -> Vec<String> {
    let per_type: Vec<String> = r
        .counts
        .iter()
        .filter(|(_, c)| !c.is_empty())
        .map(|(t, c)| {
            let mut s = format!("{t} {}", c.upserts);
            if c.created + c.updated > 0 {
                s.push_str(&format!(" (+{} ~{})", c.created, c.updated));
            }
            if c.deleted + c.removed > 0 {
                s.push_str(&format!(" -{}", c.deleted + c.removed));
            }
            s
        })
        .collect();
    vec![
        r.id.to_string(),
        r.mode.clone(),
        r.status.to_string(),
        r.started_at.clone(),
        output::secs(elapsed_ms(r)),
        per_type.join(", "),
        r.error
            .as_ref()
            .map(|e| output::truncate(&format!("[{}] {}", e.kind, e.message), 80))
            .unwrap_or_default(),
    ]
}

fn elapsed_ms(r: &RunRecord) -> u64 {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    match (
        parse(&r.started_at),
        r.finished_at.as_deref().and_then(parse),
    ) {
        (Some(a), Some(b)) => (b - a).num_milliseconds().max(0) as u64,
        _ => 0,
    }
}
