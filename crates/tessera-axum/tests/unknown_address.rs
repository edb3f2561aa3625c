//! An application served without the client's address says so once per
//! process, at its first request, not at every request. Alone in its test
//! binary: the warning is once per process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tessera_axum::prelude::*;
use tessera_testkit::MemoryStore;
use tower::ServiceExt;

/// Log output, kept for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const MESSAGE: &str = "a request arrived without a client address";

#[tokio::test]
async fn the_first_request_without_an_address_logs_one_error() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let params = Argon2Params {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    };
    let tessera = Tessera::builder()
        .store(MemoryStore::default())
        .hasher(PasswordHasher::new(params, 1, 8).unwrap())
        .build()
        .unwrap();
    let app: Router = Router::new().route(
        "/open",
        get(|| async { "ok" }).layer(Policy::allow_any().layer(&tessera)),
    );
    let count = || {
        String::from_utf8(captured.0.lock().unwrap().clone())
            .unwrap()
            .matches(MESSAGE)
            .count()
    };
    // With an address: nothing to say.
    let peer: SocketAddr = "192.0.2.1:5000".parse().unwrap();
    let mut request = Request::get("/open").body(Body::empty()).unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(count(), 0);
    for _ in 0..3 {
        let request = Request::get("/open").body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(count(), 1);
    let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("ERROR"), "{logged}");
}
