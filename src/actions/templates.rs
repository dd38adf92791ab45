//! Template actions: AddTemplate, GetTemplate, UpdateTemplate, DeleteTemplate,
//! ListTemplates, GetTemplateParams; and filling a template for an editing project.

use serde::Serialize;

use super::context::{Caller, Ctx};
use super::views::Empty;
use crate::domain::project::{Source, TemplateType};
use crate::domain::template::{self, ParamKind, Template, TemplateQuery, TemplateStatus};
use crate::domain::timeline::Timeline;
use crate::domain::{Page, format_time, new_id, now_micros};
use crate::protocol::error::ApiError;
use crate::protocol::params::{FromParams, Params};

/// Most IDs one DeleteTemplate call may name.
const MAX_DELETE: usize = 100;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TemplateView {
    template_id: String,
    name: String,
    #[serde(rename = "Type")]
    template_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<String>,
    /// AddTemplate spells it `CoverUrl`, the other actions `CoverURL`.
    #[serde(rename = "CoverURL", skip_serializing_if = "Option::is_none")]
    cover_url: Option<String>,
    #[serde(rename = "CoverUrl", skip_serializing_if = "Option::is_none")]
    cover_url_add: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preview_media: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preview_media_status: Option<&'static str>,
    status: &'static str,
    create_source: &'static str,
    modified_source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    creation_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    modified_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    clips_param: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    related_mediaids: Option<String>,
}

impl TemplateView {
    /// The GetTemplate/ListTemplates form.
    fn full(t: Template, preview_media_status: Option<&'static str>, with_related: bool) -> Self {
        TemplateView {
            clips_param: t.clips_param_skeleton(),
            creation_time: Some(format_time(t.create_time)),
            modified_time: Some(format_time(t.modified_time)),
            preview_media_status,
            related_mediaids: t.related_mediaids.filter(|_| with_related),
            template_id: t.template_id,
            name: t.name,
            template_type: t.template_type.as_str(),
            config: t.config,
            cover_url: t.cover_url,
            cover_url_add: None,
            preview_media: t.preview_media,
            status: t.status.as_str(),
            create_source: t.create_source.as_str(),
            modified_source: t.modified_source.as_str(),
        }
    }

    /// The AddTemplate form.
    fn added(t: Template) -> Self {
        TemplateView {
            cover_url_add: t.cover_url.clone(),
            cover_url: None,
            clips_param: None,
            creation_time: None,
            modified_time: None,
            preview_media_status: None,
            related_mediaids: None,
            ..TemplateView::full(t, None, false)
        }
    }
}

fn not_found(template_id: &str) -> ApiError {
    ApiError::invalid(
        "TemplateId",
        format!("The template \"{template_id}\" does not exist."),
    )
}

async fn existing(ctx: &Ctx, caller: &Caller, template_id: &str) -> Result<Template, ApiError> {
    ctx.store
        .template(&caller.account_id, template_id)
        .await?
        .ok_or_else(|| not_found(template_id))
}

/// Sources a caller may claim for a template.
fn template_source(params: &Params) -> Result<Source, ApiError> {
    match params.parse::<Source>("Source")? {
        None => Ok(Source::OpenAPI),
        Some(s @ (Source::OpenAPI | Source::AliyunConsole | Source::WebSDK)) => Ok(s),
        Some(_) => Err(ApiError::invalid(
            "Source",
            "Valid values: OpenAPI, AliyunConsole, WebSDK.",
        )),
    }
}

/// A JSON object parameter, kept as sent.
fn json_object(params: &Params, name: &str) -> Result<Option<String>, ApiError> {
    let Some(raw) = params.non_empty(name)? else {
        return Ok(None);
    };
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Object(_)) => Ok(Some(raw.to_string())),
        _ => Err(ApiError::invalid(name, "It must be a JSON object.")),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TemplateBody {
    template: TemplateView,
}

/// A new template as AddTemplate describes it (not yet validated).
pub struct AddTemplateInput(Template);

impl FromParams<'_> for AddTemplateInput {
    fn from_params(params: &Params) -> Result<Self, ApiError> {
        let name = params.required("Name")?.to_string();
        let template_type = match params.raw("Type") {
            None => return Err(ApiError::missing("Type")),
            Some(_) => params
                .parse::<TemplateType>("Type")?
                .unwrap_or(TemplateType::Timeline),
        };
        let config = params.non_empty("Config")?.map(str::to_string);
        let now = now_micros();
        let source = template_source(params)?;
        Ok(AddTemplateInput(Template {
            account_id: String::new(),
            template_id: new_id(),
            name,
            template_type,
            config,
            cover_url: params.non_empty("CoverUrl")?.map(str::to_string),
            preview_media: params.non_empty("PreviewMedia")?.map(str::to_string),
            status: params.parse("Status")?.unwrap_or(TemplateStatus::Available),
            create_source: source,
            modified_source: source,
            related_mediaids: json_object(params, "RelatedMediaids")?,
            create_time: now,
            modified_time: now,
        }))
    }
}

pub async fn add(
    ctx: &Ctx,
    caller: &Caller,
    input: AddTemplateInput,
) -> Result<TemplateBody, ApiError> {
    let t = Template {
        account_id: caller.account_id.clone(),
        ..input.0
    };
    t.validate()?;
    ctx.store.insert_template(&t).await?;
    Ok(TemplateBody {
        template: TemplateView::added(t),
    })
}

pub struct GetTemplateInput<'a> {
    template_id: &'a str,
    with_related: bool,
}

impl<'a> FromParams<'a> for GetTemplateInput<'a> {
    fn from_params(params: &'a Params) -> Result<Self, ApiError> {
        Ok(GetTemplateInput {
            template_id: params.required("TemplateId")?,
            with_related: match params.raw("RelatedMediaidFlag") {
                None | Some("0") => false,
                Some("1") => true,
                Some(_) => {
                    return Err(ApiError::invalid(
                        "RelatedMediaidFlag",
                        "Valid values: 0, 1.",
                    ));
                }
            },
        })
    }
}

pub async fn get(
    ctx: &Ctx,
    caller: &Caller,
    input: GetTemplateInput<'_>,
) -> Result<TemplateBody, ApiError> {
    let t = existing(ctx, caller, input.template_id).await?;
    let with_related = input.with_related;
    let status = preview_status(ctx, caller, &t).await?;
    Ok(TemplateBody {
        template: TemplateView::full(t, status, with_related),
    })
}

/// The probe status of the template's preview media, when it is the caller's media.
async fn preview_status(
    ctx: &Ctx,
    caller: &Caller,
    t: &Template,
) -> Result<Option<&'static str>, ApiError> {
    let Some(id) = &t.preview_media else {
        return Ok(None);
    };
    Ok(ctx
        .store
        .media(&caller.account_id, id)
        .await?
        .map(|m| m.status.as_str()))
}

/// UpdateTemplate's changes; absent fields are kept ("" clears CoverUrl and PreviewMedia).
pub struct UpdateTemplateInput<'a> {
    template_id: &'a str,
    name: Option<&'a str>,
    config: Option<&'a str>,
    cover_url: Option<&'a str>,
    preview_media: Option<&'a str>,
    status: Option<TemplateStatus>,
    related_mediaids: Option<String>,
    source: Source,
}

impl<'a> FromParams<'a> for UpdateTemplateInput<'a> {
    fn from_params(params: &'a Params) -> Result<Self, ApiError> {
        Ok(UpdateTemplateInput {
            template_id: params.required("TemplateId")?,
            name: params.non_empty("Name")?,
            config: params.non_empty("Config")?,
            cover_url: params.raw("CoverUrl"),
            preview_media: params.raw("PreviewMedia"),
            status: params.parse("Status")?,
            related_mediaids: json_object(params, "RelatedMediaids")?,
            source: template_source(params)?,
        })
    }
}

pub async fn update(
    ctx: &Ctx,
    caller: &Caller,
    input: UpdateTemplateInput<'_>,
) -> Result<Empty, ApiError> {
    let mut t = existing(ctx, caller, input.template_id).await?;
    if let Some(name) = input.name {
        t.name = name.to_string();
    }
    if let Some(config) = input.config {
        t.config = Some(config.to_string());
    }
    if let Some(cover) = input.cover_url {
        t.cover_url = Some(cover.to_string()).filter(|c| !c.is_empty());
    }
    if let Some(preview) = input.preview_media {
        t.preview_media = Some(preview.to_string()).filter(|p| !p.is_empty());
    }
    if let Some(status) = input.status {
        t.status = status;
    }
    if let Some(related) = input.related_mediaids {
        t.related_mediaids = Some(related);
    }
    t.modified_source = input.source;
    t.modified_time = now_micros().max(t.modified_time);
    t.validate()?;
    if !ctx.store.update_template(&t).await? {
        return Err(not_found(&t.template_id));
    }
    Ok(Empty {})
}

pub struct DeleteTemplateInput {
    template_ids: Vec<String>,
}

impl FromParams<'_> for DeleteTemplateInput {
    fn from_params(params: &Params) -> Result<Self, ApiError> {
        Ok(DeleteTemplateInput {
            template_ids: params.id_list("TemplateIds", MAX_DELETE)?,
        })
    }
}

pub async fn delete(
    ctx: &Ctx,
    caller: &Caller,
    input: DeleteTemplateInput,
) -> Result<Empty, ApiError> {
    ctx.store
        .delete_templates(&caller.account_id, &input.template_ids)
        .await?;
    Ok(Empty {})
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListBody {
    templates: Vec<TemplateView>,
    total_count: u64,
}

pub struct ListTemplatesInput(TemplateQuery);

impl FromParams<'_> for ListTemplatesInput {
    fn from_params(params: &Params) -> Result<Self, ApiError> {
        let ascending = params.ascending("SortType", "CreationTime:Desc", "CreationTime:Asc")?;
        Ok(ListTemplatesInput(TemplateQuery {
            template_type: params.parse("Type")?,
            status: params.parse("Status")?,
            create_source: params.parse("CreateSource")?,
            keyword: params.non_empty("Keyword")?.map(str::to_string),
            ascending,
            page: Page::Number {
                page_no: params.int_in("PageNo", 1..=1_000_000)?.unwrap_or(1) as u32,
                page_size: params.int_in("PageSize", 1..=100)?.unwrap_or(20) as u32,
            },
        }))
    }
}

pub async fn list(
    ctx: &Ctx,
    caller: &Caller,
    input: ListTemplatesInput,
) -> Result<ListBody, ApiError> {
    let query = input.0;
    let page = ctx
        .store
        .search_templates(&caller.account_id, &query)
        .await?;
    let mut templates = Vec::with_capacity(page.items.len());
    for t in page.items {
        let status = preview_status(ctx, caller, &t).await?;
        templates.push(TemplateView::full(t, status, false));
    }
    Ok(ListBody {
        templates,
        total_count: page.total,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParamView {
    key: String,
    #[serde(rename = "Type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
    /// The default material of a media placeholder.
    #[serde(skip_serializing_if = "Option::is_none")]
    media_url: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParamsBody {
    template_id: String,
    param_list: Vec<ParamView>,
}

/// The replaceable materials of a Timeline template (VETemplates have no analysable Config
/// here, so their list is empty; see docs/decisions.md).
pub struct GetTemplateParamsInput<'a> {
    template_id: &'a str,
}

impl<'a> FromParams<'a> for GetTemplateParamsInput<'a> {
    fn from_params(params: &'a Params) -> Result<Self, ApiError> {
        Ok(GetTemplateParamsInput {
            template_id: params.required("TemplateId")?,
        })
    }
}

pub async fn params(
    ctx: &Ctx,
    caller: &Caller,
    input: GetTemplateParamsInput<'_>,
) -> Result<ParamsBody, ApiError> {
    let t = existing(ctx, caller, input.template_id).await?;
    let param_list = t
        .params()
        .into_iter()
        .filter_map(|p| {
            let kind = match p.kind {
                ParamKind::Video | ParamKind::Audio => "Video",
                ParamKind::Image => "Image",
                ParamKind::Text => "Text",
                ParamKind::Array | ParamKind::Value => return None,
            };
            let default = p.default.filter(|d| d != "NULL");
            Some(ParamView {
                media_url: default.clone().filter(|_| kind != "Text"),
                content: default.filter(|_| kind == "Text"),
                key: p.key,
                kind,
            })
        })
        .collect();
    Ok(ParamsBody {
        template_id: t.template_id,
        param_list,
    })
}

/// What a project takes from its template.
pub(super) struct FromTemplate {
    pub template_id: String,
    pub clips_param: String,
    pub template_type: TemplateType,
    /// The filled timeline (Timeline templates only).
    pub timeline: Option<(String, Timeline)>,
}

/// TemplateId, ClipsParam and TemplateType of Create/UpdateEditingProject and
/// SubmitMediaProducingJob.
#[derive(Clone, Copy)]
pub(super) struct TemplateUse<'a> {
    template_id: &'a str,
    clips_param: &'a str,
    template_type: Option<TemplateType>,
}

impl<'a> TemplateUse<'a> {
    /// `None` when no TemplateId is given.
    pub(super) fn from_params(params: &'a Params) -> Result<Option<Self>, ApiError> {
        let Some(template_id) = params.non_empty("TemplateId")? else {
            return Ok(None);
        };
        if params.raw("Timeline").is_some() {
            return Err(ApiError::invalid(
                "TemplateId",
                "Only one of Timeline and TemplateId can be specified.",
            ));
        }
        Ok(Some(TemplateUse {
            template_id,
            clips_param: params.required("ClipsParam")?,
            template_type: params.parse("TemplateType")?,
        }))
    }
}

/// Checks the template is the caller's, usable and of the type asked for, and fills it.
pub(super) async fn for_project(
    ctx: &Ctx,
    caller: &Caller,
    used: &TemplateUse<'_>,
) -> Result<FromTemplate, ApiError> {
    let TemplateUse {
        template_id,
        clips_param,
        template_type,
    } = *used;
    let t = existing(ctx, caller, template_id).await?;
    if t.status != TemplateStatus::Available {
        return Err(ApiError::invalid(
            "TemplateId",
            format!(
                "The template is {}; only Available templates can be used.",
                t.status
            ),
        ));
    }
    if let Some(wanted) = template_type
        && wanted != t.template_type
    {
        return Err(ApiError::invalid(
            "TemplateType",
            format!("The template is of type {}.", t.template_type),
        ));
    }
    let timeline = match t.template_type {
        TemplateType::Timeline => {
            let config = t.config.as_deref().unwrap_or("{}");
            let filled = template::fill(config, clips_param)
                .map_err(|e| ApiError::invalid("ClipsParam", e))?;
            let parsed = Timeline::parse(&filled).map_err(|e| {
                ApiError::invalid(
                    "ClipsParam",
                    format!("The filled template is not a valid timeline: {e}"),
                )
            })?;
            Some((filled, parsed))
        }
        TemplateType::VETemplate => {
            if !matches!(
                serde_json::from_str(clips_param),
                Ok(serde_json::Value::Object(_))
            ) {
                return Err(ApiError::invalid("ClipsParam", "It must be a JSON object."));
            }
            None
        }
    };
    Ok(FromTemplate {
        template_id: t.template_id,
        clips_param: clips_param.to_string(),
        template_type: t.template_type,
        timeline,
    })
}
