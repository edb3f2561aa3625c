//! Round-trip properties of the encoders and parsers of untrusted input
//! (issue 13, point 8): API keys (encode, checksum, parse), CSRF tokens
//! (mask, unmask) and throttle rates (parse, format). The fuzz targets in
//! `fuzz/` feed the same parsers arbitrary bytes; these check, over generated
//! well-formed values, that what is written is read back.

use proptest::prelude::*;
use tessera_core::csrf::{
    check_token_format, does_token_match, mask, secret_from_cookie, unmask, CsrfSecret,
    CSRF_SECRET_LENGTH, CSRF_TOKEN_LENGTH,
};
use tessera_core::throttle::{Period, Rate};
use tessera_core::token::{checksum, TokenKey, CHECKSUM_CHARS, KEY_LEN, PREFIX, RANDOM_CHARS};

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn alnum(n: usize) -> impl Strategy<Value = String> {
    let chars: Vec<char> = ('a'..='z').chain('A'..='Z').chain('0'..='9').collect();
    proptest::collection::vec(proptest::sample::select(chars), n)
        .prop_map(|chars| chars.into_iter().collect())
}

/// A Tessera key as `TokenKey::generate` writes it, from given random chars.
fn encode(random: &str) -> String {
    format!("{PREFIX}{random}{}", checksum(random.as_bytes()))
}

/// Base62 back to a number: the inverse of `checksum`'s encoding.
fn base62_value(text: &str) -> u64 {
    text.bytes().fold(0u64, |n, b| {
        let digit = BASE62.iter().position(|&c| c == b).unwrap_or(usize::MAX);
        n * 62 + digit as u64
    })
}

fn period() -> impl Strategy<Value = Period> {
    prop_oneof![
        Just(Period::Second),
        Just(Period::Minute),
        Just(Period::Hour),
        Just(Period::Day),
    ]
}

proptest! {
    #[test]
    fn an_encoded_key_parses_back_unchanged(random in alnum(RANDOM_CHARS)) {
        let key = encode(&random);
        prop_assert_eq!(key.len(), KEY_LEN);
        let parsed = TokenKey::parse(&key);
        prop_assert_eq!(parsed.as_ref().map(TokenKey::expose), Some(key.as_str()));
    }

    #[test]
    fn the_checksum_is_crc32_in_six_base62_digits(data in proptest::collection::vec(any::<u8>(), 0..100)) {
        let sum = checksum(&data);
        prop_assert_eq!(sum.len(), CHECKSUM_CHARS);
        prop_assert!(sum.bytes().all(|b| BASE62.contains(&b)));
        prop_assert_eq!(base62_value(&sum), u64::from(crc32fast_hash(&data)));
    }

    #[test]
    fn any_one_character_typo_in_a_key_is_refused(
        random in alnum(RANDOM_CHARS),
        at in 0..KEY_LEN,
        replacement in proptest::char::ranges(vec!['0'..='9', 'A'..='Z', 'a'..='z', '_'..='_'].into()),
    ) {
        let key = encode(&random);
        let mut typo: Vec<char> = key.chars().collect();
        prop_assume!(typo[at] != replacement);
        typo[at] = replacement;
        let typo: String = typo.into_iter().collect();
        prop_assert!(TokenKey::parse(&typo).is_none(), "{} accepted", typo);
    }

    #[test]
    fn a_masked_token_unmasks_to_its_secret(secret in alnum(CSRF_SECRET_LENGTH)) {
        let secret = CsrfSecret::parse(&secret).unwrap_or_else(|| panic!("a secret"));
        let token = mask(&secret);
        prop_assert_eq!(token.len(), CSRF_TOKEN_LENGTH);
        prop_assert!(check_token_format(&token).is_ok());
        prop_assert_eq!(unmask(&token).ok(), Some(secret.clone()));
        prop_assert!(does_token_match(&token, &secret));
        // Each masking is fresh (a repeat has probability 62^-32).
        prop_assert_ne!(mask(&secret), token.clone());
        // As a pre-Django-4.0 cookie, the masked form gives the same secret.
        prop_assert_eq!(secret_from_cookie(&token).ok(), Some(secret));
    }

    #[test]
    fn a_changed_character_of_a_masked_token_no_longer_matches(
        secret in alnum(CSRF_SECRET_LENGTH),
        at in 0..CSRF_TOKEN_LENGTH,
        shift in 1usize..62,
    ) {
        let secret = CsrfSecret::parse(&secret).unwrap_or_else(|| panic!("a secret"));
        let mut token: Vec<u8> = mask(&secret).into_bytes();
        let chars = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let index = chars.iter().position(|&c| c == token[at]).unwrap_or(0);
        token[at] = chars[(index + shift) % 62];
        let token = String::from_utf8(token).unwrap_or_default();
        prop_assert!(!does_token_match(&token, &secret));
    }

    #[test]
    fn a_rate_formats_and_parses_back(n in any::<u32>(), period in period()) {
        let rate = Rate::new(n, period);
        let text = rate.to_string();
        prop_assert_eq!(text.parse::<Rate>(), Ok(rate));
        // The long forms DRF accepts parse to the same rate.
        let long = match period {
            Period::Second => "second",
            Period::Minute => "minute",
            Period::Hour => "hour",
            Period::Day => "day",
        };
        prop_assert_eq!(format!(" {n}/{long} ").parse::<Rate>(), Ok(rate));
    }

    #[test]
    fn a_parsed_rate_formats_to_its_short_form(text in "[0-9]{1,11}/[smhd][a-z]{0,6}") {
        if let Ok(rate) = text.parse::<Rate>() {
            prop_assert_eq!(rate.to_string().parse::<Rate>(), Ok(rate));
            let (count, _) = text.split_once('/').unwrap_or_default();
            prop_assert_eq!(count.parse::<u32>().ok(), Some(rate.num_requests()));
        }
    }
}

/// CRC32 (IEEE), bitwise: an independent implementation to check against.
fn crc32fast_hash(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
