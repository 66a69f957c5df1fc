//! VECOZO's VSP-Koppeling: how a provider's messages reach municipalities in
//! practice. A provider never sends to a municipality directly; its software
//! pushes to VECOZO, which routes through RINIS and the GGk, and pulls what
//! came back the same way.
//!
//! The rooms, as every transport has them:
//! - [`config`]: the `[[vsp]]` section of a tenant, the environments and
//!   the services' URLs;
//! - [`tls`]: the systeemcertificaat and the mutual-TLS client;
//! - [`routing`]: the berichtstroom per message, as data;
//! - [`push`]: `POST /berichten`, called by the outbox worker;
//! - [`pull`]: `GET /berichten`, the payload, ingest, `DELETE` to confirm;
//! - [`status`]: `GET /berichtstatussen` until a status is final;
//! - [`service`]: the per-tenant loops `loket serve` runs.
//!
//! The record keeps the exchange's identifiers and statuses
//! ([`crate::record::exchange`]); the outbox keeps order and retries.

pub mod config;
pub mod pull;
pub mod push;
pub mod routing;
pub mod service;
pub mod status;
pub mod tls;

use anyhow::{Context, Result};

pub use config::{Environment, VspConfig};

/// One tenant's connection: its certificate in a client, and where it
/// pulls from.
#[derive(Debug)]
pub struct Connection {
    pub tenant: String,
    /// The base of the tenant's own environment (pull, status, retours).
    pub base: String,
    pub http: reqwest::Client,
    pub routing: &'static routing::Routing,
    pub config: VspConfig,
}

/// Every configured tenant's connection, built once at start.
pub type Clients = crate::transport::PerTenant<Connection>;

impl Clients {
    /// Checks every `[[vsp]]` section, reads each certificate and builds
    /// each client; any problem stops loket with the tenant named.
    pub fn load(configs: &[VspConfig]) -> Result<Clients> {
        if configs.is_empty() {
            return Ok(Clients::default());
        }
        let routing = routing::Routing::builtin()?;
        let mut conns = Vec::with_capacity(configs.len());
        for cfg in configs {
            let env = cfg.check()?;
            let identity = tls::identity(cfg)
                .with_context(|| format!("[[vsp]] {}: systeemcertificaat", cfg.tenant))?;
            let http = tls::client(cfg, identity)?;
            let conn = Connection {
                tenant: cfg.tenant.clone(),
                base: env.base(),
                http,
                routing,
                config: cfg.clone(),
            };
            conns.push((cfg.tenant.clone(), conn));
        }
        Clients::new("[[vsp]]", conns)
    }
}

/// One outgoing message the outbox worker claimed for the exchange.
pub struct Delivery<'a> {
    /// Its identifiers, chosen (or read back, on a retry) and committed
    /// with the claim, before the push.
    pub ids: &'a crate::record::exchange::PushIds,
    pub tenant: &'a str,
    pub message_id: &'a str,
    pub bericht: &'a str,
    pub identificatie: &'a str,
    /// The environment's base URL, as the outbox row holds it.
    pub base: &'a str,
    pub payload: &'a [u8],
}

/// When the status of a push accepted now is first asked: one status
/// interval of the tenant's connection from now.
pub fn first_status_check(clients: &Clients, tenant: &str) -> String {
    let secs = clients
        .get(tenant)
        .map_or(60, |c| c.config.status_interval_secs);
    let first = chrono::Utc::now() + chrono::Duration::seconds(i64::try_from(secs).unwrap_or(60));
    first.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Pushes `d` with its tenant's certificate. The identifiers were committed
/// with the claim; a push VECOZO accepted is followed by the status loop
/// once the worker records it (same commit as the outcome); a push it
/// refused goes to the review queue with VECOZO's reason.
pub async fn deliver(
    store: &crate::store::Store,
    clients: &Clients,
    d: &Delivery<'_>,
) -> crate::transport::Sent {
    use crate::transport::Sent;
    let Some(conn) = clients.get(d.tenant) else {
        return Sent::Failed {
            status: None,
            error: format!(
                "geen [[vsp]]-verbinding (systeemcertificaat) voor {t} in de configuratie / no [[vsp]] connection (system certificate) for {t} in the configuration",
                t = d.tenant
            ),
        };
    };
    let sent = push::send(
        conn,
        d.base,
        push::Push {
            tenant: d.tenant,
            message_id: d.message_id,
            bericht: d.bericht,
            identificatie: d.identificatie,
            ids: &d.ids.ids,
            geadresseerde: d.ids.receiver.as_deref().unwrap_or_default(),
            payload: d.payload.to_vec(),
        },
    )
    .await;
    if let Sent::Failed {
        status: Some(code @ (400 | 422)),
        error,
    } = &sent
        && let Err(e) =
            crate::record::exchange::refused(store, d.tenant, d.message_id, *code, error).await
    {
        tracing::error!(message_id = %d.message_id, error = %format!("{e:#}"), "vsp: cannot store the review item of a refused push");
    }
    sent
}
