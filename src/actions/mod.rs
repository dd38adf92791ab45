//! Actions: one module per API area. The table below names every action with its handler
//! and quota class; it generates [`Action`] (parsed once, where a request arrives) and
//! [`dispatch`]. Each handler takes its typed input, parsed from the request's parameters
//! ([`FromParams`]), calls the domain and the store, and returns a typed response body.

mod callbacks;
mod categories;
mod context;
pub(crate) mod jobs;
pub(crate) mod lookup;
mod materials;
mod media;
mod paging;
mod probe_view;
mod projects;
mod templates;
pub(crate) mod upload;
mod views;

pub use context::{Caller, Ctx};

use serde::Serialize;

use crate::domain::project::Invalid;
use crate::protocol::Envelope;
use crate::protocol::error::{ApiError, ErrorCode};
use crate::protocol::params::{FromParams, Params};
use crate::store::StoreError;

/// Which quota bucket family an action draws from (`--quota read=QPS`, `write=QPS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaClass {
    /// Reads nothing but the caller's data.
    Read,
    /// Creates, changes or deletes something, or starts work.
    Write,
}

impl QuotaClass {
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaClass::Read => "read",
            QuotaClass::Write => "write",
        }
    }
}

/// The action table: vendor name => handler (module::function), quota class.
macro_rules! actions {
    ($($name:ident => $module:ident::$handler:ident, $class:ident;)*) => {
        /// Every action openice implements, by its vendor name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $($name,)*
        }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$name,)*];

            /// The action a request names, if openice implements it.
            pub fn parse(name: &str) -> Option<Action> {
                match name {
                    $(stringify!($name) => Some(Action::$name),)*
                    _ => None,
                }
            }

            /// The vendor's name; also the action's metrics label.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$name => stringify!($name),)*
                }
            }

            pub fn quota_class(self) -> QuotaClass {
                match self {
                    $(Action::$name => QuotaClass::$class,)*
                }
            }
        }

        /// Parses the action's input, runs it and serialises its body with the RequestId.
        pub async fn dispatch(
            ctx: &Ctx,
            caller: &Caller,
            action: Action,
            params: &Params,
            request_id: &str,
        ) -> Result<Vec<u8>, ApiError> {
            match action {
                $(Action::$name => {
                    let input = FromParams::from_params(params)?;
                    reply(request_id, $module::$handler(ctx, caller, input).await?)
                })*
            }
        }
    };
}

actions! {
    CreateEditingProject => projects::create, Write;
    GetEditingProject => projects::get, Read;
    UpdateEditingProject => projects::update, Write;
    DeleteEditingProjects => projects::delete, Write;
    SearchEditingProject => projects::search, Read;
    ListEditingProjects => projects::list, Read;
    RegisterMediaInfo => media::register, Write;
    GetMediaInfo => media::get, Read;
    BatchGetMediaInfos => media::batch_get, Read;
    UpdateMediaInfo => media::update, Write;
    DeleteMediaInfos => media::delete, Write;
    ListMediaBasicInfos => media::list, Read;
    SearchMedia => media::search, Read;
    AddCategory => categories::add, Write;
    UpdateCategory => categories::update, Write;
    DeleteCategory => categories::delete, Write;
    GetCategories => categories::get, Read;
    AddEditingProjectMaterials => materials::add, Write;
    DeleteEditingProjectMaterials => materials::delete, Write;
    GetEditingProjectMaterials => materials::get, Read;
    AddTemplate => templates::add, Write;
    GetTemplate => templates::get, Read;
    UpdateTemplate => templates::update, Write;
    DeleteTemplate => templates::delete, Write;
    ListTemplates => templates::list, Read;
    GetTemplateParams => templates::params, Read;
    SubmitMediaProducingJob => jobs::submit, Write;
    GetMediaProducingJob => jobs::get, Read;
    ListMediaProducingJobs => jobs::list, Read;
    SetEventCallback => callbacks::set_event_callback, Write;
    GetEventCallback => callbacks::get_event_callback, Read;
    CreateUploadMedia => upload::create, Write;
    RefreshUploadMedia => upload::refresh, Write;
    UploadMediaByURL => upload::upload_by_url, Write;
    GetUrlUploadInfos => upload::url_upload_infos, Read;
}

pub fn unknown_action(action: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidActionNotFound,
        format!("Specified api \"{action}\" is not found, please check your url and method."),
    )
}

fn reply<T: Serialize>(request_id: &str, body: T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(&Envelope {
        request_id,
        body: &body,
    })
    .map_err(|e| ApiError::internal().caused_by(e))
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::invalid(e.param, e.reason)
    }
}

/// Store failures are ours: answered as `InternalError` (or `ServiceUnavailable` when the
/// pool is exhausted), with the store error kept for the request's log line.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::Backend(sqlx::Error::PoolTimedOut) => ApiError::unavailable(),
            _ => ApiError::internal(),
        }
        .caused_by(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_round_trips_every_name() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(*a));
        }
        assert_eq!(Action::parse("createEditingProject"), None);
        assert_eq!(Action::ALL.len(), 35);
        assert_eq!(Action::GetEditingProject.quota_class(), QuotaClass::Read);
        assert_eq!(Action::UploadMediaByURL.quota_class(), QuotaClass::Write);
    }
}
