//! DRF's throttle classes as policy items: `AnonRateThrottle` (keyed by the
//! client address, anonymous requests only), `UserRateThrottle` (keyed by the
//! user id, or the address when anonymous) and `ScopedRateThrottle` (a named
//! rate shared by the routes that name it). A throttle whose rate is not
//! configured does nothing, as in DRF.
//!
//! The decision is one atomic step of the
//! [`ThrottleStore`](tessera_core::throttle::ThrottleStore): concurrent
//! requests cannot slip past a limit.

use crate::audit::RequestMeta;
use crate::error::ApiError;
use crate::state::Tessera;
use http::header::RETRY_AFTER;
use http::{HeaderValue, StatusCode};
use tessera_core::audit::EventKind;
use tessera_core::throttle::Rate;
use tessera_core::Identity;

pub use crate::settings::Throttle;

/// DRF's `Throttled` message.
pub fn throttled(wait_secs: u64) -> ApiError {
    let unit = if wait_secs == 1 { "second" } else { "seconds" };
    let mut error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "throttled",
        format!("Request was throttled. Expected available in {wait_secs} {unit}."),
    );
    if let Ok(value) = HeaderValue::from_str(&wait_secs.to_string()) {
        error = error.with_header(RETRY_AFTER, value);
    }
    error
}

/// The throttle key of a request: DRF's `cache_format` with scope and ident.
/// An anonymous request without a known address is not throttled: one
/// bucket shared by every such client would let one of them shut out all
/// the others (the application is told once, [`crate::client::warn_unknown_address`]).
fn key(throttle: &Throttle, identity: &Identity, meta: &RequestMeta) -> Option<String> {
    let ident = meta.ip.as_deref();
    match (throttle, identity.user(), ident) {
        // AnonRateThrottle lets authenticated requests through.
        (Throttle::Anon, Some(_), _) => None,
        (_, Some(user), _) => Some(format!("throttle_{}_{}", throttle.scope(), user.id)),
        (_, None, None) => None,
        (Throttle::Anon, None, Some(ip)) => Some(format!("throttle_anon_{ip}")),
        (_, None, Some(ip)) => Some(format!("throttle_{}_{ip}", throttle.scope())),
    }
}

/// Applies `throttles` to a request; the first refusal (the longest wait when
/// several refuse, as DRF reports the largest) is a 429.
pub async fn check(
    tessera: &Tessera,
    throttles: &[Throttle],
    identity: &Identity,
    meta: &RequestMeta,
) -> Result<(), ApiError> {
    let now = tessera.clock().now();
    let mut longest: Option<(u64, &Throttle)> = None;
    for throttle in throttles {
        let Some(rate) = tessera
            .settings()
            .throttle_rates
            .get(throttle.scope())
            .copied()
        else {
            continue;
        };
        let Some(key) = key(throttle, identity, meta) else {
            continue;
        };
        let decision = tessera.throttle_store().hit(&key, rate, now).await?;
        if let Some(wait) = decision.retry_after_secs() {
            if longest.is_none_or(|(w, _)| wait > w) {
                longest = Some((wait, throttle));
            }
        }
    }
    match longest {
        None => Ok(()),
        Some((wait, throttle)) => {
            let mut event = meta.event(now, EventKind::Throttled);
            if let Some(user) = identity.user() {
                event.user = Some(user.id);
                event.username = user.username.clone();
            }
            event.detail = serde_json::json!({"scope": throttle.scope(), "wait": wait});
            tessera.auditor().record(event).await;
            Err(throttled(wait))
        }
    }
}

/// Parses the configured rates, naming the bad one.
pub fn parse_rates<'a>(
    rates: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<std::collections::BTreeMap<String, Rate>, String> {
    rates
        .into_iter()
        .map(|(name, text)| {
            text.parse::<Rate>()
                .map(|rate| (name.clone(), rate))
                .map_err(|e| format!("throttle.rates.{name}: {e}"))
        })
        .collect()
}
