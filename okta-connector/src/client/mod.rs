//! The Okta HTTP client: one `reqwest` client plus pacing, retries, paging and error mapping.
//!
//! | concern | file |
//! | --- | --- |
//! | TLS, timeouts, credential headers, origin checks | [`http`] |
//! | following `Link: rel="next"` | [`pagination`] |
//! | pacing per rate-limit bucket, concurrency limit | [`rate_limit`] |
//! | 429 / 5xx / transport retries and back-off | [`retry`] |
//! | Okta error bodies → classified errors | [`errors`] |

pub mod errors;
pub mod http;
pub mod pagination;
pub mod rate_limit;
pub mod retry;

use std::sync::Arc;
use std::time::Duration;

use connector_api::Result;

use url::Url;

use crate::auth::Credential;
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
    pub(crate) pacer: Pacer,
    pub(crate) gate: ConcurrencyGate,
    pub(crate) policy: RetryPolicy,
    pub(crate) clock: Arc<dyn Clock>,
}

impl OktaClient {
    /// Builds the client. Does not contact the network.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`](connector_api::ErrorKind) when TLS cannot be set up.
    pub(crate) fn new(
        config: &ClientOptions,
        credential: Arc<dyn Credential>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let origin = ApiOrigin::new(config.base_url.clone(), &config.org_domain);
        Ok(OktaClient {
            http: HttpClient::new(config, origin, credential)?,
            pacer: Pacer::new(config.rate_limit_share, config.time_scale, clock.clone()),
            gate: ConcurrencyGate::new(config.max_concurrency as usize + LISTINGS_IN_FLIGHT),
            policy: RetryPolicy {
                max_retries: config.max_retries,
                base: Duration::from_secs(1),
                max_backoff: config.max_backoff,
                time_scale: config.time_scale,
            },
            clock,
        })
    }
}
