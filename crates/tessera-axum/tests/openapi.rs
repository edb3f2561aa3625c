//! An application's own routes in the OpenAPI description, declared as
//! the ready views are: the document is built from the route table the
//! router is built from, and the scopes it lists are the ones enforced.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tessera_axum::openapi::{object_schema, op, Auth, Returns, Routes};
use tessera_axum::prelude::*;
use tessera_testkit::MemoryStore;
use tower::ServiceExt;

const PASSWORD: &str = "correct-horse-staple-9";

async fn note() -> Json<Value> {
    Json(json!({"id": 1, "title": "a note"}))
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn app() -> Router {
    let hasher = PasswordHasher::new(
        Argon2Params {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        },
        1,
        64,
    )
    .unwrap();
    let settings = Settings {
        secure_cookies: false,
        ..Settings::default()
    };
    let tessera = Tessera::builder()
        .store(MemoryStore::default())
        .hasher(hasher)
        .settings(settings)
        .build()
        .unwrap();
    let routes: Routes = Routes::new()
        .guarded(
            &tessera,
            "/notes/{id}",
            vec![
                op(
                    Method::GET,
                    "A note",
                    Auth::Default,
                    &[],
                    &[200, 401, 403, 404],
                )
                .scope("notes:read")
                .returns(Returns::Schema("Note")),
                op(
                    Method::PUT,
                    "Change a note",
                    Auth::Default,
                    &["title"],
                    &[200, 401, 403, 404],
                )
                .scope("notes:write")
                .returns(Returns::Schema("Note")),
            ],
            Policy::new(),
            get(note).put(note),
        )
        .schema("Note", object_schema(&["id", "title"]))
        .views(&tessera, &Views::new().registration(true));
    routes.into_router("Notes", "1.2.3").0
}

#[tokio::test]
async fn a_users_route_appears_with_its_parameter_operation_id_security_and_scope() {
    let app = app();
    let (status, doc) = send(
        &app,
        Request::get("/openapi.json").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Notes");
    assert_eq!(doc["info"]["version"], "1.2.3");

    let get = &doc["paths"]["/notes/{id}"]["get"];
    assert_eq!(get["operationId"], "get_notes_id");
    assert_eq!(get["summary"], "A note");
    let parameters = get["parameters"].as_array().unwrap();
    assert_eq!(parameters.len(), 1);
    assert_eq!(parameters[0]["name"], "id");
    assert_eq!(parameters[0]["in"], "path");
    assert_eq!(parameters[0]["required"], true);
    assert_eq!(parameters[0]["schema"]["type"], "integer");
    assert_eq!(
        get["security"],
        json!([{"tokenAuth": ["notes:read"]}, {"sessionAuth": []}])
    );
    assert_eq!(
        get["description"],
        "A scoped token needs the `notes:read` scope."
    );
    assert_eq!(
        get["responses"]["200"]["content"]["application/json"]["schema"],
        json!({"$ref": "#/components/schemas/Note"})
    );
    assert_eq!(
        get["responses"]["403"]["content"]["application/json"]["schema"],
        json!({"$ref": "#/components/schemas/Error"})
    );

    let put = &doc["paths"]["/notes/{id}"]["put"];
    assert_eq!(put["operationId"], "put_notes_id");
    assert_eq!(put["parameters"][0]["name"], "id");
    // A session's unsafe method needs the CSRF header too.
    assert_eq!(
        put["security"],
        json!([{"tokenAuth": ["notes:write"]}, {"sessionAuth": [], "csrfToken": []}])
    );
    let body = &put["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body["required"], json!(["title"]));
    // A parsed body may also be refused as malformed, too large, or of another type.
    for status in ["400", "413", "415"] {
        assert!(put["responses"].get(status).is_some(), "{status}");
    }

    let note = &doc["components"]["schemas"]["Note"];
    assert_eq!(note["type"], "object");
    assert_eq!(note["required"], json!(["id", "title"]));
    // The ready views and the description itself are in the same document.
    assert_eq!(
        doc["paths"]["/api-token-auth/"]["post"]["operationId"],
        "post_api_token_auth"
    );
    assert_eq!(
        doc["paths"]["/auth/register"]["post"]["security"],
        json!([])
    );
    assert_eq!(
        doc["paths"]["/openapi.json"]["get"]["operationId"],
        "get_openapi_json"
    );
    for scheme in ["tokenAuth", "sessionAuth", "csrfToken"] {
        assert!(
            doc["components"]["securitySchemes"].get(scheme).is_some(),
            "{scheme}"
        );
    }
}

#[tokio::test]
async fn the_documented_scopes_are_the_enforced_ones() {
    let app = app();
    let register = Request::post("/auth/register")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"username": "alice", "password": PASSWORD}).to_string(),
        ))
        .unwrap();
    assert_eq!(send(&app, register).await.0, StatusCode::CREATED);
    let obtain = Request::post("/api-token-auth/")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"username": "alice", "password": PASSWORD}).to_string(),
        ))
        .unwrap();
    let key = send(&app, obtain).await.1["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let make = Request::post("/auth/tokens")
        .header(header::AUTHORIZATION, format!("Token {key}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"name": "w", "scopes": ["notes:write"]}).to_string(),
        ))
        .unwrap();
    let (status, made) = send(&app, make).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let writer = made["token"].as_str().unwrap().to_owned();

    let read = |key: &str| {
        Request::get("/notes/1")
            .header(header::AUTHORIZATION, format!("Token {key}"))
            .body(Body::empty())
            .unwrap()
    };
    let (status, body) = send(&app, read(&writer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({"detail": "Token scope \"notes:read\" required.", "code": "permission_denied"})
    );
    let (status, body) = send(&app, read(&key)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"id": 1, "title": "a note"}));
    let put = Request::put("/notes/1")
        .header(header::AUTHORIZATION, format!("Token {writer}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"title": "x"}).to_string()))
        .unwrap();
    assert_eq!(send(&app, put).await.0, StatusCode::OK);
}
