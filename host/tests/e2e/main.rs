//! End-to-end tests: the host, the Okta connector `cdylib` (loaded through the connector-api
//! loader) and the Okta simulator, in one test binary to keep link time down.
//!
//! The connector library is found with `locate_library("okta_connector")`: `cargo test -p host`
//! builds it as a dependency into `target/<profile>/deps/`. A test that cannot find it fails
//! with a message saying how to build it; nothing is skipped silently.

mod bad_input;
mod canary;
mod cli;
mod containment;
mod export;
mod failures;
mod fast;
mod faults;
mod guard;
mod oauth;
mod postgres;
mod process;
mod secrets;
mod snapshot;
mod support;
mod sync;
mod syslog;
mod worker;
mod write_back;
