//! Editing-project actions: Create, Get, Update, Delete, Search and List.

use std::collections::HashMap;

use serde::Serialize;

use super::materials::MaterialMaps;
use super::templates;
use super::{Caller, Ctx, Empty, NextToken};
use crate::domain::Page;
use crate::domain::media::{InputLocation, MediaInfo};
use crate::domain::project::{
    EditingProject, EditingProjectUpdate, NewEditingProject, ProjectQuery, ProjectStatus,
    ProjectType, TemplateRef, TemplateType,
};
use crate::domain::timeline::{ClipSource, Timeline};
use crate::domain::{format_time, new_id, now_micros, parse_time};
use crate::protocol::error::{ApiError, ErrorCode};
use crate::protocol::params::Params;
use crate::store::Guarded;

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
    #[serde(skip_serializing_if = "Option::is_none")]
    timeline_convert_error_message: Option<String>,
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
            timeline_convert_error_message: None,
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

/// The caller's media a timeline references, by MediaId or by MediaURL into local storage,
/// with the clip source that named each.
pub(super) async fn timeline_media(
    ctx: &Ctx,
    account_id: &str,
    timeline: &Timeline,
) -> Result<Vec<(ClipSource, MediaInfo)>, ApiError> {
    let sources = timeline.sources();
    let ids: Vec<String> = sources
        .iter()
        .filter_map(|s| match s {
            ClipSource::MediaId(id) => Some(id.clone()),
            ClipSource::MediaUrl(_) => None,
        })
        .collect();
    let mut out: Vec<(ClipSource, MediaInfo)> = ctx
        .store
        .media_many(account_id, &ids)
        .await?
        .into_iter()
        .map(|m| (ClipSource::MediaId(m.media_id.clone()), m))
        .collect();
    // MediaURLs into local storage, looked up together by their canonical location.
    let mut by_location: HashMap<String, Vec<ClipSource>> = HashMap::new();
    for s in sources.iter() {
        if let ClipSource::MediaUrl(url) = s
            && let Ok(location) = InputLocation::parse(url, "Timeline")
        {
            by_location
                .entry(location.canonical())
                .or_default()
                .push(ClipSource::clone(s));
        }
    }
    let locations: Vec<String> = by_location.keys().cloned().collect();
    for m in ctx.store.media_at_locations(account_id, &locations).await? {
        for source in by_location.get(&m.location).into_iter().flatten() {
            out.push((source.clone(), m.clone()));
        }
    }
    Ok(out)
}

/// Probed durations of the caller's media that a timeline references, by clip source.
pub(super) async fn source_durations(
    ctx: &Ctx,
    account_id: &str,
    timeline: &Timeline,
) -> Result<HashMap<ClipSource, f64>, ApiError> {
    Ok(timeline_media(ctx, account_id, timeline)
        .await?
        .into_iter()
        .filter_map(|(s, m)| Some((s, m.duration?)))
        .collect())
}

/// A timeline parameter with what storing it needs: the media it references and the
/// durations of their probed sources.
struct TimelineInput {
    raw: String,
    timeline: Timeline,
    durations: HashMap<ClipSource, f64>,
}

/// The Timeline parameter, or the timeline filled from TemplateId + ClipsParam (a
/// VETemplate project's timeline is empty: openice does not render After Effects templates).
async fn timeline_input(
    ctx: &Ctx,
    caller: &Caller,
    params: &Params,
) -> Result<(Option<TimelineInput>, Option<TemplateRef>), ApiError> {
    let (given, template) = match templates::for_project(ctx, caller, params).await? {
        Some(t) => (
            Some(t.timeline.unwrap_or_default()),
            Some(TemplateRef {
                template_id: t.template_id,
                clips_param: t.clips_param,
                template_type: t.template_type,
            }),
        ),
        None => (timeline_param(params)?, None),
    };
    let Some((raw, timeline)) = given else {
        return Ok((None, None));
    };
    let durations = source_durations(ctx, &caller.account_id, &timeline).await?;
    Ok((
        Some(TimelineInput {
            raw,
            timeline,
            durations,
        }),
        template,
    ))
}

impl TimelineInput {
    fn media_ids(input: &Option<Self>) -> Vec<String> {
        input
            .as_ref()
            .map(|t| t.timeline.media_ids())
            .unwrap_or_default()
    }

    fn split(input: Option<Self>) -> (Option<(String, Timeline)>, HashMap<ClipSource, f64>) {
        match input {
            Some(t) => (Some((t.raw, t.timeline)), t.durations),
            None => (None, HashMap::new()),
        }
    }
}

pub async fn create(ctx: &Ctx, caller: &Caller, params: &Params) -> Result<ProjectBody, ApiError> {
    params.parse::<TemplateType>("TemplateType")?;
    let materials = match params.non_empty("MaterialMaps")? {
        Some(raw) => MaterialMaps::parse(raw)?,
        None => MaterialMaps::default(),
    };
    materials.check_owned(ctx, caller).await?;
    let title = params.required("Title")?.to_string();
    let (input, template) = timeline_input(ctx, caller, params).await?;
    let media_ids = TimelineInput::media_ids(&input);
    let (timeline, durations) = TimelineInput::split(input);
    let new = NewEditingProject {
        title,
        description: params.raw("Description").map(str::to_string),
        timeline,
        template,
        cover_url: params.raw("CoverURL").map(str::to_string),
        project_type: params.parse("ProjectType")?,
        business_config: params.non_empty("BusinessConfig")?.map(str::to_string),
    };
    let project = EditingProject::create(&caller.account_id, new_id(), new, now_micros(), |t| {
        t.duration(|s| durations.get(s).copied())
    })?;
    ctx.store
        .insert_project(&project, &media_ids, &materials.pairs())
        .await?;
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
    if !web_sdk {
        return Ok(ProjectBody {
            project: ProjectView::of(project, View::Full),
        });
    }
    let converted = web_sdk_timeline(ctx, caller, &project).await?;
    let mut view = ProjectView::of(project, View::Full);
    match converted {
        Ok(timeline) => {
            view.timeline = timeline;
            view.timeline_convert_status = Some("Converted");
        }
        Err(reason) => {
            view.timeline_convert_status = Some("ConvertFailed");
            view.timeline_convert_error_message = Some(reason);
        }
    }
    Ok(ProjectBody { project: view })
}

/// `RequestSource=WebSDK`: the timeline in the front-end form (docs/decisions.md), with the
/// caller's media it references attached to the project so the editor can preview them.
/// The inner error is a timeline that cannot be converted (`ConvertFailed`); the outer one
/// a store failure (5xx). Attaching is idempotent (existing links are kept).
async fn web_sdk_timeline(
    ctx: &Ctx,
    caller: &Caller,
    project: &EditingProject,
) -> Result<Result<Option<String>, String>, ApiError> {
    let Some(raw) = project.timeline.as_deref() else {
        return Ok(Ok(None));
    };
    let timeline = match Timeline::parse(raw) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e.reason)),
    };
    let media = timeline_media(ctx, &caller.account_id, &timeline).await?;
    let durations: HashMap<ClipSource, f64> = media
        .iter()
        .filter_map(|(s, m)| Some((s.clone(), m.duration?)))
        .collect();
    let materials: Vec<(String, String)> = media
        .into_iter()
        .map(|(_, m)| {
            let kind = m.media_type.map_or("video", |t| t.as_str());
            (kind.to_string(), m.media_id)
        })
        .collect();
    ctx.store
        .add_materials(&caller.account_id, &project.project_id, &materials)
        .await?;
    Ok(Ok(Some(
        timeline
            .to_frontend(|s| durations.get(s).copied())
            .to_string(),
    )))
}

pub async fn update(ctx: &Ctx, caller: &Caller, params: &Params) -> Result<Empty, ApiError> {
    let project_id = params.required("ProjectId")?;
    let title = params.non_empty("Title")?.map(str::to_string);
    let business_status = params.parse("BusinessStatus")?;
    // Read, apply, and write only what changed; a replaced timeline is written only if the
    // status and Duration it derives from are unchanged (a probe may have refreshed the
    // Duration meanwhile), else we read again. No acknowledged change is lost.
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let seen = ctx
            .store
            .project(&caller.account_id, project_id)
            .await?
            .ok_or_else(ApiError::project_not_found)?;
        let (input, template) = timeline_input(ctx, caller, params).await?;
        let new_timeline = input.is_some();
        let media_ids = TimelineInput::media_ids(&input);
        let (timeline, durations) = TimelineInput::split(input);
        let update = EditingProjectUpdate {
            title: title.clone(),
            description: params.raw("Description").map(str::to_string),
            timeline,
            template,
            cover_url: params.raw("CoverURL").map(str::to_string),
            business_status,
        };
        let mut project = seen.clone();
        project.apply(update, now_micros(), |t| {
            t.duration(|s| durations.get(s).copied())
        })?;
        let timeline_media = new_timeline.then_some(media_ids.as_slice());
        match ctx
            .store
            .update_project(&project, timeline_media, &seen)
            .await?
        {
            Guarded::Done => return Ok(Empty {}),
            Guarded::Gone => return Err(ApiError::project_not_found()),
            Guarded::Changed => continue,
        }
    }
    Err(busy())
}

/// Guarded writes retried this often before the caller is asked to retry.
pub(super) const MAX_WRITE_ATTEMPTS: usize = 8;

fn busy() -> ApiError {
    ApiError::new(
        ErrorCode::ServiceUnavailable,
        "The project is being changed by other requests; retry.",
    )
}

/// The media IDs of the timeline already stored with a project (it was valid when stored).
pub(super) fn stored_timeline_media(project: &EditingProject) -> Vec<String> {
    project
        .timeline
        .as_deref()
        .and_then(|raw| Timeline::parse(raw).ok())
        .map(|t| t.media_ids())
        .unwrap_or_default()
}

pub async fn delete(ctx: &Ctx, caller: &Caller, params: &Params) -> Result<Empty, ApiError> {
    let ids = params.id_list("ProjectIds", MAX_DELETE_IDS)?;
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
    let ascending = params.ascending("SortBy", "CreationTime:Desc", "CreationTime:Asc")?;
    let template_type = match params.raw("TemplateType") {
        None | Some("") => None,
        Some("None") => Some(None),
        Some(_) => Some(params.parse::<TemplateType>("TemplateType")?),
    };
    let query = ProjectQuery {
        create_source: params.parse("CreateSource")?,
        start_time: time("StartTime")?,
        // Times are answered at second precision, so EndTime covers its whole second.
        end_time: time("EndTime")?.map(|t| t + 999_999),
        statuses: params.list::<ProjectStatus>("Status")?.unwrap_or_default(),
        template_type,
        project_type: params.parse("ProjectType")?,
        keyword: None,
        ascending,
        page: Page::default(),
        timelines: false,
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

impl ProjectListBody {
    fn of(
        projects: Vec<EditingProject>,
        view: View,
        max_results: u32,
        total_count: Option<u64>,
        next_token: Option<String>,
    ) -> Self {
        ProjectListBody {
            project_list: projects
                .into_iter()
                .map(|p| ProjectView::of(p, view))
                .collect(),
            total_count,
            max_results,
            next_token,
        }
    }
}

pub async fn search(
    ctx: &Ctx,
    caller: &Caller,
    params: &Params,
) -> Result<ProjectListBody, ApiError> {
    let mut query = query_filters(params)?;
    // SearchEditingProject documents EditingProject as the default; List has none.
    query
        .project_type
        .get_or_insert(ProjectType::EditingProject);
    let page_size = params.int_in("PageSize", 1..=100)?.unwrap_or(10) as u32;
    let page_no = params.int_in("PageNo", 1..=1_000_000)?.unwrap_or(1) as u32;
    query.page = Page::Number { page_no, page_size };
    query.timelines = true;
    reserve_timelines(ctx, caller, &query, page_size).await?;
    let page = ctx
        .store
        .search_projects(&caller.account_id, &query)
        .await?;
    Ok(ProjectListBody::of(
        page.items,
        View::Searched,
        page_size,
        Some(page.total),
        None,
    ))
}

/// Refuses a search page whose timelines would answer more than one response may hold
/// (400, naming `PageSize`: the same PageNo with a smaller PageSize still addresses the same
/// projects' neighbourhood), and reserves what loading and answering the page will hold in
/// memory (503 at once when the server's byte budget has no room).
async fn reserve_timelines(
    ctx: &Ctx,
    caller: &Caller,
    query: &ProjectQuery,
    page_size: u32,
) -> Result<(), ApiError> {
    let loaded = ctx
        .store
        .search_projects_bytes(&caller.account_id, query)
        .await?;
    // In the response the timeline is a JSON string: its quotes come escaped, and every
    // project brings its other fields.
    let answered = loaded + loaded / 4 + u64::from(page_size) * 2048;
    let limit = caller.budget.max_response_bytes;
    if answered > limit {
        return Err(ApiError::invalid(
            "PageSize",
            format!(
                "A page of {page_size} projects would answer about {answered} bytes, more than \
                 the {limit} bytes one response may hold; use a smaller PageSize."
            ),
        ));
    }
    caller.budget.reserve(loaded + answered)
}

pub async fn list(
    ctx: &Ctx,
    caller: &Caller,
    params: &Params,
) -> Result<ProjectListBody, ApiError> {
    let mut query = query_filters(params)?;
    query.keyword = params.non_empty("Keyword")?.map(str::to_string);
    let limit = params.int_in("MaxResults", 1..=100)?.unwrap_or(10) as u32;
    let (token, page) = NextToken::page(params, &caller.account_id, &query, limit)?;
    query.page = page;
    let page = ctx
        .store
        .search_projects(&caller.account_id, &query)
        .await?;
    let next_token = page.next.map(|c| token.encode(&c));
    Ok(ProjectListBody::of(
        page.items,
        View::Listed,
        limit,
        None,
        next_token,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            |_| 0.0,
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
