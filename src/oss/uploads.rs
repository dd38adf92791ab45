//! Multipart uploads on disk, one folder each, `<data-dir>/oss/uploads/<UploadId>/`, so an
//! upload survives a restart between parts:
//! - `upload.json`: the bucket, key, Content-Type and `x-oss-meta-*` given at Initiate;
//! - `data`: the object being assembled. A part as long as the upload's part size
//!   (`part-size`, fixed by the first part long enough to be one) is written in place, at
//!   `(n - 1) × part size`, and recorded by an empty marker `<n>.<MD5HEX>.<CRC64>@<size>`. When the
//!   parts are 1…k of one size (what the SDKs send), CompleteMultipartUpload then copies in
//!   only the parts that are not in place (usually the shorter last one) instead of writing
//!   the whole object a second time;
//! - `<n>.claim`: region n of `data` has been written to, or is being. A region is written at
//!   most once, so a failed or repeated attempt can never overwrite a part recorded in place;
//! - `<n>.<MD5HEX>.<CRC64>`: a part kept as its own file: every part that cannot go in place (a
//!   retry, a part of another length, a body sent without Content-Length).
//!
//! (Parts stored before openice kept CRCs are named without `.<CRC64>`; an object completed
//! from one has no CRC until its first read computes it.)
//!
//! In-place writers hold a shared `flock` on `data` while they write and Complete an
//! exclusive one, so a part still being written never lands in a completed object; a `data`
//! with a second link (a Complete cut short after linking it as the object) is never
//! written again.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use axum::body::Body;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::crc64;
use super::error::{OssCode, OssError};
use super::objects::{ObjectMeta, Objects, modified, quoted_hex, stream_into, write_atomic};

/// Parts but the last must be at least this big (both SDKs' minimum).
const MIN_PART_SIZE: u64 = 100 * 1024;
const MAX_PART_NUMBER: u32 = 10_000;

#[derive(Debug, Serialize, Deserialize)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    pub content_type: String,
    pub user_meta: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct Part {
    pub number: u32,
    /// Quoted upper-hex MD5.
    pub etag: String,
    pub size: u64,
    pub modified: OffsetDateTime,
    /// CRC-64/XZ of its bytes.
    pub crc64: Option<u64>,
    /// Its entry in the upload's folder.
    name: String,
    /// Where it starts in `data`, when it was written in place.
    at: Option<u64>,
}

fn no_such_upload(id: &str) -> OssError {
    OssError::new(OssCode::NoSuchUpload).with("UploadId", id)
}

impl Objects<'_> {
    fn upload_dir(&self, upload_id: &str) -> PathBuf {
        self.oss_dir.join("uploads").join(upload_id)
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
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(no_such_upload(id));
        }
        let raw = tokio::fs::read(self.upload_dir(id).join("upload.json"))
            .await
            .map_err(|_| no_such_upload(id))?;
        let upload: Upload = serde_json::from_slice(&raw).map_err(OssError::internal)?;
        if upload.bucket != bucket || upload.key != key {
            return Err(no_such_upload(id));
        }
        Ok(upload)
    }

    /// Receives part `number` (`declared`: its Content-Length), in place when it can be, and
    /// makes it replace an earlier upload of the same number; returns its quoted ETag and
    /// its CRC-64.
    pub async fn receive_part(
        &self,
        id: &str,
        number: u32,
        declared: Option<u64>,
        body: Body,
        content_md5: Option<&str>,
    ) -> Result<(String, u64), OssError> {
        if !(1..=MAX_PART_NUMBER).contains(&number) {
            return Err(OssError::with_message(
                OssCode::InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive.",
            ));
        }
        let dir = self.upload_dir(id);
        let region = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || claim_region(&dir, number, declared))
                .await
                .map_err(OssError::internal)?
        };
        let region = region.map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => no_such_upload(id),
            _ => e.into(),
        })?;
        let (digests, name) = match region {
            Some((data, len)) => {
                let (size, digests) = stream_into(data, Some(len), body, content_md5).await?;
                let hex = hex::encode_upper(digests.md5);
                let name = format!("{number}.{hex}.{}@{size}", digests.crc64);
                tokio::fs::write(dir.join(&name), b"")
                    .await
                    .map_err(|e| match e.kind() {
                        io::ErrorKind::NotFound => no_such_upload(id),
                        _ => e.into(),
                    })?;
                (digests, name)
            }
            None => {
                let received = self.receive(body, content_md5).await?;
                let digests = received.digests;
                let hex = hex::encode_upper(digests.md5);
                let name = format!("{number}.{hex}.{}", digests.crc64);
                if let Err(e) = tokio::fs::rename(&received.path, dir.join(&name)).await {
                    self.discard(received).await;
                    return Err(e.into());
                }
                (digests, name)
            }
        };
        for part in self.parts(id).await? {
            if part.number == number && part.name != name {
                let _ = tokio::fs::remove_file(dir.join(&part.name)).await;
            }
        }
        Ok((quoted_hex(&digests.md5), digests.crc64))
    }

    pub async fn parts(&self, id: &str) -> Result<Vec<Part>, OssError> {
        let dir = self.upload_dir(id);
        tokio::task::spawn_blocking(move || list_parts(&dir))
            .await
            .map_err(OssError::internal)?
            .map_err(OssError::from)
    }

    /// Joins the listed parts into the object; returns its multipart ETag and CRC-64 (known
    /// when every part's is).
    pub async fn complete(
        &self,
        id: &str,
        upload: &Upload,
        listed: &[(u32, String)],
    ) -> Result<(String, Option<u64>), OssError> {
        if listed.is_empty() {
            return Err(OssError::new(OssCode::MalformedXML));
        }
        if listed.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(OssError::new(OssCode::InvalidPartOrder));
        }
        let dir = self.upload_dir(id);
        // Waits out parts still being written in place and keeps later ones out: they look
        // for the upload after taking their shared lock, and it is gone when this one ends.
        let lock = {
            let data = dir.join("data");
            tokio::task::spawn_blocking(move || lock_exclusive(&data))
                .await
                .map_err(OssError::internal)??
        };
        let stored = self.parts(id).await?;
        let mut chosen = Vec::with_capacity(listed.len());
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
            chosen.push(part.clone());
        }
        let crc64 = chosen.iter().try_fold(0, |crc, p| {
            p.crc64.map(|part| crc64::combine(crc, part, p.size))
        });
        let last = chosen.last().map_or(0, |p| p.number);
        // Regions past the last listed part are cut off the object: only when none of them
        // holds a part that a later Complete of this upload could still list.
        let tail_free = !stored.iter().any(|p| p.at.is_some() && p.number > last);
        let path = self.temp_path().await?;
        let target = path.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let data = lock.as_ref().filter(|_| tail_free);
            assemble(&dir, data, &chosen, &target).map(|size| (size, lock))
        })
        .await
        .map_err(io::Error::other)
        .and_then(|r| r);
        let (size, lock) = match joined {
            Ok(joined) => joined,
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
            crc64,
        };
        self.commit(path, &upload.bucket, &upload.key, &meta)
            .await?;
        self.abort(id).await?;
        drop(lock);
        Ok((etag, crc64))
    }

    pub async fn abort(&self, id: &str) -> Result<(), OssError> {
        match tokio::fs::remove_dir_all(self.upload_dir(id)).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// The upload's part size, fixed once by the first part that proposes one: written to a
/// temporary file and hard-linked into place, so it appears whole or not at all.
fn part_size(dir: &Path, propose: Option<u64>) -> io::Result<Option<u64>> {
    let path = dir.join("part-size");
    match std::fs::read_to_string(&path) {
        Ok(text) => return Ok(text.trim().parse().ok()),
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    let Some(len) = propose else {
        return Ok(None);
    };
    let tmp = dir.join(format!(".part-size-{}", uuid::Uuid::new_v4().simple()));
    let written = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(len.to_string().as_bytes())?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, &path)
    })();
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => Ok(Some(len)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => part_size(dir, None),
        Err(e) => Err(e),
    }
}

/// Claims part `number`'s region of `data` when the part can go in place: its length is
/// declared and is the upload's part size, and the region was never written. Returns `data`
/// positioned at the region, under a shared lock, and the region's length.
fn claim_region(dir: &Path, number: u32, declared: Option<u64>) -> io::Result<Option<(File, u64)>> {
    let Some(len) = declared.filter(|&n| n >= MIN_PART_SIZE) else {
        return Ok(None);
    };
    if part_size(dir, Some(len))? != Some(len) {
        return Ok(None);
    }
    let claim = dir.join(format!("{number}.claim"));
    match OpenOptions::new().write(true).create_new(true).open(claim) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut data = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join("data"))?;
    data.lock_shared()?;
    // Completed or aborted while this waited for the lock: nothing may be written now.
    if !dir.join("upload.json").exists() {
        return Err(io::ErrorKind::NotFound.into());
    }
    // Already linked as the object (a Complete cut short by a crash): never write into it.
    if !sole_link(&data)? {
        return Ok(None);
    }
    data.seek(SeekFrom::Start(u64::from(number - 1) * len))?;
    Ok(Some((data, len)))
}

/// `data` under an exclusive lock, once no in-place writer holds it; `None` when no part
/// was written in place.
fn lock_exclusive(data: &Path) -> io::Result<Option<File>> {
    match OpenOptions::new().write(true).open(data) {
        Ok(file) => {
            file.lock()?;
            Ok(Some(file))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether `data` is not (yet) also an object: a Complete cut short after linking it must
/// not write into the object it may have become.
fn sole_link(data: &File) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    Ok(data.metadata()?.nlink() == 1)
}

fn list_parts(dir: &Path) -> io::Result<Vec<Part>> {
    let part_size = part_size(dir, None)?;
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Some((n, rest)) = name.split_once('.') else {
            continue;
        };
        let Ok(number) = n.parse::<u32>() else {
            continue;
        };
        let (hashes, in_place) = match rest.split_once('@') {
            Some((hashes, size)) => (hashes, Some(size)),
            None => (rest, None),
        };
        let (hex, crc64) = match hashes.split_once('.') {
            Some((hex, crc)) => match crc.parse::<u64>() {
                Ok(crc) => (hex, Some(crc)),
                Err(_) => continue,
            },
            None => (hashes, None),
        };
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let meta = entry.metadata()?;
        let (size, at) = match (in_place.map(str::parse::<u64>), part_size) {
            (None, _) => (meta.len(), None),
            (Some(Ok(size)), Some(p)) => (size, Some(u64::from(number - 1) * p)),
            _ => continue,
        };
        out.push(Part {
            number,
            etag: format!("\"{hex}\""),
            size,
            modified: modified(&meta),
            crc64,
            at,
            name,
        });
    }
    out.sort_by_key(|p| p.number);
    Ok(out)
}

/// Builds the object at `target` from `parts`, in order, fsynced; returns its size. With
/// `data` (locked) and parts 1…k all of the part size but the last, the object is `data`
/// itself with the parts not in place copied into their regions; otherwise a new file.
fn assemble(dir: &Path, data: Option<&File>, parts: &[Part], target: &Path) -> io::Result<u64> {
    let size = parts.iter().map(|p| p.size).sum();
    let in_order = part_size(dir, None)?.filter(|&p| {
        parts.iter().enumerate().all(|(i, part)| {
            part.number as usize == i + 1 && (i + 1 == parts.len() || part.size == p)
        })
    });
    let in_place = parts.iter().any(|part| part.at.is_some());
    match (data, in_order) {
        (Some(mut data), Some(p)) if in_place && sole_link(data)? => {
            for (i, part) in parts.iter().enumerate() {
                if part.at.is_none() {
                    data.seek(SeekFrom::Start(i as u64 * p))?;
                    io::copy(&mut File::open(dir.join(&part.name))?, &mut data)?;
                }
            }
            data.set_len(size)?;
            data.sync_all()?;
            std::fs::hard_link(dir.join("data"), target)?;
        }
        _ => {
            // std::io::copy between files uses copy_file_range on Linux (no bytes through us).
            let mut out = File::create(target)?;
            for part in parts {
                match part.at {
                    None => io::copy(&mut File::open(dir.join(&part.name))?, &mut out)?,
                    Some(at) => {
                        let mut data = File::open(dir.join("data"))?;
                        data.seek(SeekFrom::Start(at))?;
                        io::copy(&mut data.take(part.size), &mut out)?
                    }
                };
            }
            out.sync_all()?;
        }
    }
    Ok(size)
}
