//! Replay protection across restarts without a store write per request.
//!
//! Nonces live in memory ([`NonceStore`]), which a restart empties. Two rules close that
//! gap (docs/security.md):
//! - Requests signed before this process's floor (its start, plus [`AHEAD_IN_MEMORY`]) are
//!   refused as expired: the previous process may have seen them. A restarted server
//!   listens only once the floor has passed, so clients with correct clocks never meet it.
//! - Requests signed more than [`AHEAD_IN_MEMORY`] ahead of the server's clock (fast client
//!   clocks) could pass the next process's floor, so their nonces are also recorded in the
//!   store; the next process checks requests signed up to the latest recorded time there.
//! - A server that stops cleanly hands over instead ([`ReplayGuard::hand_over`]): after its
//!   last request it records the nonces of requests signed in its last second or later in
//!   the store and leaves that second as its successor's floor, so the successor listens
//!   at once. A successor takes the hand-over when it starts, so a crash of its own leaves
//!   none behind and the next start waits out the floor again.

use time::OffsetDateTime;

use crate::protocol::error::{ApiError, ErrorCode};
use crate::protocol::nonce::{NonceCheck, NonceStore};
use crate::protocol::request;
use crate::store::Store;

/// How far ahead of the server's clock a request may be signed and still be checked in
/// memory only.
const AHEAD_IN_MEMORY: i64 = 2;

/// The setting in which a cleanly stopped server leaves its successor's floor.
const HANDED_OVER_FLOOR: &str = "replay_floor_handed_over";

pub struct ReplayGuard {
    nonces: NonceStore,
    /// Requests signed before this (Unix seconds) are refused as expired.
    floor: i64,
    /// Requests signed up to this time may have been recorded in the store by an earlier
    /// process.
    recorded_until: Option<i64>,
    window_secs: i64,
}

impl ReplayGuard {
    pub async fn new(
        store: &dyn Store,
        max_nonces: usize,
        window: time::Duration,
        started: OffsetDateTime,
        restarted: bool,
    ) -> Result<Self, crate::store::StoreError> {
        let handed_over = store
            .take_setting(HANDED_OVER_FLOOR)
            .await?
            .and_then(|v| v.parse::<i64>().ok());
        if restarted && handed_over.is_some() {
            tracing::info!("the last run handed over its recent nonces: no wait for a floor");
        }
        Ok(ReplayGuard {
            // Nonces accepted up to AHEAD_IN_MEMORY seconds before they were signed must
            // still be at hand when the second they were signed in is the last one.
            nonces: NonceStore::new(max_nonces, window.whole_seconds(), AHEAD_IN_MEMORY + 2),
            // A fresh store has no earlier process whose nonces could be replayed.
            floor: match (restarted, handed_over) {
                (false, _) => i64::MIN,
                (true, Some(floor)) => floor,
                (true, None) => started.unix_timestamp() + 1 + AHEAD_IN_MEMORY,
            },
            recorded_until: store.latest_claimed_nonce().await?,
            window_secs: window.whole_seconds(),
        })
    }

    /// When the server may start listening (Unix seconds).
    pub fn floor(&self) -> i64 {
        self.floor
    }

    /// Called once no request runs any more: records in the store the nonces of requests
    /// signed in this second or later (those signed further ahead are there already) and
    /// leaves this second as the next process's floor. Nothing is left when recent nonces
    /// were dropped for room; the next process then waits out its own floor.
    pub async fn hand_over(&self, store: &dyn Store) -> Result<(), crate::store::StoreError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let Some(recent) = self.nonces.recent(now) else {
            tracing::info!("too many recent nonces to hand over; the next start waits");
            return Ok(());
        };
        let signed_since_now: Vec<_> = recent.into_iter().filter(|n| n.signed_at >= now).collect();
        store.record_nonces(&signed_since_now).await?;
        store.put_setting(HANDED_OVER_FLOOR, &now.to_string()).await
    }

    /// Records the request's nonce, refusing a replay; `signed_at` lies within the time
    /// window of `now` (checked before).
    pub async fn check(
        &self,
        store: &dyn Store,
        access_key_id: &str,
        nonce: &str,
        signed_at: i64,
        now: i64,
    ) -> Result<(), ApiError> {
        if signed_at < self.floor {
            return Err(request::expired());
        }
        match self
            .nonces
            .check_and_insert(access_key_id, nonce, signed_at, now)
        {
            NonceCheck::Fresh => {}
            NonceCheck::Used => return Err(used()),
            NonceCheck::TooOld => return Err(request::expired()),
        }
        let seen = if signed_at > now + AHEAD_IN_MEMORY {
            let forget_before = now - self.window_secs - 60;
            !store
                .claim_nonce(access_key_id, nonce, signed_at, forget_before)
                .await?
        } else if self.recorded_until.is_some_and(|t| signed_at <= t) {
            store.nonce_claimed(access_key_id, nonce).await?
        } else {
            false
        };
        if seen { Err(used()) } else { Ok(()) }
    }
}

fn used() -> ApiError {
    ApiError::new(
        ErrorCode::SignatureNonceUsed,
        "Specified signature nonce was used already.",
    )
}
