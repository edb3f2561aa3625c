//! The listener's edge: the accept loop, TLS (rustls, reloaded on `SIGHUP`),
//! and the limits that keep slow or oversized clients from holding the
//! server: a cap on concurrent connections, header, body and idle timeouts,
//! and a header size limit.
//!
//! Decisions where the issue is silent, as the servers Django is deployed
//! behind (gunicorn, nginx) do:
//!
//! - A connection past `server.max_connections` is accepted, answered `503`
//!   with `Connection: close` and closed (over TLS: closed without an
//!   answer), never queued.
//! - The TLS handshake has `server.header_read_timeout` to complete.
//! - A head not received within `server.header_read_timeout` closes the
//!   connection without an answer (nginx answers `408` there too late for
//!   most clients to read it; Tessera closes). A body not received within
//!   `server.body_read_timeout` of its head is answered `408`
//!   `{"detail": "Request body not received in time.", "code": "request_timeout"}`
//!   and the connection closed.
//! - `server.idle_timeout` closes a connection on which the client has been
//!   silent that long while no request of it is being answered.
//! - A head larger than `server.max_header_bytes` (the request line and
//!   every header as `name: value`, with their line ends) is answered `431`
//!   `{"detail": "Request header fields too large.", "code": "request_header_fields_too_large"}`;
//!   a head more than twice the limit is refused by the HTTP parser itself
//!   (`431`, no body) before it is buffered.
//! - Stopping (`shutdown` resolves, on `SIGTERM` or Ctrl-C): the connections
//!   the kernel has already completed (the listen backlog) are accepted,
//!   then the listener is closed, so a new connection is refused, never
//!   reset. Each open connection finishes the request it is answering, or,
//!   when it has none yet, the request arriving on it within
//!   [`STOP_LINGER`] (a client that has just connected has usually sent it
//!   already), answered with `Connection: close`; then it is closed. Whatever
//!   is still open after `server.shutdown_grace` is cut.

use crate::config::Config;
use anyhow::Context as _;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tower::Service as _;

/// The limits of [`serve`], from `[server]`.
#[derive(Debug, Clone)]
pub struct Limits {
    /// `server.header_read_timeout`.
    pub header_read_timeout: Duration,
    /// `server.body_read_timeout`.
    pub body_read_timeout: Duration,
    /// `server.idle_timeout`.
    pub idle_timeout: Duration,
    /// `server.max_connections`.
    pub max_connections: usize,
    /// `server.max_header_bytes`.
    pub max_header_bytes: usize,
    /// `server.hsts_max_age` in seconds; `0`: no header.
    pub hsts_max_age: u64,
    /// The `Strict-Transport-Security` value for requests over TLS, if any.
    pub hsts: Option<HeaderValue>,
    /// Trusted proxies (their `X-Forwarded-Proto: https` counts as TLS).
    pub trusted_proxies: usize,
    /// `server.shutdown_grace`.
    pub shutdown_grace: Duration,
}

impl Limits {
    /// The limits `config` asks for.
    pub fn from_config(config: &Config) -> anyhow::Result<Limits> {
        let server = &config.server;
        if server.max_connections == 0 {
            anyhow::bail!("server.max_connections must be at least 1");
        }
        if server.max_header_bytes < 1024 {
            anyhow::bail!("server.max_header_bytes must be at least 1024");
        }
        Ok(Limits {
            header_read_timeout: server.header_read_timeout,
            body_read_timeout: server.body_read_timeout,
            idle_timeout: server.idle_timeout,
            max_connections: server.max_connections,
            max_header_bytes: server.max_header_bytes,
            hsts_max_age: server.hsts_max_age.as_secs(),
            hsts: hsts_value(
                server.hsts_max_age.as_secs(),
                server.hsts_include_subdomains,
            ),
            trusted_proxies: crate::trusted_proxies(config)?,
            shutdown_grace: server.shutdown_grace,
        })
    }
}

/// `Strict-Transport-Security`: `max-age=N`, with `; includeSubDomains`
/// when asked (ASVS 5 3.4.1 at L2: a sibling subdomain served over plain
/// HTTP could otherwise set cookies for this one); none for `0`.
fn hsts_value(max_age: u64, include_subdomains: bool) -> Option<HeaderValue> {
    if max_age == 0 {
        return None;
    }
    let value = if include_subdomains {
        format!("max-age={max_age}; includeSubDomains")
    } else {
        format!("max-age={max_age}")
    };
    HeaderValue::from_str(&value).ok()
}

/// The certificate and key of `[tls]`, swapped in place on reload so that
/// open connections keep theirs and new handshakes get the new one.
#[derive(Debug)]
pub struct ReloadableCert {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadableCert {
    /// Loads the certificate chain and key from their PEM files.
    pub fn load(cert_file: &Path, key_file: &Path) -> anyhow::Result<ReloadableCert> {
        let key = load_certified_key(cert_file, key_file)?;
        Ok(ReloadableCert {
            cert_file: cert_file.to_owned(),
            key_file: key_file.to_owned(),
            current: RwLock::new(Arc::new(key)),
        })
    }

    /// Reads the files again; on an error the current certificate stays.
    pub fn reload(&self) -> anyhow::Result<()> {
        let key = load_certified_key(&self.cert_file, &self.key_file)?;
        match self.current.write() {
            Ok(mut current) => *current = Arc::new(key),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(key),
        }
        Ok(())
    }

    /// A rustls server configuration (HTTP/1.1) presenting this certificate.
    pub fn server_config(self: &Arc<Self>) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match self.current.read() {
            Ok(current) => Some(current.clone()),
            Err(poisoned) => Some(poisoned.into_inner().clone()),
        }
    }
}

fn load_certified_key(cert_file: &Path, key_file: &Path) -> anyhow::Result<CertifiedKey> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert_file)
        .with_context(|| format!("cannot read tls.cert_file {}", cert_file.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("tls.cert_file {} is not PEM", cert_file.display()))?;
    if chain.is_empty() {
        anyhow::bail!("tls.cert_file {} holds no certificate", cert_file.display());
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .with_context(|| format!("tls.key_file {} holds no PEM key", key_file.display()))?;
    let provider = rustls::crypto::ring::default_provider();
    let key = CertifiedKey::from_der(chain, key, &provider)
        .context("tls.key_file does not match tls.cert_file or is not a supported key")?;
    Ok(key)
}

/// Marks a request that arrived over TLS on this server's own listener.
pub use tessera_axum::client::Https;

/// Serves `app` on `listener` until `shutdown` resolves, then lets the
/// requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<Arc<ReloadableCert>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let acceptor = match &tls {
        Some(cert) => Some(tokio_rustls::TlsAcceptor::from(cert.server_config()?)),
        None => None,
    };
    #[cfg(unix)]
    let reloader = tls.clone().map(spawn_reload_on_sighup);
    let limits = Arc::new(limits);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    // Refusals are answered by small tasks; they are capped too.
    let refusals = Arc::new(Semaphore::new(64));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut refused = 0u64;
    let mut last_refusal_log: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            if let Ok(refusal) = refusals.clone().try_acquire_owned() {
                let plain = acceptor.is_none();
                tokio::spawn(async move {
                    refuse(stream, plain).await;
                    drop(refusal);
                });
            }
            // One line a second at most, so a flood cannot fill the log.
            refused += 1;
            if last_refusal_log.is_none_or(|at: Instant| at.elapsed() >= Duration::from_secs(1)) {
                tracing::warn!(
                    %peer,
                    refused,
                    max = limits.max_connections,
                    "connections refused: server.max_connections reached"
                );
                last_refusal_log = Some(Instant::now());
                refused = 0;
            }
            continue;
        };
        let app = app.clone();
        let limits = limits.clone();
        let acceptor = acceptor.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            match acceptor {
                None => connection(stream, peer, false, app, limits, stop).await,
                Some(acceptor) => {
                    match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(stream)) => connection(stream, peer, true, app, limits, stop).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
            drop(permit);
        });
    }
    #[cfg(unix)]
    if let Some(reloader) = reloader {
        reloader.abort();
    }
    let _ = stop_tx.send(true);
    // The connections the kernel has completed but nobody accepted yet
    // would be reset when the listener closes: take them, and serve their
    // request as the others'.
    for (stream, peer) in drain_backlog(listener) {
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            break;
        };
        let (app, limits, acceptor, stop) = (
            app.clone(),
            limits.clone(),
            acceptor.clone(),
            stop_rx.clone(),
        );
        tokio::spawn(async move {
            match acceptor {
                None => connection(stream, peer, false, app, limits, stop).await,
                Some(acceptor) => {
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream))
                            .await
                    {
                        connection(stream, peer, true, app, limits, stop).await;
                    }
                }
            }
            drop(permit);
        });
    }
    // Every connection holds a permit: all of them back means all closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let closed = connections.acquire_many(all);
    if tokio::time::timeout(limits.shutdown_grace, closed)
        .await
        .is_err()
    {
        let open = limits.max_connections - connections.available_permits();
        tracing::warn!(
            open,
            grace_ms = u64::try_from(limits.shutdown_grace.as_millis()).unwrap_or(u64::MAX),
            "connections still open after server.shutdown_grace are cut"
        );
    }
    Ok(())
}

/// How long a stopping server waits for the first request of a connection
/// that has none in flight before closing it.
pub const STOP_LINGER: Duration = Duration::from_millis(250);

/// Accepts every connection waiting in `listener`'s backlog, without
/// waiting, then closes the listener: later connections are refused.
fn drain_backlog(listener: TcpListener) -> Vec<(TcpStream, SocketAddr)> {
    let mut accepted = Vec::new();
    let listener = match listener.into_std() {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(error = %e, "cannot drain the listen backlog");
            return accepted;
        }
    };
    // `into_std` keeps the socket non-blocking: `accept` answers at once.
    while let Ok((stream, peer)) = listener.accept() {
        let stream = stream
            .set_nonblocking(true)
            .and_then(|()| TcpStream::from_std(stream));
        if let Ok(stream) = stream {
            let _ = stream.set_nodelay(true);
            accepted.push((stream, peer));
        }
    }
    drop(listener);
    accepted
}

/// Re-reads the certificate on every `SIGHUP`.
#[cfg(unix)]
fn spawn_reload_on_sighup(cert: Arc<ReloadableCert>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(hup) => hup,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP: no certificate reload");
                return;
            }
        };
        while hup.recv().await.is_some() {
            match cert.reload() {
                Ok(()) => tracing::info!("TLS certificate reloaded"),
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "TLS certificate reload failed; the previous certificate stays");
                }
            }
        }
    })
}

/// The answer to a connection past `server.max_connections`.
const REFUSAL_BODY: &str =
    r#"{"detail":"Too many connections; try again shortly.","code":"too_many_connections"}"#;

/// Answers `503` on a plain connection (a TLS connection is just closed),
/// then closes it.
async fn refuse(mut stream: TcpStream, plain: bool) {
    if plain {
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
             retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{REFUSAL_BODY}",
            REFUSAL_BODY.len()
        );
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            stream.write_all(answer.as_bytes()).await?;
            stream.shutdown().await?;
            // Read what the client sent so that closing does not reset the
            // connection before it reads the answer.
            let mut sink = [0u8; 4096];
            loop {
                match tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await? {
                    0 => break,
                    _ => continue,
                }
            }
            Ok::<(), std::io::Error>(())
        })
        .await;
    }
}

/// Serves one connection with hyper's HTTP/1.1, until it closes or the
/// server stops.
async fn connection<S>(
    stream: S,
    peer: SocketAddr,
    tls: bool,
    app: Router,
    limits: Arc<Limits>,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Its requests being answered, and when the last one was.
    let activity = Arc::new(Activity::new());
    // Requests started on this connection (for the stop).
    let started = Arc::new(AtomicUsize::new(0));
    let io = TokioIo::new(ReadDeadlines::new(stream, &limits, activity.clone()));
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The header timeout is `ReadDeadlines`'s, not hyper's (no timer given,
    // none of hyper's).
    builder
        .header_read_timeout(None)
        // The exact limit is checked in `answer` (with a JSON body); this
        // one stops a huge head before it is buffered.
        .max_header_size((2 * limits.max_header_bytes).max(8192));
    let counted = started.clone();
    let answering = activity.clone();
    // This connection's own router (cloned when it was accepted): a request
    // holds it only while `answer` hands the request over. hyper calls the
    // service from the connection's task alone, so the lock is never
    // contended (and a panic cannot have poisoned it: nothing runs under it
    // but the router's synchronous call).
    let app = std::sync::Mutex::new(app);
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        counted.fetch_add(1, Ordering::AcqRel);
        let answered = answer(
            request,
            peer,
            tls,
            &mut app
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            &limits,
            answering.clone(),
        );
        async move { Ok::<_, std::convert::Infallible>(answered.await) }
    });
    let conn = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection closed with an error");
            }
            return;
        }
        () = async { let _ = stop.wait_for(|stop| *stop).await; } => {}
    }
    // Stopping. A connection with no request in flight may have one on the
    // way (a client that has just connected sends it at once): closing now
    // would reset it. Wait for it to start, for a short while.
    let linger_until = tokio::time::Instant::now() + STOP_LINGER;
    let seen = started.load(Ordering::Acquire);
    while activity.count.load(Ordering::Acquire) == 0
        && started.load(Ordering::Acquire) == seen
        && tokio::time::Instant::now() < linger_until
    {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection closed with an error");
                }
                return;
            }
            () = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
    }
    // The request in flight is answered (with `Connection: close`), then
    // the connection closes.
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

/// The size of a request's head as counted against
/// `server.max_header_bytes`: the request line and every header as
/// `name: value`, each with its line end.
fn header_bytes<B>(request: &Request<B>) -> usize {
    let request_line = request.method().as_str().len()
        + request
            .uri()
            .path_and_query()
            .map_or(1, |p| p.as_str().len())
        + " HTTP/1.1\r\n ".len();
    request_line
        + request
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>()
}

fn json_error(status: StatusCode, detail: &str, code: &str) -> Response<Body> {
    let body = serde_json::json!({"detail": detail, "code": code}).to_string();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// One request through the limits and the application.
///
/// The request is checked and handed to the router at once, before the
/// returned future runs: the router's future owns what it needs, so the
/// connection's router serves it without a clone of its own (a clone is a
/// reference count shared by every connection, a cache line the cores of a
/// busy server pass between them for every request).
fn answer(
    request: Request<Incoming>,
    peer: SocketAddr,
    tls: bool,
    app: &mut Router,
    limits: &Limits,
    activity: Arc<Activity>,
) -> impl Future<Output = Response<Body>> + Send + 'static {
    let guard = InFlight::enter(activity);
    let too_large = header_bytes(&request) > limits.max_header_bytes;
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(ConnectInfo(peer));
    if tls {
        parts.extensions.insert(Https);
    }
    let secure = tls || tessera_axum::client::is_secure(&parts, limits.trusted_proxies);
    let hsts = limits.hsts.as_ref().filter(|_| secure).cloned();
    let routed = if too_large {
        Err(json_error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "Request header fields too large.",
            "request_header_fields_too_large",
        ))
    } else {
        // A request without a body (most: `GET`, `Content-Length: 0`) has
        // nothing to time out, and skips the deadline's allocations.
        let timed_out = (!body.is_end_stream()).then(|| Arc::new(AtomicBool::new(false)));
        let body = match &timed_out {
            Some(flag) => Body::new(DeadlineBody {
                inner: body,
                deadline: Box::pin(tokio::time::sleep(limits.body_read_timeout)),
                timed_out: flag.clone(),
            }),
            None => Body::new(body),
        };
        // A `Router` is always ready (its `poll_ready` answers `Ready` at
        // once), so it is called without polling it first.
        Ok((app.call(Request::from_parts(parts, body)), timed_out))
    };
    async move {
        let mut response = match routed {
            Err(refusal) => refusal,
            Ok((routed, timed_out)) => {
                let response = match routed.await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                if timed_out.is_some_and(|flag| flag.load(Ordering::Relaxed)) {
                    json_error(
                        StatusCode::REQUEST_TIMEOUT,
                        "Request body not received in time.",
                        "request_timeout",
                    )
                } else {
                    response
                }
            }
        };
        if secure {
            secure_set_cookies(response.headers_mut());
            if let Some(hsts) = hsts {
                response
                    .headers_mut()
                    .insert(http::header::STRICT_TRANSPORT_SECURITY, hsts);
            }
        }
        // The connection counts as busy until the response body is sent.
        response.map(|body| {
            Body::new(GuardedBody {
                inner: body,
                _guard: guard,
            })
        })
    }
}

/// Adds `Secure` to every `Set-Cookie` of a response to a request that came
/// over TLS (the server's own, or a trusted proxy's by `X-Forwarded-Proto`),
/// so that `cookies.secure = auto` on a loopback bind behind a TLS proxy
/// still marks the cookies `Secure`.
fn secure_set_cookies(headers: &mut http::HeaderMap) {
    let cookies: Vec<HeaderValue> = headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .map(|value| {
            let text = String::from_utf8_lossy(value.as_bytes());
            let has_secure = text
                .split(';')
                .skip(1)
                .any(|attr| attr.trim().eq_ignore_ascii_case("secure"));
            if has_secure {
                value.clone()
            } else {
                HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or_else(|_| value.clone())
            }
        })
        .collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(http::header::SET_COOKIE);
    for cookie in cookies {
        headers.append(http::header::SET_COOKIE, cookie);
    }
}

/// A connection's requests being answered, and when the last one was.
struct Activity {
    count: AtomicUsize,
    /// When the connection opened.
    opened: tokio::time::Instant,
    /// When its last request was answered, in nanoseconds after `opened`.
    answered: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            count: AtomicUsize::new(0),
            opened: tokio::time::Instant::now(),
            answered: AtomicU64::new(0),
        }
    }

    fn last_answered(&self) -> tokio::time::Instant {
        self.opened + Duration::from_nanos(self.answered.load(Ordering::Acquire))
    }
}

/// Counts a request of the connection as being answered while alive.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn enter(activity: Arc<Activity>) -> InFlight {
        activity.count.fetch_add(1, Ordering::AcqRel);
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let since = u64::try_from(self.0.opened.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.0.answered.store(since, Ordering::Release);
        self.0.count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted until it is done.
struct GuardedBody {
    inner: Body,
    _guard: InFlight,
}

impl http_body::Body for GuardedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The request body, failing once `server.body_read_timeout` has passed
/// since the head was read.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timed_out: Arc<AtomicBool>,
}

/// The error of a body not received in time.
#[derive(Debug)]
struct BodyTimeout;

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request body not received in time")
    }
}

impl std::error::Error for BodyTimeout {}

impl http_body::Body for DeadlineBody {
    type Data = axum::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.timed_out.store(true, Ordering::Relaxed);
                    Poll::Ready(Some(Err(Box::new(BodyTimeout))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The connection's stream, failing a read (which closes the connection
/// without an answer) when, with none of its requests being answered,
///
/// - the client has been silent for `server.idle_timeout` (since its last
///   bytes, or since its last request was answered, whichever is later), or
/// - the next request's head has not arrived within
///   `server.header_read_timeout` of the connection waiting for it (since
///   the previous request was answered, or since the connection opened),
///   however the bytes trickle in.
///
/// hyper's own header timeout made (and dropped) a timer for every request:
/// an allocation and two trips through the timer wheel's lock. Here one
/// timer serves the connection's life. It is set when a read waits, also
/// while a request is being answered (then to the shorter timeout from now,
/// a check and nothing more: a request may take as long as it takes), and when it fires
/// the deadlines are worked out again from what happened since. Setting it
/// to a later deadline, the usual case, is an atomic store in tokio.
struct ReadDeadlines<S> {
    inner: S,
    idle: Duration,
    header: Duration,
    activity: Arc<Activity>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    /// The deadline is set for the present wait.
    armed: bool,
    /// When the present wait began (the client's bytes before it were read).
    waiting_since: tokio::time::Instant,
}

impl<S> ReadDeadlines<S> {
    fn new(inner: S, limits: &Limits, activity: Arc<Activity>) -> Self {
        ReadDeadlines {
            inner,
            idle: limits.idle_timeout,
            header: limits.header_read_timeout,
            activity,
            deadline: Box::pin(tokio::time::sleep(limits.idle_timeout)),
            armed: false,
            waiting_since: tokio::time::Instant::now(),
        }
    }

    /// When the present wait should end, as things stand at `now`; `None`:
    /// never (a timeout past what an `Instant` can hold, a configured
    /// `500000000000y`, never fires, as `tokio::time::sleep`'s).
    fn until(&self, now: tokio::time::Instant) -> Option<tokio::time::Instant> {
        if self.activity.count.load(Ordering::Acquire) > 0 {
            // A request is being answered: its body has a deadline of its
            // own, and the wait for the next head has not begun. Look again
            // in a while: no later than either deadline can fall once it is
            // answered (both count from its answer, which is after now).
            return now.checked_add(self.idle.min(self.header));
        }
        // The wait for the next head began when the last request was
        // answered (on a new connection: when it opened).
        let head_since = self.activity.last_answered();
        let quiet_since = head_since.max(self.waiting_since);
        match (
            quiet_since.checked_add(self.idle),
            head_since.checked_add(self.header),
        ) {
            (Some(idle), Some(head)) => Some(idle.min(head)),
            (Some(until), None) | (None, Some(until)) => Some(until),
            (None, None) => None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadDeadlines<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if let Poll::Ready(result) = Pin::new(&mut this.inner).poll_read(cx, buf) {
            this.armed = false;
            return Poll::Ready(result);
        }
        if !this.armed {
            let now = tokio::time::Instant::now();
            this.waiting_since = now;
            let Some(until) = this.until(now) else {
                return Poll::Pending;
            };
            this.deadline.as_mut().reset(until);
            this.armed = true;
        }
        while this.deadline.as_mut().poll(cx).is_ready() {
            // Fired: see whether a deadline has really passed.
            let now = tokio::time::Instant::now();
            match this.until(now) {
                Some(until) if until > now => this.deadline.as_mut().reset(until),
                Some(_) => {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "idle or header read timeout",
                    )))
                }
                None => {
                    this.armed = false;
                    return Poll::Pending;
                }
            }
        }
        Poll::Pending
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadDeadlines<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Config, String> {
        let mut result = Err(String::new());
        figment::Jail::expect_with(|jail| {
            for (k, v) in vars {
                jail.set_env(k, v);
            }
            result = Config::load(None);
            Ok(())
        });
        result
    }

    #[test]
    fn defaults() {
        let limits = Limits::from_config(&Config::default()).unwrap();
        assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
        assert_eq!(limits.body_read_timeout, Duration::from_secs(30));
        assert_eq!(limits.idle_timeout, Duration::from_secs(5));
        assert_eq!(limits.max_connections, 1024);
        assert_eq!(limits.max_header_bytes, 16 * 1024);
        assert_eq!(limits.hsts_max_age, 365 * 86_400);
        assert_eq!(limits.trusted_proxies, 0);
        assert!(!crate::tls_enabled(&Config::default()).unwrap());
    }

    #[test]
    fn hsts_max_age_zero_is_off_and_other_values_are_durations() {
        let c = load(&[("TESSERA_SERVER__HSTS_MAX_AGE", "0")]).unwrap();
        assert_eq!(Limits::from_config(&c).unwrap().hsts_max_age, 0);
        let c = load(&[("TESSERA_SERVER__HSTS_MAX_AGE", "2d")]).unwrap();
        assert_eq!(Limits::from_config(&c).unwrap().hsts_max_age, 172_800);
        let c = load(&[("TESSERA_SERVER__HSTS_MAX_AGE", "600")]).unwrap();
        assert_eq!(Limits::from_config(&c).unwrap().hsts_max_age, 600);
        let c = load(&[("TESSERA_SERVER__HSTS_MAX_AGE", "soon")]).unwrap_err();
        assert!(c.to_lowercase().contains("hsts_max_age"), "{c}");
    }

    #[test]
    fn trusted_proxies_and_its_alias() {
        let c = load(&[("TESSERA_THROTTLE__NUM_PROXIES", "2")]).unwrap();
        assert_eq!(crate::trusted_proxies(&c).unwrap(), 2);
        let c = load(&[("TESSERA_SERVER__TRUSTED_PROXIES", "1")]).unwrap();
        assert_eq!(crate::trusted_proxies(&c).unwrap(), 1);
        assert_eq!(crate::settings(&c).unwrap().num_proxies, 1);
        let c = load(&[
            ("TESSERA_SERVER__TRUSTED_PROXIES", "1"),
            ("TESSERA_THROTTLE__NUM_PROXIES", "2"),
        ])
        .unwrap();
        let e = crate::trusted_proxies(&c).unwrap_err().to_string();
        assert_eq!(
            e,
            "server.trusted_proxies (1) and its alias throttle.num_proxies (2) disagree: set one"
        );
    }

    #[test]
    fn tls_needs_both_files_and_makes_auto_cookies_secure() {
        let c = load(&[("TESSERA_TLS__CERT_FILE", "/c.pem")]).unwrap();
        assert!(crate::tls_enabled(&c).is_err());
        let c = load(&[
            ("TESSERA_TLS__CERT_FILE", "/c.pem"),
            ("TESSERA_TLS__KEY_FILE", "/k.pem"),
        ])
        .unwrap();
        assert!(crate::secure_cookies(&c).unwrap());
        assert!(!crate::secure_cookies(&Config::default()).unwrap());
    }

    #[test]
    fn host_prefix_names_and_refusal() {
        let c = load(&[
            ("TESSERA_COOKIES__HOST_PREFIX", "true"),
            ("TESSERA_TLS__CERT_FILE", "/c.pem"),
            ("TESSERA_TLS__KEY_FILE", "/k.pem"),
        ])
        .unwrap();
        assert_eq!(
            crate::cookie_names(&c).unwrap(),
            ("__Host-sessionid".to_owned(), "__Host-csrftoken".to_owned())
        );
        let c = load(&[("TESSERA_COOKIES__HOST_PREFIX", "true")]).unwrap();
        assert!(crate::cookie_names(&c).is_err());
        assert!(crate::settings(&c).is_err());
    }

    #[test]
    fn head_size_counts_the_request_line_and_every_header() {
        let request = Request::builder()
            .uri("/a?b=c")
            .header("x-a", "12345")
            .body(())
            .unwrap();
        // "GET /a?b=c HTTP/1.1\r\n" + "x-a: 12345\r\n"
        assert_eq!(header_bytes(&request), 21 + 12);
    }

    #[test]
    fn set_cookies_get_secure_once() {
        let mut headers = http::HeaderMap::new();
        headers.append(
            http::header::SET_COOKIE,
            HeaderValue::from_static("a=1; Path=/"),
        );
        headers.append(
            http::header::SET_COOKIE,
            HeaderValue::from_static("b=2; Secure; Path=/"),
        );
        secure_set_cookies(&mut headers);
        let values: Vec<_> = headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(values, ["a=1; Path=/; Secure", "b=2; Secure; Path=/"]);
    }
}
