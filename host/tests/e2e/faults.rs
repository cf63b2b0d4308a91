//! Faults between the Okta connector (the cdylib, through the host) and Okta (the simulator).
//!
//! Every case starts from a store seeded by a successful full run, then changes the org so
//! that a *complete* full run would delete a user and two or more memberships, then runs a
//! full import under the fault. Each must end either in a complete, correct import (the store
//! equals the org, the watermark is this run's) or in a failed run with a clear error that
//! deleted nothing and kept the watermark — never a silent partial import.

use std::time::Duration;

use fixtures::{FaultKind, Trigger};
use host::runner::ModeChoice;
use serde_json::json;

use crate::fast::{Seeded, run_alongside};

/// Faults the connector rides out with its retries: the run completes and is correct.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_faults_end_in_a_complete_import() {
    // (what, faults as (kind, path prefix, trigger))
    type Case = (&'static str, Vec<(FaultKind, &'static str, Trigger)>);
    let cases: Vec<Case> = vec![
        (
            "a 429 storm on the user listing (3 in a row, MaxRetries 3)",
            vec![(FaultKind::RateLimited, "/api/v1/users", Trigger::Next(3))],
        ),
        (
            "a 429 storm on the member listings",
            vec![(FaultKind::RateLimited, "/api/v1/groups/", Trigger::Next(3))],
        ),
        (
            "a burst of 503s on the group listing",
            vec![(
                FaultKind::ServiceUnavailable,
                "/api/v1/groups?",
                Trigger::Next(3),
            )],
        ),
        (
            "502/500/504 on member pages",
            vec![
                (FaultKind::Status(502), "/api/v1/groups/", Trigger::Nth(2)),
                (FaultKind::Status(500), "/api/v1/groups/", Trigger::Nth(5)),
                (FaultKind::Status(504), "/api/v1/groups/", Trigger::Nth(9)),
            ],
        ),
        (
            "connections dropped before the answer and mid-body",
            vec![
                (FaultKind::DropConnection, "/api/v1/users", Trigger::Nth(2)),
                (FaultKind::DropMidBody, "/api/v1/users", Trigger::Nth(4)),
                (FaultKind::DropMidBody, "/api/v1/groups/", Trigger::Nth(3)),
            ],
        ),
        (
            "truncated and malformed JSON pages",
            vec![
                (FaultKind::TruncatedBody, "/api/v1/users", Trigger::Nth(3)),
                (FaultKind::MalformedJson, "/api/v1/groups?", Trigger::Nth(2)),
                (FaultKind::TruncatedBody, "/api/v1/groups/", Trigger::Nth(4)),
            ],
        ),
        (
            "a page in the middle comes back empty with a next link that moves on",
            vec![(
                FaultKind::EmptyPageWithNext,
                "/api/v1/users",
                Trigger::Nth(2),
            )],
        ),
        (
            "two member pages in a row come back empty with a next link",
            vec![(
                FaultKind::EmptyPageWithNext,
                "/api/v1/groups/",
                Trigger::Next(2),
            )],
        ),
        (
            "the last user page comes back empty with a next link to itself",
            vec![(
                FaultKind::EmptyPageWithNext,
                "/api/v1/users",
                Trigger::Nth(6),
            )],
        ),
    ];
    for (what, faults) in cases {
        let mut s = Seeded::new(|_| {}, json!({})).await;
        for (kind, prefix, trigger) in faults {
            s.h.sim.faults().inject(kind, prefix, trigger);
        }
        let report = s.h.run(ModeChoice::Full).await;
        assert_eq!(s.h.sim.faults().pending(), 0, "{what}: every fault fired");
        s.assert_complete(&report, what);
    }
}

/// Faults that last longer than the retries: the run fails, names the problem, deletes
/// nothing (although the user scope was complete) and keeps the watermark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lasting_faults_fail_the_run_and_delete_nothing() {
    let cases = [
        (
            "a 429 storm that outlasts the retries",
            FaultKind::RateLimited,
            "/api/v1/groups/",
            "rate_limited",
            "gave up after 3 retries",
        ),
        (
            "503 on every user page",
            FaultKind::ServiceUnavailable,
            "/api/v1/users",
            "unavailable",
            "answered HTTP 503 for GET /api/v1/users",
        ),
        (
            "500 on every member page",
            FaultKind::Status(500),
            "/api/v1/groups/",
            "unavailable",
            "answered HTTP 500 for GET /api/v1/groups/{groupId}/users",
        ),
        (
            "every connection dropped mid-body",
            FaultKind::DropMidBody,
            "/api/v1/groups/",
            "unavailable",
            "connection failed",
        ),
        (
            "every connection dropped before the answer",
            FaultKind::DropConnection,
            "/api/v1/users",
            "unavailable",
            "connection failed",
        ),
        (
            "every member page truncated",
            FaultKind::TruncatedBody,
            "/api/v1/groups/",
            "protocol",
            "returned a body that is not the expected JSON",
        ),
        (
            "every group page malformed",
            FaultKind::MalformedJson,
            "/api/v1/groups?",
            "protocol",
            "returned a body that is not the expected JSON",
        ),
        (
            "a member page whose next link loops back",
            FaultKind::NextLoop,
            "/api/v1/groups/",
            "protocol",
            "points back to a page already read",
        ),
        (
            "a user page whose next link loops back",
            FaultKind::NextLoop,
            "/api/v1/users",
            "protocol",
            "points back to a page already read",
        ),
        (
            "every member page empty, each with a next link that moves on",
            FaultKind::EmptyPageWithNext,
            "/api/v1/groups/",
            "protocol",
            "empty page",
        ),
        (
            "a next link to a foreign host",
            FaultKind::NextForeignHost,
            "/api/v1/groups/",
            "protocol",
            "refused to follow a next link to the foreign host evil.example.com",
        ),
        (
            "a revoked token",
            FaultKind::Unauthorized,
            "/api/v1/groups/",
            "unauthenticated",
            "Security → API → Tokens",
        ),
        (
            "403 on member listings",
            FaultKind::Status(403),
            "/api/v1/groups/",
            "permission_denied",
            "GET /api/v1/groups/{groupId}/users",
        ),
    ];
    for (what, kind, prefix, error_kind, text) in cases {
        let mut s = Seeded::new(|_| {}, json!({})).await;
        s.h.sim.faults().inject(kind, prefix, Trigger::Always);
        let report = s.h.run(ModeChoice::Full).await;
        s.assert_failed(&report, error_kind, text, what);
    }
}

/// A page that never arrives within RequestTimeoutSeconds: retried once it times out, and a
/// failed run when every attempt does. (The only test here that spends real seconds: the
/// connector's timeout is at least one second.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_responses_past_the_timeout() {
    let config = json!({"RequestTimeoutSeconds": 1, "MaxRetries": 1});
    let mut s = Seeded::new(|_| {}, config.clone()).await;
    s.h.sim.faults().inject(
        FaultKind::Slow(Duration::from_millis(1_600)),
        "/api/v1/users",
        Trigger::Nth(2),
    );
    let report = s.h.run(ModeChoice::Full).await;
    s.assert_complete(&report, "one slow page");
    assert!(report.run.stats["retries"] >= 1, "{:?}", report.run.stats);

    let mut s = Seeded::new(|_| {}, config).await;
    s.h.sim.faults().inject(
        FaultKind::Slow(Duration::from_millis(1_600)),
        "/api/v1/groups?",
        Trigger::Always,
    );
    let report = s.h.run(ModeChoice::Full).await;
    let message = s.assert_failed(&report, "unavailable", "timed out", "every page slow");
    assert!(message.contains("gave up after 1 retries"), "{message}");
}

/// The simulator goes away mid-run (listener closed, open connections dropped) and comes back
/// with the same org: the connector's retries carry the run through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_restarting_mid_run() {
    let mut s = Seeded::new(
        |c| c.latency.per_request = Duration::from_millis(15),
        json!({"PageSize": 2, "MaxRetries": 10, "MaxBackoffSeconds": 100}),
    )
    .await;
    s.h.sim.reset_stats();
    let harness = &mut s.h;
    let (store, loaded, sim) = (&mut harness.store, &harness.loaded, &harness.sim);
    let restart = async {
        while sim.stats().requests_total < 6 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        sim.stop_listener().await;
        tokio::time::sleep(Duration::from_millis(120)).await;
        sim.restart_listener().await.expect("listens again");
    };
    let report = run_alongside(store, loaded, ModeChoice::Full, restart).await;
    s.assert_complete(&report, "a restart mid-run");
    assert!(
        report.run.stats["retries"] >= 1,
        "the outage was seen: {:?}",
        report.run.stats
    );

    // Down for good: a failed run, nothing deleted, the watermark kept.
    let mut s = Seeded::new(|_| {}, json!({"MaxRetries": 2})).await;
    s.h.sim.stop_listener().await;
    let report = s.h.run(ModeChoice::Full).await;
    let message = s.assert_failed(
        &report,
        "unavailable",
        "connection failed",
        "simulator down",
    );
    assert!(message.contains("gave up after 2 retries"), "{message}");
}

/// A delta run under a lasting fault keeps the watermark too, so the next delta run re-reads
/// the same window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delta_run_keeps_the_watermark_and_the_next_one_catches_up() {
    let mut s = Seeded::new(|_| {}, json!({})).await;
    let live = crate::support::live_user_ids(&s.h.sim);
    let changed = live[1].clone();
    assert!(
        s.h.sim
            .update_user_profile(&changed, "title", "Changed During Outage".into())
    );
    s.h.sim
        .faults()
        .inject(FaultKind::TruncatedBody, "/api/v1/groups", Trigger::Always);
    let report = s.h.run(ModeChoice::Delta).await;
    s.assert_failed(
        &report,
        "protocol",
        "not the expected JSON",
        "a delta run with broken group pages",
    );

    s.h.sim.faults().clear();
    let report = s.h.run(ModeChoice::Delta).await;
    assert_eq!(
        report.run.status,
        host::store::RunStatus::Succeeded,
        "{:?}",
        report.run.error
    );
    assert_eq!(
        report.run.watermark_before.as_deref(),
        Some(s.watermark.value.as_str()),
        "the delta run started from the watermark the failed run kept"
    );
    let user =
        s.h.store
            .object(crate::support::NAME, "User", &changed)
            .unwrap()
            .unwrap();
    assert_eq!(user.attributes["title"], "Changed During Outage");
}
