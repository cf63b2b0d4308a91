//! The reference host: loads connector libraries, resolves `secret://` references, runs imports
//! into an embedded SQLite store, keeps watermarks, detects hard deletes and schedules runs.
//!
//! Data flows one way: connector → [`runner`] (a [`connector_api::ChangeSink`]) → [`store`].
//! The binary (`src/main.rs`) is a thin clap front end over [`commands`]; everything else lives
//! here so the end-to-end tests drive the same code paths as an operator.
//!
//! * [`config`] — `host.toml`: store path, secret backends, guards, connectors.
//! * [`secrets`] — the `secret://` resolution chain (systemd credentials, environment, kernel keyring, files).
//! * [`plugin`] — loading a connector library and creating an instance from its settings.
//! * [`runner`] — one import run: the sink, scope completion, guards, the final transaction.
//! * [`guard`] — the mass-delete guard rules (pure functions).
//! * [`store`] — schema, migrations and queries.
//! * [`scheduler`] — when the next delta or full run is due (time is a parameter).
//! * [`worker`] — `host worker`: every connector's schedule under leases, K imports at once,
//!   metrics.
//! * [`logging`] / [`progress`] — connector log records to `tracing`, progress bars on terminals.

#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod clock;
pub mod commands;
pub mod config;
pub mod error;
pub mod guard;
pub mod logging;
pub mod output;
pub mod plugin;
pub mod progress;
pub mod runner;
pub mod scheduler;
pub mod secrets;
pub mod store;
pub mod worker;

pub use error::{ExitCode, HostError};
