//! OSS objects on disk. Object bytes live where the rest of openice finds them,
//! `<data-dir>/buckets/<bucket>/<key>`; what OSS adds sits beside them under
//! `<data-dir>/oss/`:
//! - `meta/<bucket>/<key>`: a JSON sidecar (ETag, Content-Type, `x-oss-meta-*`, object type,
//!   size); files put by other means get one computed on first use;
//! - `tmp/`: bodies being received, renamed into place only when complete and fsynced;
//! - `uploads/<UploadId>/`: multipart uploads (`upload.json` plus one `<n>.<MD5HEX>` file
//!   per part), so an upload survives a restart between parts.

use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};

use axum::body::{Body, Bytes};
use futures_util::StreamExt;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;

use super::error::{OssCode, OssError};
use crate::media::storage::ObjectStorage;

/// Parts but the last must be at least this big (both SDKs' minimum).
const MIN_PART_SIZE: u64 = 100 * 1024;
const MAX_PART_NUMBER: u32 = 10_000;
/// Bodies are written in batches of about this many bytes (see [`Objects::receive`]).
const BATCH: usize = 1 << 20;

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
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    pub content_type: String,
    pub user_meta: Vec<(String, String)>,
}

pub struct Part {
    pub number: u32,
    pub etag: String,
    pub size: u64,
    pub modified: OffsetDateTime,
}

/// A listed object.
pub struct Entry {
    pub key: String,
    pub size: u64,
    pub modified: OffsetDateTime,
}

/// A body received into a temporary file.
pub struct Received {
    path: PathBuf,
    pub size: u64,
    pub md5: [u8; 16],
}

/// A body being written: its file, MD5 and size so far.
struct Sink {
    file: std::fs::File,
    hasher: Md5,
    size: u64,
}

impl Sink {
    /// Hashes and writes `chunks` (one `writev` per call, more only for short writes).
    fn write(&mut self, chunks: &[Bytes]) -> io::Result<()> {
        for c in chunks {
            self.hasher.update(c);
            self.size += c.len() as u64;
        }
        let mut slices: Vec<IoSlice> = chunks.iter().map(|c| IoSlice::new(c)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            let n = self.file.write_vectored(rest)?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut rest, n);
        }
        Ok(())
    }
}

pub struct Objects<'a> {
    storage: &'a ObjectStorage,
    oss_dir: PathBuf,
}

pub fn quoted_hex(md5: &[u8]) -> String {
    format!("\"{}\"", hex::encode_upper(md5))
}

fn modified(meta: &std::fs::Metadata) -> OffsetDateTime {
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

    fn upload_dir(&self, upload_id: &str) -> PathBuf {
        self.oss_dir.join("uploads").join(upload_id)
    }

    /// Streams `body` into a temporary file, fsynced once at the end; checks `Content-MD5`.
    /// Chunks are gathered (not copied) into batches of [`BATCH`] bytes; each batch is hashed
    /// and written with one `writev` off the runtime while the next one arrives, so a body
    /// costs one blocking hop per MiB instead of one per chunk, and at most two batches of
    /// memory.
    pub async fn receive(
        &self,
        body: Body,
        content_md5: Option<&str>,
    ) -> Result<Received, OssError> {
        let dir = self.oss_dir.join("tmp");
        tokio::fs::create_dir_all(&dir).await?;
        let path = dir.join(uuid::Uuid::new_v4().simple().to_string());
        let received = async {
            // Always the one write in progress (first: creating the file); awaited before
            // the next is started, so writes stay in order and overlap with receiving.
            let target = path.clone();
            let mut writing = tokio::task::spawn_blocking(move || {
                io::Result::Ok(Sink {
                    file: std::fs::File::create(target)?,
                    hasher: Md5::new(),
                    size: 0,
                })
            });
            let mut batch: Vec<Bytes> = Vec::new();
            let mut batched = 0;
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
                if batched >= BATCH || last {
                    let mut sink = writing.await.map_err(OssError::internal)??;
                    let full = std::mem::take(&mut batch);
                    batched = 0;
                    writing = tokio::task::spawn_blocking(move || {
                        sink.write(&full)?;
                        if last {
                            sink.file.sync_all()?;
                        }
                        io::Result::Ok(sink)
                    });
                }
                if last {
                    break;
                }
            }
            let sink = writing.await.map_err(OssError::internal)??;
            let md5: [u8; 16] = sink.hasher.finalize().into();
            if let Some(sent) = content_md5 {
                use base64::Engine;
                let sent = base64::engine::general_purpose::STANDARD
                    .decode(sent.trim())
                    .map_err(|_| OssError::new(OssCode::InvalidDigest))?;
                if sent != md5 {
                    return Err(OssError::new(OssCode::InvalidDigest));
                }
            }
            Ok(Received {
                path: path.clone(),
                size: sink.size,
                md5,
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

    /// Makes a received body the object, atomically: sidecar first, then the object's rename,
    /// so a reader sees the old object or the new one, never half of one.
    pub async fn commit(
        &self,
        received: Received,
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
            tokio::fs::rename(&received.path, &dest).await?;
            Ok(())
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&received.path).await;
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
            Some(m) => m,
            // Put by other means (`openice media put`, a job's output): describe it once.
            None => {
                let meta = ObjectMeta {
                    etag: quoted_hex(&md5_file(&path).await?),
                    content_type: content_type_for(key),
                    size: fs_meta.len(),
                    object_type: "Normal".into(),
                    user_meta: Vec::new(),
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
        let dir = self.oss_dir.join("tmp");
        tokio::fs::create_dir_all(&dir).await?;
        let path = dir.join(uuid::Uuid::new_v4().simple().to_string());
        let size = tokio::fs::copy(src, &path).await?;
        tokio::fs::File::open(&path).await?.sync_all().await?;
        Ok(Received {
            md5: md5_file(&path).await?,
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

    pub async fn initiate(&self, upload: &Upload) -> Result<String, OssError> {
        let id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
        let dir = self.upload_dir(&id);
        tokio::fs::create_dir_all(&dir).await?;
        write_atomic(
            &dir.join("upload.json"),
            &serde_json::to_vec(upload).map_err(OssError::internal)?,
        )
        .await?;
        Ok(id)
    }

    /// The upload by ID, only for the bucket and key it was started for.
    pub async fn upload(&self, id: &str, bucket: &str, key: &str) -> Result<Upload, OssError> {
        let missing = || OssError::new(OssCode::NoSuchUpload).with("UploadId", id);
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(missing());
        }
        let raw = tokio::fs::read(self.upload_dir(id).join("upload.json"))
            .await
            .map_err(|_| missing())?;
        let upload: Upload = serde_json::from_slice(&raw).map_err(OssError::internal)?;
        if upload.bucket != bucket || upload.key != key {
            return Err(missing());
        }
        Ok(upload)
    }

    /// Stores a part as `<n>.<MD5HEX>` (one rename), replacing an earlier upload of `n`.
    pub async fn put_part(
        &self,
        id: &str,
        number: u32,
        received: Received,
    ) -> Result<String, OssError> {
        if !(1..=MAX_PART_NUMBER).contains(&number) {
            self.discard(received).await;
            return Err(OssError::with_message(
                OssCode::InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive.",
            ));
        }
        let dir = self.upload_dir(id);
        let hex = hex::encode_upper(received.md5);
        let name = format!("{number}.{hex}");
        tokio::fs::rename(&received.path, dir.join(&name)).await?;
        for part in self.parts(id).await? {
            let old = format!("{}.{}", part.number, part.etag.trim_matches('"'));
            if part.number == number && old != name {
                let _ = tokio::fs::remove_file(dir.join(old)).await;
            }
        }
        Ok(format!("\"{hex}\""))
    }

    pub async fn parts(&self, id: &str) -> Result<Vec<Part>, OssError> {
        let mut out = Vec::new();
        let mut dir = tokio::fs::read_dir(self.upload_dir(id)).await?;
        while let Some(entry) = dir.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some((n, hex)) = name.split_once('.') else {
                continue;
            };
            let (Ok(number), true) = (n.parse::<u32>(), hex.len() == 32) else {
                continue;
            };
            let meta = entry.metadata().await?;
            out.push(Part {
                number,
                etag: format!("\"{hex}\""),
                size: meta.len(),
                modified: modified(&meta),
            });
        }
        out.sort_by_key(|p| p.number);
        Ok(out)
    }

    /// Joins the listed parts into the object; returns its multipart ETag.
    pub async fn complete(
        &self,
        id: &str,
        upload: &Upload,
        listed: &[(u32, String)],
    ) -> Result<String, OssError> {
        if listed.is_empty() {
            return Err(OssError::new(OssCode::MalformedXML));
        }
        if listed.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(OssError::new(OssCode::InvalidPartOrder));
        }
        let stored = self.parts(id).await?;
        let mut files = Vec::with_capacity(listed.len());
        let mut digests = Md5::new();
        for (i, (number, etag)) in listed.iter().enumerate() {
            let want = etag.trim().trim_matches('"').to_ascii_uppercase();
            let part = stored
                .iter()
                .find(|p| p.number == *number && p.etag.trim_matches('"') == want)
                .ok_or_else(|| {
                    OssError::new(OssCode::InvalidPart).with("PartNumber", number.to_string())
                })?;
            if i + 1 < listed.len() && part.size < MIN_PART_SIZE {
                return Err(
                    OssError::new(OssCode::EntityTooSmall).with("PartNumber", number.to_string())
                );
            }
            digests.update(hex::decode(&want).map_err(OssError::internal)?);
            files.push(self.upload_dir(id).join(format!("{number}.{want}")));
        }
        let tmp_dir = self.oss_dir.join("tmp");
        tokio::fs::create_dir_all(&tmp_dir).await?;
        let path = tmp_dir.join(uuid::Uuid::new_v4().simple().to_string());
        // std::io::copy between files uses copy_file_range on Linux (no bytes through us).
        let target = path.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut out = std::fs::File::create(&target)?;
            let mut size = 0;
            for f in &files {
                size += std::io::copy(&mut std::fs::File::open(f)?, &mut out)?;
            }
            out.sync_all()?;
            Ok::<_, io::Error>(size)
        })
        .await
        .map_err(io::Error::other)
        .and_then(|r| r);
        let size = match joined {
            Ok(size) => size,
            Err(e) => {
                let _ = tokio::fs::remove_file(&path).await;
                return Err(e.into());
            }
        };
        let etag = format!(
            "\"{}-{}\"",
            hex::encode_upper(digests.finalize()),
            listed.len()
        );
        let meta = ObjectMeta {
            etag: etag.clone(),
            content_type: upload.content_type.clone(),
            size,
            object_type: "Multipart".into(),
            user_meta: upload.user_meta.clone(),
        };
        let received = Received {
            path,
            size,
            md5: [0; 16],
        };
        self.commit(received, &upload.bucket, &upload.key, &meta)
            .await?;
        self.abort(id).await?;
        Ok(etag)
    }

    pub async fn abort(&self, id: &str) -> Result<(), OssError> {
        match tokio::fs::remove_dir_all(self.upload_dir(id)).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
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
async fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
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

async fn md5_file(path: &Path) -> io::Result<[u8; 16]> {
    use tokio::io::AsyncReadExt;
    let mut f = tokio::fs::File::open(path).await?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Ok(hasher.finalize().into());
        }
        hasher.update(&buf[..n]);
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
