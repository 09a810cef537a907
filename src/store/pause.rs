//! A pause that every engine and window of the library keeps: the library's
//! in `library_settings` (`paused` = `1`), each provider's in
//! `provider_state.paused` (migration 11). Engines read both at every
//! housekeeping (every half second) and stop the transfers they hold.

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

#[cfg(test)]
mod tests {
    use crate::store::{ProviderKind, Store};

    #[test]
    fn the_library_and_each_provider_are_paused_and_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("lib.db")).unwrap();
        let nas = store
            .add_provider(
                "nas",
                ProviderKind::Local,
                &serde_json::json!({"root": "/x"}),
                4,
            )
            .unwrap();
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
}
