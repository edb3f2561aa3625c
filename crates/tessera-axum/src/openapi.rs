//! The route table and the OpenAPI 3.1 description generated from it, for
//! the ready views and an application's own routes alike.
//!
//! Every route is registered through [`Routes::route`] (or
//! [`Routes::guarded`], behind a [`Policy`]), which records its path,
//! methods and documentation next to the axum handler: the description is
//! built from the very list the router is built from, so it cannot drift
//! from the code. [`Routes::views`] adds the ready views with their own
//! documentation. The Tessera server builds its `/openapi.json` this way.
//!
//! ```
//! use axum::routing::get;
//! use axum::Json;
//! use http::Method;
//! use tessera_axum::openapi::{op, Auth, Returns, Routes};
//! use tessera_axum::prelude::*;
//!
//! async fn note() -> Json<serde_json::Value> {
//!     Json(serde_json::json!({"id": 1}))
//! }
//!
//! # fn main() -> anyhow::Result<()> {
//! # let tessera = Tessera::builder().store(tessera_testkit::MemoryStore::default()).build()?;
//! let routes: Routes = Routes::new()
//!     .guarded(
//!         &tessera,
//!         "/notes/{id}",
//!         vec![op(Method::GET, "A note", Auth::Default, &[], &[200, 401, 403, 404])
//!             .scope("notes:read")
//!             .returns(Returns::Schema("Note"))],
//!         Policy::new(),
//!         get(note),
//!     )
//!     .schema("Note", tessera_axum::openapi::object_schema(&["id"]))
//!     .views(&tessera, &Views::new());
//! let description = routes.document("Notes", "1.0.0");
//! let path = &description.paths.paths["/notes/{id}"];
//! let get = path.get.as_ref().unwrap();
//! assert_eq!(get.operation_id.as_deref(), Some("get_notes_id"));
//! let (app, _docs) = routes.into_router("Notes", "1.0.0");
//! # let _: axum::Router = app;
//! # Ok(())
//! # }
//! ```
//!
//! The same table declares the token scope each operation needs
//! ([`Op::scope`]): [`Routes::guarded`] puts it on the route's policy, and the
//! description lists it as the role of the `tokenAuth` requirement. An
//! operation that says nothing needs `read` for a safe method and `write` for
//! an unsafe one, the rule of application routes; credential management says
//! `account`, administration `admin`.
//!
//! What the description holds for each operation, and where it comes from:
//!
//! - `operationId`: the method and the path in snake case
//!   (`delete_auth_tokens_id`), so unique and stable while the route is;
//! - path parameters: each `{name}` of the path, an integer id (anything
//!   else is answered `404`, as Django's `<int:pk>` converter does);
//! - query parameters and body fields: the names listed on the [`Op`]
//!   (`name?` for an optional one), typed by [`field_schema`], one table for
//!   the whole API, so a field means the same everywhere (a name it does not
//!   know is any JSON value);
//! - the success body: [`Op::returns`], one of the [`Shape`]s below or a
//!   schema the application registers ([`Routes::schema`]); every
//!   other status carries the contract's error shapes (`{"detail", "code"}`,
//!   and for `400` also DRF's field errors `{"field": ["message"]}` with
//!   `non_field_errors`);
//! - security: [`Auth`] names the authenticators, the scope is the role of
//!   the token requirement, and a session's unsafe method needs the CSRF
//!   header too; an operation anyone may call lists the empty requirement.

use crate::views::{ViewAuth, ViewReturns, ViewShape, Views};
use crate::{Policy, Tessera};
use axum::http::Method;
use axum::routing::MethodRouter;
use axum::Router;
use tessera_core::audit::EventKind;
use tessera_core::scope;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, PathsBuilder,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, Ref, Schema,
    SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, RefOr, Required,
};

/// How an operation authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No credentials.
    None,
    /// The server's default authenticators (token or session), required.
    Default,
    /// The server's default authenticators, but anyone may call it (DRF's
    /// `AllowAny` behind the default `authentication_classes`): a credential
    /// given is checked, none is fine.
    Optional,
    /// Only a token.
    Token,
    /// Only a session.
    Session,
}

/// What a successful answer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    /// No body (a `204`).
    Nothing,
    /// A JSON value of this shape.
    Json(Shape),
    /// A JSON list of this shape.
    List(Shape),
    /// DRF's page (`{"count", "next", "previous", "results"}`) of this shape.
    Page(Shape),
    /// A document of this media type (`text/html`).
    Text(&'static str),
    /// A JSON value of a schema the application registers with
    /// [`Routes::schema`] under this name.
    Schema(&'static str),
    /// A JSON list of such a schema.
    ListOf(&'static str),
}

/// The JSON shapes the API answers with, each a component of the description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// API.md's `User`.
    User,
    /// A user as the administration shows it: `User` and `"groups"`.
    AdminUser,
    /// `{"message": "...", "groups": [...]}`: the seed's group-only view.
    GroupMessage,
    /// `{"user": User}`.
    UserEnvelope,
    /// `{"user": User, "auth": "token" | "session"}`.
    Me,
    /// API.md's `Token` (never a key).
    Token,
    /// A `Token` with its key, shown once.
    NewToken,
    /// `{"token": "<key>"}`.
    Key,
    /// A session of the user.
    Session,
    /// An audit event.
    AuditEvent,
    /// `{"csrfToken": "<masked>"}`.
    CsrfToken,
    /// `{"status": "ok"}`.
    Health,
    /// The API root: `{"<route name>": "<absolute URL>"}`.
    ApiRoot,
    /// An OpenAPI document.
    Description,
    /// `{"message": "..."}`.
    Message,
    /// `{"user": "<username>", "auth": "token" | "session"}`.
    Caller,
    /// `{"user": "<username>" | null}`.
    MaybeCaller,
    /// `{"user": "<username>", "received": <body>}`.
    Echo,
}

/// One documented operation.
#[derive(Debug, Clone)]
pub struct Op {
    /// The method.
    pub method: Method,
    /// What it does, in a line.
    pub summary: &'static str,
    /// How it authenticates.
    pub auth: Auth,
    /// Body fields, if it reads a body (`name?` for an optional one; `*` for
    /// any JSON object).
    pub body: &'static [&'static str],
    /// Whether the body may also be a form (`application/x-www-form-urlencoded`
    /// or `multipart/form-data`), as DRF's login views take.
    pub forms: bool,
    /// Query parameters (`name?` for an optional one).
    pub query: &'static [&'static str],
    /// Status codes it answers with, success first.
    pub responses: &'static [u16],
    /// The body of its success.
    pub returns: Returns,
    /// The scope a scoped token needs.
    pub scope: OpScope,
}

/// The scope a scoped token needs for an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpScope {
    /// `read` for a safe method, `write` for an unsafe one.
    ReadWrite,
    /// This scope.
    Named(&'static str),
    /// None: any token of the user may do it.
    None,
}

impl Op {
    /// Declares the scope a scoped token needs.
    pub fn scope(mut self, scope: &'static str) -> Self {
        self.scope = OpScope::Named(scope);
        self
    }

    /// Declares that the operation needs no scope.
    pub fn no_scope(mut self) -> Self {
        self.scope = OpScope::None;
        self
    }

    /// Declares the body of its success.
    pub fn returns(mut self, returns: Returns) -> Self {
        self.returns = returns;
        self
    }

    /// Declares its query parameters (`name?` for an optional one).
    pub fn query(mut self, query: &'static [&'static str]) -> Self {
        self.query = query;
        self
    }

    /// Declares that its body may also be a form.
    pub fn forms(mut self) -> Self {
        self.forms = true;
        self
    }

    /// The scope name it needs, if any.
    pub fn scope_name(&self) -> Option<&'static str> {
        match self.scope {
            OpScope::ReadWrite => Some(match self.method {
                Method::GET | Method::HEAD | Method::OPTIONS => scope::READ,
                _ => scope::WRITE,
            }),
            OpScope::Named(name) => Some(name),
            OpScope::None => None,
        }
    }

    /// Its `operationId`: the method and the path in snake case
    /// (`post_api_token_auth`, `delete_auth_tokens_id`; `/` is `root`).
    pub fn operation_id(&self, path: &str) -> String {
        let mut id = self.method.as_str().to_ascii_lowercase();
        let mut words = path
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .peekable();
        if words.peek().is_none() {
            id.push_str("_root");
        }
        for word in words {
            id.push('_');
            id.push_str(&word.to_ascii_lowercase());
        }
        id
    }
}

/// An operation: `op(GET, "summary", Auth::Default, &[], &[200, 401])`.
pub fn op(
    method: Method,
    summary: &'static str,
    auth: Auth,
    body: &'static [&'static str],
    responses: &'static [u16],
) -> Op {
    Op {
        method,
        summary,
        auth,
        body,
        forms: false,
        query: &[],
        responses,
        returns: Returns::Nothing,
        scope: OpScope::ReadWrite,
    }
}

/// A documented route.
#[derive(Debug, Clone)]
pub struct RouteDoc {
    /// The path template (`/auth/tokens/{id}`).
    pub path: &'static str,
    /// Its operations.
    pub ops: Vec<Op>,
}

impl RouteDoc {
    /// The names of the path's parameters (`id` of `/auth/tokens/{id}`).
    pub fn path_parameters(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        let mut rest = self.path;
        while let Some(start) = rest.find('{') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else { break };
            names.push(&after[..end]);
            rest = &after[end + 1..];
        }
        names
    }
}

/// A router that records what it serves, on the handlers' state `S`.
#[must_use]
pub struct Routes<S = ()> {
    router: Router<S>,
    docs: Vec<RouteDoc>,
    schemas: Vec<(&'static str, Schema)>,
}

/// The documented routes and the names of the registered schemas.
impl<S> std::fmt::Debug for Routes<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let schemas: Vec<&str> = self.schemas.iter().map(|(name, _)| *name).collect();
        f.debug_struct("Routes")
            .field("docs", &self.docs)
            .field("schemas", &schemas)
            .finish_non_exhaustive()
    }
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Routes {
            router: Router::new(),
            docs: Vec::new(),
            schemas: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    /// An empty table.
    pub fn new() -> Self {
        Routes::default()
    }

    /// Serves `handler` at `path` and documents its `ops`.
    pub fn route(mut self, path: &'static str, ops: Vec<Op>, handler: MethodRouter<S>) -> Self {
        self.router = self.router.route(path, handler);
        self.docs.push(RouteDoc { path, ops });
        self
    }

    /// Serves `handler` at `path` behind `policy`, with the scope of each of
    /// `ops` put on the policy for its method, and documents `ops`. A method
    /// the table does not list needs the scope all the listed ones share, if
    /// they share one (`HEAD` is `GET`'s).
    pub fn guarded(
        self,
        tessera: &Tessera,
        path: &'static str,
        ops: Vec<Op>,
        policy: Policy,
        handler: MethodRouter<S>,
    ) -> Self {
        self.guarded_behind(tessera, path, ops, policy, handler, |handler| handler)
    }

    /// [`Routes::guarded`], with `outer` wrapping the guarded handler: a
    /// layer there runs before the policy (`/metrics`' bearer token).
    pub fn guarded_behind(
        self,
        tessera: &Tessera,
        path: &'static str,
        ops: Vec<Op>,
        policy: Policy,
        handler: MethodRouter<S>,
        outer: impl FnOnce(MethodRouter<S>) -> MethodRouter<S>,
    ) -> Self {
        let mut policy = policy.serves(ops.iter().map(|op| op.method.clone()));
        let names: Vec<Option<&'static str>> = ops.iter().map(Op::scope_name).collect();
        if let Some(Some(shared)) = names.first() {
            if names.iter().all(|n| *n == Some(*shared)) {
                policy = policy.scope(*shared);
            }
        }
        for op in &ops {
            policy = match op.scope_name() {
                Some(name) => policy.method_scope(op.method.clone(), name),
                None => policy.method_without_scope(op.method.clone()),
            };
        }
        let handler = outer(handler.layer(policy.layer(tessera)));
        self.route(path, ops, handler)
    }

    /// Adds the ready views ([`Views::router`]) with their documentation.
    pub fn views(self, tessera: &Tessera, views: &Views) -> Self {
        self.merge_router(views.router(tessera), view_docs(views))
    }

    /// Registers a schema that operations name with [`Returns::Schema`].
    pub fn schema(mut self, name: &'static str, schema: Schema) -> Self {
        self.schemas.push((name, schema));
        self
    }

    /// Adds another table's routes.
    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.docs.extend(other.docs);
        self.schemas.extend(other.schemas);
        self
    }

    /// Adds a router documented by `docs` (routes built elsewhere).
    pub fn merge_router(mut self, router: Router<S>, docs: Vec<RouteDoc>) -> Self {
        self.router = self.router.merge(router);
        self.docs.extend(docs);
        self
    }

    /// The OpenAPI document of the routes so far, titled `title` at
    /// `version`, with the registered schemas.
    pub fn document(&self, title: &str, version: &str) -> OpenApi {
        let mut document = document(&self.docs);
        document.info = InfoBuilder::new().title(title).version(version).build();
        if let Some(components) = document.components.as_mut() {
            for (name, schema) in &self.schemas {
                components
                    .schemas
                    .insert((*name).to_owned(), RefOr::T(schema.clone()));
            }
        }
        document
    }

    /// The router and the documentation.
    pub fn into_parts(self) -> (Router<S>, Vec<RouteDoc>) {
        (self.router, self.docs)
    }

    /// The router, with `GET /openapi.json` serving the description
    /// ([`Routes::document`], titled `title` at `version`, itself
    /// documented), and the documentation.
    pub fn into_router(mut self, title: &str, version: &str) -> (Router<S>, Vec<RouteDoc>) {
        self.docs.push(RouteDoc {
            path: "/openapi.json",
            ops: vec![op(Method::GET, "This description", Auth::None, &[], &[200])
                .returns(Returns::Json(Shape::Description))],
        });
        let description = std::sync::Arc::new(self.document(title, version));
        let router = self.router.route(
            "/openapi.json",
            axum::routing::get(move || {
                let description = description.clone();
                async move { axum::Json(description.as_ref().clone()) }
            }),
        );
        (router, self.docs)
    }
}

/// The ready views' own documentation ([`Views::docs`]) as route docs.
pub fn view_docs(views: &Views) -> Vec<RouteDoc> {
    views
        .docs()
        .into_iter()
        .map(|doc| RouteDoc {
            path: doc.path,
            ops: doc.ops.into_iter().map(view_op).collect(),
        })
        .collect()
}

fn view_op(view_op: crate::views::ViewOp) -> Op {
    let auth = match view_op.auth {
        ViewAuth::None => Auth::None,
        ViewAuth::Default => Auth::Default,
        ViewAuth::Token => Auth::Token,
        ViewAuth::Session => Auth::Session,
        ViewAuth::Optional => Auth::Optional,
    };
    let documented = op(
        view_op.method,
        view_op.summary,
        auth,
        view_op.body,
        view_op.responses,
    );
    let documented = match view_op.scope {
        Some(name) => documented.scope(name),
        None => documented.no_scope(),
    };
    let documented = documented.returns(match view_op.returns {
        ViewReturns::Nothing => Returns::Nothing,
        ViewReturns::Json(shape) => Returns::Json(view_shape(shape)),
        ViewReturns::List(shape) => Returns::List(view_shape(shape)),
    });
    if view_op.forms {
        documented.forms()
    } else {
        documented
    }
}

/// The description's component for a shape the ready views answer with.
fn view_shape(shape: ViewShape) -> Shape {
    match shape {
        ViewShape::UserEnvelope => Shape::UserEnvelope,
        ViewShape::Me => Shape::Me,
        ViewShape::Token => Shape::Token,
        ViewShape::NewToken => Shape::NewToken,
        ViewShape::Key => Shape::Key,
        ViewShape::Session => Shape::Session,
        ViewShape::CsrfToken => Shape::CsrfToken,
    }
}

/// A JSON object schema whose properties are the named fields, typed by
/// [`field_schema`] (any value for a name it does not know), all required:
/// a success shape for [`Routes::schema`].
pub fn object_schema(fields: &[&str]) -> Schema {
    let mut object = typed(Type::Object);
    for name in fields {
        object = object
            .property(*name, inline(field_schema(name).unwrap_or_else(any_value)))
            .required(*name);
    }
    object.build().into()
}

fn http_method(method: &Method) -> Option<HttpMethod> {
    Some(match *method {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        Method::HEAD => HttpMethod::Head,
        Method::OPTIONS => HttpMethod::Options,
        _ => return None,
    })
}

fn describe(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No content",
        400 => "Validation error (DRF shape) or malformed body",
        401 => "Not authenticated (with WWW-Authenticate)",
        403 => "Forbidden: permission, CSRF, or re-authentication required",
        404 => "Not found",
        413 => "Request body too large",
        415 => "Unsupported media type",
        429 => "Throttled (with Retry-After)",
        503 => "A store is unavailable (with Retry-After)",
        _ => "Response",
    }
}

// ------------------------------------------------------------------ schemas

fn typed(ty: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(ty)
}

fn nullable(ty: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type([ty, Type::Null].into_iter().collect::<SchemaType>())
}

fn string() -> Schema {
    typed(Type::String).build().into()
}

fn integer() -> Schema {
    typed(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .build()
        .into()
}

fn boolean() -> Schema {
    typed(Type::Boolean).build().into()
}

fn date_time() -> Schema {
    typed(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .build()
        .into()
}

fn nullable_date_time() -> Schema {
    nullable(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .build()
        .into()
}

fn nullable_string() -> Schema {
    nullable(Type::String).build().into()
}

fn array_of(item: impl Into<RefOr<Schema>>) -> Schema {
    ArrayBuilder::new().items(item.into()).build().into()
}

fn any_object() -> Schema {
    typed(Type::Object).build().into()
}

fn any_value() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .build()
        .into()
}

fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// An object with these properties, all of them required (the API always
/// sends every field, `null` when empty).
fn record(properties: Vec<(&str, RefOr<Schema>)>) -> Schema {
    let mut object = typed(Type::Object);
    for (name, schema) in properties {
        object = object.property(name, schema).required(name);
    }
    object.build().into()
}

fn inline(schema: Schema) -> RefOr<Schema> {
    RefOr::T(schema)
}

fn one_of_strings(values: &[&str]) -> Schema {
    typed(Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
        .into()
}

/// The contract's error body: `{"detail": "...", "code": "..."}`.
const ERROR: &str = "Error";
/// DRF's validation errors: `{"field": ["message", ...]}`, with
/// `non_field_errors` for those not tied to one field.
const VALIDATION_ERROR: &str = "ValidationError";

impl Shape {
    const ALL: [Shape; 18] = [
        Shape::User,
        Shape::AdminUser,
        Shape::GroupMessage,
        Shape::UserEnvelope,
        Shape::Me,
        Shape::Token,
        Shape::NewToken,
        Shape::Key,
        Shape::Session,
        Shape::AuditEvent,
        Shape::CsrfToken,
        Shape::Health,
        Shape::ApiRoot,
        Shape::Description,
        Shape::Message,
        Shape::Caller,
        Shape::MaybeCaller,
        Shape::Echo,
    ];

    /// Its name among the description's components.
    pub fn name(self) -> &'static str {
        match self {
            Shape::User => "User",
            Shape::AdminUser => "AdminUser",
            Shape::GroupMessage => "GroupMessage",
            Shape::UserEnvelope => "UserEnvelope",
            Shape::Me => "Me",
            Shape::Token => "Token",
            Shape::NewToken => "NewToken",
            Shape::Key => "Key",
            Shape::Session => "Session",
            Shape::AuditEvent => "AuditEvent",
            Shape::CsrfToken => "CsrfToken",
            Shape::Health => "Health",
            Shape::ApiRoot => "ApiRoot",
            Shape::Description => "OpenApiDescription",
            Shape::Message => "Message",
            Shape::Caller => "Caller",
            Shape::MaybeCaller => "MaybeCaller",
            Shape::Echo => "Echo",
        }
    }

    fn user_fields() -> Vec<(&'static str, RefOr<Schema>)> {
        vec![
            ("id", inline(integer())),
            ("username", inline(string())),
            ("email", inline(string())),
            ("is_active", inline(boolean())),
            ("is_staff", inline(boolean())),
            ("is_superuser", inline(boolean())),
            ("date_joined", inline(date_time())),
            ("last_login", inline(nullable_date_time())),
        ]
    }

    fn token_fields() -> Vec<(&'static str, RefOr<Schema>)> {
        vec![
            ("id", inline(integer())),
            ("name", inline(string())),
            ("created", inline(date_time())),
            ("expires", inline(nullable_date_time())),
            ("last_used", inline(nullable_date_time())),
            ("scopes", inline(array_of(string()))),
            ("current", inline(boolean())),
        ]
    }

    /// Its JSON schema.
    pub fn schema(self) -> Schema {
        let auth_kind = || inline(one_of_strings(&["token", "session"]));
        match self {
            Shape::User => record(Self::user_fields()),
            Shape::AdminUser => {
                let mut fields = Self::user_fields();
                fields.push(("groups", inline(array_of(inline(string())))));
                record(fields)
            }
            Shape::GroupMessage => record(vec![
                ("message", inline(string())),
                ("groups", inline(array_of(inline(string())))),
            ]),
            Shape::UserEnvelope => record(vec![("user", reference("User"))]),
            Shape::Me => record(vec![("user", reference("User")), ("auth", auth_kind())]),
            Shape::Token => record(Self::token_fields()),
            Shape::NewToken => {
                let mut fields = Self::token_fields();
                fields.push(("token", inline(string())));
                record(fields)
            }
            Shape::Key => record(vec![("token", inline(string()))]),
            Shape::Session => record(vec![
                ("id", inline(integer())),
                ("created", inline(date_time())),
                ("last_seen", inline(date_time())),
                ("ip", inline(nullable_string())),
                ("user_agent", inline(nullable_string())),
                ("current", inline(boolean())),
            ]),
            Shape::AuditEvent => {
                let kinds: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                record(vec![
                    ("id", inline(integer())),
                    ("time", inline(date_time())),
                    ("event", inline(one_of_strings(&kinds))),
                    ("user", inline(nullable(Type::Integer).build().into())),
                    ("username", inline(string())),
                    ("ip", inline(nullable_string())),
                    ("user_agent", inline(nullable_string())),
                    ("request_id", inline(nullable_string())),
                    ("detail", inline(any_value())),
                ])
            }
            Shape::CsrfToken => record(vec![("csrfToken", inline(string()))]),
            Shape::Health => record(vec![("status", inline(string()))]),
            Shape::ApiRoot => typed(Type::Object)
                .additional_properties(Some(AdditionalProperties::RefOr(inline(string()))))
                .build()
                .into(),
            Shape::Description => record(vec![
                ("openapi", inline(string())),
                ("info", inline(any_object())),
                ("paths", inline(any_object())),
            ]),
            Shape::Message => record(vec![("message", inline(string()))]),
            Shape::Caller => record(vec![("user", inline(string())), ("auth", auth_kind())]),
            Shape::MaybeCaller => record(vec![("user", inline(nullable_string()))]),
            Shape::Echo => record(vec![
                ("user", inline(string())),
                ("received", inline(any_value())),
            ]),
        }
    }
}

fn error_schema() -> Schema {
    record(vec![
        ("detail", inline(string())),
        ("code", inline(string())),
    ])
}

fn validation_error_schema() -> Schema {
    typed(Type::Object)
        .description(Some(
            "DRF's validation errors: a list of messages per field; errors not tied to one field are under `non_field_errors`",
        ))
        .additional_properties(Some(AdditionalProperties::RefOr(inline(array_of(
            string(),
        )))))
        .min_properties(Some(1))
        .build()
        .into()
}

/// DRF's `CharField`: a string (no NUL character; with `trimmed`, not
/// blank once trimmed; else not empty), or a number, which DRF turns into its
/// text.
fn char_field(trimmed: bool, max_length: Option<usize>) -> Schema {
    let pattern = if trimmed {
        r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    } else {
        r"^[^\u0000]+$"
    };
    let text = typed(Type::String)
        .min_length(Some(1))
        .max_length(max_length)
        .pattern(Some(pattern))
        .build();
    AnyOfBuilder::new()
        .item(inline(text.into()))
        .item(inline(typed(Type::Number).build().into()))
        .build()
        .into()
}

/// `schema`, or the empty string.
fn or_blank(schema: Schema) -> Schema {
    AnyOfBuilder::new()
        .item(inline(schema))
        .item(inline(one_of_strings(&[""])))
        .build()
        .into()
}

/// The type of a body field or query parameter, by name: one table for the
/// whole API, so a name means the same everywhere. `None` for a name it does
/// not know (a test keeps every declared name known).
pub fn field_schema(name: &str) -> Option<Schema> {
    Some(match name {
        "username" => char_field(true, Some(150)),
        "password" | "old_password" | "new_password" => char_field(false, None),
        "name" => char_field(true, Some(100)),
        "email" => AnyOfBuilder::new()
            .item(inline(
                typed(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
                    .max_length(Some(254))
                    .build()
                    .into(),
            ))
            .item(inline(one_of_strings(&[""])))
            .build()
            .into(),
        "search" => string(),
        "expires_in" => nullable(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1))
            .maximum(Some(crate::views::MAX_EXPIRES_IN))
            .build()
            .into(),
        "scopes" => ArrayBuilder::new()
            .schema_type(
                [Type::Array, Type::Null]
                    .into_iter()
                    .collect::<SchemaType>(),
            )
            .items(inline(
                typed(Type::String)
                    .pattern(Some(r"^[a-z0-9:._-]{1,64}$"))
                    .build()
                    .into(),
            ))
            .build()
            .into(),
        "is_active" | "is_staff" | "is_superuser" => boolean(),
        // Query filters: blank is no filter, as django-filter has it.
        "page" => or_blank(typed(Type::Integer).minimum(Some(1)).build().into()),
        "user" => or_blank(integer()),
        "event" => {
            let kinds: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
            or_blank(one_of_strings(&kinds))
        }
        "since" => or_blank(date_time()),
        _ => return None,
    })
}

/// `name` without its `?`, and whether it is required.
fn field_name(declared: &'static str) -> (&'static str, bool) {
    match declared.strip_suffix('?') {
        Some(name) => (name, false),
        None => (declared, true),
    }
}

fn body_schema(fields: &[&'static str]) -> Schema {
    if fields == ["*"] {
        return any_object();
    }
    let mut object = typed(Type::Object);
    for declared in fields {
        let (name, required) = field_name(declared);
        object = object.property(name, inline(field_schema(name).unwrap_or_else(any_value)));
        if required {
            object = object.required(name);
        }
    }
    object.build().into()
}

fn success_content(returns: Returns) -> Option<(&'static str, RefOr<Schema>)> {
    let json = "application/json";
    Some(match returns {
        Returns::Nothing => return None,
        Returns::Json(shape) => (json, reference(shape.name())),
        Returns::List(shape) => (json, inline(array_of(reference(shape.name())))),
        Returns::Page(shape) => (
            json,
            inline(record(vec![
                ("count", inline(integer())),
                ("next", inline(nullable_string())),
                ("previous", inline(nullable_string())),
                ("results", inline(array_of(reference(shape.name())))),
            ])),
        ),
        Returns::Text(media_type) => (media_type, inline(string())),
        Returns::Schema(name) => (json, reference(name)),
        Returns::ListOf(name) => (json, inline(array_of(reference(name)))),
    })
}

fn error_content(status: u16) -> RefOr<Schema> {
    if status == 400 {
        inline(
            AnyOfBuilder::new()
                .item(reference(VALIDATION_ERROR))
                .item(reference(ERROR))
                .build()
                .into(),
        )
    } else {
        reference(ERROR)
    }
}

fn security(op: &Op) -> Vec<SecurityRequirement> {
    let roles: Vec<String> = op.scope_name().map(str::to_owned).into_iter().collect();
    let token = || SecurityRequirement::new("tokenAuth", roles.clone());
    let safe = matches!(op.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let session = || {
        let session = SecurityRequirement::new("sessionAuth", Vec::<String>::new());
        if safe {
            session
        } else {
            // Django's CSRF check: the cookie's secret in the header.
            session.add("csrfToken", Vec::<String>::new())
        }
    };
    match op.auth {
        Auth::None => vec![],
        Auth::Default => vec![token(), session()],
        Auth::Optional => vec![SecurityRequirement::default(), token(), session()],
        Auth::Token => vec![token()],
        Auth::Session => vec![session()],
    }
}

fn operation(route: &RouteDoc, op: &Op) -> utoipa::openapi::path::Operation {
    let mut operation = OperationBuilder::new()
        .summary(Some(op.summary))
        .operation_id(Some(op.operation_id(route.path)));
    for name in route.path_parameters() {
        operation = operation.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(
                    "An id; anything but an integer is an unknown one (404)",
                ))
                .schema(Some(integer())),
        );
    }
    for declared in op.query {
        let (name, required) = field_name(declared);
        operation = operation.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(if required {
                    Required::True
                } else {
                    Required::False
                })
                .schema(Some(field_schema(name).unwrap_or_else(any_value))),
        );
    }
    // A body is parsed before the handler sees it: malformed (400), too
    // large (413) or of another media type (415), whatever the route.
    let mut statuses = op.responses.to_vec();
    if !op.body.is_empty() {
        for status in [400, 413, 415] {
            if !statuses.contains(&status) {
                statuses.push(status);
            }
        }
    }
    for (i, status) in statuses.iter().enumerate() {
        let mut response = ResponseBuilder::new().description(describe(*status));
        let content = if i == 0 && *status < 300 {
            success_content(op.returns)
        } else if *status >= 400 {
            Some(("application/json", error_content(*status)))
        } else {
            None
        };
        if let Some((media_type, schema)) = content {
            response = response.content(
                media_type,
                ContentBuilder::new().schema(Some(schema)).build(),
            );
        }
        operation = operation.response(status.to_string(), response.build());
    }
    if !op.body.is_empty() {
        let schema = body_schema(op.body);
        // Not required: an empty body is an empty object (API.md), whose
        // missing fields are then reported as required.
        let mut body = RequestBodyBuilder::new()
            .required(Some(Required::False))
            .content(
                "application/json",
                ContentBuilder::new().schema(Some(schema.clone())).build(),
            );
        if op.forms {
            for media_type in ["application/x-www-form-urlencoded", "multipart/form-data"] {
                body = body.content(
                    media_type,
                    ContentBuilder::new().schema(Some(schema.clone())).build(),
                );
            }
        }
        operation = operation.request_body(Some(body.build()));
    }
    if !matches!(op.auth, Auth::None) {
        if let Some(name) = op.scope_name() {
            operation =
                operation.description(Some(format!("A scoped token needs the `{name}` scope.")));
        }
    }
    operation.securities(Some(security(op))).build()
}

/// The OpenAPI 3.1 document of `docs`.
pub fn document(docs: &[RouteDoc]) -> OpenApi {
    let mut paths = PathsBuilder::new();
    for route in docs {
        for op in &route.ops {
            let Some(method) = http_method(&op.method) else {
                continue;
            };
            paths = paths.path(route.path, PathItem::new(method, operation(route, op)));
        }
    }
    let mut components = ComponentsBuilder::new()
        .schema(ERROR, error_schema())
        .schema(VALIDATION_ERROR, validation_error_schema());
    for shape in Shape::ALL {
        components = components.schema(shape.name(), shape.schema());
    }
    let components = components
        .security_scheme(
            "tokenAuth",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Token <key>`, as DRF's TokenAuthentication",
            ))),
        )
        .security_scheme(
            "sessionAuth",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "sessionid",
                "Session cookie, set by /auth/login",
            ))),
        )
        .security_scheme(
            "csrfToken",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRFToken",
                "The csrftoken cookie's value (from /auth/csrf), masked or not: a session's unsafe methods need it, as Django's CSRF check",
            ))),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Tessera")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Django REST Framework's authentication, as a service.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_are_the_method_and_the_path_in_snake_case() {
        let get = op(Method::GET, "", Auth::None, &[], &[200]);
        let delete = op(Method::DELETE, "", Auth::None, &[], &[204]);
        let post = op(Method::POST, "", Auth::None, &[], &[200]);
        assert_eq!(get.operation_id("/"), "get_root");
        assert_eq!(post.operation_id("/api-token-auth/"), "post_api_token_auth");
        assert_eq!(
            delete.operation_id("/auth/tokens/{id}"),
            "delete_auth_tokens_id"
        );
        assert_eq!(get.operation_id("/login.js"), "get_login_js");
    }

    #[test]
    fn path_parameters_are_read_from_the_template() {
        let doc = |path| RouteDoc { path, ops: vec![] };
        assert_eq!(doc("/admin/users/{id}/tokens").path_parameters(), ["id"]);
        assert_eq!(doc("/a/{x}/b/{y}").path_parameters(), ["x", "y"]);
        assert!(doc("/auth/me").path_parameters().is_empty());
    }
}
