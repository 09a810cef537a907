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
//!   interval's reads are spread evenly and the byte budget is kept (a run
//!   that ends reads what was due at its start, at its budget). The engine
//!   runs at most [`scrub_slots`] of a provider's at once, so transfers keep
//!   the other slots.
//!
//! The policy pass reads the manifest in slices from a cursor, so a
//! library of a million assets costs a slice per look, and rests once a
//! whole round found nothing until the library changes. A run that ends
//! goes through every asset at its end only when something marked it due
//! (a provider removed, the policy changed, …): a run that only uploaded
//! what `add` queued pays nothing for it.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use crate::store::{NewOp, OpType, SCRUB_PRIORITY, Scrub, Store, StoreError, timestamp};

/// Assets the policy pass looks at per look.
const SLICE: usize = 20_000;
/// Most repairs queued per look.
const REPAIRS: usize = 1_000;
/// Most scrub verifies of one provider queued or running at once (the
/// credit bounds them first, this only a provider whose copies are tiny).
const SCRUB_QUEUE: i64 = 64;
/// How long a round that found nothing is trusted while nothing changes
/// (an offline provider's grace time ends without a write).
const REST: Duration = Duration::from_secs(60);
/// How long a provider's held bytes (which set its scrub's pace) are reused.
const HELD_FRESH: Duration = Duration::from_secs(600);
/// Scrub credit a provider starts with, in seconds of reading at its pace
/// (any credit lets one verify go, so a short run reads something too).
const CREDIT_START: f64 = 1.0;
/// Most scrub credit saved up, in seconds of reading at the pace: little,
/// so that reads stay even over any few seconds.
const CREDIT_CAP: f64 = 2.0;

/// How many of a provider's `slots` its scrub verifies may run in at once:
/// half, at least one.
pub fn scrub_slots(slots: usize) -> usize {
    (slots / 2).max(1)
}

/// What one look at repairs and the policy queued.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kept {
    pub repairs: usize,
    pub copies: usize,
}

/// What one look of the scrub queued.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scrubbed {
    pub verifies: usize,
    /// For a run that ends: copies due at its start are left that the
    /// budget has not let go yet.
    pub waiting: bool,
}

/// How much of the policy a look goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    /// The next slice of the manifest.
    Slice,
    /// Every asset (a run that ends, after something that may leave assets
    /// short: see `Store::mark_round_due`).
    Whole,
    /// None: repairs only.
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

impl Pace {
    /// Bytes per second: for a run that ends, its budget; else the pace
    /// that spreads reading the `held` bytes over the interval.
    fn rate(settings: &Scrub, held: i64, ending: bool) -> f64 {
        match ending {
            true => settings.budget_bps as f64,
            false => settings.pace(held),
        }
    }

    /// Adds the credit earned since the last look; returns the credit.
    fn refill(
        &mut self,
        store: &Store,
        provider_id: &str,
        settings: &Scrub,
        ending: bool,
        now: Instant,
    ) -> Result<f64, StoreError> {
        if self.held.1.elapsed() > HELD_FRESH {
            self.held = (store.bytes_held(provider_id)?, now);
        }
        let rate = Pace::rate(settings, self.held.0, ending);
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.credit = (self.credit + rate * elapsed).min(rate * CREDIT_CAP);
        Ok(self.credit)
    }
}

impl Keeper {
    /// One look at repairs and the policy: a slice of it, the whole of it,
    /// or none.
    pub fn look(&mut self, store: &mut Store, round: Round) -> Result<Kept, StoreError> {
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

    /// Queues the next verifies of each provider `answering` that its
    /// credit allows. A long-running engine reads every copy in turn, oldest
    /// verification first, at the pace that spreads the interval's reads
    /// evenly; a run that ends and began at `run_began` reads the copies due
    /// at its start, at its budget.
    pub fn scrub(
        &mut self,
        store: &mut Store,
        answering: &[String],
        run_began: Option<SystemTime>,
    ) -> Result<Scrubbed, StoreError> {
        let live = store.scrubs_live()?;
        let now = Instant::now();
        let mut scrubbed = Scrubbed::default();
        for id in answering {
            let settings = store.scrub_of(id)?;
            if settings.budget_bps == 0 {
                self.scrub.remove(id);
                continue;
            }
            let due_before = run_began.map(|t| {
                timestamp(
                    t.checked_sub(settings.every)
                        .unwrap_or(SystemTime::UNIX_EPOCH),
                )
            });
            let free = SCRUB_QUEUE - live.get(id).copied().unwrap_or(0);
            if free <= 0 {
                scrubbed.waiting |= run_began.is_some();
                continue;
            }
            let ending = run_began.is_some();
            // A long-running engine whose credit is spent needs no look.
            let credit =
                (self.scrub.get_mut(id)).map(|p| p.refill(store, id, &settings, ending, now));
            if let Some(credit) = credit
                && credit? <= 0.0
                && !ending
            {
                continue;
            }
            // (Looked for before a new pace: a run with nothing due never
            // sums the provider's bytes.)
            let next = store.scrub_next(id, free as usize, due_before.as_deref())?;
            if next.is_empty() {
                continue;
            }
            let pace = match self.scrub.get_mut(id) {
                Some(p) => p,
                None => {
                    let held = store.bytes_held(id)?;
                    self.scrub.entry(id.clone()).or_insert(Pace {
                        credit: Pace::rate(&settings, held, ending) * CREDIT_START,
                        last: now,
                        held: (held, now),
                    })
                }
            };
            let mut ops = Vec::new();
            for (hash, size) in &next {
                if pace.credit <= 0.0 {
                    break;
                }
                pace.credit -= (*size).max(1) as f64;
                ops.push(NewOp {
                    content_hash: hash.clone(),
                    provider_id: id.clone(),
                    operation_type: OpType::Verify,
                    priority: SCRUB_PRIORITY,
                    total_bytes: *size,
                });
            }
            scrubbed.waiting |= run_began.is_some() && ops.len() < next.len();
            if !ops.is_empty() {
                scrubbed.verifies += store.enqueue_because(&ops, Some("scrub"))?.len();
            }
        }
        Ok(scrubbed)
    }
}
