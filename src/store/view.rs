//! What the window reads: a compact key per op, so that a million rows can be
//! sorted and filtered in memory; whole rows by rowid for the visible part;
//! text search; and a cheap check for "did anything change".

use rusqlite::params_from_iter;

use super::operations::{ROW_COLUMNS, op_row, parse_enum, placeholders};
use super::{OpRow, OpState, OpStatus, OpType, Result, Store};

/// The sortable and filterable facts of one op, in a few dozen bytes.
#[derive(Clone, Copy, Debug)]
pub struct OpKey {
    pub rowid: i64,
    pub state: OpState,
    pub operation_type: OpType,
    pub status: OpStatus,
    pub priority: i64,
    pub retry_count: i32,
    /// Position of the provider's name among all providers' names.
    pub provider_rank: u32,
    /// Position of the asset's name among all names (0 when unknown).
    pub name_rank: u32,
    /// The first 64 bits of the content hash.
    pub hash_prefix: u64,
    pub bytes_transferred: i64,
    pub total_bytes: i64,
    /// Milliseconds since the epoch; `i64::MIN` when not set.
    pub started_ms: i64,
    pub completed_ms: i64,
}

fn millis(col: &str) -> String {
    format!("CAST((julianday({col}) - 2440587.5) * 86400000.0 AS INTEGER)")
}

impl Store {
    /// A number that changes whenever another connection commits to the file.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// Calls `f` with the key of every op, in queue age order.
    pub fn scan_keys(&self, mut f: impl FnMut(OpKey)) -> Result<()> {
        let sql = format!(
            "SELECT o.rowid, o.operation_type, o.status, o.priority, o.retry_count, o.max_retries,
                    pr.rank, COALESCE(nr.rank, 0), substr(o.content_hash, 1, 16),
                    o.bytes_transferred, o.total_bytes, {}, {}
             FROM sync_operations o
             JOIN (SELECT id, row_number() OVER (ORDER BY name) AS rank FROM sync_providers) pr
                 ON pr.id = o.provider_id
             LEFT JOIN (SELECT content_hash, dense_rank() OVER (ORDER BY original_name) AS rank
                        FROM asset_manifest) nr
                 ON nr.content_hash = o.content_hash
             ORDER BY o.rowid",
            millis("o.started_at"),
            millis("o.completed_at")
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let status = parse_enum(r, 2, OpStatus::parse)?;
            let retry_count: i64 = r.get(4)?;
            let max_retries: i64 = r.get(5)?;
            let prefix: String = r.get(8)?;
            f(OpKey {
                rowid: r.get(0)?,
                operation_type: parse_enum(r, 1, OpType::parse)?,
                status,
                state: OpState::of(status, retry_count, max_retries),
                priority: r.get(3)?,
                retry_count: retry_count as i32,
                provider_rank: r.get(6)?,
                name_rank: r.get(7)?,
                hash_prefix: u64::from_str_radix(&prefix, 16).unwrap_or(0),
                bytes_transferred: r.get(9)?,
                total_bytes: r.get(10)?,
                started_ms: r.get::<_, Option<i64>>(11)?.unwrap_or(i64::MIN),
                completed_ms: r.get::<_, Option<i64>>(12)?.unwrap_or(i64::MIN),
            });
        }
        Ok(())
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

    /// Rowids of the ops whose asset name contains `text` (any case) or whose
    /// hash starts with it.
    pub fn rowids_matching(&self, text: &str) -> Result<std::collections::HashSet<i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT o.rowid FROM sync_operations o
             LEFT JOIN asset_manifest m ON m.content_hash = o.content_hash
             WHERE instr(lower(m.original_name), lower(?1)) > 0 OR o.content_hash LIKE ?2 || '%'",
        )?;
        let rows = stmt.query_map([text, &text.to_lowercase()], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
