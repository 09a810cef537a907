//! The few calls the catalog makes on a provider: put a small object so that
//! it appears whole or not at all, list a folder, read, delete. A local
//! provider's folder gets plain file calls (a fsync'd temporary file renamed
//! into place; a walk of `objects/` without a thread hop per folder), every
//! other kind OpenDAL's (one PUT on S3, a temporary name then a MOVE or
//! rename on WebDAV and SFTP).

use std::path::Path;

use futures::TryStreamExt;

use crate::providers::{Failure, Provider};

/// A key and its size, as listed.
pub type Listed = (String, u64);

/// Puts `bytes` at `key`, atomically.
pub async fn put(provider: &Provider, key: &str, bytes: Vec<u8>) -> Result<(), Failure> {
    provider.check_online()?;
    let tmp = format!(".breakdex-tmp/catalog-{}.part", crate::store::new_id());
    if let Some(root) = provider.local_root() {
        let (tmp, dest) = (root.join(&tmp), root.join(key));
        let written = write_synced(&tmp, &bytes).and_then(|()| {
            if let Some(dir) = dest.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::rename(&tmp, &dest)
        });
        return written.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            provider.io_failure("writing a catalog segment", &e)
        });
    }
    let op = provider.operator();
    let failure = |e: opendal::Error| provider.failure("writing a catalog segment", &e);
    if op.info().capability().rename {
        op.write(&tmp, bytes).await.map_err(failure)?;
        if let Err(e) = op.rename(&tmp, key).await {
            let _ = op.delete(&tmp).await;
            return Err(failure(e));
        }
        Ok(())
    } else {
        // S3: one PUT, which lands whole or not at all.
        op.write(key, bytes).await.map(|_| ()).map_err(failure)
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::File::create(path)?;
    std::io::Write::write_all(&mut file, bytes)?;
    file.sync_all()
}

/// The object at `key`; `None` if there is none.
pub async fn read(provider: &Provider, key: &str) -> Result<Option<Vec<u8>>, Failure> {
    if let Some(root) = provider.local_root() {
        return match std::fs::read(root.join(key)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                provider.check_online().map(|()| None)
            }
            Err(e) => Err(provider.io_failure("reading the catalog", &e)),
        };
    }
    match provider.operator().read(key).await {
        Ok(buffer) => Ok(Some(buffer.to_vec())),
        Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(provider.failure("reading the catalog", &e)),
    }
}

/// Every object under the folder `prefix` (ending in `/`), at any depth.
pub async fn list(provider: &Provider, prefix: &str) -> Result<Vec<Listed>, Failure> {
    provider.check_online()?;
    if let Some(root) = provider.local_root() {
        return walk_parallel(root, prefix.trim_end_matches('/'))
            .map_err(|e| provider.io_failure("listing", &e));
    }
    let failure = |e: opendal::Error| provider.failure("listing", &e);
    let mut lister = provider
        .operator()
        .lister_with(prefix)
        .recursive(true)
        .await
        .map_err(failure)?;
    let mut found = Vec::new();
    while let Some(entry) = lister.try_next().await.map_err(failure)? {
        if !entry.path().ends_with('/') {
            found.push((entry.path().to_string(), entry.metadata().content_length()));
        }
    }
    Ok(found)
}

/// Lists the files under `root/rel`, keyed relative to `root`: the folders
/// right under it are shared out among a few threads (`objects/` holds up
/// to 256 of them, and 65,536 below those).
fn walk_parallel(root: &Path, rel: &str) -> std::io::Result<Vec<Listed>> {
    let mut found = Vec::new();
    let mut folders = Vec::new();
    let entries = match std::fs::read_dir(root.join(rel)) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let key = format!("{rel}/{name}");
        let kind = entry.file_type()?;
        if kind.is_dir() {
            folders.push(key);
        } else if kind.is_file() {
            found.push((key, entry.metadata()?.len()));
        }
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    let per = folders.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let walkers: Vec<_> = folders
            .chunks(per)
            .map(|chunk| {
                s.spawn(move || {
                    let mut found = Vec::new();
                    for key in chunk {
                        walk(root, key, &mut found)?;
                    }
                    Ok::<_, std::io::Error>(found)
                })
            })
            .collect();
        for walker in walkers {
            let part = walker
                .join()
                .map_err(|_| std::io::Error::other("a listing thread stopped"))??;
            found.extend(part);
        }
        Ok(found)
    })
}

/// Lists the files under `root/rel` into `found`, keyed relative to `root`.
/// A folder that is not there holds nothing.
fn walk(root: &Path, rel: &str, found: &mut Vec<Listed>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(root.join(rel)) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let key = format!("{rel}/{name}");
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(root, &key, found)?;
        } else if kind.is_file() {
            found.push((key, entry.metadata()?.len()));
        }
    }
    Ok(())
}

/// Deletes the object at `key`; one that is gone already is fine.
pub async fn delete(provider: &Provider, key: &str) -> Result<(), Failure> {
    if let Some(root) = provider.local_root() {
        return match std::fs::remove_file(root.join(key)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(provider.io_failure("deleting a catalog segment", &e))
            }
            _ => Ok(()),
        };
    }
    match provider.operator().delete(key).await {
        Err(e) if e.kind() != opendal::ErrorKind::NotFound => {
            Err(provider.failure("deleting a catalog segment", &e))
        }
        _ => Ok(()),
    }
}
