//! The Pic-Operations flow, top to bottom (docs/protocol.md, the three calls and UploadResult):
//!
//! 1. parse and validate the header and every rule (nothing read, nothing written yet);
//! 2. get the source bytes: the request body (capped), the stored object (`?image_process`),
//!    or the assembled object after completing a multipart upload upstream;
//! 3. decode once and run every rule on the bounded blocking pool, under a deadline;
//! 4. write the original (PUT only) and every result upstream; on a failed write, delete
//!    what this request created and answer 5xx;
//! 5. answer `UploadResult` (or `CompleteMultipartUploadResult`) XML.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use picops_processor::{ImageInfo, Output, Plan, Rule};

use pingora::proxy::Session;
use sha2::Digest;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::auth::{AwsChunked, BodyCheck, Identity, Keyring};
use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::{Buffered, METRICS};
use crate::pic_ops::{self, PicOperations};
use crate::rate_limit::{RateBudget, RateLimiter};
use crate::route::{validate_key, Route};
use crate::styles;
use crate::timeouts::{BodyRate, SlowClientLimits};
use crate::upstream::{UpstreamClient, Upstreams};
use crate::watermarks;
use crate::xml::{self, OriginalInfo, ProcessedObject};

/// Shared by every request.
pub struct State {
    pub config: Config,
    pub keyring: Keyring,
    /// How picops reaches the upstream on behalf of each caller.
    pub upstreams: Upstreams,
    /// Permits for the blocking pool: at most `workers` images are processed at once.
    pub workers: Arc<Semaphore>,
    /// The memory budget in KiB permits: bodies and pixels held by all requests together.
    pub memory: Arc<Semaphore>,
    pub rate_limiter: RateLimiter,
    /// Recent GET-time processing results.
    pub result_cache: crate::realtime::ResultCache,
}

impl State {
    /// Take one of `bucket`'s processing tokens (docs/protocol.md, Limits), or say when to retry.
    pub fn admit(&self, bucket: &str) -> Result<(), ApiError> {
        self.rate_limiter
            .admit(bucket, Instant::now())
            .map_err(|secs| {
                ApiError::SlowDown(format!(
                    "bucket {bucket} is over its rate of {} processing requests per second; retry in {secs} s",
                    self.config.rate_limit
                ))
            })
    }

    /// Take a processing token for a GET: a signed caller's from the bucket, an anonymous
    /// one's from its client address, so anonymous traffic cannot lock the bucket's users out.
    /// The budget is returned for [`State::refund`].
    pub fn admit_get(&self, bucket: &str, identity: &Identity) -> Result<RateBudget, ApiError> {
        let anonymous = identity.credential.is_none();
        let budget = RateBudget::of(bucket, anonymous, crate::timeouts::client_ip());
        self.rate_limiter
            .take(&budget, Instant::now())
            .map_err(ApiError::SlowDown)?;
        Ok(budget)
    }

    /// Give back a token for a request that turned out to cost no processing.
    pub fn refund(&self, budget: &RateBudget) {
        self.rate_limiter.refund(budget, Instant::now())
    }

    /// Fetch the image watermarks `rules` name, with the caller's rights.
    pub async fn fetch_watermarks(
        &self,
        rules: &mut [Rule],
        identity: &Identity,
        upstream: &UpstreamClient,
        own_host: &str,
        budget: &mut Budget,
    ) -> Result<(), ApiError> {
        // The fetched images are held until the answer: reserved before they are read.
        let urls: std::collections::HashSet<String> =
            rules.iter().flat_map(|r| r.watermark_urls()).collect();
        budget
            .hold_extra(self, urls.len() as u64 * watermarks::MAX_WATERMARK)
            .await?;
        watermarks::resolve(
            rules,
            identity,
            &self.keyring,
            upstream,
            own_host,
            &self.routing(),
        )
        .await
    }

    /// How hosts map to buckets, from the configuration.
    pub fn routing(&self) -> crate::route::Routing {
        crate::route::Routing {
            base_domains: self.config.base_domains.clone(),
            domains: self.config.domains.clone(),
        }
    }

    pub fn new(config: Config, keyring: Keyring, upstreams: Upstreams) -> State {
        State {
            rate_limiter: RateLimiter::new(config.rate_limit, config.anonymous_rate_limit),
            result_cache: crate::realtime::ResultCache::new(config.get_cache_bytes),
            keyring,
            workers: Arc::new(Semaphore::new(config.workers)),
            memory: Arc::new(Semaphore::new((config.memory_budget / 1024) as usize)),
            upstreams,
            config,
        }
    }
}

/// The memory a request holds, in KiB permits of the shared budget. It grows as the request
/// learns what it needs: the body (capped at the whole budget, so that a large body runs
/// alone rather than never), then its processing, which is refused outright when it alone
/// would need more than the whole budget: running it would take memory the budget does not
/// have.
#[derive(Default)]
pub struct Budget {
    permit: Option<OwnedSemaphorePermit>,
    /// Bytes held beside the body and the processing (fetched watermark images).
    extra: u64,
}

impl Budget {
    /// Hold `bytes` more for the rest of the request, on top of everything else.
    async fn hold_extra(&mut self, state: &State, bytes: u64) -> Result<(), ApiError> {
        self.extra = self.extra.saturating_add(bytes);
        self.grow_to(state, 0).await
    }

    /// Reserve what processing `plan` needs beside a body of `body` bytes, or refuse it (400
    /// InvalidArgument, with the figures) before anything is decoded.
    async fn admit(&mut self, state: &State, body: u64, plan: &Plan) -> Result<(), ApiError> {
        plan.check_budget(body.saturating_add(self.extra), state.config.memory_budget)?;
        self.grow_to(state, body.saturating_add(plan.memory_bytes()))
            .await
    }

    /// Hold at least `bytes` (plus the extra), waiting for them up to `admission_wait`: also
    /// what a request fetches before it knows its processing (the stored object of processing
    /// on GET), so that waiting requests hold nothing unbudgeted.
    pub async fn grow_to(&mut self, state: &State, bytes: u64) -> Result<(), ApiError> {
        let total = (state.config.memory_budget / 1024).max(1);
        let bytes = bytes.saturating_add(self.extra);
        let want = bytes.div_ceil(1024).clamp(1, total) as usize;
        let have = self.permit.as_ref().map_or(0, |p| p.num_permits());
        if want <= have {
            return Ok(());
        }
        let extra = u32::try_from(want - have).unwrap_or(u32::MAX);
        let acquire = state.memory.clone().acquire_many_owned(extra);
        let permit = match tokio::time::timeout(state.config.admission_wait, acquire).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(ApiError::Internal("memory budget closed".into())),
            Err(_) => {
                return Err(ApiError::SlowDown(format!(
                    "picops holds as much image data as its memory budget allows ({} MiB); retry shortly",
                    state.config.memory_budget >> 20
                )))
            }
        };
        match &mut self.permit {
            Some(held) => held.merge(permit),
            None => self.permit = Some(permit),
        }
        Ok(())
    }
}

/// Which of the three processing calls this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Put,
    ImageProcess,
    CompleteMultipart { upload_id: String },
}

/// A successful answer: status and XML body.
pub struct Answer {
    pub xml: String,
    /// The stored original's ETag, sent as the `ETag` header of a PUT's answer (S3 SDKs read
    /// it there).
    pub etag: Option<String>,
}

const MAX_COMPLETE_BODY: u64 = 1024 * 1024;

pub async fn handle(
    state: &State,
    session: &mut Session,
    route: &Route,
    call: Call,
    identity: &Identity,
) -> Result<Answer, ApiError> {
    // 1. Everything that can be checked before reading or writing.
    let bucket = route
        .bucket
        .clone()
        .ok_or_else(|| ApiError::InvalidArgument("no bucket in the request".into()))?;
    validate_key(&route.key)?;
    let header = header_str(session, "pic-operations")?
        .ok_or_else(|| ApiError::InvalidArgument("Pic-Operations header missing".into()))?;
    // As COS does: rules a signature does not cover could be swapped in transit.
    if !identity.signs("pic-operations") {
        return Err(ApiError::AccessDenied(
            "the request signature must cover the Pic-Operations header".into(),
        ));
    }
    state.admit(&bucket)?;
    let upstream = state.upstreams.for_identity(identity).client();
    let styles = styles::resolve(
        &state.config.styles,
        upstream,
        &bucket,
        &pic_ops::style_names(&header),
    )
    .await?;
    let ops = pic_ops::parse(&header, &bucket, &route.key, &styles)?;
    for op in &ops.operations {
        identity.authorize(&state.keyring, Some(&op.bucket), &http::Method::PUT)?;
    }
    let mut rules: Vec<Rule> = ops.operations.iter().map(|o| o.rule.clone()).collect();
    // Memory is reserved before bytes are read, and pixels before they are decoded; both are
    // held until the answer is written (and until the last processing job has ended).
    let mut budget = Budget::default();
    state
        .fetch_watermarks(&mut rules, identity, upstream, &route.host, &mut budget)
        .await?;
    // Shared by the plan and the parallel rule jobs.
    let rules: Arc<Vec<Rule>> = Arc::new(rules);

    let max_body = state.config.max_body;
    match call {
        Call::Put => {
            let declared = declared_within(session, max_body)?;
            budget.grow_to(state, declared.unwrap_or(max_body)).await?;
            let mut held = Buffered::default();
            let body = read_body(
                session,
                max_body,
                &identity.body,
                &mut held,
                state.config.slow_clients,
            )
            .await?;
            let content_type = header_str(session, "content-type")?;
            // The body's SHA-256, when the signature declared one and read_body checked it,
            // signs the original's upstream write too: one hash of a large upload, not two.
            let sha256 = match &identity.body {
                BodyCheck::Sha256(hash) => Some(hash.clone()),
                _ => None,
            };
            let plan = plan_for(&body, &rules, state)?;
            budget.admit(state, body.len() as u64, &plan).await?;
            let processed = process(state, body.clone(), rules, plan, budget).await?;
            put_flow(
                upstream,
                route,
                &bucket,
                &ops,
                Original {
                    body,
                    content_type: content_type.unwrap_or_default(),
                    sha256,
                },
                processed,
            )
            .await
        }
        Call::ImageProcess => {
            budget.grow_to(state, max_body).await?;
            let (body, etag) = upstream.get(&bucket, &route.key, max_body).await?;
            let plan = plan_for(&body, &rules, state)?;
            budget.admit(state, body.len() as u64, &plan).await?;
            let processed = process(state, body, rules, plan, budget).await?;
            let (original, results) =
                write_results(upstream, route, &bucket, &ops, processed, Some(etag), None).await?;
            Ok(Answer {
                xml: xml::upload_result(&original, &results),
                etag: None,
            })
        }
        Call::CompleteMultipart { upload_id } => {
            let body = read_body(
                session,
                MAX_COMPLETE_BODY,
                &identity.body,
                &mut Buffered::default(),
                state.config.slow_clients,
            )
            .await?;
            let parts = xml::parse_complete_parts(&body).map_err(|e| {
                ApiError::InvalidArgument(format!("CompleteMultipartUpload body: {e}"))
            })?;
            let etag = upstream
                .complete_multipart(&bucket, &route.key, &upload_id, parts)
                .await?;
            // From here on the original exists and cannot be un-completed: say so on failure.
            let stored = |e: ApiError| {
                e.context("the multipart upload was completed and the original is stored, but processing failed")
            };
            budget.grow_to(state, max_body).await.map_err(stored)?;
            let (data, _) = upstream
                .get(&bucket, &route.key, max_body)
                .await
                .map_err(stored)?;
            let plan = plan_for(&data, &rules, state).map_err(stored)?;
            budget
                .admit(state, data.len() as u64, &plan)
                .await
                .map_err(stored)?;
            let processed = process(state, data, rules, plan, budget)
                .await
                .map_err(stored)?;
            let (original, results) =
                write_results(upstream, route, &bucket, &ops, processed, Some(etag), None)
                    .await
                    .map_err(stored)?;
            Ok(Answer {
                xml: xml::complete_result(&bucket, &original, &results),
                etag: None,
            })
        }
    }
}

/// Process a stored object with one rule, under the same memory budget, worker permits and
/// deadline as uploads (GET-time processing).
pub async fn process_one(
    state: &State,
    data: Bytes,
    rule: Rule,
    mut budget: Budget,
) -> Result<Output, ApiError> {
    let rules = Arc::new(vec![rule]);
    let plan = plan_for(&data, &rules, state)?;
    budget.admit(state, data.len() as u64, &plan).await?;
    let mut processed = process(state, data, rules, plan, budget).await?;
    processed
        .outputs
        .pop()
        .ok_or_else(|| ApiError::Internal("processing produced no output".into()))
}

/// ImageInfo of a stored object, decoded at a small scale where the format allows (the
/// average colour does not need every pixel).
pub async fn image_info(
    state: &State,
    data: Bytes,
    mut budget: Budget,
) -> Result<ImageInfo, ApiError> {
    let limits = state.config.limits;
    let plan = picops_processor::plan_info(&data, &limits)?;
    budget.admit(state, data.len() as u64, &plan).await?;
    blocking(state, move || {
        let _memory = budget;
        picops_processor::decode_planned(&data, plan, &limits)
            .map(|d| d.info())
            .map_err(ApiError::from)
    })
    .await
}

/// The (small) body of an API call such as the style API, checked against the signature.
pub async fn read_api_body(
    state: &State,
    session: &mut Session,
    identity: &Identity,
) -> Result<Bytes, ApiError> {
    read_body(
        session,
        MAX_COMPLETE_BODY,
        &identity.body,
        &mut Buffered::default(),
        state.config.slow_clients,
    )
    .await
}

fn header_str(session: &Session, name: &str) -> Result<Option<String>, ApiError> {
    match session.req_header().headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.to_string()))
            .map_err(|_| ApiError::InvalidArgument(format!("header {name} is not ASCII"))),
    }
}

/// The decode plan of `data` for the request's rules, from its header alone (this is where
/// bombs are refused); its pixel memory is admitted before decoding.
fn plan_for(data: &[u8], rules: &[Rule], state: &State) -> Result<Plan, ApiError> {
    Ok(picops_processor::plan(data, rules, &state.config.limits)?)
}

fn too_large(cap: u64) -> ApiError {
    ApiError::EntityTooLarge(format!("the body exceeds the limit of {cap} bytes"))
}

/// The body length the client announced (decoded length for aws-chunked bodies), refused
/// with 413 when over `cap`, before a byte is read.
fn declared_within(session: &Session, cap: u64) -> Result<Option<u64>, ApiError> {
    let declared = declared_length(session)?;
    if declared.is_some_and(|n| n > cap) {
        return Err(too_large(cap));
    }
    Ok(declared)
}

/// The body length the client announced (decoded length for aws-chunked bodies).
fn declared_length(session: &Session) -> Result<Option<u64>, ApiError> {
    Ok(header_str(session, "x-amz-decoded-content-length")?
        .or(header_str(session, "content-length")?)
        .and_then(|v| v.trim().parse::<u64>().ok()))
}

/// Read the request body, refusing from Content-Length when it is over `cap`, and stopping
/// as soon as the bytes read cross it otherwise; aws-chunked framing is removed and what the
/// signature says of the body (a SHA-256, chunk signatures) is checked.
async fn read_body(
    session: &mut Session,
    cap: u64,
    check: &BodyCheck,
    held: &mut Buffered,
    slow: SlowClientLimits,
) -> Result<Bytes, ApiError> {
    let declared = declared_within(session, cap)?;
    let chunked = crate::auth::is_aws_chunked(&session.req_header().headers)?;
    if header_str(session, "expect")?.is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        session
            .write_continue_response()
            .await
            .map_err(|e| ApiError::Internal(format!("writing 100 Continue: {e}")))?;
    }
    let mut decoder = chunked.then(|| {
        AwsChunked::new(match check {
            BodyCheck::SignedChunks(v) => Some(v.clone()),
            _ => None,
        })
    });
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0).min(cap) as usize);
    // Hashed piece by piece while each is still in cache, and so that a large body never
    // holds the reactor for one long pass at the end.
    let mut hasher = matches!(check, BodyCheck::Sha256(_)).then(<sha2::Sha256 as Digest>::new);
    let mut rate = BodyRate::new(slow);
    loop {
        let piece = tokio::time::timeout(slow.body_idle, session.read_request_body())
            .await
            .map_err(|_| {
                ApiError::RequestTimeout(format!(
                    "no part of the request body arrived for {} s",
                    slow.body_idle.as_secs()
                ))
            })?
            .map_err(|e| ApiError::InvalidArgument(format!("reading the request body: {e}")))?;
        let Some(piece) = piece else { break };
        METRICS.bytes_in.inc_by(piece.len() as u64);
        rate.add(piece.len())?;
        let before = buf.len();
        match &mut decoder {
            Some(d) => buf.extend_from_slice(&d.push(&piece)?),
            None => buf.extend_from_slice(&piece),
        }
        held.add(buf.len() - before);
        if buf.len() as u64 > cap {
            return Err(too_large(cap));
        }
        if let Some(h) = hasher.as_mut() {
            h.update(&buf[before..]);
        }
    }
    if let Some(d) = &mut decoder {
        d.finish()?;
    }
    let body = buf.freeze();
    if let (BodyCheck::Sha256(expected), Some(h)) = (check, hasher) {
        crate::auth::verify_body_sha256(h, expected)?;
    }
    Ok(body)
}

/// What processing produced: the source's ImageInfo and one output per operation.
struct Processed {
    info: ImageInfo,
    outputs: Vec<Output>,
    /// The request's memory, held while the outputs are.
    _memory: Arc<Budget>,
}

/// Decode once, then run the rules in parallel on the blocking pool, sharing the decoded
/// image; each job holds one worker permit, and the whole is bounded by the deadline.
///
/// The budget is shared with the jobs: a job still running when the request gives up keeps
/// its memory reserved until it ends, so no new request is admitted into memory in use.
async fn process(
    state: &State,
    data: Bytes,
    rules: Arc<Vec<Rule>>,
    plan: Plan,
    budget: Budget,
) -> Result<Processed, ApiError> {
    let timeout = state.config.processing_timeout;
    let deadline = Instant::now() + timeout;
    let budget = Arc::new(budget);
    let work = process_within(state, data, rules, plan, deadline, budget);
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(ApiError::Internal(format!(
            "processing took longer than {} s; nothing was written",
            timeout.as_secs()
        ))),
    }
}

async fn process_within(
    state: &State,
    data: Bytes,
    rules: Arc<Vec<Rule>>,
    plan: Plan,
    deadline: Instant,
    budget: Arc<Budget>,
) -> Result<Processed, ApiError> {
    let limits = state.config.limits;
    let (decoded, info) = {
        let (data, memory) = (data.clone(), budget.clone());
        blocking(state, move || {
            let _memory = memory;
            let started = Instant::now();
            let decoded =
                picops_processor::decode_planned_within(&data, plan, &limits, Some(deadline));
            METRICS
                .processing_seconds
                .with_label_values(&["decode"])
                .observe(started.elapsed().as_secs_f64());
            // ImageInfo reads every pixel (the average colour): here, not on the reactor.
            let decoded = decoded.map_err(ApiError::from)?;
            let info = decoded.info();
            Ok((decoded, info))
        })
        .await?
    };
    let decoded = Arc::new(decoded);
    let jobs = (0..rules.len()).map(|i| {
        let (data, rules, decoded) = (data.clone(), rules.clone(), decoded.clone());
        let memory = budget.clone();
        blocking(state, move || {
            let _memory = memory;
            let started = Instant::now();
            let out = picops_processor::apply(&decoded, &rules[i], &data, &limits, Some(deadline));
            METRICS
                .processing_seconds
                .with_label_values(&[&rules[i].processor_names()])
                .observe(started.elapsed().as_secs_f64());
            out.map_err(|e| ApiError::from(e).context(&format!("rule {}", i + 1)))
        })
    });
    let outputs = futures_util::future::try_join_all(jobs).await?;
    Ok(Processed {
        info,
        outputs,
        _memory: budget,
    })
}

/// Run `job` on tokio's blocking pool once one of the `workers` permits is free.
async fn blocking<T: Send + 'static>(
    state: &State,
    job: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let permit = state
        .workers
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::Internal("worker pool closed".into()))?;
    contained(move || {
        let _permit = permit;
        job()
    })
    .await
}

/// Run `job` on the blocking pool; a panic inside it becomes this request's 500, not a
/// crashed worker.
async fn contained<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(job).await.map_err(|e| {
        tracing::error!(error = %e, "processing panicked");
        ApiError::Internal("processing failed unexpectedly; nothing was written".into())
    })?
}

async fn put_flow(
    upstream: &UpstreamClient,
    route: &Route,
    bucket: &str,
    ops: &PicOperations,
    mut body: Original,
    processed: Processed,
) -> Result<Answer, ApiError> {
    if body.content_type.is_empty() {
        body.content_type = processed.info.format.mime().to_string();
    }
    let (original, results) =
        write_results(upstream, route, bucket, ops, processed, None, Some(body)).await?;
    Ok(Answer {
        etag: Some(original.etag.clone()).filter(|e| !e.is_empty()),
        xml: xml::upload_result(&original, &results),
    })
}

/// The uploaded original, as it will be written upstream.
struct Original {
    body: Bytes,
    /// Empty: taken from the decoded format.
    content_type: String,
    /// Its SHA-256 (hex), already checked against the client's signature.
    sha256: Option<String>,
}

/// One object to write upstream.
struct Write {
    bucket: String,
    key: String,
    body: Bytes,
    content_type: String,
    sha256: Option<String>,
}

/// Write the results (and the original, when `original_body` is given), all or nothing:
/// after a failed write, objects this request created are deleted again.
async fn write_results(
    upstream: &UpstreamClient,
    route: &Route,
    bucket: &str,
    ops: &PicOperations,
    processed: Processed,
    stored_etag: Option<String>,
    original_body: Option<Original>,
) -> Result<(OriginalInfo, Vec<ProcessedObject>), ApiError> {
    let source_key = route.key.clone();
    // Results' bytes move into the writes; their facts stay for the answer.
    let mut facts = Vec::with_capacity(processed.outputs.len());
    let mut writes: Vec<Write> = Vec::with_capacity(processed.outputs.len() + 1);
    for (op, out) in ops.operations.iter().zip(processed.outputs) {
        writes.push(Write {
            bucket: op.bucket.clone(),
            key: op.key.clone(),
            body: Bytes::from(out.bytes),
            content_type: out.facts.format.mime().to_string(),
            sha256: None,
        });
        facts.push(out.facts);
    }
    // A rule whose output replaces the source: the original is not written separately.
    let replaced = ops
        .operations
        .iter()
        .any(|op| op.bucket == bucket && op.key == source_key);
    if let (Some(original), false) = (original_body, replaced) {
        writes.push(Write {
            bucket: bucket.to_string(),
            key: source_key.clone(),
            body: original.body,
            content_type: original.content_type,
            sha256: original.sha256,
        });
    }

    let etags = write_all(upstream, writes).await?;
    let etag_of = |b: &str, k: &str| {
        etags
            .get(&(b.to_string(), k.to_string()))
            .cloned()
            .unwrap_or_default()
    };
    let results = ops
        .operations
        .iter()
        .zip(facts)
        .map(|(op, facts)| ProcessedObject {
            location: route.location(&op.bucket, &op.key),
            key: op.key.clone(),
            etag: etag_of(&op.bucket, &op.key),
            facts,
        })
        .collect();
    let original_etag = if replaced {
        etag_of(bucket, &source_key)
    } else {
        stored_etag.unwrap_or_else(|| etag_of(bucket, &source_key))
    };
    let original = OriginalInfo {
        location: route.location(bucket, &source_key),
        key: source_key,
        image_info: ops.is_pic_info.then_some(processed.info),
        etag: original_etag,
    };
    Ok((original, results))
}

/// Write every object concurrently. If any write fails (after the SDK's retries), delete
/// the objects that did not exist before this request and were written by it.
async fn write_all(
    upstream: &UpstreamClient,
    writes: Vec<Write>,
) -> Result<HashMap<(String, String), String>, ApiError> {
    // Which destinations exist already: those are overwritten, never deleted on cleanup.
    let checks = writes.iter().map(|w| async move {
        let e = upstream.exists(&w.bucket, &w.key).await?;
        Ok::<_, ApiError>(((w.bucket.clone(), w.key.clone()), e))
    });
    let existed: HashMap<(String, String), bool> = futures_util::future::try_join_all(checks)
        .await?
        .into_iter()
        .collect();
    let mut set = JoinSet::new();
    for w in writes {
        let up = upstream.clone();
        set.spawn(async move {
            let r = up
                .put(&w.bucket, &w.key, w.body, &w.content_type, w.sha256)
                .await;
            ((w.bucket, w.key), r)
        });
    }
    let mut etags = HashMap::new();
    let mut failure = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((id, Ok(etag))) => {
                etags.insert(id, etag);
            }
            Ok((_, Err(e))) => failure = failure.or(Some(e)),
            Err(e) => {
                failure = failure.or(Some(ApiError::Internal(format!("write task failed: {e}"))))
            }
        }
    }
    let Some(err) = failure else { return Ok(etags) };
    // Every destination that did not exist before is deleted, not only the writes that
    // answered: a write that timed out or lost its connection may still have been stored.
    // (Deleting a key that is not there is a no-op in S3.)
    let cleanup = existed
        .iter()
        .filter(|(_, existed)| !**existed)
        .map(|((bucket, key), _)| async move {
            if let Err(e) = upstream.delete(bucket, key).await {
                tracing::error!(%bucket, %key, error = %e, "cleanup after a failed write also failed");
            }
        });
    futures_util::future::join_all(cleanup).await;
    Err(match err {
        ApiError::Upstream {
            status,
            code,
            message,
        } if status < 500 => ApiError::Upstream {
            status,
            code,
            message,
        },
        ApiError::Upstream { message, .. } | ApiError::Internal(message) => ApiError::Internal(
            format!("{message}; objects created by this request were removed"),
        ),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_in_processing_is_this_requests_500() {
        let r: Result<(), ApiError> = contained(|| panic!("decoder bug")).await;
        let e = r.unwrap_err();
        assert_eq!((e.status(), e.code()), (500, "InternalError"));
        // The pool still works afterwards.
        assert_eq!(contained(|| Ok(7)).await.unwrap(), 7);
    }
}
