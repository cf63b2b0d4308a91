//! Connector API.
