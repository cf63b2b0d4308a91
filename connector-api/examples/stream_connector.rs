//! A test connector that streams a configurable number of generated objects.
//!
//! Built as a `cdylib` for the boundary tests: throughput, ordering, cancellation, logging and
//! panics (`panic_after`). Not a model of a real connector — see `directory_connector.rs`.
//!
//! Configuration (all optional):
//! `{"count": 50000, "batch_size": 1000, "delay_ms": 0, "panic_after": null,
//!   "panic_in_task": false, "log_every": 10000}`

use std::time::Duration;

use async_trait::async_trait;
use connector_api::{
    Capabilities, Change, ChangeSink, CheckReport, Connector, ConnectorError, ConnectorFactory,
    Context, Descriptor, ImportMode, ImportOutcome, ImportRequest, Level, LogRecord, Object,
    ObjectTypeInfo, Result, Scope, Settings, Watermark,
};
use serde::Deserialize;

/// What the stream connector reads from its configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamConfig {
    #[serde(default = "default_count")]
    count: u64,
    #[serde(default = "default_batch_size")]
    batch_size: u64,
    #[serde(default)]
    delay_ms: u64,
    #[serde(default)]
    panic_after: Option<u64>,
    #[serde(default)]
    panic_in_task: bool,
    #[serde(default = "default_log_every")]
    log_every: u64,
}

fn default_count() -> u64 {
    1_000
}
fn default_batch_size() -> u64 {
    500
}
fn default_log_every() -> u64 {
    10_000
}

fn descriptor() -> Descriptor {
    Descriptor::new("stream", "0.1.0")
        .with_description("Generates numbered Item objects (boundary tests)")
        .with_object_type(
            ObjectTypeInfo::new("Item")
                .with_description("A generated item; its id is its zero-padded number"),
        )
        .with_capabilities(
            Capabilities::new()
                .with_delta(true)
                .with_scope_complete(true),
        )
}

/// The factory the library exports.
#[derive(Debug, Default)]
struct StreamFactory;

impl ConnectorFactory for StreamFactory {
    fn descriptor(&self) -> Descriptor {
        descriptor()
    }

    fn create(&self, settings: Settings) -> Result<Box<dyn Connector>> {
        let config: StreamConfig = serde_json::from_value(settings.config)
            .map_err(|e| ConnectorError::invalid_config(format!("stream configuration: {e}")))?;
        if config.batch_size == 0 {
            return Err(ConnectorError::invalid_config(
                "stream configuration: batch_size must be at least 1",
            ));
        }
        Ok(Box::new(StreamConnector { config }))
    }
}

struct StreamConnector {
    config: StreamConfig,
}

fn parse_watermark(watermark: &Watermark) -> Result<u64> {
    watermark
        .as_str()
        .strip_prefix("count:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            ConnectorError::invalid_watermark(format!(
                "expected `count:<number>`, found {:?}",
                watermark.as_str()
            ))
        })
}

#[async_trait]
impl Connector for StreamConnector {
    fn descriptor(&self) -> Descriptor {
        descriptor()
    }

    async fn check(&self, _ctx: &Context) -> Result<CheckReport> {
        Ok(CheckReport::new().check("the stream connector needs no source"))
    }

    fn validate_watermark(&self, watermark: &Watermark) -> Result<()> {
        parse_watermark(watermark).map(|_| ())
    }

    async fn import(
        &self,
        ctx: &Context,
        request: ImportRequest,
        sink: &mut dyn ChangeSink,
    ) -> Result<ImportOutcome> {
        let cfg = &self.config;
        if let Some(w) = &request.watermark {
            parse_watermark(w)?;
        }
        let outcome = ImportOutcome::new()
            .with_watermark(Some(Watermark::new(format!("count:{}", cfg.count))));
        if ctx.is_cancelled() {
            return Err(ConnectorError::cancelled(
                "import cancelled before it started",
            ));
        }
        if request.mode == ImportMode::Delta {
            // Generated items never change: nothing to re-deliver.
            return Ok(outcome);
        }
        ctx.log(
            LogRecord::new(Level::Info, "import_started", "streaming items")
                .field("count", cfg.count),
        );
        let mut emitted = 0u64;
        while emitted < cfg.count {
            if ctx.is_cancelled() {
                return Err(ConnectorError::cancelled(format!(
                    "import cancelled after {emitted} items"
                )));
            }
            if cfg.delay_ms > 0 {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(cfg.delay_ms)) => {}
                    () = ctx.cancellation().cancelled() => continue,
                }
            }
            if cfg.panic_after.is_some_and(|limit| emitted >= limit) {
                if cfg.panic_in_task {
                    let task = tokio::spawn(async move { explode_in_task(emitted) });
                    if let Err(e) = task.await {
                        std::panic::resume_unwind(e.into_panic());
                    }
                }
                panic!("stream connector: deliberate panic after {emitted} items");
            }
            let end = (emitted + cfg.batch_size).min(cfg.count);
            let batch = (emitted..end)
                .map(|n| {
                    Change::Upsert(
                        Object::new("Item", format!("{n:08}"))
                            .with("n", n)
                            .with("name", format!("item {n}")),
                    )
                })
                .collect();
            sink.send(batch).await?;
            if cfg.log_every > 0 && end / cfg.log_every > emitted / cfg.log_every {
                ctx.log(
                    LogRecord::new(Level::Debug, "progress", "items emitted").field("emitted", end),
                );
            }
            emitted = end;
        }
        sink.send(vec![Change::ScopeComplete(Scope::whole("Item"))])
            .await?;
        ctx.log(
            LogRecord::new(Level::Info, "import_finished", "all items emitted")
                .field("emitted", emitted),
        );
        Ok(outcome)
    }
}

/// Panics inside a spawned task (typed so the task has an output).
fn explode_in_task(emitted: u64) -> u64 {
    panic!("stream connector: deliberate panic in a task after {emitted} items")
}

connector_api::export_connector!(StreamFactory);
