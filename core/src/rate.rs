//! Per-network bandwidth (claim S7): a token bucket per VNI on the way into the underlay.

use crate::{Instant, elapsed};

/// A rate in bytes per second with a burst allowance in bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RateLimit {
    pub bytes_per_sec: u64,
    /// The largest burst sent at line rate; at least one full frame, or nothing ever passes.
    pub burst_bytes: u64,
}

impl RateLimit {
    /// `bits_per_sec` with a burst of 10 ms of traffic, but at least two 1514-byte frames.
    pub fn from_bits_per_sec(bits_per_sec: u64) -> RateLimit {
        let bytes_per_sec = bits_per_sec / 8;
        RateLimit {
            bytes_per_sec,
            burst_bytes: (bytes_per_sec / 100).max(2 * 1514),
        }
    }
}

const MICROS_PER_SEC: u64 = 1_000_000;

/// A token bucket driven by the caller's clock. Tokens are kept in byte-microseconds so that
/// slow rates refill exactly, without floating point.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TokenBucket {
    limit: RateLimit,
    /// Tokens, in bytes x 1e6.
    tokens: u64,
    last_refill: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(limit: RateLimit, now: Instant) -> TokenBucket {
        TokenBucket {
            limit,
            tokens: limit.burst_bytes.saturating_mul(MICROS_PER_SEC),
            last_refill: now,
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    fn capacity(&self) -> u64 {
        self.limit.burst_bytes.saturating_mul(MICROS_PER_SEC)
    }

    fn refill(&mut self, now: Instant) {
        let micros = elapsed(now, self.last_refill).total_micros();
        // Saturating arithmetic: an hour-long gap at 100 Gbit/s must not overflow.
        let added = micros.saturating_mul(self.limit.bytes_per_sec);
        self.tokens = self.tokens.saturating_add(added).min(self.capacity());
        if now > self.last_refill {
            self.last_refill = now;
        }
    }

    /// Takes `bytes` from the bucket if there are enough; otherwise takes nothing.
    pub fn try_consume(&mut self, now: Instant, bytes: usize) -> bool {
        self.refill(now);
        let cost = (bytes as u64).saturating_mul(MICROS_PER_SEC);
        if cost <= self.tokens {
            self.tokens -= cost;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    // Under `wasm-pack test core` these run in the browser, where the playground runs the core.
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn passes_the_burst_then_the_rate() {
        let limit = RateLimit {
            bytes_per_sec: 1000,
            burst_bytes: 1500,
        };
        let mut bucket = TokenBucket::new(limit, Instant::ZERO);
        assert!(bucket.try_consume(Instant::ZERO, 1500));
        assert!(!bucket.try_consume(Instant::ZERO, 1));
        // 100 ms at 1000 B/s refills 100 bytes.
        assert!(!bucket.try_consume(Instant::from_millis(100), 101));
        assert!(bucket.try_consume(Instant::from_millis(100), 100));
    }

    #[test]
    fn long_run_average_matches_the_rate() {
        let limit = RateLimit {
            bytes_per_sec: 125_000, // 1 Mbit/s
            burst_bytes: 3000,
        };
        let mut bucket = TokenBucket::new(limit, Instant::ZERO);
        // Offer 1000-byte frames every millisecond (8 Mbit/s) for 10 s.
        let passed: u64 = (0..10_000)
            .filter(|ms| bucket.try_consume(Instant::from_millis(*ms), 1000))
            .count() as u64;
        let bytes = passed * 1000;
        assert!(
            (1_250_000..=1_253_000).contains(&bytes),
            "{bytes} bytes passed"
        );
    }

    #[test]
    fn huge_rates_and_gaps_do_not_overflow() {
        let limit = RateLimit {
            bytes_per_sec: u64::MAX,
            burst_bytes: u64::MAX,
        };
        let mut bucket = TokenBucket::new(limit, Instant::ZERO);
        assert!(bucket.try_consume(Instant::from_secs(1_000_000), usize::MAX));
        // A clock that steps back refills nothing and does not panic.
        let mut slow = TokenBucket::new(RateLimit::from_bits_per_sec(8000), Instant::from_secs(5));
        assert!(slow.try_consume(Instant::from_secs(1), 1000));
    }
}
