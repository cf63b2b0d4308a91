//! Export for the directory connector: people, groups and memberships written back to the
//! folder's JSON tables.
//!
//! * `Person` and `Group` upserts replace the record's attributes (a group keeps its members;
//!   `memberCount`, which imports compute, is never written); deletes remove the record.
//! * `GroupMember` upserts add the person to the group's `members`, deletes remove them; the
//!   group and the person must exist (a membership of a missing group is refused, `not_found`).
//! * A change the files already reflect is `unchanged`, so re-sending an applied change is
//!   harmless.
//! * Every applied change is written before the next one is attempted, atomically (a temporary
//!   file in the same folder, then a rename), so a crash or a cancellation leaves each table
//!   either before or after the change, never half-written. A dry run writes nothing.
//! * Tables kept as CSV are read but not written: their changes fail with `not_supported`.

use std::path::{Path, PathBuf};

use connector_api::{
    Change, ChangeOutcome, ConnectorError, Context, ExportChange, ExportReport, ExportRequest,
    ExportStatus, Object, Result,
};
use serde_json::{Map, Value};

use super::{DirectoryConfig, GROUP, MEMBER, PERSON};

type Row = Map<String, Value>;

/// One table as JSON rows, with where it is written.
struct Table {
    stem: &'static str,
    path: PathBuf,
    rows: Vec<Row>,
    /// Why the table cannot be written (it is a CSV file), if so.
    read_only: Option<String>,
}

impl Table {
    fn load(config: &DirectoryConfig, stem: &'static str) -> Result<Table> {
        let existing = config.table_file(stem);
        let path = existing
            .clone()
            .unwrap_or_else(|| config.folder.join(format!("{stem}.json")));
        if path.extension().is_some_and(|e| e == "csv") {
            return Ok(Table {
                stem,
                rows: Vec::new(),
                read_only: Some(format!(
                    "{} is a CSV file; this connector writes JSON tables only",
                    path.display()
                )),
                path,
            });
        }
        let rows = match existing {
            None => Vec::new(),
            Some(path) => read_rows(&path)?,
        };
        Ok(Table {
            stem,
            path,
            rows,
            read_only: None,
        })
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.rows.iter().position(|row| row_id(row) == Some(id))
    }

    fn contains(&self, id: &str) -> bool {
        self.position(id).is_some()
    }

    fn writable(&self) -> Result<()> {
        match &self.read_only {
            None => Ok(()),
            Some(why) => Err(
                ConnectorError::not_supported(why.clone()).with_remediation(format!(
                    "Convert {}.csv to {}.json to export to it",
                    self.stem, self.stem
                )),
            ),
        }
    }

    /// Writes the table atomically: a temporary file next to it, then a rename.
    fn save(&self) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.rows)
            .map_err(|e| ConnectorError::internal(format!("serialising {}: {e}", self.stem)))?;
        let tmp = self
            .path
            .with_extension(format!("json.tmp-{}", std::process::id()));
        let failed = |e: std::io::Error| {
            ConnectorError::unavailable(format!("writing {}: {e}", self.path.display()))
                .with_remediation("Check that the folder is writable and has free space")
        };
        std::fs::write(&tmp, text + "\n").map_err(failed)?;
        std::fs::rename(&tmp, &self.path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            failed(e)
        })
    }
}

fn read_rows(path: &Path) -> Result<Vec<Row>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConnectorError::unavailable(format!("reading {}: {e}", path.display())))?;
    let items: Vec<Value> = serde_json::from_str(&text).map_err(|e| {
        ConnectorError::protocol(format!(
            "{}: expected a JSON array of records: {e}",
            path.display()
        ))
    })?;
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(row) => Ok(row),
            other => Err(ConnectorError::protocol(format!(
                "{}: record {} is not an object: {other}",
                path.display(),
                i + 1
            ))),
        })
        .collect()
}

fn row_id(row: &Row) -> Option<&str> {
    row.get("id").and_then(Value::as_str)
}

/// A group row's member ids, read as imports read them (an array, or `;`-separated text).
fn members(row: &Row) -> Result<Vec<String>> {
    super::record(row.clone())
        .map(|record| record.members)
        .map_err(|what| ConnectorError::protocol(format!("groups table: {what}")))
}

/// What applying one change did to the tables.
enum Effect {
    /// Nothing to do: the tables already reflect the change.
    Unchanged,
    /// The change was applied to the table with this stem, in memory.
    Changed(&'static str),
}

/// The people and groups tables during one export.
struct Tables {
    people: Table,
    groups: Table,
}

impl Tables {
    fn table(&self, stem: &str) -> &Table {
        if stem == "people" {
            &self.people
        } else {
            &self.groups
        }
    }

    fn apply(&mut self, change: &Change) -> Result<Effect> {
        match change {
            Change::Upsert(object) => match object.object_type.as_str() {
                PERSON => upsert_record(&mut self.people, object, &[]),
                GROUP => upsert_record(&mut self.groups, object, &["memberCount"]),
                MEMBER => self.add_member(object),
                other => Err(unsupported_type(other)),
            },
            Change::Delete {
                object_type,
                external_id,
            } => match object_type.as_str() {
                PERSON => delete_record(&mut self.people, external_id),
                GROUP => delete_record(&mut self.groups, external_id),
                MEMBER => self.remove_member(external_id),
                other => Err(unsupported_type(other)),
            },
            other => Err(ConnectorError::not_supported(format!(
                "`{}` changes cannot be exported; send upserts and deletes",
                other.kind()
            ))),
        }
    }

    fn add_member(&mut self, object: &Object) -> Result<Effect> {
        let (group, person) = membership(object)?;
        self.groups.writable()?;
        let Some(at) = self.groups.position(&group) else {
            return Err(ConnectorError::not_found(format!(
                "membership {}: group {group} does not exist",
                object.external_id
            ))
            .with_remediation("Create the group first (a Group upsert earlier in the file)"));
        };
        if self.people.read_only.is_none() && !self.people.contains(&person) {
            return Err(ConnectorError::not_found(format!(
                "membership {}: person {person} does not exist",
                object.external_id
            ))
            .with_remediation("Create the person first (a Person upsert earlier in the file)"));
        }
        let mut ids = members(&self.groups.rows[at])?;
        if ids.contains(&person) {
            return Ok(Effect::Unchanged);
        }
        ids.push(person);
        self.groups.rows[at].insert("members".into(), ids.into());
        Ok(Effect::Changed("groups"))
    }

    fn remove_member(&mut self, external_id: &str) -> Result<Effect> {
        let (group, person) = split_membership(external_id)?;
        self.groups.writable()?;
        let Some(at) = self.groups.position(&group) else {
            return Ok(Effect::Unchanged);
        };
        let mut ids = members(&self.groups.rows[at])?;
        let before = ids.len();
        ids.retain(|m| *m != person);
        if ids.len() == before {
            return Ok(Effect::Unchanged);
        }
        self.groups.rows[at].insert("members".into(), ids.into());
        Ok(Effect::Changed("groups"))
    }
}

fn unsupported_type(object_type: &str) -> ConnectorError {
    ConnectorError::not_supported(format!(
        "object type `{object_type}` cannot be exported (expected {PERSON}, {GROUP} or {MEMBER})"
    ))
}

fn upsert_record(table: &mut Table, object: &Object, computed: &[&str]) -> Result<Effect> {
    table.writable()?;
    let mut row = Row::new();
    row.insert("id".into(), object.external_id.clone().into());
    for (name, value) in &object.attributes {
        if !computed.contains(&name.as_str()) && !matches!(name.as_str(), "id" | "members") {
            row.insert(name.clone(), value.clone());
        }
    }
    match table.position(&object.external_id) {
        Some(at) => {
            if let Some(kept) = table.rows[at].get("members") {
                row.insert("members".into(), kept.clone());
            }
            if table.rows[at] == row {
                return Ok(Effect::Unchanged);
            }
            table.rows[at] = row;
        }
        None => table.rows.push(row),
    }
    Ok(Effect::Changed(table.stem))
}

fn delete_record(table: &mut Table, id: &str) -> Result<Effect> {
    table.writable()?;
    match table.position(id) {
        None => Ok(Effect::Unchanged),
        Some(at) => {
            table.rows.remove(at);
            Ok(Effect::Changed(table.stem))
        }
    }
}

/// The group and person of a membership: its `groupId`/`personId` attributes, or its id.
fn membership(object: &Object) -> Result<(String, String)> {
    let attr = |name: &str| object.attributes.get(name).and_then(Value::as_str);
    match (attr("groupId"), attr("personId")) {
        (Some(group), Some(person)) => Ok((group.to_owned(), person.to_owned())),
        _ => split_membership(&object.external_id),
    }
}

fn split_membership(id: &str) -> Result<(String, String)> {
    match id.split_once(':') {
        Some((group, person)) if !group.is_empty() && !person.is_empty() => {
            Ok((group.to_owned(), person.to_owned()))
        }
        _ => Err(ConnectorError::invalid_config(format!(
            "membership id {id:?} is not `<group id>:<person id>`"
        ))),
    }
}

/// Runs an export against the folder of `config`; see the module documentation.
pub(super) fn export(
    config: &DirectoryConfig,
    ctx: &Context,
    request: ExportRequest,
) -> Result<ExportReport> {
    let mut tables = Tables {
        people: Table::load(config, "people")?,
        groups: Table::load(config, "groups")?,
    };
    let mut outcomes = Vec::with_capacity(request.changes.len());
    let mut stopped: Option<String> = None;
    for ExportChange { key, change, .. } in request.changes {
        if stopped.is_none() && ctx.is_cancelled() {
            stopped = Some("not attempted: the export was cancelled before this change".into());
        }
        if let Some(reason) = &stopped {
            outcomes.push(ChangeOutcome::skipped(key, reason.clone()));
            continue;
        }
        let status = match tables.apply(&change) {
            Ok(Effect::Unchanged) => ExportStatus::Unchanged,
            Ok(Effect::Changed(stem)) if request.dry_run => {
                let _ = stem;
                ExportStatus::Applied { assigned_id: None }
            }
            Ok(Effect::Changed(stem)) => match tables.table(stem).save() {
                Ok(()) => ExportStatus::Applied { assigned_id: None },
                Err(error) => {
                    stopped = Some(format!("not attempted: an earlier change failed: {error}"));
                    ExportStatus::Failed { error }
                }
            },
            Err(error) => ExportStatus::Failed { error },
        };
        outcomes.push(ChangeOutcome::new(key, status));
    }
    Ok(ExportReport::new(outcomes))
}
