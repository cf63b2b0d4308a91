//! The credential seam: the HTTP client asks a [`Credential`] for the headers of every request
//! attempt and tells it about 401 answers, without knowing which credential it carries.
//!
//! [`ApiToken`] is the SSWS API token; `oauth` is the OAuth 2.0 service-app credential
//! (private-key JWT, DPoP), wired in by the configuration's `PrivateKeyJwt` mode. Credentials are built from the validated
//! [`AuthSettings`](crate::config::AuthSettings) by [`credential`].

mod api_token;
pub(crate) mod check;
pub(crate) mod oauth;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use connector_api::Result;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use url::Url;

pub use api_token::ApiToken;

use crate::clock::Clock;
use crate::config::DeltaSource;
use crate::config::{AuthSettings, Config, OAuthSettings};
use crate::okta::ResourceKind;
use crate::okta::iga::{IgaType, Level};
use oauth::key::SigningKey;
use oauth::manager::{DpopMode, OAuthOptions, TokenManager};
use oauth::scopes::{ScopeNeeds, default_scopes};
use oauth::transport::TokenTransport;

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

    /// The scopes the access token was granted and the scopes the token endpoint refused,
    /// fetching a token when none is held; `None` for a credential without scopes (SSWS).
    async fn scopes(&self) -> Result<Option<GrantedScopes>> {
        Ok(None)
    }

    /// A short, secret-free description for `check` and logs ("API token (SSWS)",
    /// "OAuth 2.0 service app 0oa…, DPoP").
    fn describe(&self) -> String;
}

/// What an OAuth access token may do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GrantedScopes {
    /// The scopes the token was granted (the token answer's `scope`).
    pub granted: Vec<String>,
    /// Scopes the token endpoint refused (`invalid_scope`) and the connector no longer asks for.
    pub refused: Vec<String>,
}

/// Operator-facing notices a credential raised between requests (the one-time DPoP switch);
/// the client logs them with the run that is going on.
#[derive(Debug, Default)]
pub(crate) struct Notices(Mutex<Vec<String>>);

impl Notices {
    /// Queues a notice.
    pub(crate) fn push(&self, message: &str) {
        self.lock().push(message.to_owned());
    }

    /// Takes every queued notice.
    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What building a credential needs besides its settings.
pub(crate) struct CredentialParts {
    /// The validated configuration (what is read decides the default scopes; the org URL).
    pub config: Config,
    /// The token endpoint transport (paced, origin-guarded).
    pub transport: Arc<dyn TokenTransport>,
    /// The connector's clock.
    pub clock: Arc<dyn Clock>,
    /// Where the DPoP switch notice goes.
    pub notices: Arc<Notices>,
}

/// The credential the validated settings describe.
///
/// # Errors
/// `invalid_config` naming `PrivateKey` when the key cannot be used.
pub(crate) fn credential(
    settings: AuthSettings,
    parts: CredentialParts,
) -> Result<Arc<dyn Credential>> {
    match settings {
        AuthSettings::ApiKey(token) => Ok(Arc::new(ApiToken::new(token))),
        AuthSettings::PrivateKeyJwt(oauth) => Ok(Arc::new(token_manager(oauth, parts)?)),
    }
}

/// The OAuth 2.0 service-app credential for `settings`.
fn token_manager(settings: OAuthSettings, parts: CredentialParts) -> Result<TokenManager> {
    let config = &parts.config;
    let key = SigningKey::parse(&settings.private_key)?;
    drop(settings.private_key);
    let scopes = match &settings.scopes {
        Some(list) => list.join(" "),
        None => needed_scopes(config),
    };
    let admin = config
        .admin_domain()
        .and_then(|host| url::Url::parse(&format!("https://{host}/")).ok());
    let notices = parts.notices.clone();
    let opts = OAuthOptions {
        client_id: settings.client_id,
        key_id: settings.key_id,
        key,
        scopes,
        dpop: DpopMode::from_config(settings.dpop),
        org: config.base_url.clone(),
        extra_origins: admin.into_iter().collect(),
        notice: Some(Arc::new(move |m: &str| notices.push(m))),
    };
    let unix_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    TokenManager::new(opts, parts.transport, parts.clock, unix_now)
}

/// The default `scope`: exactly what `config` reads — the core families, and each configured
/// IGA list's read scope from its row in the IGA spec table.
pub(crate) fn needed_scopes(config: &Config) -> String {
    let iga = &config.iga;
    let types: Vec<IgaType> = if iga.enabled {
        IgaType::ALL
            .into_iter()
            .filter(|t| iga.imports(*t))
            .collect()
    } else {
        Vec::new()
    };
    let discovers = |kind: ResourceKind| {
        iga.resource_kinds.contains(&kind)
            && types.iter().any(
                |t| matches!(t.spec().level, Level::PerResource(kinds) if kinds.contains(&kind)),
            )
    };
    let iga_scopes: Vec<&str> = types.iter().map(|t| t.spec().read_scope).collect();
    default_scopes(&ScopeNeeds {
        users: config.import_users,
        groups: config.import_groups || config.import_memberships || discovers(ResourceKind::Group),
        apps: discovers(ResourceKind::Application),
        // A SystemLog delta reads `/api/v1/logs` (and `check` probes it).
        logs: config.delta_source == DeltaSource::SystemLog,
        // Admin roles are not read by this version.
        roles: false,
        iga: &iga_scopes,
    })
}
