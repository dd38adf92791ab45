//! Media producing jobs: SubmitMediaProducingJob, GetMediaProducingJob,
//! ListMediaProducingJobs.

use serde::Serialize;
use serde_json::Value;

use super::context::{Caller, Ctx, SubmissionLocks};
use super::lookup::{source_durations, timeline_media};
use super::paging::{NextToken, time_filter};
use super::templates::{self, TemplateUse};
use crate::domain::job::{Job, JobQuery, JobStatus, JobType, OutputTarget};
use crate::domain::media::{self, InputLocation};
use crate::domain::project::{EditingProject, NewEditingProject, ProjectStatus, TemplateType};
use crate::domain::timeline::{ClipSource, Timeline};
use crate::domain::{Page, format_time, new_id, now_micros};
use crate::protocol::error::ApiError;
use crate::protocol::params::{FromParams, Params};
use crate::render::{self, OutputSpec, RenderError};

/// Largest UserData (vendor limit).
const USER_DATA_MAX: usize = 512;
/// How long a ClientToken names its first job.
const CLIENT_TOKEN_WINDOW_MICROS: i64 = 24 * 3600 * 1_000_000;
/// Longest ListMediaProducingJobs time range (vendor limit).
const MAX_LIST_RANGE_MICROS: i64 = 30 * 24 * 3600 * 1_000_000;

/// A renderer's refusal of the caller's input, naming the field.
fn render_refusal(e: RenderError, default_field: &str) -> ApiError {
    match e {
        RenderError::Invalid { field, message } => ApiError::invalid(&field, message),
        RenderError::Source { source, message } => {
            ApiError::invalid(default_field, format!("{source}: {message}"))
        }
        RenderError::MissingTool(m) | RenderError::Failed(m) => ApiError::invalid(default_field, m),
    }
}

/// A JSON object parameter, or `InvalidParameter` naming it.
fn json_object(
    params: &Params,
    name: &str,
) -> Result<Option<serde_json::Map<String, Value>>, ApiError> {
    match params.non_empty(name)? {
        None => Ok(None),
        Some(raw) => match serde_json::from_str(raw) {
            Ok(Value::Object(m)) => Ok(Some(m)),
            _ => Err(ApiError::invalid(name, "It must be a JSON object.")),
        },
    }
}

fn string_field<'a>(
    object: &'a serde_json::Map<String, Value>,
    param: &str,
    key: &str,
) -> Result<Option<&'a str>, ApiError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid(param, format!("{key} must be a string."))),
    }
}

/// An http(s) URL a callback may be posted to.
pub(super) fn check_callback_url(param: &str, url: &str) -> Result<(), ApiError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !url.chars().any(char::is_control) => {
            Ok(())
        }
        _ => Err(ApiError::invalid(
            param,
            "Only http:// and https:// callback URLs are supported.",
        )),
    }
}

/// UserData: at most 512 bytes of JSON; a NotifyAddress must be an http(s) URL.
fn user_data(params: &Params) -> Result<Option<String>, ApiError> {
    let Some(raw) = params.non_empty("UserData")? else {
        return Ok(None);
    };
    if raw.len() > USER_DATA_MAX {
        return Err(ApiError::invalid(
            "UserData",
            format!("It is longer than {USER_DATA_MAX} bytes."),
        ));
    }
    let value: Value =
        serde_json::from_str(raw).map_err(|_| ApiError::invalid("UserData", "It must be JSON."))?;
    if let Some(object) = value.as_object() {
        for key in ["NotifyAddress", "RegisterMediaNotifyAddress"] {
            if let Some(url) = string_field(object, "UserData", key)? {
                check_callback_url("UserData", url)?;
            }
        }
    }
    Ok(Some(raw.to_string()))
}

/// `UserData.NotifyAddress`, when the job names one.
pub(crate) fn notify_address(user_data: Option<&str>) -> Option<String> {
    let value: Value = serde_json::from_str(user_data?).ok()?;
    value
        .get("NotifyAddress")?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Where the output goes: bucket, key, the MediaURL answered, and the VodMediaId.
struct Output {
    bucket: String,
    key: String,
    media_url: String,
    vod: bool,
}

fn output_location(
    config: &serde_json::Map<String, Value>,
    target: OutputTarget,
    media_id: &str,
) -> Result<Output, ApiError> {
    const P: &str = "OutputMediaConfig";
    match target {
        OutputTarget::OssObject => {
            let url = string_field(config, P, "MediaURL")?.ok_or_else(|| {
                ApiError::invalid(P, "MediaURL is required for the oss-object target.")
            })?;
            match InputLocation::parse(url, "OutputMediaConfig")? {
                InputLocation::Oss { bucket, key } => Ok(Output {
                    bucket,
                    key,
                    media_url: url.to_string(),
                    vod: false,
                }),
                InputLocation::Remote { .. } => Err(ApiError::invalid(
                    P,
                    "MediaURL must be an OSS URL: oss://<bucket>/<object> or https://<bucket>.oss-<region>.aliyuncs.com/<object>.",
                )),
            }
        }
        OutputTarget::VodMedia => {
            let location = string_field(config, P, "StorageLocation")?.ok_or_else(|| {
                ApiError::invalid(P, "StorageLocation is required for the vod-media target.")
            })?;
            let file_name = string_field(config, P, "FileName")?.ok_or_else(|| {
                ApiError::invalid(P, "FileName is required for the vod-media target.")
            })?;
            if file_name.contains('/') {
                return Err(ApiError::invalid(P, "FileName must not contain a path."));
            }
            let key = format!("{media_id}/{file_name}");
            let media_url = format!("https://{location}/{key}");
            match InputLocation::parse(&media_url, "OutputMediaConfig")? {
                InputLocation::Oss { bucket, key } => Ok(Output {
                    bucket,
                    key,
                    media_url,
                    vod: true,
                }),
                InputLocation::Remote { .. } => Err(ApiError::invalid(
                    P,
                    "StorageLocation must look like <bucket>.oss-<region>.aliyuncs.com.",
                )),
            }
        }
    }
}

/// Every clip source must be the caller's: a registered MediaId or URL, or an object in
/// one of the caller's buckets.
async fn check_sources(ctx: &Ctx, caller: &Caller, timeline: &Timeline) -> Result<(), ApiError> {
    let found = timeline_media(ctx, &caller.account_id, timeline).await?;
    for source in timeline.sources() {
        if found.iter().any(|(s, _)| s == source) {
            continue;
        }
        match source {
            ClipSource::MediaId(id) => {
                return Err(ApiError::invalid(
                    "MediaId",
                    format!("The media \"{id}\" does not exist."),
                ));
            }
            ClipSource::MediaUrl(url) => match InputLocation::parse(url, "Timeline")? {
                InputLocation::Oss { bucket, .. } => {
                    if ctx.store.bucket_owner(&bucket).await?.as_deref()
                        != Some(caller.account_id.as_str())
                    {
                        return Err(ApiError::invalid(
                            "Timeline",
                            format!("The MediaURL \"{url}\" is not in one of your buckets."),
                        ));
                    }
                }
                InputLocation::Remote { host, .. } => {
                    if !ctx.fetch_allow.contains(&host) {
                        return Err(ApiError::invalid(
                            "Timeline",
                            format!(
                                "The host \"{host}\" of \"{url}\" is not in the fetch allow-list."
                            ),
                        ));
                    }
                }
            },
        }
    }
    Ok(())
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubmitBody {
    job_id: String,
    project_id: String,
    media_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    vod_media_id: Option<String>,
}

impl SubmitBody {
    fn of(job: &Job) -> Self {
        SubmitBody {
            job_id: job.job_id.clone(),
            project_id: job.project_id.clone(),
            media_id: job.media_id.clone(),
            vod_media_id: job.vod_media_id.clone(),
        }
    }
}

/// The timeline a submission renders, with the project it belongs to (None: create one).
struct Input {
    raw: String,
    timeline: Timeline,
    project: Option<EditingProject>,
    template_id: Option<String>,
    clips_param: Option<String>,
    template_type: Option<TemplateType>,
}

/// What a submission renders: exactly one of ProjectId, TemplateId and Timeline.
enum Rendered<'a> {
    Project(&'a str),
    Template(TemplateUse<'a>),
    Timeline(&'a str, Timeline),
}

impl<'a> FromParams<'a> for Rendered<'a> {
    fn from_params(params: &'a Params) -> Result<Self, ApiError> {
        let given = ["ProjectId", "Timeline", "TemplateId"]
            .into_iter()
            .filter(|p| params.raw(p).is_some_and(|v| !v.trim().is_empty()))
            .count();
        if given != 1 {
            return Err(ApiError::invalid(
                "ProjectId",
                "Specify exactly one of ProjectId, Timeline and TemplateId.",
            ));
        }
        if let Some(project_id) = params.non_empty("ProjectId")? {
            return Ok(Rendered::Project(project_id));
        }
        if let Some(used) = TemplateUse::from_params(params)? {
            return Ok(Rendered::Template(used));
        }
        let raw = params.required("Timeline")?;
        let timeline = Timeline::parse(raw).map_err(|e| ApiError::invalid("Timeline", e))?;
        Ok(Rendered::Timeline(raw, timeline))
    }
}

async fn submitted_timeline(
    ctx: &Ctx,
    caller: &Caller,
    rendered: Rendered<'_>,
) -> Result<Input, ApiError> {
    match rendered {
        Rendered::Project(project_id) => from_project(ctx, caller, project_id).await,
        Rendered::Template(used) => from_template(ctx, caller, &used).await,
        Rendered::Timeline(raw, timeline) => Ok(Input {
            raw: raw.to_string(),
            timeline,
            project: None,
            template_id: None,
            clips_param: None,
            template_type: None,
        }),
    }
}

async fn from_project(ctx: &Ctx, caller: &Caller, project_id: &str) -> Result<Input, ApiError> {
    let project = ctx
        .store
        .project(&caller.account_id, project_id)
        .await?
        .ok_or_else(ApiError::project_not_found)?;
    let raw = project.timeline.clone().unwrap_or_default();
    let timeline = Timeline::parse(&raw).map_err(|e| ApiError::invalid("ProjectId", e))?;
    Ok(Input {
        raw,
        timeline,
        template_id: project.template_id.clone(),
        clips_param: project.clips_param.clone(),
        template_type: project.template_type,
        project: Some(project),
    })
}

async fn from_template(
    ctx: &Ctx,
    caller: &Caller,
    used: &TemplateUse<'_>,
) -> Result<Input, ApiError> {
    let t = templates::for_project(ctx, caller, used).await?;
    let Some((raw, timeline)) = t.timeline else {
        return Err(ApiError::invalid(
            "TemplateId",
            "openice does not render VETemplate (After Effects) templates.",
        ));
    };
    Ok(Input {
        raw,
        timeline,
        project: None,
        template_id: Some(t.template_id),
        clips_param: Some(t.clips_param),
        template_type: Some(t.template_type),
    })
}

pub struct SubmitJobInput<'a> {
    client_token: Option<&'a str>,
    rendered: Rendered<'a>,
    /// OutputMediaConfig as sent (stored) and parsed.
    config_raw: &'a str,
    config: serde_json::Map<String, Value>,
    target: OutputTarget,
    user_data: Option<String>,
    media_metadata: Option<&'a str>,
    project_metadata: Option<serde_json::Map<String, Value>>,
    editing_produce_config: Option<&'a str>,
    source: Option<crate::domain::project::Source>,
}

impl<'a> FromParams<'a> for SubmitJobInput<'a> {
    fn from_params(params: &'a Params) -> Result<Self, ApiError> {
        let client_token = params.non_empty("ClientToken")?;
        if let Some(token) = client_token {
            media::check_len("ClientToken", token, 64)?;
            if !token.is_ascii() {
                return Err(ApiError::invalid("ClientToken", "It must be ASCII."));
            }
        }
        let rendered = Rendered::from_params(params)?;
        let Some(config_raw) = params.non_empty("OutputMediaConfig")? else {
            return Err(ApiError::missing("OutputMediaConfig"));
        };
        let config = json_object(params, "OutputMediaConfig")?.unwrap_or_default();
        OutputSpec::from_output_media_config(&Value::Object(config.clone()))
            .map_err(|e| render_refusal(e, "OutputMediaConfig"))?;
        let target = params
            .parse::<OutputTarget>("OutputMediaTarget")?
            .unwrap_or(OutputTarget::OssObject);
        let user_data = user_data(params)?;
        if let Some(m) = &json_object(params, "MediaMetadata")? {
            if let Some(title) = string_field(m, "MediaMetadata", "Title")? {
                media::check_len("MediaMetadata", title, media::TITLE_MAX)?;
            }
            if let Some(tags) = string_field(m, "MediaMetadata", "Tags")? {
                media::parse_tags(tags)?;
            }
        }
        let project_metadata = json_object(params, "ProjectMetadata")?;
        json_object(params, "EditingProduceConfig")?;
        Ok(SubmitJobInput {
            client_token,
            rendered,
            config_raw,
            config,
            target,
            user_data,
            media_metadata: params.non_empty("MediaMetadata")?,
            project_metadata,
            editing_produce_config: params.non_empty("EditingProduceConfig")?,
            source: params.parse("Source")?,
        })
    }
}

/// Waits for any submission in progress with the same (account, ClientToken) and returns
/// this one's turn; the entry is removed once no submission holds or awaits it, also when
/// a waiting request is dropped (the turn exists before the wait, so its Drop runs).
async fn same_token_turn<'a>(ctx: &'a Ctx, account_id: &str, token: &str) -> SameTokenTurn<'a> {
    let key = (account_id.to_string(), token.to_string());
    let lock = table(&ctx.submitting)
        .entry(key.clone())
        .or_default()
        .clone();
    let mut turn = SameTokenTurn {
        guard: None,
        key,
        lock,
        table: &ctx.submitting,
    };
    turn.guard = Some(turn.lock.clone().lock_owned().await);
    turn
}

fn table(m: &std::sync::Mutex<SubmissionLocks>) -> std::sync::MutexGuard<'_, SubmissionLocks> {
    // A panic while holding it cannot leave the map inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct SameTokenTurn<'a> {
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
    key: (String, String),
    lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    table: &'a std::sync::Mutex<SubmissionLocks>,
}

impl Drop for SameTokenTurn<'_> {
    fn drop(&mut self) {
        self.guard = None;
        let mut table = table(self.table);
        // Only the table's reference and ours are left: nobody waits for this token.
        if std::sync::Arc::strong_count(&self.lock) == 2 {
            table.remove(&self.key);
        }
    }
}

pub async fn submit(
    ctx: &Ctx,
    caller: &Caller,
    input: SubmitJobInput<'_>,
) -> Result<SubmitBody, ApiError> {
    let SubmitJobInput {
        client_token,
        rendered,
        config_raw,
        config,
        target,
        user_data,
        media_metadata,
        project_metadata,
        editing_produce_config,
        source,
    } = input;
    // The turn is held until this submission's job is stored (or refused), so that a
    // concurrent one with the same token finds the job here.
    let _same_token = match client_token {
        Some(token) => {
            let turn = same_token_turn(ctx, &caller.account_id, token).await;
            let since = now_micros() - CLIENT_TOKEN_WINDOW_MICROS;
            if let Some(first) = ctx
                .store
                .job_by_client_token(&caller.account_id, token, since)
                .await?
            {
                return Ok(SubmitBody::of(&first));
            }
            Some(turn)
        }
        None => None,
    };
    let input = submitted_timeline(ctx, caller, rendered).await?;
    render::check(&input.timeline).map_err(|e| render_refusal(e, "Timeline"))?;
    check_sources(ctx, caller, &input.timeline).await?;

    let media_id = new_id();
    let output = output_location(&config, target, &media_id)?;
    let owner = ctx
        .store
        .claim_bucket(&output.bucket, &caller.account_id)
        .await?;
    if owner != caller.account_id {
        return Err(ApiError::invalid(
            "OutputMediaConfig",
            format!(
                "The bucket \"{}\" belongs to another account.",
                output.bucket
            ),
        ));
    }

    let now = now_micros();
    let project_id = match &input.project {
        Some(p) => p.project_id.clone(),
        None => {
            let meta = project_metadata.unwrap_or_default();
            let durations = source_durations(ctx, &caller.account_id, &input.timeline).await?;
            let mut project = EditingProject::create(
                &caller.account_id,
                new_id(),
                NewEditingProject {
                    title: string_field(&meta, "ProjectMetadata", "Title")?
                        .unwrap_or("Untitled")
                        .to_string(),
                    description: string_field(&meta, "ProjectMetadata", "Description")?
                        .map(str::to_string),
                    timeline: Some((input.raw.clone(), input.timeline.clone())),
                    template: input
                        .template_id
                        .clone()
                        .zip(input.clips_param.clone())
                        .map(
                            |(template_id, clips_param)| crate::domain::project::TemplateRef {
                                template_id,
                                clips_param,
                                template_type: input
                                    .template_type
                                    .unwrap_or(TemplateType::Timeline),
                            },
                        ),
                    ..Default::default()
                },
                now,
                |t| t.duration(|s| durations.get(s).copied()),
            )?;
            project.status = ProjectStatus::Producing;
            ctx.store
                .insert_project(&project, &input.timeline.media_ids(), &[])
                .await?;
            project.project_id
        }
    };
    let job = Job {
        account_id: caller.account_id.clone(),
        job_id: new_id(),
        project_id,
        vod_media_id: output.vod.then(|| media_id.clone()),
        media_id,
        media_url: output.media_url,
        output_bucket: output.bucket,
        output_key: output.key,
        timeline: input.raw,
        template_id: input.template_id,
        clips_param: input.clips_param,
        output_media_config: config_raw.to_string(),
        media_metadata: media_metadata.map(str::to_string),
        editing_produce_config: editing_produce_config.map(str::to_string),
        user_data,
        source: source.map(|s| s.as_str().to_string()),
        client_token: client_token.map(str::to_string),
        job_type: JobType::EditingJob,
        status: JobStatus::Init,
        code: None,
        message: None,
        progress: 0,
        duration: None,
        create_time: now,
        modified_time: now,
        complete_time: None,
    };
    ctx.store.insert_job(&job).await?;
    ctx.job_wakeup.notify_one();
    Ok(SubmitBody::of(&job))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobView {
    job_id: String,
    project_id: String,
    media_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    vod_media_id: Option<String>,
    #[serde(rename = "MediaURL")]
    media_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    template_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    clips_param: Option<String>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    progress: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<f64>,
    create_time: String,
    modified_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    complete_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_data: Option<String>,
}

impl JobView {
    /// GetMediaProducingJob's fields; list items carry no Timeline, Progress or VodMediaId.
    fn of(j: Job, full: bool) -> Self {
        JobView {
            job_id: j.job_id,
            project_id: j.project_id,
            media_id: j.media_id,
            vod_media_id: j.vod_media_id.filter(|_| full),
            media_url: j.media_url,
            timeline: full.then_some(j.timeline),
            template_id: j.template_id,
            clips_param: j.clips_param,
            status: j.status.as_str(),
            code: j.code,
            message: j.message,
            progress: full.then_some(j.progress),
            duration: j.duration,
            create_time: format_time(j.create_time),
            modified_time: format_time(j.modified_time),
            complete_time: j.complete_time.map(format_time),
            user_data: j.user_data,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetBody {
    media_producing_job: JobView,
}

pub struct GetJobInput<'a> {
    job_id: &'a str,
}

impl<'a> FromParams<'a> for GetJobInput<'a> {
    fn from_params(params: &'a Params) -> Result<Self, ApiError> {
        Ok(GetJobInput {
            job_id: params.required("JobId")?,
        })
    }
}

pub async fn get(ctx: &Ctx, caller: &Caller, input: GetJobInput<'_>) -> Result<GetBody, ApiError> {
    let job_id = input.job_id;
    let job = ctx
        .store
        .job(&caller.account_id, job_id)
        .await?
        .ok_or_else(|| {
            ApiError::invalid("JobId", format!("The job \"{job_id}\" does not exist."))
        })?;
    Ok(GetBody {
        media_producing_job: JobView::of(job, true),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    /// A string, as the SDK models it.
    max_results: String,
    media_producing_job_list: Vec<JobView>,
}

pub struct ListJobsInput<'a> {
    query: JobQuery,
    limit: u32,
    /// A MasterJobId was given: openice runs no batch jobs, so no job has sub-jobs.
    no_sub_jobs: bool,
    next_token: Option<&'a str>,
}

impl<'a> FromParams<'a> for ListJobsInput<'a> {
    fn from_params(params: &'a Params) -> Result<Self, ApiError> {
        let time = |name: &str| time_filter(params, name);
        let start_time = time("StartTime")?;
        // Times are answered at second precision, so EndTime covers its whole second.
        let end_time = time("EndTime")?.map(|t| t + 999_999);
        if let (Some(s), Some(e)) = (start_time, end_time) {
            if s > e {
                return Err(ApiError::invalid(
                    "StartTime",
                    "StartTime is later than EndTime.",
                ));
            }
            if e - s > MAX_LIST_RANGE_MICROS {
                return Err(ApiError::invalid(
                    "EndTime",
                    "The range may span at most 30 days.",
                ));
            }
        }
        let limit = params.int_in("MaxResults", 1..=100)?.unwrap_or(10) as u32;
        let query = JobQuery {
            status: params.parse("Status")?,
            job_type: params.parse("JobType")?,
            start_time,
            end_time,
            keyword: params.non_empty("Keyword")?.map(str::to_string),
            project_id: params.non_empty("ProjectId")?.map(str::to_string),
            ascending: params.ascending("SortBy", "CreationTime:Desc", "CreationTime:Asc")?,
            page: Page::default(),
        };
        // openice runs no batch jobs, so no job has sub-jobs.
        let no_sub_jobs = params.non_empty("MasterJobId")?.is_some();
        Ok(ListJobsInput {
            query,
            limit,
            no_sub_jobs,
            next_token: params.non_empty("NextToken")?,
        })
    }
}

pub async fn list(
    ctx: &Ctx,
    caller: &Caller,
    input: ListJobsInput<'_>,
) -> Result<ListBody, ApiError> {
    let ListJobsInput {
        mut query,
        limit,
        no_sub_jobs,
        next_token,
    } = input;
    let (token, page) = NextToken::page(next_token, &caller.account_id, &query, limit)?;
    query.page = page;
    let page = if no_sub_jobs {
        crate::domain::Paged {
            items: Vec::new(),
            total: 0,
            next: None,
        }
    } else {
        ctx.store.search_jobs(&caller.account_id, &query).await?
    };
    Ok(ListBody {
        next_token: page.next.map(|c| token.encode(&c)),
        max_results: limit.to_string(),
        media_producing_job_list: page
            .items
            .into_iter()
            .map(|j| JobView::of(j, false))
            .collect(),
    })
}
