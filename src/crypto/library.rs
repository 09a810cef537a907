//! Where a library's key is kept, and how an encrypted provider names it.
//!
//! A provider encrypts when its settings hold an `"encryption"` entry:
//! `{"recipient": "age1…", "key_id": "library-key:<library id>"}` and the
//! entry of the secret store that keeps the identity (`"secret_store":
//! "keychain"` or `"secret_file": PATH`, as a provider's own secret). The
//! identity is looked up once per process and kept in memory (a keychain
//! call costs milliseconds and providers are opened often); the recipient
//! in the settings is checked against it, so a store that now holds
//! another key is reported rather than used.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::Keys;
use crate::secrets::SecretStore;

/// The secret id of the identity of the library `library_id`.
pub fn key_id(library_id: &str) -> String {
    format!("library-key:{library_id}")
}

/// The settings entry of a provider that encrypts to `keys`, kept in
/// `store` under `key_id`.
pub fn settings_entry(keys: &Keys, store: &SecretStore, key_id: &str) -> serde_json::Value {
    let (name, value) = store.setting();
    serde_json::json!({
        "recipient": keys.recipient(),
        "key_id": key_id,
        name: value,
    })
}

/// The keys a provider with these settings encrypts with; None for a
/// provider that does not encrypt. The error holds no secret.
pub fn keys_of(settings: &serde_json::Value) -> Result<Option<Arc<Keys>>, String> {
    let Some(entry) = settings.get("encryption") else {
        return Ok(None);
    };
    let field = |name: &str| {
        (entry.get(name).and_then(|v| v.as_str()))
            .ok_or_else(|| format!("its encryption settings have no {name}"))
    };
    let (key_id, recipient) = (field("key_id")?, field("recipient")?);
    let store = SecretStore::of(entry)
        .ok_or_else(|| "its encryption settings name no secret store".to_string())?;
    let cache = CACHE.get_or_init(Mutex::default);
    let cached = cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(key_id)
        .cloned();
    let keys = match cached {
        Some(keys) => keys,
        None => {
            let secret = (store.load(key_id))
                .map_err(|e| format!("the library key cannot be read from {store}: {e}"))?
                .ok_or_else(|| format!("the library key is not in {store}"))?;
            let keys = Arc::new(Keys::from_secret(&secret).map_err(|e| e.to_string())?);
            let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.insert(key_id.to_string(), keys.clone());
            keys
        }
    };
    if keys.recipient() != recipient {
        return Err(format!(
            "the library key in {store} is {}, not the {recipient} this provider encrypts to",
            keys.recipient()
        ));
    }
    Ok(Some(keys))
}

/// Writes `keys` to `file` as an age identity file, the recovery sheet
/// (mode 0600, never over an existing file): `age -d -i FILE` opens every
/// encrypted copy with it.
pub fn export(keys: &Keys, file: &Path) -> std::io::Result<()> {
    let created = crate::store::timestamp(std::time::SystemTime::now());
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)?;
    out.write_all(keys.identity_file(&created).as_bytes())?;
    out.sync_all()
}

/// The recovery sheet's file name in `folder` (the window chooses a
/// folder): `breakdex-recovery-sheet.txt`, else the first of `… (2).txt`,
/// `… (3).txt`, … that is free.
pub fn export_into(keys: &Keys, folder: &Path) -> std::io::Result<PathBuf> {
    for n in 1..1000 {
        let name = match n {
            1 => "breakdex-recovery-sheet.txt".to_string(),
            n => format!("breakdex-recovery-sheet ({n}).txt"),
        };
        let file = folder.join(name);
        match export(keys, &file) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            done => return done.map(|()| file),
        }
    }
    Err(std::io::Error::other(
        "a thousand recovery sheets are there already",
    ))
}

/// The identities read this process, by secret id.
static CACHE: OnceLock<Mutex<HashMap<String, Arc<Keys>>>> = OnceLock::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_finds_its_key_and_refuses_another() {
        let dir = tempfile::tempdir().unwrap();
        let store = SecretStore::File(dir.path().join("lib-secrets.json"));
        let keys = Keys::generate();
        let id = key_id("test-library-1");
        store.store(&id, "library key", &keys.secret()).unwrap();
        let settings = serde_json::json!({
            "root": "/x",
            "encryption": settings_entry(&keys, &store, &id),
        });
        let text = settings.to_string();
        assert!(
            !text.contains("AGE-SECRET-KEY"),
            "no secret in the settings: {text}"
        );
        let found = keys_of(&settings).unwrap().unwrap();
        assert_eq!(found.recipient(), keys.recipient());
        assert!(
            keys_of(&serde_json::json!({"root": "/x"}))
                .unwrap()
                .is_none()
        );

        // Settings that name another recipient than the stored key's.
        let other = Keys::generate();
        let mut wrong = settings.clone();
        wrong["encryption"]["recipient"] = other.recipient().into();
        let e = keys_of(&wrong).unwrap_err();
        assert!(
            e.contains(&other.recipient()) && !e.contains("SECRET"),
            "{e}"
        );

        // A key that is not in its store.
        let mut gone = settings.clone();
        gone["encryption"]["key_id"] = key_id("test-library-2").into();
        let e = keys_of(&gone).unwrap_err();
        assert!(e.starts_with("the library key is not in file "), "{e}");
    }
}
