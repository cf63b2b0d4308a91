//! Typed telemetry: one struct per event, all logged through [`Context::log`].
//!
//! Each event knows its stable name, level, message and fields, and updates the run's counters
//! when it is emitted, so the log lines and the run summary ([`ImportOutcome::stats`]) cannot
//! disagree. No event carries authentication material: the fields are endpoints, counts,
//! durations, object types and timestamps.
//!
//! [`ImportOutcome::stats`]: connector_api::ImportOutcome::stats

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use connector_api::{Context, Level, LogRecord, Scope};

/// Something worth logging.
pub trait Event {
    /// Builds the log record.
    fn record(&self) -> LogRecord;
    /// Updates the run counters (default: nothing).
    fn count(&self, _counters: &Counters) {}
}

/// Counters of one run; reported as [`connector_api::ImportOutcome::stats`].
#[derive(Debug, Default)]
pub struct Counters {
    requests: AtomicU64,
    pages: AtomicU64,
    retries: AtomicU64,
    rate_limit_waits: AtomicU64,
    rate_limit_wait_ms: AtomicU64,
    objects: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// The telemetry handle of one operation: the host's context plus the run counters.
#[derive(Debug)]
pub struct RunTelemetry {
    ctx: Context,
    counters: Counters,
}

impl RunTelemetry {
    /// A handle logging to `ctx`.
    pub fn new(ctx: &Context) -> Self {
        RunTelemetry {
            ctx: ctx.clone(),
            counters: Counters::default(),
        }
    }

    /// The host's context of this operation.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Logs `event` and updates the counters.
    pub fn emit<E: Event>(&self, event: &E) {
        event.count(&self.counters);
        self.ctx.log(event.record());
    }

    /// Counts one HTTP request sent (not logged: see [`PageFetched`] for the per-page record).
    pub fn count_request(&self) {
        Counters::add(&self.counters.requests, 1);
    }

    /// Counts objects handed to the sink, per object type and operation.
    pub fn count_objects(&self, object_type: &str, upserts: u64, deletes: u64) {
        let mut map = self
            .counters
            .objects
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *map.entry(format!("{object_type}.upserts")).or_default() += upserts;
        *map.entry(format!("{object_type}.deletes")).or_default() += deletes;
    }

    /// Objects emitted so far of one type: (upserts, deletes).
    pub fn objects(&self, object_type: &str) -> (u64, u64) {
        let map = self
            .counters
            .objects
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        (
            map.get(&format!("{object_type}.upserts"))
                .copied()
                .unwrap_or(0),
            map.get(&format!("{object_type}.deletes"))
                .copied()
                .unwrap_or(0),
        )
    }

    /// The counters as run statistics.
    pub fn stats(&self) -> BTreeMap<String, u64> {
        let c = &self.counters;
        let mut stats = BTreeMap::from([
            ("requests".to_owned(), c.requests.load(Ordering::Relaxed)),
            ("pages".to_owned(), c.pages.load(Ordering::Relaxed)),
            ("retries".to_owned(), c.retries.load(Ordering::Relaxed)),
            (
                "rate_limit_waits".to_owned(),
                c.rate_limit_waits.load(Ordering::Relaxed),
            ),
            (
                "rate_limit_wait_ms".to_owned(),
                c.rate_limit_wait_ms.load(Ordering::Relaxed),
            ),
        ]);
        stats.extend(
            c.objects
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|(k, v)| (k.clone(), *v)),
        );
        stats
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// An import run started.
#[derive(Debug)]
pub struct RunStarted<'a> {
    /// `full` or `delta`.
    pub mode: &'a str,
    /// The org host.
    pub org: &'a str,
    /// What the run fetches, in words.
    pub plan: String,
}

impl Event for RunStarted<'_> {
    fn record(&self) -> LogRecord {
        LogRecord::new(
            Level::Info,
            "run_started",
            format!(
                "{} import of {} started: {}",
                self.mode, self.org, self.plan
            ),
        )
        .field("mode", self.mode)
        .field("org", self.org)
    }
}

/// The `X-Rate-Limit-Limit`, `-Remaining` and `-Reset` headers of one response, as every page
/// record and every rate-limit record logs them (operators read them there).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateSeen {
    /// `X-Rate-Limit-Limit`.
    pub limit: Option<u32>,
    /// `X-Rate-Limit-Remaining`.
    pub remaining: Option<u32>,
    /// `X-Rate-Limit-Reset` (epoch seconds, server clock).
    pub reset: Option<i64>,
}

impl RateSeen {
    /// `X-Rate-Limit-Limit=600 X-Rate-Limit-Remaining=12 X-Rate-Limit-Reset=1795428060` (`-`
    /// for a header the response did not carry).
    pub fn text(&self) -> String {
        fn v<T: std::fmt::Display>(x: Option<T>) -> String {
            x.map_or_else(|| "-".to_owned(), |x| x.to_string())
        }
        format!(
            "X-Rate-Limit-Limit={} X-Rate-Limit-Remaining={} X-Rate-Limit-Reset={}",
            v(self.limit),
            v(self.remaining),
            v(self.reset)
        )
    }

    /// The record with `rate_limit_limit`, `rate_limit_remaining` and `rate_limit_reset`
    /// fields for the headers that were present.
    fn fields(&self, mut r: LogRecord) -> LogRecord {
        if let Some(l) = self.limit {
            r = r.field("rate_limit_limit", l);
        }
        if let Some(x) = self.remaining {
            r = r.field("rate_limit_remaining", x);
        }
        if let Some(x) = self.reset {
            r = r.field("rate_limit_reset", x);
        }
        r
    }
}

/// One page of a list endpoint was read.
#[derive(Debug)]
pub struct PageFetched<'a> {
    /// Endpoint template, e.g. `GET /api/v1/users`.
    pub endpoint: &'a str,
    /// The group the page belongs to, for member listings.
    pub group: Option<&'a str>,
    /// 1-based page number within the listing.
    pub page: u64,
    /// Objects on the page.
    pub objects: usize,
    /// Time from the first attempt to the decoded page (waits included).
    pub elapsed: Duration,
    /// The page's rate-limit headers.
    pub rate: RateSeen,
}

impl Event for PageFetched<'_> {
    fn record(&self) -> LogRecord {
        let r = LogRecord::new(
            Level::Debug,
            "page_fetched",
            format!(
                "{} page {}: {} objects in {} ms ({})",
                self.endpoint,
                self.page,
                self.objects,
                ms(self.elapsed),
                self.rate.text()
            ),
        )
        .field("endpoint", self.endpoint)
        .field("page", self.page)
        .field("objects", self.objects)
        .field("elapsed_ms", ms(self.elapsed));
        let mut r = self.rate.fields(r);
        if let Some(g) = self.group {
            r = r.field("group", g);
        }
        r
    }

    fn count(&self, c: &Counters) {
        Counters::add(&c.pages, 1);
    }
}

/// The connector waited before sending a request, to stay inside a rate-limit budget.
#[derive(Debug)]
pub struct RateLimitWait<'a> {
    /// The rate-limit bucket (endpoint family).
    pub bucket: &'a str,
    /// How long (real time).
    pub wait: Duration,
    /// `budget` (our share is used up until the window resets), `429` or `concurrency`.
    pub reason: &'a str,
    /// The bucket's `X-Rate-Limit-*` headers last seen.
    pub rate: RateSeen,
}

impl Event for RateLimitWait<'_> {
    fn record(&self) -> LogRecord {
        let r = LogRecord::new(
            Level::Info,
            "rate_limit_wait",
            format!(
                "waiting {} ms for the {} rate-limit bucket ({}; {})",
                ms(self.wait),
                self.bucket,
                self.reason,
                self.rate.text()
            ),
        )
        .field("bucket", self.bucket)
        .field("wait_ms", ms(self.wait))
        .field("reason", self.reason);
        self.rate.fields(r)
    }

    fn count(&self, c: &Counters) {
        Counters::add(&c.rate_limit_waits, 1);
        Counters::add(&c.rate_limit_wait_ms, ms(self.wait));
    }
}

/// A request failed in a way worth retrying; the connector waits and tries again.
#[derive(Debug)]
pub struct RetryScheduled<'a> {
    /// Endpoint template.
    pub endpoint: &'a str,
    /// The retry about to be made (1 = first retry).
    pub retry: u32,
    /// The configured maximum.
    pub max_retries: u32,
    /// What went wrong (`HTTP 503`, `HTTP 429`, `connection dropped`, …).
    pub reason: &'a str,
    /// Wait before the retry (real time).
    pub wait: Duration,
    /// The failed response's `X-Rate-Limit-*` headers (`None` when there was no response).
    pub rate: Option<RateSeen>,
}

impl Event for RetryScheduled<'_> {
    fn record(&self) -> LogRecord {
        let headers = self
            .rate
            .map(|r| format!(" ({})", r.text()))
            .unwrap_or_default();
        let r = LogRecord::new(
            Level::Warn,
            "retry",
            format!(
                "{}: {}{headers}; retry {}/{} in {} ms",
                self.endpoint,
                self.reason,
                self.retry,
                self.max_retries,
                ms(self.wait)
            ),
        )
        .field("endpoint", self.endpoint)
        .field("retry", self.retry)
        .field("max_retries", self.max_retries)
        .field("reason", self.reason)
        .field("wait_ms", ms(self.wait));
        match &self.rate {
            Some(rate) => rate.fields(r),
            None => r,
        }
    }

    fn count(&self, c: &Counters) {
        Counters::add(&c.retries, 1);
    }
}

/// The credential changed how it authenticates (the OAuth app requires DPoP), logged once.
#[derive(Debug)]
pub struct CredentialNotice<'a> {
    /// What changed and what the operator may set.
    pub message: &'a str,
}

impl Event for CredentialNotice<'_> {
    fn record(&self) -> LogRecord {
        LogRecord::new(Level::Warn, "credential_notice", self.message)
    }
}

/// Okta said too many requests were in flight; the connector lowered its parallelism.
#[derive(Debug)]
pub struct ConcurrencyReduced {
    /// Requests in flight allowed before.
    pub from: usize,
    /// Requests in flight allowed now.
    pub to: usize,
    /// The 429's `X-Rate-Limit-*` headers.
    pub rate: RateSeen,
}

impl Event for ConcurrencyReduced {
    fn record(&self) -> LogRecord {
        let r = LogRecord::new(
            Level::Warn,
            "concurrency_reduced",
            format!(
                "Okta's concurrency limit was reached ({}); requests in flight lowered from {} to {}",
                self.rate.text(),
                self.from,
                self.to
            ),
        )
        .field("from", self.from)
        .field("to", self.to);
        self.rate.fields(r)
    }
}

/// Every object of a type (or of a scope) has been handed to the host.
#[derive(Debug)]
pub struct ObjectsEmitted<'a> {
    /// Object type.
    pub object_type: &'a str,
    /// Upserts emitted.
    pub upserts: u64,
    /// Deletes emitted.
    pub deletes: u64,
    /// Whether the type was marked complete (full runs).
    pub complete: bool,
}

impl Event for ObjectsEmitted<'_> {
    fn record(&self) -> LogRecord {
        LogRecord::new(
            Level::Info,
            "objects_emitted",
            format!(
                "{}: {} upserts, {} deletes{}",
                self.object_type,
                self.upserts,
                self.deletes,
                if self.complete {
                    ", marked complete"
                } else {
                    ""
                }
            ),
        )
        .field("object_type", self.object_type)
        .field("upserts", self.upserts)
        .field("deletes", self.deletes)
        .field("complete", self.complete)
    }
}

/// A group disappeared between listing it and reading its members.
#[derive(Debug)]
pub struct GroupVanished<'a> {
    /// The group id.
    pub group: &'a str,
}

impl Event for GroupVanished<'_> {
    fn record(&self) -> LogRecord {
        LogRecord::new(
            Level::Warn,
            "group_vanished",
            format!(
                "group {} was deleted while the run was reading it; emitted as a delete",
                self.group
            ),
        )
        .field("group", self.group)
    }
}

/// The watermark for one object type moved.
#[derive(Debug)]
pub struct WatermarkAdvanced<'a> {
    /// Watermark key (`u` users, `g` groups and memberships).
    pub key: &'a str,
    /// Previous value, if any.
    pub from: Option<&'a str>,
    /// New value.
    pub to: &'a str,
}

impl Event for WatermarkAdvanced<'_> {
    fn record(&self) -> LogRecord {
        LogRecord::new(
            Level::Info,
            "watermark_advanced",
            format!(
                "watermark {}: {} -> {}",
                self.key,
                self.from.unwrap_or("(none)"),
                self.to
            ),
        )
        .field("key", self.key)
        .field("from", self.from.unwrap_or_default())
        .field("to", self.to)
    }
}

/// An import run finished successfully.
#[derive(Debug)]
pub struct RunFinished<'a> {
    /// `full` or `delta`.
    pub mode: &'a str,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// The run counters.
    pub stats: &'a BTreeMap<String, u64>,
}

impl Event for RunFinished<'_> {
    fn record(&self) -> LogRecord {
        let get = |k: &str| self.stats.get(k).copied().unwrap_or(0);
        let mut r = LogRecord::new(
            Level::Info,
            "run_finished",
            format!(
                "{} import finished in {} ms: {} requests, {} pages, {} retries, {} rate-limit waits",
                self.mode,
                ms(self.elapsed),
                get("requests"),
                get("pages"),
                get("retries"),
                get("rate_limit_waits")
            ),
        )
        .field("mode", self.mode)
        .field("elapsed_ms", ms(self.elapsed));
        for (k, v) in self.stats {
            r = r.field(k.clone(), *v);
        }
        r
    }
}

/// The IGA stage starts (full runs, or delta runs with `Iga.RescanOnDelta`).
#[derive(Debug)]
pub struct IgaStarted {
    /// What is read, in words.
    pub plan: String,
}

impl Event for IgaStarted {
    fn record(&self) -> LogRecord {
        LogRecord::new(
            Level::Info,
            "iga_started",
            format!(
                "reading Okta Identity Governance (full scan): {}",
                self.plan
            ),
        )
    }
}

/// A delta run leaves IGA alone (`Iga.RescanOnDelta` is false).
#[derive(Debug)]
pub struct IgaNotRead;

impl Event for IgaNotRead {
    fn record(&self) -> LogRecord {
        LogRecord::new(
            Level::Info,
            "iga_not_read",
            "delta run: Okta Identity Governance is read on full runs only (Iga.RescanOnDelta is false); stored IGA \
             objects are unchanged",
        )
    }
}

/// An IGA object type or scope was skipped; the run goes on.
#[derive(Debug)]
pub struct IgaSkipped<'a> {
    /// What was skipped.
    pub scope: &'a Scope,
    /// Why, and what to do.
    pub reason: &'a str,
}

impl Event for IgaSkipped<'_> {
    fn record(&self) -> LogRecord {
        LogRecord::new(
            Level::Warn,
            "iga_skipped",
            format!("skipped {}: {}", self.scope, self.reason),
        )
        .field("scope", self.scope.to_string())
        .field("reason", self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_update_counters_and_log() {
        let (ctx, logs) = Context::for_tests();
        let tel = RunTelemetry::new(&ctx);
        tel.emit(&PageFetched {
            endpoint: "GET /api/v1/users",
            group: None,
            page: 1,
            objects: 200,
            elapsed: Duration::from_millis(12),
            rate: RateSeen {
                limit: Some(600),
                remaining: Some(599),
                reset: Some(1_795_428_060),
            },
        });
        tel.emit(&RateLimitWait {
            bucket: "/api/v1/users",
            wait: Duration::from_millis(1500),
            reason: "budget",
            rate: RateSeen {
                limit: Some(600),
                remaining: Some(300),
                reset: Some(1_795_428_060),
            },
        });
        tel.count_request();
        tel.count_objects("User", 199, 1);
        let stats = tel.stats();
        assert_eq!(stats["pages"], 1);
        assert_eq!(stats["rate_limit_waits"], 1);
        assert_eq!(stats["rate_limit_wait_ms"], 1500);
        assert_eq!(stats["requests"], 1);
        assert_eq!(stats["User.upserts"], 199);
        assert_eq!(tel.objects("User"), (199, 1));
        let recs = logs.records();
        assert_eq!(recs[0].event, "page_fetched");
        assert_eq!(recs[0].fields["objects"], 200);
        assert_eq!(recs[1].event, "rate_limit_wait");
        assert_eq!(recs[1].fields["wait_ms"], 1500);
        assert_eq!(recs[1].level, Level::Info);
        // The X-Rate-Limit-* headers are in the page's debug record and in the wait record.
        for (rec, remaining) in [(&recs[0], 599), (&recs[1], 300)] {
            assert_eq!(rec.fields["rate_limit_limit"], 600);
            assert_eq!(rec.fields["rate_limit_remaining"], remaining);
            assert_eq!(rec.fields["rate_limit_reset"], 1_795_428_060);
            assert!(
                rec.message.contains(&format!(
                    "X-Rate-Limit-Limit=600 X-Rate-Limit-Remaining={remaining} X-Rate-Limit-Reset=1795428060"
                )),
                "{}",
                rec.message
            );
        }
        assert_eq!(recs[0].level, Level::Debug);
    }
}
