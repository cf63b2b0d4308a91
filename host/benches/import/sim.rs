//! The simulator as a separate process (`target/release/okta-sim`) and a small client for its
//! admin routes (`/_sim/…`: stats, reset, mutations).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::measure;

/// The API token the simulator expects (a benchmark-only value, not a secret).
pub const TOKEN: &str = "bench-token-not-a-secret";

/// How the simulator is started.
#[derive(Debug, Clone)]
pub struct SimSpec {
    pub users: usize,
    pub groups: usize,
    pub memberships: usize,
    /// Enterprise rate limits (else off).
    pub limits: bool,
    pub time_scale: f64,
    pub latency_ms: u64,
    pub latency_per_object_us: u64,
    pub tls: bool,
}

impl SimSpec {
    /// The command-line flags, for the report.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            "--users".to_owned(),
            self.users.to_string(),
            "--groups".to_owned(),
            self.groups.to_string(),
            "--memberships".to_owned(),
            self.memberships.to_string(),
            "--apps".to_owned(),
            "10".to_owned(),
            "--seed".to_owned(),
            "7".to_owned(),
            "--rate-limits".to_owned(),
            if self.limits { "enterprise" } else { "off" }.to_owned(),
            "--time-scale".to_owned(),
            self.time_scale.to_string(),
            "--latency-ms".to_owned(),
            self.latency_ms.to_string(),
            "--latency-per-object-us".to_owned(),
            self.latency_per_object_us.to_string(),
        ];
        if self.tls {
            a.push("--tls".to_owned());
        }
        a
    }
}

/// A running `okta-sim`; stopped (Ctrl-C, then kill) when dropped.
pub struct Sim {
    child: Child,
    /// `http(s)://127.0.0.1:PORT`.
    pub base: String,
    /// The CA certificate (PEM file) with `--tls`.
    pub ca: Option<PathBuf>,
    pub spec: SimSpec,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim").field("base", &self.base).finish()
    }
}

type Error = Box<dyn std::error::Error>;

impl Sim {
    /// Starts the simulator and waits until it prints its base URL.
    ///
    /// # Errors
    /// It did not start or did not print its URL.
    pub fn start(bin: &Path, spec: &SimSpec, dir: &Path) -> Result<Sim, Error> {
        let ca = spec.tls.then(|| dir.join("sim-ca.pem"));
        let mut cmd = Command::new(bin);
        cmd.args(spec.args())
            .args(["--listen", "127.0.0.1:0"])
            .env("OKTA_SIM_TOKEN", TOKEN)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(dir.join("sim.log"))?));
        if let Some(ca) = &ca {
            cmd.arg("--ca-out").arg(ca);
        }
        let mut child = cmd.spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let base = match lines.next() {
            Some(Ok(l)) if l.starts_with("http") => l.trim().to_owned(),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("okta-sim did not print its URL: {other:?}").into());
            }
        };
        // Drain the rest so the simulator never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});

        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(120));
        if let Some(ca) = &ca {
            let pem = std::fs::read(ca)?;
            b = b.tls_certs_only([reqwest::Certificate::from_pem(&pem)?]);
        }
        let sim = Sim {
            child,
            base,
            ca,
            spec: spec.clone(),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            http: b.build()?,
        };
        sim.get("/_sim/health")?;
        Ok(sim)
    }

    /// The simulator's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU seconds the simulator has used so far.
    pub fn cpu_s(&self) -> f64 {
        measure::proc_cpu_s(self.pid())
    }

    fn call(&self, method: reqwest::Method, path: &str) -> Result<Value, Error> {
        let url = format!("{}{path}", self.base);
        self.rt.block_on(async {
            let r = self.http.request(method, &url).send().await?;
            let status = r.status();
            let body = r.bytes().await?;
            if !status.is_success() {
                return Err(format!("{url}: {status}: {}", String::from_utf8_lossy(&body)).into());
            }
            Ok(serde_json::from_slice(&body)?)
        })
    }

    /// `GET path` (an admin route), as JSON.
    ///
    /// # Errors
    /// Transport error or a non-2xx answer.
    pub fn get(&self, path: &str) -> Result<Value, Error> {
        self.call(reqwest::Method::GET, path)
    }

    /// `POST path`, as JSON.
    ///
    /// # Errors
    /// Transport error or a non-2xx answer.
    pub fn post(&self, path: &str) -> Result<Value, Error> {
        self.call(reqwest::Method::POST, path)
    }

    /// `DELETE path`, as JSON.
    ///
    /// # Errors
    /// Transport error or a non-2xx answer.
    pub fn delete(&self, path: &str) -> Result<Value, Error> {
        self.call(reqwest::Method::DELETE, path)
    }

    /// Zeroes the request counters and the rate-limit windows.
    ///
    /// # Errors
    /// As [`post`](Self::post).
    pub fn reset_stats(&self) -> Result<(), Error> {
        self.post("/_sim/reset-stats").map(drop)
    }

    /// `GET /_sim/stats`.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn stats(&self) -> Result<Value, Error> {
        self.get("/_sim/stats")
    }

    /// Waits until the simulator's rate-limit windows opened by an earlier run have ended
    /// (one sim minute plus a little), then resets the counters and the windows, so the next
    /// run starts as a fresh client would.
    ///
    /// # Errors
    /// As [`reset_stats`](Self::reset_stats).
    pub fn quiesce(&self) -> Result<(), Error> {
        if self.spec.limits {
            std::thread::sleep(Duration::from_secs_f64(61.0 / self.spec.time_scale));
        }
        self.reset_stats()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap_or(0);
        if pid > 0 {
            // SAFETY: signalling our own child, which has not been reaped yet.
            unsafe { libc::kill(pid, libc::SIGINT) };
        }
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// URL-encodes a query value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
