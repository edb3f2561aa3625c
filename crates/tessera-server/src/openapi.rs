//! The route table and the OpenAPI 3.1 description generated from it.
//!
//! Every route of the server is registered through [`Routes::route`], which
//! records its path, methods and documentation next to the axum handler: the
//! description at `/openapi.json` is built from the very list the router is
//! built from, so it cannot drift from the code.
//!
//! The same table declares the token scope each operation needs
//! ([`Op::scope`]): [`Routes::guarded`] puts it on the route's policy, and the
//! description lists it as the role of the `tokenAuth` requirement. An
//! operation that says nothing needs `read` for a safe method and `write` for
//! an unsafe one, the rule of application routes; credential management says
//! `account`, administration `admin`.

use crate::AppState;
use axum::http::Method;
use axum::routing::MethodRouter;
use axum::Router;
use tessera_axum::{Policy, Tessera};
use tessera_core::scope;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder};

/// How an operation authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No credentials.
    None,
    /// The server's default authenticators (token or session).
    Default,
    /// Only a token.
    Token,
    /// Only a session.
    Session,
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
    /// Body fields, if it reads a body (`name?` for an optional one).
    pub body: &'static [&'static str],
    /// Status codes it answers with, success first.
    pub responses: &'static [u16],
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
        responses,
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

/// A router that records what it serves.
#[derive(Debug, Default)]
pub struct Routes {
    router: Router<AppState>,
    docs: Vec<RouteDoc>,
}

impl Routes {
    /// An empty table.
    pub fn new() -> Self {
        Routes::default()
    }

    /// Serves `handler` at `path` and documents its `ops`.
    pub fn route(
        mut self,
        path: &'static str,
        ops: Vec<Op>,
        handler: MethodRouter<AppState>,
    ) -> Self {
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
        handler: MethodRouter<AppState>,
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
        handler: MethodRouter<AppState>,
        outer: impl FnOnce(MethodRouter<AppState>) -> MethodRouter<AppState>,
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

    /// Adds another table's routes.
    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.docs.extend(other.docs);
        self
    }

    /// Adds undocumented routes (the library's example views document
    /// themselves through [`Routes::route`] at the call site instead).
    pub fn merge_router(mut self, router: Router<AppState>, docs: Vec<RouteDoc>) -> Self {
        self.router = self.router.merge(router);
        self.docs.extend(docs);
        self
    }

    /// The router and the documentation.
    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteDoc>) {
        (self.router, self.docs)
    }
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

/// The OpenAPI 3.1 document of `docs`.
pub fn document(docs: &[RouteDoc]) -> OpenApi {
    let mut paths = PathsBuilder::new();
    for route in docs {
        for op in &route.ops {
            let Some(method) = http_method(&op.method) else {
                continue;
            };
            let mut operation = OperationBuilder::new().summary(Some(op.summary));
            for status in op.responses {
                let response = ResponseBuilder::new()
                    .description(describe(*status))
                    .build();
                operation = operation.response(status.to_string(), response);
            }
            if !op.body.is_empty() {
                let fields = op.body.join(", ");
                let body = RequestBodyBuilder::new()
                    .description(Some(format!(
                        "Fields: {fields} (`?` marks an optional one)."
                    )))
                    .content("application/json", ContentBuilder::new().build())
                    .build();
                operation = operation.request_body(Some(body));
            }
            let roles: Vec<String> = op.scope_name().map(str::to_owned).into_iter().collect();
            let token = || SecurityRequirement::new("tokenAuth", roles.clone());
            let session = || SecurityRequirement::new("sessionAuth", Vec::<String>::new());
            let security = match op.auth {
                Auth::None => vec![],
                Auth::Default => vec![token(), session()],
                Auth::Token => vec![token()],
                Auth::Session => vec![session()],
            };
            if op.auth != Auth::None {
                if let Some(name) = op.scope_name() {
                    operation = operation
                        .description(Some(format!("A scoped token needs the `{name}` scope.")));
                }
            }
            if !security.is_empty() {
                operation = operation.securities(Some(security));
            }
            paths = paths.path(route.path, PathItem::new(method, operation.build()));
        }
    }
    let components = ComponentsBuilder::new()
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
                "Session cookie; unsafe methods need the X-CSRFToken header",
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
