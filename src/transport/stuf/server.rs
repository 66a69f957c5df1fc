//! loket's SOAP listener for the GGk: what the municipality's Digikoppeling
//! adapter delivers (`POST /ggk`, SOAP 1.1 document/literal, one-way: no
//! Bv03), on its own address per `[[stuf]]` section, behind mutual TLS
//! (a client certificate chaining to the section's `ca`, demanded in the
//! handshake).
//!
//! - A Di01 or Du01: its payload goes through the same ingest as every
//!   transport's ([`Ingest::prepare`], submit, answer) and the envelope's
//!   identifiers are kept with it; the retour the record makes for a Di01
//!   is queued for the outbox as a Du01 to the adapter. Only then does
//!   loket answer 202, with no body. The same envelope again (same
//!   referentienummer) is answered 202 and changes nothing.
//! - A payload that fails its XSD (or is no iStandaarden message at all):
//!   202, and a Fo01 with StUF055 is queued instead of a retour.
//! - A Fo01: tied to the message of loket's it refuses and turned into a
//!   review item (see [`crate::record::exchange::fault_received`]).
//! - An envelope loket cannot use (not XML, a DTD, an unknown root,
//!   stuurgegevens missing, too large, addressed to someone else): a SOAP
//!   fault `Client`, HTTP 500, nothing stored. A store that is down: a SOAP
//!   fault `Server`; the adapter sends again.
//!
//! Logs carry the tenant, the berichtcode, the functie and the
//! referentienummer (a UUID), never anything from the payload.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::envelope::{self, Body as EnvBody, Envelope, Fout, Kind, Stuurgegevens, Systeem};
use super::{Connection, Connections, Edition};
use crate::outbox::Outbox;
use crate::record::exchange::{self, FaultIn, FaultOut, Ids, ReplyTo};
use crate::record::{Ingest, IngestError};
use crate::store::{Tenant, TenantKind};

/// The path the adapter posts to.
pub const PATH: &str = "/ggk";

/// StUF's code for a payload that does not conform to its schema.
pub const STUF055: &str = "StUF055";
const STUF055_TEXT: &str = "Berichtbody is niet conform schema in sectormodel";

/// How long a caller has to finish the TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(15);

/// How long a whole envelope may take to arrive (33 MB at about 128 kB/s):
/// one that trickles in holds a place of [`AT_ONCE`].
const BODY_READ: Duration = Duration::from_secs(300);

/// How long a connection may wait for a request's headers (and idle
/// between requests).
const HEADER_READ: Duration = Duration::from_secs(30);

/// The running listeners; [`Running::stop`] ends them.
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    addresses: Vec<(String, SocketAddr)>,
}

impl Running {
    /// Where each tenant's listener listens (the port chosen, when the
    /// configuration said 0).
    pub fn addresses(&self) -> &[(String, SocketAddr)] {
        &self.addresses
    }

    /// Stops accepting and ends the connections. A request cut off before
    /// its 202 was not acknowledged: the adapter sends it again, and what
    /// was committed is recognised by its referentienummer.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

struct Ctx {
    conn: Arc<Connection>,
    ingest: Ingest,
    outbox: Outbox,
    /// Envelopes read and taken in at once ([`AT_ONCE`]).
    at_once: tokio::sync::Semaphore,
}

/// Envelopes one listener reads and takes in at the same time. An envelope
/// of 33 MB (25 MiB of payload as base64) costs about three times that
/// while it is decoded and checked; the adapter is one client that waits
/// for each answer, so a handful at once keeps the listener's memory
/// bounded without slowing the exchange (the ingest's single writer is the
/// bottleneck anyway).
const AT_ONCE: usize = 4;

/// Binds every `[[stuf]]` listener (an address that cannot be bound stops
/// loket) and serves them until [`Running::stop`].
pub async fn start(connections: &Connections, ingest: &Ingest, outbox: &Outbox) -> Result<Running> {
    let (stop, rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut addresses = Vec::new();
    for conn in connections.all() {
        let listener = tokio::net::TcpListener::bind(conn.config.listen)
            .await
            .with_context(|| {
                format!(
                    "{}: kan niet luisteren op / cannot listen on {}",
                    conn.config.section(),
                    conn.config.listen
                )
            })?;
        let address = listener.local_addr()?;
        tracing::info!(tenant = %conn.config.tenant, %address, "stuf: listening");
        addresses.push((conn.config.tenant.clone(), address));
        let ctx = Arc::new(Ctx {
            conn: conn.clone(),
            ingest: ingest.clone(),
            outbox: outbox.clone(),
            at_once: tokio::sync::Semaphore::new(AT_ONCE),
        });
        tasks.spawn(accept_loop(listener, ctx, rx.clone()));
    }
    Ok(Running {
        stop,
        tasks,
        addresses,
    })
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    ctx: Arc<Ctx>,
    mut stop: watch::Receiver<bool>,
) {
    let tls = tokio_rustls::TlsAcceptor::from(ctx.conn.tls.clone());
    let router = Router::new()
        .route(PATH, post(handle))
        .with_state(ctx.clone());
    // Connections live in the set: ending this task ends them too.
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    conns.spawn(connection(tcp, peer, tls.clone(), router.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "stuf: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
        }
    }
    tracing::info!(tenant = %ctx.conn.config.tenant, "stuf: listener stopped");
}

async fn connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    tls: tokio_rustls::TlsAcceptor,
    router: Router,
) {
    // A caller without a certificate of the configured CA ends here.
    let stream = match tokio::time::timeout(HANDSHAKE, tls.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::warn!(%peer, error = %e, "stuf: TLS handshake refused");
            return;
        }
        Err(_) => {
            tracing::warn!(%peer, "stuf: TLS handshake timed out");
            return;
        }
    };
    // HTTP/1.1 with a header timeout, as the API's own loop: a connection
    // that says nothing (an idle keep-alive, a stalled adapter) is closed.
    let mut builder =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
            .http1_only();
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ);
    let _ = builder
        .serve_connection(
            hyper_util::rt::TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(router),
        )
        .await;
}

/// A SOAP fault: `client` when the caller must change what it sent.
fn fault(client: bool, nl: &str, en: &str) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        envelope::fault(client, nl, en),
    )
        .into_response()
}

fn accepted() -> Response {
    StatusCode::ACCEPTED.into_response()
}

async fn handle(State(ctx): State<Arc<Ctx>>, headers: HeaderMap, body: Body) -> Response {
    let tenant = ctx.conn.config.tenant.as_str();
    let xml_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("xml"));
    if !xml_type {
        return fault(
            true,
            "Content-Type moet text/xml zijn (SOAP 1.1)",
            "Content-Type must be text/xml (SOAP 1.1)",
        );
    }
    let Ok(_permit) = ctx.at_once.acquire().await else {
        return fault(false, "loket stopt", "loket is stopping");
    };
    let read = tokio::time::timeout(
        BODY_READ,
        axum::body::to_bytes(body, envelope::MAX_ENVELOPE),
    );
    let bytes = match read.await {
        Ok(Ok(b)) => b,
        _ => {
            return fault(
                true,
                &format!(
                    "de envelop is groter dan {} bytes of kwam niet helemaal aan",
                    envelope::MAX_ENVELOPE
                ),
                &format!(
                    "the envelope is larger than {} bytes or did not arrive whole",
                    envelope::MAX_ENVELOPE
                ),
            );
        }
    };
    let env = match envelope::decode_soap(&bytes) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(tenant, error = %e, "stuf: unusable envelope refused");
            return fault(true, &e.nl(), &e.to_string());
        }
    };
    drop(bytes);
    let action = headers
        .get("soapaction")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().trim_matches('"'))
        .unwrap_or_default();
    let expected = env.soap_action();
    if !action.is_empty() && action != expected {
        return fault(
            true,
            &format!("SOAPAction {action:?} hoort niet bij dit bericht (verwacht {expected:?})"),
            &format!(
                "SOAPAction {action:?} does not belong to this message (expected {expected:?})"
            ),
        );
    }
    let sg = &env.stuurgegevens;
    if sg.ontvanger.organisatie != tenant {
        return fault(
            true,
            &format!(
                "ontvanger organisatie {:?} is niet deze gemeente ({tenant})",
                sg.ontvanger.organisatie
            ),
            &format!(
                "ontvanger organisatie {:?} is not this municipality ({tenant})",
                sg.ontvanger.organisatie
            ),
        );
    }
    tracing::info!(
        tenant,
        berichtcode = sg.kind.as_str(),
        functie = sg.functie.as_deref().unwrap_or(""),
        referentienummer = %sg.referentienummer,
        "stuf: envelope received"
    );
    let outcome = match &env.body {
        EnvBody::Fout(f) => fault_in(&ctx, sg, f).await,
        EnvBody::Bericht(_) => bericht_in(&ctx, env).await,
    };
    match outcome {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(tenant, error = %format!("{e:#}"), "stuf: envelope not stored");
            fault(
                false,
                "het bericht kon nu niet worden opgeslagen; verstuur het later opnieuw",
                "the message could not be stored now; send it again later",
            )
        }
    }
}

/// An incoming Fo01: kept with the message it refuses, and a review item.
async fn fault_in(ctx: &Ctx, sg: &Stuurgegevens, f: &Fout) -> Result<Response> {
    let tenant = ctx.conn.config.tenant.as_str();
    let cross = sg.cross_refnummer.as_deref().unwrap_or_default();
    let refused = exchange::fault_received(
        &ctx.ingest.store,
        tenant,
        &FaultIn {
            referentienummer: &sg.referentienummer,
            cross_ref: cross,
            zender: &sg.zender.organisatie,
            code: &f.code,
            omschrijving: &f.omschrijving,
            details: f.details.as_deref(),
        },
    )
    .await?;
    match refused {
        Some(id) => {
            tracing::warn!(tenant, message_id = %id, code = %f.code, "stuf: Fo01 received; message refused")
        }
        None => {
            tracing::warn!(tenant, cross_refnummer = %cross, code = %f.code, "stuf: Fo01 received for a message loket does not know")
        }
    }
    Ok(accepted())
}

/// The edition loket answers `zender` in: its mapping's, or the tenant's
/// default.
fn edition_for(ctx: &Ctx, zender: &str) -> Edition {
    ctx.ingest
        .mappings
        .for_tenant(&ctx.conn.config.tenant)
        .iter()
        .find_map(|m| match &m.financier.delivery {
            crate::mapping::Delivery::Stuf(e) if m.financier.key.code == zender => Some(*e),
            _ => None,
        })
        .unwrap_or(ctx.conn.config.edition)
}

/// An incoming Di01 or Du01: its payload through the ingest, its retour
/// (or a Fo01) queued, then 202.
async fn bericht_in(ctx: &Ctx, env: Envelope) -> Result<Response> {
    let cfg = &ctx.conn.config;
    let tenant = Tenant {
        id: cfg.tenant.clone(),
        kind: TenantKind::Gemeente,
    };
    let sg = env.stuurgegevens;
    let EnvBody::Bericht(bericht) = env.body else {
        return Ok(accepted());
    };
    let pool = ctx.ingest.store.pool();
    let refnr = sg.referentienummer.clone();
    if exchange::find_pulled(pool, &tenant.id, &refnr)
        .await?
        .is_some()
        || exchange::fault_for(pool, &tenant.id, &refnr)
            .await?
            .is_some()
    {
        tracing::info!(tenant = %tenant.id, referentienummer = %refnr, "stuf: envelope received before; acknowledged again");
        return Ok(accepted());
    }
    // A Di01 opens a conversation (named by its referentienummer); a Du01
    // belongs to the one of the Di01 it answers.
    let conversatie_id = match &sg.cross_refnummer {
        Some(cross) => exchange::conversation_of(pool, &tenant.id, cross)
            .await?
            .unwrap_or_else(|| cross.clone()),
        None => refnr.clone(),
    };
    let ids = Ids {
        conversatie_id,
        traceer_id: refnr.clone(),
        als_antwoord_op: sg.cross_refnummer.clone(),
    };
    let edition = edition_for(ctx, &sg.zender.organisatie);
    let outcome = match ctx.ingest.prepare(&tenant, bericht.inhoud).await {
        Ok(ready) => match ready.submit(&ctx.ingest).await {
            Ok(pending) => pending.answer().await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match outcome {
        Ok(received) => {
            if let Some(reason) =
                exchange::failed_structure(pool, &tenant.id, &received.message_id).await?
            {
                refuse(ctx, &sg, Some(&received.message_id), &ids, edition, &reason).await?;
                return Ok(accepted());
            }
            let queued = exchange::taken_in(
                &ctx.ingest.store,
                &tenant.id,
                &[(received.message_id.clone(), ids)],
                ReplyTo {
                    kind: crate::outbox::TARGET_STUF,
                    target: edition.as_str(),
                },
            )
            .await?;
            if !queued.is_empty() {
                ctx.outbox.wake();
            }
            tracing::info!(tenant = %tenant.id, message_id = %received.message_id, status = %received.status, retours = queued.len(), "stuf: message taken in");
            Ok(accepted())
        }
        Err(IngestError::Unusable(e)) => {
            refuse(ctx, &sg, None, &ids, edition, &e.bilingual()).await?;
            Ok(accepted())
        }
        Err(IngestError::NoRetour(reason)) => {
            refuse(ctx, &sg, None, &ids, edition, &reason).await?;
            Ok(accepted())
        }
        Err(IngestError::WrongTenant { receiver }) => Ok(fault(
            true,
            &format!(
                "het bericht in de envelop is gericht aan {receiver:?}, niet aan {}",
                tenant.id
            ),
            &format!(
                "the message in the envelope is addressed to {receiver:?}, not to {}",
                tenant.id
            ),
        )),
        Err(IngestError::Store(e)) => Err(e),
    }
}

/// Queues a Fo01 with StUF055 for the envelope `sg`, whose payload failed
/// its schema (`reason`, digit runs masked: it may quote a value).
async fn refuse(
    ctx: &Ctx,
    sg: &Stuurgegevens,
    refused: Option<&str>,
    ids: &Ids,
    edition: Edition,
    reason: &str,
) -> Result<()> {
    let cfg = &ctx.conn.config;
    let referentienummer = uuid::Uuid::new_v4().to_string();
    let fo01 = Envelope {
        edition: None,
        stuurgegevens: Stuurgegevens {
            kind: Kind::Fo01,
            zender: Systeem {
                organisatie: cfg.tenant.clone(),
                applicatie: cfg.applicatie.clone(),
            },
            ontvanger: sg.zender.clone(),
            referentienummer: referentienummer.clone(),
            tijdstip_bericht: envelope::tijdstip(chrono::Utc::now()),
            cross_refnummer: Some(sg.referentienummer.clone()),
            functie: None,
        },
        body: EnvBody::Fout(Fout {
            code: STUF055.into(),
            plek: "client".into(),
            omschrijving: STUF055_TEXT.into(),
            details: Some(crate::transport::http::error_snippet(reason)),
        }),
    };
    let xml = envelope::encode(&fo01);
    let id = exchange::refuse_payload(
        &ctx.ingest.store,
        &cfg.tenant,
        &FaultOut {
            refused,
            refused_ids: ids,
            referentienummer: &referentienummer,
            receiver: &sg.zender.organisatie,
            code: STUF055,
            omschrijving: STUF055_TEXT,
            xml: &xml,
            target: edition.as_str(),
        },
    )
    .await?;
    ctx.outbox.wake();
    tracing::warn!(tenant = %cfg.tenant, referentienummer = %sg.referentienummer, fo01 = %id, "stuf: payload fails its schema; Fo01 StUF055 queued");
    Ok(())
}
