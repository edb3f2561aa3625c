//! A store under test, with what must live as long as it and what must run after it.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

type Teardown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A store for one test, made by the expression given to
/// [`store_tests!`](crate::store_tests).
///
/// Guards ([`Fixture::keep`]), such as a temporary directory, are dropped after
/// the test; teardown futures ([`Fixture::on_teardown`]), such as dropping a
/// PostgreSQL schema, run after the test even when it fails.
pub struct Fixture<S> {
    store: S,
    teardown: Vec<Teardown>,
    guards: Vec<Box<dyn Any + Send>>,
}

impl<S> Fixture<S> {
    /// A fixture with nothing to clean up.
    pub fn new(store: S) -> Self {
        Fixture {
            store,
            teardown: Vec::new(),
            guards: Vec::new(),
        }
    }

    /// Keeps `guard` alive until the test and its teardown are over.
    pub fn keep<G: Send + 'static>(mut self, guard: G) -> Self {
        self.guards.push(Box::new(guard));
        self
    }

    /// Runs `cleanup` after the test, pass or fail, in the order added.
    pub fn on_teardown<F>(mut self, cleanup: F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.teardown.push(Box::pin(cleanup));
        self
    }

    /// The same fixture around `wrap(store)` (a decorator over the store,
    /// such as [`CacheLayer`](crate::CacheLayer)): the wrapped store is dropped
    /// before the teardown runs.
    pub fn map<T>(self, wrap: impl FnOnce(S) -> T) -> Fixture<T> {
        Fixture {
            store: wrap(self.store),
            teardown: self.teardown,
            guards: self.guards,
        }
    }

    /// The store under test.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Drops the store, runs the teardown futures, then drops the guards.
    pub async fn teardown(self) {
        let Fixture {
            store,
            teardown,
            guards,
        } = self;
        drop(store);
        for cleanup in teardown {
            cleanup.await;
        }
        drop(guards);
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for Fixture<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture")
            .field("store", &self.store)
            .field("teardown", &self.teardown.len())
            .field("guards", &self.guards.len())
            .finish()
    }
}

/// For a service a test needs that is not there (`"postgres"`, `"browser"`,
/// `"pypi"`): the test fails, so that a missing service is never mistaken for
/// a pass, unless the service is opted out in `TESSERA_TEST_SKIP`
/// (`TESSERA_TEST_SKIP=postgres,browser`); then the skip is recorded (see
/// [`record_skip`]) and the test is skipped (`None`).
///
/// # Panics
///
/// When `service` is not opted out.
pub fn unreachable_backend<T>(service: &str, why: &dyn std::fmt::Display) -> Option<T> {
    if !opted_out(service) {
        panic!(
            "{service} is needed and unavailable: {why}\n\
             start it (scripts/services, scripts/browser), or opt out with TESSERA_TEST_SKIP={service}"
        );
    }
    record_skip(service, why);
    None
}

/// Whether `TESSERA_TEST_SKIP` (a comma-separated list) names `service`.
pub fn opted_out(service: &str) -> bool {
    std::env::var("TESSERA_TEST_SKIP").is_ok_and(|list| listed(&list, service))
}

fn listed(list: &str, service: &str) -> bool {
    list.split(',').any(|s| s.trim() == service)
}

/// Says that the running test skipped for want of `service`: on standard
/// error, and as a line (`service<TAB>test<TAB>why`) appended to the file
/// `TESSERA_TEST_SKIP_LOG` names, which `scripts/test` prints at the end (libtest
/// hides a passing test's output).
pub fn record_skip(service: &str, why: &dyn std::fmt::Display) {
    use std::io::Write;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    let why = why.to_string().replace(['\n', '\t'], " ");
    eprintln!("note: skipping {test}: {service} unavailable (TESSERA_TEST_SKIP): {why}");
    if let Some(path) = std::env::var_os("TESSERA_TEST_SKIP_LOG") {
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(file, "{service}\t{test}\t{why}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::listed;

    #[test]
    fn the_skip_list_names_services_exactly() {
        assert!(listed("postgres,browser", "postgres"));
        assert!(listed("postgres, browser", "browser"));
        assert!(!listed("postgres", "browser"));
        assert!(!listed("postgresql", "postgres"));
        assert!(!listed("", "postgres"));
    }
}
