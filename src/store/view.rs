//! What the window reads: a compact key per op, so that a million rows can be
//! sorted and filtered in memory; whole rows by rowid for the visible part;
//! the head of the queue, straight from the status index; text search; and a
//! cheap check for "did anything change".

use std::collections::HashMap;

use rusqlite::params_from_iter;
use rusqlite::types::ValueRef;

use super::operations::{ROW_COLUMNS, op_row, placeholders};
use super::{OpRow, OpState, OpStatus, OpType, Result, Store};

/// The sortable and filterable facts of one op, in 72 bytes.
#[derive(Clone, Copy, Debug)]
pub struct OpKey {
    pub rowid: i64,
    pub priority: i64,
    /// The first 64 bits of the content hash.
    pub hash_prefix: u64,
    pub bytes_transferred: i64,
    pub total_bytes: i64,
    /// Milliseconds since the epoch; `i64::MIN` when not set.
    pub started_ms: i64,
    pub completed_ms: i64,
    /// Position of the asset's name among all names (0 when unknown).
    pub name_rank: u32,
    /// Attempts that failed (what the Retries column shows).
    pub failed_attempts: i32,
    /// Position of the provider's name among all providers' names.
    pub provider_rank: u32,
    pub state: OpState,
    pub operation_type: OpType,
    pub status: OpStatus,
}

/// Milliseconds since the epoch of a stored timestamp
/// (`YYYY-MM-DD HH:MM:SS.SSS`, UTC).
pub fn parse_timestamp(text: &str) -> Option<i64> {
    parse_timestamp_bytes(text.as_bytes())
}

pub(super) fn parse_timestamp_bytes(b: &[u8]) -> Option<i64> {
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in b.get(r)? {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let ms = num(20..23).unwrap_or(0);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((mo + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi) * 60_000 + s * 1000 + ms)
}

/// Each byte's value as a hex digit (uppercase ones too if `upper`), or
/// 0x80 when it is not one.
pub(super) const fn hex_digits(upper: bool) -> [u8; 256] {
    let mut t = [0x80u8; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match c as u8 {
            b'0'..=b'9' => c as u8 - b'0',
            b'a'..=b'f' => c as u8 - b'a' + 10,
            b'A'..=b'F' if upper => c as u8 - b'A' + 10,
            _ => 0x80,
        };
        c += 1;
    }
    t
}

/// Each byte's value as a hex digit of either case, or 0x80.
const HEX: [u8; 256] = hex_digits(true);

/// The number in the first 16 characters of a content hash read as hex
/// (`None` when they are not all hex digits).
fn hex_head(hash: &[u8]) -> Option<u64> {
    let head = &hash[..hash.len().min(16)];
    let (mut v, mut bad) = (0u64, 0u8);
    for &c in head {
        let d = HEX[c as usize];
        bad |= d;
        v = (v << 4) | u64::from(d & 15);
    }
    (bad & 0x80 == 0 && !head.is_empty()).then_some(v)
}

/// A 64-bit handle for a whole content hash: its first 64 bits when it is
/// the usual 64 hex digits, else a hash of its bytes.
pub(super) fn hash_handle(hash: &[u8]) -> u64 {
    handle_of(hash, hex_head(hash))
}

/// [`hash_handle`], given the hash's [`hex_head`].
fn handle_of(hash: &[u8], head: Option<u64>) -> u64 {
    match head {
        Some(v) if hash.len() == 64 => v,
        _ => {
            use std::hash::{BuildHasher, BuildHasherDefault};
            BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
                .hash_one(hash)
        }
    }
}

pub(super) fn text<'a>(r: &'a rusqlite::Row, i: usize) -> rusqlite::Result<&'a [u8]> {
    match r.get_ref(i)? {
        ValueRef::Text(t) | ValueRef::Blob(t) => Ok(t),
        other => Err(rusqlite::Error::InvalidColumnType(
            i,
            String::new(),
            other.data_type(),
        )),
    }
}

pub(super) fn opt_text<'a>(r: &'a rusqlite::Row, i: usize) -> rusqlite::Result<Option<&'a [u8]>> {
    match r.get_ref(i)? {
        ValueRef::Null => Ok(None),
        _ => text(r, i).map(Some),
    }
}

fn bad_enum(i: usize, value: &[u8]) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        i,
        rusqlite::types::Type::Text,
        format!("unexpected value '{}'", String::from_utf8_lossy(value)).into(),
    )
}

fn parse_bytes<T>(i: usize, value: &[u8], parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    std::str::from_utf8(value)
        .ok()
        .and_then(parse)
        .ok_or_else(|| bad_enum(i, value))
}

/// Text as search compares it: lower case, accents taken off ("Café" and
/// "CAFE" are both "cafe").
pub fn fold(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Appends `name` as a person sorts names: case and accents aside, and a
/// run of digits by its value ("note_2" before "note_10"). A run becomes a
/// marker that sorts as a digit does, its length, and its digits without
/// leading zeros.
pub(super) fn natural_key(name: &[u8], out: &mut Vec<u8>) {
    let folded;
    let bytes = if name.is_ascii() {
        name
    } else {
        folded = fold(&String::from_utf8_lossy(name));
        folded.as_bytes()
    };
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let run = &bytes[start..i];
            let digits = &run[run.iter().take_while(|&&d| d == b'0').count()..];
            out.push(b'0');
            out.push(digits.len().min(255) as u8);
            out.extend_from_slice(digits);
        } else {
            out.push(bytes[i].to_ascii_lowercase());
            i += 1;
        }
    }
}

/// Whether `hay` holds `needle` (already [`fold`]ed), case and accents
/// aside; plain ASCII (most names) is compared as it is, without a copy.
fn holds_folded(hay: &[u8], needle: &str) -> bool {
    if hay.is_ascii() {
        let needle = needle.as_bytes();
        needle.is_empty()
            || hay.windows(needle.len()).any(|w| {
                w.iter()
                    .zip(needle)
                    .all(|(a, b)| a.to_ascii_lowercase() == *b)
            })
    } else {
        fold(&String::from_utf8_lossy(hay)).contains(needle)
    }
}

/// What [`Store::name_ranks`] gives each asset's rank by.
#[derive(Clone, Copy)]
pub(super) enum NameId {
    HashHandle,
    Rowid,
}

/// The name rank of each of `n` rows, given as `id << 64 | row index`,
/// from [`Store::name_ranks`] by the same kind of id (0 for an id without a
/// name): two sorted lists merged.
pub(super) fn join_name_ranks(names: &[u128], mut handles: Vec<u128>, n: usize) -> Vec<u32> {
    handles.sort_unstable();
    let mut ranks = vec![0u32; n];
    let mut at = 0;
    for h in handles {
        let handle = (h >> 64) as u64;
        while at < names.len() && ((names[at] >> 64) as u64) < handle {
            at += 1;
        }
        if at < names.len() && (names[at] >> 64) as u64 == handle {
            ranks[h as u32 as usize] = names[at] as u32;
        }
    }
    ranks
}

/// How many rows the whole-queue read holds on to before it knows better.
pub(super) const MAX_RESERVE: usize = 1 << 24;

impl Store {
    /// The largest rowid of `table` (0 when empty): a cheap row-count bound.
    pub(super) fn max_rowid(&self, table: &str) -> Result<usize> {
        let top: Option<i64> =
            self.conn
                .query_row(&format!("SELECT max(rowid) FROM {table}"), [], |r| r.get(0))?;
        Ok(top.unwrap_or(0).max(0) as usize)
    }

    /// A number that changes whenever another connection commits to the file.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// Sets this connection's page cache, in KiB (a reader that scans the
    /// whole queue gains little from a big one).
    pub fn set_cache_kib(&self, kib: i64) -> Result<()> {
        Ok(self.conn.pragma_update(None, "cache_size", -kib)?)
    }

    /// Providers' ids and their rank among all providers' names (1-based).
    fn provider_ranks(&self) -> Result<Vec<(Vec<u8>, u32)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM sync_providers ORDER BY name")?;
        let ids = stmt.query_map([], |r| Ok(text(r, 0)?.to_vec()))?;
        let mut out = Vec::new();
        for (i, id) in ids.enumerate() {
            out.push((id?, i as u32 + 1));
        }
        Ok(out)
    }

    /// Each asset's name rank (1-based, in the order a person sorts names:
    /// see [`natural_key`]; names that differ only in case or accents rank
    /// equal) as `id << 64 | rank`, sorted, where the id is its manifest
    /// rowid or the [`hash_handle`] of its content hash.
    pub(super) fn name_ranks(&self, by: NameId) -> Result<Vec<u128>> {
        // Names go into one buffer; entries carry their first 16 bytes so that
        // most comparisons never touch it.
        struct Entry {
            head: u128,
            start: u32,
            len: u32,
            id: u64,
        }
        let mut entries: Vec<Entry> =
            Vec::with_capacity(self.max_rowid("asset_manifest")?.min(MAX_RESERVE));
        let mut names: Vec<u8> = Vec::new();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT content_hash, original_name, rowid FROM asset_manifest")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let start = names.len();
            natural_key(text(r, 1)?, &mut names);
            let key = &names[start..];
            let mut head = [0u8; 16];
            let n = key.len().min(16);
            head[..n].copy_from_slice(&key[..n]);
            entries.push(Entry {
                head: u128::from_be_bytes(head),
                start: start as u32,
                len: key.len() as u32,
                id: match by {
                    NameId::HashHandle => hash_handle(text(r, 0)?),
                    NameId::Rowid => r.get::<_, i64>(2)? as u64,
                },
            });
        }
        drop(rows);

        let name = |e: &Entry| &names[e.start as usize..(e.start + e.len) as usize];
        entries.sort_unstable_by(|a, b| a.head.cmp(&b.head).then_with(|| name(a).cmp(name(b))));

        let mut ranks = Vec::with_capacity(entries.len());
        let mut rank = 0u32;
        for (i, e) in entries.iter().enumerate() {
            if i == 0 || e.head != entries[i - 1].head || name(e) != name(&entries[i - 1]) {
                rank += 1;
            }
            ranks.push(u128::from(e.id) << 64 | u128::from(rank));
        }
        drop(entries);
        ranks.sort_unstable();
        Ok(ranks)
    }

    /// Fills `keys` with the key of every op, in rowid (age) order, reusing
    /// its room.
    pub fn scan_keys(&self, keys: &mut Vec<OpKey>) -> Result<()> {
        keys.clear();
        let providers = self.provider_ranks()?;
        let by_id: HashMap<&[u8], u32> = providers.iter().map(|(id, r)| (&id[..], *r)).collect();
        let provider_rank = |id: &[u8]| -> Option<u32> {
            if providers.len() <= 8 {
                providers.iter().find(|(p, _)| p == id).map(|(_, r)| *r)
            } else {
                by_id.get(id).copied()
            }
        };
        let names = self.name_ranks(NameId::HashHandle)?;

        if keys.capacity() == 0 {
            keys.reserve(self.max_rowid("sync_operations")?.min(MAX_RESERVE));
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT rowid, operation_type, status, priority, retry_count, max_retries,
                    provider_id, content_hash, bytes_transferred, total_bytes,
                    started_at, completed_at, cancelled_at IS NOT NULL, failed_attempts
             FROM sync_operations ORDER BY rowid",
        )?;
        let mut rows = stmt.query([])?;
        // Name ranks are joined afterwards, by merging two sorted lists:
        // (hash handle, key index) here with (hash handle, rank).
        let mut handles: Vec<u128> = Vec::with_capacity(keys.capacity());
        while let Some(r) = rows.next()? {
            // Ops of a provider that is gone are not shown.
            let Some(provider_rank) = provider_rank(text(r, 6)?) else {
                continue;
            };
            let status = match text(r, 2)? {
                b"queued" => OpStatus::Queued,
                b"in_progress" => OpStatus::InProgress,
                b"completed" => OpStatus::Completed,
                b"failed" => OpStatus::Failed,
                other => parse_bytes(2, other, OpStatus::parse)?,
            };
            let operation_type = match text(r, 1)? {
                b"upload" => OpType::Upload,
                b"download" => OpType::Download,
                b"verify" => OpType::Verify,
                b"delete_remote" => OpType::DeleteRemote,
                other => parse_bytes(1, other, OpType::parse)?,
            };
            let retry_count: i64 = r.get(4)?;
            let max_retries: i64 = r.get(5)?;
            let hash = text(r, 7)?;
            let head = hex_head(hash);
            let handle = handle_of(hash, head);
            let time = |i| -> rusqlite::Result<i64> {
                Ok(opt_text(r, i)?
                    .and_then(parse_timestamp_bytes)
                    .unwrap_or(i64::MIN))
            };
            handles.push(u128::from(handle) << 64 | keys.len() as u128);
            keys.push(OpKey {
                rowid: r.get(0)?,
                operation_type,
                status,
                state: OpState::of(status, retry_count, max_retries, r.get(12)?),
                priority: r.get(3)?,
                failed_attempts: r.get(13)?,
                provider_rank,
                name_rank: 0,
                hash_prefix: head.unwrap_or(0),
                bytes_transferred: r.get(8)?,
                total_bytes: r.get(9)?,
                started_ms: time(10)?,
                completed_ms: time(11)?,
            });
        }

        drop(rows);
        let ranks = join_name_ranks(&names, handles, keys.len());
        for (k, rank) in keys.iter_mut().zip(ranks) {
            k.name_rank = rank;
        }

        Ok(())
    }

    /// The first `limit` rowids in queue order (highest priority first, then
    /// oldest), read from the status index without sorting the queue.
    pub fn queue_head(&self, limit: usize) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT priority, rowid FROM sync_operations INDEXED BY idx_sync_operations_status
             WHERE status = ?1 ORDER BY priority DESC, rowid LIMIT ?2",
        )?;
        let mut head: Vec<(i64, i64)> = Vec::with_capacity(limit * OpStatus::ALL.len());
        for status in OpStatus::ALL {
            let rows = stmt.query_map(rusqlite::params![status.as_str(), limit as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })?;
            for row in rows {
                head.push(row?);
            }
        }
        head.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        head.truncate(limit);
        Ok(head.into_iter().map(|(_, rowid)| rowid).collect())
    }

    /// Whole rows for these rowids, in the order given (missing ones skipped).
    pub fn ops_by_rowid(&self, rowids: &[i64]) -> Result<Vec<OpRow>> {
        let mut out = Vec::with_capacity(rowids.len());
        for chunk in rowids.chunks(500) {
            let sql = format!(
                "SELECT {ROW_COLUMNS} FROM sync_operations o
                 JOIN sync_providers p ON p.id = o.provider_id
                 LEFT JOIN asset_manifest m ON m.content_hash = o.content_hash
                 WHERE o.rowid IN ({})",
                placeholders(chunk.len())
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let mut found: Vec<OpRow> = stmt
                .query_map(params_from_iter(chunk.iter()), op_row)?
                .collect::<rusqlite::Result<_>>()?;
            let pos: std::collections::HashMap<i64, usize> =
                chunk.iter().enumerate().map(|(i, r)| (*r, i)).collect();
            found.sort_by_key(|r| pos.get(&r.rowid).copied().unwrap_or(usize::MAX));
            out.extend(found);
        }
        Ok(out)
    }

    /// The content hashes of the assets whose name or any recorded path
    /// holds `typed`, as a person reads it: whatever the case and the
    /// accents.
    pub(super) fn hashes_holding(&self, typed: &str) -> Result<std::collections::HashSet<Vec<u8>>> {
        let needle = fold(typed);
        let mut assets: std::collections::HashSet<Vec<u8>> = std::collections::HashSet::new();
        for sql in [
            "SELECT content_hash, original_name FROM asset_manifest",
            "SELECT content_hash, path FROM asset_paths",
        ] {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                if holds_folded(text(r, 1)?, &needle) {
                    assets.insert(text(r, 0)?.to_vec());
                }
            }
        }
        Ok(assets)
    }

    /// Rowids of the ops whose asset name contains `text` (any case) or whose
    /// hash starts with it.
    pub fn rowids_matching(&self, typed: &str) -> Result<std::collections::HashSet<i64>> {
        let assets = self.hashes_holding(typed)?;
        let prefix = typed.to_lowercase();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT rowid, content_hash FROM sync_operations")?;
        let mut rows = stmt.query([])?;
        let mut found = std::collections::HashSet::new();
        while let Some(r) = rows.next()? {
            let hash = text(r, 1)?;
            if assets.contains(hash) || hash.starts_with(prefix.as_bytes()) {
                found.insert(r.get(0)?);
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::OpQuery;

    #[test]
    fn search_text_is_folded_as_a_person_reads_it() {
        assert_eq!(fold("Café CRÈME"), "cafe creme");
        for (hay, needle, holds) in [
            ("Café.jpg", "CAFE", true),
            ("cafe.jpg", "Café", true),
            ("2026/Trip LISBON/a.jpg", "lisbon", true),
            ("Ärger.txt", "arger", true),
            ("porto/a.jpg", "lisbon", false),
            ("a", "", true),
        ] {
            assert_eq!(
                holds_folded(hay.as_bytes(), &fold(needle)),
                holds,
                "{hay} / {needle}"
            );
        }
    }

    #[test]
    fn names_sort_as_a_person_reads_them() {
        let key = |name: &str| {
            let mut out = Vec::new();
            natural_key(name.as_bytes(), &mut out);
            out
        };
        let mut names = [
            "note_10.txt",
            "Note_2.txt",
            "note_1.txt",
            "NOTE_1b.txt",
            "note.txt",
            "Éclair.jpg",
            "apple.jpg",
            "note_007.txt",
            "eclair2.jpg",
        ];
        names.sort_by_key(|n| key(n));
        assert_eq!(
            names,
            [
                "apple.jpg",
                "Éclair.jpg",
                "eclair2.jpg",
                "note.txt",
                "note_1.txt",
                "NOTE_1b.txt",
                "Note_2.txt",
                "note_007.txt",
                "note_10.txt",
            ]
        );
        assert_eq!(key("IMG_0001.JPG"), key("img_1.jpg"));
    }

    #[test]
    fn keys_and_head_match_what_sql_says() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("library.db");
        crate::demo::make_demo_library(&db, 3000, "test").unwrap();
        let store = Store::open(&db).unwrap();

        let head = store.queue_head(100).unwrap();
        let listed: Vec<i64> = store
            .list_ops(&OpQuery {
                limit: Some(100),
                ..Default::default()
            })
            .unwrap()
            .iter()
            .map(|r| r.rowid)
            .collect();
        assert_eq!(head, listed);

        let mut keys = Vec::new();
        store.scan_keys(&mut keys).unwrap();
        let mut stmt = store
            .conn
            .prepare(
                "SELECT o.rowid, pr.rank, COALESCE(nr.original_name, ''), substr(o.content_hash, 1, 16),
                        CAST((julianday(o.started_at) - 2440587.5) * 86400000.0 AS INTEGER),
                        CAST((julianday(o.completed_at) - 2440587.5) * 86400000.0 AS INTEGER)
                 FROM sync_operations o
                 JOIN (SELECT id, row_number() OVER (ORDER BY name) AS rank FROM sync_providers) pr
                     ON pr.id = o.provider_id
                 LEFT JOIN asset_manifest nr ON nr.content_hash = o.content_hash
                 ORDER BY o.rowid",
            )
            .unwrap();
        type Want = (i64, u32, String, String, Option<i64>, Option<i64>);
        let want: Vec<Want> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(keys.len(), want.len());
        let near = |got: i64, want: Option<i64>| match want {
            None => got == i64::MIN,
            Some(w) => (got - w).abs() <= 1,
        };
        for (k, w) in keys.iter().zip(&want) {
            assert_eq!(k.rowid, w.0);
            assert_eq!(k.provider_rank, w.1);
            assert_eq!(k.hash_prefix, u64::from_str_radix(&w.3, 16).unwrap());
            assert!(near(k.started_ms, w.4), "{k:?} {w:?}");
            assert!(near(k.completed_ms, w.5), "{k:?} {w:?}");
        }
        // Name ranks follow the order a person reads names in, as an
        // independent comparison (digit runs as numbers, case folded) says.
        let mut ranked: Vec<(u32, &str)> = (keys.iter().zip(&want))
            .map(|(k, w)| (k.name_rank, w.2.as_str()))
            .collect();
        ranked.sort();
        for pair in ranked.windows(2) {
            let ((ra, a), (rb, b)) = (pair[0], pair[1]);
            let want = if ra == rb {
                std::cmp::Ordering::Equal
            } else {
                std::cmp::Ordering::Less
            };
            assert_eq!(read_order(a, b), want, "{a} ({ra}) / {b} ({rb})");
        }
    }

    /// Names compared as a person reads them, token by token: a run of
    /// digits by its value, anything else by its lower case.
    fn read_order(a: &str, b: &str) -> std::cmp::Ordering {
        fn tokens(s: &str) -> Vec<(u128, String)> {
            let mut out = Vec::new();
            let folded = fold(s);
            let mut chars = folded.chars().peekable();
            while let Some(c) = chars.next() {
                if c.is_ascii_digit() {
                    let mut n = c.to_digit(10).unwrap() as u128;
                    while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                        n = n * 10 + d as u128;
                        chars.next();
                    }
                    // A number sorts where its first digit would.
                    out.push((u128::from(b'0'), format!("{n:040}")));
                } else {
                    out.push((c as u128, String::new()));
                }
            }
            out
        }
        tokens(a).cmp(&tokens(b))
    }

    #[test]
    fn hash_heads_read_as_hex() {
        assert_eq!(hex_head(b"00ff"), Some(0xff));
        assert_eq!(hex_head(b"0123456789abcdefFF"), Some(0x0123_4567_89ab_cdef));
        assert_eq!(hex_head(b"h1"), None);
        assert_eq!(hex_head(b""), None);
        assert_ne!(hash_handle(b"h1"), hash_handle(b"h2"));
    }
}
