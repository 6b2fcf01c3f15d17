//! The per-instance verified-token cache: a page load sends the same token
//! with dozens of asset requests, and only the first should pay for the
//! signature math. Keyed by the whole token, compared byte for byte: a hit is
//! the very token verified before, under the same keys. Bounded: at most
//! `cache_entries` tokens of at most [`crate::jwt::MAX_TOKEN_BYTES`] each
//! (8 MiB at the default 1,024), and only verified tokens get in. Entries keep
//! their token's time claims, which are re-checked on every hit, so an entry
//! never outlives its token; cleared whenever the keys change.
//!
//! Not a digest of the token: hashing every token with SHA-256 cost each
//! request with a token, and a cold instance compiled SHA-256 for its first
//! token (docs/benchmarks.md has the figures).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::hashkeys::HashKeys;
use crate::jwt::Verified;

/// A bounded map from token to its verification result.
#[derive(Debug, Clone)]
pub struct TokenCache {
    max_entries: usize,
    keys_fingerprint: u64,
    entries: HashMap<Arc<str>, Verified, HashKeys>,
    /// Insertion order, for eviction; shares each key with `entries`.
    order: VecDeque<Arc<str>>,
}

impl TokenCache {
    /// A cache of at most `max_entries` tokens (0 disables caching), hashed
    /// with `keys`.
    pub fn new(max_entries: usize, keys: HashKeys) -> Self {
        TokenCache {
            max_entries,
            keys_fingerprint: 0,
            entries: HashMap::with_hasher(keys),
            order: VecDeque::new(),
        }
    }

    /// Drops everything if the keys changed since the last call.
    pub fn sync_keys(&mut self, keys_fingerprint: u64) {
        if self.keys_fingerprint != keys_fingerprint {
            self.entries.clear();
            self.order.clear();
            self.keys_fingerprint = keys_fingerprint;
        }
    }

    /// The cached result for `token`.
    pub fn get(&self, token: &str) -> Option<&Verified> {
        self.entries.get(token)
    }

    /// Forgets `token` (e.g. once it expired).
    pub fn remove(&mut self, token: &str) {
        if self.entries.remove(token).is_some() {
            self.order.retain(|t| &**t != token);
        }
    }

    /// Remembers a verified token, evicting the oldest entry when full.
    pub fn insert(&mut self, token: &str, verified: Verified) {
        if self.max_entries == 0 {
            return;
        }
        if let Some(held) = self.entries.get_mut(token) {
            *held = verified;
            return;
        }
        let key: Arc<str> = Arc::from(token);
        self.entries.insert(Arc::clone(&key), verified);
        self.order.push_back(key);
        while self.order.len() > self.max_entries {
            if let Some(old) = self.order.pop_front() {
                self.entries.remove(&old);
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
    use crate::hashkeys::HashKeys;
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

    #[test]
    fn only_the_same_token_byte_for_byte_is_a_hit() {
        let mut c = TokenCache::new(8, HashKeys::new(1, 2));
        c.insert("a.b.c", verified(1));
        assert_eq!(c.get("a.b.c"), Some(&verified(1)));
        for other in ["a.b.d", "a.b.", "a.b.cc", "A.b.c", " a.b.c", ""] {
            assert_eq!(c.get(other), None, "{other:?} is another token");
        }
        // The same token again replaces its entry, not a second one.
        c.insert("a.b.c", verified(2));
        assert_eq!((c.len(), c.get("a.b.c")), (1, Some(&verified(2))));
    }

    #[test]
    fn holds_at_most_its_bound_and_evicts_the_oldest_first() {
        let mut c = TokenCache::new(3, HashKeys::new(1, 2));
        assert!(c.is_empty());
        for (i, t) in ["t0", "t1", "t2", "t3", "t4"].iter().enumerate() {
            c.insert(t, verified(i));
            assert_eq!(c.len(), (i + 1).min(3), "after {t}");
            assert!(!c.is_empty());
        }
        assert_eq!(c.get("t0"), None, "the oldest went first");
        assert_eq!(c.get("t1"), None);
        assert_eq!(c.get("t2"), Some(&verified(2)));
        assert_eq!(c.get("t4"), Some(&verified(4)));
        // A token seen again is not counted twice: t2 stays the oldest.
        c.insert("t2", verified(2));
        assert_eq!(c.len(), 3);
        c.insert("t5", verified(5));
        assert_eq!(c.get("t2"), None);
        assert_eq!(c.get("t3"), Some(&verified(3)));
        // Ten thousand inserts later the bound still holds.
        for i in 0..10_000 {
            c.insert(&format!("x{i}"), verified(i));
        }
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn a_bound_of_zero_caches_nothing() {
        let mut c = TokenCache::new(0, HashKeys::new(1, 2));
        c.insert("t", verified(0));
        assert_eq!((c.len(), c.get("t")), (0, None));
    }

    #[test]
    fn removing_frees_the_slot_for_later_tokens() {
        let mut c = TokenCache::new(2, HashKeys::new(1, 2));
        c.insert("a", verified(0));
        c.insert("b", verified(1));
        c.remove("a");
        c.remove("never-seen");
        assert_eq!((c.len(), c.get("a")), (1, None));
        // The removed entry no longer holds a place in the eviction order:
        // two more fit before b is evicted.
        c.insert("c", verified(2));
        assert_eq!(c.get("b"), Some(&verified(1)));
        c.insert("e", verified(3));
        assert_eq!(c.get("b"), None);
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn new_keys_drop_every_entry_and_the_same_keys_keep_them() {
        let mut c = TokenCache::new(4, HashKeys::new(1, 2));
        c.sync_keys(7);
        c.insert("a", verified(0));
        c.sync_keys(7);
        assert_eq!(c.get("a"), Some(&verified(0)), "same keys: kept");
        c.sync_keys(8);
        assert!(c.is_empty() && c.get("a").is_none(), "new keys: dropped");
        // And the order went with them: a full cache after the change still
        // evicts only its own oldest.
        for t in ["p", "q", "r", "s", "u"] {
            c.insert(t, verified(1));
        }
        assert_eq!(c.len(), 4);
        assert!(c.get("p").is_none() && c.get("q").is_some());
    }
}
