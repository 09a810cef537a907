//! Import: walks the files and folders a person adds, hashes each file with
//! BLAKE3, records it in `asset_manifest` (one row per content) with the path
//! it was added under (relative to what was added, as `cp -r` lays it out),
//! and enqueues an upload to every chosen provider that does not already
//! hold it.
//!
//! Problems with single paths (missing, unreadable, not a regular file, link
//! loops) are reported one by one; every good file in the same call is still
//! imported.

pub mod exclude;
pub mod restore;
mod walk;

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use serde::Serialize;

use crate::store::{AssetPath, ManifestEntry, NewOp, OpType, ProviderRow, Store, StoreError};
pub use exclude::Rules;
pub use walk::{Collected, SkipCounts, Skipped, collect_below, collect_files, excluded_below};

/// A file found under what a person added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundFile {
    pub path: PathBuf,
    /// The path recorded for it: relative to what was added, `/`-separated,
    /// starting with the added folder's own name (`2026/trip/a.jpg` for
    /// `~/Pictures/2026`), or just the file's name if a file was added.
    pub recorded: String,
}

/// One file that was imported.
#[derive(Clone, Debug, Serialize)]
pub struct ImportedFile {
    pub path: PathBuf,
    /// The path recorded for it (see [`FoundFile::recorded`]).
    pub recorded: String,
    pub content_hash: String,
    pub size_bytes: u64,
    /// Its modification time (nanoseconds since the epoch) when it was
    /// read, and the device it is on.
    #[serde(skip)]
    pub mtime_ns: i64,
    #[serde(skip)]
    pub device: u64,
}

/// What an import did.
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    pub files: Vec<ImportedFile>,
    /// Ops created (uploads not already queued nor already stored).
    pub enqueued: usize,
    /// One line per path that could not be imported, saying why.
    pub problems: Vec<String>,
    /// What the exclude rules left out.
    #[serde(skip)]
    pub skipped: Vec<Skipped>,
}

/// The line that ends an add, on the command line and in the window:
/// "added 1,204 files (1,204 uploads queued), 37 files skipped by exclude
/// rules".
pub fn summary(files: usize, enqueued: usize, skipped: SkipCounts) -> String {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut line = format!(
        "added {} file{} ({} upload{} queued)",
        thousands(files),
        plural(files),
        thousands(enqueued),
        plural(enqueued)
    );
    if !skipped.is_empty() {
        line.push_str(&format!(", {skipped}"));
    }
    line
}

/// `1204` as "1,204".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes read at a time by `hash_path`: small enough that what was just read
/// is still in the core's L2 cache when it is hashed (a 1 MiB buffer took
/// twice the CPU time on large files).
const HASH_READ: usize = 128 << 10;

thread_local! {
    /// The read buffer of `hash_path`, one per thread: zeroing a fresh buffer
    /// per file cost more than hashing a small file.
    static HASH_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Hashes a file with BLAKE3; returns its hash (lowercase hex) and size.
pub fn hash_path(path: &Path) -> std::io::Result<(String, u64)> {
    hash_with_time(path).map(|(hash, size, ..)| (hash, size))
}

/// [`hash_path`], and the file's modification time (nanoseconds since the
/// epoch) as it was when the reading began (if it changed while it was
/// read, a later look sees another time and reads it again) and its device.
pub fn hash_with_time(path: &Path) -> std::io::Result<(String, u64, i64, u64)> {
    let mut file = File::open(path)?;
    let meta = file.metadata()?;
    let (mtime_ns, device) = (crate::watch::mtime_ns(&meta), meta.dev());
    let mut hasher = blake3::Hasher::new();
    let mut size = 0u64;
    HASH_BUF.with_borrow_mut(|buf| {
        buf.resize(HASH_READ, 0);
        loop {
            let n = match file.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        Ok(())
    })?;
    Ok((
        hasher.finalize().to_hex().to_string(),
        size,
        mtime_ns,
        device,
    ))
}

/// Files recorded per transaction by [`import`].
const IMPORT_BATCH: usize = 512;
/// How many times `batch` files [`hash_and_record`] records at once at most.
const BATCH_GROWTH: usize = 16;
/// A hashing thread hands over its results after this many files or bytes,
/// whichever comes first.
const HAND_OVER_FILES: usize = 32;
const HAND_OVER_BYTES: u64 = 16 << 20;

/// One file hashed, or why it could not be.
type Hashed = Result<ImportedFile, String>;

/// What [`hash_and_record`] reports after each batch it recorded.
pub struct Recorded<'a> {
    /// The batch's files, by their place in the list given.
    pub range: std::ops::Range<usize>,
    /// Ops created for the batch.
    pub enqueued: usize,
    /// One line per file of the batch that could not be read.
    pub problems: &'a [String],
}

/// Hashes `files` on all cores and, as their hashes come in, records them
/// and enqueues their uploads (see [`record_and_enqueue`]) in the order
/// given, at least `batch` files per transaction (but for the last), more
/// when more are hashed: the database work overlaps the hashing. `recorded`
/// hears of each batch.
pub fn hash_and_record(
    store: &mut Store,
    files: &[FoundFile],
    providers: &[ProviderRow],
    priority: i64,
    batch: usize,
    mut recorded: impl FnMut(Recorded<'_>),
) -> Result<ImportReport, StoreError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(files.len().max(1));
    let batch = batch.max(1);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let mut slots: Vec<Option<Hashed>> = (0..files.len()).map(|_| None).collect();
    let mut report = ImportReport::default();
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        for _ in 0..threads {
            let (tx, next, stop) = (tx.clone(), &next, &stop);
            s.spawn(move || hash_worker(files, next, stop, tx));
        }
        drop(tx);
        // Files recorded, and files hashed without a gap from the start.
        let (mut done, mut ready) = (0, 0);
        let mut record = || -> Result<(), StoreError> {
            while let Ok(results) = rx.recv() {
                // What else was hashed meanwhile comes along.
                for (i, hashed) in std::iter::once(results).chain(rx.try_iter()).flatten() {
                    slots[i] = Some(hashed);
                }
                while slots.get(ready).is_some_and(Option::is_some) {
                    ready += 1;
                }
                while ready - done >= batch || (ready == files.len() && done < ready) {
                    // While recording is what holds the import up, more than
                    // `batch` files wait: they go together, in fewer commits.
                    let end = ready.min(done + batch * BATCH_GROWTH);
                    let (mut ok, mut problems) = (Vec::new(), Vec::new());
                    for hashed in slots[done..end].iter_mut().filter_map(Option::take) {
                        match hashed {
                            Ok(file) => ok.push(file),
                            Err(problem) => problems.push(problem),
                        }
                    }
                    let enqueued = record_and_enqueue(store, &ok, providers, priority)?;
                    recorded(Recorded {
                        range: done..end,
                        enqueued,
                        problems: &problems,
                    });
                    report.files.extend(ok);
                    report.problems.extend(problems);
                    report.enqueued += enqueued;
                    done = end;
                }
            }
            Ok(())
        };
        let result = record();
        // On a database error, the hashing threads stop at their next file.
        stop.store(true, Ordering::Relaxed);
        result
    })?;
    Ok(report)
}

/// One hashing thread: takes the next file not taken yet until none is left,
/// handing its results over in small groups.
fn hash_worker(
    files: &[FoundFile],
    next: &AtomicUsize,
    stop: &AtomicBool,
    tx: mpsc::Sender<Vec<(usize, Hashed)>>,
) {
    crate::priority::lower_this_thread();
    let (mut out, mut bytes) = (Vec::new(), 0u64);
    while !stop.load(Ordering::Relaxed) {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(FoundFile { path, recorded }) = files.get(i) else {
            break;
        };
        let hashed = match hash_with_time(path) {
            Ok((content_hash, size_bytes, mtime_ns, device)) => {
                bytes += size_bytes;
                Ok(ImportedFile {
                    path: std::path::absolute(path).unwrap_or_else(|_| path.clone()),
                    recorded: recorded.clone(),
                    content_hash,
                    size_bytes,
                    mtime_ns,
                    device,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(format!(
                "{}: cannot be read (permission denied)",
                path.display()
            )),
            Err(e) => Err(format!("{}: cannot be read ({e})", path.display())),
        };
        out.push((i, hashed));
        if out.len() >= HAND_OVER_FILES || bytes >= HAND_OVER_BYTES {
            if tx.send(std::mem::take(&mut out)).is_err() {
                return;
            }
            bytes = 0;
        }
    }
    if !out.is_empty() {
        let _ = tx.send(out);
    }
}

/// Records hashed files in the manifest and enqueues their uploads to
/// `providers` (skipping providers that already hold a good copy).
pub fn record_and_enqueue(
    store: &mut Store,
    files: &[ImportedFile],
    providers: &[ProviderRow],
    priority: i64,
) -> Result<usize, StoreError> {
    let entries: Vec<ManifestEntry> = files
        .iter()
        .map(|f| ManifestEntry {
            content_hash: f.content_hash.clone(),
            size_bytes: f.size_bytes as i64,
            original_name: f
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            local_path: Some(f.path.to_string_lossy().into_owned()),
            media_type: mime_guess::from_path(&f.path)
                .first_or_octet_stream()
                .to_string(),
            added_at: String::new(),
        })
        .collect();
    let paths: Vec<AssetPath> = files
        .iter()
        .filter(|f| !f.recorded.is_empty())
        .map(|f| AssetPath {
            content_hash: f.content_hash.clone(),
            path: f.recorded.clone(),
        })
        .collect();
    store.record_assets(&entries, &paths)?;
    let ops: Vec<NewOp> = files
        .iter()
        .flat_map(|f| {
            providers.iter().map(|p| NewOp {
                content_hash: f.content_hash.clone(),
                provider_id: p.id.clone(),
                operation_type: OpType::Upload,
                priority,
                total_bytes: f.size_bytes as i64,
            })
        })
        .collect();
    let queued = store.enqueue(&ops)?.len();
    // Fewer providers than the policy's copies: the keeper tops them up.
    if providers.len() < store.policy()?.min_copies as usize {
        store.mark_round_due()?;
    }
    Ok(queued)
}

/// Imports files and folders: walk (leaving out what `rules` exclude),
/// hash, record, enqueue uploads.
pub fn import(
    store: &mut Store,
    paths: &[PathBuf],
    rules: &Rules,
    providers: &[ProviderRow],
    priority: i64,
) -> Result<ImportReport, StoreError> {
    let Collected {
        files,
        mut problems,
        skipped,
    } = collect_files(paths, rules);
    let mut report = hash_and_record(store, &files, providers, priority, IMPORT_BATCH, |_| {})?;
    problems.append(&mut report.problems);
    report.problems = problems;
    report.skipped = skipped;
    Ok(report)
}

/// What copying the library to a provider would upload.
#[derive(Clone, Debug, Default)]
pub struct CopyPlan {
    /// The assets it lacks whose bytes are on this computer, and their size.
    pub assets: Vec<ManifestEntry>,
    pub bytes: i64,
    /// Assets it lacks whose recorded local file is gone.
    pub without_bytes: usize,
}

/// The assets a provider lacks, as [`CopyPlan`] says.
pub fn copy_plan(store: &Store, provider_id: &str) -> Result<CopyPlan, StoreError> {
    let mut plan = CopyPlan::default();
    for asset in store.assets_lacking(provider_id)? {
        if asset
            .local_path
            .as_deref()
            .is_some_and(|p| Path::new(p).is_file())
        {
            plan.bytes += asset.size_bytes;
            plan.assets.push(asset);
        } else {
            plan.without_bytes += 1;
        }
    }
    Ok(plan)
}

/// Upload ops of these assets to a provider.
pub fn uploads(assets: &[ManifestEntry], provider: &ProviderRow, priority: i64) -> Vec<NewOp> {
    assets
        .iter()
        .map(|a| NewOp {
            content_hash: a.content_hash.clone(),
            provider_id: provider.id.clone(),
            operation_type: OpType::Upload,
            priority,
            total_bytes: a.size_bytes,
        })
        .collect()
}
