//! The Okta HTTP client: one `reqwest` client plus pacing, retries, paging and error mapping.
//!
//! | concern | file |
//! | --- | --- |
//! | TLS, timeouts, token header, origin checks | [`http`] |
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

use crate::clock::Clock;
use crate::config::{ApiToken, Config};
use http::HttpClient;
use rate_limit::{ConcurrencyGate, Pacer};
use retry::RetryPolicy;

/// Requests in flight beside the member listings: the user and the group listings.
const LISTINGS_IN_FLIGHT: usize = 2;

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
    /// Builds the client from a validated configuration. Does not contact the network.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`](connector_api::ErrorKind) when TLS cannot be set up.
    pub fn new(config: &Config, token: ApiToken, clock: Arc<dyn Clock>) -> Result<Self> {
        Ok(OktaClient {
            http: HttpClient::new(config, token)?,
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
