//! The per-instance verified-token cache: a page load sends the same token
//! with dozens of asset requests, and only the first should pay for the
//! signature math. Keyed by SHA-256 of the whole token; bounded; entries keep
//! their token's time claims, which are re-checked on every hit, so an entry
//! never outlives its token; cleared whenever the keys change.

use std::collections::{HashMap, VecDeque};

use sha2::{Digest, Sha256};

use crate::jwt::Verified;

/// A bounded map from token digest to its verification result.
#[derive(Debug, Clone)]
pub struct TokenCache {
    max_entries: usize,
    keys_fingerprint: u64,
    entries: HashMap<[u8; 32], Verified>,
    order: VecDeque<[u8; 32]>,
}

impl TokenCache {
    /// A cache of at most `max_entries` tokens (0 disables caching).
    pub fn new(max_entries: usize) -> Self {
        TokenCache {
            max_entries,
            keys_fingerprint: 0,
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The digest used as key.
    pub fn digest(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// Drops everything if the keys changed since the last call.
    pub fn sync_keys(&mut self, keys_fingerprint: u64) {
        if self.keys_fingerprint != keys_fingerprint {
            self.entries.clear();
            self.order.clear();
            self.keys_fingerprint = keys_fingerprint;
        }
    }

    /// The cached result for `digest`.
    pub fn get(&self, digest: &[u8; 32]) -> Option<&Verified> {
        self.entries.get(digest)
    }

    /// Forgets `digest` (e.g. once its token expired).
    pub fn remove(&mut self, digest: &[u8; 32]) {
        if self.entries.remove(digest).is_some() {
            self.order.retain(|d| d != digest);
        }
    }

    /// Remembers a verified token, evicting the oldest entry when full.
    pub fn insert(&mut self, digest: [u8; 32], verified: Verified) {
        if self.max_entries == 0 {
            return;
        }
        if self.entries.insert(digest, verified).is_none() {
            self.order.push_back(digest);
            while self.order.len() > self.max_entries {
                if let Some(old) = self.order.pop_front() {
                    self.entries.remove(&old);
                }
            }
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::TokenCache;
    use crate::json::Json;
    use crate::jwt::{Times, Verified};

    /// A verified token told apart by its issuer index.
    fn verified(issuer: usize) -> Verified {
        Verified {
            issuer,
            claims: Json::Null,
            times: Times {
                exp: 2e9,
                nbf: None,
                iat: None,
            },
        }
    }

    fn d(token: &str) -> [u8; 32] {
        TokenCache::digest(token)
    }

    #[test]
    fn digests_are_sha256_of_the_whole_token() {
        // SHA-256("abc"), FIPS 180-2's first example.
        assert_eq!(
            d("abc")[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "the digest is SHA-256"
        );
        assert_ne!(d("a.b.c"), d("a.b.d"), "one byte apart, two entries");
    }

    #[test]
    fn holds_at_most_its_bound_and_evicts_the_oldest_first() {
        let mut c = TokenCache::new(3);
        assert!(c.is_empty());
        for (i, t) in ["t0", "t1", "t2", "t3", "t4"].iter().enumerate() {
            c.insert(d(t), verified(i));
            assert_eq!(c.len(), (i + 1).min(3), "after {t}");
            assert!(!c.is_empty());
        }
        assert_eq!(c.get(&d("t0")), None, "the oldest went first");
        assert_eq!(c.get(&d("t1")), None);
        assert_eq!(c.get(&d("t2")), Some(&verified(2)));
        assert_eq!(c.get(&d("t4")), Some(&verified(4)));
        // A token seen again is not counted twice: t2 stays the oldest.
        c.insert(d("t2"), verified(2));
        assert_eq!(c.len(), 3);
        c.insert(d("t5"), verified(5));
        assert_eq!(c.get(&d("t2")), None);
        assert_eq!(c.get(&d("t3")), Some(&verified(3)));
        // Ten thousand inserts later the bound still holds.
        for i in 0..10_000 {
            c.insert(d(&format!("x{i}")), verified(i));
        }
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn a_bound_of_zero_caches_nothing() {
        let mut c = TokenCache::new(0);
        c.insert(d("t"), verified(0));
        assert_eq!((c.len(), c.get(&d("t"))), (0, None));
    }

    #[test]
    fn removing_frees_the_slot_for_later_tokens() {
        let mut c = TokenCache::new(2);
        c.insert(d("a"), verified(0));
        c.insert(d("b"), verified(1));
        c.remove(&d("a"));
        c.remove(&d("never-seen"));
        assert_eq!((c.len(), c.get(&d("a"))), (1, None));
        // The removed entry no longer holds a place in the eviction order:
        // two more fit before b is evicted.
        c.insert(d("c"), verified(2));
        assert_eq!(c.get(&d("b")), Some(&verified(1)));
        c.insert(d("e"), verified(3));
        assert_eq!(c.get(&d("b")), None);
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn new_keys_drop_every_entry_and_the_same_keys_keep_them() {
        let mut c = TokenCache::new(4);
        c.sync_keys(7);
        c.insert(d("a"), verified(0));
        c.sync_keys(7);
        assert_eq!(c.get(&d("a")), Some(&verified(0)), "same keys: kept");
        c.sync_keys(8);
        assert!(
            c.is_empty() && c.get(&d("a")).is_none(),
            "new keys: dropped"
        );
        // And the order went with them: a full cache after the change still
        // evicts only its own oldest.
        for t in ["p", "q", "r", "s", "u"] {
            c.insert(d(t), verified(1));
        }
        assert_eq!(c.len(), 4);
        assert!(c.get(&d("p")).is_none() && c.get(&d("q")).is_some());
    }
}
