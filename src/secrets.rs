//! Provider secrets (S3 secret keys, WebDAV passwords), kept out of the
//! library database, the logs and every error text.
//!
//! There is no OS keychain on the machines Breakdex is tested on (the
//! `keyring` crate needs a Secret Service on Linux), so secrets live in a file
//! beside the database, `<db stem>-secrets.json`, that only the user can read
//! (mode 0600), keyed by provider id and replaced atomically (written to a
//! temporary file, synced, renamed). A provider's settings name the file that
//! holds its secret (`"secret_file"`), so `provider list` can say where it is.

use std::collections::BTreeMap;
use std::io::Write;
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

/// The secrets file that belongs to a library database.
pub fn secrets_path(db: &Path) -> PathBuf {
    let stem = db
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "library".into());
    db.with_file_name(format!("{stem}-secrets.json"))
}

/// Reads the whole store; a missing file is an empty store.
fn read_all(path: &Path) -> std::io::Result<BTreeMap<String, String>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the secrets file {} is not valid", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e),
    }
}

/// Replaces the store atomically with a file only the user can read.
fn write_all(path: &Path, all: &BTreeMap<String, String>) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let body = serde_json::to_vec_pretty(all).map_err(std::io::Error::other)?;
    let written = file.write_all(&body).and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// Stores (or replaces) the secret of a provider.
pub fn store(path: &Path, provider_id: &str, secret: &Secret) -> std::io::Result<()> {
    let mut all = read_all(path)?;
    all.insert(provider_id.to_string(), secret.0.clone());
    write_all(path, &all)
}

/// The secret of a provider, if the store has one.
pub fn load(path: &Path, provider_id: &str) -> std::io::Result<Option<Secret>> {
    Ok(read_all(path)?.remove(provider_id).map(Secret))
}

/// Forgets the secret of a provider.
pub fn remove(path: &Path, provider_id: &str) -> std::io::Result<()> {
    let mut all = read_all(path)?;
    if all.remove(provider_id).is_some() {
        write_all(path, &all)?;
    }
    Ok(())
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
    fn secrets_round_trip_in_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = secrets_path(&dir.path().join("library.db"));
        assert!(path.ends_with("library-secrets.json"));
        assert_eq!(load(&path, "a").unwrap(), None);
        store(&path, "a", &Secret::new("s3cr3t")).unwrap();
        store(&path, "b", &Secret::new("other")).unwrap();
        assert_eq!(load(&path, "a").unwrap(), Some(Secret::new("s3cr3t")));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        remove(&path, "a").unwrap();
        assert_eq!(load(&path, "a").unwrap(), None);
        assert_eq!(load(&path, "b").unwrap(), Some(Secret::new("other")));
        assert_eq!(format!("{:?}", Secret::new("x")), "Secret(<redacted>)");
    }
}
