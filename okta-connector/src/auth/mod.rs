//! Credentials the HTTP client carries, behind one seam: the client asks a [`Credential`] for the
//! headers of every request attempt and tells it about 401 answers. `oauth` is the OAuth 2.0
//! service-app credential (private-key JWT, DPoP).

// The seam as agreed for the client rebuild; the client is wired to it separately, so some of
// these items have no caller in this crate yet.
#![allow(dead_code)]

pub(crate) mod oauth;

use async_trait::async_trait;
use connector_api::Result;
use reqwest::{Method, StatusCode, header::HeaderMap};
use url::Url;

/// What the client does after an authentication answer (401, or a 400 from a token exchange).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthRetry {
    /// Send the same request again, once, with fresh headers (a new token or a new DPoP nonce).
    Once,
    /// Not an answer this credential can fix: the client classifies the response as today.
    No,
}

/// A credential the client asks for the headers of every single request attempt.
#[async_trait]
pub(crate) trait Credential: Send + Sync + std::fmt::Debug {
    /// Headers authorizing one attempt of `method url` (`Authorization`, and `DPoP` when the
    /// token is sender-constrained), every value marked sensitive. Called once per attempt,
    /// so a DPoP proof is fresh on each retry.
    async fn authorize(&self, method: &Method, url: &Url) -> Result<HeaderMap>;

    /// Told about a 401 answer to a resource request (status and headers; the body is not
    /// needed). Returns `Once` when the credential changed something worth one more attempt
    /// (a `WWW-Authenticate: DPoP error="use_dpop_nonce"` nonce stored, or an `invalid_token`
    /// answered by refreshing the access token); `No` otherwise. A second 401 for the same
    /// request is final (the client does not ask again for that request).
    async fn rejected(&self, status: StatusCode, headers: &HeaderMap) -> Result<AuthRetry>;

    /// A short, secret-free description for `check` and logs ("API token (SSWS)",
    /// "OAuth 2.0 service app 0oa…, DPoP").
    fn describe(&self) -> String;
}
