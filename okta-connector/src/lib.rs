//! Read-only Okta connector.
