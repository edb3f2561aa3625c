//! Rates in DRF's form: `N/s`, `N/m`, `N/h`, `N/d`.
//!
//! DRF's `SimpleRateThrottle.parse_rate` is
//!
//! ```python
//! num, period = rate.split('/')
//! num_requests = int(num)
//! duration = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400}[period[0]]
//! ```
//!
//! so only the first letter of the period counts: `100/day`, `10/min`,
//! `5/second` and `1000/hour` all work, and are accepted here too. Where DRF
//! would accept odd input by accident this parser is stricter, with an error
//! that says what was expected:
//!
//! - the count is ASCII digits only (DRF's `int()` also takes `+5`, ` 5`,
//!   `1_000`, and `-1`, which would refuse every request);
//! - the period is one of `s`, `m`, `h`, `d` followed by ASCII letters only
//!   (`10/m` and `10/minutes`, not `10/m3`); it is lower case, as in DRF.
//!   Like DRF, `10/ms` means ten a *minute*;
//! - whitespace around the whole rate is ignored (it often comes from an
//!   environment variable).
//!
//! `0/m` is accepted, as in DRF, and refuses every request: DRF's `wait()`
//! then reports the whole period, and so does Tessera. To turn a throttle off,
//! leave its rate unset rather than setting it to zero.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The period of a [`Rate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// One second (`s`, `sec`, `second`).
    Second,
    /// One minute (`m`, `min`, `minute`).
    Minute,
    /// One hour (`h`, `hour`).
    Hour,
    /// One day (`d`, `day`).
    Day,
}

impl Period {
    /// The period's length in seconds, DRF's `duration`.
    pub const fn as_secs(self) -> u64 {
        match self {
            Period::Second => 1,
            Period::Minute => 60,
            Period::Hour => 3_600,
            Period::Day => 86_400,
        }
    }

    /// The period's length.
    pub const fn duration(self) -> Duration {
        Duration::from_secs(self.as_secs())
    }

    /// The letter that names the period in a rate string.
    pub const fn letter(self) -> char {
        match self {
            Period::Second => 's',
            Period::Minute => 'm',
            Period::Hour => 'h',
            Period::Day => 'd',
        }
    }

    fn from_letter(letter: char) -> Option<Self> {
        match letter {
            's' => Some(Period::Second),
            'm' => Some(Period::Minute),
            'h' => Some(Period::Hour),
            'd' => Some(Period::Day),
            _ => None,
        }
    }
}

/// At most `num_requests` requests per `period`, DRF's `THROTTLE_RATES` value.
///
/// ```
/// use tessera_core::throttle::{Period, Rate};
///
/// let rate: Rate = "100/day".parse().unwrap();
/// assert_eq!(rate, Rate::per_day(100));
/// assert_eq!(rate.period(), Period::Day);
/// assert_eq!(rate.to_string(), "100/d");
/// assert!("10/x".parse::<Rate>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    num_requests: u32,
    period: Period,
}

impl Rate {
    /// `num_requests` per `period`.
    pub const fn new(num_requests: u32, period: Period) -> Self {
        Rate {
            num_requests,
            period,
        }
    }

    /// `n/s`.
    pub const fn per_second(n: u32) -> Self {
        Rate::new(n, Period::Second)
    }

    /// `n/m`.
    pub const fn per_minute(n: u32) -> Self {
        Rate::new(n, Period::Minute)
    }

    /// `n/h`.
    pub const fn per_hour(n: u32) -> Self {
        Rate::new(n, Period::Hour)
    }

    /// `n/d`.
    pub const fn per_day(n: u32) -> Self {
        Rate::new(n, Period::Day)
    }

    /// Requests allowed per period; zero refuses every request.
    pub const fn num_requests(self) -> u32 {
        self.num_requests
    }

    /// The period.
    pub const fn period(self) -> Period {
        self.period
    }

    /// The period's length.
    pub const fn duration(self) -> Duration {
        self.period.duration()
    }
}

impl fmt::Display for Rate {
    /// The short form, `100/d`, which parses back to the same rate.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.num_requests, self.period.letter())
    }
}

/// Why a rate string was refused. Each message quotes (at most 40 characters
/// of) the input and says what a rate looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    /// Nothing but whitespace.
    #[error("the rate is empty; expected N/s, N/m, N/h or N/d, such as \"100/day\"")]
    Empty,
    /// No `/`, or more than one.
    #[error(
        "invalid rate {0:?}: expected one '/' between a count and a period, such as \"100/day\""
    )]
    Shape(String),
    /// The count is not a whole number from 0 to 4294967295.
    #[error(
        "invalid rate {0:?}: the count before '/' must be a whole number from 0 to 4294967295"
    )]
    Count(String),
    /// The period does not start with `s`, `m`, `h` or `d`, or goes on with
    /// something other than letters.
    #[error("invalid rate {0:?}: the period after '/' must be s, m, h or d (or second, minute, hour, day)")]
    Period(String),
}

/// The input quoted in an error, cut short so that a hostile value is not
/// echoed whole into logs.
fn quoted(input: &str) -> String {
    const MAX_CHARS: usize = 40;
    if input.chars().count() <= MAX_CHARS {
        input.to_owned()
    } else {
        let mut cut: String = input.chars().take(MAX_CHARS).collect();
        cut.push('…');
        cut
    }
}

impl FromStr for Rate {
    type Err = RateError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let rate = input.trim();
        if rate.is_empty() {
            return Err(RateError::Empty);
        }
        let mut parts = rate.split('/');
        let (Some(count), Some(period), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(RateError::Shape(quoted(input)));
        };
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RateError::Count(quoted(input)));
        }
        let num_requests: u32 = count.parse().map_err(|_| RateError::Count(quoted(input)))?;
        let mut letters = period.chars();
        let period = letters
            .next()
            .and_then(Period::from_letter)
            .filter(|_| letters.all(|c| c.is_ascii_alphabetic()))
            .ok_or_else(|| RateError::Period(quoted(input)))?;
        Ok(Rate::new(num_requests, period))
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drfs_forms_parse() {
        let cases = [
            ("10/s", Rate::per_second(10)),
            ("10/m", Rate::per_minute(10)),
            ("10/h", Rate::per_hour(10)),
            ("10/d", Rate::per_day(10)),
            ("100/day", Rate::per_day(100)),
            ("10/min", Rate::per_minute(10)),
            ("5/second", Rate::per_second(5)),
            ("1000/hour", Rate::per_hour(1000)),
            ("3/minutes", Rate::per_minute(3)),
            ("010/m", Rate::per_minute(10)),
            (" 7/h\n", Rate::per_hour(7)),
            ("4294967295/d", Rate::per_day(u32::MAX)),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<Rate>(), Ok(want), "{text:?}");
        }
    }

    #[test]
    fn only_the_first_letter_of_the_period_counts_as_in_drf() {
        // DRF reads `period[0]`, so "ms" is minutes, not milliseconds.
        assert_eq!("10/ms".parse::<Rate>(), Ok(Rate::per_minute(10)));
    }

    #[test]
    fn zero_is_accepted_as_in_drf() {
        let rate: Rate = "0/m".parse().unwrap();
        assert_eq!(rate.num_requests(), 0);
        assert_eq!(rate.duration(), Duration::from_secs(60));
    }

    #[test]
    fn malformed_rates_are_refused_with_the_reason() {
        assert_eq!("".parse::<Rate>(), Err(RateError::Empty));
        assert_eq!("  ".parse::<Rate>(), Err(RateError::Empty));
        for shape in ["10", "abc", "1/2/m", "10 per minute"] {
            assert!(
                matches!(shape.parse::<Rate>(), Err(RateError::Shape(_))),
                "{shape:?}"
            );
        }
        for count in [
            "/m",
            "-1/m",
            "+5/m",
            "1.5/m",
            "1_000/m",
            " 5 /m",
            "x/m",
            "4294967296/m",
        ] {
            assert!(
                matches!(count.parse::<Rate>(), Err(RateError::Count(_))),
                "{count:?}"
            );
        }
        for period in ["10/x", "10/", "10/M", "10/Day", "10/m3", "10/ m", "10/é"] {
            assert!(
                matches!(period.parse::<Rate>(), Err(RateError::Period(_))),
                "{period:?}"
            );
        }
    }

    #[test]
    fn errors_say_what_a_rate_looks_like_and_cut_long_input() {
        let message = "10/x".parse::<Rate>().unwrap_err().to_string();
        assert!(message.contains("\"10/x\""), "{message}");
        assert!(message.contains("s, m, h or d"), "{message}");
        let long = format!("10/{}", "y".repeat(10_000));
        let message = long.parse::<Rate>().unwrap_err().to_string();
        assert!(message.len() < 200, "{message}");
    }

    #[test]
    fn display_parses_back() {
        for text in ["1/s", "60/m", "1000/h", "100/d", "0/m"] {
            let rate: Rate = text.parse().unwrap();
            assert_eq!(rate.to_string(), text);
            assert_eq!(rate.to_string().parse::<Rate>(), Ok(rate));
        }
        assert_eq!(Rate::per_day(100).to_string(), "100/d");
    }

    #[test]
    fn serde_uses_the_string_form() {
        let rate: Rate = serde_json::from_str("\"100/day\"").unwrap();
        assert_eq!(rate, Rate::per_day(100));
        assert_eq!(serde_json::to_string(&rate).unwrap(), "\"100/d\"");
        let err = serde_json::from_str::<Rate>("\"10/x\"").unwrap_err();
        assert!(err.to_string().contains("s, m, h or d"), "{err}");
    }
}
