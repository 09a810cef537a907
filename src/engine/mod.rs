//! The engine: a background thread that runs the queue against the library
//! database with a tokio runtime for the transfers.
//!
//! One loop runs it all. It takes the workers' reports and hands them in
//! batches to its writer thread (`writer.rs`), which writes them and claims
//! the next ops in one transaction, while the loop goes on starting the ops
//! already claimed on the runtime. Concurrency is bounded globally and per
//! provider. Leases are renewed while ops run; an op this engine no longer
//! holds (cancelled, removed, rescued by another engine) is stopped.

mod executor;
pub mod history;
mod keeper;
mod multipart;
mod owner;
mod pace;
mod restore;
mod retry;
mod space;
mod temp_writer;
mod writer;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use futures::FutureExt;
use serde::Serialize;

pub use executor::{CHUNK, Job, Outcome, Progress, hash_file, safe_file_name, short};
pub use owner::Owner;
pub(crate) use owner::locks_dir;
pub use retry::RetryPolicy;

use keeper::{Keeper, Kept, Round, scrub_slots};
use pace::Pace;
use space::FullProviders;
use writer::{Batch, Claimed, Writer, Written};

use crate::bandwidth::Bandwidth;
use crate::catalog::{CatalogWriter, Flush, Flushed};
use crate::providers::{Failure, FailureKind, Provider, temp_key};
use crate::store::{
    ClaimedOp, CopyChange, Finish, KeptChange, ManifestEntry, OpEvent, OpType, ProviderKind,
    ProviderRow, RestoreTarget, Retry, SCRUB_PRIORITY, Store, StoreError,
};
use crate::watch::{WatchConfig, Watcher};

/// How an engine runs.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub db_path: PathBuf,
    /// Where downloads go.
    pub library_dir: PathBuf,
    /// Most ops running at once, over all providers.
    pub concurrency: usize,
    /// Return once nothing is runnable, instead of waiting for new work.
    pub until_idle: bool,
    pub retry: RetryPolicy,
    /// How long a claimed op stays ours without a renewal.
    pub lease: Duration,
    /// How the watched folders are watched (not by a run that ends when
    /// idle).
    pub watch: WatchConfig,
    /// `run --bwlimit`: this run's cap on the library's rate, each way, in
    /// bytes per second (0: none).
    pub bwlimit: u64,
    /// How often a full provider is looked at for room
    /// (`BREAKDEX_FULL_RECHECK_MS` sets it, for tests; a minute otherwise).
    pub full_recheck: Duration,
}

impl EngineConfig {
    pub fn new(db_path: &Path, library_dir: &Path) -> EngineConfig {
        EngineConfig {
            db_path: db_path.to_owned(),
            library_dir: library_dir.to_owned(),
            concurrency: 8,
            until_idle: false,
            retry: RetryPolicy::default(),
            lease: Duration::from_secs(60),
            watch: WatchConfig::default(),
            bwlimit: 0,
            full_recheck: std::env::var("BREAKDEX_FULL_RECHECK_MS")
                .ok()
                .and_then(|ms| ms.parse().ok())
                .map_or(Duration::from_secs(60), Duration::from_millis),
        }
    }
}

/// What one engine run did.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct RunSummary {
    /// Ops this engine completed.
    pub completed: u64,
    /// Ops that failed for good while this engine ran them.
    pub failed: u64,
    /// Failed attempts that will be retried after a backoff.
    pub retried: u64,
    /// Ops of dead engines put back on the queue.
    pub rescued: u64,
    /// Providers found offline, with the reason.
    pub offline: Vec<String>,
    /// Providers still full when the run ended, and what waits for them.
    pub full: Vec<String>,
    /// The library or providers paused when the run ended.
    pub paused: Vec<String>,
    /// Files restores placed, and those placed beside a file that held
    /// other bytes or refused (each said in a line).
    pub restored: u64,
    pub restore_notes: Vec<String>,
    /// Catalog segments written to providers, the entries they hold, and
    /// why a provider's catalog could not be written.
    pub catalog_segments: u64,
    pub catalog_entries: u64,
    pub catalog_problems: Vec<String>,
    /// Completed ops past the history's retention that were removed.
    pub history_removed: u64,
}

/// Orders for a running engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Stop starting ops and put the running ones back on the queue.
    Pause,
    Resume,
    /// Put the running ops back on the queue and end.
    Stop,
}

enum Msg {
    Control(Control),
    Progress(OpEvent),
    /// A lane ended: the ops it ran, in order.
    Done {
        lane: u64,
        ran: Vec<Ran>,
    },
    /// The writer's answer to the last batch.
    Written(Result<Written, StoreError>),
    /// The catalog writer's answer to the last flush.
    Catalog(Flushed),
    /// What an S3 upload in parts has on the server, to keep.
    Kept(KeptChange),
}

/// One op as a worker ran it.
struct Ran {
    op: ClaimedOp,
    outcome: Outcome,
    started: SystemTime,
    ended: SystemTime,
}

impl Ran {
    /// An op that ran from `started` until now.
    fn until_now(op: ClaimedOp, started: SystemTime, outcome: Outcome) -> Ran {
        Ran {
            op,
            outcome,
            started,
            ended: SystemTime::now(),
        }
    }
}

/// A handle on an engine thread.
pub struct EngineHandle {
    tx: mpsc::Sender<Msg>,
    thread: std::thread::JoinHandle<Result<RunSummary, StoreError>>,
}

impl EngineHandle {
    pub fn send(&self, control: Control) {
        let _ = self.tx.send(Msg::Control(control));
    }

    /// Whether the engine thread has ended (by itself, or on an error).
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Waits for the engine to end (by itself when idle, or after `Stop`).
    pub fn join(self) -> Result<RunSummary, StoreError> {
        self.thread.join().unwrap_or_else(|_| {
            Err(StoreError::Invalid(
                "the engine stopped on an internal error".into(),
            ))
        })
    }
}

/// Time between two looks at shared state (leases, other processes' work).
const HOUSEKEEPING_EVERY: Duration = Duration::from_millis(500);
/// Time between two writes of progress.
const PROGRESS_FLUSH_EVERY: Duration = Duration::from_millis(250);
/// Longest wait before finished reports are written (they are grouped).
const FINISH_FLUSH_EVERY: Duration = Duration::from_millis(50);
/// How long a claimed op may wait for its slot before its `started_at` is
/// corrected while it runs (its end corrects it anyway).
const STARTED_SLACK: Duration = Duration::from_millis(5);
/// Most small uploads to a local folder run in one lane, one after another.
const CHAIN_MAX: usize = 16;
/// An upload this small (or smaller) to a local folder may share a lane.
const CHAIN_BYTES: i64 = 1 << 20;
/// How long an offline provider is left alone before the next try.
const OFFLINE_RECHECK: Duration = Duration::from_secs(10);
/// How often the catalog writer looks at what the catalogs lack.
const CATALOG_EVERY: Duration = Duration::from_secs(2);
/// Longest an ending engine waits for the catalogs to be written (what is
/// left is written by the next run).
const CATALOG_FINAL_WAIT: Duration = Duration::from_secs(60);
/// The same for an engine told to stop (a window closing).
const CATALOG_CLOSE_WAIT: Duration = Duration::from_secs(5);
/// How often the keeper looks at what the copies need (`keeper.rs`).
const KEEPER_EVERY: Duration = Duration::from_secs(5);

/// Sets the buckets to the library's limits as they hold now. Limits that
/// cannot be read leave the buckets as they were; each problem is logged
/// once (`said`: those logged last time).
fn apply_limits(store: &Store, bandwidth: &Bandwidth, said: &mut Vec<String>) {
    let problems = match store.limits() {
        Ok(limits) => {
            bandwidth.apply(&limits, crate::bandwidth::schedule::minute_of_week_now());
            limits.problems
        }
        Err(e) => vec![format!("cannot read the bandwidth limits: {e}")],
    };
    for problem in problems.iter().filter(|p| !said.contains(p)) {
        tracing::warn!("{problem}");
    }
    *said = problems;
}

/// Starts an engine on its own thread. Fails at once if the library cannot
/// be opened.
pub fn start(config: EngineConfig) -> Result<EngineHandle, StoreError> {
    let store = Store::open(&config.db_path)?;
    let owner = Arc::new(Owner::register(&config.db_path).map_err(|e| {
        StoreError::Invalid(format!(
            "cannot register the engine beside {}: {e}",
            config.db_path.display()
        ))
    })?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("breakdex-io")
        .on_thread_start(crate::priority::lower_this_thread)
        .enable_all()
        .build()
        .map_err(|e| StoreError::Invalid(format!("cannot start the engine: {e}")))?;
    let (tx, rx) = mpsc::channel();
    let writer = Writer::start(&config.db_path, &owner.id, config.lease, tx.clone())?;
    let catalog_tx = tx.clone();
    let catalog = CatalogWriter::start(
        &config.db_path,
        owner.clone(),
        runtime.handle().clone(),
        move |flushed| {
            let _ = catalog_tx.send(Msg::Catalog(flushed));
        },
    )?;
    let pruner = history::Pruner::start(&config.db_path)?;
    let offline_recorded = store.offline_since()?.into_keys().collect();
    let full = FullProviders::load(&store, config.full_recheck)?;
    // Last: nothing after it can fail and leave the watcher running.
    let watcher = if config.until_idle {
        None
    } else {
        Some(Watcher::start(&config.db_path, config.watch)?)
    };
    let bandwidth = Bandwidth::with_cap(config.bwlimit);
    let mut limit_problems = Vec::new();
    apply_limits(&store, &bandwidth, &mut limit_problems);
    let runner = Runner {
        store,
        bandwidth,
        limit_problems,
        keeper: Keeper::default(),
        // Its first look waits: the first claims go first.
        last_keep: Instant::now(),
        offline_recorded,
        full,
        local_changed: HashSet::new(),
        began: SystemTime::now(),
        writer,
        writing: false,
        catalog,
        cataloging: false,
        last_catalog: None,
        pruner: Some(pruner),
        watcher,
        stopping: false,
        owner,
        config,
        runtime,
        tx: tx.clone(),
        rx,
        running: HashMap::new(),
        lanes: HashMap::new(),
        large_lanes: HashSet::new(),
        large_max: std::thread::available_parallelism().map_or(2, |n| n.get()),
        next_lane: 0,
        ready: VecDeque::new(),
        last_exchange: Instant::now(),
        reports: Vec::new(),
        progress: HashMap::new(),
        providers: HashMap::new(),
        pace: Pace::default(),
        offline_until: HashMap::new(),
        empty_until: HashMap::new(),
        paused: false,
        paused_providers: HashSet::new(),
        summary: RunSummary::default(),
    };
    let thread = std::thread::Builder::new()
        .name("breakdex-engine".into())
        .spawn(move || runner.run())
        .map_err(|e| StoreError::Invalid(format!("cannot start the engine: {e}")))?;
    Ok(EngineHandle { tx, thread })
}

struct Running {
    provider_id: String,
    stop: Stop,
    /// The lane (slot) it runs in.
    lane: u64,
    /// When it was handed to its lane, written to the queue at the next
    /// progress write if `start_unwritten` (it waited for its slot) and it
    /// still runs. Its end writes when it really started.
    started_at: SystemTime,
    start_unwritten: bool,
}

/// How a running op is stopped.
enum Stop {
    /// A task on the runtime: aborted.
    Task(tokio::task::AbortHandle),
    /// A job on a blocking thread: told to stop before its next chunk.
    Flag(Arc<AtomicBool>),
}

impl Stop {
    fn stop(&self) {
        match self {
            Stop::Task(handle) => handle.abort(),
            Stop::Flag(flag) => flag.store(true, Ordering::Relaxed),
        }
    }
}

/// Progress reports of op `id`, sent to the engine.
fn progress_to(
    tx: &mpsc::Sender<Msg>,
    id: &str,
) -> Progress<impl FnMut(i64, i64) + Send + 'static> {
    let (tx, id) = (tx.clone(), id.to_string());
    Progress::new(move |bytes, total| {
        let _ = tx.send(Msg::Progress(OpEvent::Progress {
            id: id.clone(),
            bytes,
            total,
        }));
    })
}

/// Whether an op is one of the scrub's verifies.
fn is_scrub(op: &ClaimedOp) -> bool {
    op.operation_type == OpType::Verify && op.priority == SCRUB_PRIORITY
}

/// The report that hands op `id` back to the queue, as it was.
fn released(id: String) -> OpEvent {
    OpEvent::Finished {
        id,
        bytes: 0,
        change: None,
        failure: Some((None, Retry::Release(Duration::ZERO))),
        started: None,
        ended: SystemTime::now(),
    }
}

/// The outcome of an op whose executor panicked.
fn internal_error() -> Outcome {
    Outcome {
        bytes: 0,
        change: None,
        failure: Some(Failure::permanent(
            "internal error while running this op (please report it)",
        )),
    }
}

/// A claimed op waiting for a free slot.
struct Ready {
    op: ClaimedOp,
    /// Its asset, read along with the claim.
    asset: Option<ManifestEntry>,
    /// For a download, the files a restore is to make of it.
    targets: Vec<RestoreTarget>,
    /// When the claim (which set its `started_at`) was made.
    claimed_at: Instant,
}

struct Runner {
    /// The bandwidth limits every transfer shares, set from the library's
    /// at each housekeeping.
    bandwidth: Bandwidth,
    limit_problems: Vec<String>,
    /// For everything but the hot path, which is the writer's.
    store: Store,
    keeper: Keeper,
    last_keep: Instant,
    /// Providers recorded in the library as offline (`provider_state`):
    /// recorded when found offline, cleared when they answer again.
    offline_recorded: HashSet<String>,
    /// Providers found full, whose uploads wait for room.
    full: FullProviders,
    /// Assets whose local file a keeper's upload found edited since it was
    /// added: their repairs and policy copies come from another provider.
    local_changed: HashSet<String>,
    began: SystemTime,
    writer: Writer,
    /// A batch is with the writer; the next waits for its answer.
    writing: bool,
    catalog: CatalogWriter,
    /// A flush is with the catalog writer.
    cataloging: bool,
    last_catalog: Option<Instant>,
    /// The engine is ending: ops claimed from now on are handed back.
    stopping: bool,
    owner: Arc<Owner>,
    config: EngineConfig,
    runtime: tokio::runtime::Runtime,
    tx: mpsc::Sender<Msg>,
    rx: mpsc::Receiver<Msg>,
    running: HashMap<String, Running>,
    /// The lanes (slots) in use, each with its provider and whether it runs
    /// a scrub verify: a task, or a blocking thread running a chain of small
    /// local uploads.
    lanes: HashMap<u64, (String, bool)>,
    /// The lanes running a large transfer with a local folder, and how
    /// many may at once (the machine's cores).
    large_lanes: HashSet<u64>,
    large_max: usize,
    next_lane: u64,
    /// Claimed ops waiting for a free slot, best first.
    ready: VecDeque<Ready>,
    last_exchange: Instant,
    /// Starts and ends of ops, not yet written.
    reports: Vec<OpEvent>,
    /// Latest progress per op, not yet written.
    progress: HashMap<String, OpEvent>,
    /// Providers as last read, and whether they could be opened.
    providers: HashMap<String, (ProviderRow, Result<Provider, Failure>)>,
    /// How quickly each provider's ops run, which sets how far ahead they are claimed.
    pace: Pace,
    offline_until: HashMap<String, Instant>,
    /// Providers that had nothing queued, not asked again before this time.
    empty_until: HashMap<String, Instant>,
    /// The library's pause, as last read (`store/pause.rs`).
    paused: bool,
    /// The providers paused, as last read: their ops are not run.
    paused_providers: HashSet<String>,
    summary: RunSummary,
    /// Taken when the engine ends.
    pruner: Option<history::Pruner>,
    /// The watched folders' watcher, but for a run that ends when idle.
    watcher: Option<Watcher>,
}

impl Runner {
    fn run(mut self) -> Result<RunSummary, StoreError> {
        let result = (self.store.end_offline_waits())
            .and_then(|_| space::sweep_temps(&mut self.store, &self.runtime))
            .and_then(|()| self.run_loop());
        // Whatever happened, hand running ops back to the queue, and the ops
        // a batch still with the writer claims.
        self.stopping = true;
        self.release_all();
        let flushed = self.settle().and_then(|()| {
            self.send_batch(false, true)?;
            self.settle()
        });
        // What the catalogs lack goes up now: they lag a run by nothing
        // that this engine could write.
        if flushed.is_ok() {
            // A window closing waits a little only.
            let wait = if self.config.until_idle {
                CATALOG_FINAL_WAIT
            } else {
                CATALOG_CLOSE_WAIT
            };
            self.flush_catalogs(true, wait);
        }
        if let Some(watcher) = self.watcher.take() {
            watcher.finish();
        }
        if let Some(pruner) = self.pruner.take() {
            self.summary.history_removed = pruner.finish(self.config.until_idle);
        }
        self.summary.full = self.full_words();
        self.summary.paused = self.paused_words();
        let summary = self.summary.clone();
        // Do not wait long for blocking reads of aborted ops (a stalled disk).
        self.runtime.shutdown_timeout(Duration::from_secs(2));
        result.and(flushed).map(|_| summary)
    }

    fn run_loop(&mut self) -> Result<(), StoreError> {
        let mut last_housekeeping: Option<Instant> = None;
        let mut last_flush = Instant::now();
        loop {
            if last_housekeeping.is_none_or(|t| t.elapsed() >= HOUSEKEEPING_EVERY) {
                self.housekeeping()?;
                last_housekeeping = Some(Instant::now());
            }
            self.start_ready()?;
            let flush_progress = last_flush.elapsed() >= PROGRESS_FLUSH_EVERY;
            if self.send_batch(!self.paused, flush_progress)? && flush_progress {
                last_flush = Instant::now();
            }
            // Before a run ends, the keeper's last look: what the run
            // leaves to repair, top up or scrub is done in it. A paused
            // library has nothing to run: the run ends, saying so.
            if self.config.until_idle
                && (self.paused || (self.is_idle()? && self.keep(true)? == (0, false)))
            {
                return Ok(());
            }
            // A batch with the writer wakes the loop when it is written.
            let wait = if !self.writing && !self.reports.is_empty() {
                FINISH_FLUSH_EVERY
            } else {
                HOUSEKEEPING_EVERY.min(PROGRESS_FLUSH_EVERY)
            };
            let first = match self.rx.recv_timeout(wait) {
                Ok(msg) => Some(msg),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            let mut next = first;
            while let Some(msg) = next {
                if self.handle(msg)? {
                    return Ok(());
                }
                next = self.rx.try_recv().ok();
            }
        }
    }

    /// Waits until the writer has answered the batch it has, taking the
    /// other messages meanwhile.
    fn settle(&mut self) -> Result<(), StoreError> {
        while self.writing {
            match self.rx.recv() {
                Ok(msg) => {
                    self.handle(msg)?;
                }
                Err(_) => break,
            }
        }
        Ok(())
    }

    /// Asks the catalog writer to write what the online providers' catalogs
    /// lack (all of it if `all`, else what is due). With a `wait`, waits up
    /// to that long for it to be done, taking the other messages meanwhile.
    fn flush_catalogs(&mut self, all: bool, wait: Duration) {
        let deadline = Instant::now() + wait;
        // One flush at a time: an earlier one ends first.
        if !self.await_catalog(deadline) {
            return;
        }
        let now = Instant::now();
        let providers: Vec<Provider> = (self.providers.iter())
            .filter(|(id, (row, _))| {
                row.enabled && self.offline_until.get(*id).is_none_or(|t| *t <= now)
            })
            .filter_map(|(_, (_, opened))| opened.as_ref().ok().cloned())
            .collect();
        if providers.is_empty() || !self.catalog.send(Flush { providers, all }) {
            return;
        }
        self.cataloging = true;
        self.last_catalog = Some(now);
        if !wait.is_zero() {
            self.await_catalog(deadline);
        }
    }

    /// Waits until the catalog writer has answered its flush (if it has
    /// one), or `deadline`, taking the other messages meanwhile; true if
    /// it has no flush left.
    fn await_catalog(&mut self, deadline: Instant) -> bool {
        while self.cataloging {
            match (self.rx).recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(msg) => {
                    let _ = self.handle(msg);
                }
                Err(_) => return false,
            }
        }
        true
    }

    /// Takes one message; true when the engine must stop.
    fn handle(&mut self, msg: Msg) -> Result<bool, StoreError> {
        match msg {
            Msg::Control(Control::Stop) => return Ok(true),
            Msg::Control(Control::Pause) => self.pause(true),
            Msg::Control(Control::Resume) => self.pause(false),
            Msg::Progress(event) => {
                if let OpEvent::Progress { id, .. } = &event
                    && self.running.contains_key(id)
                {
                    self.progress.insert(id.clone(), event);
                }
            }
            Msg::Done { lane, ran } => {
                self.lanes.remove(&lane);
                self.large_lanes.remove(&lane);
                for Ran {
                    op,
                    outcome,
                    started,
                    ended,
                } in ran
                {
                    if self.running.remove(&op.id).is_some() {
                        self.progress.remove(&op.id);
                        if outcome.failure.is_none() {
                            self.answered(&op.provider_id);
                            if op.operation_type == OpType::Upload {
                                self.full.upload_fit(&mut self.store, &op.provider_id);
                            }
                        }
                        if let Some(CopyChange::Restored { targets, .. }) = &outcome.change {
                            for t in targets {
                                self.summary.restored += u64::from(t.placed_path.is_some());
                                self.summary.restore_notes.extend(t.note.clone());
                            }
                        }
                        let took = ended.duration_since(started).unwrap_or_default();
                        self.pace.record(&op.provider_id, took);
                        let event = self.finished_event(&op, outcome, Some(started), ended);
                        self.reports.push(event);
                    }
                }
            }
            Msg::Written(written) => {
                self.writing = false;
                self.take_written(written?);
            }
            Msg::Kept(change) => {
                // Not kept: the next attempt sends more again, no worse.
                if let Err(e) = self.store.keep_upload(&change) {
                    tracing::warn!("an upload's progress could not be kept: {e}");
                }
            }
            Msg::Catalog(flushed) => {
                self.cataloging = false;
                self.summary.catalog_segments += flushed.segments;
                self.summary.catalog_entries += flushed.entries;
                for f in flushed.problems {
                    if !self.summary.catalog_problems.contains(&f.message) {
                        self.summary.catalog_problems.push(f.message);
                    }
                }
            }
        }
        Ok(false)
    }

    /// Takes the writer's answer: counts the ops that ended, and queues the
    /// ops claimed (or hands them back if the engine paused or is ending).
    fn take_written(&mut self, written: Written) {
        for (_, finish) in &written.applied {
            match finish {
                Finish::Completed => self.summary.completed += 1,
                Finish::WillRetry => self.summary.retried += 1,
                Finish::Failed => self.summary.failed += 1,
            }
        }
        let now = Instant::now();
        for (provider_id, n) in &written.wants {
            let got = written
                .claimed
                .iter()
                .filter(|c| &c.op.provider_id == provider_id)
                .count();
            if got < *n {
                self.empty_until
                    .insert(provider_id.clone(), now + HOUSEKEEPING_EVERY);
            }
        }
        for Claimed { op, asset, targets } in written.claimed {
            if self.paused || self.stopping {
                self.reports.push(released(op.id));
            } else {
                self.ready.push_back(Ready {
                    op,
                    asset,
                    targets,
                    claimed_at: now,
                });
            }
        }
    }

    /// Turns an executor's outcome into the report written to the queue;
    /// `started` corrects the op's `started_at`.
    fn finished_event(
        &mut self,
        op: &ClaimedOp,
        outcome: Outcome,
        started: Option<SystemTime>,
        ended: SystemTime,
    ) -> OpEvent {
        let failure = outcome.failure.map(|f| {
            // The keeper's upload found the local file edited: it is made
            // from another provider's copy instead, if one is there.
            if op.operation_type == OpType::Upload
                && op.reason.is_some()
                && f.message.starts_with("source changed:")
                && self.local_changed.insert(op.content_hash.clone())
            {
                let retry = Retry::Backoff(self.config.retry.delay(op.retry_count + 1));
                tracing::info!(op = %op.id, "{}: copying from another provider", f.message);
                return (Some(f.message), retry);
            }
            let retry = match f.kind {
                FailureKind::Transient => {
                    Retry::Backoff(self.config.retry.delay(op.retry_count + 1))
                }
                FailureKind::Permanent => Retry::Never,
                FailureKind::Offline => {
                    self.mark_offline(&op.provider_id, &f.message);
                    Retry::Release(OFFLINE_RECHECK)
                }
                FailureKind::Full => {
                    (self.full).found_full(&mut self.store, &op.provider_id, &f.message);
                    Retry::Release(self.config.full_recheck)
                }
            };
            tracing::info!(op = %op.id, kind = ?f.kind, "op failed: {}", f.message);
            (Some(f.message), retry)
        });
        OpEvent::Finished {
            id: op.id.clone(),
            bytes: outcome.bytes,
            change: outcome.change,
            failure,
            started,
            ended,
        }
    }

    /// What is paused, in a line each.
    fn paused_words(&self) -> Vec<String> {
        let library = (self.paused)
            .then(|| "the library is paused: its ops wait until `breakdex resume`".to_string());
        let mut providers: Vec<String> = (self.providers.values())
            .filter(|(row, _)| self.paused_providers.contains(&row.id))
            .map(|(row, _)| {
                format!(
                    "provider '{}' is paused: its ops wait until `breakdex resume --provider {}`",
                    row.name, row.name
                )
            })
            .collect();
        providers.sort();
        library.into_iter().chain(providers).collect()
    }

    /// What waits for each provider still full, in a line each.
    fn full_words(&self) -> Vec<String> {
        let mut words = Vec::new();
        for id in self.full.holding() {
            let Some((row, opened)) = self.providers.get(&id) else {
                continue;
            };
            let free = opened.as_ref().ok().and_then(|p| p.free_bytes());
            match self.store.waiting_uploads(&id) {
                Ok(waiting) => words.push(format!(
                    "provider '{}' is {}: its uploads wait until it has room",
                    row.name,
                    waiting.words(free)
                )),
                Err(e) => tracing::warn!("cannot count what waits for provider {id}: {e}"),
            }
        }
        words.sort();
        words
    }

    fn mark_offline(&mut self, provider_id: &str, message: &str) {
        self.offline_until
            .insert(provider_id.to_string(), Instant::now() + OFFLINE_RECHECK);
        if self.offline_recorded.insert(provider_id.to_string()) {
            self.record_offline(provider_id, true);
        }
        if !self.summary.offline.iter().any(|m| m == message) {
            tracing::info!("{message}");
            self.summary.offline.push(message.to_string());
        }
    }

    /// A provider answered: it is no longer recorded as offline.
    fn answered(&mut self, provider_id: &str) {
        if self.offline_recorded.remove(provider_id) {
            self.record_offline(provider_id, false);
        }
    }

    fn record_offline(&mut self, provider_id: &str, offline: bool) {
        if let Err(e) = self.store.set_offline(provider_id, offline) {
            tracing::warn!("cannot record whether provider {provider_id} answers: {e}");
        }
    }

    /// The keeper's look (`keeper.rs`): every [`KEEPER_EVERY`], or for a
    /// run `ending`, repairs and a slice of the policy (every asset for a
    /// run ending if that is due); every time, the scrub of the providers
    /// not being left alone as offline (a scrub read is also how a remote
    /// provider recorded offline shows it answers again). Returns how many
    /// ops it queued, and whether a run's scrub still waits for its budget
    /// to read what was due at its start.
    fn keep(&mut self, ending: bool) -> Result<(usize, bool), StoreError> {
        let now = Instant::now();
        let mut kept = Kept::default();
        if ending || now.duration_since(self.last_keep) >= KEEPER_EVERY {
            let round = match ending {
                false => Round::Slice,
                true if self.store.take_round_due()? => Round::Whole,
                true => Round::None,
            };
            self.last_keep = now;
            kept = self.keeper.look(&mut self.store, round)?;
        }
        let answering: Vec<String> = (self.providers.iter())
            .filter(|(id, (row, opened))| {
                row.enabled
                    && opened.is_ok()
                    && self.offline_until.get(*id).is_none_or(|t| *t <= now)
            })
            .map(|(id, _)| id.clone())
            .collect();
        let run_began = self.config.until_idle.then_some(self.began);
        let scrubbed = (self.keeper).scrub(&mut self.store, &answering, run_began)?;
        let queued = kept.repairs + kept.copies + scrubbed.verifies;
        if queued > 0 {
            tracing::info!(
                "keeper: {} repair(s), {} copy(ies) for the policy, {} scrub verify(ies) queued",
                kept.repairs,
                kept.copies,
                scrubbed.verifies
            );
            self.empty_until.clear();
        }
        Ok((queued, scrubbed.waiting))
    }

    /// Hands the writer a batch, unless it still has one: finished reports
    /// (grouped: along with a claim, once they have waited long enough, or at
    /// once when nothing else runs), progress and corrected start times if
    /// `with_progress`, and, if `claim`, claims to refill the ready queue.
    /// Returns whether a batch went.
    fn send_batch(&mut self, claim: bool, with_progress: bool) -> Result<bool, StoreError> {
        if self.writing {
            return Ok(false);
        }
        let wants = if claim { self.wants() } else { Vec::new() };
        let starts: Vec<OpEvent> = if with_progress {
            self.running
                .iter_mut()
                .filter_map(|(id, r)| {
                    std::mem::take(&mut r.start_unwritten).then(|| OpEvent::Started {
                        id: id.clone(),
                        at: r.started_at,
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let with_progress = with_progress && !(self.progress.is_empty() && starts.is_empty());
        let finished_due = !self.reports.is_empty()
            && (!claim
                || !wants.is_empty()
                || (self.running.is_empty() && self.ready.is_empty())
                || self.last_exchange.elapsed() >= FINISH_FLUSH_EVERY);
        if !finished_due && !with_progress && wants.is_empty() {
            return Ok(false);
        }
        self.last_exchange = Instant::now();
        let mut events = if finished_due {
            std::mem::take(&mut self.reports)
        } else {
            Vec::new()
        };
        if with_progress {
            events.extend(starts);
            events.extend(self.progress.drain().map(|(_, e)| e));
        }
        if !self.writer.send(Batch { events, wants }) {
            return Err(StoreError::Invalid(
                "the engine's database writer stopped".into(),
            ));
        }
        self.writing = true;
        Ok(true)
    }

    /// How many ops this engine holds (running or ready) for a provider.
    fn held(&self, provider_id: &str) -> usize {
        self.running
            .values()
            .filter(|r| r.provider_id == provider_id)
            .count()
            + self
                .ready
                .iter()
                .filter(|r| r.op.provider_id == provider_id)
                .count()
    }

    /// Ops to claim per provider. A provider's target is some rounds of its
    /// concurrency (as many as its pace asks, see [`Pace`]); its claims wait
    /// until the engine holds at most half its target, then fill it at once.
    fn wants(&self) -> Vec<(String, usize)> {
        let now = Instant::now();
        let mut wants = Vec::new();
        for (id, (row, _)) in &self.providers {
            if !row.enabled
                || self.paused_providers.contains(id)
                || self.offline_until.get(id).is_some_and(|t| *t > now)
                || self.empty_until.get(id).is_some_and(|t| *t > now)
            {
                continue;
            }
            let slots = (row.concurrency.max(1) as usize).min(self.config.concurrency);
            let (target, held) = (slots * self.pace.rounds(id), self.held(id));
            if held * 2 <= target {
                wants.push((id.clone(), target - held));
            }
        }
        wants
    }

    /// Starts ready ops while their providers and the engine have free
    /// lanes (slots). Small uploads to a local folder go in chains: one lane
    /// runs several, one after another on one blocking thread, so that each
    /// costs no thread wake-ups of its own. (An op cancelled or removed while
    /// it waited is dropped at the next housekeeping, like a running one.)
    fn start_ready(&mut self) -> Result<(), StoreError> {
        // The scrub yields to transfers: while any other op of this engine
        // runs or waits to start, no scrub verify starts (it would take
        // the CPU, disk and network they use; its credit saves up).
        let transfers = (self.lanes.values()).any(|(_, scrub)| !scrub)
            || self.ready.iter().any(|r| !is_scrub(&r.op));
        let mut i = 0;
        while i < self.ready.len() && self.lanes.len() < self.config.concurrency {
            let provider_id = self.ready[i].op.provider_id.clone();
            let limit = self
                .providers
                .get(&provider_id)
                .map_or(1, |(row, _)| row.concurrency.max(1) as usize);
            let busy = (self.lanes.values()).filter(|(p, _)| *p == provider_id);
            let (busy, scrubbing) =
                busy.fold((0, 0), |(n, s), (_, scrub)| (n + 1, s + *scrub as usize));
            // And it never takes more than half the provider's slots.
            if busy >= limit
                || (is_scrub(&self.ready[i].op) && (transfers || scrubbing >= scrub_slots(limit)))
                || (self.large_local(&self.ready[i]) && self.large_lanes.len() >= self.large_max)
            {
                i += 1;
                continue;
            }
            let mut picked: Vec<Ready> = self.ready.remove(i).into_iter().collect();
            if self.chains(&picked[0]) {
                let free = (limit - busy).min(self.config.concurrency - self.lanes.len());
                // (Counted only as far as it can make a difference.)
                let alike = (self.ready.iter().skip(i))
                    .filter(|r| r.op.provider_id == provider_id && self.chains(r))
                    .take(CHAIN_MAX * free)
                    .count();
                let len = (alike + 1).div_ceil(free).min(CHAIN_MAX);
                let mut j = i;
                while picked.len() < len && j < self.ready.len() {
                    if self.ready[j].op.provider_id == provider_id && self.chains(&self.ready[j]) {
                        picked.extend(self.ready.remove(j));
                    } else {
                        j += 1;
                    }
                }
            }
            self.start_lane(picked)?;
        }
        Ok(())
    }

    /// Whether a ready op is a large transfer with a local folder (on a
    /// blocking thread: it copies, hashes and writes as fast as the cores
    /// let it). No more of these run at once than the machine has cores:
    /// more large writes at once than cores only cost kernel time.
    fn large_local(&self, ready: &Ready) -> bool {
        ready.op.total_bytes > CHAIN_BYTES && self.local_blocking(ready)
    }

    /// Whether a ready op may share a lane: a small upload to a local
    /// folder, or a small restore from one.
    fn chains(&self, ready: &Ready) -> bool {
        ready.op.total_bytes <= CHAIN_BYTES && self.local_blocking(ready)
    }

    /// Whether a ready op runs on a blocking thread: an upload to a local
    /// folder, or a restore from one.
    fn local_blocking(&self, ready: &Ready) -> bool {
        let restores = !ready.targets.is_empty();
        matches!(self.providers.get(&ready.op.provider_id),
                 Some((_, Ok(p))) if executor::runs_blocking_op(ready.op.operation_type, restores, p))
    }

    /// Starts ops in a new lane: a task for each (async ops come one per
    /// lane), or one blocking thread that runs them in turn.
    fn start_lane(&mut self, picked: Vec<Ready>) -> Result<(), StoreError> {
        let mut jobs = Vec::with_capacity(picked.len());
        for ready in picked {
            if let Some(job) = self.job_for(ready)? {
                jobs.push(job);
            }
        }
        let Some((first, _)) = jobs.first() else {
            return Ok(());
        };
        let blocking = executor::runs_blocking(first);
        self.next_lane += 1;
        let lane = self.next_lane;
        (self.lanes).insert(lane, (first.op.provider_id.clone(), is_scrub(&first.op)));
        if blocking && first.op.total_bytes > CHAIN_BYTES {
            self.large_lanes.insert(lane);
        }
        let tx = self.tx.clone();
        let handed = SystemTime::now();
        if blocking {
            let mut run = Vec::with_capacity(jobs.len());
            for (job, claimed_at) in jobs {
                let cancelled = Arc::new(AtomicBool::new(false));
                let progress = progress_to(&tx, &job.op.id);
                let stop = Stop::Flag(cancelled.clone());
                self.add_running(&job.op, stop, lane, handed, claimed_at);
                run.push((job, cancelled, progress));
            }
            self.runtime.spawn_blocking(move || {
                let mut ran = Vec::with_capacity(run.len());
                for (job, cancelled, mut progress) in run {
                    if cancelled.load(Ordering::Relaxed) {
                        continue;
                    }
                    let (op, started) = (job.op.clone(), SystemTime::now());
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        executor::run_blocking(job, cancelled, &mut progress)
                    }))
                    .unwrap_or_else(|_| internal_error());
                    ran.push(Ran::until_now(op, started, outcome));
                }
                let _ = tx.send(Msg::Done { lane, ran });
            });
        } else {
            for (job, claimed_at) in jobs {
                let op = job.op.clone();
                let mut progress = progress_to(&tx, &op.id);
                let tx = tx.clone();
                let task = self.runtime.spawn(async move {
                    let (op, started) = (job.op.clone(), SystemTime::now());
                    let outcome = std::panic::AssertUnwindSafe(executor::run(job, &mut progress))
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|_| internal_error());
                    let ran = vec![Ran::until_now(op, started, outcome)];
                    let _ = tx.send(Msg::Done { lane, ran });
                });
                let stop = Stop::Task(task.abort_handle());
                self.add_running(&op, stop, lane, handed, claimed_at);
            }
        }
        Ok(())
    }

    fn add_running(
        &mut self,
        op: &ClaimedOp,
        stop: Stop,
        lane: u64,
        handed: SystemTime,
        claimed_at: Instant,
    ) {
        // The claim set `started_at`; while the op runs it is corrected only
        // when the op waited for a slot long enough for the difference to show.
        self.running.insert(
            op.id.clone(),
            Running {
                provider_id: op.provider_id.clone(),
                stop,
                lane,
                started_at: handed,
                start_unwritten: claimed_at.elapsed() >= STARTED_SLACK,
            },
        );
    }

    /// The job for a ready op, with when it was claimed; `None` if the op
    /// cannot even start (its failure is reported).
    fn job_for(&mut self, ready: Ready) -> Result<Option<(Job, Instant)>, StoreError> {
        let Ready {
            op,
            asset,
            targets,
            claimed_at,
        } = ready;
        let provider = match self.providers.get(&op.provider_id) {
            Some((_, Ok(p))) => p.clone(),
            Some((_, Err(f))) => {
                let failure = f.clone();
                self.finish_now(op, failure);
                return Ok(None);
            }
            None => {
                self.finish_now(op, Failure::permanent("its provider was removed"));
                return Ok(None);
            }
        };
        let refuse_delete = if op.operation_type == OpType::DeleteRemote {
            self.delete_refusal(&op, &provider, asset.as_ref())?
        } else {
            None
        };
        let source = if op.operation_type == OpType::Upload && op.reason.is_some() {
            self.source_for(&op, asset.as_ref())?
        } else {
            None
        };
        let kept = if op.operation_type == OpType::Upload
            && provider.s3_signer().is_some()
            && op.total_bytes > crate::providers::s3::SINGLE_PUT_MAX as i64
        {
            self.store.kept_upload(&op.id)?
        } else {
            None
        };
        let job = Job {
            op,
            asset,
            provider,
            library_dir: self.config.library_dir.clone(),
            refuse_delete,
            targets,
            source,
            bandwidth: self.bandwidth.clone(),
            kept,
            book: multipart::UploadBook::to(self.tx.clone()),
        };
        Ok(Some((job, claimed_at)))
    }

    /// For an upload the keeper queued (a repair, a policy copy) whose local
    /// bytes are gone, no longer the recorded size, or found edited by an
    /// attempt of this engine (`local_changed`): the answering provider
    /// whose verified copy was checked last, to copy from. `None` when the
    /// local bytes are there (or nothing else holds the content: the upload
    /// then fails on the missing source and says so).
    fn source_for(
        &self,
        op: &ClaimedOp,
        asset: Option<&ManifestEntry>,
    ) -> Result<Option<Provider>, StoreError> {
        let here = !self.local_changed.contains(&op.content_hash)
            && (asset.and_then(|a| a.local_path.as_deref())).is_some_and(|p| {
                std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() as i64 == op.total_bytes)
            });
        if here {
            return Ok(None);
        }
        let now = Instant::now();
        let mut copies = self.store.copies_of(&op.content_hash)?;
        copies.retain(|c| c.verify_status == "ok" && c.provider_id != op.provider_id);
        copies.sort_by(|a, b| b.verified_at.cmp(&a.verified_at));
        Ok(copies
            .into_iter()
            .find_map(|c| match self.providers.get(&c.provider_id) {
                Some((row, Ok(p)))
                    if row.enabled && self.offline_until.get(&row.id).is_none_or(|t| *t <= now) =>
                {
                    Some(p.clone())
                }
                _ => None,
            }))
    }

    /// Records a failure for an op that cannot even start.
    fn finish_now(&mut self, op: ClaimedOp, failure: Failure) {
        let outcome = Outcome {
            bytes: 0,
            change: None,
            failure: Some(failure),
        };
        let event = self.finished_event(&op, outcome, None, SystemTime::now());
        self.reports.push(event);
    }

    /// Refuses to delete the last good copy of an asset whose local bytes are gone.
    fn delete_refusal(
        &self,
        op: &ClaimedOp,
        provider: &Provider,
        asset: Option<&ManifestEntry>,
    ) -> Result<Option<String>, StoreError> {
        let local_present = asset
            .and_then(|a| a.local_path.as_deref())
            .is_some_and(|p| Path::new(p).is_file());
        if local_present {
            return Ok(None);
        }
        let other_good = self
            .store
            .copies_of(&op.content_hash)?
            .iter()
            .filter(|c| c.provider_id != op.provider_id && c.verify_status == "ok")
            .count();
        Ok((other_good == 0).then(|| {
            format!(
                "refused: the copy of {} on provider '{}' is its last good copy and its local file is missing",
                asset.map(|a| a.original_name.as_str()).unwrap_or(short(&op.content_hash)),
                provider.name
            )
        }))
    }

    /// Pauses the library (every engine of it stops within a housekeeping),
    /// or lets it go on.
    fn pause(&mut self, paused: bool) {
        if let Err(e) = self.store.set_paused(paused) {
            tracing::warn!("cannot record the pause in the library: {e}");
        }
        self.follow_pause(paused);
    }

    /// Takes the library's pause as it is: a pause stops every transfer
    /// this engine runs and hands its ops back (a local upload keeps what it
    /// wrote, to resume from).
    fn follow_pause(&mut self, paused: bool) {
        if paused && !self.paused {
            tracing::info!("paused: transfers stopped");
            self.release_all();
        }
        self.paused = paused;
    }

    /// Stops the running and ready ops that are paused, or whose provider
    /// is, and hands them back to the queue.
    fn release_paused(&mut self) -> Result<(), StoreError> {
        let ids: Vec<&str> = (self.running.keys().map(|s| s.as_str()))
            .chain(self.ready.iter().map(|r| r.op.id.as_str()))
            .collect();
        let ops: HashSet<String> = if ids.is_empty() {
            HashSet::new()
        } else {
            self.store.paused_among(&ids)?.into_iter().collect()
        };
        let providers = &self.paused_providers;
        let paused =
            |id: &String, provider: &String| ops.contains(id) || providers.contains(provider);
        let (held, ready): (VecDeque<Ready>, VecDeque<Ready>) =
            (self.ready.drain(..)).partition(|r| paused(&r.op.id, &r.op.provider_id));
        self.ready = ready;
        for Ready { op, .. } in held {
            self.reports.push(released(op.id));
        }
        let stopping: Vec<String> = (self.running.iter())
            .filter(|(id, r)| paused(id, &r.provider_id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in stopping {
            if let Some(running) = self.running.remove(&id) {
                running.stop.stop();
                self.free_stopped_lane(&running);
                self.progress.remove(&id);
                self.reports.push(released(id));
            }
        }
        Ok(())
    }

    /// Stops every running op and hands it and the ready ones back to the queue.
    fn release_all(&mut self) {
        for Ready { op, .. } in self.ready.drain(..) {
            self.reports.push(released(op.id));
        }
        for (id, running) in std::mem::take(&mut self.running) {
            running.stop.stop();
            self.free_stopped_lane(&running);
            self.progress.remove(&id);
            self.reports.push(released(id));
        }
    }

    /// Frees the lane of an op just stopped if it was an aborted task: a
    /// blocking lane frees itself when its thread ends.
    fn free_stopped_lane(&mut self, running: &Running) {
        if matches!(running.stop, Stop::Task(_)) {
            self.lanes.remove(&running.lane);
            self.large_lanes.remove(&running.lane);
        }
    }

    /// The periodic look at shared state.
    fn housekeeping(&mut self) -> Result<(), StoreError> {
        if !self.running.is_empty() || !self.ready.is_empty() {
            self.store.renew_leases(&self.owner.id, self.config.lease)?;
        }
        let ids: Vec<&str> = (self.running.keys().map(|s| s.as_str()))
            .chain(self.ready.iter().map(|r| r.op.id.as_str()))
            .collect();
        let lost = self.store.lost_ops(&self.owner.id, &ids)?;
        self.ready.retain(|r| !lost.contains(&r.op.id));
        for id in lost {
            if let Some(running) = self.running.remove(&id) {
                running.stop.stop();
                self.free_stopped_lane(&running);
                self.progress.remove(&id);
                if let Some((_, Ok(provider))) = self.providers.get(&running.provider_id) {
                    let op = provider.operator().clone();
                    self.runtime.spawn(async move {
                        let _ = op.delete(&temp_key(&id)).await;
                    });
                }
            }
        }
        let paused = self.store.paused()?;
        self.follow_pause(paused);
        self.paused_providers = self.store.paused_providers()?;
        self.release_paused()?;
        let owner = &self.owner;
        self.summary.rescued += self.store.rescue(&owner.id, |o| owner.is_dead(o))? as u64;
        self.store.requeue_due_retries()?;
        self.reload_providers()?;
        let providers = &self.providers;
        (self.full).recheck(&mut self.store, |id| match providers.get(id) {
            Some((_, Ok(p))) => Some(p.clone()),
            _ => None,
        })?;
        apply_limits(&self.store, &self.bandwidth, &mut self.limit_problems);
        self.empty_until.clear();
        if !self.paused && !self.stopping {
            self.keep(false)?;
        }
        if self
            .last_catalog
            .is_none_or(|t| t.elapsed() >= CATALOG_EVERY)
        {
            self.flush_catalogs(false, Duration::ZERO);
        }
        Ok(())
    }

    fn reload_providers(&mut self) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut fresh = HashMap::new();
        for row in self.store.providers()? {
            let cached = self.providers.remove(&row.id);
            let offline_due = self.offline_until.get(&row.id).is_some_and(|t| *t <= now);
            let entry = match cached {
                Some((old, opened))
                    if old.settings == row.settings && old.kind == row.kind && !offline_due =>
                {
                    (row, opened)
                }
                _ => {
                    let opened = Provider::open(&row);
                    if let Err(f) = &opened
                        && f.kind == FailureKind::Offline
                    {
                        self.mark_offline(&row.id, &f.message);
                    } else {
                        self.offline_until.remove(&row.id);
                        // A local folder that opens is there; a remote
                        // one answers only to an op.
                        if opened.is_ok() && row.kind == ProviderKind::Local {
                            self.answered(&row.id);
                        }
                    }
                    (row, opened)
                }
            };
            fresh.insert(entry.0.id.clone(), entry);
        }
        self.providers = fresh;
        Ok(())
    }

    /// Nothing runs here and nothing will become runnable for this engine
    /// (ops of offline or disabled providers do not count).
    fn is_idle(&self) -> Result<bool, StoreError> {
        if self.writing
            || !self.running.is_empty()
            || !self.reports.is_empty()
            || !self.ready.is_empty()
        {
            return Ok(false);
        }
        let now = Instant::now();
        let offline: Vec<String> = (self.offline_until.iter())
            .filter(|(_, t)| **t > now)
            .map(|(id, _)| id.clone())
            .chain(self.paused_providers.iter().cloned())
            .collect();
        let full = self.full.holding();
        Ok(!self.store.has_queued(&offline, &full)?
            && self.store.next_wakeup(&offline, &full)?.is_none())
    }
}
