//! The login page in a real browser: Debian's headless Chromium, driven over
//! WebDriver (`chromedriver`) with fantoccini, against the real `tessera`
//! binary. `scripts/browser` installs both; without them these tests fail,
//! unless `TESSERA_TEST_SKIP=browser` opts out.

use crate::cli::superuser_with_token;
use crate::e2e::{serve, Server};
use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use serde_json::{json, Value};
use std::future::Future;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub(crate) const USERNAME: &str = "alice";
pub(crate) const PASSWORD: &str = "alice-pass-123";
const BAD_LOGIN: &str = "Unable to log in with provided credentials.";
const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided.";
/// The longest wait for anything the page does.
const WAIT: Duration = Duration::from_secs(10);

/// `chromedriver` on a free port, with a throw-away browser profile; killed on drop.
struct Driver {
    child: Child,
    port: u16,
    profile: TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether Chromium and chromedriver are installed; when they are not, the
/// test fails unless `TESSERA_TEST_SKIP=browser` opts out.
fn browser_installed() -> bool {
    let installed = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !installed {
        let why = format!("{CHROMIUM} or {CHROMEDRIVER} missing (scripts/browser installs them)");
        tessera_testkit::unreachable_backend::<()>("browser", &why);
    }
    installed
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Driver {
    fn start() -> Driver {
        let port = free_port();
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!(
                "--log-path={}",
                profile.path().join("chromedriver.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver = Driver {
            child,
            port,
            profile,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }

    async fn connect(&self) -> Client {
        let user_data = self.profile.path().join("chromium");
        let mut capabilities = serde_json::Map::new();
        // The console, for the admin pages' test of CSP violations.
        capabilities.insert("goog:loggingPrefs".to_owned(), json!({"browser": "ALL"}));
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--window-size=1000,800",
                    format!("--user-data-dir={}", user_data.display()),
                ],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap()
    }
}

/// Runs `test` with a fresh browser; on failure, saves a screenshot of the
/// page and says where, then fails.
pub(crate) async fn with_browser<F, Fut>(name: &str, test: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()>,
{
    if !browser_installed() {
        return;
    }
    let driver = Driver::start();
    let client = driver.connect().await;
    let outcome = AssertUnwindSafe(test(client.clone())).catch_unwind().await;
    if let Err(panic) = outcome {
        if let Ok(png) = client.screenshot().await {
            let path = std::env::temp_dir()
                .join(format!("tessera-browser-{name}-{}.png", std::process::id()));
            if std::fs::write(&path, png).is_ok() {
                eprintln!("screenshot of the failure: {}", path.display());
            }
        }
        let _ = client.close().await;
        std::panic::resume_unwind(panic);
    }
    client.close().await.unwrap();
}

/// Polls `probe` until it gives a value, for at most [`WAIT`].
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The rendered text of the element with `id` (empty when it is hidden).
async fn text(client: &Client, id: &str) -> Option<String> {
    client.find(Locator::Id(id)).await.ok()?.text().await.ok()
}

async fn displayed(client: &Client, id: &str) -> bool {
    match client.find(Locator::Id(id)).await {
        Ok(element) => element.is_displayed().await.unwrap_or(false),
        Err(_) => false,
    }
}

/// Waits until the element with `id` shows text that `accept` takes.
async fn wait_text(client: &Client, id: &str, accept: impl Fn(&str) -> bool) -> String {
    eventually(&format!("#{id} to show the expected text"), || async {
        text(client, id).await.filter(|t| accept(t))
    })
    .await
}

async fn wait_displayed(client: &Client, id: &str) {
    eventually(&format!("#{id} to be displayed"), || async {
        displayed(client, id).await.then_some(())
    })
    .await;
}

async fn click(client: &Client, id: &str) {
    client
        .find(Locator::Id(id))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn fill(client: &Client, id: &str, value: &str) {
    let field = client.find(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

/// A request made by the page's own script: `(status, body)`.
async fn page_fetch(client: &Client, method: &str, path: &str) -> (u16, String) {
    let reply = client
        .execute_async(
            "const [method, path, done] = arguments;
             fetch(path, {method, credentials: 'same-origin', cache: 'no-store'})
               .then(async (r) => done([r.status, await r.text()]))
               .catch((e) => done([0, String(e)]));",
            vec![json!(method), json!(path)],
        )
        .await
        .unwrap();
    let status = reply[0].as_u64().unwrap();
    let body = reply[1].as_str().unwrap().to_owned();
    (u16::try_from(status).unwrap(), body)
}

/// Opens the login page and signs in with the form.
async fn sign_in(client: &Client, server: &Server) {
    client.goto(&server.url("/login")).await.unwrap();
    wait_displayed(client, "login-form").await;
    fill(client, "username", USERNAME).await;
    fill(client, "password", PASSWORD).await;
    click(client, "login-button").await;
    wait_text(client, "current-user", |t| t == USERNAME).await;
}

/// Reloads the login page and checks that it still shows the user signed in.
async fn still_signed_in(client: &Client, server: &Server, after: &str) {
    client.goto(&server.url("/login")).await.unwrap();
    eventually(
        &format!("the session to be alive after {after}"),
        || async {
            if displayed(client, "login-form").await {
                panic!("the session did not survive {after}: the page shows the login form");
            }
            text(client, "current-user").await.filter(|t| t == USERNAME)
        },
    )
    .await;
}

#[tokio::test]
async fn login_page_signs_in_posts_and_logs_out() {
    with_browser("login_page", |client| async move {
        let started = Instant::now();
        let dir = tempfile::tempdir().unwrap();
        superuser_with_token(dir.path(), USERNAME, PASSWORD);
        let server = serve(dir.path(), &[]);

        // The page and its assets, as served.
        let http = reqwest::Client::new();
        let page = http.get(server.url("/login")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(
            page.headers()["content-security-policy"],
            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        );
        let html = page.text().await.unwrap();
        assert!(html.contains(r#"<script src="/login.js" defer></script>"#));
        assert_eq!(html.matches("<script").count(), 1, "no inline script");
        for (path, kind) in [("/login.js", "text/javascript"), ("/login.css", "text/css")] {
            let asset = http.get(server.url(path)).send().await.unwrap();
            assert_eq!(asset.status(), 200, "{path}");
            assert_eq!(
                asset.headers()["content-type"],
                format!("{kind}; charset=utf-8")
            );
        }

        client.goto(&server.url("/login")).await.unwrap();
        wait_displayed(&client, "login-form").await;
        assert!(!displayed(&client, "account").await);

        // A wrong password: the API's message, and the form stays.
        fill(&client, "username", USERNAME).await;
        fill(&client, "password", "not-the-password").await;
        click(&client, "login-button").await;
        wait_text(&client, "error", |t| t == BAD_LOGIN).await;
        assert!(displayed(&client, "login-form").await);
        assert!(client.get_named_cookie("sessionid").await.is_err());

        // The right one: the page shows who is signed in, by session.
        fill(&client, "password", PASSWORD).await;
        click(&client, "login-button").await;
        wait_text(&client, "current-user", |t| t == USERNAME).await;
        assert_eq!(text(&client, "current-auth").await.unwrap(), "session");
        assert!(!displayed(&client, "error").await, "the old error is gone");
        assert!(!displayed(&client, "login-form").await);

        // The session cookie is out of the scripts' reach; the CSRF cookie is not.
        let session = client.get_named_cookie("sessionid").await.unwrap();
        assert_eq!(session.http_only(), Some(true));
        assert_eq!(
            session.same_site().map(|s| s.to_string()).as_deref(),
            Some("Lax")
        );
        let csrf = client.get_named_cookie("csrftoken").await.unwrap();
        assert_ne!(csrf.http_only(), Some(true));
        assert_eq!(csrf.value().len(), 32, "the rotated secret, unmasked");
        let seen = client
            .execute("return document.cookie;", vec![])
            .await
            .unwrap();
        let seen = seen.as_str().unwrap();
        assert!(seen.contains("csrftoken="), "{seen}");
        assert!(!seen.contains("sessionid"), "{seen}");

        // An authenticated, CSRF-protected POST from the page.
        click(&client, "post-example").await;
        let shown = wait_text(&client, "response", |t| t.contains("received")).await;
        assert!(shown.contains("hello"), "{shown}");
        assert_eq!(
            serde_json::from_str::<Value>(&shown).unwrap(),
            json!({"user": USERNAME, "received": {"hello": "world"}})
        );
        assert!(!displayed(&client, "error").await);

        // Logout: the form is back, and the session is gone for the page too.
        click(&client, "logout-button").await;
        wait_displayed(&client, "login-form").await;
        assert!(!displayed(&client, "account").await);
        assert!(!displayed(&client, "error").await);
        assert!(client.get_named_cookie("sessionid").await.is_err());
        let (status, body) = page_fetch(&client, "GET", "/auth/me").await;
        assert!(status == 401 || status == 403, "{status} {body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["detail"],
            NOT_AUTHENTICATED
        );
        client.refresh().await.unwrap();
        wait_displayed(&client, "login-form").await;
        assert!(!displayed(&client, "account").await);
        eprintln!("login page test took {:?}", started.elapsed());
    })
    .await;
}

/// What the attacker's site serves: two forms that POST to the target, one of
/// them a JSON body smuggled in a `text/plain` form, and a script that tries
/// `fetch` with the user's cookies.
fn attacker_page(target: &str) -> String {
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>You won a prize</title></head>
<body>
<form method="post" action="{target}/auth/logout-all">
  <button id="logout-all-submit" type="submit">Claim your prize</button>
</form>
<form method="post" enctype="text/plain" action="{target}/api/example/">
  <input type="hidden" name='{{"hello": "world", "pad": "' value='"}}'>
  <button id="example-submit" type="submit">Claim another prize</button>
</form>
<button id="fetch-attack" type="button">Claim by fetch</button>
<pre id="fetch-result"></pre>
<script>
document.getElementById('fetch-attack').addEventListener('click', async () => {{
  const outcomes = [];
  for (const path of ['/auth/logout-all', '/api/example/']) {{
    try {{
      const reply = await fetch('{target}' + path, {{
        method: 'POST',
        credentials: 'include',
        headers: {{'Content-Type': 'text/plain'}},
        body: '{{"hello": "world"}}',
      }});
      outcomes.push(path + ' read ' + reply.status + ' ' + await reply.text());
    }} catch (e) {{
      outcomes.push(path + ' blocked ' + e);
    }}
  }}
  document.getElementById('fetch-result').textContent = outcomes.join('\n');
}});
</script>
</body></html>"#
    )
}

/// Serves [`attacker_page`] on a port of its own; returns the port.
async fn attacker_site(target: String) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let html = attacker_page(&target);
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || async move { axum::response::Html(html) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// The status and JSON body of the page the browser navigated to.
async fn navigated_reply(client: &Client) -> (u64, Value) {
    let reply = client
        .execute(
            "const nav = performance.getEntriesByType('navigation')[0];
             const pre = document.querySelector('pre');
             return [nav ? nav.responseStatus : 0,
                     pre ? pre.textContent : document.body.textContent];",
            vec![],
        )
        .await
        .unwrap();
    let body = reply[1].as_str().unwrap();
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    (reply[0].as_u64().unwrap(), json)
}

/// Submits one of the attacker's forms and returns what the target answered.
async fn submit_attack(
    client: &Client,
    attacker: &str,
    button: &str,
    lands_on: &str,
) -> (u64, Value) {
    client.goto(attacker).await.unwrap();
    click(client, button).await;
    eventually(&format!("the browser to land on {lands_on}"), || async {
        let url = client.current_url().await.ok()?;
        (url.as_str() == lands_on).then_some(())
    })
    .await;
    eventually("the target's answer to load", || async {
        let ready = client
            .execute("return document.readyState;", vec![])
            .await
            .ok()?;
        (ready == "complete").then_some(())
    })
    .await;
    navigated_reply(client).await
}

#[tokio::test]
async fn another_origin_cannot_make_an_authenticated_post() {
    with_browser("another_origin", |client| async move {
        let started = Instant::now();
        let dir = tempfile::tempdir().unwrap();
        superuser_with_token(dir.path(), USERNAME, PASSWORD);
        let server = serve(dir.path(), &[]);
        let target = server.url("");
        let port = attacker_site(target.clone()).await;
        sign_in(&client, &server).await;

        // `localhost` is another site than `127.0.0.1`: the `SameSite=Lax`
        // cookies stay home and the POSTs arrive anonymous. `127.0.0.1` on
        // another port is the same site but another origin: the cookies go
        // along and Django's Origin check refuses them.
        let cross_site = format!("http://localhost:{port}");
        let same_site = format!("http://127.0.0.1:{port}");
        for (attacker, refusal) in [
            (
                &cross_site,
                json!({"detail": NOT_AUTHENTICATED, "code": "not_authenticated"}),
            ),
            (
                &same_site,
                json!({
                    "detail": format!(
                        "CSRF Failed: Origin checking failed - {same_site} does not match any trusted origins."
                    ),
                    "code": "csrf_failed",
                }),
            ),
        ] {
            let home = format!("{attacker}/");
            let status = if refusal["code"] == "csrf_failed" { 403 } else { 401 };

            let (got, body) = submit_attack(
                &client,
                &home,
                "logout-all-submit",
                &server.url("/auth/logout-all"),
            )
            .await;
            assert_eq!((got, &body), (status, &refusal), "logout-all from {attacker}");
            still_signed_in(&client, &server, &format!("a logout-all form on {attacker}")).await;

            let (got, body) = submit_attack(
                &client,
                &home,
                "example-submit",
                &server.url("/api/example/"),
            )
            .await;
            assert!(body.get("received").is_none(), "{body}");
            assert_eq!((got, &body), (status, &refusal), "POST /api/example/ from {attacker}");
            still_signed_in(&client, &server, &format!("a POST form on {attacker}")).await;

            // fetch with the user's cookies: the browser refuses the attacker
            // the answer (no CORS), and the server refused the request.
            client.goto(&home).await.unwrap();
            click(&client, "fetch-attack").await;
            let outcome = wait_text(&client, "fetch-result", |t| !t.is_empty()).await;
            assert_eq!(
                outcome.matches(" blocked TypeError").count(),
                2,
                "fetch from {attacker}: {outcome}"
            );
            still_signed_in(&client, &server, &format!("fetch on {attacker}")).await;
        }

        // The legitimate page still works, CSRF token and all.
        click(&client, "post-example").await;
        let shown = wait_text(&client, "response", |t| t.contains("received")).await;
        assert!(shown.contains("hello"), "{shown}");
        eprintln!("cross-origin test took {:?}", started.elapsed());
    })
    .await;
}

#[tokio::test]
async fn login_page_works_with_the_csrf_secret_in_the_session() {
    with_browser("use_sessions", |client| async move {
        let dir = tempfile::tempdir().unwrap();
        superuser_with_token(dir.path(), USERNAME, PASSWORD);
        let server = serve(dir.path(), &[("TESSERA_CSRF__USE_SESSIONS", "true")]);
        sign_in(&client, &server).await;
        // No CSRF cookie after login: the secret is on the server.
        assert!(client.get_named_cookie("csrftoken").await.is_err());
        // The page's POST takes its token from `/auth/csrf`.
        click(&client, "post-example").await;
        let shown = wait_text(&client, "response", |t| t.contains("received")).await;
        assert_eq!(
            serde_json::from_str::<Value>(&shown).unwrap(),
            json!({"user": USERNAME, "received": {"hello": "world"}})
        );
        assert!(!displayed(&client, "error").await);
        click(&client, "logout-button").await;
        wait_displayed(&client, "login-form").await;
        assert!(client.get_named_cookie("sessionid").await.is_err());
    })
    .await;
}
