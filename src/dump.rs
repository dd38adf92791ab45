//! `openice dump` / `openice restore`: a store-neutral archive of a whole store (every table
//! of `store::export::TABLES`, read in one snapshot) and of the bucket files of its data dir.
//!
//! The archive is a tar file: `tables/<table>.json` (one [`TableRows`] each), then
//! `buckets/<bucket>/<key>` (the object files) and `oss/meta/<bucket>/<key>` (the OSS API's
//! per-object metadata: ETag, content type, `x-oss-meta-*`), then `manifest.json` last, holding the size
//! and SHA-256 of every other entry. A restore reads the whole archive and checks it against
//! the manifest before it writes anything, so a truncated archive (no manifest) or a
//! tampered one (a digest that differs, an entry missing or extra) is refused untouched.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::media::{check_bucket, check_key};
use crate::domain::{format_time, now_micros};
use crate::store::StoreError;
use crate::store::export::{Export, TABLES, TableRows};

const FORMAT: &str = "openice-dump";
const VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";
/// Files being written into a bucket (`ObjectStorage::put_file` and uploads) carry this
/// prefix until they are renamed into place: not objects yet.
const TEMP_PREFIX: &str = ".openice-upload-";
/// The data-dir folders a dump carries, each holding `<bucket>/<key>` files; archive entries
/// keep their data-dir-relative paths.
const FILE_TREES: &[&str] = &["buckets/", "oss/meta/"];

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error("the archive is not a complete, unaltered openice dump: {0}")]
    Invalid(String),
    #[error("{0}")]
    Refused(String),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> DumpError {
    let what = what.into();
    move |source| DumpError::Io { what, source }
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    created: String,
    /// Row counts per table, for the reader's information.
    tables: BTreeMap<String, usize>,
    /// Every entry but the manifest: path → size and SHA-256.
    entries: BTreeMap<String, EntryDigest>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct EntryDigest {
    size: u64,
    sha256: String,
}

/// What a dump or restore moved.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Summary {
    pub tables: BTreeMap<String, usize>,
    pub files: usize,
    pub file_bytes: u64,
}

/// The files of [`FILE_TREES`] under `data_dir`, as (data-dir-relative path, file), sorted.
/// Symlinks and in-flight temp files are not objects.
fn bucket_files(data_dir: &Path) -> Result<Vec<(String, PathBuf)>, DumpError> {
    let mut out = Vec::new();
    let mut pending: Vec<PathBuf> = FILE_TREES.iter().map(|t| data_dir.join(t)).collect();
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(format!("cannot read {}", dir.display()))(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err(format!("cannot read {}", dir.display())))?;
            let kind = entry
                .file_type()
                .map_err(io_err(format!("cannot read {}", entry.path().display())))?;
            let path = entry.path();
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file()
                && !entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX)
            {
                let rel = path
                    .strip_prefix(data_dir)
                    .ok()
                    .and_then(Path::to_str)
                    .ok_or_else(|| {
                        DumpError::Refused(format!(
                            "{} has a name that is not UTF-8",
                            path.display()
                        ))
                    })?
                    .to_string();
                out.push((rel, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The `<bucket>/<key>` of a file entry, when `path` is one with a valid bucket and key.
fn object_of(path: &str) -> Option<Result<(), String>> {
    let object = FILE_TREES.iter().find_map(|t| path.strip_prefix(t))?;
    let (bucket, key) = object.split_once('/').unwrap_or((object, ""));
    Some(check_bucket(bucket).and_then(|()| check_key(key)))
}

/// Counts bytes and hashes what passes through.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    fn digest(self) -> EntryDigest {
        EntryDigest {
            size: self.size,
            sha256: hex::encode(self.hasher.finalize()),
        }
    }
}

fn append(
    tar: &mut tar::Builder<impl Write>,
    path: &str,
    size: u64,
    data: impl Read,
) -> Result<EntryDigest, DumpError> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(0);
    let mut hashing = Hashing::new(data);
    tar.append_data(&mut header, path, &mut hashing)
        .map_err(io_err(format!("cannot write {path} into the archive")))?;
    Ok(hashing.digest())
}

/// Writes the archive of `store` and `data_dir`'s buckets to `out` (through a temp file
/// renamed into place, so `out` is never half written). `progress(done, total)` hears the
/// bucket bytes copied.
pub async fn dump(
    store: &dyn Export,
    data_dir: &Path,
    out: &Path,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Summary, DumpError> {
    let tables = store.export().await?;
    let files = bucket_files(data_dir)?;
    let out = out.to_path_buf();
    let tmp = out.with_extension(format!("partial-{}", uuid::Uuid::new_v4().simple()));
    // Plain file I/O: off the async workers' hands without moving `progress` to a thread.
    let written = tokio::task::block_in_place(|| -> Result<Summary, DumpError> {
        let file = std::fs::File::create(&tmp)
            .map_err(io_err(format!("cannot create {}", tmp.display())))?;
        let mut tar = tar::Builder::new(io::BufWriter::new(file));
        let mut entries = BTreeMap::new();
        let mut counts = BTreeMap::new();
        for table in &tables {
            let json = serde_json::to_vec(table).map_err(|e| DumpError::Refused(e.to_string()))?;
            let path = format!("tables/{}.json", table.name);
            entries.insert(
                path.clone(),
                append(&mut tar, &path, json.len() as u64, &json[..])?,
            );
            counts.insert(table.name.clone(), table.rows.len());
        }
        let total: u64 = files
            .iter()
            .filter_map(|(_, p)| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        let mut done = 0;
        for (rel, path) in &files {
            let what = format!("cannot read {}", path.display());
            let f = std::fs::File::open(path).map_err(io_err(&what))?;
            let size = f.metadata().map_err(io_err(&what))?.len();
            let entry = rel.clone();
            // A file that changes size while it is copied would be cut or padded by tar:
            // objects are replaced by rename, never rewritten in place, so this is a fault.
            let digest = append(&mut tar, &entry, size, f.take(size))?;
            if digest.size != size {
                return Err(DumpError::Refused(format!(
                    "{} shrank while it was copied",
                    path.display()
                )));
            }
            done += size;
            progress(done, total);
            entries.insert(entry, digest);
        }
        let manifest = Manifest {
            format: FORMAT.into(),
            version: VERSION,
            created: format_time(now_micros()),
            tables: counts.clone(),
            entries,
        };
        let json =
            serde_json::to_vec_pretty(&manifest).map_err(|e| DumpError::Refused(e.to_string()))?;
        append(&mut tar, MANIFEST, json.len() as u64, &json[..])?;
        let file = tar
            .into_inner()
            .and_then(|w| w.into_inner().map_err(io::IntoInnerError::into_error))
            .map_err(io_err(format!("cannot write {}", tmp.display())))?;
        file.sync_all()
            .map_err(io_err(format!("cannot write {}", tmp.display())))?;
        std::fs::rename(&tmp, &out).map_err(io_err(format!("cannot write {}", out.display())))?;
        Ok(Summary {
            tables: counts,
            files: files.len(),
            file_bytes: total,
        })
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// An archive read and checked against its manifest: its tables, and where its files are.
struct Checked {
    tables: Vec<TableRows>,
    /// Data-dir-relative file path → size.
    files: BTreeMap<String, u64>,
}

/// Reads the whole archive once: every entry hashed and compared with the manifest, tables
/// parsed, paths checked. Nothing is written.
fn check(archive: &Path) -> Result<Checked, DumpError> {
    let file = std::fs::File::open(archive)
        .map_err(io_err(format!("cannot read {}", archive.display())))?;
    let mut tar = tar::Archive::new(io::BufReader::new(file));
    let invalid = |e: io::Error| DumpError::Invalid(e.to_string());
    let mut seen = BTreeMap::new();
    let mut tables = Vec::new();
    let mut files = BTreeMap::new();
    let mut manifest: Option<Manifest> = None;
    for entry in tar.entries().map_err(invalid)? {
        let mut entry = entry.map_err(invalid)?;
        if manifest.is_some() {
            return Err(DumpError::Invalid("entries after the manifest".into()));
        }
        let path = entry
            .path()
            .map_err(invalid)?
            .to_str()
            .ok_or_else(|| DumpError::Invalid("an entry name is not UTF-8".into()))?
            .to_string();
        let mut body = Vec::new();
        if path == MANIFEST {
            entry.read_to_end(&mut body).map_err(invalid)?;
            manifest = Some(
                serde_json::from_slice(&body)
                    .map_err(|e| DumpError::Invalid(format!("manifest: {e}")))?,
            );
            continue;
        }
        if let Some(name) = path
            .strip_prefix("tables/")
            .and_then(|p| p.strip_suffix(".json"))
        {
            if !TABLES.contains(&name) {
                return Err(DumpError::Invalid(format!("unknown table {name}")));
            }
            let mut hashing = Hashing::new(&mut entry);
            hashing.read_to_end(&mut body).map_err(invalid)?;
            seen.insert(path.clone(), hashing.digest());
            let table: TableRows = serde_json::from_slice(&body)
                .map_err(|e| DumpError::Invalid(format!("{path}: {e}")))?;
            if table.name != name {
                return Err(DumpError::Invalid(format!(
                    "{path} holds table {}",
                    table.name
                )));
            }
            tables.push(table);
        } else if let Some(valid) = object_of(&path) {
            valid.map_err(|e| DumpError::Invalid(format!("{path}: {e}")))?;
            let mut hashing = Hashing::new(&mut entry);
            io::copy(&mut hashing, &mut io::sink()).map_err(invalid)?;
            let digest = hashing.digest();
            files.insert(path.clone(), digest.size);
            seen.insert(path.clone(), digest);
        } else {
            return Err(DumpError::Invalid(format!("unexpected entry {path}")));
        }
    }
    let manifest = manifest
        .ok_or_else(|| DumpError::Invalid("no manifest (the archive is cut short)".into()))?;
    if manifest.format != FORMAT || manifest.version != VERSION {
        return Err(DumpError::Invalid(format!(
            "format {} version {}; this openice reads {FORMAT} version {VERSION}",
            manifest.format, manifest.version
        )));
    }
    if seen != manifest.entries {
        let differing = manifest
            .entries
            .keys()
            .chain(seen.keys())
            .find(|k| seen.get(*k) != manifest.entries.get(*k))
            .cloned()
            .unwrap_or_default();
        return Err(DumpError::Invalid(format!(
            "{differing} does not match the manifest"
        )));
    }
    Ok(Checked { tables, files })
}

/// Loads `archive` into an empty store and its bucket files into `data_dir`. The archive is
/// checked whole before anything is written; the store's rows go in one transaction.
pub async fn restore(
    archive: &Path,
    open_store: impl AsyncFnOnce() -> Result<Box<dyn Export>, StoreError>,
    data_dir: &Path,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Summary, DumpError> {
    let checked = tokio::task::block_in_place(|| check(archive))?;
    let store = open_store().await?;
    if !store.is_empty().await? {
        return Err(DumpError::Refused(
            "the target store already has accounts: restore loads into an empty store only \
             (a fresh --data-dir, or a new PostgreSQL database in --database-url)"
                .into(),
        ));
    }
    let clash = checked.files.keys().find(|rel| data_dir.join(rel).exists());
    if let Some(rel) = clash {
        return Err(DumpError::Refused(format!(
            "{} already exists; restore into a data dir without these bucket files",
            data_dir.join(rel).display()
        )));
    }
    let total: u64 = checked.files.values().sum();
    let file = std::fs::File::open(archive)
        .map_err(io_err(format!("cannot read {}", archive.display())))?;
    // Plain file I/O: off the async workers' hands without moving `progress` to a thread.
    let written = tokio::task::block_in_place(|| extract_files(file, data_dir, total, progress));
    let written = match written {
        Ok(w) => w,
        Err((e, partial)) => {
            remove_all(&partial);
            return Err(e);
        }
    };
    if let Err(e) = store.import(&checked.tables).await {
        remove_all(&written);
        return Err(e.into());
    }
    Ok(Summary {
        tables: checked
            .tables
            .iter()
            .map(|t| (t.name.clone(), t.rows.len()))
            .collect(),
        files: written.len(),
        file_bytes: total,
    })
}

fn remove_all(paths: &[PathBuf]) {
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
}

/// Writes the archive's files under `data_dir` (each through a temp file, fsynced and
/// renamed). On failure, returns the files already written so the caller can take them back.
fn extract_files(
    file: std::fs::File,
    data_dir: &Path,
    total: u64,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Vec<PathBuf>, (DumpError, Vec<PathBuf>)> {
    let mut written = Vec::new();
    let mut tar = tar::Archive::new(io::BufReader::new(file));
    let invalid = |e: io::Error| DumpError::Invalid(e.to_string());
    let entries = match tar.entries() {
        Ok(e) => e,
        Err(e) => return Err((invalid(e), written)),
    };
    let mut done = 0;
    for entry in entries {
        let step = (|| -> Result<Option<PathBuf>, DumpError> {
            let mut entry = entry.map_err(invalid)?;
            let path = entry
                .path()
                .map_err(invalid)?
                .to_string_lossy()
                .into_owned();
            if object_of(&path).is_none() {
                return Ok(None);
            }
            let dest = data_dir.join(&path);
            let parent = dest.parent().unwrap_or(data_dir).to_path_buf();
            std::fs::create_dir_all(&parent)
                .map_err(io_err(format!("cannot create {}", parent.display())))?;
            let tmp = parent.join(format!("{TEMP_PREFIX}{}", uuid::Uuid::new_v4().simple()));
            let what = format!("cannot write {}", dest.display());
            let mut out = std::fs::File::create(&tmp).map_err(io_err(&what))?;
            let copied = io::copy(&mut entry, &mut out)
                .and_then(|n| out.sync_all().map(|()| n))
                .and_then(|n| std::fs::rename(&tmp, &dest).map(|()| n));
            match copied {
                Ok(n) => {
                    done += n;
                    progress(done, total);
                    Ok(Some(dest))
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    Err(io_err(what)(e))
                }
            }
        })();
        match step {
            Ok(Some(dest)) => written.push(dest),
            Ok(None) => {}
            Err(e) => return Err((e, written)),
        }
    }
    Ok(written)
}
