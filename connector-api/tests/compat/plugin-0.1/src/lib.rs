//! The directory example connector as of connector-api 0.1 (frozen: `directory.rs` is the
//! example's `support/directory.rs` at commit 88b677b, unchanged).

mod directory;

connector_api::export_connector!(directory::DirectoryFactory);
