//! The memory a request holds, in KiB permits of the shared budget.

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use std::sync::Arc;
use std::time::Duration;

use picops_processor::Plan;

use crate::error::ApiError;

/// The shared budget: bodies and pixels held by all requests together.
pub struct MemoryBudget {
    permits: Arc<Semaphore>,
    bytes: u64,
    /// Longest wait for memory before a request is answered SlowDown.
    wait: Duration,
}

impl MemoryBudget {
    pub fn new(bytes: u64, wait: Duration) -> MemoryBudget {
        MemoryBudget {
            permits: Arc::new(Semaphore::new((bytes / 1024) as usize)),
            bytes,
            wait,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// What one request holds. It grows as the request learns what it needs: the body (capped
/// at the whole budget, so that a large body runs alone rather than never), then its
/// processing, which is refused outright when it alone would need more than the whole
/// budget: running it would take memory the budget does not have.
#[derive(Default)]
pub struct Budget {
    permit: Option<OwnedSemaphorePermit>,
    /// Bytes held beside the body and the processing (fetched watermark images).
    extra: u64,
}

impl Budget {
    /// Hold `bytes` more for the rest of the request, on top of everything else.
    pub async fn hold_extra(&mut self, memory: &MemoryBudget, bytes: u64) -> Result<(), ApiError> {
        self.extra = self.extra.saturating_add(bytes);
        self.grow_to(memory, 0).await
    }

    /// Reserve what processing `plan` needs beside a body of `body` bytes, or refuse it (400
    /// InvalidArgument, with the figures) before anything is decoded.
    pub async fn admit(
        &mut self,
        memory: &MemoryBudget,
        body: u64,
        plan: &Plan,
    ) -> Result<(), ApiError> {
        plan.check_budget(body.saturating_add(self.extra), memory.bytes)?;
        self.grow_to(memory, body.saturating_add(plan.memory_bytes()))
            .await
    }

    /// Hold at least `bytes` (plus the extra), waiting for them up to the budget's wait:
    /// also what a request fetches before it knows its processing (a stored object), so
    /// that waiting requests hold nothing unbudgeted.
    pub async fn grow_to(&mut self, memory: &MemoryBudget, bytes: u64) -> Result<(), ApiError> {
        let total = (memory.bytes / 1024).max(1);
        let bytes = bytes.saturating_add(self.extra);
        let want = bytes.div_ceil(1024).clamp(1, total) as usize;
        let have = self.permit.as_ref().map_or(0, |p| p.num_permits());
        if want <= have {
            return Ok(());
        }
        let extra = u32::try_from(want - have).unwrap_or(u32::MAX);
        let acquire = memory.permits.clone().acquire_many_owned(extra);
        let permit = match tokio::time::timeout(memory.wait, acquire).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(ApiError::Internal("memory budget closed".into())),
            Err(_) => {
                return Err(ApiError::SlowDown(format!(
                    "picops holds as much image data as its memory budget allows ({} MiB); retry shortly",
                    memory.bytes >> 20
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
