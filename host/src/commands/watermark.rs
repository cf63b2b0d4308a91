//! `host watermark <name> [--set V | --clear]`: read or hand-edit the stored watermark.

use connector_api::Watermark;
use serde::Serialize;

use super::{App, Outcome};
use crate::clock::format_ts;
use crate::error::{ExitCode, HostError};
use crate::output;
use crate::plugin;
use crate::store::WatermarkRow;

/// Arguments of `watermark`.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("change").args(["set", "clear"]))]
pub struct Args {
    /// The connector's name.
    pub name: String,
    /// Store this watermark, after the connector validated it (for Okta a JSON object such as
    /// {"u":"2026-01-01T00:00:00.000Z","g":"…"}). The next delta run starts from it.
    #[arg(long, value_name = "VALUE")]
    pub set: Option<String>,
    /// Remove the watermark: the next `--mode auto` run is a full run.
    #[arg(long)]
    pub clear: bool,
}

#[derive(Debug, Serialize)]
struct Shown<'a> {
    connector: &'a str,
    watermark: Option<WatermarkRow>,
}

/// Runs `watermark`.
///
/// # Errors
/// The store failed, or (for `--set`) the connector could not be loaded or rejected the value.
pub async fn run(app: &App, args: Args) -> Outcome {
    let now = format_ts(app.clock.now());
    if let Some(value) = &args.set {
        let config = app.config.connector(&args.name)?;
        let loaded = plugin::load(config, &app.config.secrets.chain())?;
        loaded
            .connector
            .validate_watermark(&Watermark::new(value.clone()))
            // A value given on the command line that the connector rejects: a usage error (2).
            .map_err(|e| HostError::Usage(format!("connector `{}`: {e}", args.name)))?;
        let mut store = app.open_store()?;
        store.ensure_connector(&args.name, &loaded.library, Some(&loaded.descriptor), &now)?;
        let previous = store.watermark(&args.name)?;
        store.set_watermark_by_operator(&args.name, value, &now)?;
        tracing::info!(connector = %args.name, previous = ?previous.map(|w| w.value), "watermark set by operator");
    } else if args.clear {
        let mut store = app.open_existing_store()?;
        let existed = store.clear_watermark(&args.name)?;
        if !app.json {
            output::println(if existed {
                "watermark cleared: the next auto run is a full run"
            } else {
                "there was no watermark"
            });
            return Ok(ExitCode::Success);
        }
    }
    let store = app.open_existing_store()?;
    let shown = Shown {
        connector: &args.name,
        watermark: store.watermark(&args.name)?,
    };
    if app.json {
        output::json(&shown);
    } else {
        match &shown.watermark {
            None => output::println(&format!(
                "`{}` has no watermark: the next auto run is a full run",
                args.name
            )),
            Some(w) => {
                let by = match w.run_id {
                    Some(run) => format!("run {run}"),
                    None => "an operator".into(),
                };
                output::println(&format!("{}\n  set by {by} at {}", w.value, w.updated_at));
            }
        }
    }
    Ok(ExitCode::Success)
}
