//! The retry policy: exponential backoff with jitter, capped.

use std::time::Duration;

/// How long a transient failure waits before its next try.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// The wait after the first failure; doubled after each further one.
    pub base: Duration,
    /// The longest wait.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(10),
            cap: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// The wait after `failures` failures (1 for the first): `base * 2^(failures-1)`,
    /// capped, then scaled by a random factor in [0.5, 1.0) so that many ops
    /// failing together do not all come back at once.
    pub fn delay(&self, failures: i64) -> Duration {
        let exp = (failures.max(1) - 1).min(30) as u32;
        let full = self.base.saturating_mul(1u32 << exp).min(self.cap);
        full.mul_f64(0.5 + rand::random::<f64>() * 0.5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_is_jittered_and_capped() {
        let p = RetryPolicy {
            base: Duration::from_secs(10),
            cap: Duration::from_secs(60),
        };
        for _ in 0..100 {
            let d1 = p.delay(1);
            assert!(d1 >= Duration::from_secs(5) && d1 < Duration::from_secs(10));
            let d3 = p.delay(3);
            assert!(d3 >= Duration::from_secs(20) && d3 < Duration::from_secs(40));
            assert!(p.delay(50) < Duration::from_secs(60));
        }
    }
}
