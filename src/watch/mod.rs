//! Watched folders: while the window or `breakdex run` is open, new and
//! changed files under each watched folder are hashed and added as `add`
//! adds them, from the system's file events (the `notify` crate: inotify,
//! FSEvents, ReadDirectoryChangesW), each once it has settled
//! (`settle.rs`). At the start, when the events overflowed, and every few
//! minutes where there are no events (a network share, the system's limit
//! of watches reached), a rescan compares sizes and times with what the
//! library took (`scan.rs`). A folder that is not there (an unplugged drive)
//! is waited for, and none of its files is taken as deleted.
//!
//! One watcher per library at a time: the one holding `.watch.lock` in the
//! engines' folder; another engine's watcher waits for the lock.

mod scan;
mod settle;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher as _};
use serde::Serialize;

pub use scan::{Own, Root, Taken};
pub use settle::{Looks, Pending, mtime_ns};

use crate::library::Rules;
use crate::store::{Store, StoreError, WatchedFile, WatchedFolder};

/// How long a file must stay the same before it is taken, unless set.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(2);
/// How often the watcher looks at what settled.
const TICK: Duration = Duration::from_millis(250);
/// How often it reads the list of watched folders again and looks whether
/// each is there.
const SYNC_EVERY: Duration = Duration::from_secs(2);
/// How often a folder without file events is rescanned.
const RESCAN_EVERY: Duration = Duration::from_secs(300);
/// How long a watcher waits for a running one's lock before it asks again.
const LOCK_EVERY: Duration = Duration::from_secs(5);

/// The lock that says a watcher runs on the library at `db`.
fn lock_path(db: &Path) -> PathBuf {
    crate::engine::locks_dir(db).join(".watch.lock")
}

/// Takes the watcher's lock, if no other watcher holds it.
fn take_lock(db: &Path) -> Option<File> {
    let path = lock_path(db);
    std::fs::create_dir_all(path.parent()?).ok()?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .ok()?;
    file.try_lock().ok()?;
    Some(file)
}

/// Whether a watcher runs on the library at `db` now (in a window or a
/// `breakdex run`, this process included).
pub fn is_watched_now(db: &Path) -> bool {
    match File::open(lock_path(db)) {
        Ok(file) => file.try_lock().is_err(),
        Err(_) => false,
    }
}

/// Starts watching `dir` with uploads to `providers` (by name; none: every
/// enabled provider) at `priority`: for the command line and the window.
pub fn add(
    store: &mut Store,
    dir: &Path,
    providers: &[String],
    priority: i64,
) -> Result<WatchedFolder, StoreError> {
    add_as(store, dir, providers, priority, false)
}

/// [`add`], paused or not.
fn add_as(
    store: &mut Store,
    dir: &Path,
    providers: &[String],
    priority: i64,
    paused: bool,
) -> Result<WatchedFolder, StoreError> {
    let shown = dir.display();
    let real = std::fs::canonicalize(dir).map_err(|e| {
        StoreError::Invalid(match e.kind() {
            std::io::ErrorKind::NotFound => format!("{shown}: no such folder"),
            std::io::ErrorKind::PermissionDenied => {
                format!("{shown}: cannot be read (permission denied)")
            }
            _ => format!("{shown}: cannot be looked at ({e})"),
        })
    })?;
    let meta = std::fs::metadata(&real)
        .map_err(|e| StoreError::Invalid(format!("{shown}: cannot be looked at ({e})")))?;
    if !meta.is_dir() {
        return Err(StoreError::Invalid(format!(
            "{shown}: not a folder (`breakdex add` adds a file once)"
        )));
    }
    if real.parent().is_none() {
        return Err(StoreError::Invalid(format!(
            "{shown}: the whole file system cannot be watched; name a folder in it"
        )));
    }
    std::fs::read_dir(&real).map_err(|e| {
        StoreError::Invalid(match e.kind() {
            std::io::ErrorKind::PermissionDenied => {
                format!("{shown}: the folder cannot be read (permission denied)")
            }
            _ => format!("{shown}: the folder cannot be read ({e})"),
        })
    })?;
    let ids = providers
        .iter()
        .map(|name| store.require_provider(name).map(|p| p.id))
        .collect::<Result<Vec<_>, _>>()?;
    let path = real.to_string_lossy();
    store.add_watched(&path, &ids, priority, Some(meta.dev()), paused)
}

/// Starts watching `dropped` (to every enabled provider), with the files an
/// add of it just hashed noted as taken, so that its first rescan hashes
/// only what changed since (a drop with "Keep watching this folder"
/// ticked). It is added paused until they are noted: a watcher that saw it
/// before would hash it all again.
pub fn add_dropped(
    store: &mut Store,
    dropped: &Path,
    seen: &[crate::library::ImportedFile],
) -> Result<WatchedFolder, StoreError> {
    let folder = add_as(store, dropped, &[], 0, true)?;
    seed(store, &folder, dropped, seen)?;
    store.set_watch_paused(folder.id, false)?;
    Ok(folder)
}

fn seed(
    store: &mut Store,
    folder: &WatchedFolder,
    dropped: &Path,
    seen: &[crate::library::ImportedFile],
) -> Result<(), StoreError> {
    let root = Root::new(folder.clone());
    let dropped = std::path::absolute(dropped).unwrap_or_else(|_| dropped.to_owned());
    let files: Vec<WatchedFile> = seen
        .iter()
        .filter_map(|f| {
            let below = f.path.strip_prefix(&dropped).ok()?;
            Some(WatchedFile {
                path: root.recorded(&root.dir.join(below))?,
                size_bytes: f.size_bytes as i64,
                mtime_ns: f.mtime_ns,
                device: f.device,
                content_hash: f.content_hash.clone(),
            })
        })
        .collect();
    store.record_watched(folder.id, &files, |p| root.local(p))
}

/// One rescan of a folder that is there, now, as the watcher's first one
/// (`watch scan`): files changed within the settle time are left out.
pub fn rescan_now(store: &mut Store, root: &Root, rules: &Rules) -> Result<Taken, StoreError> {
    let fresh = scan::Fresh {
        now: SystemTime::now(),
        settle: DEFAULT_SETTLE,
    };
    let own = Own::of(store)?;
    let taken = scan::rescan(store, root, rules, &own, &fresh, &AtomicBool::new(false))?;
    let f = &root.folder;
    store.set_watch_state(f.id, &f.state, f.problem.as_deref(), true)?;
    Ok(taken)
}

/// The watched folder a person names: by its path as given, or as resolved.
pub fn find(store: &Store, dir: &Path) -> Result<WatchedFolder, StoreError> {
    let given = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    let mut candidates = vec![given.to_string_lossy().into_owned()];
    if let Ok(real) = std::fs::canonicalize(dir) {
        candidates.push(real.to_string_lossy().into_owned());
    }
    for path in &candidates {
        let trimmed = path.trim_end_matches('/');
        if let Some(folder) = store.watched_folder(trimmed)? {
            return Ok(folder);
        }
    }
    Err(StoreError::Invalid(format!(
        "{} is not a watched folder (`breakdex watch list` shows them)",
        dir.display()
    )))
}

/// The watched folders as `watch list --json` and the window show them.
#[derive(Clone, Debug, Serialize)]
pub struct Listing {
    /// Whether a window or `breakdex run` watches them now.
    pub watched_now: bool,
    pub folders: Vec<Listed>,
}

/// One watched folder in a [`Listing`].
#[derive(Clone, Debug, Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub folder: WatchedFolder,
    /// Provider names; empty: every enabled provider.
    pub providers: Vec<String>,
    /// Files taken from it, and their bytes.
    pub files: u64,
    pub bytes: u64,
}

impl Listing {
    pub fn read(store: &Store) -> Result<Listing, StoreError> {
        let names: HashMap<String, String> = store
            .providers()?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect();
        let totals = store.watched_totals()?;
        let folders = store
            .watched_folders()?
            .into_iter()
            .map(|folder| {
                let (files, bytes) = totals.get(&folder.id).copied().unwrap_or_default();
                Listed {
                    providers: folder
                        .provider_ids
                        .iter()
                        .filter_map(|id| names.get(id).cloned())
                        .collect(),
                    folder,
                    files,
                    bytes,
                }
            })
            .collect();
        Ok(Listing {
            watched_now: is_watched_now(store.path()),
            folders,
        })
    }
}

impl Listed {
    /// Its state in a word: paused, or what its watcher last said (and that
    /// nothing watches it when no window or run is open).
    pub fn state_words(&self, watched_now: bool) -> &'static str {
        match self.folder.state.as_str() {
            _ if self.folder.paused => "paused",
            _ if !watched_now => "not watched now",
            "watching" => "watching",
            "scanning" => "scanning",
            "waiting" => "waiting",
            _ => "starting",
        }
    }

    /// "every enabled provider", or the providers named.
    pub fn destination(&self) -> String {
        if self.providers.is_empty() {
            "every enabled provider".to_string()
        } else {
            self.providers.join(", ")
        }
    }
}

/// How the watcher runs.
#[derive(Clone, Copy, Debug)]
pub struct WatchConfig {
    pub settle: Duration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            settle: DEFAULT_SETTLE,
        }
    }
}

enum Msg {
    Event(notify::Result<notify::Event>),
    Stop,
}

/// The running watcher.
pub struct Watcher {
    tx: Sender<Msg>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Watcher {
    /// Starts the watcher thread on the library at `db`.
    pub fn start(db: &Path, config: WatchConfig) -> Result<Watcher, StoreError> {
        let store = Store::open(db)?;
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let (db, stop_, events) = (db.to_owned(), stop.clone(), tx.clone());
        let thread = std::thread::Builder::new()
            .name("breakdex-watch".into())
            .spawn(move || {
                crate::priority::lower_this_thread();
                let mut watch = Watch::new(store, db, config, stop_, events);
                watch.run(rx);
            })
            .map_err(|e| StoreError::Invalid(format!("cannot start the folder watcher: {e}")))?;
        Ok(Watcher { tx, stop, thread })
    }

    /// Stops the watcher: between two rounds of hashing (256 files); a
    /// watcher still in a round after a few seconds (big files) is left to
    /// end with the process (what it recorded stays; the rest is taken by
    /// the next rescan).
    pub fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.tx.send(Msg::Stop);
        let deadline = Instant::now() + Duration::from_secs(3);
        while !self.thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.thread.is_finished() {
            let _ = self.thread.join();
        }
    }
}

/// A folder being watched.
struct Live {
    root: Root,
    /// Whether file events reach it (else it is rescanned every
    /// `RESCAN_EVERY`).
    by_events: bool,
    /// How it is watched, when not by file events.
    how: Option<String>,
    last_scan: Instant,
    /// A full rescan is due (the events overflowed).
    rescan: bool,
}

/// The watcher thread's state.
struct Watch {
    store: Store,
    db: PathBuf,
    config: WatchConfig,
    stop: Arc<AtomicBool>,
    events: Sender<Msg>,
    notify: Option<notify::RecommendedWatcher>,
    /// Why file events cannot be had at all, if so.
    no_events: Option<String>,
    live: HashMap<i64, Live>,
    pending: Pending,
    rules: Rules,
    own: Own,
    lock: Option<File>,
}

impl Watch {
    fn new(
        store: Store,
        db: PathBuf,
        config: WatchConfig,
        stop: Arc<AtomicBool>,
        events: Sender<Msg>,
    ) -> Watch {
        Watch {
            store,
            db,
            config,
            stop,
            events,
            notify: None,
            no_events: None,
            live: HashMap::new(),
            pending: Pending::new(config.settle),
            rules: Rules::none(),
            own: Own::default(),
            lock: None,
        }
    }

    fn run(&mut self, rx: Receiver<Msg>) {
        let mut last_sync: Option<Instant> = None;
        let mut last_lock_try: Option<Instant> = None;
        loop {
            let first = match rx.recv_timeout(TICK) {
                Ok(msg) => Some(msg),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            for msg in first
                .into_iter()
                .chain(std::iter::from_fn(|| rx.try_recv().ok()))
            {
                match msg {
                    Msg::Stop => return,
                    Msg::Event(event) => self.event(event),
                }
            }
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            if self.lock.is_none() {
                if last_lock_try.is_some_and(|t| t.elapsed() < LOCK_EVERY) {
                    continue;
                }
                last_lock_try = Some(Instant::now());
                self.lock = take_lock(&self.db);
                if self.lock.is_none() {
                    continue;
                }
                self.start_events();
            }
            let result = (|| {
                if last_sync.is_none_or(|t| t.elapsed() >= SYNC_EVERY) {
                    last_sync = Some(Instant::now());
                    self.sync()?;
                }
                self.take_settled()?;
                self.rescans()
            })();
            if let Err(e) = result {
                tracing::warn!("watched folders: {e}");
            }
        }
    }

    /// Starts receiving file events (once the lock is ours).
    fn start_events(&mut self) {
        let events = self.events.clone();
        match notify::recommended_watcher(move |event| {
            let _ = events.send(Msg::Event(event));
        }) {
            Ok(watcher) => self.notify = Some(watcher),
            Err(e) => {
                tracing::warn!("watched folders: no file events ({e}); rescanning instead");
                self.no_events = Some(format!(
                    "the system gives no file events ({e}): rescanned every {} minutes",
                    RESCAN_EVERY.as_secs() / 60
                ));
            }
        }
    }

    /// Reads the watched folders and the exclude rules again; starts
    /// watching what is new and there, stops what was removed, paused or
    /// is not there any more.
    fn sync(&mut self) -> Result<(), StoreError> {
        match crate::library::exclude::library_rules(&self.store, &[]) {
            Ok(rules) => self.rules = rules,
            Err(e) => tracing::warn!("watched folders: {e}; the last rules read apply"),
        }
        self.own = Own::of(&self.store)?;
        let folders = self.store.watched_folders()?;
        let wanted: HashMap<i64, &WatchedFolder> = folders
            .iter()
            .filter(|f| !f.paused)
            .map(|f| (f.id, f))
            .collect();
        let dropped: Vec<i64> = self
            .live
            .keys()
            .filter(|id| !wanted.contains_key(id))
            .copied()
            .collect();
        for id in dropped {
            self.unwatch(id);
        }
        for folder in folders.iter().filter(|f| !f.paused) {
            let root = Root::new(folder.clone());
            if let Some(why) = root.unavailable() {
                if self.live.contains_key(&folder.id) {
                    tracing::info!("watched folders: {why}");
                    self.unwatch(folder.id);
                }
                self.store
                    .set_watch_state(folder.id, "waiting", Some(&why), false)?;
                continue;
            }
            match self.live.get_mut(&folder.id) {
                // The providers or priority may have changed.
                Some(live) => live.root.folder = folder.clone(),
                None => self.begin(root)?,
            }
        }
        Ok(())
    }

    /// Starts watching a folder that is there: its events, then a rescan.
    fn begin(&mut self, root: Root) -> Result<(), StoreError> {
        let (by_events, how) = match (&mut self.notify, &self.no_events) {
            (Some(notify), _) => match notify.watch(&root.dir, RecursiveMode::Recursive) {
                Ok(()) if is_network_share(&root.dir) => (
                    false,
                    Some(format!(
                        "a network share sends no file events for changes made elsewhere: \
                         rescanned every {} minutes",
                        RESCAN_EVERY.as_secs() / 60
                    )),
                ),
                Ok(()) => (true, None),
                Err(e) => {
                    let why = match e.kind {
                        notify::ErrorKind::MaxFilesWatch => "the system's limit of watched \
                            folders is reached (raise fs.inotify.max_user_watches)"
                            .to_string(),
                        _ => e.to_string(),
                    };
                    let _ = notify.unwatch(&root.dir);
                    (
                        false,
                        Some(format!(
                            "no file events ({why}): rescanned every {} minutes",
                            RESCAN_EVERY.as_secs() / 60
                        )),
                    )
                }
            },
            (None, why) => (false, why.clone()),
        };
        let id = root.id();
        self.store
            .set_watch_state(id, "scanning", how.as_deref(), false)?;
        self.live.insert(
            id,
            Live {
                root,
                by_events,
                how,
                last_scan: Instant::now(),
                rescan: true,
            },
        );
        Ok(())
    }

    fn unwatch(&mut self, id: i64) {
        if let Some(live) = self.live.remove(&id) {
            if let Some(notify) = &mut self.notify {
                let _ = notify.unwatch(&live.root.dir);
            }
            self.pending.drop_under(&live.root.dir);
        }
    }

    /// The folder a path is under.
    fn folder_of(&self, path: &Path) -> Option<i64> {
        self.live
            .values()
            .filter(|l| path.starts_with(&l.root.dir))
            .max_by_key(|l| l.root.dir.as_os_str().len())
            .map(|l| l.root.id())
    }

    /// A file event: the paths it names wait for their settle time; a
    /// rename within a folder is recorded at once.
    fn event(&mut self, event: notify::Result<notify::Event>) {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                tracing::warn!("watched folders: a file event was lost ({e}); rescanning");
                // A new folder's watch refused at the system's limit: no
                // more events for the folders that grew.
                let limit = matches!(e.kind, notify::ErrorKind::MaxFilesWatch);
                for live in self.live.values_mut() {
                    live.rescan = true;
                    if limit && live.by_events {
                        live.by_events = false;
                        live.how = Some(format!(
                            "no file events for some of its folders (the system's limit of \
                             watched folders is reached: raise fs.inotify.max_user_watches): \
                             rescanned every {} minutes",
                            RESCAN_EVERY.as_secs() / 60
                        ));
                    }
                }
                return;
            }
        };
        if event.need_rescan() {
            tracing::info!("watched folders: the file events overflowed; rescanning");
            self.live.values_mut().for_each(|l| l.rescan = true);
        }
        match event.kind {
            // Reads (the hashing's own among them) change nothing.
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {}
            EventKind::Access(_) | EventKind::Any | EventKind::Other => return,
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) if event.paths.len() == 2 => {
                if let Err(e) = self.renamed(&event.paths[0], &event.paths[1]) {
                    tracing::warn!("watched folders: {e}");
                }
            }
            _ => {}
        }
        let now = Instant::now();
        for path in event.paths {
            if self.folder_of(&path).is_some() && !self.own.holds(&path) {
                let looks = Looks::of(&path);
                self.pending.touch(path, looks, now);
            }
        }
    }

    fn renamed(&mut self, from: &Path, to: &Path) -> Result<(), StoreError> {
        let (Some(a), Some(b)) = (self.folder_of(from), self.folder_of(to)) else {
            return Ok(());
        };
        if a != b {
            return Ok(());
        }
        let root = &self.live[&a].root;
        let n = scan::renamed(&mut self.store, root, from, to, &self.rules)?;
        if n > 0 {
            tracing::info!(
                "watched folders: {} renamed to {}: {n} path(s) recorded, nothing uploaded again",
                from.display(),
                to.display()
            );
        }
        Ok(())
    }

    fn fresh(&self) -> scan::Fresh {
        scan::Fresh {
            now: SystemTime::now(),
            settle: self.config.settle,
        }
    }

    /// Takes what settled, folder by folder.
    fn take_settled(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut by_folder: HashMap<i64, Vec<(PathBuf, Looks)>> = HashMap::new();
        for (path, looks) in self.pending.due(Instant::now(), Looks::of) {
            if let Some(id) = self.folder_of(&path) {
                by_folder.entry(id).or_default().push((path, looks));
            }
        }
        for (id, paths) in by_folder {
            let root = self.live[&id].root.clone();
            let fresh = self.fresh();
            let taken = scan::settled(
                &mut self.store,
                &root,
                paths,
                &self.rules,
                &self.own,
                &fresh,
                &self.stop,
            )?;
            self.after(&root, taken);
        }
        Ok(())
    }

    /// Full rescans that are due: at the start, after an overflow, and every
    /// `RESCAN_EVERY` for a folder without file events.
    fn rescans(&mut self) -> Result<(), StoreError> {
        let due: Vec<i64> = self
            .live
            .values()
            .filter(|l| l.rescan || (!l.by_events && l.last_scan.elapsed() >= RESCAN_EVERY))
            .map(|l| l.root.id())
            .collect();
        for id in due {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let root = self.live[&id].root.clone();
            if root.unavailable().is_some() {
                continue; // The next sync says why and waits.
            }
            let started = Instant::now();
            let fresh = self.fresh();
            let taken = scan::rescan(
                &mut self.store,
                &root,
                &self.rules,
                &self.own,
                &fresh,
                &self.stop,
            )?;
            tracing::info!(
                "watched folders: {} rescanned in {:.1} s: {} unchanged, {} added, {} forgotten",
                root.dir.display(),
                started.elapsed().as_secs_f64(),
                taken.unchanged,
                taken.added,
                taken.forgotten
            );
            self.after(&root, taken);
            if let Some(live) = self.live.get_mut(&id) {
                live.rescan = false;
                live.last_scan = Instant::now();
                self.store
                    .set_watch_state(id, "watching", live.how.as_deref(), true)?;
            }
        }
        Ok(())
    }

    /// What a look took: logged, and what has not settled waits again.
    fn after(&mut self, root: &Root, taken: Taken) {
        for problem in &taken.problems {
            tracing::warn!("watched folders: {problem}");
        }
        if taken.added + taken.forgotten > 0 {
            tracing::info!(
                "watched folders: {}: {} file(s) added ({} upload(s) queued), {} deleted file(s) forgotten (their copies stay)",
                root.dir.display(),
                taken.added,
                taken.enqueued,
                taken.forgotten
            );
        }
        let now = Instant::now();
        for (path, looks) in taken.unsettled {
            self.pending.touch(path, looks, now);
        }
    }
}

/// Whether `dir` is on a network file system, where changes made by other
/// computers send no events.
#[cfg(target_os = "linux")]
fn is_network_share(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a statfs the call fills.
    if unsafe { libc::statfs(path.as_ptr(), &mut fs) } != 0 {
        return false;
    }
    // NFS, SMB, CIFS, SMB2, FUSE (sshfs, rclone mount...), 9P, Ceph, AFS.
    const NETWORK: [i64; 8] = [
        0x6969,
        0x517B,
        0xFF53_4D42,
        0xFE53_4D42,
        0x6573_5546,
        0x0102_1997,
        0x00C3_6400,
        0x5346_414F,
    ];
    NETWORK.contains(&(fs.f_type as i64))
}

#[cfg(not(target_os = "linux"))]
fn is_network_share(_dir: &Path) -> bool {
    false
}
