//! Django's `ALLOWED_HOSTS`: which `Host` header values a server answers.
//!
//! A server that trusts any `Host` lets an attacker choose the origin the CSRF
//! check compares `Origin` with (`Host: evil.example` + `Origin:
//! http://evil.example` would pass) and the host of every absolute link it
//! builds (password-reset mails, pagination). Django refuses such a request
//! with `DisallowedHost` (a `400`) before any view runs; so does the server.
//!
//! Patterns follow Django's `validate_host`: `*` allows any host, a leading
//! dot (`.example.com`) the domain and every subdomain, anything else one
//! name exactly (case-insensitive). The port of the `Host` header is ignored,
//! an IPv6 address is written in brackets (`[::1]`), and one trailing dot of
//! the name is dropped, all as Django's `split_domain_port` does. A `Host`
//! that is not a well-formed `name[:port]` is never allowed, even by `*`.
//!
//! ```
//! use tessera_core::host::AllowedHosts;
//!
//! let hosts = AllowedHosts::new([".example.com", "localhost"]);
//! assert!(hosts.is_allowed(b"api.example.com:8443"));
//! assert!(hosts.is_allowed(b"EXAMPLE.com."));
//! assert!(hosts.is_allowed(b"localhost:8000"));
//! assert!(!hosts.is_allowed(b"evil.example"));
//! assert!(!hosts.is_allowed(b"badexample.com"));
//! assert!(!AllowedHosts::new(["*"]).is_allowed(b"bad host"));
//! ```

use crate::csrf::domain_of;

/// A list of allowed host patterns (Django's `ALLOWED_HOSTS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    patterns: Vec<String>,
    /// The patterns lowercased once (Django lowercases each at each check).
    lowered: Vec<String>,
}

impl AllowedHosts {
    /// The patterns, as Django reads `ALLOWED_HOSTS`. An empty list allows
    /// nothing.
    pub fn new<I, S>(patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let patterns: Vec<String> = patterns.into_iter().map(Into::into).collect();
        let lowered = patterns.iter().map(|p| p.to_lowercase()).collect();
        AllowedHosts { patterns, lowered }
    }

    /// The patterns, as given.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether any pattern is `*` (every well-formed host is allowed).
    pub fn allows_any(&self) -> bool {
        self.patterns.iter().any(|p| p == "*")
    }

    /// Django's `validate_host(split_domain_port(host))`: whether a `Host`
    /// header value (raw bytes, port included) is well formed and allowed.
    ///
    /// Runs on every request: the host is matched in place, case-insensitively,
    /// with no copy.
    pub fn is_allowed(&self, host: &[u8]) -> bool {
        let Some(domain) = domain_of(host) else {
            return false;
        };
        self.lowered
            .iter()
            .any(|p| p == "*" || same_domain(domain, p.as_bytes()))
    }
}

/// Django's `is_same_domain` of a domain as sent and a lowercased pattern:
/// `.example.com` matches `example.com` and its subdomains, anything else
/// only itself.
fn same_domain(domain: &[u8], pattern: &[u8]) -> bool {
    let ends_with = |suffix: &[u8]| {
        domain.len() >= suffix.len()
            && domain[domain.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    match pattern.strip_prefix(b".") {
        Some(bare) if ends_with(pattern) || domain.eq_ignore_ascii_case(bare) => true,
        _ => !pattern.is_empty() && domain.eq_ignore_ascii_case(pattern),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_follow_djangos_validate_host() {
        let hosts = AllowedHosts::new(["example.com", ".sub.example.org", "[::1]", "127.0.0.1"]);
        for ok in [
            "example.com",
            "EXAMPLE.COM",
            "example.com:80",
            "example.com.",
            "sub.example.org",
            "a.b.sub.example.org:8000",
            "[::1]",
            "[::1]:8000",
            "127.0.0.1:9",
        ] {
            assert!(hosts.is_allowed(ok.as_bytes()), "{ok}");
        }
        for refused in [
            "",
            "www.example.com",
            "evil.example",
            "example.com.evil.example",
            "notsub.example.org",
            "example.com:",
            "example.com:8o",
            "example.com@evil.example",
            "[::2]",
            "::1",
            "127.0.0.2",
            "exa mple.com",
        ] {
            assert!(!hosts.is_allowed(refused.as_bytes()), "{refused}");
        }
        assert!(!hosts.is_allowed(b"ex\xe4mple.com"));
    }

    #[test]
    fn a_host_past_ascii_is_refused_as_django_reads_it() {
        // Django reads the header as latin-1, where no letter but A-Z
        // lowercases to ASCII; read as UTF-8, U+212A (Kelvin) would lowercase
        // to `k` and pass for `kelvin.example`.
        let hosts = AllowedHosts::new(["kelvin.example", ".example.org", "*.example.net"]);
        assert!(hosts.is_allowed(b"KELVIN.example"));
        assert!(!hosts.is_allowed("\u{212A}elvin.example".as_bytes()));
        assert!(!hosts.is_allowed("a.\u{212A}.example.org".as_bytes()));
        assert!(!AllowedHosts::new(["*"]).is_allowed("\u{212A}.example".as_bytes()));
        // Case and a trailing dot, as Django: in place, no copy.
        assert!(hosts.is_allowed(b"A.B.EXAMPLE.ORG:443"));
        assert!(hosts.is_allowed(b"Example.Org."));
        assert!(!hosts.is_allowed(b"xexample.org"));
        // `*.example.net` is a literal name in Django, not a wildcard.
        assert!(!hosts.is_allowed(b"a.example.net"));
        let v6 = AllowedHosts::new(["[::abcd]"]);
        assert!(v6.is_allowed(b"[::ABCD]:8000"));
        assert!(!v6.is_allowed(b"[::abce]"));
    }

    #[test]
    fn a_star_allows_every_well_formed_host_and_nothing_else() {
        let any = AllowedHosts::new(["*"]);
        assert!(any.allows_any());
        assert!(any.is_allowed(b"whatever.example:1234"));
        assert!(!any.is_allowed(b"white space"));
        assert!(!any.is_allowed(b"a/b"));
        assert!(!AllowedHosts::default().is_allowed(b"localhost"));
    }
}
