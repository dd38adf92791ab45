//! A short-lived cache of enabled access keys, so a signed request costs one store round
//! trip (its action's) instead of two. Only enabled keys are cached: a new or re-enabled key
//! works at once. Disabling or deleting a key reaches a running server within
//! [`KEY_CACHE_TTL`]; the CLI waits that long before it returns, so when `openice account
//! key-disable` exits, every server on the store refuses the key.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::account::AccessKey;
use crate::store::{Store, StoreError};

pub const KEY_CACHE_TTL: Duration = Duration::from_secs(1);

/// Bound on cached keys; a full cache is emptied (keys are few; this only caps memory if
/// many distinct keys are used within one TTL).
const MAX_CACHED: usize = 10_000;

#[derive(Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<String, (AccessKey, Instant)>>,
}

impl KeyCache {
    /// The key by ID, from the cache while it is fresh, else from the store.
    pub async fn get(
        &self,
        store: &dyn Store,
        access_key_id: &str,
    ) -> Result<Option<AccessKey>, StoreError> {
        let now = Instant::now();
        if let Some((key, at)) = self.lock().get(access_key_id)
            && now.duration_since(*at) < KEY_CACHE_TTL
        {
            return Ok(Some(key.clone()));
        }
        let key = store.access_key(access_key_id).await?;
        let mut keys = self.lock();
        match &key {
            Some(k) if k.enabled => {
                if keys.len() >= MAX_CACHED {
                    keys.clear();
                }
                keys.insert(access_key_id.to_string(), (k.clone(), now));
            }
            _ => {
                keys.remove(access_key_id);
            }
        }
        Ok(key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (AccessKey, Instant)>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }
}
