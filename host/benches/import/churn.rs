//! 1% churn through the simulator's admin routes, picked deterministically from what the full
//! run stored: every 100th user changes (a profile update; every 10th of those is deprovisioned
//! instead), and every 100th group (Everyone aside) gets one member added and one removed.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::sim::{Sim, enc};

type Error = Box<dyn std::error::Error>;

pub(crate) fn ids(db: &Connection, sql: &str) -> Result<Vec<String>, Error> {
    let mut st = db.prepare(sql)?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(crate) fn changed(v: &serde_json::Value) -> bool {
    v["changed"].as_bool().unwrap_or(false)
}

/// Applies the churn; returns a description of what changed.
///
/// # Errors
/// The store could not be read or an admin request failed.
pub fn apply(sim: &Sim, store: &Path, share: f64) -> Result<String, Error> {
    let db = Connection::open_with_flags(store, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let users = ids(
        &db,
        "SELECT external_id FROM objects WHERE connector = 'okta' AND type = 'User' ORDER BY external_id",
    )?;
    let groups = ids(
        &db,
        // Everyone (BUILT_IN) changes only when users come and go.
        "SELECT external_id FROM objects WHERE connector = 'okta' AND type = 'Group' \
         AND json_extract(attributes, '$.type') <> 'BUILT_IN' ORDER BY external_id",
    )?;
    let step = (1.0 / share).round().max(1.0) as usize;

    let (mut updated, mut deprovisioned) = (0, 0);
    for (i, id) in users.iter().enumerate().filter(|(i, _)| i % step == 0) {
        let id = enc(id);
        if (i / step) % 10 == 9 {
            if changed(&sim.post(&format!("/_sim/users/{id}/status?status=DEPROVISIONED"))?) {
                deprovisioned += 1;
            }
        } else if changed(&sim.post(&format!(
            "/_sim/users/{id}/profile?key=title&value={}",
            enc(&format!("Churned {i}"))
        ))?) {
            updated += 1;
        }
    }

    let (mut added, mut removed, mut touched) = (0, 0, 0);
    for (i, gid) in groups.iter().enumerate().filter(|(i, _)| i % step == 0) {
        let members = ids(
            &db,
            &format!(
                "SELECT external_id FROM objects WHERE connector = 'okta' AND type = 'GroupMember' AND scope = '{}' ORDER BY external_id LIMIT 1",
                gid.replace('\'', "''")
            ),
        )?;
        let g = enc(gid);
        let mut any = false;
        // Add a user who is not a member yet (the first one that the simulator accepts).
        for k in 0..users.len().min(50) {
            let uid = &users[(i * 7919 + k * 104_729) % users.len()];
            if changed(&sim.post(&format!("/_sim/groups/{g}/members/{}", enc(uid)))?) {
                added += 1;
                any = true;
                break;
            }
        }
        if let Some(uid) = members
            .first()
            .and_then(|m| m.split_once(':'))
            .map(|(_, u)| u)
            && changed(&sim.delete(&format!("/_sim/groups/{g}/members/{}", enc(uid)))?)
        {
            removed += 1;
            any = true;
        }
        if any {
            touched += 1;
        }
    }
    Ok(format!(
        "{updated} of {} users updated and {deprovisioned} deprovisioned; {touched} of {} groups changed ({added} members added, {removed} removed)",
        users.len(),
        groups.len()
    ))
}
