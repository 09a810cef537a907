//! `asset_manifest`: one row per content hash, and where its bytes live locally.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Row, ToSql};
use serde::Serialize;

use super::operations::value_rows;
use super::{Result, Store, StoreError};

/// Rows per INSERT of [`Store::record_assets`].
const RECORD_ROWS: usize = 256;

const SELECT_ENTRY: &str = "SELECT content_hash, size_bytes, original_name, local_path, media_type, added_at FROM asset_manifest";

fn entry(r: &Row) -> rusqlite::Result<ManifestEntry> {
    Ok(ManifestEntry {
        content_hash: r.get(0)?,
        size_bytes: r.get(1)?,
        original_name: r.get(2)?,
        local_path: r.get(3)?,
        media_type: r.get(4)?,
        added_at: r.get(5)?,
    })
}

/// One asset as recorded.
#[derive(Clone, Debug, Serialize)]
pub struct ManifestEntry {
    pub content_hash: String,
    pub size_bytes: i64,
    pub original_name: String,
    pub local_path: Option<String>,
    pub media_type: String,
    pub added_at: String,
}

impl Store {
    /// Records assets (one row per content). A hash already known keeps its
    /// row; only its local path is refreshed to the newest place its bytes were
    /// seen. All in one transaction.
    pub fn record_assets(&mut self, entries: &[ManifestEntry]) -> Result<()> {
        let tx = self.write_tx()?;
        // Many rows per statement: one parse and one VM run per chunk.
        for chunk in entries.chunks(RECORD_ROWS) {
            let mut stmt = tx.prepare_cached(&format!(
                "INSERT INTO asset_manifest (content_hash, size_bytes, original_name, local_path, media_type)
                 VALUES {}
                 ON CONFLICT (content_hash) DO UPDATE SET local_path = excluded.local_path",
                value_rows(chunk.len(), 5)
            ))?;
            let mut args: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * 5);
            for e in chunk {
                args.extend([
                    &e.content_hash as &dyn ToSql,
                    &e.size_bytes,
                    &e.original_name,
                    &e.local_path,
                    &e.media_type,
                ]);
            }
            stmt.execute(args.as_slice())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The asset with this hash, if recorded.
    pub fn asset(&self, content_hash: &str) -> Result<Option<ManifestEntry>> {
        Ok(self
            .conn
            .prepare_cached(&format!("{SELECT_ENTRY} WHERE content_hash = ?1"))?
            .query_row([content_hash], entry)
            .optional()?)
    }

    /// The recorded assets among these hashes (one query, whatever their
    /// number), keyed by hash.
    pub fn assets(&self, hashes: &[&str]) -> Result<HashMap<String, ManifestEntry>> {
        if hashes.is_empty() {
            return Ok(HashMap::new());
        }
        let list = serde_json::to_string(hashes).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SELECT_ENTRY} WHERE content_hash IN (SELECT value FROM json_each(?1))"
        ))?;
        let found = stmt
            .query_map([list], entry)?
            .map(|e| e.map(|e| (e.content_hash.clone(), e)))
            .collect::<rusqlite::Result<_>>()?;
        Ok(found)
    }
}
