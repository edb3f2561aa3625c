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

use crate::csrf::{is_same_domain_lowered, split_domain};

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
    pub fn is_allowed(&self, host: &[u8]) -> bool {
        let Ok(host) = std::str::from_utf8(host) else {
            return false;
        };
        let Some(domain) = split_domain(host) else {
            return false;
        };
        self.lowered
            .iter()
            .any(|p| p == "*" || is_same_domain_lowered(&domain, p))
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
    fn a_star_allows_every_well_formed_host_and_nothing_else() {
        let any = AllowedHosts::new(["*"]);
        assert!(any.allows_any());
        assert!(any.is_allowed(b"whatever.example:1234"));
        assert!(!any.is_allowed(b"white space"));
        assert!(!any.is_allowed(b"a/b"));
        assert!(!AllowedHosts::default().is_allowed(b"localhost"));
    }
}
