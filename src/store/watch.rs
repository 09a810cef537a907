//! `watched_folders` and `watched_files`: the folders Breakdex keeps adding
//! from, and each file under them as it was when last taken (its size, time
//! and content), so that a rescan hashes only what changed. What a watch
//! does with them is `watch`'s.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::{Result, Store, StoreError};

/// One watched folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WatchedFolder {
    pub id: i64,
    /// Absolute.
    pub path: String,
    /// The providers its uploads go to, by id; empty: every enabled one.
    #[serde(skip)]
    pub provider_ids: Vec<String>,
    pub priority: i64,
    /// The device the folder was on when added.
    #[serde(skip)]
    pub device: Option<u64>,
    pub paused: bool,
    pub added_at: String,
    /// What the watcher last said of it: `watching`, `scanning`, `waiting`
    /// (`new` before any watcher saw it).
    pub state: String,
    /// Why it waits, or how it is watched when not by file events.
    pub problem: Option<String>,
    /// When its last full rescan ended.
    pub scanned_at: Option<String>,
}

/// A file under a watched folder as last taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchedFile {
    /// As recorded in `asset_paths`.
    pub path: String,
    pub size_bytes: i64,
    pub mtime_ns: i64,
    pub content_hash: String,
    pub device: u64,
}

/// What a watched file was when last taken: its size, time and content.
pub type Seen = (i64, i64, String);

/// The rows of the folder `?1`'s file `?2`, or of its files below the folder
/// `?2`: two searches of the primary key (`'0'` is the character after
/// `'/'`; an `OR` of the two would read every row of the folder).
const AT_OR_BELOW: &str = "folder_id = ?1 AND path IN (SELECT ?2 UNION ALL
     SELECT path FROM watched_files WHERE folder_id = ?1 AND path > ?2 || '/' AND path < ?2 || '0')";

/// An asset's local bytes are not at `?2` any more.
const UNSET_LOCAL: &str =
    "UPDATE asset_manifest SET local_path = NULL WHERE content_hash = ?1 AND local_path = ?2";

const SELECT_FOLDER: &str = "SELECT id, path, providers, priority, device, paused, added_at, state, problem, scanned_at FROM watched_folders";

fn folder(r: &Row) -> rusqlite::Result<WatchedFolder> {
    let providers: String = r.get(2)?;
    Ok(WatchedFolder {
        id: r.get(0)?,
        path: r.get(1)?,
        // Written by `add_watched` only; a list that does not read is
        // taken as "every enabled provider".
        provider_ids: serde_json::from_str(&providers).unwrap_or_default(),
        priority: r.get(3)?,
        device: r.get::<_, Option<i64>>(4)?.map(|d| d as u64),
        paused: r.get(5)?,
        added_at: r.get(6)?,
        state: r.get(7)?,
        problem: r.get(8)?,
        scanned_at: r.get(9)?,
    })
}

impl Store {
    /// Every watched folder, in the order they were added.
    pub fn watched_folders(&self) -> Result<Vec<WatchedFolder>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{SELECT_FOLDER} ORDER BY id"))?;
        let rows = stmt.query_map([], folder)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The watched folder at `path` (absolute), if any.
    pub fn watched_folder(&self, path: &str) -> Result<Option<WatchedFolder>> {
        Ok(self
            .conn
            .prepare_cached(&format!("{SELECT_FOLDER} WHERE path = ?1"))?
            .query_row([path], folder)
            .optional()?)
    }

    /// Starts watching `path` (absolute, checked by the caller). Refused for
    /// a folder already watched, inside one, or holding one: a file under
    /// two watched folders would be recorded twice.
    pub fn add_watched(
        &mut self,
        path: &str,
        provider_ids: &[String],
        priority: i64,
        device: Option<u64>,
        paused: bool,
    ) -> Result<WatchedFolder> {
        let tx = self.write_tx()?;
        let others: Vec<String> = tx
            .prepare("SELECT path FROM watched_folders")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let within = |outer: &str, inner: &str| {
            inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.starts_with('/'))
        };
        for other in &others {
            let why = if other == path {
                "it is watched already".to_string()
            } else if within(other, path) {
                format!("it is inside the watched folder {other}")
            } else if within(path, other) {
                format!("it holds the watched folder {other} (remove that one first)")
            } else {
                continue;
            };
            return Err(StoreError::Invalid(format!("{path}: not watched: {why}")));
        }
        tx.execute(
            "INSERT INTO watched_folders (path, providers, priority, device, paused)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                path,
                serde_json::to_string(provider_ids).expect("a list of strings is JSON"),
                priority,
                device.map(|d| d as i64),
                paused
            ],
        )?;
        let added = tx.query_row(
            &format!("{SELECT_FOLDER} WHERE id = last_insert_rowid()"),
            [],
            folder,
        )?;
        tx.commit()?;
        Ok(added)
    }

    /// Stops watching the folder `id`; what was added from it stays in the
    /// library. Whether it was watched.
    pub fn remove_watched(&mut self, id: i64) -> Result<bool> {
        // Its `watched_files` go with it (ON DELETE CASCADE).
        let n = self
            .conn
            .execute("DELETE FROM watched_folders WHERE id = ?1", [id])?;
        Ok(n > 0)
    }

    pub fn set_watch_paused(&mut self, id: i64, paused: bool) -> Result<()> {
        self.conn.execute(
            "UPDATE watched_folders SET paused = ?2 WHERE id = ?1",
            params![id, paused],
        )?;
        Ok(())
    }

    /// What the watcher says of a folder now; `scanned` when a full rescan
    /// just ended (then `scanned_at` is set). Otherwise written only when
    /// it changes.
    pub fn set_watch_state(
        &mut self,
        id: i64,
        state: &str,
        problem: Option<&str>,
        scanned: bool,
    ) -> Result<()> {
        self.conn
            .prepare_cached(&format!(
                "UPDATE watched_folders SET state = ?2, problem = ?3,
                     scanned_at = CASE WHEN ?4 THEN {} ELSE scanned_at END
                 WHERE id = ?1 AND (?4 OR state IS NOT ?2 OR problem IS NOT ?3)",
                super::NOW
            ))?
            .execute(params![id, state, problem, scanned])?;
        Ok(())
    }

    /// Every file of the folder as last taken, keyed by path.
    pub fn watched_files(&self, folder_id: i64) -> Result<HashMap<String, Seen>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT path, size_bytes, mtime_ns, content_hash FROM watched_files WHERE folder_id = ?1",
        )?;
        let rows = stmt.query_map([folder_id], |r| {
            Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many files each watched folder holds as last taken, and their
    /// bytes, keyed by folder.
    pub fn watched_totals(&self) -> Result<HashMap<i64, (u64, u64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT folder_id, COUNT(*), SUM(size_bytes) FROM watched_files GROUP BY folder_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                (r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64),
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// These files of the folder as last taken (one query), keyed by path.
    pub fn watched_files_at(
        &self,
        folder_id: i64,
        paths: &[&str],
    ) -> Result<HashMap<String, Seen>> {
        let list = serde_json::to_string(paths).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT path, size_bytes, mtime_ns, content_hash FROM watched_files
             WHERE folder_id = ?1 AND path IN (SELECT value FROM json_each(?2))",
        )?;
        let rows = stmt.query_map(params![folder_id, list], |r| {
            Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Notes files as taken (their size, time and content now). A file
    /// that held another content before: that content's local bytes are
    /// not there any more (`local` turns a recorded path into the absolute
    /// one).
    pub fn record_watched(
        &mut self,
        folder_id: i64,
        files: &[WatchedFile],
        local: impl Fn(&str) -> String,
    ) -> Result<()> {
        let tx = self.write_tx()?;
        {
            let mut before = tx.prepare_cached(
                "SELECT content_hash FROM watched_files WHERE folder_id = ?1 AND path = ?2",
            )?;
            let mut unset = tx.prepare_cached(UNSET_LOCAL)?;
            for f in files {
                let was: Option<String> = before
                    .query_row(params![folder_id, f.path], |r| r.get(0))
                    .optional()?;
                if let Some(was) = was.filter(|h| *h != f.content_hash) {
                    unset.execute(params![was, local(&f.path)])?;
                }
            }
            let mut stmt = tx.prepare_cached(
                "INSERT INTO watched_files (folder_id, path, size_bytes, mtime_ns, content_hash, device)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (folder_id, path) DO UPDATE SET size_bytes = excluded.size_bytes,
                     mtime_ns = excluded.mtime_ns, content_hash = excluded.content_hash,
                     device = excluded.device",
            )?;
            for f in files {
                stmt.execute(params![
                    folder_id,
                    f.path,
                    f.size_bytes,
                    f.mtime_ns,
                    f.content_hash,
                    f.device as i64
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets the files deleted from the folder among these paths (each,
    /// and everything under it if it was a folder) that `deleted` (given a
    /// recorded path and the device the file was on) says are: their
    /// contents and copies stay, and an asset whose local bytes were there
    /// has none now. `local` turns a recorded path into the absolute one.
    /// Returns how many were forgotten.
    pub fn forget_watched(
        &mut self,
        folder_id: i64,
        paths: &[String],
        local: impl Fn(&str) -> String,
        deleted: impl Fn(&str, u64) -> bool,
    ) -> Result<usize> {
        let tx = self.write_tx()?;
        let mut forgotten = 0;
        {
            let mut under = tx.prepare_cached(&format!(
                "SELECT path, content_hash, device FROM watched_files WHERE {AT_OR_BELOW}"
            ))?;
            let mut gone =
                tx.prepare_cached("DELETE FROM watched_files WHERE folder_id = ?1 AND path = ?2")?;
            let mut unset = tx.prepare_cached(UNSET_LOCAL)?;
            for path in paths {
                let rows: Vec<(String, String, i64)> = under
                    .query_map(params![folder_id, path], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                for (path, hash, device) in rows {
                    if deleted(&path, device as u64) {
                        gone.execute(params![folder_id, path])?;
                        unset.execute(params![hash, local(&path)])?;
                        forgotten += 1;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(forgotten)
    }

    /// A file or folder of the watched folder renamed from `from` to `to`
    /// (recorded paths), with its files unchanged: each file's new path is
    /// recorded for its content (no new upload: the content is known) and
    /// its local bytes are there now. Returns how many files moved.
    pub fn rename_watched(
        &mut self,
        folder_id: i64,
        from: &str,
        to: &str,
        local: impl Fn(&str) -> String,
    ) -> Result<usize> {
        let tx = self.write_tx()?;
        let moved: Vec<(String, String)> = tx
            .prepare_cached(&format!(
                "SELECT path, content_hash FROM watched_files WHERE {AT_OR_BELOW}"
            ))?
            .query_map(params![folder_id, from], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        {
            let mut repoint = tx.prepare_cached(
                "UPDATE watched_files SET path = ?3 WHERE folder_id = ?1 AND path = ?2",
            )?;
            let mut drop_old = tx.prepare_cached(
                "DELETE FROM watched_files WHERE folder_id = ?1 AND path = ?2
                 RETURNING content_hash",
            )?;
            let mut unset = tx.prepare_cached(UNSET_LOCAL)?;
            let mut record = tx.prepare_cached(
                "INSERT INTO asset_paths (content_hash, path, to_known) VALUES (?1, ?2, 1)
                 ON CONFLICT (content_hash, path) DO NOTHING",
            )?;
            let mut relocate = tx.prepare_cached(
                "UPDATE asset_manifest SET local_path = ?3 WHERE content_hash = ?1 AND local_path = ?2",
            )?;
            for (old, hash) in &moved {
                let new = format!("{to}{}", &old[from.len()..]);
                // A file already at the new path gives way to the one moved
                // over it: its content's bytes are not there any more.
                let over: Option<String> = drop_old
                    .query_row(params![folder_id, new], |r| r.get(0))
                    .optional()?;
                if let Some(over) = over.filter(|h| h != hash) {
                    unset.execute(params![over, local(&new)])?;
                }
                repoint.execute(params![folder_id, old, new])?;
                record.execute(params![hash, new])?;
                relocate.execute(params![hash, local(old), local(&new)])?;
            }
        }
        tx.commit()?;
        Ok(moved.len())
    }
}
