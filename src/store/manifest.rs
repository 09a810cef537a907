//! `asset_manifest`: one row per content hash, and where its bytes live
//! locally; `asset_paths`: every path each content was added under.

use std::collections::{HashMap, HashSet};

use rusqlite::{OptionalExtension, Row, ToSql};
use serde::Serialize;

use super::operations::value_rows;
use super::{Result, Store, StoreError};

/// Rows per INSERT of [`Store::record_assets`].
const RECORD_ROWS: usize = 256;

/// One path an asset was added under: relative to what was added,
/// `/`-separated (`2026/trip/a.jpg`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AssetPath {
    pub content_hash: String,
    pub path: String,
}

pub(super) const SELECT_ENTRY: &str = "SELECT content_hash, size_bytes, original_name, local_path, media_type, added_at FROM asset_manifest";

pub(super) fn entry(r: &Row) -> rusqlite::Result<ManifestEntry> {
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
    /// Records assets (one row per content) and the paths they were added
    /// under. A hash already known keeps its row; only its local path is
    /// refreshed to the newest place its bytes were seen. A path already
    /// recorded for its content is kept as it was. All in one transaction.
    pub fn record_assets(&mut self, entries: &[ManifestEntry], paths: &[AssetPath]) -> Result<()> {
        let tx = self.write_tx()?;
        // The contents known before: their new paths are marked `to_known`.
        let newest: i64 = tx.query_row(
            "SELECT COALESCE(MAX(rowid), 0) FROM asset_manifest",
            [],
            |r| r.get(0),
        )?;
        let mut known = HashSet::new();
        // Many rows per statement: one parse and one VM run per chunk.
        for chunk in entries.chunks(RECORD_ROWS) {
            let mut stmt = tx.prepare_cached(&format!(
                "INSERT INTO asset_manifest (content_hash, size_bytes, original_name, local_path, media_type)
                 VALUES {}
                 ON CONFLICT (content_hash) DO UPDATE SET local_path = excluded.local_path
                 RETURNING content_hash, rowid",
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
            let mut rows = stmt.query(args.as_slice())?;
            while let Some(row) = rows.next()? {
                if row.get::<_, i64>(1)? <= newest {
                    known.insert(row.get::<_, String>(0)?);
                }
            }
        }
        for chunk in paths.chunks(RECORD_ROWS) {
            let mut stmt = tx.prepare_cached(&format!(
                "INSERT INTO asset_paths (content_hash, path, to_known) VALUES {}
                 ON CONFLICT (content_hash, path) DO NOTHING",
                value_rows(chunk.len(), 3)
            ))?;
            let flags: Vec<bool> = chunk
                .iter()
                .map(|p| known.contains(&p.content_hash))
                .collect();
            let args: Vec<&dyn ToSql> = chunk
                .iter()
                .zip(&flags)
                .flat_map(|(p, known)| [&p.content_hash as &dyn ToSql, &p.path, known])
                .collect();
            stmt.execute(args.as_slice())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Every path recorded for each of these assets (one query, whatever
    /// their number), in the order they were recorded, keyed by hash.
    pub fn paths_of(&self, hashes: &[&str]) -> Result<HashMap<String, Vec<String>>> {
        let mut found: HashMap<String, Vec<String>> = HashMap::new();
        if hashes.is_empty() {
            return Ok(found);
        }
        let list = serde_json::to_string(hashes).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT content_hash, path FROM asset_paths
             WHERE content_hash IN (SELECT value FROM json_each(?1)) ORDER BY id",
        )?;
        let rows = stmt.query_map([list], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
        for row in rows {
            let (hash, path) = row?;
            found.entry(hash).or_default().push(path);
        }
        Ok(found)
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

/// One asset with everything the library knows of it: the `assets` listing.
#[derive(Clone, Debug, Serialize)]
pub struct AssetListing {
    pub content_hash: String,
    pub paths: Vec<String>,
    pub size_bytes: i64,
    pub media_type: String,
    pub added_at: String,
    pub local_path: Option<String>,
    pub copies: Vec<CopyListing>,
}

/// One copy in the `assets` listing.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CopyListing {
    /// The provider's name.
    pub provider: String,
    #[serde(skip)]
    pub provider_id: String,
    pub verify_status: String,
    pub verified_at: Option<String>,
}

impl Store {
    /// Every asset the library knows, local or only on providers, in the
    /// order they were recorded.
    pub fn asset_listing(&self) -> Result<Vec<AssetListing>> {
        let mut paths: HashMap<String, Vec<String>> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare("SELECT content_hash, path FROM asset_paths ORDER BY id")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))? {
            let (hash, path) = row?;
            paths.entry(hash).or_default().push(path);
        }
        let mut copies: HashMap<String, Vec<CopyListing>> = HashMap::new();
        let mut stmt = self.conn.prepare(
            "SELECT c.content_hash, p.name, c.provider_id, c.verify_status, c.verified_at
             FROM asset_copies c JOIN sync_providers p ON p.id = c.provider_id
             ORDER BY p.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                CopyListing {
                    provider: r.get(1)?,
                    provider_id: r.get(2)?,
                    verify_status: r.get(3)?,
                    verified_at: r.get(4)?,
                },
            ))
        })?;
        for row in rows {
            let (hash, copy) = row?;
            copies.entry(hash).or_default().push(copy);
        }
        let mut stmt = self.conn.prepare(
            "SELECT content_hash, size_bytes, media_type, added_at, local_path
             FROM asset_manifest ORDER BY rowid",
        )?;
        let rows = stmt.query_map([], |r| {
            let content_hash: String = r.get(0)?;
            Ok(AssetListing {
                paths: paths.remove(&content_hash).unwrap_or_default(),
                copies: copies.remove(&content_hash).unwrap_or_default(),
                content_hash,
                size_bytes: r.get(1)?,
                media_type: r.get(2)?,
                added_at: r.get(3)?,
                local_path: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
