//! Per-account, per-action request-rate quotas (`--quota ACTION=QPS`), answered with
//! `Throttling.User` as the vendor throttles per account and action.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Token buckets: each (account, action) may burst up to one second's worth of requests.
pub struct Quotas {
    limits: HashMap<String, f64>,
    buckets: Mutex<HashMap<(String, String), (f64, Instant)>>,
}

impl Quotas {
    /// `specs` are `Action=QPS` (`*` applies to every action without its own quota).
    pub fn parse(specs: &[String]) -> Result<Self, String> {
        let mut limits = HashMap::new();
        for spec in specs.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            let (action, qps) = spec
                .split_once('=')
                .ok_or_else(|| format!("quota {spec:?} is not ACTION=QPS"))?;
            let qps: f64 = qps
                .trim()
                .parse()
                .ok()
                .filter(|q: &f64| q.is_finite() && *q > 0.0)
                .ok_or_else(|| format!("quota {spec:?} needs a positive number"))?;
            limits.insert(action.trim().to_string(), qps);
        }
        Ok(Quotas {
            limits,
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// False when the caller is over its quota for `action`.
    pub fn allow(&self, account_id: &str, action: &str) -> bool {
        let Some(&qps) = self.limits.get(action).or_else(|| self.limits.get("*")) else {
            return true;
        };
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = buckets
            .entry((account_id.to_string(), action.to_string()))
            .or_insert((qps.max(1.0), now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * qps).min(qps.max(1.0));
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_per_account_and_action() {
        let q = Quotas::parse(&["GetEditingProject=2".into()]).unwrap();
        assert!(q.allow("a", "GetEditingProject"));
        assert!(q.allow("a", "GetEditingProject"));
        assert!(!q.allow("a", "GetEditingProject"));
        assert!(
            q.allow("b", "GetEditingProject"),
            "another account has its own bucket"
        );
        assert!(
            q.allow("a", "CreateEditingProject"),
            "no quota for this action"
        );
        assert!(Quotas::parse(&["X=0".into()]).is_err());
        assert!(Quotas::parse(&["X".into()]).is_err());
        let all = Quotas::parse(&["*=1".into()]).unwrap();
        assert!(all.allow("a", "Any"));
        assert!(!all.allow("a", "Any"));
    }
}
