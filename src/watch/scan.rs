//! What a watched folder's changes do to the library: a rescan that compares
//! every file's size and time with what the library last took (hashing only
//! what changed), taking changed files (hashed and added as `add` does, their
//! uploads queued), forgetting deleted ones (their copies stay), and renames
//! recorded without hashing again.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use super::settle::Looks;
use crate::library::{self, Collected, FoundFile, Rules};
use crate::store::{ProviderRow, Store, StoreError, WatchedFile, WatchedFolder};

/// Files hashed and recorded per round of [`take`]; between two, a watcher
/// told to stop stops.
const TAKE_ROUND: usize = 256;

/// A watched folder as found on disk.
#[derive(Clone, Debug)]
pub struct Root {
    pub folder: WatchedFolder,
    pub dir: PathBuf,
    /// The folder's own name: the first part of every path recorded in it.
    name: String,
}

impl Root {
    pub fn new(folder: WatchedFolder) -> Root {
        let dir = PathBuf::from(&folder.path);
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Root { folder, dir, name }
    }

    pub fn id(&self) -> i64 {
        self.folder.id
    }

    /// The path recorded for `abs` (below the folder), as `add` of the
    /// folder records it: `Pictures/2026/a.jpg`.
    pub fn recorded(&self, abs: &Path) -> Option<String> {
        let below = abs.strip_prefix(&self.dir).ok()?;
        let mut recorded = self.name.clone();
        for part in below.components() {
            recorded.push('/');
            recorded.push_str(&part.as_os_str().to_string_lossy());
        }
        Some(recorded)
    }

    /// Where the file recorded as `recorded` is.
    pub fn local(&self, recorded: &str) -> String {
        let parent = self.dir.parent().unwrap_or(Path::new("/"));
        parent.join(recorded).to_string_lossy().into_owned()
    }

    /// Why the folder cannot be read as it is now, if it cannot: not there
    /// (an unplugged drive), not a folder, not readable, or on another
    /// device than when it was added (the empty mount point a drive leaves).
    /// A folder that fails this is waited for; none of its files is taken
    /// as deleted.
    pub fn unavailable(&self) -> Option<String> {
        let shown = self.dir.display();
        let meta = match std::fs::metadata(&self.dir) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Some(format!(
                    "{shown} is not there (an unplugged drive or an unmounted share?): \
                     waiting for it to come back"
                ));
            }
            Err(e) => return Some(format!("{shown} cannot be looked at ({e}): waiting")),
        };
        if !meta.is_dir() {
            return Some(format!("{shown} is not a folder any more: waiting"));
        }
        if let Some(device) = self.folder.device
            && device != meta.dev()
        {
            return Some(format!(
                "{shown} is on another drive than when it was added (an empty mount \
                 point?): waiting for its drive"
            ));
        }
        if let Err(e) = std::fs::read_dir(&self.dir) {
            return Some(format!("{shown} cannot be read ({e}): waiting"));
        }
        None
    }

    /// Whether the file recorded as `recorded`, which was on `device`, was
    /// deleted: it is not there, and the nearest folder above it that is
    /// there is on that device. Otherwise what held it is away (a drive
    /// mounted below the watched folder, or linked into it, was pulled out:
    /// its mount point is on another device), or it cannot be told.
    pub fn deleted(&self, recorded: &str, device: u64) -> bool {
        let path = PathBuf::from(self.local(recorded));
        if Looks::of(&path) != Looks::Gone {
            return false;
        }
        let mut above = path.parent();
        while let Some(dir) = above.filter(|d| d.starts_with(&self.dir)) {
            match std::fs::metadata(dir) {
                Ok(meta) => return meta.dev() == device,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => above = dir.parent(),
                Err(_) => return false,
            }
        }
        false
    }

    /// Forgets the files at or below these recorded paths that were
    /// deleted (see [`Root::deleted`]); returns how many.
    fn forget(&self, store: &mut Store, paths: &[String]) -> Result<usize, StoreError> {
        store.forget_watched(
            self.id(),
            paths,
            |p| self.local(p),
            |p, device| self.deleted(p, device),
        )
    }

    /// The providers its uploads go to: those it names that still exist,
    /// else every enabled one.
    fn providers(&self, store: &Store) -> Result<Vec<ProviderRow>, StoreError> {
        let all = store.providers()?;
        let named: Vec<ProviderRow> = all
            .iter()
            .filter(|p| self.folder.provider_ids.contains(&p.id))
            .cloned()
            .collect();
        Ok(if named.is_empty() {
            all.into_iter().filter(|p| p.enabled).collect()
        } else {
            named
        })
    }
}

/// What a look at a watched folder did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Taken {
    /// Files hashed and recorded (new or changed), and uploads queued.
    pub added: usize,
    pub enqueued: usize,
    /// Files whose size and time matched what was last taken.
    pub unchanged: usize,
    /// Files deleted from the folder, forgotten (their copies stay).
    pub forgotten: usize,
    /// Files that could not be read, each said.
    pub problems: Vec<String>,
    /// Files that changed while they were hashed, or too recently to be
    /// taken: to be looked at again after the settle time.
    pub unsettled: Vec<(PathBuf, Looks)>,
}

impl Taken {
    fn add(&mut self, other: Taken) {
        self.added += other.added;
        self.enqueued += other.enqueued;
        self.unchanged += other.unchanged;
        self.forgotten += other.forgotten;
        self.problems.extend(other.problems);
        self.unsettled.extend(other.unsettled);
    }
}

/// What Breakdex writes itself, never taken from a watched folder (a
/// watched home folder holds them): the library's database and what lies
/// beside it (its journal, the engines' locks, the secrets file, the
/// default provider's folder, downloads), the logs and the window's state,
/// and every local provider's folder (its uploads would come back as new
/// files, and each write to the database or a log as a new content).
#[derive(Debug, Default)]
pub struct Own(Vec<PathBuf>);

impl Own {
    pub fn of(store: &Store) -> Result<Own, StoreError> {
        let db = std::path::absolute(store.path()).unwrap_or_else(|_| store.path().to_owned());
        let mut own = vec![
            db.clone(),
            crate::secrets::secrets_file(&db),
            crate::setup::library_dir(&db),
            crate::setup::default_provider_root(&db),
            crate::logs::log_dir(),
            crate::logs::state_dir(),
        ];
        let name = db
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for suffix in ["-wal", "-shm", "-journal", ".engines"] {
            own.push(db.with_file_name(format!("{name}{suffix}")));
        }
        for p in store.providers()? {
            if p.kind == crate::store::ProviderKind::Local
                && let Some(root) = p.settings.get("root").and_then(|r| r.as_str())
            {
                own.push(PathBuf::from(root));
            }
        }
        // As the events name them: links resolved.
        let resolved: Vec<PathBuf> = own
            .iter()
            .filter_map(|p| std::fs::canonicalize(p).ok())
            .collect();
        own.extend(resolved);
        Ok(Own(own))
    }

    /// Whether `path` is, or is under, one of them.
    pub fn holds(&self, path: &Path) -> bool {
        self.0.iter().any(|own| path.starts_with(own))
    }
}

/// How recently a file may have changed and still be taken by a rescan.
pub struct Fresh {
    pub now: SystemTime,
    pub settle: std::time::Duration,
}

impl Fresh {
    /// Whether a file with this time changed within the settle time. A
    /// time in the future (a camera's clock set wrong, a FAT card's local
    /// time) is not: the settle time of its events still applies.
    fn is_fresh(&self, mtime_ns: i64) -> bool {
        let now = self
            .now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        (0..self.settle.as_nanos() as i64).contains(&now.saturating_sub(mtime_ns))
    }

    /// Sorts files found into those unchanged since last taken (counted),
    /// those to take now (returned), and those that changed too recently
    /// (left to settle). `known` says how each was last taken.
    fn sort_out(
        &self,
        files: Vec<FoundFile>,
        mut known: impl FnMut(&str) -> Option<(i64, i64)>,
        taken: &mut Taken,
    ) -> Vec<FoundFile> {
        let mut changed = Vec::new();
        for file in files {
            let looks = Looks::of(&file.path);
            match looks {
                Looks::File { size, mtime_ns } => {
                    if known(&file.recorded) == Some((size as i64, mtime_ns)) {
                        taken.unchanged += 1;
                    } else if self.is_fresh(mtime_ns) {
                        taken.unsettled.push((file.path, looks));
                    } else {
                        changed.push(file);
                    }
                }
                // Gone or changed since the walk saw it: the next look says.
                _ => taken.unsettled.push((file.path, looks)),
            }
        }
        changed
    }
}

/// The whole folder compared with what the library took from it: files
/// whose size or time differ (or that are new) are taken, those that are
/// gone forgotten; files that changed within the settle time are left to
/// settle. The caller has checked that the folder is there.
pub fn rescan(
    store: &mut Store,
    root: &Root,
    rules: &Rules,
    own: &Own,
    fresh: &Fresh,
    stop: &AtomicBool,
) -> Result<Taken, StoreError> {
    let Collected {
        mut files,
        problems,
        ..
    } = library::collect_below(&root.dir, root.name.clone(), rules);
    files.retain(|f| !own.holds(&f.path));
    let mut known = store.watched_files(root.id())?;
    let mut taken = Taken {
        problems,
        ..Taken::default()
    };
    let changed = fresh.sort_out(
        files,
        |p| known.remove(p).map(|(s, m, _)| (s, m)),
        &mut taken,
    );
    taken.add(take(store, root, changed, stop)?);
    // What the walk did not find is forgotten only if it is really gone
    // (not in a folder that could not be read) and the folder is still
    // there (a drive pulled during the walk).
    let gone: Vec<String> = known.into_keys().collect();
    if !gone.is_empty() && root.unavailable().is_none() {
        taken.forgotten += root.forget(store, &gone)?;
    }
    Ok(taken)
}

/// Paths whose settle time ran out, as they look now: what is gone is
/// forgotten (with everything under it), a file or folder is walked (the
/// exclude rules apply) and whatever changed in it taken.
pub fn settled(
    store: &mut Store,
    root: &Root,
    paths: Vec<(PathBuf, Looks)>,
    rules: &Rules,
    own: &Own,
    fresh: &Fresh,
    stop: &AtomicBool,
) -> Result<Taken, StoreError> {
    let mut taken = Taken::default();
    let mut gone = Vec::new();
    let mut found: Vec<FoundFile> = Vec::new();
    for (path, looks) in paths {
        let Some(recorded) = root.recorded(&path) else {
            continue;
        };
        match looks {
            Looks::Gone => gone.push(recorded),
            Looks::File { .. } | Looks::Folder
                if !library::excluded_below(
                    &root.dir,
                    &root.name,
                    &path,
                    looks == Looks::Folder,
                    rules,
                ) =>
            {
                let collected = library::collect_below(&path, recorded, rules);
                taken.problems.extend(collected.problems);
                found.extend(collected.files);
            }
            Looks::File { .. } | Looks::Folder | Looks::Other => {}
        }
    }
    if !gone.is_empty() && root.unavailable().is_none() {
        taken.forgotten += root.forget(store, &gone)?;
    }
    // A folder and a file in it that settled together: the file once.
    let mut once = std::collections::HashSet::new();
    found.retain(|f| !own.holds(&f.path) && once.insert(f.recorded.clone()));
    let paths: Vec<&str> = found.iter().map(|f| f.recorded.as_str()).collect();
    let known = store.watched_files_at(root.id(), &paths)?;
    let changed = fresh.sort_out(
        found,
        |p| known.get(p).map(|(s, m, _)| (*s, *m)),
        &mut taken,
    );
    taken.add(take(store, root, changed, stop)?);
    Ok(taken)
}

/// `from` renamed to `to` within the folder: if `to` is what `from` was (a
/// file of the same size and time, or a folder), the new paths are recorded
/// for the contents they hold, with no hashing and no upload. Returns how
/// many files it moved (none: the settle time takes both paths as they
/// come).
pub fn renamed(
    store: &mut Store,
    root: &Root,
    from: &Path,
    to: &Path,
    rules: &Rules,
) -> Result<usize, StoreError> {
    let (Some(old), Some(new)) = (root.recorded(from), root.recorded(to)) else {
        return Ok(0);
    };
    let is_dir = Looks::of(to) == Looks::Folder;
    if old == new || library::excluded_below(&root.dir, &root.name, to, is_dir, rules) {
        // Renamed to a name the rules leave out: a deletion, as settled.
        return Ok(0);
    }
    let same = match Looks::of(to) {
        Looks::Folder => true,
        Looks::File { size, mtime_ns } => store
            .watched_files_at(root.id(), &[old.as_str()])?
            .get(&old)
            .is_some_and(|(s, m, _)| *s == size as i64 && *m == mtime_ns),
        Looks::Gone | Looks::Other => false,
    };
    if !same {
        return Ok(0);
    }
    store.rename_watched(root.id(), &old, &new, |p| root.local(p))
}

/// Hashes and records changed files (as `add` does: a new content is a new
/// asset with its uploads queued; a path whose content changed now points to
/// the new content too, the old content and its copies kept), then notes
/// each as taken. Stops between two rounds once `stop` is set (the rest is
/// taken by the next rescan).
fn take(
    store: &mut Store,
    root: &Root,
    files: Vec<FoundFile>,
    stop: &AtomicBool,
) -> Result<Taken, StoreError> {
    let mut taken = Taken::default();
    if files.is_empty() {
        return Ok(taken);
    }
    let providers = root.providers(store)?;
    for round in files.chunks(TAKE_ROUND) {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let report = library::hash_and_record(
            store,
            round,
            &providers,
            root.folder.priority,
            TAKE_ROUND,
            |_| {},
        )?;
        taken.problems.extend(report.problems);
        taken.enqueued += report.enqueued;
        // Each with its size and time as the hashing found them: a file
        // that changed while it was read has another time by now, so the
        // settle time (its events) or the next rescan reads it again.
        let notes: Vec<WatchedFile> = report
            .files
            .into_iter()
            .map(|file| WatchedFile {
                path: file.recorded,
                size_bytes: file.size_bytes as i64,
                mtime_ns: file.mtime_ns,
                device: file.device,
                content_hash: file.content_hash,
            })
            .collect();
        taken.added += notes.len();
        store.record_watched(root.id(), &notes, |p| root.local(p))?;
    }
    Ok(taken)
}
