//! `sync_providers`: one row per storage destination, with its non-secret settings.

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::{Result, Store, StoreError, new_id};

/// The kinds of storage a provider can be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Local,
    S3,
    Webdav,
    Sftp,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Local => "local",
            ProviderKind::S3 => "s3",
            ProviderKind::Webdav => "webdav",
            ProviderKind::Sftp => "sftp",
        }
    }

    pub fn parse(s: &str) -> Option<ProviderKind> {
        [
            ProviderKind::Local,
            ProviderKind::S3,
            ProviderKind::Webdav,
            ProviderKind::Sftp,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One provider as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProviderRow {
    pub id: String,
    pub name: String,
    pub kind: ProviderKind,
    pub settings: serde_json::Value,
    pub enabled: bool,
    pub concurrency: i64,
    pub created_at: String,
}

const COLUMNS: &str = "id, name, kind, settings, enabled, concurrency, created_at";

fn from_row(r: &Row) -> rusqlite::Result<ProviderRow> {
    let kind: String = r.get(2)?;
    let settings: String = r.get(3)?;
    Ok(ProviderRow {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: ProviderKind::parse(&kind).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                format!("unknown provider kind {kind}").into(),
            )
        })?,
        settings: serde_json::from_str(&settings).unwrap_or(serde_json::Value::Null),
        enabled: r.get(4)?,
        concurrency: r.get(5)?,
        created_at: r.get(6)?,
    })
}

impl Store {
    /// Adds a provider; its name must be new.
    pub fn add_provider(
        &mut self,
        name: &str,
        kind: ProviderKind,
        settings: &serde_json::Value,
        concurrency: i64,
    ) -> Result<ProviderRow> {
        if name.trim().is_empty() {
            return Err(StoreError::Invalid("a provider needs a name".into()));
        }
        if self.provider_by_name(name)?.is_some() {
            return Err(StoreError::Invalid(format!(
                "a provider named '{name}' already exists"
            )));
        }
        let id = new_id();
        self.conn.execute(
            "INSERT INTO sync_providers (id, name, kind, settings, concurrency) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, name, kind.as_str(), settings.to_string(), concurrency],
        )?;
        self.provider(&id)
    }

    /// The provider with this id.
    pub fn provider(&self, id: &str) -> Result<ProviderRow> {
        Ok(self.conn.query_row(
            &format!("SELECT {COLUMNS} FROM sync_providers WHERE id = ?1"),
            [id],
            from_row,
        )?)
    }

    /// The provider with this name, if any.
    pub fn provider_by_name(&self, name: &str) -> Result<Option<ProviderRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM sync_providers WHERE name = ?1"),
                [name],
                from_row,
            )
            .optional()?)
    }

    /// The provider with this name, or an error naming the known ones.
    pub fn require_provider(&self, name: &str) -> Result<ProviderRow> {
        self.provider_by_name(name)?.ok_or_else(|| {
            let known: Vec<String> = self
                .providers()
                .map(|ps| ps.into_iter().map(|p| p.name).collect())
                .unwrap_or_default();
            StoreError::Invalid(format!(
                "no provider named '{name}' (known: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })
    }

    /// All providers, by name.
    pub fn providers(&self) -> Result<Vec<ProviderRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM sync_providers ORDER BY name"
        ))?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Enables or disables a provider.
    pub fn set_provider_enabled(&mut self, id: &str, enabled: bool) -> Result<()> {
        self.conn.execute(
            "UPDATE sync_providers SET enabled = ?2 WHERE id = ?1",
            params![id, enabled],
        )?;
        // Its copies no longer count: the keeper looks at every asset.
        if !enabled {
            self.mark_round_due()?;
        }
        Ok(())
    }

    /// Changes a provider's name, settings and concurrency.
    pub fn update_provider(
        &mut self,
        id: &str,
        name: &str,
        settings: &serde_json::Value,
        concurrency: i64,
    ) -> Result<()> {
        if name.trim().is_empty() {
            return Err(StoreError::Invalid("a provider needs a name".into()));
        }
        if self.provider_by_name(name)?.is_some_and(|p| p.id != id) {
            return Err(StoreError::Invalid(format!(
                "a provider named '{name}' already exists"
            )));
        }
        self.conn.execute(
            "UPDATE sync_providers SET name = ?2, settings = ?3, concurrency = ?4 WHERE id = ?1",
            params![id, name, settings.to_string(), concurrency],
        )?;
        Ok(())
    }

    /// Removes a provider, its ops and what is recorded of its copies (the
    /// files on the provider itself are left alone). Returns the ops removed.
    pub fn remove_provider(&mut self, id: &str) -> Result<usize> {
        let tx = self.write_tx()?;
        let ops = tx.execute("DELETE FROM sync_operations WHERE provider_id = ?1", [id])?;
        tx.execute("DELETE FROM sync_providers WHERE id = ?1", [id])?;
        tx.commit()?;
        self.mark_round_due()?;
        Ok(ops)
    }
}
