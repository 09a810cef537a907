//! The keeper: the engine's look, every few seconds, at what the library's
//! copies need, so that nobody has to act.
//!
//! - **Repair**: a copy a verify found missing or corrupt gets an upload to
//!   the same provider ("repair: the copy on nas was corrupt").
//! - **Policy**: an asset with fewer good copies (or uploads on their way)
//!   than the library's `min_copies` gets uploads to enabled, answering
//!   providers that lack it ("policy: 1 of 2 copies"). An offline
//!   provider's copies count until its grace time is over.
//! - **Scrub**: every copy is re-read within the scrub interval: verifies at
//!   the lowest priority, least recently verified first, paced so the
//!   interval's reads are spread evenly and the byte budget is kept, at most
//!   [`SCRUB_SLOTS`] of a provider's at once.
//!
//! The policy pass reads the manifest in slices from a cursor, so a
//! library of a million assets costs a slice per look, and rests once a
//! whole round found nothing until the library changes. A run that ends
//! goes through every asset at its end only when something marked it due
//! (a provider removed, the policy changed, …): a run that only uploaded
//! what `add` queued pays nothing for it.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use crate::store::{NewOp, OpType, SCRUB_PRIORITY, Store, StoreError, timestamp};

/// Assets the policy pass looks at per look.
const SLICE: usize = 20_000;
/// Most repairs queued per look.
const REPAIRS: usize = 1_000;
/// Most scrub verifies of one provider queued or running at once.
pub const SCRUB_SLOTS: i64 = 2;
/// How long a round that found nothing is trusted while nothing changes
/// (an offline provider's grace time ends without a write).
const REST: Duration = Duration::from_secs(60);
/// How long a provider's held bytes (which set its scrub's pace) are reused.
const HELD_FRESH: Duration = Duration::from_secs(600);
/// Most scrub credit saved up, in seconds of reading at the pace.
const CREDIT_CAP: f64 = 60.0;
/// Most due verifies a run that ends queues in one look.
const BACKLOG: i64 = 10_000;

/// What one look queued.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kept {
    pub repairs: usize,
    pub copies: usize,
    pub verifies: usize,
}

/// How much of the policy a look goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    /// The next slice of the manifest.
    Slice,
    /// Every asset (a run that ends, after something that may leave assets
    /// short: see `Store::mark_round_due`).
    Whole,
    /// None: repairs and the scrub only.
    None,
}

#[derive(Default)]
pub struct Keeper {
    /// The manifest rowid the next slice starts after.
    cursor: i64,
    /// Something was queued since the round began.
    round_found: bool,
    /// A whole round found nothing at this data version, at this time.
    rested: Option<(i64, Instant)>,
    scrub: HashMap<String, Pace>,
}

/// A provider's scrub pace: bytes it may still read, and its held bytes.
struct Pace {
    credit: f64,
    last: Instant,
    held: (i64, Instant),
}

impl Keeper {
    /// One look: repairs, the policy (a slice, the whole of it, or none),
    /// and the scrub of the providers `answering`. For a run that ends when
    /// idle and began at `run_began`, the scrub reads only the copies due
    /// at its start (so that it ends).
    pub fn look(
        &mut self,
        store: &mut Store,
        answering: &[String],
        round: Round,
        run_began: Option<SystemTime>,
    ) -> Result<Kept, StoreError> {
        let mut kept = Kept {
            repairs: self.repair(store)?,
            ..Kept::default()
        };
        let version = store.data_version()?;
        let resting = self
            .rested
            .is_some_and(|(v, at)| v == version && at.elapsed() < REST);
        if !resting && round != Round::None {
            loop {
                let (copies, round_over) = self.policy_slice(store)?;
                kept.copies += copies;
                if round_over {
                    // (The version after our own writes: they need no look.)
                    self.rested = (!self.round_found && kept.copies == 0)
                        .then(|| store.data_version().ok().map(|v| (v, Instant::now())))
                        .flatten();
                    self.round_found = false;
                    break;
                }
                if round == Round::Slice {
                    break;
                }
            }
        }
        kept.verifies = self.scrub(store, answering, run_began)?;
        Ok(kept)
    }

    fn repair(&mut self, store: &mut Store) -> Result<usize, StoreError> {
        let mut queued = 0;
        for r in store.repairs_due(REPAIRS)? {
            let reason = format!("repair: the copy on {} was {}", r.provider_name, r.status);
            let op = NewOp {
                content_hash: r.content_hash,
                provider_id: r.provider_id,
                operation_type: OpType::Upload,
                priority: 0,
                total_bytes: r.size_bytes,
            };
            queued += store.enqueue_because(&[op], Some(&reason))?.len();
        }
        Ok(queued)
    }

    /// One slice of the policy round; also says whether the round is over.
    fn policy_slice(&mut self, store: &mut Store) -> Result<(usize, bool), StoreError> {
        let policy = store.policy()?;
        let (deficits, last) = store.policy_deficits(&policy, self.cursor, SLICE)?;
        let mut queued = 0;
        for d in deficits {
            let need = policy.min_copies.saturating_sub(d.have) as usize;
            let reason = format!("policy: {} of {} copies", d.have, policy.min_copies);
            let ops: Vec<NewOp> = (d.candidates.into_iter().take(need))
                .map(|provider_id| NewOp {
                    content_hash: d.content_hash.clone(),
                    provider_id,
                    operation_type: OpType::Upload,
                    priority: 0,
                    total_bytes: d.size_bytes,
                })
                .collect();
            if !ops.is_empty() {
                queued += store.enqueue_because(&ops, Some(&reason))?.len();
            }
        }
        self.round_found |= queued > 0;
        match last {
            Some(rowid) => {
                self.cursor = rowid;
                Ok((queued, false))
            }
            None => {
                self.cursor = 0;
                Ok((queued, true))
            }
        }
    }

    /// Queues the next verifies of each answering provider its pace allows.
    fn scrub(
        &mut self,
        store: &mut Store,
        answering: &[String],
        run_began: Option<SystemTime>,
    ) -> Result<usize, StoreError> {
        let live = store.scrubs_live()?;
        let now = Instant::now();
        let mut queued = 0;
        for id in answering {
            let settings = store.scrub_of(id)?;
            if settings.budget_bps == 0 {
                self.scrub.remove(id);
                continue;
            }
            // A run that ends reads only what was due at its start, as many
            // as its credit covers: it runs them before it ends.
            let due_before = run_began.map(|t| {
                timestamp(
                    t.checked_sub(settings.every)
                        .unwrap_or(SystemTime::UNIX_EPOCH),
                )
            });
            let free = match due_before {
                Some(_) => BACKLOG,
                None => SCRUB_SLOTS - live.get(id).copied().unwrap_or(0),
            };
            if free <= 0 {
                continue;
            }
            // (Looked for first: a run with nothing due never sums the
            // provider's bytes.)
            let next = store.scrub_next(id, free as usize, due_before.as_deref())?;
            if next.is_empty() {
                continue;
            }
            let pace = match self.scrub.get_mut(id) {
                Some(p) => p,
                None => {
                    let held = (store.bytes_held(id)?, now);
                    // A minute's reading to start with, so a short run
                    // reads something too.
                    let rate = settings.pace(held.0);
                    self.scrub.entry(id.clone()).or_insert(Pace {
                        credit: rate * CREDIT_CAP,
                        last: now,
                        held,
                    })
                }
            };
            if pace.held.1.elapsed() > HELD_FRESH {
                pace.held = (store.bytes_held(id)?, now);
            }
            let rate = settings.pace(pace.held.0);
            let elapsed = now.duration_since(pace.last).as_secs_f64();
            pace.last = now;
            pace.credit = (pace.credit + rate * elapsed).min(rate * CREDIT_CAP);
            for (hash, size) in next {
                if pace.credit <= 0.0 {
                    break;
                }
                pace.credit -= size.max(1) as f64;
                let op = NewOp {
                    content_hash: hash,
                    provider_id: id.clone(),
                    operation_type: OpType::Verify,
                    priority: SCRUB_PRIORITY,
                    total_bytes: size,
                };
                queued += store.enqueue_because(&[op], Some("scrub"))?.len();
            }
        }
        Ok(queued)
    }
}
