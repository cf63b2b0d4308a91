//! Throughput with rate limits off (run in release mode; ignored by default):
//! `cargo test --release -p okta-connector --test it -- --ignored throughput --nocapture`.

use std::time::Instant;

use async_trait::async_trait;
use connector_api::{Change, ChangeSink, Context, ImportRequest, Result};
use fixtures::OrgSpec;
use serde_json::json;

use crate::support::{connector, start};

/// Counts changes and keeps nothing, so memory stays flat however large the org.
#[derive(Default)]
struct CountingSink {
    changes: u64,
    largest_batch: usize,
}

#[async_trait]
impl ChangeSink for CountingSink {
    async fn send(&mut self, changes: Vec<Change>) -> Result<()> {
        self.changes += changes.len() as u64;
        self.largest_batch = self.largest_batch.max(changes.len());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run in release mode"]
async fn throughput_full_import_medium_org() {
    let sim = start(OrgSpec::medium(), |c| c.time_scale = 1.0).await;
    let conn = connector(&sim, json!({}));
    let (ctx, _logs) = Context::for_tests();
    let mut sink = CountingSink::default();
    let started = Instant::now();
    let outcome = conn
        .import(&ctx, ImportRequest::full(), &mut sink)
        .await
        .expect("full import");
    let secs = started.elapsed().as_secs_f64();
    let stats = sim.stats();
    println!(
        "medium org: {} changes in {secs:.2} s = {:.0} changes/s; {} requests, largest batch {}; {:?}",
        sink.changes,
        sink.changes as f64 / secs,
        stats.requests_total,
        sink.largest_batch,
        outcome.stats
    );
    assert!(sink.changes > 100_000);
}
