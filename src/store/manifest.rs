//! `asset_manifest`: one row per content hash, and where its bytes live locally.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Result, Store};

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
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO asset_manifest (content_hash, size_bytes, original_name, local_path, media_type)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (content_hash) DO UPDATE SET local_path = excluded.local_path",
            )?;
            for e in entries {
                stmt.execute(params![
                    e.content_hash,
                    e.size_bytes,
                    e.original_name,
                    e.local_path,
                    e.media_type
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The asset with this hash, if recorded.
    pub fn asset(&self, content_hash: &str) -> Result<Option<ManifestEntry>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT content_hash, size_bytes, original_name, local_path, media_type, added_at
                 FROM asset_manifest WHERE content_hash = ?1",
            )?
            .query_row([content_hash], |r| {
                Ok(ManifestEntry {
                    content_hash: r.get(0)?,
                    size_bytes: r.get(1)?,
                    original_name: r.get(2)?,
                    local_path: r.get(3)?,
                    media_type: r.get(4)?,
                    added_at: r.get(5)?,
                })
            })
            .optional()?)
    }
}
