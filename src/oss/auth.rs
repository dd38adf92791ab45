//! Who sent an OSS request: the access key or upload credential it was signed with, checked
//! in OSS's order (key, token and expiry, time, signature), and what that principal may do.

use time::OffsetDateTime;

use super::error::{OssCode, OssError};
use super::request::{OssOperation, OssRequest};
use super::sign::Claim;
use crate::actions::Ctx;
use crate::domain::account::Secret;
use crate::server::keys::KeyCache;

/// Accepted clock skew of header-signed requests, either direction.
const TIME_WINDOW: time::Duration = time::Duration::minutes(15);

/// Who signed a request: an account key, or an upload credential limited to one object.
pub(super) struct Principal {
    pub(super) account_id: String,
    /// (bucket, key) an upload credential is limited to.
    only: Option<(String, String)>,
}

impl Principal {
    /// An upload credential may write, read and manage multipart uploads of its one object.
    pub(super) fn allows(&self, req: &OssRequest, op: &OssOperation) -> bool {
        use OssOperation::*;
        let Some((bucket, key)) = &self.only else {
            return true;
        };
        req.bucket.as_ref() == Some(bucket)
            && req.key.as_ref() == Some(key)
            && matches!(
                op,
                PutObject
                    | GetObject
                    | HeadObject
                    | GetObjectMeta
                    | InitiateMultipartUpload
                    | UploadPart { .. }
                    | CompleteMultipartUpload { .. }
                    | AbortMultipartUpload { .. }
                    | ListParts { .. }
            )
    }
}

/// Key (an account key, else an upload credential with its token and expiry), then time,
/// then signature.
pub(super) async fn authenticate(
    ctx: &Ctx,
    keys: &KeyCache,
    req: &OssRequest,
) -> Result<Principal, OssError> {
    let signed = req.signed();
    let claim = Claim::parse(&signed)?.ok_or_else(|| {
        OssError::with_message(
            OssCode::AccessDenied,
            "Anonymous access is forbidden for this operation.",
        )
    })?;
    let key_id = claim.access_key_id();
    let unknown = || OssError::new(OssCode::InvalidAccessKeyId).with("OSSAccessKeyId", key_id);
    let token = claim.security_token(&signed);
    let now = OffsetDateTime::now_utc();
    let (secret, principal, enabled) = match keys.get(ctx.store.as_ref(), key_id).await? {
        Some(key) => {
            if token.is_some() {
                return Err(OssError::with_message(
                    OssCode::InvalidSecurityToken,
                    "A security token was sent with a long-term access key.",
                ));
            }
            let principal = Principal {
                account_id: key.account_id,
                only: None,
            };
            (key.secret, principal, key.enabled)
        }
        None => {
            let c = ctx
                .store
                .upload_credential(key_id)
                .await?
                .ok_or_else(unknown)?;
            if now.unix_timestamp() > c.expire_time {
                return Err(OssError::new(OssCode::SecurityTokenExpired));
            }
            let sent = token.unwrap_or("");
            if !bool::from(subtle::ConstantTimeEq::ct_eq(
                sent.as_bytes(),
                c.security_token.as_bytes(),
            )) {
                return Err(OssError::new(OssCode::InvalidSecurityToken));
            }
            let principal = Principal {
                account_id: c.account_id,
                only: Some((c.bucket, c.object_key)),
            };
            (Secret::new(c.secret), principal, true)
        }
    };
    claim.check_time(&signed, now, TIME_WINDOW)?;
    claim.verify(&signed, secret.expose())?;
    if !enabled {
        return Err(OssError::with_message(
            OssCode::InvalidAccessKeyId,
            "The OSS Access Key Id you provided is disabled.",
        )
        .with("OSSAccessKeyId", key_id));
    }
    Ok(principal)
}
