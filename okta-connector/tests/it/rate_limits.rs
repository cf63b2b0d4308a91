//! Pacing: a normal import stays inside its share of every bucket (no 429) and still finishes
//! close to the fastest time that share allows.
//!
//! These run on virtual time: the connector's clock is a `ManualClock` (the `testkit` feature)
//! whose sleeps return at once and push the simulator's clock forward by as much, so a
//! minute-long rate-limit window costs no real time and a busy machine cannot stretch the
//! measured (server) time. The simulator runs at real speed (scale 1), so the time spent
//! serving requests adds only its real duration to server time.

use std::collections::BTreeMap;
use std::sync::Arc;

use connector_api::Connector;
use fixtures::{Bucket, OrgSpec, RateLimitProfile, RateLimits, Simulator};
use okta_connector::OktaConnector;
use okta_connector::clock::ManualClock;
use serde_json::{Value, json};

use crate::support::{Expected, full, settings, start};

/// A connector whose every sleep moves `sim`'s clock instead of waiting; and its clock.
fn virtual_time_connector(
    sim: &Arc<Simulator>,
    extra: Value,
) -> (Box<dyn Connector>, Arc<ManualClock>) {
    let server = Arc::clone(sim);
    let clock = Arc::new(ManualClock::with_hook(move |d| server.clock().advance(d)));
    let conn =
        OktaConnector::with_clock(&settings(sim, extra), clock.clone()).expect("settings accepted");
    (Box::new(conn), clock)
}

#[tokio::test]
async fn paced_import_never_hits_429_and_uses_its_share() {
    const PER_MINUTE: u32 = 20;
    const SHARE: f64 = 0.5;
    // Pages are tiny so the listing needs several windows per bucket: the test measures
    // pacing, not throughput.
    let sim = start(OrgSpec::tiny(), |c| {
        c.time_scale = 1.0;
        c.rate_limits = RateLimitProfile::Custom(RateLimits::uniform(PER_MINUTE, 75));
    })
    .await;
    let (conn, clock) = virtual_time_connector(
        &sim,
        json!({"PageSize": 2, "GroupPageSize": 2, "MemberPageSize": 3, "RateLimitShare": SHARE}),
    );
    let server_start = sim.clock().now_ms();
    let run = full(&*conn).await;
    let elapsed_s = (sim.clock().now_ms() - server_start) as f64 / 1000.0;

    let want = Expected::of(&sim);
    assert_eq!(run.upserted("GroupMember"), want.memberships);
    let stats = sim.stats();
    assert_eq!(
        stats.rate_limited, 0,
        "paced requests never hit a 429: {stats:?}"
    );
    assert_eq!(stats.concurrency_limited, 0);

    // The fastest possible run with this share: each bucket's requests in windows of
    // floor(20 × 0.5) = 10; the buckets are read in parallel, so the slowest bucket decides.
    let allowance = (f64::from(PER_MINUTE) * SHARE).floor() as u64;
    let windows: BTreeMap<&str, u64> = [Bucket::UsersList, Bucket::GroupsList, Bucket::GroupById]
        .iter()
        .map(|b| {
            let n = stats.requests_by_bucket[b.name()];
            (b.name(), n.div_ceil(allowance))
        })
        .collect();
    let minimum_s = (windows.values().max().unwrap() - 1) as f64 * 60.0;
    let ratio = elapsed_s / minimum_s;
    let waits = run.events("rate_limit_wait");
    assert!(!waits.is_empty(), "budget waits are logged");
    assert!(
        !clock.sleeps().is_empty(),
        "the waits ran on the virtual clock"
    );
    assert!(waits.iter().all(|w| w.fields["reason"] == "budget"));
    println!(
        "paced import: {:?} requests, {elapsed_s:.0} s (server) vs minimum {minimum_s:.0} s = {ratio:.3}x, {} waits",
        stats.requests_by_bucket,
        waits.len()
    );
    assert!(
        ratio <= 1.10,
        "took {elapsed_s:.1} s, minimum {minimum_s:.1} s ({ratio:.3}x)"
    );
}

#[tokio::test]
async fn budget_carries_over_between_runs_of_one_instance() {
    const PER_MINUTE: u32 = 20;
    let sim = start(OrgSpec::tiny(), |c| {
        c.time_scale = 1.0;
        c.rate_limits = RateLimitProfile::Custom(RateLimits::uniform(PER_MINUTE, 75));
    })
    .await;
    // 30 users at 3 per page = 10 user pages per run, 10 per window allowed (share 0.5):
    // the second run must wait for the window the first one used up.
    let (conn, clock) = virtual_time_connector(
        &sim,
        json!({"PageSize": 3, "ImportGroups": false, "ImportMemberships": false}),
    );
    let first = full(&*conn).await;
    let before_second = sim.clock().now_ms();
    let second = full(&*conn).await;
    assert_eq!(first.upserted("User"), second.upserted("User"));
    assert_eq!(sim.stats().rate_limited, 0);
    assert!(!second.events("rate_limit_wait").is_empty());
    // The wait happened on the server's clock (virtually), not in real time.
    assert!(!clock.sleeps().is_empty());
    assert!(sim.clock().now_ms() > before_second);
}
