//! `asset_copies`: which provider holds which content, under which key, and
//! what the last check of that copy found.

use rusqlite::params;
use serde::Serialize;

use super::manifest::{SELECT_ENTRY, entry};
use super::{ManifestEntry, Result, Store};

/// What the last look at a remote copy found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyStatus {
    Ok,
    Missing,
    Corrupt,
}

impl VerifyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyStatus::Ok => "ok",
            VerifyStatus::Missing => "missing",
            VerifyStatus::Corrupt => "corrupt",
        }
    }
}

/// One remote copy of an asset.
#[derive(Clone, Debug, Serialize)]
pub struct AssetCopy {
    pub content_hash: String,
    pub provider_id: String,
    pub remote_key: String,
    pub stored_at: String,
    pub verified_at: Option<String>,
    pub verify_status: String,
}

impl Store {
    /// Every copy recorded for a provider.
    pub fn copies_on(&self, provider_id: &str) -> Result<Vec<AssetCopy>> {
        self.query_copies("provider_id = ?1", provider_id)
    }

    /// How many copies are recorded for a provider.
    pub fn copy_count_on(&self, provider_id: &str) -> Result<usize> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM asset_copies WHERE provider_id = ?1",
            params![provider_id],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }

    /// Every copy recorded of one asset.
    pub fn copies_of(&self, content_hash: &str) -> Result<Vec<AssetCopy>> {
        self.query_copies("content_hash = ?1", content_hash)
    }

    fn query_copies(&self, filter: &str, value: &str) -> Result<Vec<AssetCopy>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT content_hash, provider_id, remote_key, stored_at, verified_at, verify_status
             FROM asset_copies WHERE {filter} ORDER BY content_hash, provider_id"
        ))?;
        let rows = stmt.query_map(params![value], |r| {
            Ok(AssetCopy {
                content_hash: r.get(0)?,
                provider_id: r.get(1)?,
                remote_key: r.get(2)?,
                stored_at: r.get(3)?,
                verified_at: r.get(4)?,
                verify_status: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl Store {
    /// The assets with local bytes recorded that have no good copy on this
    /// provider: what copying the library to it would upload.
    pub fn assets_lacking(&self, provider_id: &str) -> Result<Vec<ManifestEntry>> {
        let mut stmt = self.conn.prepare(&format!(
            "{SELECT_ENTRY} m
             WHERE local_path IS NOT NULL AND NOT EXISTS (
                 SELECT 1 FROM asset_copies c
                 WHERE c.content_hash = m.content_hash AND c.provider_id = ?1
                   AND c.verify_status = 'ok')
             ORDER BY rowid"
        ))?;
        let rows = stmt.query_map([provider_id], entry)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
