//! Writes: one `POST`, `PUT` or `DELETE` with the same pacing, credential and origin rules as
//! reads, but a retry rule of its own.
//!
//! A write is retried only when Okta says it did **not** apply it: 429 (after the bucket
//! resets, as for reads) and 503 (E0000010, the org is read-only for a while). A 401 the
//! credential can renew is sent once more, as for reads. Anything else is handed back:
//!
//! * an answer ([`Sent::Answered`]), success or refusal, for the caller to classify;
//! * [`Sent::Unknown`] when no answer says whether the write happened — a dropped
//!   connection, a timeout, a 500/502/504. The write is **not** re-sent here: the caller reads
//!   the object back first (a create whose response was lost must never be sent twice blindly).

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use url::Url;

use connector_api::{ConnectorError, Result};

use super::OktaClient;
use super::errors::{RequestInfo, http_error, retries_exhausted, transport_error};
use super::http::RawResponse;
use super::rate_limit::RateHeaders;
use super::retry::{Failure, Step};
use crate::auth::AuthRetry;
use crate::telemetry::{RetryScheduled, RunTelemetry};

/// What became of a write.
#[derive(Debug)]
pub enum Sent {
    /// Okta answered, and the answer is final (2xx, or a refusal such as 400, 403, 404).
    Answered(RawResponse),
    /// Nobody knows whether Okta applied the write; the error says why.
    Unknown(ConnectorError),
}

impl Sent {
    /// Okta's `X-Okta-Request-Id` of the answer, if there was one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Sent::Answered(r) => request_id(&r.headers),
            Sent::Unknown(_) => None,
        }
    }
}

/// `X-Okta-Request-Id` of a response.
pub fn request_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-okta-request-id")
        .and_then(|v| v.to_str().ok())
}

impl OktaClient {
    /// Sends one write (`json` as its body), paced in `req.bucket`, retrying only what Okta
    /// refused without applying (429, 503).
    ///
    /// # Errors
    /// Rate limited after every retry, cancelled, or the credential could not be renewed.
    pub async fn write(
        &self,
        method: Method,
        url: &Url,
        json: Option<&Value>,
        req: &RequestInfo<'_>,
        tel: &RunTelemetry,
    ) -> Result<Sent> {
        let mut retries = 0u32;
        let mut auth_retried = false;
        loop {
            if tel.context().is_cancelled() {
                return Err(ConnectorError::cancelled(format!(
                    "cancelled before {}",
                    req.endpoint
                )));
            }
            let resp = match self.write_attempt(&method, url, json, req, tel).await? {
                Ok(resp) => resp,
                Err(unknown) => return Ok(Sent::Unknown(unknown)),
            };
            if resp.status == StatusCode::UNAUTHORIZED && !auth_retried {
                auth_retried = true;
                let credential = self.http.credential();
                if credential.rejected(resp.status, &resp.headers).await? == AuthRetry::Once {
                    continue;
                }
            }
            let code = resp.status.as_u16();
            if code != 429 && code != 503 {
                if matches!(code, 500 | 502 | 504) {
                    let err = http_error(resp.status, &resp.headers, &resp.body, req);
                    return Ok(Sent::Unknown(err));
                }
                return Ok(Sent::Answered(resp));
            }
            let rate = RateHeaders::from_headers(&resp.headers);
            let seen = rate.seen();
            let failure = Failure::Status {
                status: resp.status,
                rate,
            };
            let Step::Retry { wait, .. } = self.policy.step(&failure, retries) else {
                let err = http_error(resp.status, &resp.headers, &resp.body, req);
                return Err(retries_exhausted(err, retries, std::time::Duration::ZERO));
            };
            retries += 1;
            tel.emit(&RetryScheduled {
                endpoint: req.endpoint,
                retry: retries,
                max_retries: self.policy.max_retries,
                reason: &format!("HTTP {code} (Okta did not apply the write)"),
                wait,
                rate: Some(seen),
            });
            self.clock.sleep(wait).await;
        }
    }

    /// One paced attempt: the response, or (inner `Err`) the error when none arrived.
    async fn write_attempt(
        &self,
        method: &Method,
        url: &Url,
        json: Option<&Value>,
        req: &RequestInfo<'_>,
        tel: &RunTelemetry,
    ) -> Result<std::result::Result<RawResponse, ConnectorError>> {
        let _permit = self.gate.acquire().await;
        let ticket = self.pacer.acquire(req.bucket, tel).await;
        let auth = self.http.credential().authorize(method, url).await?;
        tel.count_request();
        Ok(
            match self.http.send(method.clone(), url, auth, json).await {
                Ok(resp) => {
                    ticket.complete(&RateHeaders::from_headers(&resp.headers));
                    Ok(resp)
                }
                Err(t) => Err(transport_error(&t, req)),
            },
        )
    }
}
