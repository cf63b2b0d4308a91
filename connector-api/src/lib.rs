//! The stable connector API: what identity connectors implement and hosts drive.
//!
//! A *connector* reads a source system (Okta, a directory, an HR feed) and emits its objects as
//! a stream of [`Change`]s; a *host* stores them, keeps the [`Watermark`] for the next delta run,
//! and deletes what disappeared when a connector marks a [`Scope`] complete.
//!
//! * [`Connector`] — the trait, with its `# Contract`; [`ConnectorFactory`] creates instances
//!   from [`Settings`].
//! * [`model`] — objects, changes, scopes, watermarks, descriptors.
//! * [`ConnectorError`] / [`ErrorKind`] — failures classified so the host can act on them.
//! * [`Context`] — cancellation and logging for one operation.
//! * [`export`] — write-back requests and per-change outcomes ([`Connector::export`]).
//! * [`abi`] — the C-ABI plug-in boundary: [`export_connector!`] for connector `cdylib`s
//!   (feature `plugin`) and [`abi::loader`] for hosts (feature `loader`). This is the only module
//!   with `unsafe` code.
//! * [`testkit`] (feature `testkit`) — conformance checks every connector must pass.
//!
//! Data flows one way: source → connector → (optionally the C ABI) → host → store.
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod abi;
pub mod context;
pub mod error;
pub mod export;
pub mod model;

mod connector;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use connector::{ChangeSink, Connector, ConnectorFactory, FnFactory, VecSink};
pub use context::{
    CancellationToken, Context, Level, LogRecord, Logger, MemoryLogger, NullLogger, Settings,
};
pub use error::{ConnectorError, ErrorKind, Result, VendorDetails};
pub use export::{
    ChangeOutcome, ExportChange, ExportOptions, ExportReport, ExportRequest, ExportStatus,
};
pub use model::{
    Attributes, Capabilities, Change, ChangeKind, CheckReport, Descriptor, Exportable, ImportMode,
    ImportOutcome, ImportRequest, Object, ObjectType, ObjectTypeInfo, Scope, Skipped, Watermark,
};

/// Re-exported so connectors and hosts name the same secret type.
pub use secrecy;

/// Re-exported so connectors and hosts use the same `serde_json` as the public types
/// (attributes, settings and log fields are `serde_json::Value`s).
pub use serde_json;

/// Implementation details of [`export_connector!`]; not part of the public API.
#[cfg(feature = "plugin")]
#[doc(hidden)]
pub mod __private {
    pub use crate::abi::export::*;
}
