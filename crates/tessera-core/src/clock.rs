//! Time is injected: expiry, rotation and throttles read a [`Clock`], so tests
//! move time forward instead of sleeping (DRF's throttles take a `timer` for the
//! same reason).

use std::fmt::Debug;
use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync + Debug + 'static {
    /// The current time, in UTC, truncated to microseconds (what the stores keep).
    fn now(&self) -> OffsetDateTime;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        truncate_to_micros(OffsetDateTime::now_utc())
    }
}

/// Drops the nanoseconds below one microsecond, the precision of every store.
pub fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let micros = t.microsecond();
    t.replace_microsecond(micros).unwrap_or(t)
}

/// Microseconds since the Unix epoch, the form in which stores keep times.
pub fn to_micros(t: OffsetDateTime) -> i64 {
    // Fits in i64 until the year 294247.
    (t.unix_timestamp_nanos() / 1_000) as i64
}

/// The inverse of [`to_micros`]; out-of-range values clamp to the epoch.
pub fn from_micros(micros: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Formats a time as DRF's `DateTimeField` does in UTC: RFC 3339 with a `Z`.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `serde` helpers that write times as RFC 3339 strings.
pub mod serde_rfc3339 {
    pub use time::serde::rfc3339::*;
    /// The same for `Option<OffsetDateTime>`.
    pub mod option {
        pub use time::serde::rfc3339::option::*;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_round_trip() {
        let now = SystemClock.now();
        assert_eq!(from_micros(to_micros(now)), now);
    }

    #[test]
    fn rfc3339_is_utc_with_z() {
        assert_eq!(rfc3339(from_micros(1_500_000)), "1970-01-01T00:00:01.5Z");
    }
}
