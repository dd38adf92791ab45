//! What every action is given: the server's shared context and the authenticated caller.

use std::sync::Arc;

use crate::media::storage::ObjectStorage;
use crate::store::Store;

/// What every action may use.
pub struct Ctx {
    pub store: Arc<dyn Store>,
    pub storage: ObjectStorage,
    pub region: String,
    /// Hosts of http(s) input URLs openice may fetch.
    pub fetch_allow: Vec<String>,
    /// Wakes the probe workers when media is registered.
    pub probe_wakeup: tokio::sync::Notify,
    pub probe_limits: crate::media::probe::ProbeLimits,
    /// Wakes the render workers when a job is submitted or a source finishes probing.
    pub job_wakeup: tokio::sync::Notify,
    /// Wakes the callback deliverer when a delivery is queued.
    pub callback_wakeup: tokio::sync::Notify,
    /// Submissions in progress by (AccountId, ClientToken): one with the same token waits
    /// for the first and then finds its job instead of starting a second.
    pub submitting: std::sync::Mutex<SubmissionLocks>,
}

/// One lock per (AccountId, ClientToken) with a submission in progress.
pub type SubmissionLocks = std::collections::HashMap<(String, String), Arc<tokio::sync::Mutex<()>>>;

/// The authenticated caller.
pub struct Caller {
    pub account_id: String,
    /// `scheme://host` the caller reached openice at, for the URLs it answers.
    pub base_url: String,
    /// The bytes this request may answer with, and what it reserved before loading.
    pub budget: crate::protocol::budget::ResponseBudget,
}
