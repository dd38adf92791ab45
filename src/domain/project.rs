//! Editing projects: statuses, sources, types and the rules for creating and updating them.

use super::timeline::Timeline;
use super::{Micros, Page, vendor_enum};

vendor_enum!(
    /// Project status; only CreateEditingProject answers it as an integer.
    ProjectStatus { Draft, Editing, Producing, Produced, ProduceFailed, Deleted }
);

impl ProjectStatus {
    /// The integer CreateEditingProject answers (6 is unused by the vendor).
    pub fn code(self) -> i32 {
        match self {
            ProjectStatus::Draft => 1,
            ProjectStatus::Editing => 2,
            ProjectStatus::Producing => 3,
            ProjectStatus::Produced => 4,
            ProjectStatus::ProduceFailed => 5,
            ProjectStatus::Deleted => 7,
        }
    }

    /// Draft while the timeline is empty, Editing once it holds clips (decisions.md).
    fn for_timeline(timeline: &Timeline) -> Self {
        if timeline.is_empty() {
            ProjectStatus::Draft
        } else {
            ProjectStatus::Editing
        }
    }
}

vendor_enum!(
    /// How a project was created or last modified.
    Source { OpenAPI, AliyunConsole, WebSDK, LiveEditingOpenAPI, LiveEditingConsole }
);

vendor_enum!(ProjectType {
    EditingProject,
    LiveEditingProject
});

vendor_enum!(TemplateType {
    Timeline,
    VETemplate
});

vendor_enum!(
    /// Live projects only. `BroadCasting`, `LoadingFailed` and `LiveFinished` are set by a
    /// live system openice does not run.
    BusinessStatus { Reserving, ReservationCanceled, BroadCasting, LoadingFailed, LiveFinished }
);

/// A rule broken by the caller's input, naming the parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub param: &'static str,
    pub reason: String,
}

impl Invalid {
    pub fn new(param: &'static str, reason: impl Into<String>) -> Self {
        Invalid {
            param,
            reason: reason.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EditingProject {
    pub account_id: String,
    pub project_id: String,
    pub title: String,
    pub description: Option<String>,
    /// Stored exactly as sent; `None` is the empty timeline.
    pub timeline: Option<String>,
    pub template_id: Option<String>,
    pub clips_param: Option<String>,
    pub cover_url: Option<String>,
    pub status: ProjectStatus,
    pub create_time: Micros,
    pub modified_time: Micros,
    /// Seconds, recomputed from the timeline on every write.
    pub duration: f64,
    pub create_source: Source,
    pub modified_source: Source,
    pub template_type: Option<TemplateType>,
    pub project_type: ProjectType,
    pub business_config: Option<String>,
    pub business_status: Option<BusinessStatus>,
}

/// The template a project was made from.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateRef {
    pub template_id: String,
    pub clips_param: String,
    pub template_type: TemplateType,
}

/// CreateEditingProject's input after parameter parsing.
#[derive(Debug, Default)]
pub struct NewEditingProject {
    pub title: String,
    pub description: Option<String>,
    /// Given, or filled from the template.
    pub timeline: Option<(String, Timeline)>,
    pub template: Option<TemplateRef>,
    pub cover_url: Option<String>,
    pub project_type: Option<ProjectType>,
    pub business_config: Option<String>,
}

/// UpdateEditingProject's input: `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct EditingProjectUpdate {
    pub title: Option<String>,
    pub description: Option<String>,
    pub timeline: Option<(String, Timeline)>,
    pub template: Option<TemplateRef>,
    pub cover_url: Option<String>,
    pub business_status: Option<BusinessStatus>,
}

impl EditingProject {
    pub fn create(
        account_id: &str,
        project_id: String,
        new: NewEditingProject,
        now: Micros,
        duration: impl Fn(&Timeline) -> f64,
    ) -> Result<Self, Invalid> {
        let project_type = new.project_type.unwrap_or(ProjectType::EditingProject);
        let live = project_type == ProjectType::LiveEditingProject;
        if let Some(config) = &new.business_config {
            BusinessConfig::parse(config, live)?;
        } else if live {
            return Err(Invalid::new(
                "BusinessConfig",
                "A LiveEditingProject needs OutputMediaConfig.StorageLocation.",
            ));
        }
        let (timeline, duration, status) = match new.timeline {
            Some((raw, t)) if !raw.trim().is_empty() => {
                (Some(raw), duration(&t), ProjectStatus::for_timeline(&t))
            }
            _ => (None, 0.0, ProjectStatus::Draft),
        };
        Ok(EditingProject {
            account_id: account_id.to_string(),
            project_id,
            title: new.title,
            description: new.description,
            duration,
            status,
            timeline,
            template_id: new.template.as_ref().map(|t| t.template_id.clone()),
            clips_param: new.template.as_ref().map(|t| t.clips_param.clone()),
            cover_url: new.cover_url,
            create_time: now,
            modified_time: now,
            create_source: Source::OpenAPI,
            modified_source: Source::OpenAPI,
            template_type: new.template.as_ref().map(|t| t.template_type),
            project_type,
            business_config: new.business_config,
            business_status: live.then_some(BusinessStatus::Reserving),
        })
    }

    pub fn apply(
        &mut self,
        update: EditingProjectUpdate,
        now: Micros,
        duration: impl Fn(&Timeline) -> f64,
    ) -> Result<(), Invalid> {
        let live = self.project_type == ProjectType::LiveEditingProject;
        let replaces_timeline = update.timeline.is_some() || update.template.is_some();
        if let Some(status) = update.business_status {
            match status {
                BusinessStatus::Reserving | BusinessStatus::ReservationCanceled => {}
                other => {
                    return Err(Invalid::new(
                        "BusinessStatus",
                        format!(
                            "{other} is set by the live system; valid values: Reserving, ReservationCanceled."
                        ),
                    ));
                }
            }
            // Regular projects ignore BusinessStatus (seed: "can be ignored").
            if live {
                self.business_status = Some(status);
            }
        }
        if let Some(title) = update.title {
            self.title = title;
        }
        if let Some(description) = update.description {
            self.description = Some(description);
        }
        if let Some(cover) = update.cover_url {
            self.cover_url = Some(cover);
        }
        if let Some((raw, timeline)) = update.timeline {
            self.duration = duration(&timeline);
            if matches!(self.status, ProjectStatus::Draft | ProjectStatus::Editing) {
                self.status = ProjectStatus::for_timeline(&timeline);
            }
            self.timeline = (!raw.trim().is_empty()).then_some(raw);
        }
        // A new timeline, given or filled from a template, replaces what a template produced.
        if replaces_timeline {
            self.template_id = update.template.as_ref().map(|t| t.template_id.clone());
            self.clips_param = update.template.as_ref().map(|t| t.clips_param.clone());
            self.template_type = update.template.as_ref().map(|t| t.template_type);
        }
        self.modified_time = now.max(self.modified_time);
        self.modified_source = Source::OpenAPI;
        Ok(())
    }
}

/// The documented part of a live project's BusinessConfig.
#[derive(Debug, PartialEq)]
pub struct BusinessConfig {
    pub storage_location: Option<String>,
    pub output_media_target: String,
}

impl BusinessConfig {
    /// Checks a BusinessConfig JSON; for live projects StorageLocation is required and must
    /// look like `<bucket>.oss-<region>.aliyuncs.com`.
    pub fn parse(raw: &str, live: bool) -> Result<Self, Invalid> {
        let bad = |why: &str| Invalid::new("BusinessConfig", why.to_string());
        let value: serde_json::Value =
            serde_json::from_str(raw).map_err(|e| bad(&format!("It is not valid JSON: {e}.")))?;
        let obj = value
            .as_object()
            .ok_or_else(|| bad("It must be a JSON object."))?;
        let output = obj.get("OutputMediaConfig");
        let storage_location = match output.and_then(|o| o.get("StorageLocation")) {
            None => None,
            Some(serde_json::Value::String(s)) if is_oss_endpoint(s) => Some(s.clone()),
            Some(_) => {
                return Err(bad(
                    "OutputMediaConfig.StorageLocation must look like <bucket>.oss-<region>.aliyuncs.com.",
                ));
            }
        };
        if live && storage_location.is_none() {
            return Err(bad(
                "OutputMediaConfig.StorageLocation is required for a LiveEditingProject.",
            ));
        }
        let target = match obj.get("OutputMediaTarget") {
            None => "oss-object".to_string(),
            Some(serde_json::Value::String(t)) if t == "oss-object" || t == "vod-media" => {
                t.clone()
            }
            Some(_) => return Err(bad("OutputMediaTarget must be oss-object or vod-media.")),
        };
        if let Some(t) = obj.get("ReservationTime")
            && t.as_str().and_then(super::parse_time).is_none()
        {
            return Err(bad(
                "ReservationTime must be an ISO-8601 UTC time such as 2021-06-21T08:05:00Z.",
            ));
        }
        Ok(BusinessConfig {
            storage_location,
            output_media_target: target,
        })
    }
}

fn is_oss_endpoint(s: &str) -> bool {
    let Some((bucket, rest)) = s.split_once('.') else {
        return false;
    };
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let region = rest
        .strip_prefix("oss-")
        .and_then(|r| r.strip_suffix(".aliyuncs.com"))
        .map(|r| r.strip_suffix("-internal").unwrap_or(r));
    valid_bucket && region.is_some_and(|r| !r.is_empty() && !r.contains('.'))
}

/// Filters, order and page of SearchEditingProject and ListEditingProjects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectQuery {
    pub create_source: Option<Source>,
    pub start_time: Option<Micros>,
    pub end_time: Option<Micros>,
    pub statuses: Vec<ProjectStatus>,
    /// `Some(None)` selects projects made without a template (`TemplateType=None`).
    pub template_type: Option<Option<TemplateType>>,
    pub project_type: Option<ProjectType>,
    /// Matches the project ID exactly or the title as a substring.
    pub keyword: Option<String>,
    pub ascending: bool,
    pub page: Page,
    /// Load each project's `Timeline` and `ClipsParam` (Search answers the timeline; List
    /// answers neither, so it does not load them).
    pub timelines: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeline(s: &str) -> Option<(String, Timeline)> {
        Some((s.to_string(), Timeline::parse(s).unwrap()))
    }

    fn new(title: &str) -> NewEditingProject {
        NewEditingProject {
            title: title.into(),
            ..Default::default()
        }
    }

    #[test]
    fn status_follows_the_timeline() {
        let p = EditingProject::create("a", "p".into(), new("t"), 1, |_| 0.0).unwrap();
        assert_eq!((p.status, p.timeline.clone()), (ProjectStatus::Draft, None));
        let mut with = new("t");
        with.timeline =
            timeline(r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"m","Out":3}]}]}"#);
        let mut p =
            EditingProject::create("a", "p".into(), with, 1, |t| t.duration(|_| None)).unwrap();
        assert_eq!((p.status, p.duration), (ProjectStatus::Editing, 3.0));
        let upd = EditingProjectUpdate {
            timeline: timeline(""),
            ..Default::default()
        };
        p.apply(upd, 5, |t| t.duration(|_| None)).unwrap();
        assert_eq!(
            (p.status, p.duration, p.modified_time),
            (ProjectStatus::Draft, 0.0, 5)
        );
    }

    #[test]
    fn live_projects_need_a_storage_location() {
        let mut live = new("l");
        live.project_type = Some(ProjectType::LiveEditingProject);
        assert_eq!(
            EditingProject::create("a", "p".into(), live, 1, |_| 0.0)
                .unwrap_err()
                .param,
            "BusinessConfig"
        );
        let mut live = new("l");
        live.project_type = Some(ProjectType::LiveEditingProject);
        live.business_config = Some(
            r#"{"OutputMediaConfig":{"StorageLocation":"test-bucket.oss-cn-shanghai.aliyuncs.com"},"ReservationTime":"2021-06-21T08:05:00Z"}"#.into(),
        );
        let mut p = EditingProject::create("a", "p".into(), live, 1, |_| 0.0).unwrap();
        assert_eq!(p.business_status, Some(BusinessStatus::Reserving));
        let cancel = EditingProjectUpdate {
            business_status: Some(BusinessStatus::ReservationCanceled),
            ..Default::default()
        };
        p.apply(cancel, 2, |_| 0.0).unwrap();
        assert_eq!(p.business_status, Some(BusinessStatus::ReservationCanceled));
        let broadcast = EditingProjectUpdate {
            business_status: Some(BusinessStatus::BroadCasting),
            ..Default::default()
        };
        assert!(p.apply(broadcast, 3, |_| 0.0).is_err());
    }

    #[test]
    fn storage_locations() {
        assert!(is_oss_endpoint("test-bucket.oss-cn-shanghai.aliyuncs.com"));
        assert!(is_oss_endpoint("abc.oss-cn-beijing-internal.aliyuncs.com"));
        assert!(!is_oss_endpoint("Bucket.oss-cn-shanghai.aliyuncs.com"));
        assert!(!is_oss_endpoint("abc.example.com"));
        assert!(!is_oss_endpoint("abc.oss-.aliyuncs.com"));
    }

    #[test]
    fn status_codes() {
        let codes: Vec<i32> = ProjectStatus::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, vec![1, 2, 3, 4, 5, 7]);
        assert_eq!(
            "Editing".parse::<ProjectStatus>().unwrap(),
            ProjectStatus::Editing
        );
        assert!("editing".parse::<ProjectStatus>().is_err());
    }
}
