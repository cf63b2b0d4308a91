//! Retries: what happens after a 429, a 5xx, a dropped connection or a garbled page.
//!
//! * 429 with `X-Rate-Limit-Limit` > 0 (the bucket is exhausted): wait until the bucket resets —
//!   `Retry-After` if a proxy sent one, else `X-Rate-Limit-Reset − Date` (server clock) — then
//!   retry.
//! * 429 with `X-Rate-Limit-Limit: 0` (Okta's org-wide concurrency limit): halve the requests in
//!   flight ([`ConcurrencyGate::reduce`](super::rate_limit::ConcurrencyGate::reduce)) and retry
//!   after a back-off.
//! * 500/502/503/504, timeouts, dropped connections, truncated or undecodable bodies: capped
//!   exponential back-off with jitter (a proxy's `Retry-After` on a 5xx wins).
//! * A `Retry-After` (on a 429 or a 5xx) longer than `MaxBackoffSeconds` is an error at once,
//!   never clamped and retried early: the server said when it will answer again. Waiting for
//!   `X-Rate-Limit-Reset` inside Okta's one-minute window is pacing, not back-off, and stays.
//! * Anything else (401, 403, 404, 400…) fails at once with a classified error.
//!
//! After `MaxRetries` retries the request fails, and with it the run (RateLimited or
//! Unavailable, or Protocol for pages that never decode): a page is never skipped. Every wait is
//! logged. Server-time waits and back-offs are divided by the simulator time scale.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use url::Url;

use connector_api::{ConnectorError, Result};

use super::OktaClient;
use super::errors::{RequestInfo, http_error, retries_exhausted, transport_error};
use super::http::{RawResponse, TransportError};
use super::rate_limit::RateHeaders;
use crate::auth::AuthRetry;
use crate::telemetry::{
    ConcurrencyReduced, CredentialNotice, RateLimitWait, RetryScheduled, RunTelemetry,
};

/// The retry and back-off policy.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First back-off (server time).
    pub base: Duration,
    /// Cap of one back-off (server time).
    pub max_backoff: Duration,
    /// Server seconds per real second.
    pub time_scale: f64,
}

/// Why an attempt failed, when it may be worth another.
#[derive(Debug)]
pub enum Failure {
    /// A retryable HTTP status (429, 5xx).
    Status {
        /// The status.
        status: StatusCode,
        /// Its rate-limit headers.
        rate: RateHeaders,
    },
    /// No complete response.
    Transport(TransportError),
    /// A 2xx whose body could not be decoded (JSON path and problem).
    Decode(String),
}

/// What to do about a failure.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Wait (real time), then retry.
    Retry {
        /// How long.
        wait: Duration,
        /// Whether the wait is a rate-limit wait (429) rather than a back-off.
        rate_limited: bool,
        /// Whether Okta's concurrency limit was hit.
        concurrency: bool,
    },
    /// Stop: the failure is final.
    GiveUp,
    /// Stop: the server's `Retry-After` (server time) is longer than `MaxBackoffSeconds`.
    RetryAfterTooLong(Duration),
}

impl RetryPolicy {
    fn scaled(&self, server: Duration) -> Duration {
        Duration::from_secs_f64(server.as_secs_f64() / self.time_scale)
    }

    /// The back-off before retry `n` (1-based): `min(max_backoff, base·2^(n−1))`, jittered to
    /// 50–100 % of that, scaled to real time.
    pub fn backoff(&self, n: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << n.saturating_sub(1).min(20))
            .min(self.max_backoff);
        let jittered = exp.mul_f64(0.5 + fastrand::f64() * 0.5);
        self.scaled(jittered)
    }

    /// What to do after `failure`, when `retries_done` retries were already made.
    pub fn step(&self, failure: &Failure, retries_done: u32) -> Step {
        if let Failure::Status { rate, .. } = failure
            && let Some(ra) = rate.retry_after
            && ra > self.max_backoff
        {
            return Step::RetryAfterTooLong(ra);
        }
        if retries_done >= self.max_retries {
            return Step::GiveUp;
        }
        let n = retries_done + 1;
        match failure {
            Failure::Status { status, rate } if status.as_u16() == 429 => {
                if rate.is_concurrency_limit() {
                    return Step::Retry {
                        wait: self.backoff(n),
                        rate_limited: true,
                        concurrency: true,
                    };
                }
                let wait = match rate.server_wait() {
                    // Wait out the window; never more than 90 s (Okta's windows are 60 s)
                    // or the configured cap, whichever is larger. A little jitter spreads
                    // the retries of concurrent requests.
                    Some(w) => self.scaled(
                        w.min(self.max_backoff.max(Duration::from_secs(90)))
                            + Duration::from_millis(fastrand::u64(0..250)),
                    ),
                    None => self.backoff(n),
                };
                Step::Retry {
                    wait,
                    rate_limited: true,
                    concurrency: false,
                }
            }
            Failure::Status { status, rate } if is_retryable_status(*status) => Step::Retry {
                // A proxy's Retry-After on a 503 wins over the back-off (a longer one than the
                // cap never gets here: see the top of this function).
                wait: match rate.retry_after {
                    Some(ra) => self.scaled(ra),
                    None => self.backoff(n),
                },
                rate_limited: false,
                concurrency: false,
            },
            Failure::Status { .. } => Step::GiveUp,
            Failure::Transport(t) if !t.is_retryable() => Step::GiveUp,
            Failure::Transport(_) | Failure::Decode(_) => Step::Retry {
                wait: self.backoff(n),
                rate_limited: false,
                concurrency: false,
            },
        }
    }
}

/// Statuses worth retrying besides 429.
pub fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 500 | 502 | 503 | 504)
}

/// A decoded 2xx answer and its headers.
#[derive(Debug)]
pub struct Fetched<T> {
    /// The decoded body.
    pub value: T,
    /// The response headers (Link, Date…).
    pub headers: HeaderMap,
}

/// What became of one attempt, before retry decisions.
type Attempt = std::result::Result<(RawResponse, RateHeaders), TransportError>;

/// What an attempt means for the request.
enum Classified<T> {
    /// The request is over: the decoded answer, or a final error.
    Done(Result<Fetched<T>>),
    /// A failure that may be worth another attempt, and the error if it is final.
    Failed(Failure, ConnectorError),
}

impl OktaClient {
    /// GETs `url` with pacing, retries and back-off, and decodes the body with `decode`.
    ///
    /// Every attempt carries fresh headers from the credential; a 401 is told to it, and when
    /// it answers [`AuthRetry::Once`] the request is sent once more (a second 401 is final).
    ///
    /// # Errors
    /// The classified failure after retries; [`ErrorKind::Cancelled`](connector_api::ErrorKind)
    /// when the run is cancelled.
    pub async fn fetch<T>(
        &self,
        url: &Url,
        req: &RequestInfo<'_>,
        tel: &RunTelemetry,
        decode: impl Fn(&[u8]) -> std::result::Result<T, String>,
    ) -> Result<Fetched<T>> {
        let started = self.clock.now();
        let mut retries = 0u32;
        let mut auth_retried = false;
        loop {
            let cancel = tel.context().cancellation().clone();
            let outcome = tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(cancelled(req)),
                r = self.attempt(url, req, tel) => r?,
            };
            if let Ok((resp, _)) = &outcome
                && resp.status == StatusCode::UNAUTHORIZED
                && !auth_retried
            {
                auth_retried = true;
                let credential = self.http.credential();
                if credential.rejected(resp.status, &resp.headers).await? == AuthRetry::Once {
                    continue;
                }
            }
            let (failure, final_error) = match self.classify(outcome, req, &decode) {
                Classified::Done(fetched) => return fetched,
                Classified::Failed(failure, error) => (failure, error),
            };
            let step = self.policy.step(&failure, retries);
            if let Step::RetryAfterTooLong(ra) = step {
                return Err(retry_after_too_long(
                    final_error,
                    ra,
                    self.policy.max_backoff,
                ));
            }
            let Step::Retry {
                wait,
                rate_limited,
                concurrency,
            } = step
            else {
                if matches!(failure, Failure::Transport(ref t) if !t.is_retryable()) {
                    return Err(final_error);
                }
                let elapsed = self.clock.now().saturating_duration_since(started);
                return Err(retries_exhausted(final_error, retries, elapsed));
            };
            retries += 1;
            let retry = Retry {
                n: retries,
                wait,
                rate_limited,
                concurrency,
            };
            self.announce(&failure, &retry, req, tel);
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(cancelled(req)),
                () = self.clock.sleep(wait) => {}
            }
        }
    }

    /// One paced attempt with the credential's headers for it.
    async fn attempt(
        &self,
        url: &Url,
        req: &RequestInfo<'_>,
        tel: &RunTelemetry,
    ) -> Result<Attempt> {
        let _permit = self.gate.acquire().await;
        let ticket = self.pacer.acquire(req.bucket, tel).await;
        let auth = self.http.credential().authorize(&Method::GET, url).await;
        for notice in self.notices.take() {
            tel.emit(&CredentialNotice { message: &notice });
        }
        let auth = auth?;
        tel.count_request();
        Ok(match self.http.get(url, auth).await {
            Ok(resp) => {
                let rate = RateHeaders::from_headers(&resp.headers);
                ticket.complete(&rate);
                Ok((resp, rate))
            }
            Err(e) => Err(e),
        })
    }

    /// What `outcome` means for the request.
    fn classify<T>(
        &self,
        outcome: Attempt,
        req: &RequestInfo<'_>,
        decode: &impl Fn(&[u8]) -> std::result::Result<T, String>,
    ) -> Classified<T> {
        match outcome {
            Ok((resp, _)) if resp.status.is_success() => match decode(&resp.body) {
                Ok(value) => {
                    self.gate.succeeded();
                    Classified::Done(Ok(Fetched {
                        value,
                        headers: resp.headers,
                    }))
                }
                Err(problem) => {
                    let err = ConnectorError::protocol(format!(
                        "{} on {} returned a body that is not the expected JSON: {problem}",
                        req.endpoint, req.org
                    ));
                    Classified::Failed(Failure::Decode(problem), err)
                }
            },
            Ok((resp, rate)) => {
                let err = http_error(resp.status, &resp.headers, &resp.body, req);
                if resp.status.as_u16() != 429 && !is_retryable_status(resp.status) {
                    return Classified::Done(Err(err));
                }
                let status = resp.status;
                Classified::Failed(Failure::Status { status, rate }, err)
            }
            Err(t) => {
                let err = transport_error(&t, req);
                Classified::Failed(Failure::Transport(t), err)
            }
        }
    }

    /// Logs a scheduled retry (and the rate-limit wait or concurrency reduction behind it).
    fn announce(
        &self,
        failure: &Failure,
        retry: &Retry,
        req: &RequestInfo<'_>,
        tel: &RunTelemetry,
    ) {
        let reason = match failure {
            Failure::Status { status, .. } if retry.concurrency => {
                format!("HTTP {} (concurrency limit)", status.as_u16())
            }
            Failure::Status { status, .. } => format!("HTTP {}", status.as_u16()),
            Failure::Transport(t) => t.describe(),
            Failure::Decode(p) => format!("undecodable body ({p})"),
        };
        let rate = match failure {
            Failure::Status { rate, .. } => Some(rate.seen()),
            _ => None,
        };
        if retry.concurrency
            && let Some((from, to)) = self.gate.reduce()
        {
            let rate = rate.unwrap_or_default();
            tel.emit(&ConcurrencyReduced { from, to, rate });
        }
        if retry.rate_limited {
            tel.emit(&RateLimitWait {
                bucket: req.bucket.name(),
                wait: retry.wait,
                reason: if retry.concurrency {
                    "concurrency"
                } else {
                    "429"
                },
                rate: rate.unwrap_or_default(),
            });
        }
        tel.emit(&RetryScheduled {
            endpoint: req.endpoint,
            retry: retry.n,
            max_retries: self.policy.max_retries,
            reason: &reason,
            wait: retry.wait,
            rate,
        });
    }
}

/// A retry about to be made.
struct Retry {
    /// Its number (1-based).
    n: u32,
    /// The wait before it (real time).
    wait: Duration,
    /// Whether the wait is a rate-limit wait.
    rate_limited: bool,
    /// Whether Okta's concurrency limit was hit.
    concurrency: bool,
}

/// The error for a `Retry-After` longer than `MaxBackoffSeconds`: the failed response's own
/// error (its kind and vendor details), saying how long the server asked for.
fn retry_after_too_long(last: ConnectorError, ra: Duration, cap: Duration) -> ConnectorError {
    let mut err = ConnectorError::new(
        last.kind(),
        format!(
            "{} — the server asked to wait {} s (Retry-After), longer than MaxBackoffSeconds ({} s); not retried, the run is failed and no page was skipped",
            last.message(),
            ra.as_secs(),
            cap.as_secs()
        ),
    )
    .with_remediation(
        "Run the import again after that time, or raise MaxBackoffSeconds (at most 600) if such waits are expected",
    );
    if let Some(v) = last.vendor() {
        err = err.with_vendor(v.clone());
    }
    err
}

fn cancelled(req: &RequestInfo<'_>) -> ConnectorError {
    ConnectorError::cancelled(format!("cancelled during {}", req.endpoint))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            base: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            time_scale: 1.0,
        }
    }

    fn status(code: u16, rate: RateHeaders) -> Failure {
        Failure::Status {
            status: StatusCode::from_u16(code).unwrap(),
            rate,
        }
    }

    #[test]
    fn backoff_is_capped_exponential_with_jitter() {
        let p = policy();
        for n in 1..=8 {
            let full = Duration::from_secs(1 << (n - 1)).min(Duration::from_secs(30));
            for _ in 0..50 {
                let b = p.backoff(n);
                assert!(b >= full / 2 && b <= full, "n={n}: {b:?}");
            }
        }
        let scaled = RetryPolicy {
            time_scale: 1000.0,
            ..policy()
        };
        assert!(scaled.backoff(5) <= Duration::from_millis(16));
    }

    #[test]
    fn rate_limit_429_waits_until_reset_from_the_server_date() {
        let rate = RateHeaders {
            limit: Some(600),
            remaining: Some(0),
            reset: Some(1_000_042),
            date: Some(1_000_000),
            retry_after: None,
        };
        let Step::Retry {
            wait,
            rate_limited,
            concurrency,
        } = policy().step(&status(429, rate.clone()), 0)
        else {
            panic!("should retry");
        };
        assert!(rate_limited && !concurrency);
        assert!(
            wait >= Duration::from_secs(42) && wait < Duration::from_millis(42_250),
            "{wait:?}"
        );
        // A proxy's Retry-After wins.
        let proxied = RateHeaders {
            retry_after: Some(Duration::from_secs(5)),
            ..rate
        };
        let Step::Retry { wait, .. } = policy().step(&status(429, proxied), 0) else {
            panic!("should retry");
        };
        assert!(wait >= Duration::from_secs(5) && wait < Duration::from_secs(6));
    }

    #[test]
    fn concurrency_429_backs_off() {
        let rate = RateHeaders {
            limit: Some(0),
            remaining: Some(0),
            reset: Some(1_000_060),
            date: Some(1_000_000),
            retry_after: None,
        };
        let step = policy().step(&status(429, rate), 0);
        assert!(matches!(
            step,
            Step::Retry { concurrency: true, wait, .. } if wait <= Duration::from_secs(1)
        ));
    }

    #[test]
    fn gives_up_after_max_retries_and_on_final_failures() {
        let p = policy();
        let unavailable = status(503, RateHeaders::default());
        assert!(matches!(p.step(&unavailable, 2), Step::Retry { .. }));
        let proxied = status(
            503,
            RateHeaders {
                retry_after: Some(Duration::from_secs(7)),
                ..RateHeaders::default()
            },
        );
        assert_eq!(
            p.step(&proxied, 0),
            Step::Retry {
                wait: Duration::from_secs(7),
                rate_limited: false,
                concurrency: false
            }
        );
        assert_eq!(p.step(&unavailable, 3), Step::GiveUp);
        // A Retry-After past MaxBackoffSeconds (30 s here) is an error, not clamped: on a 503
        // and on a 429 alike, whatever retries are left.
        for code in [503, 429] {
            let long = status(
                code,
                RateHeaders {
                    retry_after: Some(Duration::from_secs(31)),
                    ..RateHeaders::default()
                },
            );
            assert_eq!(
                p.step(&long, 0),
                Step::RetryAfterTooLong(Duration::from_secs(31))
            );
        }
        let at_cap = status(
            503,
            RateHeaders {
                retry_after: Some(Duration::from_secs(30)),
                ..RateHeaders::default()
            },
        );
        assert!(
            matches!(p.step(&at_cap, 0), Step::Retry { wait, .. } if wait == Duration::from_secs(30))
        );
        assert_eq!(
            p.step(&status(404, RateHeaders::default()), 0),
            Step::GiveUp
        );
        assert_eq!(
            p.step(&Failure::Transport(TransportError::Dns("x".into())), 0),
            Step::GiveUp
        );
        assert!(matches!(
            p.step(
                &Failure::Transport(TransportError::Connection("reset".into())),
                0
            ),
            Step::Retry {
                rate_limited: false,
                ..
            }
        ));
        assert!(matches!(
            p.step(&Failure::Decode("[3].id".into()), 0),
            Step::Retry { .. }
        ));
    }
}

#[cfg(test)]
mod auth_tests {
    //! The credential seam as the client uses it: fresh headers per attempt, one more attempt
    //! after a 401 only when the credential asks for it, and a second 401 final.

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use connector_api::{Context, ErrorKind};
    use reqwest::header::{AUTHORIZATION, HeaderValue};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::auth::Credential;
    use crate::client::ClientOptions;
    use crate::clock::ManualClock;
    use crate::okta::Bucket;

    /// Counts `authorize` and `rejected` calls; answers `retry` to the first rejection only.
    #[derive(Debug)]
    struct Counting {
        authorized: AtomicUsize,
        rejected: AtomicUsize,
        retry: AuthRetry,
    }

    #[async_trait]
    impl Credential for Counting {
        async fn authorize(&self, _: &Method, _: &Url) -> Result<HeaderMap> {
            let n = self.authorized.fetch_add(1, Ordering::SeqCst);
            let mut headers = HeaderMap::new();
            let mut value = HeaderValue::try_from(format!("Test {n}")).unwrap();
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
            Ok(headers)
        }

        async fn rejected(&self, status: StatusCode, _: &HeaderMap) -> Result<AuthRetry> {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            let n = self.rejected.fetch_add(1, Ordering::SeqCst);
            Ok(if n == 0 { self.retry } else { AuthRetry::No })
        }

        fn describe(&self) -> String {
            "test credential".to_owned()
        }
    }

    /// Answers the connections in turn with `answers`, then 200 `[]`; counts requests.
    async fn server(answers: Vec<&'static str>) -> (u16, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let answer = answers.get(n).copied().unwrap_or(
                    "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]",
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        (port, hits)
    }

    const UNAUTHORIZED: &str = "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n\
        content-length: 2\r\nconnection: close\r\n\r\n{}";

    async fn fetch_with(
        retry: AuthRetry,
        answers: Vec<&'static str>,
    ) -> (Result<()>, usize, Arc<Counting>) {
        let (port, hits) = server(answers).await;
        let credential = Arc::new(Counting {
            authorized: AtomicUsize::new(0),
            rejected: AtomicUsize::new(0),
            retry,
        });
        let options = ClientOptions {
            base_url: Url::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
            org_domain: "contoso.okta.com".to_owned(),
            max_retries: 3,
            max_backoff: Duration::from_secs(30),
            max_concurrency: 2,
            rate_limit_share: 1.0,
            request_timeout: Duration::from_secs(10),
            time_scale: 1.0,
        };
        let client =
            OktaClient::new(&options, credential.clone(), Arc::new(ManualClock::new())).unwrap();
        let (ctx, _logs) = Context::for_tests();
        let tel = RunTelemetry::new(&ctx);
        let req = RequestInfo {
            endpoint: "GET /api/v1/users",
            bucket: Bucket::Users,
            org: "contoso.okta.com",
            user_search_filter: None,
        };
        let url = client.http.origin().url("/api/v1/users");
        let result = client.fetch(&url, &req, &tel, |_| Ok(())).await.map(|_| ());
        (result, hits.load(Ordering::SeqCst), credential)
    }

    #[tokio::test]
    async fn a_401_is_sent_again_once_when_the_credential_asks() {
        let (result, hits, c) = fetch_with(AuthRetry::Once, vec![UNAUTHORIZED]).await;
        result.unwrap();
        assert_eq!(hits, 2);
        assert_eq!(
            c.authorized.load(Ordering::SeqCst),
            2,
            "fresh headers per attempt"
        );
        assert_eq!(c.rejected.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_second_401_is_final() {
        let (result, hits, c) = fetch_with(AuthRetry::Once, vec![UNAUTHORIZED, UNAUTHORIZED]).await;
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Unauthenticated);
        assert_eq!(hits, 2);
        assert_eq!(
            c.rejected.load(Ordering::SeqCst),
            1,
            "not asked again for that request"
        );
    }

    #[tokio::test]
    async fn a_401_the_credential_cannot_fix_fails_at_once() {
        let (result, hits, c) = fetch_with(AuthRetry::No, vec![UNAUTHORIZED]).await;
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Unauthenticated);
        assert_eq!(hits, 1);
        assert_eq!(c.authorized.load(Ordering::SeqCst), 1);
    }
}
