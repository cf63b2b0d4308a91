//! Writing command results to standard output: aligned tables for people, JSON for scripts.
//!
//! Logs and progress go to standard error, so `host --json runs okta | jq` always gets clean
//! JSON. A closed pipe (`host objects okta | head`) ends the process quietly.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use crate::runner::RunReport;
use crate::store::{RunRecord, TypeCounts};

/// Writes `text` to stdout.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// Writes `text` and a line break to stdout.
pub fn println(text: &str) {
    print(&format!("{text}\n"));
}

/// Writes `value` as pretty JSON.
pub fn json<T: Serialize + ?Sized>(value: &T) {
    println(
        &serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")),
    );
}

/// Writes `value` as one line of JSON.
pub fn json_line<T: Serialize + ?Sized>(value: &T) {
    println(&serde_json::to_string(value).unwrap_or_default());
}

/// Formats rows as a left-aligned table (numbers right-aligned) with a header line.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let numeric: Vec<bool> = (0..headers.len())
        .map(|i| {
            !rows.is_empty()
                && rows.iter().all(|r| {
                    r.get(i)
                        .is_some_and(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_digit()))
                })
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let w = widths[i];
            let pad = w.saturating_sub(cell.chars().count());
            if i > 0 {
                s.push_str("  ");
            }
            if numeric[i] {
                s.push_str(&" ".repeat(pad));
                s.push_str(cell);
            } else {
                s.push_str(cell);
                if i + 1 < cells.len() {
                    s.push_str(&" ".repeat(pad));
                }
            }
        }
        s.trim_end().to_owned()
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// Shortens `text` to `max` characters with an ellipsis.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// Seconds with one decimal.
pub fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// The per-type table of a run; the `stored` column only when `stored` is given.
pub fn counts_table(
    counts: &BTreeMap<String, TypeCounts>,
    stored: Option<&BTreeMap<String, u64>>,
) -> String {
    let mut types: Vec<&String> = counts
        .keys()
        .chain(stored.into_iter().flat_map(|s| s.keys()))
        .collect();
    types.sort();
    types.dedup();
    let rows: Vec<Vec<String>> = types
        .into_iter()
        .map(|t| {
            let c = counts.get(t).copied().unwrap_or_default();
            let mut row = vec![
                t.clone(),
                c.upserts.to_string(),
                c.created.to_string(),
                c.updated.to_string(),
                c.unchanged.to_string(),
                c.deletes.to_string(),
                c.deleted.to_string(),
                c.removed.to_string(),
            ];
            if let Some(stored) = stored {
                row.push(stored.get(t).copied().unwrap_or(0).to_string());
            }
            row
        })
        .collect();
    let mut headers = vec![
        "type",
        "upserts",
        "created",
        "updated",
        "unchanged",
        "deletes",
        "deleted",
        "removed",
    ];
    if stored.is_some() {
        headers.push("stored");
    }
    table(&headers, &rows)
}

/// The connector's request counters in one line, if it reported any.
pub fn stats_line(record: &RunRecord) -> Option<String> {
    let s = &record.stats;
    let get = |k: &str| s.get(k).copied();
    let requests = get("requests").or_else(|| record.events.get("page_fetched").copied())?;
    let mut parts = vec![format!("requests {requests}")];
    if let Some(p) = get("pages") {
        parts.push(format!("pages {p}"));
    }
    if let Some(r) = get("retries") {
        parts.push(format!("retries {r}"));
    }
    if let Some(w) = get("rate_limit_waits") {
        let ms = get("rate_limit_wait_ms").unwrap_or(0);
        parts.push(format!("rate-limit waits {w} ({})", secs(ms)));
    }
    Some(parts.join(" · "))
}

/// A run report for people.
pub fn run_report(report: &RunReport) -> String {
    let r = &report.run;
    let mut out = format!(
        "run {} · {} · {} · {} in {}\n",
        r.id,
        r.connector,
        r.mode,
        r.status,
        secs(report.elapsed_ms)
    );
    if let Some(why) = &report.fell_back_to_full {
        out.push_str(&format!("  full run because {why}\n"));
    }
    let stored = (!report.stored.is_empty()).then_some(&report.stored);
    out.push_str(&indent(&counts_table(&r.counts, stored)));
    if let Some(line) = stats_line(r) {
        out.push_str(&format!("  {line}\n"));
    }
    match (&r.watermark_after, &r.watermark_before) {
        (Some(after), Some(before)) if after != before => {
            out.push_str(&format!("  watermark {after} (was {before})\n"));
        }
        (Some(after), _) => out.push_str(&format!("  watermark {after}\n")),
        (None, Some(before)) => out.push_str(&format!("  watermark kept: {before}\n")),
        (None, None) => {}
    }
    for s in &r.skipped {
        out.push_str(&format!("  skipped {}: {}\n", s.scope, s.reason));
    }
    for note in &r.notes {
        out.push_str(&format!("  note: {note}\n"));
    }
    if let Some(e) = &r.error {
        out.push_str(&format!("  error [{}]: {}\n", e.kind, e.message));
    }
    out
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_text_left_and_numbers_right() {
        let t = table(
            &["type", "count"],
            &[
                vec!["User".into(), "5".into()],
                vec!["GroupMember".into(), "1200".into()],
            ],
        );
        assert_eq!(
            t,
            "type         count\nUser             5\nGroupMember   1200\n"
        );
    }

    #[test]
    fn truncates_with_ellipsis() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
