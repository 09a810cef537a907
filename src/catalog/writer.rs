//! Writing this library's catalog to its providers, on a thread of the
//! engine's own with its own connection: what each provider's catalog lacks
//! goes up as one segment per batch, not per file, under a writer lease so
//! that two engines on one library do not both write it. A provider that
//! gathers many segments gets them compacted into a snapshot, and the
//! segments it replaces are deleted.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use super::{format, io};
use crate::engine::Owner;
use crate::providers::{Failure, FailureKind, Provider};
use crate::store::{PendingSegment, Store, StoreError, timestamp};

/// Most assets one segment describes.
pub const SEGMENT_ENTRIES: usize = 20_000;
/// A provider whose catalog lacks this many entries gets a segment at once;
/// fewer wait (at most [`WRITE_EVERY`]), so that small batches are grouped.
const WRITE_AT: i64 = 2_000;
/// Longest a provider's catalog lags while the engine runs.
const WRITE_EVERY: Duration = Duration::from_secs(10);
/// A provider with more segments of this library than this gets them
/// compacted.
const COMPACT_AFTER: usize = 32;
/// How long a failed provider is left alone before the next try (a final
/// flush tries anyway).
const RETRY_AFTER: Duration = Duration::from_secs(30);
/// How long the writer lease holds without a new segment.
const LEASE: Duration = Duration::from_secs(300);

/// What the engine asks: write what these providers' catalogs lack, the
/// whole backlog if `all` (a run ending), otherwise what is due.
pub struct Flush {
    pub providers: Vec<Provider>,
    pub all: bool,
}

/// What a flush did.
#[derive(Debug, Default)]
pub struct Flushed {
    pub segments: u64,
    pub entries: u64,
    /// Providers whose catalog could not be written, and why.
    pub problems: Vec<Failure>,
}

/// The writing thread, fed through this handle; it ends when the handle is
/// dropped, which waits for it (it holds the engine's [`Owner`], whose lock
/// file goes only with the last holder).
pub struct CatalogWriter {
    tx: Option<mpsc::Sender<Flush>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CatalogWriter {
    /// Opens its own connection to the library and starts the thread, which
    /// answers each flush by calling `answer`.
    pub fn start(
        db_path: &Path,
        owner: Arc<Owner>,
        runtime: tokio::runtime::Handle,
        answer: impl Fn(Flushed) + Send + 'static,
    ) -> Result<CatalogWriter, StoreError> {
        let store = Store::open(db_path)?;
        let library = store.library_id()?;
        let (tx, rx) = mpsc::channel::<Flush>();
        let mut state = State {
            store,
            library,
            owner,
            runtime,
            waiting_since: HashMap::new(),
            failed_at: HashMap::new(),
        };
        let thread = std::thread::Builder::new()
            .name("breakdex-catalog".into())
            .spawn(move || {
                for flush in rx {
                    let flushed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        state.flush(flush)
                    }))
                    .unwrap_or_else(|_| Flushed {
                        problems: vec![Failure::transient(
                            "internal error while writing the catalog (please report it)",
                        )],
                        ..Flushed::default()
                    });
                    answer(flushed);
                }
            })
            .map_err(|e| StoreError::Invalid(format!("cannot start the engine: {e}")))?;
        Ok(CatalogWriter {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queues a flush; false if the thread is gone.
    pub fn send(&self, flush: Flush) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.send(flush).is_ok())
    }
}

impl Drop for CatalogWriter {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct State {
    store: Store,
    library: String,
    owner: Arc<Owner>,
    runtime: tokio::runtime::Handle,
    /// Since when each provider's catalog has lacked entries.
    waiting_since: HashMap<String, Instant>,
    /// When writing to a provider last failed.
    failed_at: HashMap<String, Instant>,
}

impl State {
    fn flush(&mut self, flush: Flush) -> Flushed {
        let mut flushed = Flushed::default();
        // A flush of everything needs only to know which catalogs lack
        // anything: each is written until it lacks nothing.
        let enough = if flush.all { 1 } else { WRITE_AT };
        let backlog = match self.store.catalog_backlog(enough) {
            Ok(b) => b,
            Err(e) => {
                flushed.problems.push(Failure::transient(format!(
                    "cannot read what the catalog lacks: {e}"
                )));
                return flushed;
            }
        };
        let now = Instant::now();
        if !flush.all {
            self.waiting_since.retain(|id, _| backlog.contains_key(id));
        }
        for provider in &flush.providers {
            let Some(&lacking) = backlog.get(&provider.id) else {
                continue;
            };
            if !flush.all {
                let since = *self.waiting_since.entry(provider.id.clone()).or_insert(now);
                let due = lacking >= WRITE_AT || now.duration_since(since) >= WRITE_EVERY;
                let resting = self
                    .failed_at
                    .get(&provider.id)
                    .is_some_and(|t| now.duration_since(*t) < RETRY_AFTER);
                if !due || resting {
                    continue;
                }
            }
            match self.write_all_pending(provider, &mut flushed) {
                Ok(()) => {
                    self.failed_at.remove(&provider.id);
                    self.waiting_since.remove(&provider.id);
                }
                Err(f) => {
                    self.failed_at.insert(provider.id.clone(), Instant::now());
                    // Offline: its ops say so; the catalog waits with them.
                    if f.kind != FailureKind::Offline {
                        tracing::warn!("{}", f.message);
                        flushed.problems.push(f);
                    }
                }
            }
            let _ = self.store.catalog_release(&provider.id, &self.owner.id);
        }
        flushed
    }

    /// Writes segments until the provider's catalog lacks nothing, then
    /// compacts it if it has many.
    fn write_all_pending(
        &mut self,
        provider: &Provider,
        flushed: &mut Flushed,
    ) -> Result<(), Failure> {
        let owner = self.owner.clone();
        loop {
            let t = Instant::now();
            let taken = self
                .store
                .catalog_take(&provider.id, &owner.id, LEASE, SEGMENT_ENTRIES, |o| {
                    owner.is_dead(o)
                })
                .map_err(library_failure)?;
            let Some(segment) = taken else { break };
            tracing::debug!(
                "catalog of '{}': {} entries read in {:?}",
                provider.name,
                segment.entries.len(),
                t.elapsed()
            );
            self.write_segment(provider, &segment, false)?;
            tracing::debug!(
                "catalog of '{}': segment written after {:?}",
                provider.name,
                t.elapsed()
            );
            flushed.segments += 1;
            flushed.entries += segment.entries.len() as u64;
            if !segment.more {
                break;
            }
        }
        let segments = self
            .store
            .catalog_segments(&provider.id)
            .map_err(library_failure)?;
        if segments.len() > COMPACT_AFTER {
            self.compact(provider, flushed)?;
        }
        Ok(())
    }

    /// Puts one segment on the provider, then records it.
    fn write_segment(
        &mut self,
        provider: &Provider,
        segment: &PendingSegment,
        snapshot: bool,
    ) -> Result<(), Failure> {
        let written_at = timestamp(SystemTime::now());
        let t = Instant::now();
        let bytes = format::encode(
            &self.library,
            segment.seq,
            snapshot,
            &written_at,
            &segment.entries,
        );
        let name = format::segment_name(&self.library, segment.seq, &bytes);
        let len = bytes.len();
        tracing::debug!(
            "catalog segment {name}: {len} bytes encoded in {:?}",
            t.elapsed()
        );
        // On a provider that encrypts, sealed: names never go there in clear.
        let bytes = match provider.keys() {
            Some(keys) => crate::crypto::seal_bytes(keys, &bytes)
                .map_err(|e| Failure::permanent(format!("sealing a catalog segment: {e}")))?,
            None => bytes,
        };
        self.runtime.block_on(io::put(provider, &name, bytes))?;
        self.store
            .catalog_written(segment, &name, len, &self.owner.id)
            .map_err(library_failure)
    }

    /// Replaces this library's segments on a provider by a snapshot of all
    /// it records there (in as many segments as it takes), then deletes the
    /// older ones: those it recorded, and any it wrote but did not record
    /// (a crash between the two).
    fn compact(&mut self, provider: &Provider, flushed: &mut Flushed) -> Result<(), Failure> {
        let snapshot = self
            .store
            .catalog_snapshot(&provider.id, &self.owner.id, SEGMENT_ENTRIES)
            .map_err(library_failure)?;
        let Some(first) = snapshot.first().map(|s| s.seq) else {
            return Ok(());
        };
        for segment in &snapshot {
            self.write_segment(provider, segment, true)?;
            flushed.segments += 1;
        }
        let prefix = format!("catalog/{}/", self.library);
        let listed = self.runtime.block_on(io::list(provider, &prefix))?;
        let mut gone = Vec::new();
        for (key, _) in listed {
            let file = key.rsplit('/').next().unwrap_or_default();
            if format::segment_seq(file).is_some_and(|seq| seq < first) {
                self.runtime.block_on(io::delete(provider, &key))?;
                gone.push(key);
            }
        }
        self.store
            .catalog_forget_segments(&provider.id, &gone)
            .map_err(library_failure)
    }
}

fn library_failure(e: StoreError) -> Failure {
    Failure::transient(format!("cannot record the catalog in the library: {e}"))
}
