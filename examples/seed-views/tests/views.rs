//! The seed's views, driven over HTTP with `oneshot`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tessera_axum::{Authenticator, Settings, Tessera};
use tessera_core::import::{ImportBatch, ImportStore, Imported, ImportedUser};
use tessera_core::password::{Argon2Params, PasswordHasher};
use tessera_core::token::{NewToken, TokenKey};
use tessera_core::user::NewUser;
use tessera_core::Stores;
use tessera_store_sql::SqlStore;
use tower::ServiceExt;

async fn get(app: &axum::Router, path: &str, key: Option<&str>) -> (u16, Value) {
    let mut request = Request::builder().uri(path);
    if let Some(key) = key {
        request = request.header("authorization", format!("Token {key}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn seed_views_answer_as_the_seed_did() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::connect(&format!("sqlite://{}/db", dir.path().display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let stores = Stores::from_one(store.clone());
    let hasher = PasswordHasher::new(
        Argon2Params {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        },
        1,
        4,
    )
    .unwrap();
    let tessera = Tessera::builder()
        .stores(stores.clone())
        .hasher(hasher)
        .settings(Settings::default())
        .build()
        .unwrap();
    let now = tessera.clock().now();
    let user = stores
        .users
        .create_user(NewUser {
            username: "seed".into(),
            email: String::new(),
            password_hash: "!".into(),
            is_active: true,
            is_staff: false,
            is_superuser: false,
            date_joined: now,
        })
        .await
        .unwrap();
    let key = TokenKey::generate();
    let new = NewToken {
        user_id: user.id,
        digest: key.digest(),
        name: "t".into(),
        scopes: vec![],
        created: now,
        expires: None,
        authenticated_at: None,
    };
    stores.tokens.create_token(new, None).await.unwrap();
    let app: axum::Router = seed_views::router(&tessera, &[Authenticator::Token]);
    let key = Some(key.expose());
    assert_eq!(
        get(&app, "/api/example/", key).await,
        (200, json!({"user": "seed", "auth": "token"}))
    );
    assert_eq!(
        get(&app, "/api/secure/", key).await,
        (200, json!({"message": "Hello, secure world!"}))
    );
    assert_eq!(
        get(&app, "/api/protected/", key).await,
        (200, json!({"message": "This is a protected endpoint"}))
    );
    assert_eq!(
        get(&app, "/api/public/", None).await,
        (200, json!({"user": null}))
    );
    for path in [
        "/api/example/",
        "/api/secure/",
        "/api/protected/",
        "/api/staff/",
        "/api/editors/",
    ] {
        assert_eq!(
            get(&app, path, None).await,
            (
                401,
                json!({"detail": "Authentication credentials were not provided.", "code": "not_authenticated"})
            )
        );
    }
    assert_eq!(get(&app, "/api/staff/", key).await.0, 403);
    assert_eq!(
        get(&app, "/api/editors/", key).await,
        (
            403,
            json!({"detail": "You do not have permission to perform this action.", "code": "permission_denied"})
        )
    );
    // A member of `editors` (groups come from an import of Django's).
    let editor = ImportedUser {
        django_id: 1,
        username: "editor".into(),
        email: String::new(),
        first_name: String::new(),
        last_name: String::new(),
        password_hash: "!".into(),
        is_active: true,
        is_staff: false,
        is_superuser: false,
        date_joined: Some(now),
        last_login: None,
        groups: vec!["readers".into(), "editors".into()],
    };
    let batch = ImportBatch {
        at: now,
        dry_run: false,
    };
    let [Imported::Created(editor_id)] = store.import_users(&[editor], batch).await.unwrap()[..]
    else {
        panic!("not imported");
    };
    let key = TokenKey::generate();
    let new = NewToken {
        user_id: editor_id,
        digest: key.digest(),
        name: "t".into(),
        scopes: vec![],
        created: now,
        expires: None,
        authenticated_at: None,
    };
    stores.tokens.create_token(new, None).await.unwrap();
    assert_eq!(
        get(&app, "/api/editors/", Some(key.expose())).await,
        (
            200,
            json!({"message": "Hello, editor.", "groups": ["editors", "readers"]})
        )
    );
}
