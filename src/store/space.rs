//! A provider found full: kept in `provider_state` (`full_since`,
//! `full_reason`, migration 11) so that every engine and window of the
//! library agree, and its uploads held on the queue (queued, with a
//! `next_attempt_at`) until room comes back, without spending retries.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use rusqlite::params;

use super::schema::timestamp;
use super::{Result, Store};

/// A provider that had no room for an upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Full {
    /// When it was first found full (UTC, as the library keeps times).
    pub since: String,
    /// What it said.
    pub reason: String,
}

/// A provider's uploads that wait on the queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Waiting {
    pub count: u64,
    pub bytes: u64,
    /// The size of the smallest of them (0 when none wait).
    pub smallest: u64,
}

impl Waiting {
    /// `full (1.2 MB free, 6.0 MB waiting)`; the free space where it is
    /// known (a local folder's file system).
    pub fn words(&self, free: Option<u64>) -> String {
        let waiting = crate::ui::format::bytes(self.bytes as i64);
        match free {
            Some(free) => format!(
                "full ({} free, {waiting} waiting)",
                crate::ui::format::bytes(free as i64)
            ),
            None => format!("full ({waiting} waiting)"),
        }
    }
}

/// Queued uploads of one provider (`?1`).
const QUEUED_UPLOADS: &str = "provider_id = ?1 AND status = 'queued' AND operation_type = 'upload'";

impl Store {
    /// Records that a provider has no room (`reason`), keeping when that was
    /// first found, or (`None`) that an upload fits again.
    pub fn set_full(&mut self, provider_id: &str, reason: Option<&str>) -> Result<()> {
        let now = timestamp(SystemTime::now());
        self.conn
            .prepare_cached(
                "INSERT INTO provider_state (provider_id, full_since, full_reason)
                 SELECT ?1, CASE WHEN ?2 IS NOT NULL THEN ?3 END, ?2
                 WHERE EXISTS (SELECT 1 FROM sync_providers WHERE id = ?1)
                 ON CONFLICT (provider_id) DO UPDATE SET
                     full_since = CASE WHEN ?2 IS NOT NULL THEN COALESCE(full_since, ?3) END,
                     full_reason = ?2",
            )?
            .execute(params![provider_id, reason, now])?;
        Ok(())
    }

    /// The providers recorded as full, by id.
    pub fn full_providers(&self) -> Result<HashMap<String, Full>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT provider_id, full_since, COALESCE(full_reason, '') FROM provider_state
             WHERE full_since IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                Full {
                    since: r.get(1)?,
                    reason: r.get(2)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The uploads to a provider that wait on the queue.
    pub fn waiting_uploads(&self, provider_id: &str) -> Result<Waiting> {
        let sql = format!(
            "SELECT COUNT(*), COALESCE(SUM(MAX(total_bytes, 0)), 0), COALESCE(MIN(MAX(total_bytes, 0)), 0)
             FROM sync_operations WHERE {QUEUED_UPLOADS}"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([provider_id], |r| {
                Ok(Waiting {
                    count: r.get::<_, i64>(0)? as u64,
                    bytes: r.get::<_, i64>(1)? as u64,
                    smallest: r.get::<_, i64>(2)? as u64,
                })
            })?)
    }

    /// Holds a provider's queued uploads for `wait`: none is claimed before
    /// then. Returns how many.
    pub fn hold_uploads(&mut self, provider_id: &str, wait: Duration) -> Result<usize> {
        let sql = format!(
            "UPDATE sync_operations
             SET next_attempt_at = strftime('%Y-%m-%d %H:%M:%f', 'now', '+' || printf('%.3f', ?2) || ' seconds')
             WHERE {QUEUED_UPLOADS}"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .execute(params![provider_id, wait.as_secs_f64()])?)
    }

    /// Of these op ids, those of no live op (finished, or no longer on the
    /// queue): their temporary files are left over.
    pub fn not_live(&self, ids: &[String]) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT id FROM sync_operations WHERE finished_at IS NULL AND id IN ({})",
            super::operations::placeholders(ids.len())
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let live: std::collections::HashSet<String> = stmt
            .query_map(rusqlite::params_from_iter(ids), |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids
            .iter()
            .filter(|id| !live.contains(*id))
            .cloned()
            .collect())
    }

    /// Lets a provider's held uploads be claimed now: all of them, or
    /// (`smallest_only`) the smallest, to try whether room came back without
    /// sending every upload at a server that may still refuse them.
    pub fn end_holds(&mut self, provider_id: &str, smallest_only: bool) -> Result<usize> {
        let sql = if smallest_only {
            format!(
                "UPDATE sync_operations SET next_attempt_at = NULL WHERE rowid =
                     (SELECT rowid FROM sync_operations WHERE {QUEUED_UPLOADS}
                      ORDER BY total_bytes, rowid LIMIT 1)"
            )
        } else {
            format!("UPDATE sync_operations SET next_attempt_at = NULL WHERE {QUEUED_UPLOADS}")
        };
        Ok(self.conn.prepare_cached(&sql)?.execute([provider_id])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewOp, OpType, ProviderKind};
    use std::time::Duration;

    /// A provider with three queued uploads (3, 1 and 2 bytes) and a queued
    /// verify.
    fn library() -> (tempfile::TempDir, Store, String) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("lib.db")).unwrap();
        let p = store
            .add_provider(
                "nas",
                ProviderKind::Local,
                &serde_json::json!({"root": "/x"}),
                4,
            )
            .unwrap();
        let op = |i: usize, operation_type, total_bytes| NewOp {
            content_hash: format!("{i:064x}"),
            provider_id: p.id.clone(),
            operation_type,
            priority: 0,
            total_bytes,
        };
        let ops = [
            op(1, OpType::Upload, 3),
            op(2, OpType::Upload, 1),
            op(3, OpType::Upload, 2),
            op(4, OpType::Verify, 0),
        ];
        store.enqueue(&ops).unwrap();
        (dir, store, p.id)
    }

    #[test]
    fn a_full_provider_is_kept_from_the_first_time_until_an_upload_fits() {
        let (_dir, mut store, id) = library();
        assert!(store.full_providers().unwrap().is_empty());
        store.set_full(&id, Some("no space left")).unwrap();
        let first = store.full_providers().unwrap()[&id].clone();
        assert_eq!(first.reason, "no space left");
        std::thread::sleep(Duration::from_millis(5));
        store.set_full(&id, Some("quota exceeded")).unwrap();
        let again = store.full_providers().unwrap()[&id].clone();
        assert_eq!(
            (again.since, again.reason.as_str()),
            (first.since, "quota exceeded")
        );
        store.set_full(&id, None).unwrap();
        assert!(store.full_providers().unwrap().is_empty());
        // A provider that is not there is not recorded.
        store.set_full("no-such-id", Some("full")).unwrap();
        assert!(store.full_providers().unwrap().is_empty());
    }

    #[test]
    fn held_uploads_wait_and_are_let_go_all_or_the_smallest_first() {
        let (_dir, mut store, id) = library();
        let waiting = store.waiting_uploads(&id).unwrap();
        assert_eq!(
            waiting,
            Waiting {
                count: 3,
                bytes: 6,
                smallest: 1
            }
        );
        let claim = |store: &mut Store| {
            store
                .claim("me", Duration::from_secs(60), &[(id.clone(), 10)])
                .unwrap()
                .into_iter()
                .map(|c| (c.operation_type, c.total_bytes))
                .collect::<Vec<_>>()
        };
        assert_eq!(store.hold_uploads(&id, Duration::from_secs(60)).unwrap(), 3);
        // The verify is not held: a full provider still reads.
        assert_eq!(claim(&mut store), vec![(OpType::Verify, 0)]);
        assert_eq!(store.end_holds(&id, true).unwrap(), 1);
        assert_eq!(claim(&mut store), vec![(OpType::Upload, 1)]);
        assert_eq!(store.end_holds(&id, false).unwrap(), 2);
        let mut rest = claim(&mut store);
        rest.sort_by_key(|(_, size)| *size);
        assert_eq!(rest, vec![(OpType::Upload, 2), (OpType::Upload, 3)]);
    }
}
