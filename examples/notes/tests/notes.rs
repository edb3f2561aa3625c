//! The notes application over HTTP, in-process: who may list, read, change
//! and delete which note, with sessions, full tokens and scoped tokens.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use notes::{app, Notes};
use serde_json::{json, Value};
use tessera_axum::core::secret::Secret;
use tessera_axum::core::user::{NewUser, UserUpdate};
use tessera_axum::prelude::*;
use tessera_testkit::MemoryStore;
use tower::ServiceExt;

const PASSWORD: &str = "correct-horse-staple-9";
const FORBIDDEN: &str = "You do not have permission to perform this action.";

struct Fixture {
    tessera: Tessera,
    app: Router,
    notes: Notes,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

fn fixture() -> Fixture {
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
    let notes = Notes::default();
    Fixture {
        app: app(&tessera, notes.clone()),
        tessera,
        notes,
    }
}

impl Fixture {
    async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(key) = key {
            request = request.header(header::AUTHORIZATION, format!("Token {key}"));
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    /// A user with the test password; staff when asked.
    async fn user(&self, username: &str, staff: bool) -> User {
        let hash = self
            .tessera
            .hasher()
            .hash(&Secret::new(PASSWORD.to_owned()))
            .await
            .unwrap();
        let users = &self.tessera.stores().users;
        let user = users
            .create_user(NewUser {
                username: username.to_owned(),
                email: String::new(),
                password_hash: hash,
                is_active: true,
                is_staff: false,
                is_superuser: false,
                date_joined: self.tessera.clock().now(),
            })
            .await
            .unwrap();
        if !staff {
            return user;
        }
        let update = UserUpdate {
            is_staff: Some(true),
            ..UserUpdate::default()
        };
        users.update_user(user.id, update).await.unwrap().unwrap()
    }

    /// A full-rights key from `/api-token-auth/`.
    async fn key(&self, username: &str) -> String {
        let answer = self
            .send(
                Method::POST,
                "/api-token-auth/",
                None,
                Some(json!({"username": username, "password": PASSWORD})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["token"].as_str().unwrap().to_owned()
    }

    /// A key with only `scopes`, made with the full key (`POST /auth/tokens`).
    async fn scoped_key(&self, full: &str, scopes: &[&str]) -> String {
        let answer = self
            .send(
                Method::POST,
                "/auth/tokens",
                Some(full),
                Some(json!({"name": "scoped", "scopes": scopes})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        assert_eq!(answer.body["scopes"], json!(scopes));
        answer.body["token"].as_str().unwrap().to_owned()
    }

    async fn create(&self, key: &str, title: &str) -> i64 {
        let answer = self
            .send(
                Method::POST,
                "/notes",
                Some(key),
                Some(json!({"title": title, "body": "text"})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["id"].as_i64().unwrap()
    }
}

fn denied(answer: &Answer, detail: &str) {
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({"detail": detail, "code": "permission_denied"})
    );
}

#[tokio::test]
async fn an_anonymous_caller_gets_401_with_the_token_challenge() {
    let f = fixture();
    for (method, path) in [
        (Method::GET, "/notes"),
        (Method::GET, "/notes/1"),
        (Method::DELETE, "/notes/1"),
    ] {
        let answer = f.send(method, path, None, None).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.headers[header::WWW_AUTHENTICATE], "Token");
        assert_eq!(
            answer.body,
            json!({"detail": "Authentication credentials were not provided.", "code": "not_authenticated"})
        );
    }
}

#[tokio::test]
async fn the_list_holds_the_callers_notes_only() {
    let f = fixture();
    f.user("alice", false).await;
    f.user("bob", false).await;
    let alice = f.key("alice").await;
    let bob = f.key("bob").await;
    let first = f.create(&alice, "first").await;
    let theirs = f.create(&bob, "bob's").await;
    let second = f.create(&alice, "second").await;

    let list = f.send(Method::GET, "/notes", Some(&alice), None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        list.body,
        json!([
            {"id": first, "owner": "alice", "title": "first", "body": "text"},
            {"id": second, "owner": "alice", "title": "second", "body": "text"},
        ])
    );
    let list = f.send(Method::GET, "/notes", Some(&bob), None).await;
    assert_eq!(
        list.body,
        json!([{"id": theirs, "owner": "bob", "title": "bob's", "body": "text"}])
    );
}

#[tokio::test]
async fn others_may_read_a_note_but_only_its_owner_changes_it() {
    let f = fixture();
    f.user("alice", false).await;
    f.user("bob", false).await;
    let alice = f.key("alice").await;
    let bob = f.key("bob").await;
    let id = f.create(&alice, "mine").await;
    let path = format!("/notes/{id}");

    // Reading is open to any signed-in user (IsOwnerOrReadOnly's safe methods).
    let read = f.send(Method::GET, &path, Some(&bob), None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(
        read.body,
        json!({"id": id, "owner": "alice", "title": "mine", "body": "text"})
    );

    // Changing is not: the object check refuses, and nothing changes.
    let put = f
        .send(
            Method::PUT,
            &path,
            Some(&bob),
            Some(json!({"title": "bob was here"})),
        )
        .await;
    denied(&put, FORBIDDEN);
    let delete = f.send(Method::DELETE, &path, Some(&bob), None).await;
    denied(&delete, FORBIDDEN);
    assert_eq!(f.notes.get(id).unwrap().title, "mine");

    // The owner may.
    let put = f
        .send(
            Method::PUT,
            &path,
            Some(&alice),
            Some(json!({"title": "renamed", "body": ""})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(
        put.body,
        json!({"id": id, "owner": "alice", "title": "renamed", "body": ""})
    );
    let delete = f.send(Method::DELETE, &path, Some(&alice), None).await;
    assert_eq!(delete.status, StatusCode::NO_CONTENT);
    assert!(f.notes.get(id).is_none());
    let gone = f.send(Method::GET, &path, Some(&alice), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(
        gone.body,
        json!({"detail": "Not found.", "code": "not_found"})
    );
}

#[tokio::test]
async fn a_read_scoped_token_reads_and_a_write_scoped_token_writes() {
    let f = fixture();
    f.user("alice", false).await;
    let full = f.key("alice").await;
    let id = f.create(&full, "mine").await;
    let reader = f.scoped_key(&full, &["notes:read"]).await;
    let writer = f.scoped_key(&full, &["notes:write"]).await;

    let list = f.send(Method::GET, "/notes", Some(&reader), None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    let create = f
        .send(
            Method::POST,
            "/notes",
            Some(&reader),
            Some(json!({"title": "no"})),
        )
        .await;
    denied(&create, "Token scope \"notes:write\" required.");
    let delete = f
        .send(Method::DELETE, &format!("/notes/{id}"), Some(&reader), None)
        .await;
    denied(&delete, "Token scope \"notes:write\" required.");
    assert_eq!(f.notes.owned_by(f.notes.get(id).unwrap().owner).len(), 1);

    // The writer writes, but cannot read.
    let create = f
        .send(
            Method::POST,
            "/notes",
            Some(&writer),
            Some(json!({"title": "yes"})),
        )
        .await;
    assert_eq!(create.status, StatusCode::CREATED);
    assert_eq!(create.body["title"], "yes");
    let read = f
        .send(Method::GET, &format!("/notes/{id}"), Some(&writer), None)
        .await;
    denied(&read, "Token scope \"notes:read\" required.");
}

#[tokio::test]
async fn staff_moderate_any_note_and_a_scoped_token_needs_the_moderate_scope() {
    let f = fixture();
    f.user("alice", false).await;
    f.user("mod", true).await;
    let alice = f.key("alice").await;
    let id = f.create(&alice, "mine").await;
    let path = format!("/notes/{id}");
    let full = f.key("mod").await;
    let write_only = f.scoped_key(&full, &["notes:write"]).await;
    let moderate = f
        .scoped_key(&full, &["notes:moderate", "notes:write"])
        .await;

    // `notes:write` lets the token write, but not others' notes.
    let put = f
        .send(
            Method::PUT,
            &path,
            Some(&write_only),
            Some(json!({"title": "x"})),
        )
        .await;
    denied(&put, FORBIDDEN);
    // With `notes:moderate` too, the staff member's token may.
    let put = f
        .send(
            Method::PUT,
            &path,
            Some(&moderate),
            Some(json!({"title": "moderated"})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body["owner"], "alice");
    assert_eq!(put.body["title"], "moderated");
    // A full key carries every scope.
    let delete = f.send(Method::DELETE, &path, Some(&full), None).await;
    assert_eq!(delete.status, StatusCode::NO_CONTENT);
    assert!(f.notes.get(id).is_none());
}

#[tokio::test]
async fn the_moderate_scope_without_staff_grants_nothing() {
    let f = fixture();
    f.user("alice", false).await;
    f.user("bob", false).await;
    let alice = f.key("alice").await;
    let id = f.create(&alice, "mine").await;
    let bob = f.key("bob").await;
    let scoped = f.scoped_key(&bob, &["notes:moderate", "notes:write"]).await;
    let delete = f
        .send(Method::DELETE, &format!("/notes/{id}"), Some(&scoped), None)
        .await;
    denied(&delete, FORBIDDEN);
    assert!(f.notes.get(id).is_some());
}

#[tokio::test]
async fn unknown_ids_are_not_found_and_bad_fields_are_drfs_400() {
    let f = fixture();
    f.user("alice", false).await;
    let alice = f.key("alice").await;
    for path in ["/notes/999", "/notes/abc", "/notes/-"] {
        let answer = f.send(Method::GET, path, Some(&alice), None).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            answer.body,
            json!({"detail": "Not found.", "code": "not_found"})
        );
    }
    let missing = f
        .send(Method::POST, "/notes", Some(&alice), Some(json!({})))
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body, json!({"title": ["This field is required."]}));
    let long = f
        .send(
            Method::POST,
            "/notes",
            Some(&alice),
            Some(json!({"title": "x".repeat(101), "body": ["a"]})),
        )
        .await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        long.body,
        json!({
            "title": ["Ensure this field has no more than 100 characters."],
            "body": ["Not a valid string."],
        })
    );
    assert!(f.notes.owned_by(1).is_empty());
    // A method the route does not serve.
    let patch = f
        .send(Method::PATCH, "/notes/1", Some(&alice), Some(json!({})))
        .await;
    assert_eq!(patch.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_description_lists_the_notes_routes_with_their_scopes() {
    let f = fixture();
    let answer = f.send(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(answer.status, StatusCode::OK);
    let doc = answer.body;
    assert_eq!(doc["info"]["title"], "Notes");
    let delete = &doc["paths"]["/notes/{id}"]["delete"];
    assert_eq!(delete["operationId"], "delete_notes_id");
    assert_eq!(delete["parameters"][0]["name"], "id");
    assert_eq!(delete["parameters"][0]["in"], "path");
    assert_eq!(
        delete["security"],
        json!([{"tokenAuth": ["notes:write"]}, {"sessionAuth": [], "csrfToken": []}])
    );
    let list = &doc["paths"]["/notes"]["get"];
    assert_eq!(list["security"][0], json!({"tokenAuth": ["notes:read"]}));
    assert_eq!(
        list["responses"]["200"]["content"]["application/json"]["schema"],
        json!({"type": "array", "items": {"$ref": "#/components/schemas/Note"}})
    );
    assert_eq!(
        doc["components"]["schemas"]["Note"]["required"],
        json!(["id", "owner", "title", "body"])
    );
    assert!(doc["paths"]["/auth/me"]["get"].is_object());
}
