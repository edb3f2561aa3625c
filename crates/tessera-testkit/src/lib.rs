//! Dev-only helpers for Tessera's tests: the store suite written once and run
//! against every backend, a clock that tests move by hand, and an in-memory
//! store.
//!
//! A backend's tests are one macro call, in the pattern of tower-sessions'
//! `route_tests!`: each behaviour of the store traits becomes a test of its own,
//! named after the behaviour, in a module named after the backend. The
//! expression makes a fresh, empty store for each test, wrapped in a [`Fixture`]
//! (with whatever must be cleaned up after it), or `None` to skip the test.
//!
//! ```
//! use tessera_testkit::{store_tests, Fixture, MemoryStore};
//!
//! store_tests!(memory, async { Some(Fixture::new(MemoryStore::new())) });
//! ```
//!
//! This defines `memory::users::create_user_returns_the_stored_user`,
//! `memory::tokens::max_per_user_is_atomic_under_concurrency`, and so on: one
//! test per function of [`suite`], in one module per store trait. A backend
//! that implements only some traits calls their macros instead
//! ([`session_tests!`] for a session store kept apart, as Redis's), and
//! [`CacheLayer`] runs the whole suite again through the credential cache
//! the server runs on.

// Only tests use this crate: failing loudly is what it is for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod cached;
pub mod clock;
pub mod counters;
pub mod fixture;
pub mod memory;
pub mod suite;

pub use cached::CacheLayer;
pub use clock::ManualClock;
pub use counters::CounterStores;
pub use fixture::{opted_out, record_skip, unreachable_backend, Fixture};
pub use memory::MemoryStore;

use tessera_core::audit::AuditStore;
use tessera_core::audited::AuditedWrites;
use tessera_core::import::ImportStore;
use tessera_core::store::{Health, SessionStore, TokenStore, UserStore};
use tessera_core::throttle::LoginUnlockStore;

/// Every store trait at once: what the suite needs of a backend.
pub trait Store:
    UserStore
    + TokenStore
    + SessionStore
    + AuditStore
    + AuditedWrites
    + LoginUnlockStore
    + ImportStore
    + Health
{
}

impl<
        S: UserStore
            + TokenStore
            + SessionStore
            + AuditStore
            + AuditedWrites
            + LoginUnlockStore
            + ImportStore
            + Health,
    > Store for S
{
}

/// What the token part of the suite needs of a backend: users and tokens.
pub trait TokenSuite: UserStore + TokenStore {}

impl<S: UserStore + TokenStore> TokenSuite for S {}

/// What the session part of the suite needs of a backend: users and
/// sessions (a session store kept apart from the database, as Redis's, runs
/// it with a user store beside it: [`session_tests!`]).
pub trait SessionSuite: UserStore + SessionStore {}

impl<S: UserStore + SessionStore> SessionSuite for S {}

/// What the audit part of the suite needs of a backend: the audit trail and
/// users to name in it.
pub trait AuditSuite: UserStore + AuditStore {}

impl<S: UserStore + AuditStore> AuditSuite for S {}

/// What the unlock part of the suite needs of a backend: unlocks and the
/// audit trail their events go to.
pub trait UnlockSuite: LoginUnlockStore + AuditStore {}

impl<S: LoginUnlockStore + AuditStore> UnlockSuite for S {}

/// The part of [`suite`] for [`UserStore`]: creating, reading, updating, listing and querying users.
///
/// Defines, in a module named `$backend`, one `#[test]` per function, as
/// [`store_tests!`] does; `$make` gives an `Option<Fixture<S>>` where `S`
/// implements [`UserStore`].
#[macro_export]
macro_rules! user_tests {
    ($backend:ident, $make:expr $(,)?) => {
        $crate::__store_tests! {
            $backend, $make;
            create_user_returns_the_stored_user,
            create_user_keeps_flags_and_empty_email,
            create_user_with_a_taken_username_is_a_conflict,
            usernames_differing_in_case_are_different_users,
            user_by_id_of_an_unknown_user_is_none,
            credentials_by_username_returns_the_user_and_hash,
            credentials_by_username_is_an_exact_match,
            update_user_changes_only_the_given_fields,
            update_user_applies_every_field,
            update_user_with_nothing_to_change_returns_the_user,
            update_user_of_an_unknown_user_is_none,
            set_last_login_records_the_time,
            list_users_orders_by_id_and_counts_all,
            list_users_pages_with_offset_and_limit,
            list_users_search_matches_username_or_email_case_insensitively,
            list_users_search_pages_and_counts_matches,
            list_users_search_treats_wildcards_literally,
            count_password_schemes_by_prefix,
            query_users_filters_by_search_flags_and_ids,
        }
    };
}

/// The part of [`suite`] for [`TokenStore`] (with users to own the tokens, [`TokenSuite`]).
///
/// Defines, in a module named `$backend`, one `#[test]` per function, as
/// [`store_tests!`] does; `$make` gives an `Option<Fixture<S>>` where `S`
/// implements [`TokenSuite`].
#[macro_export]
macro_rules! token_tests {
    ($backend:ident, $make:expr $(,)?) => {
        $crate::__store_tests! {
            $backend, $make;
            create_token_returns_the_record,
            find_token_returns_the_record_and_its_user,
            find_token_with_an_unknown_digest_is_none,
            find_token_at_or_after_expiry_is_none,
            token_without_expiry_never_expires,
            find_token_returns_the_owner_as_it_is_now,
            token_scopes_round_trip,
            token_times_round_trip_to_the_microsecond,
            authenticated_at_round_trips,
            create_token_with_a_taken_digest_is_a_conflict,
            create_token_for_an_unknown_user_fails,
            max_per_user_refuses_tokens_past_the_cap,
            max_per_user_counts_only_unexpired_tokens,
            max_per_user_counts_each_user_separately,
            max_per_user_is_atomic_under_concurrency,
            list_tokens_is_oldest_first_and_excludes_expired,
            delete_token_deletes_it,
            delete_token_with_an_owner_deletes_only_their_token,
            delete_unknown_token_is_false,
            delete_user_tokens_deletes_all_but_the_exception,
            touch_token_records_the_last_use,
            touch_tokens_records_each_use,
            token_by_id_returns_expired_tokens_too,
            token_expiry_and_authentication_time_can_be_set,
            purge_expired_tokens_deletes_only_expired_ones,
        }
    };
}

/// The part of [`suite`] for [`SessionStore`] (with users to own the sessions, [`SessionSuite`]): what a
/// session store kept apart from the database, as Redis's, runs with a user
/// store beside it.
///
/// Defines, in a module named `$backend`, one `#[test]` per function, as
/// [`store_tests!`] does; `$make` gives an `Option<Fixture<S>>` where `S`
/// implements [`SessionSuite`].
#[macro_export]
macro_rules! session_tests {
    ($backend:ident, $make:expr $(,)?) => {
        $crate::__store_tests! {
            $backend, $make;
            create_session_returns_the_record,
            find_session_returns_the_record_and_its_user,
            session_data_round_trips,
            find_session_returns_the_owner_as_it_is_now,
            session_idle_expiry_is_exact,
            session_absolute_expiry_holds_even_when_recently_touched,
            touch_session_extends_idle_life,
            touch_sessions_records_each_use,
            rotate_session_replaces_the_digest_of_the_same_row,
            rotate_session_to_a_taken_digest_is_a_conflict,
            create_session_with_a_taken_digest_is_a_conflict,
            create_session_for_an_unknown_user_fails,
            set_session_data_replaces_the_data,
            delete_session_deletes_it,
            delete_session_with_an_owner_deletes_only_their_session,
            delete_user_sessions_deletes_all_but_the_exception,
            list_sessions_is_oldest_first_and_only_live,
            purge_expired_sessions_deletes_only_dead_ones,
            session_owner_names_the_owner,
        }
    };
}

/// The part of [`suite`] for [`AuditStore`] (with users to name, [`AuditSuite`]): appending, querying,
/// aggregating and deleting the audit trail.
///
/// Defines, in a module named `$backend`, one `#[test]` per function, as
/// [`store_tests!`] does; `$make` gives an `Option<Fixture<S>>` where `S`
/// implements [`AuditSuite`].
#[macro_export]
macro_rules! audit_tests {
    ($backend:ident, $make:expr $(,)?) => {
        $crate::__store_tests! {
            $backend, $make;
            audit_query_of_an_empty_store_is_empty,
            append_returns_the_record_that_query_reads_back,
            audit_times_are_kept_to_the_microsecond,
            every_audit_event_kind_round_trips,
            audit_query_filters_by_user,
            audit_query_filters_by_event,
            audit_query_since_is_inclusive,
            audit_query_filters_combine,
            audit_query_is_newest_first_with_ties_by_id,
            audit_query_pages_with_offset_and_limit_and_counts_all,
            append_many_stores_every_event,
            append_many_stores_a_large_batch_in_order,
            audit_long_fields_are_truncated,
            audit_detail_round_trips,
            audit_events_of_unknown_users_are_kept,
            aggregated_events_add_up_in_one_row_per_key,
            aggregated_rows_keep_any_detail,
            aggregated_rows_are_one_under_concurrency,
            delete_events_before_removes_only_older_events,
            delete_events_before_deletes_a_large_trail,
            audit_query_filters_by_username_address_and_until,
            event_counts_are_bucketed_by_kind_and_time,
        }
    };
}

/// The part of [`suite`] for [`AuditedWrites`]: each state change written with its audit event, logins,
/// token rotation families (the whole [`Store`]).
///
/// Defines, in a module named `$backend`, one `#[test]` per function, as
/// [`store_tests!`] does; `$make` gives an `Option<Fixture<S>>` where `S`
/// implements [`Store`].
#[macro_export]
macro_rules! audited_tests {
    ($backend:ident, $make:expr $(,)?) => {
        $crate::__store_tests! {
            $backend, $make;
            create_user_audited_stores_the_user_and_its_event,
            create_user_audited_with_a_taken_username_writes_no_event,
            update_user_audited_updates_the_user_and_writes_its_event,
            update_user_audited_of_an_unknown_user_writes_no_event,
            create_token_audited_stores_the_token_and_its_event_with_its_id,
            create_token_audited_refused_or_failed_writes_no_event,
            create_token_audited_cap_is_atomic_under_concurrency,
            record_login_upgrades_the_checked_hash_only,
            record_login_opens_the_session_with_the_login,
            record_login_writes_the_login_and_its_token,
            record_login_without_a_token_writes_the_login_only,
            record_login_past_the_cap_or_of_no_user,
            record_login_cap_is_atomic_under_concurrency,
            delete_token_audited_deletes_the_token_and_writes_its_event,
            delete_token_audited_that_deletes_nothing_writes_no_event,
            delete_session_audited_deletes_the_session_and_writes_its_event,
            delete_session_audited_that_deletes_nothing_writes_no_event,
            delete_user_credentials_audited_deletes_all_but_the_exceptions,
            delete_user_credentials_audited_writes_its_event_when_nothing_is_deleted,
            update_user_and_revoke_audited_ends_the_users_credentials,
            audited_events_are_sanitized,
            rotate_token_audited_inherits_and_marks_the_old_token,
            rotate_token_audited_of_a_rotated_out_or_unknown_token_writes_nothing,
            rotate_token_audited_counts_against_the_cap,
            rotate_token_audited_is_atomic_under_concurrency,
            revoke_token_family_audited_deletes_every_key_of_the_family,
            purge_keeps_rotated_out_tokens_while_their_family_lives,
            live_tokens_and_sessions_are_counted,
            find_session_with_an_unknown_digest_is_none,
        }
    };
}

/// The part of [`suite`] for [`LoginUnlockStore`] (with the audit trail its event goes to, [`UnlockSuite`]).
///
/// Defines, in a module named `$backend`, one `#[test]` per function, as
/// [`store_tests!`] does; `$make` gives an `Option<Fixture<S>>` where `S`
/// implements [`UnlockSuite`].
#[macro_export]
macro_rules! unlock_tests {
    ($backend:ident, $make:expr $(,)?) => {
        $crate::__store_tests! {
            $backend, $make;
            record_unlock_keeps_the_latest_per_key_with_its_event,
        }
    };
}

/// The part of [`suite`] for [`Health`].
///
/// Defines, in a module named `$backend`, one `#[test]` per function, as
/// [`store_tests!`] does; `$make` gives an `Option<Fixture<S>>` where `S`
/// implements [`Health`].
#[macro_export]
macro_rules! health_tests {
    ($backend:ident, $make:expr $(,)?) => {
        $crate::__store_tests! {
            $backend, $make;
            ping_answers,
        }
    };
}

/// The part of [`suite`] for [`ImportStore`]: the Django importer's writes (the whole [`Store`]).
///
/// Defines, in a module named `$backend`, one `#[test]` per function, as
/// [`store_tests!`] does; `$make` gives an `Option<Fixture<S>>` where `S`
/// implements [`Store`].
#[macro_export]
macro_rules! import_tests {
    ($backend:ident, $make:expr $(,)?) => {
        $crate::__store_tests! {
            $backend, $make;
            import_users_creates_links_and_updates_on_a_second_run,
            import_users_refuses_a_username_taken_ignoring_case,
            import_credentials_need_an_imported_user_and_are_found_by_digest,
            import_dry_run_writes_nothing,
            import_a_large_batch,
            import_groups_and_memberships_are_kept_with_the_user,
        }
    };
}

/// Defines, in a module named `$backend`, the whole of [`suite`]: one
/// module per store trait ([`user_tests!`], [`token_tests!`],
/// [`session_tests!`], [`audit_tests!`], [`audited_tests!`],
/// [`unlock_tests!`], [`health_tests!`], [`import_tests!`]) with one
/// `#[test]` per function, each running on a new tokio runtime with four
/// worker threads (the concurrency tests spawn their tasks on it).
///
/// `$make` is a future (usually an `async` block) giving an
/// `Option<Fixture<S>>` where `S` implements [`Store`]; it is evaluated
/// afresh in every test, inside the module, which imports its parent's items
/// (`use super::*`). `None` skips the test: [`unreachable_backend`] decides
/// that for a service that cannot be reached (it fails the test instead
/// unless `TESSERA_TEST_SKIP` opts the service out). The fixture's teardown runs
/// after the test whether it passed or not. A backend implementing only some
/// of the traits calls the macros of those traits instead.
#[macro_export]
macro_rules! store_tests {
    ($backend:ident, $make:expr $(,)?) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;

            $crate::user_tests!(users, $make);
            $crate::token_tests!(tokens, $make);
            $crate::session_tests!(sessions, $make);
            $crate::audit_tests!(audit, $make);
            $crate::audited_tests!(audited, $make);
            $crate::unlock_tests!(unlocks, $make);
            $crate::health_tests!(health, $make);
            $crate::import_tests!(import, $make);
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_tests {
    ($backend:ident, $make:expr; $($test:ident,)*) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;

            $(
                #[test]
                fn $test() {
                    $crate::__private::block_on_threads(4, async {
                        let Some(fixture) = $make.await else {
                            return;
                        };
                        let outcome =
                            $crate::__private::catch_unwind($crate::suite::$test(fixture.store()))
                                .await;
                        fixture.teardown().await;
                        $crate::__private::resume(outcome);
                    });
                }
            )*
        }
    };
}

/// Defines, in a module named `$backend`, one `#[test]` per function of
/// [`counters`], each on a new tokio runtime with four worker threads (the
/// concurrency tests spawn their tasks on it). `$make` is a future giving an
/// `Option<Fixture<CounterStores>>`, as for [`store_tests!`].
#[macro_export]
macro_rules! counter_tests {
    ($backend:ident, $make:expr $(,)?) => {
        $crate::__counter_tests! {
            $backend, $make;
            hit_allows_the_rate_then_refuses_with_the_rounded_up_wait,
            hit_opens_a_new_window_exactly_when_the_last_ends,
            hit_keys_are_apart_resettable_and_zero_rates_refuse,
            hit_is_exact_under_concurrency,
            login_failures_lock_at_the_limit_and_double,
            login_records_lengthen_reset_and_expire,
            login_records_read_together_as_one_by_one,
            login_failures_are_exact_under_concurrency,
            alert_window_raises_once_at_the_threshold,
            alert_window_raises_exactly_once_under_concurrency,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __counter_tests {
    ($backend:ident, $make:expr; $($test:ident,)*) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;

            $(
                #[test]
                fn $test() {
                    $crate::__private::block_on_threads(4, async {
                        let Some(fixture) = $make.await else {
                            return;
                        };
                        let outcome =
                            $crate::__private::catch_unwind($crate::counters::$test(fixture.store()))
                                .await;
                        fixture.teardown().await;
                        $crate::__private::resume(outcome);
                    });
                }
            )*
        }
    };
}

#[doc(hidden)]
pub mod __private {
    use futures::FutureExt;
    use std::future::Future;
    use std::panic::AssertUnwindSafe;

    /// Runs `test` on a new runtime with `threads` worker threads.
    pub fn block_on_threads<F: Future<Output = ()>>(threads: usize, test: F) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(test);
    }

    /// Runs `test`, catching a failed assertion so that teardown still runs.
    pub async fn catch_unwind<F: Future<Output = ()>>(test: F) -> std::thread::Result<()> {
        AssertUnwindSafe(test).catch_unwind().await
    }

    /// Fails the test again, after teardown, if it failed.
    pub fn resume(outcome: std::thread::Result<()>) {
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tessera_core::throttle::{
        MemoryAlertWindowStore, MemoryLoginAttemptStore, MemoryThrottleStore,
    };

    counter_tests!(memory, async {
        Some(Fixture::new(CounterStores {
            throttle: Arc::new(MemoryThrottleStore::new()),
            logins: Arc::new(MemoryLoginAttemptStore::new()),
            alerts: Arc::new(MemoryAlertWindowStore::new()),
        }))
    });

    /// Every counter-suite function is in `counter_tests!`.
    #[test]
    fn every_counter_function_is_in_the_macro() {
        let suite = include_str!("counters.rs");
        let lib = include_str!("lib.rs");
        let names: Vec<&str> = suite
            .lines()
            .filter_map(|line| line.strip_prefix("pub async fn "))
            .filter_map(|rest| rest.split('(').next())
            .collect();
        assert_eq!(names.len(), 10, "{names:?}");
        for name in names {
            assert!(
                lib.contains(&format!("            {name},\n")),
                "{name} is missing from counter_tests!"
            );
        }
    }

    /// A function added to the suite but not to `store_tests!` would silently
    /// never run.
    #[test]
    fn every_suite_function_is_in_the_macro() {
        let suite = include_str!("suite.rs");
        let lib = include_str!("lib.rs");
        let names: Vec<&str> = suite
            .lines()
            .filter_map(|line| line.strip_prefix("pub async fn "))
            .filter_map(|rest| rest.split('<').next())
            .collect();
        assert!(names.len() > 30, "{names:?}");
        for name in names {
            assert_eq!(
                lib.matches(&format!("            {name},\n")).count(),
                1,
                "{name} is missing from the suite's macros, or listed twice"
            );
        }
    }
}
