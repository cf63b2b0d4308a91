//! Deletes by reference ([`Change::DeleteWhere`](connector_api::Change)): every stored object
//! of a type whose attribute equals a value, for example every `GroupMember` of a user deleted
//! at the source when the connector does not know the user's groups.
//!
//! The attribute is looked up through an expression index on
//! `json_extract(attributes, '$.<attribute>')` per (connector, type), created the first time a
//! run deletes by that attribute (once; a few seconds on a store of millions of objects), so
//! each delete is an index look-up, not a scan. Attribute names are checked to be letters,
//! digits and `_` before they reach SQL.

use std::collections::BTreeSet;

use rusqlite::params;

use super::{Result, StoreError, Tx, sqlite};

/// One delete by reference and the objects the run upserted after it (spared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteWhere {
    /// The object type.
    pub object_type: String,
    /// The attribute compared.
    pub attribute: String,
    /// The value it must equal.
    pub value: String,
    /// External ids of the type this run upserted after the change, with the attribute equal
    /// to the value: they are kept.
    pub spared: BTreeSet<String>,
}

impl Tx<'_> {
    /// Deletes the stored objects `d` names, except the spared ones; returns how many of them
    /// existed before run `run_id`.
    ///
    /// # Errors
    /// An attribute name that is not letters, digits and `_`; SQLite failed.
    pub fn delete_where(&self, connector: &str, d: &DeleteWhere, run_id: i64) -> Result<u64> {
        if !connector_api::is_valid_match_attribute(&d.attribute) {
            return Err(StoreError::Io {
                path: self.path.to_owned(),
                message: format!(
                    "refusing to delete by the attribute {:?}: only letters, digits and `_` are allowed",
                    d.attribute
                ),
            });
        }
        let path = format!("$.{}", d.attribute);
        self.tx
            .execute_batch(&format!(
                "CREATE INDEX IF NOT EXISTS objects_by_attr_{attr} ON objects \
                 (connector, type, json_extract(attributes, '{path}'))",
                attr = d.attribute
            ))
            .map_err(sqlite(self.path, "indexing an attribute to delete by"))?;
        // The path is written out (not bound) so SQLite matches the expression index.
        let mut select = self
            .tx
            .prepare_cached(&format!(
                "SELECT external_id, first_seen_run FROM objects \
                 WHERE connector = ?1 AND type = ?2 AND json_extract(attributes, '{path}') = ?3"
            ))
            .map_err(sqlite(self.path, "finding objects to delete by reference"))?;
        let found: Vec<(String, i64)> = select
            .query_map(params![connector, d.object_type, d.value], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .and_then(Iterator::collect)
            .map_err(sqlite(self.path, "finding objects to delete by reference"))?;
        let mut deleted = 0;
        for (external_id, first_seen) in found {
            if d.spared.contains(&external_id) {
                continue;
            }
            self.tx
                .execute(
                    "DELETE FROM objects WHERE connector = ?1 AND type = ?2 AND external_id = ?3",
                    params![connector, d.object_type, external_id],
                )
                .map_err(sqlite(self.path, "deleting an object by reference"))?;
            deleted += u64::from(first_seen < run_id);
        }
        Ok(deleted)
    }
}
