//! Python's `urllib.parse.urlparse` (CPython 3.11.7), ported for the CSRF
//! check: Django compares `Origin`, `Referer` and `CSRF_TRUSTED_ORIGINS` as
//! `urlparse` splits them, quirks and `ValueError`s included, so Tessera
//! splits them the same way.

use unicode_normalization::UnicodeNormalization;

/// A URL split as Python's `urllib.parse.urlparse` splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ParsedUrl {
    pub(super) scheme: String,
    pub(super) netloc: String,
    pub(super) path: String,
    pub(super) params: String,
    pub(super) query: String,
    pub(super) fragment: String,
}

/// A URL `urlparse` refuses (it raises `ValueError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct InvalidUrl;

impl ParsedUrl {
    /// `urlparse(url)` (CPython 3.11.7), including its `ValueError`s: unbalanced
    /// brackets, a bracketed host that is not IPv6 (or IPvFuture), a netloc that
    /// NFKC-normalises to a delimiter.
    pub(super) fn parse(url: &str) -> Result<Self, InvalidUrl> {
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
    pub(super) fn geturl(&self) -> String {
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
