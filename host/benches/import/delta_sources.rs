//! Delta runs of both `DeltaSource`s side by side after a churn that costs `LastUpdated` the
//! most: 1% of the users, half created and half hard-deleted (each moves `Everyone`), and
//! members added to and removed from the three largest groups. Both deltas start from the same
//! store (a copy of the rate-bound run's, after its 1% delta) against the same churned org; then
//! a SystemLog delta with nothing changed within its look-back.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::churn::{changed, ids};
use crate::report::Row;
use crate::sim::{Sim, enc};
use crate::{HostSetup, Paths, Size, host_toml, run_host, workdir};

type Error = Box<dyn std::error::Error>;

/// Applies the churn to the org `store` mirrors; returns a description of what changed.
fn churn(sim: &Sim, store: &Path, share: f64) -> Result<String, Error> {
    let db = Connection::open_with_flags(store, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let users = ids(
        &db,
        "SELECT external_id FROM objects WHERE connector = 'okta' AND type = 'User' ORDER BY external_id",
    )?;
    let largest = ids(
        &db,
        "SELECT m.scope FROM objects m JOIN objects g ON g.connector = 'okta' AND g.type = 'Group' \
         AND g.external_id = m.scope AND json_extract(g.attributes, '$.type') <> 'BUILT_IN' \
         WHERE m.connector = 'okta' AND m.type = 'GroupMember' \
         GROUP BY m.scope ORDER BY COUNT(*) DESC, m.scope LIMIT 3",
    )?;
    let n = ((users.len() as f64) * share).round().max(2.0) as usize;
    let (mut created, mut deleted) = (0, 0);
    for i in 0..n / 2 {
        if sim
            .post(&format!(
                "/_sim/users?login={}",
                enc(&format!("bench.new{i}@example.com"))
            ))?
            .get("id")
            .is_some()
        {
            created += 1;
        }
        let victim = &users[(i * 7919 + 13) % users.len()];
        if changed(&sim.delete(&format!("/_sim/users/{}", enc(victim)))?) {
            deleted += 1;
        }
    }
    let (mut added, mut removed) = (0, 0);
    let per_group = (n / 6).max(1);
    for (k, gid) in largest.iter().enumerate() {
        let g = enc(gid);
        let members = ids(
            &db,
            &format!(
                "SELECT json_extract(attributes, '$.memberId') FROM objects WHERE connector = 'okta' \
                 AND type = 'GroupMember' AND scope = '{}' ORDER BY external_id LIMIT {per_group}",
                gid.replace('\'', "''")
            ),
        )?;
        for uid in &members {
            if changed(&sim.delete(&format!("/_sim/groups/{g}/members/{}", enc(uid)))?) {
                removed += 1;
            }
        }
        for j in 0..per_group * 3 {
            let uid = &users[(k * 104_729 + j * 31) % users.len()];
            if changed(&sim.post(&format!("/_sim/groups/{g}/members/{}", enc(uid)))?) {
                added += 1;
            }
            if added >= per_group * (k + 1) {
                break;
            }
        }
    }
    Ok(format!(
        "{created} users created and {deleted} hard-deleted of {}; in the 3 largest groups {added} members added, {removed} removed",
        users.len()
    ))
}

/// A copy of `from`'s store in a new work directory with a host.toml for `source`.
fn prepare(
    paths: &Paths,
    from: &Path,
    setup: &HostSetup<'_>,
    size: Size,
    source: &str,
) -> Result<PathBuf, Error> {
    let dir = workdir(
        paths,
        &format!("{}-delta-{}", size.name(), source.to_lowercase()),
    )?;
    std::fs::copy(from.join("store.db"), dir.join("store.db"))?;
    let current = paths.tools.last().ok_or("no current build")?;
    let toml = host_toml(current, &dir, setup)?;
    let text = std::fs::read_to_string(&toml)?.replace(
        "SimulatorTimeScale",
        &format!("DeltaSource = \"{source}\", SimulatorTimeScale"),
    );
    std::fs::write(&toml, text)?;
    Ok(dir)
}

/// The scenario: churn, one delta per source, then a SystemLog delta with nothing changed.
///
/// # Errors
/// The store, the simulator or a host run failed.
pub fn run(
    paths: &Paths,
    dir: &Path,
    setup: &HostSetup<'_>,
    size: Size,
    full: (u64, f64),
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> Result<(), Error> {
    let sim = setup.sim;
    let system_log = prepare(paths, dir, setup, size, "SystemLog")?;
    let last_updated = prepare(paths, dir, setup, size, "LastUpdated")?;
    let churned = churn(sim, &dir.join("store.db"), 0.01)?;
    notes.push(format!(
        "{}: churn before the delta runs by source: {churned}",
        size.name()
    ));
    let mut measure = |dir: &Path, label: &str| -> Result<(), Error> {
        sim.quiesce()?;
        let sim_cpu0 = sim.cpu_s();
        eprintln!("import-bench: {}: host {label}", size.name());
        let current = paths.tools.last().ok_or("no current build")?;
        let run = run_host(current, dir, setup, "delta", &[])?;
        let stats = sim.stats()?;
        let row = Row::new(size.name(), label, "host", &run.m, &stats, run.objects)
            .with_sim_cpu(sim.cpu_s() - sim_cpu0)
            .with_minimum(&stats, setup.share, setup.time_scale)
            .share_of_full(full.0, full.1);
        eprintln!("import-bench: {}", row.one_line());
        rows.push(row);
        Ok(())
    };
    measure(&last_updated, "delta (user churn), LastUpdated")?;
    measure(&system_log, "delta (user churn), SystemLog")?;
    // Past the look-back (DeltaSafetyMarginSeconds, 120 s) of the last run: nothing to re-read.
    sim.post("/_sim/clock/advance?seconds=600")?;
    measure(&system_log, "delta (nothing changed), SystemLog")?;
    Ok(())
}
