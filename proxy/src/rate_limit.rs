//! Processing requests per second (docs/protocol.md, Limits): token buckets refilled continuously, each
//! holding at most one second's worth. Signed requests draw on their bucket's budget;
//! anonymous processing on GET draws on its client address's own budget, so anonymous
//! traffic to a public bucket cannot lock the bucket's signed users out. Passthrough traffic
//! is not counted.

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Instant;

/// Whose budget a processing request draws on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateBudget {
    /// A signed request: its bucket's.
    Bucket(String),
    /// An anonymous request: its client's, keyed by [`address_key`].
    Address(IpAddr),
}

impl RateBudget {
    /// The budget of a request for `bucket`; `client` is only used for anonymous ones.
    pub fn of(bucket: &str, anonymous: bool, client: Option<IpAddr>) -> RateBudget {
        if anonymous {
            // Without a known address, anonymous requests share one budget rather than
            // drawing on the bucket's.
            RateBudget::Address(client.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), address_key))
        } else {
            RateBudget::Bucket(bucket.to_string())
        }
    }
}

impl fmt::Display for RateBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateBudget::Bucket(b) => write!(f, "signed requests to bucket {b}"),
            RateBudget::Address(IpAddr::V6(a)) => write!(f, "anonymous requests from {a}/64"),
            RateBudget::Address(a) => write!(f, "anonymous requests from {a}"),
        }
    }
}

/// The key of a client address: an IPv4 address itself, an IPv6 one its /64, since one host
/// commonly holds a whole /64 and could otherwise multiply its budget at will.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

/// Keys tracked per table; beyond, the least recently used is forgotten.
const TRACKED: usize = 10_000;

pub struct RateLimiter {
    per_bucket: TokenBuckets<String>,
    per_address: TokenBuckets<IpAddr>,
}

impl RateLimiter {
    /// Rates per bucket and per anonymous client address; 0 admits everything.
    pub fn new(per_bucket: u32, per_address: u32) -> RateLimiter {
        RateLimiter {
            per_bucket: TokenBuckets::new(per_bucket, TRACKED),
            per_address: TokenBuckets::new(per_address, TRACKED),
        }
    }

    /// Take a token for `bucket`; `Err(seconds)` says when the next one will be there.
    pub fn admit(&self, bucket: &str, now: Instant) -> Result<(), u32> {
        self.per_bucket.take(bucket, now)
    }

    /// Take a token from `budget`; `Err` explains the refusal to the client.
    pub fn take(&self, budget: &RateBudget, now: Instant) -> Result<(), String> {
        let (taken, rate) = match budget {
            RateBudget::Bucket(b) => (
                self.per_bucket.take(b.as_str(), now),
                self.per_bucket.rate(),
            ),
            RateBudget::Address(a) => (self.per_address.take(a, now), self.per_address.rate()),
        };
        taken.map_err(|secs| {
            format!(
                "{budget} are over their rate of {rate} processing requests per second; retry in {secs} s"
            )
        })
    }

    /// Give back a token taken from `budget` for a request that cost nothing to process.
    pub fn refund(&self, budget: &RateBudget, now: Instant) {
        match budget {
            RateBudget::Bucket(b) => self.per_bucket.refund(b.as_str(), now),
            RateBudget::Address(a) => self.per_address.refund(a, now),
        }
    }
}

/// One token bucket per key. At most `capacity` keys are tracked; the least recently used is
/// forgotten to make room, so memory stays bounded however many clients come. A forgotten key
/// starts again full, as it would have after a second of idleness.
struct TokenBuckets<K: Hash + Eq> {
    per_sec: f64,
    entries: Mutex<lru::LruCache<K, Tokens>>,
}

struct Tokens {
    available: f64,
    updated: Instant,
}

impl Tokens {
    /// Add what has accrued since the last look, up to one second's worth.
    fn refill(&mut self, per_sec: f64, now: Instant) {
        let accrued = now.saturating_duration_since(self.updated).as_secs_f64() * per_sec;
        self.available = (self.available + accrued).min(per_sec);
        self.updated = self.updated.max(now);
    }
}

impl<K: Hash + Eq> TokenBuckets<K> {
    fn new(per_sec: u32, capacity: usize) -> TokenBuckets<K> {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        TokenBuckets {
            per_sec: per_sec as f64,
            entries: Mutex::new(lru::LruCache::new(capacity)),
        }
    }

    fn rate(&self) -> u32 {
        self.per_sec as u32
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, lru::LruCache<K, Tokens>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Take a token for `key`; `Err(seconds)` says when the next one will be there.
    fn take<Q>(&self, key: &Q, now: Instant) -> Result<(), u32>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized + ToOwned<Owned = K>,
    {
        if self.per_sec <= 0.0 {
            return Ok(());
        }
        let per_sec = self.per_sec;
        let mut entries = self.entries();
        let t = entries.get_or_insert_mut_ref(key, || Tokens {
            available: per_sec,
            updated: now,
        });
        t.refill(per_sec, now);
        if t.available >= 1.0 {
            t.available -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - t.available) / per_sec;
            Err(wait.ceil().max(1.0) as u32)
        }
    }

    /// Put back a token taken for `key` (nothing if `key` has been forgotten since: it
    /// starts full anyway).
    fn refund<Q>(&self, key: &Q, now: Instant)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(t) = self.entries().peek_mut(key) {
            t.refill(self.per_sec, now);
            t.available = (t.available + 1.0).min(self.per_sec);
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.entries().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("a test address")
    }

    #[test]
    fn admits_the_rate_per_bucket_and_refills() {
        let rl = RateLimiter::new(100, 20);
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
        assert!(RateLimiter::new(0, 0).admit("a", t0).is_ok());
    }

    #[test]
    fn anonymous_requests_draw_on_their_address_not_the_bucket() {
        let rl = RateLimiter::new(100, 20);
        let t0 = Instant::now();
        let flood = RateBudget::of("pub", true, Some(ip("198.51.100.7")));
        let admitted = (0..150).filter(|_| rl.take(&flood, t0).is_ok()).count();
        assert_eq!(admitted, 20);
        let refusal = rl.take(&flood, t0).unwrap_err();
        assert!(refusal.contains("198.51.100.7"), "{refusal}");
        let signed = RateBudget::of("pub", false, Some(ip("198.51.100.7")));
        assert_eq!(signed, RateBudget::Bucket("pub".into()));
        let signed_admitted = (0..100).filter(|_| rl.take(&signed, t0).is_ok()).count();
        assert_eq!(signed_admitted, 100, "the bucket's budget is untouched");
        let neighbour = RateBudget::of("pub", true, Some(ip("198.51.100.8")));
        assert!(
            rl.take(&neighbour, t0).is_ok(),
            "another address has its own"
        );
        assert!(RateLimiter::new(100, 0).take(&flood, t0).is_ok());
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        let a = RateBudget::of("pub", true, Some(ip("2001:db8:1:2::1")));
        let b = RateBudget::of("pub", true, Some(ip("2001:db8:1:2:ffff::9")));
        assert_eq!(a, b);
        assert_eq!(a, RateBudget::Address(ip("2001:db8:1:2::")));
        assert_ne!(a, RateBudget::of("pub", true, Some(ip("2001:db8:1:3::1"))));
        assert_eq!(
            RateBudget::of("pub", true, Some(ip("::ffff:192.0.2.1"))),
            RateBudget::Address(ip("192.0.2.1"))
        );
        assert_eq!(
            RateBudget::of("pub", true, None),
            RateBudget::Address(ip("0.0.0.0")),
            "unknown addresses share one budget"
        );
    }

    #[test]
    fn a_refund_gives_the_token_back_up_to_the_burst() {
        let rl = RateLimiter::new(2, 2);
        let t0 = Instant::now();
        let anon = RateBudget::of("pub", true, Some(ip("192.0.2.1")));
        let bucket = RateBudget::Bucket("b".into());
        for budget in [&anon, &bucket] {
            assert!(rl.take(budget, t0).is_ok());
            assert!(rl.take(budget, t0).is_ok());
            assert!(rl.take(budget, t0).is_err());
            rl.refund(budget, t0);
            assert!(rl.take(budget, t0).is_ok(), "the refunded token");
            assert!(rl.take(budget, t0).is_err());
            // Refunds never hold more than the burst.
            for _ in 0..5 {
                rl.refund(budget, t0);
            }
            let after = (0..5).filter(|_| rl.take(budget, t0).is_ok()).count();
            assert_eq!(after, 2);
        }
    }

    #[test]
    fn tracked_keys_are_bounded_and_the_least_recent_goes_first() {
        let tb = TokenBuckets::<IpAddr>::new(1, 100);
        let t0 = Instant::now();
        let busy = ip("192.0.2.1");
        assert!(tb.take(&busy, t0).is_ok());
        for i in 0..10_000u32 {
            let other = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            assert!(tb.take(&other, t0).is_ok());
            if i % 50 == 0 {
                // Recently used, so kept: still out of tokens.
                assert!(tb.take(&busy, t0).is_err());
            }
        }
        assert_eq!(tb.tracked(), 100);
        // The first of the others was forgotten and starts full again.
        assert!(tb
            .take(&IpAddr::V4(Ipv4Addr::from(0x0a00_0000)), t0)
            .is_ok());
    }
}
