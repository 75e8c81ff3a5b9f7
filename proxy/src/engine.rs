//! The application core every handler shares: configuration, credentials, the upstream
//! clients, the memory budget, the blocking pool and the rate limiter, and the one sequence
//! by which a request's processing is admitted, planned and run.
//!
//! Processing decodes once, then runs the rules in parallel on the blocking pool, sharing
//! the decoded image; each job holds one worker permit, and the whole is bounded by the
//! deadline.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use picops_processor::{ImageInfo, Output, Plan, Rule};
use tokio::sync::Semaphore;

use crate::auth::{Identity, Keyring};
use crate::budget::{Budget, MemoryBudget};
use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::METRICS;
use crate::rate_limit::{RateBudget, RateLimiter};
use crate::result_cache::ResultCache;
use crate::route::Routing;
use crate::upstream::{UpstreamClient, Upstreams};

pub struct Engine {
    pub config: Config,
    pub keyring: Keyring,
    /// How picops reaches the upstream on behalf of each caller.
    pub upstreams: Upstreams,
    /// How hosts map to buckets.
    pub routing: Routing,
    /// Permits for the blocking pool: at most `workers` images are processed at once.
    workers: Arc<Semaphore>,
    pub memory: MemoryBudget,
    rate_limiter: RateLimiter,
    /// Recent results of processing on GET.
    pub result_cache: ResultCache,
}

/// What processing produced: the source's ImageInfo and one output per rule.
pub struct Processed {
    pub info: ImageInfo,
    pub outputs: Vec<Output>,
    /// The request's memory, held while the outputs are.
    _memory: Arc<Budget>,
}

impl Engine {
    pub fn new(config: Config, keyring: Keyring, upstreams: Upstreams) -> Engine {
        Engine {
            rate_limiter: RateLimiter::new(config.rate_limit, config.anonymous_rate_limit),
            result_cache: ResultCache::new(config.get_cache_bytes),
            keyring,
            workers: Arc::new(Semaphore::new(config.workers)),
            memory: MemoryBudget::new(config.memory_budget, config.admission_wait),
            routing: Routing {
                base_domains: config.base_domains.clone(),
                domains: config.domains.clone(),
            },
            upstreams,
            config,
        }
    }

    /// The upstream client that acts for `identity`.
    pub fn upstream(&self, identity: &Identity) -> &UpstreamClient {
        self.upstreams.for_identity(identity).client()
    }

    /// Take one of `bucket`'s processing tokens, or say when to retry.
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
    /// The budget is returned for [`Engine::refund`].
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

    /// Read a stored object to process it: its memory is reserved before its first byte.
    pub async fn fetch_source(
        &self,
        upstream: &UpstreamClient,
        budget: &mut Budget,
        bucket: &str,
        key: &str,
    ) -> Result<(Bytes, String), ApiError> {
        let max = self.config.max_body;
        budget.grow_to(&self.memory, max).await?;
        upstream.get(bucket, key, max).await
    }

    /// Read a stored object to decode it on GET (ImageInfo, EXIF): it costs like processing,
    /// so it takes a processing token, given back when the object is missing (probing
    /// missing keys must not drain the budget of those asking for real ones); its memory is
    /// reserved before its first byte and returned with it.
    pub async fn fetch_for_get(
        &self,
        identity: &Identity,
        bucket: &str,
        key: &str,
    ) -> Result<(Bytes, Budget), ApiError> {
        let rate = self.admit_get(bucket, identity)?;
        let mut memory = Budget::default();
        let (data, _) = self
            .fetch_source(self.upstream(identity), &mut memory, bucket, key)
            .await
            .inspect_err(|e| {
                if e.status() == 404 {
                    self.refund(&rate)
                }
            })?;
        Ok((data, memory))
    }

    /// Admit, plan and run `rules` on `data`: the plan comes from the header alone (where
    /// bombs are refused), its memory is reserved before decoding, and the budget is shared
    /// with the jobs, so a job still running when the request gives up keeps its memory
    /// reserved until it ends and no new request is admitted into memory in use.
    pub async fn process(
        &self,
        data: Bytes,
        rules: Arc<Vec<Rule>>,
        mut budget: Budget,
    ) -> Result<Processed, ApiError> {
        let plan = picops_processor::plan(&data, &rules, &self.config.limits)?;
        budget.admit(&self.memory, data.len() as u64, &plan).await?;
        let timeout = self.config.processing_timeout;
        let deadline = Instant::now() + timeout;
        let work = self.run(data, rules, plan, deadline, Arc::new(budget));
        match tokio::time::timeout(timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(ApiError::Internal(format!(
                "processing took longer than {} s; nothing was written",
                timeout.as_secs()
            ))),
        }
    }

    /// [`Engine::process`] with one rule: its output.
    pub async fn process_one(
        &self,
        data: Bytes,
        rule: Rule,
        budget: Budget,
    ) -> Result<Output, ApiError> {
        let mut processed = self.process(data, Arc::new(vec![rule]), budget).await?;
        processed
            .outputs
            .pop()
            .ok_or_else(|| ApiError::Internal("processing produced no output".into()))
    }

    /// ImageInfo of a stored object, decoded at a small scale where the format allows (the
    /// average colour does not need every pixel).
    pub async fn image_info(&self, data: Bytes, mut budget: Budget) -> Result<ImageInfo, ApiError> {
        let limits = self.config.limits;
        let plan = picops_processor::plan_info(&data, &limits)?;
        budget.admit(&self.memory, data.len() as u64, &plan).await?;
        self.blocking(move || {
            let _memory = budget;
            picops_processor::decode_planned(&data, plan, &limits)
                .map(|d| d.info())
                .map_err(ApiError::from)
        })
        .await
    }

    async fn run(
        &self,
        data: Bytes,
        rules: Arc<Vec<Rule>>,
        plan: Plan,
        deadline: Instant,
        budget: Arc<Budget>,
    ) -> Result<Processed, ApiError> {
        let limits = self.config.limits;
        let (decoded, info) = {
            let (data, memory) = (data.clone(), budget.clone());
            self.blocking(move || {
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
            self.blocking(move || {
                let _memory = memory;
                let started = Instant::now();
                let out =
                    picops_processor::apply(&decoded, &rules[i], &data, &limits, Some(deadline));
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
        &self,
        job: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = self
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
