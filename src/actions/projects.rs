//! Editing-project actions: Create, Get, Update, Delete, Search and List.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Caller, Ctx, Empty};
use crate::domain::project::{
    EditingProject, EditingProjectUpdate, NewEditingProject, ProjectQuery, ProjectStatus,
    TemplateType,
};
use crate::domain::timeline::Timeline;
use crate::domain::{Cursor, Page};
use crate::domain::{format_time, new_id, now_micros, parse_time};
use crate::protocol::error::ApiError;
use crate::protocol::params::Params;

/// Most IDs one DeleteEditingProjects call may name.
const MAX_DELETE_IDS: usize = 1000;

/// How an action shows a project: the vendor's fields differ per action.
#[derive(Clone, Copy, PartialEq)]
enum View {
    /// CreateEditingProject: integer Status plus StatusName.
    Created,
    /// GetEditingProject: everything, Status as a string.
    Full,
    /// SearchEditingProject items: no TemplateId/ClipsParam.
    Searched,
    /// ListEditingProjects items: no Timeline, Duration, TemplateId or ClipsParam.
    Listed,
}

#[derive(Serialize)]
#[serde(untagged)]
enum StatusField {
    Code(i32),
    Name(&'static str),
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ProjectView {
    project_id: String,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    template_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    clips_param: Option<String>,
    #[serde(rename = "CoverURL", skip_serializing_if = "Option::is_none")]
    cover_url: Option<String>,
    status: StatusField,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_name: Option<&'static str>,
    create_time: String,
    modified_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<f64>,
    create_source: &'static str,
    modified_source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    template_type: Option<&'static str>,
    project_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    business_config: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    business_status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeline_convert_status: Option<&'static str>,
}

impl ProjectView {
    fn of(p: EditingProject, view: View) -> Self {
        let with_template = matches!(view, View::Created | View::Full);
        ProjectView {
            status: match view {
                View::Created => StatusField::Code(p.status.code()),
                _ => StatusField::Name(p.status.as_str()),
            },
            status_name: (view == View::Created).then(|| p.status.as_str()),
            timeline: if view == View::Listed {
                None
            } else {
                p.timeline
            },
            duration: (view != View::Listed).then_some(p.duration),
            template_id: p.template_id.filter(|_| with_template),
            clips_param: p.clips_param.filter(|_| with_template),
            project_id: p.project_id,
            title: p.title,
            description: p.description,
            cover_url: p.cover_url,
            create_time: format_time(p.create_time),
            modified_time: format_time(p.modified_time),
            create_source: p.create_source.as_str(),
            modified_source: p.modified_source.as_str(),
            template_type: p.template_type.map(TemplateType::as_str),
            project_type: p.project_type.as_str(),
            business_config: p.business_config,
            business_status: p.business_status.map(|s| s.as_str()),
            timeline_convert_status: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectBody {
    project: ProjectView,
}

/// Parses an optional Timeline parameter; "" is the empty timeline.
fn timeline_param(params: &Params) -> Result<Option<(String, Timeline)>, ApiError> {
    params
        .raw("Timeline")
        .map(|raw| {
            Timeline::parse(raw)
                .map(|t| (raw.to_string(), t))
                .map_err(|e| ApiError::invalid("Timeline", e))
        })
        .transpose()
}

/// Projects from templates arrive with the template actions; until a template exists no
/// TemplateId can name one, and the documented exclusivity rules are checked first.
fn refuse_template(params: &Params) -> Result<(), ApiError> {
    let Some(template_id) = params.non_empty("TemplateId")? else {
        return Ok(());
    };
    if params.raw("Timeline").is_some() {
        return Err(ApiError::invalid(
            "TemplateId",
            "Only one of Timeline and TemplateId can be specified.",
        ));
    }
    params.required("ClipsParam")?;
    Err(ApiError::invalid(
        "TemplateId",
        format!("The template \"{template_id}\" does not exist."),
    ))
}

/// Duration of a timeline. Until the media library exists no source duration is known,
/// so clips without Out count as 0 (decisions.md).
fn duration(timeline: &Timeline) -> f64 {
    timeline.duration(|_| None)
}

pub async fn create(ctx: &Ctx, caller: &Caller, params: &Params) -> Result<ProjectBody, ApiError> {
    refuse_template(params)?;
    params.parse::<TemplateType>("TemplateType")?;
    let new = NewEditingProject {
        title: params.required("Title")?.to_string(),
        description: params.raw("Description").map(str::to_string),
        timeline: timeline_param(params)?,
        cover_url: params.raw("CoverURL").map(str::to_string),
        project_type: params.parse("ProjectType")?,
        business_config: params.non_empty("BusinessConfig")?.map(str::to_string),
    };
    let project =
        EditingProject::create(&caller.account_id, new_id(), new, now_micros(), duration)?;
    ctx.store.insert_project(&project).await?;
    Ok(ProjectBody {
        project: ProjectView::of(project, View::Created),
    })
}

pub async fn get(ctx: &Ctx, caller: &Caller, params: &Params) -> Result<ProjectBody, ApiError> {
    let project_id = params.required("ProjectId")?;
    let web_sdk = match params.raw("RequestSource") {
        None | Some("OpenAPI") => false,
        Some("WebSDK") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "RequestSource",
                "Valid values: OpenAPI, WebSDK.",
            ));
        }
    };
    let project = ctx
        .store
        .project(&caller.account_id, project_id)
        .await?
        .ok_or_else(ApiError::project_not_found)?;
    let mut view = ProjectView::of(project, View::Full);
    // The stored timeline is already in the form the WebSDK reads (docs/decisions.md).
    view.timeline_convert_status = web_sdk.then_some("Converted");
    Ok(ProjectBody { project: view })
}

pub async fn update(ctx: &Ctx, caller: &Caller, params: &Params) -> Result<Empty, ApiError> {
    let project_id = params.required("ProjectId")?;
    refuse_template(params)?;
    let update = EditingProjectUpdate {
        title: params.non_empty("Title")?.map(str::to_string),
        description: params.raw("Description").map(str::to_string),
        timeline: timeline_param(params)?,
        cover_url: params.raw("CoverURL").map(str::to_string),
        business_status: params.parse("BusinessStatus")?,
    };
    let mut project = ctx
        .store
        .project(&caller.account_id, project_id)
        .await?
        .ok_or_else(ApiError::project_not_found)?;
    project.apply(update, now_micros(), duration)?;
    if !ctx.store.update_project(&project).await? {
        return Err(ApiError::project_not_found());
    }
    Ok(Empty {})
}

pub async fn delete(ctx: &Ctx, caller: &Caller, params: &Params) -> Result<Empty, ApiError> {
    params.required("ProjectIds")?;
    let ids: Vec<String> = params.list("ProjectIds")?.unwrap_or_default();
    if ids.len() > MAX_DELETE_IDS {
        return Err(ApiError::invalid(
            "ProjectIds",
            format!("At most {MAX_DELETE_IDS} IDs can be deleted at once."),
        ));
    }
    ctx.store.delete_projects(&caller.account_id, &ids).await?;
    Ok(Empty {})
}

/// The filters SearchEditingProject and ListEditingProjects share.
fn query_filters(params: &Params) -> Result<ProjectQuery, ApiError> {
    let time = |name: &str| -> Result<Option<i64>, ApiError> {
        params
            .raw(name)
            .map(|s| {
                parse_time(s).ok_or_else(|| {
                    ApiError::invalid(name, "Use the format yyyy-MM-ddTHH:mm:ssZ (UTC).")
                })
            })
            .transpose()
    };
    let ascending = match params.raw("SortBy") {
        None | Some("CreationTime:Desc") => false,
        Some("CreationTime:Asc") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "SortBy",
                "Valid values: CreationTime:Desc, CreationTime:Asc.",
            ));
        }
    };
    let template_type = match params.raw("TemplateType") {
        None | Some("") => None,
        Some("None") => Some(None),
        Some(_) => Some(params.parse::<TemplateType>("TemplateType")?),
    };
    let query = ProjectQuery {
        create_source: params.parse("CreateSource")?,
        start_time: time("StartTime")?,
        end_time: time("EndTime")?,
        statuses: params.list::<ProjectStatus>("Status")?.unwrap_or_default(),
        template_type,
        project_type: params.parse("ProjectType")?,
        keyword: None,
        ascending,
        page: Page::default(),
    };
    if let (Some(start), Some(end)) = (query.start_time, query.end_time)
        && start > end
    {
        return Err(ApiError::invalid(
            "StartTime",
            "StartTime is later than EndTime.",
        ));
    }
    Ok(query)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectListBody {
    project_list: Vec<ProjectView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_count: Option<u64>,
    max_results: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub async fn search(
    ctx: &Ctx,
    caller: &Caller,
    params: &Params,
) -> Result<ProjectListBody, ApiError> {
    let mut query = query_filters(params)?;
    let page_size = params.int_in("PageSize", 1..=100)?.unwrap_or(10) as u32;
    let page_no = params.int_in("PageNo", 1..=1_000_000)?.unwrap_or(1) as u32;
    query.page = Page::Number { page_no, page_size };
    let page = ctx
        .store
        .search_projects(&caller.account_id, &query)
        .await?;
    Ok(ProjectListBody {
        project_list: page
            .items
            .into_iter()
            .map(|p| ProjectView::of(p, View::Searched))
            .collect(),
        total_count: Some(page.total),
        max_results: page_size,
        next_token: None,
    })
}

pub async fn list(
    ctx: &Ctx,
    caller: &Caller,
    params: &Params,
) -> Result<ProjectListBody, ApiError> {
    let mut query = query_filters(params)?;
    query.keyword = params.non_empty("Keyword")?.map(str::to_string);
    let limit = params.int_in("MaxResults", 1..=100)?.unwrap_or(10) as u32;
    let scope = token_scope(&caller.account_id, &query);
    let cursor = params
        .non_empty("NextToken")?
        .map(|t| decode_token(t, &scope))
        .transpose()?;
    query.page = Page::After { cursor, limit };
    let page = ctx
        .store
        .search_projects(&caller.account_id, &query)
        .await?;
    Ok(ProjectListBody {
        project_list: page
            .items
            .into_iter()
            .map(|p| ProjectView::of(p, View::Listed))
            .collect(),
        total_count: None,
        max_results: limit,
        next_token: page.next.map(|c| encode_token(&c, &scope)),
    })
}

/// Binds a NextToken to the caller and the filters it was issued for.
fn token_scope(account_id: &str, query: &ProjectQuery) -> String {
    let digest = Sha256::digest(format!("{account_id}\n{query:?}").as_bytes());
    hex::encode(&digest[..8])
}

fn encode_token(cursor: &Cursor, scope: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("1.{scope}.{}.{}", cursor.create_time, cursor.id))
}

fn decode_token(token: &str, scope: &str) -> Result<Cursor, ApiError> {
    let bad = || ApiError::invalid("NextToken", "It was not issued for this query.");
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = text.splitn(4, '.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("1"), Some(s), Some(time), Some(id)) if s == scope => Ok(Cursor {
            create_time: time.parse().map_err(|_| bad())?,
            id: id.to_string(),
        }),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_scope() {
        let q = ProjectQuery::default();
        let scope = token_scope("acct", &q);
        let cursor = Cursor {
            create_time: 42,
            id: "abc".into(),
        };
        let token = encode_token(&cursor, &scope);
        assert_eq!(decode_token(&token, &scope).unwrap(), cursor);
        assert!(decode_token(&token, &token_scope("other", &q)).is_err());
        let asc = ProjectQuery {
            ascending: true,
            ..ProjectQuery::default()
        };
        assert!(decode_token(&token, &token_scope("acct", &asc)).is_err());
        assert!(decode_token("!!!", &scope).is_err());
    }

    #[test]
    fn views_carry_the_vendor_types() {
        let p = EditingProject::create(
            "a",
            "p".into(),
            NewEditingProject {
                title: "t".into(),
                ..Default::default()
            },
            0,
            duration,
        )
        .unwrap();
        let created = serde_json::to_value(ProjectView::of(p.clone(), View::Created)).unwrap();
        assert_eq!(created["Status"], 1);
        assert_eq!(created["StatusName"], "Draft");
        assert_eq!(created["Duration"], 0.0);
        let full = serde_json::to_value(ProjectView::of(p.clone(), View::Full)).unwrap();
        assert_eq!(full["Status"], "Draft");
        assert!(full.get("StatusName").is_none());
        let listed = serde_json::to_value(ProjectView::of(p, View::Listed)).unwrap();
        assert!(listed.get("Duration").is_none() && listed.get("Timeline").is_none());
    }
}
