//! Bandwidth limits: the library's upload and download limit and each
//! provider's, as rates or a weekly timetable (`schedule.rs`), enforced by
//! token buckets (the `governor` crate) that every transfer of a direction
//! shares: uploads take from "up", downloads and verification reads from
//! "down", each from its provider's bucket and the library's.
//!
//! The engine reads the limits from the library every housekeeping (half a
//! second) and sets the buckets, so a limit changed from the command line
//! or the window holds for the transfers already running within a second.
//! A bucket with no limit costs one atomic load per piece.

pub mod schedule;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

pub use schedule::{Rates, Schedule};

/// A limit as kept in the library: rates, or a timetable, which decides
/// while it is set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limit {
    pub rates: Rates,
    pub schedule: Option<Schedule>,
}

impl Limit {
    /// The rates in force at `minute` of the week.
    pub fn at(&self, minute: u32) -> Rates {
        match &self.schedule {
            Some(s) => s.at(minute),
            None => self.rates,
        }
    }
}

/// Every limit of a library: its own and its providers' (by id), and what
/// could not be read of them (a kept timetable that no longer parses:
/// those rates hold instead, and the problem is said).
#[derive(Clone, Debug, Default)]
pub struct Limits {
    pub library: Limit,
    pub providers: HashMap<String, Limit>,
    pub problems: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// Bytes per token of the buckets.
const CELL: u64 = 1024;
/// A bucket holds this share of a second of its rate: a transfer that
/// waited may send that much at once, so no second sees much more than the
/// rate (pieces are cut to it).
const BURST_SHARE: u64 = 10;
/// The longest a blocking transfer sleeps before it looks at the limit
/// again (a limit raised or lifted holds at once).
const LOOK_AGAIN: Duration = Duration::from_millis(100);

/// One bucket at one rate.
struct Bucket {
    /// Tokens of [`CELL`] bytes it holds at most.
    burst: u32,
    limiter: DefaultDirectRateLimiter,
}

impl Bucket {
    fn new(bps: u64) -> Bucket {
        let per_second = (bps / CELL).clamp(1, u32::MAX as u64) as u32;
        let burst = (per_second / BURST_SHARE as u32).max(per_second.min(16));
        let quota = Quota::per_second(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        Bucket {
            burst,
            limiter: RateLimiter::direct(quota),
        }
    }
}

/// A limit transfers share, changeable while they run (0: none).
#[derive(Default)]
struct Gate {
    bps: AtomicU64,
    bucket: RwLock<Option<Arc<Bucket>>>,
}

impl Gate {
    fn set(&self, bps: u64) {
        if self.bps.load(Ordering::Relaxed) == bps {
            return;
        }
        let bucket = (bps > 0).then(|| Arc::new(Bucket::new(bps)));
        *self.bucket.write().unwrap_or_else(|e| e.into_inner()) = bucket;
        self.bps.store(bps, Ordering::Relaxed);
    }

    fn bucket(&self) -> Option<Arc<Bucket>> {
        if self.bps.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.bucket
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Tokens for `bytes`, waited for piece by piece (the bucket is looked
    /// up again for each, so a new limit holds from the next piece).
    async fn take(&self, bytes: u64) {
        let mut left = bytes.div_ceil(CELL);
        while left > 0 {
            let Some(bucket) = self.bucket() else { return };
            let piece = left.min(bucket.burst as u64) as u32;
            if let Some(n) = NonZeroU32::new(piece) {
                // A piece is never more than the burst: this cannot fail.
                let _ = bucket.limiter.until_n_ready(n).await;
            }
            left -= piece as u64;
        }
    }

    /// [`Gate::take`] on a thread that may block.
    fn take_blocking(&self, bytes: u64) {
        let mut left = bytes.div_ceil(CELL);
        while left > 0 {
            let Some(bucket) = self.bucket() else { return };
            let piece = left.min(bucket.burst as u64) as u32;
            let Some(n) = NonZeroU32::new(piece) else {
                return;
            };
            match bucket.limiter.check_n(n) {
                Ok(Ok(())) | Err(_) => left -= piece as u64,
                Ok(Err(not_until)) => {
                    let wait = not_until.wait_time_from(DefaultClock::default().now());
                    std::thread::sleep(wait.min(LOOK_AGAIN));
                }
            }
        }
    }

    /// The most bytes worth sending at once under this limit.
    fn piece(&self) -> Option<u64> {
        self.bucket().map(|b| b.burst as u64 * CELL)
    }
}

/// The two limits one transfer is under: its provider's and the library's,
/// in its direction.
#[derive(Clone, Default)]
pub struct Lane {
    provider: Arc<Gate>,
    library: Arc<Gate>,
}

impl Lane {
    /// Waits until `bytes` may move.
    pub async fn take(&self, bytes: u64) {
        self.provider.take(bytes).await;
        self.library.take(bytes).await;
    }

    /// [`Lane::take`] on a thread that may block.
    pub fn take_blocking(&self, bytes: u64) {
        self.provider.take_blocking(bytes);
        self.library.take_blocking(bytes);
    }

    /// How many bytes to move at a time: `most`, or less under a limit, so
    /// that what a piece sends at once stays within the bucket.
    pub fn piece(&self, most: usize) -> usize {
        [self.provider.piece(), self.library.piece()]
            .into_iter()
            .flatten()
            .fold(most as u64, u64::min)
            .max(1) as usize
    }
}

/// The buckets of one engine: the library's and each provider's, up and
/// down.
#[derive(Clone, Default)]
pub struct Bandwidth {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    library: [Arc<Gate>; 2],
    providers: Mutex<HashMap<String, [Arc<Gate>; 2]>>,
    /// `run --bwlimit`: the library's limit for this run, both ways, over
    /// what is kept (0: none).
    cap: u64,
}

fn index(direction: Direction) -> usize {
    match direction {
        Direction::Up => 0,
        Direction::Down => 1,
    }
}

/// The lower of two limits, 0 being none.
fn lower(a: u64, b: u64) -> u64 {
    match (a, b) {
        (0, x) | (x, 0) => x,
        (a, b) => a.min(b),
    }
}

impl Bandwidth {
    /// Buckets under `cap` bytes per second each way for this run (0: none)
    /// beside the library's own limits.
    pub fn with_cap(cap: u64) -> Bandwidth {
        Bandwidth {
            shared: Arc::new(Shared {
                cap,
                ..Shared::default()
            }),
        }
    }

    /// The lane of a transfer in `direction` to or from the provider.
    pub fn lane(&self, provider_id: &str, direction: Direction) -> Lane {
        let i = index(direction);
        let mut providers = self
            .shared
            .providers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let gates = providers.entry(provider_id.to_string()).or_default();
        Lane {
            provider: gates[i].clone(),
            library: self.shared.library[i].clone(),
        }
    }

    /// Sets every bucket to the limits in force at `minute` of the week.
    pub fn apply(&self, limits: &Limits, minute: u32) {
        let library = self.library_at(limits, minute);
        self.shared.library[0].set(library.up);
        self.shared.library[1].set(library.down);
        let mut providers = self
            .shared
            .providers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for id in limits.providers.keys() {
            providers.entry(id.clone()).or_default();
        }
        for (id, gates) in providers.iter() {
            let rates = limits
                .providers
                .get(id)
                .map(|l| l.at(minute))
                .unwrap_or_default();
            gates[0].set(rates.up);
            gates[1].set(rates.down);
        }
    }

    /// The library's rates in force at `minute`, with this run's cap.
    pub fn library_at(&self, limits: &Limits, minute: u32) -> Rates {
        let kept = limits.library.at(minute);
        Rates {
            up: lower(kept.up, self.shared.cap),
            down: lower(kept.down, self.shared.cap),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const M: u64 = 1 << 20;

    #[test]
    fn a_limited_lane_moves_at_its_rate_and_an_unlimited_one_at_once() {
        let bw = Bandwidth::default();
        let lane = bw.lane("p", Direction::Up);
        let began = Instant::now();
        lane.take_blocking(64 * M);
        assert!(
            began.elapsed() < Duration::from_millis(50),
            "no limit: no wait"
        );
        let mut limits = Limits::default();
        limits.providers.insert(
            "p".into(),
            Limit {
                rates: Rates { up: 4 * M, down: 0 },
                schedule: None,
            },
        );
        bw.apply(&limits, 0);
        assert_eq!(
            lane.piece(4 * M as usize),
            (4 * M / BURST_SHARE / CELL * CELL) as usize
        );
        // 2 MiB at 4 MiB/s after a burst of 0.1 s: at least 0.35 s.
        let began = Instant::now();
        lane.take_blocking(2 * M);
        assert!(
            began.elapsed() >= Duration::from_millis(350),
            "{:?}",
            began.elapsed()
        );
        // The other direction and other providers are not limited.
        let began = Instant::now();
        bw.lane("p", Direction::Down).take_blocking(64 * M);
        bw.lane("q", Direction::Up).take_blocking(64 * M);
        assert!(began.elapsed() < Duration::from_millis(50));
    }

    #[test]
    fn a_limit_lifted_holds_for_a_transfer_that_waits() {
        let bw = Bandwidth::default();
        let mut limits = Limits::default();
        limits.library.rates = Rates {
            up: 64 << 10,
            down: 0,
        };
        bw.apply(&limits, 0);
        let lane = bw.lane("p", Direction::Up);
        let waiting = std::thread::spawn(move || {
            let began = Instant::now();
            // 64 MiB at 64 KiB/s would take 17 minutes.
            lane.take_blocking(64 * M);
            began.elapsed()
        });
        std::thread::sleep(Duration::from_millis(300));
        bw.apply(&Limits::default(), 0);
        let took = waiting.join().unwrap();
        assert!(took < Duration::from_secs(60), "{took:?}");
    }

    #[test]
    fn a_run_cap_lowers_the_library_limit_never_raises_it() {
        let bw = Bandwidth::with_cap(M);
        let mut limits = Limits::default();
        assert_eq!(bw.library_at(&limits, 0), Rates { up: M, down: M });
        limits.library.rates = Rates { up: M / 2, down: 0 };
        assert_eq!(bw.library_at(&limits, 0), Rates { up: M / 2, down: M });
        limits.library.schedule = Some(Schedule::parse("00:00,4M:256K").unwrap());
        assert_eq!(
            bw.library_at(&limits, 10),
            Rates {
                up: M,
                down: 256 << 10
            }
        );
    }

    #[tokio::test]
    async fn the_async_take_waits_as_the_blocking_one() {
        let bw = Bandwidth::default();
        let mut limits = Limits::default();
        limits.library.rates = Rates { up: 0, down: 4 * M };
        bw.apply(&limits, 0);
        let lane = bw.lane("p", Direction::Down);
        let began = Instant::now();
        lane.take(2 * M).await;
        assert!(
            began.elapsed() >= Duration::from_millis(350),
            "{:?}",
            began.elapsed()
        );
    }
}
