//! The alert webhook: `security_alert` events POSTed as JSON to
//! `alerts.webhook_url`, retried with a doubling delay.

use std::time::Duration;
use tessera_axum::alerts::AlertSink;

/// Posts alerts to a URL.
#[derive(Debug, Clone)]
pub struct Webhook {
    url: String,
    client: reqwest::Client,
    attempts: u32,
    first_delay: Duration,
}

impl Webhook {
    /// A webhook with 4 attempts, 1 s apart at first, doubling.
    pub fn new(url: String) -> Self {
        Self::with_retries(url, 4, Duration::from_secs(1))
    }

    /// A webhook with these retries.
    pub fn with_retries(url: String, attempts: u32, first_delay: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Webhook {
            url,
            client,
            attempts: attempts.max(1),
            first_delay,
        }
    }
}

impl AlertSink for Webhook {
    fn send(&self, alert: serde_json::Value) {
        let this = self.clone();
        // Its log lines carry the id of the request that raised the alert
        // (its log scope or its span).
        let scope = tessera_core::log_scope::current();
        let sending = tracing::Instrument::in_current_span(async move {
            let mut delay = this.first_delay;
            for attempt in 1..=this.attempts {
                match this.client.post(&this.url).json(&alert).send().await {
                    Ok(response) if response.status().is_success() => return,
                    Ok(response) => {
                        tracing::warn!(status = %response.status(), attempt, "alert webhook refused")
                    }
                    Err(e) => tracing::warn!(error = %e, attempt, "alert webhook unreachable"),
                }
                if attempt < this.attempts {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
            tracing::error!("alert webhook failed after every attempt");
        });
        tokio::spawn(tessera_core::log_scope::Scoped::new(scope, sending));
    }
}
