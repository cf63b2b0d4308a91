//! Watermarks: one per connector, written by successful runs and by operators.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Result, SqliteStore, Tx, sqlite};

/// Who wrote a watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatermarkSource {
    /// A successful run.
    Run,
    /// `host watermark --set`.
    Operator,
}

/// The stored watermark of a connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatermarkRow {
    /// The connector-defined text.
    pub value: String,
    /// The run that stored it (`None` when an operator set it).
    pub run_id: Option<i64>,
    /// Who stored it.
    pub set_by: WatermarkSource,
    /// When (RFC 3339).
    pub updated_at: String,
}

impl SqliteStore {
    /// The stored watermark of `connector`.
    ///
    /// # Errors
    /// SQLite failed.
    pub fn watermark(&self, connector: &str) -> Result<Option<WatermarkRow>> {
        self.conn
            .query_row(
                "SELECT value, run_id, set_by, updated_at FROM watermarks WHERE connector = ?1",
                [connector],
                |r| {
                    let set_by: String = r.get(2)?;
                    Ok(WatermarkRow {
                        value: r.get(0)?,
                        run_id: r.get(1)?,
                        set_by: if set_by == "operator" {
                            WatermarkSource::Operator
                        } else {
                            WatermarkSource::Run
                        },
                        updated_at: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(sqlite(&self.path, "reading the watermark"))
    }

    /// Stores a watermark an operator chose (validated by the caller).
    ///
    /// # Errors
    /// SQLite failed.
    pub fn set_watermark_by_operator(
        &mut self,
        connector: &str,
        value: &str,
        at: &str,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO watermarks (connector, value, run_id, set_by, updated_at) \
                 VALUES (?1, ?2, NULL, 'operator', ?3) \
                 ON CONFLICT (connector) DO UPDATE SET value = excluded.value, run_id = NULL, \
                 set_by = 'operator', updated_at = excluded.updated_at",
                params![connector, value, at],
            )
            .map_err(sqlite(&self.path, "storing the watermark"))?;
        Ok(())
    }

    /// Removes the watermark; the next `auto` run is a full one. Returns whether one existed.
    ///
    /// # Errors
    /// SQLite failed.
    pub fn clear_watermark(&mut self, connector: &str) -> Result<bool> {
        let n = self
            .conn
            .execute("DELETE FROM watermarks WHERE connector = ?1", [connector])
            .map_err(sqlite(&self.path, "clearing the watermark"))?;
        Ok(n > 0)
    }
}

impl Tx<'_> {
    /// Stores the watermark a successful run returned (`None`: the connector has no delta
    /// support, so any old watermark is removed).
    ///
    /// # Errors
    /// SQLite failed.
    pub fn set_watermark_from_run(
        &self,
        connector: &str,
        value: Option<&str>,
        run_id: i64,
        at: &str,
    ) -> Result<()> {
        match value {
            Some(value) => self.tx.execute(
                "INSERT INTO watermarks (connector, value, run_id, set_by, updated_at) \
                 VALUES (?1, ?2, ?3, 'run', ?4) \
                 ON CONFLICT (connector) DO UPDATE SET value = excluded.value, \
                 run_id = excluded.run_id, set_by = 'run', updated_at = excluded.updated_at",
                params![connector, value, run_id, at],
            ),
            None => self
                .tx
                .execute("DELETE FROM watermarks WHERE connector = ?1", [connector]),
        }
        .map_err(sqlite(self.path, "storing the watermark"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_and_run_watermarks() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        store.ensure_connector("okta", "/l.so", None, "t").unwrap();
        assert!(store.watermark("okta").unwrap().is_none());
        store
            .set_watermark_by_operator("okta", r#"{"u":"x"}"#, "t1")
            .unwrap();
        let w = store.watermark("okta").unwrap().unwrap();
        assert_eq!(w.set_by, WatermarkSource::Operator);
        assert_eq!(w.run_id, None);

        let run = store
            .begin_run("okta", connector_api::ImportMode::Full, None, "t2", None)
            .unwrap();
        let tx = store.begin().unwrap();
        tx.set_watermark_from_run("okta", Some("w2"), run, "t3")
            .unwrap();
        tx.commit().unwrap();
        let w = store.watermark("okta").unwrap().unwrap();
        assert_eq!((w.value.as_str(), w.run_id), ("w2", Some(run)));
        assert_eq!(w.set_by, WatermarkSource::Run);

        assert!(store.clear_watermark("okta").unwrap());
        assert!(!store.clear_watermark("okta").unwrap());
    }
}
