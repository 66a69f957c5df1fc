//! `loket serve`: the HTTP API (axum on tokio).
//!
//! The back-office web app ([`crate::web`]) is served beside the API; its
//! pages use a login session instead of a token.
//!
//! Every call but `/healthz` needs `Authorization: Bearer TOKEN`; the token
//! decides the tenant, and every query is scoped to it (another tenant's data
//! answers 404, never 403). Logs and metrics carry the route template and a
//! request id, never the raw path, a BSN or a name.

pub mod access;
pub mod allocations;
pub mod client;
pub mod deadlines;
pub mod decisions;
pub mod declarations;
pub mod headers;
pub mod input;
pub mod invoices;
pub mod limits;
pub mod metrics;
pub mod outbox;
pub mod outcomes;
pub mod received;
pub mod registrations;
pub mod requests;
pub mod results;
pub mod review;
pub mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;

use crate::record::Ingest;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub ingest: Ingest,
    pub metrics: Arc<metrics::Metrics>,
    /// Every tenant's financier mappings, loaded and checked at start.
    pub mappings: Arc<crate::mapping::TenantMappings>,
    /// The outcome instruments, loaded and checked at start.
    pub instruments: Arc<crate::instrument::Instruments>,
    /// `[evaluations]` of the configuration.
    pub evaluations: Arc<crate::record::outcomes::EvaluationSettings>,
    /// Wakes the outbox worker after a message was queued.
    pub outbox: crate::outbox::Outbox,
    /// The bytes of request bodies in flight ([`limits`]).
    pub budget: limits::Budget,
}

impl AppState {
    pub fn store(&self) -> &Store {
        &self.ingest.store
    }
}

/// Builds the router with all layers.
pub fn router(state: AppState) -> Router {
    let limit = state.ingest.limits.max_bytes;
    let body_timeout = state.budget.body_read_timeout;
    let router = routes::routes()
        .merge(crate::web::routes())
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::body_budget,
        ))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            body_timeout,
        ));
    headers::security(router)
        .layer(middleware::from_fn(access_log))
        .with_state(state)
}

/// Logs one line per request with a request id, the route template (not the
/// path, which may hold an identifier), the status and the latency.
async fn access_log(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = req.method().clone();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_string)
        .unwrap_or_else(crate::store::new_id);
    let span = tracing::info_span!("request", %request_id, %method, %route);
    let mut res = tracing::Instrument::instrument(next.run(req), span.clone()).await;
    // Milliseconds to one decimal: enough to read, no float noise.
    let ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
    tracing::info!(parent: &span, status = res.status().as_u16(), ms, "request");
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

/// Runs the server until Ctrl-C / SIGTERM.
pub async fn serve(state: AppState, listen: SocketAddr, settings: &limits::Settings) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(address = %listener.local_addr()?, "loket is listening");
    // The peer address reaches handlers as ConnectInfo (limits::serve puts
    // it on every request): the access log records where an access came
    // from (server::access::Peer), the login rate limit counts per address.
    limits::serve(listener, router(state), settings, shutdown())
        .await
        .context("server failed")
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
