//! `host check <name>`: can the connector reach its source with these credentials?

use std::sync::Arc;

use connector_api::{CancellationToken, Context};
use serde::Serialize;

use super::{App, Outcome, cancel_on_ctrl_c};
use crate::error::{ExitCode, HostError};
use crate::logging::ConnectorLogger;
use crate::output;
use crate::plugin;
use crate::secrets::{self, Found};

/// Arguments of `check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The connector's name in host.toml.
    pub name: String,
}

#[derive(Debug, Serialize)]
struct CheckOutput {
    connector: String,
    library: String,
    kind: String,
    version: String,
    secrets: Vec<Found>,
    checks: Vec<String>,
    warnings: Vec<String>,
}

/// Runs `check`.
///
/// # Errors
/// Configuration, secrets, loading, or the connector's check failed.
pub async fn run(app: &App, args: Args) -> Outcome {
    let config = app.config.connector(&args.name)?;
    app.warn_literal_credentials();
    let chain = app.config.secrets.chain();
    let mut found = Vec::new();
    for reference in secrets::references(&config.auth) {
        let reference = secrets::SecretRef::parse(&reference)?;
        found.push(chain.locate(&reference)?);
    }
    let loaded = plugin::load(config, &chain)?;
    let cancel = CancellationToken::new();
    let _ctrl_c = cancel_on_ctrl_c(cancel.clone());
    let ctx = Context::new(cancel, Arc::new(ConnectorLogger::new(&args.name, None)));
    let report = loaded
        .connector
        .check(&ctx)
        .await
        .map_err(|e| HostError::connector(&args.name, e))?;
    let out = CheckOutput {
        connector: args.name,
        library: loaded.library.clone(),
        kind: loaded.descriptor.name.clone(),
        version: loaded.descriptor.version.clone(),
        secrets: found,
        checks: report.checks,
        warnings: report.warnings,
    };
    if app.json {
        output::json(&out);
    } else {
        let mut text = format!(
            "{}: {} connector {} from {}\n",
            out.connector, out.kind, out.version, out.library
        );
        for s in &out.secrets {
            text.push_str(&format!(
                "  ok  {} resolved by {} ({})\n",
                s.reference, s.backend, s.location
            ));
        }
        for c in &out.checks {
            text.push_str(&format!("  ok  {c}\n"));
        }
        for w in &out.warnings {
            text.push_str(&format!("  warning  {w}\n"));
        }
        output::print(&text);
    }
    Ok(ExitCode::Success)
}
