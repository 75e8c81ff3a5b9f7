//! `POST /` on a bucket with `multipart/form-data`: a browser form upload (POST Object).
//! The gateway lets it in unsigned; here the whole form is read (capped, its memory reserved
//! first), its policy and signature verified (post_policy.rs), the signer authorised like a
//! PUT of the form's key, and the file written with the stored headers the form asks for.
//! With a `Pic-Operations` field the upload is processed as a PUT with that header is:
//! decoded once, every rule run, the original and the results written all or nothing.

use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use crate::auth::{BodyCheck, Identity};
use crate::budget::Budget;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::form_data::{self, Form};
use crate::metrics::Buffered;
use crate::post_policy::{self, Dialect};
use crate::reply::Reply;
use crate::request::{BodySource, Request};
use crate::route::{upstream_path, validate_key, Route};
use crate::stored_headers;
use crate::xml;

use super::pic_common;

/// Room for the form's fields beside a file of up to `max_body` bytes.
const FIELDS_ALLOWANCE: u64 = form_data::MAX_FIELDS_BYTES as u64;

/// What reading the form allocates beside the body: the fields copied as text, and the
/// policy with its whitespace removed and decoded.
const FIELD_COPIES: u64 = 3 * FIELDS_ALLOWANCE;

/// Stored with a file whose form names no `Content-Type` (S3's and COS's default).
const DEFAULT_TYPE: &str = "application/octet-stream";

pub async fn handle(engine: &Engine, mut req: Request<'_>) -> Result<Reply, ApiError> {
    let bucket = req.bucket()?.to_string();
    let boundary = form_data::boundary(req.header("content-type")?.unwrap_or(""))?;
    let max_body = engine.config.max_body;
    let cap = max_body.saturating_add(FIELDS_ALLOWANCE);
    let declared = req.declared_within(cap)?;
    let mut reading = Budget::default();
    reading
        .grow_to(&engine.memory, declared.unwrap_or(cap) + FIELD_COPIES)
        .await?;
    let mut held = Buffered::default();
    let body = req.read_body(cap, &BodyCheck::None, &mut held).await?;
    let form = form_data::parse(&boundary, &body)?;
    let verified = post_policy::verify(&engine.keyring, &form, &bucket, SystemTime::now())?;
    let identity = Identity {
        credential: Some(verified.credential.clone()),
        // The policy the caller signed covers every field (post_policy checks it), so
        // each counts as signed, Pic-Operations included.
        signed_headers: form
            .fields
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect(),
        body: BodyCheck::None,
    };
    identity.authorize(&engine.keyring, Some(&bucket), &Method::PUT)?;
    validate_key(&verified.key)?;
    if form.file.data.len() as u64 > max_body {
        return Err(ApiError::EntityTooLarge(format!(
            "the file exceeds the limit of {max_body} bytes"
        )));
    }
    if ["success_action_redirect", "redirect"]
        .iter()
        .any(|f| form.get(f).is_some_and(|v| !v.is_empty()))
    {
        return Err(ApiError::NotImplemented(
            "success_action_redirect is not supported by picops; use success_action_status".into(),
        ));
    }
    let headers = form_headers(&form, verified.dialect)?;
    let route = Route {
        key: verified.key.clone(),
        query: None,
        ..req.route.clone()
    };
    let location = location(&route, &bucket);
    if form.get("pic-operations").is_some() {
        let held_bytes = body.len() as u64;
        let reply = processed(
            engine, &route, headers, &identity, &form, reading, held_bytes,
        )
        .await?;
        drop(held);
        return Ok(reply.with_header("Location", location));
    }
    let stored = stored_headers::from_request(&headers, &engine.config.store_features)?;
    let content_type = form
        .get("content-type")
        .filter(|t| !t.is_empty())
        .unwrap_or(DEFAULT_TYPE);
    let upstream = engine.upstream(&identity);
    let etag = upstream
        .put(
            &bucket,
            &verified.key,
            form.file.data.clone(),
            content_type,
            None,
            &stored.original,
        )
        .await?;
    drop(held);
    let reply = match form.get("success_action_status") {
        Some("200") => Reply::xml(200, String::new()),
        Some("201") => Reply::xml(
            201,
            xml::post_response(&location, &bucket, &verified.key, &etag),
        ),
        // S3 answers 204 to any other value.
        _ => Reply::xml(204, String::new()),
    };
    Ok(reply
        .with_header("ETag", etag)
        .with_header("Location", location))
}

/// The upload processed like a PUT with Pic-Operations (pic_put.rs), answered UploadResult.
async fn processed(
    engine: &Engine,
    route: &Route,
    headers: HeaderMap,
    identity: &Identity,
    form: &Form,
    reading: Budget,
    held_bytes: u64,
) -> Result<Reply, ApiError> {
    let mut no_body = NoBody;
    let call = {
        let request = Request::new(
            Method::PUT,
            route.clone(),
            headers,
            &mut no_body,
            engine.config.slow_clients,
        );
        pic_common::prepare(engine, &request, identity).await?
    };
    let data = form.file.data.clone();
    let mut budget = call.budget;
    // The file moves to the processing budget before the form's reservation is released,
    // so it is never held unbudgeted: the whole body it is a slice of (`held_bytes`), which
    // stays allocated as long as the file does.
    budget.grow_to(&engine.memory, held_bytes).await?;
    drop(reading);
    let upload = pic_common::Upload {
        body: data,
        content_type: form.get("content-type").unwrap_or_default().to_string(),
        sha256: None,
    };
    pic_common::process_upload(engine, &call.dest, route, call.rules, budget, upload).await
}

/// The form's fields that a PUT would send as headers (metadata, Content-*, ACL, storage
/// class, tagging, encryption, Pic-Operations), as a header map in the form's dialect;
/// `stored_headers` translates COS's and keeps what a PUT keeps. An `x-amz-*` field picops
/// would not give its effect is refused rather than dropped.
fn form_headers(form: &Form, dialect: Dialect) -> Result<HeaderMap, ApiError> {
    let mut headers = HeaderMap::new();
    let mut add = |name: &str, value: &str| -> Result<(), ApiError> {
        let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            ApiError::InvalidArgument(format!("field {name:?} is not a valid name"))
        })?;
        let v = HeaderValue::from_str(value).map_err(|_| {
            ApiError::InvalidArgument(format!("field {name}: the value is not a header value"))
        })?;
        headers.append(n, v);
        Ok(())
    };
    for (name, value) in &form.fields {
        let n = name.to_ascii_lowercase();
        match n.as_str() {
            "content-type"
            | "cache-control"
            | "content-disposition"
            | "content-encoding"
            | "expires"
            | "pic-operations" => add(&n, value)?,
            "acl" => add(
                match dialect {
                    Dialect::Aws => "x-amz-acl",
                    Dialect::Cos => "x-cos-acl",
                },
                value,
            )?,
            "tagging" => {
                let tags = xml::parse_tagging(value).map_err(ApiError::InvalidArgument)?;
                let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
                let query: Vec<String> = tags
                    .iter()
                    .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                    .collect();
                add("x-amz-tagging", &query.join("&"))?
            }
            "x-amz-algorithm"
            | "x-amz-credential"
            | "x-amz-date"
            | "x-amz-signature"
            | "x-amz-security-token"
            | "x-cos-security-token" => {}
            n if n.starts_with("x-amz-") => {
                let known = n.starts_with("x-amz-meta-")
                    || n.starts_with("x-amz-grant-")
                    || n.starts_with("x-amz-server-side-encryption")
                    || matches!(
                        n,
                        "x-amz-acl"
                            | "x-amz-storage-class"
                            | "x-amz-tagging"
                            | "x-amz-website-redirect-location"
                    );
                if !known {
                    return Err(ApiError::NotImplemented(format!(
                        "form field {name} is not supported by picops' form uploads"
                    )));
                }
                add(n, value)?
            }
            // COS's fields go through the dialect table, which refuses what it cannot honour.
            n if n.starts_with("x-cos-") => add(n, value)?,
            // key, policy, the signature's fields, success_action_*, x-ignore-*, and fields
            // with no effect on what is stored.
            _ => {}
        }
    }
    Ok(headers)
}

/// The stored object's URL, as S3 answers it in `Location`.
fn location(route: &Route, bucket: &str) -> String {
    let path = if route.path_style {
        upstream_path(Some(bucket), &route.key)
    } else {
        upstream_path(None, &route.key)
    };
    format!("http://{}{path}", route.host)
}

/// The processing path's request has no body left to read: the form held the file.
struct NoBody;

#[async_trait]
impl BodySource for NoBody {
    async fn next_piece(&mut self) -> Result<Option<Bytes>, ApiError> {
        Ok(None)
    }

    async fn send_continue(&mut self) -> Result<(), ApiError> {
        Ok(())
    }
}
