//! [`Tessera`]: what every layer and handler shares — the stores, the password
//! hasher, the clock and the authentication settings.

use crate::authentication::Authenticator;
use std::sync::Arc;
use std::time::Duration;
use tessera_core::password::PasswordHasher;
use tessera_core::{Clock, Stores, SystemClock};

/// Authentication settings (DRF's `REST_FRAMEWORK` dictionary, in part).
#[derive(Debug, Clone)]
pub struct Settings {
    /// DRF's `TokenAuthentication.keyword`; matched case-insensitively.
    pub token_keyword: String,
    /// Also accept `Authorization: Bearer <key>`.
    pub accept_bearer: bool,
    /// Routes' default authenticators (DRF's `DEFAULT_AUTHENTICATION_CLASSES`).
    pub default_authenticators: Vec<Authenticator>,
    /// Lifetime of a new token; `None` never expires.
    pub token_lifetime: Option<Duration>,
    /// Most unexpired tokens a user may hold.
    pub max_tokens_per_user: u64,
    /// Largest request body read, in bytes.
    pub body_limit: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token_keyword: "Token".to_owned(),
            accept_bearer: false,
            default_authenticators: vec![Authenticator::Token],
            token_lifetime: Some(Duration::from_secs(90 * 24 * 3600)),
            max_tokens_per_user: 100,
            body_limit: 64 * 1024,
        }
    }
}

/// The shared state of a Tessera-protected application. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Tessera {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    stores: Stores,
    hasher: PasswordHasher,
    clock: Arc<dyn Clock>,
    settings: Settings,
}

impl Tessera {
    /// State over `stores`, with the system clock.
    pub fn new(stores: Stores, hasher: PasswordHasher, settings: Settings) -> Self {
        Self::with_clock(stores, hasher, settings, Arc::new(SystemClock))
    }

    /// State with an injected clock (tests move it forward instead of sleeping).
    pub fn with_clock(
        stores: Stores,
        hasher: PasswordHasher,
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Tessera {
            inner: Arc::new(Inner {
                stores,
                hasher,
                clock,
                settings,
            }),
        }
    }

    /// The stores.
    pub fn stores(&self) -> &Stores {
        &self.inner.stores
    }

    /// The password hasher.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.inner.hasher
    }

    /// The clock.
    pub fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }
}
