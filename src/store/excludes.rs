//! The library's list of exclude patterns (`breakdex exclude`), kept in
//! `library_settings` under `exclude_patterns` as a JSON array of strings.
//! What the patterns mean is `library::exclude`'s.

use super::health::{get_setting, put_setting};
use super::{Result, Store, StoreError};

const KEY: &str = "exclude_patterns";

impl Store {
    /// The list as last saved; `None` if it was never edited (the defaults
    /// apply then).
    pub fn exclude_patterns(&self) -> Result<Option<Vec<String>>> {
        let Some(value) = get_setting(self, KEY)? else {
            return Ok(None);
        };
        serde_json::from_str(&value).map(Some).map_err(|e| {
            StoreError::Invalid(format!(
                "the library's exclude patterns cannot be read ({e}); \
                 `breakdex exclude reset` puts the defaults back"
            ))
        })
    }

    /// Saves the list (`None`: back to the defaults).
    pub fn set_exclude_patterns(&mut self, patterns: Option<&[String]>) -> Result<()> {
        let tx = self.write_tx()?;
        match patterns {
            Some(list) => put_setting(
                &tx,
                KEY,
                serde_json::to_string(list).expect("a list of strings is JSON"),
            )?,
            None => {
                tx.execute("DELETE FROM library_settings WHERE key = ?1", [KEY])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
