//! Restores in the library: which assets can be restored from where, and
//! `restore_targets`, the files a restore is to make (a folder and a
//! recorded path each), which the engine's downloads place and mark done.

use std::collections::HashMap;

use rusqlite::params;
use serde::Serialize;

use super::{Result, Store, StoreError};

/// An asset a restore can bring back: its recorded paths, and the providers
/// holding a good copy, the most recently verified first.
#[derive(Clone, Debug)]
pub struct Restorable {
    pub content_hash: String,
    pub size_bytes: i64,
    pub paths: Vec<String>,
    /// Provider ids.
    pub held_by: Vec<String>,
}

/// A file a restore is to make.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RestoreTarget {
    pub id: i64,
    /// The restore folder (absolute).
    pub dir: String,
    /// The recorded path, under `dir`.
    pub path: String,
}

/// How a download left one of its restore targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetDone {
    pub id: i64,
    /// Where the file now is; `None` if it was refused.
    pub placed_path: Option<String>,
    /// Why it was refused, or placed under another name.
    pub note: Option<String>,
}

impl Store {
    /// Every asset with a good copy on one of `providers`.
    pub fn restorable(&self, providers: &[String]) -> Result<Vec<Restorable>> {
        let list =
            serde_json::to_string(providers).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut stmt = self.conn.prepare(
            "SELECT m.content_hash, m.size_bytes, c.provider_id
             FROM asset_copies c JOIN asset_manifest m ON m.content_hash = c.content_hash
             WHERE c.verify_status = 'ok' AND c.provider_id IN (SELECT value FROM json_each(?1))
             ORDER BY m.rowid, c.verified_at IS NULL, c.verified_at DESC, c.stored_at DESC",
        )?;
        let rows = stmt.query_map([list], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut found: Vec<Restorable> = Vec::new();
        for row in rows {
            let (hash, size, provider) = row?;
            match found.last_mut() {
                Some(last) if last.content_hash == hash => last.held_by.push(provider),
                _ => found.push(Restorable {
                    content_hash: hash,
                    size_bytes: size,
                    paths: Vec::new(),
                    held_by: vec![provider],
                }),
            }
        }
        let hashes: Vec<&str> = found.iter().map(|r| r.content_hash.as_str()).collect();
        let mut paths = HashMap::new();
        for chunk in hashes.chunks(10_000) {
            paths.extend(self.paths_of(chunk)?);
        }
        for r in &mut found {
            r.paths = paths.remove(&r.content_hash).unwrap_or_default();
        }
        Ok(found)
    }

    /// Records files a restore is to make: `(content hash, path)` under
    /// `dir`. One asked for again (a restore run twice, or two at once) is
    /// one target, made pending again. Returns how many are pending now.
    pub fn add_restore_targets(
        &mut self,
        dir: &str,
        targets: &[(String, String)],
    ) -> Result<usize> {
        let tx = self.write_tx()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO restore_targets (content_hash, dir, path) VALUES (?1, ?2, ?3)
                 ON CONFLICT (dir, path, content_hash) DO UPDATE SET
                     done_at = NULL, placed_path = NULL, note = NULL",
            )?;
            for (hash, path) in targets {
                insert.execute(params![hash, dir, path])?;
            }
        }
        tx.commit()?;
        Ok(targets.len())
    }

    /// The pending restore targets of these assets, keyed by hash.
    pub fn pending_targets(&self, hashes: &[&str]) -> Result<HashMap<String, Vec<RestoreTarget>>> {
        let mut found: HashMap<String, Vec<RestoreTarget>> = HashMap::new();
        if hashes.is_empty() {
            return Ok(found);
        }
        let list = serde_json::to_string(hashes).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT content_hash, id, dir, path FROM restore_targets
             WHERE done_at IS NULL AND content_hash IN (SELECT value FROM json_each(?1))
             ORDER BY id",
        )?;
        let rows = stmt.query_map([list], |r| {
            Ok((
                r.get::<_, String>(0)?,
                RestoreTarget {
                    id: r.get(1)?,
                    dir: r.get(2)?,
                    path: r.get(3)?,
                },
            ))
        })?;
        for row in rows {
            let (hash, target) = row?;
            found.entry(hash).or_default().push(target);
        }
        Ok(found)
    }
}

/// Marks the targets a download handled done; if targets of the same asset
/// were asked for since it started, queues the download again for them.
pub(super) fn targets_done(
    tx: &rusqlite::Transaction,
    op_id: &str,
    hash: &str,
    done: &[TargetDone],
    at: &str,
) -> Result<()> {
    let mut mark = tx.prepare_cached(
        "UPDATE restore_targets SET done_at = ?2, placed_path = ?3, note = ?4 WHERE id = ?1",
    )?;
    for t in done {
        mark.execute(params![t.id, at, t.placed_path, t.note])?;
    }
    tx.prepare_cached(
        "INSERT INTO sync_operations
             (id, content_hash, provider_id, operation_type, priority, total_bytes, created_at)
         SELECT ?3, content_hash, provider_id, operation_type, priority, total_bytes, ?4
         FROM sync_operations
         WHERE id = ?1 AND EXISTS (
             SELECT 1 FROM restore_targets WHERE content_hash = ?2 AND done_at IS NULL)
         ON CONFLICT DO NOTHING",
    )?
    .execute(params![op_id, hash, super::new_id(), at])?;
    Ok(())
}
