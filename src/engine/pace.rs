//! How far ahead the engine claims a provider's ops.
//!
//! Claims and reports share one transaction per turn of the engine, so the
//! number of ops claimed at once sets how many commits a run costs. Quick ops
//! (small files to a local folder: a fraction of a millisecond each) are
//! claimed many rounds ahead, enough to keep the provider's slots busy for
//! [`SPAN`]; slow ones (anything that takes longer than `SPAN` over
//! [`MIN_ROUNDS`]) only `MIN_ROUNDS` ahead, so that ops another engine could
//! run are not held here for long.

use std::collections::HashMap;
use std::time::Duration;

/// Rounds of a provider's concurrency claimed ahead, at least: one running,
/// one ready to fill each slot the moment it frees.
pub const MIN_ROUNDS: usize = 2;
/// Rounds claimed ahead, at most.
pub const MAX_ROUNDS: usize = 128;
/// How long the ops claimed ahead should keep a provider's slots busy.
const SPAN: Duration = Duration::from_millis(50);

/// The mean run time of each provider's recent ops.
#[derive(Default)]
pub struct Pace {
    mean: HashMap<String, Duration>,
}

impl Pace {
    /// Takes the run time of one finished op (a moving mean: each new op
    /// weighs an eighth).
    pub fn record(&mut self, provider_id: &str, took: Duration) {
        self.mean
            .entry(provider_id.to_string())
            .and_modify(|mean| *mean = (*mean * 7 + took) / 8)
            .or_insert(took);
    }

    /// Rounds of the provider's concurrency to claim ahead.
    pub fn rounds(&self, provider_id: &str) -> usize {
        match self.mean.get(provider_id) {
            None => MIN_ROUNDS,
            Some(mean) => {
                let rounds = SPAN.as_nanos() / mean.as_nanos().max(1);
                (rounds.min(MAX_ROUNDS as u128) as usize).max(MIN_ROUNDS)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_provider_is_claimed_the_fewest_rounds_ahead() {
        assert_eq!(Pace::default().rounds("p"), MIN_ROUNDS);
    }

    #[test]
    fn quick_ops_are_claimed_many_rounds_ahead_and_slow_ones_few() {
        let mut pace = Pace::default();
        for _ in 0..20 {
            pace.record("quick", Duration::from_micros(200));
            pace.record("medium", Duration::from_millis(5));
            pace.record("slow", Duration::from_secs(3));
        }
        assert_eq!(pace.rounds("quick"), MAX_ROUNDS);
        assert_eq!(pace.rounds("medium"), 10);
        assert_eq!(pace.rounds("slow"), MIN_ROUNDS);
    }

    #[test]
    fn the_pace_follows_a_provider_that_slows_down() {
        let mut pace = Pace::default();
        for _ in 0..20 {
            pace.record("p", Duration::from_micros(100));
        }
        assert_eq!(pace.rounds("p"), MAX_ROUNDS);
        for _ in 0..20 {
            pace.record("p", Duration::from_millis(500));
        }
        assert_eq!(pace.rounds("p"), MIN_ROUNDS);
    }
}
