//! Value translations and checks of the dialect table's rows.

use super::{storage_class_to_cos, storage_class_to_s3};
use crate::error::ApiError;

pub(super) fn storage_class_header(v: &str) -> Result<Option<String>, ApiError> {
    storage_class_to_s3(v).map(|s| Some(s.to_string()))
}

pub(super) fn storage_class_value_to_cos(v: &str) -> String {
    storage_class_to_cos(v).to_string()
}

/// Canned ACLs. COS's `default` (the object follows its bucket's access) is S3's absence of
/// an ACL: on stores governed by bucket policies that is exactly inheritance, and on a store
/// with ACLs it is private, the safe side.
pub(super) fn acl(v: &str) -> Result<Option<String>, ApiError> {
    const CANNED: &[&str] = &[
        "private",
        "public-read",
        "public-read-write",
        "authenticated-read",
        "bucket-owner-read",
        "bucket-owner-full-control",
    ];
    if v == "default" {
        return Ok(None);
    }
    if CANNED.contains(&v) {
        return Ok(Some(v.to_string()));
    }
    Err(ApiError::InvalidArgument(format!(
        "{v:?} is not a COS canned ACL (default, {})",
        CANNED.join(", ")
    )))
}

pub(super) const COS_ALL_USERS: &str = "http://cam.qcloud.com/groups/global/AllUsers";
pub(super) const S3_ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

/// Grant lists (`id="100000000001",uri="…"`). Only "everyone" means the same on every store,
/// so only the all-users group is translated. A COS account (`id="<uin>"` or
/// `id="qcs::cam::uin/…"`) is unknown to the store, and a store account that happened to
/// have the same id would get the access: refused.
pub(super) fn grants(v: &str) -> Result<Option<String>, ApiError> {
    let mut out = Vec::new();
    for grantee in split_grantees(v)? {
        let (kind, target) = grantee.split_once('=').ok_or_else(|| {
            ApiError::InvalidArgument(format!("{grantee:?} is not type=\"value\""))
        })?;
        let target = unquote(target.trim())?;
        match kind.trim().to_ascii_lowercase().as_str() {
            "uri" if target == COS_ALL_USERS || target == S3_ALL_USERS => {
                out.push(format!("uri=\"{S3_ALL_USERS}\""));
            }
            "id" | "uri" | "emailaddress" => {
                return Err(ApiError::NotImplemented(format!(
                    "grants to {grantee} cannot be translated: the store does not know COS \
                     accounts or groups; only uri=\"{COS_ALL_USERS}\" is, or use x-cos-acl"
                )));
            }
            _ => {
                return Err(ApiError::InvalidArgument(format!(
                    "{grantee:?}: a grantee is id=, uri= or emailAddress="
                )));
            }
        }
    }
    Ok(Some(out.join(", ")))
}

/// Split a grant list at the commas outside quotes.
pub(super) fn split_grantees(v: &str) -> Result<Vec<&str>, ApiError> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in v.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&v[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return Err(ApiError::InvalidArgument(format!(
            "{v:?}: unbalanced quotes"
        )));
    }
    parts.push(&v[start..]);
    let parts: Vec<&str> = parts.into_iter().map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ApiError::InvalidArgument(format!(
            "{v:?}: an empty grantee"
        )));
    }
    Ok(parts)
}

pub(super) fn unquote(v: &str) -> Result<&str, ApiError> {
    match v.strip_prefix('"') {
        None => Ok(v),
        Some(rest) => rest
            .strip_suffix('"')
            .ok_or_else(|| ApiError::InvalidArgument(format!("{v:?}: unbalanced quotes"))),
    }
}

/// `Copy` / `Replaced` (COS) → `COPY` / `REPLACE` (S3), for metadata and tagging.
pub(super) fn directive(v: &str) -> Result<Option<String>, ApiError> {
    if v.eq_ignore_ascii_case("Copy") {
        Ok(Some("COPY".into()))
    } else if v.eq_ignore_ascii_case("Replaced") {
        Ok(Some("REPLACE".into()))
    } else {
        Err(ApiError::InvalidArgument(format!(
            "{v:?} is not Copy or Replaced"
        )))
    }
}

/// SSE-COS `AES256` is S3's `AES256`; SSE-KMS `cos/kms` is `aws:kms` (the key id is the
/// store's KMS's, see the key-id row). SM4 exists only at COS.
pub(super) fn sse(v: &str) -> Result<Option<String>, ApiError> {
    if v.eq_ignore_ascii_case("AES256") {
        Ok(Some("AES256".into()))
    } else if v.eq_ignore_ascii_case("cos/kms") {
        Ok(Some("aws:kms".into()))
    } else if v.eq_ignore_ascii_case("SM4") {
        Err(ApiError::NotImplemented(
            "SM4 server-side encryption has no S3 equivalent".into(),
        ))
    } else {
        Err(ApiError::InvalidArgument(format!(
            "{v:?} is not AES256 or cos/kms"
        )))
    }
}

pub(super) fn sse_to_cos(v: &str) -> String {
    if v == "aws:kms" {
        "cos/kms".into()
    } else {
        v.into()
    }
}

/// `true` asks the write to fail if the key exists: S3's `If-None-Match: *`. `false` is the
/// default behaviour, which S3 expresses with no header.
pub(super) fn forbid_overwrite(v: &str) -> Result<Option<String>, ApiError> {
    if v.eq_ignore_ascii_case("true") {
        Ok(Some("*".into()))
    } else if v.eq_ignore_ascii_case("false") {
        Ok(None)
    } else {
        Err(ApiError::InvalidArgument(format!(
            "{v:?} is not true or false"
        )))
    }
}

/// COS's SHA-1 of the body is 40 hex digits; S3's checksum header carries the same 20 bytes
/// in base64, and the store verifies it.
pub(super) fn content_sha1(v: &str) -> Result<Option<String>, ApiError> {
    let bytes = hex::decode(v)
        .ok()
        .filter(|b| b.len() == 20)
        .ok_or_else(|| ApiError::InvalidArgument(format!("{v:?} is not 40 hex digits")))?;
    Ok(Some(aws_smithy_types::base64::encode(&bytes)))
}

/// COS's limits for `x-cos-traffic-limit`, in bit/s (100 KB/s to 100 MB/s).
pub(super) const TRAFFIC_LIMIT: std::ops::RangeInclusive<u64> = 819_200..=838_860_800;

/// Checked as COS checks it (a value COS would refuse gets COS's 400), then refused: no S3
/// store throttles a single request, and picops does not either, so accepting it would
/// silently ignore what the client asked for.
pub(super) fn traffic_limit(v: &str) -> ApiError {
    match v.parse::<u64>() {
        Ok(n) if TRAFFIC_LIMIT.contains(&n) => ApiError::NotImplemented(
            "per-request bandwidth limits are not supported by picops".into(),
        ),
        _ => ApiError::InvalidArgument(format!(
            "{v:?} is not a number of bit/s from {} to {}",
            TRAFFIC_LIMIT.start(),
            TRAFFIC_LIMIT.end()
        )),
    }
}

/// A copy-source range: empty means the whole object (COS), which S3 says with no header.
pub(super) fn range(v: &str) -> Result<Option<String>, ApiError> {
    Ok((!v.trim().is_empty()).then(|| v.trim().to_string()))
}
