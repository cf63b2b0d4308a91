//! One import, on its own thread with its own current-thread tokio runtime and its own store
//! connection, so K imports run at once although a store connection is `Send` but not `Sync`
//! (`run_import` holds `&mut Store` across awaits).
//!
//! Connector libraries are loaded once per process ([`Libraries`], by path); each run creates
//! a fresh instance with its secrets resolved at that moment, dropped when the run ends.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use connector_api::CancellationToken;
use connector_api::abi::loader::PluginFactory;

use super::Event;
use super::lease::lock;
use crate::clock::Clock;
use crate::config::ConnectorConfig;
use crate::error::HostError;
use crate::plugin;
use crate::runner::{self, RunEnv, RunOptions, RunReport, Target};
use crate::secrets::SecretChain;
use crate::store::Store;

/// Opens a new connection to the store (each running import has its own).
pub type OpenStore = Arc<dyn Fn() -> Result<Store, HostError> + Send + Sync>;

/// Connector libraries loaded so far, by path.
#[derive(Default)]
pub struct Libraries {
    loaded: Mutex<HashMap<PathBuf, Arc<PluginFactory>>>,
}

impl std::fmt::Debug for Libraries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Libraries")
            .field("loaded", &lock(&self.loaded).len())
            .finish()
    }
}

impl Libraries {
    /// The factory of `config`'s library, loading it on first use.
    ///
    /// # Errors
    /// See [`plugin::load_factory`].
    pub fn factory(&self, config: &ConnectorConfig) -> Result<Arc<PluginFactory>, HostError> {
        let mut loaded = lock(&self.loaded);
        if let Some(f) = loaded.get(&config.library) {
            return Ok(Arc::clone(f));
        }
        let factory = Arc::new(plugin::load_factory(&config.name, &config.library)?);
        loaded.insert(config.library.clone(), Arc::clone(&factory));
        Ok(factory)
    }

    /// How many libraries are loaded.
    pub fn len(&self) -> usize {
        lock(&self.loaded).len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Everything one import needs, moved onto its thread.
pub struct Job {
    /// The connector's configuration.
    pub config: ConnectorConfig,
    /// Its library.
    pub factory: Arc<PluginFactory>,
    /// Secret resolution.
    pub secrets: SecretChain,
    /// Mode, guard, lease holder.
    pub options: RunOptions,
    /// Cancelled on SIGTERM or when the lease is lost.
    pub cancel: CancellationToken,
    /// Run timestamps.
    pub clock: Arc<dyn Clock>,
    /// The import's own store connection.
    pub open_store: OpenStore,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("connector", &self.config.name)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Starts `job` on a thread of its own; its end is sent to `events` as [`Event::Finished`].
///
/// # Errors
/// The thread could not be started.
pub fn spawn(job: Job, events: Sender<Event>) -> Result<(), HostError> {
    let name = job.config.name.clone();
    std::thread::Builder::new()
        .name(format!("import-{name}"))
        .spawn(move || {
            let result = Box::new(run(&job));
            let name = job.config.name.clone();
            let _ = events.send(Event::Finished { name, result });
        })
        .map(drop)
        .map_err(|e| HostError::Io(format!("starting a thread for connector `{name}`: {e}")))
}

/// Creates the instance, opens the store and runs the import.
fn run(job: &Job) -> Result<RunReport, HostError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| HostError::Io(format!("starting an async runtime: {e}")))?;
    let connector = plugin::instantiate(job.factory.as_ref(), &job.config, &job.secrets)?;
    let mut store = (job.open_store)()?;
    let library = job.config.library.display().to_string();
    let target = Target {
        name: &job.config.name,
        library: &library,
        connector: connector.as_ref(),
    };
    let env = RunEnv {
        cancel: job.cancel.clone(),
        progress: None,
        clock: Arc::clone(&job.clock),
    };
    runtime.block_on(runner::run_import(&mut store, target, &job.options, &env))
}
