//! bench/run's baseline: the least an axum server can do for Tessera's
//! anonymous `GET /api/public/`. One route answering the same JSON body
//! (`{"user":null}`) through `axum::Json`, served by `axum::serve` on tokio's
//! multi-threaded runtime (one worker per core, as the `tessera` binary),
//! with the axum, hyper and tokio versions of the workspace's `Cargo.lock`.
//! No middleware, no log, no state.
//!
//! ```text
//! bench-bare --bind 127.0.0.1:8001
//! ```

use axum::routing::get;
use axum::serve::ListenerExt as _;
use axum::{Json, Router};
use serde_json::{json, Value};

/// With `--features mimalloc`, the allocator of the `tessera` binary (a
/// reference figure; the baseline is the default build).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The body of Tessera's `/api/public/` for an anonymous caller.
async fn public() -> Json<Value> {
    Json(json!({ "user": Option::<String>::None }))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut bind = String::from("127.0.0.1:8001");
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bind" => match args.next() {
                Some(value) => bind = value,
                None => return Err(std::io::Error::other("--bind needs an address")),
            },
            other => return Err(std::io::Error::other(format!("unknown argument {other:?}"))),
        }
    }
    let app = Router::new().route("/api/public/", get(public));
    // TCP_NODELAY, as Tessera's listener sets it, so that the two are
    // compared on the same socket settings.
    let listener = tokio::net::TcpListener::bind(&bind)
        .await?
        .tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        });
    axum::serve(listener, app).await
}
