//! Event callbacks: SetEventCallback and GetEventCallback (delivered by `jobs::callbacks`).

use serde::Serialize;

use super::context::{Caller, Ctx};
use super::jobs::check_callback_url;
use crate::domain::job::EventCallback;
use crate::domain::{media, now_micros};
use crate::protocol::error::ApiError;
use crate::protocol::params::{FromParams, Params};

/// The vendor's event names (SetEventCallback `EventTypeList`).
const EVENT_TYPES: &[&str] = &[
    "FileUploadComplete",
    "UploadByURLComplete",
    "ImageUploadComplete",
    "AttachedMediaUploadComplete",
    "RegisterStreamComplete",
    "StreamUploadComplete",
    "UploadStreamByURLComplete",
    "CreateAuditComplete",
    "RegisterMediaComplete",
    "DeleteMediaComplete",
    "MediaBaseChangeComplete",
    "WorkflowTaskComplete",
    "VideoAnalysisComplete",
    "SnapshotComplete",
    "DynamicImageComplete",
    "TranscodeComplete",
    "TranscodeParentComplete",
    "AIMediaAuditComplete",
    "AIProduceComplete",
    "MediaAiAnalysisComplete",
    "ProduceMediaComplete",
    "BatchProduceMediaComplete",
    "LiveRecordFileCreated",
    "LiveRecordTaskStatus",
    "LiveSnapshotFileCreated",
];

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetCallbackBody {
    success: bool,
}

/// The callback configuration SetEventCallback stores.
pub struct SetEventCallbackInput(EventCallback);

impl FromParams<'_> for SetEventCallbackInput {
    fn from_params(params: &Params) -> Result<Self, ApiError> {
        let callback_type = params.non_empty("CallbackType")?.unwrap_or("HTTP");
        if callback_type != "HTTP" {
            return Err(ApiError::invalid(
                "CallbackType",
                "openice delivers callbacks over HTTP only (MNS queues are not supported).",
            ));
        }
        let callback_url = params.non_empty("CallbackURL")?;
        if let Some(url) = callback_url {
            media::check_len("CallbackURL", url, 256)?;
            check_callback_url("CallbackURL", url)?;
        }
        let event_types: Vec<&str> = params
            .raw("EventTypeList")
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        if let Some(bad) = event_types.iter().find(|e| !EVENT_TYPES.contains(e)) {
            return Err(ApiError::invalid(
                "EventTypeList",
                format!("\"{bad}\" is not an event type."),
            ));
        }
        let auth_switch = match params.non_empty("AuthSwitch")? {
            None | Some("off") => false,
            Some("on") => true,
            Some(_) => return Err(ApiError::invalid("AuthSwitch", "Valid values: on, off.")),
        };
        let auth_key = params.non_empty("AuthKey")?;
        if let Some(key) = auth_key {
            let ok = key.len() <= 32
                && key.bytes().any(|b| b.is_ascii_uppercase())
                && key.bytes().any(|b| b.is_ascii_lowercase())
                && key.bytes().any(|b| b.is_ascii_digit());
            if !ok {
                return Err(ApiError::invalid(
                    "AuthKey",
                    "It must be at most 32 characters with upper-case and lower-case letters and digits.",
                ));
            }
        }
        if auth_switch && auth_key.is_none() {
            return Err(ApiError::invalid(
                "AuthKey",
                "AuthSwitch=on needs an AuthKey.",
            ));
        }
        Ok(SetEventCallbackInput(EventCallback {
            // The caller's, set by the action.
            account_id: String::new(),
            callback_type: callback_type.to_string(),
            callback_url: callback_url.map(str::to_string),
            callback_queue_name: None,
            event_types: event_types.join(","),
            auth_switch,
            auth_key: auth_key.map(str::to_string),
            modified_time: now_micros(),
        }))
    }
}

pub async fn set_event_callback(
    ctx: &Ctx,
    caller: &Caller,
    input: SetEventCallbackInput,
) -> Result<SetCallbackBody, ApiError> {
    ctx.store
        .set_event_callback(&EventCallback {
            account_id: caller.account_id.clone(),
            ..input.0
        })
        .await?;
    Ok(SetCallbackBody { success: true })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetCallbackBody {
    callback_type: String,
    #[serde(rename = "CallbackURL", skip_serializing_if = "Option::is_none")]
    callback_url: Option<String>,
    event_type_list: String,
    auth_switch: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_key: Option<String>,
}

pub async fn get_event_callback(
    ctx: &Ctx,
    caller: &Caller,
    _: (),
) -> Result<GetCallbackBody, ApiError> {
    let c = ctx.store.event_callback(&caller.account_id).await?;
    Ok(match c {
        Some(c) => GetCallbackBody {
            callback_type: c.callback_type,
            callback_url: c.callback_url,
            event_type_list: c.event_types,
            auth_switch: if c.auth_switch { "on" } else { "off" },
            auth_key: c.auth_key,
        },
        None => GetCallbackBody {
            callback_type: "HTTP".into(),
            callback_url: None,
            event_type_list: String::new(),
            auth_switch: "off",
            auth_key: None,
        },
    })
}
