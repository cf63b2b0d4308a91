//! The token endpoint's transport as the client sends it: the origin-guarded POST of
//! [`HttpTransport`], paced in its own rate-limit bucket ([`Bucket::Token`]) and retried after
//! a 429, a 5xx or a dropped connection like every other request.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_api::{ConnectorError, Result};
use secrecy::SecretString;
use url::Url;

use super::rate_limit::{Pacer, PacingHook, RateHeaders};
use super::retry::{Failure, RetryPolicy, Step, is_retryable_status};
use crate::auth::oauth::transport::{HttpTransport, TokenReply, TokenTransport};
use crate::clock::Clock;
use crate::okta::Bucket;

/// No run telemetry exists when a token is fetched (the credential is shared by runs): waits
/// are not reported.
struct Unreported;

impl PacingHook for Unreported {
    fn waiting(&self, _bucket: Bucket, _wait: Duration, _limit: u32, _remaining: u32) {}
}

/// [`HttpTransport`] paced in the token bucket, with the client's retry policy.
#[derive(Debug)]
pub(crate) struct PacedTokenTransport {
    inner: HttpTransport,
    pacer: Arc<Pacer>,
    policy: RetryPolicy,
    clock: Arc<dyn Clock>,
}

impl PacedTokenTransport {
    /// Paces `inner` with `pacer` and retries by `policy`, sleeping on `clock`.
    pub(crate) fn new(
        inner: HttpTransport,
        pacer: Arc<Pacer>,
        policy: RetryPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        PacedTokenTransport {
            inner,
            pacer,
            policy,
            clock,
        }
    }
}

#[async_trait]
impl TokenTransport for PacedTokenTransport {
    async fn post_form(
        &self,
        url: &Url,
        form: &SecretString,
        proof: Option<&SecretString>,
    ) -> Result<TokenReply> {
        let mut retries = 0u32;
        loop {
            let ticket = self.pacer.acquire(Bucket::Token, &Unreported).await;
            let failure = match self.inner.post_form(url, form, proof).await {
                Ok(reply) => {
                    let rate = RateHeaders::from_headers(&reply.headers);
                    ticket.complete(&rate);
                    let status = reply.status;
                    if status.as_u16() != 429 && !is_retryable_status(status) {
                        return Ok(reply);
                    }
                    (Failure::Status { status, rate }, Ok(reply))
                }
                Err(e) if e.kind() != connector_api::ErrorKind::Unavailable => return Err(e),
                Err(e) => {
                    drop(ticket);
                    (Failure::Decode(e.message().to_owned()), Err(e))
                }
            };
            match self.policy.step(&failure.0, retries) {
                Step::Retry { wait, .. } => {
                    retries += 1;
                    self.clock.sleep(wait).await;
                }
                // The last answer goes to the token manager, which classifies it.
                Step::GiveUp => return failure.1.map_err(unreachable_after),
            }
        }
    }
}

/// The transport's own failure after retries (already classified as unavailable).
fn unreachable_after(e: ConnectorError) -> ConnectorError {
    e.with_remediation(
        "Okta's token endpoint could not be reached after the configured retries; check the network and status.okta.com",
    )
}
