//! Rate-limit pacing: a policy object per Okta bucket, plus the org-wide concurrency gate.
//!
//! Okta meters requests per *bucket* (endpoint family) in one-minute windows and reports the
//! state on every response: `X-Rate-Limit-Limit`, `X-Rate-Limit-Remaining` and
//! `X-Rate-Limit-Reset` (UTC epoch seconds, server clock), with the server's `Date`. The
//! [`Pacer`] keeps, per bucket, the latest window it saw and lets a request go only while this
//! connector stays within its share (`RateLimitShare`) of the bucket: it stops when
//! `Remaining` would drop below the headroom reserved for other integrations, counting the
//! requests it has in flight, and then sleeps until the window resets. The time left in a
//! window is computed from the server's `Date` plus the monotonic time elapsed since that
//! response — never from the local wall clock — and divided by the simulator's time scale.
//!
//! Every sleep is reported to a [`PacingHook`] (the metrics hook) before it starts.
//!
//! Okta's *concurrency* limit (too many requests in flight for the whole org) answers 429 with
//! `X-Rate-Limit-Limit: 0`; the [`ConcurrencyGate`] halves the requests this connector keeps in
//! flight when that happens and grows back one at a time after successes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{DATE, HeaderMap, RETRY_AFTER};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::okta::Bucket;
use crate::telemetry::{RateLimitWait, RateSeen, RunTelemetry};

/// The rate-limit related headers of one response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateHeaders {
    /// `X-Rate-Limit-Limit` (0 on a concurrency-limit 429).
    pub limit: Option<u32>,
    /// `X-Rate-Limit-Remaining`.
    pub remaining: Option<u32>,
    /// `X-Rate-Limit-Reset`, epoch seconds (server clock).
    pub reset: Option<i64>,
    /// `Date`, epoch seconds (server clock).
    pub date: Option<i64>,
    /// `Retry-After` (only proxies send it), in server seconds.
    pub retry_after: Option<Duration>,
}

impl RateHeaders {
    /// The `X-Rate-Limit-*` part, as logged.
    pub fn seen(&self) -> RateSeen {
        RateSeen {
            limit: self.limit,
            remaining: self.remaining,
            reset: self.reset,
        }
    }

    /// Reads the headers. A header sent twice (Okta does that) or comma-joined counts
    /// conservatively: the smallest limit and remaining, the latest reset.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let date = headers
            .get(DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date);
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let v = v.trim();
                match v.parse::<u64>() {
                    Ok(secs) => Some(Duration::from_secs(secs)),
                    Err(_) => {
                        let at = parse_http_date(v)?;
                        let now = date?;
                        Some(Duration::from_secs(u64::try_from(at - now).unwrap_or(0)))
                    }
                }
            });
        RateHeaders {
            limit: numbers(headers, "x-rate-limit-limit").min(),
            remaining: numbers(headers, "x-rate-limit-remaining").min(),
            reset: numbers::<i64>(headers, "x-rate-limit-reset").max(),
            date,
            retry_after,
        }
    }

    /// Whether this is Okta's concurrency-limit signal (`X-Rate-Limit-Limit: 0`).
    pub fn is_concurrency_limit(&self) -> bool {
        self.limit == Some(0)
    }

    /// How long the server asks to wait (server seconds): `Retry-After` if a proxy sent one,
    /// else `X-Rate-Limit-Reset − Date`.
    pub fn server_wait(&self) -> Option<Duration> {
        if let Some(ra) = self.retry_after {
            return Some(ra);
        }
        let (reset, date) = (self.reset?, self.date?);
        Some(Duration::from_secs(
            u64::try_from(reset - date).unwrap_or(0),
        ))
    }
}

fn numbers<'h, T: std::str::FromStr + 'h>(
    headers: &'h HeaderMap,
    name: &'static str,
) -> impl Iterator<Item = T> + 'h {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|v| v.trim().parse::<T>().ok())
}

/// Parses an HTTP date (`Sun, 23 Nov 2026 10:00:00 GMT`) to epoch seconds.
pub fn parse_http_date(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc2822(s.trim())
        .ok()
        .map(|d| d.timestamp())
}

/// The metrics hook: told about every wait the pacer decides, before it starts.
pub trait PacingHook: Send + Sync {
    /// The pacer is about to sleep `wait` (real time) before using `bucket`.
    fn waiting(&self, bucket: Bucket, wait: Duration, rate: RateSeen);
}

/// The pacer's metrics hook: every budget wait becomes a [`RateLimitWait`] record.
impl PacingHook for RunTelemetry {
    fn waiting(&self, bucket: Bucket, wait: Duration, rate: RateSeen) {
        self.emit(&RateLimitWait {
            bucket: bucket.name(),
            wait,
            reason: "budget",
            rate,
        });
    }
}

/// What the pacer knows about one bucket's current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    limit: u32,
    remaining: u32,
    reset: i64,
    server_date: i64,
    seen_at: Instant,
}

#[derive(Debug, Default)]
struct BucketState {
    window: Option<Window>,
    in_flight: u32,
    /// An answer arrived (with or without rate-limit headers).
    answered: bool,
}

enum Decision {
    Go,
    AwaitResponses,
    Sleep(Duration, Window),
}

/// Per-bucket pacing against Okta's rate-limit headers. Shared by every run of a connector
/// instance, so consecutive runs respect the same windows.
#[derive(Debug)]
pub struct Pacer {
    share: f64,
    time_scale: f64,
    clock: Arc<dyn Clock>,
    buckets: Mutex<[BucketState; Bucket::ALL.len()]>,
    changed: Notify,
}

impl Pacer {
    /// A pacer using `share` (0 < share ≤ 1) of each bucket; server seconds are divided by
    /// `time_scale` to get real time.
    pub fn new(share: f64, time_scale: f64, clock: Arc<dyn Clock>) -> Self {
        Pacer {
            share,
            time_scale,
            clock,
            buckets: Mutex::new(Default::default()),
            changed: Notify::new(),
        }
    }

    /// Waits until a request to `bucket` fits the budget and reserves it. The returned ticket
    /// must be completed with the response's headers (dropping it releases the reservation).
    pub async fn acquire(&self, bucket: Bucket, hook: &dyn PacingHook) -> Ticket<'_> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let decision = {
                let mut buckets = self.lock();
                let state = &mut buckets[bucket.index()];
                let d = self.decide(state, self.clock.now());
                if let Decision::Go = d {
                    state.in_flight += 1;
                }
                d
            };
            match decision {
                Decision::Go => {
                    return Ticket {
                        pacer: self,
                        bucket,
                        done: false,
                    };
                }
                Decision::AwaitResponses => changed.await,
                Decision::Sleep(wait, w) => {
                    let rate = RateSeen {
                        limit: Some(w.limit),
                        remaining: Some(w.remaining),
                        reset: Some(w.reset),
                    };
                    hook.waiting(bucket, wait, rate);
                    self.clock.sleep(wait).await;
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, [BucketState; Bucket::ALL.len()]> {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn decide(&self, state: &BucketState, now: Instant) -> Decision {
        let Some(w) = state.window else {
            // Nothing known yet: one probe request at a time until the first answer. A server
            // that answered without rate-limit headers does not meter the bucket.
            return if state.in_flight == 0 || state.answered {
                Decision::Go
            } else {
                Decision::AwaitResponses
            };
        };
        let server_now = w.server_date as f64
            + now.saturating_duration_since(w.seen_at).as_secs_f64() * self.time_scale;
        let window_over = server_now >= w.reset as f64;
        let remaining = if window_over { w.limit } else { w.remaining };
        if remaining > self.reserve(w.limit) + state.in_flight {
            Decision::Go
        } else if state.in_flight > 0 {
            Decision::AwaitResponses
        } else {
            let server_left = (w.reset as f64 - server_now).max(0.0);
            Decision::Sleep(Duration::from_secs_f64(server_left / self.time_scale), w)
        }
    }

    /// Requests of a bucket left to other integrations: `limit − floor(limit × share)`, but
    /// this connector may always send at least one request per window.
    fn reserve(&self, limit: u32) -> u32 {
        let allowance = ((f64::from(limit) * self.share).floor() as u32).clamp(1, limit.max(1));
        limit.saturating_sub(allowance)
    }

    fn finish(&self, bucket: Bucket, headers: Option<&RateHeaders>) {
        {
            let mut buckets = self.lock();
            let state = &mut buckets[bucket.index()];
            state.in_flight = state.in_flight.saturating_sub(1);
            if let Some(h) = headers {
                state.answered = true;
                self.learn(state, h);
            }
        }
        self.changed.notify_waiters();
    }

    fn learn(&self, state: &mut BucketState, h: &RateHeaders) {
        let (Some(limit), Some(remaining), Some(reset), Some(date)) =
            (h.limit, h.remaining, h.reset, h.date)
        else {
            return;
        };
        if limit == 0 {
            // A concurrency-limit answer says nothing about the bucket's budget.
            return;
        }
        let fresh = Window {
            limit,
            remaining,
            reset,
            server_date: date,
            seen_at: self.clock.now(),
        };
        match &mut state.window {
            Some(w) if reset < w.reset => {} // a late answer from an earlier window
            Some(w) if reset == w.reset => {
                w.remaining = w.remaining.min(remaining);
                w.limit = limit;
                if date >= w.server_date {
                    w.server_date = date;
                    w.seen_at = fresh.seen_at;
                }
            }
            _ => state.window = Some(fresh),
        }
    }
}

/// A reserved request slot in a bucket; complete it with the response's headers.
#[derive(Debug)]
pub struct Ticket<'a> {
    pacer: &'a Pacer,
    bucket: Bucket,
    done: bool,
}

impl Ticket<'_> {
    /// Records what the server said about the bucket and releases the slot.
    pub fn complete(mut self, headers: &RateHeaders) {
        self.done = true;
        self.pacer.finish(self.bucket, Some(headers));
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.pacer.finish(self.bucket, None);
        }
    }
}

/// Limits the requests this connector has in flight; shrinks on Okta's concurrency-limit 429.
#[derive(Debug)]
pub struct ConcurrencyGate {
    max: usize,
    state: Mutex<GateState>,
    changed: Notify,
}

#[derive(Debug)]
struct GateState {
    limit: usize,
    in_use: usize,
    successes: u32,
}

/// Successes needed before the gate allows one more request in flight again.
const GROW_AFTER: u32 = 16;

impl ConcurrencyGate {
    /// A gate allowing `max` requests in flight.
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        ConcurrencyGate {
            max,
            state: Mutex::new(GateState {
                limit: max,
                in_use: 0,
                successes: 0,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a free slot.
    pub async fn acquire(&self) -> GatePermit<'_> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut s = self.lock();
                if s.in_use < s.limit {
                    s.in_use += 1;
                    return GatePermit { gate: self };
                }
            }
            changed.await;
        }
    }

    /// Okta reported its concurrency limit: halve the requests in flight. Returns
    /// `(from, to)` when the limit changed.
    pub fn reduce(&self) -> Option<(usize, usize)> {
        let mut s = self.lock();
        s.successes = 0;
        let from = s.limit;
        let to = (from / 2).max(1);
        (to != from).then(|| {
            s.limit = to;
            (from, to)
        })
    }

    /// A request succeeded: after enough of them, allow one more in flight.
    pub fn succeeded(&self) {
        let grew = {
            let mut s = self.lock();
            if s.limit >= self.max {
                return;
            }
            s.successes += 1;
            if s.successes >= GROW_AFTER {
                s.successes = 0;
                s.limit += 1;
                true
            } else {
                false
            }
        };
        if grew {
            self.changed.notify_waiters();
        }
    }

    /// Requests allowed in flight now.
    #[cfg(test)]
    pub fn limit(&self) -> usize {
        self.lock().limit
    }
}

/// A slot in the [`ConcurrencyGate`]; released on drop.
#[derive(Debug)]
pub struct GatePermit<'a> {
    gate: &'a ConcurrencyGate,
}

impl Drop for GatePermit<'_> {
    fn drop(&mut self) {
        self.gate.lock().in_use -= 1;
        self.gate.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use reqwest::header::HeaderValue;

    #[derive(Default)]
    struct Waits(Mutex<Vec<(Bucket, Duration)>>);

    impl PacingHook for Waits {
        fn waiting(&self, bucket: Bucket, wait: Duration, _rate: RateSeen) {
            self.0.lock().unwrap().push((bucket, wait));
        }
    }

    fn headers(limit: u32, remaining: u32, reset: i64, date: i64) -> RateHeaders {
        RateHeaders {
            limit: Some(limit),
            remaining: Some(remaining),
            reset: Some(reset),
            date: Some(date),
            retry_after: None,
        }
    }

    #[test]
    fn parses_duplicated_and_joined_headers() {
        let mut h = HeaderMap::new();
        h.append("x-rate-limit-limit", HeaderValue::from_static("600"));
        h.append("x-rate-limit-limit", HeaderValue::from_static("600"));
        h.append("x-rate-limit-remaining", HeaderValue::from_static("12, 10"));
        h.append("x-rate-limit-reset", HeaderValue::from_static("1795428060"));
        h.append(
            "date",
            HeaderValue::from_static("Mon, 23 Nov 2026 10:00:00 GMT"),
        );
        let r = RateHeaders::from_headers(&h);
        assert_eq!(r, headers(600, 10, 1_795_428_060, 1_795_428_000));
        assert_eq!(r.server_wait(), Some(Duration::from_secs(60)));
        assert!(!r.is_concurrency_limit());

        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(
            RateHeaders::from_headers(&h).server_wait(),
            Some(Duration::from_secs(7))
        );
        h.insert(
            "retry-after",
            HeaderValue::from_static("Mon, 23 Nov 2026 10:00:09 GMT"),
        );
        assert_eq!(
            RateHeaders::from_headers(&h).server_wait(),
            Some(Duration::from_secs(9))
        );
    }

    #[tokio::test]
    async fn uses_its_share_then_sleeps_until_reset() {
        let clock = Arc::new(ManualClock::new());
        let pacer = Pacer::new(0.5, 1.0, clock.clone());
        let hook = Waits::default();
        let date = 1_000_000;
        let reset = date + 60;
        // Limit 10 with share 0.5: 5 requests per window, 5 left to others.
        let mut sent = 0;
        for _ in 0..5 {
            let t = pacer.acquire(Bucket::Users, &hook).await;
            sent += 1;
            t.complete(&headers(10, 10 - sent, reset, date));
        }
        assert!(hook.0.lock().unwrap().is_empty());
        // The sixth must wait for the window to reset: 60 server seconds.
        let t = pacer.acquire(Bucket::Users, &hook).await;
        assert_eq!(
            *hook.0.lock().unwrap(),
            vec![(Bucket::Users, Duration::from_secs(60))]
        );
        t.complete(&headers(10, 9, reset + 60, date + 60));
        // Other buckets are independent.
        drop(pacer.acquire(Bucket::Groups, &hook).await);
        assert_eq!(hook.0.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn wait_is_measured_from_the_server_date_and_scaled() {
        let clock = Arc::new(ManualClock::new());
        let pacer = Pacer::new(1.0, 1000.0, clock.clone());
        let hook = Waits::default();
        let t = pacer.acquire(Bucket::GroupById, &hook).await;
        // The local wall clock plays no part: only Date (server) and Reset (server).
        t.complete(&headers(600, 0, 5_000_030, 5_000_000));
        // 10 ms of real time = 10 server seconds at scale 1000.
        clock.advance(Duration::from_millis(10));
        let _t = pacer.acquire(Bucket::GroupById, &hook).await;
        assert_eq!(
            *hook.0.lock().unwrap(),
            vec![(Bucket::GroupById, Duration::from_millis(20))]
        );
    }

    #[tokio::test]
    async fn counts_requests_in_flight_against_the_budget() {
        let clock = Arc::new(ManualClock::new());
        let pacer = Pacer::new(1.0, 1.0, clock.clone());
        let hook = Waits::default();
        let first = pacer.acquire(Bucket::Users, &hook).await;
        first.complete(&headers(100, 3, 2_000_060, 2_000_000));
        let a = pacer.acquire(Bucket::Users, &hook).await;
        let b = pacer.acquire(Bucket::Users, &hook).await;
        let c = pacer.acquire(Bucket::Users, &hook).await;
        // Three in flight use up the three remaining: a fourth must wait for answers.
        let fourth = pacer.acquire(Bucket::Users, &hook);
        tokio::pin!(fourth);
        assert!(futures::poll!(fourth.as_mut()).is_pending());
        a.complete(&headers(100, 2, 2_000_060, 2_000_001));
        b.complete(&headers(100, 1, 2_000_060, 2_000_001));
        c.complete(&headers(100, 0, 2_000_060, 2_000_001));
        // Now nothing is in flight and nothing remains: sleep until Reset.
        let _t = fourth.await;
        assert_eq!(
            *hook.0.lock().unwrap(),
            vec![(Bucket::Users, Duration::from_secs(59))]
        );
    }

    #[tokio::test]
    async fn unknown_bucket_probes_one_request_at_a_time() {
        let clock = Arc::new(ManualClock::new());
        let pacer = Pacer::new(0.5, 1.0, clock);
        let hook = Waits::default();
        let probe = pacer.acquire(Bucket::Groups, &hook).await;
        let second = pacer.acquire(Bucket::Groups, &hook);
        tokio::pin!(second);
        assert!(futures::poll!(second.as_mut()).is_pending());
        drop(probe);
        let second = second.await;
        // A failed attempt teaches nothing: still one at a time.
        let third = pacer.acquire(Bucket::Groups, &hook);
        tokio::pin!(third);
        assert!(futures::poll!(third.as_mut()).is_pending());
        // An answer without rate-limit headers: the bucket is not metered, no more probing.
        second.complete(&RateHeaders::default());
        let _third = third.await;
        let _more: Vec<_> =
            futures::future::join_all((0..10).map(|_| pacer.acquire(Bucket::Groups, &hook))).await;
        assert!(hook.0.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn gate_halves_on_concurrency_limit_and_grows_back() {
        let gate = ConcurrencyGate::new(8);
        assert_eq!(gate.reduce(), Some((8, 4)));
        assert_eq!(gate.limit(), 4);
        let permits: Vec<_> = futures::future::join_all((0..4).map(|_| gate.acquire())).await;
        let fifth = gate.acquire();
        tokio::pin!(fifth);
        assert!(futures::poll!(fifth.as_mut()).is_pending());
        drop(permits);
        let _p = fifth.await;
        for _ in 0..GROW_AFTER {
            gate.succeeded();
        }
        assert_eq!(gate.limit(), 5);
        assert_eq!(ConcurrencyGate::new(1).reduce(), None);
    }
}
