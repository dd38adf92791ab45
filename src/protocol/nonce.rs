//! Replay protection: remembers (AccessKeyId, nonce) pairs for the timestamp window.
//!
//! Nonces are kept as 64-bit keyed hashes in per-minute buckets (by the request's signed
//! time), so memory is bounded and expiry is a bucket drop. When the bound is reached the
//! oldest bucket is dropped and requests signed before it are refused as expired: the
//! store fails closed instead of forgetting nonces that could still be replayed.
//!
//! The nonces accepted in the last few seconds are also kept whole ([`NonceStore::recent`]),
//! so that a server stopping cleanly can hand them to its successor (server/replay.rs).

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::sync::Mutex;

use crate::domain::account::SignedNonce;

/// Bound on the nonces kept whole; past it the oldest go, and a hand-over covering their
/// time is refused (the successor then waits out its time floor instead).
const MAX_RECENT: usize = 200_000;

/// The buckets hold keyed hashes (SipHash under a per-process random key) already, so they
/// are used as their own hash: hashing them again cost a SipHash per bucket probed, most of
/// a check's time. No client can aim at a bucket without the key.
#[derive(Default)]
struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Hashes = HashSet<u64, BuildHasherDefault<AlreadyHashed>>;

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
    /// How long accepted nonces are kept whole, by arrival (seconds).
    recent_secs: i64,
    inner: Mutex<Buckets>,
}

#[derive(Default)]
struct Buckets {
    /// (minute, hashes), ordered by minute.
    buckets: VecDeque<(i64, Hashes)>,
    len: usize,
    /// Requests signed before this minute are refused.
    floor_minute: i64,
    /// (arrival, nonce) of the nonces accepted in the last `recent_secs`, oldest first.
    recent: VecDeque<(i64, SignedNonce)>,
    /// Arrival of the newest nonce dropped from `recent` for room.
    recent_lost_at: i64,
}

impl NonceStore {
    /// `max_entries` bounds memory (about 16 bytes per entry); `window_secs` is the
    /// accepted clock skew, beyond which requests are refused before reaching here; nonces
    /// accepted in the last `recent_secs` are also kept whole.
    pub fn new(max_entries: usize, window_secs: i64, recent_secs: i64) -> Self {
        NonceStore {
            hasher: RandomState::new(),
            max_entries: max_entries.max(1),
            window_secs,
            recent_secs,
            inner: Mutex::new(Buckets {
                floor_minute: i64::MIN,
                recent_lost_at: i64::MIN,
                ..Default::default()
            }),
        }
    }

    /// The nonces accepted since `now - recent_secs`, or `None` when some of them were
    /// dropped for room.
    pub fn recent(&self, now: i64) -> Option<Vec<SignedNonce>> {
        let since = now - self.recent_secs;
        let b = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (b.recent_lost_at < since).then(|| {
            b.recent
                .iter()
                .filter(|(arrived, _)| *arrived >= since)
                .map(|(_, n)| n.clone())
                .collect()
        })
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
            b.buckets.insert(pos, (minute, Hashes::default()));
        }
        b.buckets[pos].1.insert(key);
        b.len += 1;
        while b
            .recent
            .front()
            .is_some_and(|(arrived, _)| *arrived < now - self.recent_secs)
        {
            b.recent.pop_front();
        }
        if b.recent.len() >= MAX_RECENT
            && let Some((arrived, _)) = b.recent.pop_front()
        {
            b.recent_lost_at = arrived;
        }
        b.recent.push_back((
            now,
            SignedNonce {
                access_key_id: access_key_id.to_string(),
                nonce: nonce.to_string(),
                signed_at,
            },
        ));
        NonceCheck::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_is_detected_per_key() {
        let s = NonceStore::new(100, 900, 4);
        assert_eq!(s.check_and_insert("k", "n1", 1000, 1000), NonceCheck::Fresh);
        assert_eq!(s.check_and_insert("k", "n1", 1000, 1001), NonceCheck::Used);
        assert_eq!(
            s.check_and_insert("other", "n1", 1000, 1001),
            NonceCheck::Fresh
        );
    }

    #[test]
    fn old_buckets_expire() {
        let s = NonceStore::new(100, 900, 4);
        assert_eq!(s.check_and_insert("k", "n", 0, 0), NonceCheck::Fresh);
        // Long after the window the bucket is gone (the skew check refuses such requests).
        assert_eq!(s.check_and_insert("k", "n", 5000, 5000), NonceCheck::Fresh);
        assert_eq!(s.inner.lock().unwrap().len, 1);
    }

    #[test]
    fn full_store_fails_closed() {
        let s = NonceStore::new(2, 900, 4);
        assert_eq!(s.check_and_insert("k", "a", 0, 100), NonceCheck::Fresh);
        assert_eq!(s.check_and_insert("k", "b", 120, 130), NonceCheck::Fresh);
        // Full: the minute-0 bucket is dropped, so a replay of "a" must not pass as fresh.
        assert_eq!(s.check_and_insert("k", "c", 130, 140), NonceCheck::Fresh);
        assert_eq!(s.check_and_insert("k", "a", 0, 140), NonceCheck::TooOld);
    }

    #[test]
    fn recent_nonces_are_kept_whole_for_a_few_seconds() {
        let s = NonceStore::new(100, 900, 4);
        assert_eq!(s.check_and_insert("k", "old", 990, 990), NonceCheck::Fresh);
        assert_eq!(
            s.check_and_insert("k", "new", 1001, 1000),
            NonceCheck::Fresh
        );
        assert_eq!(s.check_and_insert("k", "new", 1001, 1000), NonceCheck::Used);
        let names = |v: Vec<SignedNonce>| v.into_iter().map(|n| n.nonce).collect::<Vec<_>>();
        assert_eq!(names(s.recent(1002).unwrap()), ["new"]);
        assert_eq!(names(s.recent(1010).unwrap()), Vec::<String>::new());
    }
}
