//! DRF-shaped errors. Every refusal is an [`ApiError`] with a fixed status, a
//! `detail` and a `code`, turned into HTTP in one place.

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use tessera_core::password::HashError;
use tessera_core::StoreError;

/// An error response: `{"detail": ..., "code": ...}` with a status and headers.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Human-readable message, DRF's wording.
    pub detail: String,
    /// Machine-readable code, DRF's `default_code`s.
    pub code: &'static str,
    /// Extra headers: `WWW-Authenticate`, `Retry-After`, `Allow`.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// DRF's `NotAuthenticated` message.
pub const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided.";
/// DRF's `PermissionDenied` message.
pub const PERMISSION_DENIED: &str = "You do not have permission to perform this action.";

impl ApiError {
    /// An error with no extra headers.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            detail: detail.into(),
            code,
            headers: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// DRF's `NotAuthenticated` (401 or 403, decided by the route's policy).
    pub fn not_authenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "not_authenticated",
            NOT_AUTHENTICATED,
        )
    }

    /// DRF's `AuthenticationFailed` (401 or 403, decided by the route's policy).
    pub fn authentication_failed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "authentication_failed", detail)
    }

    /// DRF's `PermissionDenied`.
    pub fn permission_denied(detail: Option<&str>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "permission_denied",
            detail.unwrap_or(PERMISSION_DENIED),
        )
    }

    /// `404 Not found.`
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found.")
    }

    /// `415`, naming the content type as DRF does.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Unsupported media type \"{content_type}\" in request."),
        )
    }

    /// `400 JSON parse error - <reason>`.
    pub fn parse_error(reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "parse_error",
            format!("JSON parse error - {reason}"),
        )
    }

    /// A malformed form or multipart body.
    pub fn malformed_body(reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "parse_error",
            format!("Malformed request - {reason}"),
        )
    }

    /// `413`.
    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            "Request body too large.",
        )
    }

    /// `500`, with nothing of the cause (which goes to the log).
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "error",
            "A server error occurred.",
        )
    }

    /// `503` with `Retry-After`.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service temporarily unavailable.",
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("5"))
    }

    /// Whether this is one of the two errors whose status depends on the
    /// route's first authenticator (DRF's `NotAuthenticated`, `AuthenticationFailed`).
    pub fn is_authentication_error(&self) -> bool {
        matches!(self.code, "not_authenticated" | "authentication_failed")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

/// The body of every error: `{"code": ..., "detail": ...}`, keys in that
/// order (as a `serde_json::Map` sorts them), serialised without building a
/// map first.
#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    detail: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            detail: &self.detail,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(source) => {
                tracing::error!(error = %source, "store unavailable");
                ApiError::unavailable()
            }
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::internal()
            }
        }
    }
}

impl From<HashError> for ApiError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => {
                tracing::warn!("password hashing queue full");
                ApiError::unavailable()
            }
            HashError::TimedOut => {
                tracing::warn!("password hash could not start within password.max_queue_wait");
                ApiError::unavailable()
            }
            HashError::Internal(reason) => {
                tracing::error!(%reason, "password hashing failed");
                ApiError::internal()
            }
        }
    }
}

/// DRF's validation error: `400` with a list of messages per field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors(pub BTreeMap<String, Vec<String>>);

/// DRF's key for errors not tied to one field.
pub const NON_FIELD_ERRORS: &str = "non_field_errors";

impl ValidationErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// One message for one field.
    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(field, message);
        e
    }

    /// A `non_field_errors` message.
    pub fn non_field(message: impl Into<String>) -> Self {
        Self::single(NON_FIELD_ERRORS, message)
    }

    /// Adds a message.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Err(self)` when there are errors.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl std::fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid input")?;
        let mut separator = ": ";
        for (field, messages) in &self.0 {
            for message in messages {
                write!(f, "{separator}{field}: {message}")?;
                separator = "; ";
            }
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl IntoResponse for ValidationErrors {
    fn into_response(self) -> Response {
        let body: Map<String, Value> = self
            .0
            .into_iter()
            .map(|(k, v)| (k, Value::from(v)))
            .collect();
        let mut response =
            (StatusCode::BAD_REQUEST, axum::Json(Value::Object(body))).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// Either kind of refusal, for handlers that can give both. A standard
/// error, so that `?` turns it into `anyhow::Error` outside a handler:
///
/// ```
/// use tessera_axum::{Rejection, ValidationErrors};
///
/// fn check() -> Result<(), Rejection> {
///     Err(ValidationErrors::single("username", "This field is required.").into())
/// }
///
/// fn caller() -> anyhow::Result<()> {
///     check()?;
///     Ok(())
/// }
///
/// let error = caller().unwrap_err();
/// assert_eq!(error.to_string(), "invalid input: username: This field is required.");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// `{"detail", "code"}`.
    #[error(transparent)]
    Api(ApiError),
    /// Field errors.
    #[error(transparent)]
    Validation(ValidationErrors),
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::Api(e) => e.into_response(),
            Rejection::Validation(e) => e.into_response(),
        }
    }
}

impl From<ApiError> for Rejection {
    fn from(e: ApiError) -> Self {
        Rejection::Api(e)
    }
}
impl From<ValidationErrors> for Rejection {
    fn from(e: ValidationErrors) -> Self {
        Rejection::Validation(e)
    }
}
impl From<StoreError> for Rejection {
    fn from(e: StoreError) -> Self {
        Rejection::Api(e.into())
    }
}
impl From<HashError> for Rejection {
    fn from(e: HashError) -> Self {
        Rejection::Api(e.into())
    }
}
