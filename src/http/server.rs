//! The socket side of the server: accepting connections under limits, TLS, timeouts, HEAD,
//! and graceful shutdown.
//!
//! warp's own `serve` keeps a connection open for as long as the client likes: one that sends a
//! header byte every few seconds, or nothing at all, holds a socket (and counts against nothing)
//! for ever. Here every connection is driven by hyper directly, with:
//! - at most [`ConnLimits::max_connections`] open at once and at most
//!   [`ConnLimits::max_per_address`] from one address (more are answered `503` and closed; over
//!   TLS simply closed);
//! - a header-read timeout (hyper's: the headers of a request must arrive within
//!   [`ConnLimits::header_read_timeout`] of its first byte; the TLS handshake too);
//! - an idle timeout: a connection with no request in progress and no bytes in either direction
//!   for [`ConnLimits::idle_timeout`] is closed (keep-alive connections included; hyper's
//!   header timer also closes a connection that has sent nothing since it opened);
//! - `HEAD` answered as `GET` without a body (hyper drops the body and keeps the headers);
//! - graceful shutdown: new connections stop, idle ones close, requests in flight finish.
//!
//! The client's address reaches the routes as a request extension ([`remote`]).

use super::AppState;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use warp::Filter;
use warp::hyper::{self, Body, Request, Response};

/// Limits on connections (see the module documentation).
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    /// 0: no limit
    pub max_connections: usize,
    /// 0: no limit
    pub max_per_address: usize,
}

impl Default for ConnLimits {
    fn default() -> ConnLimits {
        ConnLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_per_address: 128,
        }
    }
}

/// The client's address, put on each request by the connection that carried it.
#[derive(Clone, Copy, Debug)]
pub struct RemoteAddr(pub SocketAddr);

/// The client's address: from the connection (this module), else from warp (in-process tests
/// that set one).
pub fn remote() -> impl Filter<Extract = (Option<SocketAddr>,), Error = Infallible> + Clone {
    warp::ext::optional::<RemoteAddr>()
        .and(warp::addr::remote())
        .map(|ext: Option<RemoteAddr>, addr: Option<SocketAddr>| ext.map(|r| r.0).or(addr))
}

/// The server's future, boxed (plain and TLS servers are different types).
pub type ServerFuture = Pin<Box<dyn std::future::Future<Output = ()>>>;

/// Binds `addr` and serves until `shutdown` completes, over TLS (rustls) when `tls` names a
/// PEM certificate chain and key. Returns the bound address (useful with port 0) and the
/// server future.
pub fn bind(
    state: Arc<AppState>,
    addr: SocketAddr,
    tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(SocketAddr, ServerFuture)> {
    let acceptor = match tls {
        Some((cert, key)) => Some(tls_acceptor(&cert, &key)?),
        None => None,
    };
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let limits = state.limits.conn;
    let service = warp::service(super::routes(state).map(warp::Reply::into_response).boxed());
    let fut = async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen");
                return;
            }
        };
        serve(listener, service, acceptor, limits, shutdown).await;
    };
    Ok((local, Box::pin(fut)))
}

fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use tokio_rustls::rustls;
    // Read them here, so a bad path or file is a clear error at start-up.
    let read = |p: &std::path::Path, what: &str| {
        std::fs::read(p).map_err(|e| anyhow::anyhow!("cannot read {what} {}: {e}", p.display()))
    };
    let cert_pem = read(cert, "--tls-cert")?;
    let key_pem = read(key, "--tls-key")?;
    let certs = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("--tls-cert {}: {e}", cert.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "--tls-cert {}: no PEM certificate in the file",
        cert.display()
    );
    let key = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|e| anyhow::anyhow!("--tls-key {}: {e}", key.display()))?
        .ok_or_else(|| anyhow::anyhow!("--tls-key {}: no PEM private key", key.display()))?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| anyhow::anyhow!("TLS certificate and key: {e}"))?;
    // HTTP/1.1 only: the header-read and idle timeouts are enforced on HTTP/1
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Open connections, in total and per address.
#[derive(Default)]
struct Tracker {
    open: AtomicUsize,
    per_address: Mutex<HashMap<IpAddr, usize>>,
}

/// One admitted connection; gives its place back when dropped.
struct Admitted {
    tracker: Arc<Tracker>,
    ip: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.tracker.open.fetch_sub(1, Ordering::AcqRel);
        let mut m = self
            .tracker
            .per_address
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

impl Tracker {
    /// A place for a connection from `ip`, or why not.
    fn admit(self: &Arc<Self>, ip: IpAddr, lim: &ConnLimits) -> Result<Admitted, &'static str> {
        let mut m = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
        let here = m.get(&ip).copied().unwrap_or(0);
        if lim.max_per_address > 0 && here >= lim.max_per_address {
            return Err("too many connections from this address");
        }
        let open = self.open.load(Ordering::Acquire);
        if lim.max_connections > 0 && open >= lim.max_connections {
            return Err("the server has as many connections open as it accepts");
        }
        self.open.fetch_add(1, Ordering::AcqRel);
        *m.entry(ip).or_insert(0) += 1;
        Ok(Admitted {
            tracker: self.clone(),
            ip,
        })
    }
}

async fn serve<S>(
    listener: tokio::net::TcpListener,
    service: S,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: ConnLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) where
    S: hyper::service::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let tracker = Arc::new(Tracker::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            a = listener.accept() => a,
        };
        let (stream, remote) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // out of file descriptors and the like: wait a little rather than spin
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match tracker.admit(remote.ip(), &limits) {
            Ok(place) => {
                let service = service.clone();
                let tls = tls.clone();
                let stop = stop_rx.clone();
                tokio::spawn(async move {
                    connection(stream, remote, service, tls, limits, stop).await;
                    drop(place);
                });
            }
            Err(why) => {
                tracing::warn!(%remote, why, "connection refused");
                let plain = tls.is_none();
                tokio::spawn(refuse(stream, why, plain));
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // requests in flight finish; idle connections close at once
    while tracker.open.load(Ordering::Acquire) > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Answers a refused connection with a JSON `503` (plain HTTP) and closes it.
async fn refuse(mut stream: tokio::net::TcpStream, why: &str, plain: bool) {
    if plain {
        let body =
            serde_json::json!({"code": "busy", "message": format!("{why}; try again shortly")})
                .to_string();
        let head = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 5\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
            let _ = stream.shutdown().await;
        })
        .await;
    }
}

async fn connection<S>(
    stream: tokio::net::TcpStream,
    remote: SocketAddr,
    service: S,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: ConnLimits,
    stop: tokio::sync::watch::Receiver<bool>,
) where
    S: hyper::service::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = Timed::new(stream, activity.clone());
    match tls {
        None => drive(io, remote, service, limits, activity, stop).await,
        Some(acceptor) => {
            match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(io)).await {
                Ok(Ok(tls_io)) => drive(tls_io, remote, service, limits, activity, stop).await,
                Ok(Err(e)) => tracing::debug!(%remote, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
            }
        }
    }
}

async fn drive<I, S>(
    io: I,
    remote: SocketAddr,
    service: S,
    limits: ConnLimits,
    activity: Arc<Activity>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let activity_svc = activity.clone();
    let svc = hyper::service::service_fn(move |mut req: Request<Body>| {
        req.extensions_mut().insert(RemoteAddr(remote));
        // HEAD is GET without the body: hyper knows the request was HEAD and sends no body
        if req.method() == hyper::Method::HEAD {
            *req.method_mut() = hyper::Method::GET;
        }
        let busy = InFlight::new(activity_svc.clone());
        let mut service = service.clone();
        let fut = service.call(req);
        async move {
            let r = fut.await;
            drop(busy);
            r
        }
    });
    let mut http = hyper::server::conn::Http::new();
    http.http1_only(true)
        .http1_keep_alive(true)
        .http1_header_read_timeout(limits.header_read_timeout);
    let conn = http.serve_connection(io, svc);
    tokio::pin!(conn);
    // The idle watchdog: hyper does not read a kept-alive connection until the client sends
    // something, so the timer cannot live in the stream; it watches the activity instead.
    let idle = limits.idle_timeout;
    let watchdog = async {
        loop {
            let now = Instant::now();
            let due = activity.last() + idle;
            if now >= due && activity.in_flight.load(Ordering::Acquire) == 0 {
                break;
            }
            // a request in progress is not idle: look again an idle period later
            let wait = if now >= due { idle } else { due - now };
            tokio::time::sleep(wait).await;
        }
    };
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%remote, error = %e, "connection ended");
            }
        }
        _ = watchdog => {
            tracing::debug!(%remote, "idle connection closed");
        }
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// What the idle timer needs to know of a connection: when bytes last moved, and whether a
/// request is being answered (a long computation moves no bytes and is not idle).
struct Activity {
    start: Instant,
    /// milliseconds since `start`
    last: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }
    fn touch(&self) {
        self.last
            .store(self.start.elapsed().as_millis() as u64, Ordering::Release);
    }
    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last.load(Ordering::Acquire))
    }
}

/// A request being answered on a connection (dropped when the answer is ready or the request
/// is abandoned).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(a: Arc<Activity>) -> InFlight {
        a.in_flight.fetch_add(1, Ordering::AcqRel);
        a.touch();
        InFlight(a)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A stream that notes in its [`Activity`] when bytes move either way (the idle watchdog in
/// `drive` reads it).
struct Timed<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Timed<S> {
    fn new(inner: S, activity: Arc<Activity>) -> Timed<S> {
        activity.touch();
        Timed { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Timed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.touch();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Timed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
