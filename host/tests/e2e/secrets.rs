//! Secrets resolve from systemd credentials, the environment, files and the kernel keyring —
//! through the CLI too.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use fixtures::OrgSpec;
use host::plugin;
use host::runner::ModeChoice;
use host::secrets::file::FileBackend;
use host::secrets::keyring::KeyringBackend;
use host::secrets::{Backend, SecretChain, SecretError, SecretRef};
use host::store::RunStatus;
use secrecy::SecretString;
use serde_json::json;

use crate::support::{
    Harness, TOKEN_REF, TOKEN_VAR, connector_config, host, run_host, simulator, text,
    write_host_toml,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_secret_resolves_through_the_cli_and_a_missing_one_names_what_was_tried() {
    let token = "env-token-4711";
    let sim = simulator(OrgSpec::tiny(), token).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_host_toml(
        dir.path(),
        &sim,
        "[secrets]\nbackends = [\"env\", \"file\"]\n",
    );

    let mut cmd = host();
    cmd.arg("--config")
        .arg(&config)
        .args(["import", "okta", "--mode", "full"])
        .env(TOKEN_VAR, token);
    let out = run_host(cmd).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("succeeded"), "{}", text(&out));

    let mut cmd = host();
    cmd.arg("--config").arg(&config).args(["import", "okta"]);
    let out = run_host(cmd).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("secret {TOKEN_REF} could not be resolved")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("env ({TOKEN_VAR} is not set)")),
        "{stderr}"
    );
    assert!(stderr.contains("file ("), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_secret_resolves_and_a_group_readable_file_is_refused() {
    let token = "file-token-0815";
    let mut h = Harness::with(OrgSpec::tiny(), token, json!({})).await;
    let files = FileBackend::new(h.dir.path().join("secrets"));
    let reference = SecretRef::parse(TOKEN_REF).unwrap();
    files
        .store(&reference, &SecretString::from(token.to_owned()))
        .unwrap();
    let chain = SecretChain::new(vec![Box::new(files.clone())]);
    let config = connector_config(&h.sim, json!({}));

    h.loaded = plugin::load(&config, &chain).expect("resolves from the file");
    let report = h.run(ModeChoice::Full).await;
    assert_eq!(
        report.run.status,
        RunStatus::Succeeded,
        "{:?}",
        report.run.error
    );

    let path = files.path_of(&reference);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = plugin::load(&config, &chain).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, host::HostError::Secret(SecretError::Refused { .. })),
        "{message}"
    );
    assert!(message.contains("chmod 600"), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(!message.contains(token), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_set_reads_stdin_and_secret_check_never_prints_the_value() {
    let value = "stdin-secret-2718";
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("host.toml");
    std::fs::write(&config, "[secrets]\nbackends = [\"env\", \"file\"]\n").unwrap();

    let mut cmd = host();
    cmd.arg("--config")
        .arg(&config)
        .args([
            "secret",
            "set",
            "secret://e2e/stdin/token",
            "--backend",
            "file",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{value}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(value));
    let file = dir.path().join("secrets/e2e/stdin/token");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        value,
        "one line break dropped"
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let mut cmd = host();
    cmd.arg("--config")
        .arg(&config)
        .args(["secret", "check", "secret://e2e/stdin/token"]);
    let out = run_host(cmd).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("resolves from file"), "{}", text(&out));
    assert!(!text(&out).contains(value));

    // A value on the command line is not an option.
    let mut cmd = host();
    cmd.args(["secret", "set", "secret://e2e/x", value]);
    let out = run_host(cmd).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stderr)]
async fn keyring_secret_resolves_in_process_and_through_the_cli() {
    let service = format!("identity-connectors-e2e-{}", std::process::id());
    let keyring = KeyringBackend::new(service.clone());
    if let Err(reason) = keyring.probe() {
        eprintln!(
            "SKIPPED keyring_secret_resolves_in_process_and_through_the_cli: the kernel keyring \
             is unavailable here: {reason}. CI provides one by running the tests under \
             `keyctl session - …` (Debian package keyutils)"
        );
        return;
    }
    let token = "keyring-token-1618";
    let mut h = Harness::with(OrgSpec::tiny(), token, json!({})).await;
    let reference = SecretRef::parse(TOKEN_REF).unwrap();
    keyring
        .store(&reference, &SecretString::from(token.to_owned()))
        .expect("stores in the session keyring");

    let chain = SecretChain::new(vec![Box::new(KeyringBackend::new(service.clone()))]);
    h.loaded = plugin::load(&connector_config(&h.sim, json!({})), &chain)
        .expect("resolves from the keyring");
    let report = h.run(ModeChoice::Full).await;
    assert_eq!(
        report.run.status,
        RunStatus::Succeeded,
        "{:?}",
        report.run.error
    );

    // The CLI (a child process in the same session keyring) resolves it too.
    let config = write_host_toml(
        h.dir.path(),
        &h.sim,
        &format!("[secrets]\nbackends = [\"keyring\"]\nkeyring_service = \"{service}\"\n"),
    );
    let mut cmd = host();
    cmd.arg("--config")
        .arg(&config)
        .args(["secret", "check", TOKEN_REF]);
    let out = run_host(cmd).await;
    keyring.delete(&reference).unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("resolves from keyring"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains(token));
}

/// A service's `$CREDENTIALS_DIRECTORY` comes first in the default chain: the child host imports
/// with the token from the credential `e2e.okta.token`, ahead of a wrong one in the environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_credential_resolves_first_in_the_default_chain() {
    let token = "credential-token-1414";
    let sim = simulator(OrgSpec::tiny(), token).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_host_toml(dir.path(), &sim, "");
    let creds = dir.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    let file = creds.join("e2e.okta.token");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o400)).unwrap();

    let mut cmd = host();
    cmd.arg("--config")
        .arg(&config)
        .args(["import", "okta", "--mode", "full"])
        .env("CREDENTIALS_DIRECTORY", &creds)
        .env(TOKEN_VAR, "wrong-env-token");
    let out = run_host(cmd).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("succeeded"), "{}", text(&out));

    let mut cmd = host();
    cmd.arg("--config")
        .arg(&config)
        .args(["secret", "check", TOKEN_REF])
        .env("CREDENTIALS_DIRECTORY", &creds);
    let out = run_host(cmd).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "resolves from systemd (systemd credential e2e.okta.token ({}))",
            file.display()
        )),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains(token));

    // Outside a service the backend is skipped, and the error says why.
    let mut cmd = host();
    cmd.arg("--config").arg(&config).args(["import", "okta"]);
    let out = run_host(cmd).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tried systemd ($CREDENTIALS_DIRECTORY is not set"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("env ({TOKEN_VAR} is not set)")),
        "{stderr}"
    );
}
