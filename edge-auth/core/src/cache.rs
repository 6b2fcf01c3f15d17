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
