//! Processing requests per bucket per second (PROTOCOL §6): a token bucket per bucket name,
//! refilled continuously, holding at most one second's worth. Passthrough traffic is not
//! counted.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub struct RateLimiter {
    per_sec: f64,
    buckets: Mutex<HashMap<String, Tokens>>,
}

struct Tokens {
    available: f64,
    updated: Instant,
}

/// Entries kept before idle (full) buckets are dropped.
const PRUNE_ABOVE: usize = 10_000;

impl RateLimiter {
    /// `per_sec` of 0 admits everything.
    pub fn new(per_sec: u32) -> RateLimiter {
        RateLimiter {
            per_sec: per_sec as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take a token for `bucket`; `Err(seconds)` says when the next one will be there.
    pub fn admit(&self, bucket: &str, now: Instant) -> Result<(), u32> {
        if self.per_sec <= 0.0 {
            return Ok(());
        }
        let mut map = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if map.len() > PRUNE_ABOVE {
            let per_sec = self.per_sec;
            map.retain(|_, t| {
                t.available + now.duration_since(t.updated).as_secs_f64() * per_sec < per_sec
            });
        }
        let t = map.entry(bucket.to_string()).or_insert(Tokens {
            available: self.per_sec,
            updated: now,
        });
        let refill = now.saturating_duration_since(t.updated).as_secs_f64() * self.per_sec;
        t.available = (t.available + refill).min(self.per_sec);
        t.updated = now;
        if t.available >= 1.0 {
            t.available -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - t.available) / self.per_sec;
            Err(wait.ceil().max(1.0) as u32)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn admits_the_rate_per_bucket_and_refills() {
        let rl = RateLimiter::new(100);
        let t0 = Instant::now();
        let admitted = (0..200).filter(|_| rl.admit("a", t0).is_ok()).count();
        assert_eq!(admitted, 100);
        assert_eq!(rl.admit("a", t0), Err(1));
        assert!(
            rl.admit("b", t0).is_ok(),
            "another bucket has its own tokens"
        );
        let later = t0 + Duration::from_millis(100);
        let refilled = (0..50).filter(|_| rl.admit("a", later).is_ok()).count();
        assert_eq!(refilled, 10);
        assert!(RateLimiter::new(0).admit("a", t0).is_ok());
    }
}
