//! Actions: one module per API area. Each action turns [`Params`] into domain input,
//! calls the domain and the store, and returns a typed response body.

mod categories;
pub(crate) mod jobs;
mod materials;
mod media;
mod projects;
mod templates;
mod upload;

pub use media::run_probe_workers;
pub use upload::run_url_upload_worker;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::{Cursor, Page};
use crate::media::storage::ObjectStorage;

use crate::domain::project::Invalid;
use crate::protocol::Envelope;
use crate::protocol::error::{ApiError, ErrorCode};
use crate::protocol::params::Params;
use crate::store::{Store, StoreError};

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
}

/// The authenticated caller.
pub struct Caller {
    pub account_id: String,
    /// `scheme://host` the caller reached openice at, for the URLs it answers.
    pub base_url: String,
    /// The bytes this request may answer with, and what it reserved before loading.
    pub budget: crate::protocol::budget::ResponseBudget,
}

/// Every action openice implements, by its vendor name.
pub const ACTIONS: &[&str] = &[
    "CreateEditingProject",
    "GetEditingProject",
    "UpdateEditingProject",
    "DeleteEditingProjects",
    "SearchEditingProject",
    "ListEditingProjects",
    "RegisterMediaInfo",
    "GetMediaInfo",
    "BatchGetMediaInfos",
    "UpdateMediaInfo",
    "DeleteMediaInfos",
    "ListMediaBasicInfos",
    "SearchMedia",
    "AddCategory",
    "UpdateCategory",
    "DeleteCategory",
    "GetCategories",
    "AddEditingProjectMaterials",
    "DeleteEditingProjectMaterials",
    "GetEditingProjectMaterials",
    "AddTemplate",
    "GetTemplate",
    "UpdateTemplate",
    "DeleteTemplate",
    "ListTemplates",
    "GetTemplateParams",
    "SubmitMediaProducingJob",
    "GetMediaProducingJob",
    "ListMediaProducingJobs",
    "SetEventCallback",
    "GetEventCallback",
    "CreateUploadMedia",
    "RefreshUploadMedia",
    "UploadMediaByURL",
    "GetUrlUploadInfos",
];

/// The action's name if openice implements it.
pub fn known(action: &str) -> Option<&'static str> {
    ACTIONS.iter().copied().find(|a| *a == action)
}

pub fn unknown_action(action: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidActionNotFound,
        format!("Specified api \"{action}\" is not found, please check your url and method."),
    )
}

/// Runs `action` and serialises its body with the RequestId.
pub async fn dispatch(
    ctx: &Ctx,
    caller: &Caller,
    action: &str,
    params: &Params,
    request_id: &str,
) -> Result<Vec<u8>, ApiError> {
    match action {
        "CreateEditingProject" => reply(request_id, projects::create(ctx, caller, params).await?),
        "GetEditingProject" => reply(request_id, projects::get(ctx, caller, params).await?),
        "UpdateEditingProject" => reply(request_id, projects::update(ctx, caller, params).await?),
        "DeleteEditingProjects" => reply(request_id, projects::delete(ctx, caller, params).await?),
        "SearchEditingProject" => reply(request_id, projects::search(ctx, caller, params).await?),
        "ListEditingProjects" => reply(request_id, projects::list(ctx, caller, params).await?),
        "RegisterMediaInfo" => reply(request_id, media::register(ctx, caller, params).await?),
        "GetMediaInfo" => reply(request_id, media::get(ctx, caller, params).await?),
        "BatchGetMediaInfos" => reply(request_id, media::batch_get(ctx, caller, params).await?),
        "UpdateMediaInfo" => reply(request_id, media::update(ctx, caller, params).await?),
        "DeleteMediaInfos" => reply(request_id, media::delete(ctx, caller, params).await?),
        "ListMediaBasicInfos" => reply(request_id, media::list(ctx, caller, params).await?),
        "SearchMedia" => reply(request_id, media::search(ctx, caller, params).await?),
        "AddCategory" => reply(request_id, categories::add(ctx, caller, params).await?),
        "UpdateCategory" => reply(request_id, categories::update(ctx, caller, params).await?),
        "DeleteCategory" => reply(request_id, categories::delete(ctx, caller, params).await?),
        "GetCategories" => reply(request_id, categories::get(ctx, caller, params).await?),
        "AddEditingProjectMaterials" => {
            reply(request_id, materials::add(ctx, caller, params).await?)
        }
        "DeleteEditingProjectMaterials" => {
            reply(request_id, materials::delete(ctx, caller, params).await?)
        }
        "GetEditingProjectMaterials" => {
            reply(request_id, materials::get(ctx, caller, params).await?)
        }
        "AddTemplate" => reply(request_id, templates::add(ctx, caller, params).await?),
        "GetTemplate" => reply(request_id, templates::get(ctx, caller, params).await?),
        "UpdateTemplate" => reply(request_id, templates::update(ctx, caller, params).await?),
        "DeleteTemplate" => reply(request_id, templates::delete(ctx, caller, params).await?),
        "ListTemplates" => reply(request_id, templates::list(ctx, caller, params).await?),
        "GetTemplateParams" => reply(request_id, templates::params(ctx, caller, params).await?),
        "SubmitMediaProducingJob" => reply(request_id, jobs::submit(ctx, caller, params).await?),
        "GetMediaProducingJob" => reply(request_id, jobs::get(ctx, caller, params).await?),
        "ListMediaProducingJobs" => reply(request_id, jobs::list(ctx, caller, params).await?),
        "SetEventCallback" => reply(
            request_id,
            jobs::set_event_callback(ctx, caller, params).await?,
        ),
        "GetEventCallback" => reply(
            request_id,
            jobs::get_event_callback(ctx, caller, params).await?,
        ),
        "CreateUploadMedia" => reply(request_id, upload::create(ctx, caller, params).await?),
        "RefreshUploadMedia" => reply(request_id, upload::refresh(ctx, caller, params).await?),
        "UploadMediaByURL" => reply(
            request_id,
            upload::upload_by_url(ctx, caller, params).await?,
        ),
        "GetUrlUploadInfos" => reply(
            request_id,
            upload::url_upload_infos(ctx, caller, params).await?,
        ),
        other => Err(unknown_action(other)),
    }
}

fn reply<T: Serialize>(request_id: &str, body: T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(&Envelope {
        request_id,
        body: &body,
    })
    .map_err(|e| {
        tracing::error!(error = %e, "response serialisation failed");
        ApiError::internal()
    })
}

/// An opaque NextToken: the last item's sort key, bound to the caller and the filters it
/// was issued for.
pub(crate) struct NextToken {
    scope: String,
}

impl NextToken {
    pub(crate) fn new(account_id: &str, filters: &impl std::fmt::Debug) -> Self {
        let digest = Sha256::digest(format!("{account_id}\n{filters:?}").as_bytes());
        NextToken {
            scope: hex::encode(&digest[..8]),
        }
    }

    /// The page after the caller's `NextToken` (the first page without one), and the token
    /// that will name the next page.
    pub(crate) fn page(
        params: &Params,
        account_id: &str,
        filters: &impl std::fmt::Debug,
        limit: u32,
    ) -> Result<(Self, Page), ApiError> {
        let token = NextToken::new(account_id, filters);
        let cursor = params
            .non_empty("NextToken")?
            .map(|t| token.decode(t))
            .transpose()?;
        Ok((token, Page::After { cursor, limit }))
    }

    pub(crate) fn encode(&self, cursor: &Cursor) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "1.{}.{}.{}",
            self.scope, cursor.create_time, cursor.id
        ))
    }

    pub(crate) fn decode(&self, token: &str) -> Result<Cursor, ApiError> {
        let bad = || ApiError::invalid("NextToken", "It was not issued for this query.");
        let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
        let text = String::from_utf8(raw).map_err(|_| bad())?;
        let mut parts = text.splitn(4, '.');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("1"), Some(s), Some(time), Some(id)) if s == self.scope => Ok(Cursor {
                create_time: time.parse().map_err(|_| bad())?,
                id: id.to_string(),
            }),
            _ => Err(bad()),
        }
    }
}

/// A body holding nothing but the RequestId.
#[derive(Serialize)]
pub struct Empty {}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::invalid(e.param, e.reason)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        match e {
            StoreError::Backend(sqlx::Error::PoolTimedOut) => ApiError::unavailable(),
            _ => ApiError::internal(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_scope() {
        let token = NextToken::new("acct", &("filters", 1));
        let cursor = Cursor {
            create_time: 42,
            id: "abc".into(),
        };
        let t = token.encode(&cursor);
        assert_eq!(token.decode(&t).unwrap(), cursor);
        assert!(NextToken::new("other", &("filters", 1)).decode(&t).is_err());
        assert!(NextToken::new("acct", &("filters", 2)).decode(&t).is_err());
        assert!(token.decode("!!!").is_err());
    }
}
