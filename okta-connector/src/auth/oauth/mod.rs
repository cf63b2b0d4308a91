//! OAuth 2.0 service-app credential: a client assertion signed with the app's private key
//! (RFC 7523, `private_key_jwt`) buys an access token from the org authorization server
//! (`/oauth2/v1/token`), optionally bound to the key with DPoP proofs (RFC 9449).
//!
//! | file | what |
//! | --- | --- |
//! | `key.rs` | `PrivateKey` (PEM or JWK) → [`key::SigningKey`] (RS256 / ES256), public JWK |
//! | `jwt.rs` | the client assertion and DPoP proofs (compact JWS) |
//! | `scopes.rs` | the default scope string from what the configuration reads |
//! | `transport.rs` | the token POST, origin-guarded, injectable for tests |
//! | `manager.rs` | [`manager::TokenManager`]: the shared token, nonces, refresh; the `Credential` |
//!
//! Signing and verification use `ring` (already compiled for rustls); PEM is read by
//! `rustls-pki-types`. Key material, assertions, proofs and tokens are only held in
//! `SecretString` or zeroized buffers.

pub(crate) mod errors;
pub(crate) mod jwt;
pub(crate) mod key;
pub(crate) mod manager;
pub(crate) mod scopes;
pub(crate) mod transport;

#[cfg(test)]
mod tests;
