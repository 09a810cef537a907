//! The catalog's bookkeeping in the library: the library's id, how far each
//! provider's catalog is written (`catalog_state`), what is still to be
//! written there, the segments written (`catalog_segments`), and bringing in
//! what a scan of a provider's catalog found.
//!
//! What a provider's catalog must describe is derived, never queued: every
//! copy recorded on it past its `copies_mark`, every path recorded past its
//! `paths_mark` of an asset it holds, and its `catalog_removals`. Marks only
//! move once a segment holding those entries is on the provider, so a crash
//! at any point leaves them to be written again by the next engine.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use rusqlite::{OptionalExtension, ToSql, params};
use serde::Serialize;

use super::operations::value_rows;
use super::{NOW, Result, Store, StoreError, now_plus};

/// One asset as a catalog describes it: present on the provider (with what
/// the library knows of it), or removed from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogAsset {
    pub content_hash: String,
    /// `None` when the provider no longer holds it (then `removed_at` says when).
    pub described: Option<Described>,
    pub removed_at: Option<String>,
}

/// What a catalog says of an asset a provider holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Described {
    pub size_bytes: i64,
    pub media_type: String,
    pub added_at: String,
    /// Every path it was added under, with when, in the order recorded.
    pub paths: Vec<(String, String)>,
}

/// What a provider's catalog still lacks, read under this engine's writer
/// lease: the entries of the next segment and where the marks go once it is
/// on the provider.
#[derive(Clone, Debug)]
pub struct PendingSegment {
    pub provider_id: String,
    /// The segment's number.
    pub seq: i64,
    pub entries: Vec<CatalogAsset>,
    pub copies_mark: i64,
    pub paths_mark: i64,
    /// The `catalog_removals` rows it says.
    pub removal_ids: Vec<i64>,
    /// Whether more is pending beyond this segment.
    pub more: bool,
}

/// One segment this library wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SegmentRow {
    pub name: String,
    pub seq: i64,
    pub entries: i64,
    pub bytes: i64,
}

/// One asset a scan found described on a provider and held there.
#[derive(Clone, Debug)]
pub struct ScannedAsset {
    pub content_hash: String,
    pub described: Described,
    pub remote_key: String,
}

/// What bringing a scan in changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ScanCounts {
    /// Assets the library did not know before.
    pub new: usize,
    /// Assets it knew already.
    pub known: usize,
    /// Paths recorded that were not before.
    pub new_paths: usize,
    /// Copies on the provider recorded that were not before.
    pub new_copies: usize,
}

impl Store {
    /// This library's id, made once when its schema was created.
    pub fn library_id(&self) -> Result<String> {
        Ok(self.conn.query_row(
            "SELECT value FROM library_settings WHERE key = 'library_id'",
            [],
            |r| r.get(0),
        )?)
    }

    /// How many entries each provider's catalog still lacks (copies and paths
    /// past its marks, removals), for the providers that lack any; each kind
    /// is counted up to `enough` only.
    pub fn catalog_backlog(&self, enough: i64) -> Result<HashMap<String, i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.id,
                 (SELECT count(*) FROM (SELECT 1 FROM asset_copies c
                  WHERE c.id > COALESCE(s.copies_mark, 0) AND c.provider_id = p.id LIMIT ?1))
               + (SELECT count(*) FROM (SELECT 1 FROM asset_paths ap
                  JOIN asset_copies c ON c.content_hash = ap.content_hash AND c.provider_id = p.id
                  WHERE ap.to_known = 1 AND ap.id > COALESCE(s.paths_mark, 0)
                    AND c.id <= COALESCE(s.copies_mark, 0)
                  LIMIT ?1))
               + (SELECT count(*) FROM (SELECT 1 FROM catalog_removals r
                  WHERE r.provider_id = p.id LIMIT ?1))
             FROM sync_providers p LEFT JOIN catalog_state s ON s.provider_id = p.id",
        )?;
        let rows = stmt.query_map([enough], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut backlog = HashMap::new();
        for row in rows {
            let (id, n) = row?;
            if n > 0 {
                backlog.insert(id, n);
            }
        }
        Ok(backlog)
    }

    /// Takes the writer lease of a provider's catalog for `owner` (free, ours
    /// already, expired, or held by an engine `is_dead` says is gone) and
    /// reads the next segment's entries: at most `limit` assets. `None` if
    /// another engine holds the lease or nothing is pending. The lease is
    /// kept until [`Store::catalog_release`].
    pub fn catalog_take(
        &mut self,
        provider_id: &str,
        owner: &str,
        lease: Duration,
        limit: usize,
        is_dead: impl Fn(&str) -> bool,
    ) -> Result<Option<PendingSegment>> {
        let tx = self.write_tx()?;
        tx.execute(
            "INSERT INTO catalog_state (provider_id) VALUES (?1) ON CONFLICT DO NOTHING",
            [provider_id],
        )?;
        let (holder, expired): (Option<String>, bool) = tx.query_row(
            &format!(
                "SELECT writer, writer IS NULL OR writer_until < {NOW}
                 FROM catalog_state WHERE provider_id = ?1"
            ),
            [provider_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let free = expired || holder.as_deref().is_none_or(|h| h == owner || is_dead(h));
        if !free {
            return Ok(None);
        }
        tx.execute(
            &format!(
                "UPDATE catalog_state SET writer = ?2, writer_until = {}
                 WHERE provider_id = ?1",
                now_plus(lease)
            ),
            params![provider_id, owner],
        )?;
        let (copies_mark, paths_mark, seq): (i64, i64, i64) = tx.query_row(
            "SELECT copies_mark, paths_mark, next_segment FROM catalog_state WHERE provider_id = ?1",
            [provider_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        // Fetch one more than the limit of each kind: whether more is left.
        let take = limit as i64 + 1;
        // The copies recorded since the mark, described as they are now: in
        // one pass over the copies' order, with their paths.
        let mut entries: Vec<CatalogAsset> = Vec::new();
        let mut last_copy = copies_mark;
        let mut more = false;
        {
            let mut stmt = tx.prepare_cached(
                "SELECT c.id, m.content_hash, m.size_bytes, m.media_type, m.added_at
                 FROM asset_copies c JOIN asset_manifest m ON m.content_hash = c.content_hash
                 WHERE c.id > ?1 AND c.provider_id = ?2 ORDER BY c.id LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![copies_mark, provider_id, take], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    CatalogAsset {
                        content_hash: r.get(1)?,
                        described: Some(Described {
                            size_bytes: r.get(2)?,
                            media_type: r.get(3)?,
                            added_at: r.get(4)?,
                            paths: Vec::new(),
                        }),
                        removed_at: None,
                    },
                ))
            })?;
            for row in rows {
                let (id, entry) = row?;
                if entries.len() == limit {
                    more = true;
                    break;
                }
                last_copy = id;
                entries.push(entry);
            }
        }
        if last_copy > copies_mark {
            attach_paths(&tx, paths_mark, limit, &mut entries)?;
        }
        // Paths recorded since the mark for contents known before (a copy of
        // theirs may be in the catalog already); a new copy's entry has all
        // its paths anyway.
        let paths: Vec<(i64, String)> = tx
            .prepare_cached(
                "SELECT ap.id, ap.content_hash FROM asset_paths ap
                 JOIN asset_copies c ON c.content_hash = ap.content_hash AND c.provider_id = ?2
                 WHERE ap.to_known = 1 AND ap.id > ?1 AND c.id <= ?3 ORDER BY ap.id LIMIT ?4",
            )?
            .query_map(params![paths_mark, provider_id, copies_mark, take], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let removals: Vec<(i64, String, String)> = tx
            .prepare_cached(
                "SELECT id, content_hash, removed_at FROM catalog_removals
                 WHERE provider_id = ?1 ORDER BY id LIMIT ?2",
            )?
            .query_map(params![provider_id, take], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        more |= paths.len() > limit || removals.len() > limit;
        let (paths, removals) = (
            &paths[..paths.len().min(limit)],
            &removals[..removals.len().min(limit)],
        );
        // The marks go as far as what was read; with nothing more to read,
        // to the newest path (those of assets this provider lacks included).
        // (While more copies are to come, the path mark stays, so that their
        // new contents' paths are still read in one pass next time.)
        let copies_mark = last_copy;
        let paths_mark = match paths.last() {
            Some(p) if more => p.0,
            _ if more => paths_mark,
            _ => tx.query_row(
                "SELECT MAX(?1, COALESCE((SELECT MAX(id) FROM asset_paths), 0))",
                [paths_mark],
                |r| r.get(0),
            )?,
        };
        // The other assets to describe (paths added, removals), each once.
        let mut seen: HashSet<String> = entries.iter().map(|e| e.content_hash.clone()).collect();
        let others: Vec<&str> = (paths.iter().map(|p| p.1.as_str()))
            .chain(removals.iter().map(|r| r.1.as_str()))
            .filter(|h| seen.insert(h.to_string()))
            .collect();
        let removed_at: HashMap<&str, &str> = removals
            .iter()
            .map(|(_, h, at)| (h.as_str(), at.as_str()))
            .collect();
        let mut described = described_in(&tx, provider_id, &others)?;
        for e in &mut described {
            if e.described.is_none() {
                e.removed_at = removed_at
                    .get(e.content_hash.as_str())
                    .map(|s| s.to_string());
            }
        }
        // Neither held nor said removed: nothing to say of it.
        described.retain(|e| e.described.is_some() || e.removed_at.is_some());
        let known: HashSet<&str> = described.iter().map(|e| e.content_hash.as_str()).collect();
        // A removal of content the library no longer knows at all.
        let unknown: Vec<CatalogAsset> = (removed_at.iter())
            .filter(|(h, _)| !known.contains(*h) && others.contains(h))
            .map(|(h, at)| CatalogAsset {
                content_hash: h.to_string(),
                described: None,
                removed_at: Some(at.to_string()),
            })
            .collect();
        entries.extend(described);
        entries.extend(unknown);
        let segment = PendingSegment {
            provider_id: provider_id.to_string(),
            seq,
            entries,
            copies_mark,
            paths_mark,
            removal_ids: removals.iter().map(|r| r.0).collect(),
            more,
        };
        tx.commit()?;
        Ok(if segment.entries.is_empty() && !segment.more {
            // Nothing to say: the marks may still move past paths of
            // assets this provider lacks.
            self.catalog_advance(&segment, owner)?;
            None
        } else {
            Some(segment)
        })
    }

    /// The segments of a compaction: everything the library records a copy
    /// of on this provider, numbered from its next segment on, at most
    /// `per_segment` assets each. `owner` must hold the writer lease.
    pub fn catalog_snapshot(
        &mut self,
        provider_id: &str,
        owner: &str,
        per_segment: usize,
    ) -> Result<Vec<PendingSegment>> {
        let tx = self.conn.unchecked_transaction()?;
        let (copies_mark, paths_mark, seq): (i64, i64, i64) = tx
            .query_row(
                "SELECT copies_mark, paths_mark, next_segment FROM catalog_state
                 WHERE provider_id = ?1 AND writer = ?2",
                params![provider_id, owner],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?
            .ok_or_else(|| {
                StoreError::Invalid(
                    "another engine took over writing this provider's catalog".into(),
                )
            })?;
        let hashes: Vec<String> = tx
            .prepare_cached(
                "SELECT content_hash FROM asset_copies WHERE provider_id = ?1 ORDER BY id",
            )?
            .query_map([provider_id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let refs: Vec<&str> = hashes.iter().map(String::as_str).collect();
        let entries = described_in(&tx, provider_id, &refs)?;
        tx.commit()?;
        Ok(entries
            .chunks(per_segment.max(1))
            .enumerate()
            .map(|(i, chunk)| PendingSegment {
                provider_id: provider_id.to_string(),
                seq: seq + i as i64,
                entries: chunk.to_vec(),
                copies_mark,
                paths_mark,
                removal_ids: Vec::new(),
                more: false,
            })
            .collect())
    }

    /// Records that `segment` is on the provider as `name` (`bytes` long):
    /// its marks move, its removals are said, the next segment gets the next
    /// number. The writer lease is kept for the next segment.
    pub fn catalog_written(
        &mut self,
        segment: &PendingSegment,
        name: &str,
        bytes: usize,
        owner: &str,
    ) -> Result<()> {
        let tx = self.write_tx()?;
        tx.execute(
            &format!(
                "INSERT INTO catalog_segments (provider_id, name, seq, entries, bytes, written_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, {NOW}) ON CONFLICT DO NOTHING"
            ),
            params![
                segment.provider_id,
                name,
                segment.seq,
                segment.entries.len() as i64,
                bytes as i64
            ],
        )?;
        tx.execute(
            "UPDATE catalog_state SET next_segment = MAX(next_segment, ?2 + 1)
             WHERE provider_id = ?1",
            params![segment.provider_id, segment.seq],
        )?;
        tx.commit()?;
        self.catalog_advance(segment, owner)
    }

    /// Moves a provider's marks to what `segment` covers and forgets its
    /// removals, if `owner` still holds the lease.
    fn catalog_advance(&mut self, segment: &PendingSegment, owner: &str) -> Result<()> {
        let tx = self.write_tx()?;
        let held = tx.execute(
            "UPDATE catalog_state SET copies_mark = MAX(copies_mark, ?2), paths_mark = MAX(paths_mark, ?3)
             WHERE provider_id = ?1 AND writer = ?4",
            params![
                segment.provider_id,
                segment.copies_mark,
                segment.paths_mark,
                owner
            ],
        )?;
        if held == 0 {
            return Err(StoreError::Invalid(
                "another engine took over writing this provider's catalog".into(),
            ));
        }
        for chunk in segment.removal_ids.chunks(500) {
            let list =
                serde_json::to_string(chunk).map_err(|e| StoreError::Invalid(e.to_string()))?;
            tx.execute(
                "DELETE FROM catalog_removals WHERE id IN (SELECT value FROM json_each(?1))",
                [list],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Gives up the writer lease of a provider's catalog.
    pub fn catalog_release(&mut self, provider_id: &str, owner: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE catalog_state SET writer = NULL, writer_until = NULL
             WHERE provider_id = ?1 AND writer = ?2",
            params![provider_id, owner],
        )?;
        Ok(())
    }

    /// The segments this library wrote to a provider's catalog, oldest first.
    pub fn catalog_segments(&self, provider_id: &str) -> Result<Vec<SegmentRow>> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT name, seq, entries, bytes FROM catalog_segments
                 WHERE provider_id = ?1 ORDER BY seq, name",
            )?
            .query_map([provider_id], |r| {
                Ok(SegmentRow {
                    name: r.get(0)?,
                    seq: r.get(1)?,
                    entries: r.get(2)?,
                    bytes: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Forgets segments that a compacted one replaced (and that were deleted
    /// from the provider).
    pub fn catalog_forget_segments(&mut self, provider_id: &str, names: &[String]) -> Result<()> {
        let tx = self.write_tx()?;
        for name in names {
            tx.execute(
                "DELETE FROM catalog_segments WHERE provider_id = ?1 AND name = ?2",
                params![provider_id, name],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Brings in what a scan of a provider found: a manifest row (with no
    /// local bytes) for each asset the library did not know, every path,
    /// and a copy on the provider. All in one transaction; what is known
    /// already is kept as it is, so a second scan changes nothing.
    pub fn import_scan(
        &mut self,
        provider_id: &str,
        assets: &[ScannedAsset],
    ) -> Result<ScanCounts> {
        let tx = self.write_tx()?;
        let mut counts = ScanCounts::default();
        // Many rows per statement, as an import records them.
        for chunk in assets.chunks(SCAN_ROWS) {
            let names: Vec<String> = chunk
                .iter()
                .map(|a| {
                    (a.described.paths.first())
                        .map(|(p, _)| p.rsplit('/').next().unwrap_or(p).to_string())
                        .unwrap_or_else(|| a.content_hash.clone())
                })
                .collect();
            let mut args: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * 5);
            for (a, name) in chunk.iter().zip(&names) {
                let d = &a.described;
                args.extend([
                    &a.content_hash as &dyn ToSql,
                    &d.size_bytes,
                    name,
                    &d.media_type,
                    &d.added_at,
                ]);
            }
            // The assets new to the library (what it knew is kept as it is).
            let new: HashSet<String> = tx
                .prepare_cached(&format!(
                    "INSERT INTO asset_manifest (content_hash, size_bytes, original_name, media_type, added_at)
                     VALUES {} ON CONFLICT (content_hash) DO NOTHING RETURNING content_hash",
                    value_rows(chunk.len(), 5)
                ))?
                .query_map(args.as_slice(), |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            counts.new += new.len();
            counts.known += chunk.len() - new.len();
            let paths: Vec<(&str, &str, &str, bool)> = (chunk.iter())
                .flat_map(|a| {
                    let known = !new.contains(&a.content_hash);
                    (a.described.paths.iter()).map(move |(p, at)| {
                        (a.content_hash.as_str(), p.as_str(), at.as_str(), known)
                    })
                })
                .collect();
            for rows in paths.chunks(SCAN_ROWS) {
                let args: Vec<&dyn ToSql> = rows
                    .iter()
                    .flat_map(|(h, p, at, known)| [h as &dyn ToSql, p, at, known])
                    .collect();
                counts.new_paths += tx
                    .prepare_cached(&format!(
                        "INSERT INTO asset_paths (content_hash, path, added_at, to_known) VALUES {}
                         ON CONFLICT (content_hash, path) DO NOTHING",
                        value_rows(rows.len(), 4)
                    ))?
                    .execute(args.as_slice())?;
            }
            let mut args: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * 4);
            for a in chunk {
                args.extend([
                    &a.content_hash as &dyn ToSql,
                    &provider_id,
                    &a.remote_key,
                    &a.described.added_at,
                ]);
            }
            counts.new_copies += tx
                .prepare_cached(&format!(
                    "INSERT INTO asset_copies (content_hash, provider_id, remote_key, stored_at)
                     VALUES {} ON CONFLICT (content_hash, provider_id) DO NOTHING",
                    value_rows(chunk.len(), 4)
                ))?
                .execute(args.as_slice())?;
        }
        tx.commit()?;
        // Assets new to the library may hold fewer copies than the policy asks.
        self.mark_round_due()?;
        Ok(counts)
    }
}

/// Assets per INSERT of [`Store::import_scan`].
const SCAN_ROWS: usize = 200;

/// Most paths read in one pass by [`attach_paths`], per asset described.
const PATHS_PER_ENTRY: usize = 4;

/// Gives each entry (new copies, described) every path of its asset. The
/// paths recorded since `paths_mark` are read in one pass in the order they
/// were recorded: an asset new since then (its first path there is not
/// `to_known`) has all its paths among them. The others (an old asset's
/// copy on a provider that lacked it) are looked up one by one.
fn attach_paths(
    tx: &rusqlite::Transaction,
    paths_mark: i64,
    limit: usize,
    entries: &mut [CatalogAsset],
) -> Result<()> {
    let most = (limit * PATHS_PER_ENTRY).max(1);
    // Per asset: its paths, and whether all of them are here.
    let mut recent: HashMap<String, (Vec<(String, String)>, bool)> = HashMap::new();
    let mut read = 0;
    {
        let mut stmt = tx.prepare_cached(
            "SELECT content_hash, path, added_at, to_known FROM asset_paths
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![paths_mark, most as i64])?;
        while let Some(r) = rows.next()? {
            read += 1;
            let (hash, path, at, to_known): (String, String, String, bool) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            let slot = recent.entry(hash).or_insert((Vec::new(), !to_known));
            slot.0.push((path, at));
        }
    }
    // Cut short: an asset's later paths may be past what was read.
    let whole = read < most;
    let mut missing = Vec::new();
    for (i, e) in entries.iter_mut().enumerate() {
        let Some(d) = &mut e.described else { continue };
        match recent.remove(&e.content_hash) {
            Some((paths, true)) if whole => d.paths = paths,
            _ => missing.push(i),
        }
    }
    let hashes: Vec<&str> = missing
        .iter()
        .map(|&i| entries[i].content_hash.as_str())
        .collect();
    let mut found = paths_with_times(tx, &hashes)?;
    for i in missing {
        if let Some(d) = &mut entries[i].described {
            d.paths = found.remove(&entries[i].content_hash).unwrap_or_default();
        }
    }
    Ok(())
}

/// Every path of these assets, with when it was recorded, in that order.
fn paths_with_times(
    tx: &rusqlite::Transaction,
    hashes: &[&str],
) -> Result<HashMap<String, Vec<(String, String)>>> {
    let mut paths: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for chunk in hashes.chunks(10_000) {
        let list = serde_json::to_string(chunk).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut stmt = tx.prepare_cached(
            "SELECT content_hash, path, added_at FROM asset_paths
             WHERE content_hash IN (SELECT value FROM json_each(?1)) ORDER BY id",
        )?;
        let rows = stmt.query_map([&list], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
        })?;
        for row in rows {
            let (hash, path, at) = row?;
            paths.entry(hash).or_default().push((path, at));
        }
    }
    Ok(paths)
}

/// The catalog entries of these assets on a provider: described if the
/// library records a copy there, otherwise removed (its time set by the
/// caller). Assets the manifest lacks are left out.
fn described_in(
    tx: &rusqlite::Transaction,
    provider_id: &str,
    hashes: &[&str],
) -> Result<Vec<CatalogAsset>> {
    let mut entries = Vec::with_capacity(hashes.len());
    for chunk in hashes.chunks(10_000) {
        let list = serde_json::to_string(chunk).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut paths = paths_with_times(tx, chunk)?;
        let mut stmt = tx.prepare_cached(
            "SELECT m.content_hash, m.size_bytes, m.media_type, m.added_at,
                    EXISTS (SELECT 1 FROM asset_copies c
                            WHERE c.content_hash = m.content_hash AND c.provider_id = ?2)
             FROM json_each(?1) j JOIN asset_manifest m ON m.content_hash = j.value
             ORDER BY j.key",
        )?;
        let rows = stmt.query_map(params![list, provider_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
            ))
        })?;
        for row in rows {
            let (content_hash, size_bytes, media_type, added_at, held) = row?;
            let paths = paths.remove(&content_hash).unwrap_or_default();
            entries.push(CatalogAsset {
                described: held.then_some(Described {
                    size_bytes,
                    media_type,
                    added_at,
                    paths,
                }),
                removed_at: None,
                content_hash,
            });
        }
    }
    Ok(entries)
}
