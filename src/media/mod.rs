//! Media files: local object storage and probing with ffprobe/ffmpeg.

pub mod probe;
pub mod storage;
