//! `sync_operations`, the durable queue (the seed card's `sync_operations_dao`):
//! enqueue, claim, progress, finish, and the manual actions a person takes.
//!
//! Invariants kept here:
//! - a claim is one `BEGIN IMMEDIATE` transaction over the best runnable ops, so
//!   two engines never hold the same op;
//! - every write an engine makes to a claimed op is guarded by its lease, so an
//!   engine that lost an op (rescued, cancelled, removed) cannot overwrite it;
//! - "permanently failed" is the seed's rule, `retry_count >= max_retries`: an
//!   error that retrying cannot fix sets `retry_count = max_retries` at once.

use std::time::{Duration, SystemTime};

use rusqlite::{OptionalExtension, Row, ToSql, params, params_from_iter};
use serde::Serialize;

use super::history::DailyTally;
use super::restore::{TargetDone, targets_done};
use super::{NOW, Result, Store, StoreError, VerifyStatus, new_id, now_plus, timestamp};

/// The seed's `operation_type` enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpType {
    Upload,
    Download,
    Verify,
    DeleteRemote,
}

impl OpType {
    pub const ALL: [OpType; 4] = [
        OpType::Upload,
        OpType::Download,
        OpType::Verify,
        OpType::DeleteRemote,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Upload => "upload",
            OpType::Download => "download",
            OpType::Verify => "verify",
            OpType::DeleteRemote => "delete_remote",
        }
    }

    pub fn parse(s: &str) -> Option<OpType> {
        OpType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// The seed's `status` enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpStatus {
    Queued,
    InProgress,
    Completed,
    Failed,
}

impl OpStatus {
    pub const ALL: [OpStatus; 4] = [
        OpStatus::Queued,
        OpStatus::InProgress,
        OpStatus::Completed,
        OpStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OpStatus::Queued => "queued",
            OpStatus::InProgress => "in_progress",
            OpStatus::Completed => "completed",
            OpStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<OpStatus> {
        OpStatus::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// The seed's States table: what a row means to a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpState {
    /// Waiting to be picked up (pending_in_queue).
    Queued,
    /// Transferring (progress bar).
    InProgress,
    /// Failed with `retry_count < max_retries`: retried automatically (retry-pending indicator).
    RetryPending,
    /// Failed with `retry_count >= max_retries`: needs a person (error badge).
    PermanentlyFailed,
    /// Done.
    Completed,
    /// Cancelled by a person (stored as failed with no retries left, and
    /// `cancelled_at` set): not a failure, not retried by "retry all failed".
    Cancelled,
}

impl OpState {
    pub fn of(status: OpStatus, retry_count: i64, max_retries: i64, cancelled: bool) -> OpState {
        match status {
            OpStatus::Queued => OpState::Queued,
            OpStatus::InProgress => OpState::InProgress,
            OpStatus::Completed => OpState::Completed,
            OpStatus::Failed if cancelled => OpState::Cancelled,
            OpStatus::Failed if retry_count < max_retries => OpState::RetryPending,
            OpStatus::Failed => OpState::PermanentlyFailed,
        }
    }

    /// How far an op in this state is, as a fraction: a completed op is
    /// whole, a running one as far as its bytes; the others (waiting,
    /// failed, cancelled) have no progress to show. The grid's bar, its
    /// Progress column and the sort by it all read this.
    pub fn progress(self, bytes_transferred: i64, total_bytes: i64) -> Option<f64> {
        match self {
            OpState::Completed => Some(1.0),
            OpState::InProgress if total_bytes > 0 => {
                Some((bytes_transferred.max(0) as f64 / total_bytes as f64).min(1.0))
            }
            _ => None,
        }
    }

    /// The SQL condition selecting rows in this state.
    fn sql(self) -> &'static str {
        match self {
            OpState::Queued => "o.status = 'queued'",
            OpState::InProgress => "o.status = 'in_progress'",
            OpState::RetryPending => "o.status = 'failed' AND o.retry_count < o.max_retries",
            OpState::PermanentlyFailed => {
                "o.status = 'failed' AND o.retry_count >= o.max_retries AND o.cancelled_at IS NULL"
            }
            OpState::Completed => "o.status = 'completed'",
            OpState::Cancelled => "o.status = 'failed' AND o.cancelled_at IS NOT NULL",
        }
    }
}

/// An op to put on the queue.
#[derive(Clone, Debug)]
pub struct NewOp {
    pub content_hash: String,
    pub provider_id: String,
    pub operation_type: OpType,
    pub priority: i64,
    pub total_bytes: i64,
}

/// An op an engine has claimed and must now run.
#[derive(Clone, Debug)]
pub struct ClaimedOp {
    pub id: String,
    pub content_hash: String,
    pub provider_id: String,
    pub operation_type: OpType,
    pub priority: i64,
    pub total_bytes: i64,
    pub retry_count: i64,
    /// Why the engine queued it on its own (a repair or the policy), if it did.
    pub reason: Option<String>,
}

/// How a failed attempt goes back on the queue.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Retry {
    /// A transient error: spend one retry and wait this long (or fail for good
    /// when no retry is left).
    Backoff(Duration),
    /// An error that retrying cannot fix: fail permanently now.
    Never,
    /// Not the op's fault (provider offline, engine paused or stopping): back
    /// to the queue without spending a retry, runnable again after this long.
    Release(Duration),
}

/// What finishing an op changes about the remote copies.
#[derive(Clone, Debug, PartialEq)]
pub enum CopyChange {
    /// The object now exists on the provider under this key.
    Stored { remote_key: String },
    /// A check of the copy found this.
    Checked {
        remote_key: String,
        status: VerifyStatus,
    },
    /// The object is gone from the provider.
    Removed,
    /// The asset's bytes are now at this local path.
    Downloaded { local_path: String },
    /// A restore's download placed (or refused) its targets; the asset's
    /// local bytes are now at `local_path`, if it had none before.
    Restored {
        local_path: Option<String>,
        targets: Vec<TargetDone>,
    },
}

/// Something an engine reports about an op it holds.
#[derive(Clone, Debug)]
pub enum OpEvent {
    Progress {
        id: String,
        bytes: i64,
        total: i64,
    },
    /// The op really started (it may have waited after its claim).
    Started {
        id: String,
        at: SystemTime,
    },
    Finished {
        id: String,
        bytes: i64,
        change: Option<CopyChange>,
        /// `None` when the work really happened; otherwise why not (a message
        /// for a person, absent when it is nobody's fault) and what comes next.
        failure: Option<(Option<String>, Retry)>,
        /// When the op really started, if its `started_at` (set by the claim)
        /// is to be corrected.
        started: Option<SystemTime>,
        /// When it ended.
        ended: SystemTime,
    },
}

/// What [`Store::exchange`] returns: how finished ops ended, and the ops claimed.
pub type Exchanged = (Vec<(String, Finish)>, Vec<ClaimedOp>);

/// How a finished attempt left an op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    Completed,
    /// Failed for now; it will be retried after its backoff.
    WillRetry,
    /// Failed for good: it needs a person.
    Failed,
}

/// One row of the queue, with the asset's and provider's names.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OpRow {
    pub id: String,
    pub content_hash: String,
    pub provider_id: String,
    pub operation_type: OpType,
    pub status: OpStatus,
    pub priority: i64,
    pub retry_count: i64,
    pub max_retries: i64,
    /// Attempts that really failed (an error no retry can fix sets
    /// `retry_count` to `max_retries` after one).
    pub failed_attempts: i64,
    pub error_message: Option<String>,
    pub bytes_transferred: i64,
    pub total_bytes: i64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub next_attempt_at: Option<String>,
    pub state: OpState,
    pub asset_name: Option<String>,
    /// The first path the asset was added under (`2026/trip/a.jpg`), and
    /// how many it has.
    pub asset_path: Option<String>,
    pub path_count: i64,
    pub provider_name: String,
    /// Why the engine queued it on its own ("repair: …"), if it did.
    pub reason: Option<String>,
    /// When a person paused it, if it is paused: no engine runs it.
    pub paused_at: Option<String>,
    /// SQLite's rowid: the queue's age order, and a cheap handle for the window.
    #[serde(skip)]
    pub rowid: i64,
}

/// Columns the queue can be sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SortKey {
    /// The claim order: priority (highest first), then age.
    #[default]
    QueueOrder,
    AssetName,
    Provider,
    OperationType,
    Status,
    Priority,
    Progress,
    Retries,
    Size,
    CreatedAt,
    StartedAt,
    CompletedAt,
    ContentHash,
}

impl SortKey {
    /// Every column, in the grid's order after the queue order.
    pub const ALL: [SortKey; 13] = [
        SortKey::QueueOrder,
        SortKey::AssetName,
        SortKey::Provider,
        SortKey::OperationType,
        SortKey::Status,
        SortKey::Priority,
        SortKey::Progress,
        SortKey::Retries,
        SortKey::Size,
        SortKey::CreatedAt,
        SortKey::StartedAt,
        SortKey::CompletedAt,
        SortKey::ContentHash,
    ];

    fn sql(self) -> &'static str {
        match self {
            SortKey::QueueOrder => "o.priority DESC, o.rowid",
            SortKey::AssetName => "m.original_name",
            SortKey::Provider => "p.name",
            SortKey::OperationType => "o.operation_type",
            SortKey::Status => "o.status",
            SortKey::Priority => "o.priority",
            SortKey::Progress => {
                "CASE WHEN o.total_bytes > 0 THEN o.bytes_transferred * 1.0 / o.total_bytes ELSE 0 END"
            }
            SortKey::Retries => "o.retry_count",
            SortKey::Size => "o.total_bytes",
            SortKey::CreatedAt => "o.created_at",
            SortKey::StartedAt => "o.started_at",
            SortKey::CompletedAt => "o.completed_at",
            SortKey::ContentHash => "o.content_hash",
        }
    }
}

/// What to list: a filter, a sort and a page.
#[derive(Clone, Debug, Default)]
pub struct OpQuery {
    pub state: Option<OpState>,
    pub status: Option<OpStatus>,
    pub provider_id: Option<String>,
    /// Matches the asset's name or the start of its hash.
    pub text: Option<String>,
    pub sort: SortKey,
    pub descending: bool,
    pub limit: Option<i64>,
    pub offset: i64,
}

/// How many ops are in each state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub queued: i64,
    pub in_progress: i64,
    pub retry_pending: i64,
    pub permanently_failed: i64,
    pub completed: i64,
    pub cancelled: i64,
    pub total: i64,
}

pub(super) const ROW_COLUMNS: &str =
    "o.id, o.content_hash, o.provider_id, o.operation_type, o.status, o.priority,
    o.retry_count, o.max_retries, o.error_message, o.bytes_transferred, o.total_bytes, o.created_at,
    o.started_at, o.completed_at, o.next_attempt_at, m.original_name, p.name, o.rowid,
    o.cancelled_at IS NOT NULL, o.failed_attempts,
    (SELECT ap.path FROM asset_paths ap WHERE ap.content_hash = o.content_hash ORDER BY ap.id LIMIT 1),
    (SELECT COUNT(*) FROM asset_paths ap WHERE ap.content_hash = o.content_hash), o.reason,
    o.paused_at";

pub(super) fn parse_enum<T>(
    r: &Row,
    i: usize,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unexpected value '{s}'").into(),
        )
    })
}

pub(super) fn op_row(r: &Row) -> rusqlite::Result<OpRow> {
    let status = parse_enum(r, 4, OpStatus::parse)?;
    let retry_count = r.get(6)?;
    let max_retries = r.get(7)?;
    Ok(OpRow {
        id: r.get(0)?,
        content_hash: r.get(1)?,
        provider_id: r.get(2)?,
        operation_type: parse_enum(r, 3, OpType::parse)?,
        status,
        priority: r.get(5)?,
        retry_count,
        max_retries,
        failed_attempts: r.get(19)?,
        asset_path: r.get(20)?,
        path_count: r.get(21)?,
        reason: r.get(22)?,
        paused_at: r.get(23)?,
        error_message: r.get(8)?,
        bytes_transferred: r.get(9)?,
        total_bytes: r.get(10)?,
        created_at: r.get(11)?,
        started_at: r.get(12)?,
        completed_at: r.get(13)?,
        next_attempt_at: r.get(14)?,
        state: OpState::of(status, retry_count, max_retries, r.get(18)?),
        asset_name: r.get(15)?,
        provider_name: r.get(16)?,
        rowid: r.get(17)?,
    })
}

fn claimed_op(r: &Row) -> rusqlite::Result<ClaimedOp> {
    Ok(ClaimedOp {
        id: r.get(0)?,
        content_hash: r.get(1)?,
        provider_id: r.get(2)?,
        operation_type: parse_enum(r, 3, OpType::parse)?,
        priority: r.get(4)?,
        total_bytes: r.get(5)?,
        retry_count: r.get(6)?,
        reason: r.get(7)?,
    })
}

/// Rows per statement when enqueueing (6 parameters each).
const ENQUEUE_ROWS: usize = 256;

/// One `INSERT` of `n` ops that skips uploads of content the provider holds
/// a good copy of, and ops that are already live.
fn enqueue_sql(n: usize) -> String {
    let values = value_rows(n, 6);
    // `?1` is the creation time, `?2` the reason; the rows' parameters
    // follow them.
    format!(
        "INSERT INTO sync_operations
             (created_at, reason, id, content_hash, provider_id, operation_type, priority, total_bytes)
         SELECT ?1, ?2, v.column1, v.column2, v.column3, v.column4, v.column5, v.column6
         FROM (VALUES {values}) AS v
         WHERE v.column4 <> 'upload' OR NOT EXISTS (
             SELECT 1 FROM asset_copies c
             WHERE c.content_hash = v.column2 AND c.provider_id = v.column3
               AND c.verify_status = 'ok')
         ON CONFLICT DO NOTHING"
    )
}

/// `(?,?),(?,?),…`: `n` rows of `width` placeholders, for a multi-row INSERT.
pub(super) fn value_rows(n: usize, width: usize) -> String {
    vec![format!("({})", placeholders(width)); n].join(",")
}

/// `?,?,?` with `n` placeholders.
pub(super) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(",")
}

impl Store {
    /// Puts ops on the queue in one transaction and returns the ids of those
    /// created, in the order given. An op whose content, provider and type
    /// match a live op (queued, running or waiting to retry) is not created
    /// again, nor an upload of content the provider already holds a good
    /// copy of.
    pub fn enqueue(&mut self, ops: &[NewOp]) -> Result<Vec<String>> {
        self.enqueue_because(ops, None)
    }

    /// [`Store::enqueue`], with the reason the engine queued them on its
    /// own ("repair: …", "policy: …", "scrub"), kept in their history.
    pub fn enqueue_because(&mut self, ops: &[NewOp], reason: Option<&str>) -> Result<Vec<String>> {
        let tx = self.write_tx()?;
        // Every provider named must exist: checked once each, so that the
        // inserts below cannot fail on the foreign key half way.
        {
            let mut exists =
                tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM sync_providers WHERE id = ?1)")?;
            let mut checked = std::collections::HashSet::new();
            for op in ops {
                if checked.insert(op.provider_id.as_str())
                    && !exists.query_row([&op.provider_id], |r| r.get::<_, bool>(0))?
                {
                    return Err(StoreError::Invalid(format!(
                        "cannot enqueue: no provider with id '{}'",
                        op.provider_id
                    )));
                }
            }
        }
        // One creation time for the whole call (they are created together),
        // read once instead of a column default evaluated per row.
        let now: String = tx.query_row(&format!("SELECT {NOW}"), [], |r| r.get(0))?;
        let mut created = Vec::with_capacity(ops.len());
        for chunk in ops.chunks(ENQUEUE_ROWS) {
            // Many rows per statement: one parse and one VM run per chunk,
            // the held-copy check inside it.
            let mut insert = tx.prepare_cached(&enqueue_sql(chunk.len()))?;
            let ids: Vec<String> = chunk.iter().map(|_| new_id()).collect();
            let kinds: Vec<&str> = chunk.iter().map(|op| op.operation_type.as_str()).collect();
            let mut args: Vec<&dyn ToSql> = Vec::with_capacity(2 + chunk.len() * 6);
            args.push(&now);
            args.push(&reason);
            for ((op, id), kind) in chunk.iter().zip(&ids).zip(&kinds) {
                args.extend([
                    id as &dyn ToSql,
                    &op.content_hash,
                    &op.provider_id,
                    kind,
                    &op.priority,
                    &op.total_bytes,
                ]);
            }
            let n = insert.execute(args.as_slice())?;
            if n == chunk.len() {
                created.extend(ids);
            } else {
                // Some were skipped (live already, or the copy is held):
                // keep the ids that made it, in order.
                let mut exists = tx.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM sync_operations WHERE id = ?1)",
                )?;
                for id in ids {
                    if exists.query_row([&id], |r| r.get::<_, bool>(0))? {
                        created.push(id);
                    }
                }
            }
        }
        tx.commit()?;
        Ok(created)
    }

    /// Moves failed ops whose backoff has passed back to the queue; returns
    /// how many. Read through the index of backoffs, so that it costs
    /// nothing with a million ops of which many failed.
    pub fn requeue_due_retries(&mut self) -> Result<usize> {
        Ok(self.conn.execute(
            &format!(
                "UPDATE sync_operations INDEXED BY idx_sync_operations_retry_due
                 SET status = 'queued'
                 WHERE status = 'failed' AND retry_count < max_retries AND next_attempt_at <= {NOW}"
            ),
            [],
        )?)
    }

    /// Ends the waits of ops handed back because their provider was offline
    /// (queued, with a time to look again): an engine that starts checks each
    /// provider itself rather than waiting out an earlier engine's pause.
    /// Backoffs after failures are left as they are. Returns how many.
    pub fn end_offline_waits(&mut self) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE sync_operations SET next_attempt_at = NULL
             WHERE status = 'queued' AND next_attempt_at IS NOT NULL",
            [],
        )?)
    }

    /// The earliest time a waiting op (backoff or offline wait) becomes
    /// runnable, among ops of enabled providers not in `skip`, but for the
    /// uploads of the providers in `full`.
    pub fn next_wakeup(&self, skip: &[String], full: &[String]) -> Result<Option<Duration>> {
        let sql = format!(
            "SELECT MAX(0, (julianday(MIN(o.next_attempt_at)) - julianday('now')) * 86400.0)
             FROM sync_operations o JOIN sync_providers p ON p.id = o.provider_id
             WHERE p.enabled = 1 AND o.provider_id NOT IN ({})
               AND NOT (o.operation_type = 'upload' AND o.provider_id IN ({}))
               AND o.paused_at IS NULL
               AND ((o.status = 'failed' AND o.retry_count < o.max_retries)
                    OR (o.status = 'queued' AND o.next_attempt_at IS NOT NULL))",
            placeholders(skip.len()),
            placeholders(full.len())
        );
        let secs: Option<f64> = self.conn.query_row(
            &sql,
            params_from_iter(skip.iter().chain(full.iter())),
            |r| r.get(0),
        )?;
        Ok(secs.map(Duration::from_secs_f64))
    }

    /// Whether any op of an enabled provider not in `skip` is queued, but
    /// for the uploads of the providers in `full`.
    pub fn has_queued(&self, skip: &[String], full: &[String]) -> Result<bool> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM sync_operations o JOIN sync_providers p ON p.id = o.provider_id
             WHERE o.status = 'queued' AND p.enabled = 1 AND o.provider_id NOT IN ({})
               AND NOT (o.operation_type = 'upload' AND o.provider_id IN ({}))
               AND o.paused_at IS NULL)",
            placeholders(skip.len()),
            placeholders(full.len())
        );
        Ok(self.conn.query_row(
            &sql,
            params_from_iter(skip.iter().chain(full.iter())),
            |r| r.get(0),
        )?)
    }

    /// Puts back on the queue the running ops of engines that are gone: those
    /// whose lease expired, and those whose owner `is_dead` says has died.
    /// Returns how many ops were rescued.
    pub fn rescue(&mut self, me: &str, is_dead: impl Fn(&str) -> bool) -> Result<usize> {
        // Reads first: most of the time there is nothing to rescue and no
        // write lock is needed.
        let (owners, expired): (Vec<String>, bool) = {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT lease_owner, MAX(lease_owner IS NULL OR lease_expires_at < {NOW})
                 FROM sync_operations WHERE status = 'in_progress' GROUP BY lease_owner"
            ))?;
            let rows: Vec<(Option<String>, bool)> = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            (
                rows.iter()
                    .filter_map(|(o, _)| o.clone())
                    .filter(|o| o != me)
                    .collect(),
                rows.iter().any(|(_, e)| *e),
            )
        };
        let dead: Vec<String> = owners.into_iter().filter(|o| is_dead(o)).collect();
        if dead.is_empty() && !expired {
            return Ok(0);
        }
        let tx = self.write_tx()?;
        let sql = format!(
            "UPDATE sync_operations
             SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL,
                 started_at = NULL, bytes_transferred = 0
             WHERE status = 'in_progress'
               AND (lease_owner IS NULL OR lease_expires_at < {NOW} OR lease_owner IN ({}))",
            placeholders(dead.len())
        );
        let n = tx.execute(&sql, params_from_iter(dead.iter()))?;
        tx.commit()?;
        Ok(n)
    }

    /// Extends the leases of every op `owner` runs.
    pub fn renew_leases(&mut self, owner: &str, lease: Duration) -> Result<()> {
        self.conn.execute(
            &format!(
                "UPDATE sync_operations SET lease_expires_at = {}
                 WHERE status = 'in_progress' AND lease_owner = ?1",
                now_plus(lease)
            ),
            [owner],
        )?;
        Ok(())
    }

    /// Of the given ops, those `owner` no longer holds (cancelled, removed or
    /// rescued by another engine): the engine must stop working on them.
    pub fn lost_ops(&self, owner: &str, ids: &[&str]) -> Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // One statement whatever the number of ids: the list goes in as JSON.
        let list = serde_json::to_string(ids).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let held: std::collections::HashSet<String> = self
            .conn
            .prepare_cached(
                "SELECT id FROM sync_operations
                 WHERE id IN (SELECT value FROM json_each(?1))
                   AND status = 'in_progress' AND lease_owner = ?2",
            )?
            .query_map(params![list, owner], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids
            .iter()
            .filter(|id| !held.contains(**id))
            .map(|s| s.to_string())
            .collect())
    }

    /// Applies an engine's reports and claims its next ops, in one
    /// transaction (one commit instead of two on the engine's hot path).
    ///
    /// Reports about ops the owner no longer holds are dropped. Returns how the
    /// finished ops that took effect ended (ops released back to the queue are
    /// not listed), and the ops claimed: up to `n` runnable ops of each listed
    /// provider, best first (highest priority, then oldest), held for `lease`.
    pub fn exchange(
        &mut self,
        owner: &str,
        events: &[OpEvent],
        lease: Duration,
        wants: &[(String, usize)],
    ) -> Result<Exchanged> {
        let tx = self.write_tx()?;
        let applied = apply_in(&tx, owner, events)?;
        let claimed = claim_in(&tx, owner, lease, wants)?;
        tx.commit()?;
        Ok((applied, claimed))
    }

    /// Claims ops (see [`Store::exchange`]).
    pub fn claim(
        &mut self,
        owner: &str,
        lease: Duration,
        wants: &[(String, usize)],
    ) -> Result<Vec<ClaimedOp>> {
        Ok(self.exchange(owner, &[], lease, wants)?.1)
    }

    /// Applies reports (see [`Store::exchange`]).
    pub fn apply(&mut self, owner: &str, events: &[OpEvent]) -> Result<Vec<(String, Finish)>> {
        Ok(self.exchange(owner, events, Duration::ZERO, &[])?.0)
    }

    /// Makes failed or waiting ops runnable now. Permanently failed ones get
    /// their retries back. Ops that would duplicate a live op are left as they are.
    pub fn retry_now(&mut self, ids: &[String]) -> Result<usize> {
        self.update_ids(
            "UPDATE OR IGNORE sync_operations
             SET status = 'queued', next_attempt_at = NULL, finished_at = NULL, cancelled_at = NULL,
                 retry_count = CASE WHEN retry_count >= max_retries THEN 0 ELSE retry_count END,
                 failed_attempts = CASE WHEN retry_count >= max_retries THEN 0 ELSE failed_attempts END
             WHERE (status = 'failed' OR status = 'queued') AND id IN",
            ids,
        )
    }

    /// Retries every permanently failed op (not the cancelled ones: a
    /// cancel is a person's decision); returns how many.
    pub fn retry_all_failed(&mut self) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE OR IGNORE sync_operations
             SET status = 'queued', next_attempt_at = NULL, retry_count = 0, failed_attempts = 0,
                 finished_at = NULL
             WHERE status = 'failed' AND retry_count >= max_retries AND cancelled_at IS NULL",
            [],
        )?)
    }

    /// Cancels ops that are not finished: they end as cancelled (in the
    /// seed's enum, failed with no retries left, the reason "cancelled by
    /// the user", and `cancelled_at` set); a running one is stopped by its
    /// engine.
    pub fn cancel(&mut self, ids: &[String]) -> Result<usize> {
        self.update_ids(
            &format!(
                "UPDATE sync_operations
                 SET status = 'failed', retry_count = max_retries, error_message = 'cancelled by the user',
                     next_attempt_at = NULL, lease_owner = NULL, lease_expires_at = NULL,
                     finished_at = {NOW}, cancelled_at = {NOW}
                 WHERE finished_at IS NULL AND id IN"
            ),
            ids,
        )
    }

    /// Sets the priority of ops.
    pub fn set_priority(&mut self, ids: &[String], priority: i64) -> Result<usize> {
        self.update_ids(
            &format!("UPDATE sync_operations SET priority = {priority} WHERE id IN"),
            ids,
        )
    }

    /// Raises (or, when negative, lowers) the priority of ops by `delta`.
    pub fn bump_priority(&mut self, ids: &[String], delta: i64) -> Result<usize> {
        self.update_ids(
            &format!("UPDATE sync_operations SET priority = priority + ({delta}) WHERE id IN"),
            ids,
        )
    }

    /// Deletes ops from the queue; a running one is stopped by its engine.
    pub fn remove(&mut self, ids: &[String]) -> Result<usize> {
        let n = self.update_ids("DELETE FROM sync_operations WHERE id IN", ids)?;
        // A live upload removed may leave an asset short of copies.
        self.mark_round_due()?;
        Ok(n)
    }

    /// Runs `sql_prefix (?,?,...)` over the ids in one transaction.
    pub(super) fn update_ids(&mut self, sql_prefix: &str, ids: &[String]) -> Result<usize> {
        let tx = self.write_tx()?;
        let mut n = 0;
        for chunk in ids.chunks(500) {
            n += tx.execute(
                &format!("{sql_prefix} ({})", placeholders(chunk.len())),
                params_from_iter(chunk.iter()),
            )?;
        }
        tx.commit()?;
        Ok(n)
    }

    /// Lists ops, filtered, sorted (ties keep queue order) and paged.
    pub fn list_ops(&self, q: &OpQuery) -> Result<Vec<OpRow>> {
        let mut conditions = vec!["1".to_string()];
        let mut args: Vec<Box<dyn ToSql>> = Vec::new();
        if let Some(state) = q.state {
            conditions.push(state.sql().into());
        }
        if let Some(status) = q.status {
            conditions.push("o.status = ?".into());
            args.push(Box::new(status.as_str()));
        }
        if let Some(p) = &q.provider_id {
            conditions.push("o.provider_id = ?".into());
            args.push(Box::new(p.clone()));
        }
        if let Some(text) = q.text.as_deref().filter(|t| !t.is_empty()) {
            conditions.push(
                "(instr(lower(m.original_name), lower(?)) > 0 OR o.content_hash LIKE ? || '%')"
                    .into(),
            );
            args.push(Box::new(text.to_string()));
            args.push(Box::new(text.to_lowercase()));
        }
        let direction = if q.descending { "DESC" } else { "ASC" };
        let order = match q.sort {
            SortKey::QueueOrder if q.descending => "o.priority ASC, o.rowid DESC".to_string(),
            SortKey::QueueOrder => SortKey::QueueOrder.sql().to_string(),
            key => format!("{} {direction}, o.priority DESC, o.rowid", key.sql()),
        };
        let sql = format!(
            "SELECT {ROW_COLUMNS}
             FROM sync_operations o
             JOIN sync_providers p ON p.id = o.provider_id
             LEFT JOIN asset_manifest m ON m.content_hash = o.content_hash
             WHERE {} ORDER BY {order} LIMIT {} OFFSET {}",
            conditions.join(" AND "),
            q.limit.unwrap_or(-1),
            q.offset.max(0)
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args.iter()), op_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One op by id.
    pub fn op(&self, id: &str) -> Result<Option<OpRow>> {
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM sync_operations o
             JOIN sync_providers p ON p.id = o.provider_id
             LEFT JOIN asset_manifest m ON m.content_hash = o.content_hash
             WHERE o.id = ?1"
        );
        match self.conn.query_row(&sql, [id], op_row) {
            Ok(row) => Ok(Some(row)),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// How many ops are in each state, optionally for one provider.
    pub fn counts(&self, provider_id: Option<&str>) -> Result<Counts> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT
                 COALESCE(SUM(status = 'queued'), 0),
                 COALESCE(SUM(status = 'in_progress'), 0),
                 COALESCE(SUM(status = 'failed' AND retry_count < max_retries), 0),
                 COALESCE(SUM(status = 'failed' AND retry_count >= max_retries AND cancelled_at IS NULL), 0),
                 COALESCE(SUM(status = 'completed'), 0),
                 COALESCE(SUM(status = 'failed' AND cancelled_at IS NOT NULL), 0),
                 COUNT(*)
             FROM sync_operations WHERE ?1 IS NULL OR provider_id = ?1",
        )?;
        Ok(stmt.query_row([provider_id], |r| {
            Ok(Counts {
                queued: r.get(0)?,
                in_progress: r.get(1)?,
                retry_pending: r.get(2)?,
                permanently_failed: r.get(3)?,
                completed: r.get(4)?,
                cancelled: r.get(5)?,
                total: r.get(6)?,
            })
        })?)
    }
}

fn claim_in(
    tx: &rusqlite::Transaction,
    owner: &str,
    lease: Duration,
    wants: &[(String, usize)],
) -> Result<Vec<ClaimedOp>> {
    let mut claimed = Vec::new();
    {
        // `?4` is now and `?5` the end of the lease, made once for all rows.
        let mut stmt = tx.prepare_cached(
            "UPDATE sync_operations
                 SET status = 'in_progress', started_at = ?4, lease_owner = ?1,
                     lease_expires_at = ?5, bytes_transferred = 0, next_attempt_at = NULL
                 WHERE rowid IN (
                     SELECT rowid FROM sync_operations
                     WHERE status = 'queued' AND provider_id = ?2 AND paused_at IS NULL
                       AND (next_attempt_at IS NULL OR next_attempt_at <= ?4)
                     ORDER BY priority DESC, rowid LIMIT ?3)
                 RETURNING id, content_hash, provider_id, operation_type, priority, total_bytes, retry_count, reason",
        )?;
        let now = SystemTime::now();
        let (now, until) = (timestamp(now), timestamp(now + lease));
        for (provider_id, n) in wants.iter().filter(|(_, n)| *n > 0) {
            let rows = stmt.query_map(
                params![owner, provider_id, *n as i64, now, until],
                claimed_op,
            )?;
            for row in rows {
                claimed.push(row?);
            }
        }
    }
    claimed.sort_by_key(|c| std::cmp::Reverse(c.priority));
    Ok(claimed)
}

fn apply_in(
    tx: &rusqlite::Transaction,
    owner: &str,
    events: &[OpEvent],
) -> Result<Vec<(String, Finish)>> {
    let mut applied = Vec::new();
    // Copies stored, not written yet: (hash, provider, key, when).
    let mut stored: Vec<[String; 4]> = Vec::new();
    let mut daily = DailyTally::default();
    {
        let mut progress = tx.prepare_cached(
            "UPDATE sync_operations SET bytes_transferred = ?3, total_bytes = ?4
                 WHERE id = ?1 AND lease_owner = ?2 AND status = 'in_progress'",
        )?;
        // `?4` and `?5` (complete), `?7` and `?8` (fail) are when the op
        // really started (NULL keeps the claim's `started_at`) and ended.
        let mut complete = tx.prepare_cached(
            "UPDATE sync_operations
                 SET status = 'completed', completed_at = ?5, finished_at = ?5,
                     started_at = COALESCE(?4, started_at), bytes_transferred = ?3,
                     error_message = NULL, lease_owner = NULL, lease_expires_at = NULL
                 WHERE id = ?1 AND lease_owner = ?2 AND status = 'in_progress'
                 RETURNING content_hash, provider_id, operation_type",
        )?;
        let mut fail = tx.prepare_cached(&format!(
            "UPDATE sync_operations
                 SET status = 'failed', error_message = ?3, bytes_transferred = ?4,
                     retry_count = MIN(max_retries, retry_count + ?5),
                     failed_attempts = failed_attempts + 1,
                     next_attempt_at = {NOW_PLUS_ARG},
                     finished_at = CASE WHEN retry_count + ?5 >= max_retries THEN ?8 END,
                     started_at = COALESCE(?7, started_at),
                     lease_owner = NULL, lease_expires_at = NULL
                 WHERE id = ?1 AND lease_owner = ?2 AND status = 'in_progress'
                 RETURNING content_hash, provider_id, retry_count >= max_retries",
            NOW_PLUS_ARG =
                "strftime('%Y-%m-%d %H:%M:%f','now', '+' || printf('%.3f', ?6) || ' seconds')",
        ))?;
        let mut release = tx.prepare_cached(
                "UPDATE sync_operations
                 SET status = 'queued', bytes_transferred = 0, started_at = NULL,
                     error_message = COALESCE(?3, error_message), lease_owner = NULL, lease_expires_at = NULL,
                     next_attempt_at = strftime('%Y-%m-%d %H:%M:%f','now', '+' || printf('%.3f', ?4) || ' seconds')
                 WHERE id = ?1 AND lease_owner = ?2 AND status = 'in_progress'
                 RETURNING content_hash, provider_id",
            )?;
        let mut started = tx.prepare_cached(
            "UPDATE sync_operations SET started_at = ?3
             WHERE id = ?1 AND lease_owner = ?2 AND status = 'in_progress'",
        )?;
        for event in events {
            match event {
                OpEvent::Progress { id, bytes, total } => {
                    progress.execute(params![id, owner, bytes, total])?;
                }
                OpEvent::Started { id, at } => {
                    started.execute(params![id, owner, timestamp(*at)])?;
                }
                OpEvent::Finished {
                    id,
                    bytes,
                    change,
                    failure,
                    started,
                    ended,
                } => {
                    let (started, ended) = (started.map(timestamp), timestamp(*ended));
                    let target: Option<(String, String, Option<Finish>)> = match failure {
                        None => complete
                            .query_row(params![id, owner, bytes, started, ended], |r| {
                                let (provider, op): (String, String) = (r.get(1)?, r.get(2)?);
                                if let Some(op) = OpType::parse(&op) {
                                    daily.completed(&provider, &ended, op, *bytes);
                                }
                                Ok((r.get(0)?, provider, Some(Finish::Completed)))
                            })
                            .optional()?,
                        Some((message, Retry::Release(after))) => release
                            .query_row(params![id, owner, message, after.as_secs_f64()], |r| {
                                Ok((r.get(0)?, r.get(1)?, None))
                            })
                            .optional()?,
                        Some((message, retry)) => {
                            let (spend, wait) = match retry {
                                Retry::Backoff(d) => (1, d.as_secs_f64()),
                                _ => (i64::MAX / 2, 0.0),
                            };
                            fail.query_row(
                                params![id, owner, message, bytes, spend, wait, started, ended],
                                |r| {
                                    let permanent: bool = r.get(2)?;
                                    daily.failed(&r.get::<_, String>(1)?, &ended);
                                    Ok((
                                        r.get(0)?,
                                        r.get(1)?,
                                        Some(if permanent {
                                            Finish::Failed
                                        } else {
                                            Finish::WillRetry
                                        }),
                                    ))
                                },
                            )
                            .optional()?
                        }
                    };
                    let Some((hash, provider, finish)) = target else {
                        continue;
                    };
                    match change {
                        // Stored copies are written together (one INSERT
                        // per many), before any other change of a copy.
                        Some(CopyChange::Stored { remote_key }) => {
                            stored.push([hash, provider, remote_key.clone(), ended]);
                        }
                        Some(change) => {
                            store_copies(tx, &mut stored)?;
                            apply_copy_change(tx, id, &hash, &provider, change, &ended)?;
                        }
                        None => {}
                    }
                    if let Some(finish) = finish {
                        applied.push((id.clone(), finish));
                    }
                }
            }
        }
        store_copies(tx, &mut stored)?;
    }
    daily.write(tx)?;
    Ok(applied)
}

/// Records what a finished op (`op_id`) changed about a copy; `at` is when
/// the op ended, the time the copy was stored or checked.
fn apply_copy_change(
    tx: &rusqlite::Transaction,
    op_id: &str,
    hash: &str,
    provider: &str,
    change: &CopyChange,
    at: &str,
) -> Result<()> {
    match change {
        CopyChange::Stored { remote_key } => {
            let mut one = vec![[hash.into(), provider.into(), remote_key.clone(), at.into()]];
            store_copies(tx, &mut one)?;
            1
        }
        CopyChange::Checked { remote_key, status } => tx
            .prepare_cached(
                "INSERT INTO asset_copies (content_hash, provider_id, remote_key, verified_at, verify_status)
                 SELECT ?1, ?2, ?3, ?5, ?4 WHERE ?4 = 'ok' OR EXISTS (
                     SELECT 1 FROM asset_copies WHERE content_hash = ?1 AND provider_id = ?2)
                 ON CONFLICT (content_hash, provider_id) DO UPDATE SET
                     verified_at = excluded.verified_at, verify_status = excluded.verify_status",
            )?
            .execute(params![hash, provider, remote_key, status.as_str(), at])?,
        CopyChange::Removed => {
            let removed = tx
                .prepare_cached(
                    "DELETE FROM asset_copies WHERE content_hash = ?1 AND provider_id = ?2",
                )?
                .execute(params![hash, provider])?;
            // The provider's catalog is to say so (see `store::catalog`).
            if removed > 0 {
                tx.prepare_cached(
                    "INSERT INTO catalog_removals (provider_id, content_hash, removed_at)
                     VALUES (?1, ?2, ?3)",
                )?
                .execute(params![provider, hash, at])?;
            }
            removed
        }
        CopyChange::Downloaded { local_path } => set_local_path(tx, hash, local_path)?,
        CopyChange::Restored {
            local_path,
            targets,
        } => {
            targets_done(tx, op_id, hash, targets, at)?;
            match local_path {
                Some(path) => set_local_path(tx, hash, path)?,
                None => 0,
            }
        }
    };
    Ok(())
}

/// Rows per INSERT of [`store_copies`].
const STORE_ROWS: usize = 128;

/// Records copies stored on providers (hash, provider, key, when), many
/// per statement, and empties `stored`.
fn store_copies(tx: &rusqlite::Transaction, stored: &mut Vec<[String; 4]>) -> Result<()> {
    for chunk in stored.chunks(STORE_ROWS) {
        let mut stmt = tx.prepare_cached(&format!(
            "INSERT INTO asset_copies (content_hash, provider_id, remote_key, stored_at, verified_at, verify_status)
             SELECT column1, column2, column3, column4, column4, 'ok' FROM (VALUES {}) WHERE true
             ON CONFLICT (content_hash, provider_id) DO UPDATE SET
                 remote_key = excluded.remote_key, stored_at = excluded.stored_at,
                 verified_at = excluded.verified_at, verify_status = 'ok'",
            value_rows(chunk.len(), 4)
        ))?;
        let args: Vec<&dyn ToSql> = chunk.iter().flatten().map(|v| v as &dyn ToSql).collect();
        stmt.execute(args.as_slice())?;
    }
    stored.clear();
    Ok(())
}

fn set_local_path(tx: &rusqlite::Transaction, hash: &str, path: &str) -> Result<usize> {
    Ok(tx
        .prepare_cached("UPDATE asset_manifest SET local_path = ?2 WHERE content_hash = ?1")?
        .execute(params![hash, path])?)
}
