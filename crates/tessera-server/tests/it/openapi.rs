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
            // Session-only, or members of a group the caller is not in: the
            // policy refuses first (DRF's dispatch checks permissions before
            // it looks the method up).
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

/// Every operation of the description, as `(METHOD, path, operation)`.
fn each_operation(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            ops.push((method.to_uppercase(), path.clone(), operation.clone()));
        }
    }
    ops
}

async fn full_description() -> Value {
    let app = TestApp::with_config(|c| c.registration.enabled = true).await;
    let reply = app.get("/openapi.json", None).await;
    assert_eq!(reply.status, 200);
    reply.json()
}

#[tokio::test]
async fn every_path_parameter_is_declared_as_an_integer() {
    let doc = full_description().await;
    let mut seen = 0;
    for (method, path, operation) in each_operation(&doc) {
        let names: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let declared: Vec<&Value> = operation["parameters"]
            .as_array()
            .map(|p| p.iter().filter(|p| p["in"] == "path").collect())
            .unwrap_or_default();
        assert_eq!(declared.len(), names.len(), "{method} {path}");
        for (name, parameter) in names.iter().zip(&declared) {
            assert_eq!(parameter["name"], *name, "{method} {path}");
            assert_eq!(parameter["required"], true, "{method} {path}");
            assert_eq!(parameter["schema"]["type"], "integer", "{method} {path}");
            seen += 1;
        }
    }
    assert_eq!(seen, 8, "the eight routes with an {{id}}");
}

#[tokio::test]
async fn every_operation_has_a_unique_snake_case_operation_id() {
    let doc = full_description().await;
    let mut ids = BTreeSet::new();
    for (method, path, operation) in each_operation(&doc) {
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(
            !id.is_empty()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{id}"
        );
        assert!(ids.insert(id.to_owned()), "{id} twice");
    }
    let get = |m: &str, p: &str| doc["paths"][p][m]["operationId"].clone();
    assert_eq!(get("post", "/api-token-auth/"), "post_api_token_auth");
    assert_eq!(get("delete", "/auth/tokens/{id}"), "delete_auth_tokens_id");
    assert_eq!(get("get", "/"), "get_root");
}

/// A `$ref` to a component, resolved.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").unwrap();
            let target = &doc["components"]["schemas"][name];
            assert!(target.is_object(), "{r} does not resolve");
            target
        }
        None => schema,
    }
}

#[tokio::test]
async fn every_response_and_body_has_a_schema_with_the_contract_error_shapes() {
    let doc = full_description().await;
    let error = json!({"$ref": "#/components/schemas/Error"});
    let validation = json!({"$ref": "#/components/schemas/ValidationError"});
    for (method, path, operation) in each_operation(&doc) {
        let responses = operation["responses"].as_object().unwrap();
        assert!(!responses.is_empty(), "{method} {path}");
        for (status, response) in responses {
            let status: u16 = status.parse().unwrap();
            let content = response["content"].as_object();
            match status {
                204 => assert!(content.is_none(), "{method} {path} {status}"),
                200..=299 => {
                    let content = content.unwrap_or_else(|| panic!("{method} {path} {status}"));
                    let (_, media) = content.iter().next().unwrap();
                    assert!(media["schema"].is_object(), "{method} {path} {status}");
                    resolve(&doc, &media["schema"]);
                }
                400 => assert_eq!(
                    response["content"]["application/json"]["schema"]["anyOf"],
                    json!([validation, error]),
                    "{method} {path}"
                ),
                _ => assert_eq!(
                    response["content"]["application/json"]["schema"], error,
                    "{method} {path} {status}"
                ),
            }
        }
        if let Some(body) = operation.get("requestBody") {
            assert_eq!(body["required"], false);
            let schema = &body["content"]["application/json"]["schema"];
            assert_eq!(schema["type"], "object", "{method} {path}");
            // Every field is typed (a name the table does not know is `{}`).
            for (name, field) in schema["properties"].as_object().into_iter().flatten() {
                assert_ne!(field, &json!({}), "{method} {path}: {name}");
            }
            // Reading a body can fail before the handler, on every route.
            for status in ["400", "413", "415"] {
                assert!(responses.contains_key(status), "{method} {path} {status}");
            }
        }
    }
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["Error"],
        json!({"type": "object", "properties": {"detail": {"type": "string"}, "code": {"type": "string"}}, "required": ["detail", "code"]})
    );
    assert_eq!(
        schemas["ValidationError"]["additionalProperties"],
        json!({"type": "array", "items": {"type": "string"}})
    );
    // A body's fields: typed, the required ones listed.
    let create = &doc["paths"]["/auth/tokens"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"];
    assert_eq!(create["required"], json!(["name"]));
    assert_eq!(create["properties"]["expires_in"]["minimum"], 1);
    assert_eq!(
        create["properties"]["expires_in"]["type"],
        json!(["integer", "null"])
    );
    assert_eq!(create["properties"]["scopes"]["items"]["type"], "string");
    // DRF's login views take forms too.
    let obtain = &doc["paths"]["/api-token-auth/"]["post"]["requestBody"]["content"];
    assert_eq!(
        obtain.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data"
        ]
    );
    let audit = &doc["paths"]["/admin/audit"]["get"]["parameters"];
    let names: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["user", "event", "since", "page"]);
    for parameter in audit.as_array().unwrap() {
        assert_eq!(parameter["in"], "query");
        assert_eq!(parameter["required"], false);
        assert_ne!(parameter["schema"], json!({}));
    }
}

#[tokio::test]
async fn security_names_the_schemes_and_the_scope_and_anonymous_operations_need_none() {
    let doc = full_description().await;
    let security = |m: &str, p: &str| doc["paths"][p][m]["security"].clone();
    // DRF's obtain_auth_token: anyone (the empty requirement), and a
    // credential that is given is checked.
    assert_eq!(
        security("post", "/api-token-auth/"),
        json!([{}, {"tokenAuth": []}, {"sessionAuth": [], "csrfToken": []}])
    );
    for (m, p) in [
        ("get", "/auth/csrf"),
        ("post", "/auth/login"),
        ("post", "/auth/register"),
        ("get", "/healthz"),
        ("get", "/openapi.json"),
    ] {
        assert_eq!(security(m, p), json!([]), "{m} {p}");
    }
    assert_eq!(
        security("get", "/auth/me"),
        json!([{"tokenAuth": ["read"]}, {"sessionAuth": []}])
    );
    assert_eq!(
        security("post", "/auth/tokens"),
        json!([{"tokenAuth": ["account"]}, {"sessionAuth": [], "csrfToken": []}])
    );
    assert_eq!(
        security("patch", "/admin/users/{id}"),
        json!([{"tokenAuth": ["admin"]}, {"sessionAuth": [], "csrfToken": []}])
    );
    assert_eq!(
        security("post", "/auth/tokens/rotate"),
        json!([{"tokenAuth": []}])
    );
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["sessionAuth"]["in"], "cookie");
    assert_eq!(schemes["sessionAuth"]["name"], "sessionid");
    assert_eq!(schemes["csrfToken"]["in"], "header");
    assert_eq!(schemes["csrfToken"]["name"], "X-CSRFToken");
    // Every requirement names a declared scheme.
    for (method, path, operation) in each_operation(&doc) {
        for requirement in operation["security"].as_array().unwrap() {
            for scheme in requirement.as_object().unwrap().keys() {
                assert!(schemes[scheme].is_object(), "{method} {path}: {scheme}");
            }
        }
    }
}

/// The fields a component schema requires.
fn required_fields(doc: &Value, component: &str) -> BTreeSet<String> {
    doc["components"]["schemas"][component]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect()
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn the_schemas_hold_the_fields_the_server_sends() {
    let app = TestApp::new().await;
    let doc = app.get("/openapi.json", None).await.json();
    let admin = app.superuser("boss", "s3cret-pass").await;
    let key = app.recent_token(&admin).await;
    let me = app.get("/auth/me", Some(&key)).await.json();
    assert_eq!(keys(&me), required_fields(&doc, "Me"));
    assert_eq!(keys(&me["user"]), required_fields(&doc, "User"));
    let tokens = app.get("/auth/tokens", Some(&key)).await.json();
    assert_eq!(keys(&tokens[0]), required_fields(&doc, "Token"));
    let created = app
        .post_json("/auth/tokens", Some(&key), json!({"name": "ci"}))
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(keys(&created.json()), required_fields(&doc, "NewToken"));
    let users = app.get("/admin/users", Some(&key)).await.json();
    assert_eq!(
        keys(&users["results"][0]),
        required_fields(&doc, "AdminUser")
    );
    let audit = app.get("/admin/audit", Some(&key)).await.json();
    assert_eq!(
        keys(&audit["results"][0]),
        required_fields(&doc, "AuditEvent")
    );
    let health = app.get("/healthz", None).await.json();
    assert_eq!(keys(&health), required_fields(&doc, "Health"));
    let error = app.get("/auth/me", None).await.json();
    assert_eq!(keys(&error), required_fields(&doc, "Error"));
}
