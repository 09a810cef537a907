//! Importing dropped or picked files in the background, with progress: the
//! walk, the hashing and the recording run on their own thread; uploads are
//! queued batch by batch so they start before a big drop is fully hashed.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::library;
use crate::setup;

/// Files per batch between two progress updates and queue writes.
const BATCH: usize = 64;

/// What a running import has done so far.
#[derive(Default)]
pub struct ImportProgress {
    pub files_total: AtomicU64,
    pub files_done: AtomicU64,
    /// Files hashed and recorded (those that could not be read are not).
    pub files_added: AtomicU64,
    pub bytes_total: AtomicU64,
    pub bytes_done: AtomicU64,
    pub enqueued: AtomicU64,
    /// What the exclude rules left out, known once the walk is done.
    pub skipped: std::sync::Mutex<library::SkipCounts>,
    pub finished: AtomicBool,
    /// Paths that could not be imported, and why.
    pub problems: std::sync::Mutex<Vec<String>>,
    /// The files hashed under the folders added, once it ended: what a
    /// watch of them need not hash again.
    pub seen: std::sync::Mutex<Vec<library::ImportedFile>>,
}

impl ImportProgress {
    /// What the import did, in the words of `breakdex add`'s last line.
    pub fn summary(&self) -> String {
        library::summary(
            self.files_added.load(Ordering::SeqCst) as usize,
            self.enqueued.load(Ordering::SeqCst) as usize,
            *self.skipped.lock().unwrap_or_else(|e| e.into_inner()),
        )
    }
}

/// Starts importing `paths` into the library at `db`, uploading to every
/// enabled provider. `wake` is called as progress is made.
pub fn start(
    db: PathBuf,
    paths: Vec<PathBuf>,
    wake: impl Fn() + Send + 'static,
) -> Arc<ImportProgress> {
    let progress = Arc::new(ImportProgress::default());
    let p = progress.clone();
    let spawned = std::thread::Builder::new()
        .name("breakdex-import".into())
        .spawn(move || {
            if let Err(e) = run(&db, &paths, &p, &wake) {
                p.problems.lock().unwrap_or_else(|e| e.into_inner()).push(e);
            }
            p.finished.store(true, Ordering::SeqCst);
            wake();
        });
    if let Err(e) = spawned {
        progress
            .problems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!("cannot start the import: {e}"));
        progress.finished.store(true, Ordering::SeqCst);
    }
    progress
}

fn run(
    db: &std::path::Path,
    paths: &[PathBuf],
    p: &ImportProgress,
    wake: &impl Fn(),
) -> Result<(), String> {
    let mut store = setup::open_library(db).map_err(|e| e.to_string())?;
    let providers: Vec<_> = store
        .providers()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|p| p.enabled)
        .collect();
    let rules = library::exclude::library_rules(&store, &[]).map_err(|e| e.to_string())?;
    let library::Collected {
        files,
        problems,
        skipped,
    } = library::collect_files(paths, &rules);
    p.problems
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .extend(problems);
    *p.skipped.lock().unwrap_or_else(|e| e.into_inner()) = library::SkipCounts::of(&skipped);
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(&f.path).map(|m| m.len()).unwrap_or(0))
        .collect();
    p.files_total.store(files.len() as u64, Ordering::SeqCst);
    p.bytes_total.store(sizes.iter().sum(), Ordering::SeqCst);
    wake();
    let report = library::hash_and_record(&mut store, &files, &providers, 0, BATCH, |batch| {
        p.problems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(batch.problems);
        p.enqueued
            .fetch_add(batch.enqueued as u64, Ordering::SeqCst);
        p.files_done
            .fetch_add(batch.range.len() as u64, Ordering::SeqCst);
        p.files_added.fetch_add(
            (batch.range.len() - batch.problems.len()) as u64,
            Ordering::SeqCst,
        );
        p.bytes_done
            .fetch_add(sizes[batch.range].iter().sum(), Ordering::SeqCst);
        wake();
    })
    .map_err(|e| e.to_string())?;
    if paths.iter().any(|p| p.is_dir()) {
        *p.seen.lock().unwrap_or_else(|e| e.into_inner()) = report.files;
    }
    Ok(())
}
