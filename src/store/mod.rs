//! The library database: one SQLite file holding the queue and what is known
//! about assets, providers and remote copies.
//!
//! Every connection runs in WAL mode with foreign keys on and a busy timeout.
//! One module per table; `operations` is the seed card's `sync_operations_dao`.

mod asset_view;
mod catalog;
mod copies;
mod excludes;
mod health;
mod history;
mod kept_uploads;
mod limits;
mod manifest;
mod operations;
mod pause;
mod providers;
mod restore;
mod schema;
mod space;
mod view;
mod watch;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use asset_view::{AssetKey, AssetRow, Scan};
pub use catalog::{CatalogAsset, Described, PendingSegment, ScanCounts, ScannedAsset, SegmentRow};
pub use copies::{AssetCopy, VerifyStatus};
pub use health::{
    CopyFacts, Deficit, Health, HealthRules, Judged, Policy, Repair, SCRUB_PRIORITY, Scrub,
    ScrubOverride,
};
pub use history::{DailyRow, DayTotals, SHOWN_DAYS, keep_words, shown_days};
pub use kept_uploads::{KeptChange, KeptPart, KeptUpload};
pub use limits::LimitChange;
pub use manifest::{AssetListing, AssetPath, CopyListing, ManifestEntry};
pub use operations::{
    ClaimedOp, CopyChange, Counts, Finish, NewOp, OpEvent, OpQuery, OpRow, OpState, OpStatus,
    OpType, Retry, SortKey,
};
pub use providers::{ProviderKind, ProviderRow};
pub use restore::{Restorable, RestoreTarget, TargetDone};
pub use schema::{NOW, timestamp, timestamp_of_millis};
pub use space::{Full, Waiting};
pub use view::{OpKey, parse_timestamp};
pub use watch::{Seen, WatchedFile, WatchedFolder};

/// Errors from the library database, each saying what went wrong in words a
/// person can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path} is not a Breakdex library: {reason}; it was left untouched")]
    NotALibrary { path: PathBuf, reason: String },
    #[error("cannot open the library {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("library database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An open library database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Whether opening this store created its schema.
    new: bool,
}

impl Store {
    /// Opens (creating if needed) the library at `path` and brings its schema
    /// up to date. A file that is not a SQLite database, or a SQLite database
    /// that is not a Breakdex library, is refused without writing to it.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::NotALibrary {
                path: path.to_owned(),
                reason: format!("its folder cannot be created ({e})"),
            })?;
        }
        if path.is_dir() {
            return Err(StoreError::NotALibrary {
                path: path.to_owned(),
                reason: "it is a folder".into(),
            });
        }
        check_is_library(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let mut store = Store {
            conn,
            path: path.to_owned(),
            new: false,
        };
        store.conn.pragma_update(None, "journal_mode", "WAL")?;
        store.conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Statement journals and sorts in memory, and a page cache that holds
        // the hot part of a big queue.
        store.conn.pragma_update(None, "temp_store", "MEMORY")?;
        store.conn.pragma_update(None, "cache_size", -32768)?;
        store.conn.pragma_update(None, "foreign_keys", true)?;
        // Plans that do not depend on bound values: SQLite (built with
        // STAT4) would otherwise prepare a statement afresh whenever a new
        // value is bound to a parameter its plan looked at.
        store.conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        // Room for every statement the engine and the window run over and
        // over (the default 16 evicts some on each turn of the engine).
        store.conn.set_prepared_statement_cache_capacity(64);
        store.migrate()?;
        Ok(store)
    }

    /// Whether this store's schema was created when it was opened.
    pub fn is_new(&self) -> bool {
        self.new
    }

    /// The file this store was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn migrate(&mut self) -> Result<()> {
        let version: usize =
            self.conn
                .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version) {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            // Another process may have migrated while we waited for the lock.
            let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if now as usize > i {
                continue;
            }
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
            self.new |= i == 0;
        }
        Ok(())
    }

    /// Runs `PRAGMA integrity_check` and returns its verdict ("ok" when sound).
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    /// Starts a write transaction that takes the write lock at once.
    fn write_tx(&mut self) -> Result<rusqlite::Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)
    }
}

/// Refuses, without writing anything, a file that is not SQLite or a SQLite
/// database that is not a Breakdex library. A missing or empty file is fine:
/// it becomes a new library.
fn check_is_library(path: &Path) -> Result<()> {
    if std::fs::metadata(path)
        .map(|m| m.len() == 0)
        .unwrap_or(true)
    {
        return Ok(());
    }
    let not_library = |reason: String| StoreError::NotALibrary {
        path: path.to_owned(),
        reason,
    };
    // Read-only: closing it can neither checkpoint nor change the journal mode.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| StoreError::Open {
        path: path.to_owned(),
        source,
    })?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => {
                not_library("the file is not a SQLite database".into())
            }
            _ => StoreError::Open {
                path: path.to_owned(),
                source: e,
            },
        })?;
    if version as usize > schema::MIGRATIONS.len() {
        return Err(not_library(format!(
            "it was made by a newer Breakdex (schema {version}, this one knows {})",
            schema::MIGRATIONS.len()
        )));
    }
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    // The tables every version has (later ones add more).
    let ours = [
        "sync_operations",
        "sync_providers",
        "asset_manifest",
        "asset_copies",
    ];
    let foreign = tables.iter().find(|n| !ours.contains(&n.as_str()));
    let lacks_ours = ours.iter().any(|t| !tables.iter().any(|n| n == t));
    if (version == 0 && !tables.is_empty()) || (version > 0 && lacks_ours) {
        return Err(not_library(match foreign {
            Some(name) => format!("it is a SQLite database of another program (it has '{name}')"),
            None => "it is a SQLite database of another program".into(),
        }));
    }
    Ok(())
}

/// A new identifier: 12 hex digits of milliseconds since the epoch, then 20
/// random hex digits, so identifiers sort roughly by creation time.
pub fn new_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let random: u128 = rand::random::<u128>() & ((1u128 << 80) - 1);
    format!("{:012x}{:020x}", millis & 0xffff_ffff_ffff, random)
}

/// SQL for "now plus `d`", in the schema's timestamp format.
fn now_plus(d: Duration) -> String {
    format!(
        "strftime('%Y-%m-%d %H:%M:%f','now','+{:.3} seconds')",
        d.as_secs_f64()
    )
}
