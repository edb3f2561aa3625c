//! Login bodies through the real extractors (`JsonObject`, `FormObject`):
//! JSON, URL-encoded and multipart, with hostile content types.
#![no_main]

use arbitrary::Arbitrary;
use axum::body::Body;
use axum::extract::FromRequest;
use axum::response::IntoResponse;
use http::header::CONTENT_TYPE;
use http::{Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tessera_axum::body::{FormObject, JsonObject};

#[derive(Debug, Arbitrary)]
enum ContentType {
    None,
    Json,
    Form,
    Multipart(String),
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
struct Input {
    content_type: ContentType,
    forms: bool,
    body: Vec<u8>,
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
}

fuzz_target!(|input: Input| {
    let mut builder = Request::builder().method("POST").uri("/api-token-auth/");
    let json = matches!(input.content_type, ContentType::Json);
    match &input.content_type {
        ContentType::None => {}
        ContentType::Json => builder = builder.header(CONTENT_TYPE, "application/json"),
        ContentType::Form => {
            builder = builder.header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        }
        ContentType::Multipart(boundary) => {
            builder = builder.header(
                CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
        }
        ContentType::Raw(raw) => builder = builder.header(CONTENT_TYPE, raw.as_slice()),
    }
    let Ok(request) = builder.body(Body::from(input.body.clone())) else {
        return;
    };
    let result = runtime().block_on(async move {
        if input.forms {
            FormObject::from_request(request, &()).await.map(|f| f.0)
        } else {
            JsonObject::from_request(request, &()).await.map(|j| j.0)
        }
    });
    match result {
        Ok(map) => {
            if input.body.is_empty() {
                assert!(map.is_empty());
            } else if json {
                // What the strict parser accepts, serde_json reads the same.
                let plain: serde_json::Value =
                    serde_json::from_slice(&input.body).expect("accepted JSON is JSON");
                assert_eq!(plain, serde_json::Value::Object(map));
            }
        }
        Err(rejection) => {
            let status = rejection.into_response().status();
            assert!(
                matches!(
                    status,
                    StatusCode::BAD_REQUEST
                        | StatusCode::PAYLOAD_TOO_LARGE
                        | StatusCode::UNSUPPORTED_MEDIA_TYPE
                ),
                "unexpected {status}"
            );
        }
    }
});
