//! The SQLite schema and its versioned migrations.
//!
//! Migrations are kept by hand with `PRAGMA user_version`: migration `n` (1-based)
//! runs once, in one transaction, when the file's version is below `n`.
//! `sync_operations` follows the seed design card column by column; the few
//! extra columns the engine needs are explained where they are declared.

/// Timestamps are UTC text with millisecond precision, `YYYY-MM-DD HH:MM:SS.SSS`,
/// so they sort and compare as text. `NOW` is the SQL expression for "now".
pub const NOW: &str = "strftime('%Y-%m-%d %H:%M:%f','now')";

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
];
