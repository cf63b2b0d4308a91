//! Integration tests of the Okta connector against the Okta simulator (`fixtures`).
//!
//! One test binary with modules, so the crate links once. Tests print the figures they
//! measure (requests per object, pacing ratio); run with `--nocapture` to see them.
#![allow(clippy::print_stdout)]

mod support;

mod access;
mod conformance;
mod delta;
mod errors;
mod export;
mod full;
mod iga;
mod layering;
mod oauth;
mod paging_props;
mod rate_limits;
mod resilience;
mod secrets;
mod throughput;
