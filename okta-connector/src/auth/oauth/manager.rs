//! [`TokenManager`]: the OAuth 2.0 service-app [`Credential`]. One access token is shared by
//! every request; it is fetched once (single flight) when missing, shortly before it expires
//! and after a `401 invalid_token`. DPoP nonces from the token endpoint and from the resource
//! server are kept (the latest of each) and put in the next proof.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use connector_api::{ConnectorError, Result};
use reqwest::header::{AUTHORIZATION, HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::{Origin, Url};
use zeroize::Zeroizing;

use super::errors::{OAuthError, classify, dpop_disabled};
use super::jwt;
use super::key::SigningKey;
use super::transport::{TokenReply, TokenTransport, guard_origin, sensitive};
use crate::auth::{AuthRetry, Credential};
use crate::clock::Clock;

/// The `client_assertion_type` of RFC 7523.
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The org authorization server's token endpoint, relative to the org URL.
pub(crate) const TOKEN_PATH: &str = "/oauth2/v1/token";
/// A token is renewed this long before it expires (or at half its lifetime when shorter).
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// A `401 invalid_token` within this long after a refresh (or a quarter of the lifetime when
/// shorter) was answered by that refresh already: retry without fetching another token.
const FRESH_GRACE: Duration = Duration::from_secs(5);

/// The `Dpop` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DpopMode {
    /// `true`: every token request and resource request carries a proof.
    Always,
    /// Absent: start without proofs; switch on (once, logged) when the app requires them.
    Auto,
    /// `false`: never send a proof; an app that requires them is a configuration error.
    Never,
}

impl DpopMode {
    /// The mode for the optional `Dpop` config value.
    pub(crate) fn from_config(value: Option<bool>) -> Self {
        match value {
            Some(true) => DpopMode::Always,
            None => DpopMode::Auto,
            Some(false) => DpopMode::Never,
        }
    }
}

/// Where an operator-facing notice (the DPoP switch) goes; the run wires it to its log.
pub(crate) type Notice = Arc<dyn Fn(&str) + Send + Sync>;

/// What the token manager needs; built by the connector from its validated configuration.
pub(crate) struct OAuthOptions {
    /// `ClientId`.
    pub client_id: String,
    /// `KeyId`, sent as the assertion's `kid`.
    pub key_id: Option<String>,
    /// The parsed `PrivateKey`.
    pub key: SigningKey,
    /// The space-separated scopes to request.
    pub scopes: String,
    /// The `Dpop` setting.
    pub dpop: DpopMode,
    /// The org URL (`https://{OrgDomain}` or `ApiBaseUrl`); the token endpoint is on it.
    pub org: Url,
    /// Further origins resource requests may go to (the `-admin` IGA host).
    pub extra_origins: Vec<Url>,
    /// Receives the one-time notice when DPoP is switched on.
    pub notice: Option<Notice>,
}

/// The current access token. `Debug` never shows the value.
struct AccessToken {
    value: SecretString,
    dpop: bool,
    obtained_at: Instant,
    lifetime: Duration,
    scope: Option<String>,
}

impl AccessToken {
    fn fresh_at(&self, now: Instant) -> bool {
        let margin = REFRESH_MARGIN.min(self.lifetime / 2);
        now + margin < self.obtained_at + self.lifetime
    }
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: SecretString,
    token_type: String,
    expires_in: u64,
    scope: Option<String>,
}

/// The OAuth 2.0 service-app credential.
pub(crate) struct TokenManager {
    opts: OAuthOptions,
    token_url: Url,
    origins: Vec<Origin>,
    transport: Arc<dyn TokenTransport>,
    clock: Arc<dyn Clock>,
    /// A monotonic instant and the Unix time (s) it corresponds to: `iat` comes from here.
    epoch: (Instant, i64),
    token: tokio::sync::Mutex<Option<Arc<AccessToken>>>,
    dpop_on: AtomicBool,
    token_nonce: Mutex<Option<String>>,
    resource_nonce: Mutex<Option<String>>,
    fetched: AtomicU64,
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("client_id", &self.opts.client_id)
            .field("key", &self.opts.key)
            .field("token_url", &self.token_url.as_str())
            .field("dpop", &self.dpop_on.load(Ordering::Relaxed))
            .field("tokens_fetched", &self.fetched.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl TokenManager {
    /// A manager that has no token yet. `unix_now` is the wall-clock time (Unix seconds) at
    /// `clock.now()`; later `iat`s advance with `clock`.
    pub(crate) fn new(
        opts: OAuthOptions,
        transport: Arc<dyn TokenTransport>,
        clock: Arc<dyn Clock>,
        unix_now: i64,
    ) -> Result<Self> {
        let token_url = opts.org.join(TOKEN_PATH).map_err(|_| {
            ConnectorError::invalid_config("the org URL cannot carry the token endpoint path")
        })?;
        let mut origins = vec![opts.org.origin()];
        origins.extend(opts.extra_origins.iter().map(Url::origin));
        Ok(TokenManager {
            dpop_on: AtomicBool::new(opts.dpop == DpopMode::Always),
            epoch: (clock.now(), unix_now),
            opts,
            token_url,
            origins,
            transport,
            clock,
            token: tokio::sync::Mutex::new(None),
            token_nonce: Mutex::new(None),
            resource_nonce: Mutex::new(None),
            fetched: AtomicU64::new(0),
        })
    }

    /// The token endpoint URL (also the assertion's `aud` and the proof's `htu`).
    pub(crate) fn token_url(&self) -> &Url {
        &self.token_url
    }

    /// The scopes the current token was granted (as the token endpoint listed them).
    pub(crate) async fn granted_scopes(&self) -> Option<String> {
        self.token
            .lock()
            .await
            .as_ref()
            .and_then(|t| t.scope.clone())
    }

    /// How many access tokens were obtained so far.
    pub(crate) fn tokens_fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    fn unix_now(&self) -> i64 {
        let elapsed = self.clock.now().saturating_duration_since(self.epoch.0);
        self.epoch.1 + i64::try_from(elapsed.as_secs()).unwrap_or(0)
    }

    /// The shared token, fetched first when missing or about to expire. Callers queue on
    /// the lock while one of them fetches.
    async fn token(&self) -> Result<Arc<AccessToken>> {
        let mut slot = self.token.lock().await;
        if let Some(t) = slot.as_ref().filter(|t| t.fresh_at(self.clock.now())) {
            return Ok(Arc::clone(t));
        }
        let fresh = Arc::new(self.fetch().await?);
        *slot = Some(Arc::clone(&fresh));
        Ok(fresh)
    }

    /// Runs the token exchange: at most one nonce retry and one switch to DPoP.
    async fn fetch(&self) -> Result<AccessToken> {
        let (mut nonce_retried, mut switched) = (false, false);
        loop {
            let dpop = self.dpop_on.load(Ordering::Acquire);
            let reply = self.post_token(dpop).await?;
            store_nonce(&self.token_nonce, &reply.headers);
            if reply.status.is_success() {
                return self.accept(&reply, dpop);
            }
            let err = OAuthError::parse(&reply.body);
            if dpop && err.error == "use_dpop_nonce" && !nonce_retried && has_nonce(&reply.headers)
            {
                nonce_retried = true;
                continue;
            }
            if !dpop && !switched && err.requires_dpop() {
                match self.opts.dpop {
                    DpopMode::Never => return Err(dpop_disabled()),
                    DpopMode::Auto | DpopMode::Always => {
                        switched = true;
                        self.switch_to_dpop();
                        continue;
                    }
                }
            }
            return Err(classify(reply.status, &err, &self.opts.scopes));
        }
    }

    fn switch_to_dpop(&self) {
        if !self.dpop_on.swap(true, Ordering::AcqRel)
            && let Some(notice) = &self.opts.notice
        {
            notice(&format!(
                "the Okta app {} requires DPoP: sending DPoP proofs from now on (set \"Dpop\": true to start with them)",
                self.opts.client_id
            ));
        }
    }

    async fn post_token(&self, dpop: bool) -> Result<TokenReply> {
        let now = self.unix_now();
        let o = &self.opts;
        let assertion = jwt::client_assertion(
            &o.key,
            &o.client_id,
            o.key_id.as_deref(),
            &self.token_url,
            now,
        )?;
        let form = SecretString::from(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "client_credentials")
                .append_pair("scope", &o.scopes)
                .append_pair("client_assertion_type", ASSERTION_TYPE)
                .append_pair("client_assertion", assertion.expose_secret())
                .finish(),
        );
        let proof = if dpop {
            let nonce = lock(&self.token_nonce).clone();
            Some(jwt::dpop_proof(
                &o.key,
                &Method::POST,
                &self.token_url,
                now,
                nonce.as_deref(),
                None,
            )?)
        } else {
            None
        };
        self.transport
            .post_form(&self.token_url, &form, proof.as_ref())
            .await
    }

    fn accept(&self, reply: &TokenReply, dpop: bool) -> Result<AccessToken> {
        let unreadable = || {
            ConnectorError::protocol(
                "the token endpoint answered 200 without a readable access_token, token_type and expires_in",
            )
        };
        let body: TokenBody = serde_json::from_slice(&reply.body).map_err(|_| unreadable())?;
        let bound = match body.token_type.to_ascii_lowercase().as_str() {
            "dpop" if dpop => true,
            "bearer" => false,
            _ => {
                return Err(ConnectorError::protocol(format!(
                    "the token endpoint issued a token of type {:?} to a request {} a DPoP proof",
                    body.token_type,
                    if dpop { "with" } else { "without" }
                )));
            }
        };
        self.fetched.fetch_add(1, Ordering::Relaxed);
        Ok(AccessToken {
            value: body.access_token,
            dpop: bound,
            obtained_at: self.clock.now(),
            lifetime: Duration::from_secs(body.expires_in),
            scope: body.scope,
        })
    }

    /// Drops the token after `invalid_token` unless it was just fetched (then a concurrent
    /// request already refreshed it).
    async fn invalidate(&self) {
        let mut slot = self.token.lock().await;
        let now = self.clock.now();
        let just_fetched = slot.as_ref().is_some_and(|t| {
            now.saturating_duration_since(t.obtained_at) < FRESH_GRACE.min(t.lifetime / 4)
        });
        if !just_fetched {
            *slot = None;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn has_nonce(headers: &HeaderMap) -> bool {
    headers
        .get("dpop-nonce")
        .is_some_and(|v| v.to_str().is_ok_and(|s| !s.is_empty()))
}

/// Keeps the latest `DPoP-Nonce` a server sent.
fn store_nonce(slot: &Mutex<Option<String>>, headers: &HeaderMap) {
    if let Some(n) = headers.get("dpop-nonce").and_then(|v| v.to_str().ok())
        && !n.is_empty()
    {
        *lock(slot) = Some(n.to_owned());
    }
}

/// The `error` parameter of a `WWW-Authenticate` challenge (`DPoP error="use_dpop_nonce"`).
pub(crate) fn challenge_error(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let start = v.find("error=\"")? + "error=\"".len();
            let len = v[start..].find('"')?;
            Some(v[start..start + len].to_owned())
        })
}

#[async_trait]
impl Credential for TokenManager {
    async fn authorize(&self, method: &Method, url: &Url) -> Result<HeaderMap> {
        if !self.origins.contains(&url.origin()) {
            return guard_origin(&self.origins[0], url).map(|()| HeaderMap::new());
        }
        let token = self.token().await?;
        let mut headers = HeaderMap::new();
        let scheme = if token.dpop { "DPoP" } else { "Bearer" };
        let value = Zeroizing::new(format!("{scheme} {}", token.value.expose_secret()));
        headers.insert(AUTHORIZATION, sensitive(&value)?);
        if token.dpop {
            let nonce = lock(&self.resource_nonce).clone();
            let proof = jwt::dpop_proof(
                &self.opts.key,
                method,
                url,
                self.unix_now(),
                nonce.as_deref(),
                Some(&token.value),
            )?;
            headers.insert("dpop", sensitive(proof.expose_secret())?);
        }
        Ok(headers)
    }

    async fn rejected(&self, status: StatusCode, headers: &HeaderMap) -> Result<AuthRetry> {
        if status != StatusCode::UNAUTHORIZED {
            return Ok(AuthRetry::No);
        }
        match challenge_error(headers).as_deref() {
            Some("use_dpop_nonce") if has_nonce(headers) => {
                store_nonce(&self.resource_nonce, headers);
                Ok(AuthRetry::Once)
            }
            Some("invalid_token") => {
                self.invalidate().await;
                Ok(AuthRetry::Once)
            }
            _ => Ok(AuthRetry::No),
        }
    }

    fn describe(&self) -> String {
        let proof = match (self.dpop_on.load(Ordering::Relaxed), self.opts.dpop) {
            (true, _) => "DPoP",
            (false, DpopMode::Auto) => "Bearer, DPoP when required",
            (false, _) => "Bearer",
        };
        format!("OAuth 2.0 service app {}, {proof}", self.opts.client_id)
    }
}
