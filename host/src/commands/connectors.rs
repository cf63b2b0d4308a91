//! `host connectors`: what is configured and stored, with the last run and the watermark.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{App, Outcome};
use crate::error::{ExitCode, HostError};
use crate::output;
use crate::store::{RunRecord, Store, StoreError, WatermarkRow};

/// Arguments of `connectors`.
#[derive(Debug, clap::Args)]
pub struct Args {}

#[derive(Debug, Serialize)]
struct Row {
    name: String,
    configured: bool,
    library: Option<String>,
    library_exists: Option<bool>,
    objects: u64,
    last_run: Option<RunRecord>,
    watermark: Option<WatermarkRow>,
}

/// Runs `connectors`.
///
/// # Errors
/// The store exists but cannot be read.
pub async fn run(app: &App, _args: Args) -> Outcome {
    let store = match app.open_existing_store() {
        Ok(store) => Some(store),
        Err(HostError::Store(StoreError::Missing { .. })) => None,
        Err(e) => return Err(e),
    };
    let mut names: BTreeSet<String> = app.config.connectors.keys().cloned().collect();
    if let Some(store) = &store {
        names.extend(store.connectors()?.into_iter().map(|c| c.name));
    }
    let mut rows = Vec::new();
    for name in names {
        let configured = app.config.connectors.get(&name);
        let (last_run, watermark, objects) = match &store {
            Some(s) => info(s, &name)?,
            None => (None, None, 0),
        };
        rows.push(Row {
            configured: configured.is_some(),
            library: configured.map(|c| c.library.display().to_string()),
            library_exists: configured.map(|c| c.library.is_file()),
            name,
            objects,
            last_run,
            watermark,
        });
    }
    if app.json {
        output::json(&rows);
        return Ok(ExitCode::Success);
    }
    if rows.is_empty() {
        output::println(&format!(
            "no connectors: add a [connectors.<name>] table to {} (see docs/host.md)",
            app.config
                .source
                .as_ref()
                .map_or("host.toml".into(), |p| p.display().to_string())
        ));
        return Ok(ExitCode::Success);
    }
    output::print(&output::table(
        &["name", "objects", "last run", "watermark", "library"],
        &rows.iter().map(table_row).collect::<Vec<_>>(),
    ));
    Ok(ExitCode::Success)
}

/// One row of the text table.
fn table_row(r: &Row) -> Vec<String> {
    let library = match (&r.library, r.library_exists) {
        (Some(l), Some(false)) => format!("{l} (missing)"),
        (Some(l), _) => l.clone(),
        (None, _) => "(not in host.toml)".into(),
    };
    let last = r.last_run.as_ref().map_or("never".into(), |run| {
        format!(
            "#{} {} {} {}",
            run.id,
            run.mode,
            run.status,
            run.finished_at.as_deref().unwrap_or(&run.started_at)
        )
    });
    let watermark = r
        .watermark
        .as_ref()
        .map_or("-".into(), |w| output::truncate(&w.value, 60));
    vec![
        r.name.clone(),
        r.objects.to_string(),
        last,
        watermark,
        library,
    ]
}

type Info = (Option<RunRecord>, Option<WatermarkRow>, u64);

fn info(store: &Store, name: &str) -> Result<Info, crate::HostError> {
    let last = store.runs(name, 1)?.into_iter().next();
    let watermark = store.watermark(name)?;
    let objects = store.count_by_type(name)?.values().sum();
    Ok((last, watermark, objects))
}
