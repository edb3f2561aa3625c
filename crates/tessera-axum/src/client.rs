//! The client's address: the socket peer, or the `X-Forwarded-For` entry the
//! configured number of trusted proxies back (DRF's `NUM_PROXIES`), so that a
//! client cannot choose its own address.

use axum::extract::ConnectInfo;
use http::request::Parts;
use std::net::{IpAddr, SocketAddr};

/// The client address of a request, if known.
pub fn client_ip(parts: &Parts, num_proxies: usize) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if num_proxies == 0 {
        return peer;
    }
    // Every X-Forwarded-For header, joined, as one list; the last entry was
    // added by the nearest proxy. With N trusted proxies the client is the
    // N-th entry from the end; with fewer entries, the first one.
    let entries: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if entries.is_empty() {
        return peer;
    }
    let index = entries.len().saturating_sub(num_proxies);
    entries[index].parse().ok().or(peer)
}

/// `ip` as text, as its `Display` writes it: an IPv4 address digit by digit
/// (`Ipv4Addr`'s `Display` goes through the formatting machinery, about
/// 1,300 instructions a call, the largest part of an audit event's
/// request details); an IPv6 address by its `Display`.
pub fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let mut text = String::with_capacity(15);
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    text.push('.');
                }
                if octet >= 100 {
                    text.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    text.push(char::from(b'0' + octet / 10 % 10));
                }
                text.push(char::from(b'0' + octet % 10));
            }
            text
        }
        IpAddr::V6(v6) => v6.to_string(),
    }
}

/// Logs, once per process, that a request reached a policy without a client
/// address: the app is served without `ConnectInfo` (use
/// [`crate::serve`], or axum's `into_make_service_with_connect_info`), or a
/// trusted proxy sent no `X-Forwarded-For`. Login protection counts such
/// requests by username only, and throttles by address skip them: never one
/// bucket shared by every client without an address.
pub fn warn_unknown_address() {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        tracing::error!(
            "a request arrived without a client address: serve the app with \
             into_make_service_with_connect_info::<SocketAddr>() (tessera_axum::serve does), \
             or behind num_proxies trusted proxies that send X-Forwarded-For; until then login \
             protection counts failures per username only and address throttles do not apply"
        );
    });
}

/// A request extension the server sets on a request that reached it over
/// TLS on its own listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Https;

/// Whether the request came over HTTPS: over the server's own TLS listener
/// (the [`Https`] extension), or as a trusted proxy says with
/// `X-Forwarded-Proto` (Django's `SECURE_PROXY_SSL_HEADER`). Without trusted
/// proxies the header is ignored.
pub fn is_secure(parts: &Parts, num_proxies: usize) -> bool {
    secure(&parts.extensions, &parts.headers, num_proxies)
}

/// [`is_secure`] for a whole request (a middleware that has not split it).
pub fn is_secure_request<B>(request: &http::Request<B>, num_proxies: usize) -> bool {
    secure(request.extensions(), request.headers(), num_proxies)
}

fn secure(extensions: &http::Extensions, headers: &http::HeaderMap, num_proxies: usize) -> bool {
    if extensions.get::<Https>().is_some() {
        return true;
    }
    num_proxies > 0
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next_back())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    #[test]
    fn ip_text_is_the_display_text() {
        // Every octet value at every place, and IPv6 (its own `Display`).
        for value in 0..=255u8 {
            for place in 0..4 {
                let mut octets = [1, 20, 255, 0];
                octets[place] = value;
                let ip = IpAddr::from(octets);
                assert_eq!(ip_text(ip), ip.to_string());
            }
        }
        for text in [
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "2001:db8::8a2e:370:7334",
            "::ffff:10.0.0.1",
        ] {
            let ip: IpAddr = text.parse().unwrap_or(IpAddr::from([0; 4]));
            assert_eq!(ip_text(ip), text);
        }
    }

    fn parts(xff: &[&str], peer: Option<&str>) -> Parts {
        let mut builder = Request::builder();
        for v in xff {
            builder = builder.header("x-forwarded-for", *v);
        }
        let (mut parts, ()) = builder.body(()).unwrap_or_default().into_parts();
        if let Some(peer) = peer.and_then(|p| p.parse::<SocketAddr>().ok()) {
            parts.extensions.insert(ConnectInfo(peer));
        }
        parts
    }

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn without_proxies_the_peer_is_the_client() {
        let p = parts(&["1.1.1.1"], Some("10.0.0.1:5000"));
        assert_eq!(client_ip(&p, 0), ip("10.0.0.1"));
    }

    #[test]
    fn with_proxies_the_entry_that_many_hops_back() {
        let p = parts(&["6.6.6.6, 2.2.2.2", "3.3.3.3"], Some("10.0.0.1:5000"));
        assert_eq!(client_ip(&p, 1), ip("3.3.3.3"));
        assert_eq!(client_ip(&p, 2), ip("2.2.2.2"));
        assert_eq!(client_ip(&p, 9), ip("6.6.6.6"));
        let p = parts(&["garbage"], Some("10.0.0.1:5000"));
        assert_eq!(client_ip(&p, 1), ip("10.0.0.1"));
    }
}
