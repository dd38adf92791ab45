//! Local object storage: `<data-dir>/buckets/<bucket>/<key>`, and the signed download URLs
//! openice serves itself (`/oss/<bucket>/<key>?Expires=…&Signature=…`).

use std::io;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Everything but RFC 3986 unreserved characters is escaped in a path segment.
const URL_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub struct ObjectStorage {
    root: PathBuf,
    url_key: Vec<u8>,
}

impl ObjectStorage {
    /// `url_key` signs download URLs; servers sharing a store must share it.
    pub fn new(data_dir: &Path, url_key: &[u8]) -> Self {
        ObjectStorage {
            root: data_dir.join("buckets"),
            url_key: url_key.to_vec(),
        }
    }

    /// The data dir these buckets live in (the OSS API keeps its own state beside them).
    pub fn data_dir(&self) -> &Path {
        self.root.parent().unwrap_or(&self.root)
    }

    /// The file of an object whose bucket and key were already checked
    /// (`domain::media::check_bucket`/`check_key`).
    pub fn path(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.join(bucket).join(key)
    }

    /// The file of an existing object, refusing anything that resolves outside its bucket
    /// (a symlink planted in the data dir, say).
    pub fn existing(&self, bucket: &str, key: &str) -> io::Result<PathBuf> {
        let path = self.path(bucket, key);
        let real = path.canonicalize()?;
        let bucket_root = self.root.join(bucket).canonicalize()?;
        if !real.starts_with(&bucket_root) || !real.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the object resolves outside its bucket or is not a file",
            ));
        }
        Ok(real)
    }

    /// Copies `src` into the bucket atomically (temp file + fsync + rename), creating folders;
    /// `progress` hears the bytes copied so far.
    pub async fn put_file(
        &self,
        src: &Path,
        bucket: &str,
        key: &str,
        progress: &(dyn Fn(u64) + Sync),
    ) -> io::Result<u64> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dest = self.path(bucket, key);
        let parent = dest
            .parent()
            .ok_or_else(|| io::Error::other("object has no parent"))?;
        tokio::fs::create_dir_all(parent).await?;
        let mut input = tokio::fs::File::open(src).await?;
        let tmp = parent.join(format!(".openice-upload-{}", uuid::Uuid::new_v4().simple()));
        let copied = async {
            let mut output = tokio::fs::File::create(&tmp).await?;
            let mut buf = vec![0u8; 1 << 20];
            let mut size = 0u64;
            loop {
                let n = input.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                output.write_all(&buf[..n]).await?;
                size += n as u64;
                progress(size);
            }
            output.sync_all().await?;
            tokio::fs::rename(&tmp, &dest).await?;
            Ok(size)
        }
        .await;
        if copied.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        copied
    }

    pub async fn delete(&self, bucket: &str, key: &str) -> io::Result<()> {
        match self.existing(bucket, key) {
            Ok(path) => tokio::fs::remove_file(path).await,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn signature(&self, bucket: &str, key: &str, expires: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.url_key).expect("HMAC takes any key");
        mac.update(format!("{bucket}\n{key}\n{expires}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// `scheme://host/oss/<bucket>/<key>?Expires=<unix>&Signature=<hex>`.
    pub fn signed_url(&self, base: &str, bucket: &str, key: &str, expires: i64) -> String {
        let encoded: Vec<String> = key
            .split('/')
            .map(|seg| percent_encoding::utf8_percent_encode(seg, URL_SEGMENT).to_string())
            .collect();
        format!(
            "{base}/oss/{bucket}/{}?Expires={expires}&Signature={}",
            encoded.join("/"),
            self.signature(bucket, key, expires)
        )
    }

    /// Checks a download URL's signature and expiry (`now` in Unix seconds).
    pub fn verify(&self, bucket: &str, key: &str, expires: i64, signature: &str, now: i64) -> bool {
        expires >= now
            && bool::from(
                self.signature(bucket, key, expires)
                    .as_bytes()
                    .ct_eq(signature.as_bytes()),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_sign_verify_and_escape() {
        let dir = tempfile::tempdir().unwrap();
        let s = ObjectStorage::new(dir.path(), b"k");
        let src = dir.path().join("src.bin");
        std::fs::write(&src, b"hello").unwrap();
        assert_eq!(
            s.put_file(&src, "bkt", "a/b c.bin", &|_| {}).await.unwrap(),
            5
        );
        assert!(s.existing("bkt", "a/b c.bin").is_ok());
        let url = s.signed_url("http://h", "bkt", "a/b c.bin", 100);
        assert!(url.starts_with("http://h/oss/bkt/a/b%20c.bin?Expires=100&Signature="));
        let sig = url.rsplit('=').next().unwrap();
        assert!(s.verify("bkt", "a/b c.bin", 100, sig, 99));
        assert!(!s.verify("bkt", "a/b c.bin", 100, sig, 101), "expired");
        assert!(!s.verify("bkt", "a/other", 100, sig, 99), "other key");
        // A symlink pointing out of the bucket is refused.
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("buckets/bkt/evil")).unwrap();
        assert!(s.existing("bkt", "evil").is_err());
    }
}
