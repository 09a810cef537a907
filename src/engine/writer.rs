//! The engine's hot path in the database, on a thread of its own: each batch
//! writes the reports of finished ops and claims the next ones in one
//! transaction (with the claimed ops' assets read after it), while the engine
//! thread goes on starting ops and taking reports. One batch is written at a
//! time; the engine sends the next one once it has the answer to the last.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use super::Msg;
use crate::store::{
    ClaimedOp, Finish, ManifestEntry, OpEvent, OpType, RestoreTarget, Store, StoreError,
};

/// What the engine hands over: reports to write, and how many ops to claim
/// per provider.
pub struct Batch {
    pub events: Vec<OpEvent>,
    pub wants: Vec<(String, usize)>,
}

/// What came of a batch.
pub struct Written {
    /// How each finished op that took effect ended.
    pub applied: Vec<(String, Finish)>,
    /// The ops claimed, best first.
    pub claimed: Vec<Claimed>,
    /// The batch's claims, as asked.
    pub wants: Vec<(String, usize)>,
}

/// An op claimed, with what running it needs from the library.
pub struct Claimed {
    pub op: ClaimedOp,
    pub asset: Option<ManifestEntry>,
    /// For a download, the files a restore is to make of it.
    pub targets: Vec<RestoreTarget>,
}

/// The writing thread, fed through this handle; it ends when the handle is dropped.
pub struct Writer {
    tx: mpsc::Sender<Batch>,
}

impl Writer {
    /// Opens its own connection to the library and starts the thread, which
    /// answers each batch with a [`Msg::Written`] to the engine.
    pub fn start(
        db_path: &Path,
        owner: &str,
        lease: Duration,
        answer: mpsc::Sender<Msg>,
    ) -> Result<Writer, StoreError> {
        let mut store = Store::open(db_path)?;
        let owner = owner.to_string();
        let (tx, rx) = mpsc::channel::<Batch>();
        std::thread::Builder::new()
            .name("breakdex-writer".into())
            .spawn(move || {
                for batch in rx {
                    let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        write(&mut store, &owner, lease, batch)
                    }))
                    .unwrap_or_else(|_| {
                        Err(StoreError::Invalid(
                            "the engine stopped on an internal error while writing to the library"
                                .into(),
                        ))
                    });
                    if answer.send(Msg::Written(written)).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| StoreError::Invalid(format!("cannot start the engine: {e}")))?;
        Ok(Writer { tx })
    }

    /// Queues a batch; false if the thread is gone.
    pub fn send(&self, batch: Batch) -> bool {
        self.tx.send(batch).is_ok()
    }
}

fn write(
    store: &mut Store,
    owner: &str,
    lease: Duration,
    batch: Batch,
) -> Result<Written, StoreError> {
    let (applied, claimed) = store.exchange(owner, &batch.events, lease, &batch.wants)?;
    let hashes: Vec<&str> = claimed.iter().map(|op| op.content_hash.as_str()).collect();
    let assets = store.assets(&hashes)?;
    let downloads: Vec<&str> = (claimed.iter())
        .filter(|op| op.operation_type == OpType::Download)
        .map(|op| op.content_hash.as_str())
        .collect();
    let targets = store.pending_targets(&downloads)?;
    let claimed = claimed
        .into_iter()
        .map(|op| Claimed {
            asset: assets.get(&op.content_hash).cloned(),
            targets: match op.operation_type {
                OpType::Download => targets.get(&op.content_hash).cloned().unwrap_or_default(),
                _ => Vec::new(),
            },
            op,
        })
        .collect();
    Ok(Written {
        applied,
        claimed,
        wants: batch.wants,
    })
}
