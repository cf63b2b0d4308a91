//! 429s, concurrency limits, 5xx, dropped connections and broken pages: survived when
//! retries allow, a failed run (and no watermark) when they do not — never a skipped page.

use std::time::Duration;

use connector_api::{ErrorKind, ImportRequest, Scope};
use fixtures::{FaultKind, OrgSpec, RateLimitProfile, RateLimits, Simulator, Trigger};
use serde_json::json;

use crate::support::{Expected, Run, connector, full, import, start};

/// The run equals the org: every user, group and membership.
fn assert_complete(run: &Run, sim: &Simulator) {
    let want = Expected::of(sim);
    assert_eq!(run.upserted("User"), want.users.keys().cloned().collect());
    assert_eq!(run.deleted("User"), want.deprovisioned);
    assert_eq!(run.upserted("Group"), want.groups.keys().cloned().collect());
    assert_eq!(run.upserted("GroupMember"), want.memberships);
    assert!(run.completed().contains(&Scope::whole("GroupMember")));
}

#[tokio::test]
async fn rate_limit_429_waits_until_reset_and_continues() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    // Two 429s in a row on the users listing: the bucket is empty until Reset (60 s of
    // server time, 60 ms here).
    sim.faults()
        .inject(FaultKind::RateLimited, "/api/v1/users", Trigger::Next(2));
    let conn = connector(&sim, json!({"PageSize": 5}));
    let run = full(&*conn).await;
    assert_complete(&run, &sim);
    let waits = run.events("rate_limit_wait");
    let on_429: Vec<_> = waits
        .iter()
        .filter(|r| r.fields["reason"] == "429")
        .collect();
    assert_eq!(on_429.len(), 2, "{waits:?}");
    for w in on_429 {
        // Reset − Date is at most 60 server seconds: 60 ms at time scale 1000 (less when the
        // answer itself was slow, as on a busy machine).
        let ms = w.fields["wait_ms"].as_u64().unwrap();
        assert!(ms <= 61, "waited {ms} ms");
        assert_eq!(w.fields["bucket"], "/api/v1/users");
    }
    assert_eq!(run.outcome().stats["retries"], 2);
    assert_eq!(sim.stats().rate_limited, 2);
}

#[tokio::test]
async fn proxy_retry_after_is_honoured() {
    // The proxy's Retry-After is the rest of the window (about 60 s): within a
    // MaxBackoffSeconds of 90 it is waited out and the run goes on.
    let sim = start(OrgSpec::tiny(), |c| c.send_retry_after = true).await;
    sim.faults()
        .inject(FaultKind::RateLimited, "/api/v1/groups", Trigger::Next(1));
    let conn = connector(&sim, json!({"MaxBackoffSeconds": 90}));
    let run = full(&*conn).await;
    assert_complete(&run, &sim);
    let waits = run.events("rate_limit_wait");
    assert_eq!(waits.len(), 1);
    // The rate-limit record carries the X-Rate-Limit-* headers of the 429.
    assert_eq!(waits[0].fields["rate_limit_remaining"], 0);
    assert!(waits[0].fields["rate_limit_reset"].as_i64().unwrap() > 0);
    let retries = run.events("retry");
    assert!(
        retries[0].message.contains("X-Rate-Limit-Remaining=0"),
        "{}",
        retries[0].message
    );
}

#[tokio::test]
async fn retry_after_longer_than_max_backoff_fails_the_run() {
    // The same Retry-After (about 60 s) against the default MaxBackoffSeconds of 30: an error
    // at once, not a clamped 30 s wait and a retry before the server said it would answer.
    let sim = start(OrgSpec::tiny(), |c| c.send_retry_after = true).await;
    sim.faults()
        .inject(FaultKind::RateLimited, "/api/v1/users", Trigger::Next(1));
    let conn = connector(&sim, json!({}));
    let run = import(&*conn, ImportRequest::full()).await;
    let err = run.result.as_ref().expect_err("the run must fail");
    assert!(
        err.message()
            .contains("(Retry-After), longer than MaxBackoffSeconds (30 s)"),
        "{err}"
    );
    assert!(err.remediation().unwrap().contains("MaxBackoffSeconds"));
    assert!(run.events("retry").is_empty(), "nothing is retried");
}

#[tokio::test]
async fn concurrency_limit_429_reduces_parallelism() {
    // Okta's org-wide concurrency limit at 2 requests; the connector starts with 8 member
    // listings (plus users and groups) in flight.
    let sim = start(OrgSpec::small(), |c| {
        c.rate_limits = RateLimitProfile::Custom(RateLimits::uniform(1_000_000, 2));
        c.latency.per_request = Duration::from_millis(3);
    })
    .await;
    let conn = connector(
        &sim,
        json!({"MaxConcurrency": 8, "MaxRetries": 6, "MemberPageSize": 100}),
    );
    let run = full(&*conn).await;
    assert_complete(&run, &sim);
    let stats = sim.stats();
    assert!(
        stats.concurrency_limited > 0,
        "the limit was hit: {stats:?}"
    );
    let reduced = run.events("concurrency_reduced");
    assert!(!reduced.is_empty());
    assert!(
        reduced
            .iter()
            .any(|r| r.fields["to"].as_u64().unwrap() <= 2),
        "{reduced:?}"
    );
    println!(
        "concurrency limit 2: {} concurrency 429s in {} requests",
        stats.concurrency_limited, stats.requests_total
    );
}

#[tokio::test]
async fn server_errors_and_broken_connections_are_retried() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    let f = sim.faults();
    f.inject(
        FaultKind::ServiceUnavailable,
        "/api/v1/groups?",
        Trigger::Next(2),
    );
    f.inject(FaultKind::DropConnection, "/api/v1/users", Trigger::Nth(2));
    f.inject(FaultKind::DropMidBody, "/api/v1/groups/", Trigger::Nth(3));
    f.inject(FaultKind::TruncatedBody, "/api/v1/groups/", Trigger::Nth(5));
    f.inject(FaultKind::MalformedJson, "/api/v1/users", Trigger::Nth(4));
    f.inject(FaultKind::Status(502), "/api/v1/groups/", Trigger::Nth(7));
    let conn = connector(&sim, json!({"PageSize": 4, "MemberPageSize": 3}));
    let run = full(&*conn).await;
    assert_complete(&run, &sim);
    assert_eq!(f.pending(), 0, "every fault fired");
    let reasons: Vec<String> = run
        .events("retry")
        .iter()
        .map(|r| r.fields["reason"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(reasons.len(), 7, "{reasons:?}");
    assert_eq!(
        reasons.iter().filter(|r| *r == "HTTP 503").count(),
        2,
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("connection")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("undecodable body")),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn rate_limit_storm_fails_the_run_without_a_watermark() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    sim.faults()
        .inject(FaultKind::RateLimited, "/api/v1/groups/", Trigger::Always);
    let conn = connector(&sim, json!({"MaxRetries": 2}));
    let run = import(&*conn, ImportRequest::full()).await;
    let err = run.result.as_ref().expect_err("the run must fail");
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert!(err.message().contains("gave up after 2 retries"), "{err}");
    assert!(
        err.message().contains("GET /api/v1/groups/{groupId}/users"),
        "{err}"
    );
    assert_eq!(err.vendor().unwrap().code.as_deref(), Some("E0000047"));
    // The failed type is never marked complete.
    assert!(!run.completed().contains(&Scope::whole("GroupMember")));
}

#[tokio::test]
async fn persistent_outage_fails_the_run_as_unavailable() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    sim.faults().inject(
        FaultKind::ServiceUnavailable,
        "/api/v1/users",
        Trigger::Nth(2),
    );
    sim.faults()
        .inject(FaultKind::DropConnection, "/api/v1/users", Trigger::Always);
    let conn = connector(&sim, json!({"PageSize": 5, "MaxRetries": 3}));
    let run = import(&*conn, ImportRequest::full()).await;
    let err = run.result.as_ref().expect_err("the run must fail");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.message().contains("gave up after 3 retries"), "{err}");
    assert!(!run.completed().contains(&Scope::whole("User")));
}

#[tokio::test]
async fn broken_paging_fails_instead_of_looping_or_leaking() {
    for (kind, expect) in [
        (FaultKind::NextLoop, "points back to a page already read"),
        (FaultKind::NextForeignHost, "foreign host evil.example.com"),
    ] {
        let sim = start(OrgSpec::tiny(), |_| {}).await;
        sim.faults()
            .inject(kind.clone(), "/api/v1/users", Trigger::Nth(2));
        let conn = connector(&sim, json!({"PageSize": 5}));
        let run = import(&*conn, ImportRequest::full()).await;
        let err = run.result.as_ref().expect_err("the run must fail");
        assert_eq!(err.kind(), ErrorKind::Protocol, "{kind:?}: {err}");
        assert!(err.message().contains(expect), "{kind:?}: {err}");
        assert!(!run.completed().contains(&Scope::whole("User")));
    }
}

#[tokio::test]
async fn empty_last_page_pointing_at_itself_is_asked_again() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    // 30 users, 5 per page: the 6th page is the last; it comes back empty with a next link to
    // itself ("nothing yet, ask again"), which is followed rather than taken for a loop.
    sim.faults().inject(
        FaultKind::EmptyPageWithNext,
        "/api/v1/users",
        Trigger::Nth(6),
    );
    let conn = connector(&sim, json!({"PageSize": 5}));
    let run = full(&*conn).await;
    assert_complete(&run, &sim);
    assert_eq!(sim.stats().requests_by_bucket["/api/v1/users"], 7);
}

#[tokio::test]
async fn empty_page_whose_next_moves_on_is_read_again_not_skipped() {
    // The 2nd users page comes back empty but with the real next link (to page 3). Following
    // it would skip five users and still complete the User scope: a silent partial import
    // that a host turns into deletes. The page is read again instead.
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    sim.faults().inject(
        FaultKind::EmptyPageWithNext,
        "/api/v1/users",
        Trigger::Nth(2),
    );
    let conn = connector(&sim, json!({"PageSize": 5}));
    let run = full(&*conn).await;
    assert_complete(&run, &sim);
    let retries = run.events("retry");
    assert_eq!(retries.len(), 1, "{retries:?}");
    assert_eq!(
        retries[0].fields["reason"],
        "an empty page with a next link to another page"
    );
    assert_eq!(sim.stats().requests_by_bucket["/api/v1/users"], 7);

    // When every answer is like that, the run fails after MaxRetries re-reads.
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    sim.faults().inject(
        FaultKind::EmptyPageWithNext,
        "/api/v1/users",
        Trigger::Always,
    );
    let conn = connector(&sim, json!({"PageSize": 5, "MaxRetries": 2}));
    let run = import(&*conn, ImportRequest::full()).await;
    let err = run.result.as_ref().expect_err("the run must fail");
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    assert!(
        err.message().contains(
            "came back as an empty page with a next link to another page, 3 times in a row"
        ),
        "{err}"
    );
    assert!(run.upserted("User").is_empty());
    assert!(!run.completed().contains(&Scope::whole("User")));
}

#[tokio::test]
async fn group_deleted_during_the_run_becomes_a_delete() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    let victim = sim
        .groups()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .find(|g| *g != sim.everyone_group_id())
        .unwrap();
    // Its member listing answers 404, as if it was deleted after the group listing.
    sim.faults().inject(
        FaultKind::Status(404),
        &format!("/api/v1/groups/{victim}/users"),
        Trigger::Always,
    );
    let conn = connector(&sim, json!({}));
    let run = full(&*conn).await;
    assert!(run.deleted("Group").contains(&victim));
    assert!(
        run.completed()
            .contains(&Scope::within("GroupMember", victim.clone()))
    );
    assert_eq!(run.events("group_vanished").len(), 1);
}
