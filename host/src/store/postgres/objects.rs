//! Objects on PostgreSQL: reading them, and storing a batch of upserts in one statement.
//!
//! An upsert batch travels as arrays (one per column, `unnest`ed by the server) in a single
//! statement that inserts new objects, updates changed ones, marks unchanged ones seen, and
//! returns what it did to each, in order: one round trip per batch, whatever its size.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use postgres::{GenericClient, Row};

use super::session::Step;
use super::{PgStore, json};
use crate::store::writer::UpsertBatch;
use crate::store::{Result, StoredObject, UpsertOutcome};

/// Objects read per round trip by [`for_each_object`].
const PAGE: i64 = 1_000;

/// Stores the upserts of one chunk ($1 connector, $2..$6 arrays of type, external id, scope,
/// attributes JSON and time, $7 run); returns 0 (created), 1 (updated) or 2 (unchanged) per
/// upsert, in order. The outcome compares with the rows as they were before the statement.
const UPSERT: &str = "WITH input AS ( \
     SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) \
         WITH ORDINALITY AS i(type, external_id, scope, attributes, at, ord)), \
 old AS ( \
     SELECT i.ord, (o.attributes = i.attributes AND o.scope IS NOT DISTINCT FROM i.scope) AS same \
     FROM input i JOIN objects o \
         ON o.connector = $1 AND o.type = i.type AND o.external_id = i.external_id), \
 written AS ( \
     INSERT INTO objects AS o (connector, type, external_id, scope, attributes, first_seen_run, \
         last_seen_run, changed_run, changed_at) \
     SELECT $1, type, external_id, scope, attributes, $7, $7, $7, at FROM input \
     ON CONFLICT (connector, type, external_id) DO UPDATE SET \
         last_seen_run = excluded.last_seen_run, \
         changed_run = CASE WHEN o.attributes = excluded.attributes \
             AND o.scope IS NOT DISTINCT FROM excluded.scope \
             THEN o.changed_run ELSE excluded.changed_run END, \
         changed_at = CASE WHEN o.attributes = excluded.attributes \
             AND o.scope IS NOT DISTINCT FROM excluded.scope \
             THEN o.changed_at ELSE excluded.changed_at END, \
         scope = excluded.scope, attributes = excluded.attributes \
     RETURNING 1) \
 SELECT CASE WHEN old.ord IS NULL THEN 0 WHEN old.same THEN 2 ELSE 1 END::int4 \
 FROM input LEFT JOIN old USING (ord) ORDER BY input.ord";

/// The columns of upserts in which no key appears twice (one statement cannot change a row
/// twice; a batch that repeats a key is split, and the parts applied in order).
#[derive(Debug, Default)]
pub(super) struct Chunk {
    types: Vec<String>,
    ids: Vec<String>,
    scopes: Vec<Option<String>>,
    attributes: Vec<String>,
    at: Vec<String>,
}

/// Splits `batches` into chunks without repeated keys. The attributes are canonical JSON (as
/// the SQLite backend stores them), so an unchanged object compares equal as text.
pub(super) fn chunks(batches: &[UpsertBatch]) -> Vec<Chunk> {
    let mut chunks = vec![Chunk::default()];
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for batch in batches {
        for object in batch.iter() {
            let key = (object.object_type.to_owned(), object.external_id.to_owned());
            if !seen.insert(key.clone()) {
                seen = HashSet::from([key]);
                chunks.push(Chunk::default());
            }
            let Some(chunk) = chunks.last_mut() else {
                continue;
            };
            chunk.types.push(object.object_type.to_owned());
            chunk.ids.push(object.external_id.to_owned());
            chunk.scopes.push(object.scope.map(str::to_owned));
            chunk.attributes.push(object.attributes.to_owned());
            chunk.at.push(batch.at.clone());
        }
    }
    chunks
}

/// Stores `chunks` in the open transaction `tx`; what each upsert did, in order.
pub(super) fn upsert(
    tx: &mut impl GenericClient,
    connector: &str,
    run_id: i64,
    chunks: &[Chunk],
) -> Result<Vec<UpsertOutcome>, Step> {
    let statement = tx.prepare(UPSERT)?;
    let mut outcomes = Vec::with_capacity(chunks.iter().map(|c| c.ids.len()).sum());
    for chunk in chunks.iter().filter(|c| !c.ids.is_empty()) {
        let rows = tx.query(
            &statement,
            &[
                &connector,
                &chunk.types,
                &chunk.ids,
                &chunk.scopes,
                &chunk.attributes,
                &chunk.at,
                &run_id,
            ],
        )?;
        for r in rows {
            outcomes.push(match r.try_get::<_, i32>(0)? {
                0 => UpsertOutcome::Created,
                1 => UpsertOutcome::Updated,
                _ => UpsertOutcome::Unchanged,
            });
        }
    }
    Ok(outcomes)
}

pub(super) fn count_by_type(store: &PgStore, connector: &str) -> Result<BTreeMap<String, u64>> {
    let connector = connector.to_owned();
    store.conn.call(move |s| {
        s.run("counting objects", |c| {
            c.query(
                "SELECT type, COUNT(*) FROM objects WHERE connector = $1 GROUP BY type",
                &[&connector],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get::<_, i64>(1)? as u64)))
            .collect()
        })
    })
}

pub(super) fn object(
    store: &PgStore,
    connector: &str,
    object_type: &str,
    external_id: &str,
) -> Result<Option<StoredObject>> {
    let location = store.location_path().to_owned();
    let key = [connector, object_type, external_id].map(str::to_owned);
    store.conn.call(move |s| {
        s.run("reading an object", |c| {
            c.query_opt(
                "SELECT type, external_id, scope, attributes, first_seen_run, last_seen_run, \
                 changed_run, changed_at FROM objects \
                 WHERE connector = $1 AND type = $2 AND external_id = $3",
                &[&key[0], &key[1], &key[2]],
            )?
            .map(|r| decode(&r, &location))
            .transpose()
        })
    })
}

/// Calls `each` for the objects of `connector` (optionally of one type) ordered by type and
/// external id, at most `limit`, reading them a page at a time (nothing else is collected).
pub(super) fn for_each_object(
    store: &PgStore,
    connector: &str,
    object_type: Option<&str>,
    limit: Option<usize>,
    each: &mut dyn FnMut(StoredObject) -> Result<()>,
) -> Result<()> {
    let mut left = limit.map_or(u64::MAX, |l| l as u64);
    let mut after: Option<(String, String)> = None;
    while left > 0 {
        let want = left.min(PAGE as u64);
        let page = next_page(store, connector, object_type, after.take(), want)?;
        let full = page.len() as u64 == want;
        after = page
            .last()
            .map(|o| (o.object_type.clone(), o.external_id.clone()));
        for object in page {
            left -= 1;
            each(object)?;
        }
        if !full || after.is_none() {
            break;
        }
    }
    Ok(())
}

fn next_page(
    store: &PgStore,
    connector: &str,
    object_type: Option<&str>,
    after: Option<(String, String)>,
    n: u64,
) -> Result<Vec<StoredObject>> {
    let location = store.location_path().to_owned();
    let connector = connector.to_owned();
    let object_type = object_type.map(str::to_owned);
    let (after_type, after_id) = after.unzip();
    let n = n as i64;
    store.conn.call(move |s| {
        s.run("listing objects", |c| {
            c.query(
                "SELECT type, external_id, scope, attributes, first_seen_run, last_seen_run, \
                 changed_run, changed_at FROM objects \
                 WHERE connector = $1 AND ($2::text IS NULL OR type = $2) \
                 AND ($3::text IS NULL OR (type, external_id) > ($3, $4)) \
                 ORDER BY type, external_id LIMIT $5",
                &[&connector, &object_type, &after_type, &after_id, &n],
            )?
            .iter()
            .map(|r| decode(r, &location))
            .collect()
        })
    })
}

fn decode(r: &Row, location: &Path) -> Result<StoredObject, Step> {
    Ok(StoredObject {
        object_type: r.try_get(0)?,
        external_id: r.try_get(1)?,
        scope: r.try_get(2)?,
        attributes: json(location, "objects.attributes", r.try_get(3)?)?,
        first_seen_run: r.try_get(4)?,
        last_seen_run: r.try_get(5)?,
        changed_run: r.try_get(6)?,
        changed_at: r.try_get(7)?,
    })
}
