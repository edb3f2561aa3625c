//! The error every store answers with, in a leaf module so that the store
//! traits, the audit log and the audited writes can all name it without
//! importing one another.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached (HTTP 503).
    #[error("the store is unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A uniqueness rule was broken, such as a taken username.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Anything else (HTTP 500).
    #[error("store error: {0}")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}
