//! The typed request a handler gets: method, canonical route, headers, and a body it can
//! read once, verified against the signature as it arrives. The connection behind the body
//! stays the gateway's.

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method};

use crate::auth::BodyCheck;
use crate::body_guard::{self, BodyGuard};
use crate::error::ApiError;
use crate::metrics::{Buffered, METRICS};
use crate::route::Route;
use crate::timeouts::{BodyRate, SlowClientLimits};

/// Where a request's body comes from: the client connection, behind the gateway.
#[async_trait]
pub trait BodySource: Send + Sync {
    /// The next piece of the body; `None` at its end.
    async fn next_piece(&mut self) -> Result<Option<Bytes>, ApiError>;
    /// Tell a client waiting on `Expect: 100-continue` to send its body.
    async fn send_continue(&mut self) -> Result<(), ApiError>;
}

pub struct Request<'a> {
    pub method: Method,
    pub route: Route,
    pub headers: HeaderMap,
    body: &'a mut dyn BodySource,
    slow: SlowClientLimits,
}

impl<'a> Request<'a> {
    pub fn new(
        method: Method,
        route: Route,
        headers: HeaderMap,
        body: &'a mut dyn BodySource,
        slow: SlowClientLimits,
    ) -> Request<'a> {
        Request {
            method,
            route,
            headers,
            body,
            slow,
        }
    }

    /// A header's value; not ASCII is the client's error.
    pub fn header(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.headers.get(name) {
            None => Ok(None),
            Some(v) => v
                .to_str()
                .map(Some)
                .map_err(|_| ApiError::InvalidArgument(format!("header {name} is not ASCII"))),
        }
    }

    /// The request's bucket; handlers are only reached for requests that name one.
    pub fn bucket(&self) -> Result<&str, ApiError> {
        self.route
            .bucket
            .as_deref()
            .ok_or_else(|| ApiError::InvalidArgument("no bucket in the request".into()))
    }

    /// The body length the client announced (decoded length for aws-chunked bodies), refused
    /// with 413 when over `cap`, before a byte is read.
    pub fn declared_within(&self, cap: u64) -> Result<Option<u64>, ApiError> {
        let declared = body_guard::decoded_length(&self.headers).or(self
            .header("content-length")?
            .and_then(|v| v.trim().parse::<u64>().ok()));
        if declared.is_some_and(|n| n > cap) {
            return Err(too_large(cap));
        }
        Ok(declared)
    }

    /// Read the whole body, refusing it from its announced length when over `cap` and
    /// stopping as soon as the bytes read cross it, or the announced length, otherwise;
    /// aws-chunked framing is removed and what the signature says of the body is checked by
    /// the one body verifier.
    pub async fn read_body(
        &mut self,
        cap: u64,
        check: &BodyCheck,
        held: &mut Buffered,
    ) -> Result<Bytes, ApiError> {
        let declared = self.declared_within(cap)?;
        let mut guard = BodyGuard::buffered(check, &self.headers)?;
        if self
            .header("expect")?
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        {
            self.body.send_continue().await?;
        }
        let mut buf = BytesMut::with_capacity(declared.unwrap_or(0).min(cap) as usize);
        let mut rate = BodyRate::new(self.slow);
        let idle = self.slow.body_idle;
        loop {
            let piece = tokio::time::timeout(idle, self.body.next_piece())
                .await
                .map_err(|_| {
                    ApiError::RequestTimeout(format!(
                        "no part of the request body arrived for {} s",
                        idle.as_secs()
                    ))
                })??;
            let end = piece.is_none();
            let piece = piece.unwrap_or_default();
            METRICS.bytes_in.inc_by(piece.len() as u64);
            rate.add(piece.len())?;
            // Verified piece by piece while each is still in cache, and so that a large body
            // never holds the reactor for one long pass at the end.
            let verified = guard.filter(piece, end)?;
            held.add(verified.len());
            buf.extend_from_slice(&verified);
            if buf.len() as u64 > cap {
                return Err(too_large(cap));
            }
            // Callers reserve memory for the announced length: a body that outgrows it (a
            // `Content-Length` beside `Transfer-Encoding: chunked`, a decoded length that
            // lies) would be held unreserved.
            if let Some(declared) = declared.filter(|&d| buf.len() as u64 > d) {
                return Err(ApiError::InvalidArgument(format!(
                    "the body is longer than the {declared} bytes its headers announced"
                )));
            }
            if end {
                return Ok(buf.freeze());
            }
        }
    }
}

fn too_large(cap: u64) -> ApiError {
    ApiError::EntityTooLarge(format!("the body exceeds the limit of {cap} bytes"))
}

/// Largest body of an API call picops reads itself (a multipart completion, a style).
pub const MAX_API_BODY: u64 = 1024 * 1024;
