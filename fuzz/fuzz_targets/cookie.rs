//! The `Cookie` header (`cookies::read`), the session key it carries
//! (`SessionKey::parse`) and the CSRF cookie's secret (`CookieState`).
#![no_main]

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use tessera_axum::cookies::{self, CookieOptions};
use tessera_core::csrf::{self, CookieState};
use tessera_core::session::{SessionKey, DJANGO_SESSION_KEY_LEN, SESSION_KEY_LEN};

const OPTIONS: CookieOptions = CookieOptions {
    secure: true,
    http_only: true,
    max_age: 1209600,
};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.append(COOKIE, value.clone());
    // A second copy of the header: the last value of a repeated name wins.
    headers.append(COOKIE, value);

    if let Some(session) = cookies::read(&headers, "sessionid") {
        if let Some(key) = SessionKey::parse(session) {
            assert_eq!(key.expose(), session);
            // Tessera's own form, or an imported Django session's key.
            let tessera = session.len() == SESSION_KEY_LEN
                && session.bytes().all(|b| b.is_ascii_alphanumeric());
            let django = session.len() == DJANGO_SESSION_KEY_LEN
                && session
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            assert!(tessera || django);
            // Written as a Set-Cookie and read back as a Cookie: unchanged.
            let set = cookies::set("sessionid", key.expose(), OPTIONS)
                .expect("a key is a valid cookie value");
            let text = set.to_str().expect("ASCII");
            let pair = text.split(';').next().unwrap_or_default();
            let mut back = HeaderMap::new();
            back.insert(COOKIE, HeaderValue::from_str(pair).expect("ASCII"));
            assert_eq!(
                cookies::read(&back, "sessionid"),
                Some(key.expose())
            );
        }
    }

    let token = cookies::read(&headers, csrf::COOKIE_NAME);
    let state = CookieState::from_cookie(token);
    match token.map(csrf::secret_from_cookie) {
        None => assert!(state.secret().is_none() && state.cookie_to_set().is_none()),
        Some(Ok(secret)) => {
            assert_eq!(state.secret(), Some(&secret));
            assert!(state.cookie_to_set().is_none());
            assert_eq!(secret.expose().len(), csrf::CSRF_SECRET_LENGTH);
        }
        // A malformed cookie is replaced, and the replacement is sent.
        Some(Err(_)) => assert!(state.cookie_to_set().is_some()),
    }
});
