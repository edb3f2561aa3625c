//! The server's HTTP tests: in-process with `tower::ServiceExt::oneshot`, and
//! end to end against the real `tessera` binary on a socket.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod admin_ui;
mod admin_ui_browser;
mod audit;
mod audit_volume;
mod browser;
mod cli;
mod cookies_edge;
mod cors;
mod cors_browser;
mod django;
mod e2e;
mod edge;
mod errors;
mod faults;
mod hosts;
mod least_privilege;
mod lifecycle;
mod observability;
mod obtain_token;
mod openapi;
mod operator;
mod overload;
mod password_work;
mod permissions;
mod postgres_tls;
mod private;
mod redis_sessions;
mod revocation;
mod sessions;
mod shared_limits;
mod support;
mod throttling;
mod token_authentication;
mod token_rotation;
mod unlock;
