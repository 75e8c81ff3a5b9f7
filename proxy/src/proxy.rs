//! The pingora side: one `ProxyHttp` impl. `request_filter` decides "ours or passthrough":
//! the three Pic-Operations calls are answered by [`crate::upload`]; everything else is
//! re-addressed path-style, re-signed, and streamed to the upstream untouched.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use http::Method;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::HttpPeer;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::{Error as PError, ErrorType, Result as PResult};
use tracing::Instrument;

use crate::access;
use crate::auth::{self, Identity};
use crate::body_guard::BodyGuard;
use crate::error::ApiError;
use crate::listing::ListingFilter;
use crate::metrics::{InFlight, METRICS};
use crate::realtime::{self, ImageQuery};
use crate::route::{self, upstream_path, CopySource, Route, Routing};
use crate::sign::Payload;
use crate::styles::{self, StyleCall};
use crate::timeouts::BodyRate;
use crate::upload::{self, Call, State};

pub struct Picops {
    pub state: Arc<State>,
    pub routing: Routing,
}

#[derive(Default)]
pub struct Ctx {
    pub request_id: String,
    /// The S3/COS operation, for metrics.
    operation: &'static str,
    _in_flight: Option<InFlight>,
    route: Option<Route>,
    identity: Option<Identity>,
    /// Checks the passthrough body against the signature while it streams.
    guard: Option<BodyGuard>,
    /// The authorised object a copy reads, forwarded in its canonical form.
    copy_source: Option<CopySource>,
    /// Removes picops' reserved keys from a bucket-level answer.
    listing: Option<ListingFilter>,
    /// Why a passthrough was stopped, answered by `fail_to_proxy`.
    failed: Option<ApiError>,
    /// The passthrough body's rate, checked as it streams.
    body_rate: Option<BodyRate>,
}

/// The requests picops answers itself rather than passing through.
#[derive(Debug, Clone)]
enum Answered {
    /// The three Pic-Operations calls (docs/protocol.md).
    Pic(Call),
    /// The COS style API on a bucket (`/?style`).
    Style(StyleCall),
    /// GET-time processing (`GET /<key>?imageMogr2/…`, `?imageInfo`, …).
    Image(ImageQuery),
}

fn classify(method: &Method, route: &Route, has_pic_ops: bool) -> Option<Answered> {
    if route.bucket.is_some() && route.key.is_empty() && route.has_param("style") {
        return match *method {
            Method::PUT => Some(Answered::Style(StyleCall::Add)),
            Method::GET => Some(Answered::Style(StyleCall::List)),
            Method::DELETE => Some(Answered::Style(StyleCall::Delete)),
            _ => None,
        };
    }
    if (method == Method::GET || method == Method::HEAD)
        && route.bucket.is_some()
        && !route.key.is_empty()
    {
        if let Some(q) = realtime::image_query(route) {
            return Some(Answered::Image(q));
        }
    }
    classify_pic(method, route, has_pic_ops).map(Answered::Pic)
}

/// Which processing call a request is, if any (docs/protocol.md, the three calls).
fn classify_pic(method: &Method, route: &Route, has_pic_ops: bool) -> Option<Call> {
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

/// The operation a request is, for the `operation` label of `picops_requests_total`.
fn operation(method: &Method, route: &Route, call: Option<&Answered>) -> &'static str {
    match call {
        Some(Answered::Pic(Call::Put)) => return "PicPutObject",
        Some(Answered::Pic(Call::ImageProcess)) => return "PicImageProcess",
        Some(Answered::Pic(Call::CompleteMultipart { .. })) => return "PicCompleteMultipartUpload",
        Some(Answered::Style(StyleCall::Add)) => return "PutImageStyle",
        Some(Answered::Style(StyleCall::List)) => return "GetImageStyle",
        Some(Answered::Style(StyleCall::Delete)) => return "DeleteImageStyle",
        Some(Answered::Image(ImageQuery::Info)) => return "GetImageInfo",
        Some(Answered::Image(ImageQuery::Ave)) => return "GetImageAve",
        Some(Answered::Image(ImageQuery::Rule(_))) => return "GetProcessedImage",
        None => {}
    }
    let object = !route.key.is_empty();
    match (method.as_str(), route.bucket.is_some(), object) {
        (_, false, _) => "ListBuckets",
        ("GET", true, true) => "GetObject",
        ("HEAD", true, true) => "HeadObject",
        ("PUT", true, true) if route.has_param("partNumber") => "UploadPart",
        ("PUT", true, true) => "PutObject",
        ("DELETE", true, true) => "DeleteObject",
        ("POST", true, true) if route.has_param("uploads") => "CreateMultipartUpload",
        ("POST", true, true) if route.has_param("uploadId") => "CompleteMultipartUpload",
        ("GET", true, false) => "ListObjects",
        ("HEAD", true, false) => "HeadBucket",
        ("PUT", true, false) => "CreateBucket",
        ("DELETE", true, false) => "DeleteBucket",
        ("POST", true, false) if route.has_param("delete") => "DeleteObjects",
        _ => "Other",
    }
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

/// COS spellings of the copy headers, forwarded under their S3 names.
const COS_COPY_HEADERS: &[(&str, &str)] = &[
    ("x-cos-copy-source", "x-amz-copy-source"),
    ("x-cos-copy-source-range", "x-amz-copy-source-range"),
    ("x-cos-metadata-directive", "x-amz-metadata-directive"),
    ("x-cos-copy-source-if-match", "x-amz-copy-source-if-match"),
    (
        "x-cos-copy-source-if-none-match",
        "x-amz-copy-source-if-none-match",
    ),
    (
        "x-cos-copy-source-if-modified-since",
        "x-amz-copy-source-if-modified-since",
    ),
    (
        "x-cos-copy-source-if-unmodified-since",
        "x-amz-copy-source-if-unmodified-since",
    ),
];

/// An answer picops writes itself.
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
    pub content_type: String,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn xml(status: u16, body: String) -> Reply {
        Reply {
            status,
            body: Bytes::from(body),
            content_type: "application/xml".into(),
            headers: Vec::new(),
        }
    }
}

async fn answer(session: &mut Session, reply: Reply, request_id: &str) -> PResult<()> {
    let mut resp = ResponseHeader::build(reply.status, Some(4 + reply.headers.len()))?;
    for (name, value) in reply.headers {
        resp.insert_header(name, value)?;
    }
    if !reply.body.is_empty() || reply.status != 204 {
        resp.insert_header("Content-Type", reply.content_type)?;
    }
    resp.insert_header("Content-Length", reply.body.len().to_string())?;
    resp.insert_header("x-cos-request-id", request_id)?;
    METRICS.bytes_out.inc_by(reply.body.len() as u64);
    let head_only = session.req_header().method == Method::HEAD;
    session
        .write_response_header(Box::new(resp), head_only)
        .await?;
    if !head_only {
        session.write_response_body(Some(reply.body), true).await?;
    }
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
    let mut reply = Reply::xml(e.status(), e.to_xml(resource, request_id));
    if let Some(secs) = e.retry_after() {
        reply.headers.push(("Retry-After", secs.to_string()));
    }
    answer(session, reply, request_id).await
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

impl Picops {
    /// The calls picops answers itself: processing and the style API.
    async fn answer_ourselves(
        &self,
        session: &mut Session,
        route: &Route,
        call: Answered,
        identity: &Identity,
    ) -> Result<Reply, ApiError> {
        let state = &self.state;
        match call {
            Answered::Pic(call) => {
                let a = upload::handle(state, session, route, call, identity).await?;
                let mut reply = Reply::xml(200, a.xml);
                if let Some(etag) = a.etag {
                    reply.headers.push(("ETag", etag));
                }
                Ok(reply)
            }
            Answered::Style(call) => {
                let bucket = route.bucket.as_deref().unwrap_or_default();
                let body = upload::read_api_body(state, session, identity).await?;
                let upstream = state.upstreams.for_identity(identity).client();
                let xml =
                    styles::handle(call, &state.config.styles, upstream, bucket, &body).await?;
                Ok(Reply::xml(200, xml))
            }
            Answered::Image(query) => {
                let upstream = state.upstreams.for_identity(identity).client();
                let if_none_match = session
                    .req_header()
                    .headers
                    .get("if-none-match")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                realtime::handle(
                    state,
                    upstream,
                    identity,
                    route,
                    query,
                    if_none_match.as_deref(),
                )
                .await
            }
        }
    }

    fn upstream_side(&self, ctx: &Ctx) -> PResult<&crate::upstream::UpstreamSide> {
        let identity = ctx
            .identity
            .as_ref()
            .ok_or_else(|| PError::explain(ErrorType::InternalError, "no identity"))?;
        Ok(self.state.upstreams.for_identity(identity))
    }
}

#[async_trait]
impl ProxyHttp for Picops {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        Ctx {
            request_id: new_request_id(),
            operation: "Unknown",
            _in_flight: Some(InFlight::start()),
            ..Ctx::default()
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> PResult<bool> {
        let slow = self.state.config.slow_clients;
        // Bounds each body read (pingora's default is 60 s); the rate is checked per piece.
        session.set_read_timeout(Some(slow.body_idle));
        ctx.body_rate = Some(BodyRate::new(slow));
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
        let call = classify(&method, &route, has_pic_ops);
        ctx.operation = operation(&method, &route, call.as_ref());
        let keyring = &self.state.keyring;
        let image_query = matches!(call, Some(Answered::Image(_)));
        let verified = keyring
            .authenticate(
                &auth::Request {
                    method: &req.method,
                    uri: &req.uri,
                    headers: &req.headers,
                },
                std::time::SystemTime::now(),
            )
            .and_then(|id| {
                access::check_host_signed(&id, &route)?;
                access::check_signed_headers(&id, &req.headers)?;
                access::authorize(keyring, &id, &route, &method, image_query)?;
                access::check_bucket_config(&id, &route)?;
                let copy = access::copy_source(keyring, &id, &req.headers, &self.routing)?;
                Ok((id, copy))
            });
        let (identity, copy_source) = match verified {
            Ok(v) => v,
            Err(e) => {
                answer_error(session, &e, &resource, &ctx.request_id).await?;
                return Ok(true);
            }
        };
        if let Some(call) = call {
            let resource = format!("/{}", route.key);
            let started = std::time::Instant::now();
            // Every line logged while processing (ours and the upstream client's) carries the
            // request id.
            let span = tracing::info_span!("request", request_id = %ctx.request_id);
            let handled = self
                .answer_ourselves(session, &route, call.clone(), &identity)
                .instrument(span)
                .await;
            match handled {
                Ok(reply) => {
                    tracing::info!(request_id = %ctx.request_id, ?call, key = %route.key, ms = started.elapsed().as_millis() as u64, "answered");
                    answer(session, reply, &ctx.request_id).await?
                }
                Err(e) => answer_error(session, &e, &resource, &ctx.request_id).await?,
            }
            return Ok(true);
        }
        let delete_objects =
            match access::bucket_post(&route, &method, &session.req_header().headers) {
                Ok(d) => d,
                Err(e) => {
                    answer_error(session, &e, &resource, &ctx.request_id).await?;
                    return Ok(true);
                }
            };
        let decoded_length = session
            .req_header()
            .headers
            .get("x-amz-decoded-content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        ctx.guard = match BodyGuard::new(&identity.body, decoded_length, delete_objects) {
            Ok(g) => g,
            Err(e) => {
                answer_error(session, &e, &resource, &ctx.request_id).await?;
                return Ok(true);
            }
        };
        if method == Method::GET && route.bucket.is_some() && route.key.is_empty() {
            ctx.listing = Some(ListingFilter::default());
        }
        ctx.copy_source = copy_source;
        ctx.route = Some(route);
        ctx.identity = Some(identity);
        Ok(false)
    }

    async fn upstream_peer(&self, _session: &mut Session, ctx: &mut Ctx) -> PResult<Box<HttpPeer>> {
        let side = self.upstream_side(ctx)?;
        let mut peer = HttpPeer::new(side.authority(), false, String::new());
        let timeout = side.timeout();
        peer.options.connection_timeout = Some(timeout.min(std::time::Duration::from_secs(5)));
        peer.options.read_timeout = Some(timeout);
        peer.options.write_timeout = Some(timeout);
        Ok(Box::new(peer))
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut Ctx,
    ) -> PResult<()> {
        let checked = (|| {
            if let Some(b) = body.as_ref() {
                METRICS.bytes_in.inc_by(b.len() as u64);
                if let Some(rate) = ctx.body_rate.as_mut() {
                    rate.add(b.len())?;
                }
            }
            let Some(guard) = ctx.guard.as_mut() else {
                return Ok(());
            };
            // `None` would tell pingora the body ended; an empty piece is simply not written.
            let input = body.take().unwrap_or_default();
            *body = Some(guard.filter(input, end_of_stream)?);
            Ok(())
        })();
        // The reason is kept for `fail_to_proxy`, which answers it as COS XML.
        checked.map_err(|e: ApiError| {
            let status = e.status();
            ctx.failed = Some(e);
            PError::explain(ErrorType::HTTPStatus(status), "request body refused")
        })
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &PError, ctx: &mut Ctx) -> FailToProxy
    where
        Ctx: Send + Sync,
    {
        let api = ctx.failed.take().unwrap_or_else(|| match e.etype() {
            ErrorType::HTTPStatus(code) if *code < 500 => {
                ApiError::InvalidArgument(format!("bad request: {e}"))
            }
            _ => match e.esource() {
                pingora::ErrorSource::Upstream => {
                    METRICS.upstream_error("unreachable");
                    ApiError::Upstream {
                        status: 502,
                        code: "BadGateway".into(),
                        message: format!("the upstream store could not be reached: {e}"),
                    }
                }
                pingora::ErrorSource::Downstream => {
                    ApiError::InvalidArgument(format!("reading the request: {e}"))
                }
                _ => ApiError::Internal(e.to_string()),
            },
        });
        let downstream_dead = e.esource() == &pingora::ErrorSource::Downstream
            && matches!(
                e.etype(),
                ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed
            );
        let resource = session.req_header().uri.path().to_string();
        if !downstream_dead && session.response_written().is_none() {
            if let Err(err) = answer_error(session, &api, &resource, &ctx.request_id).await {
                tracing::debug!(error = %err, "could not write the error answer");
            }
        }
        FailToProxy {
            error_code: if downstream_dead { 0 } else { api.status() },
            can_reuse_downstream: false,
        }
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
        let side = self.upstream_side(ctx)?;
        let mut path = upstream_path(route.bucket.as_deref(), &route.key);
        // The client's signature parameters mean nothing upstream (picops signs anew).
        let query: Vec<&str> = route
            .params()
            .filter(|(name, _)| !auth::is_auth_param(name))
            .map(|(_, pair)| pair)
            .collect();
        if !query.is_empty() {
            path.push('?');
            path.push_str(&query.join("&"));
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
        // The store copies exactly the object that was authorised, however the client
        // spelled it.
        for (cos, amz) in COS_COPY_HEADERS {
            if let Some(v) = upstream.headers.get(*cos).cloned() {
                upstream.remove_header(*cos);
                if !upstream.headers.contains_key(*amz) {
                    upstream.insert_header(*amz, v)?;
                }
            }
        }
        if let Some(source) = &ctx.copy_source {
            upstream.insert_header("x-amz-copy-source", source.upstream_value())?;
        }
        upstream.set_uri(
            path.parse()
                .map_err(|_| PError::explain(ErrorType::InternalError, "bad upstream path"))?,
        );
        upstream.insert_header("host", side.authority())?;
        let decoded_length = ctx.guard.as_ref().and_then(BodyGuard::decoded_length);
        let signed_chunks = decoded_length.is_some();
        if let Some(decoded) = decoded_length {
            // Forwarded decoded: the chunk signatures were for picops' key, not the upstream's.
            // The guard holds the body to exactly this length.
            upstream.remove_header("x-amz-decoded-content-length");
            upstream.remove_header("transfer-encoding");
            upstream.insert_header("content-length", decoded.to_string())?;
            let encodings: Vec<String> = upstream
                .headers
                .get("content-encoding")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty() && *e != "aws-chunked")
                .map(str::to_string)
                .collect();
            upstream.remove_header("content-encoding");
            if !encodings.is_empty() {
                upstream.insert_header("content-encoding", encodings.join(","))?;
            }
        }
        let payload = match declared {
            _ if signed_chunks => Payload::Unsigned,
            Some(v) if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Payload::Declared(v)
            }
            Some(v) if v == "STREAMING-UNSIGNED-PAYLOAD-TRAILER" || v == "UNSIGNED-PAYLOAD" => {
                Payload::Declared(v)
            }
            _ => Payload::Unsigned,
        };
        // Every x-amz-* header is signed: stores such as Garage refuse unsigned ones.
        let mut signed_headers = vec![("host".to_string(), side.authority().to_string())];
        for (k, v) in upstream.headers.iter() {
            let name = k.as_str();
            if name.starts_with("x-amz-") || name == "content-md5" {
                if let Ok(v) = v.to_str() {
                    signed_headers.push((name.to_string(), v.to_string()));
                }
            }
        }
        let url = format!("http://{}{}", side.authority(), path);
        let added = side
            .signer()
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
        if ctx.listing.is_some() {
            if upstream_response.status == 200 {
                // The filtered body is shorter than the store's: its length is known only at
                // the end.
                upstream_response.remove_header("content-length");
                upstream_response.insert_header("transfer-encoding", "chunked")?;
            } else {
                ctx.listing = None;
            }
        }
        if upstream_response.status.is_server_error() {
            METRICS.upstream_error("status_5xx");
        }
        Ok(())
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut Ctx,
    ) -> PResult<Option<std::time::Duration>> {
        if let Some(filter) = ctx.listing.as_mut() {
            *body = filter
                .push(body.take(), end_of_stream)
                .map_err(|e| PError::explain(ErrorType::InternalError, e.to_string()))?;
        }
        if let Some(b) = body.as_ref() {
            METRICS.bytes_out.inc_by(b.len() as u64);
        }
        Ok(None)
    }

    async fn logging(&self, session: &mut Session, e: Option<&PError>, ctx: &mut Ctx) {
        let status = session
            .response_written()
            .map(|r| r.status.as_u16())
            .unwrap_or(0);
        METRICS
            .requests
            .with_label_values(&[ctx.operation, &status.to_string()])
            .inc();
        let req = session.req_header();
        tracing::info!(
            request_id = %ctx.request_id,
            operation = ctx.operation,
            method = %req.method,
            uri = %req.uri,
            status,
            error = e.map(|e| e.to_string()),
            "request"
        );
    }
}
