//! One row per measured run, the rate-limit minimum, and the tables written to `bench-out/`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::measure::Measured;

/// The rate-limit minimum of a run: per bucket, the requests it made ÷ the requests per real
/// second its share of that bucket allows; the slowest bucket bounds the run.
#[derive(Debug, Clone, Serialize)]
pub struct Minimum {
    /// Seconds (real time).
    pub seconds: f64,
    /// The bucket that bounds it.
    pub bucket: String,
    /// Per bucket: (requests, allowed per sim minute, seconds).
    pub per_bucket: BTreeMap<String, (u64, u32, f64)>,
}

/// Computes the minimum for the requests in `by_bucket` under Okta's Enterprise table.
pub fn minimum(by_bucket: &BTreeMap<String, u64>, share: f64, time_scale: f64) -> Minimum {
    let table = fixtures::RateLimits::enterprise().per_minute;
    let mut per_bucket = BTreeMap::new();
    let (mut seconds, mut bucket) = (0.0, String::new());
    for b in fixtures::Bucket::ALL {
        let Some(&n) = by_bucket.get(b.name()) else {
            continue;
        };
        let Some(&limit) = table.get(&b) else {
            continue;
        };
        // The connector's allowance: floor(limit × share), at least one request per window.
        let allowed = ((f64::from(limit) * share).floor() as u32).clamp(1, limit);
        let s = n as f64 / f64::from(allowed) * 60.0 / time_scale;
        if s > seconds {
            seconds = s;
            bucket = b.name().to_owned();
        }
        per_bucket.insert(b.name().to_owned(), (n, allowed, s));
    }
    Minimum {
        seconds,
        bucket,
        per_bucket,
    }
}

/// One measured run.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub size: String,
    pub scenario: String,
    pub tool: String,
    pub wall_s: f64,
    pub cpu_s: f64,
    pub rss_mib: f64,
    pub load_before: f64,
    pub load_after: f64,
    pub exit_code: Option<i32>,
    /// Requests the simulator received (`/api`), 429s included.
    pub requests: u64,
    pub requests_by_bucket: BTreeMap<String, u64>,
    /// 429s for a spent bucket.
    pub rate_limited: u64,
    /// 429s for too many requests in flight.
    pub concurrency_limited: u64,
    pub peak_in_flight: u64,
    /// Objects the tool received (users + groups + memberships; deletes included).
    pub objects: u64,
    pub sim_cpu_s: Option<f64>,
    pub minimum: Option<Minimum>,
    /// Minimum at what share.
    pub minimum_share: Option<f64>,
    /// This tool's wall time ÷ the host's on the same org.
    pub slower_than_host: Option<f64>,
    /// Delta: share of the full run's requests and wall time.
    pub share_of_full: Option<(f64, f64)>,
    /// CPU-bound: the connector's own counters.
    pub connector_stats: Option<Value>,
    /// The store backend written to: `sqlite` or `postgres`.
    pub store: String,
    /// CPU seconds of the PostgreSQL server's processes during the run (`None` for SQLite,
    /// whose work is inside the host process).
    pub store_cpu_s: Option<f64>,
    /// The store's size on disk after the run, MiB.
    pub store_mib: Option<f64>,
}

impl Row {
    pub fn new(
        size: &str,
        scenario: &str,
        tool: &str,
        m: &Measured,
        stats: &Value,
        objects: u64,
    ) -> Row {
        let n = |k: &str| stats[k].as_u64().unwrap_or(0);
        Row {
            size: size.to_owned(),
            scenario: scenario.to_owned(),
            tool: tool.to_owned(),
            wall_s: m.wall.as_secs_f64(),
            cpu_s: m.cpu_s,
            rss_mib: m.rss_mib(),
            load_before: m.load.0,
            load_after: m.load.1,
            exit_code: m.code,
            requests: n("requests_total"),
            requests_by_bucket: crate::buckets(stats),
            rate_limited: n("rate_limited"),
            concurrency_limited: n("concurrency_limited"),
            peak_in_flight: n("peak_concurrency"),
            objects,
            sim_cpu_s: None,
            minimum: None,
            minimum_share: None,
            slower_than_host: None,
            share_of_full: None,
            connector_stats: None,
            store: "sqlite".to_owned(),
            store_cpu_s: None,
            store_mib: None,
        }
    }

    pub fn with_sim_cpu(mut self, s: f64) -> Row {
        self.sim_cpu_s = Some(s);
        self
    }

    /// The store written to, the PostgreSQL server's CPU seconds, the store's size.
    pub fn with_store(mut self, store: &str, server_cpu_s: Option<f64>, mib: f64) -> Row {
        self.store = store.to_owned();
        self.store_cpu_s = server_cpu_s;
        self.store_mib = Some(mib);
        self
    }

    /// Host CPU plus the store server's, µs per object.
    pub fn total_cpu_us_per_object(&self) -> f64 {
        (self.cpu_s + self.store_cpu_s.unwrap_or(0.0)) * 1e6 / self.objects.max(1) as f64
    }

    pub fn with_minimum(mut self, stats: &Value, share: f64, time_scale: f64) -> Row {
        self.minimum = Some(minimum(&crate::buckets(stats), share, time_scale));
        self.minimum_share = Some(share);
        self
    }

    pub fn versus(mut self, host_wall: f64) -> Row {
        self.slower_than_host = Some(self.wall_s / host_wall);
        self
    }

    pub fn share_of_full(mut self, full_requests: u64, full_wall: f64) -> Row {
        self.share_of_full = Some((
            self.requests as f64 / full_requests.max(1) as f64,
            self.wall_s / full_wall,
        ));
        self
    }

    pub fn with_breakdown(mut self, report: &Value) -> Row {
        self.connector_stats = Some(report["run"]["stats"].clone());
        self
    }

    pub fn ratio(&self) -> Option<f64> {
        self.minimum
            .as_ref()
            .filter(|m| m.seconds > 0.0)
            .map(|m| self.wall_s / m.seconds)
    }

    pub fn objects_per_s(&self) -> f64 {
        self.objects as f64 / self.wall_s
    }

    pub fn one_line(&self) -> String {
        format!(
            "{} {} {} [{}]: {:.2} s wall{}, {} requests, {} objects ({:.0}/s), 429s {}+{}, CPU {:.1} s, peak RSS {:.0} MiB, load {:.1}→{:.1}",
            self.size,
            self.scenario,
            self.tool,
            self.store,
            self.wall_s,
            self.ratio()
                .map(|r| format!(" ({r:.3}× the minimum)"))
                .unwrap_or_default(),
            self.requests,
            self.objects,
            self.objects_per_s(),
            self.rate_limited,
            self.concurrency_limited,
            self.cpu_s,
            self.rss_mib,
            self.load_before,
            self.load_after
        )
    }
}

/// `host [postgres]`: the build and, when not SQLite, the store.
fn tool_store(r: &Row) -> String {
    if r.store == "sqlite" {
        r.tool.clone()
    } else {
        format!("{} [{}]", r.tool, r.store)
    }
}

pub fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
}

/// The results as Markdown tables; `baseline` is the baseline build's tool label, if one ran.
pub fn markdown(rows: &[Row], notes: &[String], baseline: Option<&str>) -> String {
    let mut s = crate::compare::markdown(rows, baseline, crate::CURRENT);
    s.push_str(&crate::stores::markdown(rows));
    let rate: Vec<&Row> = rows
        .iter()
        .filter(|r| r.scenario.starts_with("rate-bound"))
        .collect();
    if !rate.is_empty() {
        s.push_str("### Rate-bound full import (Enterprise limits, latency on)\n\n");
        s.push_str("| org | tool | wall s | minimum s (bucket, share) | wall ÷ min | × host | requests | req/object | objects | 429s (rate+conc) | peak in flight | CPU s | peak RSS MiB | sim CPU s | load before→after |\n");
        s.push_str("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        for r in rate {
            let min = r.minimum.as_ref().map_or_else(
                || "–".to_owned(),
                |m| {
                    format!(
                        "{:.1} ({}, {})",
                        m.seconds,
                        m.bucket,
                        r.minimum_share.unwrap_or(0.0)
                    )
                },
            );
            let _ = writeln!(
                s,
                "| {} | {} | {:.1} | {} | {} | {} | {} | {:.4} | {} | {}+{} | {} | {:.1} | {:.0} | {} | {:.1}→{:.1} |",
                r.size,
                tool_store(r),
                r.wall_s,
                min,
                opt(r.ratio(), 3),
                opt(r.slower_than_host, 1),
                r.requests,
                r.requests as f64 / r.objects.max(1) as f64,
                r.objects,
                r.rate_limited,
                r.concurrency_limited,
                r.peak_in_flight,
                r.cpu_s,
                r.rss_mib,
                opt(r.sim_cpu_s, 1),
                r.load_before,
                r.load_after
            );
        }
        s.push('\n');
    }
    let delta: Vec<&Row> = rows
        .iter()
        .filter(|r| r.scenario.starts_with("delta"))
        .collect();
    if !delta.is_empty() {
        s.push_str("### Delta after 1% churn\n\n");
        s.push_str("| org | wall s | requests | share of full run's requests | share of full run's time | objects | 429s | CPU s | peak RSS MiB | load before→after |\n");
        s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        for r in delta {
            let (rq, t) = r.share_of_full.unwrap_or((f64::NAN, f64::NAN));
            let _ = writeln!(
                s,
                "| {} | {:.2} | {} | {:.2}% | {:.2}% | {} | {} | {:.2} | {:.0} | {:.1}→{:.1} |",
                r.size,
                r.wall_s,
                r.requests,
                rq * 100.0,
                t * 100.0,
                r.objects,
                r.rate_limited + r.concurrency_limited,
                r.cpu_s,
                r.rss_mib,
                r.load_before,
                r.load_after
            );
        }
        s.push('\n');
    }
    let cpu: Vec<&Row> = rows
        .iter()
        .filter(|r| r.scenario.starts_with("cpu"))
        .collect();
    if !cpu.is_empty() {
        s.push_str("### CPU-bound full import (limits and latency off)\n\n");
        s.push_str("| org | tool [store] | wall s | objects | objects/s | requests | host CPU s (user+sys) | host CPU µs/object | PostgreSQL server CPU s | sim CPU s | host + server + sim CPU ÷ wall | store MiB | peak RSS MiB | load before→after |\n");
        s.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        for r in cpu {
            let sim = r.sim_cpu_s.unwrap_or(f64::NAN);
            let server = r.store_cpu_s.unwrap_or(0.0);
            let _ = writeln!(
                s,
                "| {} | {} | {:.2} | {} | {:.0} | {} | {:.2} | {:.2} | {} | {:.2} | {:.2} | {} | {:.0} | {:.1}→{:.1} |",
                r.size,
                tool_store(r),
                r.wall_s,
                r.objects,
                r.objects_per_s(),
                r.requests,
                r.cpu_s,
                r.cpu_s * 1e6 / r.objects.max(1) as f64,
                opt(r.store_cpu_s, 2),
                sim,
                (r.cpu_s + server + sim) / r.wall_s,
                opt(r.store_mib, 0),
                r.rss_mib,
                r.load_before,
                r.load_after
            );
        }
        s.push('\n');
    }
    if !notes.is_empty() {
        s.push_str("Notes:\n\n");
        for n in notes {
            let _ = writeln!(s, "- {n}");
        }
    }
    s
}

/// Writes `results.md` and `results.json`.
///
/// # Errors
/// Writing failed.
pub fn write(
    out: &Path,
    rows: &[Row],
    notes: &[String],
    machine: &Value,
    settings: &Value,
    baseline: Option<&str>,
) -> std::io::Result<()> {
    let md = format!(
        "Machine: {machine}\n\nSettings: {settings}\n\n{}",
        markdown(rows, notes, baseline)
    );
    std::fs::write(out.join("results.md"), md)?;
    let json = serde_json::json!({
        "machine": machine,
        "settings": settings,
        "rows": rows,
        "notes": notes,
    });
    std::fs::write(
        out.join("results.json"),
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )
}

/// Writes `fleet.md` and `fleet.json`.
///
/// # Errors
/// Writing failed.
pub fn write_fleet(out: &Path, fleet: &crate::fleet::Fleet) -> std::io::Result<()> {
    std::fs::write(out.join("fleet.md"), fleet.markdown())?;
    std::fs::write(
        out.join("fleet.json"),
        serde_json::to_string_pretty(fleet).unwrap_or_default(),
    )
}
