//! The Assets view's model: one key per asset, its health judged as it is
//! read, kept by a thread of its own (with its own connection) so that the
//! UI never waits on disk. It filters and sorts the keys in memory, sends
//! the UI the rows shown and the counts per health, and carries out the
//! row actions (verify now, upload to, delete the copy on).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use super::model::Handle;
use super::order::{Order, ordered_i64};
use crate::store::{AssetKey, AssetRow, Health, NewOp, OpType, Policy, Scrub, Store, StoreError};
use crate::units::{format_duration, format_rate};

/// What the Assets grid sorts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AssetSort {
    /// The order assets were recorded in.
    #[default]
    Added,
    Name,
    Size,
    /// Copies that count, then copies held.
    Copies,
    /// The oldest verification of a good copy (never verified first).
    Verified,
    /// The worst first: damaged, at risk, local only, safe.
    Health,
}

/// What the Assets grid shows: which assets, in which order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct AssetSpec {
    /// Only assets in this health (the tabs).
    pub health: Option<Health>,
    /// Only assets with a copy on this provider (by id).
    pub provider: Option<String>,
    /// A name or path holds it, or the hash starts with it.
    pub text: String,
    pub sort: AssetSort,
    pub descending: bool,
}

/// One asset as the grid draws it.
#[derive(Clone, Debug, PartialEq)]
pub struct AssetLine {
    pub row: AssetRow,
    pub health: Health,
    /// Copies that count for "safe".
    pub counted: usize,
    /// The oldest verification of a good copy, in seconds since the epoch.
    pub oldest_verified_s: Option<u32>,
}

/// A provider as the row menu and the providers window show it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderChoice {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    /// Its scrub (the library's, or its own) and the bytes it holds, which
    /// set what the scrub reads a month.
    pub scrub: Scrub,
    pub held_bytes: i64,
}

/// Everything the Assets view draws, as of one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AssetsSnapshot {
    pub spec: AssetSpec,
    pub view_len: usize,
    /// `rows[0]` is the view's row number `window_start`.
    pub window_start: usize,
    pub rows: Vec<AssetLine>,
    /// Assets per health, in [`Health::ALL`] order, within the provider
    /// filter (the tabs), and their sum.
    pub counts: [usize; 4],
    pub total: usize,
    /// The same over the whole library (the status bar's line).
    pub library_counts: [usize; 4],
    pub policy: Policy,
    /// The library's scrub (a provider may have its own).
    pub scrub: Scrub,
    pub enabled_providers: usize,
    pub providers: Vec<ProviderChoice>,
    /// The keys of the view are not read yet (the grid and its tabs wait).
    pub loading: bool,
    /// The library is not counted yet (the status bar's line waits).
    pub counting: bool,
    pub notice: Option<String>,
    pub error: Option<String>,
}

/// A row action, on assets given by content hash.
#[derive(Clone, Debug)]
pub enum AssetAction {
    /// Verify every copy on an enabled provider now.
    Verify(Vec<String>),
    /// Upload to this provider (by id).
    UploadTo(Vec<String>, String),
    /// Delete the copy on this provider (by id), except an asset's last
    /// verified copy.
    DeleteCopy(Vec<String>, String),
    /// Keep this policy and scrub (the library's own, not a provider's).
    SetHealth { policy: Policy, scrub: Scrub },
}

/// A request from the UI.
#[derive(Debug)]
pub enum AssetRequest {
    View(AssetSpec),
    /// The rows the grid is about to draw.
    Window {
        start: usize,
        len: usize,
    },
    Act(AssetAction),
    /// Whether the view is on screen (while it is not, the library is read
    /// again less often: only the status bar's counts need it).
    Shown(bool),
}

pub type AssetsHandle = Handle<AssetRequest, AssetsSnapshot>;

/// Starts the Assets model on the library at `db`; `wake` is called when a
/// new snapshot is ready.
pub fn start(db: PathBuf, wake: impl Fn() + Send + 'static) -> Result<AssetsHandle, StoreError> {
    let store = Store::open(&db)?;
    store.set_cache_kib(8 * 1024)?;
    let (req_tx, req_rx) = mpsc::channel();
    let (snap_tx, snap_rx) = mpsc::channel();
    let mut model = AssetsModel::new(store);
    std::thread::Builder::new()
        .name("breakdex-assets".into())
        .spawn(move || model.run(req_rx, snap_tx, wake))
        .map_err(|e| StoreError::Invalid(format!("cannot start: {e}")))?;
    Ok(Handle::new(
        req_tx,
        snap_rx,
        AssetsSnapshot {
            loading: true,
            counting: true,
            ..AssetsSnapshot::default()
        },
    ))
}

/// How often requests are looked for while nothing comes.
const TICK: Duration = Duration::from_millis(250);
/// A health depends on time too (a verification grows old): the library
/// is judged again this often even when nothing changed.
const REJUDGE_EVERY: Duration = Duration::from_secs(60);

struct AssetsModel {
    store: Store,
    keys: Vec<AssetKey>,
    /// The providers' ids in name order (what `AssetKey::on_providers` counts).
    provider_ids: Vec<String>,
    providers: Vec<ProviderChoice>,
    order: Order,
    spec: AssetSpec,
    text_match: Option<HashSet<i64>>,
    window: (usize, usize),
    counts: [usize; 4],
    total: usize,
    library_counts: [usize; 4],
    policy: Policy,
    scrub: Scrub,
    enabled_providers: usize,
    version: Option<i64>,
    loaded_at: Option<Instant>,
    load_cost: Duration,
    shown: bool,
    /// The keys are read for the view shown (not only the counts).
    view_ready: bool,
    /// While the whole pass is owed: the keys hold only the rows in view,
    /// of this many assets.
    head_of: Option<usize>,
    /// The library was counted once.
    counted: bool,
    notice: Option<String>,
    error: Option<String>,
}

impl AssetsModel {
    fn new(store: Store) -> AssetsModel {
        AssetsModel {
            store,
            keys: Vec::new(),
            provider_ids: Vec::new(),
            providers: Vec::new(),
            order: Order::default(),
            spec: AssetSpec::default(),
            text_match: None,
            window: (0, 60),
            counts: [0; 4],
            total: 0,
            library_counts: [0; 4],
            policy: Policy::default(),
            scrub: Scrub::default(),
            enabled_providers: 0,
            version: None,
            loaded_at: None,
            load_cost: Duration::ZERO,
            shown: false,
            view_ready: false,
            head_of: None,
            counted: false,
            notice: None,
            error: None,
        }
    }

    fn run(&mut self, rx: Receiver<AssetRequest>, tx: Sender<AssetsSnapshot>, wake: impl Fn()) {
        let mut last_sent: Option<AssetsSnapshot> = None;
        loop {
            let (mut view_changed, mut acted) = (false, false);
            let window = self.window;
            let sorting = self.order.sorting();
            // (A whole pass owed is made at once.)
            let wait = if self.head_of.is_some() {
                Duration::ZERO
            } else {
                TICK
            };
            match rx.recv_timeout(wait) {
                Ok(req) => self.take(req, &mut view_changed, &mut acted),
                Err(RecvTimeoutError::Timeout) => self.order.finish(),
                Err(RecvTimeoutError::Disconnected) => return,
            }
            while let Ok(req) = rx.try_recv() {
                self.take(req, &mut view_changed, &mut acted);
            }
            let read_news = match self.refresh(view_changed) {
                Ok(news) => news,
                Err(e) => {
                    self.error = Some(e.to_string());
                    // (Not read again at once.)
                    self.head_of = None;
                    true
                }
            };
            let news = acted
                || read_news
                || self.window != window
                || sorting != self.order.sorting()
                || last_sent.is_none();
            if !news {
                continue;
            }
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

    fn take(&mut self, req: AssetRequest, view_changed: &mut bool, acted: &mut bool) {
        match req {
            AssetRequest::View(spec) => {
                if spec != self.spec {
                    if spec.text != self.spec.text {
                        self.text_match = None;
                    }
                    self.spec = spec;
                    *view_changed = true;
                }
            }
            AssetRequest::Window { start, len } => self.window = (start, len),
            AssetRequest::Shown(shown) => {
                if shown != self.shown {
                    self.shown = shown;
                    if shown {
                        // Its keys are read now.
                        self.loaded_at = None;
                    } else {
                        // They go (tens of MB at a million assets); the
                        // counts read with them stay until the next read.
                        self.keys = Vec::new();
                        self.order.clear();
                        self.view_ready = false;
                    }
                }
            }
            AssetRequest::Act(action) => {
                *acted = true;
                match self.act(action) {
                    Ok(notice) => {
                        self.notice = Some(notice);
                        self.error = None;
                    }
                    Err(e) => self.error = Some(e),
                }
            }
        }
    }

    /// Reads the library again when it changed (or its health may have, with
    /// time) and the last read is not too recent, and rebuilds the view;
    /// says whether anything shown may have changed.
    fn refresh(&mut self, view_changed: bool) -> crate::store::Result<bool> {
        let version = self.store.data_version()?;
        // A big library is read less often, so the reads never hog a core;
        // still less while the view is not on screen.
        let spacing = if self.shown {
            (self.load_cost * 4).clamp(Duration::from_secs(1), Duration::from_secs(10))
        } else {
            (self.load_cost * 10).clamp(Duration::from_secs(5), Duration::from_secs(600))
        };
        // (Health changes with time too, but a read that costs seconds is
        // not made again every minute for it.)
        let due = self.loaded_at.is_none_or(|t| {
            let age = t.elapsed();
            age >= REJUDGE_EVERY.max(spacing) || (age >= spacing && self.version != Some(version))
        });
        if due && self.head_of.is_none() && self.shows_head() {
            // The first look at the view: the rows in view are read and sent
            // on their own, the whole pass (a second at a million assets)
            // made right after.
            let rules = self.store.health_rules()?;
            let keys = (self.store).head_asset_keys(&rules, self.window.1, self.spec.descending)?;
            let known = match self.counted {
                true => self.library_counts.iter().sum(),
                false => self.store.asset_count()?,
            };
            self.head_of = Some(known.max(keys.len()));
            self.order
                .set((0..keys.len() as u128).collect(), self.window);
            self.keys = keys;
            return Ok(true);
        }
        if due {
            let started = Instant::now();
            self.order.clear();
            let rules = self.store.health_rules()?;
            self.policy = self.store.policy()?;
            self.scrub = self.store.scrub()?;
            self.enabled_providers = rules.enabled_providers();
            let scan = match self.shown {
                true => {
                    let scan = self.store.scan_asset_keys(&rules, &mut self.keys)?;
                    self.store.rank_asset_names(&mut self.keys)?;
                    scan
                }
                // Hidden, only the status bar's counts are needed: no keys
                // held (tens of MB at a million assets).
                false => {
                    self.keys = Vec::new();
                    self.store.health_scan(&rules)?
                }
            };
            for (h, n) in &scan.counts {
                self.library_counts[health_index(*h)] = *n as usize;
            }
            self.view_ready = self.shown;
            self.head_of = None;
            self.counted = true;
            let held = scan.held_bytes;
            self.provider_ids = scan.provider_ids;
            let mut providers = Vec::new();
            for p in self.store.providers()? {
                providers.push(ProviderChoice {
                    scrub: self.store.scrub_of(&p.id)?,
                    held_bytes: held.get(&p.id).copied().unwrap_or(0),
                    id: p.id,
                    name: p.name,
                    enabled: p.enabled,
                });
            }
            self.providers = providers;
            self.version = Some(version);
            self.loaded_at = Some(Instant::now());
            self.load_cost = started.elapsed();
            self.text_match = None;
        }
        if due || view_changed {
            self.rebuild_order()?;
        }
        if due {
            super::model::give_back_memory();
        }
        Ok(due || view_changed)
    }

    /// Whether the view, about to be read, shows its first rows in the
    /// order assets were added: what the first look reads on its own.
    fn shows_head(&self) -> bool {
        let s = &self.spec;
        self.shown
            && !self.view_ready
            && self.window.0 == 0
            && s.sort == AssetSort::Added
            && s.health.is_none()
            && s.provider.is_none()
            && s.text.is_empty()
    }

    fn rebuild_order(&mut self) -> crate::store::Result<()> {
        if !self.spec.text.is_empty() && self.text_match.is_none() {
            self.text_match = Some(self.store.assets_matching(&self.spec.text)?);
        }
        let provider_bit = match &self.spec.provider {
            None => None,
            Some(id) => match self.provider_ids.iter().position(|p| p == id) {
                Some(rank) if rank < 32 => Some(1u32 << rank),
                // A provider gone (or past the 32nd): nothing on it shows.
                _ => Some(0),
            },
        };
        let flip = if self.spec.descending { u64::MAX } else { 0 };
        let (spec, text) = (&self.spec, self.text_match.as_ref());
        self.counts = [0; 4];
        let mut keys: Vec<u128> = Vec::with_capacity(self.keys.len());
        for (i, k) in self.keys.iter().enumerate() {
            if provider_bit.is_some_and(|bit| k.on_providers & bit == 0) {
                continue;
            }
            self.counts[health_index(k.health)] += 1;
            if spec.health.is_some_and(|h| h != k.health)
                || text.is_some_and(|t| !t.contains(&k.rowid))
            {
                continue;
            }
            let primary = sort_value(spec.sort, k) ^ flip;
            keys.push(u128::from(primary) << 64 | i as u128);
        }
        self.total = self.counts.iter().sum();
        self.order.set(keys, self.window);
        Ok(())
    }

    fn snapshot(&mut self) -> AssetsSnapshot {
        let (start, len) = self.window;
        let view_len = self.head_of.unwrap_or_else(|| self.order.len());
        let start = start.min(view_len);
        let end = start.saturating_add(len).min(view_len);
        // (While only the head is read, the rows past it wait for the pass.)
        let held = self.order.len();
        let shown: Vec<AssetKey> = (self.order.rows(start.min(held), end.min(held)).iter())
            .map(|&i| self.keys[i as usize])
            .collect();
        let rowids: Vec<i64> = shown.iter().map(|k| k.rowid).collect();
        let rows = match self.store.asset_rows(&rowids) {
            Ok(rows) => rows,
            Err(e) => {
                self.error = Some(e.to_string());
                Vec::new()
            }
        };
        let rows = (rows.into_iter())
            .filter_map(|row| {
                let k = shown.iter().find(|k| k.rowid == row.rowid)?;
                Some(AssetLine {
                    row,
                    health: k.health,
                    counted: usize::from(k.counted),
                    oldest_verified_s: (k.oldest_verified_s != 0).then_some(k.oldest_verified_s),
                })
            })
            .collect();
        AssetsSnapshot {
            spec: self.spec.clone(),
            view_len,
            window_start: start,
            rows,
            counts: self.counts,
            total: self.total,
            library_counts: self.library_counts,
            policy: self.policy,
            scrub: self.scrub,
            enabled_providers: self.enabled_providers,
            providers: self.providers.clone(),
            loading: !self.view_ready,
            counting: !self.counted,
            notice: self.notice.clone(),
            error: self.error.clone(),
        }
    }

    /// Carries out a row action; returns a line for the status bar.
    fn act(&mut self, action: AssetAction) -> Result<String, String> {
        let s = &mut self.store;
        let e = |e: StoreError| e.to_string();
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        match action {
            AssetAction::Verify(hashes) => {
                let enabled: Vec<String> = (s.providers().map_err(e)?.into_iter())
                    .filter(|p| p.enabled)
                    .map(|p| p.id)
                    .collect();
                let mut ops = Vec::new();
                for hash in &hashes {
                    let Some(asset) = s.asset(hash).map_err(e)? else {
                        continue;
                    };
                    for copy in s.copies_of(hash).map_err(e)? {
                        if enabled.contains(&copy.provider_id) {
                            ops.push(op(
                                hash,
                                &copy.provider_id,
                                OpType::Verify,
                                asset.size_bytes,
                            ));
                        }
                    }
                }
                if ops.is_empty() {
                    return Err("nothing to verify: no copy on an enabled provider".into());
                }
                let queued = s.enqueue(&ops).map_err(e)?.len();
                Ok(format!("{} queued", plural(queued, "verify")))
            }
            AssetAction::UploadTo(hashes, provider_id) => {
                let provider = s.provider(&provider_id).map_err(e)?;
                let mut ops = Vec::new();
                for hash in &hashes {
                    if let Some(asset) = s.asset(hash).map_err(e)? {
                        ops.push(op(hash, &provider.id, OpType::Upload, asset.size_bytes));
                    }
                }
                let queued = s.enqueue(&ops).map_err(e)?.len();
                Ok(format!(
                    "{} to '{}' queued",
                    plural(queued, "upload"),
                    provider.name
                ))
            }
            AssetAction::SetHealth { policy, scrub } => {
                s.set_policy(Some(policy.min_copies), Some(policy.offline_grace))
                    .map_err(e)?;
                s.set_scrub(None, Some(scrub.every), Some(scrub.budget_bps))
                    .map_err(e)?;
                // Read again at once: the badges follow the new policy.
                self.loaded_at = None;
                Ok(format!(
                    "copy health settings saved: {} per asset, offline grace {}, scrub every {} at most {}",
                    super::format::copies(policy.min_copies),
                    format_duration(policy.offline_grace),
                    format_duration(scrub.every),
                    format_rate(scrub.budget_bps)
                ))
            }
            AssetAction::DeleteCopy(hashes, provider_id) => {
                let provider = s.provider(&provider_id).map_err(e)?;
                let (mut ops, mut refused) = (Vec::new(), Vec::new());
                for hash in &hashes {
                    let Some(asset) = s.asset(hash).map_err(e)? else {
                        continue;
                    };
                    match s.delete_refusal(hash, &provider.id).map_err(e)? {
                        Some(why) => refused.push(format!("{}: {why}", asset.original_name)),
                        None => ops.push(op(hash, &provider.id, OpType::DeleteRemote, 0)),
                    }
                }
                let queued = s.enqueue(&ops).map_err(e)?.len();
                let done = format!("{} on '{}' queued", plural(queued, "delete"), provider.name);
                if refused.is_empty() {
                    Ok(done)
                } else {
                    Err(format!("{done}; not deleted: {}", refused.join("; ")))
                }
            }
        }
    }
}

fn op(hash: &str, provider_id: &str, operation_type: OpType, total_bytes: i64) -> NewOp {
    NewOp {
        content_hash: hash.to_string(),
        provider_id: provider_id.to_string(),
        operation_type,
        priority: 0,
        total_bytes,
    }
}

/// A health's place in [`Health::ALL`].
pub fn health_index(h: Health) -> usize {
    Health::ALL.iter().position(|x| *x == h).unwrap_or(0)
}

fn sort_value(sort: AssetSort, k: &AssetKey) -> u64 {
    match sort {
        AssetSort::Added => k.rowid as u64,
        AssetSort::Name => u64::from(k.name_rank),
        AssetSort::Size => ordered_i64(k.size_bytes),
        AssetSort::Copies => u64::from(k.counted) << 16 | u64::from(k.held),
        AssetSort::Verified => u64::from(k.oldest_verified_s),
        AssetSort::Health => match k.health {
            Health::Damaged => 0,
            Health::AtRisk => 1,
            Health::LocalOnly => 2,
            Health::Safe => 3,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(s: &AssetsSnapshot) -> Vec<String> {
        s.rows.iter().map(|r| r.row.content_hash.clone()).collect()
    }

    /// The first look at the view shows the rows in view, judged, before the
    /// whole library is read (and says it is still reading); the whole read
    /// then shows the same rows, for the same length.
    #[test]
    fn the_first_look_shows_the_rows_in_view_before_the_whole_read() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("library.db");
        crate::demo::make_demo_library(&db, 3000, "test").unwrap();
        let store = Store::open(&db).unwrap();
        let assets = store.asset_listing().unwrap().len();
        assert!(assets > 40, "{assets}");
        for descending in [false, true] {
            let mut h = start(db.clone(), || {}).unwrap();
            h.send(AssetRequest::View(AssetSpec {
                descending,
                ..AssetSpec::default()
            }));
            h.send(AssetRequest::Window { start: 0, len: 20 });
            h.send(AssetRequest::Shown(true));
            let limit = Duration::from_secs(60);
            assert!(h.wait_for(limit, |s| !s.rows.is_empty()), "no rows");
            let head = h.snapshot.clone();
            assert!(head.loading, "the first rows came with the whole read");
            assert_eq!(head.view_len, assets);
            assert_eq!(head.rows.len(), 20);
            assert!(h.wait_for(limit, |s| !s.loading), "never read whole");
            let whole = &h.snapshot;
            assert_eq!(whole.view_len, assets);
            assert_eq!(hashes(whole), hashes(&head), "descending: {descending}");
            let judged = |s: &AssetsSnapshot| -> Vec<_> {
                s.rows
                    .iter()
                    .map(|r| (r.health, r.counted, r.oldest_verified_s))
                    .collect()
            };
            assert_eq!(judged(whole), judged(&head));
        }
    }
}
