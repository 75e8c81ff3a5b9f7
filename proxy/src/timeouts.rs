//! Slow clients (PROTOCOL §6, issue 8): a request header must arrive within a deadline once
//! its first byte has, and a request body must keep flowing (an idle limit per read and a
//! minimum average rate), so a client trickling bytes cannot hold a connection, an upstream
//! connection or a share of the memory budget for long.
//!
//! pingora only bounds each read (60 s), which a client sending a byte a second never trips;
//! the header deadline is enforced by [`HeaderDeadline`], which wraps the proxy's
//! `ServerApp` and reads the header before pingora does, handing the bytes back with
//! `l4::Stream::rewind`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::ApiError;

/// Limits on how slowly a client may send.
#[derive(Debug, Clone, Copy)]
pub struct SlowClientLimits {
    /// An idle connection (no byte of a next request) is closed after this.
    pub idle: Duration,
    /// Once a request's first byte arrived, its whole header must within this.
    pub header: Duration,
    /// Longest wait for any piece of a request body.
    pub body_idle: Duration,
    /// Average body bytes per second a request must keep up, checked after `body_grace`.
    pub body_min_rate: u64,
    pub body_grace: Duration,
}

/// Largest request header picops reads ahead; pingora enforces its own limit after it.
const MAX_HEADER: usize = 64 * 1024;

/// Wraps the proxy app: every request's header is read under the deadline first.
pub struct HeaderDeadline<A> {
    pub inner: Arc<A>,
    pub limits: SlowClientLimits,
}

enum HeaderRead {
    /// The header (or as much as the read-ahead limit) is there.
    Complete(Vec<u8>),
    /// Nothing arrived (idle keep-alive, or the client closed): close quietly.
    Nothing,
    /// Part of a header, then too slow.
    TooSlow,
}

async fn read_header(stream: &mut L4Stream, limits: &SlowClientLimits) -> HeaderRead {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    let mut deadline: Option<Instant> = None;
    loop {
        let wait = match deadline {
            None => limits.idle,
            Some(d) => d.saturating_duration_since(Instant::now()),
        };
        let n = match tokio::time::timeout(wait, stream.read(&mut chunk)).await {
            Ok(Ok(n)) => n,
            Ok(Err(_)) => return HeaderRead::Nothing,
            Err(_) if buf.is_empty() => return HeaderRead::Nothing,
            Err(_) => return HeaderRead::TooSlow,
        };
        if n == 0 {
            // Closed: let pingora see what there is (an incomplete request is its to refuse).
            return if buf.is_empty() {
                HeaderRead::Nothing
            } else {
                HeaderRead::Complete(buf)
            };
        }
        buf.extend_from_slice(&chunk[..n]);
        deadline.get_or_insert_with(|| Instant::now() + limits.header);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.len() >= MAX_HEADER {
            return HeaderRead::Complete(buf);
        }
    }
}

#[async_trait]
impl<A> ServerApp for HeaderDeadline<A>
where
    A: ServerApp + Send + Sync + 'static,
{
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        // Plain TCP is all picops listens on; anything else is closed.
        let Ok(mut l4) = stream.into_any().downcast::<L4Stream>() else {
            return None;
        };
        match read_header(&mut l4, &self.limits).await {
            HeaderRead::Complete(bytes) => l4.rewind(&bytes),
            HeaderRead::Nothing => return None,
            HeaderRead::TooSlow => {
                let e = ApiError::RequestTimeout(format!(
                    "the request header did not arrive within {} s",
                    self.limits.header.as_secs()
                ));
                let body = e.to_xml("", "");
                let resp = format!(
                    "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/xml\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = l4.write_all(resp.as_bytes()).await;
                let _ = l4.flush().await;
                crate::metrics::METRICS
                    .requests
                    .with_label_values(&["SlowHeader", "408"])
                    .inc();
                return None;
            }
        }
        let stream: Stream = l4;
        self.inner.process_new(stream, shutdown).await
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await
    }
}

/// Checks that a request body keeps flowing at the minimum average rate.
pub struct BodyRate {
    started: Instant,
    bytes: u64,
    limits: SlowClientLimits,
}

impl BodyRate {
    pub fn new(limits: SlowClientLimits) -> BodyRate {
        BodyRate {
            started: Instant::now(),
            bytes: 0,
            limits,
        }
    }

    /// Account for `n` more bytes; an error once the average has fallen below the minimum.
    pub fn add(&mut self, n: usize) -> Result<(), ApiError> {
        self.bytes += n as u64;
        let elapsed = self.started.elapsed();
        if elapsed > self.limits.body_grace
            && (self.bytes as f64) < self.limits.body_min_rate as f64 * elapsed.as_secs_f64()
        {
            return Err(ApiError::RequestTimeout(format!(
                "the request body arrives at {:.0} bytes/s, below the minimum of {} bytes/s",
                self.bytes as f64 / elapsed.as_secs_f64(),
                self.limits.body_min_rate
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_rate_allows_a_grace_period_then_requires_the_minimum() {
        let limits = SlowClientLimits {
            idle: Duration::from_secs(60),
            header: Duration::from_secs(10),
            body_idle: Duration::from_secs(10),
            body_min_rate: 1000,
            body_grace: Duration::from_millis(50),
        };
        let mut r = BodyRate::new(limits);
        assert!(r.add(1).is_ok()); // within the grace period
        std::thread::sleep(Duration::from_millis(120));
        assert!(r.add(1).is_err()); // 2 bytes in 0.12 s
        let mut r = BodyRate::new(limits);
        std::thread::sleep(Duration::from_millis(120));
        assert!(r.add(100_000).is_ok()); // far above the minimum unless the sleep took 100 s
    }
}
