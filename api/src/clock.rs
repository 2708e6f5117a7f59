//! Time as the pairing rules see it: a [`Clock`] that the tests can drive.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// Tells the current time, to the millisecond (the precision records are stored at).
pub trait Clock: Send + Sync + 'static {
    /// Now, truncated to whole milliseconds.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        truncate_to_millis(Utc::now())
    }
}

/// A clock that stands still until told to move: for tests of expiry.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock that reads `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(truncate_to_millis(start)))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn truncate_to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}
