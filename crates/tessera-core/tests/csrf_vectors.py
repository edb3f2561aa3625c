#!/usr/bin/env python3
"""Test vectors for `tessera_core::csrf`, produced by Django's own code.

Runs Django 5.1's CSRF functions and `CsrfViewMiddleware` (as DRF's
`SessionAuthentication.enforce_csrf` runs it) and writes the results as Rust
literals between the `BEGIN GENERATED VECTORS` / `END GENERATED VECTORS` markers
of `src/csrf.rs`. The Rust tests never run Python.

    python3 -m venv /tmp/djvenv && /tmp/djvenv/bin/pip install django==5.1
    /tmp/djvenv/bin/python crates/tessera-core/tests/csrf_vectors.py          # print
    /tmp/djvenv/bin/python crates/tessera-core/tests/csrf_vectors.py --write  # splice
    rustfmt --edition 2021 crates/tessera-core/src/csrf.rs

Masked tokens use random masks, so every run writes different (equally valid)
tokens; everything else is deterministic.
"""

import pathlib
import sys

import django
from django.conf import settings

settings.configure(
    ALLOWED_HOSTS=["*"],
    CSRF_TRUSTED_ORIGINS=[],
    SECRET_KEY="vectors",
    USE_TZ=True,
)
django.setup()

import django.middleware.csrf as csrf  # noqa: E402
from django.middleware.csrf import (  # noqa: E402
    CsrfViewMiddleware,
    InvalidTokenFormat,
    _check_token_format,
    _mask_cipher_secret,
    _unmask_cipher_token,
)
from django.test import RequestFactory, override_settings  # noqa: E402
from django.utils.http import is_same_domain  # noqa: E402

assert django.VERSION[:2] == (5, 1), django.VERSION


def rs_str(s):
    out = []
    for c in s:
        if c in '"\\':
            out.append("\\" + c)
        elif " " <= c <= "~":
            out.append(c)
        else:
            out.append("\\u{%x}" % ord(c))
    return '"' + "".join(out) + '"'


def rs_bytes(s):
    """A header value: the Latin-1 bytes WSGI decoded into `s`."""
    out = []
    for b in s.encode("latin-1"):
        c = chr(b)
        if c in '"\\':
            out.append("\\" + c)
        elif " " <= c <= "~":
            out.append(c)
        else:
            out.append("\\x%02x" % b)
    return 'b"' + "".join(out) + '"'


def rs_opt(v, f):
    return "None" if v is None else "Some(%s)" % f(v)


SECRET = "abcdefghijABCDEFGHIJ0123456789zZ"
OTHER = "Zz9876543210jihgfedcbaJIHGFEDCBA"
MASKED = _mask_cipher_secret(SECRET)
MASKED_OTHER = _mask_cipher_secret(OTHER)


# --- masking ------------------------------------------------------------------


def mask_with(secret, mask):
    saved = csrf._get_new_csrf_string
    csrf._get_new_csrf_string = lambda: mask
    try:
        return _mask_cipher_secret(secret)
    finally:
        csrf._get_new_csrf_string = saved


MASK_WITH = [
    (SECRET, "a" * 32),
    (SECRET, "9" * 32),
    (SECRET, "0123456789abcdefghijABCDEFGHIJzZ"),
    (OTHER, "zZyYxXwWvVuUtTsSrRqQpPoOnNmMlLkK"),
    ("9" * 32, "9" * 32),
]

UNMASK = [(_mask_cipher_secret(s), s) for s in (SECRET, OTHER, "a" * 32, "9" * 32, "Z" * 32)]
for token, secret in UNMASK:
    assert _unmask_cipher_token(token) == secret

# --- token format ---------------------------------------------------------------

FORMAT_INPUTS = [
    "",
    "a",
    "a" * 31,
    "a" * 32,
    "a" * 33,
    "a" * 63,
    "a" * 64,
    "a" * 65,
    "a" * 100000,
    "*" * 32,
    "a" * 31 + "*",
    "a" * 63 + "-",
    "a" * 31 + "\u00e9",
    "a" * 30 + "\u00e9",
    "a" * 31 + " ",
    "*",
    MASKED,
    SECRET,
]


def format_result(token):
    try:
        _check_token_format(token)
    except InvalidTokenFormat as exc:
        return exc.reason
    return None


FORMAT = [(t, format_result(t)) for t in FORMAT_INPUTS]

# --- is_same_domain ---------------------------------------------------------------

SAME_DOMAIN_HOSTS = [
    "example.com",
    "a.example.com",
    "a.b.example.com",
    "evilexample.com",
    "example.com.evil.io",
    "A.EXAMPLE.COM",
    "example.com:8000",
    "a.example.com:8000",
    "",
]
SAME_DOMAIN_PATTERNS = [
    ".example.com",
    "example.com",
    ".EXAMPLE.COM",
    "EXAMPLE.COM",
    ".example.com:8000",
    "",
    ".",
]
SAME_DOMAIN = [
    (h, p, is_same_domain(h, p)) for h in SAME_DOMAIN_HOSTS for p in SAME_DOMAIN_PATTERNS
]

# --- urlparse, as Django uses it ---------------------------------------------------

URLPARSE_INPUTS = [
    "",
    "x",
    "null",
    "https://a.example.com",
    "HTTPS://A.Example.COM:8443/p;q;r/s;t?u=1&v#w",
    " \x00\x1fhttps://a.example.com/ ",
    "https://a.exa\tmp\rle.com/p\na",
    "https:a.example.com",
    "https:",
    "https://",
    "//a.example.com/x",
    "1http://a.example.com",
    "h_t://a.example.com",
    "git+ssh://a.example.com",
    "foo://a.example.com/;x",
    "a.example.com:8000",
    "https://user:pw@a.example.com:99/",
    "https://a.example.com;x",
    "https://a.example.com/;",
    "https://a.example.com/?#",
    "https://a.example.com#?x",
    "https://a.example.com?x#y?z",
    "https://\u00e9.example.com/",
    "https://a\u2100b.example.com/",
    "https://a\uff03b.example.com/",
    "https://[",
    "https://]",
    "https://][",
    "https://[]/",
    "https://[::]/",
    "https://[::1]:8000/",
    "https://[::1]x/",
    "https://a@[::1]:80/",
    "https://[1:2:3:4:5:6:7:8]/",
    "https://[1:2:3:4:5:6:7::]/",
    "https://[::2:3:4:5:6:7:8]/",
    "https://[1:2:3:4:5:6:7:8:9]/",
    "https://[1::2::3]/",
    "https://[:1:2:3:4:5:6:7]/",
    "https://[1:2:3:4:5:6:7:]/",
    "https://[12345::]/",
    "https://[abcd::EF01]/",
    "https://[g::1]/",
    "https://[::ffff:1.2.3.4]/",
    "https://[::ffff:1.2.3.04]/",
    "https://[::ffff:1.2.3.256]/",
    "https://[::ffff:1.2.3]/",
    "https://[1:2:3:4:5:6:1.2.3.4]/",
    "https://[1:2:3:4:5:6:7:1.2.3.4]/",
    "https://[::1.2.3.4]/",
    "https://[1.2.3.4::]/",
    "https://[1.2.3.4]/",
    "https://[fe80::1%eth0]/",
    "https://[fe80::1%]/",
    "https://[fe80::1%a%b]/",
    "https://[v1.x]/",
    "https://[vF.x]/",
    "https://[V1.x]/",
    "https://[v.x]/",
    "https://[v1.]/",
    "https://[v1x]/",
    "https://[vg.x]/",
]


def urlparse_result(url):
    from urllib.parse import urlparse

    try:
        p = urlparse(url)
    except ValueError:
        return None
    return (p.scheme, p.netloc, p.path, p.params, p.query, p.fragment, p.geturl())


URLPARSE = [(u, urlparse_result(u)) for u in URLPARSE_INPUTS]

# --- the whole check ------------------------------------------------------------


class CSRFCheck(CsrfViewMiddleware):
    """DRF's CSRFCheck: a rejection returns its reason."""

    def _reject(self, request, reason):
        return reason


def run(case):
    trusted, allowed, method, secure, host, origin, referer, cookie, header, form = case
    with override_settings(CSRF_TRUSTED_ORIGINS=trusted, ALLOWED_HOSTS=allowed):
        rf = RequestFactory()
        method = method.upper()
        if method == "POST" and form is not None:
            req = rf.post("/", data={"csrfmiddlewaretoken": form}, secure=secure)
        else:
            req = rf.generic(method, "/", secure=secure)
        meta = req.META
        meta.pop("HTTP_HOST", None)
        if host is None:
            # No Host header, and a server name that is no valid host.
            meta["SERVER_NAME"] = ""
        else:
            meta["HTTP_HOST"] = host
        for key, value in (
            ("HTTP_ORIGIN", origin),
            ("HTTP_REFERER", referer),
            ("HTTP_X_CSRFTOKEN", header),
        ):
            if value is not None:
                meta[key] = value
        if cookie is not None:
            req.COOKIES["csrftoken"] = cookie
        check = CSRFCheck(lambda request: None)
        check.process_request(req)
        return check.process_view(req, None, (), {})


T0 = []
T1 = ["https://*.example.com"]
T2 = ["https://trusted.example", "http://plain.example", "https://*.wild.example:8443"]
ANY = ["*"]
H = "api.example.com"


def case(
    trusted=T0,
    allowed=ANY,
    method="POST",
    secure=False,
    host=H,
    origin=None,
    referer=None,
    cookie=SECRET,
    header=SECRET,
    form=None,
):
    return (trusted, allowed, method, secure, host, origin, referer, cookie, header, form)


CASES = []
# Safe methods are never checked; everything else is.
for m in ["GET", "HEAD", "OPTIONS", "TRACE", "get", "trace"]:
    CASES.append(case(method=m, cookie=None, header=None, origin="null", secure=True))
for m in ["POST", "PUT", "PATCH", "DELETE", "PURGE", "post", "delete"]:
    CASES.append(case(method=m, cookie=None, header=None))
    CASES.append(case(method=m))
# Cookie and token.
CASES += [
    case(cookie=None),
    case(cookie=None, header=None),
    case(cookie=""),
    case(cookie="a" * 100000),
    case(cookie="a" * 31 + "*"),
    case(cookie="a" * 31 + "\u00e9"),
    case(cookie="*", header=None),
    case(cookie=MASKED),
    case(cookie=MASKED, header=MASKED),
    case(cookie=MASKED, header=OTHER),
    case(header=None),
    case(header=""),
    case(header="a" * 31),
    case(header="a" * 63),
    case(header="a" * 65),
    case(header="a" * 31 + "*"),
    case(header="a" * 31 + "\u00e9"),
    case(header="a" * 63 + "\u00ff"),
    case(header=MASKED),
    case(header=OTHER),
    case(header=MASKED_OTHER),
    case(header=MASKED[:32] + MASKED[:32]),
    case(method="PUT", header=MASKED),
    case(method="DELETE", header=OTHER),
    # The form field comes first for POST, the header when it is empty or absent.
    case(header=None, form=SECRET),
    case(header=None, form=MASKED),
    case(header=None, form=OTHER),
    case(header=None, form="a" * 10),
    case(header=None, form="a" * 31 + "*"),
    case(header=None, form="a" * 31 + "\u00e9"),
    case(header=None, form="a" * 31 + "\u20ac"),
    case(header=None, form=""),
    case(header=SECRET, form=""),
    case(header=OTHER, form=""),
    case(header=SECRET, form=OTHER),
    case(header=OTHER, form=SECRET),
    case(header="x", form=MASKED),
    case(method="PUT", header=None, form=SECRET),
    case(method="PUT", header=SECRET, form=OTHER),
    case(cookie="", form=SECRET),
]
# Origin.
for origin in [
    "http://api.example.com",
    "https://api.example.com",
    "http://api.example.com/",
    "http://API.example.com",
    "HTTP://api.example.com",
    "http://api.example.com:80",
    "null",
    "",
    "https://[",
    "http://[::1",
    "https://evil.example",
    "http://\u00e9vil.example",
]:
    CASES.append(case(origin=origin))
    CASES.append(case(origin=origin, secure=True))
CASES += [
    # Origin is checked before the cookie.
    case(origin="https://evil.example", cookie=None, header=None),
    case(origin="http://api.example.com", cookie=None, header=None),
    # Own origin, port included; the host as sent, unless disallowed.
    case(host="api.example.com:8000", origin="http://api.example.com:8000"),
    case(host="api.example.com:8000", origin="http://api.example.com"),
    case(host="API.example.com", origin="http://API.example.com"),
    case(host="API.example.com", origin="http://api.example.com"),
    case(host="api.example.com.", origin="http://api.example.com."),
    case(host="[::1]:8000", origin="http://[::1]:8000"),
    case(host="bad host", origin="http://bad host"),
    case(host="exa_mple.com", origin="http://exa_mple.com"),
    case(host=None, origin="http://"),
    case(host=None, origin="http://None"),
    case(allowed=[".example.com"], origin="http://api.example.com"),
    case(allowed=["other.example"], origin="http://api.example.com"),
    case(allowed=[], origin="http://api.example.com"),
    # An HTTPS request with an Origin skips the Referer.
    case(secure=True, origin="https://api.example.com", referer=None),
    case(secure=True, origin="https://api.example.com", referer="http://evil.example/"),
]
# Trusted origins, exact and wildcard.
for origin in [
    "https://a.example.com",
    "https://a.b.example.com",
    "https://example.com",
    "https://example.com.evil.io",
    "https://evilexample.com",
    "http://a.example.com",
    "https://A.EXAMPLE.COM",
    "HTTPS://a.example.com",
    "https://a.example.com:443",
    "https://a.example.com/",
    "https://a.example.com/path?q#f",
    "https://user@a.example.com",
    "https://evil.com#.example.com",
    "https://evil.com?.example.com",
    "https://evil.com\\.example.com",
    " https://a.example.com",
    "https://a.exa\tmple.com",
    "https://[::1].example.com",
    "https://[",
    "null",
]:
    CASES.append(case(trusted=T1, origin=origin, secure=True))
for origin in [
    "https://trusted.example",
    "https://trusted.example/",
    "http://trusted.example",
    "https://TRUSTED.example",
    "http://plain.example",
    "https://plain.example",
    "https://x.wild.example:8443",
    "https://wild.example:8443",
    "https://x.wild.example",
    "http://x.wild.example:8443",
]:
    CASES.append(case(trusted=T2, origin=origin, secure=True))
# Referer, for HTTPS requests without Origin.
for referer in [
    None,
    "",
    "x",
    "https://",
    "https:",
    "https:api.example.com",
    "//api.example.com/",
    "https://[",
    "https://]",
    "https://[::1]/",
    "https://[v1.x]/",
    "https://[1.2.3.4]/",
    "http://api.example.com/",
    "ftp://api.example.com/",
    "HTTP://api.example.com/",
    "https://api.example.com",
    "https://api.example.com/page?x=1#top",
    "HTTPS://api.example.com/",
    "https://API.example.com/",
    "https://api.example.com:443/",
    "https://api.example.com.evil.example/",
    "https://evil.example/",
    "https://evil.example/a;?#",
    "https://evil.example/a;b?c#d",
    "https://evil.example/a;b/c;d;e",
    "https://evil.example;x/y",
    " \x01https://evil.example/",
    "https://evil.ex\tample/\n",
    "https://api.exa\tmple.com/",
    "https://user:pw@evil.example:99/",
    "https://\u00e9vil.example/\u00ff",
    "https://evil.example/path with space",
]:
    CASES.append(case(secure=True, referer=referer))
CASES += [
    # Not checked over plain HTTP.
    case(referer=None),
    case(referer="http://evil.example/"),
    case(referer="x", cookie=None),
    case(secure=True, referer="https://evil.example/", cookie=None),
    case(secure=True, host="api.example.com:8443", referer="https://api.example.com:8443/"),
    case(secure=True, host="api.example.com:8443", referer="https://api.example.com/"),
    case(secure=True, host="bad host", referer="https://bad host/"),
    case(secure=True, host=None, referer="https://api.example.com/"),
    case(secure=True, allowed=["other.example"], referer="https://api.example.com/"),
    case(secure=True, allowed=[".example.com"], referer="https://api.example.com/"),
    case(secure=True, host=".example.com", referer="https://a.example.com/"),
    case(secure=True, host="API.example.com", referer="https://API.example.com/"),
    case(secure=True, host="API.example.com", referer="https://api.example.com/"),
    case(secure=True, trusted=T1, referer="https://a.example.com/"),
    case(secure=True, trusted=T1, referer="https://example.com/"),
    case(secure=True, trusted=T1, referer="https://evilexample.com/"),
    case(secure=True, trusted=T1, referer="https://example.com.evil.io/"),
    case(secure=True, trusted=T1, referer="http://a.example.com/"),
    case(secure=True, trusted=T2, referer="https://trusted.example/x"),
    case(secure=True, trusted=T2, referer="https://plain.example/x"),
    case(secure=True, trusted=T2, referer="https://x.wild.example:8443/"),
    case(secure=True, trusted=T2, referer="https://x.wild.example/"),
    case(secure=True, trusted=T2, referer="https://wild.example:8443/"),
]

CHECK = [(c, run(c)) for c in CASES]


def rs_case(c, result):
    trusted, allowed, method, secure, host, origin, referer, cookie, header, form = c
    fields = [
        "&[%s]" % ", ".join(rs_str(t) for t in trusted),
        "&[%s]" % ", ".join(rs_str(a) for a in allowed),
        rs_str(method),
        "true" if secure else "false",
        rs_opt(host, rs_bytes),
        rs_opt(origin, rs_bytes),
        rs_opt(referer, rs_bytes),
        rs_opt(cookie, owned_str),
        rs_opt(header, owned_bytes),
        rs_opt(form, owned_str),
        rs_opt(result, rs_str),
    ]
    return "    Case(%s)," % ", ".join(fields)


def short_str(s):
    # 100 000 characters stay readable as an expression.
    if len(s) > 1000 and len(set(s)) == 1:
        return "&%s.repeat(%d)" % (rs_str(s[0]), len(s))
    return rs_str(s)


def owned_str(s):
    lit = short_str(s)
    return lit[1:] if lit.startswith("&") else lit + ".to_owned()"


def owned_bytes(s):
    return rs_bytes(s) + ".to_vec()"


def generate():
    out = ["    // BEGIN GENERATED VECTORS (tests/csrf_vectors.py, Django %s)" % django.__version__]
    out.append("    const SECRET: &str = %s;" % rs_str(SECRET))
    out.append("    const OTHER: &str = %s;" % rs_str(OTHER))
    out.append("")
    out.append("    /// (secret, mask, Django's `_mask_cipher_secret` with that mask)")
    out.append("    const DJANGO_MASK_WITH: &[(&str, &str, &str)] = &[")
    for secret, m in MASK_WITH:
        out.append("        (%s, %s, %s)," % (rs_str(secret), rs_str(m), rs_str(mask_with(secret, m))))
    out.append("    ];")
    out.append("")
    out.append("    /// (a token Django masked, its secret)")
    out.append("    const DJANGO_UNMASK: &[(&str, &str)] = &[")
    for token, secret in UNMASK:
        out.append("        (%s, %s)," % (rs_str(token), rs_str(secret)))
    out.append("    ];")
    out.append("")
    out.append("    /// (token, Django's `_check_token_format` reason, `None` if well formed)")
    out.append("    fn django_format() -> Vec<(String, Option<&'static str>)> {")
    out.append("        vec![")
    for token, reason in FORMAT:
        lit = short_str(token)
        lit = lit if lit.startswith("&") else "%s.to_owned()" % lit
        if lit.startswith("&"):
            lit = lit[1:]
        out.append("            (%s, %s)," % (lit, rs_opt(reason, rs_str)))
    out.append("        ]")
    out.append("    }")
    out.append("")
    out.append("    /// (host, pattern, Django's `is_same_domain`)")
    out.append("    const DJANGO_SAME_DOMAIN: &[(&str, &str, bool)] = &[")
    for h, p, r in SAME_DOMAIN:
        out.append("        (%s, %s, %s)," % (rs_str(h), rs_str(p), "true" if r else "false"))
    out.append("    ];")
    out.append("")
    out.append("    /// (url, Python's `urlparse`: scheme, netloc, path, params, query, fragment,")
    out.append("    /// `geturl()`; `None` where it raises `ValueError`)")
    out.append("    #[allow(clippy::type_complexity)]")
    out.append("    const PYTHON_URLPARSE: &[(&str, Option<[&str; 7]>)] = &[")
    for u, r in URLPARSE:
        res = "None" if r is None else "Some([%s])" % ", ".join(rs_str(x) for x in r)
        out.append("        (%s, %s)," % (rs_str(u), res))
    out.append("    ];")
    out.append("")
    out.append("    /// Django's masked tokens of SECRET and OTHER used below.")
    out.append("    const MASKED: &str = %s;" % rs_str(MASKED))
    out.append("    const MASKED_OTHER: &str = %s;" % rs_str(MASKED_OTHER))
    out.append("")
    out.append("    /// A request through DRF's `CSRFCheck` (`process_request`, `process_view`):")
    out.append("    /// trusted origins, allowed hosts, method, secure, Host, Origin, Referer,")
    out.append("    /// cookie, X-CSRFToken, csrfmiddlewaretoken, Django's reason (`None`: accepted).")
    out.append("    fn django_check() -> Vec<Case> {")
    out.append("        vec![")
    for c, result in CHECK:
        line = rs_case(c, result)
        for name, value in (
            ("MASKED_OTHER", MASKED_OTHER),
            ("MASKED", MASKED),
            ("SECRET", SECRET),
            ("OTHER", OTHER),
        ):
            line = line.replace(rs_bytes(value) + ".to_vec()", name + ".as_bytes().to_vec()")
            line = line.replace(rs_str(value), name)
        out.append("        " + line.strip())
    out.append("        ]")
    out.append("    }")
    out.append("    // END GENERATED VECTORS")
    return "\n".join(out) + "\n"


def main():
    text = generate()
    if "--write" not in sys.argv:
        sys.stdout.write(text)
        return
    path = pathlib.Path(__file__).resolve().parent.parent / "src" / "csrf.rs"
    source = path.read_text()
    begin = source.index("    // BEGIN GENERATED VECTORS")
    end_marker = "    // END GENERATED VECTORS\n"
    end = source.index(end_marker) + len(end_marker)
    path.write_text(source[:begin] + text + source[end:])
    print("wrote %d check vectors to %s" % (len(CHECK), path))


if __name__ == "__main__":
    main()
