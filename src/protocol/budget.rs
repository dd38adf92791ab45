//! A byte budget on request and response bodies in flight (`--max-bytes-in-flight`), and the
//! per-response limit (`--max-response-bytes`). Requests count from their declared length
//! before the body is read; responses from their serialized length until the body is sent,
//! or earlier, from an estimate an action makes before it loads (a search page's timelines).
//! Bodies under [`UNCOUNTED_BYTES`] are left out: they are bounded by the request count.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::error::ApiError;

/// Bodies smaller than this are not counted (a signed Get is a few hundred bytes).
pub const UNCOUNTED_BYTES: u64 = 64 * 1024;

/// Bytes of request and response bodies held at once, across all requests.
#[derive(Debug)]
pub struct ByteBudget {
    limit: u64,
    used: AtomicU64,
}

impl ByteBudget {
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(ByteBudget {
            limit,
            used: AtomicU64::new(0),
        })
    }

    pub fn in_flight(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    pub fn over(&self) -> bool {
        self.in_flight() > self.limit
    }

    /// Takes `bytes` if they fit under the limit, else `None` (the caller answers 503).
    pub fn try_reserve(self: &Arc<Self>, bytes: u64) -> Option<Reservation> {
        if bytes < UNCOUNTED_BYTES {
            return Some(Reservation::none());
        }
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&n| n <= self.limit)
            })
            .ok()
            .map(|_| Reservation {
                budget: Some(self.clone()),
                bytes,
            })
    }

    /// Counts `bytes` already held (a response body that exists), even past the limit: the
    /// next requests are refused until it is sent.
    pub fn reserve(self: &Arc<Self>, bytes: u64) -> Reservation {
        if bytes < UNCOUNTED_BYTES {
            return Reservation::none();
        }
        self.used.fetch_add(bytes, Ordering::AcqRel);
        Reservation {
            budget: Some(self.clone()),
            bytes,
        }
    }
}

/// Bytes taken from a [`ByteBudget`], given back when dropped.
#[derive(Debug)]
#[must_use]
pub struct Reservation {
    budget: Option<Arc<ByteBudget>>,
    bytes: u64,
}

impl Reservation {
    fn none() -> Self {
        Reservation {
            budget: None,
            bytes: 0,
        }
    }

    /// Whether this holds any bytes of the budget.
    pub fn counted(&self) -> bool {
        self.budget.is_some()
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(b) = &self.budget {
            b.used.fetch_sub(self.bytes, Ordering::AcqRel);
        }
    }
}

/// One request's view of the budget: what an action may answer, and the reservations it
/// made before loading, which the server keeps until the response is sent.
#[derive(Debug)]
pub struct ResponseBudget {
    budget: Arc<ByteBudget>,
    /// Largest response body one request may produce.
    pub max_response_bytes: u64,
    held: Mutex<Vec<Reservation>>,
}

impl ResponseBudget {
    pub fn new(budget: Arc<ByteBudget>, max_response_bytes: u64) -> Self {
        ResponseBudget {
            budget,
            max_response_bytes,
            held: Mutex::new(Vec::new()),
        }
    }

    /// Reserves `bytes` the action is about to load, or refuses with 503 at once.
    pub fn reserve(&self, bytes: u64) -> Result<(), ApiError> {
        let r = self
            .budget
            .try_reserve(bytes)
            .ok_or_else(ApiError::unavailable)?;
        self.held.lock().unwrap_or_else(|e| e.into_inner()).push(r);
        Ok(())
    }

    /// The reservations made, for the server to hold until the body is sent.
    pub fn take(&self) -> Vec<Reservation> {
        std::mem::take(&mut *self.held.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_fit_under_the_limit_and_return_on_drop() {
        let b = ByteBudget::new(1 << 20);
        let a = b.try_reserve(600 << 10).unwrap();
        assert!(b.try_reserve(600 << 10).is_none());
        assert_eq!(b.in_flight(), 600 << 10);
        // Small bodies are not counted.
        let _small = b.try_reserve(100).unwrap();
        assert_eq!(b.in_flight(), 600 << 10);
        drop(a);
        assert_eq!(b.in_flight(), 0);
        let forced = b.reserve(2 << 20);
        assert!(b.over());
        assert!(b.try_reserve(100 << 10).is_none());
        drop(forced);
        assert!(!b.over());
    }

    #[test]
    fn a_response_budget_refuses_with_503_and_hands_over_what_it_holds() {
        let r = ResponseBudget::new(ByteBudget::new(1 << 20), 1 << 19);
        r.reserve(512 << 10).unwrap();
        let e = r.reserve(768 << 10).unwrap_err();
        assert_eq!(e.status, 503);
        let held = r.take();
        assert_eq!(held.len(), 1);
        assert_eq!(r.budget.in_flight(), 512 << 10);
        drop(held);
        assert_eq!(r.budget.in_flight(), 0);
    }
}
