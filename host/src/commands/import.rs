//! `host import <name>`: one run.

use connector_api::CancellationToken;

use super::{App, Outcome, cancel_on_ctrl_c};
use crate::output;
use crate::plugin;
use crate::runner::ModeChoice;

/// Arguments of `import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The connector's name in host.toml.
    pub name: String,
    /// What to read.
    #[arg(long, value_enum, default_value_t = ModeChoice::Auto)]
    pub mode: ModeChoice,
    /// Commit deletes even when the mass-delete guard trips (after checking that they are real).
    #[arg(long)]
    pub allow_mass_delete: bool,
}

/// Runs `import`.
///
/// # Errors
/// Configuration, secrets, loading or the store failed before or while recording the run.
pub async fn run(app: &App, args: Args) -> Outcome {
    let config = app.config.connector(&args.name)?;
    app.warn_literal_credentials();
    let mut store = app.open_store()?;
    let loaded = plugin::load(config, &app.config.secrets.chain())?;
    let cancel = CancellationToken::new();
    let _ctrl_c = cancel_on_ctrl_c(cancel.clone());
    let options = app.run_options(args.mode, args.allow_mass_delete);
    let report = app
        .import(&mut store, &args.name, &loaded, &options, &cancel)
        .await;
    // The connector (and the only copy of its resolved secrets) goes away with the run.
    drop(loaded);
    let report = report?;
    if app.json {
        output::json(&report);
    } else {
        output::print(&output::run_report(&report));
    }
    Ok(report.exit_code())
}
