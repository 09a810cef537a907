//! The SQLite schema and its versioned migrations.
//!
//! Migrations are kept by hand with `PRAGMA user_version`: migration `n` (1-based)
//! runs once, in one transaction, when the file's version is below `n`.
//! `sync_operations` follows the seed design card column by column; the few
//! extra columns the engine needs are explained where they are declared.

use std::time::{SystemTime, UNIX_EPOCH};

/// Timestamps are UTC text with millisecond precision, `YYYY-MM-DD HH:MM:SS.SSS`,
/// so they sort and compare as text. `NOW` is the SQL expression for "now".
pub const NOW: &str = "strftime('%Y-%m-%d %H:%M:%f','now')";

/// A time in the schema's timestamp format, made in Rust: for times taken
/// when things happen and written later, and to spare SQLite a `strftime`
/// per row on the engine's hot path.
pub fn timestamp(t: SystemTime) -> String {
    // Whole milliseconds since the epoch, rounded down (before 1970 too).
    let millis = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_nanos().div_ceil(1_000_000) as i64),
    };
    timestamp_of_millis(millis)
}

/// [`timestamp`] of a time in milliseconds since the epoch.
pub fn timestamp_of_millis(millis: i64) -> String {
    let (days, ms) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    // Howard Hinnant's `civil_from_days`: the proleptic Gregorian date of a
    // day count, in 400-year eras starting on 1 March 0000.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// Each entry moves the schema one version forward. Never edit a released
/// entry: append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: the four tables.
    r#"
CREATE TABLE sync_providers (
    id          TEXT NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('local', 's3', 'webdav', 'sftp')),
    -- Non-secret settings as a JSON object (root folder, endpoint, bucket...).
    -- Secrets never go into this file.
    settings    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    concurrency INTEGER NOT NULL DEFAULT 4 CHECK (concurrency BETWEEN 1 AND 64),
    created_at  DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now'))
);

CREATE TABLE asset_manifest (
    content_hash  TEXT NOT NULL PRIMARY KEY,   -- BLAKE3, 64 lowercase hex digits
    size_bytes    INTEGER NOT NULL CHECK (size_bytes >= 0),
    original_name TEXT NOT NULL,
    local_path    TEXT,                        -- where the bytes live locally; NULL once gone
    media_type    TEXT NOT NULL,
    added_at      DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now'))
);

CREATE TABLE asset_copies (
    content_hash  TEXT NOT NULL REFERENCES asset_manifest (content_hash),
    provider_id   TEXT NOT NULL REFERENCES sync_providers (id) ON DELETE CASCADE,
    remote_key    TEXT NOT NULL,
    stored_at     DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
    verified_at   DATETIME,
    -- Outcome of the last check: 'ok' after an upload or a good verify,
    -- 'missing' or 'corrupt' when a verify found the copy gone or damaged.
    verify_status TEXT NOT NULL DEFAULT 'ok' CHECK (verify_status IN ('ok', 'missing', 'corrupt')),
    PRIMARY KEY (content_hash, provider_id)
);

CREATE TABLE sync_operations (
    id                TEXT NOT NULL PRIMARY KEY,
    content_hash      TEXT NOT NULL,
    provider_id       TEXT NOT NULL REFERENCES sync_providers (id),
    operation_type    TEXT NOT NULL
                      CHECK (operation_type IN ('upload', 'download', 'verify', 'delete_remote')),
    status            TEXT NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'in_progress', 'completed', 'failed')),
    priority          INT NOT NULL DEFAULT 0,
    retry_count       INT NOT NULL DEFAULT 0,
    max_retries       INT NOT NULL DEFAULT 3,
    error_message     TEXT,
    bytes_transferred INT NOT NULL DEFAULT 0,
    total_bytes       INT NOT NULL DEFAULT 0,
    created_at        DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
    started_at        DATETIME,
    completed_at      DATETIME,
    -- Engine columns, beyond the seed card:
    -- next_attempt_at: earliest time a failed op with retries left may run again
    --   (the backoff), or a queued op whose provider was offline may be tried again.
    next_attempt_at   DATETIME,
    -- lease_owner / lease_expires_at: which engine runs an in_progress op and until
    --   when its lease holds; a lease that expired or whose owner died is rescued.
    lease_owner       TEXT,
    lease_expires_at  DATETIME
);

-- The seed's index. Priority is kept descending so that a forward scan of one
-- status yields the claim order (highest priority first, then oldest by rowid).
CREATE INDEX idx_sync_operations_status ON sync_operations (status, priority DESC);

-- At most one live (queued, running or waiting to retry) op per content, provider
-- and kind: enqueueing the same work twice yields one op.
CREATE UNIQUE INDEX idx_sync_operations_live
    ON sync_operations (content_hash, provider_id, operation_type)
    WHERE status IN ('queued', 'in_progress')
       OR (status = 'failed' AND retry_count < max_retries);
"#,
    // 2: `finished_at`, and the live index keyed on it instead of on status.
    // Under migration 1's index, every claim (queued -> in_progress) rewrote
    // the op's entry in it, a random page per op since the index is sorted by
    // hash; now only the end of an op touches it.
    r#"
-- finished_at: when the op ended for good: completed, or failed with no
--   retries left (cancelled included). NULL exactly while the op is live
--   (queued, running or waiting to retry); a manual retry clears it.
ALTER TABLE sync_operations ADD COLUMN finished_at DATETIME;
UPDATE sync_operations SET finished_at = COALESCE(completed_at, started_at, created_at)
    WHERE status = 'completed' OR (status = 'failed' AND retry_count >= max_retries);
DROP INDEX idx_sync_operations_live;
CREATE UNIQUE INDEX idx_sync_operations_live
    ON sync_operations (content_hash, provider_id, operation_type)
    WHERE finished_at IS NULL;
"#,
    // 3: the library's identity, every path an asset was added under, the
    // catalog each provider keeps of what it holds, and restores.
    r#"
-- Settings of the library as a whole. 'library_id' names this library in the
-- catalogs it writes on providers (catalog/<library_id>/...); made once.
CREATE TABLE library_settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO library_settings (key, value) VALUES ('library_id', lower(hex(randomblob(16))));

-- Every path an asset was added under, relative to what was added ('2026/trip/a.jpg'
-- for the folder ~/Pictures/2026, 'a.jpg' for a single file), '/'-separated.
-- id: the order paths were recorded in (never reused), which the catalog's
-- progress marks count in. to_known: 1 when the path was recorded for a
-- content the library had before (a copy of it may be in a catalog already,
-- which must learn the path; a new content's paths go with its copies).
CREATE TABLE asset_paths (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    content_hash TEXT NOT NULL REFERENCES asset_manifest (content_hash),
    path         TEXT NOT NULL CHECK (path <> ''),
    added_at     DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
    to_known     INTEGER NOT NULL DEFAULT 0 CHECK (to_known IN (0, 1)),
    UNIQUE (content_hash, path)
);
CREATE INDEX idx_asset_paths_to_known ON asset_paths (id) WHERE to_known = 1;
INSERT INTO asset_paths (content_hash, path, added_at)
    SELECT content_hash, original_name, added_at FROM asset_manifest
    WHERE original_name <> '' ORDER BY rowid;

-- asset_copies again, with an id in the order copies were recorded (never
-- reused): the catalog writes the copies of a provider past its mark.
CREATE TABLE asset_copies_v3 (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    content_hash  TEXT NOT NULL REFERENCES asset_manifest (content_hash),
    provider_id   TEXT NOT NULL REFERENCES sync_providers (id) ON DELETE CASCADE,
    remote_key    TEXT NOT NULL,
    stored_at     DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
    verified_at   DATETIME,
    verify_status TEXT NOT NULL DEFAULT 'ok' CHECK (verify_status IN ('ok', 'missing', 'corrupt')),
    UNIQUE (content_hash, provider_id)
);
INSERT INTO asset_copies_v3 (content_hash, provider_id, remote_key, stored_at, verified_at, verify_status)
    SELECT content_hash, provider_id, remote_key, stored_at, verified_at, verify_status
    FROM asset_copies ORDER BY rowid;
DROP TABLE asset_copies;
ALTER TABLE asset_copies_v3 RENAME TO asset_copies;

-- How far each provider's catalog is written: every copy with an id up to
-- copies_mark and every path with an id up to paths_mark is described in a
-- segment on the provider. next_segment numbers the next one. writer and
-- writer_until: the engine writing a segment now, and until when it may.
CREATE TABLE catalog_state (
    provider_id  TEXT NOT NULL PRIMARY KEY REFERENCES sync_providers (id) ON DELETE CASCADE,
    copies_mark  INTEGER NOT NULL DEFAULT 0,
    paths_mark   INTEGER NOT NULL DEFAULT 0,
    next_segment INTEGER NOT NULL DEFAULT 1,
    writer       TEXT,
    writer_until DATETIME
);

-- Copies deleted from a provider that its catalog has not said so of yet.
CREATE TABLE catalog_removals (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    provider_id  TEXT NOT NULL REFERENCES sync_providers (id) ON DELETE CASCADE,
    content_hash TEXT NOT NULL,
    removed_at   DATETIME NOT NULL
);

-- The segments this library wrote to each provider's catalog.
CREATE TABLE catalog_segments (
    provider_id TEXT NOT NULL REFERENCES sync_providers (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,   -- its key on the provider
    seq         INTEGER NOT NULL,
    entries     INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    written_at  DATETIME NOT NULL,
    PRIMARY KEY (provider_id, name)
);

-- Where a restore puts each file: dir (absolute) joined with path (an
-- asset_paths path). done_at is set once the download placed it (at
-- placed_path, another free name if the path held other bytes) or refused it
-- (note says why).
CREATE TABLE restore_targets (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    content_hash TEXT NOT NULL REFERENCES asset_manifest (content_hash),
    dir          TEXT NOT NULL,
    path         TEXT NOT NULL,
    requested_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
    done_at      DATETIME,
    placed_path  TEXT,
    note         TEXT,
    UNIQUE (dir, path, content_hash)
);
CREATE INDEX idx_restore_targets_pending ON restore_targets (content_hash) WHERE done_at IS NULL;
"#,
    // 4: a cancel is the person's decision, not a failure.
    r#"
-- cancelled_at: when a person cancelled the op. The seed's status enum has
--   no place for a cancel, so a cancelled op is 'failed' with no retries left
--   and this set; it is shown, counted and retried apart from failures.
ALTER TABLE sync_operations ADD COLUMN cancelled_at DATETIME;
UPDATE sync_operations SET cancelled_at = COALESCE(finished_at, created_at)
    WHERE status = 'failed' AND error_message = 'cancelled by the user';
"#,
    // 5: how many attempts really failed, apart from the seed's retry_count.
    r#"
-- failed_attempts: attempts that failed since the op was last (re)queued by a
--   person. The seed's rule sets retry_count = max_retries at once for an
--   error no retry can fix, so retry_count alone cannot say "not retried".
--   Older rows take retry_count, the best that is known of them.
ALTER TABLE sync_operations ADD COLUMN failed_attempts INT NOT NULL DEFAULT 0;
UPDATE sync_operations SET failed_attempts = retry_count WHERE cancelled_at IS NULL;
"#,
    // 6: the ops waiting out a backoff, by when: the engine looks for the
    // due ones twice a second, which without it read every failed op.
    r#"
CREATE INDEX idx_sync_operations_retry_due ON sync_operations (next_attempt_at)
    WHERE status = 'failed' AND retry_count < max_retries;
"#,
    // 7: copy health: why an op was queued, when a provider went offline,
    // per provider scrub settings, and the scrub's order.
    r#"
-- reason: why the engine queued this op on its own ('repair: the copy on
--   nas was corrupt', 'policy: 1 of 2 copies', 'scrub'); NULL for ops a
--   person or a command queued.
ALTER TABLE sync_operations ADD COLUMN reason TEXT;
-- Per provider: since when it has not answered (NULL: it answers), and its
-- own scrub interval and byte budget (NULL: the library's; budget 0: off).
CREATE TABLE provider_state (
    provider_id      TEXT NOT NULL PRIMARY KEY REFERENCES sync_providers (id) ON DELETE CASCADE,
    offline_since    DATETIME,
    scrub_every_secs INTEGER CHECK (scrub_every_secs > 0),
    scrub_budget_bps INTEGER CHECK (scrub_budget_bps >= 0)
);
-- The scrub reads each provider's copies least recently verified first.
CREATE INDEX idx_asset_copies_verified ON asset_copies (provider_id, verified_at);
-- The copies found missing or corrupt, which the engine repairs.
CREATE INDEX idx_asset_copies_bad ON asset_copies (provider_id) WHERE verify_status <> 'ok';
-- The ops that hold the keeper back from an asset: failed or cancelled for
-- good, and deletes of copies (a person's decision, or a failure that needs
-- one). Completed transfers, the bulk of the queue, are not in it.
CREATE INDEX idx_sync_operations_held_back ON sync_operations (content_hash, provider_id)
    WHERE finished_at IS NOT NULL AND (status = 'failed' OR operation_type = 'delete_remote');
"#,
    // 8: what each provider did per day, kept when the history's retention
    // removes the completed ops themselves.
    r#"
-- Per provider and day (UTC, 'YYYY-MM-DD' of when the op ended): the ops
-- completed and their bytes, per kind, and the attempts that failed. Added
-- to as the engine reports; filled here from the ops already in the queue.
CREATE TABLE provider_daily (
    provider_id      TEXT NOT NULL REFERENCES sync_providers (id) ON DELETE CASCADE,
    day              TEXT NOT NULL,
    uploaded_ops     INTEGER NOT NULL DEFAULT 0,
    uploaded_bytes   INTEGER NOT NULL DEFAULT 0,
    downloaded_ops   INTEGER NOT NULL DEFAULT 0,
    downloaded_bytes INTEGER NOT NULL DEFAULT 0,
    verified_ops     INTEGER NOT NULL DEFAULT 0,
    verified_bytes   INTEGER NOT NULL DEFAULT 0,
    deleted_ops      INTEGER NOT NULL DEFAULT 0,
    failed_attempts  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (provider_id, day)
) WITHOUT ROWID;
INSERT INTO provider_daily
SELECT provider_id, substr(COALESCE(finished_at, started_at, created_at), 1, 10),
       SUM(done AND operation_type = 'upload'), SUM(CASE WHEN done AND operation_type = 'upload' THEN bytes_transferred ELSE 0 END),
       SUM(done AND operation_type = 'download'), SUM(CASE WHEN done AND operation_type = 'download' THEN bytes_transferred ELSE 0 END),
       SUM(done AND operation_type = 'verify'), SUM(CASE WHEN done AND operation_type = 'verify' THEN bytes_transferred ELSE 0 END),
       SUM(done AND operation_type = 'delete_remote'), SUM(failed_attempts)
FROM (SELECT *, status = 'completed' AS done FROM sync_operations)
GROUP BY 1, 2
HAVING SUM(done) > 0 OR SUM(failed_attempts) > 0;
"#,
    // 9: watched folders, and every file under them as last taken.
    r#"
-- A folder whose new and changed files are added as they come.
-- path: absolute, its folders' links resolved. providers: a JSON array of
-- provider ids uploads go to ([] = every enabled provider). device: the
-- st_dev the folder was on when added: another device at that path (the
-- empty mount point of an unplugged drive) is waited for, never read as a
-- folder emptied. state: what the watcher last said of it ('watching',
-- 'scanning', 'waiting'), problem: why it waits or rescans, in words.
-- scanned_at: when its last full rescan ended.
CREATE TABLE watched_folders (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    path       TEXT NOT NULL UNIQUE CHECK (path LIKE '/%'),
    providers  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(providers)),
    priority   INTEGER NOT NULL DEFAULT 0,
    device     INTEGER,
    paused     INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    added_at   DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
    state      TEXT NOT NULL DEFAULT 'new',
    problem    TEXT,
    scanned_at DATETIME
);

-- Each file under a watched folder as it was when last taken: its path as
-- recorded in asset_paths (starting with the folder's own name), its size
-- and modification time (nanoseconds since the epoch) then, its content,
-- and the device it was on. A file whose size and time still match is not
-- hashed again; a file gone is taken as deleted only if the folder above
-- it is on its device (not the empty mount point of a drive pulled out).
CREATE TABLE watched_files (
    folder_id    INTEGER NOT NULL REFERENCES watched_folders (id) ON DELETE CASCADE,
    path         TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    mtime_ns     INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    device       INTEGER NOT NULL,
    PRIMARY KEY (folder_id, path)
) WITHOUT ROWID;
"#,
    // 10: bandwidth limits per provider (the library's are in
    // library_settings: limit_up_bps, limit_down_bps, limit_schedule).
    r#"
-- Bytes per second up (uploads) and down (downloads, verification reads);
-- NULL: no limit of the provider's own. limit_schedule: a weekly timetable
-- (src/bandwidth/schedule.rs), which decides while it is set.
ALTER TABLE provider_state ADD COLUMN limit_up_bps INTEGER CHECK (limit_up_bps > 0);
ALTER TABLE provider_state ADD COLUMN limit_down_bps INTEGER CHECK (limit_down_bps > 0);
ALTER TABLE provider_state ADD COLUMN limit_schedule TEXT;
"#,
    // 11: a provider found full (src/store/space.rs), a provider or an op
    // paused (src/store/pause.rs; the library's pause is in library_settings).
    r#"
-- Since when the provider has had no room for an upload, and the words it
-- said; NULL once an upload fits again. Its uploads wait meanwhile (queued,
-- with a next_attempt_at) without spending retries.
ALTER TABLE provider_state ADD COLUMN full_since DATETIME;
ALTER TABLE provider_state ADD COLUMN full_reason TEXT;
-- 1: a person paused the provider: no engine moves its bytes until resumed.
ALTER TABLE provider_state ADD COLUMN paused INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1));
-- When a person paused the op (an engine's column: the seed's status stays
-- queued): no engine claims it until it is resumed.
ALTER TABLE sync_operations ADD COLUMN paused_at DATETIME;
"#,
    // 12: S3 multipart uploads to resume (src/store/kept_uploads.rs).
    r#"
-- An op's multipart upload under way on an S3 provider: resumed by the
-- op's next attempt, aborted on the server once the op is no longer live.
-- No reference to sync_operations: a removed op's upload is still there to
-- abort.
CREATE TABLE kept_uploads (
    op_id        TEXT NOT NULL PRIMARY KEY,
    provider_id  TEXT NOT NULL REFERENCES sync_providers (id) ON DELETE CASCADE,
    remote_key   TEXT NOT NULL,
    upload_id    TEXT NOT NULL,
    part_bytes   INTEGER NOT NULL CHECK (part_bytes > 0),
    source_bytes INTEGER NOT NULL CHECK (source_bytes >= 0),
    started_at   DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now'))
);
-- Its parts the server took: the ETag it answered, and the BLAKE3 of the
-- source's bytes sent in it (a source edited since is found before any
-- more of it is sent).
CREATE TABLE kept_upload_parts (
    op_id       TEXT NOT NULL REFERENCES kept_uploads (op_id) ON DELETE CASCADE,
    part_number INTEGER NOT NULL CHECK (part_number BETWEEN 1 AND 10000),
    size_bytes  INTEGER NOT NULL CHECK (size_bytes > 0),
    etag        TEXT NOT NULL,
    blake3      TEXT NOT NULL,
    PRIMARY KEY (op_id, part_number)
) WITHOUT ROWID;
"#,
    // 13: the age header of an encrypted multipart upload, to resume it.
    r#"
-- For an upload to a provider that encrypts: the age header (and nonce)
-- its first part begins with. It is no secret (the provider gets the same
-- bytes: the file key in it is wrapped to the library's recipient); with
-- the library's identity it gives the payload key again, so that the next
-- attempt seals the parts the server lacks as the first attempt would have.
ALTER TABLE kept_uploads ADD COLUMN sealed_header BLOB;
"#,
];

#[cfg(test)]
mod tests {
    use super::{MIGRATIONS, timestamp};
    use crate::store::{NewOp, OpState, OpType, Store};
    use std::time::{Duration, UNIX_EPOCH};

    /// A library made before migration 2 keeps every op, live or over as it
    /// was, and its live ops still block duplicates.
    #[test]
    fn a_version_1_library_is_migrated_with_each_op_live_or_finished_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("library.db");
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch(MIGRATIONS[0]).unwrap();
            c.execute_batch(
                "PRAGMA user_version = 1;
                 INSERT INTO sync_providers (id, name, kind) VALUES ('p', 'nas', 'local');
                 INSERT INTO sync_operations
                     (id, content_hash, provider_id, operation_type, status, retry_count,
                      started_at, completed_at)
                 VALUES
                     ('queued', 'h1', 'p', 'verify', 'queued', 0, NULL, NULL),
                     ('running', 'h2', 'p', 'verify', 'in_progress', 0, '2026-01-02 03:04:05.000', NULL),
                     ('retrying', 'h3', 'p', 'verify', 'failed', 1, '2026-01-02 03:04:05.000', NULL),
                     ('failed', 'h4', 'p', 'verify', 'failed', 3, '2026-01-02 03:04:05.000', NULL),
                     ('done', 'h5', 'p', 'verify', 'completed', 0, '2026-01-02 03:04:05.000',
                      '2026-01-02 03:04:06.000');
                 INSERT INTO sync_operations
                     (id, content_hash, provider_id, operation_type, status, retry_count, error_message)
                 VALUES ('cancelled', 'h6', 'p', 'verify', 'failed', 3, 'cancelled by the user');",
            )
            .unwrap();
        }
        let mut store = Store::open(&path).unwrap();
        // A cancel from before migration 4 reads as one, not as a failure.
        assert_eq!(
            store.op("cancelled").unwrap().unwrap().state,
            OpState::Cancelled
        );
        assert_eq!(
            store.op("failed").unwrap().unwrap().state,
            OpState::PermanentlyFailed
        );
        let finished: Vec<(String, Option<String>)> = {
            let c = rusqlite::Connection::open(&path).unwrap();
            let mut stmt = c
                .prepare("SELECT id, finished_at FROM sync_operations WHERE id <> 'cancelled' ORDER BY rowid")
                .unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(|r| r.unwrap())
                .collect()
        };
        let at = |s: &str| Some(s.to_string());
        assert_eq!(
            finished,
            [
                ("queued".into(), None),
                ("running".into(), None),
                ("retrying".into(), None),
                ("failed".into(), at("2026-01-02 03:04:05.000")),
                ("done".into(), at("2026-01-02 03:04:06.000")),
            ]
        );
        // The same work again: only the contents whose ops are over get a new op.
        let again: Vec<NewOp> = (1..=5)
            .map(|i| NewOp {
                content_hash: format!("h{i}"),
                provider_id: "p".into(),
                operation_type: OpType::Verify,
                priority: 0,
                total_bytes: 0,
            })
            .collect();
        assert_eq!(store.enqueue(&again).unwrap().len(), 2);
    }

    /// A library made before migration 8 gets its per provider, per day
    /// totals from the ops it holds, so pruning them loses no count.
    #[test]
    fn a_version_7_library_gets_its_daily_totals_from_its_ops() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("library.db");
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            for m in &MIGRATIONS[..7] {
                c.execute_batch(m).unwrap();
            }
            c.execute_batch(
                "PRAGMA user_version = 7;
                 INSERT INTO sync_providers (id, name, kind) VALUES ('p', 'nas', 'local');
                 INSERT INTO sync_operations
                     (id, content_hash, provider_id, operation_type, status, retry_count,
                      bytes_transferred, failed_attempts, created_at, finished_at)
                 VALUES
                     ('u1', 'h1', 'p', 'upload', 'completed', 1, 100, 1, '2026-03-01 09:00:00.000', '2026-03-01 10:00:00.000'),
                     ('u2', 'h2', 'p', 'upload', 'completed', 0, 200, 0, '2026-03-01 09:00:00.000', '2026-03-01 23:59:59.999'),
                     ('v1', 'h1', 'p', 'verify', 'completed', 0, 100, 0, '2026-03-02 09:00:00.000', '2026-03-02 00:00:00.000'),
                     ('d1', 'h2', 'p', 'delete_remote', 'completed', 0, 0, 0, '2026-03-02 09:00:00.000', '2026-03-02 01:00:00.000'),
                     ('f1', 'h3', 'p', 'upload', 'failed', 3, 0, 3, '2026-03-02 09:00:00.000', '2026-03-02 02:00:00.000'),
                     ('q1', 'h4', 'p', 'upload', 'queued', 0, 0, 0, '2026-03-02 09:00:00.000', NULL);",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let daily = store.daily("2026-01-01").unwrap();
        let days: Vec<(&str, i64, i64, i64, i64, i64, i64)> = daily
            .iter()
            .map(|d| {
                let t = &d.totals;
                (
                    d.day.as_str(),
                    t.uploaded_ops,
                    t.uploaded_bytes,
                    t.verified_ops,
                    t.verified_bytes,
                    t.deleted_ops,
                    t.failed_attempts,
                )
            })
            .collect();
        assert_eq!(
            days,
            [
                ("2026-03-01", 2, 300, 0, 0, 0, 1),
                ("2026-03-02", 0, 0, 1, 100, 1, 3)
            ]
        );
    }

    /// A library made before migration 3 keeps its assets and copies; each
    /// asset's name becomes its path, the library gets an id, and every
    /// copy it holds is waiting for its provider's catalog (the backfill).
    #[test]
    fn a_version_2_library_gets_paths_an_id_and_a_catalog_backlog() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("library.db");
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch(MIGRATIONS[0]).unwrap();
            c.execute_batch(MIGRATIONS[1]).unwrap();
            c.execute_batch(
                "PRAGMA user_version = 2;
                 INSERT INTO sync_providers (id, name, kind) VALUES ('p', 'nas', 'local'), ('q', 'usb', 'local');
                 INSERT INTO asset_manifest (content_hash, size_bytes, original_name, media_type, added_at)
                 VALUES ('h1', 1, 'a.jpg', 'image/jpeg', '2026-01-01 00:00:00.000'),
                        ('h2', 2, 'b.jpg', 'image/jpeg', '2026-01-02 00:00:00.000');
                 INSERT INTO asset_copies (content_hash, provider_id, remote_key, verify_status)
                 VALUES ('h1', 'p', 'objects/h1', 'ok'), ('h2', 'p', 'objects/h2', 'corrupt'),
                        ('h1', 'q', 'objects/h1', 'ok');",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let paths = store.paths_of(&["h1", "h2"]).unwrap();
        assert_eq!(paths["h1"], ["a.jpg"]);
        assert_eq!(paths["h2"], ["b.jpg"]);
        let copies = store.copies_of("h2").unwrap();
        assert_eq!(copies.len(), 1);
        assert_eq!(copies[0].verify_status, "corrupt");
        let id = store.library_id().unwrap();
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        // Two copies on `p`, one on `q` (their paths go with them).
        let backlog = store.catalog_backlog(1000).unwrap();
        assert_eq!((backlog["p"], backlog["q"]), (2, 1));
        assert_eq!(store.catalog_backlog(1).unwrap()["p"], 1);
        // A second library gets another id.
        let other = Store::open(&dir.path().join("other.db")).unwrap();
        assert_ne!(other.library_id().unwrap(), id);
    }

    /// Rust's timestamps are SQLite's, to the millisecond: across leap days,
    /// century years, the ends of days and years, and before 1970.
    #[test]
    fn timestamps_made_in_rust_read_as_sqlite_writes_them() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let day = 86_400_000i64;
        let mut millis = vec![0, 1, 999, day - 1, day, -1, -day - 1, 951_782_400_000];
        // 1900-02-28 to 2400-03-01, in steps that land on every time of day.
        let mut m = -2_203_977_600_000i64;
        while m < 13_574_563_200_000 {
            millis.push(m);
            m += 7 * day + 3_600_000 * 5 + 60_000 * 7 + 1_001;
        }
        for m in millis {
            let t = if m >= 0 {
                UNIX_EPOCH + Duration::from_millis(m as u64)
            } else {
                UNIX_EPOCH - Duration::from_millis(m.unsigned_abs())
            };
            let sqlite: String = c
                .query_row(
                    "SELECT strftime('%Y-%m-%d %H:%M:%f', ?1 / 1000.0, 'unixepoch')",
                    [m],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(timestamp(t), sqlite, "{m} ms");
        }
        // Sub-millisecond parts are cut, as SQLite's own clock does.
        let t = UNIX_EPOCH + Duration::from_micros(1_999);
        assert_eq!(timestamp(t), "1970-01-01 00:00:00.001");
    }
}
