//! Project materials: MaterialMaps, AddEditingProjectMaterials,
//! DeleteEditingProjectMaterials and GetEditingProjectMaterials.

use serde::{Deserialize, Serialize};

use super::media::{FileDetail, MediaInfoView, Shape, ViewCtx};
use super::projects::stored_timeline_media;
use super::{Caller, Ctx, Empty};
use crate::domain::project::EditingProject;
use crate::protocol::error::ApiError;
use crate::protocol::params::Params;

/// Most IDs per material type (vendor limit).
const MAX_PER_TYPE: usize = 10;
/// Material types that name media of the library.
const MEDIA_TYPES: &[&str] = &["video", "image", "audio", "subtitle", "text"];
const LIVE_STREAM: &str = "liveStream";
const EDITING_PROJECT: &str = "editingProject";

/// One live stream of a live editing project (`liveStream` in MaterialMaps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveMaterial {
    #[serde(
        rename(serialize = "AppName", deserialize = "appName"),
        alias = "AppName"
    )]
    pub app_name: String,
    #[serde(
        rename(serialize = "DomainName", deserialize = "domainName"),
        alias = "DomainName"
    )]
    pub domain_name: String,
    #[serde(
        rename(serialize = "LiveUrl", deserialize = "liveUrl"),
        alias = "LiveUrl"
    )]
    pub live_url: String,
    #[serde(
        rename(serialize = "StreamName", deserialize = "streamName"),
        alias = "StreamName"
    )]
    pub stream_name: String,
}

/// The parsed MaterialMaps parameter: (type, ID) pairs; a live stream's ID is its JSON.
#[derive(Debug, Default, PartialEq)]
pub struct MaterialMaps {
    pairs: Vec<(String, String)>,
}

impl MaterialMaps {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let bad = |why: String| ApiError::invalid("MaterialMaps", why);
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(raw)
            .map_err(|e| bad(format!("It must be a JSON object: {e}.")))?;
        let mut pairs = Vec::new();
        for (kind, value) in map {
            if kind == LIVE_STREAM {
                // The documented form is a JSON array inside a string; a plain array is accepted too.
                let streams: Vec<LiveMaterial> = match &value {
                    serde_json::Value::String(s) => serde_json::from_str(s),
                    other => serde_json::from_value(other.clone()),
                }
                .map_err(|e| bad(format!("liveStream must be a JSON array of {{appName, domainName, liveUrl, streamName}}: {e}.")))?;
                if streams.len() > MAX_PER_TYPE {
                    return Err(bad(format!(
                        "At most {MAX_PER_TYPE} liveStream items are allowed."
                    )));
                }
                for s in streams {
                    let id = serde_json::to_string(&s).map_err(|e| bad(e.to_string()))?;
                    pairs.push((kind.clone(), id));
                }
                continue;
            }
            if !MEDIA_TYPES.contains(&kind.as_str()) && kind != EDITING_PROJECT {
                return Err(bad(format!(
                    "Unknown material type \"{kind}\"; valid: video, image, audio, subtitle, text, liveStream, editingProject."
                )));
            }
            let ids = value
                .as_str()
                .ok_or_else(|| bad(format!("{kind} must be a comma-separated string of IDs.")))?;
            let ids: Vec<&str> = ids
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if ids.len() > MAX_PER_TYPE {
                return Err(bad(format!(
                    "At most {MAX_PER_TYPE} IDs per type are allowed ({kind})."
                )));
            }
            pairs.extend(ids.into_iter().map(|id| (kind.clone(), id.to_string())));
        }
        Ok(MaterialMaps { pairs })
    }

    pub fn pairs(&self) -> Vec<(String, String)> {
        self.pairs.clone()
    }

    /// Every referenced media asset and project must be the caller's.
    pub async fn check_owned(&self, ctx: &Ctx, caller: &Caller) -> Result<(), ApiError> {
        for (kind, id) in &self.pairs {
            let found = if kind == EDITING_PROJECT {
                ctx.store.project(&caller.account_id, id).await?.is_some()
            } else if MEDIA_TYPES.contains(&kind.as_str()) {
                ctx.store.media(&caller.account_id, id).await?.is_some()
            } else {
                true
            };
            if !found {
                return Err(ApiError::invalid(
                    "MaterialMaps",
                    format!("The {kind} \"{id}\" does not exist."),
                ));
            }
        }
        Ok(())
    }
}

async fn project(ctx: &Ctx, caller: &Caller, params: &Params) -> Result<EditingProject, ApiError> {
    let id = params.required("ProjectId")?;
    ctx.store
        .project(&caller.account_id, id)
        .await?
        .ok_or_else(ApiError::project_not_found)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MaterialsBody {
    project_id: String,
    media_infos: Vec<MediaInfoView>,
    live_materials: Vec<LiveMaterial>,
    project_materials: Vec<String>,
}

/// The project's explicit materials plus the media its timeline references.
async fn materials_of(
    ctx: &Ctx,
    caller: &Caller,
    p: &EditingProject,
) -> Result<MaterialsBody, ApiError> {
    let mut media_ids: Vec<String> = Vec::new();
    let mut live_materials = Vec::new();
    let mut project_materials = Vec::new();
    for (kind, id) in ctx
        .store
        .materials(&caller.account_id, &p.project_id)
        .await?
    {
        match kind.as_str() {
            LIVE_STREAM => live_materials.extend(serde_json::from_str::<LiveMaterial>(&id).ok()),
            EDITING_PROJECT => project_materials.push(id),
            _ if !media_ids.contains(&id) => media_ids.push(id),
            _ => {}
        }
    }
    for id in stored_timeline_media(p) {
        if !media_ids.contains(&id) {
            media_ids.push(id);
        }
    }
    let mut found = ctx.store.media_many(&caller.account_id, &media_ids).await?;
    let mut ordered = Vec::with_capacity(found.len());
    for id in &media_ids {
        if let Some(i) = found.iter().position(|m| &m.media_id == id) {
            ordered.push(found.swap_remove(i));
        }
    }
    let views = ViewCtx {
        shape: Shape::Materials,
        ctx,
        caller,
        auth_timeout: 3600,
    };
    Ok(MaterialsBody {
        project_id: p.project_id.clone(),
        media_infos: views.views(ordered, FileDetail::Basic).await?,
        live_materials,
        project_materials,
    })
}

pub async fn add(ctx: &Ctx, caller: &Caller, params: &Params) -> Result<MaterialsBody, ApiError> {
    let p = project(ctx, caller, params).await?;
    let maps = MaterialMaps::parse(params.required("MaterialMaps")?)?;
    maps.check_owned(ctx, caller).await?;
    ctx.store
        .add_materials(&caller.account_id, &p.project_id, &maps.pairs())
        .await?;
    materials_of(ctx, caller, &p).await
}

pub async fn delete(ctx: &Ctx, caller: &Caller, params: &Params) -> Result<Empty, ApiError> {
    let p = project(ctx, caller, params).await?;
    let kind = params.required("MaterialType")?;
    if !MEDIA_TYPES.contains(&kind) && kind != EDITING_PROJECT && kind != LIVE_STREAM {
        return Err(ApiError::invalid(
            "MaterialType",
            "Valid values: video, image, audio, subtitle, text, editingProject, liveStream.",
        ));
    }
    let ids = params.id_list("MaterialIds", MAX_PER_TYPE)?;
    // Media types share one namespace of media IDs, so the link is removed whatever type it was attached as.
    let kinds: &[&str] = if MEDIA_TYPES.contains(&kind) {
        MEDIA_TYPES
    } else {
        &[kind]
    };
    for k in kinds {
        ctx.store
            .delete_materials(&caller.account_id, &p.project_id, k, &ids)
            .await?;
    }
    Ok(Empty {})
}

pub async fn get(ctx: &Ctx, caller: &Caller, params: &Params) -> Result<MaterialsBody, ApiError> {
    let p = project(ctx, caller, params).await?;
    materials_of(ctx, caller, &p).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn material_maps_as_documented() {
        let raw = r#"{"video":"a,b", "image":"c", "liveStream": "[{\"appName\":\"testrecord\",\"domainName\":\"test.alivecdn.com\",\"liveUrl\":\"rtmp://test.alivecdn.com/testrecord/teststream\",\"streamName\":\"teststream\"}]", "editingProject": "p1"}"#;
        let m = MaterialMaps::parse(raw).unwrap();
        let kinds: Vec<&str> = m.pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == "video").count(), 2);
        assert!(kinds.contains(&"liveStream") && kinds.contains(&"editingProject"));
        let live = m.pairs.iter().find(|(k, _)| k == "liveStream").unwrap();
        let back: LiveMaterial = serde_json::from_str(&live.1).unwrap();
        assert_eq!(back.stream_name, "teststream");
        let eleven = (0..11)
            .map(|i| format!("m{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(MaterialMaps::parse(&format!(r#"{{"video":"{eleven}"}}"#)).is_err());
        assert!(MaterialMaps::parse(r#"{"movie":"a"}"#).is_err());
        assert!(MaterialMaps::parse("[1]").is_err());
    }
}
