//! Bad input through the command line: each is refused with an error that names the problem
//! (the file, the key, the field, the value that is wrong — never a secret) and the documented
//! exit code. Nothing here contacts Okta: the connector validates its settings when it is
//! created.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use fixtures::OrgSpec;
use host::store::Store;
use serde_json::{Value, json};

use crate::fast::{peek, stored_keys, write_config};
use crate::support::{
    NAME, TOKEN_REF, TOKEN_VAR, connector_json, host, library, run_host, simulator, text,
};

const TOKEN: &str = "bad-input-token-27182";

/// Runs `host --config <config> <args…>` with the token in the environment.
async fn cli(config: &Path, args: &[&str]) -> Output {
    let mut cmd = host();
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env(TOKEN_VAR, TOKEN);
    let out = run_host(cmd).await;
    assert!(!text(&out).contains(TOKEN), "the token was shown");
    out
}

fn assert_refused(out: &Output, code: i32, expected: &[&str], what: &str) {
    let shown = text(out);
    assert_eq!(out.status.code(), Some(code), "{what}: {shown}");
    for e in expected {
        assert!(shown.contains(e), "{what}: expected {e:?} in:\n{shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_host_toml_names_the_file_the_key_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("host.toml");
    let lib = format!("{:?}", library().display().to_string());
    let cases = [
        ("store = \n", vec!["not valid TOML (line 1)"]),
        (
            "[connectors.okta]\nlibrary = 3\n",
            vec![
                "connectors.okta.library: invalid type: integer `3`",
                "(line 2)",
            ],
        ),
        ("stor = \"x.db\"\n", vec!["unknown field `stor`"]),
        (
            &format!("[connectors.okta]\nlibary = {lib}\n"),
            vec!["unknown field `libary`"],
        ),
        (
            "[guard]\nmax_delete_share = 20\n",
            vec![
                "guard.max_delete_share: expected a share between 0 and 1",
                "found 20",
            ],
        ),
        (
            "[guard]\nmax_delete_share = \"20%\"\n",
            vec!["guard.max_delete_share: invalid type: string \"20%\""],
        ),
        (
            "[secrets]\nbackends = [\"vault\"]\n",
            vec!["secrets.backends[0]: unknown variant `vault`"],
        ),
        (
            "[secrets]\nbackends = [\"env\", \"env\"]\n",
            vec!["secrets.backends: `env` is listed twice"],
        ),
        (
            &format!(
                "[connectors.okta]\nlibrary = {lib}\nconfig = \"OrgDomain=contoso.okta.com\"\n"
            ),
            vec!["connectors.okta.config: invalid type: string"],
        ),
        (
            &format!(
                "[connectors.okta]\nlibrary = {lib}\nconfig = {{}}\nconfig_file = \"c.json\"\n"
            ),
            vec!["connectors.okta.config: set either `config` (inline) or `config_file`"],
        ),
        (
            &format!("[connectors.okta]\nlibrary = {lib}\nconfig_file = \"missing.json\"\n"),
            vec!["connectors.okta.config: cannot read", "missing.json"],
        ),
        (
            &format!("[connectors.okta]\nlibrary = {lib}\nconfig_file = \"array.json\"\n"),
            vec!["array.json must hold a JSON object"],
        ),
        (
            &format!("[connectors.okta]\nlibrary = {lib}\nauth_file = \"broken.json\"\n"),
            vec![
                "connectors.okta.auth:",
                "broken.json is not valid JSON (line 1",
            ],
        ),
        (
            &format!("[connectors.\"okta prod\"]\nlibrary = {lib}\n"),
            vec!["connector names may only contain ASCII letters, digits, `-` and `_`"],
        ),
    ];
    std::fs::write(dir.path().join("array.json"), "[1, 2]").unwrap();
    std::fs::write(dir.path().join("broken.json"), "{\"ApiKey\": ").unwrap();
    for (toml, expected) in cases {
        std::fs::write(&path, toml).unwrap();
        let out = cli(&path, &["check", "okta"]).await;
        let mut want = vec![path.to_str().unwrap()];
        want.extend(expected);
        assert_refused(&out, 3, &want, toml);
    }
    // An explicit --config that does not exist.
    let out = cli(&dir.path().join("nope.toml"), &["runs", "okta"]).await;
    assert_refused(
        &out,
        3,
        &["cannot read configuration", "nope.toml"],
        "missing",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_json_names_the_field_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let base = json!({"OrgDomain": "contoso.okta.com"});
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"PageSize": "big"}),
            vec!["ConfigJson at `PageSize`: invalid type: string \"big\""],
        ),
        (json!({"PageSize": 2.5}), vec!["ConfigJson at `PageSize`"]),
        (
            json!({"ImportUsers": "yes"}),
            vec!["ConfigJson at `ImportUsers`"],
        ),
        (json!({"PageSise": 10}), vec!["unknown field `PageSise`"]),
        (
            json!({"PageSize": 0}),
            vec!["ConfigJson.PageSize must be between 1 and 200", "got 0"],
        ),
        (
            json!({"PageSize": 500}),
            vec!["ConfigJson.PageSize must be between 1 and 200", "got 500"],
        ),
        (
            json!({"MemberPageSize": 5000}),
            vec!["ConfigJson.MemberPageSize must be between 1 and 1000"],
        ),
        (
            json!({"GroupPageSize": 20000}),
            vec!["ConfigJson.GroupPageSize must be between 1 and 10000"],
        ),
        (
            json!({"MaxRetries": 50}),
            vec!["ConfigJson.MaxRetries must be between 0 and 20"],
        ),
        (
            json!({"MaxConcurrency": 0}),
            vec!["ConfigJson.MaxConcurrency must be between 1 and 64"],
        ),
        (
            json!({"RequestTimeoutSeconds": 0}),
            vec!["ConfigJson.RequestTimeoutSeconds must be between 1 and 600"],
        ),
        (
            json!({"RateLimitShare": 1.5}),
            vec!["ConfigJson.RateLimitShare must be greater than 0 and at most 1"],
        ),
        (
            json!({"SimulatorTimeScale": 100.0}),
            vec!["ConfigJson.SimulatorTimeScale is only for the Okta simulator"],
        ),
        (
            json!({"ExternalIdAttribute": "email"}),
            vec!["ConfigJson at `ExternalIdAttribute`"],
        ),
        (
            json!({"ImportUsers": false, "ImportGroups": false, "ImportMemberships": false}),
            vec!["nothing to import"],
        ),
        (
            json!({"OrgDomain": "https://contoso.okta.com"}),
            vec!["ConfigJson.OrgDomain", "remove the scheme"],
        ),
        (
            json!({"OrgDomain": "contoso.okta.com/api/v1"}),
            vec!["ConfigJson.OrgDomain", "remove the path"],
        ),
        (
            json!({"OrgDomain": "admin:pw@contoso.okta.com"}),
            vec!["ConfigJson.OrgDomain must not contain credentials"],
        ),
        (
            json!({"OrgDomain": "contoso.okta.com:8443"}),
            vec!["ConfigJson.OrgDomain must not contain a port"],
        ),
        (
            json!({"OrgDomain": "contoso-admin.okta.com"}),
            vec!["is the Admin Console host; use the org host contoso.okta.com"],
        ),
        (
            json!({"OrgDomain": "contoso"}),
            vec!["\"contoso\" is not a valid host name"],
        ),
        (
            json!({"OrgDomain": ""}),
            vec!["ConfigJson.OrgDomain is empty"],
        ),
        (json!({"OrgDomain": 42}), vec!["ConfigJson at `OrgDomain`"]),
        (
            json!({"ApiBaseUrl": "https://proxy.example.com/okta"}),
            vec!["ConfigJson.ApiBaseUrl must be an origin only"],
        ),
        (
            json!({"ApiBaseUrl": "https://user:pw@proxy.example.com"}),
            vec!["ConfigJson.ApiBaseUrl must not contain credentials"],
        ),
        (
            json!({"UserSearchFilter": "status eq \"ACTIVE\"\nor true"}),
            vec!["ConfigJson.UserSearchFilter contains control characters"],
        ),
    ];
    for (patch, expected) in cases {
        let mut config = base.clone();
        config
            .as_object_mut()
            .unwrap()
            .extend(patch.as_object().unwrap().clone());
        let path = write_config(dir.path(), &config, "");
        let out = cli(&path, &["check", "okta"]).await;
        let mut want = vec!["connector `okta`", "(invalid_config)"];
        want.extend(expected);
        assert_refused(&out, 3, &want, &patch.to_string());
    }
    // No OrgDomain at all.
    let path = write_config(dir.path(), &json!({"PageSize": 10}), "");
    let out = cli(&path, &["check", "okta"]).await;
    assert_refused(&out, 3, &["missing field `OrgDomain`"], "no OrgDomain");
}

/// Writes a host.toml whose connector has `auth` as its AuthJson (TOML inline table text).
fn config_with_auth(dir: &Path, auth: &str, secrets: &str) -> PathBuf {
    let path = dir.join("host.toml");
    std::fs::write(
        &path,
        format!(
            "{secrets}\n[connectors.okta]\nlibrary = {:?}\nconfig = {{ OrgDomain = \"contoso.okta.com\" }}\nauth = {auth}\n",
            library().display().to_string()
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_auth_json_is_refused_without_quoting_values() {
    let dir = tempfile::tempdir().unwrap();
    let r = TOKEN_REF;
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            "{ Mode = \"ApiKey\", ApiKey = 5 }".into(),
            vec!["AuthJson.ApiKey must be a string"],
        ),
        (
            format!("{{ Mode = \"ApiKey\", ApiKey = \"{r}\", Extra = \"{r}\" }}"),
            vec![
                "AuthJson has an unknown field; the allowed fields are Mode, ApiKey, ClientId, PrivateKey, KeyId, Scopes and Dpop",
            ],
        ),
        (
            format!("{{ Mode = \"Basic\", ApiKey = \"{r}\" }}"),
            vec!["AuthJson.Mode must be \"ApiKey\" or \"PrivateKeyJwt\""],
        ),
        (
            // The token is no private key: refused naming PrivateKey, never quoting it.
            format!(
                "{{ Mode = \"PrivateKeyJwt\", ClientId = \"0oa1\", KeyId = \"k1\", PrivateKey = \"{r}\" }}"
            ),
            vec!["PrivateKey"],
        ),
        (
            format!("{{ Mode = \"PrivateKeyJwt\", ClientId = \"0oa1\", ApiKey = \"{r}\" }}"),
            vec!["AuthJson.ApiKey does not apply to Mode \"PrivateKeyJwt\""],
        ),
        (
            "{ Mode = \"ApiKey\" }".into(),
            vec!["AuthJson: missing field `ApiKey`"],
        ),
        (
            format!("{{ ApiKey = \"{r}\" }}"),
            vec!["AuthJson: missing field `Mode`"],
        ),
        (
            "{ Mode = \"ApiKey\", ApiKey = \"\" }".into(),
            vec!["AuthJson: the API token is empty"],
        ),
        (
            "{ Mode = \"ApiKey\", ApiKey = [\"secret://e2e/okta/token\"] }".into(),
            vec!["AuthJson.ApiKey must be a string"],
        ),
    ];
    for (auth, expected) in cases {
        let path = config_with_auth(dir.path(), &auth, "");
        let out = cli(&path, &["check", "okta"]).await;
        let mut want = vec!["connector `okta`", "(invalid_config)"];
        want.extend(expected);
        assert_refused(&out, 3, &want, &auth);
    }

    // The resolved value is wrong: the messages describe it without showing it.
    for (value, expected) in [
        (format!("SSWS {TOKEN}"), "without the \"SSWS \" prefix"),
        (format!("{TOKEN} {TOKEN}"), "contains spaces, line breaks"),
        // A multi-byte character across the first five bytes once panicked in the connector.
        (format!("abcd\u{e9}{TOKEN}"), "non-ASCII characters"),
        (
            "secret://still/a/reference".to_owned(),
            "unresolved secret reference",
        ),
    ] {
        let path = config_with_auth(
            dir.path(),
            &format!("{{ Mode = \"ApiKey\", ApiKey = \"{r}\" }}"),
            "",
        );
        let mut cmd = host();
        cmd.arg("--config")
            .arg(&path)
            .args(["check", "okta"])
            .env(TOKEN_VAR, &value);
        let out = run_host(cmd).await;
        assert_refused(&out, 3, &["(invalid_config)", expected], expected);
        assert!(!text(&out).contains(TOKEN), "{}", text(&out));
    }

    // References that are malformed or resolve nowhere.
    for (reference, expected) in [
        ("secret://okta/../token", "`.` and `..` are not allowed"),
        ("secret://okta//token", "empty path segment"),
        ("secret://", "names nothing after secret://"),
    ] {
        let path = config_with_auth(
            dir.path(),
            &format!("{{ Mode = \"ApiKey\", ApiKey = \"{reference}\" }}"),
            "",
        );
        let out = cli(&path, &["check", "okta"]).await;
        assert_refused(&out, 3, &[expected], reference);
    }
    let path = config_with_auth(
        dir.path(),
        "{ Mode = \"ApiKey\", ApiKey = \"secret://nowhere/token\" }",
        "[secrets]\nbackends = [\"env\", \"file\"]\n",
    );
    let out = cli(&path, &["check", "okta"]).await;
    assert_refused(
        &out,
        3,
        &[
            "secret secret://nowhere/token could not be resolved",
            "env (SECRET_NOWHERE_TOKEN is not set)",
            "file (",
        ],
        "unresolvable",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_files_others_can_read_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_with_auth(
        dir.path(),
        &format!("{{ Mode = \"ApiKey\", ApiKey = \"{TOKEN_REF}\" }}"),
        "[secrets]\nbackends = [\"file\"]\n",
    );
    let file = dir.path().join("secrets/e2e/okta/token");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, TOKEN).unwrap();
    for mode in [0o644, 0o604, 0o640, 0o660, 0o601] {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = cli(&path, &["check", "okta"]).await;
        assert_refused(
            &out,
            3,
            &[file.to_str().unwrap(), "chmod 600"],
            &format!("{mode:o}"),
        );
    }
    // A directory where the file should be.
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let out = cli(&path, &["check", "okta"]).await;
    assert_refused(&out, 3, &["is not a file"], "a directory");
}

/// Compiles a C shared library exporting `body`; `None` (printed) without a C compiler.
#[allow(clippy::print_stdout)]
fn c_library(dir: &Path, name: &str, body: &str) -> Option<PathBuf> {
    let src = dir.join(format!("{name}.c"));
    let lib = dir.join(format!("lib{name}.so"));
    std::fs::write(&src, body).unwrap();
    match std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(lib)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("SKIPPED the {name} library case: no C compiler (cc)");
            None
        }
        Err(e) => panic!("running cc: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libraries_that_are_not_connectors_or_speak_another_abi_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let libc = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| {
            Path::new(p)
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libc.so"))
        })
        .expect("libc is mapped")
        .to_owned();
    std::fs::write(dir.path().join("notes.so"), "not a shared object").unwrap();
    let mut cases: Vec<(String, Vec<String>)> = vec![
        (
            libc.clone(),
            vec![
                format!("{libc} is not a connector plug-in"),
                "connector_abi_version".into(),
            ],
        ),
        (
            dir.path().join("notes.so").display().to_string(),
            vec!["notes.so".into(), "could not be loaded".into()],
        ),
        (
            dir.path().join("absent.so").display().to_string(),
            vec!["absent.so does not exist".into()],
        ),
    ];
    if let Some(lib) = c_library(
        dir.path(),
        "abi_two",
        "unsigned int connector_abi_version(void) { return 2; }\n",
    ) {
        cases.push((
            lib.display().to_string(),
            vec!["implements connector ABI version 2, but this host supports ABI version 1".into()],
        ));
    }
    if let Some(lib) = c_library(
        dir.path(),
        "abi_one_only",
        "unsigned int connector_abi_version(void) { return 1; }\n",
    ) {
        cases.push((
            lib.display().to_string(),
            vec!["is not a connector plug-in".into(), "connector_".into()],
        ));
    }
    for (library, expected) in cases {
        let path = dir.path().join("host.toml");
        std::fs::write(
            &path,
            format!(
                "[connectors.okta]\nlibrary = {library:?}\nconfig = {{ OrgDomain = \"contoso.okta.com\" }}\nauth = {{ Mode = \"ApiKey\", ApiKey = \"{TOKEN_REF}\" }}\n"
            ),
        )
        .unwrap();
        for args in [&["check", "okta"][..], &["import", "okta"][..]] {
            let out = cli(&path, args).await;
            let mut want = vec!["connector `okta`"];
            want.extend(expected.iter().map(String::as_str));
            assert_refused(&out, 3, &want, &library);
        }
    }
}

/// Invalid watermarks: refused when an operator sets one, and a stored one that is corrupted
/// (or ahead of Okta's clock) fails the delta run with the fix, keeping store and watermark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_watermarks_are_refused_with_the_fix() {
    let sim = simulator(OrgSpec::tiny(), TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &connector_json(&sim, json!({})), "");
    let db = dir.path().join("mesh.db");
    let out = cli(&config, &["import", "okta", "--mode", "full"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let store = Store::open_existing(&db).unwrap();
    let good = store.watermark(NAME).unwrap().unwrap();
    let objects = stored_keys(&store);
    drop(store);

    for (value, expected) in [
        ("not a watermark", "is not valid"),
        ("", "is not valid"),
        ("{\"u\":\"yesterday\"}", "is not valid at `u`"),
        ("{\"u\":5}", "is not valid at `u`"),
        (
            "{\"u\":\"2026-01-01T00:00:00.000Z\",\"x\":\"2026-01-01T00:00:00.000Z\"}",
            "unknown field `x`",
        ),
        (
            "{\"u\":\"2026-01-01T00:00:00.000Z\"} {}",
            "has trailing text",
        ),
        (
            "{\"g\":\"2026-01-01T00:00:00.000Z\"}",
            "has no \"u\" (users) timestamp",
        ),
    ] {
        let out = cli(&config, &["watermark", "okta", "--set", value]).await;
        assert_refused(
            &out,
            2,
            &["(invalid_watermark)", expected, "Run a full import"],
            value,
        );
        let store = Store::open_existing(&db).unwrap();
        assert_eq!(
            store.watermark(NAME).unwrap().as_ref(),
            Some(&good),
            "{value}"
        );
    }

    // A stored watermark corrupted behind the host's back, or ahead of Okta's clock.
    for (stored, expected) in [
        (
            "{\"u\":\"2026-13-45T99:00:00.000Z\",\"g\":\"x\"}",
            "is not valid at `u`",
        ),
        ("{\"u\":", "is not valid"),
        (
            "{\"u\":\"2999-01-01T00:00:00.000Z\",\"g\":\"2999-01-01T00:00:00.000Z\"}",
            "is later than Okta's current time",
        ),
    ] {
        peek(&db)
            .execute(
                "UPDATE watermarks SET value = ?1 WHERE connector = ?2",
                [stored, NAME],
            )
            .unwrap();
        let out = cli(&config, &["--json", "import", "okta"]).await;
        assert_eq!(out.status.code(), Some(4), "{stored}: {}", text(&out));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["run"]["mode"], "delta");
        assert_eq!(report["run"]["status"], "failed");
        assert_eq!(report["run"]["error"]["kind"], "invalid_watermark");
        let message = report["run"]["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{stored}: {message}");
        assert!(message.contains("Run a full import"), "{stored}: {message}");
        let store = Store::open_existing(&db).unwrap();
        assert_eq!(store.watermark(NAME).unwrap().unwrap().value, stored);
        assert_eq!(stored_keys(&store), objects, "{stored}: nothing deleted");
    }

    // The remedy the message gives works.
    let out = cli(&config, &["--json", "import", "okta", "--mode", "full"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let store = Store::open_existing(&db).unwrap();
    let w = store.watermark(NAME).unwrap().unwrap();
    assert!(
        w.value.starts_with("{\"u\":\"") && w.run_id.is_some(),
        "{w:?}"
    );
}
