//! Fleet metrics in the Prometheus text format (prometheus-client), served on `/metrics` with
//! `/healthz` beside it (hyper; see [`serve`]).
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `host_worker_runs_total` | counter | `connector`, `outcome` (`succeeded`, `failed`, `cancelled`, `not_recorded`: the run could not be recorded, `not_started`: its library, secrets or settings failed) |
//! | `host_worker_objects_written_total` | counter | `connector`: objects created, updated or deleted by successful runs |
//! | `host_worker_requests_total` | counter | `connector`: the connector's `requests` statistic |
//! | `host_worker_rate_limit_waits_total` | counter | `connector`: the connector's `rate_limit_waits` statistic |
//! | `host_worker_leases_held` | gauge | — |
//! | `host_worker_seconds_since_last_success` | gauge | `connector`: since the start of its last successful run (any worker's), computed at each scrape |
//!
//! The connector statistics come from the run records, which keep them for successful runs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::lease::lock;
use crate::clock::Clock;
use crate::error::HostError;
use crate::store::{RunRecord, RunStatus};

type One = [(&'static str, String); 1];
type Two = [(&'static str, String); 2];

fn connector(name: &str) -> One {
    [("connector", name.to_owned())]
}

/// The worker's metrics.
pub struct Metrics {
    registry: Registry,
    runs: Family<Two, Counter>,
    objects: Family<One, Counter>,
    requests: Family<One, Counter>,
    rate_limit_waits: Family<One, Counter>,
    leases_held: Gauge,
    since_success: Family<One, Gauge<f64, AtomicU64>>,
    last_success: Mutex<BTreeMap<String, DateTime<Utc>>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Registers every metric; `clock` ages the last successes at each scrape.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let mut registry = Registry::with_prefix("host_worker");
        let runs = Family::<Two, Counter>::default();
        let objects = Family::<One, Counter>::default();
        let requests = Family::<One, Counter>::default();
        let rate_limit_waits = Family::<One, Counter>::default();
        let leases_held = Gauge::default();
        let since_success = Family::<One, Gauge<f64, AtomicU64>>::default();
        registry.register("runs", "Import runs by connector and outcome", runs.clone());
        registry.register(
            "objects_written",
            "Objects created, updated or deleted by successful runs",
            objects.clone(),
        );
        registry.register("requests", "Requests the connector made", requests.clone());
        registry.register(
            "rate_limit_waits",
            "Times the connector waited for a rate limit",
            rate_limit_waits.clone(),
        );
        registry.register(
            "leases_held",
            "Connector leases this worker holds",
            leases_held.clone(),
        );
        registry.register(
            "seconds_since_last_success",
            "Seconds since the start of the connector's last successful run",
            since_success.clone(),
        );
        Self {
            registry,
            runs,
            objects,
            requests,
            rate_limit_waits,
            leases_held,
            since_success,
            last_success: Mutex::new(BTreeMap::new()),
            clock,
        }
    }

    /// Counts a recorded run.
    pub fn record_run(&self, run: &RunRecord) {
        self.count_outcome(&run.connector, run.status.as_str());
        if run.status != RunStatus::Succeeded {
            return;
        }
        let labels = connector(&run.connector);
        let written: u64 = run
            .counts
            .values()
            .map(|c| c.created + c.updated + c.deleted + c.removed)
            .sum();
        self.objects.get_or_create(&labels).inc_by(written);
        let stat = |k: &str| run.stats.get(k).copied().unwrap_or(0);
        self.requests
            .get_or_create(&labels)
            .inc_by(stat("requests"));
        self.rate_limit_waits
            .get_or_create(&labels)
            .inc_by(stat("rate_limit_waits"));
        if let Ok(t) = DateTime::parse_from_rfc3339(&run.started_at) {
            self.saw_success(&run.connector, Some(t.to_utc()));
        }
    }

    /// Counts a run that ended without a record (`not_recorded`) or never started
    /// (`not_started`).
    pub fn count_outcome(&self, name: &str, outcome: &str) {
        self.runs
            .get_or_create(&[
                ("connector", name.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
    }

    /// The start of the connector's last successful run, as read from the store (keeps the
    /// latest seen).
    pub fn saw_success(&self, name: &str, started: Option<DateTime<Utc>>) {
        let Some(started) = started else { return };
        let mut map = lock(&self.last_success);
        let entry = map.entry(name.to_owned()).or_insert(started);
        *entry = (*entry).max(started);
    }

    /// Sets the number of leases held.
    pub fn set_leases_held(&self, n: usize) {
        self.leases_held.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// The Prometheus text exposition, ages computed now.
    pub fn encode(&self) -> String {
        let now = self.clock.now();
        for (name, at) in lock(&self.last_success).iter() {
            let age = (now - *at).num_milliseconds().max(0) as f64 / 1000.0;
            self.since_success.get_or_create(&connector(name)).set(age);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// Serves `metrics` on `addr` until the process ends: `GET /metrics` (Prometheus text) and
/// `GET /healthz` (200 `ok`). Returns the bound address once listening.
///
/// # Errors
/// The address cannot be bound.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<SocketAddr, HostError> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        HostError::Usage(format!(
            "--metrics {addr}: cannot listen there ({e}); choose a free address, e.g. \
             127.0.0.1:9464"
        ))
    })?;
    let bound = listener.local_addr().unwrap_or(addr);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let metrics = Arc::clone(&metrics);
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let svc = hyper::service::service_fn(move |req| {
                    let metrics = Arc::clone(&metrics);
                    async move { Ok::<_, std::convert::Infallible>(respond(&req, &metrics)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, svc)
                    .await;
            });
        }
    });
    tracing::info!("metrics on http://{bound}/metrics, health on http://{bound}/healthz");
    Ok(bound)
}

fn respond(req: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => (
            StatusCode::OK,
            prometheus_text::CONTENT_TYPE,
            metrics.encode(),
        ),
        (&Method::GET, "/healthz") => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: GET /metrics or /healthz\n".to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::TypeCounts;

    fn run(status: RunStatus) -> RunRecord {
        RunRecord {
            id: 1,
            connector: "acme".into(),
            mode: "full".into(),
            status,
            started_at: "2026-01-01T00:00:00.000Z".into(),
            finished_at: None,
            watermark_before: None,
            watermark_after: None,
            counts: BTreeMap::from([(
                "User".to_owned(),
                TypeCounts {
                    created: 5,
                    updated: 2,
                    unchanged: 9,
                    removed: 1,
                    ..TypeCounts::default()
                },
            )]),
            stats: BTreeMap::from([
                ("requests".to_owned(), 40),
                ("rate_limit_waits".to_owned(), 3),
            ]),
            events: BTreeMap::new(),
            skipped: Vec::new(),
            notes: Vec::new(),
            error: None,
            holder: None,
        }
    }

    #[test]
    fn runs_objects_requests_waits_leases_and_age_are_exposed() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:01:30Z").unwrap();
        let clock = Arc::new(ManualClock::new(start.to_utc()));
        let m = Metrics::new(clock.clone());
        m.record_run(&run(RunStatus::Succeeded));
        m.record_run(&run(RunStatus::Succeeded));
        m.record_run(&run(RunStatus::Failed));
        m.count_outcome("other", "not_started");
        m.set_leases_held(2);
        let text = m.encode();
        for line in [
            "host_worker_runs_total{connector=\"acme\",outcome=\"succeeded\"} 2",
            "host_worker_runs_total{connector=\"acme\",outcome=\"failed\"} 1",
            "host_worker_runs_total{connector=\"other\",outcome=\"not_started\"} 1",
            "host_worker_objects_written_total{connector=\"acme\"} 16",
            "host_worker_requests_total{connector=\"acme\"} 80",
            "host_worker_rate_limit_waits_total{connector=\"acme\"} 6",
            "host_worker_leases_held 2",
            "host_worker_seconds_since_last_success{connector=\"acme\"} 90.0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        clock.advance(chrono::Duration::seconds(10));
        assert!(
            m.encode()
                .contains("host_worker_seconds_since_last_success{connector=\"acme\"} 100.0"),
            "aged at the scrape"
        );
    }

    #[tokio::test]
    async fn metrics_and_healthz_are_served() {
        let m = Arc::new(Metrics::new(Arc::new(crate::clock::SystemClock)));
        m.set_leases_held(1);
        let addr = serve("127.0.0.1:0".parse().unwrap(), m).await.unwrap();
        let get = |path: &'static str| async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            s.write_all(req.as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        };
        let health = get("/healthz").await;
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");
        let metrics = get("/metrics").await;
        assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
        assert!(metrics.contains("text/plain; version=0.0.4"), "{metrics}");
        assert!(metrics.contains("host_worker_leases_held 1"), "{metrics}");
        assert!(get("/nope").await.starts_with("HTTP/1.1 404"));
    }
}
