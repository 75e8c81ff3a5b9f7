//! The pingora side, and the only module that sees it: one `ProxyHttp` impl. Each request
//! is routed to its canonical (bucket, key), classified into one [`Operation`],
//! authenticated and authorised, then either answered by its handler or passed through.

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
use crate::cos_dialect;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::handlers;
use crate::metrics::{InFlight, METRICS};
use crate::operation::Operation;
use crate::passthrough::Passthrough;
use crate::reply::Reply;
use crate::request::{BodySource, Request};
use crate::route::{self, CopySource, Route};

pub struct Picops {
    pub engine: Arc<Engine>,
}

#[derive(Default)]
pub struct Ctx {
    pub request_id: String,
    /// The operation's metric label.
    operation: &'static str,
    _in_flight: Option<InFlight>,
    passthrough: Option<Passthrough>,
    /// Why a passthrough was stopped, answered by `fail_to_proxy`.
    failed: Option<ApiError>,
}

pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The client connection as a handler's body source.
struct SessionBody<'s>(&'s mut Session);

#[async_trait]
impl BodySource for SessionBody<'_> {
    async fn next_piece(&mut self) -> Result<Option<Bytes>, ApiError> {
        self.0
            .read_request_body()
            .await
            .map_err(|e| ApiError::InvalidArgument(format!("reading the request body: {e}")))
    }

    async fn send_continue(&mut self) -> Result<(), ApiError> {
        self.0
            .write_continue_response()
            .await
            .map_err(|e| ApiError::Internal(format!("writing 100 Continue: {e}")))
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

impl Picops {
    /// The canonical route and the operation, decided before anything is authorised.
    fn classify(&self, req: &RequestHeader) -> Result<(Route, Operation), ApiError> {
        if req.method == Method::CONNECT {
            return Err(ApiError::NotImplemented(
                "CONNECT tunnels are not supported: picops proxies plain HTTP only; point the \
                 client at picops over http://"
                    .into(),
            ));
        }
        let engine = &self.engine;
        let host = req.headers.get("host").and_then(|h| h.to_str().ok());
        let route = route::route(&req.uri, host, &engine.routing)?;
        let has_pic_ops = req.headers.contains_key("pic-operations");
        let cos_client =
            cos_dialect::is_cos_client(&req.headers, route.query.as_deref().unwrap_or(""));
        let content_type = req
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok());
        let operation =
            Operation::classify(&req.method, &route, has_pic_ops, cos_client, content_type);
        Ok((route, operation))
    }

    /// Authenticate the request and authorise every bucket and key it names.
    fn authorize(
        &self,
        req: &RequestHeader,
        route: &Route,
        operation: &Operation,
    ) -> Result<(Identity, Option<CopySource>), ApiError> {
        let engine = &self.engine;
        let keyring = &engine.keyring;
        let identity = keyring.authenticate(
            &auth::Request {
                method: &req.method,
                uri: &req.uri,
                headers: &req.headers,
            },
            std::time::SystemTime::now(),
        )?;
        access::check_host_signed(&identity, route)?;
        access::check_signed_headers(&identity, &req.headers)?;
        let image_query = operation.is_image_query();
        // A form upload is signed inside its body: its handler verifies the form's policy
        // and signature and authorises the caller (handlers/post_object.rs). Only that
        // operation, which is never passed through, skips this check.
        if *operation != Operation::PostObject {
            access::authorize(keyring, &identity, route, &req.method, image_query)?;
        }
        access::check_bucket_config(&identity, route)?;
        let copy = access::copy_source(keyring, &identity, &req.headers, &engine.routing)?;
        Ok((identity, copy))
    }

    fn passthrough<'c>(&self, ctx: &'c Ctx) -> PResult<&'c Passthrough> {
        ctx.passthrough
            .as_ref()
            .ok_or_else(|| PError::explain(ErrorType::InternalError, "not a passthrough"))
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
        let slow = self.engine.config.slow_clients;
        // Bounds each body read (pingora's default is 60 s); the rate is checked per piece.
        session.set_read_timeout(Some(slow.body_idle));
        let req = session.req_header();
        let resource = req.uri.path().to_string();
        let admitted = self.classify(req).and_then(|(route, operation)| {
            ctx.operation = operation.label();
            let (identity, copy) = self.authorize(req, &route, &operation)?;
            Ok((route, operation, identity, copy))
        });
        let (route, operation, identity, copy_source) = match admitted {
            Ok(v) => v,
            Err(e) => {
                answer_error(session, &e, &resource, &ctx.request_id).await?;
                return Ok(true);
            }
        };
        if let Operation::Passthrough(_) = operation {
            let (method, headers) = (req.method.clone(), req.headers.clone());
            match Passthrough::new(
                route,
                identity,
                copy_source,
                &method,
                &headers,
                &resource,
                &self.engine.config,
            ) {
                Ok(p) => ctx.passthrough = Some(p),
                Err(e) => {
                    answer_error(session, &e, &resource, &ctx.request_id).await?;
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        let resource = format!("/{}", route.key);
        let key = route.key.clone();
        let started = std::time::Instant::now();
        let (method, headers) = (req.method.clone(), req.headers.clone());
        // Every line logged while handling (ours and the upstream client's) carries the
        // request id.
        let span = tracing::info_span!("request", request_id = %ctx.request_id);
        let label = operation.label();
        let handled = {
            let mut body = SessionBody(session);
            let request = Request::new(method, route, headers, &mut body, slow);
            handlers::handle(&self.engine, operation, request, &identity)
                .instrument(span)
                .await
        };
        match handled {
            Ok(reply) => {
                tracing::info!(request_id = %ctx.request_id, operation = label, %key, ms = started.elapsed().as_millis() as u64, "answered");
                answer(session, reply, &ctx.request_id).await?
            }
            Err(e) => answer_error(session, &e, &resource, &ctx.request_id).await?,
        }
        Ok(true)
    }

    async fn upstream_peer(&self, _session: &mut Session, ctx: &mut Ctx) -> PResult<Box<HttpPeer>> {
        let p = self.passthrough(ctx)?;
        let side = self.engine.upstreams.for_identity(&p.identity);
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
        let Some(p) = ctx.passthrough.as_mut() else {
            return Ok(());
        };
        // The reason is kept for `fail_to_proxy`, which answers it as COS XML.
        p.request_body(body, end_of_stream).map_err(|e| {
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
        let p = self.passthrough(ctx)?;
        let side = self.engine.upstreams.for_identity(&p.identity);
        p.upstream_request(upstream, side)
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut Ctx,
    ) -> PResult<()> {
        match ctx.passthrough.as_mut() {
            Some(p) => p.response(upstream_response, &ctx.request_id),
            None => Ok(()),
        }
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut Ctx,
    ) -> PResult<Option<std::time::Duration>> {
        if let Some(p) = ctx.passthrough.as_mut() {
            p.response_body(body, end_of_stream)?;
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
