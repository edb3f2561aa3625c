//! CSRF tokens (format, mask/unmask) and the whole check with hostile
//! `Host`, `Origin` and `Referer` headers and trusted origins
//! (`tessera_core::csrf`).
#![no_main]

use arbitrary::Arbitrary;
use http::Method;
use libfuzzer_sys::fuzz_target;
use tessera_core::csrf::{
    self, check, check_token_format, does_token_match, is_same_domain, mask, secret_from_cookie,
    unmask, CsrfConfig, CsrfRequest, CsrfSecret,
};

#[derive(Debug, Arbitrary)]
struct Input {
    method: u8,
    is_secure: bool,
    host: Option<Vec<u8>>,
    origin: Option<Vec<u8>>,
    referer: Option<Vec<u8>>,
    cookie: Option<String>,
    header_token: Option<Vec<u8>>,
    form_token: Option<String>,
    trusted_origins: Vec<String>,
    allowed_hosts: Option<Vec<String>>,
}

const METHODS: [&str; 8] = [
    "GET", "HEAD", "OPTIONS", "TRACE", "POST", "PUT", "PATCH", "DELETE",
];

fn tokens(text: &str) {
    let format = check_token_format(text);
    if let Ok(secret) = secret_from_cookie(text) {
        assert!(format.is_ok());
        // mask/unmask round trip; a fresh mask each time, always matching.
        let masked = mask(&secret);
        assert_eq!(masked.len(), csrf::CSRF_TOKEN_LENGTH);
        assert!(check_token_format(&masked).is_ok());
        assert_eq!(unmask(&masked).ok().as_ref(), Some(&secret));
        assert!(does_token_match(&masked, &secret));
        assert!(does_token_match(secret.expose(), &secret));
    }
    if let Some(secret) = CsrfSecret::parse(text) {
        assert_eq!(secret.expose(), text);
    }
    if unmask(text).is_ok() {
        assert_eq!(text.len(), csrf::CSRF_TOKEN_LENGTH);
    }
}

fuzz_target!(|input: Input| {
    for text in input.cookie.iter().chain(input.form_token.iter()) {
        tokens(text);
    }
    for pattern in &input.trusted_origins {
        if let Some(host) = &input.host {
            let _ = is_same_domain(&String::from_utf8_lossy(host), pattern);
        }
    }
    let Ok(mut config) = CsrfConfig::new(input.trusted_origins.iter().cloned()) else {
        return;
    };
    if let Some(hosts) = input.allowed_hosts {
        config = config.with_allowed_hosts(hosts);
    }
    let method = METHODS[usize::from(input.method) % METHODS.len()];
    let req = CsrfRequest {
        method: Method::from_bytes(method.as_bytes()).unwrap_or_default(),
        is_secure: input.is_secure,
        host: input.host.as_deref(),
        origin: input.origin.as_deref(),
        referer: input.referer.as_deref(),
        cookie: input.cookie.as_deref(),
        header_token: input.header_token.as_deref(),
        form_token: input.form_token.as_deref(),
    };
    let result = check(&req, &config);
    if csrf::SAFE_METHODS.contains(&method) {
        assert_eq!(result, Ok(()));
    } else if result.is_ok() {
        // Nothing unsafe passes without a well-formed cookie matching a token.
        let secret = secret_from_cookie(input.cookie.as_deref().unwrap_or_default());
        assert!(secret.is_ok(), "passed without a valid cookie");
    }
    let _ = result.map_err(|failure| failure.reason());
});
