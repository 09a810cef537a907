//! The window's view of the queue, kept by a background thread so that the UI
//! thread never waits on disk.
//!
//! The thread holds one compact key per op ([`OpKey`]), filters and sorts
//! them in memory (a million rows re-sort in well under a second), and sends
//! the UI only what it draws: the rows of the visible window, the counts, the
//! providers' state and the speed. It also carries out the person's actions
//! (retry, cancel, priority, remove, providers) on its own connection.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use crate::providers::Provider;
use crate::store::{OpKey, OpRow, OpState, ProviderKind, ProviderRow, SortKey, Store};

/// The tabs over the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Tab {
    #[default]
    All,
    Queued,
    Active,
    Failed,
    Completed,
}

impl Tab {
    pub const ALL: [Tab; 5] = [
        Tab::All,
        Tab::Queued,
        Tab::Active,
        Tab::Failed,
        Tab::Completed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Tab::All => "All",
            Tab::Queued => "Queued",
            Tab::Active => "Active",
            Tab::Failed => "Failed",
            Tab::Completed => "Completed",
        }
    }

    fn contains(self, state: OpState) -> bool {
        match self {
            Tab::All => true,
            Tab::Queued => state == OpState::Queued,
            Tab::Active => state == OpState::InProgress,
            Tab::Failed => matches!(state, OpState::RetryPending | OpState::PermanentlyFailed),
            Tab::Completed => state == OpState::Completed,
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
    /// `Err(reason)` when the provider cannot be reached or is misconfigured.
    pub online: Result<(), String>,
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
    /// Ops per tab (within the provider filter).
    pub tab_counts: [usize; 5],
    /// Ops per state over the whole queue.
    pub retry_pending: usize,
    pub permanently_failed: usize,
    pub providers: Vec<ProviderStatus>,
    /// Bytes per second over the last seconds.
    pub speed: f64,
    /// Bytes still to move for queued and running ops.
    pub remaining_bytes: i64,
    /// Still reading the queue for the first time.
    pub loading: bool,
    /// The last action's problem, for the status bar.
    pub error: Option<String>,
    /// The last action's result, for the status bar.
    pub notice: Option<String>,
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
    AddProvider {
        name: String,
        kind: ProviderKind,
        settings: serde_json::Value,
        concurrency: i64,
    },
    UpdateProvider {
        id: String,
        name: String,
        settings: serde_json::Value,
        concurrency: i64,
    },
    SetProviderEnabled(String, bool),
    RemoveProvider(String),
    TestProvider(String),
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

/// The UI's end of the model thread.
pub struct ModelHandle {
    tx: Sender<Request>,
    rx: Receiver<Snapshot>,
    /// The newest snapshot received.
    pub snapshot: Snapshot,
}

impl ModelHandle {
    pub fn send(&self, request: Request) {
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
    pub fn wait_for(&mut self, timeout: Duration, done: impl Fn(&Snapshot) -> bool) -> bool {
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
    let (req_tx, req_rx) = mpsc::channel();
    let (snap_tx, snap_rx) = mpsc::channel();
    let mut model = Model {
        store,
        keys: Vec::new(),
        order: Vec::new(),
        spec: ViewSpec::default(),
        text_match: None,
        window: (0, 60),
        version: None,
        loaded_at: None,
        load_cost: Duration::ZERO,
        providers: Vec::new(),
        providers_at: None,
        done_bytes: Vec::new(),
        error: None,
        notice: None,
        loading: true,
    };
    std::thread::Builder::new()
        .name("breakdex-model".into())
        .spawn(move || model.run(req_rx, snap_tx, wake))
        .map_err(|e| crate::store::StoreError::Invalid(format!("cannot start: {e}")))?;
    Ok(ModelHandle {
        tx: req_tx,
        rx: snap_rx,
        snapshot: Snapshot {
            loading: true,
            ..Snapshot::default()
        },
    })
}

struct Model {
    store: Store,
    keys: Vec<OpKey>,
    /// Indices into `keys`, in view order.
    order: Vec<u32>,
    spec: ViewSpec,
    text_match: Option<HashSet<i64>>,
    window: (usize, usize),
    version: Option<i64>,
    loaded_at: Option<Instant>,
    load_cost: Duration,
    providers: Vec<ProviderStatus>,
    providers_at: Option<Instant>,
    /// (when, bytes done) samples for the speed.
    done_bytes: Vec<(Instant, i64)>,
    error: Option<String>,
    notice: Option<String>,
    loading: bool,
}

/// How often the visible rows are re-read while something runs.
const TICK: Duration = Duration::from_millis(250);

impl Model {
    fn run(&mut self, rx: Receiver<Request>, tx: Sender<Snapshot>, wake: impl Fn()) {
        // A first page at once, from the index, before the full read.
        let _ = self.reload_providers();
        let first = self
            .store
            .list_ops(&crate::store::OpQuery {
                limit: Some(100),
                ..Default::default()
            })
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
            match rx.recv_timeout(TICK) {
                Ok(req) => self.take(req, &mut view_changed, &mut acted),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            while let Ok(req) = rx.try_recv() {
                self.take(req, &mut view_changed, &mut acted);
            }
            if let Err(e) = self.refresh(view_changed, acted) {
                self.error = Some(e.to_string());
            }
            // Only news wakes the window.
            let snapshot = self.snapshot();
            if last_sent.as_ref() == Some(&snapshot) {
                continue;
            }
            if tx.send(snapshot.clone()).is_err() {
                return;
            }
            last_sent = Some(snapshot);
            wake();
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

    /// Re-reads what changed and rebuilds the view.
    fn refresh(&mut self, view_changed: bool, acted: bool) -> crate::store::Result<()> {
        let version = self.store.data_version()?;
        let changed = acted || self.version != Some(version);
        // A big queue is re-read less often, so the reads never hog a core.
        let due = self.loaded_at.is_none_or(|t| {
            t.elapsed() >= (self.load_cost * 4).clamp(TICK, Duration::from_secs(5))
        });
        let mut rebuilt = false;
        if (changed && due) || self.loaded_at.is_none() || acted {
            let started = Instant::now();
            let mut keys = Vec::with_capacity(self.keys.len());
            self.store.scan_keys(|k| keys.push(k))?;
            self.keys = keys;
            self.version = Some(version);
            self.loaded_at = Some(Instant::now());
            self.load_cost = started.elapsed();
            self.loading = false;
            self.text_match = None;
            self.sample_speed();
            rebuilt = true;
        }
        if rebuilt || view_changed {
            self.rebuild_order()?;
        }
        if self
            .providers_at
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(2))
            || acted
        {
            self.reload_providers()?;
        }
        Ok(())
    }

    fn reload_providers(&mut self) -> crate::store::Result<()> {
        self.providers = self
            .store
            .providers()?
            .into_iter()
            .map(|row| {
                let online = Provider::open(&row)
                    .and_then(|p| p.check_online())
                    .map_err(|f| f.message);
                ProviderStatus { row, online }
            })
            .collect();
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
        let mut order: Vec<u32> = (0..keys.len() as u32)
            .filter(|&i| {
                let k = &keys[i as usize];
                spec.tab.contains(k.state)
                    && provider_rank.is_none_or(|r| k.provider_rank == r)
                    && text.is_none_or(|t| t.contains(&k.rowid))
            })
            .collect();
        let sort = spec.sort;
        let descending = spec.descending;
        order.sort_unstable_by(|&a, &b| {
            let (a, b) = (&keys[a as usize], &keys[b as usize]);
            let primary = compare(sort, a, b);
            let primary = if descending {
                primary.reverse()
            } else {
                primary
            };
            primary.then_with(|| queue_order(a, b))
        });
        self.order = order;
        Ok(())
    }

    /// The rank of the filtered provider, as the keys count it.
    fn provider_rank(&self) -> Option<u32> {
        let id = self.spec.provider.as_ref()?;
        let mut names: Vec<(&str, &str)> = self
            .providers
            .iter()
            .map(|p| (p.row.name.as_str(), p.row.id.as_str()))
            .collect();
        names.sort();
        Some(
            names
                .iter()
                .position(|(_, pid)| pid == id)
                .map(|i| i as u32 + 1)
                .unwrap_or(u32::MAX),
        )
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

    fn speed(&self) -> f64 {
        match (self.done_bytes.first(), self.done_bytes.last()) {
            (Some((t0, b0)), Some((t1, b1))) if t1 > t0 => {
                ((b1 - b0).max(0) as f64) / t1.duration_since(*t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    fn snapshot(&mut self) -> Snapshot {
        let provider_rank = self.provider_rank();
        let mut tab_counts = [0usize; 5];
        let (mut retry_pending, mut permanently_failed, mut remaining) = (0, 0, 0i64);
        for k in &self.keys {
            match k.state {
                OpState::RetryPending => retry_pending += 1,
                OpState::PermanentlyFailed => permanently_failed += 1,
                OpState::Queued | OpState::InProgress => {
                    remaining += (k.total_bytes - k.bytes_transferred).max(0)
                }
                OpState::Completed => {}
            }
            if provider_rank.is_some_and(|r| k.provider_rank != r) {
                continue;
            }
            for (i, tab) in Tab::ALL.iter().enumerate() {
                if tab.contains(k.state) {
                    tab_counts[i] += 1;
                }
            }
        }
        let (start, len) = self.window;
        let start = start.min(self.order.len());
        let end = (start + len).min(self.order.len());
        let rowids: Vec<i64> = self.order[start..end]
            .iter()
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
            view_len: self.order.len(),
            window_start: start,
            rows,
            tab_counts,
            retry_pending,
            permanently_failed,
            providers: self.providers.clone(),
            speed: self.speed(),
            remaining_bytes: remaining,
            loading: self.loading,
            error: self.error.clone(),
            notice: self.notice.clone(),
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
                name,
                kind,
                settings,
                concurrency,
            } => s
                .add_provider(&name, kind, &settings, concurrency)
                .map(|p| Some(format!("provider '{}' added", p.name))),
            Action::UpdateProvider {
                id,
                name,
                settings,
                concurrency,
            } => s
                .update_provider(&id, &name, &settings, concurrency)
                .map(|()| Some(format!("provider '{name}' saved"))),
            Action::SetProviderEnabled(id, enabled) => {
                s.set_provider_enabled(&id, enabled).map(|()| None)
            }
            Action::RemoveProvider(id) => s
                .remove_provider(&id)
                .map(|n| Some(format!("provider removed, with {}", plural(n, "op")))),
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

/// The claim order: highest priority first, then oldest.
fn queue_order(a: &OpKey, b: &OpKey) -> Ordering {
    b.priority.cmp(&a.priority).then(a.rowid.cmp(&b.rowid))
}

fn compare(sort: SortKey, a: &OpKey, b: &OpKey) -> Ordering {
    let progress = |k: &OpKey| {
        if k.total_bytes > 0 {
            k.bytes_transferred as f64 / k.total_bytes as f64
        } else {
            0.0
        }
    };
    match sort {
        SortKey::QueueOrder => queue_order(a, b),
        SortKey::AssetName => a.name_rank.cmp(&b.name_rank),
        SortKey::Provider => a.provider_rank.cmp(&b.provider_rank),
        SortKey::OperationType => a.operation_type.as_str().cmp(b.operation_type.as_str()),
        SortKey::Status => (a.state as u8).cmp(&(b.state as u8)),
        SortKey::Priority => a.priority.cmp(&b.priority),
        SortKey::Progress => progress(a).total_cmp(&progress(b)),
        SortKey::Retries => a.retry_count.cmp(&b.retry_count),
        SortKey::Size => a.total_bytes.cmp(&b.total_bytes),
        SortKey::CreatedAt => a.rowid.cmp(&b.rowid),
        SortKey::StartedAt => a.started_ms.cmp(&b.started_ms),
        SortKey::CompletedAt => a.completed_ms.cmp(&b.completed_ms),
        SortKey::ContentHash => a.hash_prefix.cmp(&b.hash_prefix),
    }
}
