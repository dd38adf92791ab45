//! Actions: one module per API area. Each action turns [`Params`] into domain input,
//! calls the domain and the store, and returns a typed response body.

mod projects;

use std::sync::Arc;

use serde::Serialize;

use crate::domain::project::Invalid;
use crate::protocol::Envelope;
use crate::protocol::error::{ApiError, ErrorCode};
use crate::protocol::params::Params;
use crate::store::{Store, StoreError};

/// What every action may use.
pub struct Ctx {
    pub store: Arc<dyn Store>,
}

/// The authenticated caller.
pub struct Caller {
    pub account_id: String,
}

/// Every action openice implements, by its vendor name.
pub const ACTIONS: &[&str] = &[
    "CreateEditingProject",
    "GetEditingProject",
    "UpdateEditingProject",
    "DeleteEditingProjects",
    "SearchEditingProject",
    "ListEditingProjects",
];

pub fn is_known(action: &str) -> bool {
    ACTIONS.contains(&action)
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
