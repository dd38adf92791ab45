//! Replay protection: remembers (AccessKeyId, nonce) pairs for the timestamp window.
//!
//! Nonces are kept as 64-bit keyed hashes in per-minute buckets (by the request's signed
//! time), so memory is bounded and expiry is a bucket drop. When the bound is reached the
//! oldest bucket is dropped and requests signed before it are refused as expired: the
//! store fails closed instead of forgetting nonces that could still be replayed.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::Mutex;

#[derive(Debug, PartialEq, Eq)]
pub enum NonceCheck {
    Fresh,
    Used,
    /// Older than anything the bounded store can still vouch for.
    TooOld,
}

pub struct NonceStore {
    hasher: RandomState,
    max_entries: usize,
    window_secs: i64,
    inner: Mutex<Buckets>,
}

#[derive(Default)]
struct Buckets {
    /// (minute, hashes), ordered by minute.
    buckets: VecDeque<(i64, HashSet<u64>)>,
    len: usize,
    /// Requests signed before this minute are refused.
    floor_minute: i64,
}

impl NonceStore {
    /// `max_entries` bounds memory (about 16 bytes per entry); `window_secs` is the
    /// accepted clock skew, beyond which requests are refused before reaching here.
    pub fn new(max_entries: usize, window_secs: i64) -> Self {
        NonceStore {
            hasher: RandomState::new(),
            max_entries: max_entries.max(1),
            window_secs,
            inner: Mutex::new(Buckets {
                floor_minute: i64::MIN,
                ..Default::default()
            }),
        }
    }

    /// Records the nonce unless it was seen; `signed_at` and `now` are Unix seconds.
    pub fn check_and_insert(
        &self,
        access_key_id: &str,
        nonce: &str,
        signed_at: i64,
        now: i64,
    ) -> NonceCheck {
        let mut h = self.hasher.build_hasher();
        access_key_id.hash(&mut h);
        nonce.hash(&mut h);
        let key = h.finish();
        let minute = signed_at.div_euclid(60);
        let oldest_live = (now - self.window_secs).div_euclid(60) - 1;

        let mut b = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        while b.buckets.front().is_some_and(|(m, _)| *m < oldest_live) {
            let (_, set) = b.buckets.pop_front().expect("front exists");
            b.len -= set.len();
        }
        if minute < b.floor_minute {
            return NonceCheck::TooOld;
        }
        if b.buckets.iter().any(|(_, set)| set.contains(&key)) {
            return NonceCheck::Used;
        }
        while b.len >= self.max_entries {
            let Some((m, set)) = b.buckets.pop_front() else {
                break;
            };
            b.len -= set.len();
            b.floor_minute = m + 1;
            if minute < b.floor_minute {
                return NonceCheck::TooOld;
            }
        }
        let pos = b.buckets.partition_point(|(m, _)| *m < minute);
        if b.buckets.get(pos).is_none_or(|(m, _)| *m != minute) {
            b.buckets.insert(pos, (minute, HashSet::new()));
        }
        b.buckets[pos].1.insert(key);
        b.len += 1;
        NonceCheck::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_is_detected_per_key() {
        let s = NonceStore::new(100, 900);
        assert_eq!(s.check_and_insert("k", "n1", 1000, 1000), NonceCheck::Fresh);
        assert_eq!(s.check_and_insert("k", "n1", 1000, 1001), NonceCheck::Used);
        assert_eq!(
            s.check_and_insert("other", "n1", 1000, 1001),
            NonceCheck::Fresh
        );
    }

    #[test]
    fn old_buckets_expire() {
        let s = NonceStore::new(100, 900);
        assert_eq!(s.check_and_insert("k", "n", 0, 0), NonceCheck::Fresh);
        // Long after the window the bucket is gone (the skew check refuses such requests).
        assert_eq!(s.check_and_insert("k", "n", 5000, 5000), NonceCheck::Fresh);
        assert_eq!(s.inner.lock().unwrap().len, 1);
    }

    #[test]
    fn full_store_fails_closed() {
        let s = NonceStore::new(2, 900);
        assert_eq!(s.check_and_insert("k", "a", 0, 100), NonceCheck::Fresh);
        assert_eq!(s.check_and_insert("k", "b", 120, 130), NonceCheck::Fresh);
        // Full: the minute-0 bucket is dropped, so a replay of "a" must not pass as fresh.
        assert_eq!(s.check_and_insert("k", "c", 130, 140), NonceCheck::Fresh);
        assert_eq!(s.check_and_insert("k", "a", 0, 140), NonceCheck::TooOld);
    }
}
