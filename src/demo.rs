//! A generated library for screenshots and benchmarks: three local
//! providers (the off-site one encrypting, its key in the secrets file
//! beside the database) and any number of operations spread over every state of the
//! seed's table (mostly completed, some queued, a few running, waiting to
//! retry, or failed for good).

use std::path::Path;

use crate::store::{AssetPath, ManifestEntry, NewOp, OpType, ProviderKind, Store};

const NAMES: [&str; 12] = [
    "IMG_{}.jpg",
    "DSC_{}.ARW",
    "drone-{}.mp4",
    "interview-{}.wav",
    "logo-v{}.psd",
    "texture_{}.png",
    "scan-{}.tiff",
    "clip-{}.mov",
    "mix-{}.flac",
    "sketch-{}.kra",
    "render-{}.exr",
    "pano-{}.dng",
];

/// The folders the demo's assets were added from.
const FOLDERS: &[&str] = &[
    "2026/Trip Lisbon",
    "2025/porto",
    "clients/acme/brand",
    "audio/interviews",
    "game/textures",
];

/// Makes a library at `db` with three providers, `n` assets and `n` ops
/// spread over every state, and the copies the completed uploads made; in-progress ops are leased to
/// `owner`. Returns the provider ids.
pub fn make_demo_library(db: &Path, n: usize, owner: &str) -> anyhow::Result<Vec<String>> {
    let mut store = Store::open(db)?;
    let mut providers = Vec::new();
    for (name, conc) in [("photo-nas", 4), ("usb-archive", 2), ("offsite-sftp", 4)] {
        let root = db.with_file_name(format!("demo-{name}"));
        std::fs::create_dir_all(&root)?;
        providers.push(
            store
                .add_provider(
                    name,
                    ProviderKind::Local,
                    &serde_json::json!({ "root": root }),
                    conc,
                )?
                .id,
        );
    }
    encrypting(&mut store, db, &providers[2])?;
    let mut assets = Vec::with_capacity(n);
    let mut paths = Vec::with_capacity(n);
    let mut ops = Vec::with_capacity(n);
    for i in 0..n {
        let hash = blake3::hash(&(i as u64).to_le_bytes()).to_hex().to_string();
        let size = 40_000 + (i as i64 * 7_919_993) % 900_000_000;
        let name = NAMES[i % NAMES.len()].replace("{}", &format!("{:05}", i / 3 % 100_000));
        paths.push(AssetPath {
            content_hash: hash.clone(),
            path: format!("{}/{name}", FOLDERS[i / 7 % FOLDERS.len()]),
        });
        assets.push(ManifestEntry {
            content_hash: hash.clone(),
            size_bytes: size,
            original_name: name,
            local_path: None,
            media_type: "application/octet-stream".into(),
            added_at: String::new(),
        });
        ops.push(NewOp {
            content_hash: hash,
            provider_id: providers[i % providers.len()].clone(),
            operation_type: match i % 10 {
                0..=6 => OpType::Upload,
                7 => OpType::Verify,
                8 => OpType::Download,
                _ => OpType::DeleteRemote,
            },
            priority: [0, 0, 0, 1, 2, 5, 0, 10, 0, -1][i % 10],
            total_bytes: size,
        });
    }
    store.record_assets(&assets, &paths)?;
    store.enqueue(&ops)?;
    drop(store);
    // Spread the states: mostly completed, some queued, a few running,
    // waiting to retry, failed for good, or cancelled.
    let conn = rusqlite::Connection::open(db)?;
    conn.execute_batch(&format!(
        "BEGIN;
         UPDATE sync_operations SET status = 'completed', bytes_transferred = total_bytes,
             started_at = datetime(created_at, '-' || (rowid % 3000) || ' seconds'),
             completed_at = created_at
           WHERE rowid % 100 < 70;
         UPDATE sync_operations SET status = 'failed', retry_count = 1 + rowid % 2,
             failed_attempts = 1 + rowid % 2,
             error_message = 'timed out talking to the provider',
             next_attempt_at = strftime('%Y-%m-%d %H:%M:%f', 'now', '+' || (30 + rowid % 500) || ' seconds'),
             started_at = created_at
           WHERE rowid % 100 BETWEEN 70 AND 72;
         UPDATE sync_operations SET status = 'failed', retry_count = max_retries,
             failed_attempts = CASE rowid % 3 WHEN 2 THEN max_retries ELSE 1 END,
             error_message = CASE rowid % 3
                 WHEN 0 THEN 'source changed: the file no longer matches what was added'
                 WHEN 1 THEN 'source missing: the file is gone'
                 ELSE 'the copy on provider ''usb-archive'' is corrupt (its bytes do not match the content hash)' END,
             started_at = created_at
           WHERE rowid % 100 BETWEEN 73 AND 75;
         UPDATE sync_operations SET status = 'failed', retry_count = max_retries,
             error_message = 'cancelled by the user', started_at = created_at,
             cancelled_at = created_at
           WHERE rowid % 100 = 76;
         UPDATE sync_operations SET status = 'in_progress', lease_owner = '{owner}',
             lease_expires_at = strftime('%Y-%m-%d %H:%M:%f', 'now', '+1 day'),
             bytes_transferred = total_bytes * (rowid % 97) / 97,
             started_at = strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (rowid % 600) || ' seconds')
           WHERE rowid % 1000 = 999 OR rowid IN (SELECT rowid FROM sync_operations ORDER BY rowid LIMIT 4 OFFSET 76);
         -- The completed uploads left copies, verified when made; a few
         -- were found corrupt since, a few were last verified longer ago
         -- than the scrub's interval (their assets are at risk).
         INSERT OR IGNORE INTO asset_copies (content_hash, provider_id, remote_key, verified_at, verify_status)
           SELECT content_hash, provider_id, content_hash,
                  CASE WHEN rowid % 100 = 7
                       THEN strftime('%Y-%m-%d %H:%M:%f', completed_at, '-45 days')
                       ELSE completed_at END,
                  CASE WHEN rowid % 1000 = 3 THEN 'corrupt' ELSE 'ok' END
           FROM sync_operations WHERE operation_type = 'upload' AND status = 'completed';
         -- A month of history per provider, busier on some days than others.
         INSERT INTO provider_daily (provider_id, day, uploaded_ops, uploaded_bytes,
                 downloaded_ops, downloaded_bytes, verified_ops, verified_bytes, deleted_ops,
                 failed_attempts)
           SELECT provider_id, date('now', '-' || ((rowid % 30) * (rowid % 7) % 30) || ' days'),
                  SUM(done AND operation_type = 'upload'),
                  SUM(CASE WHEN done AND operation_type = 'upload' THEN total_bytes ELSE 0 END),
                  SUM(done AND operation_type = 'download'),
                  SUM(CASE WHEN done AND operation_type = 'download' THEN total_bytes ELSE 0 END),
                  SUM(done AND operation_type = 'verify'),
                  SUM(CASE WHEN done AND operation_type = 'verify' THEN total_bytes ELSE 0 END),
                  SUM(done AND operation_type = 'delete_remote'), SUM(failed_attempts)
           FROM (SELECT *, rowid, status = 'completed' AS done FROM sync_operations)
           GROUP BY 1, 2;
         -- Put a few ops of every state at the head of the queue.
         UPDATE sync_operations SET priority = CASE WHEN rowid BETWEEN 62 AND 95 THEN 10 ELSE min(priority, 5) END;
         COMMIT;"
    ))?;
    watched_folders(&mut Store::open(db)?, db)?;
    Ok(providers)
}

/// Makes the provider `id` encrypt to a new library key, kept in the
/// secrets file beside `db` (nothing is put on the provider: the demo's
/// copies are made up).
fn encrypting(store: &mut Store, db: &Path, id: &str) -> anyhow::Result<()> {
    use crate::crypto::library::{key_id, settings_entry};
    let keys = crate::crypto::Keys::generate();
    let secrets = crate::secrets::SecretStore::File(crate::secrets::secrets_file(db));
    let key = key_id(&store.library_id()?);
    secrets.store(&key, "Breakdex library key", &keys.secret())?;
    let row = store.provider(id)?;
    let mut settings = row.settings.clone();
    settings["encryption"] = settings_entry(&keys, &secrets, &key);
    store.update_provider(id, &row.name, &settings, row.concurrency)?;
    Ok(())
}

/// Two watched folders beside the library: `Pictures`, holding a few real
/// photos (the window's watcher takes them), and `CARD`, a memory card that
/// is not plugged in (the watcher waits for it).
fn watched_folders(store: &mut Store, db: &Path) -> anyhow::Result<()> {
    let base = db.with_file_name("demo-watched");
    let pictures = base.join("Pictures");
    for i in 0..24 {
        let folder = pictures.join(if i < 12 {
            "2026/Trip Lisbon"
        } else {
            "2026/porto"
        });
        std::fs::create_dir_all(&folder)?;
        let bytes: Vec<u8> = (0..20_000u32).map(|b| (b * 31 + i * 7) as u8).collect();
        std::fs::write(folder.join(format!("IMG_{:04}.jpg", 3100 + i)), bytes)?;
    }
    crate::watch::add(store, &pictures, &[], 0)?;
    let card = base.join("CARD");
    std::fs::create_dir_all(&card)?;
    crate::watch::add(store, &card, &[], 5)?;
    std::fs::remove_dir(&card)?;
    Ok(())
}
