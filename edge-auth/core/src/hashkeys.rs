//! Keyed hashing for the per-instance tables that clients fill: the rate
//! limiters (keyed by client address), the token cache (keyed by token) and
//! the Web Bot Auth nonce cache (keyed by key id and nonce). Whoever knows a
//! table's hash keys can choose inputs that all land in one probe sequence,
//! and every lookup then walks the whole table (hash flooding).
//!
//! std's `RandomState` takes its keys from the operating system, except on
//! `wasm32-unknown-unknown`, which has none: there they come from allocation
//! addresses, the same in every instance of a bundle, so anyone holding the
//! bundle would know them. The core uses no randomness (an invariant of the
//! crate), so the keys come from the adapter: the shim draws them when an
//! instance starts, native hosts derive them from std's `RandomState`.
//! SipHash-1-3 is the function std uses, keyed the same way.

use std::hash::BuildHasher;

use siphasher::sip::SipHasher13;

/// The two SipHash keys of an instance's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashKeys {
    k0: u64,
    k1: u64,
}

impl HashKeys {
    /// Keys the adapter drew; they must be unknown to clients.
    pub const fn new(k0: u64, k1: u64) -> HashKeys {
        HashKeys { k0, k1 }
    }

    /// Keys derived from `state` (std's `RandomState`, keyed by the operating
    /// system on native hosts). Not for `wasm32-unknown-unknown`, where that
    /// state is the same in every instance: the adapter there draws its own.
    pub fn from_random_state(state: &impl BuildHasher) -> HashKeys {
        HashKeys::new(state.hash_one(0u8), state.hash_one(1u8))
    }
}

impl BuildHasher for HashKeys {
    type Hasher = SipHasher13;

    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

#[cfg(test)]
mod tests {
    use super::HashKeys;
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;

    #[test]
    fn the_keys_decide_the_hash() {
        let a = HashKeys::new(1, 2);
        assert_eq!(
            a.hash_one("203.0.113.9"),
            HashKeys::new(1, 2).hash_one("203.0.113.9")
        );
        for other in [
            HashKeys::new(1, 3),
            HashKeys::new(3, 2),
            HashKeys::new(2, 1),
        ] {
            assert_ne!(
                a.hash_one("203.0.113.9"),
                other.hash_one("203.0.113.9"),
                "{other:?}"
            );
        }
    }

    #[test]
    fn keys_from_a_random_state_differ_between_states_and_from_each_other() {
        let a = HashKeys::from_random_state(&RandomState::new());
        let b = HashKeys::from_random_state(&RandomState::new());
        assert_ne!(a, b);
        assert_ne!(a.k0, a.k1);
    }
}
