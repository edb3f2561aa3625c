//! The request a thread is working for, as its log lines name it, without a
//! `tracing` span.
//!
//! A `tracing` span is what usually gives every log line of a request its
//! `request_id`. It is also one of the dearest parts of a request that logs
//! nothing: tracing-subscriber's registry makes a slot for it, formats its
//! fields, and enters and leaves it at every poll (about 2,000 instructions
//! a request, callgrind). The `tessera` server's JSON log lines have a
//! cheaper carrier: while a request's future is polled ([`Scoped`]), this
//! thread's [`current`] scope holds its id, and the server's log formatter
//! writes it as the span a request's line had (`"span":{"request_id":"…",
//! "name":"request"}`) when no other span is current. A line is only
//! formatted when something logs, so the request pays for its id only then.
//!
//! Work a request hands to another thread or task carries the scope along:
//! the password hashing pool's jobs do, and so should anything else that
//! logs on a request's behalf ([`current`] where the work is handed over,
//! [`in_scope`] or [`Scoped`] where it runs). Nothing here reads the scope
//! but a formatter that asks for it, so a library user's own subscriber
//! sees no difference.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The longest id a scope holds: a request id is at most 64 characters.
pub const MAX_ID_LEN: usize = 64;

/// A request's id, held inline (copied, never allocated).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RequestScope {
    len: u8,
    bytes: [u8; MAX_ID_LEN],
}

impl RequestScope {
    /// The scope of the request `id`; `None` when `id` is longer than
    /// [`MAX_ID_LEN`] bytes.
    pub fn new(id: &str) -> Option<Self> {
        let len = u8::try_from(id.len())
            .ok()
            .filter(|&len| usize::from(len) <= MAX_ID_LEN)?;
        let mut bytes = [0; MAX_ID_LEN];
        bytes[..id.len()].copy_from_slice(id.as_bytes());
        Some(Self { len, bytes })
    }

    /// The request's id.
    pub fn request_id(&self) -> &str {
        // Always whole characters of a `&str` (`new`).
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::fmt::Debug for RequestScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RequestScope")
            .field(&self.request_id())
            .finish()
    }
}

thread_local! {
    static CURRENT: Cell<Option<RequestScope>> = const { Cell::new(None) };
}

/// The scope this thread works in, if any.
pub fn current() -> Option<RequestScope> {
    CURRENT.with(Cell::get)
}

/// Runs `f` in `scope` (`None`: in none), then puts back the scope this
/// thread had before, also when `f` panics.
pub fn in_scope<R>(scope: Option<RequestScope>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<RequestScope>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|current| current.set(self.0));
        }
    }
    let _restore = Restore(CURRENT.with(|current| current.replace(scope)));
    f()
}

pin_project_lite::pin_project! {
    /// A future polled in a scope: `inner` runs in `scope` at every poll, as
    /// an instrumented future runs in its span.
    #[derive(Debug)]
    pub struct Scoped<F> {
        scope: Option<RequestScope>,
        #[pin]
        inner: F,
    }
}

impl<F> Scoped<F> {
    /// `inner`, to be polled in `scope`.
    pub fn new(scope: Option<RequestScope>, inner: F) -> Self {
        Self { scope, inner }
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let scope = *this.scope;
        let inner = this.inner;
        in_scope(scope, || inner.poll(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_holds_ids_up_to_64_bytes() {
        for id in ["", "a", "0f3a-._x", &"x".repeat(64), "héllo"] {
            let scope = RequestScope::new(id);
            assert_eq!(
                scope.map(|s| s.request_id().to_owned()),
                Some(id.to_owned())
            );
        }
        assert_eq!(RequestScope::new(&"x".repeat(65)), None);
        assert_eq!(RequestScope::new(&"x".repeat(300)), None);
        assert_eq!(
            format!("{:?}", RequestScope::new("req-1")),
            r#"Some(RequestScope("req-1"))"#
        );
    }

    #[test]
    fn in_scope_nests_and_restores_even_after_a_panic() {
        let outer = RequestScope::new("outer");
        let inner = RequestScope::new("inner");
        assert_eq!(current(), None);
        in_scope(outer, || {
            assert_eq!(current(), outer);
            in_scope(inner, || assert_eq!(current(), inner));
            assert_eq!(current(), outer);
            in_scope(None, || assert_eq!(current(), None));
            assert_eq!(current(), outer);
            let panicked = std::panic::catch_unwind(|| in_scope(inner, || panic!("boom")));
            assert!(panicked.is_err());
            assert_eq!(current(), outer);
        });
        assert_eq!(current(), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_scoped_future_is_in_its_scope_at_every_poll_and_only_then() {
        let scope = RequestScope::new("req-7");
        let task = tokio::spawn(Scoped::new(scope, async move {
            let mut seen = vec![current()];
            for _ in 0..20 {
                // Each yield may resume on the other worker.
                tokio::task::yield_now().await;
                seen.push(current());
            }
            seen
        }));
        let seen = task.await.unwrap_or_default();
        assert_eq!(seen.len(), 21);
        assert!(seen.iter().all(|s| *s == scope), "{seen:?}");
        assert_eq!(current(), None);
        // Between its polls the scope is gone from the thread.
        let mut polled = std::pin::pin!(Scoped::new(scope, async {
            tokio::task::yield_now().await;
            current()
        }));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(polled.as_mut().poll(&mut cx).is_pending());
        assert_eq!(current(), None);
        assert_eq!(polled.as_mut().poll(&mut cx), Poll::Ready(scope));
        assert_eq!(current(), None);
    }
}
