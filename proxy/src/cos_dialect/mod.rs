//! COS's header dialect translated to S3's and back, from one table (`table.rs`).
//!
//! COS SDKs send and expect `x-cos-*` headers; the stores behind picops speak `x-amz-*`. A COS
//! client's request has its headers rewritten before it goes upstream ([`request_to_s3`]) and
//! the store's answer rewritten back ([`response_to_cos`]); an S3 client's are left alone
//! ([`is_cos_client`] tells the two apart). The rule every row follows: a COS header with an S3
//! equivalent is sent as that equivalent; one without is handled as COS handles it (only where
//! that needs nothing from the store) or refused with an error naming it. None is dropped
//! silently, because a dropped header is a feature the client asked for and did not get.
//!
//! Everything here is pure: no I/O, no configuration. `docs/cos-dialect.md` is the same table
//! in prose, with the reasons; a test keeps the two in step.

mod table;
#[cfg(test)]
mod tests;
mod values;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::error::ApiError;
use table::*;

/// The row for a COS request header name, and the part after a prefix row's prefix.
fn by_cos(name: &str) -> Option<(&'static Row, &str)> {
    TABLE
        .iter()
        .filter(|r| !r.cos.is_empty())
        .find_map(|r| match r.prefix {
            false => (r.cos == name).then_some((r, "")),
            true => name.strip_prefix(r.cos).map(|rest| (r, rest)),
        })
}

/// The row for a store's response header name, and the part after a prefix row's prefix.
fn by_s3(name: &str) -> Option<(&'static Row, &str)> {
    TABLE
        .iter()
        .filter(|r| r.s3.starts_with("x-amz-"))
        .find_map(|r| match r.prefix {
            false => (r.s3 == name).then_some((r, "")),
            true => name.strip_prefix(r.s3).map(|rest| (r, rest)),
        })
}

/// One change [`request_to_s3`] makes, once every header has been checked.
struct Change {
    /// The COS header, removed.
    cos: HeaderName,
    /// What is sent in its place, unless the client's own S3 twin already says it.
    send: Option<(HeaderName, Vec<HeaderValue>)>,
}

fn header_name(name: &str) -> Result<HeaderName, ApiError> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| ApiError::InvalidArgument(format!("{name:?} is not a header name")))
}

fn header_value(v: String) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&v)
        .map_err(|_| ApiError::InvalidArgument(format!("{v:?} is not a header value")))
}

/// What one COS header becomes: `Ok(None)` when it is kept or removed with nothing sent.
fn translate(
    row: &Row,
    rest: &str,
    values: &[&str],
) -> Result<Option<(HeaderName, Vec<HeaderValue>)>, ApiError> {
    if row.prefix && rest.is_empty() {
        return Err(ApiError::InvalidArgument(
            "the name has nothing after the prefix".into(),
        ));
    }
    let target = || header_name(&format!("{}{rest}", row.s3));
    match row.to_s3 {
        ToS3::Keep | ToS3::Remove => Ok(None),
        ToS3::Refuse(why) => Err(ApiError::NotImplemented(why.to_string())),
        ToS3::Check(check) => Err(check(values.first().copied().unwrap_or_default())),
        ToS3::Rename => {
            let sent = values
                .iter()
                .map(|v| header_value(v.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some((target()?, sent)))
        }
        ToS3::Map(map) => {
            let mut sent = Vec::new();
            for v in values {
                if let Some(mapped) = map(v.trim())? {
                    sent.push(header_value(mapped)?);
                }
            }
            if sent.is_empty() {
                return Ok(None);
            }
            Ok(Some((target()?, sent)))
        }
    }
}

/// Rewrite a COS client's request headers into S3's dialect, all or nothing: when any header
/// is refused, `headers` is left exactly as it was.
pub fn request_to_s3(headers: &mut HeaderMap) -> Result<(), ApiError> {
    let mut changes: Vec<Change> = Vec::new();
    for name in headers.keys() {
        let n = name.as_str();
        if !n.starts_with("x-cos-") {
            continue;
        }
        let Some((row, rest)) = by_cos(n) else {
            return Err(ApiError::NotImplemented(format!(
                "{n}: picops does not know this COS header, so it cannot give it its effect"
            )));
        };
        if matches!(row.to_s3, ToS3::Keep) {
            continue;
        }
        let values = headers
            .get_all(name)
            .iter()
            .map(|v| {
                v.to_str()
                    .map_err(|_| ApiError::InvalidArgument(format!("{n}: the value is not ASCII")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let send = translate(row, rest, &values).map_err(|e| naming(n, e))?;
        // The client sent both spellings: they must mean the same. A value S3 says by sending
        // no header (`x-cos-acl: default`) differs from any value the twin has.
        let differ = match &send {
            Some((s3, sent)) => {
                let twin: Vec<&HeaderValue> = headers.get_all(s3).iter().collect();
                !twin.is_empty() && twin.iter().copied().ne(sent.iter())
            }
            None => matches!(row.to_s3, ToS3::Map(_)) && headers.contains_key(row.s3),
        };
        if differ {
            let s3 = send.as_ref().map_or(row.s3, |(s3, _)| s3.as_str());
            return Err(ApiError::InvalidArgument(format!(
                "{n} and {s3} are both set, to different values"
            )));
        }
        changes.push(Change {
            cos: name.clone(),
            send,
        });
    }
    for change in changes {
        headers.remove(&change.cos);
        if let Some((s3, values)) = change.send {
            if headers.contains_key(&s3) {
                continue;
            }
            for v in values {
                headers.append(s3.clone(), v);
            }
        }
    }
    Ok(())
}

/// The error, its message starting with the header it concerns.
fn naming(header: &str, e: ApiError) -> ApiError {
    match e {
        ApiError::InvalidArgument(m) => ApiError::InvalidArgument(format!("{header}: {m}")),
        ApiError::NotImplemented(m) => ApiError::NotImplemented(format!("{header}: {m}")),
        other => other,
    }
}

/// Rewrite a store's response headers into COS's dialect, for a COS client: every `x-amz-*`
/// header comes back under its COS name, or not at all when COS has none (a COS client must
/// never meet S3's dialect, e.g. a store's `x-amz-checksum-type`).
pub fn response_to_cos(headers: &mut HeaderMap) {
    let names: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("x-amz-"))
        .cloned()
        .collect();
    for name in names {
        let values: Vec<HeaderValue> = headers.get_all(&name).iter().cloned().collect();
        headers.remove(&name);
        let Some((row, rest)) = by_s3(name.as_str()) else {
            continue;
        };
        let map: fn(&str) -> String = match row.to_cos {
            ToCos::Keep | ToCos::Drop => continue,
            ToCos::Rename => |v| v.to_string(),
            ToCos::Map(f) => f,
        };
        if row.cos.is_empty() {
            continue;
        }
        let Ok(cos) = HeaderName::from_bytes(format!("{}{rest}", row.cos).as_bytes()) else {
            continue;
        };
        for v in values {
            let v = match v.to_str() {
                Ok(s) => HeaderValue::from_str(&map(s)).unwrap_or(v),
                // Metadata the store holds in another encoding goes back byte for byte.
                Err(_) => v,
            };
            headers.append(cos.clone(), v);
        }
    }
}

/// A COS client's request: signed the COS way, or speaking COS's headers. SigV4 requests
/// with only `x-amz-*` headers are S3 clients'.
pub fn is_cos_client(headers: &HeaderMap, query: &str) -> bool {
    let cos_signed = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("q-sign-algorithm="))
        || query
            .split('&')
            .any(|p| p.starts_with("q-sign-algorithm=") || p == "q-sign-algorithm");
    cos_signed || headers.keys().any(|k| k.as_str().starts_with("x-cos-"))
}

/// (COS name, S3 name) of every storage class both have.
const STORAGE_CLASSES: &[(&str, &str)] = &[
    ("STANDARD", "STANDARD"),
    ("STANDARD_IA", "STANDARD_IA"),
    ("INTELLIGENT_TIERING", "INTELLIGENT_TIERING"),
    ("ARCHIVE", "GLACIER"),
    ("DEEP_ARCHIVE", "DEEP_ARCHIVE"),
    ("MAZ_STANDARD", "STANDARD"),
    ("MAZ_STANDARD_IA", "STANDARD_IA"),
    ("MAZ_INTELLIGENT_TIERING", "INTELLIGENT_TIERING"),
    ("MAZ_ARCHIVE", "GLACIER"),
];

/// A store's storage class as COS names it (GLACIER is COS's ARCHIVE); unknown names are
/// passed on as they are.
pub fn storage_class_to_cos(s3: &str) -> &str {
    STORAGE_CLASSES
        .iter()
        .find(|(cos, s)| *s == s3 && !cos.starts_with("MAZ_"))
        .map_or(s3, |(cos, _)| cos)
}

/// A COS storage class as S3 names it. COS accepts its names in any case.
pub fn storage_class_to_s3(cos: &str) -> Result<&'static str, ApiError> {
    let upper = cos.trim().to_ascii_uppercase();
    if let Some((_, s3)) = STORAGE_CLASSES.iter().find(|(c, _)| *c == upper) {
        return Ok(s3);
    }
    if upper == "COLD" || upper == "MAZ_COLD" {
        return Err(ApiError::NotImplemented(format!(
            "the {upper} storage class has no S3 equivalent"
        )));
    }
    Err(ApiError::InvalidArgument(format!(
        "{cos:?} is not a COS storage class (STANDARD, STANDARD_IA, INTELLIGENT_TIERING, \
         ARCHIVE, DEEP_ARCHIVE, or MAZ_ of the first four)"
    )))
}
