//! Okta JSON → connector objects, one file per object type.
//!
//! The attribute tables in `docs/okta-connector.md` describe exactly what these produce.

pub mod access;
pub mod app;
pub mod group;
pub mod member;
pub mod user;

pub use crate::okta::{
    APP, APP_GROUP, APP_USER, GROUP, GROUP_MEMBER, GROUP_RULE, ROLE_ASSIGNMENT, USER, USER_FACTOR,
};

/// The scope of the object types read completely on every run (`App`, `RoleAssignment`,
/// `GroupRule`): completing it also on delta runs removes what disappeared from Okta.
pub const ORG_SCOPE: &str = "org";

/// Where mapped changes go, one batch per page: the run's forwarder drains them into the sink.
pub type Batches = futures::channel::mpsc::Sender<Outgoing>;

/// One batch for the sink.
#[derive(Debug)]
pub enum Outgoing {
    /// Mapped changes.
    Changes(Vec<connector_api::Change>),
    /// Changes already written as the plug-in boundary's JSON lines (memberships, see
    /// [`member::encode`]), handed to `ChangeSink::send_encoded` as they are.
    Encoded(Vec<u8>),
}

impl From<Vec<connector_api::Change>> for Outgoing {
    fn from(changes: Vec<connector_api::Change>) -> Self {
        Self::Changes(changes)
    }
}
