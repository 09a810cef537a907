//! The secrets file: `<db stem>-secrets.json` beside the library database,
//! readable by the user alone (mode 0600), keyed by provider id, and replaced
//! atomically (written to a temporary file, synced, renamed). Used where no
//! OS keychain answers, or when `BREAKDEX_SECRET_STORE=file` asks for it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The secrets file that belongs to a library database.
pub fn path_for(db: &Path) -> PathBuf {
    let stem = db
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "library".into());
    db.with_file_name(format!("{stem}-secrets.json"))
}

/// Reads the whole file; a missing file holds nothing.
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

/// Replaces the file atomically with one only the user can read.
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

/// Stores (or replaces) the secret kept under `id`.
pub fn store(path: &Path, id: &str, secret: &str) -> std::io::Result<()> {
    let mut all = read_all(path)?;
    all.insert(id.to_string(), secret.to_string());
    write_all(path, &all)
}

/// The secret kept under `id`, if any.
pub fn load(path: &Path, id: &str) -> std::io::Result<Option<String>> {
    Ok(read_all(path)?.remove(id))
}

/// Forgets the secret kept under `id`.
pub fn remove(path: &Path, id: &str) -> std::io::Result<()> {
    let mut all = read_all(path)?;
    if all.remove(id).is_some() {
        write_all(path, &all)?;
    }
    Ok(())
}
