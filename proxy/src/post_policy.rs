//! Browser form uploads (POST Object): who signed the form and what its policy allows
//! (docs/protocol.md, Browser uploads). The form carries its own signature, over the
//! base64 policy (AWS SigV4) or over the SHA-1 of the policy's JSON (COS); the policy's
//! conditions must then allow every field the form sends, and its expiration lie ahead.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha1::{Digest, Sha1};

use crate::auth::{constant_time_eq, time, Credential, Keyring};
use crate::error::ApiError;
use crate::form_data::Form;

/// How far in the future a SigV4 form's `x-amz-date` may lie (clock skew).
const MAX_FUTURE_DATE: Duration = Duration::from_secs(900);

/// Which signature the form carries; also which header dialect its fields speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Aws,
    Cos,
}

/// A form whose signature and policy were verified.
#[derive(Debug)]
pub struct Verified {
    pub credential: Arc<Credential>,
    pub dialect: Dialect,
    /// The object key, `${filename}` replaced by the file's name.
    pub key: String,
}

/// One condition of a policy; field names lower-case, without `$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Eq(String, String),
    StartsWith(String, String),
    LengthRange(u64, u64),
}

#[derive(Debug)]
pub struct Policy {
    pub expiration: SystemTime,
    pub conditions: Vec<Condition>,
}

/// Fields no condition needs to cover: the file, the policy, the signature itself (S3's
/// rule, with COS's signature field), and `x-ignore-*`.
fn exempt(name: &str) -> bool {
    matches!(name, "file" | "policy" | "x-amz-signature" | "q-signature")
        || name.starts_with("x-ignore-")
}

fn invalid_policy(why: &str) -> ApiError {
    ApiError::Upstream {
        status: 400,
        code: "InvalidPolicyDocument".into(),
        message: format!("Invalid Policy: {why}"),
    }
}

fn denied(why: String) -> ApiError {
    ApiError::AccessDenied(format!("Invalid according to Policy: {why}"))
}

fn size_error(code: &str, why: String) -> ApiError {
    ApiError::Upstream {
        status: 400,
        code: code.into(),
        message: why,
    }
}

fn hmac_sha1_hex(key: &[u8], data: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

/// ISO 8601 `2026-01-02T03:04:05(.fff)Z`, as policies write their expiration.
pub fn parse_iso8601(s: &str) -> Option<SystemTime> {
    let s = s.trim().strip_suffix('Z')?;
    let (main, fraction) = s.split_once('.').unwrap_or((s, "0"));
    let b = main.as_bytes();
    if b.len() != 19
        || [b[4], b[7], b[10], b[13], b[16]] != [b'-', b'-', b'T', b':', b':']
        || fraction.is_empty()
        || !fraction.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let amz = format!(
        "{}{}{}T{}{}{}Z",
        &main[0..4],
        &main[5..7],
        &main[8..10],
        &main[11..13],
        &main[14..16],
        &main[17..19]
    );
    time::parse_amz_date(&amz)
}

/// The policy's JSON text: `expiration` and `conditions`.
pub fn parse_policy(json: &[u8]) -> Result<Policy, ApiError> {
    let v: Value =
        serde_json::from_slice(json).map_err(|e| invalid_policy(&format!("not JSON: {e}")))?;
    let expiration = v
        .get("expiration")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_policy("no expiration"))?;
    let expiration = parse_iso8601(expiration)
        .ok_or_else(|| invalid_policy(&format!("expiration {expiration:?} is not ISO 8601")))?;
    let list = v
        .get("conditions")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid_policy("conditions must be a list"))?;
    let mut conditions = Vec::new();
    for c in list {
        match c {
            Value::Object(map) => {
                for (k, v) in map {
                    let v = v.as_str().ok_or_else(|| {
                        invalid_policy(&format!("condition {k:?}: the value must be a string"))
                    })?;
                    let name = k.strip_prefix('$').unwrap_or(k);
                    conditions.push(Condition::Eq(name.to_ascii_lowercase(), v.to_string()));
                }
            }
            Value::Array(items) => conditions.push(array_condition(items)?),
            other => {
                return Err(invalid_policy(&format!(
                    "condition {other} is not understood"
                )))
            }
        }
    }
    Ok(Policy {
        expiration,
        conditions,
    })
}

fn array_condition(items: &[Value]) -> Result<Condition, ApiError> {
    let shown = Value::Array(items.to_vec()).to_string();
    let bad = || invalid_policy(&format!("condition {shown} is not understood"));
    let op = items.first().and_then(Value::as_str).ok_or_else(bad)?;
    if op.eq_ignore_ascii_case("content-length-range") {
        let n = |v: Option<&Value>| match v? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        return match (items.len(), n(items.get(1)), n(items.get(2))) {
            (3, Some(min), Some(max)) if min <= max => Ok(Condition::LengthRange(min, max)),
            _ => Err(bad()),
        };
    }
    let (field, value) = match items {
        [_, Value::String(f), Value::String(v)] => (f, v),
        _ => return Err(bad()),
    };
    let field = field
        .strip_prefix('$')
        .ok_or_else(bad)?
        .to_ascii_lowercase();
    match op.to_ascii_lowercase().as_str() {
        "eq" => Ok(Condition::Eq(field, value.clone())),
        "starts-with" => Ok(Condition::StartsWith(field, value.clone())),
        _ => Err(bad()),
    }
}

/// Check the form's signature and policy. `bucket` is the request's; `now` the clock.
pub fn verify(
    keyring: &Keyring,
    form: &Form,
    bucket: &str,
    now: SystemTime,
) -> Result<Verified, ApiError> {
    let field = |name: &str| form.get(name);
    let dialect = match (field("x-amz-signature"), field("q-signature")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::InvalidArgument(
                "the form carries both an AWS and a COS signature".into(),
            ))
        }
        (Some(_), None) => Dialect::Aws,
        (None, Some(_)) => Dialect::Cos,
        (None, None) if field("signature").is_some() || field("AWSAccessKeyId").is_some() => {
            return Err(ApiError::AccessDenied(
                "AWS Signature Version 2 forms are not accepted: sign the policy with SigV4 \
                 (boto3: Config(signature_version='s3v4'))"
                    .into(),
            ))
        }
        (None, None) => {
            return Err(ApiError::AccessDenied(
                "anonymous form uploads are not accepted: the form must carry a policy signed \
                 with a configured access key"
                    .into(),
            ))
        }
    };
    let required = |name: &str| {
        field(name).ok_or_else(|| {
            ApiError::InvalidArgument(format!("Bucket POST must contain a field named '{name}'"))
        })
    };
    let policy_b64 = required("policy")?;
    let raw_key = required("key")?;
    let compact: String = policy_b64
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let policy_json = aws_smithy_types::base64::decode(&compact)
        .map_err(|_| invalid_policy("the policy field is not base64"))?;
    let credential = match dialect {
        Dialect::Aws => verify_sigv4(keyring, form, policy_b64, now)?,
        Dialect::Cos => verify_cos(keyring, form, &policy_json, now)?,
    };
    if let Some(expected) = credential.session_token.as_deref() {
        let token_field = match dialect {
            Dialect::Aws => "x-amz-security-token",
            Dialect::Cos => "x-cos-security-token",
        };
        let given = field(token_field).unwrap_or("");
        if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return Err(ApiError::InvalidAccessKeyId(
                "the security token is missing or does not belong to this access key".into(),
            ));
        }
    }
    let policy = parse_policy(&policy_json)?;
    if policy.expiration <= now {
        return Err(denied("Policy expired.".into()));
    }
    let key = raw_key.replace("${filename}", &form.file.filename);
    check_conditions(form, &policy.conditions, bucket, raw_key, &key)?;
    Ok(Verified {
        credential,
        dialect,
        key,
    })
}

/// Every condition holds, the policy names the bucket, every field is covered by a
/// condition, and the file's size is in range.
pub fn check_conditions(
    form: &Form,
    conditions: &[Condition],
    bucket: &str,
    raw_key: &str,
    key: &str,
) -> Result<(), ApiError> {
    let value = |name: &str| -> String {
        match name {
            "bucket" => bucket.to_string(),
            "key" => key.to_string(),
            n => form.get(n).unwrap_or("").to_string(),
        }
    };
    let mut bucket_named = false;
    for c in conditions {
        let failed = |c: &str| Err(denied(format!("Policy Condition failed: {c}")));
        match c {
            Condition::Eq(f, v) => {
                // A COS policy names the key's validity window `q-sign-time`.
                let name = if f == "q-sign-time" { "q-key-time" } else { f };
                bucket_named |= name == "bucket";
                let matches = value(name) == *v || (name == "key" && raw_key == v);
                if !matches {
                    return failed(&format!("[\"eq\", \"${f}\", {v:?}]"));
                }
            }
            Condition::StartsWith(f, prefix) => {
                let actual = value(f);
                // Content-Type may list several types: each must match.
                let ok = if f == "content-type" {
                    actual
                        .split(',')
                        .all(|t| t.trim().starts_with(prefix.as_str()))
                } else {
                    actual.starts_with(prefix.as_str())
                };
                bucket_named |= f == "bucket";
                if !ok {
                    return failed(&format!("[\"starts-with\", \"${f}\", {prefix:?}]"));
                }
            }
            Condition::LengthRange(min, max) => {
                let size = form.file.data.len() as u64;
                if size < *min {
                    return Err(size_error(
                        "EntityTooSmall",
                        format!("Your proposed upload ({size} bytes) is smaller than the minimum allowed size ({min} bytes)"),
                    ));
                }
                if size > *max {
                    return Err(size_error(
                        "EntityTooLarge",
                        format!("Your proposed upload ({size} bytes) exceeds the maximum allowed size ({max} bytes)"),
                    ));
                }
            }
        }
    }
    if !bucket_named {
        return Err(denied(
            "the policy must name the bucket ({\"bucket\": \"...\"}); picops requires it so a \
             policy cannot be replayed against another bucket"
                .into(),
        ));
    }
    for (name, _) in &form.fields {
        let n = name.to_ascii_lowercase();
        if exempt(&n) {
            continue;
        }
        let covered = conditions.iter().any(|c| match c {
            Condition::Eq(f, _) | Condition::StartsWith(f, _) => {
                *f == n || (n == "q-key-time" && f == "q-sign-time")
            }
            Condition::LengthRange(..) => false,
        });
        if !covered {
            return Err(denied(format!(
                "Extra input fields: {name} (every field must be covered by a condition)"
            )));
        }
    }
    Ok(())
}

fn verify_sigv4(
    keyring: &Keyring,
    form: &Form,
    policy_b64: &str,
    now: SystemTime,
) -> Result<Arc<Credential>, ApiError> {
    let need = |name: &str| {
        form.get(name)
            .ok_or_else(|| ApiError::AccessDenied(format!("the form is missing {name}")))
    };
    if need("x-amz-algorithm")? != "AWS4-HMAC-SHA256" {
        return Err(ApiError::AccessDenied(
            "x-amz-algorithm must be AWS4-HMAC-SHA256".into(),
        ));
    }
    let scope = need("x-amz-credential")?;
    let (access_key, date, region) = match scope.split('/').collect::<Vec<_>>().as_slice() {
        [ak, date, region, "s3", "aws4_request"] => (*ak, *date, *region),
        _ => {
            return Err(ApiError::AccessDenied(format!(
                "malformed x-amz-credential {scope:?}: <key>/<date>/<region>/s3/aws4_request"
            )))
        }
    };
    let amz_date = need("x-amz-date")?;
    let signed_at = time::parse_amz_date(amz_date)
        .ok_or_else(|| ApiError::AccessDenied(format!("bad x-amz-date {amz_date:?}")))?;
    if !amz_date.starts_with(date) || date.len() != 8 {
        return Err(ApiError::AccessDenied(
            "the x-amz-credential date is not the x-amz-date's".into(),
        ));
    }
    if signed_at > now + MAX_FUTURE_DATE {
        return Err(ApiError::AccessDenied(format!(
            "x-amz-date {amz_date} lies in the future"
        )));
    }
    let credential = keyring.lookup(access_key)?;
    let key = generate_signing_key(&credential.secret_key, signed_at, region, "s3");
    let expected = calculate_signature(key.as_ref(), policy_b64.as_bytes());
    let given = need("x-amz-signature")?.to_ascii_lowercase();
    if !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
        return Err(mismatch());
    }
    Ok(credential)
}

fn verify_cos(
    keyring: &Keyring,
    form: &Form,
    policy_json: &[u8],
    now: SystemTime,
) -> Result<Arc<Credential>, ApiError> {
    let need = |name: &str| {
        form.get(name)
            .ok_or_else(|| ApiError::AccessDenied(format!("the form is missing {name}")))
    };
    if !need("q-sign-algorithm")?.eq_ignore_ascii_case("sha1") {
        return Err(ApiError::AccessDenied(
            "q-sign-algorithm must be sha1".into(),
        ));
    }
    let key_time = need("q-key-time")?;
    let window = key_time
        .split_once(';')
        .and_then(|(a, b)| Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?)));
    let now_secs = time::unix_secs(now);
    match window {
        Some((start, end)) if start <= now_secs && now_secs <= end => {}
        Some(_) => {
            return Err(ApiError::AccessDenied(format!(
                "q-key-time {key_time} does not contain now ({now_secs})"
            )))
        }
        None => {
            return Err(ApiError::AccessDenied(format!(
                "bad q-key-time {key_time:?}"
            )))
        }
    }
    let credential = keyring.lookup(need("q-ak")?)?;
    let sign_key = hmac_sha1_hex(credential.secret_key.as_bytes(), key_time.as_bytes());
    let string_to_sign = hex::encode(Sha1::digest(policy_json));
    let expected = hmac_sha1_hex(sign_key.as_bytes(), string_to_sign.as_bytes());
    let given = need("q-signature")?.to_ascii_lowercase();
    if !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
        return Err(mismatch());
    }
    Ok(credential)
}

fn mismatch() -> ApiError {
    ApiError::SignatureDoesNotMatch(
        "the signature of the form's policy does not match; check the secret key and the \
         signing method"
            .into(),
    )
}

#[cfg(test)]
mod tests;
