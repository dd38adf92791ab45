//! Response views of a media asset, shared by the media-library and materials actions:
//! the vendor's responses carry different field sets per action ([`Shape`]).

use serde::Serialize;

use super::context::{Caller, Ctx};
use super::probe_view::{AudioStreamInfo, ProbeWire, SubtitleStreamInfo, VideoStreamInfo};
use crate::domain::media::{InputLocation, MediaInfo, MediaStatus};
use crate::domain::{format_time, now_micros};
use crate::media::probe::ProbeResult;
use crate::protocol::error::ApiError;

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct MediaBasicInfoView {
    media_id: String,
    #[serde(rename = "InputURL")]
    input_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    business_type: Option<&'static str>,
    source: &'static str,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cate_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cate_name: Option<String>,
    media_tags: String,
    #[serde(rename = "CoverURL", skip_serializing_if = "Option::is_none")]
    cover_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference_id: Option<String>,
    status: &'static str,
    create_time: String,
    modified_time: String,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct FileBasicInfoView {
    file_name: String,
    file_status: &'static str,
    file_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_size: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_url: Option<String>,
    region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    format_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bitrate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    create_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    modified_time: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct FileInfoView {
    file_basic_info: FileBasicInfoView,
    #[serde(skip_serializing_if = "Option::is_none")]
    video_stream_info_list: Option<Vec<VideoStreamInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audio_stream_info_list: Option<Vec<AudioStreamInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subtitle_stream_info_list: Option<Vec<SubtitleStreamInfo>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MediaInfoView {
    media_id: String,
    media_basic_info: MediaBasicInfoView,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_info_list: Option<Vec<FileInfoView>>,
}

/// How much of the file information a response carries.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum FileDetail {
    None,
    Basic,
    Streams,
}

/// Which action a view is for: the vendor's responses carry different field sets.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Shape {
    Get,
    Batch,
    List,
    Search,
    Materials,
}

impl Shape {
    /// CateId, ReferenceId and the file's CreateTime/ModifiedTime.
    fn catalogued(self) -> bool {
        matches!(self, Shape::Get | Shape::List | Shape::Search)
    }

    fn cate_name(self) -> bool {
        matches!(self, Shape::Get | Shape::Search)
    }
}

/// Everything a view needs besides the media itself.
pub(super) struct ViewCtx<'a> {
    pub ctx: &'a Ctx,
    pub caller: &'a Caller,
    pub auth_timeout: i64,
    pub shape: Shape,
}

impl ViewCtx<'_> {
    /// A URL players can fetch: a signed openice download URL for local objects.
    fn fetchable(&self, url: &str) -> String {
        match InputLocation::parse(url, "InputURL") {
            Ok(InputLocation::Oss { bucket, key }) => self.ctx.storage.signed_url(
                &self.caller.base_url,
                &bucket,
                &key,
                now_micros() / 1_000_000 + self.auth_timeout,
            ),
            _ => url.to_string(),
        }
    }

    /// `Uploading` while a CreateUploadMedia object has not been written yet.
    fn file_status(&self, m: &MediaInfo) -> &'static str {
        let missing = || match InputLocation::parse(&m.location, "InputURL") {
            Ok(InputLocation::Oss { bucket, key }) => {
                self.ctx.storage.existing(&bucket, &key).is_err()
            }
            _ => false,
        };
        if m.status == MediaStatus::Init && missing() {
            "Uploading"
        } else {
            "Normal"
        }
    }

    pub(super) async fn view(
        &self,
        m: MediaInfo,
        detail: FileDetail,
    ) -> Result<MediaInfoView, ApiError> {
        let catalogued = self.shape.catalogued();
        let cate_name = match m.cate_id.filter(|_| self.shape.cate_name()) {
            Some(id) => self
                .ctx
                .store
                .category(&self.caller.account_id, id)
                .await?
                .map(|c| c.cate_name),
            None => None,
        };
        // A stored probe that does not parse (logged when the store opened) shows as none.
        let ProbeWire {
            file,
            video_streams,
            audio_streams,
            subtitle_streams,
        } = m
            .probe
            .as_deref()
            .and_then(|p| ProbeResult::from_stored(p).ok())
            .map(|p| ProbeWire::from(&p))
            .unwrap_or_default();
        let file_info_list = (detail != FileDetail::None).then(|| {
            let streams = detail == FileDetail::Streams;
            vec![FileInfoView {
                file_basic_info: FileBasicInfoView {
                    file_name: InputLocation::parse(&m.location, "InputURL")
                        .map(|l| l.file_name().to_string())
                        .unwrap_or_default(),
                    file_status: self.file_status(&m),
                    file_type: "source_file",
                    file_size: m.file_size.map(|s| s.to_string()),
                    file_url: Some(self.fetchable(&m.location)),
                    region: self.ctx.region.clone(),
                    format_name: file.format_name,
                    duration: file.duration,
                    bitrate: file.bitrate,
                    width: file.width,
                    height: file.height,
                    create_time: catalogued.then(|| format_time(m.create_time)),
                    modified_time: catalogued.then(|| format_time(m.modified_time)),
                },
                video_stream_info_list: streams.then_some(video_streams),
                audio_stream_info_list: streams.then_some(audio_streams),
                subtitle_stream_info_list: streams.then_some(subtitle_streams),
            }]
        });
        Ok(MediaInfoView {
            media_id: m.media_id.clone(),
            media_basic_info: MediaBasicInfoView {
                cover_url: m.cover_url.as_deref().map(|c| self.fetchable(c)),
                media_id: m.media_id,
                input_url: m.input_url,
                media_type: m.media_type.map(|t| t.as_str()),
                business_type: m.business_type.map(|t| t.as_str()),
                source: m.source.as_str(),
                title: m.title,
                description: m.description,
                category: m.category,
                cate_id: m.cate_id.filter(|_| catalogued),
                cate_name,
                media_tags: m.media_tags.join(","),
                user_data: m.user_data,
                reference_id: m.reference_id.filter(|_| catalogued),
                status: m.status.as_str(),
                create_time: format_time(m.create_time),
                modified_time: format_time(m.modified_time),
            },
            file_info_list,
        })
    }

    pub(super) async fn views(
        &self,
        media: Vec<MediaInfo>,
        detail: FileDetail,
    ) -> Result<Vec<MediaInfoView>, ApiError> {
        let mut out = Vec::with_capacity(media.len());
        for m in media {
            out.push(self.view(m, detail).await?);
        }
        Ok(out)
    }
}

/// A body holding nothing but the RequestId.
#[derive(Serialize)]
pub struct Empty {}
