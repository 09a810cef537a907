//! The queue's history: how long completed ops are kept
//! (`history_keep_secs` in `library_settings`; 30 days until set, 0 keeps
//! them for ever), their removal in small chunks, and the per provider,
//! per day totals (`provider_daily`, migration 8) that outlive them.
//!
//! Only completed uploads, downloads and verifies are removed: an op that
//! failed for good or was cancelled waits for a person, and a completed
//! delete of a copy is a person's decision the keeper must keep seeing
//! (`idx_sync_operations_held_back`).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use rusqlite::params;
use serde::Serialize;

use super::health::{get_setting, put_setting};
use super::{OpType, Result, Store, StoreError, timestamp};

/// How long completed ops are kept until a person says otherwise.
const DEFAULT_KEEP: Duration = Duration::from_secs(30 * 86_400);
/// Rowids one transaction of a prune looks at: a few milliseconds of the
/// write lock, so the engine's writer is never held up for long.
const PRUNE_CHUNK: i64 = 2_000;

const KEY: &str = "history_keep_secs";

/// The days the history's summaries show.
pub const SHOWN_DAYS: u64 = 30;

/// How long completed ops are kept, in words: "completed operations are
/// kept for 30d", "every completed operation is kept".
pub fn keep_words(keep: Option<Duration>) -> String {
    match keep {
        Some(k) => format!(
            "completed operations are kept for {}",
            crate::units::format_duration(k)
        ),
        None => "every completed operation is kept".to_string(),
    }
}

/// The last [`SHOWN_DAYS`] days (UTC, `YYYY-MM-DD`), oldest first, today
/// last.
pub fn shown_days() -> Vec<String> {
    let now = SystemTime::now();
    (0..SHOWN_DAYS)
        .rev()
        .map(|back| {
            let t = now
                .checked_sub(Duration::from_secs(back * 86_400))
                .unwrap_or(SystemTime::UNIX_EPOCH);
            timestamp(t)[..10].to_string()
        })
        .collect()
}

/// What one provider did on one day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DayTotals {
    pub uploaded_ops: i64,
    pub uploaded_bytes: i64,
    pub downloaded_ops: i64,
    pub downloaded_bytes: i64,
    pub verified_ops: i64,
    pub verified_bytes: i64,
    pub deleted_ops: i64,
    pub failed_attempts: i64,
}

impl std::ops::Add for DayTotals {
    type Output = DayTotals;

    fn add(self, b: DayTotals) -> DayTotals {
        DayTotals {
            uploaded_ops: self.uploaded_ops + b.uploaded_ops,
            uploaded_bytes: self.uploaded_bytes + b.uploaded_bytes,
            downloaded_ops: self.downloaded_ops + b.downloaded_ops,
            downloaded_bytes: self.downloaded_bytes + b.downloaded_bytes,
            verified_ops: self.verified_ops + b.verified_ops,
            verified_bytes: self.verified_bytes + b.verified_bytes,
            deleted_ops: self.deleted_ops + b.deleted_ops,
            failed_attempts: self.failed_attempts + b.failed_attempts,
        }
    }
}

/// A row of `provider_daily`, with the provider's name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DailyRow {
    pub provider_id: String,
    pub provider: String,
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    #[serde(flatten)]
    pub totals: DayTotals,
}

/// The totals of one batch of reports, added to `provider_daily` with it.
#[derive(Default)]
pub(super) struct DailyTally(HashMap<(String, String), DayTotals>);

impl DailyTally {
    /// `ended` is the op's end as stored (its first ten characters are the day).
    fn day(&mut self, provider: &str, ended: &str) -> &mut DayTotals {
        let day = ended.get(..10).unwrap_or(ended).to_string();
        self.0.entry((provider.to_string(), day)).or_default()
    }

    pub(super) fn completed(&mut self, provider: &str, ended: &str, op: OpType, bytes: i64) {
        let t = self.day(provider, ended);
        let (ops, sum) = match op {
            OpType::Upload => (&mut t.uploaded_ops, Some(&mut t.uploaded_bytes)),
            OpType::Download => (&mut t.downloaded_ops, Some(&mut t.downloaded_bytes)),
            OpType::Verify => (&mut t.verified_ops, Some(&mut t.verified_bytes)),
            OpType::DeleteRemote => (&mut t.deleted_ops, None),
        };
        *ops += 1;
        if let Some(sum) = sum {
            *sum += bytes;
        }
    }

    pub(super) fn failed(&mut self, provider: &str, ended: &str) {
        self.day(provider, ended).failed_attempts += 1;
    }

    pub(super) fn write(self, tx: &rusqlite::Transaction) -> Result<()> {
        let mut add = tx.prepare_cached(
            "INSERT INTO provider_daily VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (provider_id, day) DO UPDATE SET
                 uploaded_ops = uploaded_ops + excluded.uploaded_ops,
                 uploaded_bytes = uploaded_bytes + excluded.uploaded_bytes,
                 downloaded_ops = downloaded_ops + excluded.downloaded_ops,
                 downloaded_bytes = downloaded_bytes + excluded.downloaded_bytes,
                 verified_ops = verified_ops + excluded.verified_ops,
                 verified_bytes = verified_bytes + excluded.verified_bytes,
                 deleted_ops = deleted_ops + excluded.deleted_ops,
                 failed_attempts = failed_attempts + excluded.failed_attempts",
        )?;
        for ((provider, day), t) in self.0 {
            add.execute(params![
                provider,
                day,
                t.uploaded_ops,
                t.uploaded_bytes,
                t.downloaded_ops,
                t.downloaded_bytes,
                t.verified_ops,
                t.verified_bytes,
                t.deleted_ops,
                t.failed_attempts
            ])?;
        }
        Ok(())
    }
}

impl Store {
    /// How long completed ops are kept; `None`: for ever.
    pub fn history_keep(&self) -> Result<Option<Duration>> {
        let Some(value) = get_setting(self, KEY)? else {
            return Ok(Some(DEFAULT_KEEP));
        };
        let secs: u64 = value.parse().map_err(|_| {
            StoreError::Invalid(format!(
                "the library's setting {KEY} is not a number: {value:?}; \
                 `breakdex history set --keep 30d` sets it again"
            ))
        })?;
        Ok((secs > 0).then(|| Duration::from_secs(secs)))
    }

    /// Sets how long completed ops are kept (`None`: for ever).
    pub fn set_history_keep(&mut self, keep: Option<Duration>) -> Result<()> {
        if keep.is_some_and(|k| k.as_secs() == 0) {
            return Err(StoreError::Invalid(
                "--keep must be at least 1s (or off, to keep every op)".into(),
            ));
        }
        let tx = self.write_tx()?;
        put_setting(&tx, KEY, keep.map_or(0, |k| k.as_secs()).to_string())?;
        tx.commit()?;
        Ok(())
    }

    /// Removes, among the ops of rowid `from` to `from + PRUNE_CHUNK - 1`,
    /// the completed uploads, downloads and verifies that ended before
    /// `before`, in one transaction (none, and no write lock, when none is
    /// due). Returns how many, and where the next chunk starts (`None` past
    /// the last op).
    pub fn prune_chunk(&mut self, before: SystemTime, from: i64) -> Result<(usize, Option<i64>)> {
        // NOT INDEXED: the rowid range, not the status index (which the
        // planner takes otherwise, reading every completed op per chunk).
        const DUE: &str = "FROM sync_operations NOT INDEXED
             WHERE rowid >= ?1 AND rowid < ?1 + ?2
               AND status = 'completed' AND operation_type <> 'delete_remote'
               AND finished_at < ?3";
        let args = params![from, PRUNE_CHUNK, timestamp(before)];
        let due: bool = self
            .conn
            .prepare_cached(&format!("SELECT EXISTS (SELECT 1 {DUE})"))?
            .query_row(args, |r| r.get(0))?;
        let removed = if due {
            let tx = self.write_tx()?;
            let n = tx.prepare_cached(&format!("DELETE {DUE}"))?.execute(args)?;
            tx.commit()?;
            n
        } else {
            0
        };
        let more: bool = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM sync_operations WHERE rowid >= ?1)")?
            .query_row([from + PRUNE_CHUNK], |r| r.get(0))?;
        Ok((removed, more.then_some(from + PRUNE_CHUNK)))
    }

    /// The first rowid of the queue, where a prune starts.
    pub fn first_op_rowid(&self) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT MIN(rowid) FROM sync_operations", [], |r| r.get(0))?)
    }

    /// Every provider's totals from `since` (a `YYYY-MM-DD` day) on, by
    /// provider name, then day.
    pub fn daily(&self, since: &str) -> Result<Vec<DailyRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT d.provider_id, p.name, d.day, d.uploaded_ops, d.uploaded_bytes,
                    d.downloaded_ops, d.downloaded_bytes, d.verified_ops, d.verified_bytes,
                    d.deleted_ops, d.failed_attempts
             FROM provider_daily d JOIN sync_providers p ON p.id = d.provider_id
             WHERE d.day >= ?1 ORDER BY p.name, d.day",
        )?;
        let rows = stmt
            .query_map([since], |r| {
                Ok(DailyRow {
                    provider_id: r.get(0)?,
                    provider: r.get(1)?,
                    day: r.get(2)?,
                    totals: DayTotals {
                        uploaded_ops: r.get(3)?,
                        uploaded_bytes: r.get(4)?,
                        downloaded_ops: r.get(5)?,
                        downloaded_bytes: r.get(6)?,
                        verified_ops: r.get(7)?,
                        verified_bytes: r.get(8)?,
                        deleted_ops: r.get(9)?,
                        failed_attempts: r.get(10)?,
                    },
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}
