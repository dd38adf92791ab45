//! OSS objects on disk. Object bytes live where the rest of openice finds them,
//! `<data-dir>/buckets/<bucket>/<key>`; what OSS adds sits beside them under
//! `<data-dir>/oss/`:
//! - `meta/<bucket>/<key>`: a JSON sidecar (ETag, Content-Type, `x-oss-meta-*`, object type,
//!   size); files put by other means get one computed on first use;
//! - `tmp/`: bodies being received, renamed into place only when complete and fsynced;
//! - `uploads/<UploadId>/`: multipart uploads (see `uploads`), kept across restarts.

use std::io::{self, IoSlice, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use futures_util::StreamExt;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;

use super::error::{OssCode, OssError};
use crate::media::storage::ObjectStorage;

/// Bodies are written in batches of about this many bytes (see [`stream_into`])...
const BATCH: usize = 1 << 20;
/// ... and up to this many batches of a body wait to be hashed and written.
const DEPTH: usize = 3;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// Quoted upper-hex MD5, or `"<HEX>-<parts>"` for multipart objects.
    pub etag: String,
    pub content_type: String,
    pub size: u64,
    /// `Normal` or `Multipart`.
    pub object_type: String,
    /// `x-oss-meta-*` headers, names lower-cased.
    pub user_meta: Vec<(String, String)>,
    /// CRC-64/XZ of the bytes (`x-oss-hash-crc64ecma`); absent in sidecars written before
    /// openice kept it, filled in on first use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc64: Option<u64>,
}

/// A listed object.
pub struct Entry {
    pub key: String,
    pub size: u64,
    pub modified: OffsetDateTime,
}

/// A body received into a temporary file.
pub struct Received {
    pub(super) path: PathBuf,
    pub size: u64,
    pub digests: Digests,
}

/// What a body is checked and named by: MD5 (the ETag) and CRC-64 (`x-oss-hash-crc64ecma`).
#[derive(Clone, Copy)]
pub struct Digests {
    pub md5: [u8; 16],
    pub crc64: u64,
}

/// Writes all of `chunks` with `writev` (one call unless the kernel takes less); returns how
/// many bytes that was.
fn write_chunks(file: &mut std::fs::File, chunks: &[Bytes]) -> io::Result<u64> {
    let mut slices: Vec<IoSlice> = chunks.iter().map(|c| IoSlice::new(c)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        let n = file.write_vectored(rest)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut rest, n);
    }
    Ok(chunks.iter().map(|c| c.len() as u64).sum())
}

pub struct Objects<'a> {
    pub(super) storage: &'a ObjectStorage,
    pub(super) oss_dir: PathBuf,
}

pub fn quoted_hex(md5: &[u8]) -> String {
    format!("\"{}\"", hex::encode_upper(md5))
}

pub(super) fn modified(meta: &std::fs::Metadata) -> OffsetDateTime {
    meta.modified()
        .map(OffsetDateTime::from)
        .unwrap_or_else(|_| OffsetDateTime::now_utc())
}

impl<'a> Objects<'a> {
    pub fn new(storage: &'a ObjectStorage) -> Self {
        Objects {
            oss_dir: storage.data_dir().join("oss"),
            storage,
        }
    }

    fn meta_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.oss_dir.join("meta").join(bucket).join(key)
    }

    /// A fresh path under `oss/tmp/` for a body on its way to becoming an object.
    pub(super) async fn temp_path(&self) -> io::Result<PathBuf> {
        let dir = self.oss_dir.join("tmp");
        tokio::fs::create_dir_all(&dir).await?;
        Ok(dir.join(uuid::Uuid::new_v4().simple().to_string()))
    }

    /// Streams `body` into a temporary file (see [`stream_into`]); checks `Content-MD5`.
    pub async fn receive(
        &self,
        body: Body,
        content_md5: Option<&str>,
    ) -> Result<Received, OssError> {
        let path = self.temp_path().await?;
        let received = async {
            let target = path.clone();
            let file = tokio::task::spawn_blocking(move || std::fs::File::create(target))
                .await
                .map_err(OssError::internal)??;
            let (size, digests) = stream_into(file, None, body, content_md5).await?;
            Ok(Received {
                path: path.clone(),
                size,
                digests,
            })
        }
        .await;
        if received.is_err() {
            let _ = tokio::fs::remove_file(&path).await;
        }
        received
    }

    /// Removes bodies a crashed server left half-received (older than a day, so that other
    /// servers sharing the data dir keep the uploads they are receiving).
    pub async fn sweep_temp(&self) -> io::Result<u64> {
        let mut removed = 0;
        let mut dir = match tokio::fs::read_dir(self.oss_dir.join("tmp")).await {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        while let Some(entry) = dir.next_entry().await? {
            let age = entry
                .metadata()
                .await?
                .modified()?
                .elapsed()
                .unwrap_or_default();
            if age > std::time::Duration::from_secs(86_400) {
                tokio::fs::remove_file(entry.path()).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Drops a received body that will not be stored.
    pub async fn discard(&self, received: Received) {
        let _ = tokio::fs::remove_file(&received.path).await;
    }

    /// Makes the fsynced file at `temp` (a received body, or an assembled multipart object)
    /// the object, atomically: sidecar first, then the object's rename, so a reader sees the
    /// old object or the new one, never half of one.
    pub async fn commit(
        &self,
        temp: PathBuf,
        bucket: &str,
        key: &str,
        meta: &ObjectMeta,
    ) -> Result<(), OssError> {
        let dest = self.storage.path(bucket, key);
        let result = async {
            write_atomic(
                &self.meta_path(bucket, key),
                &serde_json::to_vec(meta).map_err(OssError::internal)?,
            )
            .await?;
            create_parent(&dest).await?;
            tokio::fs::rename(&temp, &dest).await?;
            Ok(())
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&temp).await;
        }
        result.map_err(|e: OssError| match e.code {
            OssCode::InternalError if dest_collides(&dest) => OssError::with_message(
                OssCode::InvalidObjectName,
                format!(
                    "The key \"{key}\" collides with another object's path (objects are files: \"a\" and \"a/b\" cannot both exist)."
                ),
            ),
            _ => e,
        })
    }

    /// The object's file, size and metadata; `NoSuchKey` when absent.
    pub async fn head(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(PathBuf, ObjectMeta, OffsetDateTime), OssError> {
        let no_such_key = || OssError::new(OssCode::NoSuchKey).with("Key", key);
        let path = self
            .storage
            .existing(bucket, key)
            .map_err(|_| no_such_key())?;
        let fs_meta = tokio::fs::metadata(&path)
            .await
            .map_err(|_| no_such_key())?;
        let stored: Option<ObjectMeta> = tokio::fs::read(self.meta_path(bucket, key))
            .await
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(|m: &ObjectMeta| m.size == fs_meta.len());
        let meta = match stored {
            Some(m) if m.crc64.is_some() => m,
            // Described before openice kept CRCs: add it once.
            Some(mut meta) => {
                meta.crc64 = Some(digest_file(&path).await?.crc64);
                write_atomic(
                    &self.meta_path(bucket, key),
                    &serde_json::to_vec(&meta).map_err(OssError::internal)?,
                )
                .await?;
                meta
            }
            // Put by other means (`openice media put`, a job's output): describe it once.
            None => {
                let digests = digest_file(&path).await?;
                let meta = ObjectMeta {
                    etag: quoted_hex(&digests.md5),
                    content_type: content_type_for(key),
                    size: fs_meta.len(),
                    object_type: "Normal".into(),
                    user_meta: Vec::new(),
                    crc64: Some(digests.crc64),
                };
                write_atomic(
                    &self.meta_path(bucket, key),
                    &serde_json::to_vec(&meta).map_err(OssError::internal)?,
                )
                .await?;
                meta
            }
        };
        Ok((path, meta, modified(&fs_meta)))
    }

    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), OssError> {
        self.storage.delete(bucket, key).await?;
        match tokio::fs::remove_file(self.meta_path(bucket, key)).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Copies an object to a new temp file to be committed under another key.
    pub async fn copy_to_temp(&self, src: &Path) -> Result<Received, OssError> {
        let path = self.temp_path().await?;
        let size = tokio::fs::copy(src, &path).await?;
        tokio::fs::File::open(&path).await?.sync_all().await?;
        Ok(Received {
            digests: digest_file(&path).await?,
            path,
            size,
        })
    }

    /// Every object of the bucket, sorted by key (byte order, as OSS lists).
    pub async fn list(&self, bucket: &str) -> Result<Vec<Entry>, OssError> {
        let root = self.storage.path(bucket, "");
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            walk(&root, "", &mut out)?;
            out.sort_by(|a, b| a.key.cmp(&b.key));
            Ok::<_, io::Error>(out)
        })
        .await
        .map_err(OssError::internal)?
        .map_err(OssError::from)
    }
}

/// Streams `body` into `file` from its current position, fsynced once at the end, and returns
/// the body's size and digests, its MD5 checked against `Content-MD5` when sent. With
/// `exact`, the body must be exactly that long and nothing past it is written (a multipart
/// region).
///
/// Chunks are gathered (not copied) into batches of [`BATCH`] bytes, and each batch goes to
/// two blocking threads at once: one hashes (MD5 and CRC-64), one writes with `writev`. MD5
/// (~750 MiB/s on one core; CRC-64 is several times faster) is the costliest step, so it must
/// not wait for the disk, nor the disk for it; up to [`DEPTH`] batches queue for each, so
/// neither stalls the socket while the other catches up. At most `DEPTH + 1` batches per
/// body are held in memory.
pub(super) async fn stream_into(
    mut file: std::fs::File,
    exact: Option<u64>,
    body: Body,
    content_md5: Option<&str>,
) -> Result<(u64, Digests), OssError> {
    use tokio::sync::mpsc;
    let wrong_length = || {
        OssError::with_message(
            OssCode::InvalidArgument,
            "The request body's length differs from its Content-Length.",
        )
    };
    let (to_hash, mut hash_queue) = mpsc::channel::<Arc<[Bytes]>>(DEPTH);
    let (to_write, mut write_queue) = mpsc::channel::<Arc<[Bytes]>>(DEPTH);
    let hashing = tokio::task::spawn_blocking(move || {
        let (mut md5, mut crc) = (Md5::new(), crc64fast::Digest::new());
        while let Some(batch) = hash_queue.blocking_recv() {
            for c in batch.iter() {
                md5.update(c);
                crc.write(c);
            }
        }
        Digests {
            md5: md5.finalize().into(),
            crc64: crc.sum64(),
        }
    });
    let writing = tokio::task::spawn_blocking(move || {
        let mut at = file.stream_position()?;
        while let Some(batch) = write_queue.blocking_recv() {
            let len = write_chunks(&mut file, &batch)?;
            // Start writing the batch to disk now, while the rest arrives; else the closing
            // fsync finds the whole body still in memory and the client waits for all of it
            // (~2.5 s per GiB on a 400 MiB/s disk). DONTNEED starts writeback of dirty pages
            // and drops none of them; failing, it is only a hint.
            let advice = rustix::fs::Advice::DontNeed;
            let _ = rustix::fs::fadvise(&file, at, std::num::NonZeroU64::new(len), advice);
            at += len;
        }
        file.sync_all()
    });
    let received = async {
        let mut batch: Vec<Bytes> = Vec::new();
        let mut batched = 0;
        let mut size = 0u64;
        let mut stream = body.into_data_stream();
        loop {
            let chunk = stream.next().await.transpose().map_err(|e| {
                OssError::with_message(
                    OssCode::InvalidArgument,
                    format!("The request body could not be read: {e}"),
                )
            })?;
            let last = chunk.is_none();
            if let Some(chunk) = chunk {
                batched += chunk.len();
                batch.push(chunk);
            }
            if exact.is_some_and(|n| size + batched as u64 > n) {
                return Err(wrong_length());
            }
            if batched >= BATCH || (last && batched > 0) {
                size += batched as u64;
                batched = 0;
                let full: Arc<[Bytes]> = std::mem::take(&mut batch).into();
                // A queue closes only when its thread stopped on an error, reported below.
                if to_hash.send(full.clone()).await.is_err() || to_write.send(full).await.is_err() {
                    break;
                }
            }
            if last {
                break;
            }
        }
        Ok(size)
    }
    .await;
    drop((to_hash, to_write));
    let written = writing.await.map_err(OssError::internal)?;
    let digests = hashing.await.map_err(OssError::internal)?;
    let size = received?;
    written?;
    if exact.is_some_and(|n| size != n) {
        return Err(wrong_length());
    }
    if let Some(sent) = content_md5 {
        use base64::Engine;
        let sent = base64::engine::general_purpose::STANDARD
            .decode(sent.trim())
            .map_err(|_| OssError::new(OssCode::InvalidDigest))?;
        if sent != digests.md5 {
            return Err(OssError::new(OssCode::InvalidDigest));
        }
    }
    Ok((size, digests))
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<Entry>) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        // `ObjectStorage::put_file`'s temporaries are not objects yet.
        if name.starts_with(".openice-upload-") {
            continue;
        }
        let kind = entry.file_type()?;
        let key = format!("{prefix}{name}");
        if kind.is_dir() {
            walk(&entry.path(), &format!("{key}/"), out)?;
        } else if kind.is_file() {
            let meta = entry.metadata()?;
            out.push(Entry {
                key,
                size: meta.len(),
                modified: modified(&meta),
            });
        }
    }
    Ok(())
}

/// Whether `dest` is a folder, or one of its parents is a file: the key cannot be a file.
fn dest_collides(dest: &Path) -> bool {
    dest.is_dir() || dest.ancestors().skip(1).any(Path::is_file)
}

async fn create_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) => tokio::fs::create_dir_all(parent).await,
        None => Ok(()),
    }
}

/// Temp file beside `path`, fsynced, renamed over it.
pub(super) async fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    create_parent(path).await?;
    let tmp = path.with_file_name(format!(".openice-meta-{}", uuid::Uuid::new_v4().simple()));
    let written = async {
        let mut f = tokio::fs::File::create(&tmp).await?;
        f.write_all(bytes).await?;
        f.sync_all().await?;
        tokio::fs::rename(&tmp, path).await
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    written
}

async fn digest_file(path: &Path) -> io::Result<Digests> {
    use tokio::io::AsyncReadExt;
    let mut f = tokio::fs::File::open(path).await?;
    let (mut md5, mut crc) = (Md5::new(), crc64fast::Digest::new());
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Ok(Digests {
                md5: md5.finalize().into(),
                crc64: crc.sum64(),
            });
        }
        md5.update(&buf[..n]);
        crc.write(&buf[..n]);
    }
}

/// OSS guesses Content-Type from the key's extension when the client sends none.
pub fn content_type_for(key: &str) -> String {
    let ext = key.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("mp4") => "video/mp4",
        Some("mov") => "video/quicktime",
        Some("webm") => "video/webm",
        Some("mkv") => "video/x-matroska",
        Some("ts") => "video/mp2t",
        Some("m3u8") => "application/x-mpegurl",
        Some("mp3") => "audio/mpeg",
        Some("m4a") => "audio/mp4",
        Some("wav") => "audio/wav",
        Some("aac") => "audio/aac",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("srt") => "application/x-subrip",
        Some("txt") => "text/plain",
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        _ => "application/octet-stream",
    }
    .to_string()
}
