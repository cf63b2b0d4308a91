//! Logs: the host's `tracing` setup, and the [`Logger`] that forwards connector records to it.
//!
//! Connector [`LogRecord`]s become `tracing` events with target `connector`, the record's
//! level, and its `event` name and fields, so `RUST_LOG=connector=debug` shows every page. Logs
//! go to standard error (standard output is for command results); when progress bars are on
//! screen, log lines are printed above them.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use connector_api::{Level, LogRecord, Logger};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::progress::{self, Progress};

/// How the host logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOptions {
    /// `-v` count: 0 info, 1 debug, 2+ trace.
    pub verbose: u8,
    /// `-q`: warnings and errors only.
    pub quiet: bool,
    /// One JSON object per log line instead of text.
    pub json: bool,
    /// Only warnings and errors unless `-v` (the demo, whose output is its report).
    pub terse: bool,
}

/// Installs the global subscriber. `RUST_LOG` overrides the level chosen by the options.
pub fn init(options: LogOptions) {
    let default = match options.verbose {
        _ if options.quiet => "warn",
        0 if options.terse => "warn",
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(StderrAboveBars)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true);
    // A second init (tests) keeps the first subscriber.
    let _ = if options.json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Writes log lines to stderr, above any progress bars.
#[derive(Debug, Clone, Copy)]
struct StderrAboveBars;

impl<'a> MakeWriter<'a> for StderrAboveBars {
    type Writer = LineWriter;
    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(Vec::with_capacity(256))
    }
}

/// Buffers one formatted event and writes it in one piece when dropped.
struct LineWriter(Vec<u8>);

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let bytes = std::mem::take(&mut self.0);
        progress::suspended(|| {
            let _ = std::io::stderr().lock().write_all(&bytes);
        });
    }
}

/// The [`Logger`] a run hands its connector: forwards to `tracing`, counts events by name and
/// feeds the progress display.
#[derive(Clone)]
pub struct ConnectorLogger {
    connector: Arc<str>,
    events: Arc<Mutex<BTreeMap<String, u64>>>,
    progress: Option<Arc<Progress>>,
}

impl std::fmt::Debug for ConnectorLogger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorLogger")
            .field("connector", &self.connector)
            .finish_non_exhaustive()
    }
}

impl ConnectorLogger {
    /// A logger for connector `name`, optionally feeding `progress`.
    pub fn new(name: &str, progress: Option<Arc<Progress>>) -> Self {
        Self {
            connector: Arc::from(name),
            events: Arc::default(),
            progress,
        }
    }

    /// How many records of each event name were logged.
    pub fn event_counts(&self) -> BTreeMap<String, u64> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Logger for ConnectorLogger {
    fn log(&self, record: LogRecord) {
        *self
            .events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(record.event.clone())
            .or_default() += 1;
        if let Some(p) = &self.progress {
            p.on_record(&record);
        }
        forward(&self.connector, &record);
    }
}

/// Emits one connector record as a `tracing` event (target `connector`).
pub fn forward(connector: &str, record: &LogRecord) {
    let fields = if record.fields.is_empty() {
        String::new()
    } else {
        serde_json::to_string(&record.fields).unwrap_or_default()
    };
    let event = record.event.as_str();
    let message = record.message.as_str();
    macro_rules! emit {
        ($level:ident) => {
            tracing::$level!(target: "connector", connector, event, fields, "{message}")
        };
    }
    match record.level {
        Level::Trace => emit!(trace),
        Level::Debug => emit!(debug),
        Level::Info => emit!(info),
        Level::Warn => emit!(warn),
        Level::Error => emit!(error),
        // A level added to connector-api after this host was written.
        _ => emit!(info),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_events_by_name() {
        let logger = ConnectorLogger::new("okta", None);
        logger.log(LogRecord::new(Level::Debug, "page_fetched", "p1"));
        logger.log(LogRecord::new(Level::Debug, "page_fetched", "p2"));
        logger.log(LogRecord::new(Level::Warn, "rate_limit_wait", "w").field("wait_ms", 10));
        let counts = logger.event_counts();
        assert_eq!(counts["page_fetched"], 2);
        assert_eq!(counts["rate_limit_wait"], 1);
    }
}
