//! Host-level errors and the process exit codes they map to.
//!
//! A failed *run* is not a `HostError`: it is recorded in the store and reported with its own
//! exit code by the command. `HostError` is for everything that prevents a run or a command from
//! happening at all (bad configuration, unresolvable secret, unusable store, missing library).

use connector_api::ConnectorError;

use crate::secrets::SecretError;
use crate::store::StoreError;

/// Process exit codes, documented in `docs/host.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The command did what it was asked.
    Success = 0,
    /// An unexpected failure: the store, the file system, a bug.
    Failure = 1,
    /// The command line was wrong (clap also uses 2).
    Usage = 2,
    /// `host.toml`, a connector's settings or a secret reference need fixing.
    Config = 3,
    /// The connector failed: the run (or check) was recorded with its error; the watermark was
    /// kept.
    RunFailed = 4,
    /// The mass-delete guard stopped the run before it deleted anything.
    GuardTripped = 5,
    /// Cancelled with Ctrl-C (128 + SIGINT).
    Cancelled = 130,
}

impl ExitCode {
    /// The numeric code.
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// Why a command could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// `host.toml` or a file it refers to is invalid.
    #[error("{0}")]
    Config(String),
    /// A secret reference could not be resolved or stored.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The SQLite store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The connector library could not be loaded or refused its settings.
    #[error("connector `{name}`: {error}")]
    Connector {
        /// The connector's name in `host.toml`.
        name: String,
        /// What the connector (or the loader) said.
        error: ConnectorError,
    },
    /// The command line asked for something impossible (e.g. a delta run without watermark).
    #[error("{0}")]
    Usage(String),
    /// Reading or writing a file or a stream failed.
    #[error("{0}")]
    Io(String),
}

impl HostError {
    /// The exit code this error maps to.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            HostError::Config(_) | HostError::Secret(_) => ExitCode::Config,
            HostError::Connector { error, .. } => match error.kind() {
                connector_api::ErrorKind::InvalidConfig => ExitCode::Config,
                connector_api::ErrorKind::Cancelled => ExitCode::Cancelled,
                _ => ExitCode::RunFailed,
            },
            HostError::Usage(_) => ExitCode::Usage,
            HostError::Store(_) | HostError::Io(_) => ExitCode::Failure,
        }
    }

    /// Wraps a connector error with the connector's configured name.
    pub fn connector(name: &str, error: ConnectorError) -> Self {
        HostError::Connector {
            name: name.to_owned(),
            error,
        }
    }
}
