//! The token POST, behind a small trait so tests can script the authorization server. The
//! production transport is a `reqwest` client that refuses any URL outside the org origin.

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;
use connector_api::{ConnectorError, Result};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use url::{Origin, Url};

/// What the token endpoint answered.
#[derive(Debug)]
pub(crate) struct TokenReply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers (`DPoP-Nonce` matters).
    pub headers: HeaderMap,
    /// The body. A 200 body holds the access token: never log it.
    pub body: Bytes,
}

/// Sends one token request.
#[async_trait]
pub(crate) trait TokenTransport: Send + Sync + fmt::Debug {
    /// POSTs `form` (already `application/x-www-form-urlencoded`; it holds the client
    /// assertion) to `url`, with a `DPoP` header when `proof` is given.
    async fn post_form(
        &self,
        url: &Url,
        form: &SecretString,
        proof: Option<&SecretString>,
    ) -> Result<TokenReply>;
}

/// Refuses a URL outside `origin`: nothing signed leaves the org.
pub(crate) fn guard_origin(origin: &Origin, url: &Url) -> Result<()> {
    if url.origin() == *origin {
        Ok(())
    } else {
        Err(ConnectorError::internal(format!(
            "refusing to send credentials to {}: only {} is trusted",
            url.origin().ascii_serialization(),
            origin.ascii_serialization()
        )))
    }
}

/// Marks a header value sensitive (hyper and reqwest then keep it out of their logs).
pub(crate) fn sensitive(value: &str) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(value)
        .map_err(|_| ConnectorError::internal("a credential is not a valid HTTP header value"))?;
    v.set_sensitive(true);
    Ok(v)
}

/// The production transport: a `reqwest` client bound to the org origin.
#[derive(Debug, Clone)]
pub(crate) struct HttpTransport {
    http: reqwest::Client,
    origin: Origin,
}

impl HttpTransport {
    /// A transport that only ever POSTs to URLs of `base`'s origin.
    pub(crate) fn new(http: reqwest::Client, base: &Url) -> Self {
        HttpTransport {
            http,
            origin: base.origin(),
        }
    }
}

#[async_trait]
impl TokenTransport for HttpTransport {
    async fn post_form(
        &self,
        url: &Url,
        form: &SecretString,
        proof: Option<&SecretString>,
    ) -> Result<TokenReply> {
        guard_origin(&self.origin, url)?;
        let mut req = self
            .http
            .post(url.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(form.expose_secret().to_owned());
        if let Some(p) = proof {
            req = req.header("DPoP", sensitive(p.expose_secret())?);
        }
        let failed = |e: reqwest::Error| {
            ConnectorError::unavailable(format!("token endpoint {url}: {}", e.without_url()))
        };
        let resp = req.send().await.map_err(failed)?;
        let (status, headers) = (resp.status(), resp.headers().clone());
        let body = resp.bytes().await.map_err(failed)?;
        Ok(TokenReply {
            status,
            headers,
            body,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use super::*;

    /// A plain reqwest client for tests (ring TLS provider, no trust anchors: HTTP only).
    pub(crate) fn test_http() -> reqwest::Client {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn refuses_another_origin_before_sending() {
        let base = Url::parse("https://acme.okta.com").unwrap();
        let t = HttpTransport::new(test_http(), &base);
        for url in [
            "https://evil.example/oauth2/v1/token",
            "http://acme.okta.com/oauth2/v1/token",
            "https://acme.okta.com:8443/oauth2/v1/token",
            "https://acme-admin.okta.com/oauth2/v1/token",
        ] {
            let form = SecretString::from("client_assertion=canary-assertion");
            let err = t
                .post_form(&Url::parse(url).unwrap(), &form, None)
                .await
                .unwrap_err();
            assert!(
                err.message().contains("refusing to send credentials"),
                "{err}"
            );
            assert!(!format!("{err:?}").contains("canary"), "{err:?}");
        }
    }
}
