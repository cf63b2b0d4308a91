//! The boundary's guarantees, proven against the `stream_connector` and `abi_mismatch` examples.

use std::time::{Duration, Instant};

use connector_api::abi::loader::PluginFactory;
use connector_api::abi::{ABI_VERSION, batch};
use connector_api::{
    Change, ConnectorFactory, Context, ErrorKind, ImportRequest, VecSink, Watermark,
};
use serde_json::json;

use crate::plugins::{example_library, load, settings, stream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_fifty_thousand_objects_in_order() {
    const COUNT: u64 = 50_000;
    let connector = stream(json!({"count": COUNT, "batch_size": 1000}));
    let (ctx, _logs) = Context::for_tests();
    let mut sink = VecSink::default();
    let cpu_before = process_cpu_time();
    let started = Instant::now();
    let outcome = connector
        .import(&ctx, ImportRequest::full(), &mut sink)
        .await
        .expect("import succeeds");
    let elapsed = started.elapsed();
    println!(
        "boundary throughput: {COUNT} objects in {elapsed:?} = {:.0} objects/s",
        COUNT as f64 / elapsed.as_secs_f64()
    );
    // Wall time depends on what else the machine runs; CPU time (both sides, all threads)
    // does not.
    if let (Some(before), Some(after)) = (cpu_before, process_cpu_time()) {
        let cpu = after.saturating_sub(before);
        println!(
            "boundary CPU cost: {cpu:?} of CPU time = {:.0} objects per CPU-second",
            COUNT as f64 / cpu.as_secs_f64().max(0.001)
        );
    }
    assert_eq!(
        outcome.watermark,
        Some(Watermark::new(format!("count:{COUNT}")))
    );
    assert_eq!(sink.changes.len() as u64, COUNT + 1);
    for (n, change) in sink.changes.iter().take(COUNT as usize).enumerate() {
        let Change::Upsert(object) = change else {
            panic!("change {n} is not an upsert: {change:?}");
        };
        assert_eq!(object.external_id, format!("{n:08}"));
        assert_eq!(object.attributes["n"], json!(n));
    }
    assert!(
        matches!(sink.changes.last(), Some(Change::ScopeComplete(s)) if s.object_type == "Item")
    );

    // For comparison: the batch codec alone on the same changes.
    let started = Instant::now();
    let mut bytes = Vec::new();
    for chunk in sink.changes.chunks(1000) {
        batch::encode(chunk, &mut bytes);
    }
    let encoded = started.elapsed();
    let started = Instant::now();
    let decoded = batch::decode(&bytes).unwrap();
    let decode = started.elapsed();
    assert_eq!(decoded, sink.changes);
    println!(
        "batch codec alone: encode {:.0} objects/s, decode {:.0} objects/s ({} bytes)",
        COUNT as f64 / encoded.as_secs_f64(),
        COUNT as f64 / decode.as_secs_f64(),
        bytes.len()
    );
}

#[test]
fn a_different_abi_version_is_refused_naming_both() {
    let path = example_library("abi_mismatch");
    let err = PluginFactory::load(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    let message = err.message();
    assert!(
        message.contains(&format!("ABI version {}", ABI_VERSION + 1)),
        "{err}"
    );
    assert!(
        message.contains(&format!("ABI version {ABI_VERSION}")),
        "{err}"
    );
    assert!(message.contains("abi_mismatch"), "{err}");
}

#[test]
fn loaded_factory_describes_itself() {
    let factory = load("stream_connector");
    assert_eq!(factory.descriptor().name, "stream");
    assert_eq!(factory.abi_version(), ABI_VERSION);
    assert!(
        factory
            .path()
            .ends_with(connector_api::abi::loader::library_file_name(
                "stream_connector"
            ))
    );
}

#[test]
fn bad_config_crosses_as_invalid_config() {
    let err = load("stream_connector")
        .create(settings(json!({"batch_size": 0})))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    assert!(err.message().contains("batch_size"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_mid_import_is_an_internal_error_and_the_host_survives() {
    for panic_in_task in [false, true] {
        let connector = stream(json!({
            "count": 10_000, "batch_size": 100, "panic_after": 2_000, "panic_in_task": panic_in_task
        }));
        let (ctx, _logs) = Context::for_tests();
        let mut sink = VecSink::default();
        let err = connector
            .import(&ctx, ImportRequest::full(), &mut sink)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
        assert!(err.message().contains("deliberate panic"), "{err}");
        assert_eq!(sink.changes.len(), 2_000);

        // The same instance and a fresh one still work.
        let mut sink = VecSink::default();
        let err = connector
            .import(&ctx, ImportRequest::full(), &mut sink)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
        let fresh = stream(json!({"count": 3_000}));
        let mut sink = VecSink::default();
        fresh
            .import(&ctx, ImportRequest::full(), &mut sink)
            .await
            .expect("a fresh instance imports");
        assert_eq!(sink.changes.len(), 3_001);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_mid_import_returns_cancelled() {
    let connector = stream(json!({"count": 1_000_000, "batch_size": 100, "delay_ms": 5}));
    let (ctx, _logs) = Context::for_tests();
    let cancel = ctx.cancellation().clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
    });
    let mut sink = VecSink::default();
    let started = Instant::now();
    let err = tokio::time::timeout(
        Duration::from_secs(20),
        connector.import(&ctx, ImportRequest::full(), &mut sink),
    )
    .await
    .expect("cancellation is prompt")
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!sink.changes.is_empty());
    assert!(sink.changes.len() < 1_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_logs_reach_the_host_logger() {
    let connector = stream(json!({"count": 25_000, "batch_size": 1000, "log_every": 10_000}));
    let (ctx, logs) = Context::for_tests();
    let mut sink = VecSink::default();
    connector
        .import(&ctx, ImportRequest::full(), &mut sink)
        .await
        .unwrap();
    let events: Vec<String> = logs.records().into_iter().map(|r| r.event).collect();
    assert_eq!(
        events,
        ["import_started", "progress", "progress", "import_finished"],
        "{events:?}"
    );
    let first = &logs.records()[0];
    assert_eq!(first.fields["count"], json!(25_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_runs_concurrent_imports_and_survives_an_abandoned_one() {
    let connector = stream(json!({"count": 5_000, "batch_size": 250, "delay_ms": 1}));
    let (ctx, _logs) = Context::for_tests();
    let run = || async {
        let mut sink = VecSink::default();
        connector
            .import(&ctx, ImportRequest::full(), &mut sink)
            .await
            .map(|_| sink.changes.len())
    };
    let (a, b) = tokio::join!(run(), run());
    assert_eq!((a.unwrap(), b.unwrap()), (5_001, 5_001));

    // A host that gives up on an import (drops its future) cancels the plug-in's operation;
    // the instance stays usable.
    let abandoned = tokio::time::timeout(Duration::from_millis(5), run()).await;
    assert!(
        abandoned.is_err(),
        "the import should still have been running"
    );
    assert_eq!(run().await.unwrap(), 5_001);
}

/// User + system CPU time of this process (all threads), from `/proc/self/stat` (Linux only).
fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports these in USER_HZ, which is 100 on every mainstream architecture.
    Some(Duration::from_millis(ticks * 10))
}
