//! What `host worker` reads from `host.toml`: `[worker]`, each connector's `schedule`, and
//! `connectors_dir` (one file per connector beside the inline ones).
//!
//! ```toml
//! connectors_dir = "conf.d"      # relative to host.toml; *.toml files, each [connectors.<name>]
//!
//! [worker]
//! lease_ttl = "30s"              # a dead worker's connectors are free after this (default 30s)
//! poll = "5s"                    # how often due connectors are looked for (default 5s)
//! stop_timeout = "60s"           # SIGTERM: how long running imports get to stop (default 60s)
//!
//! [connectors.okta]
//! schedule = { every = "15m", full_every = "7d" }   # full_every defaults to 7d
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{ConnectorConfig, RawConnector, deserialize, key_error};
use crate::error::HostError;
use crate::scheduler::{Schedule, parse_duration};

/// `[worker]`, defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerConfig {
    /// How long a lease lasts unless renewed (store clock).
    pub lease_ttl: Duration,
    /// Time between looks for due connectors.
    pub poll: Duration,
    /// On SIGTERM or Ctrl-C, how long cancelled imports get to record their runs.
    pub stop_timeout: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            lease_ttl: Duration::from_secs(30),
            poll: Duration::from_secs(5),
            stop_timeout: Duration::from_secs(60),
        }
    }
}

/// The shortest `lease_ttl`: renewals happen every third of it, at least once a second.
const MIN_LEASE_TTL: Duration = Duration::from_secs(3);

/// The default `full_every` of a schedule (as for `host schedule`).
const DEFAULT_FULL_EVERY: &str = "7d";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWorker {
    lease_ttl: Option<String>,
    poll: Option<String>,
    stop_timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    every: String,
    full_every: Option<String>,
}

/// A file of `connectors_dir`: connector tables only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnectorFile {
    #[serde(default)]
    connectors: BTreeMap<String, RawConnector>,
}

/// A duration at `key`, as a std duration.
fn duration(origin: &Path, key: &str, text: &str) -> Result<Duration, HostError> {
    let d = parse_duration(text).map_err(|e| key_error(origin, key, e))?;
    d.to_std()
        .map_err(|_| key_error(origin, key, format!("`{text}` must be positive")))
}

impl RawWorker {
    /// `[worker]` over the defaults.
    pub(super) fn resolve(self, origin: &Path) -> Result<WorkerConfig, HostError> {
        let mut w = WorkerConfig::default();
        if let Some(t) = &self.lease_ttl {
            w.lease_ttl = duration(origin, "worker.lease_ttl", t)?;
            if w.lease_ttl < MIN_LEASE_TTL {
                return Err(key_error(
                    origin,
                    "worker.lease_ttl",
                    format!("`{t}` is too short; the minimum is 3s (renewals every third of it)"),
                ));
            }
        }
        if let Some(t) = &self.poll {
            w.poll = duration(origin, "worker.poll", t)?;
        }
        if let Some(t) = &self.stop_timeout {
            w.stop_timeout = duration(origin, "worker.stop_timeout", t)?;
        }
        Ok(w)
    }
}

impl RawSchedule {
    /// `connectors.<name>.schedule`, validated.
    pub(super) fn resolve(&self, origin: &Path, name: &str) -> Result<Schedule, HostError> {
        let key = format!("connectors.{name}.schedule");
        let every_key = format!("{key}.every");
        let full_key = format!("{key}.full_every");
        let every = parse_duration(&self.every).map_err(|e| key_error(origin, &every_key, e))?;
        let full_text = self.full_every.as_deref().unwrap_or(DEFAULT_FULL_EVERY);
        let full_every = parse_duration(full_text).map_err(|e| key_error(origin, &full_key, e))?;
        if full_every < every {
            return Err(key_error(
                origin,
                &full_key,
                format!(
                    "`{full_text}` is shorter than every = `{}`; a full run cannot be due more \
                     often than runs happen: make full_every at least every",
                    self.every
                ),
            ));
        }
        Ok(Schedule { every, full_every })
    }
}

/// Connectors read from the `*.toml` files of `dir` (sorted by name; other files ignored),
/// added to `connectors`/`schedules`. Each file's relative paths are resolved against `dir`.
///
/// # Errors
/// The directory or a file cannot be read or is invalid, or a connector name is taken
/// already (the error names both files).
pub(super) fn load_dir(
    dir: &Path,
    key_origin: &Path,
    connectors: &mut BTreeMap<String, (ConnectorConfig, PathBuf)>,
    schedules: &mut BTreeMap<String, Schedule>,
) -> Result<(), HostError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        key_error(
            key_origin,
            "connectors_dir",
            format!(
                "cannot read the directory {}: {e}; create it or fix the path (relative to \
                 host.toml)",
                dir.display()
            ),
        )
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| HostError::Config(format!("{}: cannot read: {e}", file.display())))?;
        let raw: RawConnectorFile = deserialize(&text, &file)?;
        for (name, raw) in raw.connectors {
            if let Some((_, first)) = connectors.get(&name) {
                return Err(HostError::Config(format!(
                    "connector `{name}` is configured twice: in {} and in {}; connector names \
                     must be unique across host.toml and connectors_dir",
                    first.display(),
                    file.display()
                )));
            }
            if let Some(s) = &raw.schedule {
                schedules.insert(name.clone(), s.resolve(&file, &name)?);
            }
            let config = raw.resolve(name.clone(), &file, dir)?;
            connectors.insert(name, (config, file.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(
            text,
            Path::new("/etc/mesh/host.toml"),
            Path::new("/etc/mesh"),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn worker_settings_have_defaults_and_are_read() {
        let c = parse("").unwrap();
        assert_eq!(c.worker, WorkerConfig::default());
        assert_eq!(c.worker.lease_ttl, Duration::from_secs(30));
        let c =
            parse("[worker]\nlease_ttl = \"3s\"\npoll = \"1s\"\nstop_timeout = \"2m\"\n").unwrap();
        assert_eq!(
            c.worker,
            WorkerConfig {
                lease_ttl: Duration::from_secs(3),
                poll: Duration::from_secs(1),
                stop_timeout: Duration::from_secs(120),
            }
        );
    }

    #[test]
    fn schedules_are_read_per_connector() {
        let c = parse(
            "[connectors.a]\nlibrary = \"a.so\"\nschedule = { every = \"15m\", full_every = \"7d\" }\n\
             [connectors.b]\nlibrary = \"b.so\"\nschedule = { every = \"1h\" }\n\
             [connectors.c]\nlibrary = \"c.so\"\n",
        )
        .unwrap();
        assert_eq!(
            c.schedules["a"],
            Schedule {
                every: chrono::Duration::minutes(15),
                full_every: chrono::Duration::days(7),
            }
        );
        assert_eq!(c.schedules["b"].full_every, chrono::Duration::days(7));
        assert!(
            !c.schedules.contains_key("c"),
            "no schedule, not run by workers"
        );
        assert_eq!(c.connectors.len(), 3);
    }

    #[test]
    fn bad_worker_and_schedule_values_name_the_field() {
        let cases = [
            (
                "[worker]\nlease_ttl = \"30\"\n",
                "worker.lease_ttl: `30` is not a duration",
            ),
            (
                "[worker]\nlease_ttl = \"2s\"\n",
                "worker.lease_ttl: `2s` is too short",
            ),
            ("[worker]\npoll = \"soon\"\n", "worker.poll: `soon` is not"),
            ("[worker]\nstop_timeout = \"0s\"\n", "worker.stop_timeout:"),
            ("[worker]\nlease = \"3s\"\n", "unknown field `lease`"),
            (
                "[connectors.a]\nlibrary = \"a.so\"\nschedule = { every = \"15\" }\n",
                "connectors.a.schedule.every: `15` is not a duration",
            ),
            (
                "[connectors.a]\nlibrary = \"a.so\"\nschedule = { every = \"1h\", full_every = \"x\" }\n",
                "connectors.a.schedule.full_every: `x` is not a duration",
            ),
            (
                "[connectors.a]\nlibrary = \"a.so\"\nschedule = { every = \"1h\", full_every = \"30m\" }\n",
                "connectors.a.schedule.full_every: `30m` is shorter than every",
            ),
            (
                "[connectors.a]\nlibrary = \"a.so\"\nschedule = { full_every = \"7d\" }\n",
                "connectors.a.schedule: missing field `every`",
            ),
            (
                "[connectors.a]\nlibrary = \"a.so\"\nschedule = { every = \"1h\", often = 1 }\n",
                "unknown field `often`",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.starts_with("/etc/mesh/host.toml:"), "{err}");
            assert!(
                err.contains(want),
                "for {text:?}\nwant: {want}\n got: {err}"
            );
        }
    }

    #[test]
    fn connectors_dir_adds_one_file_per_connector() {
        let dir = tempfile::tempdir().unwrap();
        let confd = dir.path().join("conf.d");
        std::fs::create_dir(&confd).unwrap();
        std::fs::write(
            confd.join("b.toml"),
            "[connectors.b]\nlibrary = \"lib/b.so\"\nconfig = { OrgDomain = \"b.example\" }\n\
             schedule = { every = \"5m\" }\n",
        )
        .unwrap();
        std::fs::write(
            confd.join("c.toml"),
            "[connectors.c]\nlibrary = \"/opt/c.so\"\n",
        )
        .unwrap();
        std::fs::write(confd.join("README"), "not toml [").unwrap();
        std::fs::write(confd.join("d.toml.bak"), "not toml [").unwrap();
        let host_toml = dir.path().join("host.toml");
        std::fs::write(
            &host_toml,
            "connectors_dir = \"conf.d\"\n[connectors.a]\nlibrary = \"a.so\"\n",
        )
        .unwrap();
        let c = Config::load(&host_toml, true).unwrap();
        assert_eq!(
            c.connectors.keys().collect::<Vec<_>>(),
            ["a", "b", "c"],
            "inline and from conf.d; other files ignored"
        );
        let b = c.connector("b").unwrap();
        assert_eq!(
            b.library,
            confd.join("lib/b.so"),
            "relative to its own file"
        );
        assert_eq!(b.config["OrgDomain"], "b.example");
        assert_eq!(c.schedules["b"].every, chrono::Duration::minutes(5));
        assert_eq!(c.connector("a").unwrap().library, dir.path().join("a.so"));
    }

    #[test]
    fn connectors_dir_errors_name_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let confd = dir.path().join("conf.d");
        std::fs::create_dir(&confd).unwrap();
        let host_toml = dir.path().join("host.toml");
        std::fs::write(
            &host_toml,
            "connectors_dir = \"conf.d\"\n[connectors.a]\nlibrary = \"a.so\"\n",
        )
        .unwrap();
        let load = || Config::load(&host_toml, true).unwrap_err().to_string();

        std::fs::write(
            confd.join("x.toml"),
            "[connectors.a]\nlibrary = \"other.so\"\n",
        )
        .unwrap();
        let err = load();
        assert!(
            err.contains("connector `a` is configured twice")
                && err.contains(&host_toml.display().to_string())
                && err.contains(&confd.join("x.toml").display().to_string()),
            "{err}"
        );
        std::fs::write(confd.join("x.toml"), "[connectors.b]\nlibrary = \"b.so\"\n").unwrap();
        std::fs::write(confd.join("y.toml"), "[connectors.b]\nlibrary = \"b.so\"\n").unwrap();
        let err = load();
        assert!(
            err.contains(&confd.join("x.toml").display().to_string())
                && err.contains(&confd.join("y.toml").display().to_string()),
            "{err}"
        );
        std::fs::remove_file(confd.join("y.toml")).unwrap();
        std::fs::write(
            confd.join("z.toml"),
            "[connectors.z]\nlibrary = \"z.so\"\nschedule = { every = \"often\" }\n",
        )
        .unwrap();
        let err = load();
        assert!(
            err.starts_with(&confd.join("z.toml").display().to_string())
                && err.contains("connectors.z.schedule.every"),
            "{err}"
        );
        std::fs::write(confd.join("z.toml"), "store = \"other.db\"\n").unwrap();
        assert!(load().contains("unknown field `store`"), "{}", load());
        std::fs::remove_file(confd.join("z.toml")).unwrap();
        std::fs::write(&host_toml, "connectors_dir = \"missing.d\"\n").unwrap();
        let err = load();
        assert!(
            err.contains("connectors_dir: cannot read the directory"),
            "{err}"
        );
    }
}
