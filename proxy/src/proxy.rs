//! The pingora side: one `ProxyHttp` impl. `request_filter` decides "ours or passthrough":
//! the three Pic-Operations calls are answered by [`crate::upload`]; everything else is
//! re-addressed path-style, re-signed, and streamed to the upstream untouched.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use http::Method;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::HttpPeer;
use pingora::proxy::{ProxyHttp, Session};
use pingora::{Error as PError, ErrorType, Result as PResult};

use crate::error::ApiError;
use crate::route::{self, upstream_path, Route, Routing};
use crate::sign::{Payload, Signer};
use crate::upload::{self, Call, State};

pub struct Picops {
    pub state: Arc<State>,
    pub routing: Routing,
    /// `host:port` of the upstream.
    pub upstream_authority: String,
    pub signer: Signer,
}

#[derive(Default)]
pub struct Ctx {
    pub request_id: String,
    route: Option<Route>,
}

/// Which processing call a request is, if any (PROTOCOL §1 table).
fn classify(method: &Method, route: &Route, has_pic_ops: bool) -> Option<Call> {
    if !has_pic_ops || route.bucket.is_none() || route.key.is_empty() {
        return None;
    }
    if method == Method::PUT && !route.has_param("partNumber") && !route.has_param("uploadId") {
        return Some(Call::Put);
    }
    if method == Method::POST {
        if route.has_param("image_process") {
            return Some(Call::ImageProcess);
        }
        if let Some(upload_id) = route.param("uploadId") {
            return Some(Call::CompleteMultipart { upload_id });
        }
    }
    None
}

pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Headers picops never forwards: the client's signature (picops signs anew) and hop-by-hop
/// proxy headers.
const DROPPED: &[&str] = &[
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "x-cos-security-token",
    "proxy-connection",
    "proxy-authorization",
];

async fn answer(
    session: &mut Session,
    status: u16,
    body: String,
    request_id: &str,
    retry_after: Option<u32>,
) -> PResult<()> {
    let mut resp = ResponseHeader::build(status, Some(5))?;
    if let Some(secs) = retry_after {
        resp.insert_header("Retry-After", secs.to_string())?;
    }
    resp.insert_header("Content-Type", "application/xml")?;
    resp.insert_header("Content-Length", body.len().to_string())?;
    resp.insert_header("x-cos-request-id", request_id)?;
    session.write_response_header(Box::new(resp), false).await?;
    session
        .write_response_body(Some(Bytes::from(body)), true)
        .await?;
    Ok(())
}

async fn answer_error(
    session: &mut Session,
    e: &ApiError,
    resource: &str,
    request_id: &str,
) -> PResult<()> {
    tracing::info!(request_id, code = e.code(), status = e.status(), message = %e, "error answer");
    // The client may still be sending a body we will not read: don't reuse the connection.
    session.set_keepalive(None);
    answer(
        session,
        e.status(),
        e.to_xml(resource, request_id),
        request_id,
        e.retry_after(),
    )
    .await
}

/// `etag` → `ETag`, `content-type` → `Content-Type`; `x-…` names stay lower-case, as COS
/// sends them.
fn cos_case(name: &str) -> String {
    if name == "etag" {
        return "ETag".into();
    }
    if name.starts_with("x-") {
        return name.into();
    }
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[async_trait]
impl ProxyHttp for Picops {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        Ctx {
            request_id: new_request_id(),
            route: None,
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> PResult<bool> {
        let req = session.req_header();
        let method = req.method.clone();
        let resource = req.uri.path().to_string();
        if method == Method::CONNECT {
            let e = ApiError::NotImplemented(
                "CONNECT tunnels are not supported: picops proxies plain HTTP only; point the \
                 client at picops over http://"
                    .into(),
            );
            answer_error(session, &e, &resource, &ctx.request_id).await?;
            return Ok(true);
        }
        let host = req
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .map(str::to_string);
        let route = match route::route(&req.uri, host.as_deref(), &self.routing) {
            Ok(r) => r,
            Err(e) => {
                answer_error(session, &e, &resource, &ctx.request_id).await?;
                return Ok(true);
            }
        };
        let has_pic_ops = req.headers.contains_key("pic-operations");
        if let Some(call) = classify(&method, &route, has_pic_ops) {
            let resource = format!("/{}", route.key);
            let started = std::time::Instant::now();
            match upload::handle(&self.state, session, &route, call.clone()).await {
                Ok(a) => {
                    tracing::info!(request_id = %ctx.request_id, ?call, key = %route.key, ms = started.elapsed().as_millis() as u64, "processed");
                    answer(session, 200, a.xml, &ctx.request_id, None).await?
                }
                Err(e) => answer_error(session, &e, &resource, &ctx.request_id).await?,
            }
            return Ok(true);
        }
        ctx.route = Some(route);
        Ok(false)
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut Ctx,
    ) -> PResult<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(
            self.upstream_authority.as_str(),
            false,
            String::new(),
        )))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut Ctx,
    ) -> PResult<()> {
        let route = ctx
            .route
            .as_ref()
            .ok_or_else(|| PError::explain(ErrorType::InternalError, "no route"))?;
        let mut path = upstream_path(route.bucket.as_deref(), &route.key);
        if let Some(q) = &route.query {
            path.push('?');
            path.push_str(q);
        }
        let declared = upstream
            .headers
            .get("x-amz-content-sha256")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        for h in DROPPED {
            upstream.remove_header(*h);
        }
        // COS SDKs send user metadata as x-cos-meta-*; S3 stores x-amz-meta-*.
        let cos_meta: Vec<(String, http::HeaderValue)> = upstream
            .headers
            .iter()
            .filter_map(|(k, v)| {
                k.as_str()
                    .strip_prefix("x-cos-meta-")
                    .map(|rest| (format!("x-amz-meta-{rest}"), v.clone()))
            })
            .collect();
        for (k, v) in cos_meta {
            upstream.insert_header(k, v)?;
        }
        upstream.set_uri(
            path.parse()
                .map_err(|_| PError::explain(ErrorType::InternalError, "bad upstream path"))?,
        );
        upstream.insert_header("host", self.upstream_authority.as_str())?;
        let payload = match declared {
            Some(v) if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Payload::Declared(v)
            }
            Some(v) if v == "STREAMING-UNSIGNED-PAYLOAD-TRAILER" || v == "UNSIGNED-PAYLOAD" => {
                Payload::Declared(v)
            }
            _ => Payload::Unsigned,
        };
        // Every x-amz-* header is signed: stores such as Garage refuse unsigned ones.
        let mut signed_headers = vec![("host".to_string(), self.upstream_authority.clone())];
        for (k, v) in upstream.headers.iter() {
            let name = k.as_str();
            if name.starts_with("x-amz-") || name == "content-md5" {
                if let Ok(v) = v.to_str() {
                    signed_headers.push((name.to_string(), v.to_string()));
                }
            }
        }
        let url = format!("http://{}{}", self.upstream_authority, path);
        let added = self
            .signer
            .sign(upstream.method.as_str(), &url, &signed_headers, payload)
            .map_err(|e| PError::explain(ErrorType::InternalError, format!("signing: {e}")))?;
        for (k, v) in added {
            upstream.insert_header(k, v)?;
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut Ctx,
    ) -> PResult<()> {
        // hyper-based stores send lower-case names; COS SDKs copy headers into a plain dict
        // and look up `ETag`, so answer with the case COS itself uses.
        let headers: Vec<(String, http::HeaderValue)> = upstream_response
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.clone()))
            .collect();
        for (name, _) in &headers {
            upstream_response.remove_header(name.as_str());
        }
        for (name, value) in headers {
            upstream_response.append_header(cos_case(&name), value)?;
        }
        upstream_response.insert_header("x-cos-request-id", ctx.request_id.as_str())?;
        Ok(())
    }

    async fn logging(&self, session: &mut Session, e: Option<&PError>, ctx: &mut Ctx) {
        let status = session
            .response_written()
            .map(|r| r.status.as_u16())
            .unwrap_or(0);
        let req = session.req_header();
        tracing::info!(
            request_id = %ctx.request_id,
            method = %req.method,
            uri = %req.uri,
            status,
            error = e.map(|e| e.to_string()),
            "request"
        );
    }
}
