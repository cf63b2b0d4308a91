//! The side-by-side table: the baseline build against the current one, from the runs of one
//! harness run (medians over the repeats; ratios are current ÷ baseline).

use std::fmt::Write as _;

use crate::report::Row;

/// The median of `values` (the upper one of the middle two for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Medians of one build's runs of one size and scenario.
struct Summary {
    runs: usize,
    objects_per_s: f64,
    cpu_us_per_object: f64,
    rss_mib: f64,
    /// Wall time ÷ the rate-limit minimum (rate-bound runs).
    of_minimum: Option<f64>,
    throttled: u64,
    load: (f64, f64),
}

fn summary(rows: &[&Row]) -> Option<Summary> {
    if rows.is_empty() {
        return None;
    }
    let of_minimum: Vec<f64> = rows.iter().filter_map(|r| r.ratio()).collect();
    let loads = rows.iter().flat_map(|r| [r.load_before, r.load_after]);
    let load = loads.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), l| {
        (lo.min(l), hi.max(l))
    });
    Some(Summary {
        runs: rows.len(),
        objects_per_s: median(rows.iter().map(|r| r.objects_per_s()).collect()),
        cpu_us_per_object: median(
            rows.iter()
                .map(|r| r.cpu_s * 1e6 / r.objects.max(1) as f64)
                .collect(),
        ),
        rss_mib: median(rows.iter().map(|r| r.rss_mib).collect()),
        of_minimum: (!of_minimum.is_empty()).then(|| median(of_minimum)),
        throttled: rows
            .iter()
            .map(|r| r.rate_limited + r.concurrency_limited)
            .sum(),
        load,
    })
}

/// The side-by-side table, or nothing when no baseline ran.
pub fn markdown(rows: &[Row], baseline: Option<&str>, current: &str) -> String {
    let Some(baseline) = baseline else {
        return String::new();
    };
    let mut s = format!(
        "### Side by side: {baseline} (baseline) and {current}, same harness run\n\n\
         Medians over each build's runs; ratios are current ÷ baseline.\n\n\
         | org | scenario | runs | objects/s base → now (×) | host CPU µs/object base → now (×) | peak RSS MiB base → now (×) | wall ÷ minimum base → now | 429s base, now | load min–max |\n\
         |---|---|---:|---|---|---|---|---|---|\n"
    );
    let mut groups: Vec<(String, String)> = Vec::new();
    for r in rows {
        let key = (r.size.clone(), r.scenario.clone());
        if r.tool == baseline && !groups.contains(&key) {
            groups.push(key);
        }
    }
    for (size, scenario) in groups {
        let of = |tool: &str| {
            let mine: Vec<&Row> = rows
                .iter()
                .filter(|r| r.size == size && r.scenario == scenario && r.tool == tool)
                .filter(|r| r.store == "sqlite")
                .collect();
            summary(&mine)
        };
        let (Some(b), Some(c)) = (of(baseline), of(current)) else {
            continue;
        };
        let minimum = match (b.of_minimum, c.of_minimum) {
            (Some(b), Some(c)) => format!("{b:.3} → {c:.3}"),
            _ => "–".to_owned(),
        };
        let _ = writeln!(
            s,
            "| {size} | {scenario} | {} + {} | {:.0} → {:.0} (**{:.2}×**) | {:.2} → {:.2} (**{:.2}×**) | {:.0} → {:.0} ({:.2}×) | {minimum} | {}, {} | {:.1}–{:.1} |",
            b.runs,
            c.runs,
            b.objects_per_s,
            c.objects_per_s,
            c.objects_per_s / b.objects_per_s,
            b.cpu_us_per_object,
            c.cpu_us_per_object,
            c.cpu_us_per_object / b.cpu_us_per_object,
            b.rss_mib,
            c.rss_mib,
            c.rss_mib / b.rss_mib,
            b.throttled,
            c.throttled,
            b.load.0.min(c.load.0),
            b.load.1.max(c.load.1),
        );
    }
    s.push('\n');
    s
}
