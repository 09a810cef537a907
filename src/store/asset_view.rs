//! What the window's Assets view reads: a compact key per asset (its health
//! judged as it is read), so that a million assets sort and filter in
//! memory; whole rows by rowid for the visible part; and text search.

use std::collections::{HashMap, HashSet};

use rusqlite::params_from_iter;

use super::health::{CopyFacts, Health, HealthRules};
use super::manifest::CopyListing;
use super::operations::placeholders;
use super::view::{hash_handle, join_name_ranks, opt_text, parse_timestamp_bytes, text};
use super::{Result, Store};

/// The sortable and filterable facts of one asset, in 32 bytes.
#[derive(Clone, Copy, Debug)]
pub struct AssetKey {
    /// The asset's rowid in `asset_manifest` (also the order it was added in).
    pub rowid: i64,
    pub size_bytes: i64,
    /// The oldest verification of its good copies, in seconds since the
    /// epoch (0 when none is verified).
    pub oldest_verified_s: u32,
    /// Position of the asset's name among all names.
    pub name_rank: u32,
    /// Bit `r` set when the provider of rank `r` (by name, from 0; the first
    /// 32) holds a copy.
    pub on_providers: u32,
    /// Copies that count for "safe" (see [`super::health::Judged`]).
    pub counted: u8,
    /// Copies recorded, good or not.
    pub held: u8,
    pub health: Health,
}

/// One asset as the Assets grid shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct AssetRow {
    pub rowid: i64,
    pub content_hash: String,
    pub name: String,
    /// The first path it was recorded under, and how many it has.
    pub first_path: Option<String>,
    pub path_count: usize,
    pub size_bytes: i64,
    pub added_at: String,
    pub local_path: Option<String>,
    /// By provider name.
    pub copies: Vec<CopyListing>,
}

impl Store {
    /// Fills `keys` with the key of every asset, in the order they were
    /// recorded, judged by `rules`. Returns the providers' ids in name
    /// order: what the bits of [`AssetKey::on_providers`] count.
    pub fn scan_asset_keys(
        &self,
        rules: &HealthRules,
        keys: &mut Vec<AssetKey>,
    ) -> Result<Vec<String>> {
        keys.clear();
        let mut handles: Vec<u128> = Vec::new();
        let providers = self.scan_assets(rules, |key, handle| {
            handles.push(u128::from(handle) << 64 | keys.len() as u128);
            keys.push(key);
        })?;
        let ranks = join_name_ranks(&self.name_ranks()?, handles, keys.len());
        for (k, rank) in keys.iter_mut().zip(ranks) {
            k.name_rank = rank;
        }
        Ok(providers)
    }

    /// How many assets are in each health (one pass over the library,
    /// holding nothing).
    pub fn health_counts(&self) -> Result<HashMap<Health, u64>> {
        let rules = self.health_rules()?;
        let mut counts: HashMap<Health, u64> = Health::ALL.iter().map(|h| (*h, 0)).collect();
        self.scan_assets(&rules, |k, _| *counts.entry(k.health).or_default() += 1)?;
        Ok(counts)
    }

    /// Hands each asset's key (without its name rank) and its hash's handle
    /// to `each`, in the order they were recorded; returns the providers'
    /// ids in name order.
    fn scan_assets(
        &self,
        rules: &HealthRules,
        mut each: impl FnMut(AssetKey, u64),
    ) -> Result<Vec<String>> {
        let providers: Vec<(String, String)> = (self.providers()?.into_iter())
            .map(|p| (p.id, p.name))
            .collect();
        let rank_of = |id: &[u8]| providers.iter().position(|(p, _)| p.as_bytes() == id);
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.rowid, m.content_hash, m.size_bytes,
                    c.provider_id, c.verify_status = 'ok', c.verified_at
             FROM asset_manifest m LEFT JOIN asset_copies c ON c.content_hash = m.content_hash
             ORDER BY m.rowid",
        )?;
        let mut rows = stmt.query([])?;
        // The asset being read, its hash's handle, and its copies:
        // (provider rank, ok, verified ms).
        let mut current: Option<(AssetKey, u64)> = None;
        let mut copies: Vec<(usize, bool, Option<i64>)> = Vec::new();
        let mut finish = |(mut key, handle): (AssetKey, u64),
                          copies: &mut Vec<(usize, bool, Option<i64>)>| {
            let judged = rules.judge(copies.iter().map(|&(rank, ok, verified_ms)| CopyFacts {
                provider: &providers[rank].1,
                ok,
                verified_ms,
            }));
            key.health = judged.health;
            key.counted = judged.counted.min(u8::MAX as usize) as u8;
            copies.clear();
            each(key, handle);
        };
        while let Some(r) = rows.next()? {
            let rowid: i64 = r.get(0)?;
            if current.as_ref().is_none_or(|(k, _)| k.rowid != rowid) {
                if let Some(done) = current.take() {
                    finish(done, &mut copies);
                }
                let key = AssetKey {
                    rowid,
                    size_bytes: r.get(2)?,
                    oldest_verified_s: 0,
                    name_rank: 0,
                    on_providers: 0,
                    counted: 0,
                    held: 0,
                    health: Health::LocalOnly,
                };
                current = Some((key, hash_handle(text(r, 1)?)));
            }
            // A copy on a provider removed meanwhile does not count.
            let Some(rank) = opt_text(r, 3)?.and_then(rank_of) else {
                continue;
            };
            let key = &mut current.as_mut().expect("set above").0;
            let ok: bool = r.get(4)?;
            let verified_ms = opt_text(r, 5)?.and_then(parse_timestamp_bytes);
            key.held = key.held.saturating_add(1);
            if rank < 32 {
                key.on_providers |= 1 << rank;
            }
            if ok {
                let at = (verified_ms.unwrap_or(0) / 1000).clamp(1, i64::from(u32::MAX)) as u32;
                key.oldest_verified_s = match key.oldest_verified_s {
                    0 => at,
                    was => was.min(at),
                };
            }
            copies.push((rank, ok, verified_ms));
        }
        if let Some(done) = current.take() {
            finish(done, &mut copies);
        }
        Ok(providers.into_iter().map(|(id, _)| id).collect())
    }

    /// Whole rows for these asset rowids, in the order given (missing ones
    /// skipped).
    pub fn asset_rows(&self, rowids: &[i64]) -> Result<Vec<AssetRow>> {
        let mut out = Vec::with_capacity(rowids.len());
        for chunk in rowids.chunks(500) {
            let marks = placeholders(chunk.len());
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT m.rowid, m.content_hash, m.original_name, m.size_bytes, m.added_at,
                        m.local_path,
                        (SELECT path FROM asset_paths p WHERE p.content_hash = m.content_hash
                         ORDER BY id LIMIT 1),
                        (SELECT count(*) FROM asset_paths p WHERE p.content_hash = m.content_hash)
                 FROM asset_manifest m WHERE m.rowid IN ({marks})"
            ))?;
            let mut found: Vec<AssetRow> = stmt
                .query_map(params_from_iter(chunk.iter()), |r| {
                    Ok(AssetRow {
                        rowid: r.get(0)?,
                        content_hash: r.get(1)?,
                        name: r.get(2)?,
                        size_bytes: r.get(3)?,
                        added_at: r.get(4)?,
                        local_path: r.get(5)?,
                        first_path: r.get(6)?,
                        path_count: r.get::<_, i64>(7)? as usize,
                        copies: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT m.rowid, p.name, c.provider_id, c.verify_status, c.verified_at
                 FROM asset_manifest m
                 JOIN asset_copies c ON c.content_hash = m.content_hash
                 JOIN sync_providers p ON p.id = c.provider_id
                 WHERE m.rowid IN ({marks}) ORDER BY p.name"
            ))?;
            let mut copies: HashMap<i64, Vec<CopyListing>> = HashMap::new();
            let rows = stmt.query_map(params_from_iter(chunk.iter()), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    CopyListing {
                        provider: r.get(1)?,
                        provider_id: r.get(2)?,
                        verify_status: r.get(3)?,
                        verified_at: r.get(4)?,
                    },
                ))
            })?;
            for row in rows {
                let (rowid, copy) = row?;
                copies.entry(rowid).or_default().push(copy);
            }
            for row in &mut found {
                row.copies = copies.remove(&row.rowid).unwrap_or_default();
            }
            let pos: HashMap<i64, usize> = chunk.iter().enumerate().map(|(i, r)| (*r, i)).collect();
            found.sort_by_key(|r| pos.get(&r.rowid).copied().unwrap_or(usize::MAX));
            out.extend(found);
        }
        Ok(out)
    }

    /// Rowids of the assets whose name or any path holds `typed` (case and
    /// accents aside), or whose hash starts with it.
    pub fn assets_matching(&self, typed: &str) -> Result<HashSet<i64>> {
        let holding = self.hashes_holding(typed)?;
        let prefix = typed.to_lowercase();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT rowid, content_hash FROM asset_manifest")?;
        let mut rows = stmt.query([])?;
        let mut found = HashSet::new();
        while let Some(r) = rows.next()? {
            let hash = text(r, 1)?;
            if holding.contains(hash) || hash.starts_with(prefix.as_bytes()) {
                found.insert(r.get(0)?);
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::super::view::natural_key;
    use super::*;

    /// The one-pass read and the full listing judge every asset alike, and
    /// the rows, counts and search say what the tables hold.
    #[test]
    fn keys_agree_with_the_listing_and_the_tables() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("library.db");
        crate::demo::make_demo_library(&db, 3000, "test").unwrap();
        let store = Store::open(&db).unwrap();
        let rules = store.health_rules().unwrap();
        let mut keys = Vec::new();
        let providers = store.scan_asset_keys(&rules, &mut keys).unwrap();
        let listing = store.asset_listing().unwrap();
        assert_eq!(keys.len(), listing.len());
        assert_eq!(providers.len(), 3);
        let mut seen = HashSet::new();
        for (key, asset) in keys.iter().zip(&listing) {
            assert_eq!(key.health, rules.health(asset), "{}", asset.content_hash);
            assert_eq!(usize::from(key.held), asset.copies.len());
            seen.insert(key.health);
            for (rank, id) in providers.iter().enumerate() {
                let holds = asset.copies.iter().any(|c| &c.provider_id == id);
                assert_eq!(key.on_providers & (1 << rank) != 0, holds);
            }
        }
        // The demo has safe, damaged and local-only assets (one copy each
        // and a policy of one).
        for h in [Health::Safe, Health::Damaged, Health::LocalOnly] {
            assert!(seen.contains(&h), "{h:?}");
        }
        let counts = store.health_counts().unwrap();
        for h in Health::ALL {
            let n = keys.iter().filter(|k| k.health == h).count() as u64;
            assert_eq!(counts[&h], n, "{h:?}");
        }
        // Names rank as the queue ranks them: as a person sorts names.
        let all = store
            .asset_rows(&keys.iter().map(|k| k.rowid).collect::<Vec<_>>())
            .unwrap();
        let mut by_rank: Vec<(u32, Vec<u8>)> = (keys.iter().zip(&all))
            .map(|(k, row)| {
                let mut natural = Vec::new();
                natural_key(row.name.as_bytes(), &mut natural);
                (k.name_rank, natural)
            })
            .collect();
        by_rank.sort();
        assert!(by_rank.iter().all(|(r, _)| *r > 0), "every name ranked");
        assert!(
            by_rank.windows(2).all(|w| w[0].1 <= w[1].1),
            "rank order is name order"
        );

        let rows = store.asset_rows(&[keys[7].rowid, keys[2].rowid]).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0].content_hash, listing[7].content_hash,
            "in the order asked"
        );
        assert_eq!(rows[0].first_path.as_ref(), listing[7].paths.first());
        assert_eq!(rows[0].path_count, listing[7].paths.len());
        assert_eq!(rows[0].copies, listing[7].copies);

        let name = listing[5].paths[0].clone();
        let found = store.assets_matching(&name.to_uppercase()).unwrap();
        assert!(found.contains(&keys[5].rowid));
        let by_hash = store
            .assets_matching(&listing[9].content_hash[..12])
            .unwrap();
        assert!(by_hash.contains(&keys[9].rowid));
    }
}
