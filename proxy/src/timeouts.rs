//! Slow clients (docs/protocol.md, Limits): a request header must arrive within a deadline once
//! its first byte has, and a request body must keep flowing (an idle limit per read and a
//! minimum average rate), so a client trickling bytes cannot hold a connection, an upstream
//! connection or a share of the memory budget for long.
//!
//! pingora only bounds each read (60 s), which a client sending a byte a second never trips;
//! the header deadline is enforced by [`HeaderDeadline`], which wraps the proxy's
//! `ServerApp` and reads the whole header before pingora does, handing the bytes back with
//! `l4::Stream::rewind`. A header is only handed over complete: pingora would read the rest
//! without the deadline. The wrapper also runs the HTTP/1 keep-alive loop itself, so the
//! header of every later request on a connection passes the same deadline.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ServerApp};
use pingora::protocols::http::ServerSession;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::{GetSocketDigest, Stream};
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

/// Largest request header picops accepts (S3 allows far less). Larger ones are refused
/// rather than handed to pingora unfinished, and it bounds what a connection holds meanwhile.
const MAX_HEADER: usize = 64 * 1024;

/// How long a refused connection is drained before it is closed, so that the client's
/// unread bytes do not turn the close into a reset that discards the answer.
const LINGER: Duration = Duration::from_secs(1);

tokio::task_local! {
    /// The peer address of the connection whose requests the current task serves.
    static CLIENT: Option<IpAddr>;
}

/// The address of the client whose request is being handled, if known. pingora serves a
/// connection's HTTP/1 requests on the task that entered [`HeaderDeadline`], which records
/// the address there, so handlers that never see the `Session` can still tell clients apart.
pub fn client_ip() -> Option<IpAddr> {
    CLIENT.try_with(|c| *c).ok().flatten()
}

fn peer_ip(stream: &L4Stream) -> Option<IpAddr> {
    let digest = stream.get_socket_digest()?;
    let addr = digest.peer_addr()?.as_inet()?;
    Some(addr.ip())
}

/// Serves one HTTP/1 request whose header is already in the stream, and hands the connection
/// back when it may serve another (with the settings its next request keeps).
#[async_trait]
pub trait ServeRequest: Send + Sync + 'static {
    async fn serve_request(
        self: &Arc<Self>,
        stream: Stream,
        settings: Option<HttpPersistentSettings>,
        shutdown: &ShutdownWatch,
    ) -> Option<(Stream, Option<HttpPersistentSettings>)>;

    /// Called once the service stops listening.
    async fn cleanup(&self) {}
}

#[async_trait]
impl<T: HttpServerApp + Send + Sync + 'static> ServeRequest for T {
    async fn serve_request(
        self: &Arc<Self>,
        stream: Stream,
        settings: Option<HttpPersistentSettings>,
        shutdown: &ShutdownWatch,
    ) -> Option<(Stream, Option<HttpPersistentSettings>)> {
        let mut session = ServerSession::new_http1(stream);
        match settings {
            Some(settings) => settings.apply_to_session(&mut session),
            // A connection's first request, set up as pingora's own HTTP/1 loop does.
            None => {
                let keepalive = (!*shutdown.borrow()).then_some(60);
                session.set_keepalive(keepalive);
                session.set_keepalive_reuses_remaining(
                    self.server_options()
                        .and_then(|o| o.keepalive_request_limit),
                );
            }
        }
        self.process_new_http(session, shutdown)
            .await
            .map(|reused| reused.consume())
    }

    async fn cleanup(&self) {
        self.http_cleanup().await
    }
}

/// Wraps the proxy app: every request's header, the first of a connection and each one
/// after it on a kept-alive connection, is read under the deadline first.
pub struct HeaderDeadline<A> {
    pub inner: Arc<A>,
    pub limits: SlowClientLimits,
}

enum HeaderRead {
    /// The whole header is there (with whatever followed it).
    Complete(Vec<u8>),
    /// Nothing arrived (idle keep-alive, or the client closed): close quietly.
    Nothing,
    /// Part of a header, then too slow.
    TooSlow,
    /// More than [`MAX_HEADER`] bytes and no end of the header.
    TooLarge,
}

/// Finds the end of a request header in bytes arriving piece by piece, looking at each byte
/// once (rescanning the buffer on every read would let a client sending one byte per packet
/// make the work quadratic).
#[derive(Default)]
struct HeaderEnd {
    /// A non-empty line was seen: empty lines before the request line do not end anything,
    /// as the HTTP parser skips them.
    started: bool,
    /// Bytes on the current line, carriage returns aside.
    line_len: usize,
}

impl HeaderEnd {
    /// Whether the header ends within `bytes` (the bytes after the previous ones).
    fn feed(&mut self, bytes: &[u8]) -> bool {
        for &b in bytes {
            match b {
                // An empty line (LF or CRLF, as the parser accepts both) after the request line.
                b'\n' if self.started && self.line_len == 0 => return true,
                b'\n' => {
                    self.started |= self.line_len > 0;
                    self.line_len = 0;
                }
                b'\r' => {}
                _ => self.line_len += 1,
            }
        }
        false
    }
}

async fn read_header(stream: &mut L4Stream, limits: &SlowClientLimits) -> HeaderRead {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    let mut end = HeaderEnd::default();
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
            // Closed: let pingora see what there is (an incomplete request is its to refuse,
            // and with the client gone it cannot wait for more).
            return if buf.is_empty() {
                HeaderRead::Nothing
            } else {
                HeaderRead::Complete(buf)
            };
        }
        buf.extend_from_slice(&chunk[..n]);
        deadline.get_or_insert_with(|| Instant::now() + limits.header);
        if end.feed(&chunk[..n]) {
            return HeaderRead::Complete(buf);
        }
        if buf.len() > MAX_HEADER {
            return HeaderRead::TooLarge;
        }
    }
}

/// Answer `e` on a connection pingora never saw; the caller then closes it.
async fn refuse(stream: &mut L4Stream, e: &ApiError, operation: &str) {
    let status = e.status();
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let body = e.to_xml("", "");
    let resp = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    crate::metrics::METRICS
        .requests
        .with_label_values(&[operation, &status.to_string()])
        .inc();
    if stream.write_all(resp.as_bytes()).await.is_err() || stream.flush().await.is_err() {
        return;
    }
    let _ = stream.shutdown().await;
    // Whatever the client still sends is read and dropped, for a bounded time.
    let drain = async {
        let mut sink = [0u8; 4096];
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

#[async_trait]
impl<A> ServerApp for HeaderDeadline<A>
where
    A: ServeRequest,
{
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        // Plain TCP is all picops listens on; anything else is closed.
        let Ok(l4) = stream.into_any().downcast::<L4Stream>() else {
            return None;
        };
        let client = peer_ip(&l4);
        CLIENT
            .scope(client, self.serve_connection(l4, shutdown))
            .await
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await
    }
}

impl<A: ServeRequest> HeaderDeadline<A> {
    async fn serve_connection(
        self: &Arc<Self>,
        mut l4: Box<L4Stream>,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let mut settings = None;
        loop {
            match read_header(&mut l4, &self.limits).await {
                HeaderRead::Complete(bytes) => l4.rewind(&bytes),
                HeaderRead::Nothing => return None,
                HeaderRead::TooSlow => {
                    let e = ApiError::RequestTimeout(format!(
                        "the request header did not arrive within {} s",
                        self.limits.header.as_secs()
                    ));
                    refuse(&mut l4, &e, "SlowHeader").await;
                    return None;
                }
                HeaderRead::TooLarge => {
                    let e = ApiError::InvalidArgument(format!(
                        "the request header is larger than {MAX_HEADER} bytes"
                    ));
                    refuse(&mut l4, &e, "HeaderTooLarge").await;
                    return None;
                }
            }
            let (stream, next) = self.inner.serve_request(l4, settings, shutdown).await?;
            settings = next;
            // A kept-alive connection comes back for its next request's header.
            l4 = stream.into_any().downcast::<L4Stream>().ok()?;
        }
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
    use pingora::protocols::SocketDigest;
    use std::os::fd::AsRawFd;
    use std::sync::Mutex;
    use tokio::net::TcpStream;

    #[test]
    fn the_header_ends_at_the_first_empty_line_after_the_request_line() {
        let mut end = HeaderEnd::default();
        assert!(!end.feed(b"GET / HTTP/1.1\r\nHost: a\r"));
        assert!(!end.feed(b"\n\r"));
        assert!(end.feed(b"\nbody"), "split across reads");
        assert!(
            HeaderEnd::default().feed(b"GET / HTTP/1.1\nHost: a\n\n"),
            "bare LF"
        );
        let mut end = HeaderEnd::default();
        assert!(
            !end.feed(b"\r\n\r\n\n"),
            "blank lines before a request are skipped"
        );
        assert!(end.feed(b"GET / HTTP/1.1\r\n\r\n"));
    }

    /// Stands in for pingora: records the client address it runs under, then reads what it
    /// is handed with no deadline at all until the client closes.
    #[derive(Default)]
    struct Swallow {
        calls: Mutex<Vec<Option<IpAddr>>>,
    }

    #[async_trait]
    impl ServeRequest for Swallow {
        async fn serve_request(
            self: &Arc<Self>,
            mut stream: Stream,
            _settings: Option<HttpPersistentSettings>,
            _shutdown: &ShutdownWatch,
        ) -> Option<(Stream, Option<HttpPersistentSettings>)> {
            self.calls
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(client_ip());
            let mut sink = [0u8; 4096];
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            None
        }
    }

    const HEADER_DEADLINE: Duration = Duration::from_millis(600);

    struct Outcome {
        answer: String,
        /// From the client's first byte until the server closed.
        took: Duration,
        /// Client addresses the wrapped app was called with.
        calls: Vec<Option<IpAddr>>,
    }

    /// One connection served by [`HeaderDeadline`] around [`Swallow`]: the client sends
    /// `head` at once, then, if `trickle`, a byte every 100 ms for as long as it can, else
    /// nothing more (and closes its side).
    async fn serve_one(head: Vec<u8>, trickle: bool) -> Outcome {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local address");
        let inner = Arc::new(Swallow::default());
        let app = Arc::new(HeaderDeadline {
            inner: inner.clone(),
            limits: SlowClientLimits {
                idle: Duration::from_secs(5),
                header: HEADER_DEADLINE,
                body_idle: Duration::from_secs(5),
                body_min_rate: 0,
                body_grace: Duration::from_secs(5),
            },
        });
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut l4 = L4Stream::from(tcp);
            // As pingora's listener does.
            l4.set_socket_digest(SocketDigest::from_raw_fd(l4.as_raw_fd()));
            let (_keep, shutdown) = tokio::sync::watch::channel(false);
            drop(app.process_new(Box::new(l4), &shutdown).await);
        });
        let (mut rd, mut wr) = TcpStream::connect(addr)
            .await
            .expect("connect")
            .into_split();
        let started = Instant::now();
        let writer = tokio::spawn(async move {
            if wr.write_all(&head).await.is_err() || !trickle {
                return;
            }
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if wr.write_all(b"a").await.is_err() {
                    return;
                }
            }
        });
        let mut answer = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(10), rd.read_to_end(&mut answer)).await;
        let took = started.elapsed();
        writer.abort();
        assert!(closed.is_ok(), "the connection was still open after 10 s");
        server.await.expect("server task");
        let calls = inner
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Outcome {
            answer: String::from_utf8_lossy(&answer).into_owned(),
            took,
            calls,
        }
    }

    /// Header lines adding up to `size` bytes, without the empty line that would end them.
    fn unfinished_header(size: usize) -> Vec<u8> {
        let mut head = b"GET /bucket/key HTTP/1.1\r\nHost: a\r\n".to_vec();
        let mut i = 0;
        while head.len() < size {
            head.extend_from_slice(format!("X-Pad-{i}: {}\r\n", "a".repeat(100)).as_bytes());
            i += 1;
        }
        head
    }

    #[tokio::test]
    async fn a_header_over_64_kib_then_a_trickle_is_closed_by_the_deadline() {
        let out = serve_one(unfinished_header(70_000), true).await;
        assert!(out.answer.starts_with("HTTP/1.1 400 "), "{}", out.answer);
        assert!(out.answer.contains("<Code>InvalidArgument</Code>"));
        assert!(out.took < HEADER_DEADLINE, "closed after {:?}", out.took);
        assert!(out.calls.is_empty(), "never handed over to pingora");
    }

    #[tokio::test]
    async fn a_large_header_under_the_limit_then_a_trickle_gets_a_408() {
        let out = serve_one(unfinished_header(60_000), true).await;
        assert!(
            out.answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{}",
            out.answer
        );
        assert!(out.answer.contains("<Code>RequestTimeout</Code>"));
        assert!(out.took >= HEADER_DEADLINE);
        assert!(
            out.took < HEADER_DEADLINE + Duration::from_secs(2),
            "{:?}",
            out.took
        );
        assert!(out.calls.is_empty());
    }

    #[tokio::test]
    async fn blank_lines_then_a_trickle_are_not_handed_over_as_a_header() {
        let out = serve_one(b"\r\n\r\n".to_vec(), true).await;
        assert!(out.answer.starts_with("HTTP/1.1 408 "), "{}", out.answer);
        assert!(
            out.took < HEADER_DEADLINE + Duration::from_secs(2),
            "{:?}",
            out.took
        );
        assert!(out.calls.is_empty());
    }

    #[tokio::test]
    async fn a_whole_header_is_handed_over_with_the_client_address() {
        let out = serve_one(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), false).await;
        assert_eq!(out.answer, "");
        assert_eq!(out.calls, vec![Some(IpAddr::from([127, 0, 0, 1]))]);
        assert_eq!(client_ip(), None, "only within the connection's task");
    }

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
