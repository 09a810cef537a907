//! Provider secrets (S3 secret keys, WebDAV passwords), kept out of the
//! library database, the logs and every error text.
//!
//! A secret lives in one of two stores. The OS keychain (the Secret Service
//! on Linux desktops, see `keychain`) is used wherever one answers; without
//! one (a headless server, a desktop with no keyring running) secrets go to a
//! file beside the database that only the user can read (see `file`).
//! `BREAKDEX_SECRET_STORE=keychain` or `=file` forces one of them. A
//! provider's settings name its store (`"secret_store": "keychain"`, or
//! `"secret_file": PATH`), so `provider list` can say where each secret is,
//! and a provider keeps its store when the environment changes later.

mod file;
pub(crate) use file::path_for as secrets_file;
mod keychain;

use std::path::{Path, PathBuf};

/// A secret that never shows itself in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself: only for handing to a storage client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Why a secret could not be stored, read or forgotten, in words that hold
/// no secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretError {
    /// The store could not be reached at all (no keychain service, a locked
    /// or silent keychain): worth trying again later.
    pub unavailable: bool,
    pub message: String,
}

impl SecretError {
    fn unavailable(message: impl Into<String>) -> SecretError {
        SecretError {
            unavailable: true,
            message: message.into(),
        }
    }

    fn other(message: impl Into<String>) -> SecretError {
        SecretError {
            unavailable: false,
            message: message.into(),
        }
    }

    /// The secrets file's I/O error: its kind only, never the file's bytes.
    fn io(e: std::io::Error) -> SecretError {
        match e.kind() {
            std::io::ErrorKind::InvalidData => SecretError::other(e.to_string()),
            kind => SecretError::other(kind.to_string()),
        }
    }
}

impl std::fmt::Display for SecretError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SecretError {}

/// Where a provider's secret is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretStore {
    /// The OS keychain.
    Keychain,
    /// A file only the user can read.
    File(PathBuf),
}

/// The environment variable that picks the store for new providers.
const STORE_ENV: &str = "BREAKDEX_SECRET_STORE";

/// How a provider's secret is labelled in the keychain.
pub fn provider_label(name: &str) -> String {
    format!("Breakdex provider '{name}'")
}

impl SecretStore {
    /// The store for the secret of a provider added to the library at `db`:
    /// what `BREAKDEX_SECRET_STORE` asks for, else the OS keychain when one
    /// answers, else the secrets file beside `db`.
    pub fn for_new_provider(db: &Path) -> Result<SecretStore, SecretError> {
        let file = SecretStore::File(file::path_for(db));
        match std::env::var(STORE_ENV).unwrap_or_default().as_str() {
            "file" => Ok(file),
            "keychain" => keychain::probe()
                .map(|()| SecretStore::Keychain)
                .map_err(|e| SecretError::unavailable(format!("{STORE_ENV}=keychain, but {e}"))),
            "" | "auto" => Ok(match keychain::probe() {
                Ok(()) => SecretStore::Keychain,
                Err(e) => {
                    tracing::info!("secrets go to a file: {e}");
                    file
                }
            }),
            other => Err(SecretError::other(format!(
                "{STORE_ENV} is '{other}'; it may be 'keychain', 'file' or 'auto'"
            ))),
        }
    }

    /// The store a provider's settings name, if it has a secret.
    pub fn of(settings: &serde_json::Value) -> Option<SecretStore> {
        if settings.get("secret_store").and_then(|v| v.as_str()) == Some("keychain") {
            return Some(SecretStore::Keychain);
        }
        settings
            .get("secret_file")
            .and_then(|v| v.as_str())
            .map(|p| SecretStore::File(PathBuf::from(p)))
    }

    /// The settings entry that names this store.
    pub fn setting(&self) -> (&'static str, serde_json::Value) {
        match self {
            SecretStore::Keychain => ("secret_store", "keychain".into()),
            SecretStore::File(path) => ("secret_file", path.to_string_lossy().into_owned().into()),
        }
    }

    /// Stores (or replaces) the secret `id`; `label` names it where the
    /// store shows labels (see [`provider_label`]).
    pub fn store(&self, id: &str, label: &str, secret: &Secret) -> Result<(), SecretError> {
        match self {
            SecretStore::Keychain => keychain::store(id, label, secret.expose()),
            SecretStore::File(path) => {
                file::store(path, id, secret.expose()).map_err(SecretError::io)
            }
        }
    }

    /// The secret of provider `id`, if the store has one.
    pub fn load(&self, id: &str) -> Result<Option<Secret>, SecretError> {
        let found = match self {
            SecretStore::Keychain => keychain::load(id)?,
            SecretStore::File(path) => file::load(path, id).map_err(SecretError::io)?,
        };
        Ok(found.map(Secret))
    }

    /// Forgets the secret of provider `id`.
    pub fn remove(&self, id: &str) -> Result<(), SecretError> {
        match self {
            SecretStore::Keychain => keychain::remove(id),
            SecretStore::File(path) => file::remove(path, id).map_err(SecretError::io),
        }
    }
}

impl std::fmt::Display for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretStore::Keychain => f.write_str("the OS keychain"),
            SecretStore::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// Reads a secret from standard input: the first line, without its line end.
pub fn read_stdin() -> std::io::Result<Secret> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let value = line.trim_end_matches(['\r', '\n']).to_string();
    if value.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "--secret-stdin: nothing was given on standard input",
        ));
    }
    Ok(Secret(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_broken_secrets_file_is_reported_without_its_contents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("library-secrets.json");
        std::fs::write(&path, "{\"a\": \"hunter2\"").unwrap();
        let err = SecretStore::File(path).load("a").unwrap_err();
        assert!(err.message.contains("is not valid"), "{err}");
        assert!(!err.message.contains("hunter2"));
        assert!(!err.unavailable);
    }

    #[test]
    fn secrets_round_trip_in_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = file::path_for(&dir.path().join("library.db"));
        assert!(path.ends_with("library-secrets.json"));
        let store = SecretStore::File(path.clone());
        assert_eq!(store.load("a").unwrap(), None);
        store.store("a", "pa", &Secret::new("s3cr3t")).unwrap();
        store.store("b", "pb", &Secret::new("other")).unwrap();
        assert_eq!(store.load("a").unwrap(), Some(Secret::new("s3cr3t")));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        store.remove("a").unwrap();
        assert_eq!(store.load("a").unwrap(), None);
        assert_eq!(store.load("b").unwrap(), Some(Secret::new("other")));
        // The settings name the store, and read back as the same store.
        let (key, value) = store.setting();
        assert_eq!(
            SecretStore::of(&serde_json::json!({ key: value })),
            Some(store)
        );
        let (key, value) = SecretStore::Keychain.setting();
        assert_eq!(
            SecretStore::of(&serde_json::json!({ key: value })),
            Some(SecretStore::Keychain)
        );
        assert_eq!(SecretStore::of(&serde_json::json!({ "root": "/x" })), None);
        assert_eq!(format!("{:?}", Secret::new("x")), "Secret(<redacted>)");
    }
}
