//! An example sibling connector, built as a `cdylib`: people and groups read from JSON or CSV
//! files in a configured folder, with delta runs driven by a per-record `updated` field.
//!
//! It is what a third party writes (see `docs/writing-a-connector.md`): the implementation lives
//! in an ordinary module, and one `export_connector!` line exposes it through the C ABI.
//!
//! ```sh
//! cargo build -p connector-api --release --example directory_connector
//! # -> target/release/examples/libdirectory_connector.so
//! ```

#[path = "support/directory.rs"]
mod directory;

connector_api::export_connector!(directory::DirectoryFactory);
