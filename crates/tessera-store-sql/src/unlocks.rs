//! [`LoginUnlockStore`]: administrators' unlocks of usernames, one row per
//! username key, written with their audit event in one transaction.

use crate::audit::{insert_event, Insert};
use crate::BeginWrite;
use crate::{store_error, with_pool, SqlStore};
use async_trait::async_trait;
use tessera_core::audit::NewAuditEvent;
use tessera_core::clock::{from_micros, to_micros};
use tessera_core::store::StoreError;
use tessera_core::throttle::LoginUnlockStore;
use time::OffsetDateTime;

/// The latest unlock replaces an earlier one (both backends take `ON CONFLICT`).
const UPSERT_UNLOCK: &str = "INSERT INTO tessera_login_unlocks (username_key, unlocked_at) \
     VALUES ($1, $2) \
     ON CONFLICT (username_key) DO UPDATE SET unlocked_at = excluded.unlocked_at";

const LAST_UNLOCK: &str = "SELECT unlocked_at FROM tessera_login_unlocks WHERE username_key = $1";

#[async_trait]
impl LoginUnlockStore for SqlStore {
    async fn last_unlock(&self, key: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        let micros: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar(LAST_UNLOCK)
                .bind(key)
                .fetch_optional(pool)
                .await
        })
        .map_err(store_error)?;
        Ok(micros.map(from_micros))
    }

    async fn record_unlock(
        &self,
        key: &str,
        at: OffsetDateTime,
        event: NewAuditEvent,
    ) -> Result<(), StoreError> {
        let insert = Insert::new(event)?;
        with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await?;
                sqlx::query(UPSERT_UNLOCK)
                    .bind(key)
                    .bind(to_micros(at))
                    .execute(&mut *tx)
                    .await?;
                insert_event!(&mut *tx, insert)?;
                tx.commit().await
            }
            .await
        })
        .map_err(store_error)
    }
}
