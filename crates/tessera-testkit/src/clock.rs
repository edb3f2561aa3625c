//! A clock that moves only when a test moves it.

use std::ops::Add;
use std::sync::{Arc, Mutex, PoisonError};
use tessera_core::clock::{truncate_to_micros, Clock};
use time::OffsetDateTime;

/// A [`Clock`] that stands still until told otherwise. Clones share one time,
/// so a test keeps a clone and moves the clock of the code under test.
///
/// ```
/// use tessera_core::Clock;
/// use tessera_testkit::ManualClock;
/// use time::macros::datetime;
///
/// let clock = ManualClock::new(datetime!(2024-01-01 00:00 UTC));
/// let shared = clock.clone();
/// clock.advance(time::Duration::minutes(10));
/// clock.advance(std::time::Duration::from_secs(5));
/// assert_eq!(shared.now(), datetime!(2024-01-01 00:10:05 UTC));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    /// A clock showing `start`, truncated to microseconds.
    pub fn new(start: OffsetDateTime) -> Self {
        ManualClock(Arc::new(Mutex::new(truncate_to_micros(start))))
    }

    /// Moves the clock by `by`: a `time::Duration` (which may be negative) or a
    /// `std::time::Duration`.
    pub fn advance<D>(&self, by: D)
    where
        OffsetDateTime: Add<D, Output = OffsetDateTime>,
    {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now = truncate_to_micros(*now + by);
    }

    /// Sets the clock to `t`, truncated to microseconds.
    pub fn set(&self, t: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = truncate_to_micros(t);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_are_truncated_to_microseconds() {
        let clock = ManualClock::new(datetime!(2024-01-01 00:00:00.123456789 UTC));
        assert_eq!(clock.now(), datetime!(2024-01-01 00:00:00.123456 UTC));
        clock.advance(time::Duration::nanoseconds(999));
        assert_eq!(clock.now(), datetime!(2024-01-01 00:00:00.123456 UTC));
        clock.set(datetime!(2030-06-01 12:00:00.000001999 UTC));
        assert_eq!(clock.now(), datetime!(2030-06-01 12:00:00.000001 UTC));
    }

    #[test]
    fn clones_share_the_time_and_it_can_go_back() {
        let clock = ManualClock::new(datetime!(2024-01-01 00:00 UTC));
        let other = clock.clone();
        other.advance(time::Duration::hours(-1));
        assert_eq!(clock.now(), datetime!(2023-12-31 23:00 UTC));
    }
}
