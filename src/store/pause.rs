//! A pause that every engine and window of the library keeps: the library's
//! in `library_settings` (`paused` = `1`), each provider's in
//! `provider_state.paused`, each op's in `sync_operations.paused_at`
//! (migration 11). Engines read them at every housekeeping (every half
//! second) and stop the transfers they hold; a paused op is not claimed.

use std::collections::HashSet;

use super::health::{get_setting, provider_state_row, put_setting};
use super::{Result, Store};

const PAUSED: &str = "paused";

impl Store {
    /// Whether the library is paused.
    pub fn paused(&self) -> Result<bool> {
        Ok(get_setting(self, PAUSED)?.is_some_and(|v| v == "1"))
    }

    /// Pauses the library, or lets it go on.
    pub fn set_paused(&mut self, paused: bool) -> Result<()> {
        let tx = self.write_tx()?;
        put_setting(&tx, PAUSED, if paused { "1" } else { "0" }.to_string())?;
        tx.commit()?;
        Ok(())
    }

    /// The providers paused, by id.
    pub fn paused_providers(&self) -> Result<HashSet<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT provider_id FROM provider_state WHERE paused = 1")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Pauses a provider, or lets it go on.
    pub fn set_provider_paused(&mut self, provider_id: &str, paused: bool) -> Result<()> {
        let tx = self.write_tx()?;
        provider_state_row(&tx, provider_id)?;
        tx.execute(
            "UPDATE provider_state SET paused = ?2 WHERE provider_id = ?1",
            rusqlite::params![provider_id, paused],
        )?;
        tx.commit()?;
        Ok(())
    }
}

impl Store {
    /// Pauses ops that are not finished (or lets them go on); returns how
    /// many changed.
    pub fn set_ops_paused(&mut self, ids: &[String], paused: bool) -> Result<usize> {
        let set = if paused {
            format!("COALESCE(paused_at, {})", super::NOW)
        } else {
            "NULL".to_string()
        };
        self.update_ids(
            &format!(
                "UPDATE sync_operations SET paused_at = {set} WHERE finished_at IS NULL AND id IN"
            ),
            ids,
        )
    }

    /// Of these ops, those paused.
    pub fn paused_among(&self, ids: &[&str]) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT id FROM sync_operations WHERE paused_at IS NOT NULL AND id IN ({})",
            super::operations::placeholders(ids.len())
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(ids), |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The one op whose id starts with `prefix` (at least 4 hex digits), or
    /// why there is none.
    pub fn op_by_prefix(&self, prefix: &str) -> Result<String> {
        let prefix = prefix.to_ascii_lowercase();
        if prefix.len() < 4 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(super::StoreError::Invalid(format!(
                "{prefix:?} is not an op id: give at least its first 4 hex digits"
            )));
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM sync_operations WHERE id >= ?1 AND id < ?1 || 'g' LIMIT 2",
        )?;
        let found: Vec<String> =
            (stmt.query_map([&prefix], |r| r.get(0))?).collect::<rusqlite::Result<_>>()?;
        match found.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(super::StoreError::Invalid(format!(
                "no op's id starts with {prefix}"
            ))),
            _ => Err(super::StoreError::Invalid(format!(
                "more than one op's id starts with {prefix}: give more of it"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::store::{NewOp, OpType, ProviderKind, ProviderRow, Store};

    /// A library with one local provider, `nas`.
    fn library() -> (tempfile::TempDir, Store, ProviderRow) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("lib.db")).unwrap();
        let nas = (store.add_provider(
            "nas",
            ProviderKind::Local,
            &serde_json::json!({"root": "/x"}),
            4,
        ))
        .unwrap();
        (dir, store, nas)
    }

    #[test]
    fn the_library_and_each_provider_are_paused_and_resumed() {
        let (_dir, mut store, nas) = library();
        assert!(!store.paused().unwrap());
        store.set_paused(true).unwrap();
        assert!(store.paused().unwrap());
        store.set_paused(false).unwrap();
        assert!(!store.paused().unwrap());

        assert!(store.paused_providers().unwrap().is_empty());
        store.set_provider_paused(&nas.id, true).unwrap();
        assert_eq!(
            store
                .paused_providers()
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            vec![nas.id.clone()]
        );
        store.set_provider_paused(&nas.id, false).unwrap();
        assert!(store.paused_providers().unwrap().is_empty());
    }

    #[test]
    fn a_paused_op_is_not_claimed_and_is_found_by_a_prefix_of_its_id() {
        let (_dir, mut store, nas) = library();
        let op = |i: usize| NewOp {
            content_hash: format!("{i:064x}"),
            provider_id: nas.id.clone(),
            operation_type: OpType::Upload,
            priority: 0,
            total_bytes: 1,
        };
        let ids = store.enqueue(&[op(1), op(2)]).unwrap();
        assert_eq!(store.op_by_prefix(&ids[0]).unwrap(), ids[0]);
        let upper = ids[1].to_ascii_uppercase();
        assert_eq!(store.op_by_prefix(&upper).unwrap(), ids[1]);
        // Made in the same millisecond, the two share their first 12 digits.
        let shared: String = (ids[0].chars().zip(ids[1].chars()))
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a)
            .collect();
        if shared.len() >= 4 {
            let e = store.op_by_prefix(&shared).unwrap_err().to_string();
            assert!(e.contains("more than one"), "{e}");
        }
        let e = store.op_by_prefix("ffffffff").unwrap_err().to_string();
        assert!(e.contains("no op's id starts with ffffffff"), "{e}");
        assert!(store.op_by_prefix("ab").is_err());
        assert!(store.op_by_prefix("xyz!").is_err());

        assert_eq!(store.set_ops_paused(&ids[..1], true).unwrap(), 1);
        assert_eq!(
            store.paused_among(&[&ids[0], &ids[1]]).unwrap(),
            vec![ids[0].clone()]
        );
        let claimed = store
            .claim("me", Duration::from_secs(60), &[(nas.id.clone(), 10)])
            .unwrap();
        assert_eq!(
            claimed.iter().map(|c| &c.id).collect::<Vec<_>>(),
            vec![&ids[1]]
        );
        assert!(
            !store.has_queued(&[], &[]).unwrap(),
            "a paused op is no work"
        );
        store.set_ops_paused(&ids[..1], false).unwrap();
        assert!(store.has_queued(&[], &[]).unwrap());
    }
}
