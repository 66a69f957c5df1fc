//! What one client, or all of them together, can make the server hold:
//! connections, time and memory.
//!
//! Without these limits a few clients could take the daemon down without
//! ever sending a valid message: sixteen 9 MB bodies at once took it from
//! 0.7 to 3.2 GB, a 100 MB Content-Length was read before it was refused,
//! and 2,000 connections that never finished their headers were all held.
//!
//! - **Body budget**: the bytes of message bodies in flight across all
//!   requests are bounded ([`Settings::body_budget_bytes`]). A request
//!   reserves its Content-Length (or the size limit, when it streams without
//!   one) before its body is read and keeps the reservation until it is
//!   answered, because the handler's working memory (the parsed message, its
//!   retour) lives as long as that. A request that does not fit waits up to
//!   [`Settings::budget_wait_ms`] for others to finish, then gets 503 with
//!   `Retry-After`.
//! - **Size limit before reading**: a Content-Length over
//!   `max_message_bytes` is answered 413 at once and the connection closed,
//!   without reading a byte of the body. A body without Content-Length is
//!   cut off at the limit as it streams (axum's `DefaultBodyLimit`).
//! - **Timeouts**: the request headers must arrive within
//!   [`Settings::header_read_timeout_secs`]; hyper counts that from the
//!   moment a connection waits for its next request, so it is also the
//!   keep-alive idle timeout. A body that stops flowing for
//!   [`Settings::body_read_timeout_secs`] is abandoned and the connection
//!   closed. A body that keeps trickling in under that timeout is cut off
//!   at its deadline: the same timeout plus its size at
//!   [`Settings::body_min_rate_bytes_per_sec`], so a slow client cannot hold
//!   its share of the budget for ever.
//! - **Forms are small**: a form post (`application/x-www-form-urlencoded`:
//!   the login and the web app's forms) may be at most [`FORM_LIMIT`], so a
//!   client that is not logged in cannot reserve a message's share of the
//!   budget on `/login`.
//! - **Connections**: at most [`Settings::max_connections`] are served at
//!   once; the next waits in the kernel's accept queue until one closes.
//!   HTTP/1.1 only, so every connection is under these timeouts.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::AppState;
use super::routes::ApiError;

/// `[limits]` in the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Bytes of request bodies in flight across all requests. The default,
    /// 256 MiB, lets ten messages of the default 25 MiB limit
    /// ([`crate::adapter::istandaard::MAX_MESSAGE_BYTES`]) be handled at once
    /// (a machine has far fewer cores than that, so more would only queue;
    /// the writer takes one message at a time) while the process stays under
    /// 1 GiB at its peak: a message costs about three times its size while
    /// it is checked, judged and stored (`cargo bench --bench memory`). A
    /// fixed value rather than a share of the RAM: what the host has is not
    /// what loket may take of it. A budget below [`MIN_MESSAGES_IN_BUDGET`]
    /// maximal messages is warned about at start.
    pub body_budget_bytes: u64,
    /// How long a request waits for room in the budget before it gets 503.
    pub budget_wait_ms: u64,
    /// The `Retry-After` (seconds) sent with the 503 of a full budget.
    pub retry_after_secs: u64,
    /// Time to send a request's headers, counted from when the connection
    /// waits for it: also the keep-alive idle timeout.
    pub header_read_timeout_secs: u64,
    /// Longest pause in a request body before it is abandoned.
    pub body_read_timeout_secs: u64,
    /// The slowest a request body may arrive on average: its deadline is
    /// `body_read_timeout_secs` plus its size at this rate. The default,
    /// 64 KiB/s (about 0.5 Mbit/s), gives a 25 MiB message seven minutes.
    pub body_min_rate_bytes_per_sec: u64,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// The reverse proxies whose `X-Forwarded-For` is believed
    /// ([`super::client`]); none by default.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// Maximal messages the body budget should hold at once: fewer, and a few
/// large declarations arriving together make every other client wait or get
/// 503 while the cores are idle.
pub const MIN_MESSAGES_IN_BUDGET: u64 = 4;

impl Settings {
    /// Why this budget does not fit messages of `max_message_bytes`, or
    /// `None`. Only a warning: a budget smaller than one message still works
    /// (such a message takes the whole budget and is handled alone).
    pub fn budget_note(&self, max_message_bytes: usize) -> Option<String> {
        let fits = self.body_budget_bytes / (max_message_bytes as u64).max(1);
        (fits < MIN_MESSAGES_IN_BUDGET).then(|| {
            format!(
                "[limits] body_budget_bytes = {} holds {fits} message(s) of max_message_bytes = {max_message_bytes}; \
                 at least {MIN_MESSAGES_IN_BUDGET} are advised, or large messages wait for each other",
                self.body_budget_bytes
            )
        })
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            body_budget_bytes: 256 * 1024 * 1024,
            budget_wait_ms: 2000,
            retry_after_secs: 5,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
            body_min_rate_bytes_per_sec: 64 * 1024,
            max_connections: 1024,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The body budget, in KiB units so any budget fits the semaphore's u32
/// requests.
#[derive(Debug, Clone)]
pub struct Budget {
    permits: Arc<Semaphore>,
    total_kib: u32,
    wait: Duration,
    retry_after: u64,
    /// Longest pause in a request body.
    pub body_read_timeout: Duration,
    /// See [`Settings::body_min_rate_bytes_per_sec`].
    body_min_rate: u64,
}

impl Budget {
    pub fn new(settings: &Settings) -> Budget {
        let total_kib = u32::try_from(settings.body_budget_bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, Semaphore::MAX_PERMITS as u32);
        Budget {
            permits: Arc::new(Semaphore::new(total_kib as usize)),
            total_kib,
            wait: Duration::from_millis(settings.budget_wait_ms),
            retry_after: settings.retry_after_secs,
            body_read_timeout: Duration::from_secs(settings.body_read_timeout_secs.max(1)),
            body_min_rate: settings.body_min_rate_bytes_per_sec.max(1),
        }
    }

    /// How long a body of `bytes` may take to arrive in all.
    fn body_deadline(&self, bytes: u64) -> Duration {
        self.body_read_timeout + Duration::from_secs(bytes / self.body_min_rate)
    }

    /// Reserves `bytes`, waiting up to the configured time. A request larger
    /// than the whole budget takes all of it (it is within the size limit, so
    /// it must be possible to handle it alone).
    async fn reserve(&self, bytes: u64) -> Option<OwnedSemaphorePermit> {
        let kib = u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, self.total_kib);
        tokio::time::timeout(self.wait, self.permits.clone().acquire_many_owned(kib))
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// Bytes of the budget in use now (for tests and metrics).
    pub fn in_use_bytes(&self) -> u64 {
        u64::from(self.total_kib).saturating_sub(self.permits.available_permits() as u64) * 1024
    }

    pub fn retry_after(&self) -> u64 {
        self.retry_after
    }
}

/// Answered when a request does not fit the body budget in time.
pub fn busy(retry_after: u64) -> Response {
    let mut res = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "loket is druk; probeer het over enkele seconden opnieuw",
        "loket is busy; try again in a few seconds",
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// Middleware: the size limit on the Content-Length before the body is
/// read, then the body budget for as long as the request is handled.
pub async fn body_budget(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let limit = match is_form {
        true => FORM_LIMIT.min(state.ingest.limits.max_bytes as u64),
        false => state.ingest.limits.max_bytes as u64,
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let size = match declared {
        Some(0) => return next.run(req).await,
        Some(n) if n > limit => {
            return ApiError::too_large(limit as usize).into_response();
        }
        Some(n) => n,
        // No Content-Length: a GET without body, or a chunked body that may
        // grow up to the limit.
        None if has_body(&req) => limit,
        None => return next.run(req).await,
    };
    match state.budget.reserve(size).await {
        Some(permit) => {
            let deadline = state.budget.body_deadline(size);
            let req = req.map(|body| {
                axum::body::Body::new(DeadlineBody {
                    inner: body,
                    deadline: Box::pin(tokio::time::sleep(deadline)),
                })
            });
            let res = next.run(req).await;
            drop(permit);
            res
        }
        None => {
            tracing::warn!(bytes = size, "body budget exhausted; 503");
            let mut res = busy(state.budget.retry_after());
            // The body was not read: the connection cannot carry another
            // request.
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            res
        }
    }
}

/// Largest form post: the web app's forms are a few hundred bytes, a bulk
/// action on the review list a few dozen per selected item.
pub const FORM_LIMIT: u64 = 1024 * 1024;

/// A request body that must have arrived whole by its deadline; after it,
/// reading fails (the request is answered 4xx and the connection closed).
struct DeadlineBody {
    inner: axum::body::Body,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
}

/// Why a body was cut off.
#[derive(Debug, thiserror::Error)]
#[error("request body not received within its deadline")]
struct BodyDeadline;

impl http_body::Body for DeadlineBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if this.deadline.as_mut().poll(cx).is_ready() {
            return std::task::Poll::Ready(Some(Err(axum::Error::new(BodyDeadline))));
        }
        std::pin::Pin::new(&mut this.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Whether the request streams a body of unknown length.
fn has_body(req: &Request) -> bool {
    req.headers().contains_key(header::TRANSFER_ENCODING)
}

/// Serves `router` on `listener` with the connection limits and timeouts of
/// `settings`, until `shutdown` completes; then lets the connections under
/// way finish (at most 30 s).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    settings: &Settings,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    // HTTP/1.1 only: the header and idle timeouts are HTTP/1's, and an
    // HTTP/2 connection (h2c) could stay open idle for ever. A TLS proxy in
    // front speaks HTTP/2 to browsers and HTTP/1.1 to loket.
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(
            settings.header_read_timeout_secs.max(1),
        ));
    let builder = Arc::new(builder);
    let connections = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let trusted: Arc<[std::net::IpAddr]> = settings.trusted_proxies.clone().into();
    tokio::pin!(shutdown);
    loop {
        // A connection slot first: at the limit, new connections wait in the
        // kernel's queue instead of taking memory here.
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => p.context("connection limit closed")?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let trusted = trusted.clone();
        let service = hyper_util::service::TowerToHyperService::new(
            tower::ServiceExt::map_request(router.clone(), move |mut req: Request<_>| {
                let client = super::client::resolve(peer.ip(), req.headers(), &trusted);
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                req.extensions_mut()
                    .insert(super::client::ClientAddr(client));
                req
            }),
        );
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(error = %e, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after 30 s; stopping anyway");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::istandaard::MAX_MESSAGE_BYTES;

    #[test]
    fn the_default_budget_holds_several_maximal_messages() {
        let s = Settings::default();
        assert!(s.body_budget_bytes / MAX_MESSAGE_BYTES as u64 >= MIN_MESSAGES_IN_BUDGET);
        assert_eq!(s.budget_note(MAX_MESSAGE_BYTES), None);
        let small = Settings {
            body_budget_bytes: 2 * MAX_MESSAGE_BYTES as u64,
            ..Settings::default()
        };
        let note = small.budget_note(MAX_MESSAGE_BYTES).expect("a note");
        assert!(note.contains("holds 2 message(s)"), "{note}");
    }
}
