//! CORS in a real browser (headless Chromium, see `browser.rs`): a front end
//! served from another origin signs in by session and by token against the
//! real `tessera` binary and calls a protected route; the same page from an
//! origin not in `cors.allowed_origins` is refused by the browser.
//!
//! The allowed front end is `http://localhost:<P2>` and the API
//! `http://localhost:<P1>`: another origin but the same site, so the
//! `SameSite=Lax` cookies go along (with `credentials: "include"`) and the
//! browser sends `Sec-Fetch-Site: same-site`.

use crate::browser::{eventually, with_browser, PASSWORD, USERNAME};
use crate::cli::superuser_with_token;
use crate::e2e::serve;
use fantoccini::Client;
use serde_json::{json, Value};

/// The front end: on load, signs in by session (`/auth/csrf`, then
/// `/auth/login` with `X-CSRFToken`), reads `/auth/me` and posts to
/// `/api/example/` with the session, then obtains a token and reads
/// `/auth/me` with it. Each step's outcome (`[status, body]`, or the error a
/// refused `fetch` throws) goes into `window.corsResult` and `#outcome`.
fn front_end(api: &str) -> String {
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Front end</title></head>
<body>
<pre id="outcome"></pre>
<script>
const API = {api:?};
const credentials = {{username: {USERNAME:?}, password: {PASSWORD:?}}};
async function call(path, init) {{
  const reply = await fetch(API + path, {{cache: 'no-store', ...init}});
  const text = await reply.text();
  return [reply.status, text ? JSON.parse(text) : null];
}}
async function step(out, name, run) {{
  try {{
    out[name] = await run();
  }} catch (e) {{
    out[name] = String(e);
  }}
}}
(async () => {{
  const out = {{}};
  const json = {{'Content-Type': 'application/json'}};
  let csrf = null;
  await step(out, 'csrf', async () => {{
    const reply = await call('/auth/csrf', {{credentials: 'include'}});
    csrf = reply[1].csrfToken;
    return reply[0];
  }});
  await step(out, 'login', () => call('/auth/login', {{
    method: 'POST',
    credentials: 'include',
    headers: {{...json, 'X-CSRFToken': csrf}},
    body: JSON.stringify(credentials),
  }}));
  await step(out, 'session_me', () => call('/auth/me', {{credentials: 'include'}}));
  await step(out, 'session_post', async () => {{
    // Login rotated the CSRF secret: a fresh token for the new one.
    const token = (await call('/auth/csrf', {{credentials: 'include'}}))[1].csrfToken;
    return call('/api/example/', {{
      method: 'POST',
      credentials: 'include',
      headers: {{...json, 'X-CSRFToken': token}},
      body: JSON.stringify({{hello: 'world'}}),
    }});
  }});
  let key = null;
  await step(out, 'obtain_token', async () => {{
    const reply = await call('/api-token-auth/', {{
      method: 'POST',
      headers: json,
      body: JSON.stringify(credentials),
    }});
    key = reply[1].token;
    return reply[0];
  }});
  await step(out, 'token_me', () => call('/auth/me', {{
    headers: {{'Authorization': 'Token ' + key}},
  }}));
  window.corsResult = out;
  document.getElementById('outcome').textContent = JSON.stringify(out);
}})();
</script>
</body></html>"#
    )
}

/// Serves `html` at `/` on `listener`.
fn serve_page(listener: tokio::net::TcpListener, html: String) {
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || async move { axum::response::Html(html) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
}

async fn listener() -> (tokio::net::TcpListener, u16) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// Opens the front end at `origin` and waits for its `window.corsResult`.
async fn run_front_end(client: &Client, origin: &str) -> Value {
    client.goto(&format!("{origin}/")).await.unwrap();
    eventually(&format!("the front end on {origin} to finish"), || async {
        let result = client
            .execute("return window.corsResult || null;", vec![])
            .await
            .ok()?;
        (!result.is_null()).then_some(result)
    })
    .await
}

#[tokio::test]
async fn a_front_end_on_an_allowed_origin_signs_in_and_others_are_refused() {
    with_browser("cors", |client| async move {
        let dir = tempfile::tempdir().unwrap();
        superuser_with_token(dir.path(), USERNAME, PASSWORD);
        let (allowed_listener, allowed_port) = listener().await;
        let (other_listener, other_port) = listener().await;
        let allowed = format!("http://localhost:{allowed_port}");
        let list = json!([allowed]).to_string();
        let server = serve(
            dir.path(),
            &[
                ("TESSERA_CORS__ALLOWED_ORIGINS", &list),
                ("TESSERA_CORS__ALLOW_CREDENTIALS", "true"),
                ("TESSERA_CSRF__TRUSTED_ORIGINS", &list),
            ],
        );
        // The API by name, as the front end knows it.
        let api = format!("http://localhost:{}", server.addr.port());
        serve_page(allowed_listener, front_end(&api));
        serve_page(other_listener, front_end(&api));

        let result = run_front_end(&client, &allowed).await;
        let user = |reply: &Value| reply[1]["user"]["username"].clone();
        assert_eq!(result["csrf"], 200, "{result}");
        assert_eq!(result["login"][0], 200, "{result}");
        assert_eq!(user(&result["login"]), USERNAME, "{result}");
        assert_eq!(result["session_me"][0], 200, "{result}");
        assert_eq!(user(&result["session_me"]), USERNAME, "{result}");
        assert_eq!(result["session_me"][1]["auth"], "session", "{result}");
        assert_eq!(
            result["session_post"],
            json!([200, {"user": USERNAME, "received": {"hello": "world"}}]),
            "{result}"
        );
        assert_eq!(result["obtain_token"], 200, "{result}");
        assert_eq!(result["token_me"][0], 200, "{result}");
        assert_eq!(user(&result["token_me"]), USERNAME, "{result}");
        assert_eq!(result["token_me"][1]["auth"], "token", "{result}");

        // The same page elsewhere: `localhost` on another port (the same
        // site, so the session cookie the browser now holds goes along) and
        // `127.0.0.1` (another site). The browser refuses the page every
        // answer: each `fetch` rejects with a `TypeError`.
        for origin in [
            format!("http://localhost:{other_port}"),
            format!("http://127.0.0.1:{allowed_port}"),
        ] {
            let result = run_front_end(&client, &origin).await;
            for step in [
                "csrf",
                "login",
                "session_me",
                "session_post",
                "obtain_token",
                "token_me",
            ] {
                let outcome = result[step].as_str().unwrap_or_default();
                assert!(
                    outcome.starts_with("TypeError"),
                    "{step} from {origin} was not refused: {result}"
                );
            }
        }
    })
    .await;
}
