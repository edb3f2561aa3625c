//! Random strings for keys, session ids and CSRF secrets: characters of
//! `[A-Za-z0-9]` drawn from the OS CSPRNG, as Django's `get_random_string`
//! draws them with `secrets.choice`.
//!
//! The OS is asked once per string: one `getrandom` call of up to 64 bytes,
//! mapped to characters by rejection. rand's `Alphanumeric` over `OsRng`
//! made one call a character (43 for a key, 32 for a CSRF mask), each a
//! system call (`bench/RESULTS.md`, item 21).

use crate::token::BASE62;
use rand::RngCore;
use zeroize::Zeroize;

/// Bytes below this map onto the 62 characters evenly (248 = 4 × 62); a byte
/// from 248 up is dropped, as it would favour the first eight characters.
const ACCEPT_BELOW: u8 = 248;

/// `len` characters, as [`push_alphanumeric`] draws them.
pub(crate) fn alphanumeric(len: usize) -> String {
    let mut out = String::with_capacity(len);
    push_alphanumeric(&mut out, len);
    out
}

/// Appends `len` characters to `out`, each independent and uniform over
/// `[A-Za-z0-9]`, from the OS CSPRNG. Panics if the OS has no randomness to
/// give, as `rand::rngs::OsRng` does: there is no safe key without it.
pub(crate) fn push_alphanumeric(out: &mut String, len: usize) {
    out.reserve(len);
    let mut bytes = [0u8; 64];
    let mut left = len;
    while left > 0 {
        // One byte in 32 is dropped: a margin of an eighth and four more makes
        // a second call as good as never needed for strings up to 53
        // characters (longer ones take one call per 64 bytes).
        let n = (left + left / 8 + 4).min(bytes.len());
        rand::rngs::OsRng.fill_bytes(&mut bytes[..n]);
        left -= push_accepted(out, &bytes[..n], left);
    }
    // The bytes are the string's randomness: not left on the stack.
    bytes.zeroize();
}

/// Appends the characters of the accepted bytes of `bytes`, at most `max`;
/// how many it appended.
fn push_accepted(out: &mut String, bytes: &[u8], max: usize) -> usize {
    let mut pushed = 0;
    for &byte in bytes {
        if pushed == max {
            break;
        }
        if byte < ACCEPT_BELOW {
            out.push(char::from(BASE62[usize::from(byte % 62)]));
            pushed += 1;
        }
    }
    pushed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_have_the_length_asked_and_only_alphanumerics() {
        // Across the 64-byte draw: 53 characters fit one, 100 take two or more.
        for len in [0, 1, 6, 32, 43, 53, 54, 64, 100, 1000] {
            let s = alphanumeric(len);
            assert_eq!(s.len(), len, "{s}");
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()), "{s}");
        }
        let mut out = "tsr_".to_owned();
        push_alphanumeric(&mut out, 43);
        assert!(out.starts_with("tsr_"));
        assert_eq!(out.len(), 47);
    }

    #[test]
    fn every_accepted_byte_value_maps_to_one_character_four_times() {
        let all: Vec<u8> = (0..=255).collect();
        let mut out = String::new();
        assert_eq!(push_accepted(&mut out, &all, usize::MAX), 248);
        let mut counts = std::collections::HashMap::new();
        for c in out.chars() {
            *counts.entry(c).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 62);
        assert!(counts.values().all(|&n| n == 4), "{counts:?}");
        // Bytes from 248 up give nothing.
        let mut out = String::new();
        assert_eq!(push_accepted(&mut out, &[248, 250, 255], 10), 0);
        assert_eq!(out, "");
    }

    #[test]
    fn at_most_the_characters_asked_are_appended() {
        let mut out = String::new();
        assert_eq!(push_accepted(&mut out, &[0, 255, 1, 2, 3], 2), 2);
        assert_eq!(out, "01");
        assert_eq!(push_accepted(&mut out, &[61, 62], 5), 2);
        assert_eq!(out, "01z0");
    }

    /// Pearson's chi-squared over 62 characters (61 degrees of freedom: mean
    /// 61, deviation 11): a uniform draw stays far below 200, which a uniform
    /// draw exceeds with a probability under 1e-15. Mapping every byte
    /// `% 62` without the rejection (the first eight characters a quarter
    /// more likely) gives about 1,300 at this size.
    #[test]
    fn characters_are_uniform() {
        let s = alphanumeric(200_000);
        let mut counts = [0u32; 128];
        for b in s.bytes() {
            counts[usize::from(b)] += 1;
        }
        let expected = 200_000.0 / 62.0;
        let chi2: f64 = BASE62
            .iter()
            .map(|&c| {
                let d = f64::from(counts[usize::from(c)]) - expected;
                d * d / expected
            })
            .sum();
        assert!(chi2 < 200.0, "chi-squared {chi2}");
    }

    #[test]
    fn two_strings_differ() {
        assert_ne!(alphanumeric(32), alphanumeric(32));
    }
}
