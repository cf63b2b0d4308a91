//! Okta JSON → connector objects, one file per object type.
//!
//! The attribute tables in `docs/okta-connector.md` describe exactly what these produce.

pub mod group;
pub mod iga;
pub mod member;
pub mod user;

/// Object type names.
pub const USER: &str = "User";
/// Object type names.
pub const GROUP: &str = "Group";
/// Object type names.
pub const GROUP_MEMBER: &str = "GroupMember";
