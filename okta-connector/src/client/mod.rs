//! The Okta HTTP client: one `reqwest` client plus pacing, retries, paging and error mapping.
//!
//! | concern | file |
//! | --- | --- |
//! | TLS, timeouts, credential headers, origin checks | [`http`] |
//! | following `Link: rel="next"` | [`pagination`] |
//! | reading only the ids of a page | [`ids`] |
//! | pacing per rate-limit bucket, concurrency limit | [`rate_limit`] |
//! | 429 / 5xx / transport retries and back-off | [`retry`] |
//! | the token endpoint's pacing and retries (OAuth) | `token.rs` |
//! | Okta error bodies → classified errors | [`errors`] |
//! | writes: what is retried, what is handed back unknown | [`write`] |

pub mod errors;
pub mod http;
pub mod ids;
pub mod pagination;
pub mod rate_limit;
pub mod retry;
mod token;
pub mod write;

use std::sync::Arc;
use std::time::Duration;

use connector_api::Result;

use url::Url;

use crate::auth::oauth::transport::{HttpTransport, TokenTransport};
use crate::auth::{Credential, Notices};
use crate::clock::Clock;
use http::{ApiOrigin, HttpClient};
use rate_limit::{ConcurrencyGate, Pacer};
use retry::RetryPolicy;

/// Requests in flight beside the member listings: the user and the group listings.
const LISTINGS_IN_FLIGHT: usize = 2;

/// How the client talks to the org: where, how fast, how patiently. Built by the crate root
/// from the validated configuration; the client never sees the configuration itself.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Where requests go (origin only).
    pub base_url: Url,
    /// The org host, lower case; its `next` links (and its `-admin` host's) are re-homed.
    pub org_domain: String,
    /// Retries per request.
    pub max_retries: u32,
    /// Cap of one back-off wait (server time).
    pub max_backoff: Duration,
    /// Member listings in flight.
    pub max_concurrency: u32,
    /// Share of each rate-limit bucket.
    pub rate_limit_share: f64,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Server seconds per real second (1 against real Okta).
    pub time_scale: f64,
}

/// Everything needed to talk to one Okta org; shared by every run of a connector instance.
#[derive(Debug)]
pub struct OktaClient {
    pub(crate) http: HttpClient,
    pub(crate) pacer: Arc<Pacer>,
    pub(crate) gate: ConcurrencyGate,
    pub(crate) policy: RetryPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    /// Notices the credential raised, logged with the next request's run.
    pub(crate) notices: Arc<Notices>,
}

impl OktaClient {
    /// Builds the client. Does not contact the network.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`](connector_api::ErrorKind) when TLS cannot be set up.
    #[cfg(test)]
    pub(crate) fn new(
        config: &ClientOptions,
        credential: Arc<dyn Credential>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        Self::with_credential(config, clock, |_, _| Ok(credential))
    }

    /// Builds the client with a credential made by `make` from the token transport it
    /// may use: the same HTTP client, origin-guarded, paced in the token bucket and retried
    /// like every other request (an OAuth credential fetches its tokens through it).
    ///
    /// # Errors
    /// [`ErrorKind::Internal`](connector_api::ErrorKind) when TLS cannot be set up, and what
    /// `make` fails with.
    pub(crate) fn with_credential(
        config: &ClientOptions,
        clock: Arc<dyn Clock>,
        make: impl FnOnce(Arc<dyn TokenTransport>, Arc<Notices>) -> Result<Arc<dyn Credential>>,
    ) -> Result<Self> {
        let origin = ApiOrigin::new(config.base_url.clone(), &config.org_domain);
        let inner = http::build_reqwest(config)?;
        let pacer = Arc::new(Pacer::new(
            config.rate_limit_share,
            config.time_scale,
            clock.clone(),
        ));
        let policy = RetryPolicy {
            max_retries: config.max_retries,
            base: Duration::from_secs(1),
            max_backoff: config.max_backoff,
            time_scale: config.time_scale,
        };
        let transport = Arc::new(token::PacedTokenTransport::new(
            HttpTransport::new(inner.clone(), &config.base_url),
            pacer.clone(),
            policy.clone(),
            clock.clone(),
        ));
        let notices = Arc::new(Notices::default());
        let credential = make(transport, notices.clone())?;
        Ok(OktaClient {
            notices,
            http: HttpClient::from_parts(inner, origin, credential),
            pacer,
            gate: ConcurrencyGate::new(config.max_concurrency as usize + LISTINGS_IN_FLIGHT),
            policy,
            clock,
        })
    }
}
