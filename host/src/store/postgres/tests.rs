//! What only the PostgreSQL backend has: concurrent migrations, URLs and passwords, TLS, a
//! server restarting under an open store, use from inside a tokio runtime, and the upsert rate.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use connector_api::{ImportMode, Object};
use fixtures::postgres::TempCluster;

use super::*;
use crate::store::writer::UpsertBatch;
use crate::store::{Store, UpsertOutcome};

fn open(pg: &TempCluster, url: &str) -> Result<PgStore> {
    PgStore::open(url, Some(pg.password().to_owned().into()))
}

#[test]
fn two_workers_migrating_a_new_database_at_once_migrate_it_once() {
    let pg = TempCluster::start().unwrap();
    for round in 0..3 {
        let url = pg.create_database(&format!("race{round}")).unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (url, password, barrier) =
                    (url.clone(), pg.password().to_owned(), barrier.clone());
                std::thread::spawn(move || {
                    let target = Arc::new(PgTarget::parse(&url, Some(password.into())).unwrap());
                    let store = PgStore {
                        conn: Conn::open(target).unwrap(),
                    };
                    barrier.wait();
                    store.migrate()
                })
            })
            .collect();
        for w in workers {
            assert_eq!(w.join().unwrap().unwrap(), schema::latest_version());
        }
        let store = open(&pg, &url).unwrap();
        assert_eq!(store.schema_version().unwrap(), schema::latest_version());
        let applied = store
            .conn
            .call(|s| {
                s.run("counting migrations", |c| {
                    Ok(c.query_one("SELECT count(*) FROM schema_migrations", &[])?
                        .try_get::<_, i64>(0)?)
                })
            })
            .unwrap();
        assert_eq!(applied, schema::latest_version(), "each migration once");
    }
}

#[test]
fn a_newer_schema_is_refused_and_an_empty_database_is_no_store() {
    let pg = TempCluster::start().unwrap();
    let empty = pg.create_database("empty").unwrap();
    let err = PgStore::open_existing(&empty, Some(pg.password().to_owned().into())).unwrap_err();
    assert!(matches!(err, StoreError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("/empty"), "{err}");
    let store = open(&pg, &pg.url()).unwrap();
    store
        .execute_for_tests("INSERT INTO schema_migrations (version) VALUES (99)")
        .unwrap();
    drop(store);
    let err = open(&pg, &pg.url()).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 99, known, .. } if known == schema::latest_version()),
        "{err}"
    );
    assert!(err.to_string().contains("use a newer host"), "{err}");
}

#[test]
fn a_wrong_password_fails_without_showing_any_password() {
    let pg = TempCluster::start().unwrap();
    let err = PgStore::open(&pg.url(), Some("not-the-password".to_owned().into())).unwrap_err();
    let text = format!("{err} {err:?}");
    assert_eq!(err.sqlstate(), Some("28P01"), "{text}");
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(
        !text.contains("not-the-password") && !text.contains(pg.password()),
        "{text}"
    );
    let store = open(&pg, &pg.url()).unwrap();
    let text = format!("{} {store:?}", store.location());
    assert!(!text.contains(pg.password()), "{text}");
    assert_eq!(store.location(), pg.url());
}

#[test]
fn a_store_survives_the_server_restarting() {
    let mut pg = TempCluster::start().unwrap();
    let mut store = open(&pg, &pg.url()).unwrap();
    store.ensure_connector("c", "/c.so", None, "t0").unwrap();
    pg.stop().unwrap();
    let err = store.connectors().unwrap_err();
    assert!(matches!(err, StoreError::Postgres { .. }), "{err}");
    assert!(store.ensure_connector("d", "/d.so", None, "t1").is_err());
    pg.start_again().unwrap();
    assert_eq!(store.connectors().unwrap().len(), 1, "connected again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_is_used_from_inside_a_tokio_runtime() {
    let pg = TempCluster::start().unwrap();
    let mut store = Store::new(Box::new(open(&pg, &pg.url()).unwrap()));
    store.ensure_connector("c", "/c.so", None, "t0").unwrap();
    let run_id = store
        .begin_run("c", ImportMode::Full, None, "t1", None)
        .unwrap();
    let writer = store.open_writer().unwrap();
    let batch = UpsertBatch::from_objects(&[Object::new("User", "u1")], "t1");
    let written = crate::store::writer::ImportWriter::start(writer, "c", run_id, None).unwrap();
    written.send(batch).unwrap();
    let written = tokio::task::spawn_blocking(move || written.finish())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(written.counts["User"].created, 1);
    assert_eq!(store.count_by_type("c").unwrap()["User"], 1);
}

#[test]
fn tls_as_the_url_asks() {
    let pg = TempCluster::start_with_tls().unwrap();
    let root = pg.root_cert().unwrap().display().to_string();
    let ssl_in_use = |store: &PgStore| {
        store
            .conn
            .call(|s| {
                s.run("reading the TLS state", |c| {
                    Ok(c.query_one(
                        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                        &[],
                    )?
                    .try_get::<_, bool>(0)?)
                })
            })
            .unwrap()
    };
    for (query, tls) in [
        ("sslmode=disable".to_owned(), false),
        ("sslmode=require".to_owned(), true),
        (format!("sslmode=verify-ca&sslrootcert={root}"), true),
        (format!("sslmode=verify-full&sslrootcert={root}"), true),
    ] {
        let store = open(&pg, &format!("{}?{query}", pg.url())).unwrap();
        assert_eq!(ssl_in_use(&store), tls, "{query}");
    }
    // Another CA's root: verification fails, with `require` too once a root file is named (as
    // libpq), while the right root passes.
    let other = TempCluster::start_with_tls().unwrap();
    let wrong = other.root_cert().unwrap().display().to_string();
    for mode in ["verify-full", "require"] {
        let err = open(
            &pg,
            &format!("{}?sslmode={mode}&sslrootcert={wrong}", pg.url()),
        )
        .unwrap_err();
        assert!(err.to_string().contains("connecting"), "{mode}: {err}");
    }
    let store = open(
        &pg,
        &format!("{}?sslmode=require&sslrootcert={root}", pg.url()),
    )
    .unwrap();
    assert!(ssl_in_use(&store));
}

/// The upsert rate of one 100,000-object transaction (created, then unchanged), printed for
/// docs/benchmarks.md; asserts every outcome.
#[test]
#[allow(clippy::print_stderr)]
fn upsert_rate_of_a_100k_object_batch() {
    const N: usize = 100_000;
    let pg = TempCluster::start().unwrap();
    let mut store = open(&pg, &pg.url()).unwrap();
    store.ensure_connector("c", "/c.so", None, "t0").unwrap();
    let objects: Vec<Object> = (0..N)
        .map(|i| {
            Object::new("User", format!("00u{i:08}"))
                .with("login", format!("user{i}@example.com"))
                .with("status", "ACTIVE")
                .with("n", i as i64)
        })
        .collect();
    let batch = [UpsertBatch::from_objects(&objects, "t1")];
    let mut writer = store.reconnect().unwrap();
    for (round, want) in [(1, UpsertOutcome::Created), (2, UpsertOutcome::Unchanged)] {
        let run_id = store
            .begin_run("c", ImportMode::Full, None, "t1", None)
            .unwrap();
        let started = Instant::now();
        let outcomes = writer
            .write_upserts(
                RunKey {
                    connector: "c",
                    run_id,
                },
                &batch,
            )
            .unwrap();
        let took = started.elapsed();
        assert_eq!(outcomes.len(), N);
        assert!(outcomes.iter().all(|o| *o == want), "round {round}");
        eprintln!(
            "postgres upsert, round {round} ({want:?}): {N} objects in {:.2} s = {:.0} objects/s",
            took.as_secs_f64(),
            N as f64 / took.as_secs_f64().max(f64::EPSILON)
        );
        assert!(took < Duration::from_secs(120));
        let end = RunEnd::default();
        let error = RunError {
            kind: "test".into(),
            message: "done".into(),
        };
        store
            .finish_run_unsuccessful(run_id, RunStatus::Failed, &end, &error, "t2")
            .unwrap();
    }
    assert_eq!(store.count_by_type("c").unwrap()["User"], N as u64);
}

/// A takeover while the old run's final transaction is open waits for it (the run row is
/// locked): the old run commits whole and is not closed afterwards; no deadlock.
#[test]
fn a_takeover_waits_for_a_final_transaction_in_progress() {
    use std::sync::mpsc::channel;

    let pg = TempCluster::start().unwrap();
    let mut old = open(&pg, &pg.url()).unwrap();
    let mut new = open(&pg, &pg.url()).unwrap();
    old.ensure_connector("c", "/c.so", None, "t0").unwrap();
    assert!(
        old.acquire_lease("c", "w1", Duration::from_millis(300))
            .unwrap()
    );
    let run_id = old
        .begin_run("c", ImportMode::Full, None, "t1", Some("w1"))
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        new.acquire_lease("c", "w2", Duration::from_secs(30))
            .unwrap()
    );
    let (go, started) = channel::<()>();
    let (done, taken) = channel();
    let takeover = std::thread::spawn(move || {
        started.recv().unwrap();
        let result = new.begin_run("c", ImportMode::Full, None, "t2", Some("w2"));
        done.send(result.map_err(|e| e.to_string())).unwrap();
        new
    });
    let none = std::collections::BTreeSet::new();
    let deletes = crate::store::FinalDeletes {
        objects: &none,
        scopes: &[],
        by_reference: &[],
    };
    let decide = Box::new(|_: &crate::store::Deletions| {
        go.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            taken.try_recv().is_err(),
            "the takeover waits for the run row"
        );
        Verdict::Commit {
            end: RunEnd::default(),
            watermark: Some("w-old".into()),
        }
    });
    old.finish_import(
        RunKey {
            connector: "c",
            run_id,
        },
        deletes,
        "t1",
        decide,
    )
    .unwrap();
    let new = takeover.join().unwrap();
    let new_run = taken.recv().unwrap().unwrap();
    let record = new.run(run_id).unwrap().unwrap();
    assert_eq!(
        record.status,
        RunStatus::Succeeded,
        "committed whole, not closed after"
    );
    assert_eq!(new.watermark("c").unwrap().unwrap().value, "w-old");
    assert_eq!(
        new.run(new_run).unwrap().unwrap().status,
        RunStatus::Running
    );
}
