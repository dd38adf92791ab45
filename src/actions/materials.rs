//! Project materials: AddEditingProjectMaterials, DeleteEditingProjectMaterials and
//! GetEditingProjectMaterials.

use serde::Serialize;

use super::context::{Caller, Ctx};
use super::lookup::{check_materials_owned, stored_timeline_media};
use super::views::{Empty, FileDetail, MediaInfoView, Shape, ViewCtx};
use crate::domain::material::{LiveMaterial, MAX_PER_TYPE, MaterialMaps, MaterialType};
use crate::domain::project::EditingProject;
use crate::protocol::error::ApiError;
use crate::protocol::params::{FromParams, Params};

async fn project(ctx: &Ctx, caller: &Caller, id: &str) -> Result<EditingProject, ApiError> {
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
        match kind.parse::<MaterialType>() {
            Ok(MaterialType::LiveStream) => {
                live_materials.extend(serde_json::from_str::<LiveMaterial>(&id).ok())
            }
            Ok(MaterialType::EditingProject) => project_materials.push(id),
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

pub struct AddMaterialsInput<'a> {
    project_id: &'a str,
    maps: MaterialMaps,
}

impl<'a> FromParams<'a> for AddMaterialsInput<'a> {
    fn from_params(params: &'a Params) -> Result<Self, ApiError> {
        Ok(AddMaterialsInput {
            project_id: params.required("ProjectId")?,
            maps: MaterialMaps::parse(params.required("MaterialMaps")?)?,
        })
    }
}

pub async fn add(
    ctx: &Ctx,
    caller: &Caller,
    input: AddMaterialsInput<'_>,
) -> Result<MaterialsBody, ApiError> {
    let p = project(ctx, caller, input.project_id).await?;
    let maps = input.maps;
    check_materials_owned(ctx, caller, &maps).await?;
    ctx.store
        .add_materials(&caller.account_id, &p.project_id, &maps.rows())
        .await?;
    materials_of(ctx, caller, &p).await
}

pub struct DeleteMaterialsInput<'a> {
    project_id: &'a str,
    kind: MaterialType,
    ids: Vec<String>,
}

impl<'a> FromParams<'a> for DeleteMaterialsInput<'a> {
    fn from_params(params: &'a Params) -> Result<Self, ApiError> {
        Ok(DeleteMaterialsInput {
            project_id: params.required("ProjectId")?,
            kind: params
                .required("MaterialType")?
                .parse::<MaterialType>()
                .map_err(|_| {
                    ApiError::invalid(
                        "MaterialType",
                        "Valid values: video, image, audio, subtitle, text, editingProject, liveStream.",
                    )
                })?,
            ids: params.id_list("MaterialIds", MAX_PER_TYPE)?,
        })
    }
}

pub async fn delete(
    ctx: &Ctx,
    caller: &Caller,
    input: DeleteMaterialsInput<'_>,
) -> Result<Empty, ApiError> {
    let p = project(ctx, caller, input.project_id).await?;
    let (kind, ids) = (input.kind, input.ids);
    // Media types share one namespace of media IDs, so the link is removed whatever type it was attached as.
    let kinds: &[MaterialType] = if kind.is_media() {
        MaterialType::MEDIA
    } else {
        &[kind]
    };
    for k in kinds {
        ctx.store
            .delete_materials(&caller.account_id, &p.project_id, k.as_str(), &ids)
            .await?;
    }
    Ok(Empty {})
}

pub struct GetMaterialsInput<'a> {
    project_id: &'a str,
}

impl<'a> FromParams<'a> for GetMaterialsInput<'a> {
    fn from_params(params: &'a Params) -> Result<Self, ApiError> {
        Ok(GetMaterialsInput {
            project_id: params.required("ProjectId")?,
        })
    }
}

pub async fn get(
    ctx: &Ctx,
    caller: &Caller,
    input: GetMaterialsInput<'_>,
) -> Result<MaterialsBody, ApiError> {
    let p = project(ctx, caller, input.project_id).await?;
    materials_of(ctx, caller, &p).await
}
