//! Where a library lives by default, and what a new library starts with: a
//! local-folder provider beside the database, so a dropped file is uploaded
//! at once.

use std::path::{Path, PathBuf};

use crate::store::{ProviderKind, Store, StoreError};

/// The default database: `library.db` in the platform's data folder
/// (`~/.local/share/breakdex` on Linux).
pub fn default_db_path() -> PathBuf {
    directories::ProjectDirs::from("", "", "breakdex")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".breakdex"))
        .join("library.db")
}

/// `<folder of db>/<stem of db>-<suffix>`.
fn beside(db_path: &Path, suffix: &str) -> PathBuf {
    let stem = db_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "library".into());
    db_path.with_file_name(format!("{stem}-{suffix}"))
}

/// Where downloads of a library go: `library-files` beside `library.db`.
pub fn library_dir(db_path: &Path) -> PathBuf {
    beside(db_path, "files")
}

/// The folder of the provider every new library starts with.
pub fn default_provider_root(db_path: &Path) -> PathBuf {
    beside(db_path, "backup")
}

/// The name of that provider.
pub const DEFAULT_PROVIDER: &str = "local-backup";

/// Opens the library at `db_path`; a new one gets its local-folder provider.
pub fn open_library(db_path: &Path) -> Result<Store, StoreError> {
    let root = default_provider_root(db_path);
    let make_root = || {
        std::fs::create_dir_all(&root).map_err(|e| {
            StoreError::Invalid(format!(
                "cannot create the default provider folder {}: {e}",
                root.display()
            ))
        })
    };
    // A library about to be created gets its folder first: should that fail,
    // no library is left behind without its provider.
    if std::fs::metadata(db_path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
        make_root()?;
    }
    let mut store = Store::open(db_path)?;
    if store.is_new() {
        make_root()?;
        let root = std::path::absolute(&root).unwrap_or_else(|_| root.clone());
        store.add_provider(
            DEFAULT_PROVIDER,
            ProviderKind::Local,
            &serde_json::json!({ "root": root }),
            4,
        )?;
    }
    Ok(store)
}
