//! Who runs an op: each engine has an owner id and holds an exclusive lock on
//! a small file named after it, for as long as it lives. Another engine that
//! can take that lock knows the owner is dead (crashed, killed) and rescues
//! its ops at once instead of waiting for their leases to run out.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// This engine's identity and the lock that proves it is alive.
pub struct Owner {
    pub id: String,
    dir: PathBuf,
    _lock: File,
}

impl Owner {
    /// Registers a new live engine for the library at `db_path`.
    pub fn register(db_path: &Path) -> std::io::Result<Owner> {
        let dir = locks_dir(db_path);
        std::fs::create_dir_all(&dir)?;
        let id = crate::store::new_id();
        let path = dir.join(format!("{id}.lock"));
        let lock = loop {
            let lock = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            lock.try_lock().map_err(std::io::Error::other)?;
            // Between the file's making and its locking, another engine
            // starting at the same moment may have found it unlocked, taken
            // its owner for dead and removed it: a lock on a file that is
            // gone proves nothing to the others, so it is made again.
            if is_at(&lock, &path) {
                break lock;
            }
        };
        let owner = Owner {
            id,
            dir,
            _lock: lock,
        };
        owner.sweep();
        Ok(owner)
    }

    /// Removes the lock files of engines that died holding no op.
    fn sweep(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(other) = name.strip_suffix(".lock")
                && other != self.id
            {
                self.is_dead(other);
            }
        }
    }

    /// Whether the engine `other` is gone: its lock file is missing or free
    /// (a dead engine's file is removed). Any other doubt counts as alive.
    pub fn is_dead(&self, other: &str) -> bool {
        if other.contains(['/', '\\']) || other.starts_with('.') {
            return false;
        }
        let path = self.dir.join(format!("{other}.lock"));
        match File::open(&path) {
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
            Ok(file) if file.try_lock().is_ok() => {
                let _ = std::fs::remove_file(&path);
                true
            }
            Ok(_) => false,
        }
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.dir.join(format!("{}.lock", self.id)));
    }
}

/// Whether the open file `file` is the one at `path` (not one since removed).
fn is_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(open), Ok(there)) => open.dev() == there.dev() && open.ino() == there.ino(),
        _ => false,
    }
}

/// `<library>.engines/`, beside the database file.
pub(crate) fn locks_dir(db_path: &Path) -> PathBuf {
    let mut name = db_path.file_name().unwrap_or_default().to_os_string();
    name.push(".engines");
    db_path.with_file_name(name)
}
