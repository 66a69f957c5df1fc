//! Push: one outgoing message as `POST /berichten`, multipart/form-data with
//! the parts `berichtMetadata` (JSON, exactly the OpenAPI object) and
//! `payload` (the message's bytes).
//!
//! What an answer means (the push description's own words: "de indiener
//! probeert hetzelfde request niet opnieuw" for 422):
//!
//! - 204: accepted; the status is followed from now on.
//! - 400, 422: refused; sending the same again will not help. The outbox
//!   item fails and the reason goes to the review queue.
//! - 401, 403: the certificate is not (or no longer) accepted for this AGB
//!   code, or a toestemmingsverklaring is missing: a person has to act.
//! - 408, 429, 5xx, no or a cut-off answer: retried with the outbox's
//!   backoff, with the same traceerId, so VECOZO can recognise a message it
//!   already has.

use serde::{Deserialize, Serialize};

use super::Connection;
use super::routing::{Berichtstroom, Routing};
use crate::record::exchange::Ids;
use crate::transport::Sent;
use crate::transport::http::{Refusal, accepted, error_snippet, retryable, transport_error};

/// `BerichtMetadata` of the push description.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BerichtMetadata {
    pub routeringgegevens: Routeringgegevens,
    pub referentiegegevens: Referentiegegevens,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Routeringgegevens {
    pub afzender: Relatie,
    pub geadresseerden: Vec<Relatie>,
    pub berichtstroom: Berichtstroom,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Relatie {
    pub rol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Referentiegegevens {
    pub conversatie_id: String,
    pub traceer_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub als_antwoord_op: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referentie_id: Option<String>,
}

/// One message to push.
pub struct Push<'a> {
    pub tenant: &'a str,
    /// loket's message id: the referentieId, so a status or a support call
    /// at VECOZO leads back to the message.
    pub message_id: &'a str,
    pub bericht: &'a str,
    pub identificatie: &'a str,
    pub ids: &'a Ids,
    /// Where it goes (see [`crate::record::exchange::PushIds`]).
    pub geadresseerde: &'a str,
    pub payload: Vec<u8>,
}

/// The metadata of `p`; `Err` says (in Dutch and English) why it cannot be
/// routed.
pub fn metadata(routing: &Routing, p: &Push<'_>) -> Result<BerichtMetadata, String> {
    let stroom = routing.stroom(p.bericht).ok_or_else(|| {
        format!(
            "{b} heeft geen berichtstroom in schemas/exchange/vsp-berichtstromen.toml / {b} has no berichtstroom",
            b = p.bericht
        )
    })?;
    let receiver = p.geadresseerde;
    let afzender_rol = routing.rol(p.tenant).map_err(|e| e.to_string())?;
    let geadresseerde_rol = routing.rol(receiver).map_err(|e| {
        format!(
            "de ontvanger van {} is onbekend / the receiver is not known: {e}",
            p.bericht
        )
    })?;
    Ok(BerichtMetadata {
        routeringgegevens: Routeringgegevens {
            afzender: Relatie {
                rol: afzender_rol.to_string(),
                code: Some(p.tenant.to_string()),
            },
            geadresseerden: vec![Relatie {
                rol: geadresseerde_rol.to_string(),
                code: Some(receiver.to_string()),
            }],
            berichtstroom: stroom.clone(),
        },
        referentiegegevens: Referentiegegevens {
            conversatie_id: p.ids.conversatie_id.clone(),
            traceer_id: p.ids.traceer_id.clone(),
            als_antwoord_op: p.ids.als_antwoord_op.clone(),
            referentie_id: Some(p.message_id.to_string()),
        },
    })
}

/// The `ValidationProblemDetails` VECOZO answers a refusal with.
#[derive(Debug, Default, Deserialize)]
struct Problem {
    title: Option<String>,
    detail: Option<String>,
    #[serde(default)]
    errors: std::collections::BTreeMap<String, Vec<String>>,
}

/// A refusal's body as one line for a person: title, detail and each
/// field's errors (digit runs masked, shortened, as every counterpart's
/// error text in loket).
pub fn problem_text(body: &str) -> String {
    let Ok(p) = serde_json::from_str::<Problem>(body) else {
        return error_snippet(body);
    };
    let mut parts: Vec<String> = Vec::new();
    parts.extend(p.title);
    parts.extend(p.detail);
    for (field, errors) in p.errors {
        parts.push(format!("{field}: {}", errors.join("; ")));
    }
    error_snippet(&parts.join(" - "))
}

/// Sends `p` to the push service under `base`.
pub async fn send(conn: &Connection, base: &str, p: Push<'_>) -> Sent {
    let meta = match metadata(conn.routing, &p) {
        Ok(m) => m,
        Err(error) => {
            return Sent::Failed {
                status: None,
                error,
            };
        }
    };
    let json = match serde_json::to_string(&meta) {
        Ok(j) => j,
        Err(e) => {
            return Sent::Failed {
                status: None,
                error: format!("metadata: {e}"),
            };
        }
    };
    let file = format!("{}-{}.xml", p.bericht, p.identificatie);
    let parts = reqwest::multipart::Part::text(json)
        .mime_str("application/json")
        .and_then(|meta| {
            reqwest::multipart::Part::bytes(p.payload)
                .file_name(file)
                .mime_str("application/octet-stream")
                .map(|payload| (meta, payload))
        });
    let (meta_part, payload_part) = match parts {
        Ok(parts) => parts,
        Err(e) => return transport_error(&e),
    };
    let form = reqwest::multipart::Form::new()
        .part("berichtMetadata", meta_part)
        .part("payload", payload_part);
    let sent = conn
        .http
        .post(super::config::push_url(base))
        .multipart(form)
        .send()
        .await;
    let Refusal {
        resp,
        status,
        after,
    } = match accepted(sent) {
        Ok(sent) => return sent,
        Err(refusal) => *refusal,
    };
    let code = Some(status.as_u16());
    let body = resp.text().await.unwrap_or_default();
    let reason = problem_text(&body);
    if retryable(status) {
        return Sent::Retry {
            status: code,
            error: format!("HTTP {status}: {reason}"),
            after,
        };
    }
    let error = match status.as_u16() {
        400 => {
            format!("VECOZO weigert het verzoek (400) / VECOZO refuses the request (400): {reason}")
        }
        422 => {
            format!("VECOZO weigert het bericht (422) / VECOZO refuses the message (422): {reason}")
        }
        401 | 403 => format!(
            "VECOZO accepteert het systeemcertificaat niet voor deze AGB-code (of de toestemmingsverklaring ontbreekt) / VECOZO does not accept the system certificate for this AGB code (or the consent form is missing): HTTP {status} {reason}"
        ),
        _ => format!("HTTP {status}: {reason}"),
    };
    Sent::Failed {
        status: code,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push_ids(answer: Option<&str>) -> Ids {
        Ids {
            conversatie_id: "2b7e4cc4-8a2a-4a4f-9a51-2f52d2f0a6a1".into(),
            traceer_id: "6a0c0e8e-2d61-4c3b-9f8e-0d2f8f0b1c11".into(),
            als_antwoord_op: answer.map(str::to_string),
        }
    }

    #[test]
    fn metadata_is_the_openapi_object() {
        let routing = Routing::builtin().unwrap();
        let ids = push_ids(None);
        let p = Push {
            tenant: "12345678",
            message_id: "m1",
            bericht: "JW315",
            identificatie: "A1",
            ids: &ids,
            geadresseerde: "0363",
            payload: Vec::new(),
        };
        let json = serde_json::to_value(metadata(routing, &p).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "routeringgegevens": {
                    "afzender": {"rol": "Instelling", "code": "12345678"},
                    "geadresseerden": [{"rol": "Gemeente", "code": "0363"}],
                    "berichtstroom": {"berichttype": "JW", "berichtsubtype": "JW315", "berichtversie": 3, "berichtsubversie": 2, "actie": "VerzoekToewijzing"}
                },
                "referentiegegevens": {
                    "conversatieId": "2b7e4cc4-8a2a-4a4f-9a51-2f52d2f0a6a1",
                    "traceerId": "6a0c0e8e-2d61-4c3b-9f8e-0d2f8f0b1c11",
                    "referentieId": "m1"
                }
            })
        );
        let ids = push_ids(Some("0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"));
        let retour = Push {
            bericht: "WMO302",
            ids: &ids,
            ..p
        };
        let json = serde_json::to_value(metadata(routing, &retour).unwrap()).unwrap();
        assert_eq!(
            json["referentiegegevens"]["alsAntwoordOp"],
            "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
        );
        let unknown = Push {
            bericht: "WMO999",
            ..retour
        };
        assert!(metadata(routing, &unknown).is_err());
    }

    #[test]
    fn a_refusal_reads_as_one_line() {
        let body = r#"{"title":"Bericht geweigerd","status":422,"errors":{"payload":["BSN 123456789 onbekend"]}}"#;
        assert_eq!(
            problem_text(body),
            "Bericht geweigerd - payload: BSN ********* onbekend"
        );
        assert_eq!(problem_text("plain text"), "plain text");
    }
}
