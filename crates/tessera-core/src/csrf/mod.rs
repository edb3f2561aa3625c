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
//! `urllib.parse.urlparse` splits them (CPython 3.11.7), quirks included (the
//! port is the private `url` module): the test vectors (`csrf/tests.rs`) were produced by Django 5.1 itself
//! (`tests/csrf_vectors.py`).
//!
//! Not supported: `CSRF_COOKIE_DOMAIN` (the `Referer` is compared with the
//! request's host) and a configurable header name. `CSRF_USE_SESSIONS` is the
//! HTTP layer's choice of where the secret comes from: [`check`] takes it in
//! [`CsrfRequest::cookie`] either way. `ALLOWED_HOSTS` is
//! [`crate::host::AllowedHosts`].

use crate::secret::Secret;
use http::Method;
use std::fmt;
use subtle::ConstantTimeEq;

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
    CsrfSecret(Secret::new(crate::random::alphanumeric(CSRF_SECRET_LENGTH)))
}

/// Django's `_mask_cipher_secret`: a fresh random 32-character mask, then each
/// secret character shifted by the mask character at the same place
/// (`chars[(x + y) % 62]`); returns mask + cipher, 64 characters, different on
/// every call.
pub fn mask(secret: &CsrfSecret) -> String {
    let mask = crate::random::alphanumeric(CSRF_SECRET_LENGTH);
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
    is_same_domain_lowered(host, &pattern.to_lowercase())
}

/// [`is_same_domain`] of a pattern already lowercased.
pub(crate) fn is_same_domain_lowered(host: &str, pattern: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    match pattern.strip_prefix('.') {
        Some(bare) if host.ends_with(pattern) || host == bare => true,
        _ => pattern == host,
    }
}

mod url;
use url::ParsedUrl;

/// Django's `split_domain_port`: the lowercased domain (one trailing dot
/// dropped) if `host` matches `host_validation_re`, else `None`.
pub(crate) fn split_domain(host: &str) -> Option<String> {
    domain_of(host.as_bytes()).map(|domain| String::from_utf8_lossy(domain).to_ascii_lowercase())
}

/// [`split_domain`] on a header's bytes, without copying: the domain as
/// sent (not lowercased), one trailing dot dropped, if `host` matches
/// Django's `host_validation_re` (`[a-z0-9.-]+` or a bracketed IPv6
/// address, then an optional `:port`), matched after lowercasing.
///
/// Django reads header values as latin-1, and no latin-1 character but the
/// ASCII capitals lowercases to ASCII, so a host with a byte past ASCII
/// never matches (reading it as UTF-8 would let `\u{212A}` (the Kelvin
/// sign) lowercase to `k`).
pub(crate) fn domain_of(host: &[u8]) -> Option<&[u8]> {
    let is_port = |rest: &[u8]| {
        rest.is_empty()
            || rest
                .strip_prefix(b":")
                .is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit))
    };
    let (domain, rest) = if let Some(inner) = host.strip_prefix(b"[") {
        // \[[a-f0-9]*:[a-f0-9.:]+\]
        let close = inner.iter().position(|&b| b == b']')?;
        let (body, rest) = (&inner[..close], &inner[close + 1..]);
        let head = body.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        let tail = body[head..].strip_prefix(b":")?;
        if tail.is_empty()
            || !tail
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || b == b'.' || b == b':')
        {
            return None;
        }
        (&host[..close + 2], rest)
    } else {
        // [a-z0-9.-]+
        let end = host
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            .count();
        if end == 0 {
            return None;
        }
        (&host[..end], &host[end..])
    };
    if !is_port(rest) {
        return None;
    }
    let domain = domain.strip_suffix(b".").unwrap_or(domain);
    (!domain.is_empty()).then_some(domain)
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

/// Whether `method` is one of [`SAFE_METHODS`], which the check accepts
/// before it reads anything else (Django compares the upper-cased method).
pub fn is_safe_method(method: &Method) -> bool {
    SAFE_METHODS.iter().any(|m| is_method(method, m))
}

/// The CSRF check, in Django's order (`CsrfViewMiddleware.process_view`): safe
/// methods pass; then the `Origin` if present, else over HTTPS the `Referer`;
/// then cookie and token. Call it for every unsafe request authenticated by
/// session, and for the session login; never for token-authenticated ones.
pub fn check(req: &CsrfRequest<'_>, config: &CsrfConfig) -> Result<(), CsrfFailure> {
    if is_safe_method(&req.method) {
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
mod tests;
