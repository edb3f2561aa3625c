//! The quickstart binary on a real socket: sign-up, a token, a session, the
//! protected route, and a clean stop.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the server if the test ends early.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cookie(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|pair| pair.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

#[tokio::test]
async fn quickstart_serves_token_and_session_login() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_quickstart"))
            .current_dir(dir.path())
            .env("ADDR", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let started = Instant::now();
    while client
        .get(format!("{base}/auth/csrf"))
        .send()
        .await
        .is_err()
    {
        assert!(started.elapsed() < Duration::from_secs(30), "not serving");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let credentials = json!({"username": "alice", "password": "correct-horse-staple-9"});

    let created = client
        .post(format!("{base}/auth/register"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    let anonymous = client.get(format!("{base}/hello")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let obtained: Value = client
        .post(format!("{base}/api-token-auth/"))
        .json(&credentials)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = obtained["token"].as_str().unwrap();
    let hello = client
        .get(format!("{base}/hello"))
        .header("Authorization", format!("Token {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(hello.status(), StatusCode::OK);
    // tessera_axum::serve gives every response a request id.
    assert!(hello.headers().contains_key("x-request-id"));
    assert_eq!(
        hello.json::<Value>().await.unwrap(),
        json!({"hello": "alice"})
    );

    let csrf = client
        .get(format!("{base}/auth/csrf"))
        .send()
        .await
        .unwrap();
    let csrf_cookie = cookie(&csrf, "csrftoken");
    let token: Value = csrf.json().await.unwrap();
    let login = client
        .post(format!("{base}/auth/login"))
        .header(COOKIE, format!("csrftoken={csrf_cookie}"))
        .header("X-CSRFToken", token["csrfToken"].as_str().unwrap())
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let session = cookie(&login, "sessionid");
    let hello: Value = client
        .get(format!("{base}/hello"))
        .header(COOKIE, format!("sessionid={session}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(hello, json!({"hello": "alice"}));
}
