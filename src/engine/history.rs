//! The engine's history pruner: a thread with its own connection that
//! removes the completed ops older than the library's retention
//! (`Store::history_keep`), a chunk of the queue per transaction
//! (`Store::prune_chunk`), at the engine's start and then every hour,
//! pausing after each chunk that removed something so the engine's writer
//! and the window take the write lock in between.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crate::store::{Store, StoreError};

/// How often a long-running engine looks again.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// The pause after a chunk that removed ops.
const BETWEEN_CHUNKS: Duration = Duration::from_millis(5);

/// One pass over the queue: removes the completed ops older than the
/// retention; stops between two chunks once `stop` is set. Returns how many
/// it removed.
pub fn prune(store: &mut Store, stop: &AtomicBool) -> Result<u64, StoreError> {
    let Some(keep) = store.history_keep()? else {
        return Ok(0);
    };
    let before = SystemTime::now()
        .checked_sub(keep)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut removed = 0;
    let mut next = store.first_op_rowid()?;
    while let Some(from) = next {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let (n, after) = store.prune_chunk(before, from)?;
        removed += n as u64;
        next = after;
        if n > 0 {
            std::thread::sleep(BETWEEN_CHUNKS);
        }
    }
    Ok(removed)
}

/// The running pruner.
pub struct Pruner {
    stop: Arc<AtomicBool>,
    wake: Sender<()>,
    removed: Arc<AtomicU64>,
    thread: JoinHandle<()>,
}

impl Pruner {
    pub fn start(db: &Path) -> Result<Pruner, StoreError> {
        let mut store = Store::open(db)?;
        let stop = Arc::new(AtomicBool::new(false));
        let removed = Arc::new(AtomicU64::new(0));
        let (wake, woken) = mpsc::channel::<()>();
        let (stop_, removed_) = (stop.clone(), removed.clone());
        let thread = std::thread::Builder::new()
            .name("breakdex-history".into())
            .spawn(move || {
                crate::priority::lower_this_thread();
                loop {
                    match prune(&mut store, &stop_) {
                        Ok(0) => {}
                        Ok(n) => {
                            removed_.fetch_add(n, Ordering::Relaxed);
                            tracing::info!("history: removed {n} completed ops past the retention");
                        }
                        Err(e) => tracing::warn!("history: the old ops could not be removed: {e}"),
                    }
                    match woken.recv_timeout(PRUNE_EVERY) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .map_err(|e| StoreError::Invalid(format!("cannot start the history pruner: {e}")))?;
        Ok(Pruner {
            stop,
            wake,
            removed,
            thread,
        })
    }

    /// Ends the pruner: after the pass under way (`run --until-idle`, so
    /// that a run from cron keeps the history short too), or between two of
    /// its chunks. Returns how many ops it removed.
    pub fn finish(self, after_the_pass: bool) -> u64 {
        if !after_the_pass {
            self.stop.store(true, Ordering::Relaxed);
        }
        let _ = self.wake.send(());
        let _ = self.thread.join();
        self.removed.load(Ordering::Relaxed)
    }
}
