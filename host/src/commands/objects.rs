//! `host objects <name>`: what the store holds.

use super::{App, Outcome};
use crate::error::ExitCode;
use crate::output;
use crate::store::StoredObject;

/// Output formats of `objects`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table with a summary of each object's attributes.
    Table,
    /// One JSON object per line: type, id, scope, attrs, first/last seen run.
    Jsonl,
}

/// Arguments of `objects`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The connector's name.
    pub name: String,
    /// Only objects of this type (e.g. User, Group, GroupMember).
    #[arg(long = "type", value_name = "TYPE")]
    pub object_type: Option<String>,
    /// Output format (`--json` implies jsonl).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// At most this many objects (default: 50 for a table, all for jsonl).
    #[arg(long)]
    pub limit: Option<usize>,
}

/// Attributes shown in the table's summary column, when present.
const SUMMARY_KEYS: &[&str] = &[
    "login",
    "name",
    "displayName",
    "email",
    "status",
    "type",
    "groupId",
    "memberId",
];

/// Runs `objects`.
///
/// # Errors
/// The store is missing or cannot be read.
pub async fn run(app: &App, args: Args) -> Outcome {
    let store = app.open_existing_store()?;
    let format = if app.json { Format::Jsonl } else { args.format };
    let ty = args.object_type.as_deref();
    match format {
        Format::Jsonl => {
            store.for_each_object(&args.name, ty, args.limit, |o| {
                output::json_line(&o);
                Ok(())
            })?;
        }
        Format::Table => {
            let limit = args.limit.unwrap_or(50);
            let mut rows = Vec::new();
            store.for_each_object(&args.name, ty, Some(limit), |o| {
                rows.push(row(&o));
                Ok(())
            })?;
            let counts = store.count_by_type(&args.name)?;
            let total: u64 = match ty {
                Some(t) => counts.get(t).copied().unwrap_or(0),
                None => counts.values().sum(),
            };
            if rows.is_empty() {
                output::println(&format!(
                    "no {}objects for `{}` in {}",
                    ty.map(|t| format!("{t} ")).unwrap_or_default(),
                    args.name,
                    store.location()
                ));
                return Ok(ExitCode::Success);
            }
            output::print(&output::table(
                &["type", "id", "scope", "first run", "last run", "summary"],
                &rows,
            ));
            if (rows.len() as u64) < total {
                output::println(&format!(
                    "… {} of {total} shown (--limit N, or --format jsonl for all)",
                    rows.len()
                ));
            }
        }
    }
    Ok(ExitCode::Success)
}

fn row(o: &StoredObject) -> Vec<String> {
    let summary: Vec<String> = SUMMARY_KEYS
        .iter()
        .filter_map(|k| {
            o.attributes.get(*k).and_then(|v| match v {
                serde_json::Value::String(s) => Some(format!("{k}={s}")),
                serde_json::Value::Number(n) => Some(format!("{k}={n}")),
                serde_json::Value::Bool(b) => Some(format!("{k}={b}")),
                _ => None,
            })
        })
        .take(3)
        .collect();
    let summary = if summary.is_empty() {
        output::truncate(&o.attributes.to_string(), 60)
    } else {
        output::truncate(&summary.join(" "), 80)
    };
    vec![
        o.object_type.clone(),
        o.external_id.clone(),
        o.scope.clone().unwrap_or_default(),
        o.first_seen_run.to_string(),
        o.last_seen_run.to_string(),
        summary,
    ]
}
