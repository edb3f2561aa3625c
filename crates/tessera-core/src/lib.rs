//! Tessera's domain, free of any HTTP framework or database driver.
//!
//! Django REST Framework's authentication system, in Rust: users and their
//! passwords ([`password`]), API keys ([`token`]), who made a request
//! ([`identity`]), what they may do ([`permission`]), and the traits a store
//! implements to keep them ([`store`]).
//!
//! ```
//! use tessera_core::token::TokenKey;
//!
//! let key = TokenKey::generate();
//! assert!(key.expose().starts_with("tsr_"));
//! // A key is recognised, and its checksum verified, without any store.
//! assert!(TokenKey::parse(key.expose()).is_some());
//! assert!(TokenKey::parse("tsr_not-a-key").is_none());
//! ```

pub mod audit;
pub mod audited;
pub mod cache;
pub mod clock;
pub mod csrf;
pub mod error;
pub mod host;
pub mod identity;
pub mod import;
pub mod log_scope;
pub mod password;
pub mod permission;
mod random;
pub mod scope;
pub mod secret;
pub mod session;
pub mod store;
pub mod throttle;
pub mod token;
pub mod user;
pub mod validation;

pub use clock::{Clock, SystemClock};
pub use error::StoreError;
pub use identity::{Credential, Identity, Principal};
pub use store::Stores;
pub use user::User;
