//! The one HTTP client: rustls (ring provider, platform trust store), gzip, timeouts, no
//! redirects, and the credential's headers sent only to the configured origin.
//!
//! This module makes single attempts; [`super::retry`] decides what to do with failures.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue, USER_AGENT};
use url::Url;

use connector_api::{ConnectorError, Result};

use super::ClientOptions;
use crate::auth::Credential;

/// The origin requests go to, and the hosts whose `next` links may be re-homed onto it.
#[derive(Debug, Clone)]
pub struct ApiOrigin {
    base: Url,
    org_domain: String,
    admin_domain: Option<String>,
}

impl ApiOrigin {
    /// Requests go to `base` (an origin); `next` links on `org_domain` or its `-admin` host
    /// are re-homed onto it.
    pub fn new(base: Url, org_domain: &str) -> Self {
        ApiOrigin {
            base,
            org_domain: org_domain.to_owned(),
            admin_domain: crate::okta::admin_domain(org_domain),
        }
    }

    /// `path_and_query` (e.g. `/api/v1/users?limit=200`) on the configured origin.
    pub fn url(&self, path: &str) -> Url {
        let mut u = self.base.clone();
        u.set_path(path);
        u
    }

    /// The org host, for messages.
    pub fn org_domain(&self) -> &str {
        &self.org_domain
    }

    /// Decides whether a URL the server handed us (a `next` link) may be requested with the
    /// token. The configured origin is accepted as is; the org's own host and its `-admin`
    /// host (Okta puts the latter in some `next` links) are re-homed onto the configured origin
    /// keeping only path and query; any other host is refused.
    ///
    /// # Errors
    /// The foreign host, for the error message.
    pub fn admit(&self, url: Url) -> std::result::Result<Url, String> {
        if url.origin() == self.base.origin() {
            return Ok(url);
        }
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let ours = host == self.org_domain || self.admin_domain.as_deref() == Some(host.as_str());
        if ours && url.scheme() == "https" && url.username().is_empty() && url.password().is_none()
        {
            let mut rehomed = self.base.clone();
            rehomed.set_path(url.path());
            rehomed.set_query(url.query());
            return Ok(rehomed);
        }
        Err(host)
    }

    fn is_ours(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }
}

/// A response as read from the wire.
#[derive(Debug)]
pub struct RawResponse {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The whole (decompressed) body.
    pub body: Bytes,
}

/// Why an attempt produced no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The host name does not resolve (wrong OrgDomain or region).
    Dns(String),
    /// TLS failed (certificate not trusted, TLS-intercepting proxy…).
    Tls(String),
    /// The request or the body read timed out.
    Timeout(String),
    /// Connecting failed, or the connection dropped before the whole response arrived.
    Connection(String),
    /// The URL is not on the configured origin: the token is never sent there.
    ForeignOrigin(String),
}

impl TransportError {
    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            TransportError::Timeout(_) | TransportError::Connection(_)
        )
    }

    /// A short description for logs and errors.
    pub fn describe(&self) -> String {
        match self {
            TransportError::Dns(m) => format!("host name lookup failed: {m}"),
            TransportError::Tls(m) => format!("TLS failed: {m}"),
            TransportError::Timeout(m) => format!("timed out: {m}"),
            TransportError::Connection(m) => format!("connection failed: {m}"),
            TransportError::ForeignOrigin(h) => format!("refused to send the token to {h}"),
        }
    }

    fn from_reqwest(err: reqwest::Error) -> Self {
        let timeout = err.is_timeout();
        let chain = error_chain(err.without_url());
        let lower = chain.to_ascii_lowercase();
        if timeout {
            TransportError::Timeout(chain)
        } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
            TransportError::Dns(chain)
        } else if lower.contains("certificate")
            || lower.contains("tls")
            || lower.contains("handshake")
        {
            TransportError::Tls(chain)
        } else {
            TransportError::Connection(chain)
        }
    }
}

fn error_chain(err: reqwest::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// The HTTP client of one connector instance.
pub struct HttpClient {
    inner: reqwest::Client,
    origin: ApiOrigin,
    credential: Arc<dyn Credential>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("origin", &self.origin.base.as_str())
            .field("auth", &self.credential.describe())
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Builds the client. Does not contact the network.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`](connector_api::ErrorKind) when TLS cannot be set up.
    pub(crate) fn new(
        config: &ClientOptions,
        origin: ApiOrigin,
        credential: Arc<dyn Credential>,
    ) -> Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| {
            ConnectorError::internal(format!("cannot load the platform's TLS trust store: {e}"))
        })?;
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ConnectorError::internal(format!("cannot configure TLS: {e}")))?
            .dangerous() // a verifier, not "no verification": the platform's trust store
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("okta-connector/", env!("CARGO_PKG_VERSION"))),
        );
        let inner = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .default_headers(headers)
            .gzip(true)
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(15)))
            .timeout(config.request_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(config.max_concurrency as usize + 4)
            .build()
            .map_err(|e| ConnectorError::internal(format!("cannot build the HTTP client: {e}")))?;
        Ok(HttpClient {
            inner,
            origin,
            credential,
        })
    }

    /// The configured origin.
    pub fn origin(&self) -> &ApiOrigin {
        &self.origin
    }

    /// The credential every attempt is authorized with.
    pub(crate) fn credential(&self) -> &dyn Credential {
        self.credential.as_ref()
    }

    /// One GET attempt with the credential's headers (`auth`, from
    /// [`Credential::authorize`] for this very attempt): sends the request and reads the
    /// whole body.
    ///
    /// # Errors
    /// A [`TransportError`] when no complete response arrived (or the URL is foreign).
    pub async fn get(
        &self,
        url: &Url,
        auth: HeaderMap,
    ) -> std::result::Result<RawResponse, TransportError> {
        if !self.origin.is_ours(url) {
            return Err(TransportError::ForeignOrigin(
                url.host_str().unwrap_or_default().to_owned(),
            ));
        }
        let resp = self
            .inner
            .get(url.clone())
            .headers(auth)
            .send()
            .await
            .map_err(TransportError::from_reqwest)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(TransportError::from_reqwest)?;
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ApiToken;
    use secrecy::SecretString;

    fn options(base: &str) -> ClientOptions {
        ClientOptions {
            base_url: Url::parse(base).unwrap(),
            org_domain: "contoso.okta.com".to_owned(),
            max_retries: 3,
            max_backoff: Duration::from_secs(30),
            max_concurrency: 8,
            rate_limit_share: 0.5,
            request_timeout: Duration::from_secs(60),
            time_scale: 1.0,
        }
    }

    fn client(base: &str) -> HttpClient {
        let o = options(base);
        let origin = ApiOrigin::new(o.base_url.clone(), &o.org_domain);
        let token = ApiToken::new(SecretString::from("canary-5f2e9b".to_owned()));
        HttpClient::new(&o, origin, Arc::new(token)).unwrap()
    }

    async fn auth(c: &HttpClient, url: &Url) -> HeaderMap {
        c.credential()
            .authorize(&reqwest::Method::GET, url)
            .await
            .unwrap()
    }

    #[test]
    fn admits_own_origin_and_rehomes_org_hosts() {
        let o = ApiOrigin::new(
            Url::parse("http://127.0.0.1:9000").unwrap(),
            "contoso.okta.com",
        );
        let own = Url::parse("http://127.0.0.1:9000/api/v1/users?after=00u2").unwrap();
        assert_eq!(o.admit(own.clone()).unwrap(), own);
        let admin =
            Url::parse("https://contoso-admin.okta.com/api/v1/users?after=00u2&limit=2").unwrap();
        assert_eq!(
            o.admit(admin).unwrap().as_str(),
            "http://127.0.0.1:9000/api/v1/users?after=00u2&limit=2"
        );
        let org = Url::parse("https://contoso.okta.com/api/v1/groups?after=x").unwrap();
        assert_eq!(
            o.admit(org).unwrap().as_str(),
            "http://127.0.0.1:9000/api/v1/groups?after=x"
        );
        for foreign in [
            "https://evil.example.com/api/v1/users?after=1",
            "https://other-admin.okta.com/api/v1/users",
            "http://contoso.okta.com/api/v1/users",
            "https://user@contoso.okta.com/api/v1/users",
            "http://127.0.0.1:9001/api/v1/users",
        ] {
            assert!(o.admit(Url::parse(foreign).unwrap()).is_err(), "{foreign}");
        }
    }

    /// Answers every connection with `response` and counts connections.
    async fn scripted_server(
        response: &'static str,
    ) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        (port, hits)
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        // The "other" host counts whether anything ever reaches it.
        let (other, other_hits) =
            scripted_server("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]")
                .await;
        let redirect: &'static str = Box::leak(
            format!(
                "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{other}/steal\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
            .into_boxed_str(),
        );
        let (org, org_hits) = scripted_server(redirect).await;
        let c = client(&format!("http://127.0.0.1:{org}"));
        let url = c.origin().url("/api/v1/users");
        let resp = c.get(&url, auth(&c, &url).await).await.unwrap();
        assert_eq!(resp.status.as_u16(), 302);
        assert_eq!(org_hits.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(other_hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn never_sends_to_a_foreign_origin() {
        let c = client("https://contoso.okta.com");
        let evil = Url::parse("https://evil.example.com/api/v1/users").unwrap();
        let err = c.get(&evil, auth(&c, &evil).await).await.unwrap_err();
        assert_eq!(
            err,
            TransportError::ForeignOrigin("evil.example.com".into())
        );
        assert!(!format!("{c:?}").contains("canary"));
    }
}
