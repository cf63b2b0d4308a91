//! OAuth 2.0 service-app authentication through the host binary (the "Must show"):
//! `host secret set` stores a multi-line PEM from stdin, `host import okta` with
//! `auth = { Mode = "PrivateKeyJwt", ClientId, PrivateKey = "secret://…", KeyId }` imports
//! the whole org from a simulator that requires DPoP and issues tokens lasting 2 seconds, with
//! every assertion and proof valid; `host check okta` reports the mode and the scopes; and
//! neither the private key nor any access token appears in any log line (trace, text and
//! JSON), error, the store or its WAL.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use fixtures::oauth::OAuthClient;
use fixtures::{Latency, OrgSpec, SimConfig, Simulator};
use host::store::Store;

use crate::fast::{org_keys, stored_objects};
use crate::support::{NAME, host, library, run_host, text};

const CLIENT_ID: &str = "0oa8f2k1host";
const KEY_REF: &str = "secret://e2e/okta/service-key";

fn testdata(name: &str) -> String {
    let path = format!(
        "{}/../okta-connector/src/auth/oauth/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A real-time simulator with one DPoP service app (RSA key) and 2-second tokens; each API
/// answer takes 200 ms so that a whole import outlives several tokens.
async fn dpop_simulator() -> Simulator {
    let mut client = OAuthClient::new(CLIENT_ID, &testdata("rsa2048.pub.pem")).expect("public key");
    client.dpop = true;
    let mut cfg = SimConfig::new(OrgSpec::tiny());
    cfg.token = "ssws-unused-in-this-test".to_owned();
    cfg.oauth.clients = vec![client];
    cfg.oauth.token_lifetime = Duration::from_secs(2);
    cfg.latency = Latency {
        per_request: Duration::from_millis(200),
        per_object: Duration::ZERO,
    };
    Simulator::start(cfg).await.expect("simulator starts")
}

/// `host secret set KEY_REF --backend file` with `value` on stdin.
fn secret_set(config: &Path, value: &str) {
    let mut cmd = host();
    cmd.arg("--config")
        .arg(config)
        .args(["secret", "set", KEY_REF, "--backend", "file"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(value.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// host.toml: the file backend only, the service app's auth with literal ClientId and KeyId.
fn write_config(dir: &Path, sim: &Simulator) -> std::path::PathBuf {
    let config = format!(
        "OrgDomain = \"{}\", ApiBaseUrl = \"{}\", PageSize = 4, GroupPageSize = 2, MemberPageSize = 4, MaxConcurrency = 2",
        sim.org_domain(),
        sim.base_url()
    );
    let text = format!(
        "store = \"mesh.db\"\n[secrets]\nbackends = [\"file\"]\n[connectors.{NAME}]\nlibrary = {:?}\nconfig = {{ {config} }}\n\
         auth = {{ Mode = \"PrivateKeyJwt\", ClientId = \"{CLIENT_ID}\", PrivateKey = \"{KEY_REF}\", KeyId = \"kid-2026-12\" }}\n",
        library().display().to_string(),
    );
    let path = dir.join("host.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// No line of the private key and no access token (`sim.` + 43 base64url) in `bytes`.
fn assert_no_secret(bytes: &[u8], what: &str) {
    let shown = String::from_utf8_lossy(bytes);
    for line in testdata("rsa2048.pkcs8.pem")
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 16)
    {
        assert!(!shown.contains(line), "private key material in {what}");
    }
    let mut rest: &str = &shown;
    while let Some(i) = rest.find("sim.") {
        let tail = &rest[i + 4..];
        let run = tail
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            .count();
        assert!(run < 40, "an access token in {what}");
        rest = tail;
    }
}

// Prints the figures of the full import (run with `--nocapture` to see them).
#[allow(clippy::print_stdout)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_imports_a_whole_org_through_a_dpop_service_app_with_short_tokens() {
    let sim = dpop_simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim);
    // A multi-line PEM on stdin, stored as is (the last line break dropped).
    secret_set(&config, &testdata("rsa2048.pkcs8.pem"));

    let mut all: Vec<u8> = Vec::new();
    let steps: [&[&str]; 4] = [
        &["-vvv", "import", "okta", "--mode", "full"],
        &["-vvv", "--log-json", "import", "okta"],
        &["-vvv", "check", "okta"],
        &["-vvv", "--log-json", "--json", "check", "okta"],
    ];
    let mut outputs = Vec::new();
    for args in steps {
        if args.contains(&"import") && args.contains(&"full") {
            sim.reset_stats();
        }
        let mut cmd = host();
        cmd.arg("--config")
            .arg(&config)
            .args(args)
            .env("RUST_LOG", "trace");
        let out = run_host(cmd).await;
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        all.extend_from_slice(&out.stdout);
        all.extend_from_slice(&out.stderr);
        outputs.push(text(&out));
        if args.contains(&"full") {
            let stats = sim.stats();
            let o = &stats.oauth;
            println!(
                "full import: {} API requests, {} tokens issued, {} token requests refused, {} proofs checked, {} refused (all nonce demands: {})",
                stats.requests_total,
                o.tokens_issued,
                o.token_requests_refused,
                o.proofs_checked,
                o.proofs_refused,
                o.nonces_demanded
            );
            assert!(o.tokens_issued > 1, "tokens were refreshed: {o:?}");
            assert_eq!(
                o.proofs_refused, o.nonces_demanded,
                "only nonce demands: {o:?}"
            );
            // Dpop is not set: the first token request goes without a proof and is told the
            // app requires DPoP (the one refusal that is not a nonce demand).
            const SWITCH: u64 = 1;
            assert_eq!(
                o.token_requests_refused + o.resource_refused,
                o.nonces_demanded + SWITCH,
                "every other refusal was a nonce demand: {o:?}"
            );
            assert_eq!(
                o.proofs_checked,
                stats.requests_total + o.tokens_issued + o.token_requests_refused - SWITCH,
                "one valid proof per API request and per token request: {stats:?}"
            );
            assert_eq!(stats.responses_by_status.get(&403), None, "{stats:?}");
        }
    }
    let shown = String::from_utf8_lossy(&all);
    assert!(
        !shown.contains("holds a literal value"),
        "ClientId and KeyId are identifiers, not secrets: {shown}"
    );
    assert!(
        shown.contains("DEBUG") && shown.contains("page_fetched"),
        "verbose logs were on"
    );
    assert_eq!(
        outputs[0].matches("requires DPoP").count(),
        1,
        "the DPoP switch is logged once: {}",
        outputs[0]
    );
    let check = &outputs[2];
    assert!(
        check.contains(&format!("OAuth 2.0 service app {CLIENT_ID}, DPoP")),
        "{check}"
    );
    assert!(
        check.contains("okta.users.read okta.groups.read"),
        "{check}"
    );

    let store = Store::open(&dir.path().join("mesh.db")).unwrap();
    let stored: std::collections::BTreeSet<_> = stored_objects(&store).into_keys().collect();
    assert_eq!(stored, org_keys(&sim), "the whole org is stored");
    drop(store);
    let tokens = sim.oauth_tokens();
    assert!(tokens.len() > 1, "tokens were issued: {}", tokens.len());
    let mut places = vec![("the host's output and logs".to_owned(), all.clone())];
    for suffix in ["", "-wal", "-shm"] {
        let path = dir.path().join(format!("mesh.db{suffix}"));
        if let Ok(bytes) = std::fs::read(&path) {
            places.push((format!("{path:?}"), bytes));
        }
    }
    let checked = places.len() - 1;
    for (what, bytes) in &places {
        assert_no_secret(bytes, what);
        let shown = String::from_utf8_lossy(bytes);
        for t in &tokens {
            assert!(
                !shown.contains(t.as_str()),
                "an issued access token in {what}"
            );
        }
    }
    assert!(checked > 0, "no store files");
}
