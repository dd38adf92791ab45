//! Media producing jobs, event callbacks and callback deliveries: the stored shapes and
//! the vendor's enums.

use super::{Micros, Page, vendor_enum};

vendor_enum!(
    /// `Init` → `Queuing` → `Processing` → `Success` | `Failed`.
    JobStatus { Init, Queuing, Processing, Success, Failed }
);

vendor_enum!(JobType {
    EditingJob,
    VETemplateJob,
    LiveEditingJob
});

vendor_enum!(OutputTarget {
    OssObject = "oss-object",
    VodMedia = "vod-media",
});

/// A producing job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub account_id: String,
    pub job_id: String,
    pub project_id: String,
    /// The output media, registered when the render succeeds.
    pub media_id: String,
    pub vod_media_id: Option<String>,
    /// The output URL as answered (`MediaURL`).
    pub media_url: String,
    pub output_bucket: String,
    pub output_key: String,
    /// The timeline rendered (merged for template jobs).
    pub timeline: String,
    pub template_id: Option<String>,
    pub clips_param: Option<String>,
    pub output_media_config: String,
    pub media_metadata: Option<String>,
    pub editing_produce_config: Option<String>,
    pub user_data: Option<String>,
    pub source: Option<String>,
    pub client_token: Option<String>,
    pub job_type: JobType,
    pub status: JobStatus,
    pub code: Option<String>,
    pub message: Option<String>,
    pub progress: i64,
    pub duration: Option<f64>,
    pub create_time: Micros,
    pub modified_time: Micros,
    pub complete_time: Option<Micros>,
}

/// How a claimed job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    Success { duration: f64 },
    Failed { code: String, message: String },
}

/// ListMediaProducingJobs' filters.
#[derive(Debug, Clone, PartialEq)]
pub struct JobQuery {
    pub status: Option<JobStatus>,
    pub job_type: Option<JobType>,
    pub start_time: Option<Micros>,
    pub end_time: Option<Micros>,
    /// Matches a JobId exactly.
    pub keyword: Option<String>,
    pub project_id: Option<String>,
    pub ascending: bool,
    pub page: Page,
}

/// An account's SetEventCallback configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct EventCallback {
    pub account_id: String,
    pub callback_type: String,
    pub callback_url: Option<String>,
    pub callback_queue_name: Option<String>,
    /// Comma-separated event names.
    pub event_types: String,
    pub auth_switch: bool,
    pub auth_key: Option<String>,
    pub modified_time: Micros,
}

impl EventCallback {
    pub fn subscribes(&self, event: &str) -> bool {
        self.event_types.split(',').any(|e| e.trim() == event)
    }
}

/// One callback POST waiting in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub delivery_id: String,
    pub account_id: String,
    pub url: String,
    pub body: String,
    /// Signs each attempt when set.
    pub auth_key: Option<String>,
    pub attempts: i64,
    pub next_attempt: Micros,
    pub create_time: Micros,
}
