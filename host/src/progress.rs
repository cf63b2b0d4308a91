//! Progress bars on a terminal: objects stored, pages fetched, rate-limit waits.
//!
//! Fed from two places: the runner reports stored objects after every batch, and the
//! connector's log records (`page_fetched`, `rate_limit_wait`, `retry`) move the other lines.
//! When standard error is not a terminal (CI, cron, pipes) there are no bars, only logs.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connector_api::LogRecord;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::store::TypeCounts;

static ACTIVE: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// Runs `f` (which writes to stderr) with the bars hidden, if any are shown.
pub fn suspended<R>(f: impl FnOnce() -> R) -> R {
    let active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner()).clone();
    match active {
        Some(mp) => mp.suspend(f),
        None => f(),
    }
}

/// Whether bars should be drawn: standard error is a terminal and the output is for people.
pub fn wanted(json: bool, quiet: bool) -> bool {
    !json && !quiet && std::io::stderr().is_terminal()
}

#[derive(Debug, Default)]
struct Waits {
    count: u64,
    total_ms: u64,
    retries: u64,
}

/// The bars of one run.
#[derive(Debug)]
pub struct Progress {
    mp: MultiProgress,
    objects: ProgressBar,
    pages: ProgressBar,
    waits: ProgressBar,
    state: Mutex<(u64, Waits)>,
}

impl Progress {
    /// Shows bars for a run labelled `label` (e.g. `okta full`).
    pub fn start(label: &str) -> Arc<Self> {
        let mp = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner:.green} {prefix:.bold} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let line = |prefix: &str, msg: &str| {
            let bar = mp.add(ProgressBar::new_spinner());
            bar.set_style(style.clone());
            bar.set_prefix(prefix.to_owned());
            bar.set_message(msg.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        };
        let objects = line(label, "starting…");
        let pages = line("pages", "0");
        let waits = line("rate-limit waits", "0");
        *ACTIVE.lock().unwrap_or_else(|p| p.into_inner()) = Some(mp.clone());
        Arc::new(Self {
            mp,
            objects,
            pages,
            waits,
            state: Mutex::new((0, Waits::default())),
        })
    }

    /// The objects stored so far, per type.
    pub fn stored(&self, counts: &BTreeMap<String, TypeCounts>) {
        let total: u64 = counts.values().map(|c| c.upserts + c.deletes).sum();
        let per_type: Vec<String> = counts
            .iter()
            .map(|(t, c)| format!("{t} {}", c.upserts + c.deletes))
            .collect();
        self.objects
            .set_message(format!("{total} changes stored ({})", per_type.join(", ")));
    }

    /// Updates the page and wait lines from a connector log record.
    pub fn on_record(&self, record: &LogRecord) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match record.event.as_str() {
            "page_fetched" => {
                state.0 += 1;
                let what = ["endpoint", "path", "resource", "type"]
                    .iter()
                    .find_map(|k| record.fields.get(*k).and_then(|v| v.as_str()))
                    .map(|s| format!(" (last: {s})"))
                    .unwrap_or_default();
                self.pages.set_message(format!("{}{what}", state.0));
            }
            "rate_limit_wait" | "retry" => {
                if record.event == "retry" {
                    state.1.retries += 1;
                } else {
                    state.1.count += 1;
                    state.1.total_ms += wait_millis(record).unwrap_or(0);
                }
                self.waits.set_message(format!(
                    "{} ({:.1} s waited), retries {}",
                    state.1.count,
                    state.1.total_ms as f64 / 1000.0,
                    state.1.retries
                ));
            }
            _ => {}
        }
    }

    /// Removes the bars.
    pub fn finish(&self) {
        for bar in [&self.objects, &self.pages, &self.waits] {
            bar.finish_and_clear();
        }
        let _ = self.mp.clear();
        *ACTIVE.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The wait of a `rate_limit_wait` record in milliseconds, from the common field names.
pub fn wait_millis(record: &LogRecord) -> Option<u64> {
    let f = &record.fields;
    let num = |k: &str| f.get(k).and_then(|v| v.as_f64());
    num("wait_ms")
        .or_else(|| num("delay_ms"))
        .or_else(|| num("millis"))
        .or_else(|| num("wait_secs").map(|s| s * 1000.0))
        .or_else(|| num("seconds").map(|s| s * 1000.0))
        .map(|ms| ms.max(0.0) as u64)
}

#[cfg(test)]
mod tests {
    use connector_api::Level;

    use super::*;

    #[test]
    fn wait_is_read_from_common_fields() {
        let r = |k: &str, v: f64| LogRecord::new(Level::Warn, "rate_limit_wait", "").field(k, v);
        assert_eq!(wait_millis(&r("wait_ms", 1500.0)), Some(1500));
        assert_eq!(wait_millis(&r("seconds", 2.5)), Some(2500));
        assert_eq!(wait_millis(&r("other", 1.0)), None);
    }
}
