//! The directory connector's implementation, shared by the `directory_connector` cdylib and the
//! in-process conformance tests (which include this file with `#[path]`).
//!
//! The source is a folder holding `people.json` or `people.csv`, and `groups.json` or
//! `groups.csv`. Every record has an `id`; any other field becomes an attribute, except:
//!
//! * `members` (groups only): the member person ids — a JSON array, or `;`-separated in CSV;
//! * `deleted`: `true` makes the record a delete;
//! * `updated`: a timestamp that sorts as text (e.g. RFC 3339 in UTC). Delta runs re-read the
//!   files and emit the records whose `updated` is at or after the watermark; records without
//!   `updated` are always re-emitted, so no change is ever lost.
//!
//! Objects: `Person` and `Group` (id = the record id), `GroupMember` (id `<group>:<person>`,
//! scoped by the group id). A full run completes `Person`, `Group`, every group's members and
//! finally all of `GroupMember`; a delta run completes only the member lists of the groups it
//! re-read. A missing file is reported as skipped, and its types are never completed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use connector_api::{
    Capabilities, Change, ChangeSink, CheckReport, Connector, ConnectorError, ConnectorFactory,
    Context, Descriptor, ErrorKind, ImportMode, ImportOutcome, ImportRequest, Level, LogRecord,
    Object, ObjectTypeInfo, Result, Scope, Settings, Skipped, Watermark,
};
use serde_json::Value;

const PERSON: &str = "Person";
const GROUP: &str = "Group";
const MEMBER: &str = "GroupMember";
const BATCH_SIZE: usize = 500;
const WATERMARK_PREFIX: &str = "updated:";

/// Creates directory connectors; what the example library exports.
#[derive(Debug, Default, Clone, Copy)]
pub struct DirectoryFactory;

fn descriptor() -> Descriptor {
    let info = |name: &str, description: &str, scoped: bool| ObjectTypeInfo {
        name: name.into(),
        description: description.into(),
        scoped,
    };
    Descriptor {
        name: "directory".into(),
        version: "0.1.0".into(),
        description: "People and groups from JSON or CSV files in a folder".into(),
        object_types: vec![
            info(PERSON, "A person; id is the record's `id`", false),
            info(GROUP, "A group; id is the record's `id`", false),
            info(
                MEMBER,
                "A person's membership of a group; id is `<group id>:<person id>`, scope the group id",
                true,
            ),
        ],
        capabilities: Capabilities {
            delta: true,
            export: false,
            scope_complete: true,
        },
    }
}

impl ConnectorFactory for DirectoryFactory {
    fn descriptor(&self) -> Descriptor {
        descriptor()
    }

    fn create(&self, settings: Settings) -> Result<Box<dyn Connector>> {
        let config = DirectoryConfig::parse(&settings.config)?;
        Ok(Box::new(DirectoryConnector { config }))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Auto,
    Json,
    Csv,
}

#[derive(Debug)]
struct DirectoryConfig {
    folder: PathBuf,
    format: Format,
}

impl DirectoryConfig {
    fn parse(config: &Value) -> Result<Self> {
        let hint = r#"Configure {"folder": "/path/to/folder", "format": "auto"}"#;
        let invalid =
            |message: String| ConnectorError::invalid_config(message).with_remediation(hint);
        let Some(map) = config.as_object() else {
            return Err(invalid("the configuration must be a JSON object".into()));
        };
        if let Some(key) = map
            .keys()
            .find(|k| !matches!(k.as_str(), "folder" | "format"))
        {
            return Err(invalid(format!(
                "unknown setting `{key}` (expected `folder` and optionally `format`)"
            )));
        }
        let folder = match map.get("folder") {
            Some(Value::String(s)) if !s.trim().is_empty() => PathBuf::from(s),
            Some(_) => return Err(invalid("`folder` must be a non-empty string".into())),
            None => return Err(invalid("`folder` is required".into())),
        };
        if !folder.is_dir() {
            return Err(invalid(format!(
                "`folder`: {} is not an existing directory",
                folder.display()
            )));
        }
        let format = match map.get("format").map(|v| v.as_str()) {
            None | Some(Some("auto")) => Format::Auto,
            Some(Some("json")) => Format::Json,
            Some(Some("csv")) => Format::Csv,
            Some(other) => {
                return Err(invalid(format!(
                    "`format` must be \"auto\", \"json\" or \"csv\", not {}",
                    other.map_or_else(|| map["format"].to_string(), |s| format!("{s:?}"))
                )));
            }
        };
        Ok(Self { folder, format })
    }

    /// The file holding table `stem` (`people` or `groups`), if there is one.
    fn table_file(&self, stem: &str) -> Option<PathBuf> {
        let extensions: &[&str] = match self.format {
            Format::Auto => &["json", "csv"],
            Format::Json => &["json"],
            Format::Csv => &["csv"],
        };
        extensions
            .iter()
            .map(|ext| self.folder.join(format!("{stem}.{ext}")))
            .find(|p| p.is_file())
    }
}

/// Table rows as JSON maps, each with the line (CSV) or position (JSON) it comes from.
type Rows = Vec<(usize, serde_json::Map<String, Value>)>;

/// One row of a people or groups table.
#[derive(Debug, Clone)]
struct Record {
    id: String,
    updated: Option<String>,
    deleted: bool,
    members: Vec<String>,
    attributes: BTreeMap<String, Value>,
}

fn read_table(path: &Path) -> Result<Vec<Record>> {
    let bad = |what: String| ConnectorError::protocol(format!("{}: {what}", path.display()));
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConnectorError::unavailable(format!("reading {}: {e}", path.display())))?;
    let rows: Rows = if path.extension().is_some_and(|e| e == "csv") {
        csv_rows(&text).map_err(bad)?
    } else {
        let items: Vec<Value> = serde_json::from_str(&text)
            .map_err(|e| bad(format!("expected a JSON array of records: {e}")))?;
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(map) => Ok((i + 1, map)),
                other => Err(bad(format!("record {} is not an object: {other}", i + 1))),
            })
            .collect::<Result<_>>()?
    };
    rows.into_iter()
        .map(|(at, row)| record(row).map_err(|what| bad(format!("record {at}: {what}"))))
        .collect()
}

fn record(mut row: serde_json::Map<String, Value>) -> std::result::Result<Record, String> {
    let id = match row.remove("id") {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("`id` is missing or empty".into()),
    };
    let deleted = match row.remove("deleted") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(Value::String(s)) => matches!(s.as_str(), "true" | "yes" | "1"),
        Some(other) => return Err(format!("`deleted` must be true or false, not {other}")),
    };
    let members = match row.remove("members") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s
            .split(';')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(String::from)
            .collect(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|m| match m {
                Value::String(s) => Ok(s),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(format!("`members` entries must be ids, not {other}")),
            })
            .collect::<std::result::Result<_, _>>()?,
        Some(other) => return Err(format!("`members` must be a list of ids, not {other}")),
    };
    let updated = match row.get("updated") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => return Err(format!("`updated` must be a string, not {other}")),
    };
    Ok(Record {
        id,
        updated,
        deleted,
        members,
        attributes: row.into_iter().collect(),
    })
}

/// Parses CSV (RFC 4180: quoted fields, doubled quotes, newlines inside quotes) into records
/// keyed by the header row, each with the line it starts on. Empty cells are left out.
fn csv_rows(text: &str) -> std::result::Result<Rows, String> {
    let mut rows: Vec<(usize, Vec<String>)> = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let (mut line, mut row_line, mut quoted) = (1usize, 1usize, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push((row_line, std::mem::take(&mut row)));
                line += 1;
                row_line = line;
            }
            (_, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
        }
    }
    if quoted {
        return Err(format!("line {row_line}: unterminated quoted field"));
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push((row_line, row));
    }
    rows.retain(|(_, r)| !(r.len() == 1 && r[0].trim().is_empty()));
    let mut rows = rows.into_iter();
    let Some((_, header)) = rows.next() else {
        return Ok(Vec::new());
    };
    let header: Vec<String> = header.into_iter().map(|h| h.trim().to_owned()).collect();
    rows.map(|(at, cells)| {
        if cells.len() != header.len() {
            return Err(format!(
                "line {at}: {} fields, but the header has {}",
                cells.len(),
                header.len()
            ));
        }
        let map = header
            .iter()
            .zip(cells)
            .filter(|(_, cell)| !cell.is_empty())
            .map(|(name, cell)| (name.clone(), Value::String(cell)))
            .collect();
        Ok((at, map))
    })
    .collect()
}

fn parse_watermark(watermark: &Watermark) -> Result<String> {
    watermark
        .as_str()
        .strip_prefix(WATERMARK_PREFIX)
        .map(String::from)
        .ok_or_else(|| {
            ConnectorError::invalid_watermark(format!(
                "expected `{WATERMARK_PREFIX}<timestamp>`, found {:?}",
                watermark.as_str()
            ))
            .with_remediation("Run a full import to get a fresh watermark")
        })
}

/// Buffers changes into batches; checks cancellation before each batch goes out.
struct Emitter<'a> {
    sink: &'a mut dyn ChangeSink,
    ctx: &'a Context,
    pending: Vec<Change>,
    emitted: u64,
}

impl Emitter<'_> {
    async fn push(&mut self, change: Change) -> Result<()> {
        self.pending.push(change);
        if self.pending.len() >= BATCH_SIZE {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        if self.ctx.is_cancelled() {
            return Err(ConnectorError::cancelled(format!(
                "directory import cancelled after {} changes",
                self.emitted
            )));
        }
        if !self.pending.is_empty() {
            self.emitted += self.pending.len() as u64;
            self.sink.send(std::mem::take(&mut self.pending)).await?;
        }
        Ok(())
    }
}

struct DirectoryConnector {
    config: DirectoryConfig,
}

impl DirectoryConnector {
    /// Reads table `stem`, logging it; `None` (and a skip) when the file is missing.
    fn load(
        &self,
        ctx: &Context,
        stem: &str,
        scopes: &[&str],
        skipped: &mut Vec<Skipped>,
    ) -> Result<Option<Vec<Record>>> {
        let Some(path) = self.config.table_file(stem) else {
            for object_type in scopes {
                skipped.push(Skipped {
                    scope: Scope::whole(*object_type),
                    reason: format!(
                        "no {stem}.json or {stem}.csv in {}",
                        self.config.folder.display()
                    ),
                    kind: ErrorKind::NotFound,
                });
            }
            return Ok(None);
        };
        let records = read_table(&path)?;
        ctx.log(
            LogRecord::new(Level::Info, "file_read", format!("read {}", path.display()))
                .field("file", path.display().to_string())
                .field("records", records.len()),
        );
        Ok(Some(records))
    }
}

#[async_trait]
impl Connector for DirectoryConnector {
    fn descriptor(&self) -> Descriptor {
        descriptor()
    }

    async fn check(&self, _ctx: &Context) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        for stem in ["people", "groups"] {
            match self.config.table_file(stem) {
                Some(path) => {
                    let records = read_table(&path)?;
                    report.checks.push(format!(
                        "{} holds {} records",
                        path.display(),
                        records.len()
                    ));
                }
                None => report.warnings.push(format!(
                    "no {stem}.json or {stem}.csv in {}",
                    self.config.folder.display()
                )),
            }
        }
        Ok(report)
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
        let since = match (request.mode, &request.watermark) {
            (ImportMode::Full, _) => None,
            (ImportMode::Delta, Some(w)) => Some(parse_watermark(w)?),
            (ImportMode::Delta, None) => {
                return Err(ConnectorError::invalid_watermark(
                    "a delta import needs the watermark of a previous run",
                ));
            }
        };
        let full = since.is_none();
        let changed = |r: &Record| match (&since, &r.updated) {
            (Some(since), Some(updated)) => updated >= since,
            _ => true,
        };
        let mut newest = since.clone().unwrap_or_default();
        let mut note = |r: &Record| {
            if let Some(u) = r.updated.as_ref().filter(|u| **u > newest) {
                newest = u.clone();
            }
        };
        let mut out = Emitter {
            sink,
            ctx,
            pending: Vec::new(),
            emitted: 0,
        };
        let mut skipped = Vec::new();
        out.flush().await?;

        if let Some(people) = self.load(ctx, "people", &[PERSON], &mut skipped)? {
            for person in people.iter().filter(|r| changed(r)) {
                out.push(upsert_or_delete(PERSON, person)).await?;
            }
            people.iter().for_each(&mut note);
            if full {
                out.push(Change::ScopeComplete(Scope::whole(PERSON)))
                    .await?;
            }
        }
        if let Some(groups) = self.load(ctx, "groups", &[GROUP, MEMBER], &mut skipped)? {
            for group in groups.iter().filter(|r| changed(r)) {
                out.push(upsert_or_delete(GROUP, group)).await?;
                if !group.deleted {
                    for person in &group.members {
                        let member = Object::new(MEMBER, format!("{}:{person}", group.id))
                            .in_scope(group.id.clone())
                            .with("groupId", group.id.clone())
                            .with("personId", person.clone());
                        out.push(Change::Upsert(member)).await?;
                    }
                }
                // The group's member list was read entirely, in full and delta runs alike.
                out.push(Change::ScopeComplete(Scope::within(
                    MEMBER,
                    group.id.clone(),
                )))
                .await?;
            }
            groups.iter().for_each(&mut note);
            if full {
                out.push(Change::ScopeComplete(Scope::whole(GROUP))).await?;
                out.push(Change::ScopeComplete(Scope::whole(MEMBER)))
                    .await?;
            }
        }
        out.flush().await?;
        let mut stats = BTreeMap::new();
        stats.insert("changes".to_owned(), out.emitted);
        Ok(ImportOutcome {
            watermark: Some(Watermark::new(format!("{WATERMARK_PREFIX}{newest}"))),
            skipped,
            stats,
        })
    }
}

fn upsert_or_delete(object_type: &str, record: &Record) -> Change {
    if record.deleted {
        return Change::delete(object_type, record.id.clone());
    }
    let mut object = Object::new(object_type, record.id.clone());
    object.attributes = record.attributes.clone();
    if object_type == GROUP {
        object
            .attributes
            .insert("memberCount".into(), record.members.len().into());
    }
    Change::Upsert(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_handles_quotes_and_newlines() {
        let rows =
            csv_rows("id,name,note\n1,\"Lovelace, Ada\",\"said \"\"hi\"\"\ntwice\"\n2,Bob,\n")
                .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, 2);
        assert_eq!(rows[0].1["name"], "Lovelace, Ada");
        assert_eq!(rows[0].1["note"], "said \"hi\"\ntwice");
        assert_eq!(rows[1].0, 4);
        assert!(!rows[1].1.contains_key("note"));
        let err = csv_rows("id,name\n1,a,b\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }
}
