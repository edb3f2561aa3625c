//! Django's CSRF behaviour as vectors produced by Django itself, and the
//! unit tests of the check.

use super::*;
use std::collections::HashSet;

/// One request of [`django_check`]; the fields in `CsrfRequest` order, then
/// Django's verdict.
struct Case(
    &'static [&'static str],
    &'static [&'static str],
    &'static str,
    bool,
    Option<&'static [u8]>,
    Option<&'static [u8]>,
    Option<&'static [u8]>,
    Option<String>,
    Option<Vec<u8>>,
    Option<String>,
    Option<&'static str>,
);

// BEGIN GENERATED VECTORS (tests/csrf_vectors.py, Django 5.1)
const SECRET: &str = "abcdefghijABCDEFGHIJ0123456789zZ";
const OTHER: &str = "Zz9876543210jihgfedcbaJIHGFEDCBA";

/// (secret, mask, Django's `_mask_cipher_secret` with that mask)
const DJANGO_MASK_WITH: &[(&str, &str, &str)] = &[
    (
        "abcdefghijABCDEFGHIJ0123456789zZ",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabcdefghijABCDEFGHIJ0123456789zZ",
    ),
    (
        "abcdefghijABCDEFGHIJ0123456789zZ",
        "99999999999999999999999999999999",
        "999999999999999999999999999999999abcdefghizABCDEFGHIZ012345678yY",
    ),
    (
        "abcdefghijABCDEFGHIJ0123456789zZ",
        "0123456789abcdefghijABCDEFGHIJzZ",
        "0123456789abcdefghijABCDEFGHIJzZ02468acegiACEGIKMOQSqsuwyACEGIYO",
    ),
    (
        "Zz9876543210jihgfedcbaJIHGFEDCBA",
        "zZyYxXwWvVuUtTsSrRqQpPoOnNmMlLkK",
        "zZyYxXwWvVuUtTsSrRqQpPoOnNmMlLkKooxWuTrQoNlKC1zYwVtSqPXmUjRgOdLa",
    ),
    (
        "99999999999999999999999999999999",
        "99999999999999999999999999999999",
        "9999999999999999999999999999999988888888888888888888888888888888",
    ),
];

/// (a token Django masked, its secret)
const DJANGO_UNMASK: &[(&str, &str)] = &[
    (
        "H8rmF0elNdjJJXEwJw7dT5BX93kmOsVzH9tpJ5ksVmJabq81f3FMJWtQ3YgjMrko",
        "abcdefghijABCDEFGHIJ0123456789zZ",
    ),
    (
        "OhTqhf9p1LC8BOH44bozgMzcX0RfU4ReDGSoeb4jUDtYKWOa9frBhM8KuwmJnwiE",
        "Zz9876543210jihgfedcbaJIHGFEDCBA",
    ),
    (
        "jPgVqZJyPwXx8VBSwdWW0M2eSQ8N3romjPgVqZJyPwXx8VBSwdWW0M2eSQ8N3rom",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ),
    (
        "GTaoZGAuB68z4TEyEw18z2dnSYBsZvM4FS9nYFztA57y3SDxDv07y1cmRXArYuL3",
        "99999999999999999999999999999999",
    ),
    (
        "OovbiNbMl678ZHBqRATZ2GcoLBWwz9CeDdk07C0BaVWXOwqfGpIORv1dAqLloYr3",
        "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
    ),
];

/// (token, Django's `_check_token_format` reason, `None` if well formed)
fn django_format() -> Vec<(String, Option<&'static str>)> {
    vec![
        ("".to_owned(), Some("has incorrect length")),
        ("a".to_owned(), Some("has incorrect length")),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_owned(),
            Some("has incorrect length"),
        ),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_owned(), None),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_owned(),
            Some("has incorrect length"),
        ),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_owned(),
            Some("has incorrect length"),
        ),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_owned(),
            None,
        ),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_owned(),
            Some("has incorrect length"),
        ),
        ("a".repeat(100000), Some("has incorrect length")),
        (
            "********************************".to_owned(),
            Some("has invalid characters"),
        ),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa*".to_owned(),
            Some("has invalid characters"),
        ),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-".to_owned(),
            Some("has invalid characters"),
        ),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\u{e9}".to_owned(),
            Some("has invalid characters"),
        ),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\u{e9}".to_owned(),
            Some("has incorrect length"),
        ),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ".to_owned(),
            Some("has invalid characters"),
        ),
        ("*".to_owned(), Some("has incorrect length")),
        (
            "qlVQzJwoFduRlCObtglxFU2ZGGjfgtvNqmXTDOCvNmUiN5iGZNT6vLUSABfcesUC".to_owned(),
            None,
        ),
        ("abcdefghijABCDEFGHIJ0123456789zZ".to_owned(), None),
    ]
}

/// (host, pattern, Django's `is_same_domain`)
const DJANGO_SAME_DOMAIN: &[(&str, &str, bool)] = &[
    ("example.com", ".example.com", true),
    ("example.com", "example.com", true),
    ("example.com", ".EXAMPLE.COM", true),
    ("example.com", "EXAMPLE.COM", true),
    ("example.com", ".example.com:8000", false),
    ("example.com", "", false),
    ("example.com", ".", false),
    ("a.example.com", ".example.com", true),
    ("a.example.com", "example.com", false),
    ("a.example.com", ".EXAMPLE.COM", true),
    ("a.example.com", "EXAMPLE.COM", false),
    ("a.example.com", ".example.com:8000", false),
    ("a.example.com", "", false),
    ("a.example.com", ".", false),
    ("a.b.example.com", ".example.com", true),
    ("a.b.example.com", "example.com", false),
    ("a.b.example.com", ".EXAMPLE.COM", true),
    ("a.b.example.com", "EXAMPLE.COM", false),
    ("a.b.example.com", ".example.com:8000", false),
    ("a.b.example.com", "", false),
    ("a.b.example.com", ".", false),
    ("evilexample.com", ".example.com", false),
    ("evilexample.com", "example.com", false),
    ("evilexample.com", ".EXAMPLE.COM", false),
    ("evilexample.com", "EXAMPLE.COM", false),
    ("evilexample.com", ".example.com:8000", false),
    ("evilexample.com", "", false),
    ("evilexample.com", ".", false),
    ("example.com.evil.io", ".example.com", false),
    ("example.com.evil.io", "example.com", false),
    ("example.com.evil.io", ".EXAMPLE.COM", false),
    ("example.com.evil.io", "EXAMPLE.COM", false),
    ("example.com.evil.io", ".example.com:8000", false),
    ("example.com.evil.io", "", false),
    ("example.com.evil.io", ".", false),
    ("A.EXAMPLE.COM", ".example.com", false),
    ("A.EXAMPLE.COM", "example.com", false),
    ("A.EXAMPLE.COM", ".EXAMPLE.COM", false),
    ("A.EXAMPLE.COM", "EXAMPLE.COM", false),
    ("A.EXAMPLE.COM", ".example.com:8000", false),
    ("A.EXAMPLE.COM", "", false),
    ("A.EXAMPLE.COM", ".", false),
    ("example.com:8000", ".example.com", false),
    ("example.com:8000", "example.com", false),
    ("example.com:8000", ".EXAMPLE.COM", false),
    ("example.com:8000", "EXAMPLE.COM", false),
    ("example.com:8000", ".example.com:8000", true),
    ("example.com:8000", "", false),
    ("example.com:8000", ".", false),
    ("a.example.com:8000", ".example.com", false),
    ("a.example.com:8000", "example.com", false),
    ("a.example.com:8000", ".EXAMPLE.COM", false),
    ("a.example.com:8000", "EXAMPLE.COM", false),
    ("a.example.com:8000", ".example.com:8000", true),
    ("a.example.com:8000", "", false),
    ("a.example.com:8000", ".", false),
    ("", ".example.com", false),
    ("", "example.com", false),
    ("", ".EXAMPLE.COM", false),
    ("", "EXAMPLE.COM", false),
    ("", ".example.com:8000", false),
    ("", "", false),
    ("", ".", true),
];

/// (url, Python's `urlparse`: scheme, netloc, path, params, query, fragment,
/// `geturl()`; `None` where it raises `ValueError`)
#[allow(clippy::type_complexity)]
const PYTHON_URLPARSE: &[(&str, Option<[&str; 7]>)] = &[
    ("", Some(["", "", "", "", "", "", ""])),
    ("x", Some(["", "", "x", "", "", "", "x"])),
    ("null", Some(["", "", "null", "", "", "", "null"])),
    (
        "https://a.example.com",
        Some([
            "https",
            "a.example.com",
            "",
            "",
            "",
            "",
            "https://a.example.com",
        ]),
    ),
    (
        "HTTPS://A.Example.COM:8443/p;q;r/s;t?u=1&v#w",
        Some([
            "https",
            "A.Example.COM:8443",
            "/p;q;r/s",
            "t",
            "u=1&v",
            "w",
            "https://A.Example.COM:8443/p;q;r/s;t?u=1&v#w",
        ]),
    ),
    (
        " \u{0}\u{1f}https://a.example.com/ ",
        Some([
            "https",
            "a.example.com",
            "/ ",
            "",
            "",
            "",
            "https://a.example.com/ ",
        ]),
    ),
    (
        "https://a.exa\u{9}mp\u{d}le.com/p\u{a}a",
        Some([
            "https",
            "a.example.com",
            "/pa",
            "",
            "",
            "",
            "https://a.example.com/pa",
        ]),
    ),
    (
        "https:a.example.com",
        Some([
            "https",
            "",
            "a.example.com",
            "",
            "",
            "",
            "https:///a.example.com",
        ]),
    ),
    ("https:", Some(["https", "", "", "", "", "", "https://"])),
    ("https://", Some(["https", "", "", "", "", "", "https://"])),
    (
        "//a.example.com/x",
        Some(["", "a.example.com", "/x", "", "", "", "//a.example.com/x"]),
    ),
    (
        "1http://a.example.com",
        Some([
            "",
            "",
            "1http://a.example.com",
            "",
            "",
            "",
            "1http://a.example.com",
        ]),
    ),
    (
        "h_t://a.example.com",
        Some([
            "",
            "",
            "h_t://a.example.com",
            "",
            "",
            "",
            "h_t://a.example.com",
        ]),
    ),
    (
        "git+ssh://a.example.com",
        Some([
            "git+ssh",
            "a.example.com",
            "",
            "",
            "",
            "",
            "git+ssh://a.example.com",
        ]),
    ),
    (
        "foo://a.example.com/;x",
        Some([
            "foo",
            "a.example.com",
            "/;x",
            "",
            "",
            "",
            "foo://a.example.com/;x",
        ]),
    ),
    (
        "a.example.com:8000",
        Some([
            "a.example.com",
            "",
            "8000",
            "",
            "",
            "",
            "a.example.com:8000",
        ]),
    ),
    (
        "https://user:pw@a.example.com:99/",
        Some([
            "https",
            "user:pw@a.example.com:99",
            "/",
            "",
            "",
            "",
            "https://user:pw@a.example.com:99/",
        ]),
    ),
    (
        "https://a.example.com;x",
        Some([
            "https",
            "a.example.com;x",
            "",
            "",
            "",
            "",
            "https://a.example.com;x",
        ]),
    ),
    (
        "https://a.example.com/;",
        Some([
            "https",
            "a.example.com",
            "/",
            "",
            "",
            "",
            "https://a.example.com/",
        ]),
    ),
    (
        "https://a.example.com/?#",
        Some([
            "https",
            "a.example.com",
            "/",
            "",
            "",
            "",
            "https://a.example.com/",
        ]),
    ),
    (
        "https://a.example.com#?x",
        Some([
            "https",
            "a.example.com",
            "",
            "",
            "",
            "?x",
            "https://a.example.com#?x",
        ]),
    ),
    (
        "https://a.example.com?x#y?z",
        Some([
            "https",
            "a.example.com",
            "",
            "",
            "x",
            "y?z",
            "https://a.example.com?x#y?z",
        ]),
    ),
    (
        "https://\u{e9}.example.com/",
        Some([
            "https",
            "\u{e9}.example.com",
            "/",
            "",
            "",
            "",
            "https://\u{e9}.example.com/",
        ]),
    ),
    ("https://a\u{2100}b.example.com/", None),
    ("https://a\u{ff03}b.example.com/", None),
    ("https://[", None),
    ("https://]", None),
    ("https://][", None),
    ("https://[]/", None),
    (
        "https://[::]/",
        Some(["https", "[::]", "/", "", "", "", "https://[::]/"]),
    ),
    (
        "https://[::1]:8000/",
        Some([
            "https",
            "[::1]:8000",
            "/",
            "",
            "",
            "",
            "https://[::1]:8000/",
        ]),
    ),
    (
        "https://[::1]x/",
        Some(["https", "[::1]x", "/", "", "", "", "https://[::1]x/"]),
    ),
    (
        "https://a@[::1]:80/",
        Some([
            "https",
            "a@[::1]:80",
            "/",
            "",
            "",
            "",
            "https://a@[::1]:80/",
        ]),
    ),
    (
        "https://[1:2:3:4:5:6:7:8]/",
        Some([
            "https",
            "[1:2:3:4:5:6:7:8]",
            "/",
            "",
            "",
            "",
            "https://[1:2:3:4:5:6:7:8]/",
        ]),
    ),
    (
        "https://[1:2:3:4:5:6:7::]/",
        Some([
            "https",
            "[1:2:3:4:5:6:7::]",
            "/",
            "",
            "",
            "",
            "https://[1:2:3:4:5:6:7::]/",
        ]),
    ),
    (
        "https://[::2:3:4:5:6:7:8]/",
        Some([
            "https",
            "[::2:3:4:5:6:7:8]",
            "/",
            "",
            "",
            "",
            "https://[::2:3:4:5:6:7:8]/",
        ]),
    ),
    ("https://[1:2:3:4:5:6:7:8:9]/", None),
    ("https://[1::2::3]/", None),
    ("https://[:1:2:3:4:5:6:7]/", None),
    ("https://[1:2:3:4:5:6:7:]/", None),
    ("https://[12345::]/", None),
    (
        "https://[abcd::EF01]/",
        Some([
            "https",
            "[abcd::EF01]",
            "/",
            "",
            "",
            "",
            "https://[abcd::EF01]/",
        ]),
    ),
    ("https://[g::1]/", None),
    (
        "https://[::ffff:1.2.3.4]/",
        Some([
            "https",
            "[::ffff:1.2.3.4]",
            "/",
            "",
            "",
            "",
            "https://[::ffff:1.2.3.4]/",
        ]),
    ),
    ("https://[::ffff:1.2.3.04]/", None),
    ("https://[::ffff:1.2.3.256]/", None),
    ("https://[::ffff:1.2.3]/", None),
    (
        "https://[1:2:3:4:5:6:1.2.3.4]/",
        Some([
            "https",
            "[1:2:3:4:5:6:1.2.3.4]",
            "/",
            "",
            "",
            "",
            "https://[1:2:3:4:5:6:1.2.3.4]/",
        ]),
    ),
    ("https://[1:2:3:4:5:6:7:1.2.3.4]/", None),
    (
        "https://[::1.2.3.4]/",
        Some([
            "https",
            "[::1.2.3.4]",
            "/",
            "",
            "",
            "",
            "https://[::1.2.3.4]/",
        ]),
    ),
    ("https://[1.2.3.4::]/", None),
    ("https://[1.2.3.4]/", None),
    (
        "https://[fe80::1%eth0]/",
        Some([
            "https",
            "[fe80::1%eth0]",
            "/",
            "",
            "",
            "",
            "https://[fe80::1%eth0]/",
        ]),
    ),
    ("https://[fe80::1%]/", None),
    ("https://[fe80::1%a%b]/", None),
    (
        "https://[v1.x]/",
        Some(["https", "[v1.x]", "/", "", "", "", "https://[v1.x]/"]),
    ),
    (
        "https://[vF.x]/",
        Some(["https", "[vF.x]", "/", "", "", "", "https://[vF.x]/"]),
    ),
    ("https://[V1.x]/", None),
    ("https://[v.x]/", None),
    ("https://[v1.]/", None),
    ("https://[v1x]/", None),
    ("https://[vg.x]/", None),
];

/// Django's masked tokens of SECRET and OTHER used below.
const MASKED: &str = "qlVQzJwoFduRlCObtglxFU2ZGGjfgtvNqmXTDOCvNmUiN5iGZNT6vLUSABfcesUC";
const MASKED_OTHER: &str = "o6U6e56ttbvh2jckZJmid9KlDCEd3pkTdvT4b11nm3m7brjq4Npke9jTa89HwRLj";

/// A request through DRF's `CSRFCheck` (`process_request`, `process_view`):
/// trusted origins, allowed hosts, method, secure, Host, Origin, Referer,
/// cookie, X-CSRFToken, csrfmiddlewaretoken, Django's reason (`None`: accepted).
fn django_check() -> Vec<Case> {
    vec![
    Case(&[], &["*"], "GET", true, Some(b"api.example.com"), Some(b"null"), None, None, None, None, None),
    Case(&[], &["*"], "HEAD", true, Some(b"api.example.com"), Some(b"null"), None, None, None, None, None),
    Case(&[], &["*"], "OPTIONS", true, Some(b"api.example.com"), Some(b"null"), None, None, None, None, None),
    Case(&[], &["*"], "TRACE", true, Some(b"api.example.com"), Some(b"null"), None, None, None, None, None),
    Case(&[], &["*"], "get", true, Some(b"api.example.com"), Some(b"null"), None, None, None, None, None),
    Case(&[], &["*"], "trace", true, Some(b"api.example.com"), Some(b"null"), None, None, None, None, None),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, None, None, None, Some("CSRF cookie not set.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "PUT", false, Some(b"api.example.com"), None, None, None, None, None, Some("CSRF cookie not set.")),
    Case(&[], &["*"], "PUT", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "PATCH", false, Some(b"api.example.com"), None, None, None, None, None, Some("CSRF cookie not set.")),
    Case(&[], &["*"], "PATCH", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "DELETE", false, Some(b"api.example.com"), None, None, None, None, None, Some("CSRF cookie not set.")),
    Case(&[], &["*"], "DELETE", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "PURGE", false, Some(b"api.example.com"), None, None, None, None, None, Some("CSRF cookie not set.")),
    Case(&[], &["*"], "PURGE", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "post", false, Some(b"api.example.com"), None, None, None, None, None, Some("CSRF cookie not set.")),
    Case(&[], &["*"], "post", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "delete", false, Some(b"api.example.com"), None, None, None, None, None, Some("CSRF cookie not set.")),
    Case(&[], &["*"], "delete", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, None, Some(SECRET.as_bytes().to_vec()), None, Some("CSRF cookie not set.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, None, None, None, Some("CSRF cookie not set.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some("".to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("CSRF cookie has incorrect length.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some("a".repeat(100000)), Some(SECRET.as_bytes().to_vec()), None, Some("CSRF cookie has incorrect length.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa*".to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("CSRF cookie has invalid characters.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\u{e9}".to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("CSRF cookie has invalid characters.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some("*".to_owned()), None, None, Some("CSRF cookie has incorrect length.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(MASKED.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(MASKED.to_owned()), Some(MASKED.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(MASKED.to_owned()), Some(OTHER.as_bytes().to_vec()), None, Some("CSRF token from the 'X-Csrftoken' HTTP header incorrect.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), None, None, Some("CSRF token missing.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(b"".to_vec()), None, Some("CSRF token from the 'X-Csrftoken' HTTP header has incorrect length.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec()), None, Some("CSRF token from the 'X-Csrftoken' HTTP header has incorrect length.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec()), None, Some("CSRF token from the 'X-Csrftoken' HTTP header has incorrect length.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec()), None, Some("CSRF token from the 'X-Csrftoken' HTTP header has incorrect length.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa*".to_vec()), None, Some("CSRF token from the 'X-Csrftoken' HTTP header has invalid characters.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xe9".to_vec()), None, Some("CSRF token from the 'X-Csrftoken' HTTP header has invalid characters.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xff".to_vec()), None, Some("CSRF token from the 'X-Csrftoken' HTTP header has invalid characters.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(MASKED.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(OTHER.as_bytes().to_vec()), None, Some("CSRF token from the 'X-Csrftoken' HTTP header incorrect.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(MASKED_OTHER.as_bytes().to_vec()), None, Some("CSRF token from the 'X-Csrftoken' HTTP header incorrect.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(b"qlVQzJwoFduRlCObtglxFU2ZGGjfgtvNqlVQzJwoFduRlCObtglxFU2ZGGjfgtvN".to_vec()), None, Some("CSRF token from the 'X-Csrftoken' HTTP header incorrect.")),
    Case(&[], &["*"], "PUT", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(MASKED.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "DELETE", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(OTHER.as_bytes().to_vec()), None, Some("CSRF token from the 'X-Csrftoken' HTTP header incorrect.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), None, Some(SECRET.to_owned()), None),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), None, Some(MASKED.to_owned()), None),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), None, Some(OTHER.to_owned()), Some("CSRF token from POST incorrect.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), None, Some("aaaaaaaaaa".to_owned()), Some("CSRF token from POST has incorrect length.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), None, Some("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa*".to_owned()), Some("CSRF token from POST has invalid characters.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), None, Some("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\u{e9}".to_owned()), Some("CSRF token from POST has invalid characters.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), None, Some("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\u{20ac}".to_owned()), Some("CSRF token from POST has invalid characters.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), None, Some("".to_owned()), Some("CSRF token missing.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), Some("".to_owned()), None),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(OTHER.as_bytes().to_vec()), Some("".to_owned()), Some("CSRF token from the 'X-Csrftoken' HTTP header incorrect.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), Some(OTHER.to_owned()), Some("CSRF token from POST incorrect.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(OTHER.as_bytes().to_vec()), Some(SECRET.to_owned()), None),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(b"x".to_vec()), Some(MASKED.to_owned()), None),
    Case(&[], &["*"], "PUT", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), None, Some(SECRET.to_owned()), Some("CSRF token missing.")),
    Case(&[], &["*"], "PUT", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), Some(OTHER.to_owned()), None),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some("".to_owned()), Some(SECRET.as_bytes().to_vec()), Some(SECRET.to_owned()), Some("CSRF cookie has incorrect length.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), Some(b"http://api.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), Some(b"http://api.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://api.example.com does not match any trusted origins.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), Some(b"https://api.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - https://api.example.com does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://api.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), Some(b"http://api.example.com/"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://api.example.com/ does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), Some(b"http://api.example.com/"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://api.example.com/ does not match any trusted origins.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), Some(b"http://API.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://API.example.com does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), Some(b"http://API.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://API.example.com does not match any trusted origins.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), Some(b"HTTP://api.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - HTTP://api.example.com does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), Some(b"HTTP://api.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - HTTP://api.example.com does not match any trusted origins.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), Some(b"http://api.example.com:80"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://api.example.com:80 does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), Some(b"http://api.example.com:80"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://api.example.com:80 does not match any trusted origins.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), Some(b"null"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - null does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), Some(b"null"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - null does not match any trusted origins.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), Some(b""), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed -  does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), Some(b""), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed -  does not match any trusted origins.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), Some(b"https://["), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - https://[ does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://["), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - https://[ does not match any trusted origins.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), Some(b"http://[::1"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://[::1 does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), Some(b"http://[::1"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://[::1 does not match any trusted origins.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), Some(b"https://evil.example"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - https://evil.example does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://evil.example"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - https://evil.example does not match any trusted origins.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), Some(b"http://\xe9vil.example"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://\u{e9}vil.example does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), Some(b"http://\xe9vil.example"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://\u{e9}vil.example does not match any trusted origins.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), Some(b"https://evil.example"), None, None, None, None, Some("Origin checking failed - https://evil.example does not match any trusted origins.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), Some(b"http://api.example.com"), None, None, None, None, Some("CSRF cookie not set.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com:8000"), Some(b"http://api.example.com:8000"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com:8000"), Some(b"http://api.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://api.example.com does not match any trusted origins.")),
    Case(&[], &["*"], "POST", false, Some(b"API.example.com"), Some(b"http://API.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", false, Some(b"API.example.com"), Some(b"http://api.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://api.example.com does not match any trusted origins.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com."), Some(b"http://api.example.com."), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", false, Some(b"[::1]:8000"), Some(b"http://[::1]:8000"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", false, Some(b"bad host"), Some(b"http://bad host"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://bad host does not match any trusted origins.")),
    Case(&[], &["*"], "POST", false, Some(b"exa_mple.com"), Some(b"http://exa_mple.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://exa_mple.com does not match any trusted origins.")),
    Case(&[], &["*"], "POST", false, None, Some(b"http://"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http:// does not match any trusted origins.")),
    Case(&[], &["*"], "POST", false, None, Some(b"http://None"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://None does not match any trusted origins.")),
    Case(&[], &[".example.com"], "POST", false, Some(b"api.example.com"), Some(b"http://api.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["other.example"], "POST", false, Some(b"api.example.com"), Some(b"http://api.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://api.example.com does not match any trusted origins.")),
    Case(&[], &[], "POST", false, Some(b"api.example.com"), Some(b"http://api.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://api.example.com does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://api.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://api.example.com"), Some(b"http://evil.example/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://a.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://a.b.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://example.com.evil.io"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - https://example.com.evil.io does not match any trusted origins.")),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://evilexample.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - https://evilexample.com does not match any trusted origins.")),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"http://a.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://a.example.com does not match any trusted origins.")),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://A.EXAMPLE.COM"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - https://A.EXAMPLE.COM does not match any trusted origins.")),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"HTTPS://a.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://a.example.com:443"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - https://a.example.com:443 does not match any trusted origins.")),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://a.example.com/"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://a.example.com/path?q#f"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://user@a.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://evil.com#.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - https://evil.com#.example.com does not match any trusted origins.")),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://evil.com?.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - https://evil.com?.example.com does not match any trusted origins.")),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://evil.com\\.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b" https://a.example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://a.exa\x09mple.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://[::1].example.com"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://["), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - https://[ does not match any trusted origins.")),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"null"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - null does not match any trusted origins.")),
    Case(&["https://trusted.example", "http://plain.example", "https://*.wild.example:8443"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://trusted.example"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://trusted.example", "http://plain.example", "https://*.wild.example:8443"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://trusted.example/"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - https://trusted.example/ does not match any trusted origins.")),
    Case(&["https://trusted.example", "http://plain.example", "https://*.wild.example:8443"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"http://trusted.example"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://trusted.example does not match any trusted origins.")),
    Case(&["https://trusted.example", "http://plain.example", "https://*.wild.example:8443"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://TRUSTED.example"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - https://TRUSTED.example does not match any trusted origins.")),
    Case(&["https://trusted.example", "http://plain.example", "https://*.wild.example:8443"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"http://plain.example"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://trusted.example", "http://plain.example", "https://*.wild.example:8443"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://plain.example"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - https://plain.example does not match any trusted origins.")),
    Case(&["https://trusted.example", "http://plain.example", "https://*.wild.example:8443"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://x.wild.example:8443"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://trusted.example", "http://plain.example", "https://*.wild.example:8443"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://wild.example:8443"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://trusted.example", "http://plain.example", "https://*.wild.example:8443"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"https://x.wild.example"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - https://x.wild.example does not match any trusted origins.")),
    Case(&["https://trusted.example", "http://plain.example", "https://*.wild.example:8443"], &["*"], "POST", true, Some(b"api.example.com"), Some(b"http://x.wild.example:8443"), None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Origin checking failed - http://x.wild.example:8443 does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - no Referer.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b""), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - Referer is malformed.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"x"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - Referer is malformed.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - Referer is malformed.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https:"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - Referer is malformed.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https:api.example.com"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - Referer is malformed.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"//api.example.com/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - Referer is malformed.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://["), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - Referer is malformed.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://]"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - Referer is malformed.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://[::1]/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://[::1]/ does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://[v1.x]/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://[v1.x]/ does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://[1.2.3.4]/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - Referer is malformed.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"http://api.example.com/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - Referer is insecure while host is secure.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"ftp://api.example.com/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - Referer is insecure while host is secure.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"HTTP://api.example.com/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - Referer is insecure while host is secure.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://api.example.com"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://api.example.com/page?x=1#top"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"HTTPS://api.example.com/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://API.example.com/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://API.example.com/ does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://api.example.com:443/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://api.example.com:443/ does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://api.example.com.evil.example/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://api.example.com.evil.example/ does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://evil.example/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://evil.example/ does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://evil.example/a;?#"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://evil.example/a does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://evil.example/a;b?c#d"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://evil.example/a;b?c#d does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://evil.example/a;b/c;d;e"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://evil.example/a;b/c;d;e does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://evil.example;x/y"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://evil.example;x/y does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b" \x01https://evil.example/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://evil.example/ does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://evil.ex\x09ample/\x0a"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://evil.example/ does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://api.exa\x09mple.com/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://user:pw@evil.example:99/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://user:pw@evil.example:99/ does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://\xe9vil.example/\xff"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://\u{e9}vil.example/\u{ff} does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://evil.example/path with space"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://evil.example/path with space does not match any trusted origins.")),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, None, Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, Some(b"http://evil.example/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", false, Some(b"api.example.com"), None, Some(b"x"), None, Some(SECRET.as_bytes().to_vec()), None, Some("CSRF cookie not set.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://evil.example/"), None, Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://evil.example/ does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com:8443"), None, Some(b"https://api.example.com:8443/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", true, Some(b"api.example.com:8443"), None, Some(b"https://api.example.com/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://api.example.com/ does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"bad host"), None, Some(b"https://bad host/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://bad host/ does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, None, None, Some(b"https://api.example.com/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://api.example.com/ does not match any trusted origins.")),
    Case(&[], &["other.example"], "POST", true, Some(b"api.example.com"), None, Some(b"https://api.example.com/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://api.example.com/ does not match any trusted origins.")),
    Case(&[], &[".example.com"], "POST", true, Some(b"api.example.com"), None, Some(b"https://api.example.com/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", true, Some(b".example.com"), None, Some(b"https://a.example.com/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&[], &["*"], "POST", true, Some(b"API.example.com"), None, Some(b"https://API.example.com/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://API.example.com/ does not match any trusted origins.")),
    Case(&[], &["*"], "POST", true, Some(b"API.example.com"), None, Some(b"https://api.example.com/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://a.example.com/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://example.com/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://evilexample.com/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://evilexample.com/ does not match any trusted origins.")),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://example.com.evil.io/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://example.com.evil.io/ does not match any trusted origins.")),
    Case(&["https://*.example.com"], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"http://a.example.com/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - Referer is insecure while host is secure.")),
    Case(&["https://trusted.example", "http://plain.example", "https://*.wild.example:8443"], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://trusted.example/x"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://trusted.example", "http://plain.example", "https://*.wild.example:8443"], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://plain.example/x"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://trusted.example", "http://plain.example", "https://*.wild.example:8443"], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://x.wild.example:8443/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    Case(&["https://trusted.example", "http://plain.example", "https://*.wild.example:8443"], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://x.wild.example/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, Some("Referer checking failed - https://x.wild.example/ does not match any trusted origins.")),
    Case(&["https://trusted.example", "http://plain.example", "https://*.wild.example:8443"], &["*"], "POST", true, Some(b"api.example.com"), None, Some(b"https://wild.example:8443/"), Some(SECRET.to_owned()), Some(SECRET.as_bytes().to_vec()), None, None),
    ]
}
// END GENERATED VECTORS

fn config(trusted: &[&str]) -> CsrfConfig {
    let config = CsrfConfig::new(trusted.iter().copied());
    assert!(config.is_ok(), "{config:?}");
    config.unwrap_or_default()
}

fn secret(s: &str) -> CsrfSecret {
    let parsed = CsrfSecret::parse(s);
    assert!(parsed.is_some(), "not a secret: {s}");
    parsed.unwrap_or_else(generate_secret)
}

/// A valid POST over HTTPS from the request's own origin.
fn valid<'a>(cookie: &'a str, token: &'a [u8]) -> CsrfRequest<'a> {
    CsrfRequest {
        method: Method::POST,
        is_secure: true,
        host: Some(b"api.example.com"),
        origin: Some(b"https://api.example.com"),
        cookie: Some(cookie),
        header_token: Some(token),
        ..CsrfRequest::default()
    }
}

fn reason(req: &CsrfRequest<'_>, config: &CsrfConfig) -> Option<String> {
    check(req, config).err().map(|f| f.reason())
}

#[test]
fn constants_are_djangos() {
    assert_eq!(CSRF_SECRET_LENGTH, 32);
    assert_eq!(CSRF_TOKEN_LENGTH, 64);
    assert_eq!(CSRF_ALLOWED_CHARS.len(), 62);
    let from_ranges: String = ('a'..='z').chain('A'..='Z').chain('0'..='9').collect();
    assert_eq!(CSRF_ALLOWED_CHARS, from_ranges);
    for (i, b) in CSRF_ALLOWED_CHARS.bytes().enumerate() {
        assert_eq!(char_index(b), Some(i));
    }
    assert_eq!(char_index(b'*'), None);
}

#[test]
fn token_format_matches_django() {
    for (token, expected) in django_format() {
        let got = check_token_format(&token).err().map(|e| e.to_string());
        assert_eq!(got.as_deref(), expected, "{token:.70}");
    }
}

#[test]
fn masking_arithmetic_matches_django() {
    for (s, m, token) in DJANGO_MASK_WITH {
        assert_eq!(mask_with(s, m), *token, "{s} with {m}");
    }
}

#[test]
fn djangos_masked_tokens_unmask_to_their_secret() {
    for (token, s) in DJANGO_UNMASK {
        assert_eq!(
            unmask(token).map(|u| u.expose().to_owned()).as_deref(),
            Ok(*s)
        );
        assert!(does_token_match(token, &secret(s)));
    }
    for (_, _, token) in DJANGO_MASK_WITH {
        assert!(unmask(token).is_ok());
    }
}

#[test]
fn mask_gives_64_allowed_characters_different_each_time() {
    let s = generate_secret();
    let tokens: HashSet<String> = (0..1000).map(|_| mask(&s)).collect();
    assert_eq!(tokens.len(), 1000);
    for t in &tokens {
        assert_eq!(t.len(), CSRF_TOKEN_LENGTH);
        assert!(t.bytes().all(|b| b.is_ascii_alphanumeric()), "{t}");
        assert_eq!(unmask(t), Ok(s.clone()));
        assert!(does_token_match(t, &s));
    }
}

#[test]
fn unmask_inverts_mask() {
    for _ in 0..1000 {
        let s = generate_secret();
        assert_eq!(unmask(&mask(&s)), Ok(s));
    }
    for s in ["a".repeat(32), "9".repeat(32), "Z".repeat(32)] {
        let s = secret(&s);
        assert_eq!(unmask(&mask(&s)), Ok(s));
    }
}

#[test]
fn unmask_refuses_what_is_not_a_masked_token() {
    assert_eq!(unmask(SECRET), Err(TokenFormatError::IncorrectLength));
    assert_eq!(unmask(""), Err(TokenFormatError::IncorrectLength));
    let star = format!("{}*", &MASKED[..63]);
    assert_eq!(unmask(&star), Err(TokenFormatError::InvalidCharacters));
}

#[test]
fn generated_secrets_are_32_allowed_characters_and_distinct() {
    let secrets: HashSet<String> = (0..10_000)
        .map(|_| generate_secret().expose().to_owned())
        .collect();
    assert_eq!(secrets.len(), 10_000);
    for s in &secrets {
        assert!(CsrfSecret::parse(s).is_some(), "{s}");
    }
}

#[test]
fn secret_parse_takes_exactly_32_allowed_characters() {
    assert!(CsrfSecret::parse(SECRET).is_some());
    assert!(CsrfSecret::parse(MASKED).is_none());
    assert!(CsrfSecret::parse(&SECRET[1..]).is_none());
    assert!(CsrfSecret::parse(&format!("{}*", &SECRET[1..])).is_none());
    assert!(CsrfSecret::parse(&format!("{}\u{e9}", &SECRET[2..])).is_none());
}

#[test]
fn token_matching_accepts_bare_and_masked_secrets_only() {
    let s = secret(SECRET);
    assert!(does_token_match(SECRET, &s));
    assert!(does_token_match(MASKED, &s));
    assert!(!does_token_match(OTHER, &s));
    assert!(!does_token_match(MASKED_OTHER, &s));
    assert!(!does_token_match(&SECRET[1..], &s));
    assert!(!does_token_match(&format!("{}*", &SECRET[1..]), &s));
    assert!(!does_token_match("", &s));
    // A 64-character value is always unmasked, never compared as such.
    assert!(!does_token_match(&format!("{SECRET}{SECRET}"), &s));
}

#[test]
fn cookie_values_follow_get_secret() {
    assert_eq!(secret_from_cookie(SECRET), Ok(secret(SECRET)));
    // Django < 4.0 stored the masked form.
    assert_eq!(secret_from_cookie(MASKED), Ok(secret(SECRET)));
    assert_eq!(
        secret_from_cookie(""),
        Err(TokenFormatError::IncorrectLength)
    );
    assert_eq!(
        secret_from_cookie(&"a".repeat(100_000)),
        Err(TokenFormatError::IncorrectLength)
    );
    assert_eq!(
        secret_from_cookie(&"*".repeat(32)),
        Err(TokenFormatError::InvalidCharacters)
    );
}

#[test]
fn cookie_state_follows_process_request_get_token_and_rotate_token() {
    // No cookie: nothing to set until a token is asked for.
    let mut absent = CookieState::from_cookie(None);
    assert_eq!(absent.secret(), None);
    assert_eq!(absent.cookie_to_set(), None);
    let token = absent.get_token();
    let issued = absent.cookie_to_set().cloned();
    assert!(issued.as_ref().is_some_and(|s| does_token_match(&token, s)));
    assert_eq!(absent.secret(), issued.as_ref());

    // A valid cookie is kept, and re-sent only once a token is asked for.
    let mut valid = CookieState::from_cookie(Some(SECRET));
    assert_eq!(valid.secret(), Some(&secret(SECRET)));
    assert_eq!(valid.cookie_to_set(), None);
    let token = valid.get_token();
    assert!(does_token_match(&token, &secret(SECRET)));
    assert_eq!(valid.cookie_to_set(), Some(&secret(SECRET)));

    // A masked (pre-4.0) cookie gives its secret, re-sent bare when set.
    let mut old = CookieState::from_cookie(Some(MASKED));
    assert_eq!(old.secret(), Some(&secret(SECRET)));
    old.get_token();
    assert_eq!(old.cookie_to_set().map(CsrfSecret::expose), Some(SECRET));

    // A malformed cookie (C2: a 100 000-character one) is replaced at once.
    let long = "a".repeat(100_000);
    for bad in ["", "*", long.as_str()] {
        let replaced = CookieState::from_cookie(Some(bad));
        let new = replaced.cookie_to_set();
        assert!(new.is_some());
        assert_eq!(replaced.secret(), new);
    }

    // rotate_token: a fresh secret; tokens of the old one stop matching.
    let mut rotated = CookieState::from_cookie(Some(SECRET));
    rotated.rotate();
    let new = rotated.cookie_to_set().cloned();
    assert!(new.as_ref().is_some_and(|s| *s != secret(SECRET)));
    assert!(new.as_ref().is_some_and(|s| !does_token_match(MASKED, s)));
}

#[test]
fn is_same_domain_matches_django() {
    for (host, pattern, expected) in DJANGO_SAME_DOMAIN {
        assert_eq!(
            is_same_domain(host, pattern),
            *expected,
            "{host} ~ {pattern}"
        );
    }
}

#[test]
fn urlparse_matches_python() {
    for (url, expected) in PYTHON_URLPARSE {
        let got = ParsedUrl::parse(url).ok().map(|p| {
            let geturl = p.geturl();
            [
                p.scheme, p.netloc, p.path, p.params, p.query, p.fragment, geturl,
            ]
        });
        let expected = expected.map(|e| e.map(str::to_owned));
        assert_eq!(got, expected, "{url:?}");
    }
}

#[test]
fn whole_check_matches_django() {
    let cases = django_check();
    assert!(cases.len() > 150);
    for Case(
        trusted,
        allowed,
        method,
        is_secure,
        host,
        origin,
        referer,
        cookie,
        header,
        form,
        expected,
    ) in &cases
    {
        let config = config(trusted).with_allowed_hosts(allowed.iter().copied());
        let method = Method::from_bytes(method.as_bytes());
        assert!(method.is_ok(), "{method:?}");
        let method = method.unwrap_or_default();
        let req = CsrfRequest {
            method,
            is_secure: *is_secure,
            host: *host,
            origin: *origin,
            referer: *referer,
            cookie: cookie.as_deref(),
            header_token: header.as_deref(),
            form_token: form.as_deref(),
        };
        assert_eq!(reason(&req, &config).as_deref(), *expected, "{req:?}");
    }
}

#[test]
fn every_reason_is_djangos_text() {
    use CsrfFailure::*;
    use TokenFormatError::*;
    use TokenSource::*;
    let expected = [
        (
            UntrustedOrigin("https://evil.example".into()),
            "Origin checking failed - https://evil.example does not match any trusted origins.",
        ),
        (NoReferer, "Referer checking failed - no Referer."),
        (
            MalformedReferer,
            "Referer checking failed - Referer is malformed.",
        ),
        (
            InsecureReferer,
            "Referer checking failed - Referer is insecure while host is secure.",
        ),
        (
            UntrustedReferer("https://evil.example/".into()),
            "Referer checking failed - https://evil.example/ does not match any trusted origins.",
        ),
        (NoCookie, "CSRF cookie not set."),
        (
            MalformedCookie(IncorrectLength),
            "CSRF cookie has incorrect length.",
        ),
        (
            MalformedCookie(InvalidCharacters),
            "CSRF cookie has invalid characters.",
        ),
        (TokenMissing, "CSRF token missing."),
        (
            MalformedToken(Header, IncorrectLength),
            "CSRF token from the 'X-Csrftoken' HTTP header has incorrect length.",
        ),
        (
            MalformedToken(Header, InvalidCharacters),
            "CSRF token from the 'X-Csrftoken' HTTP header has invalid characters.",
        ),
        (
            IncorrectToken(Header),
            "CSRF token from the 'X-Csrftoken' HTTP header incorrect.",
        ),
        (
            MalformedToken(Form, IncorrectLength),
            "CSRF token from POST has incorrect length.",
        ),
        (
            MalformedToken(Form, InvalidCharacters),
            "CSRF token from POST has invalid characters.",
        ),
        (IncorrectToken(Form), "CSRF token from POST incorrect."),
    ];
    for (failure, text) in expected {
        assert_eq!(failure.reason(), text);
        assert_eq!(failure.to_string(), text);
    }
}

#[test]
fn every_reason_is_reachable_through_check() {
    let c = config(&[]);
    let ok = valid(SECRET, MASKED.as_bytes());
    assert_eq!(check(&ok, &c), Ok(()));
    let cases: [(CsrfRequest<'_>, &str); 15] = [
        (
            CsrfRequest {
                origin: Some(b"https://evil.example"),
                ..ok.clone()
            },
            "Origin checking failed - https://evil.example does not match any trusted origins.",
        ),
        (
            CsrfRequest {
                origin: None,
                ..ok.clone()
            },
            "Referer checking failed - no Referer.",
        ),
        (
            CsrfRequest {
                origin: None,
                referer: Some(b"x"),
                ..ok.clone()
            },
            "Referer checking failed - Referer is malformed.",
        ),
        (
            CsrfRequest {
                origin: None,
                referer: Some(b"http://api.example.com/"),
                ..ok.clone()
            },
            "Referer checking failed - Referer is insecure while host is secure.",
        ),
        (
            CsrfRequest {
                origin: None,
                referer: Some(b"https://evil.example/a;?#"),
                ..ok.clone()
            },
            "Referer checking failed - https://evil.example/a does not match any trusted origins.",
        ),
        (
            CsrfRequest {
                cookie: None,
                ..ok.clone()
            },
            "CSRF cookie not set.",
        ),
        (
            CsrfRequest {
                cookie: Some(""),
                ..ok.clone()
            },
            "CSRF cookie has incorrect length.",
        ),
        (
            CsrfRequest {
                cookie: Some("********************************"),
                ..ok.clone()
            },
            "CSRF cookie has invalid characters.",
        ),
        (
            CsrfRequest {
                header_token: None,
                ..ok.clone()
            },
            "CSRF token missing.",
        ),
        (
            CsrfRequest {
                header_token: Some(b"abc"),
                ..ok.clone()
            },
            "CSRF token from the 'X-Csrftoken' HTTP header has incorrect length.",
        ),
        (
            CsrfRequest {
                header_token: Some(b"*******************************a"),
                ..ok.clone()
            },
            "CSRF token from the 'X-Csrftoken' HTTP header has invalid characters.",
        ),
        (
            CsrfRequest {
                header_token: Some(OTHER.as_bytes()),
                ..ok.clone()
            },
            "CSRF token from the 'X-Csrftoken' HTTP header incorrect.",
        ),
        (
            CsrfRequest {
                form_token: Some("abc"),
                ..ok.clone()
            },
            "CSRF token from POST has incorrect length.",
        ),
        (
            CsrfRequest {
                form_token: Some("*******************************a"),
                ..ok.clone()
            },
            "CSRF token from POST has invalid characters.",
        ),
        (
            CsrfRequest {
                form_token: Some(OTHER),
                ..ok.clone()
            },
            "CSRF token from POST incorrect.",
        ),
    ];
    for (req, text) in cases {
        assert_eq!(reason(&req, &c).as_deref(), Some(text), "{req:?}");
    }
}

#[test]
fn safe_methods_are_never_checked() {
    let c = config(&[]);
    for m in [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE] {
        let req = CsrfRequest {
            method: m,
            is_secure: true,
            origin: Some(b"null"),
            ..CsrfRequest::default()
        };
        assert_eq!(check(&req, &c), Ok(()));
    }
    for m in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let req = CsrfRequest {
            method: m,
            ..CsrfRequest::default()
        };
        assert_eq!(check(&req, &c), Err(CsrfFailure::NoCookie));
    }
}

/// What the HTTP layer lets pass before it reads the cookie: the methods
/// `check` passes, compared upper-cased as Django compares them.
#[test]
fn the_safe_methods_are_djangos_in_any_case() {
    for m in ["GET", "HEAD", "OPTIONS", "TRACE", "get", "Head", "tRaCe"] {
        let method = Method::from_bytes(m.as_bytes()).unwrap();
        assert!(is_safe_method(&method), "{m}");
    }
    for m in [
        "POST", "PUT", "PATCH", "DELETE", "CONNECT", "PROPFIND", "post", "GETX",
    ] {
        let method = Method::from_bytes(m.as_bytes()).unwrap();
        assert!(!is_safe_method(&method), "{m}");
        let req = CsrfRequest {
            method,
            ..CsrfRequest::default()
        };
        assert_eq!(check(&req, &config(&[])), Err(CsrfFailure::NoCookie), "{m}");
    }
}

#[test]
fn a_bare_32_character_secret_is_accepted() {
    let c = config(&[]);
    assert_eq!(check(&valid(SECRET, SECRET.as_bytes()), &c), Ok(()));
    assert_eq!(check(&valid(MASKED, SECRET.as_bytes()), &c), Ok(()));
    assert_eq!(check(&valid(MASKED, MASKED.as_bytes()), &c), Ok(()));
}

#[test]
fn wildcard_trusted_origins_match_whole_label_subdomains_of_the_same_scheme() {
    let c = config(&["https://*.example.com"]);
    let with = |origin: &'static [u8]| {
        let req = CsrfRequest {
            host: Some(b"api.tessera.test"),
            origin: Some(origin),
            ..valid(SECRET, MASKED.as_bytes())
        };
        check(&req, &c)
    };
    assert_eq!(with(b"https://a.example.com"), Ok(()));
    assert_eq!(with(b"https://a.b.example.com"), Ok(()));
    // Django: `.example.com` matches the bare domain too.
    assert_eq!(with(b"https://example.com"), Ok(()));
    for evil in [
        "https://example.com.evil.io",
        "https://evilexample.com",
        "http://a.example.com",
        "https://a.example.com:8443",
    ] {
        assert_eq!(
            with(evil.as_bytes()),
            Err(CsrfFailure::UntrustedOrigin(evil.to_owned())),
            "{evil}"
        );
    }
}

#[test]
fn origin_null_and_unparseable_origins_fail() {
    let c = config(&["https://*.example.com", "https://trusted.example"]);
    for origin in ["null", "https://[", "https://]", "", "https://[::1"] {
        let req = CsrfRequest {
            origin: Some(origin.as_bytes()),
            ..valid(SECRET, MASKED.as_bytes())
        };
        assert_eq!(
            reason(&req, &c),
            Some(format!(
                "Origin checking failed - {origin} does not match any trusted origins."
            )),
        );
    }
}

#[test]
fn own_origin_needs_the_scheme_and_port_of_the_request() {
    let c = config(&[]);
    let base = valid(SECRET, MASKED.as_bytes());
    let http = CsrfRequest {
        origin: Some(b"http://api.example.com"),
        ..base.clone()
    };
    assert!(check(&http, &c).is_err());
    let plain = CsrfRequest {
        is_secure: false,
        ..http
    };
    assert_eq!(check(&plain, &c), Ok(()));
    let port = CsrfRequest {
        host: Some(b"api.example.com:8443"),
        origin: Some(b"https://api.example.com:8443"),
        ..base.clone()
    };
    assert_eq!(check(&port, &c), Ok(()));
    let disallowed = c.clone().with_allowed_hosts(["other.example"]);
    assert!(check(&base, &disallowed).is_err());
    let no_host = CsrfRequest { host: None, ..base };
    assert!(check(&no_host, &c).is_err());
}

#[test]
fn referer_checks_for_https_without_origin() {
    let c = config(&["https://*.example.com"]);
    let with = |referer: Option<&'static [u8]>| {
        let req = CsrfRequest {
            host: Some(b"api.tessera.test"),
            origin: None,
            referer,
            ..valid(SECRET, MASKED.as_bytes())
        };
        check(&req, &c)
    };
    assert_eq!(with(None), Err(CsrfFailure::NoReferer));
    assert_eq!(with(Some(b"x")), Err(CsrfFailure::MalformedReferer));
    assert_eq!(with(Some(b"https://[")), Err(CsrfFailure::MalformedReferer));
    assert_eq!(
        with(Some(b"//api.tessera.test/")),
        Err(CsrfFailure::MalformedReferer)
    );
    assert_eq!(
        with(Some(b"http://api.tessera.test/")),
        Err(CsrfFailure::InsecureReferer)
    );
    assert_eq!(
        with(Some(b"https://evil.example/x?y")),
        Err(CsrfFailure::UntrustedReferer(
            "https://evil.example/x?y".into()
        ))
    );
    assert_eq!(with(Some(b"https://api.tessera.test/page")), Ok(()));
    assert_eq!(with(Some(b"https://a.example.com/")), Ok(()));
    assert_eq!(
        with(Some(b"https://evilexample.com/")),
        Err(CsrfFailure::UntrustedReferer(
            "https://evilexample.com/".into()
        ))
    );
    // Plain HTTP: the Referer is not looked at.
    let plain = CsrfRequest {
        is_secure: false,
        origin: None,
        referer: Some(b"http://evil.example/"),
        ..valid(SECRET, MASKED.as_bytes())
    };
    assert_eq!(check(&plain, &c), Ok(()));
}

#[test]
fn the_form_field_comes_first_for_post_only() {
    let c = config(&[]);
    let base = valid(SECRET, OTHER.as_bytes());
    let form = CsrfRequest {
        form_token: Some(MASKED),
        ..base.clone()
    };
    assert_eq!(check(&form, &c), Ok(()));
    let empty = CsrfRequest {
        form_token: Some(""),
        ..base.clone()
    };
    assert_eq!(
        check(&empty, &c),
        Err(CsrfFailure::IncorrectToken(TokenSource::Header))
    );
    let put = CsrfRequest {
        method: Method::PUT,
        ..form
    };
    assert_eq!(
        check(&put, &c),
        Err(CsrfFailure::IncorrectToken(TokenSource::Header))
    );
}

#[test]
fn trusted_origins_need_a_scheme_and_must_parse() {
    assert_eq!(
        CsrfConfig::new(["example.com"]).err(),
        Some(CsrfConfigError::MissingScheme("example.com".into()))
    );
    assert_eq!(
        CsrfConfig::new(["https://["]).err(),
        Some(CsrfConfigError::InvalidUrl("https://[".into()))
    );
    let c = config(&["https://a.example", "https://*.b.example"]);
    assert_eq!(
        c.trusted_origins(),
        ["https://a.example", "https://*.b.example"]
    );
    assert_eq!(c.exact, ["https://a.example"]);
    assert_eq!(
        c.subdomains,
        [("https".to_owned(), ".b.example".to_owned())]
    );
    assert_eq!(c.referer_hosts, ["a.example", ".b.example"]);
}

#[test]
fn host_validation_follows_split_domain_port() {
    for (host, domain) in [
        ("api.example.com", Some("api.example.com")),
        ("API.Example.com:8000", Some("api.example.com")),
        ("api.example.com.", Some("api.example.com")),
        ("[::1]:8000", Some("[::1]")),
        ("[::1]", Some("[::1]")),
        ("[1.2.3.4]", None),
        ("[::1", None),
        ("bad host", None),
        ("exa_mple.com", None),
        ("example.com:", None),
        ("example.com:80a", None),
        (".", None),
        ("", None),
        ("[::ABCD]:1", Some("[::abcd]")),
        ("\u{212A}.example", None),
        ("\u{c0}.example", None),
    ] {
        assert_eq!(split_domain(host).as_deref(), domain, "{host}");
    }
}

#[test]
fn debug_never_shows_secrets_or_tokens() {
    let s = secret(SECRET);
    assert_eq!(format!("{s:?}"), "CsrfSecret([redacted])");
    let req = valid(SECRET, MASKED.as_bytes());
    let shown = format!("{req:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(!shown.contains(MASKED), "{shown}");
    assert!(shown.contains("[redacted]"));
    let state = CookieState::from_cookie(Some(SECRET));
    assert!(!format!("{state:?}").contains(SECRET));
}
