//! OAuth 2.0 service-app authentication (private-key JWT, DPoP) against the simulator's org
//! authorization server: whole imports through short-lived tokens, the nonce exchanges, no
//! replayed `jti`, missing scopes (core: the run fails naming the scope; IGA: the list is
//! skipped naming it), SSWS beside OAuth, and no key or token in any log line or error.

use std::sync::Arc;
use std::time::Duration;

use connector_api::secrecy::SecretString;
use connector_api::{Connector, ConnectorFactory, ErrorKind, Settings};
use fixtures::oauth::{OAuthClient, OAuthStats};
use fixtures::{Latency, OrgSpec, SimStats, Simulator};
use okta_connector::OktaConnectorFactory;
use serde_json::{Value, json};

use crate::support::{self, Expected, Run};

const CLIENT_ID: &str = "0oa8f2k1svc";

/// A test key of the connector's unit tests (`src/auth/oauth/testdata`).
fn testdata(name: &str) -> String {
    let path = format!(
        "{}/src/auth/oauth/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A simulator in real time (so `iat` and token lifetimes mean the same on both sides) with
/// one registered service app holding the EC P-256 test key.
async fn oauth_sim(
    org: OrgSpec,
    dpop: bool,
    scopes: &[&str],
    lifetime: Duration,
    latency: Duration,
) -> Arc<Simulator> {
    let mut client = OAuthClient::new(CLIENT_ID, &testdata("ec256.pub.pem")).expect("public key");
    client.dpop = dpop;
    client.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
    support::start(org, move |c| {
        c.time_scale = 1.0;
        c.oauth.clients = vec![client];
        c.oauth.token_lifetime = lifetime;
        c.latency = Latency {
            per_request: latency,
            per_object: Duration::ZERO,
        };
    })
    .await
}

/// Settings for the service app (`auth` adds or overrides AuthJson keys).
fn oauth_settings(sim: &Simulator, config: Value, auth: Value) -> Settings {
    let base = support::settings(sim, config);
    let mut a = json!({
        "Mode": "PrivateKeyJwt",
        "ClientId": CLIENT_ID,
        "PrivateKey": testdata("ec256.pkcs8.pem"),
        "KeyId": "kid-2026-12",
    });
    for (k, v) in auth.as_object().expect("object") {
        a[k] = v.clone();
    }
    Settings::new(base.config, SecretString::from(a.to_string()))
}

fn oauth_connector(sim: &Simulator, config: Value, auth: Value) -> Box<dyn Connector> {
    OktaConnectorFactory
        .create(oauth_settings(sim, config, auth))
        .expect("settings accepted")
}

/// Small pages and few listings in flight, so a run makes many requests over a few seconds.
fn paged() -> Value {
    json!({"PageSize": 4, "GroupPageSize": 2, "MemberPageSize": 4, "MaxConcurrency": 2})
}

/// Every proof the simulator checked was valid but for nonce demands, and every request and
/// token request carried exactly one (no jti replay would pass unnoticed: the simulator
/// refuses replays, which would count as refused proofs).
fn assert_every_proof_valid(stats: &SimStats) {
    let o: &OAuthStats = &stats.oauth;
    assert_eq!(
        o.proofs_refused, o.nonces_demanded,
        "only nonce demands refuse proofs: {o:?}"
    );
    assert_eq!(
        o.proofs_checked,
        stats.requests_total + o.tokens_issued + o.token_requests_refused,
        "one proof per API request and per token request: {stats:?}"
    );
    assert_eq!(
        o.token_requests_refused,
        o.nonces_demanded - resource_nonce_demands(stats),
        "token refusals were nonce demands only: {o:?}"
    );
}

/// Resource requests refused with a nonce demand (401s that are not token refusals).
fn resource_nonce_demands(stats: &SimStats) -> u64 {
    stats.oauth.resource_refused
}

/// No access token (`sim.<43 base64url>`) and no part of the private key in `text`.
fn assert_no_secret(text: &str) {
    let key = testdata("ec256.pkcs8.pem");
    for line in key
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 16)
    {
        assert!(!text.contains(line), "private key material in {text}");
    }
    let mut rest = text;
    while let Some(i) = rest.find("sim.") {
        let tail = &rest[i + 4..];
        let run = tail
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            .count();
        assert!(run < 40, "an access token in {text}");
        rest = tail;
    }
}

/// No key material, no token-shaped string and none of the tokens `sim` issued in the run's
/// log records or error.
fn assert_logs_clean(run: &Run, sim: &Simulator) {
    let tokens = sim.oauth_tokens();
    let mut texts: Vec<String> = run.logs.iter().map(|r| format!("{r:?}")).collect();
    if let Err(e) = &run.result {
        texts.push(format!("{e} {e:?}"));
    }
    for text in &texts {
        assert_no_secret(text);
        for t in &tokens {
            assert!(
                !text.contains(t.as_str()),
                "an issued access token in {text}"
            );
        }
    }
}

#[tokio::test]
async fn full_and_delta_with_dpop_and_two_second_tokens() {
    let sim = oauth_sim(
        OrgSpec::tiny(),
        true,
        &[],
        Duration::from_secs(2),
        Duration::from_millis(250),
    )
    .await;
    let connector = oauth_connector(&sim, paged(), json!({"Dpop": true}));
    let full = support::full(connector.as_ref()).await;
    let expected = Expected::of(&sim);
    assert_eq!(full.upserted("User").len(), expected.users.len());
    assert_eq!(full.upserted("Group").len(), expected.groups.len());
    assert_eq!(full.upserted("GroupMember"), expected.memberships);
    assert_logs_clean(&full, &sim);
    let stats = sim.stats();
    println!(
        "full run: {} requests, oauth {:?}",
        stats.requests_total, stats.oauth
    );
    assert!(
        stats.oauth.tokens_issued >= 3,
        "several refreshes: {:?}",
        stats.oauth
    );
    assert_every_proof_valid(&stats);
    assert!(!stats.responses_by_status.contains_key(&403), "{stats:?}");

    let user = sim.create_user("oauth.delta@example.com");
    let group = sim.everyone_group_id();
    sim.add_member(&group, &user);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    sim.reset_stats();
    let delta = support::delta(connector.as_ref(), &full).await;
    assert!(
        delta.upserted("User").contains(&user),
        "delta sees the new user"
    );
    assert!(
        delta
            .upserted("GroupMember")
            .contains(&format!("{group}:{user}"))
    );
    assert_logs_clean(&delta, &sim);
    let stats = sim.stats();
    println!(
        "delta run: {} requests, oauth {:?}",
        stats.requests_total, stats.oauth
    );
    assert!(
        stats.oauth.tokens_issued >= 1,
        "a fresh token: {:?}",
        stats.oauth
    );
    assert_every_proof_valid(&stats);
}

#[tokio::test]
async fn nonces_are_exchanged_on_the_token_endpoint_and_on_resources() {
    let sim = oauth_sim(
        OrgSpec::tiny(),
        true,
        &[],
        Duration::from_secs(3600),
        Duration::ZERO,
    )
    .await;
    // Absent Dpop: the connector starts with Bearer, learns the app requires DPoP, switches.
    let connector = oauth_connector(&sim, json!({}), json!({}));
    let run = support::full(connector.as_ref()).await;
    let stats = sim.stats();
    let o = &stats.oauth;
    assert_eq!(o.tokens_issued, 1, "{o:?}");
    // invalid_dpop_proof (no proof) once, then use_dpop_nonce once.
    assert_eq!(o.token_requests_refused, 2, "{o:?}");
    assert!(o.nonces_demanded >= 2, "token and resource nonces: {o:?}");
    assert!(o.resource_refused >= 1, "a resource nonce demand: {o:?}");
    assert_eq!(o.proofs_refused, o.nonces_demanded, "{o:?}");
    assert_eq!(
        o.proofs_checked,
        stats.requests_total + 1 + 1,
        "a proof on every API request and on the two token requests that carried one: {stats:?}"
    );
    let notices = run.events("credential_notice");
    assert_eq!(notices.len(), 1, "the DPoP switch is logged once");
    assert!(
        notices[0].message.contains("requires DPoP"),
        "{:?}",
        notices[0]
    );
    assert_logs_clean(&run, &sim);
}

#[tokio::test]
async fn dpop_false_against_an_app_that_requires_it_names_the_setting() {
    let sim = oauth_sim(
        OrgSpec::tiny(),
        true,
        &[],
        Duration::from_secs(60),
        Duration::ZERO,
    )
    .await;
    let connector = oauth_connector(&sim, json!({}), json!({"Dpop": false}));
    let run = support::import(connector.as_ref(), connector_api::ImportRequest::full()).await;
    let err = run.result.as_ref().expect_err("Dpop false cannot work");
    assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
    assert!(
        err.remediation().unwrap_or("").contains("\"Dpop\": false"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_missing_core_scope_fails_the_run_naming_it() {
    let sim = oauth_sim(
        OrgSpec::tiny(),
        false,
        &["okta.groups.read"],
        Duration::from_secs(3600),
        Duration::ZERO,
    )
    .await;
    let connector = oauth_connector(&sim, json!({}), json!({}));
    let run = support::import(connector.as_ref(), connector_api::ImportRequest::full()).await;
    let err = run.result.as_ref().expect_err("users cannot be read");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(err.message().contains("okta.users.read"), "{err}");
    assert!(
        err.remediation()
            .unwrap_or("")
            .contains("Grant okta.users.read"),
        "{err:?}"
    );
    assert_logs_clean(&run, &sim);
    // The token request without the refused scope succeeded; the list met 403.
    let stats = sim.stats();
    assert_eq!(stats.oauth.tokens_issued, 1, "{:?}", stats.oauth);
    assert!(stats.responses_by_status.contains_key(&403), "{stats:?}");
}

#[tokio::test]
async fn a_missing_iga_scope_skips_the_list_naming_it() {
    let granted = [
        "okta.users.read",
        "okta.groups.read",
        "okta.logs.read",
        "okta.governance.collections.read",
    ];
    let sim = oauth_sim(
        OrgSpec::tiny(),
        true,
        &granted,
        Duration::from_secs(3600),
        Duration::ZERO,
    )
    .await;
    let config = json!({"Iga": {"Enabled": true, "ObjectTypes": ["IgaLabel", "IgaCollection"]}});
    let connector = oauth_connector(&sim, config.clone(), json!({"Dpop": true}));
    let run = support::full(connector.as_ref()).await;
    let skipped = &run.outcome().skipped;
    let label = skipped
        .iter()
        .find(|s| s.scope.object_type.as_str() == "IgaLabel")
        .expect("IgaLabel skipped");
    assert!(
        label.reason.contains("okta.governance.labels.read"),
        "{}",
        label.reason
    );
    assert_eq!(label.kind, ErrorKind::PermissionDenied);
    assert!(
        skipped
            .iter()
            .all(|s| s.scope.object_type.as_str() != "IgaCollection"),
        "{skipped:?}"
    );
    assert!(!run.upserted("User").is_empty());
    assert_logs_clean(&run, &sim);

    // `check` names the mode, the granted scopes and the list whose scope is missing.
    let (ctx, _logs) = connector_api::Context::for_tests();
    let report = connector.check(&ctx).await.expect("check passes");
    let text = format!("{:?} {:?}", report.checks, report.warnings);
    assert!(
        text.contains("OAuth 2.0 service app 0oa8f2k1svc, DPoP"),
        "{text}"
    );
    assert!(text.contains("okta.governance.collections.read"), "{text}");
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("IgaLabel") && w.contains("okta.governance.labels.read")),
        "{text}"
    );
}

#[tokio::test]
async fn an_ssws_org_still_works_beside_oauth_apps() {
    let sim = oauth_sim(
        OrgSpec::tiny(),
        true,
        &[],
        Duration::from_secs(2),
        Duration::ZERO,
    )
    .await;
    let run = support::full(support::connector(&sim, json!({})).as_ref()).await;
    assert_eq!(run.upserted("User").len(), Expected::of(&sim).users.len());
    let stats = sim.stats();
    assert_eq!(stats.oauth.tokens_issued, 0);
    assert_eq!(stats.oauth.proofs_checked, 0);
}

#[tokio::test]
async fn a_refused_token_is_renewed_once_and_a_second_refusal_fails_the_run() {
    let sim = oauth_sim(
        OrgSpec::tiny(),
        true,
        &[],
        Duration::from_secs(8),
        Duration::ZERO,
    )
    .await;
    let connector = oauth_connector(&sim, json!({}), json!({"Dpop": true}));
    support::full(connector.as_ref()).await;
    assert_eq!(sim.stats().oauth.tokens_issued, 1);
    // A 401 within a quarter of the lifetime (2 s) of a refresh is taken as answered by that
    // refresh (concurrent requests); after it, the token is renewed. It is still 4 s from
    // its proactive renewal.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    // Every OAuth token is now refused with `invalid_token`: one renewal, then the run fails.
    sim.faults().revoke_token(true);
    sim.reset_stats();
    let run = support::import(connector.as_ref(), connector_api::ImportRequest::full()).await;
    let err = run.result.as_ref().expect_err("the token stays refused");
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(err.message().contains("again after a fresh token"), "{err}");
    let stats = sim.stats();
    assert_eq!(
        stats.oauth.tokens_issued, 1,
        "exactly one renewal: {:?}",
        stats.oauth
    );
    // The users and the groups listings run at once: each is sent, refused, sent once more
    // with the renewed token (one renewal for both), refused again — and no more.
    assert_eq!(stats.unauthorized, stats.requests_total, "{stats:?}");
    for (bucket, n) in &stats.requests_by_bucket {
        assert_eq!(*n, 2, "{bucket}: one retry only: {stats:?}");
    }
    assert_logs_clean(&run, &sim);
}
