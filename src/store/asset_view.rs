//! What the window's Assets view reads: a compact key per asset (its health
//! judged as it is read), so that a million assets sort and filter in
//! memory; whole rows by rowid for the visible part; and text search.

use std::collections::{HashMap, HashSet};

use nohash_hasher::IntMap;
use rusqlite::params_from_iter;

use super::health::{CopyFacts, Health, HealthRules};
use super::manifest::CopyListing;
use super::operations::placeholders;
use super::view::{
    MAX_RESERVE, NameId, hex_digits, join_name_ranks, opt_text, parse_timestamp_bytes, text,
};
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

/// What a pass over every asset finds besides each asset's key.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// The providers' ids in name order: what the bits of
    /// [`AssetKey::on_providers`] count.
    pub provider_ids: Vec<String>,
    /// The bytes of the copies each provider holds, by provider id.
    pub held_bytes: HashMap<String, i64>,
    /// How many assets are in each health (every health present).
    pub counts: HashMap<Health, u64>,
}

/// One copy read by [`Store::scan_assets`], and the index of the copy read
/// before it whose hash starts with the same 64 bits (`u32::MAX` when none).
struct CopyLink {
    hash: [u8; 32],
    rank: usize,
    ok: bool,
    verified_ms: Option<i64>,
    before: u32,
}

/// Each byte's value as a lowercase hex digit, or 0x80 when it is not one.
const LOWER_HEX: [u8; 256] = hex_digits(false);

/// A content hash as 32 bytes: its digits when it is the usual 64 lowercase
/// hex digits, else the BLAKE3 hash of its text (so that text no hash of
/// Breakdex's could be still matches only itself).
fn hash_key(hash: &[u8]) -> [u8; 32] {
    let mut key = [0u8; 32];
    if hash.len() == 64 {
        let mut bad = 0u8;
        for (k, pair) in key.iter_mut().zip(hash.chunks_exact(2)) {
            let (hi, lo) = (LOWER_HEX[pair[0] as usize], LOWER_HEX[pair[1] as usize]);
            bad |= hi | lo;
            *k = hi << 4 | lo;
        }
        if bad & 0x80 == 0 {
            return key;
        }
    }
    *blake3::hash(hash).as_bytes()
}

/// The first 64 bits of a [`hash_key`].
fn head_of(key: &[u8; 32]) -> u64 {
    u64::from_le_bytes(key[..8].try_into().expect("8 bytes"))
}

impl Store {
    /// Fills `keys` with the key of every asset, in the order they were
    /// recorded (by rowid), judged by `rules`; their name ranks are 0 until
    /// [`Store::rank_asset_names`].
    pub fn scan_asset_keys(&self, rules: &HealthRules, keys: &mut Vec<AssetKey>) -> Result<Scan> {
        keys.clear();
        self.scan_assets(rules, None, |key| keys.push(key))
    }

    /// The keys of the first `len` assets (at most 500) in the order they
    /// were recorded, or the last ones newest first, judged by `rules`, name
    /// ranks 0: what the grid shows while the whole pass runs.
    pub fn head_asset_keys(
        &self,
        rules: &HealthRules,
        len: usize,
        newest_first: bool,
    ) -> Result<Vec<AssetKey>> {
        let order = if newest_first { "DESC" } else { "ASC" };
        let rowids: Vec<i64> = (self.conn.prepare_cached(&format!(
            "SELECT rowid FROM asset_manifest ORDER BY rowid {order} LIMIT ?1"
        ))?)
        .query_map([len.min(500) as i64], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
        let mut keys = Vec::with_capacity(rowids.len());
        if !rowids.is_empty() {
            self.scan_assets(rules, Some(&rowids), |key| keys.push(key))?;
        }
        if newest_first {
            keys.reverse();
        }
        Ok(keys)
    }

    /// How many assets the library records.
    pub fn asset_count(&self) -> Result<usize> {
        let n: i64 =
            (self.conn).query_row("SELECT count(*) FROM asset_manifest", [], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// Sets the name rank of these keys (in rowid order, as
    /// [`Store::scan_asset_keys`] gives them).
    pub fn rank_asset_names(&self, keys: &mut [AssetKey]) -> Result<()> {
        let rows = (keys.iter().enumerate())
            .map(|(i, k)| u128::from(k.rowid as u64) << 64 | i as u128)
            .collect();
        let ranks = join_name_ranks(&self.name_ranks(NameId::Rowid)?, rows, keys.len());
        for (k, rank) in keys.iter_mut().zip(ranks) {
            k.name_rank = rank;
        }
        Ok(())
    }

    /// The health counts and bytes held of the whole library (one pass,
    /// holding no key).
    pub fn health_scan(&self, rules: &HealthRules) -> Result<Scan> {
        self.scan_assets(rules, None, |_| {})
    }

    /// How many assets are in each health.
    pub fn health_counts(&self) -> Result<HashMap<Health, u64>> {
        Ok(self.health_scan(&self.health_rules()?)?.counts)
    }

    /// Hands the key (without its name rank) of every asset, or of those
    /// with these rowids, to `each`, in the order they were recorded.
    ///
    /// Every asset: two table scans joined here, not one SQL join: looking
    /// each asset's copies up by hash reads pages all over a big library
    /// (4 s at a million assets where the two scans take 0.5 s).
    fn scan_assets(
        &self,
        rules: &HealthRules,
        only: Option<&[i64]>,
        mut each: impl FnMut(AssetKey),
    ) -> Result<Scan> {
        let (copies_sql, manifest_sql) = match only {
            None => (
                "SELECT content_hash, provider_id, verify_status = 'ok', verified_at
                 FROM asset_copies"
                    .to_string(),
                "SELECT rowid, content_hash, size_bytes FROM asset_manifest ORDER BY rowid"
                    .to_string(),
            ),
            Some(rowids) => {
                let marks = placeholders(rowids.len());
                (
                    format!(
                        "SELECT c.content_hash, c.provider_id, c.verify_status = 'ok', c.verified_at
                         FROM asset_manifest m JOIN asset_copies c ON c.content_hash = m.content_hash
                         WHERE m.rowid IN ({marks})"
                    ),
                    format!(
                        "SELECT rowid, content_hash, size_bytes FROM asset_manifest
                         WHERE rowid IN ({marks}) ORDER BY rowid"
                    ),
                )
            }
        };
        let bound = || params_from_iter(only.unwrap_or_default());
        let providers: Vec<(String, String)> = (self.providers()?.into_iter())
            .map(|p| (p.id, p.name))
            .collect();
        let rank_of = |id: &[u8]| providers.iter().position(|(p, _)| p.as_bytes() == id);
        // Every copy on a provider still there, chained by the first 64 bits
        // of its hash: `first` holds the newest copy read, each copy the one
        // before it. (A map of 12-byte entries, where whole hashes would
        // miss the cache on most lookups.)
        let expected = match only {
            None => self.max_rowid("asset_copies")?.min(MAX_RESERVE),
            Some(rowids) => rowids.len(),
        };
        let mut copies: Vec<CopyLink> = Vec::with_capacity(expected);
        let mut first: IntMap<u64, u32> =
            IntMap::with_capacity_and_hasher(expected, Default::default());
        let mut stmt = self.conn.prepare_cached(&copies_sql)?;
        let mut rows = stmt.query(bound())?;
        while let Some(r) = rows.next()? {
            // A copy on a provider removed meanwhile does not count.
            let Some(rank) = rank_of(text(r, 1)?) else {
                continue;
            };
            let hash = hash_key(text(r, 0)?);
            let before = first.insert(head_of(&hash), copies.len() as u32);
            copies.push(CopyLink {
                hash,
                rank,
                ok: r.get(2)?,
                verified_ms: opt_text(r, 3)?.and_then(parse_timestamp_bytes),
                before: before.unwrap_or(u32::MAX),
            });
        }
        drop(rows);
        let mut held_bytes = vec![0i64; providers.len()];
        let mut counts: HashMap<Health, u64> = Health::ALL.iter().map(|h| (*h, 0)).collect();
        let mut stmt = self.conn.prepare_cached(&manifest_sql)?;
        let mut rows = stmt.query(bound())?;
        let mut these: Vec<&CopyLink> = Vec::new();
        while let Some(r) = rows.next()? {
            let hash = text(r, 1)?;
            let mut key = AssetKey {
                rowid: r.get(0)?,
                size_bytes: r.get(2)?,
                oldest_verified_s: 0,
                name_rank: 0,
                on_providers: 0,
                counted: 0,
                held: 0,
                health: Health::LocalOnly,
            };
            these.clear();
            let full = hash_key(hash);
            let mut at = first.get(&head_of(&full)).copied().unwrap_or(u32::MAX);
            while let Some(copy) = copies.get(at as usize) {
                if copy.hash == full {
                    these.push(copy);
                }
                at = copy.before;
            }
            for copy in &these {
                held_bytes[copy.rank] = held_bytes[copy.rank].saturating_add(key.size_bytes);
                key.held = key.held.saturating_add(1);
                if copy.rank < 32 {
                    key.on_providers |= 1 << copy.rank;
                }
                if copy.ok {
                    let at = (copy.verified_ms.unwrap_or(0) / 1000).clamp(1, i64::from(u32::MAX));
                    let at = at as u32;
                    key.oldest_verified_s = match key.oldest_verified_s {
                        0 => at,
                        was => was.min(at),
                    };
                }
            }
            let judged = rules.judge(these.iter().map(|c| CopyFacts {
                provider: &providers[c.rank].1,
                ok: c.ok,
                verified_ms: c.verified_ms,
            }));
            key.health = judged.health;
            key.counted = judged.counted.min(u8::MAX as usize) as u8;
            *counts.entry(key.health).or_default() += 1;
            each(key);
        }
        Ok(Scan {
            counts,
            held_bytes: providers
                .iter()
                .map(|(id, _)| id.clone())
                .zip(held_bytes)
                .collect(),
            provider_ids: providers.into_iter().map(|(id, _)| id).collect(),
        })
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

    /// A hash is matched by its exact text: digits of another case, or text
    /// that is no hash, is a key of its own.
    #[test]
    fn hash_keys_tell_every_text_apart() {
        let lower = "ab".repeat(32);
        let upper = lower.to_uppercase();
        assert_eq!(hash_key(lower.as_bytes()), [0xab; 32]);
        assert_ne!(hash_key(upper.as_bytes()), hash_key(lower.as_bytes()));
        assert_ne!(hash_key(b"ab"), hash_key(b"abab"));
    }

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
        let scan = store.scan_asset_keys(&rules, &mut keys).unwrap();
        assert!(keys.iter().all(|k| k.name_rank == 0), "not ranked yet");
        store.rank_asset_names(&mut keys).unwrap();
        let providers = &scan.provider_ids;
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
            assert_eq!(scan.counts[&h], n, "{h:?}");
        }
        // The bytes held, summed in the pass, are what SQL sums.
        for id in providers {
            let held = scan.held_bytes[id];
            assert!(held > 0, "{id}");
            assert_eq!(held, store.bytes_held(id).unwrap(), "{id}");
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
