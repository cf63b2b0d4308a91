//! Okta JSON → connector objects, one file per object type.
//!
//! The attribute tables in `docs/okta-connector.md` describe exactly what these produce.

pub mod group;
pub mod member;
pub mod user;

pub use crate::okta::{GROUP, GROUP_MEMBER, USER};

/// Where mapped changes go, one batch per page: the run's forwarder drains them into the sink.
pub type Batches = futures::channel::mpsc::Sender<Vec<connector_api::Change>>;
