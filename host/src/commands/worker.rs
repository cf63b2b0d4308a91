//! `host worker [--concurrency K] [--metrics ADDR]`: runs the schedules of every connector in
//! host.toml under leases, until SIGTERM or Ctrl-C (see [`crate::worker`]).

use std::net::SocketAddr;
use std::sync::Arc;

use super::{App, Outcome};
use crate::error::{ExitCode, HostError};
use crate::worker::metrics::{self, Metrics};
use crate::worker::{Event, Settings, Worker, holder_id};

/// Arguments of `worker`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// At most this many imports at once in this process
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Serve Prometheus metrics on http://ADDR/metrics (and /healthz), e.g. 127.0.0.1:9464
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
}

/// Runs `worker`: exits 0 once stopped by SIGTERM or Ctrl-C.
///
/// # Errors
/// No connector has a schedule, the store cannot be opened, or the metrics address is taken.
pub async fn run(app: &App, args: Args) -> Outcome {
    app.warn_literal_credentials();
    let settings = settings(app, args.concurrency.into())?;
    let metrics = Arc::new(Metrics::new(Arc::clone(&app.clock)));
    if let Some(addr) = args.metrics {
        metrics::serve(addr, Arc::clone(&metrics)).await?;
    }
    let worker = Worker::new(settings, metrics)?;
    let stop = worker.sender();
    let signals = tokio::spawn(async move {
        wait_for_stop().await;
        let _ = stop.send(Event::Stop);
    });
    let done = tokio::task::spawn_blocking(move || worker.run()).await;
    signals.abort();
    done.map_err(|e| HostError::Io(format!("the worker loop failed: {e}")))?;
    Ok(ExitCode::Success)
}

/// The connectors with a schedule and everything else the loop needs.
fn settings(app: &App, concurrency: usize) -> Result<Settings, HostError> {
    let connectors: std::collections::BTreeMap<_, _> = app
        .config
        .schedules
        .iter()
        .filter_map(|(name, schedule)| {
            let config = app.config.connectors.get(name)?;
            Some((name.clone(), (config.clone(), *schedule)))
        })
        .collect();
    if connectors.is_empty() {
        return Err(HostError::Config(format!(
            "no connector in {} has a schedule: add `schedule = {{ every = \"15m\", full_every = \
             \"7d\" }}` to the connectors the worker should run",
            app.config
                .source
                .as_ref()
                .map_or_else(|| "host.toml".to_owned(), |p| p.display().to_string())
        )));
    }
    let open_store = app.store_opener()?;
    Ok(Settings {
        holder: holder_id(),
        concurrency,
        worker: app.config.worker,
        connectors,
        guard: app.config.guard,
        secrets: app.config.secrets.clone(),
        clock: Arc::clone(&app.clock),
        open_store,
    })
}

/// Returns on the first SIGTERM or Ctrl-C.
async fn wait_for_stop() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot watch for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = term => tracing::info!("SIGTERM: stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: stopping"),
    }
}
