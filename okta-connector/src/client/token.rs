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
use crate::telemetry::RateSeen;

/// No run telemetry exists when a token is fetched (the credential is shared by runs): waits
/// are not reported.
struct Unreported;

impl PacingHook for Unreported {
    fn waiting(&self, _bucket: Bucket, _wait: Duration, _rate: RateSeen) {}
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
                // The last answer goes to the token manager, which classifies it (a proxy's
                // Retry-After longer than MaxBackoffSeconds ends the retries the same way).
                Step::GiveUp | Step::RetryAfterTooLong(_) => {
                    return failure.1.map_err(unreachable_after);
                }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::auth::oauth::transport::tests::test_http;
    use crate::clock::TokioClock;

    /// Answers the first token request 429 (bucket spent, resets now), the rest 200.
    async fn token_server() -> (Url, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 8192];
                let _ = socket.read(&mut buf).await;
                let answer = if n == 0 {
                    "HTTP/1.1 429 Too Many Requests\r\ndate: Thu, 03 Dec 2026 09:00:00 GMT\r\n\
                     x-rate-limit-limit: 600\r\nx-rate-limit-remaining: 0\r\n\
                     x-rate-limit-reset: 1796288400\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}"
                } else {
                    "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}"
                };
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        let url = Url::parse(&format!("http://127.0.0.1:{port}/oauth2/v1/token")).unwrap();
        (url, hits)
    }

    #[tokio::test]
    async fn a_429_from_the_token_endpoint_is_paced_and_retried() {
        let (url, hits) = token_server().await;
        let clock: Arc<dyn Clock> = Arc::new(TokioClock);
        let pacer = Arc::new(Pacer::new(0.5, 1.0, clock.clone()));
        let policy = RetryPolicy {
            max_retries: 2,
            base: Duration::from_millis(1),
            max_backoff: Duration::from_secs(1),
            time_scale: 1.0,
        };
        let t =
            PacedTokenTransport::new(HttpTransport::new(test_http(), &url), pacer, policy, clock);
        let form = SecretString::from("grant_type=client_credentials".to_owned());
        let reply = t.post_form(&url, &form, None).await.unwrap();
        assert_eq!(reply.status.as_u16(), 200);
        assert_eq!(hits.load(Ordering::SeqCst), 2, "one retry after the 429");
    }
}
