//! The store table: the current build's full imports into SQLite and into PostgreSQL, from
//! the same harness run (medians over the interleaved repeats; ratios are PostgreSQL ÷ SQLite).

use std::fmt::Write as _;

use crate::compare::median;
use crate::report::{Row, opt};

/// Medians of one store's runs of one size and scenario.
struct Summary {
    runs: usize,
    wall_s: f64,
    objects_per_s: f64,
    host_us: f64,
    /// The PostgreSQL server's CPU µs per object (`None` for SQLite).
    server_us: Option<f64>,
    total_us: f64,
    store_mib: Option<f64>,
    of_minimum: Option<f64>,
    load: (f64, f64),
}

fn summary(rows: &[&Row]) -> Option<Summary> {
    if rows.is_empty() {
        return None;
    }
    let per_object = |cpu: f64, r: &Row| cpu * 1e6 / r.objects.max(1) as f64;
    let server: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.store_cpu_s.map(|c| per_object(c, r)))
        .collect();
    let mib: Vec<f64> = rows.iter().filter_map(|r| r.store_mib).collect();
    let of_minimum: Vec<f64> = rows.iter().filter_map(|r| r.ratio()).collect();
    let load = rows
        .iter()
        .flat_map(|r| [r.load_before, r.load_after])
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), l| {
            (lo.min(l), hi.max(l))
        });
    Some(Summary {
        runs: rows.len(),
        wall_s: median(rows.iter().map(|r| r.wall_s).collect()),
        objects_per_s: median(rows.iter().map(|r| r.objects_per_s()).collect()),
        host_us: median(rows.iter().map(|r| per_object(r.cpu_s, r)).collect()),
        server_us: (!server.is_empty()).then(|| median(server)),
        total_us: median(rows.iter().map(|r| r.total_cpu_us_per_object()).collect()),
        store_mib: (!mib.is_empty()).then(|| median(mib)),
        of_minimum: (!of_minimum.is_empty()).then(|| median(of_minimum)),
        load,
    })
}

/// The table, or nothing when the current build wrote to one store only.
pub fn markdown(rows: &[Row]) -> String {
    let current: Vec<&Row> = rows.iter().filter(|r| r.tool == crate::CURRENT).collect();
    let mut groups: Vec<(String, String)> = Vec::new();
    for r in &current {
        let key = (r.size.clone(), r.scenario.clone());
        if r.store == "postgres" && !groups.contains(&key) {
            groups.push(key);
        }
    }
    if groups.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "### Stores: SQLite and PostgreSQL (fsync on), same harness run\n\n\
         Medians over each store's runs, interleaved; × is PostgreSQL ÷ SQLite. Host CPU is the \
         `host` process; server CPU is every PostgreSQL process (postmaster, backends, \
         background writers) from /proc.\n\n\
         | org | scenario | store | runs | wall s | objects/s (×) | host CPU µs/object (×) | server CPU µs/object | host + server µs/object (×) | store MiB | wall ÷ minimum | load min–max |\n\
         |---|---|---|---:|---:|---|---|---:|---|---:|---:|---|\n",
    );
    for (size, scenario) in groups {
        let of = |store: &str| {
            let mine: Vec<&Row> = current
                .iter()
                .copied()
                .filter(|r| r.size == size && r.scenario == scenario && r.store == store)
                .collect();
            summary(&mine)
        };
        let (Some(lite), Some(pg)) = (of("sqlite"), of("postgres")) else {
            continue;
        };
        for (name, x, ratio) in [("sqlite", &lite, false), ("postgres", &pg, true)] {
            let times = |v: f64, base: f64| {
                if ratio {
                    format!("{v:.2} ({:.2}×)", v / base)
                } else {
                    format!("{v:.2}")
                }
            };
            let _ = writeln!(
                s,
                "| {size} | {scenario} | {name} | {} | {:.2} | {} | {} | {} | {} | {} | {} | {:.1}–{:.1} |",
                x.runs,
                x.wall_s,
                if ratio {
                    format!(
                        "{:.0} ({:.2}×)",
                        x.objects_per_s,
                        x.objects_per_s / lite.objects_per_s
                    )
                } else {
                    format!("{:.0}", x.objects_per_s)
                },
                times(x.host_us, lite.host_us),
                opt(x.server_us, 2),
                times(x.total_us, lite.total_us),
                opt(x.store_mib, 0),
                opt(x.of_minimum, 3),
                x.load.0,
                x.load.1
            );
        }
    }
    s.push('\n');
    s
}
