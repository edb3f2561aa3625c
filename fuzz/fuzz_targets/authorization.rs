//! The `Authorization` header as the token authenticator reads it
//! (`parse_header`), then the key as `TokenKey::parse` recognises it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_axum::authentication::token::{parse_header, TokenHeader};
use tessera_core::token::{
    checksum, TokenKey, DRF_KEY_LEN, KEY_LEN, KNOX_KEY_HEX, KNOX_MAX_PREFIX, PREFIX, RANDOM_CHARS,
};

const KEYWORDS: &[&str] = &["Token", "Bearer"];

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn check_key(candidate: &str) {
    let Some(key) = TokenKey::parse(candidate) else {
        return;
    };
    // A recognised key is the candidate, unchanged, of one of the three
    // forms: DRF's, django-rest-knox's (an optional prefix, then 64
    // hexadecimal digits), Tessera's.
    assert_eq!(key.expose(), candidate);
    let bytes = candidate.as_bytes();
    let knox = bytes.len() >= KNOX_KEY_HEX
        && bytes.len() - KNOX_KEY_HEX <= KNOX_MAX_PREFIX
        && bytes[bytes.len() - KNOX_KEY_HEX..]
            .iter()
            .all(u8::is_ascii_hexdigit)
        && bytes[..bytes.len() - KNOX_KEY_HEX]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bytes.len() == DRF_KEY_LEN {
        assert!(bytes.iter().all(u8::is_ascii_hexdigit));
    } else if knox {
        // Stored as knox keeps it: SHA-256 of knox's SHA-512 of the key.
        use sha2::Digest as _;
        let sha512: [u8; 64] = sha2::Sha512::digest(bytes).into();
        assert!(key.digest() == tessera_core::token::KeyDigest::of_knox_digest(&sha512));
    } else {
        assert_eq!(bytes.len(), KEY_LEN);
        assert!(candidate.starts_with(PREFIX));
        let random = &bytes[PREFIX.len()..PREFIX.len() + RANDOM_CHARS];
        assert_eq!(
            checksum(random).as_bytes(),
            &bytes[PREFIX.len() + RANDOM_CHARS..]
        );
    }
}

fuzz_target!(|data: &[u8]| {
    match parse_header(Some(data), KEYWORDS) {
        TokenHeader::Absent => {
            // Not ours: empty, blank, or another scheme.
            if let Some(first) = data.split(|&b| is_space(b)).find(|p| !p.is_empty()) {
                assert!(!KEYWORDS
                    .iter()
                    .any(|k| first.eq_ignore_ascii_case(k.as_bytes())));
            }
        }
        TokenHeader::Key(key) => {
            assert!(!key.is_empty());
            assert!(!key.bytes().any(is_space));
            // Re-sent alone after the keyword, the key is read back unchanged.
            let again = format!("Token {key}");
            assert_eq!(
                parse_header(Some(again.as_bytes()), KEYWORDS),
                TokenHeader::Key(key)
            );
            check_key(key);
        }
        TokenHeader::Malformed(_) => {}
    }
    if let Ok(text) = std::str::from_utf8(data) {
        check_key(text);
    }
});
