//! Reading the `Cookie` header and writing `Set-Cookie`, with the attributes
//! the contract requires.

use cookie::{Cookie, SameSite};
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};

/// The value of cookie `name`, if the request has one. A garbled header is
/// no cookie at all; when a name repeats, the last value wins, as in Django.
///
/// Read as `cookie::Cookie::split_parse` reads it (a test compares the two):
/// pieces between `;`, each `name=value` with both sides trimmed, a piece
/// without `=` or without a name is no cookie, values as sent (no
/// percent-decoding). By hand because this runs on every request with
/// cookies: the parser built a whole `Cookie` for each pair (callgrind:
/// about 1,500 instructions a read). Borrowed from the header, so a read
/// allocates nothing.
pub fn read<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = None;
    for value in headers.get_all(COOKIE) {
        let Ok(text) = value.to_str() else {
            continue;
        };
        for piece in text.split(';') {
            let Some((key, value)) = piece.split_once('=') else {
                continue;
            };
            let key = key.trim();
            if !key.is_empty() && key == name {
                found = Some(value.trim());
            }
        }
    }
    found
}

/// How a cookie is set.
#[derive(Debug, Clone, Copy)]
pub struct CookieOptions {
    /// `Secure`.
    pub secure: bool,
    /// `HttpOnly` (the session cookie; not the CSRF cookie, which scripts read).
    pub http_only: bool,
    /// `Max-Age` in seconds.
    pub max_age: i64,
}

/// A `Set-Cookie` value: `Path=/`, `SameSite=Lax`, no `Domain`.
pub fn set(name: &str, value: &str, options: CookieOptions) -> Option<HeaderValue> {
    let cookie = Cookie::build((name, value))
        .path("/")
        .same_site(SameSite::Lax)
        .http_only(options.http_only)
        .secure(options.secure)
        .max_age(cookie::time::Duration::seconds(options.max_age))
        .build();
    HeaderValue::from_str(&cookie.to_string()).ok()
}

/// A `Set-Cookie` value that deletes the cookie.
pub fn clear(name: &str, options: CookieOptions) -> Option<HeaderValue> {
    let cookie = Cookie::build((name, ""))
        .path("/")
        .same_site(SameSite::Lax)
        .http_only(options.http_only)
        .secure(options.secure)
        .max_age(cookie::time::Duration::ZERO)
        .expires(cookie::time::OffsetDateTime::UNIX_EPOCH)
        .build();
    HeaderValue::from_str(&cookie.to_string()).ok()
}

/// Appends a `Set-Cookie` header.
pub fn append(headers: &mut HeaderMap, value: Option<HeaderValue>) {
    if let Some(value) = value {
        headers.append(SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `read` as it was, through the `cookie` crate's parser.
    fn read_with_the_parser(headers: &HeaderMap, name: &str) -> Option<String> {
        let mut found = None;
        for value in headers.get_all(COOKIE) {
            let Ok(text) = value.to_str() else {
                continue;
            };
            for cookie in Cookie::split_parse(text).flatten() {
                if cookie.name() == name {
                    found = Some(cookie.value().to_owned());
                }
            }
        }
        found
    }

    #[test]
    fn read_reads_as_the_cookie_parser_reads() {
        let values: &[&[u8]] = &[
            b"sessionid=abc; csrftoken=def",
            b"  sessionid = abc ;csrftoken=  def  ",
            b"sessionid=a=b=c",
            b"sessionid=; csrftoken",
            b"sessionid",
            b"=x; sessionid=first; sessionid=last",
            b";;; ; sessionid=x;;",
            b"\"sessionid\"=q; sessionid=\"quoted\"",
            b"sessionid=\tx\t; other=y",
            b"SESSIONID=upper; sessionid2=no; xsessionid=no",
            b"sessionid=%41%20b",
            b"sessionid=caf\xc3\xa9",
            b"sessionid=\xff",
            b"",
            b"   ",
            b"a=1; =; ==; sessionid==",
        ];
        for &value in values {
            for also in [None, Some(&b"sessionid=second"[..])] {
                let mut map = HeaderMap::new();
                if let Ok(v) = HeaderValue::from_bytes(value) {
                    map.append(COOKIE, v);
                }
                if let Some(also) = also {
                    map.append(COOKIE, HeaderValue::from_bytes(also).unwrap());
                }
                for name in ["sessionid", "csrftoken", "other", "a", ""] {
                    assert_eq!(
                        read(&map, name),
                        read_with_the_parser(&map, name).as_deref(),
                        "{:?} {also:?} {name:?}",
                        String::from_utf8_lossy(value)
                    );
                }
            }
        }
    }

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            if let Ok(v) = HeaderValue::from_bytes(v) {
                map.append(COOKIE, v);
            }
        }
        map
    }

    #[test]
    fn reads_the_named_cookie() {
        let h = headers(&[b"a=1; sessionid=abc; b=2"]);
        assert_eq!(read(&h, "sessionid"), Some("abc"));
        assert_eq!(read(&h, "csrftoken"), None);
        let h = headers(&[b"sessionid=one", b"x=y; sessionid=two"]);
        assert_eq!(read(&h, "sessionid"), Some("two"));
        let h = headers(&[b"\xff\xfe=garbage; ;;; ==="]);
        assert_eq!(read(&h, "sessionid"), None);
    }

    #[test]
    fn set_cookie_has_the_contracts_attributes() {
        let options = CookieOptions {
            secure: true,
            http_only: true,
            max_age: 60,
        };
        let v = set("sessionid", "abc", options).map(|v| v.to_str().unwrap_or_default().to_owned());
        assert_eq!(
            v.as_deref(),
            Some("sessionid=abc; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=60")
        );
        let options = CookieOptions {
            secure: false,
            http_only: false,
            max_age: 60,
        };
        let v = clear("csrftoken", options).map(|v| v.to_str().unwrap_or_default().to_owned());
        assert_eq!(
            v.as_deref(),
            Some("csrftoken=; SameSite=Lax; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
        );
    }
}
