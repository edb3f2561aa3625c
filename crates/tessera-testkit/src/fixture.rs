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

/// For a backend that cannot be reached: under CI (the `CI` environment
/// variable is set) the test fails, so that a missing service is never
/// mistaken for a pass; elsewhere it prints a note and the test is skipped
/// (`None`).
pub fn unreachable_backend<T>(backend: &str, why: &dyn std::fmt::Display) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!("{backend} is unreachable and CI is set: {why}");
    }
    eprintln!("note: skipping: {backend} is unreachable: {why}");
    None
}
