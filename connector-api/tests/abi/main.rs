//! Integration tests of the plug-in boundary: real `cdylib`s (the crate's examples) loaded
//! through the real loader. One binary with modules, to keep link time low.
//!
//! `cargo test -p connector-api` builds the examples before running this binary; running only
//! this target (`--test abi`) needs `cargo build -p connector-api --examples` first.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../../examples/support/directory.rs"]
mod directory;

mod boundary;
mod c_host;
mod compat;
mod conformance;
mod plugins;
mod python;
