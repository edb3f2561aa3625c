//! `/openapi.json`: generated from the route table, checked against what is
//! served and against API.md's list of routes.

use crate::support::{raw, TestApp};
use axum::body::Body;
use axum::http::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// API.md's routes (with registration and the demo views enabled).
const API_MD: &[(&str, &str)] = &[
    ("POST", "/api-token-auth/"),
    ("GET", "/auth/csrf"),
    ("POST", "/auth/login"),
    ("POST", "/auth/logout"),
    ("POST", "/auth/logout-all"),
    ("GET", "/auth/me"),
    ("POST", "/auth/register"),
    ("POST", "/auth/password"),
    ("POST", "/auth/reauth"),
    ("GET", "/auth/tokens"),
    ("POST", "/auth/tokens"),
    ("DELETE", "/auth/tokens/{id}"),
    ("POST", "/auth/tokens/rotate"),
    ("GET", "/auth/sessions"),
    ("DELETE", "/auth/sessions/{id}"),
    ("GET", "/admin/users"),
    ("POST", "/admin/users"),
    ("PATCH", "/admin/users/{id}"),
    ("GET", "/admin/users/{id}/tokens"),
    ("DELETE", "/admin/tokens/{id}"),
    ("GET", "/admin/users/{id}/sessions"),
    ("DELETE", "/admin/sessions/{id}"),
    ("GET", "/admin/audit"),
    ("POST", "/admin/users/{id}/unlock"),
    ("GET", "/api/example/"),
    ("POST", "/api/example/"),
    ("GET", "/api/secure/"),
    ("GET", "/api/protected/"),
    ("GET", "/api/session/"),
    ("GET", "/api/public/"),
    ("GET", "/api/staff/"),
    ("GET", "/api/editors/"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/"),
];

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            ops.insert((method.to_uppercase(), path.clone()));
        }
    }
    ops
}

#[tokio::test]
async fn the_description_lists_every_route_of_the_contract() {
    let app = TestApp::with_config(|c| c.registration.enabled = true).await;
    let reply = app.get("/openapi.json", None).await;
    assert_eq!(reply.status, 200);
    let doc = reply.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Tessera");
    let ops = operations(&doc);
    for (method, path) in API_MD {
        assert!(
            ops.contains(&(method.to_string(), path.to_string())),
            "{method} {path} is missing"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["tokenAuth"],
        json!({"type": "apiKey", "in": "header", "name": "Authorization", "description": "`Token <key>`, as DRF's TokenAuthentication"})
    );
    let login = &doc["paths"]["/auth/login"]["post"];
    assert!(login["responses"]["403"].is_object());
}

#[tokio::test]
async fn every_documented_operation_is_served_and_nothing_else() {
    // A wrong method on a served path is a 405 whose `Allow` lists exactly the
    // methods served there: compare it with the documented ones.
    let app = TestApp::with_config(|c| c.registration.enabled = true).await;
    app.staff("boss", "s3cret-pass").await;
    // A key obtained with the password: recently authenticated, for /auth/password.
    let obtained = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": "boss", "password": "s3cret-pass"}),
        )
        .await;
    let auth = format!("Token {}", obtained.json()["token"].as_str().unwrap());
    let doc = app.get("/openapi.json", None).await.json();
    let paths = doc["paths"].as_object().unwrap();
    for (path, item) in paths {
        let concrete = path.replace("{id}", "1");
        let headers: &[(&str, &[u8])] = &[("authorization", auth.as_bytes())];
        let reply = app
            .send(raw(Method::TRACE, &concrete, headers, Body::empty()))
            .await;
        if path == "/api/session/" || path == "/api/editors/" {
            // Session-only: the token is not its scheme; group members only:
            // boss is in no group. Either way the policy refuses first, as
            // DRF checks the permission before the method.
            assert_eq!(reply.status, 403, "{path}");
            continue;
        }
        assert_eq!(reply.status, 405, "{path} is documented but not served");
        let mut allowed: BTreeSet<String> = reply
            .header("allow")
            .unwrap()
            .split(',')
            .map(|m| m.trim().to_owned())
            .filter(|m| m != "HEAD")
            .collect();
        let documented: BTreeSet<String> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_uppercase())
            .collect();
        allowed.retain(|m| !m.is_empty());
        assert_eq!(allowed, documented, "{path}");
    }
}

#[tokio::test]
async fn disabled_routes_are_not_described() {
    let app = TestApp::with_config(|c| c.demo.enabled = false).await;
    let ops = operations(&app.get("/openapi.json", None).await.json());
    assert!(!ops
        .iter()
        .any(|(_, p)| p == "/auth/register" || p.starts_with("/api/")));
    assert!(ops.contains(&("GET".into(), "/auth/me".into())));
}
