//! The server's route table: the library's ([`tessera_axum::openapi`]), on
//! the server's state. The description at `/openapi.json` is built from the
//! very list the router is built from, the library's views included.

pub use tessera_axum::openapi::*;

/// The route table of the server's state.
pub type Routes = tessera_axum::openapi::Routes<crate::AppState>;
