//! Per-client rate limiting with GCRA (the generic cell rate algorithm) on a
//! clock the host supplies, in a table whose size is bounded: idle clients
//! (whose allowance has fully refilled) are dropped first, then the clients
//! closest to idle.
//!
//! Written here rather than taken from `governor`: governor's keyed store has
//! no size bound and no eviction of the "closest to idle" entries, and the
//! edge must keep its memory flat under an address-spraying flood (the WAF
//! rate rule is the global limit; this is the per-instance first line).

use std::collections::HashMap;
use std::hash::Hash;

use crate::config::Rate;
use crate::hashkeys::HashKeys;
use crate::request::ClientKey;

/// A GCRA limiter keyed by client ([`ClientKey`] at the edge).
#[derive(Debug, Clone)]
pub struct RateLimiter<K = ClientKey> {
    /// Milliseconds between requests at the sustained rate.
    emission_ms: f64,
    /// Burst allowance: how far ahead of now a client's TAT may run.
    tolerance_ms: f64,
    max_clients: usize,
    /// Theoretical arrival time per client, in ms on the host clock.
    tat: HashMap<K, f64, HashKeys>,
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// A limiter for `rate`, tracking at most `max_clients` clients in a
    /// table hashed with `keys`.
    pub fn new(rate: Rate, max_clients: usize, keys: HashKeys) -> Self {
        let emission_ms = 1000.0 / rate.per_second;
        RateLimiter {
            emission_ms,
            tolerance_ms: emission_ms * f64::from(rate.burst),
            max_clients: max_clients.max(1),
            tat: HashMap::with_hasher(keys),
        }
    }

    /// Counts one request of `key` at `now_ms`. `Err(retry_after_s)` when over the rate.
    pub fn check(&mut self, key: K, now_ms: u64) -> Result<(), u64> {
        let now = now_ms as f64;
        let known = self.tat.get(&key).copied();
        let tat = known.unwrap_or(now).max(now);
        let new_tat = tat + self.emission_ms;
        if new_tat - now > self.tolerance_ms {
            let wait_ms = new_tat - now - self.tolerance_ms;
            return Err((wait_ms / 1000.0).ceil().max(1.0) as u64);
        }
        if known.is_none() && self.tat.len() >= self.max_clients {
            self.evict(now);
        }
        self.tat.insert(key, new_tat);
        Ok(())
    }

    /// Clients currently tracked.
    pub fn len(&self) -> usize {
        self.tat.len()
    }

    /// Whether no client is tracked.
    pub fn is_empty(&self) -> bool {
        self.tat.is_empty()
    }

    // Out of line and cold: a full table is rare, and a cold start's first
    // request then does not compile the eviction.
    #[cold]
    #[inline(never)]
    fn evict(&mut self, now: f64) {
        self.tat.retain(|_, tat| *tat > now);
        if self.tat.len() >= self.max_clients {
            // Everyone is active: drop the half closest to idle (smallest TAT).
            let mut tats: Vec<f64> = self.tat.values().copied().collect();
            let mid = tats.len() / 2;
            tats.select_nth_unstable_by(mid, f64::total_cmp);
            let cut = tats[mid];
            self.tat.retain(|_, tat| *tat > cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_second: f64, burst: u32, max: usize) -> RateLimiter<&'static str> {
        RateLimiter::new(Rate { per_second, burst }, max, HashKeys::new(1, 2))
    }

    #[test]
    fn burst_then_sustained_rate() {
        let mut l = limiter(10.0, 5, 100);
        for _ in 0..5 {
            assert!(l.check("a", 1_000).is_ok());
        }
        assert_eq!(l.check("a", 1_000), Err(1));
        assert!(l.check("b", 1_000).is_ok(), "other clients are independent");
        assert!(
            l.check("a", 1_100).is_ok(),
            "one emission interval later, one more"
        );
        assert!(l.check("a", 1_100).is_err());
    }

    #[test]
    fn retry_after_covers_the_wait() {
        let mut l = limiter(1.0 / 60.0, 1, 10);
        assert!(l.check("a", 0).is_ok());
        assert_eq!(l.check("a", 0), Err(60));
        assert_eq!(l.check("a", 30_000), Err(30));
        assert!(l.check("a", 60_000).is_ok());
    }

    #[test]
    fn memory_is_bounded() {
        let mut l = RateLimiter::new(
            Rate {
                per_second: 1.0,
                burst: 10,
            },
            1000,
            HashKeys::new(1, 2),
        );
        for i in 0..100_000u64 {
            let _ = l.check(ClientKey::from(u128::from(i)), i);
        }
        assert!(l.len() <= 1000, "{}", l.len());
    }

    #[test]
    fn a_full_table_drops_idle_clients_first_including_one_just_refilled() {
        // 10 per second: each request moves a client's TAT 100 ms ahead.
        let mut l = limiter(10.0, 5, 3);
        assert!(l.is_empty());
        assert!(l.check("idle", 0).is_ok()); // TAT 100: idle from 100 ms on
        assert!(l.check("busy", 0).is_ok());
        for _ in 0..4 {
            assert!(l.check("busy", 100).is_ok()); // TAT 500
        }
        assert_eq!((l.len(), l.is_empty()), (2, false));
        // Not full: a new client evicts no one, even an idle one.
        assert!(l.check("new", 100).is_ok());
        assert_eq!(l.len(), 3);
        // Full at 200 ms: "idle" (TAT 100) and "new" (TAT 200, exactly
        // refilled now) are idle and go; "busy" keeps its state.
        assert!(l.check("late", 200).is_ok());
        assert_eq!(l.len(), 2);
        // A known client never evicts anyone, full or not.
        assert!(l.check("late", 200).is_ok());
        assert_eq!(l.len(), 2);
        // "busy" kept its state: at 200 ms it has room for two (TAT 500 of
        // a 500 ms tolerance, 100 ms refilled), not a fresh burst of five.
        assert!(l.check("busy", 200).is_ok());
        assert!(l.check("busy", 200).is_ok());
        assert!(l.check("busy", 200).is_err());
    }

    #[test]
    fn a_full_table_of_active_clients_keeps_the_busiest() {
        let mut l = limiter(10.0, 10, 4);
        // TATs 100, 200, 300, 400 ms: all active at 0 ms.
        for (client, n) in [("a", 1), ("b", 2), ("c", 3), ("d", 4)] {
            for _ in 0..n {
                assert!(l.check(client, 0).is_ok());
            }
        }
        assert_eq!(l.len(), 4);
        // The median TAT is 300: everyone at or below it is dropped.
        assert!(l.check("e", 0).is_ok());
        assert_eq!(l.len(), 2, "d and the newcomer");
        // d kept its count (4 of a burst of 10); a was forgotten (a fresh 10).
        for _ in 0..6 {
            assert!(l.check("d", 0).is_ok());
        }
        assert!(l.check("d", 0).is_err());
    }
}
