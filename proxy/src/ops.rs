//! The operations listener (`--ops-listen`, separate from client traffic so no bucket name
//! can collide with it): `/metrics` (Prometheus), `/healthz` (the process serves) and
//! `/readyz` (the upstream answers).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http::{Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use crate::metrics::METRICS;
use crate::upstream::UpstreamClient;

pub struct Ops {
    pub upstream: Arc<UpstreamClient>,
}

fn text(status: StatusCode, content_type: &str, body: String) -> Response<Vec<u8>> {
    let body = body.into_bytes();
    Response::builder()
        .status(status)
        .header("Content-Type", content_type)
        .header("Content-Length", body.len())
        .body(body)
        .unwrap_or_default()
}

#[async_trait]
impl ServeHttp for Ops {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let path = session.req_header().uri.path().to_string();
        match path.as_str() {
            "/metrics" => text(
                StatusCode::OK,
                "text/plain; version=0.0.4",
                METRICS.render(),
            ),
            "/healthz" => text(StatusCode::OK, "text/plain", "ok\n".into()),
            "/readyz" => match self.upstream.ping(Duration::from_secs(2)).await {
                Ok(()) => text(StatusCode::OK, "text/plain", "ready\n".into()),
                Err(e) => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    format!("upstream not reachable: {e}\n"),
                ),
            },
            _ => text(
                StatusCode::NOT_FOUND,
                "text/plain",
                "the ops listener serves /metrics, /healthz and /readyz\n".into(),
            ),
        }
    }
}
