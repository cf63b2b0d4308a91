//! Token containment: the API token goes to the configured org origin only — never to a host a
//! `next` link or a redirect names, never in clear text to a remote host, never in a URL — and a
//! canary token shows up in no log line at any level, no error, no panic message, no Debug
//! output and no byte of the SQLite files.
//!
//! A scripted fake Okta (a few lines of HTTP/1.1 on a loopback port) answers with the links
//! and redirects under test, and a second loopback listener plays the foreign host: it records
//! every request that reaches it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use fixtures::{FaultKind, Trigger};
use host::config::ConnectorConfig;
use host::plugin;
use host::runner::{ModeChoice, RunReport};
use host::store::{RunStatus, Store};
use serde_json::{Value, json};

use crate::fast::{fast_extra, fast_simulator, run_alongside, write_config};
use crate::support::{NAME, TOKEN_REF, TOKEN_VAR, host, library, run_host, text, token_chain};

/// One request as a server received it.
#[derive(Debug, Clone)]
struct Seen {
    /// `GET /api/v1/users?… HTTP/1.1`
    line: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn target(&self) -> &str {
        self.line.split(' ').nth(1).unwrap_or_default()
    }
}

/// A status line, extra header lines and a body.
struct Answer {
    status: &'static str,
    headers: Vec<String>,
    body: String,
}

/// A loopback HTTP/1.1 server that records every request and answers with `respond`.
struct Fake {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    fn start(respond: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (log, respond) = (seen.clone(), Arc::new(respond));
        // The thread lives as long as the test binary; each connection gets its own.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, respond) = (log.clone(), respond.clone());
                std::thread::spawn(move || serve(stream, &log, &*respond));
            }
        });
        Fake { port, seen }
    }

    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, log: &Mutex<Vec<Seen>>, respond: &dyn Fn(&Seen) -> Answer) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let seen = Seen {
        line: line.trim_end().to_owned(),
        headers,
    };
    log.lock().unwrap().push(seen.clone());
    let answer = respond(&seen);
    let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT");
    let mut out = format!(
        "HTTP/1.1 {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nDate: {date}\r\n",
        answer.status,
        answer.body.len()
    );
    for h in &answer.headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&answer.body);
    let mut stream = stream;
    let _ = stream.write_all(out.as_bytes());
}

fn user(id: &str) -> Value {
    json!({
        "id": id, "status": "ACTIVE",
        "created": "2024-01-01T00:00:00.000Z", "lastUpdated": "2024-01-02T00:00:00.000Z",
        "profile": {"login": format!("{id}@example.com"), "email": format!("{id}@example.com")}
    })
}

/// A users page holding `ids`, with a `next` link when given.
fn page(ids: &[&str], next: Option<&str>) -> Answer {
    let users: Vec<Value> = ids.iter().map(|id| user(id)).collect();
    Answer {
        status: "200 OK",
        headers: next
            .map(|n| vec![format!("Link: <{n}>; rel=\"next\"")])
            .unwrap_or_default(),
        body: Value::Array(users).to_string(),
    }
}

const TOKEN: &str = "canary-containment-31337";

/// Runs a users-only full import against the fake org at `origin` through the host.
async fn import_from(origin: &str, dir: &Path) -> (RunReport, Store) {
    let config = ConnectorConfig {
        name: NAME.into(),
        library: library(),
        config: json!({
            "OrgDomain": "contoso.okta.com",
            "ApiBaseUrl": origin,
            "ImportGroups": false,
            "ImportMemberships": false,
            "MaxRetries": 0,
        }),
        auth: json!({"Mode": "ApiKey", "ApiKey": TOKEN_REF}),
    };
    let loaded = plugin::load(&config, &token_chain(TOKEN)).expect("loads");
    let mut store = Store::open(&dir.join("mesh.db")).unwrap();
    let report = run_alongside(&mut store, &loaded, ModeChoice::Full, async {}).await;
    (report, store)
}

/// The token went to the fake org only, in the Authorization header only.
fn assert_token_only_in_the_header(seen: &[Seen]) {
    for s in seen {
        assert_eq!(
            s.header("authorization"),
            Some(format!("SSWS {TOKEN}").as_str()),
            "{s:?}"
        );
        assert!(!s.line.contains(TOKEN), "the token is in a URL: {}", s.line);
        for (k, v) in &s.headers {
            assert!(
                k.eq_ignore_ascii_case("authorization") || !v.contains(TOKEN),
                "the token is in header {k}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_links_to_other_origins_are_refused_and_the_foreign_host_gets_nothing() {
    let foreign = Fake::start(|_| page(&["00u9"], None));
    let f = foreign.port;
    let cases = [
        (
            format!("http://127.0.0.1:{f}/api/v1/users?after=00u1&limit=200"),
            "127.0.0.1",
        ),
        (
            format!("//127.0.0.1:{f}/api/v1/users?after=00u1"),
            "127.0.0.1",
        ),
        (
            "https://evil.example.com/api/v1/users?after=00u1".to_owned(),
            "evil.example.com",
        ),
        (
            "https://contoso.okta.com.evil.example.com/api/v1/users?after=00u1".to_owned(),
            "contoso.okta.com.evil.example.com",
        ),
        (
            "https://other-admin.okta.com/api/v1/users?after=00u1".to_owned(),
            "other-admin.okta.com",
        ),
        // The org's own host, but in clear text: refused, not re-homed.
        (
            "http://contoso.okta.com/api/v1/users?after=00u1".to_owned(),
            "contoso.okta.com",
        ),
        // The org's own host with credentials in the URL.
        (
            "https://x:y@contoso.okta.com/api/v1/users?after=00u1".to_owned(),
            "contoso.okta.com",
        ),
    ];
    for (next, host_named) in cases {
        let next_link = next.clone();
        let org = Fake::start(move |_| page(&["00u1"], Some(&next_link)));
        let dir = tempfile::tempdir().unwrap();
        let (report, store) = import_from(&org.origin(), dir.path()).await;
        assert_eq!(report.run.status, RunStatus::Failed, "{next}");
        let error = report.run.error.as_ref().unwrap();
        assert_eq!(error.kind, "protocol", "{next}: {}", error.message);
        assert!(
            error.message.contains(&format!(
                "refused to follow a next link to the foreign host {host_named}"
            )),
            "{next}: {}",
            error.message
        );
        assert_eq!(
            org.seen().len(),
            1,
            "{next}: only the first page was asked for"
        );
        assert_token_only_in_the_header(&org.seen());
        assert!(store.watermark(NAME).unwrap().is_none());
    }
    assert!(
        foreign.seen().is_empty(),
        "the foreign host received requests: {:?}",
        foreign.seen()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_links_to_the_org_and_its_admin_host_are_rehomed_onto_the_configured_origin() {
    let org = Fake::start(|s| {
        let target = s.target();
        if target.contains("after=00u2") {
            page(&["00u3"], None)
        } else if target.contains("after=00u1") {
            page(
                &["00u2"],
                Some("https://contoso.okta.com/api/v1/users?after=00u2&limit=200"),
            )
        } else {
            page(
                &["00u1"],
                Some("https://contoso-admin.okta.com/api/v1/users?after=00u1&limit=200"),
            )
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let (report, store) = import_from(&org.origin(), dir.path()).await;
    assert_eq!(
        report.run.status,
        RunStatus::Succeeded,
        "{:?}",
        report.run.error
    );
    assert_eq!(store.count_by_type(NAME).unwrap()["User"], 3);
    let seen = org.seen();
    let targets: Vec<&str> = seen.iter().map(Seen::target).collect();
    assert_eq!(targets.len(), 3, "{targets:?}");
    assert_eq!(targets[1], "/api/v1/users?after=00u1&limit=200");
    assert_eq!(targets[2], "/api/v1/users?after=00u2&limit=200");
    for s in &seen {
        assert_eq!(
            s.header("host"),
            Some(format!("127.0.0.1:{}", org.port).as_str()),
            "{s:?}"
        );
    }
    assert_token_only_in_the_header(&seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed() {
    let foreign = Fake::start(|_| page(&["00u9"], None));
    let f = foreign.port;
    for status in [
        "301 Moved Permanently",
        "302 Found",
        "307 Temporary Redirect",
        "308 Permanent Redirect",
    ] {
        let location = format!("http://127.0.0.1:{f}/api/v1/users?limit=200");
        let org = Fake::start(move |_| Answer {
            status,
            headers: vec![format!("Location: {location}")],
            body: String::new(),
        });
        let dir = tempfile::tempdir().unwrap();
        let (report, _store) = import_from(&org.origin(), dir.path()).await;
        assert_eq!(report.run.status, RunStatus::Failed, "{status}");
        let error = report.run.error.as_ref().unwrap();
        assert_eq!(error.kind, "protocol", "{status}: {}", error.message);
        assert!(
            error
                .message
                .contains("redirected GET /api/v1/users to 127.0.0.1; redirects are not followed"),
            "{status}: {}",
            error.message
        );
        assert_eq!(org.seen().len(), 1);
        assert_token_only_in_the_header(&org.seen());
    }
    assert!(
        foreign.seen().is_empty(),
        "a redirect carried a request to the foreign host: {:?}",
        foreign.seen()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_is_refused_except_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    for (base, accepted) in [
        ("http://okta.example.com", false),
        ("http://10.0.0.8:8080", false),
        ("http://contoso.okta.com", false),
        ("ftp://contoso.okta.com", false),
        ("http://127.0.0.1:9", true),
        ("http://[::1]:9", true),
        ("http://localhost:9", true),
    ] {
        let config = write_config(
            dir.path(),
            &json!({"OrgDomain": "contoso.okta.com", "ApiBaseUrl": base, "MaxRetries": 0,
                    "RequestTimeoutSeconds": 2}),
            "",
        );
        let mut cmd = host();
        cmd.arg("--config")
            .arg(&config)
            .args(["check", "okta"])
            .env(TOKEN_VAR, TOKEN);
        let out = run_host(cmd).await;
        let shown = text(&out);
        assert!(!shown.contains(TOKEN), "{shown}");
        if accepted {
            // Accepted, then nothing listens on port 9: a connection failure, not a refusal.
            assert_eq!(out.status.code(), Some(4), "{base}: {shown}");
            assert!(shown.contains("connection failed"), "{base}: {shown}");
        } else {
            assert_eq!(out.status.code(), Some(3), "{base}: {shown}");
            assert!(shown.contains("ConfigJson.ApiBaseUrl"), "{base}: {shown}");
            assert!(
                shown.contains("may use plain http only for loopback addresses")
                    || shown.contains("must use https"),
                "{base}: {shown}"
            );
        }
    }
}

fn canary() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("canary-{}-{nanos}", std::process::id())
}

fn assert_absent(haystack: &[u8], needle: &str, what: &str) {
    assert!(
        !haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes()),
        "the canary token appears in {what}"
    );
}

/// The canary through the CLI at trace level (text and JSON logs), on success and on every
/// kind of failure; then the SQLite database, WAL and shared-memory files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_canary_is_in_no_log_output_or_store_byte_on_any_path() {
    let token = canary();
    let sim = fast_simulator(fixtures::OrgSpec::tiny(), &token, |_| {}).await;
    let fake = Fake::start(|_| page(&["00u1"], Some("https://evil.example.com/api/v1/users")));
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::support::connector_json(&sim, fast_extra(&sim, json!({})));
    config["MaxRetries"] = json!(1);
    let sim_toml = write_config(dir.path(), &config, "");
    let fake_dir = tempfile::tempdir().unwrap();
    let fake_toml = write_config(
        fake_dir.path(),
        &json!({"OrgDomain": "contoso.okta.com", "ApiBaseUrl": fake.origin(),
                "ImportGroups": false, "ImportMemberships": false, "MaxRetries": 0}),
        "",
    );
    // A literal token pasted into host.toml: warned about by key, never shown.
    let literal_dir = tempfile::tempdir().unwrap();
    let literal_toml = literal_dir.path().join("host.toml");
    std::fs::write(
        &literal_toml,
        format!(
            "[connectors.okta]\nlibrary = {:?}\nconfig = {{ OrgDomain = \"contoso.okta.com\", ApiBaseUrl = \"{}\", MaxRetries = 0, ImportGroups = false, ImportMemberships = false }}\nauth = {{ Mode = \"ApiKey\", ApiKey = \"{token}\" }}\n",
            library().display().to_string(),
            fake.origin()
        ),
    )
    .unwrap();

    let mut all: Vec<u8> = Vec::new();
    let mut logs_seen: BTreeMap<&str, usize> = BTreeMap::new();
    // (host.toml, arguments, a fault the simulator applies to every matching request, exit code)
    type Step<'a> = (
        &'a Path,
        Vec<&'a str>,
        Option<(FaultKind, &'a str)>,
        Option<i32>,
    );
    let steps: Vec<Step<'_>> = vec![
        (
            &sim_toml,
            vec!["import", "okta", "--mode", "full"],
            None,
            Some(0),
        ),
        (&sim_toml, vec!["import", "okta"], None, Some(0)),
        (&sim_toml, vec!["check", "okta"], None, Some(0)),
        (
            &sim_toml,
            vec!["import", "okta", "--mode", "full"],
            Some((FaultKind::RateLimited, "/api/v1/groups/")),
            Some(4),
        ),
        (
            &sim_toml,
            vec!["import", "okta", "--mode", "full"],
            Some((FaultKind::MalformedJson, "/api/v1/users")),
            Some(4),
        ),
        (
            &sim_toml,
            vec!["import", "okta"],
            Some((FaultKind::DropMidBody, "/api/v1/groups")),
            Some(4),
        ),
        (
            &sim_toml,
            vec!["import", "okta", "--mode", "full"],
            Some((FaultKind::NextForeignHost, "/api/v1/users")),
            Some(4),
        ),
        (
            &sim_toml,
            vec!["import", "okta"],
            Some((FaultKind::Unauthorized, "/api")),
            Some(4),
        ),
        (
            &sim_toml,
            vec!["check", "okta"],
            Some((FaultKind::ServiceUnavailable, "/api")),
            Some(4),
        ),
        (&sim_toml, vec!["runs", "okta", "--id", "4"], None, Some(0)),
        (&sim_toml, vec!["--json", "runs", "okta"], None, Some(0)),
        (
            &sim_toml,
            vec!["objects", "okta", "--format", "jsonl"],
            None,
            Some(0),
        ),
        (&sim_toml, vec!["connectors"], None, Some(0)),
        (&sim_toml, vec!["watermark", "okta"], None, Some(0)),
        (&sim_toml, vec!["secret", "check", TOKEN_REF], None, Some(0)),
        (&fake_toml, vec!["import", "okta"], None, Some(4)),
        (&literal_toml, vec!["import", "okta"], None, Some(4)),
    ];
    for (config, args, fault, code) in steps {
        for format in [&["-vvv"][..], &["-vvv", "--log-json"][..]] {
            sim.faults().clear();
            if let Some((kind, prefix)) = &fault {
                sim.faults().inject(kind.clone(), prefix, Trigger::Always);
            }
            let mut cmd = host();
            cmd.arg("--config")
                .arg(config)
                .args(format)
                .args(&args)
                .env(TOKEN_VAR, &token)
                .env("RUST_LOG", "trace");
            let out = run_host(cmd).await;
            assert_eq!(
                out.status.code(),
                code,
                "{args:?} {format:?}: {}",
                text(&out)
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            for marker in ["DEBUG", "INFO", "WARN", "page_fetched", "retry"] {
                if stderr.contains(marker) {
                    *logs_seen.entry(marker).or_default() += 1;
                }
            }
            all.extend_from_slice(&out.stdout);
            all.extend_from_slice(&out.stderr);
        }
    }
    let shown = String::from_utf8_lossy(&all);
    assert!(
        shown.contains("holds a literal value"),
        "the literal token was warned about"
    );
    assert!(shown.contains("rate_limited") && shown.contains("unauthenticated"));
    for marker in ["DEBUG", "INFO", "WARN", "page_fetched", "retry"] {
        assert!(
            logs_seen.get(marker).copied().unwrap_or(0) > 0,
            "no {marker} in the logs: the check would be vacuous ({logs_seen:?})"
        );
    }
    assert_absent(&all, &token, "the host's output or logs");
    for db in [
        dir.path().join("mesh.db"),
        fake_dir.path().join("mesh.db"),
        literal_dir.path().join("mesh.db"),
    ] {
        let mut checked = 0;
        for suffix in ["", "-wal", "-shm"] {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            if let Ok(bytes) = std::fs::read(&p) {
                assert_absent(&bytes, &token, &format!("{p:?}"));
                checked += 1;
            }
        }
        assert!(checked > 0, "no store at {db:?}");
    }
}

/// The message of the panic `result.expect(…)` raises for an `Err` (what an operator would see
/// if a caller unwrapped it).
fn panic_message<E: std::fmt::Debug>(result: Result<(), E>) -> String {
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        result.expect("loading the connector");
    }))
    .expect_err("expect panics on Err");
    panic
        .downcast_ref::<String>()
        .cloned()
        .expect("a formatted panic message")
}

/// Errors, their Debug forms and the panic messages `unwrap`/`expect` would print carry no
/// part of the canary, wherever it came from (a valid token, a mangled AuthJson, a literal).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_canary_is_in_no_error_debug_output_or_panic_message() {
    let token = canary();
    let sim = fast_simulator(fixtures::OrgSpec::tiny(), &token, |_| {}).await;
    let mut shown: Vec<String> = Vec::new();

    // Load errors for AuthJson values built around the token.
    for auth in [
        json!({"Mode": "ApiKey", "ApiKey": format!("SSWS {token}")}),
        json!({"Mode": token, "ApiKey": "x"}),
        json!({"Mode": "ApiKey", "ApiKey": [token]}),
        json!({"Mode": "ApiKey", "ApiKey": {"nested": token}}),
        json!({"Mode": "ApiKey", "ApiKey": format!("{token} trailing")}),
        json!({"Mode": "ApiKey", "ApiKey": format!("{token}\n")}),
        json!({"Mode": "ApiKey", "ApiKey": TOKEN_REF, &token: true}),
    ] {
        let config = ConnectorConfig {
            name: NAME.into(),
            library: library(),
            config: crate::support::connector_json(&sim, json!({})),
            auth,
        };
        if !config.auth.as_object().unwrap().contains_key(&token) {
            // (Debug lists the AuthJson keys, so a token pasted as a key would show.)
            shown.push(format!("{config:?}"));
        }
        let err = plugin::load(&config, &token_chain(&token)).expect_err("refused");
        assert_eq!(err.exit_code(), host::ExitCode::Config, "{err}");
        shown.push(err.to_string());
        shown.push(format!("{err:?}"));
        let message = panic_message(Err(err));
        assert!(message.contains("loading the connector"), "{message}");
        shown.push(message);
    }

    // A working instance and a failed run: Debug of everything a caller holds.
    let config = ConnectorConfig {
        name: NAME.into(),
        library: library(),
        config: crate::support::connector_json(&sim, fast_extra(&sim, json!({}))),
        auth: json!({"Mode": "ApiKey", "ApiKey": TOKEN_REF}),
    };
    let chain = token_chain(&token);
    shown.push(format!("{chain:?}"));
    let resolved = chain.resolve_json(&config.auth).unwrap();
    shown.push(format!("{resolved:?}"));
    let loaded = plugin::load(&config, &chain).unwrap();
    shown.push(format!("{loaded:?}"));
    sim.faults()
        .inject(FaultKind::Unauthorized, "/api", Trigger::Always);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("mesh.db")).unwrap();
    let report = run_alongside(&mut store, &loaded, ModeChoice::Full, async {}).await;
    assert_eq!(report.run.status, RunStatus::Failed);
    shown.push(format!("{report:?}"));
    shown.push(serde_json::to_string(&report).unwrap());
    let ctx = connector_api::Context::new(
        connector_api::CancellationToken::new(),
        Arc::new(host::logging::ConnectorLogger::new(NAME, None)),
    );
    let err = loaded.connector.check(&ctx).await.unwrap_err();
    shown.push(format!("{err} {err:?}"));
    shown.push(panic_message(Err(err)));

    let half = &token[token.len() / 2..];
    for s in &shown {
        assert!(!s.contains(&token), "the canary leaked: {s}");
        assert!(!s.contains(half), "part of the canary leaked: {s}");
    }
    assert!(shown.len() > 30);
}
