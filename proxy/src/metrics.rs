//! Prometheus metrics, served by the ops listener at `/metrics`. One process-wide registry:
//! counters are touched from the proxy phases, the upload flow and the upstream client.

use std::sync::LazyLock;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    /// Requests answered, by operation and HTTP status.
    pub requests: IntCounterVec,
    /// Seconds spent decoding and running rules, by processor (`decode`, `imageMogr2`, …).
    pub processing_seconds: HistogramVec,
    /// Body bytes received from clients.
    pub bytes_in: IntCounter,
    /// Body bytes sent to clients.
    pub bytes_out: IntCounter,
    /// Bytes of request bodies held in memory by processing requests right now.
    pub buffered_bytes: IntGauge,
    /// Requests being served right now.
    pub in_flight: IntGauge,
    /// Upstream failures, by kind (`unreachable`, `timeout`, `status`).
    pub upstream_errors: IntCounterVec,
    /// GET-time processing results, by `hit` or `miss` of the result cache.
    pub result_cache: IntCounterVec,
}

fn build() -> Result<Metrics, prometheus::Error> {
    let registry = Registry::new_custom(Some("picops".into()), None)?;
    let m = Metrics {
        requests: IntCounterVec::new(
            Opts::new(
                "requests_total",
                "Requests answered, by operation and status",
            ),
            &["operation", "status"],
        )?,
        processing_seconds: HistogramVec::new(
            HistogramOpts::new("processing_seconds", "Decode and rule time, by processor").buckets(
                vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                ],
            ),
            &["processor"],
        )?,
        bytes_in: IntCounter::new("bytes_in_total", "Request body bytes received")?,
        bytes_out: IntCounter::new("bytes_out_total", "Response body bytes sent")?,
        buffered_bytes: IntGauge::new(
            "buffered_body_bytes",
            "Request body bytes held in memory by processing requests now",
        )?,
        in_flight: IntGauge::new("requests_in_flight", "Requests being served now")?,
        upstream_errors: IntCounterVec::new(
            Opts::new("upstream_errors_total", "Failed upstream requests, by kind"),
            &["kind"],
        )?,
        result_cache: IntCounterVec::new(
            Opts::new(
                "result_cache_total",
                "GET-time processing results by cache outcome",
            ),
            &["result"],
        )?,
        registry,
    };
    m.registry.register(Box::new(m.requests.clone()))?;
    m.registry
        .register(Box::new(m.processing_seconds.clone()))?;
    m.registry.register(Box::new(m.bytes_in.clone()))?;
    m.registry.register(Box::new(m.bytes_out.clone()))?;
    m.registry.register(Box::new(m.buffered_bytes.clone()))?;
    m.registry.register(Box::new(m.in_flight.clone()))?;
    m.registry.register(Box::new(m.upstream_errors.clone()))?;
    m.registry.register(Box::new(m.result_cache.clone()))?;
    Ok(m)
}

/// Metric names and labels are constants, so building them cannot fail at run time.
pub static METRICS: LazyLock<Metrics> =
    LazyLock::new(|| build().unwrap_or_else(|e| panic!("metric definitions are invalid: {e}")));

impl Metrics {
    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    pub fn upstream_error(&self, kind: &str) {
        self.upstream_errors.with_label_values(&[kind]).inc();
    }
}

/// Counts a request in `picops_requests_in_flight` for as long as it lives; shutdown waits
/// for the count to reach zero.
pub struct InFlight;

impl InFlight {
    pub fn start() -> InFlight {
        METRICS.in_flight.inc();
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        METRICS.in_flight.dec();
    }
}

/// Body bytes a processing request holds, reflected in `picops_buffered_body_bytes` until
/// the request ends.
#[derive(Default)]
pub struct Buffered(i64);

impl Buffered {
    pub fn add(&mut self, bytes: usize) {
        let n = bytes as i64;
        self.0 += n;
        METRICS.buffered_bytes.add(n);
    }
}

impl Drop for Buffered {
    fn drop(&mut self) {
        METRICS.buffered_bytes.sub(self.0);
    }
}
