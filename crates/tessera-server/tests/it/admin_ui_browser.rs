//! The admin pages in a real browser (headless Chromium over WebDriver, see
//! `browser.rs`), against the real `tessera` binary: every action end to
//! end as a superuser and as staff, with the browser's console checked for
//! CSP violations after each page.
//!
//! With `TESSERA_SCREENSHOTS=1` the test writes a screenshot of each page
//! to `docs/admin/` (the README links them).

use crate::browser::{eventually, with_browser, PASSWORD, USERNAME};
use crate::cli::superuser_with_token;
use crate::e2e::{serve, Server};
use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use std::path::PathBuf;

const FORBIDDEN: &str = "You do not have permission to perform this action.";
const CSRF_FAILED: &str = "CSRF verification failed. Request aborted.";
const NEW_PASSWORD: &str = "n3w-Pass-word!";

/// Chromedriver's console log (`goog:loggingPrefs`), read and emptied.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// The console messages since the last call.
async fn console(client: &Client) -> Vec<String> {
    let entries = client.issue_cmd(BrowserLog).await.unwrap();
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Fails on any CSP violation the console reported since the last check.
async fn assert_no_csp_violation(client: &Client, page: &str) {
    let violations: Vec<String> = console(client)
        .await
        .into_iter()
        .filter(|m| m.contains("Content Security Policy") || m.contains("Content-Security-Policy"))
        .collect();
    assert!(
        violations.is_empty(),
        "CSP violations on {page}: {violations:#?}"
    );
}

/// Writes a screenshot of the page to `docs/admin/NAME.png` when
/// `TESSERA_SCREENSHOTS=1`.
async fn screenshot(client: &Client, name: &str) {
    if std::env::var("TESSERA_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/admin");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn find(client: &Client, css: &str) -> Element {
    eventually(&format!("{css} to be on the page"), || async {
        client.find(Locator::Css(css)).await.ok()
    })
    .await
}

async fn click(client: &Client, css: &str) {
    find(client, css).await.click().await.unwrap();
}

async fn fill(client: &Client, css: &str, value: &str) {
    let field = find(client, css).await;
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

async fn has(client: &Client, css: &str) -> bool {
    client.find(Locator::Css(css)).await.is_ok()
}

/// The rendered text of the page.
async fn body_text(client: &Client) -> String {
    client
        .execute("return document.body.innerText;", vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Waits until the page's path and query are `expected`.
async fn wait_at(client: &Client, expected: &str) {
    eventually(&format!("the browser to be at {expected}"), || async {
        let url = client.current_url().await.ok()?;
        let here = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        (here == expected).then_some(())
    })
    .await;
}

/// Waits until the page shows `text`.
async fn wait_for_text(client: &Client, text: &str) {
    eventually(&format!("the page to show {text:?}"), || async {
        body_text(client).await.contains(text).then_some(())
    })
    .await;
}

async fn text_of(client: &Client, css: &str) -> String {
    find(client, css).await.text().await.unwrap()
}

/// Signs in on the login page that `start` redirected to, and waits to be
/// back at `start`.
async fn sign_in_via_next(
    client: &Client,
    server: &Server,
    start: &str,
    username: &str,
    password: &str,
) {
    client.goto(&server.url(start)).await.unwrap();
    eventually("the login page", || async {
        let url = client.current_url().await.ok()?;
        (url.path() == "/login").then_some(())
    })
    .await;
    let next = client.current_url().await.unwrap();
    let (_, asked) = next.query_pairs().find(|(k, _)| k == "next").unwrap();
    assert_eq!(asked, start);
    find(client, "#login-form:not([hidden])").await;
    fill(client, "#username", username).await;
    fill(client, "#password", password).await;
    click(client, "#login-button").await;
    wait_at(client, start).await;
}

/// A fetch by the page's own script, with its cookies: `(status, body)`.
async fn page_fetch(client: &Client, path: &str) -> (u64, String) {
    let reply = client
        .execute_async(
            "const [path, done] = arguments;
             fetch(path, {credentials: 'same-origin', cache: 'no-store'})
               .then(async (r) => done([r.status, await r.text()]))
               .catch((e) => done([0, String(e)]));",
            vec![json!(path)],
        )
        .await
        .unwrap();
    (
        reply[0].as_u64().unwrap(),
        reply[1].as_str().unwrap().to_owned(),
    )
}

/// Submits a form built by script from the current page: what a forged
/// post looks like to the server (with the page's CSRF token, or without).
async fn forge_post(client: &Client, action: &str, fields: Value, with_token: bool) {
    client
        .execute(
            "const [action, fields, withToken] = arguments;
             const form = document.createElement('form');
             form.method = 'post';
             form.action = action;
             const add = (name, value) => {
               const input = document.createElement('input');
               input.type = 'hidden'; input.name = name; input.value = value;
               form.appendChild(input);
             };
             if (withToken) {
               add('csrfmiddlewaretoken', document.querySelector('input[name=csrfmiddlewaretoken]').value);
             }
             for (const [name, value] of Object.entries(fields)) add(name, value);
             document.body.appendChild(form);
             form.submit();",
            vec![json!(action), fields, json!(with_token)],
        )
        .await
        .unwrap();
}

/// The server's API, as a script would use it.
struct Api<'a> {
    http: reqwest::Client,
    server: &'a Server,
}

impl Api<'_> {
    async fn obtain(&self, username: &str, password: &str) -> (u16, Option<String>) {
        let reply = self
            .http
            .post(self.server.url("/api-token-auth/"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        let status = reply.status().as_u16();
        let body: Value = reply.json().await.unwrap();
        (status, body["token"].as_str().map(str::to_owned))
    }

    async fn create_user(&self, admin_key: &str, username: &str, staff: bool) -> i64 {
        let mut body = json!({"username": username, "password": PASSWORD, "email": format!("{username}@example.com")});
        if staff {
            body["is_staff"] = json!(true);
        }
        let reply = self
            .http
            .post(self.server.url("/admin/users"))
            .header("authorization", format!("Token {admin_key}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 201);
        reply.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }

    /// Signs in by session (`/auth/csrf`, `/auth/login`): the session cookie.
    async fn session(&self, username: &str, password: &str) -> String {
        let csrf = self
            .http
            .get(self.server.url("/auth/csrf"))
            .send()
            .await
            .unwrap();
        let cookie = csrf.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let token = csrf.json::<Value>().await.unwrap()["csrfToken"]
            .as_str()
            .unwrap()
            .to_owned();
        let login = self
            .http
            .post(self.server.url("/auth/login"))
            .header("cookie", cookie)
            .header("x-csrftoken", token)
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 200);
        login
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .find(|c| c.starts_with("sessionid="))
            .unwrap()
    }

    async fn me(&self, credential: &str) -> u16 {
        let request = self.http.get(self.server.url("/auth/me"));
        let request = if credential.starts_with("sessionid=") {
            request.header("cookie", credential)
        } else {
            request.header("authorization", format!("Token {credential}"))
        };
        request.send().await.unwrap().status().as_u16()
    }
}

#[tokio::test]
async fn a_superuser_runs_every_admin_action_in_the_browser() {
    with_browser("admin_ui_superuser", |client| async move {
        let dir = tempfile::tempdir().unwrap();
        superuser_with_token(dir.path(), USERNAME, PASSWORD);
        let server = serve(dir.path(), &[]);
        let api = Api { http: reqwest::Client::new(), server: &server };
        let (_, root_key) = api.obtain(USERNAME, PASSWORD).await;
        let root_key = root_key.unwrap();
        let bob = api.create_user(&root_key, "bob", false).await;
        api.create_user(&root_key, "carol", false).await;
        let dave = api.create_user(&root_key, "dave", false).await;
        api.create_user(&root_key, "sam", true).await;
        let (_, bob_key) = api.obtain("bob", PASSWORD).await;
        let bob_key = bob_key.unwrap();
        let bob_session = api.session("bob", PASSWORD).await;
        for _ in 0..5 {
            assert_eq!(api.obtain("dave", "wrong-password").await.0, 400);
        }
        assert_eq!(api.obtain("dave", PASSWORD).await.0, 429, "dave is locked");

        // Sign in through the login page, back to the page asked for.
        sign_in_via_next(&client, &server, "/admin/ui/users?q=bob", USERNAME, PASSWORD).await;
        assert_eq!(text_of(&client, "#user-count").await, "1 user");
        assert_no_csp_violation(&client, "users").await;

        // Search.
        fill(&client, "#q", "car").await;
        click(&client, "#search-button").await;
        wait_at(&client, "/admin/ui/users?q=car&staff=&active=").await;
        assert!(body_text(&client).await.contains("carol@example.com"));
        client.goto(&server.url("/admin/ui/users")).await.unwrap();
        wait_for_text(&client, "5 users").await;
        screenshot(&client, "users").await;
        assert_no_csp_violation(&client, "users").await;

        // A user's page: revoke a token, then the key is refused by the API.
        click(&client, &format!("a[href='/admin/ui/users/{bob}']")).await;
        wait_at(&client, &format!("/admin/ui/users/{bob}")).await;
        assert!(has(&client, "#make-superuser").await, "a superuser grants privileges");
        screenshot(&client, "user").await;
        assert_no_csp_violation(&client, "user").await;
        assert_eq!(api.me(&bob_key).await, 200);
        click(&client, "button[id^='revoke-token-']").await;
        wait_for_text(&client, "The token was revoked.").await;
        assert_eq!(api.me(&bob_key).await, 401);

        // Revoke the session.
        assert_eq!(api.me(&bob_session).await, 200);
        click(&client, "button[id^='revoke-session-']").await;
        wait_for_text(&client, "The session was revoked.").await;
        assert!(api.me(&bob_session).await >= 401);

        // Deactivate (confirmed on a second page), then reactivate.
        click(&client, "#deactivate").await;
        wait_for_text(&client, "Are you sure?").await;
        screenshot(&client, "confirm").await;
        assert_no_csp_violation(&client, "confirm").await;
        click(&client, "#confirm-button").await;
        wait_for_text(&client, "The user was deactivated.").await;
        assert_eq!(text_of(&client, "#flag-active").await, "no");
        assert_eq!(api.obtain("bob", PASSWORD).await.0, 400);
        click(&client, "#reactivate").await;
        wait_for_text(&client, "The user was reactivated.").await;
        assert_eq!(api.obtain("bob", PASSWORD).await.0, 200);

        // Reset the password: the old one fails, the new one works.
        fill(&client, "#new_password1", NEW_PASSWORD).await;
        fill(&client, "#new_password2", NEW_PASSWORD).await;
        click(&client, "#reset-password").await;
        wait_for_text(&client, "The password was reset").await;
        assert_eq!(api.obtain("bob", PASSWORD).await.0, 400);
        assert_eq!(api.obtain("bob", NEW_PASSWORD).await.0, 200);

        // Unlock a locked username.
        client.goto(&server.url("/admin/ui/users?locked=1")).await.unwrap();
        wait_for_text(&client, "1 user").await;
        client.goto(&server.url(&format!("/admin/ui/users/{dave}"))).await.unwrap();
        assert_eq!(text_of(&client, "#flag-locked").await, "yes");
        click(&client, "#unlock").await;
        wait_for_text(&client, "The username was unlocked.").await;
        assert_eq!(text_of(&client, "#flag-locked").await, "no");
        assert_eq!(api.obtain("dave", PASSWORD).await.0, 200);
        assert_no_csp_violation(&client, "user actions").await;

        // The audit log: filter, expand an event, export CSV.
        client.goto(&server.url("/admin/ui/audit")).await.unwrap();
        find(&client, "#event").await.select_by_value("login_failed").await.unwrap();
        fill(&client, "#username", "dave").await;
        click(&client, "#filter-button").await;
        wait_at(&client, "/admin/ui/audit?event=login_failed&username=dave&ip=&since=&until=").await;
        let count = text_of(&client, "#event-count").await;
        assert!(count == "5 events" || count == "6 events", "{count}");
        click(&client, "#events li:first-child summary").await;
        let open = client
            .execute("return document.querySelector('#events li:first-child details').open;", vec![])
            .await
            .unwrap();
        assert_eq!(open, json!(true));
        screenshot(&client, "audit").await;
        assert_no_csp_violation(&client, "audit").await;
        let href = find(&client, "#export-csv").await.attr("href").await.unwrap().unwrap();
        let (status, csv) = page_fetch(&client, &href).await;
        assert_eq!(status, 200);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "id,time,event,user,username,ip,user_agent,request_id,detail");
        assert!(lines[1..].iter().all(|l| l.contains(",login_failed,") && l.contains(",dave,")), "{csv}");
        assert_eq!(lines.len(), count.split(' ').next().unwrap().parse::<usize>().unwrap() + 1);

        // The overview.
        client.goto(&server.url("/admin/ui/")).await.unwrap();
        wait_for_text(&client, "Logins per hour").await;
        assert!(body_text(&client).await.contains("locked usernames"));
        screenshot(&client, "overview").await;
        assert_no_csp_violation(&client, "overview").await;

        // Keyboard: the first Tab reaches the skip link, with a visible
        // focus ring; Tab goes on through the navigation.
        find(&client, "body").await.send_keys("\u{E004}").await.unwrap();
        let focused = client
            .execute(
                "const e = document.activeElement;
                 return [e.className, getComputedStyle(e).outlineStyle, getComputedStyle(e).outlineWidth];",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(focused[0], "skip", "{focused}");
        assert_ne!(focused[1], "none", "{focused}");
        assert_eq!(focused[2], "3px", "{focused}");
        for _ in 0..2 {
            find(&client, "body").await.send_keys("\u{E004}").await.unwrap();
        }
        let second = client
            .execute("return document.activeElement.getAttribute('href');", vec![])
            .await
            .unwrap();
        assert_eq!(second, json!("/admin/ui/"), "Tab reaches the navigation");

        // 360 px wide: nothing wider than the window.
        client.set_window_size(360, 800).await.unwrap();
        for path in ["/admin/ui/", "/admin/ui/users", &format!("/admin/ui/users/{bob}"), "/admin/ui/audit"] {
            client.goto(&server.url(path)).await.unwrap();
            let overflow = client
                .execute("return document.documentElement.scrollWidth - window.innerWidth;", vec![])
                .await
                .unwrap();
            if overflow.as_i64().unwrap() > 0 {
                let wide = client
                    .execute(
                        "return [...document.querySelectorAll('body *')]
                           .filter((e) => e.getBoundingClientRect().right > window.innerWidth
                             && !e.closest('.table-scroll, .chart-scroll'))
                           .slice(0, 5).map((e) => e.tagName + '.' + e.className + '#' + e.id);",
                        vec![],
                    )
                    .await
                    .unwrap();
                panic!("{path} overflows by {overflow}px at 360px: {wide}");
            }
        }
        screenshot(&client, "audit-360px").await;
        client.set_window_size(1000, 800).await.unwrap();

        // The console check sees a violation when there is one: an image
        // from another origin is refused (img-src 'self' data:).
        client
            .execute(
                "const img = document.createElement('img'); img.src = 'http://example.invalid/x.png'; document.body.appendChild(img);",
                vec![],
            )
            .await
            .unwrap();
        let seen = eventually("the console to report the refused image", || async {
            let messages = console(&client).await;
            messages.iter().any(|m| m.contains("Content Security Policy")).then_some(messages)
        })
        .await;
        assert!(seen.iter().any(|m| m.contains("img-src")), "{seen:#?}");
    })
    .await;
}

#[tokio::test]
async fn staff_see_no_superuser_actions_and_forged_posts_are_refused() {
    with_browser("admin_ui_staff", |client| async move {
        let dir = tempfile::tempdir().unwrap();
        superuser_with_token(dir.path(), USERNAME, PASSWORD);
        // A short re-authentication window, so that an action asks for the password.
        let server = serve(dir.path(), &[("TESSERA_REAUTH__WINDOW", "3s")]);
        let api = Api {
            http: reqwest::Client::new(),
            server: &server,
        };
        let (_, root_key) = api.obtain(USERNAME, PASSWORD).await;
        let root_key = root_key.unwrap();
        api.create_user(&root_key, "sam", true).await;
        let bob = api.create_user(&root_key, "bob", false).await;
        api.create_user(&root_key, "carol", false).await;
        let bob_page = format!("/admin/ui/users/{bob}");
        let action = format!("/admin/ui/users/{bob}/action");

        sign_in_via_next(&client, &server, &bob_page, "sam", PASSWORD).await;
        assert_eq!(text_of(&client, "#signed-in-as").await, "sam (staff)");
        for superuser_only in [
            "#make-staff",
            "#make-superuser",
            "#remove-staff",
            "#remove-superuser",
        ] {
            assert!(!has(&client, superuser_only).await, "{superuser_only}");
        }
        assert!(has(&client, "#deactivate").await);
        assert_no_csp_violation(&client, "user (staff)").await;

        // A forged post of a superuser-only action, with a good CSRF token: 403.
        forge_post(
            &client,
            &action,
            json!({"action": "make_superuser", "confirmed": "yes"}),
            true,
        )
        .await;
        wait_for_text(&client, FORBIDDEN).await;
        // A post without the token: Django's CSRF failure page.
        client.goto(&server.url(&bob_page)).await.unwrap();
        forge_post(
            &client,
            &action,
            json!({"action": "deactivate", "confirmed": "yes"}),
            false,
        )
        .await;
        wait_for_text(&client, CSRF_FAILED).await;
        assert!(body_text(&client).await.contains("Forbidden (403)"));
        screenshot(&client, "csrf-failure").await;
        let (status, me) = {
            let (_, key) = api.obtain("bob", PASSWORD).await;
            (api.me(&key.unwrap()).await, ())
        };
        assert_eq!((status, me), (200, ()), "bob is untouched");

        // After the re-authentication window: the password is asked, then
        // the action completes.
        tokio::time::sleep(std::time::Duration::from_secs(4)).await;
        client.goto(&server.url(&bob_page)).await.unwrap();
        click(&client, "#deactivate").await;
        wait_for_text(&client, "Are you sure?").await;
        assert!(has(&client, "#current_password").await);
        screenshot(&client, "reauth").await;
        fill(&client, "#current_password", "not-my-password").await;
        click(&client, "#confirm-button").await;
        wait_for_text(&client, "Unable to log in with provided credentials.").await;
        fill(&client, "#current_password", PASSWORD).await;
        click(&client, "#confirm-button").await;
        wait_for_text(&client, "The user was deactivated.").await;
        assert_eq!(api.obtain("bob", PASSWORD).await.0, 400);
        assert_no_csp_violation(&client, "reauth").await;

        // Sign out; an open redirect through next is not followed.
        click(&client, "#sign-out").await;
        wait_at(&client, "/login").await;
        for evil in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example/",
        ] {
            let mut login = url::Url::parse(&server.url("/login")).unwrap();
            login.query_pairs_mut().append_pair("next", evil);
            client.goto(login.as_str()).await.unwrap();
            find(&client, "#login-form:not([hidden])").await;
            fill(&client, "#username", "sam").await;
            fill(&client, "#password", PASSWORD).await;
            click(&client, "#login-button").await;
            eventually("the signed-in view of the login page", || async {
                let shown = client
                    .find(Locator::Id("current-user"))
                    .await
                    .ok()?
                    .text()
                    .await
                    .ok()?;
                (shown == "sam").then_some(())
            })
            .await;
            let here = client.current_url().await.unwrap();
            assert_eq!(
                here.origin(),
                url::Url::parse(&server.url("/")).unwrap().origin(),
                "{evil}"
            );
            assert_eq!(here.path(), "/login", "{evil}");
            click(&client, "#logout-button").await;
            find(&client, "#login-form:not([hidden])").await;
        }

        // A user who is not staff: 403.
        sign_in_via_next(&client, &server, "/admin/ui/", "carol", PASSWORD).await;
        wait_for_text(&client, FORBIDDEN).await;
        assert_no_csp_violation(&client, "403").await;
    })
    .await;
}
