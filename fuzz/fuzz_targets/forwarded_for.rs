//! `X-Forwarded-For` and `X-Forwarded-Proto` behind a number of trusted
//! proxies (`client::client_ip`, `client::is_secure`).
#![no_main]

use arbitrary::Arbitrary;
use axum::extract::ConnectInfo;
use http::{HeaderValue, Request};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, SocketAddr};
use tessera_axum::client::{client_ip, is_secure};

#[derive(Debug, Arbitrary)]
struct Input {
    forwarded_for: Vec<Vec<u8>>,
    forwarded_proto: Option<Vec<u8>>,
    peer: Option<IpAddr>,
    num_proxies: u8,
}

fuzz_target!(|input: Input| {
    let mut builder = Request::builder();
    let mut sent = Vec::new();
    for raw in &input.forwarded_for {
        if let Ok(v) = HeaderValue::from_bytes(raw) {
            sent.push(v.to_str().map(str::to_owned).unwrap_or_default());
            builder = builder.header("x-forwarded-for", v);
        }
    }
    if let Some(Ok(v)) = input
        .forwarded_proto
        .as_deref()
        .map(HeaderValue::from_bytes)
    {
        builder = builder.header("x-forwarded-proto", v);
    }
    let Ok(request) = builder.body(()) else {
        return;
    };
    let (mut parts, ()) = request.into_parts();
    if let Some(ip) = input.peer {
        parts
            .extensions
            .insert(ConnectInfo(SocketAddr::new(ip, 4242)));
    }
    let num_proxies = usize::from(input.num_proxies % 8);

    let client = client_ip(&parts, num_proxies);
    if num_proxies == 0 {
        assert_eq!(client, input.peer);
        assert!(!is_secure(&parts, 0));
    }
    match client {
        // Without a peer, only a forwarded entry can name the client.
        None => assert!(input.peer.is_none()),
        Some(ip) if Some(ip) != input.peer => {
            let named = sent
                .iter()
                .flat_map(|v| v.split(','))
                .any(|e| e.trim().parse::<IpAddr>() == Ok(ip));
            assert!(named, "{ip} came from nowhere");
        }
        Some(_) => {}
    }
    let _ = is_secure(&parts, num_proxies);
});
