//! Turning ffprobe's typed output into probe facts: which streams count, image vs video vs
//! audio, durations, bitrates, frame rates and rotation.

use super::ffprobe::{Field, Format, Output, Stream};
use super::{
    AudioStream, FileFacts, MediaKind, ProbeError, ProbeResult, Probed, SubtitleStream, Version,
    VideoStream, Whole,
};

/// Demuxers that only read still images (or image animations).
fn is_image_demuxer(format: &str) -> bool {
    matches!(format, "image2" | "gif" | "apng" | "webp" | "ico") || format.ends_with("_pipe")
}

/// Codecs used for still images.
fn is_image_codec(codec: &str) -> bool {
    matches!(
        codec,
        "png"
            | "apng"
            | "mjpeg"
            | "jpegls"
            | "gif"
            | "webp"
            | "bmp"
            | "tiff"
            | "jpeg2000"
            | "jpegxl"
            | "ppm"
            | "pgm"
            | "pbm"
            | "pam"
            | "pgmyuv"
            | "targa"
            | "sgi"
            | "dds"
            | "psd"
            | "qoi"
            | "pcx"
            | "xbm"
            | "xpm"
            | "xwd"
            | "exr"
            | "hdr"
            | "photocd"
            | "sunrast"
            | "pictor"
    )
}

/// Builds the probe facts from ffprobe's `-show_format -show_streams` output.
pub(super) fn interpret(output: &Output) -> Result<Probed, ProbeError> {
    let streams = &output.streams;
    let format = &output.format;

    let attached = |stream: &Stream| stream.disposition.attached_pic.number() == Some(1.0);
    let pictures: Vec<&Stream> = streams
        .iter()
        .filter(|s| s.codec_type.is("video") && !attached(s) && usable_picture(s))
        .collect();
    let covers = streams
        .iter()
        .filter(|s| s.codec_type.is("video") && attached(s) && usable_picture(s));
    let audios: Vec<&Stream> = streams
        .iter()
        .filter(|s| s.codec_type.is("audio") && s.codec_name.text().is_some())
        .filter(|s| s.sample_rate.number().is_some_and(|rate| rate > 0.0))
        .collect();
    let subtitles: Vec<&Stream> = streams
        .iter()
        .filter(|s| s.codec_type.is("subtitle"))
        .collect();

    let format_names = format.format_name.text();
    let demuxer = format_names
        .as_deref()
        .and_then(|names| names.split(',').next())
        .map(str::to_owned);

    let kind = match (pictures.as_slice(), audios.is_empty()) {
        ([], true) => {
            return Err(ProbeError::Failed(
                "no decodable audio or video stream".into(),
            ));
        }
        ([], false) => MediaKind::Audio,
        ([only], true) if looks_like_image(only, format, demuxer.as_deref()) => MediaKind::Image,
        _ => MediaKind::Video,
    };

    let mut video_streams: Vec<VideoStream> = pictures.iter().map(|s| video_info(s)).collect();
    if kind == MediaKind::Image {
        for stream in &mut video_streams {
            stream.fps = None;
            stream.avg_fps = None;
            stream.duration = None;
            stream.bitrate = None;
        }
    }
    let audio_streams: Vec<AudioStream> = audios.iter().map(|s| audio_info(s)).collect();
    let subtitle_streams = subtitles.iter().map(|s| subtitle_info(s)).collect();

    let duration_secs = match kind {
        MediaKind::Image => None,
        _ => file_duration(format, &video_streams, &audio_streams),
    };
    let file_size = format.size.text();
    let bitrate = match kind {
        MediaKind::Image => None,
        _ => file_bitrate(format, streams, file_size.as_deref(), duration_secs),
    };
    let main_picture = video_streams.first();
    let file = FileFacts {
        format_name: format_names,
        duration: duration_secs.map(|secs| match format.duration.text() {
            Some(given) if format.duration.number().is_some() => given,
            _ => format!("{secs:.6}"),
        }),
        bitrate,
        width: main_picture.and_then(|s| s.width.clone()),
        height: main_picture.and_then(|s| s.height.clone()),
        file_size: file_size.map(Whole::from_text),
    };

    let picture_stream = pictures
        .first()
        .copied()
        .or_else(|| covers.into_iter().next())
        .and_then(|s| s.index.index());

    Ok(Probed {
        result: ProbeResult {
            v: Version,
            media_type: kind,
            file,
            video_streams,
            audio_streams,
            subtitle_streams,
        },
        demuxer,
        duration_secs,
        picture_stream,
    })
}

fn usable_picture(stream: &Stream) -> bool {
    // ffmpeg renders text files as "ANSI art" video (`tty` demuxer); that is not media.
    let text_art = |codec: &str| matches!(codec, "ansi" | "bintext" | "xbin" | "idf");
    stream
        .codec_name
        .text()
        .is_some_and(|codec| !text_art(&codec))
        && stream.width.number().is_some_and(|w| w > 0.0)
        && stream.height.number().is_some_and(|h| h > 0.0)
}

fn looks_like_image(stream: &Stream, format: &Format, demuxer: Option<&str>) -> bool {
    if demuxer.is_some_and(is_image_demuxer) {
        return true;
    }
    let image_codec = stream.codec_name.text().is_some_and(|c| is_image_codec(&c));
    let few_frames = stream.nb_frames.number().is_none_or(|n| n <= 1.0);
    let no_duration = format.duration.number().is_none() && stream_duration(stream).is_none();
    image_codec && few_frames && no_duration
}

fn file_duration(format: &Format, videos: &[VideoStream], audios: &[AudioStream]) -> Option<f64> {
    format.duration.number().filter(|d| *d > 0.0).or_else(|| {
        videos
            .iter()
            .filter_map(|s| s.duration.as_deref())
            .chain(audios.iter().filter_map(|s| s.duration.as_deref()))
            .filter_map(|d| d.parse::<f64>().ok())
            .filter(|d| d.is_finite() && *d > 0.0)
            .reduce(f64::max)
    })
}

fn file_bitrate(
    format: &Format,
    streams: &[Stream],
    size: Option<&str>,
    duration: Option<f64>,
) -> Option<String> {
    let bits_per_sec = format
        .bit_rate
        .number()
        .filter(|b| *b > 0.0)
        .or_else(|| {
            let rates: Vec<f64> = streams
                .iter()
                .filter_map(|s| s.bit_rate.number())
                .filter(|b| *b > 0.0)
                .collect();
            (!rates.is_empty()).then(|| rates.iter().sum())
        })
        .or_else(|| {
            let bytes = size?.parse::<f64>().ok()?;
            let secs = duration.filter(|d| *d > 0.0)?;
            Some(bytes * 8.0 / secs)
        })?;
    Some(decimal(bits_per_sec / 1000.0, 2))
}

pub(super) fn video_info(stream: &Stream) -> VideoStream {
    VideoStream {
        index: whole(&stream.index),
        codec_name: stream.codec_name.text(),
        codec_long_name: stream.codec_long_name.text(),
        profile: known_profile(&stream.profile),
        codec_time_base: ratio_text(&stream.codec_time_base),
        codec_tag_string: stream.codec_tag_string.text(),
        codec_tag: stream.codec_tag.text(),
        width: positive(&stream.width),
        height: positive(&stream.height),
        has_b_frames: whole(&stream.has_b_frames),
        sar: ratio_text(&stream.sample_aspect_ratio),
        dar: ratio_text(&stream.display_aspect_ratio),
        pix_fmt: stream.pix_fmt.text(),
        level: stream
            .level
            .text()
            .filter(|l| l != "-99")
            .map(Whole::from_text),
        fps: rate(&stream.r_frame_rate),
        avg_fps: rate(&stream.avg_frame_rate),
        timebase: ratio_text(&stream.time_base),
        start_time: stream.start_time.text(),
        duration: stream_duration(stream),
        bitrate: stream_bitrate(stream),
        frames: whole(&stream.nb_frames),
        lang: stream.tag("language"),
        rotate: rotation(stream).map(Whole::from_text),
    }
}

fn audio_info(stream: &Stream) -> AudioStream {
    AudioStream {
        index: whole(&stream.index),
        codec_name: stream.codec_name.text(),
        codec_long_name: stream.codec_long_name.text(),
        codec_time_base: ratio_text(&stream.codec_time_base),
        codec_tag_string: stream.codec_tag_string.text(),
        codec_tag: stream.codec_tag.text(),
        profile: known_profile(&stream.profile),
        sample_fmt: stream.sample_fmt.text(),
        sample_rate: positive(&stream.sample_rate),
        channels: positive(&stream.channels),
        channel_layout: stream.channel_layout.text(),
        timebase: ratio_text(&stream.time_base),
        start_time: stream.start_time.text(),
        duration: stream_duration(stream),
        bitrate: stream_bitrate(stream),
        fps: rate(&stream.r_frame_rate),
        frames: whole(&stream.nb_frames),
        lang: stream.tag("language"),
    }
}

fn subtitle_info(stream: &Stream) -> SubtitleStream {
    SubtitleStream {
        index: whole(&stream.index),
        codec_name: stream.codec_name.text(),
        codec_long_name: stream.codec_long_name.text(),
        codec_time_base: ratio_text(&stream.codec_time_base),
        codec_tag_string: stream.codec_tag_string.text(),
        codec_tag: stream.codec_tag.text(),
        timebase: ratio_text(&stream.time_base),
        start_time: stream.start_time.text(),
        duration: stream_duration(stream),
        lang: stream.tag("language"),
    }
}

// ---------------------------------------------------------------------------------------
// Field helpers

/// `profile`, unless ffprobe says `unknown`.
fn known_profile(field: &Field) -> Option<String> {
    field.text().filter(|p| !p.eq_ignore_ascii_case("unknown"))
}

fn whole(field: &Field) -> Option<Whole> {
    field.text().map(Whole::from_text)
}

fn positive(field: &Field) -> Option<Whole> {
    field.number().filter(|n| *n > 0.0)?;
    whole(field)
}

/// A ratio such as `1:1` or `1/25`, left out when it has a zero part (`0:1`, `0/0`).
fn ratio_text(field: &Field) -> Option<String> {
    let value = field.text()?;
    let zero_part = value
        .split([':', '/'])
        .any(|part| part.trim().parse::<f64>().is_ok_and(|n| n == 0.0));
    (!zero_part).then_some(value)
}

/// `"30000/1001"` → `29.97002997…`; `"0/0"` → None.
pub(super) fn parse_rational(value: &str) -> Option<f64> {
    let result = match value.split_once('/') {
        Some((num, den)) => {
            let den: f64 = den.trim().parse().ok()?;
            if den == 0.0 {
                return None;
            }
            num.trim().parse::<f64>().ok()? / den
        }
        None => value.trim().parse().ok()?,
    };
    (result.is_finite() && result > 0.0).then_some(result)
}

/// A frame rate field as a decimal with at most 3 places.
fn rate(field: &Field) -> Option<String> {
    parse_rational(&field.text()?).map(|fps| decimal(fps, 3))
}

/// `value` with at most `places` decimals and no trailing zeros: `121.784` → `121.78`.
pub(super) fn decimal(value: f64, places: usize) -> String {
    let fixed = format!("{value:.places$}");
    let trimmed = if fixed.contains('.') {
        fixed.trim_end_matches('0').trim_end_matches('.')
    } else {
        &fixed
    };
    if trimmed == "-0" {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn stream_bitrate(stream: &Stream) -> Option<String> {
    stream
        .bit_rate
        .number()
        .filter(|b| *b > 0.0)
        .map(|b| decimal(b / 1000.0, 2))
}

/// The stream's `duration`, else its Matroska `DURATION` tag (`00:00:03.023000000`).
fn stream_duration(stream: &Stream) -> Option<String> {
    if stream.duration.number().is_some_and(|d| d >= 0.0) {
        return stream.duration.text();
    }
    let secs = parse_clock(&stream.tag("duration")?)?;
    Some(format!("{secs:.6}"))
}

/// `HH:MM:SS.fraction` → seconds.
pub(super) fn parse_clock(value: &str) -> Option<f64> {
    let mut parts = value.trim().split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let hours: f64 = h.parse().ok()?;
    let minutes: f64 = m.parse().ok()?;
    let seconds: f64 = s.parse().ok()?;
    let total = hours * 3600.0 + minutes * 60.0 + seconds;
    (total.is_finite() && total >= 0.0).then_some(total)
}

/// Clockwise rotation in degrees, from the `rotate` tag or the display matrix.
pub(super) fn rotation(stream: &Stream) -> Option<String> {
    if let Some(degrees) = stream
        .tag("rotate")
        .and_then(|r| r.trim().parse::<f64>().ok())
    {
        return Some(normalize_degrees(degrees));
    }
    stream.side_data_list.iter().find_map(|item| {
        let matrix = item.displaymatrix.text();
        if let Some(degrees) = matrix.as_deref().and_then(matrix_rotation) {
            return Some(normalize_degrees(degrees));
        }
        // No matrix text: ffprobe's `rotation` is counterclockwise.
        item.rotation.number().map(|ccw| normalize_degrees(-ccw))
    })
}

fn normalize_degrees(degrees: f64) -> String {
    let whole = degrees.round().rem_euclid(360.0);
    decimal(whole, 0)
}

/// Parses ffprobe's display matrix dump (three rows `0000000i: a b c`) and returns the
/// clockwise rotation it applies when displaying.
fn matrix_rotation(dump: &str) -> Option<f64> {
    let values: Vec<f64> = dump
        .lines()
        .filter_map(|line| line.split_once(':'))
        .flat_map(|(_, row)| row.split_whitespace().map(str::parse::<f64>))
        .collect::<Result<_, _>>()
        .ok()?;
    if values.len() != 9 || (values[0] == 0.0 && values[1] == 0.0) {
        return None;
    }
    // libavutil's av_display_rotation_get is -atan2(m[1], m[0]) (counterclockwise); the
    // clockwise angle players apply, which the old `rotate` tag held, is its negation.
    // An iPhone portrait clip (m[1] = 1.0, m[3] = -1.0) gives 90.
    Some(values[1].atan2(values[0]).to_degrees())
}
