//! The peers: Python tools, each in a virtual environment the harness creates itself
//! (`bench/.venv-<peer>`, pinned in `bench/peers/<peer>.txt`; one per peer because their
//! dependencies conflict), each driven by a small script in `bench/peers/` that points the tool
//! at the simulator (in that process only) and prints one JSON line with what it read.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::measure::{self, Measured};
use crate::sim::{self, Sim};

type Error = Box<dyn std::error::Error>;

/// Creates `bench/.venv-<peer>` and installs the peer if needed; returns its Python.
///
/// # Errors
/// `python3 -m venv` or `pip install` failed.
pub fn setup_venv(repo: &Path, peer: &str) -> Result<PathBuf, Error> {
    let venv = repo.join(format!("bench/.venv-{peer}"));
    let python = venv.join("bin/python");
    let requirements = repo.join(format!("bench/peers/{peer}.txt"));
    let stamp = venv.join(".requirements-installed");
    let wanted = std::fs::read_to_string(&requirements)?;
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(python);
    }
    if !python.exists() {
        eprintln!("import-bench: creating {}", venv.display());
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()?
            .success();
        if !ok {
            return Err("python3 -m venv failed (Debian: apt-get install python3-venv)".into());
        }
    }
    eprintln!("import-bench: installing {peer} into {}", venv.display());
    let ok = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements)
        .status()?
        .success();
    if !ok {
        return Err(format!("pip install -r {} failed", requirements.display()).into());
    }
    std::fs::write(&stamp, wanted)?;
    Ok(python)
}

/// Runs one peer against `sim`; returns the measurement and the objects it read.
///
/// # Errors
/// The peer failed or printed no result.
pub fn run(peer: &str, repo: &Path, sim: &Sim, dir: &Path) -> Result<(Measured, u64), Error> {
    let script = match peer {
        "okta-sdk" => "okta_sdk_peer.py",
        "airbyte" => "airbyte_peer.py",
        other => return Err(format!("unknown peer {other}").into()),
    };
    let port = sim
        .base
        .rsplit(':')
        .next()
        .ok_or("no port in the simulator URL")?;
    let ca = sim
        .ca
        .as_ref()
        .ok_or("the peers need the simulator's --tls")?;
    let python = setup_venv(repo, peer)?;
    let mut cmd = Command::new(python);
    cmd.arg(repo.join("bench/peers").join(script))
        .args(["--org", "contoso.okta.com", "--port", port])
        .arg("--workdir")
        .arg(dir)
        .current_dir(dir)
        .env("OKTA_BENCH_TOKEN", sim::TOKEN)
        // This process only: trust the simulator's CA.
        .env("SSL_CERT_FILE", ca)
        .env("REQUESTS_CA_BUNDLE", ca)
        .env("PYTHONUNBUFFERED", "1");
    let m = measure::run(&mut cmd, &dir.join(format!("{peer}.stderr")))?;
    let last = m.stdout.lines().rev().find(|l| l.starts_with('{'));
    let result: Value = match last.map(serde_json::from_str) {
        Some(Ok(v)) => v,
        _ => {
            return Err(format!(
                "peer {peer} printed no result (exit {:?}); see {}",
                m.code,
                dir.join(format!("{peer}.stderr")).display()
            )
            .into());
        }
    };
    if m.code != Some(0) {
        return Err(format!("peer {peer} exited with {:?}: {result}", m.code).into());
    }
    let objects = ["users", "groups", "memberships"]
        .iter()
        .filter_map(|k| result[*k].as_u64())
        .sum();
    std::fs::write(dir.join(format!("{peer}.json")), result.to_string())?;
    Ok((m, objects))
}
