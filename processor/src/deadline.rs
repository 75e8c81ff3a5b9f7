//! When a job must stop. A server runs each rule on a bounded pool of blocking workers; a
//! job that only noticed its deadline between steps would keep its worker for as long as
//! its slowest step takes (a large blur takes minutes). So the long loops poll this token:
//! every few rows, every band of a resize, every frame of an animation, and libwebp's
//! progress hook. Reading the clock costs tens of nanoseconds, far below one row's work.

use std::time::Instant;

use crate::error::{ProcessError, Result};

/// An optional instant after which work stops with [`ProcessError::Deadline`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// No deadline: the offline tools and the tests that do not exercise one.
    pub const NONE: Deadline = Deadline(None);

    pub fn at(instant: Instant) -> Deadline {
        Deadline(Some(instant))
    }

    pub fn passed(&self) -> bool {
        self.0.is_some_and(|d| Instant::now() >= d)
    }

    /// `Err(Deadline)` once the instant has passed.
    pub fn check(&self) -> Result<()> {
        if self.passed() {
            Err(ProcessError::Deadline)
        } else {
            Ok(())
        }
    }
}

impl From<Option<Instant>> for Deadline {
    fn from(instant: Option<Instant>) -> Deadline {
        Deadline(instant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn only_a_past_instant_stops_the_work() {
        assert!(Deadline::NONE.check().is_ok());
        let later = Deadline::at(Instant::now() + Duration::from_secs(60));
        assert!(later.check().is_ok());
        let past = Deadline::at(Instant::now());
        assert_eq!(past.check(), Err(ProcessError::Deadline));
    }
}
