//! The window's view of the queue, kept by a background thread so that the UI
//! thread never waits on disk.
//!
//! The thread holds one compact key per op ([`OpKey`]), filters and sorts
//! them in memory (a million rows re-sort in tens of milliseconds: only the
//! rows shown are put in place at once, the rest when idle), and sends
//! the UI only what it draws: the rows of the visible window, the counts, the
//! providers' state and the speed. It also carries out the person's actions
//! (retry, cancel, priority, remove, providers) on its own connection.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use super::order::{Order, ordered_f64, ordered_i64};
use crate::bandwidth::Rates;
use crate::catalog::{ScanError, ScanReport, has_catalog, scan};
use crate::crypto::Passphrase;
use crate::library::exclude;
use crate::library::restore::{RestoreRequest, restore};
use crate::providers::Provider;
use crate::providers::register::{self, Encryption, NewProvider, Registered};
use crate::secrets::Secret;
use crate::store::{OpKey, OpRow, OpState, OpType, ProviderKind, ProviderRow, SortKey, Store};

/// The tabs over the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Tab {
    #[default]
    All,
    Queued,
    Active,
    Failed,
    Completed,
    Cancelled,
}

impl Tab {
    pub const ALL: [Tab; 6] = [
        Tab::All,
        Tab::Queued,
        Tab::Active,
        Tab::Failed,
        Tab::Completed,
        Tab::Cancelled,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Tab::All => "All",
            Tab::Queued => "Queued",
            Tab::Active => "Active",
            Tab::Failed => "Failed",
            Tab::Completed => "Completed",
            Tab::Cancelled => "Cancelled",
        }
    }

    fn contains(self, state: OpState) -> bool {
        match self {
            Tab::All => true,
            Tab::Queued => state == OpState::Queued,
            Tab::Active => state == OpState::InProgress,
            Tab::Failed => matches!(state, OpState::RetryPending | OpState::PermanentlyFailed),
            Tab::Completed => state == OpState::Completed,
            Tab::Cancelled => state == OpState::Cancelled,
        }
    }
}

/// What the grid shows: which rows, in which order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ViewSpec {
    pub tab: Tab,
    /// Only this provider's ops (by id).
    pub provider: Option<String>,
    /// Asset name contains it, or hash starts with it.
    pub text: String,
    pub sort: SortKey,
    pub descending: bool,
}

/// A provider as the window shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderStatus {
    pub row: ProviderRow,
    /// `Ok` once the provider answered (a local folder is there, a server
    /// accepts connections), `Err(reason)` when it cannot be reached or is
    /// misconfigured, `None` while a server is not looked at yet.
    pub online: Option<Result<(), String>>,
    /// When it has no room: "full (3.1 MB free, 6.0 MB waiting)", and what
    /// it said. Its uploads wait; its reads and deletes go on.
    pub full: Option<(String, String)>,
    /// A person paused it: none of its ops run.
    pub paused: bool,
    /// Its own bandwidth limits in force now (its rates, or its timetable's).
    pub limit: Rates,
}

impl ProviderStatus {
    /// Why this provider's ops of a kind wait, if they do ("usbdrive
    /// offline", "nas full").
    pub fn waiting_reason(&self, kind: OpType) -> Option<String> {
        if !self.row.enabled {
            Some(format!("{} disabled", self.row.name))
        } else if self.paused {
            Some(format!("{} paused", self.row.name))
        } else if let Some(Err(_)) = &self.online {
            Some(format!("{} offline", self.row.name))
        } else if self.full.is_some() && kind == OpType::Upload {
            Some(format!("{} full", self.row.name))
        } else {
            None
        }
    }
}

/// Everything the UI draws, as of one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// The spec these rows answer.
    pub spec: ViewSpec,
    /// Rows in the view.
    pub view_len: usize,
    /// `rows[0]` is the view's row number `window_start`.
    pub window_start: usize,
    pub rows: Vec<OpRow>,
    /// Ops per tab (within the provider filter). The status bar shows the
    /// same counts, so the two never disagree.
    pub tab_counts: [usize; 6],
    /// Of the Failed tab's ops, those that will be retried on their own.
    pub retry_pending: usize,
    /// Of the Queued tab's ops, those waiting for a provider that is
    /// offline or disabled.
    pub waiting: usize,
    /// Ops failed for good over the whole queue ("Retry all failed").
    pub permanently_failed: usize,
    /// Ops still to finish (queued, running, waiting to retry), all providers.
    pub unfinished: usize,
    /// The present run (or the last one), all providers: ops completed, and
    /// ops now failed for good that were not before it. A run starts when
    /// the queue stops being empty; one moving when the window opens is
    /// counted from the opening.
    pub run_completed: usize,
    pub run_failed: usize,
    /// How many ops this window has seen fail permanently, and the latest.
    pub failures_seen: usize,
    pub last_failure: Option<OpRow>,
    pub providers: Vec<ProviderStatus>,
    /// Bytes per second over the last seconds.
    pub speed: f64,
    /// Bytes still to move for queued and running ops of providers that
    /// can take them (enabled, not offline).
    pub remaining_bytes: i64,
    /// Still reading the queue for the first time.
    pub loading: bool,
    /// The last action's problem, for the status bar.
    pub error: Option<String>,
    /// The last action's result, for the status bar.
    pub notice: Option<String>,
    /// Per provider id, what its last scan found (or that it runs).
    pub scans: Vec<(String, String)>,
    /// A provider just added that lacks the library's assets: the offer to
    /// copy them to it.
    pub offer: Option<CopyOffer>,
    /// The library's bandwidth limits in force now (its own rates, or its
    /// timetable's), for the status bar.
    pub limit: Rates,
    /// The library is paused (by this window, another, or `breakdex pause`).
    pub paused: bool,
    /// Why a kept timetable cannot be read (its rates hold meanwhile).
    pub limit_problems: Vec<String>,
}

/// "Copy the existing 312 assets, 4.1 GB, to usbdrive?"
#[derive(Clone, Debug, PartialEq)]
pub struct CopyOffer {
    pub provider_id: String,
    pub provider: String,
    pub assets: usize,
    pub bytes: i64,
}

/// Something a person asked for.
#[derive(Clone, Debug)]
pub enum Action {
    RetryNow(Vec<String>),
    Cancel(Vec<String>),
    SetPriority(Vec<String>, i64),
    /// Raise (or lower, when negative) the priority of each op by this much.
    BumpPriority(Vec<String>, i64),
    Remove(Vec<String>),
    RetryAllFailed,
    /// Add a provider (checked, its secret stored, as `provider add` does);
    /// the outcome also goes to `reply`.
    AddProvider {
        spec: NewProvider,
        secret: Option<Secret>,
        /// It encrypts, its key locked with this passphrase on it.
        encrypt: Option<Passphrase>,
        reply: Reply,
    },
    /// Change a provider; without a secret, its stored one is kept.
    UpdateProvider {
        id: String,
        spec: NewProvider,
        secret: Option<Secret>,
        encryption: Encryption,
        reply: Reply,
    },
    /// Write the library's key, the recovery sheet, into this folder.
    SaveRecoverySheet(PathBuf),
    SetProviderEnabled(String, bool),
    RemoveProvider(String),
    TestProvider(String),
    /// Upload every asset the provider lacks whose bytes are here (the
    /// answer to a [`CopyOffer`]).
    CopyLibrary(String),
    /// Not now: the offer goes.
    DeclineCopy,
    /// How long ops are kept and what each provider did per day.
    ReadHistory(Sender<Result<super::history::HistoryFacts, String>>),
    /// Change how long completed ops are kept (`None`: for ever).
    SetHistoryKeep {
        keep: Option<Duration>,
        reply: Reply,
    },
    /// The watched folders, for their window.
    ReadWatched(Sender<Result<crate::watch::Listing, String>>),
    /// Watch a folder; `seen`: what a drop of it just hashed, so that the
    /// watcher does not hash it again.
    WatchFolder {
        dir: PathBuf,
        seen: Vec<crate::library::ImportedFile>,
        reply: Reply,
    },
    SetWatchPaused {
        id: i64,
        paused: bool,
        reply: Reply,
    },
    StopWatching {
        id: i64,
        reply: Reply,
    },
    /// The library's exclude patterns, for the editor.
    ReadExcludes(Sender<Result<Vec<String>, String>>),
    /// Save the library's exclude patterns (`None`: the defaults again).
    SaveExcludes {
        patterns: Option<Vec<String>>,
        reply: Reply,
    },
    /// Pause the library (every engine of it), or let it go on.
    SetPaused(bool),
    /// Pause these ops (by id), or let them go on.
    PauseOps(Vec<String>, bool),
    /// Pause a provider (by id), or let it go on.
    SetProviderPaused(String, bool),
    /// Change the library's bandwidth limits (`None`: leave it; 0: none).
    SetLimit {
        up: Option<u64>,
        down: Option<u64>,
    },
    /// The status line's problem was seen (its form was closed): it goes.
    DismissError,
    /// Read a provider's catalog into the library (on a thread of its own;
    /// the result shows in the providers window and the status bar).
    ScanProvider(String),
    /// Queue the downloads that put these assets back into a folder, each
    /// at every path it was added under.
    Restore {
        what: Restoring,
        into: PathBuf,
    },
}

/// Which assets a restore puts back.
#[derive(Clone, Debug, PartialEq)]
pub enum Restoring {
    /// Every asset the library knows.
    All,
    /// The assets of these ops (by id).
    Ops(Vec<String>),
    /// These assets (by content hash).
    Assets(Vec<String>),
}

/// Where the model answers an action whose asker waits for the outcome (the
/// providers form): the status line, or the error in plain words.
pub type Reply = Sender<Result<String, String>>;

/// The model thread's answer on `rx`, once it came (a thread gone answers
/// that it stopped).
pub fn answer_on<T>(rx: &Receiver<Result<T, String>>) -> Option<Result<T, String>> {
    match rx.try_recv() {
        Ok(answer) => Some(answer),
        Err(mpsc::TryRecvError::Empty) => None,
        Err(mpsc::TryRecvError::Disconnected) => Some(Err("the library stopped answering".into())),
    }
}

/// A request from the UI.
#[derive(Debug)]
pub enum Request {
    View(ViewSpec),
    /// The rows the grid is about to draw.
    Window {
        start: usize,
        len: usize,
    },
    Act(Action),
}

/// The UI's end of a model thread: requests go to it, snapshots come back.
pub struct Handle<R, S> {
    tx: Sender<R>,
    rx: Receiver<S>,
    /// The newest snapshot received.
    pub snapshot: S,
}

/// The UI's end of the queue's model thread.
pub type ModelHandle = Handle<Request, Snapshot>;

impl<R, S> Handle<R, S> {
    pub fn new(tx: Sender<R>, rx: Receiver<S>, snapshot: S) -> Handle<R, S> {
        Handle { tx, rx, snapshot }
    }

    pub fn send(&self, request: R) {
        let _ = self.tx.send(request);
    }

    /// Takes the newest snapshot, if one arrived; true if it did.
    pub fn poll(&mut self) -> bool {
        let mut got = false;
        while let Ok(s) = self.rx.try_recv() {
            self.snapshot = s;
            got = true;
        }
        got
    }

    /// Waits (for tests) until a snapshot satisfies `done`, or `timeout` passes.
    pub fn wait_for(&mut self, timeout: Duration, done: impl Fn(&S) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while !done(&self.snapshot) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.rx.recv_timeout(left) {
                Ok(s) => self.snapshot = s,
                Err(_) => return done(&self.snapshot),
            }
        }
        true
    }
}

/// Starts the model thread on the library at `db`; `wake` is called whenever
/// a new snapshot is ready (the window asks for a repaint).
pub fn start(
    db: PathBuf,
    wake: impl Fn() + Send + 'static,
) -> Result<ModelHandle, crate::store::StoreError> {
    let store = Store::open(&db)?;
    // The model reads the whole queue and a few rows at a time: a big page
    // cache would only hold memory.
    store.set_cache_kib(8 * 1024)?;
    let (req_tx, req_rx) = mpsc::channel();
    let (snap_tx, snap_rx) = mpsc::channel();
    let mut model = Model::new(store, db);
    std::thread::Builder::new()
        .name("breakdex-model".into())
        .spawn(move || model.run(req_rx, snap_tx, wake))
        .map_err(|e| crate::store::StoreError::Invalid(format!("cannot start: {e}")))?;
    Ok(Handle::new(
        req_tx,
        snap_rx,
        Snapshot {
            loading: true,
            ..Snapshot::default()
        },
    ))
}

struct Model {
    store: Store,
    /// The library database (its secrets file is beside it).
    db: PathBuf,
    keys: Vec<OpKey>,
    /// Each key's position in queue order (priority desc, then rowid).
    queue_rank: Vec<u32>,
    /// The view's rows: `(sort value, queue rank, index)` per row.
    order: Order,
    /// Counts over `keys`, and what they were made for.
    totals: Option<(TotalsFor, Totals)>,
    spec: ViewSpec,
    text_match: Option<HashSet<i64>>,
    window: (usize, usize),
    version: Option<i64>,
    loaded_at: Option<Instant>,
    load_cost: Duration,
    providers: Vec<ProviderStatus>,
    providers_at: Option<Instant>,
    /// The library's bandwidth limits in force, and its pause, read with
    /// the providers.
    limit: Rates,
    paused: bool,
    limit_problems: Vec<String>,
    /// (when, bytes done) samples for the speed.
    done_bytes: Vec<(Instant, i64)>,
    /// When the model started (ms since the epoch).
    opened_ms: i64,
    /// Where the present run started: ops completed after this time (ms
    /// since the epoch) and ops failed for good not in this set are the run's.
    run_mark: Option<RunMark>,
    /// The mark the next run starts from, taken at the last read that found
    /// the queue empty.
    idle_mark: Option<RunMark>,
    /// The permanently failed ops at the last read (`None` before the first).
    failed: Option<HashSet<i64>>,
    failures_seen: usize,
    last_failure: Option<OpRow>,
    error: Option<String>,
    notice: Option<String>,
    loading: bool,
    /// What each provider's last scan found, and the scans' answers.
    scans: Vec<(String, String)>,
    scans_done: (Sender<ScanAnswer>, Receiver<ScanAnswer>),
    reach: Reach,
    offer: Option<CopyOffer>,
}

/// A scan's answer: the provider's id, and what it found in one line.
type ScanAnswer = (String, String);

/// How often a server is asked whether it answers.
const REACH_EVERY: Duration = Duration::from_secs(10);

/// Whether each remote provider's server answers, asked on a thread of its
/// own (a connection can take seconds): what "online" means in the window.
struct Reach {
    rows: Sender<Vec<ProviderRow>>,
    answers: Receiver<(ProviderRow, Result<(), String>)>,
    /// The last answer per provider, for the settings it was asked with.
    known: HashMap<String, (ProviderRow, Result<(), String>)>,
}

impl Reach {
    fn start() -> Reach {
        let (rows, rows_rx) = mpsc::channel::<Vec<ProviderRow>>();
        let (answer, answers) = mpsc::channel();
        let _ = std::thread::Builder::new()
            .name("breakdex-reach".into())
            .spawn(move || {
                let mut latest: Vec<ProviderRow> = Vec::new();
                let mut asked: HashMap<String, (ProviderRow, Instant)> = HashMap::new();
                loop {
                    match rows_rx.recv_timeout(REACH_EVERY) {
                        Ok(rows) => latest = rows_rx.try_iter().last().unwrap_or(rows),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                    for row in latest.iter().filter(|r| r.kind != ProviderKind::Local) {
                        let due = asked
                            .get(&row.id)
                            .is_none_or(|(was, at)| was != row || at.elapsed() >= REACH_EVERY);
                        if !due {
                            continue;
                        }
                        asked.insert(row.id.clone(), (row.clone(), Instant::now()));
                        let said = crate::providers::reachable(row).map_err(|f| f.message);
                        if answer.send((row.clone(), said)).is_err() {
                            return;
                        }
                    }
                }
            });
        Reach {
            rows,
            answers,
            known: HashMap::new(),
        }
    }

    fn take_answers(&mut self) {
        for (row, said) in self.answers.try_iter() {
            self.known.insert(row.id.clone(), (row, said));
        }
    }

    /// What the last look at this provider found, if it was made with its
    /// present settings.
    fn of(&self, row: &ProviderRow) -> Option<Result<(), String>> {
        (self.known.get(&row.id))
            .filter(|(asked, _)| asked == row)
            .map(|(_, said)| said.clone())
    }

    /// Asks for these providers to be looked at (when due).
    fn look_at(&self, rows: Vec<ProviderRow>) {
        let _ = self.rows.send(rows);
    }
}

/// Where a run starts: the newest completion before it, and the ops that
/// had already failed for good.
#[derive(Clone, Debug)]
struct RunMark {
    completed_ms: i64,
    failed: HashSet<i64>,
}

/// Counts over the queue, for the tabs and the status bar (see [`Snapshot`]).
#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    tab_counts: [usize; 6],
    retry_pending: usize,
    waiting: usize,
    permanently_failed: usize,
    unfinished: usize,
    run_completed: usize,
    run_failed: usize,
    remaining_bytes: i64,
}

/// What the counts were made for: the provider filter, and the providers
/// that cannot take work (by rank), and whether only their uploads wait.
type TotalsFor = (Option<u32>, Vec<(u32, bool)>);

/// How often the visible rows are re-read while something runs.
const TICK: Duration = Duration::from_millis(250);

impl Model {
    fn new(store: Store, db: PathBuf) -> Model {
        Model {
            store,
            db,
            keys: Vec::new(),
            queue_rank: Vec::new(),
            order: Order::default(),
            totals: None,
            spec: ViewSpec::default(),
            text_match: None,
            window: (0, 60),
            version: None,
            loaded_at: None,
            load_cost: Duration::ZERO,
            providers: Vec::new(),
            providers_at: None,
            limit: Rates::default(),
            paused: false,
            limit_problems: Vec::new(),
            done_bytes: Vec::new(),
            opened_ms: super::format::now_ms(),
            run_mark: None,
            idle_mark: None,
            failed: None,
            failures_seen: 0,
            last_failure: None,
            error: None,
            notice: None,
            loading: true,
            scans: Vec::new(),
            scans_done: mpsc::channel(),
            reach: Reach::start(),
            offer: None,
        }
    }

    fn run(&mut self, rx: Receiver<Request>, tx: Sender<Snapshot>, wake: impl Fn()) {
        // A first page at once, from the status index, before the full read.
        let _ = self.reload_providers();
        let first = self
            .store
            .queue_head(100)
            .and_then(|rowids| self.store.ops_by_rowid(&rowids))
            .unwrap_or_default();
        let _ = tx.send(Snapshot {
            view_len: first.len(),
            rows: first,
            loading: true,
            providers: self.providers.clone(),
            ..Snapshot::default()
        });
        wake();
        let mut last_sent: Option<Snapshot> = None;
        loop {
            let mut view_changed = false;
            let mut acted = false;
            let window = self.window;
            let sorting = self.order.sorting();
            match rx.recv_timeout(TICK) {
                Ok(req) => self.take(req, &mut view_changed, &mut acted),
                // Idle: finish a sort that put only the rows shown in order.
                Err(RecvTimeoutError::Timeout) => self.order.finish(),
                Err(RecvTimeoutError::Disconnected) => return,
            }
            while let Ok(req) = rx.try_recv() {
                self.take(req, &mut view_changed, &mut acted);
            }
            // A scan that ended brings assets and copies in: news too.
            while let Ok((id, line)) = self.scans_done.1.try_recv() {
                self.notice = Some(line.clone());
                self.set_scan(id, line);
                acted = true;
            }
            let read_news = match self.refresh(view_changed, acted) {
                Ok(news) => news,
                Err(e) => {
                    self.error = Some(e.to_string());
                    true
                }
            };
            // An idle queue costs nothing: the rows are read again only
            // when something they show may have changed (the queue, the
            // view, the rows asked for, the providers, or a speed falling).
            let moving = self.speed() > 0.0 || last_sent.as_ref().is_some_and(|s| s.speed > 0.0);
            let news = acted
                || read_news
                || self.window != window
                || sorting != self.order.sorting()
                || moving
                || last_sent.is_none();
            if !news {
                continue;
            }
            // Only news wakes the window, and every action done (a form
            // may wait for its reply even when nothing else changed).
            let snapshot = self.snapshot();
            if acted || last_sent.as_ref() != Some(&snapshot) {
                if tx.send(snapshot.clone()).is_err() {
                    return;
                }
                last_sent = Some(snapshot);
                wake();
            }
        }
    }

    fn take(&mut self, req: Request, view_changed: &mut bool, acted: &mut bool) {
        match req {
            Request::View(spec) => {
                if spec != self.spec {
                    if spec.text != self.spec.text {
                        self.text_match = None;
                    }
                    self.spec = spec;
                    *view_changed = true;
                }
            }
            Request::Window { start, len } => self.window = (start, len),
            Request::Act(action) => {
                *acted = true;
                match self.act(action) {
                    Ok(notice) => {
                        self.notice = notice;
                        self.error = None;
                    }
                    Err(e) => self.error = Some(e),
                }
            }
        }
    }

    /// Re-reads what changed and rebuilds the view; says whether anything
    /// the window shows may have changed.
    fn refresh(&mut self, view_changed: bool, acted: bool) -> crate::store::Result<bool> {
        let version = self.store.data_version()?;
        let changed = acted || self.version != Some(version);
        // A big queue is re-read less often, so the reads never hog a core.
        let due = self.loaded_at.is_none_or(|t| {
            t.elapsed() >= (self.load_cost * 4).clamp(TICK, Duration::from_secs(5))
        });
        let mut rebuilt = false;
        if (changed && due) || self.loaded_at.is_none() || acted {
            let started = Instant::now();
            // Rebuilt in place: the UI holds only its snapshot meanwhile.
            self.order.clear();
            self.totals = None;
            if let Err(e) = self.store.scan_keys(&mut self.keys) {
                // Read again at the next turn.
                self.keys.clear();
                self.queue_rank.clear();
                self.loaded_at = None;
                return Err(e);
            }
            self.rank_queue();
            self.version = Some(version);
            self.loaded_at = Some(Instant::now());
            self.load_cost = started.elapsed();
            self.loading = false;
            self.text_match = None;
            self.sample_speed();
            self.note_failures()?;
            self.mark_run();
            rebuilt = true;
        }
        if rebuilt || view_changed {
            self.rebuild_order()?;
        }
        if rebuilt {
            give_back_memory();
        }
        let mut providers_changed = false;
        if self
            .providers_at
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(2))
            || acted
        {
            let before = (self.providers.clone(), self.limit, self.paused);
            let problems = self.limit_problems.clone();
            self.reload_providers()?;
            providers_changed = before != (self.providers.clone(), self.limit, self.paused)
                || problems != self.limit_problems;
        }
        Ok(rebuilt || view_changed || providers_changed)
    }

    fn reload_providers(&mut self) -> crate::store::Result<()> {
        let rows = self.store.providers()?;
        let full = self.store.full_providers()?;
        let paused = self.store.paused_providers()?;
        let limits = self.store.limits()?;
        let now = crate::bandwidth::schedule::minute_of_week_now();
        let reach = &mut self.reach;
        reach.take_answers();
        let mut providers = Vec::with_capacity(rows.len());
        for row in &rows {
            let opened = Provider::open(row);
            // Its free space is looked at only when it is full.
            let free = || opened.as_ref().ok().and_then(|p| p.free_bytes());
            let full = match full.get(&row.id) {
                Some(f) => {
                    let words = self.store.waiting_uploads(&row.id)?.words(free());
                    Some((words, f.reason.clone()))
                }
                None => None,
            };
            let online = match opened.and_then(|p| p.check_online()) {
                Err(f) => Some(Err(f.message)),
                // A folder that is there has answered.
                Ok(()) if row.kind == ProviderKind::Local => Some(Ok(())),
                Ok(()) => reach.of(row),
            };
            providers.push(ProviderStatus {
                row: row.clone(),
                online,
                full,
                paused: paused.contains(&row.id),
                limit: (limits.providers.get(&row.id)).map_or(Rates::default(), |l| l.at(now)),
            });
        }
        self.providers = providers;
        reach.look_at(rows);
        self.paused = self.store.paused()?;
        self.limit = limits.library.at(now);
        self.limit_problems = limits.problems;
        self.providers_at = Some(Instant::now());
        Ok(())
    }

    fn rebuild_order(&mut self) -> crate::store::Result<()> {
        if !self.spec.text.is_empty() && self.text_match.is_none() {
            self.text_match = Some(self.store.rowids_matching(&self.spec.text)?);
        }
        let provider_rank = self.provider_rank();
        let keys = &self.keys;
        let spec = &self.spec;
        let text = self.text_match.as_ref();
        // One sequential pass makes a self-contained sort key per row:
        // (primary column, queue rank, index); sorting plain integers keeps
        // the sort in cache.
        let sort = spec.sort;
        let flip = if spec.descending { u64::MAX } else { 0 };
        let mut sorted: Vec<u128> = Vec::with_capacity(keys.len());
        for (i, (k, &rank)) in keys.iter().zip(&self.queue_rank).enumerate() {
            if spec.tab.contains(k.state)
                && provider_rank.is_none_or(|r| k.provider_rank == r)
                && text.is_none_or(|t| t.contains(&k.rowid))
            {
                let primary = sort_value(sort, k, rank) ^ flip;
                sorted.push(u128::from(primary) << 64 | u128::from(rank) << 32 | i as u128);
            }
        }
        self.order.set(sorted, self.window);
        Ok(())
    }

    /// Counts over all keys (tabs within the provider filter).
    fn totals(&mut self) -> Totals {
        let made_for = (self.provider_rank(), self.unavailable_ranks());
        if let Some((was_for, totals)) = &self.totals
            && *was_for == made_for
        {
            return *totals;
        }
        let (filter, unavailable) = &made_for;
        let mark = self.run_mark.as_ref();
        let mut t = Totals::default();
        for k in &self.keys {
            let available = !(unavailable.iter()).any(|(rank, uploads_only)| {
                *rank == k.provider_rank && (!uploads_only || k.operation_type == OpType::Upload)
            });
            match k.state {
                OpState::RetryPending => t.unfinished += 1,
                OpState::PermanentlyFailed => {
                    t.permanently_failed += 1;
                    if mark.is_some_and(|m| !m.failed.contains(&k.rowid)) {
                        t.run_failed += 1;
                    }
                }
                OpState::Queued | OpState::InProgress => {
                    t.unfinished += 1;
                    if available {
                        t.remaining_bytes += (k.total_bytes - k.bytes_transferred).max(0)
                    }
                }
                OpState::Completed => {
                    if mark.is_some_and(|m| k.completed_ms > m.completed_ms) {
                        t.run_completed += 1;
                    }
                }
                OpState::Cancelled => {}
            }
            if filter.is_some_and(|r| k.provider_rank != r) {
                continue;
            }
            for (i, tab) in Tab::ALL.iter().enumerate() {
                if tab.contains(k.state) {
                    t.tab_counts[i] += 1;
                }
            }
            match k.state {
                OpState::RetryPending => t.retry_pending += 1,
                OpState::Queued if !available => t.waiting += 1,
                _ => {}
            }
        }
        self.totals = Some((made_for, t));
        t
    }

    /// Moves the run's mark: a read that finds the queue empty makes the
    /// mark the next run starts from; the first read that finds it moving
    /// again starts that run. The very first read starts one from the
    /// window's opening if the queue moves.
    fn mark_run(&mut self) {
        let unfinished = self.keys.iter().any(|k| {
            matches!(
                k.state,
                OpState::Queued | OpState::InProgress | OpState::RetryPending
            )
        });
        let failed = self.failed.clone().unwrap_or_default();
        if unfinished {
            if let Some(mark) = self.idle_mark.take() {
                self.run_mark = Some(mark);
            }
            let mark = self.run_mark.get_or_insert_with(|| RunMark {
                completed_ms: self.opened_ms,
                failed: failed.clone(),
            });
            // An op retried since the mark counts again if it fails again.
            mark.failed.retain(|rowid| failed.contains(rowid));
        } else {
            let newest = (self.keys.iter())
                .filter(|k| k.state == OpState::Completed)
                .map(|k| k.completed_ms)
                .max()
                .unwrap_or(i64::MIN);
            self.idle_mark = Some(RunMark {
                completed_ms: newest,
                failed,
            });
            self.run_mark.get_or_insert_with(|| RunMark {
                completed_ms: i64::MAX,
                failed: HashSet::new(),
            });
        }
    }

    /// The ranks of the providers that cannot take work now: disabled, or
    /// found offline.
    fn unavailable_ranks(&self) -> Vec<(u32, bool)> {
        (self.providers.iter())
            .filter(|p| p.waiting_reason(OpType::Upload).is_some())
            .map(|p| {
                let uploads_only = p.waiting_reason(OpType::Download).is_none();
                (self.rank_of(&p.row.id), uploads_only)
            })
            .collect()
    }

    /// Ranks every key in queue order: highest priority first, then oldest
    /// (keys come in rowid order, so their index breaks ties).
    fn rank_queue(&mut self) {
        let mut by_queue: Vec<u128> = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| u128::from(!ordered_i64(k.priority)) << 64 | i as u128)
            .collect();
        by_queue.sort_unstable();
        self.queue_rank.clear();
        self.queue_rank.resize(self.keys.len(), 0);
        for (rank, v) in by_queue.iter().enumerate() {
            self.queue_rank[*v as u32 as usize] = rank as u32;
        }
    }

    /// The rank of the filtered provider, as the keys count it.
    fn provider_rank(&self) -> Option<u32> {
        Some(self.rank_of(self.spec.provider.as_ref()?))
    }

    /// A provider's rank, as the keys count it (by name, from 1).
    fn rank_of(&self, id: &str) -> u32 {
        let mut names: Vec<(&str, &str)> = self
            .providers
            .iter()
            .map(|p| (p.row.name.as_str(), p.row.id.as_str()))
            .collect();
        names.sort();
        names
            .iter()
            .position(|(_, pid)| *pid == id)
            .map(|i| i as u32 + 1)
            .unwrap_or(u32::MAX)
    }

    /// Counts the ops that failed permanently since the last read, and
    /// reads the newest of them (for the window's notice).
    fn note_failures(&mut self) -> crate::store::Result<()> {
        let now: HashSet<i64> = self
            .keys
            .iter()
            .filter(|k| k.state == OpState::PermanentlyFailed)
            .map(|k| k.rowid)
            .collect();
        if let Some(before) = &self.failed {
            let new = now.difference(before).max().copied();
            let count = now.difference(before).count();
            if let Some(rowid) = new {
                self.failures_seen += count;
                self.last_failure = self.store.ops_by_rowid(&[rowid])?.pop();
            }
        }
        self.failed = Some(now);
        Ok(())
    }

    fn sample_speed(&mut self) {
        let done: i64 = self
            .keys
            .iter()
            .map(|k| match k.state {
                OpState::Completed => k.total_bytes,
                OpState::InProgress => k.bytes_transferred,
                _ => 0,
            })
            .sum();
        let now = Instant::now();
        self.done_bytes.push((now, done));
        self.done_bytes
            .retain(|(t, _)| now.duration_since(*t) <= Duration::from_secs(10));
    }

    /// Bytes per second over the samples of the last ten seconds, measured
    /// up to now: when the queue stops moving (no new samples), the speed
    /// falls, and is zero once nothing moved for ten seconds.
    fn speed(&self) -> f64 {
        let now = Instant::now();
        match (self.done_bytes.first(), self.done_bytes.last()) {
            (Some((t0, b0)), Some((t1, b1)))
                if t1 > t0 && now.duration_since(*t1) < Duration::from_secs(10) =>
            {
                ((b1 - b0).max(0) as f64) / now.duration_since(*t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    fn snapshot(&mut self) -> Snapshot {
        let Totals {
            tab_counts,
            retry_pending,
            waiting,
            permanently_failed,
            unfinished,
            run_completed,
            run_failed,
            remaining_bytes: remaining,
        } = self.totals();
        let (start, len) = self.window;
        let view_len = self.order.len();
        let start = start.min(view_len);
        let end = start.saturating_add(len).min(view_len);
        let rowids: Vec<i64> = (self.order.rows(start, end).iter())
            .map(|&i| self.keys[i as usize].rowid)
            .collect();
        let rows = match self.store.ops_by_rowid(&rowids) {
            Ok(rows) => rows,
            Err(e) => {
                self.error = Some(e.to_string());
                Vec::new()
            }
        };
        Snapshot {
            spec: self.spec.clone(),
            view_len,
            window_start: start,
            rows,
            tab_counts,
            retry_pending,
            waiting,
            permanently_failed,
            unfinished,
            run_completed,
            run_failed,
            failures_seen: self.failures_seen,
            last_failure: self.last_failure.clone(),
            providers: self.providers.clone(),
            limit: self.limit,
            paused: self.paused,
            limit_problems: self.limit_problems.clone(),
            speed: self.speed(),
            remaining_bytes: remaining,
            loading: self.loading,
            error: self.error.clone(),
            notice: self.notice.clone(),
            scans: self.scans.clone(),
            offer: self.offer.clone(),
        }
    }

    /// Scans a provider on a thread of its own, with its own connection;
    /// its answer comes back through `scans_done`.
    /// A new provider (`only_if_catalogued`) is scanned only if it holds a
    /// catalog already.
    fn start_scan(&mut self, row: ProviderRow, only_if_catalogued: bool) {
        if !only_if_catalogued {
            self.set_scan(row.id.clone(), format!("scanning '{}'…", row.name));
        }
        let (db, done) = (self.db.clone(), self.scans_done.0.clone());
        let spawned = std::thread::Builder::new()
            .name("breakdex-scan".into())
            .spawn(move || {
                if only_if_catalogued
                    && !Provider::open(&row).is_ok_and(|p| has_catalog(&p).unwrap_or(false))
                {
                    return;
                }
                let line = match Store::open(&db)
                    .map_err(ScanError::Store)
                    .and_then(|mut store| scan(&mut store, &row))
                {
                    Ok(r) => scan_line(&r),
                    Err(e) => format!(
                        "cannot scan provider '{}': {e}; nothing was changed",
                        row.name
                    ),
                };
                let _ = done.send((row.id, line));
            });
        if let Err(e) = spawned {
            self.error = Some(format!("cannot start the scan: {e}"));
        }
    }

    fn set_scan(&mut self, id: String, line: String) {
        match self.scans.iter_mut().find(|(i, _)| *i == id) {
            Some(slot) => slot.1 = line,
            None => self.scans.push((id, line)),
        }
    }

    /// Carries out an action; returns a line for the status bar.
    fn act(&mut self, action: Action) -> Result<Option<String>, String> {
        let s = &mut self.store;
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let result = match action {
            Action::RetryNow(ids) => s
                .retry_now(&ids)
                .map(|n| Some(format!("{} queued again", plural(n, "op")))),
            Action::PauseOps(ids, paused) => s.set_ops_paused(&ids, paused).map(|n| {
                let done = if paused { "paused" } else { "resumed" };
                Some(format!("{} {done}", plural(n, "op")))
            }),
            Action::Cancel(ids) => s
                .cancel(&ids)
                .map(|n| Some(format!("{} cancelled", plural(n, "op")))),
            Action::SetPriority(ids, p) => s
                .set_priority(&ids, p)
                .map(|n| Some(format!("priority {p} for {}", plural(n, "op")))),
            Action::BumpPriority(ids, delta) => s
                .bump_priority(&ids, delta)
                .map(|n| Some(format!("priority changed for {}", plural(n, "op")))),
            Action::Remove(ids) => s
                .remove(&ids)
                .map(|n| Some(format!("{} removed", plural(n, "op")))),
            Action::RetryAllFailed => s
                .retry_all_failed()
                .map(|n| Some(format!("{} queued again", plural(n, "failed op")))),
            Action::AddProvider {
                spec,
                secret,
                encrypt,
                reply,
            } => {
                let done = register::register(s, &self.db, spec, secret, encrypt.as_ref());
                if let Ok(added) = &done {
                    let row = added.row.clone();
                    let plan = crate::library::copy_plan(s, &row.id).map_err(|e| e.to_string())?;
                    self.offer = (!plan.assets.is_empty()).then(|| CopyOffer {
                        provider_id: row.id.clone(),
                        provider: row.name.clone(),
                        assets: plan.assets.len(),
                        bytes: plan.bytes,
                    });
                    self.start_scan(row, true);
                }
                return answer(reply, done, "added");
            }
            Action::UpdateProvider {
                id,
                spec,
                secret,
                encryption,
                reply,
            } => {
                let done = register::update(s, &self.db, &id, spec, secret, encryption);
                return answer(reply, done, "saved");
            }
            Action::SaveRecoverySheet(folder) => return save_recovery_sheet(s, &folder).map(Some),
            Action::SetProviderEnabled(id, enabled) => {
                s.set_provider_enabled(&id, enabled).map(|()| None)
            }
            Action::RemoveProvider(id) => crate::providers::register::remove(s, &id)
                .map(|n| Some(format!("provider removed, with {}", plural(n, "op")))),
            Action::CopyLibrary(id) => {
                self.offer = None;
                let row = s.provider(&id).map_err(|e| e.to_string())?;
                let plan = crate::library::copy_plan(s, &id).map_err(|e| e.to_string())?;
                s.enqueue(&crate::library::uploads(&plan.assets, &row, 0))
                    .map(|created| {
                        Some(format!(
                            "{} to '{}' queued ({})",
                            plural(created.len(), "upload"),
                            row.name,
                            super::format::bytes(plan.bytes)
                        ))
                    })
            }
            Action::DeclineCopy => {
                self.offer = None;
                Ok(None)
            }
            Action::DismissError => Ok(None),
            Action::SetPaused(paused) => s.set_paused(paused).map(|()| {
                Some(if paused {
                    "paused: every engine of this library stops its transfers".to_string()
                } else {
                    "resumed".to_string()
                })
            }),
            Action::SetProviderPaused(id, paused) => s.set_provider_paused(&id, paused).map(|()| {
                Some(
                    if paused {
                        "provider paused"
                    } else {
                        "provider resumed"
                    }
                    .to_string(),
                )
            }),
            Action::SetLimit { up, down } => {
                let change = crate::store::LimitChange {
                    up,
                    down,
                    schedule: None,
                };
                s.set_limit(None, &change)
                    .and_then(|()| s.limits())
                    .map(|l| {
                        let words = crate::units::format_rate;
                        let by_timetable = if l.library.schedule.is_some() {
                            " (a timetable decides while it is set)"
                        } else {
                            ""
                        };
                        Some(format!(
                            "limits: up {}, down {}{by_timetable}",
                            words(l.library.rates.up),
                            words(l.library.rates.down),
                        ))
                    })
            }
            Action::ReadHistory(reply) => {
                let facts = super::history::HistoryFacts::read(s).map_err(|e| e.to_string());
                let _ = reply.send(facts);
                return Ok(None);
            }
            Action::SetHistoryKeep { keep, reply } => {
                let outcome = s
                    .set_history_keep(keep)
                    .map(|()| crate::store::keep_words(keep))
                    .map_err(|e| e.to_string());
                let _ = reply.send(outcome.clone());
                return outcome.map(Some);
            }
            Action::ReadWatched(reply) => {
                let _ = reply.send(crate::watch::Listing::read(s).map_err(|e| e.to_string()));
                return Ok(None);
            }
            Action::WatchFolder { dir, seen, reply } => {
                let outcome = crate::watch::add_dropped(s, &dir, &seen)
                    .map(|folder| format!("watching {}", folder.path))
                    .map_err(|e| e.to_string());
                let _ = reply.send(outcome.clone());
                return outcome.map(Some);
            }
            Action::SetWatchPaused { id, paused, reply } => {
                let outcome = s
                    .set_watch_paused(id, paused)
                    .map(|()| {
                        if paused {
                            "the watched folder is paused"
                        } else {
                            "the watched folder is watched again"
                        }
                        .to_string()
                    })
                    .map_err(|e| e.to_string());
                let _ = reply.send(outcome.clone());
                return outcome.map(Some);
            }
            Action::StopWatching { id, reply } => {
                let outcome = s
                    .remove_watched(id)
                    .map(|_| "stopped watching; what was added from it stays".to_string())
                    .map_err(|e| e.to_string());
                let _ = reply.send(outcome.clone());
                return outcome.map(Some);
            }
            Action::ReadExcludes(reply) => {
                let _ = reply.send(exclude::patterns(s).map_err(|e| e.to_string()));
                return Ok(None);
            }
            Action::SaveExcludes { patterns, reply } => {
                let saved = match &patterns {
                    Some(list) => exclude::save(s, list),
                    None => s.set_exclude_patterns(None),
                };
                let outcome = saved
                    .map(|()| match patterns {
                        Some(_) => "exclude rules saved".to_string(),
                        None => "the default exclude rules are back".to_string(),
                    })
                    .map_err(|e| e.to_string());
                let _ = reply.send(outcome.clone());
                return outcome.map(Some);
            }
            Action::ScanProvider(id) => {
                let row = s.provider(&id).map_err(|e| e.to_string())?;
                self.start_scan(row, false);
                return Ok(None);
            }
            Action::Restore { what, into } => {
                let mut hashes = Vec::new();
                let ops = match &what {
                    Restoring::Ops(ids) => ids.as_slice(),
                    Restoring::All => &[],
                    Restoring::Assets(assets) => {
                        hashes.clone_from(assets);
                        &[]
                    }
                };
                for id in ops {
                    if let Some(op) = s.op(id).map_err(|e| e.to_string())?
                        && !hashes.contains(&op.content_hash)
                    {
                        hashes.push(op.content_hash);
                    }
                }
                if what != Restoring::All && hashes.is_empty() {
                    return Err(
                        "nothing restored: the operations are no longer in the queue".into(),
                    );
                }
                let req = RestoreRequest {
                    into,
                    hashes,
                    ..RestoreRequest::default()
                };
                let plan = restore(s, &req).map_err(|e| format!("{e:#}"))?;
                let mut line = format!(
                    "restoring {} into {} ({} queued)",
                    plural(plan.files, "file"),
                    plan.into,
                    plural(plan.queued, "download")
                );
                if !plan.skipped.is_empty() {
                    line += &format!("; skipped {}", plan.skipped.join("; "));
                }
                Ok(Some(line))
            }
            Action::TestProvider(id) => {
                let row = s.provider(&id).map_err(|e| e.to_string())?;
                return crate::providers::test_round_trip(&row)
                    .map(|took| {
                        Some(format!(
                            "provider '{}' works: wrote, read back and deleted a probe in {} ms",
                            row.name,
                            took.as_millis()
                        ))
                    })
                    .map_err(|f| f.message);
            }
        };
        result.map_err(|e| e.to_string())
    }
}

/// What a scan found, in one line.
fn scan_line(r: &ScanReport) -> String {
    let mut line = format!(
        "provider '{}' holds {} described asset{} ({} new, {} known, {} path{})",
        r.provider,
        r.assets,
        if r.assets == 1 { "" } else { "s" },
        r.new,
        r.known,
        r.paths,
        if r.paths == 1 { "" } else { "s" },
    );
    if r.objects_without_entry > 0 {
        line += &format!(
            "; {} object(s) no catalog describes",
            r.objects_without_entry
        );
    }
    if !r.unreadable_segments.is_empty() {
        line += &format!(
            "; {} unreadable catalog segment(s): {}",
            r.unreadable_segments.len(),
            (r.unreadable_segments.iter())
                .map(|u| format!("{} ({})", u.name, u.reason))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !r.refused.is_empty() {
        line += &format!("; {} entr(ies) or path(s) refused", r.refused.len());
    }
    line
}

/// The status line for a provider added or saved (or the error), also sent
/// to the form that asked.
fn answer(
    reply: Reply,
    done: anyhow::Result<Registered>,
    what: &str,
) -> Result<Option<String>, String> {
    let outcome = done
        .map(|r| {
            let mut line = format!("provider '{}' {what}", r.row.name);
            if let Some(store) = register::secret_store(&r.row) {
                line += &format!(" (secret in {store})");
            }
            if let Some(trusted) = &r.trusted_host {
                line += &format!("; {}", trusted.replace('\n', "; "));
            }
            if let Some(offline) = &r.offline {
                line += &format!(", but {offline}: its operations wait until it answers");
            }
            if let Some(encrypted) = &r.encrypted {
                line += &format!("; encrypted: {encrypted}. {}", crate::crypto::KEEP_IT_SAFE);
            }
            line
        })
        .map_err(|e| format!("{e:#}"));
    let _ = reply.send(outcome.clone());
    outcome.map(Some)
}

/// Writes the library's key as a recovery sheet into `folder`; says where.
fn save_recovery_sheet(store: &Store, folder: &Path) -> Result<String, String> {
    let keys = match crate::crypto::enroll::library_key(store) {
        Ok(Some((keys, _))) => keys,
        Ok(None) => return Err("this library has no key: no provider encrypts".into()),
        Err(e) => return Err(format!("{e:#}")),
    };
    let file = crate::crypto::library::export_into(&keys, folder).map_err(|e| {
        format!(
            "cannot write the recovery sheet into {}: {e}",
            folder.display()
        )
    })?;
    Ok(format!(
        "wrote the library key to {} (mode 0600): print it and keep it away from this \
         computer; anyone holding it reads every encrypted copy",
        file.display()
    ))
}

/// Returns the memory a full read freed to the system: its scratch lists
/// (tens of MB at a million ops) would otherwise stay in the process's heap
/// for good.
pub(super) fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only hands free heap pages back to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn sort_value(sort: SortKey, k: &OpKey, queue_rank: u32) -> u64 {
    match sort {
        SortKey::QueueOrder => u64::from(queue_rank),
        SortKey::AssetName => u64::from(k.name_rank),
        SortKey::Provider => u64::from(k.provider_rank),
        // By the name's alphabetical order.
        SortKey::OperationType => match k.operation_type {
            OpType::DeleteRemote => 0,
            OpType::Download => 1,
            OpType::Upload => 2,
            OpType::Verify => 3,
        },
        SortKey::Status => k.state as u64,
        SortKey::Priority => ordered_i64(k.priority),
        SortKey::Progress => ordered_f64(
            (k.state)
                .progress(k.bytes_transferred, k.total_bytes)
                .unwrap_or(-1.0),
        ),
        SortKey::Retries => ordered_i64(i64::from(k.failed_attempts)),
        SortKey::Size => ordered_i64(k.total_bytes),
        SortKey::CreatedAt => ordered_i64(k.rowid),
        SortKey::StartedAt => ordered_i64(k.started_ms),
        SortKey::CompletedAt => ordered_i64(k.completed_ms),
        SortKey::ContentHash => k.hash_prefix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::OpStatus;
    use std::cmp::Ordering;

    /// The order the window had when it compared keys one pair at a time.
    fn compare(sort: SortKey, a: &OpKey, b: &OpKey) -> Ordering {
        let queue = |a: &OpKey, b: &OpKey| b.priority.cmp(&a.priority).then(a.rowid.cmp(&b.rowid));
        let progress = |k: &OpKey| {
            (k.state)
                .progress(k.bytes_transferred, k.total_bytes)
                .unwrap_or(-1.0)
        };
        match sort {
            SortKey::QueueOrder => queue(a, b),
            SortKey::AssetName => a.name_rank.cmp(&b.name_rank),
            SortKey::Provider => a.provider_rank.cmp(&b.provider_rank),
            SortKey::OperationType => a.operation_type.as_str().cmp(b.operation_type.as_str()),
            SortKey::Status => (a.state as u8).cmp(&(b.state as u8)),
            SortKey::Priority => a.priority.cmp(&b.priority),
            SortKey::Progress => progress(a).total_cmp(&progress(b)),
            SortKey::Retries => a.failed_attempts.cmp(&b.failed_attempts),
            SortKey::Size => a.total_bytes.cmp(&b.total_bytes),
            SortKey::CreatedAt => a.rowid.cmp(&b.rowid),
            SortKey::StartedAt => a.started_ms.cmp(&b.started_ms),
            SortKey::CompletedAt => a.completed_ms.cmp(&b.completed_ms),
            SortKey::ContentHash => a.hash_prefix.cmp(&b.hash_prefix),
        }
    }

    fn key(rowid: i64, state: OpState, completed_ms: i64) -> OpKey {
        OpKey {
            rowid,
            priority: 0,
            hash_prefix: 0,
            bytes_transferred: 0,
            total_bytes: 10,
            started_ms: i64::MIN,
            completed_ms,
            name_rank: 0,
            failed_attempts: 0,
            provider_rank: 1,
            state,
            operation_type: OpType::Upload,
            status: OpStatus::Queued,
        }
    }

    /// What a full read does with the keys it found.
    fn read(m: &mut Model, keys: &[(OpState, i64)]) -> (usize, usize) {
        m.keys = (keys.iter().enumerate())
            .map(|(i, &(state, ms))| key(i as i64 + 1, state, ms))
            .collect();
        m.note_failures().unwrap();
        m.mark_run();
        m.totals = None;
        let t = m.totals();
        (t.run_completed, t.run_failed)
    }

    fn model() -> (tempfile::TempDir, Model) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("library.db");
        let m = Model::new(Store::open(&db).unwrap(), db);
        (dir, m)
    }

    /// A run is counted from the queue's data, not from when the window
    /// noticed it: ops done before the first read that saw the run moving
    /// count, and an old failure retried and failing again counts.
    #[test]
    fn a_run_counts_what_it_did_whenever_it_was_seen() {
        use OpState::{Completed as Done, PermanentlyFailed as Failed, Queued};
        let (_dir, mut m) = model();
        let idle = [(Done, 100), (Done, 300), (Failed, i64::MIN)];
        read(&mut m, &idle);
        // Seen half done: two completed, one failed, two still queued.
        let half = [
            (Done, 100),
            (Done, 300),
            (Failed, i64::MIN),
            (Done, 400),
            (Done, 500),
            (Failed, i64::MIN),
            (Queued, i64::MIN),
            (Queued, i64::MIN),
        ];
        assert_eq!(read(&mut m, &half), (2, 1));
        // The old failure is retried...
        let mut retried = half;
        retried[2] = (Queued, i64::MIN);
        assert_eq!(read(&mut m, &retried), (2, 1));
        // ...and fails again, as one queued op does; the other completes.
        let end = [
            (Done, 100),
            (Done, 300),
            (Failed, i64::MIN),
            (Done, 400),
            (Done, 500),
            (Failed, i64::MIN),
            (Done, 600),
            (Failed, i64::MIN),
        ];
        assert_eq!(read(&mut m, &end), (3, 3));
        // The next run starts from here.
        let next = [end.as_slice(), &[(Queued, i64::MIN)]].concat();
        assert_eq!(read(&mut m, &next), (0, 0));
    }

    /// A queue already moving when the window opens is counted from the
    /// opening.
    #[test]
    fn a_run_moving_at_the_opening_counts_from_the_opening() {
        use OpState::{Completed as Done, Queued};
        let (_dir, mut m) = model();
        let opened = m.opened_ms;
        let keys = [
            (Done, opened - 5000),
            (Done, opened + 10),
            (Queued, i64::MIN),
        ];
        assert_eq!(read(&mut m, &keys), (1, 0));
    }

    #[test]
    fn integer_sort_keys_give_the_comparator_order() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        let states = [
            OpState::Queued,
            OpState::InProgress,
            OpState::RetryPending,
            OpState::PermanentlyFailed,
            OpState::Completed,
        ];
        let keys: Vec<OpKey> = (0..3000)
            .map(|i| {
                let total = [0, 1, 1000, i64::MAX, 7][next(5) as usize];
                OpKey {
                    rowid: i * 3 + 1,
                    priority: [-5, 0, 0, 1, 10, i64::MIN, i64::MAX][next(7) as usize],
                    hash_prefix: next(u64::MAX) | (next(2) << 63),
                    bytes_transferred: [0, total / 2, total, 3][next(4) as usize],
                    total_bytes: total,
                    started_ms: [i64::MIN, 0, -4, 1_795_622_671_250][next(4) as usize]
                        + next(3) as i64,
                    completed_ms: [i64::MIN, 1_795_622_671_250][next(2) as usize],
                    name_rank: next(50) as u32,
                    failed_attempts: next(4) as i32 - 1,
                    provider_rank: next(3) as u32 + 1,
                    state: states[next(5) as usize],
                    operation_type: OpType::ALL[next(4) as usize],
                    status: OpStatus::Queued,
                }
            })
            .collect();
        let mut queue: Vec<usize> = (0..keys.len()).collect();
        queue.sort_by(|&a, &b| compare(SortKey::QueueOrder, &keys[a], &keys[b]));
        let mut rank = vec![0u32; keys.len()];
        for (r, &i) in queue.iter().enumerate() {
            rank[i] = r as u32;
        }
        let sorts = SortKey::ALL;
        for sort in sorts {
            for descending in [false, true] {
                let mut want: Vec<usize> = (0..keys.len()).collect();
                want.sort_by(|&a, &b| {
                    let p = compare(sort, &keys[a], &keys[b]);
                    let p = if descending { p.reverse() } else { p };
                    p.then_with(|| compare(SortKey::QueueOrder, &keys[a], &keys[b]))
                });
                let flip = if descending { u64::MAX } else { 0 };
                let mut got: Vec<u128> = (0..keys.len())
                    .map(|i| {
                        let v = sort_value(sort, &keys[i], rank[i]) ^ flip;
                        u128::from(v) << 64 | u128::from(rank[i]) << 32 | i as u128
                    })
                    .collect();
                got.sort_unstable();
                let got: Vec<usize> = got.iter().map(|&v| v as u32 as usize).collect();
                assert_eq!(got, want, "{sort:?} descending {descending}");
            }
        }
    }
}
