//! One module per subcommand; each has an `Args` (clap) and a `run` function.
//!
//! Commands return an [`ExitCode`] for outcomes they report themselves (a failed run is
//! recorded and printed, then exits 4) and a [`HostError`] for everything that stopped them.

pub mod check;
pub mod connectors;
pub mod demo;
pub mod export;
pub mod import;
pub mod objects;
pub mod runs;
pub mod schedule;
pub mod secret;
pub mod snapshot;
pub mod watermark;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;

use connector_api::CancellationToken;

use crate::clock::Clock;
use crate::config::{Config, StoreLocation};
use crate::error::{ExitCode, HostError};
use crate::plugin::Loaded;
use crate::progress::Progress;
use crate::runner::{self, ModeChoice, RunEnv, RunOptions, RunReport, Target};
use crate::store::{PgStore, Store};
use secrecy::SecretString;

/// What every command gets.
pub struct App {
    /// The loaded configuration.
    pub config: Config,
    /// `--store`: overrides `store` in host.toml.
    pub store_override: Option<PathBuf>,
    /// `--json`: machine-readable output.
    pub json: bool,
    /// Draw progress bars (a terminal, not `--json`, not `-q`).
    pub progress: bool,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("config", &self.config)
            .field("store_override", &self.store_override)
            .field("json", &self.json)
            .finish_non_exhaustive()
    }
}

/// A command's result.
pub type Outcome = Result<ExitCode, HostError>;

impl App {
    /// The store in effect: `--store` (a file or a PostgreSQL URL), else `store` in host.toml.
    pub fn store_location(&self) -> StoreLocation {
        match &self.store_override {
            Some(path) => StoreLocation::parse(&path.to_string_lossy(), std::path::Path::new("")),
            None => self.config.store.clone(),
        }
    }

    /// Opens (creating) the store.
    ///
    /// # Errors
    /// The store cannot be opened, or its password cannot be resolved.
    pub fn open_store(&self) -> Result<Store, HostError> {
        match self.store_location() {
            StoreLocation::Sqlite(path) => Ok(Store::open(&path)?),
            StoreLocation::Postgres(url) => Ok(Store::new(Box::new(PgStore::open(
                &url,
                self.store_password()?,
            )?))),
        }
    }

    /// Opens the store only if it exists (read-only commands).
    ///
    /// # Errors
    /// The store is missing or cannot be opened.
    pub fn open_existing_store(&self) -> Result<Store, HostError> {
        match self.store_location() {
            StoreLocation::Sqlite(path) => Ok(Store::open_existing(&path)?),
            StoreLocation::Postgres(url) => Ok(Store::new(Box::new(PgStore::open_existing(
                &url,
                self.store_password()?,
            )?))),
        }
    }

    /// Opens the store again on each call (a worker opens one per running import); the
    /// password is resolved once, here, and kept in memory only.
    ///
    /// # Errors
    /// The store's password cannot be resolved.
    pub fn store_opener(&self) -> Result<crate::worker::OpenStore, HostError> {
        let location = self.store_location();
        let password = self.store_password()?;
        Ok(std::sync::Arc::new(move || match &location {
            StoreLocation::Sqlite(path) => Ok(Store::open(path)?),
            StoreLocation::Postgres(url) => {
                Ok(Store::new(Box::new(PgStore::open(url, password.clone())?)))
            }
        }))
    }

    /// `store_password` resolved through the secret chain (`None`: the PostgreSQL client
    /// falls back to PGPASSWORD and ~/.pgpass).
    fn store_password(&self) -> Result<Option<SecretString>, HostError> {
        match &self.config.store_password {
            None => Ok(None),
            Some(reference) => Ok(Some(self.config.secrets.chain().resolve(reference)?.0)),
        }
    }

    /// Run options for `mode` with the configured guard.
    pub fn run_options(&self, mode: ModeChoice, allow_mass_delete: bool) -> RunOptions {
        RunOptions {
            mode,
            allow_mass_delete,
            guard: self.config.guard,
            ..RunOptions::default()
        }
    }

    /// Runs one import of `loaded` as connector `name` into `store`, with progress bars when
    /// they are wanted: how `import`, `schedule` and `demo` run. The run is recorded whatever
    /// its outcome (see [`RunReport::exit_code`]).
    ///
    /// # Errors
    /// The mode cannot be honoured, or the store failed.
    pub async fn import(
        &self,
        store: &mut Store,
        name: &str,
        loaded: &Loaded,
        options: &RunOptions,
        cancel: &CancellationToken,
    ) -> Result<RunReport, HostError> {
        let progress = self.progress.then(|| Progress::start(name));
        let env = RunEnv {
            cancel: cancel.clone(),
            progress: progress.clone(),
            clock: Arc::clone(&self.clock),
        };
        let target = Target {
            name,
            library: &loaded.library,
            connector: loaded.connector.as_ref(),
        };
        let report = runner::run_import(store, target, options, &env).await;
        if let Some(p) = progress {
            p.finish();
        }
        report
    }

    /// Warns about credentials written literally into host.toml.
    pub fn warn_literal_credentials(&self) {
        for key in self.config.literal_credentials() {
            tracing::warn!(
                "{key} holds a literal value; store it with `host secret set secret://…` and \
                 reference it instead (the value is not shown)"
            );
        }
    }
}

/// Cancels `token` on the first Ctrl-C and exits with 130 on the second. The handler stops
/// when the returned guard is dropped.
pub fn cancel_on_ctrl_c(token: CancellationToken) -> CtrlCGuard {
    let handle = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        tracing::warn!(
            "Ctrl-C: cancelling; the run will be recorded as cancelled (press Ctrl-C again to exit at once)"
        );
        token.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::error!("second Ctrl-C: exiting without waiting");
            std::process::exit(ExitCode::Cancelled.code());
        }
    });
    CtrlCGuard(handle)
}

/// Stops the Ctrl-C handler when dropped.
#[derive(Debug)]
pub struct CtrlCGuard(tokio::task::JoinHandle<()>);

impl Drop for CtrlCGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}
