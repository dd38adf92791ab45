//! Per-account request-rate quotas (`--quota ACTION=QPS`, `read=QPS`, `write=QPS`, `*=QPS`),
//! answered with `Throttling.User` as the vendor throttles per account and action.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::actions::Action;

/// A bucket's tokens and when they were last counted, by (account, bucket name).
type Buckets = HashMap<(String, &'static str), (f64, Instant)>;

/// Token buckets: each (account, action) — or (account, class) for a class quota — may
/// burst up to one second's worth of requests.
pub struct Quotas {
    limits: HashMap<String, f64>,
    buckets: Mutex<Buckets>,
}

impl Quotas {
    /// `specs` are `Action=QPS`; `read=QPS` and `write=QPS` give the actions of that quota
    /// class (`Action::quota_class`) without their own quota one bucket together; `*`
    /// applies to every other action, a bucket per action.
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

    /// The quota `action` draws from: its own, its class's, or `*`; and its bucket's name.
    fn limit(&self, action: Action) -> Option<(&'static str, f64)> {
        let (name, class) = (action.as_str(), action.quota_class().as_str());
        self.limits
            .get(name)
            .map(|q| (name, *q))
            .or_else(|| self.limits.get(class).map(|q| (class, *q)))
            .or_else(|| self.limits.get("*").map(|q| (name, *q)))
    }

    /// False when the caller is over its quota for `action`.
    pub fn allow(&self, account_id: &str, action: Action) -> bool {
        let Some((bucket, qps)) = self.limit(action) else {
            return true;
        };
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = buckets
            .entry((account_id.to_string(), bucket))
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
        assert!(q.allow("a", Action::GetEditingProject));
        assert!(q.allow("a", Action::GetEditingProject));
        assert!(!q.allow("a", Action::GetEditingProject));
        assert!(
            q.allow("b", Action::GetEditingProject),
            "another account has its own bucket"
        );
        assert!(
            q.allow("a", Action::CreateEditingProject),
            "no quota for this action"
        );
        assert!(Quotas::parse(&["X=0".into()]).is_err());
        assert!(Quotas::parse(&["X".into()]).is_err());
        let all = Quotas::parse(&["*=1".into()]).unwrap();
        assert!(all.allow("a", Action::GetTemplate));
        assert!(!all.allow("a", Action::GetTemplate));
        assert!(all.allow("a", Action::ListTemplates), "a bucket per action");
    }

    #[test]
    fn a_class_quota_is_one_bucket_for_its_actions() {
        let q = Quotas::parse(&["read=1".into(), "GetTemplate=5".into()]).unwrap();
        assert!(q.allow("a", Action::GetEditingProject));
        assert!(
            !q.allow("a", Action::ListTemplates),
            "the read class shares one bucket"
        );
        assert!(
            q.allow("a", Action::CreateEditingProject),
            "writes are not limited"
        );
        assert!(
            q.allow("a", Action::GetTemplate),
            "an action's own quota comes first"
        );
        assert!(q.allow("a", Action::GetTemplate));
    }
}
