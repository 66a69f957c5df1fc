//! The municipality's leg of the exchange: the GGk (Gemeentelijk
//! Gegevensknooppunt) with the StUF-GGk envelope, carried over
//! Digikoppeling (ebMS2) by the municipality's own adapter.
//!
//! A municipality sends and receives Di01 (heenbericht), Du01
//! (retourbericht) and Fo01 (error); there is no Bv03. loket speaks SOAP
//! 1.1 document/literal with the adapter, both ways, over mutual TLS:
//!
//! - [`config`]: the `[[stuf]]` section of a municipality;
//! - [`envelope`]: Di01/Du01 in both editions (0310, 0210) and Fo01, read
//!   and written;
//! - [`server`]: loket's listener for what the adapter delivers
//!   (`POST /ggk`), which stores the payload through the ingest every
//!   transport uses and answers 202 once it is committed;
//! - [`push`]: the POST of one outgoing envelope to the adapter, called by
//!   the outbox worker through [`deliver`].
//!
//! The envelope's identifiers live in the record's exchange columns
//! ([`crate::record::exchange`]): a message's referentienummer is its
//! `traceer_id` (chosen once, at the first attempt, and kept for every
//! retry), a Du01's or Fo01's crossRefnummer its `als_antwoord_op`. StUF
//! has no conversation id: an incoming Di01's conversation is named by its
//! referentienummer, and a Du01 or Fo01 joins the conversation of the
//! message it answers.

pub mod config;
pub mod envelope;
pub mod push;
pub mod server;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

pub use config::StufConfig;
pub use envelope::{Edition, Kind};

use crate::transport::Sent;
use envelope::{Bericht, Body, Envelope, Stuurgegevens, Systeem};

/// The ontvanger applicatie of every envelope loket writes: the GGk
/// routes it.
pub const GGK: &str = "GGk";

/// One municipality's connection: its certificate in a client (to the
/// adapter) and in a server configuration (for the listener).
#[derive(Debug)]
pub struct Connection {
    pub config: StufConfig,
    pub http: reqwest::Client,
    pub tls: Arc<rustls::ServerConfig>,
}

/// Every configured municipality's connection, built once at start.
pub type Connections = crate::transport::PerTenant<Connection>;

impl Connections {
    /// Checks every `[[stuf]]` section and reads each certificate; any
    /// problem stops loket with the section and the file named.
    pub fn load(configs: &[StufConfig]) -> Result<Connections> {
        let mut conns = Vec::with_capacity(configs.len());
        for cfg in configs {
            cfg.check()?;
            let section = cfg.section();
            let source = cfg.source(&section);
            let identity = crate::transport::tls::identity(&source)
                .with_context(|| format!("{section}: certificaat / certificate"))?;
            let http = crate::transport::tls::client(
                &source,
                identity.clone(),
                Duration::from_secs(cfg.timeout_secs),
            )?;
            let tls = Arc::new(crate::transport::tls::server(&source, identity)?);
            let conn = Connection {
                config: cfg.clone(),
                http,
                tls,
            };
            conns.push((cfg.tenant.clone(), conn));
        }
        Connections::new("[[stuf]]", conns)
    }
}

/// One outgoing message the outbox worker claimed for a GGk adapter.
pub struct Delivery<'a> {
    /// Its identifiers, chosen (or read back, on a retry) and committed
    /// with the claim, before the post.
    pub ids: &'a crate::record::exchange::PushIds,
    pub tenant: &'a str,
    pub message_id: &'a str,
    pub bericht: &'a str,
    /// The outbox row's target: the edition to write.
    pub edition: &'a str,
    /// A Fo01, already an envelope: sent as it is.
    pub as_is: bool,
    pub payload: &'a [u8],
}

/// Posts `d` to the tenant's adapter. A message that answers another (it has a
/// crossRefnummer) leaves as a Du01, any other as a Di01. A refusal by the
/// adapter (a SOAP fault of the caller, a 4xx) goes to the review queue
/// with its reason.
pub async fn deliver(
    store: &crate::store::Store,
    connections: &Connections,
    d: &Delivery<'_>,
) -> Sent {
    let Some(conn) = connections.get(d.tenant) else {
        return Sent::Failed {
            status: None,
            error: format!(
                "geen [[stuf]]-verbinding voor {t} in de configuratie / no [[stuf]] connection for {t} in the configuration",
                t = d.tenant
            ),
        };
    };
    let edition = Edition::parse(d.edition).unwrap_or(conn.config.edition);
    let (body, action) = if d.as_is {
        match std::str::from_utf8(d.payload) {
            Ok(text) => (envelope::wrap_soap(text), Kind::Fo01.soap_action(edition)),
            Err(_) => {
                return Sent::Failed {
                    status: None,
                    error: "the stored Fo01 is not UTF-8".into(),
                };
            }
        }
    } else {
        match outgoing(&conn.config, edition, d, chrono::Utc::now()) {
            Ok(env) => (envelope::encode_soap(&env), env.soap_action()),
            Err(error) => {
                return Sent::Failed {
                    status: None,
                    error,
                };
            }
        }
    };
    let sent = push::post(conn, &action, body).await;
    if let Sent::Failed {
        status: Some(code),
        error,
    } = &sent
        && let Err(e) =
            crate::record::exchange::refused(store, d.tenant, d.message_id, *code, error).await
    {
        tracing::error!(message_id = %d.message_id, error = %format!("{e:#}"), "stuf: cannot store the review item of a refused post");
    }
    sent
}

/// The envelope of outgoing message `d`; `Err` says (Dutch and English)
/// why it cannot be written.
pub fn outgoing(
    config: &StufConfig,
    edition: Edition,
    d: &Delivery<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Envelope, String> {
    let receiver = d
        .ids
        .receiver
        .as_deref()
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            format!(
                "{b} heeft geen ontvanger / {b} has no addressee",
                b = d.bericht
            )
        })?;
    let (versie, subversie) = header_versions(d.payload).ok_or_else(|| {
        format!(
            "{b}: BerichtVersie/BerichtSubversie niet gevonden / not found",
            b = d.bericht
        )
    })?;
    let cross = d.ids.ids.als_antwoord_op.clone();
    // Edition 0210 allows only UUIDs v4 as referentienummers; a Du01 that
    // answers a Di01 numbered otherwise (03.10 allows any 40 characters)
    // is written in 03.10, which the GGk takes from every municipality.
    let edition = match &cross {
        Some(c) if edition == Edition::V0210 && !envelope::is_uuid_v4(c) => Edition::V0310,
        _ => edition,
    };
    let kind = if cross.is_some() {
        Kind::Du01
    } else {
        Kind::Di01
    };
    let (major, minor) = loket_version();
    Ok(Envelope {
        edition: Some(edition),
        stuurgegevens: Stuurgegevens {
            kind,
            zender: Systeem {
                organisatie: config.tenant.clone(),
                applicatie: config.applicatie.clone(),
            },
            ontvanger: Systeem {
                organisatie: receiver.to_string(),
                applicatie: GGK.to_string(),
            },
            referentienummer: d.ids.ids.traceer_id.clone(),
            tijdstip_bericht: envelope::tijdstip(now),
            cross_refnummer: cross,
            functie: Some(d.bericht.to_string()),
        },
        body: Body::Bericht(Bericht {
            applicatie_versie: major,
            applicatie_subversie: minor,
            functie_versie: versienr(&versie),
            functie_subversie: versienr(&subversie),
            bestandsnaam: Some(format!("{}-{}.xml", d.bericht, d.message_id)),
            text: false,
            inhoud: d.payload.to_vec(),
        }),
    })
}

/// A version number as the envelope's `Versienr`: four digits, zero
/// padded.
fn versienr(v: &str) -> String {
    let digits: String = v.trim().chars().filter(char::is_ascii_digit).collect();
    format!("{:0>4}", &digits[digits.len().saturating_sub(4)..])
}

/// loket's own version as applicatieVersie and applicatieSubversie.
fn loket_version() -> (String, String) {
    let mut parts = env!("CARGO_PKG_VERSION").split('.');
    let major = parts.next().unwrap_or("0");
    let minor = parts.next().unwrap_or("0");
    (versienr(major), versienr(minor))
}

/// BerichtVersie and BerichtSubversie from a message's Header, read
/// without parsing the whole message (a 323 can be 25 MB): the reader
/// stops at the end of the Header.
pub fn header_versions(payload: &[u8]) -> Option<(String, String)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(payload);
    let mut buf = Vec::new();
    let mut current: Option<&'static str> = None;
    let (mut versie, mut subversie) = (None, None);
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Event::Start(e) => {
                let local = e.local_name();
                let name: &str = local.as_ref();
                current = match name {
                    "BerichtVersie" => Some("versie"),
                    "BerichtSubversie" => Some("subversie"),
                    _ => None,
                };
            }
            Event::Text(t) => {
                let text: &str = t.as_ref();
                let text = text.trim().to_string();
                match current {
                    Some("versie") => versie = Some(text),
                    Some("subversie") => subversie = Some(text),
                    _ => {}
                }
            }
            Event::End(e) => {
                current = None;
                let local = e.local_name();
                let name: &str = local.as_ref();
                if name == "Header" {
                    break;
                }
            }
            Event::DocType(_) | Event::Eof => break,
            _ => {}
        }
        if versie.is_some() && subversie.is_some() {
            break;
        }
        buf.clear();
    }
    Some((versie?, subversie?))
}
