//! Django's CSRF protection (`django/middleware/csrf.py`, Django 5.x) as pure
//! functions, with Django's reason texts word for word.
//!
//! The CSRF secret is 32 characters of `a-zA-Z0-9`, kept in the `csrftoken`
//! cookie. Pages and `GET /auth/csrf` hand out a *masked* form of it (64
//! characters, different on every call, against BREACH); a client sends back
//! either that or the bare secret in the `X-CSRFToken` header (or the
//! `csrfmiddlewaretoken` form field). [`check`] is `CsrfViewMiddleware.process_view`
//! as DRF's `SessionAuthentication.enforce_csrf` runs it; [`CookieState`] is
//! `process_request`, `get_token` and `rotate_token`, which decide the cookie a
//! response sets.
//!
//! The HTTP layer reads the request and calls:
//!
//! ```
//! use http::Method;
//! use tessera_core::csrf::{self, CookieState, CsrfConfig, CsrfRequest};
//!
//! let config = CsrfConfig::new(["https://*.example.com"])?;
//!
//! // GET /auth/csrf: a masked token for the client, and the cookie to set.
//! let mut cookie = CookieState::from_cookie(None);
//! let token = cookie.get_token();
//! let set_cookie = cookie.cookie_to_set().map(|s| s.expose().to_owned());
//!
//! // A later unsafe request carries both.
//! let req = CsrfRequest {
//!     method: Method::POST,
//!     is_secure: true,
//!     host: Some(b"api.example.com"),
//!     origin: Some(b"https://app.example.com"),
//!     cookie: set_cookie.as_deref(),
//!     header_token: Some(token.as_bytes()),
//!     ..CsrfRequest::default()
//! };
//! assert_eq!(csrf::check(&req, &config), Ok(()));
//!
//! // A failure carries Django's reason; DRF prefixes it with "CSRF Failed: ".
//! let forged = CsrfRequest { origin: Some(b"https://evil.example"), ..req };
//! let failure = csrf::check(&forged, &config).err().map(|f| f.reason());
//! assert_eq!(
//!     failure.as_deref(),
//!     Some("Origin checking failed - https://evil.example does not match any trusted origins."),
//! );
//! # Ok::<(), tessera_core::csrf::CsrfConfigError>(())
//! ```
//!
//! Header values are bytes and are read as Latin-1, as WSGI and ASGI servers
//! hand them to Django, so lengths and reason texts come out as Django's. URLs
//! (`Origin`, `Referer`, trusted origins) are split as Python's
//! `urllib.parse.urlparse` splits them (CPython 3.11.7), quirks included: the
//! test vectors below were produced by Django 5.1 itself
//! (`tests/csrf_vectors.py`).
//!
//! Not supported: `CSRF_COOKIE_DOMAIN` (the `Referer` is compared with the
//! request's host) and a configurable header name. `CSRF_USE_SESSIONS` is the
//! HTTP layer's choice of where the secret comes from: [`check`] takes it in
//! [`CsrfRequest::cookie`] either way. `ALLOWED_HOSTS` is
//! [`crate::host::AllowedHosts`].

use crate::secret::Secret;
use http::Method;
use rand::distributions::{Alphanumeric, DistString};
use std::fmt;
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;

/// Characters in a CSRF secret (Django's `CSRF_SECRET_LENGTH`).
pub const CSRF_SECRET_LENGTH: usize = 32;
/// Characters in a masked CSRF token (Django's `CSRF_TOKEN_LENGTH`).
pub const CSRF_TOKEN_LENGTH: usize = 2 * CSRF_SECRET_LENGTH;
/// The characters of secrets and tokens, in Django's order
/// (`string.ascii_letters + string.digits`); masking is arithmetic on the
/// positions in this string, so the order is part of the token format.
pub const CSRF_ALLOWED_CHARS: &str =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// The cookie holding the secret (Django's default `CSRF_COOKIE_NAME`).
pub const COOKIE_NAME: &str = "csrftoken";
/// The request header carrying the token (Django's default `CSRF_HEADER_NAME`).
pub const HEADER_NAME: &str = "X-CSRFToken";
/// The form field carrying the token in `POST` bodies.
pub const FORM_FIELD: &str = "csrfmiddlewaretoken";
/// Methods never checked ("safe" by RFC 9110), as Django.
pub const SAFE_METHODS: [&str; 4] = ["GET", "HEAD", "OPTIONS", "TRACE"];

const CHARS: &[u8] = CSRF_ALLOWED_CHARS.as_bytes();
const RADIX: usize = CSRF_ALLOWED_CHARS.len();

/// Position of `c` in [`CSRF_ALLOWED_CHARS`].
fn char_index(c: u8) -> Option<usize> {
    match c {
        b'a'..=b'z' => Some(usize::from(c - b'a')),
        b'A'..=b'Z' => Some(26 + usize::from(c - b'A')),
        b'0'..=b'9' => Some(52 + usize::from(c - b'0')),
        _ => None,
    }
}

/// The character at position `i` (taken modulo 62).
fn char_at(i: usize) -> char {
    CHARS.get(i % RADIX).map_or('a', |&b| char::from(b))
}

fn is_allowed(s: &str) -> bool {
    s.bytes().all(|b| char_index(b).is_some())
}

/// Bytes read as Latin-1, as WSGI and ASGI servers decode header values.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Why a token or cookie value is malformed, in Django's words (a phrase
/// without subject: "CSRF cookie …", "CSRF token from … …").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenFormatError {
    /// Neither 32 (a secret) nor 64 (a masked token) characters.
    #[error("has incorrect length")]
    IncorrectLength,
    /// A character outside `a-zA-Z0-9`.
    #[error("has invalid characters")]
    InvalidCharacters,
}

/// Django's `_check_token_format`: `token` (a cookie value or a request token,
/// masked or not) must have 32 or 64 characters, all in `a-zA-Z0-9`. The length
/// is checked first and counts characters, not bytes.
pub fn check_token_format(token: &str) -> Result<(), TokenFormatError> {
    let len = token.chars().count();
    if len != CSRF_SECRET_LENGTH && len != CSRF_TOKEN_LENGTH {
        return Err(TokenFormatError::IncorrectLength);
    }
    if !is_allowed(token) {
        return Err(TokenFormatError::InvalidCharacters);
    }
    Ok(())
}

/// A CSRF secret: 32 characters of `a-zA-Z0-9`. `Debug` is redacted and
/// equality is constant-time.
#[derive(Clone)]
pub struct CsrfSecret(Secret);

impl CsrfSecret {
    /// A secret from its 32 characters; `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        (value.len() == CSRF_SECRET_LENGTH && is_allowed(value))
            .then(|| CsrfSecret(Secret::new(value)))
    }

    /// The secret itself: the value of the `csrftoken` cookie.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl PartialEq for CsrfSecret {
    fn eq(&self, other: &Self) -> bool {
        self.expose()
            .as_bytes()
            .ct_eq(other.expose().as_bytes())
            .into()
    }
}

impl Eq for CsrfSecret {}

impl fmt::Debug for CsrfSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CsrfSecret").field(&self.0).finish()
    }
}

/// A fresh secret from the OS CSPRNG (Django's `_get_new_csrf_string`).
pub fn generate_secret() -> CsrfSecret {
    CsrfSecret(Secret::new(
        Alphanumeric.sample_string(&mut rand::rngs::OsRng, CSRF_SECRET_LENGTH),
    ))
}

/// Django's `_mask_cipher_secret`: a fresh random 32-character mask, then each
/// secret character shifted by the mask character at the same place
/// (`chars[(x + y) % 62]`); returns mask + cipher, 64 characters, different on
/// every call.
pub fn mask(secret: &CsrfSecret) -> String {
    let mask = Alphanumeric.sample_string(&mut rand::rngs::OsRng, CSRF_SECRET_LENGTH);
    mask_with(secret.expose(), &mask)
}

/// The masking arithmetic, with a given mask. Both arguments hold only allowed
/// characters ([`CsrfSecret`] guarantees it for the secret, the caller for the
/// mask), so the `unwrap_or(0)` fallbacks are never taken.
fn mask_with(secret: &str, mask: &str) -> String {
    let cipher: String = secret
        .bytes()
        .zip(mask.bytes())
        .map(|(x, y)| char_at(char_index(x).unwrap_or(0) + char_index(y).unwrap_or(0)))
        .collect();
    format!("{mask}{cipher}")
}

/// Django's `_unmask_cipher_token`: the secret behind a masked 64-character
/// token (`chars[x - y]`, the first half being the mask). Django assumes a
/// well-formed token; here anything else is an error.
pub fn unmask(token: &str) -> Result<CsrfSecret, TokenFormatError> {
    check_token_format(token)?;
    if token.len() != CSRF_TOKEN_LENGTH {
        return Err(TokenFormatError::IncorrectLength);
    }
    let (mask, cipher) = token.as_bytes().split_at(CSRF_SECRET_LENGTH);
    let secret: String = cipher
        .iter()
        .zip(mask)
        .map(|(&x, &y)| {
            let (x, y) = (char_index(x).unwrap_or(0), char_index(y).unwrap_or(0));
            char_at(x + RADIX - y)
        })
        .collect();
    Ok(CsrfSecret(Secret::new(secret)))
}

/// Django's `_does_token_match`: a request token (the bare secret, or a masked
/// token, which is unmasked first) against the secret, compared in constant
/// time. A malformed token does not match (Django checks the format before).
pub fn does_token_match(request_token: &str, secret: &CsrfSecret) -> bool {
    if check_token_format(request_token).is_err() {
        return false;
    }
    let candidate = if request_token.len() == CSRF_TOKEN_LENGTH {
        match unmask(request_token) {
            Ok(s) => s,
            Err(_) => return false,
        }
    } else {
        CsrfSecret(Secret::new(request_token))
    };
    candidate == *secret
}

/// The secret a `csrftoken` cookie value holds (Django's `_get_secret`): the
/// value itself if 32 characters, unmasked if 64 (a cookie from before Django
/// 4.0, which masked it), an error if malformed. An empty cookie (`csrftoken=`)
/// is malformed, not absent.
pub fn secret_from_cookie(value: &str) -> Result<CsrfSecret, TokenFormatError> {
    check_token_format(value)?;
    if value.len() == CSRF_TOKEN_LENGTH {
        unmask(value)
    } else {
        Ok(CsrfSecret(Secret::new(value)))
    }
}

/// The CSRF secret of a request and whether the response must set the cookie:
/// Django's `request.META["CSRF_COOKIE"]` and `CSRF_COOKIE_NEEDS_UPDATE`, as
/// `process_request`, [`get_token`](CookieState::get_token) and
/// [`rotate`](CookieState::rotate) leave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieState {
    secret: Option<CsrfSecret>,
    needs_update: bool,
}

impl CookieState {
    /// Django's `process_request`: a well-formed cookie gives the secret (the
    /// cookie is not re-sent unless a token is asked for); a malformed one is
    /// replaced by a fresh secret, set on the response; no cookie gives none.
    pub fn from_cookie(cookie: Option<&str>) -> Self {
        match cookie.map(secret_from_cookie) {
            None => CookieState {
                secret: None,
                needs_update: false,
            },
            Some(Ok(secret)) => CookieState {
                secret: Some(secret),
                needs_update: false,
            },
            Some(Err(_)) => CookieState {
                secret: Some(generate_secret()),
                needs_update: true,
            },
        }
    }

    /// The request's secret, if any.
    pub fn secret(&self) -> Option<&CsrfSecret> {
        self.secret.as_ref()
    }

    /// Django's `get_token`: a masked token for the client, creating the secret
    /// if there is none. The cookie is then (re)set, which renews its expiry.
    pub fn get_token(&mut self) -> String {
        self.needs_update = true;
        let secret = self.secret.get_or_insert_with(generate_secret);
        mask(secret)
    }

    /// Django's `rotate_token`, at login: a fresh secret, set on the response.
    /// Tokens masked from the old secret stop matching.
    pub fn rotate(&mut self) {
        self.secret = Some(generate_secret());
        self.needs_update = true;
    }

    /// The secret to send in a `Set-Cookie: csrftoken=…`, if the response must
    /// set it.
    pub fn cookie_to_set(&self) -> Option<&CsrfSecret> {
        if self.needs_update {
            self.secret.as_ref()
        } else {
            None
        }
    }
}

/// Django's `django.utils.http.is_same_domain`: `pattern` lowercased either
/// equals `host`, or starts with `.` and `host` is that domain or ends with it
/// (`.example.com` matches `example.com` and `a.example.com`, never
/// `evilexample.com`). `host` is not lowercased; an empty pattern matches
/// nothing.
pub fn is_same_domain(host: &str, pattern: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    let pattern = pattern.to_lowercase();
    match pattern.strip_prefix('.') {
        Some(bare) if host.ends_with(&pattern) || host == bare => true,
        _ => pattern == host,
    }
}

/// A URL split as Python's `urllib.parse.urlparse` splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ParsedUrl {
    scheme: String,
    netloc: String,
    path: String,
    params: String,
    query: String,
    fragment: String,
}

/// A URL `urlparse` refuses (it raises `ValueError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InvalidUrl;

impl ParsedUrl {
    /// `urlparse(url)` (CPython 3.11.7), including its `ValueError`s: unbalanced
    /// brackets, a bracketed host that is not IPv6 (or IPvFuture), a netloc that
    /// NFKC-normalises to a delimiter.
    fn parse(url: &str) -> Result<Self, InvalidUrl> {
        let url: String = url
            .trim_start_matches(|c: char| c <= '\u{20}')
            .chars()
            .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
            .collect();
        let mut scheme = String::new();
        let mut rest = url.as_str();
        if let Some(i) = url.find(':') {
            let starts_alpha = url.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
            let name = &url[..i];
            if i > 0
                && starts_alpha
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
            {
                scheme = name.to_ascii_lowercase();
                rest = &url[i + 1..];
            }
        }
        let mut netloc = "";
        if let Some(after) = rest.strip_prefix("//") {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            netloc = &after[..end];
            rest = &after[end..];
            let (open, close) = (netloc.contains('['), netloc.contains(']'));
            if open != close {
                return Err(InvalidUrl);
            }
            if open {
                let bracketed = netloc.split_once('[').map_or("", |(_, r)| r);
                let host = bracketed.split_once(']').map_or(bracketed, |(h, _)| h);
                if !is_valid_bracketed_host(host) {
                    return Err(InvalidUrl);
                }
            }
        }
        let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        check_netloc(netloc)?;
        // `urlparse` then splits `;params` off the last path segment, for the
        // schemes of `uses_params` (among them "", "http" and "https").
        let (path, params) = if USES_PARAMS.contains(&scheme.as_str()) && path.contains(';') {
            split_params(path)
        } else {
            (path, "")
        };
        Ok(ParsedUrl {
            scheme,
            netloc: netloc.to_owned(),
            path: path.to_owned(),
            params: params.to_owned(),
            query: query.to_owned(),
            fragment: fragment.to_owned(),
        })
    }

    /// `ParseResult.geturl()`, as Django formats a refused `Referer`: empty
    /// `;`, `?` and `#` parts are dropped, the scheme is lowercased.
    fn geturl(&self) -> String {
        let mut path = self.path.clone();
        if !self.params.is_empty() {
            path = format!("{path};{}", self.params);
        }
        let mut url = path;
        let uses_netloc = USES_NETLOC.contains(&self.scheme.as_str());
        if !self.netloc.is_empty()
            || (!self.scheme.is_empty() && uses_netloc && !url.starts_with("//"))
        {
            if !url.is_empty() && !url.starts_with('/') {
                url.insert(0, '/');
            }
            url = format!("//{}{url}", self.netloc);
        }
        if !self.scheme.is_empty() {
            url = format!("{}:{url}", self.scheme);
        }
        if !self.query.is_empty() {
            url = format!("{url}?{}", self.query);
        }
        if !self.fragment.is_empty() {
            url = format!("{url}#{}", self.fragment);
        }
        url
    }
}

const USES_PARAMS: [&str; 16] = [
    "", "ftp", "hdl", "prospero", "http", "imap", "https", "shttp", "rtsp", "rtsps", "rtspu",
    "sip", "sips", "mms", "sftp", "tel",
];

const USES_NETLOC: [&str; 26] = [
    "", "ftp", "http", "gopher", "nntp", "telnet", "imap", "wais", "file", "mms", "https", "shttp",
    "snews", "prospero", "rtsp", "rtsps", "rtspu", "rsync", "svn", "svn+ssh", "sftp", "nfs", "git",
    "git+ssh", "ws", "wss",
];

/// `urllib.parse._splitparams`.
fn split_params(path: &str) -> (&str, &str) {
    let at = match path.rfind('/') {
        Some(slash) => match path[slash..].find(';') {
            Some(i) => slash + i,
            None => return (path, ""),
        },
        None => path.find(';').unwrap_or(path.len()),
    };
    (&path[..at], path.get(at + 1..).unwrap_or(""))
}

/// `urllib.parse._checknetloc`: a non-ASCII netloc must not gain a URL
/// delimiter under NFKC normalisation.
fn check_netloc(netloc: &str) -> Result<(), InvalidUrl> {
    if netloc.is_ascii() {
        return Ok(());
    }
    let n: String = netloc
        .chars()
        .filter(|c| !matches!(c, '@' | ':' | '#' | '?'))
        .collect();
    let normalized: String = n.nfkc().collect();
    if n != normalized && normalized.contains(['/', '?', '#', '@', ':']) {
        return Err(InvalidUrl);
    }
    Ok(())
}

/// `urllib.parse._check_bracketed_host`: an IPvFuture (`v1.x`) or an IPv6
/// address as Python's `ipaddress` reads it (an IPv4 address is refused).
fn is_valid_bracketed_host(host: &str) -> bool {
    if let Some(rest) = host.strip_prefix('v') {
        // re.match(r"\Av[a-fA-F0-9]+\..+\Z", host)
        let hex = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
        return hex > 0
            && rest[hex..]
                .strip_prefix('.')
                .is_some_and(|tail| !tail.is_empty() && !tail.contains('\n'));
    }
    is_python_ipv6(host)
}

/// `ipaddress.IPv6Address(s)` succeeds (scope id allowed).
fn is_python_ipv6(s: &str) -> bool {
    if s.contains('/') {
        return false;
    }
    let addr = match s.split_once('%') {
        Some((_, scope)) if scope.is_empty() || scope.contains('%') => return false,
        Some((addr, _)) => addr,
        None => s,
    };
    if addr.is_empty() {
        return false;
    }
    let mut parts: Vec<&str> = addr.split(':').collect();
    if parts.len() < 3 {
        return false;
    }
    // An IPv4 suffix stands for two hextets.
    if parts.last().is_some_and(|p| p.contains('.')) {
        if !parts.pop().is_some_and(is_python_ipv4) {
            return false;
        }
        parts.extend(["0", "0"]);
    }
    let len = parts.len();
    if len > 9 {
        return false;
    }
    let is_empty = |i: usize| parts.get(i).is_some_and(|p| p.is_empty());
    let mut skip = None;
    for i in 1..len - 1 {
        if is_empty(i) {
            if skip.is_some() {
                return false;
            }
            skip = Some(i);
        }
    }
    let (hi, lo) = match skip {
        Some(skip) => {
            let (mut hi, mut lo) = (skip, len - skip - 1);
            if is_empty(0) {
                hi -= 1;
                if hi != 0 {
                    return false;
                }
            }
            if is_empty(len - 1) {
                lo -= 1;
                if lo != 0 {
                    return false;
                }
            }
            if hi + lo >= 8 {
                return false;
            }
            (hi, lo)
        }
        None if len == 8 => (len, 0),
        None => return false,
    };
    let is_hextet =
        |p: &str| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_hexdigit());
    (0..hi)
        .chain(len - lo..len)
        .all(|i| parts.get(i).is_some_and(|p| is_hextet(p)))
}

/// `ipaddress.IPv4Address(s)` succeeds: four decimal octets, no leading zeros.
fn is_python_ipv4(s: &str) -> bool {
    let octets: Vec<&str> = s.split('.').collect();
    octets.len() == 4
        && octets.iter().all(|o| {
            !o.is_empty()
                && o.len() <= 3
                && o.bytes().all(|b| b.is_ascii_digit())
                && (*o == "0" || !o.starts_with('0'))
                && o.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// Django's `split_domain_port`: the lowercased domain (one trailing dot
/// dropped) if `host` matches `host_validation_re`, else `None`.
pub(crate) fn split_domain(host: &str) -> Option<String> {
    let host = host.to_lowercase();
    let is_port = |rest: &str| {
        rest.is_empty()
            || rest
                .strip_prefix(':')
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let (domain, rest) = if let Some(inner) = host.strip_prefix('[') {
        // \[[a-f0-9]*:[a-f0-9.:]+\]
        let (body, rest) = inner.split_once(']')?;
        let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        let head = body.bytes().take_while(|&b| hex(b)).count();
        let tail = body[head..].strip_prefix(':')?;
        if tail.is_empty() || !tail.bytes().all(|b| hex(b) || b == b'.' || b == b':') {
            return None;
        }
        (&host[..body.len() + 2], rest)
    } else {
        // [a-z0-9.-]+
        let end = host
            .bytes()
            .take_while(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            .count();
        if end == 0 {
            return None;
        }
        (&host[..end], &host[end..])
    };
    if !is_port(rest) {
        return None;
    }
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    (!domain.is_empty()).then(|| domain.to_owned())
}

/// Configuration of the check: Django's `CSRF_TRUSTED_ORIGINS` (parsed once)
/// and `ALLOWED_HOSTS`.
#[derive(Debug, Clone)]
pub struct CsrfConfig {
    trusted_origins: Vec<String>,
    /// Trusted origins without `*`, compared with `Origin` as strings.
    exact: Vec<String>,
    /// (scheme, netloc without leading `*`) of trusted origins with a `*`.
    subdomains: Vec<(String, String)>,
    /// Netlocs without leading `*` of every trusted origin, for the `Referer`.
    referer_hosts: Vec<String>,
    allowed_hosts: Vec<String>,
}

impl Default for CsrfConfig {
    /// No trusted origin; any well-formed host is the request's own.
    fn default() -> Self {
        CsrfConfig {
            trusted_origins: Vec::new(),
            exact: Vec::new(),
            subdomains: Vec::new(),
            referer_hosts: Vec::new(),
            allowed_hosts: vec!["*".to_owned()],
        }
    }
}

/// A trusted origin Django would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsrfConfigError {
    /// No `://` in it (Django's system check `4_0.E001`).
    #[error(
        "the values of the CSRF trusted origins must start with a scheme \
         (usually http:// or https://) but found {0}"
    )]
    MissingScheme(String),
    /// Python's `urlparse` raises on it (Django would fail on the first request).
    #[error("the CSRF trusted origin {0} is not a valid URL")]
    InvalidUrl(String),
}

impl CsrfConfig {
    /// Django's `CSRF_TRUSTED_ORIGINS`: each entry `scheme://host[:port]`,
    /// where the host may start with `*.` to trust every subdomain
    /// (`https://*.example.com`). Every entry needs a scheme.
    pub fn new<I, S>(trusted_origins: I) -> Result<Self, CsrfConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut config = CsrfConfig::default();
        for origin in trusted_origins {
            let origin: String = origin.into();
            if !origin.contains("://") {
                return Err(CsrfConfigError::MissingScheme(origin));
            }
            let parsed = ParsedUrl::parse(&origin)
                .map_err(|_| CsrfConfigError::InvalidUrl(origin.clone()))?;
            let host = parsed.netloc.trim_start_matches('*').to_owned();
            if origin.contains('*') {
                config.subdomains.push((parsed.scheme, host.clone()));
            } else {
                config.exact.push(origin.clone());
            }
            config.referer_hosts.push(host);
            config.trusted_origins.push(origin);
        }
        Ok(config)
    }

    /// Django's `ALLOWED_HOSTS` (default `["*"]`): which `Host` values count
    /// as the request's own origin. `*` allows any, `.example.com` the domain
    /// and its subdomains, anything else exactly. The HTTP layer normally
    /// refuses other hosts before; here they only stop counting as own origin.
    pub fn with_allowed_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_hosts = hosts.into_iter().map(Into::into).collect();
        self
    }

    /// The trusted origins, as configured.
    pub fn trusted_origins(&self) -> &[String] {
        &self.trusted_origins
    }

    /// Django's `request.get_host()`: the host (with port) if it is well formed
    /// and allowed, `None` where Django raises `DisallowedHost`.
    fn good_host(&self, host: Option<&[u8]>) -> Option<String> {
        let host = latin1(host?);
        let domain = split_domain(&host)?;
        self.allowed_hosts
            .iter()
            .any(|p| p == "*" || is_same_domain(&domain, p))
            .then_some(host)
    }
}

/// What [`check`] needs of a request, read by the HTTP layer. Header values are
/// raw bytes (`HeaderValue::as_bytes`), `None` when the header is absent; a
/// present but empty header is `Some(b"")`, which Django treats differently.
#[derive(Clone, Default)]
pub struct CsrfRequest<'a> {
    /// The method; compared uppercased, as Django uppercases it.
    pub method: Method,
    /// Whether the request came over HTTPS (Django's `request.is_secure()`).
    pub is_secure: bool,
    /// The `Host` header, port included (Django's `request.get_host()`); when
    /// absent, the server's own `name[:port]`, as Django rebuilds it.
    pub host: Option<&'a [u8]>,
    /// The `Origin` header.
    pub origin: Option<&'a [u8]>,
    /// The `Referer` header.
    pub referer: Option<&'a [u8]>,
    /// The value of the `csrftoken` cookie; `Some("")` for `csrftoken=`.
    pub cookie: Option<&'a str>,
    /// The `X-CSRFToken` header.
    pub header_token: Option<&'a [u8]>,
    /// The `csrfmiddlewaretoken` field of a form body
    /// (`application/x-www-form-urlencoded` or `multipart/form-data`), the last
    /// one if repeated (Django's `QueryDict.get`). Read only for `POST`; an
    /// empty value falls back to the header.
    pub form_token: Option<&'a str>,
}

impl fmt::Debug for CsrfRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |present: bool| if present { Some("[redacted]") } else { None };
        f.debug_struct("CsrfRequest")
            .field("method", &self.method)
            .field("is_secure", &self.is_secure)
            .field("host", &self.host.map(latin1))
            .field("origin", &self.origin.map(latin1))
            .field("referer", &self.referer.map(latin1))
            .field("cookie", &redacted(self.cookie.is_some()))
            .field("header_token", &redacted(self.header_token.is_some()))
            .field("form_token", &redacted(self.form_token.is_some()))
            .finish()
    }
}

/// Where the request token came from, as Django names it in a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// The `csrfmiddlewaretoken` form field: "POST".
    Form,
    /// The `X-CSRFToken` header: "the 'X-Csrftoken' HTTP header".
    Header,
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Form => f.write_str("POST"),
            // Django: HttpHeaders.parse_header_name("HTTP_X_CSRFTOKEN"), repr'd.
            TokenSource::Header => f.write_str("the 'X-Csrftoken' HTTP header"),
        }
    }
}

/// Why a request failed the CSRF check. `Display` (and [`reason`](Self::reason))
/// is Django's reason, without DRF's `CSRF Failed: ` prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsrfFailure {
    /// The `Origin` header (shown as sent) is neither the request's own origin
    /// nor trusted.
    #[error("Origin checking failed - {0} does not match any trusted origins.")]
    UntrustedOrigin(String),
    /// HTTPS, no `Origin`, and no `Referer`.
    #[error("Referer checking failed - no Referer.")]
    NoReferer,
    /// The `Referer` lacks a scheme or a host, or cannot be parsed.
    #[error("Referer checking failed - Referer is malformed.")]
    MalformedReferer,
    /// An `http:` (or other non-HTTPS) `Referer` on an HTTPS request.
    #[error("Referer checking failed - Referer is insecure while host is secure.")]
    InsecureReferer,
    /// The `Referer` (as Python's `geturl()` rebuilds it) is neither this host
    /// nor a trusted origin's host.
    #[error("Referer checking failed - {0} does not match any trusted origins.")]
    UntrustedReferer(String),
    /// No `csrftoken` cookie.
    #[error("CSRF cookie not set.")]
    NoCookie,
    /// A `csrftoken` cookie that is not a well-formed secret or token.
    #[error("CSRF cookie {0}.")]
    MalformedCookie(TokenFormatError),
    /// Neither form field nor header.
    #[error("CSRF token missing.")]
    TokenMissing,
    /// A token of the wrong length or with characters outside `a-zA-Z0-9`.
    #[error("CSRF token from {0} {1}.")]
    MalformedToken(TokenSource, TokenFormatError),
    /// A well-formed token for another secret.
    #[error("CSRF token from {0} incorrect.")]
    IncorrectToken(TokenSource),
}

impl CsrfFailure {
    /// Django's reason text, e.g. `CSRF token missing.`.
    pub fn reason(&self) -> String {
        self.to_string()
    }
}

/// Django's `_origin_verified`: the `Origin` header equals the request's own
/// origin (`http[s]://` + host), or a trusted origin exactly, or has the scheme
/// of a wildcard trusted origin and a netloc [`is_same_domain`] with it. `null`
/// and unparseable origins fail. `false` without an `Origin` header.
pub fn origin_verified(req: &CsrfRequest<'_>, config: &CsrfConfig) -> bool {
    let Some(origin) = req.origin.map(latin1) else {
        return false;
    };
    if let Some(host) = config.good_host(req.host) {
        let scheme = if req.is_secure { "https" } else { "http" };
        if origin == format!("{scheme}://{host}") {
            return true;
        }
    }
    if config.exact.contains(&origin) {
        return true;
    }
    let Ok(parsed) = ParsedUrl::parse(&origin) else {
        return false;
    };
    config
        .subdomains
        .iter()
        .any(|(scheme, host)| *scheme == parsed.scheme && is_same_domain(&parsed.netloc, host))
}

/// Django's `_check_referer`, for HTTPS requests without `Origin`: the
/// `Referer` must be an `https` URL whose netloc is a trusted origin's (any
/// scheme, `*.` as a wildcard) or the request's host, port included.
pub fn check_referer(req: &CsrfRequest<'_>, config: &CsrfConfig) -> Result<(), CsrfFailure> {
    let referer = latin1(req.referer.ok_or(CsrfFailure::NoReferer)?);
    let referer = ParsedUrl::parse(&referer).map_err(|_| CsrfFailure::MalformedReferer)?;
    if referer.scheme.is_empty() || referer.netloc.is_empty() {
        return Err(CsrfFailure::MalformedReferer);
    }
    if referer.scheme != "https" {
        return Err(CsrfFailure::InsecureReferer);
    }
    if config
        .referer_hosts
        .iter()
        .any(|host| is_same_domain(&referer.netloc, host))
    {
        return Ok(());
    }
    match config.good_host(req.host) {
        Some(host) if is_same_domain(&referer.netloc, &host) => Ok(()),
        _ => Err(CsrfFailure::UntrustedReferer(referer.geturl())),
    }
}

/// Django's `_check_token`: the cookie must hold a well-formed secret, and the
/// request token (the form field for `POST`, else or if empty the header) must
/// be well formed and match it.
pub fn check_token(req: &CsrfRequest<'_>) -> Result<(), CsrfFailure> {
    let cookie = req.cookie.ok_or(CsrfFailure::NoCookie)?;
    let secret = secret_from_cookie(cookie).map_err(CsrfFailure::MalformedCookie)?;
    let form = if is_method(&req.method, "POST") {
        req.form_token.unwrap_or("")
    } else {
        ""
    };
    let (token, source) = if form.is_empty() {
        let header = req.header_token.ok_or(CsrfFailure::TokenMissing)?;
        (latin1(header), TokenSource::Header)
    } else {
        (form.to_owned(), TokenSource::Form)
    };
    check_token_format(&token).map_err(|e| CsrfFailure::MalformedToken(source, e))?;
    if !does_token_match(&token, &secret) {
        return Err(CsrfFailure::IncorrectToken(source));
    }
    Ok(())
}

fn is_method(method: &Method, name: &str) -> bool {
    method.as_str().eq_ignore_ascii_case(name)
}

/// The CSRF check, in Django's order (`CsrfViewMiddleware.process_view`): safe
/// methods pass; then the `Origin` if present, else over HTTPS the `Referer`;
/// then cookie and token. Call it for every unsafe request authenticated by
/// session, and for the session login; never for token-authenticated ones.
pub fn check(req: &CsrfRequest<'_>, config: &CsrfConfig) -> Result<(), CsrfFailure> {
    if SAFE_METHODS.iter().any(|m| is_method(&req.method, m)) {
        return Ok(());
    }
    if let Some(origin) = req.origin {
        if !origin_verified(req, config) {
            return Err(CsrfFailure::UntrustedOrigin(latin1(origin)));
        }
    } else if req.is_secure {
        check_referer(req, config)?;
    }
    check_token(req)
}

#[cfg(test)]
mod tests {
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
            (MalformedReferer, "Referer checking failed - Referer is malformed."),
            (
                InsecureReferer,
                "Referer checking failed - Referer is insecure while host is secure.",
            ),
            (
                UntrustedReferer("https://evil.example/".into()),
                "Referer checking failed - https://evil.example/ does not match any trusted origins.",
            ),
            (NoCookie, "CSRF cookie not set."),
            (MalformedCookie(IncorrectLength), "CSRF cookie has incorrect length."),
            (MalformedCookie(InvalidCharacters), "CSRF cookie has invalid characters."),
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
                CsrfRequest { origin: Some(b"https://evil.example"), ..ok.clone() },
                "Origin checking failed - https://evil.example does not match any trusted origins.",
            ),
            (
                CsrfRequest { origin: None, ..ok.clone() },
                "Referer checking failed - no Referer.",
            ),
            (
                CsrfRequest { origin: None, referer: Some(b"x"), ..ok.clone() },
                "Referer checking failed - Referer is malformed.",
            ),
            (
                CsrfRequest { origin: None, referer: Some(b"http://api.example.com/"), ..ok.clone() },
                "Referer checking failed - Referer is insecure while host is secure.",
            ),
            (
                CsrfRequest { origin: None, referer: Some(b"https://evil.example/a;?#"), ..ok.clone() },
                "Referer checking failed - https://evil.example/a does not match any trusted origins.",
            ),
            (CsrfRequest { cookie: None, ..ok.clone() }, "CSRF cookie not set."),
            (CsrfRequest { cookie: Some(""), ..ok.clone() }, "CSRF cookie has incorrect length."),
            (
                CsrfRequest { cookie: Some("********************************"), ..ok.clone() },
                "CSRF cookie has invalid characters.",
            ),
            (CsrfRequest { header_token: None, ..ok.clone() }, "CSRF token missing."),
            (
                CsrfRequest { header_token: Some(b"abc"), ..ok.clone() },
                "CSRF token from the 'X-Csrftoken' HTTP header has incorrect length.",
            ),
            (
                CsrfRequest { header_token: Some(b"*******************************a"), ..ok.clone() },
                "CSRF token from the 'X-Csrftoken' HTTP header has invalid characters.",
            ),
            (
                CsrfRequest { header_token: Some(OTHER.as_bytes()), ..ok.clone() },
                "CSRF token from the 'X-Csrftoken' HTTP header incorrect.",
            ),
            (
                CsrfRequest { form_token: Some("abc"), ..ok.clone() },
                "CSRF token from POST has incorrect length.",
            ),
            (
                CsrfRequest { form_token: Some("*******************************a"), ..ok.clone() },
                "CSRF token from POST has invalid characters.",
            ),
            (
                CsrfRequest { form_token: Some(OTHER), ..ok.clone() },
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
}
