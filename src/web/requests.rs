//! Verzoeken on the participant page: what was asked of the municipalities
//! and what became of it, and the two forms that ask (a verzoek om wijziging
//! per allocation, a verzoek om toewijzing for a new product).
//!
//! The forms build the same [`RequestInput`] `POST /requests` takes and go
//! through [`requests::compose_in`], so the page sends exactly what the API
//! would; the audit trail entry commits with the request.

use axum::extract::{Path, State};
use axum::response::Response;
use chrono::NaiveDate;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::auth::{Post, WebUser, audit, csrf_form};
use super::notice::Notice;
use super::participants::{back_to, own_participant};
use super::{WebError, csrf_field, financier_kind_nl, financier_nl, format};
use crate::adapter::istandaard::verzoekcodes::reden_verzoek_codes;
use crate::mapping::units::Eenheid;
use crate::mapping::{Kind, Standard};
use crate::record::read::AllocationView;
use crate::record::requests::{
    self, ChangeInput, FinancierInput, Omvang, Outcome, ProductInput, RequestInput, RequestRow,
    Verwijzer,
};
use crate::registration::today;
use crate::server::AppState;

/// COD327, the referrer types a 315 names.
const VERWIJZERS: &[(&str, &str)] = &[
    ("01", "Gemeente"),
    ("02", "Huisarts"),
    ("03", "Jeugdarts"),
    ("04", "Gecertificeerde instelling"),
    ("05", "Medisch specialist"),
    ("06", "Zelfverwijzer / geen verwijzer"),
    (
        "08",
        "Rechter, Officier van Justitie of justitiële jeugdinrichting",
    ),
];

/// WMO757 / JW757 frequencies.
const FREQUENTIES: &[(&str, &str)] = &[
    ("1", "per dag"),
    ("2", "per week"),
    ("4", "per maand"),
    ("6", "totaal in de looptijd"),
];

/// A request status as staff read it.
pub fn status_nl(status: &str) -> &str {
    match status {
        requests::SENT => "verzonden, wacht op de gemeente",
        requests::ANSWERED => "ontvangen door de gemeente",
        requests::ACCEPTED => "in onderzoek bij de gemeente",
        requests::REJECTED => "afgewezen",
        requests::HONOURED => "toegewezen",
        other => other,
    }
}

/// What a request asked, in a few words.
fn asked(r: &RequestRow) -> String {
    let v: Value = serde_json::from_str(&r.summary).unwrap_or(Value::Null);
    let product = |p: &Value| {
        let cat = p["product"]["categorie"].as_str().unwrap_or("");
        match p["product"]["code"].as_str() {
            Some(code) => format!("{cat}/{code}"),
            None => cat.to_string(),
        }
    };
    if r.kind() == "toewijzing" {
        return format!(
            "toewijzing {} vanaf {}",
            product(&v),
            v["ingangsdatum"]
                .as_str()
                .map_or_else(|| "?".to_string(), format::date_str)
        );
    }
    let mut parts: Vec<String> = Vec::new();
    for c in v["te_wijzigen"].as_array().into_iter().flatten() {
        parts.push(format!(
            "wijzig {} (einde {})",
            c["toewijzing_nummer"].as_str().unwrap_or("?"),
            c["einddatum"]
                .as_str()
                .map_or_else(|| "open".to_string(), format::date_str)
        ));
    }
    for n in v["nieuw"].as_array().into_iter().flatten() {
        parts.push(format!("nieuw {}", product(n)));
    }
    parts.join("; ")
}

/// The requests section of the participant page: the requests with their
/// status and, for a rejection, the reason; for the back office the forms.
pub async fn section(
    state: &AppState,
    user: &WebUser,
    participant: &str,
    allocations: &[AllocationView],
) -> Result<Markup, WebError> {
    let filter = requests::Filter {
        participant: Some(participant),
        limit: 200,
        ..requests::Filter::default()
    };
    let rows = requests::list(state.store().pool(), &user.tenant.id, &filter).await?;
    let changeable: Vec<&AllocationView> = allocations
        .iter()
        .filter(|a| matches!(a.financier.standard.as_deref(), Some("iwmo" | "ijw")))
        .filter(|a| matches!(a.status.as_str(), "allocated" | "started"))
        .collect();
    let financiers: Vec<(String, String)> = state
        .mappings
        .for_tenant(&user.tenant.id)
        .iter()
        .filter(|m| matches!(m.financier.standard, Standard::Iwmo | Standard::Ijw))
        .map(|m| {
            let key = &m.financier.key;
            (
                format!("{}:{}", key.kind.as_str(), key.code),
                financier_nl(key.kind.as_str(), &key.code),
            )
        })
        .collect();
    let redenen = reden_verzoek_codes();
    let tomorrow = (today() + chrono::Duration::days(1)).to_string();
    Ok(html! {
        h2 { "Verzoeken aan de gemeente" }
        @if rows.is_empty() { p { "Nog geen verzoeken verstuurd." } } @else {
            table {
                thead { tr { th { "Datum" } th { "Bericht" } th { "Referentie" } th { "Gevraagd" } th { "Status" } th { "Reden" } } }
                tbody {
                    @for r in &rows {
                        tr {
                            td { (format::date_str(&r.created_at)) }
                            td { (r.bericht) " " (financier_nl(if r.bericht.starts_with("JW") { "jeugdwet" } else { "wmo" }, &r.gemeente)) }
                            td { code { (r.referentie_aanbieder) } }
                            td { (asked(r)) }
                            td { (status_nl(&r.status)) }
                            td {
                                @if let Some(reason) = r.reason() {
                                    "Afgewezen (" (reason.code) "): " (reason.nl)
                                } @else if r.status == requests::REJECTED {
                                    "Afgekeurd in het retourbericht: "
                                    @for c in serde_json::from_str::<Vec<String>>(&r.retourcodes).unwrap_or_default() {
                                        code { (c) } " "
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if user.role.back_office() {
            @for a in &changeable {
                @let aid = a.id.as_str();
                details.verzoek {
                    summary { "Verzoek om wijziging voor toewijzing " (a.toewijzing_nummer) " (" (financier_kind_nl(&a.financier.kind)) " " (a.product.code.as_deref().unwrap_or("")) ")" }
                    form.regel method="post" action={ "/deelnemers/" (participant) "/verzoek/wijziging" } {
                        (csrf_field(user))
                        input type="hidden" name="toewijzing" value=(aid);
                        label { "Wat"
                            select name="actie" required {
                                option value="verlengen" { "Verlengen (nieuwe einddatum)" }
                                option value="omvang" { "Omvang wijzigen" }
                                option value="beeindigen" { "Beëindigen (eerdere einddatum)" }
                            }
                        }
                        label { "Einddatum" input type="date" name="einddatum" min=(tomorrow) value=(a.einddatum.as_deref().unwrap_or("")); }
                        label { "Nieuw volume" input type="number" name="volume" min="0" value=(a.omvang.volume.map(|v| v.to_string()).unwrap_or_default()); }
                        label { "Ingangsdatum van de wijziging" input type="date" name="ingangsdatum"; }
                        label { "Reden"
                            select name="reden" required {
                                @for (code, nl) in &redenen { option value=(code) { (nl) } }
                            }
                        }
                        button.secundair type="submit" { "Verzoek om wijziging versturen" }
                    }
                }
            }
            @if !financiers.is_empty() {
                details.verzoek {
                    summary { "Verzoek om toewijzing van een nieuw product" }
                    form.regel method="post" action={ "/deelnemers/" (participant) "/verzoek/toewijzing" } {
                        (csrf_field(user))
                        label { "Gemeente"
                            select name="financier" required {
                                @for (value, label) in &financiers { option value=(value) { (label) } }
                            }
                        }
                        label { "Productcategorie" input name="categorie" required pattern="[0-9]{2}" maxlength="2"; }
                        label { "Productcode" input name="code" pattern="[0-9A-Za-z]{1,5}" maxlength="5"; }
                        label { "Ingangsdatum" input type="date" name="ingangsdatum" required; }
                        label { "Einddatum" input type="date" name="einddatum"; }
                        label { "Volume" input type="number" name="volume" min="0"; }
                        label { "Eenheid"
                            select name="eenheid" {
                                @for e in Eenheid::ALL { option value=(e.code()) { (e.label_nl()) } }
                            }
                        }
                        label { "Frequentie"
                            select name="frequentie" {
                                @for (code, nl) in FREQUENTIES { option value=(code) { (nl) } }
                            }
                        }
                        label { "Verwijzer"
                            select name="verwijzer" required {
                                @for (code, nl) in VERWIJZERS { option value=(code) { (nl) } }
                            }
                        }
                        label { "Naam verwijzer" input name="verwijzer_naam" maxlength="64"; }
                        label { "AGB-code verwijzer" input name="zorgverlenercode" pattern="[0-9]{8}" maxlength="8"; }
                        label { "Toelichting" input name="commentaar" maxlength="1000"; }
                        button.secundair type="submit" { "Verzoek om toewijzing versturen" }
                    }
                }
            }
            p { small { "Een verzoek gaat na de controles meteen naar de gemeente; het antwoord (319, of een toewijzing 301) verschijnt hierboven." } }
        }
    })
}

/// A form field: empty is absent.
fn given(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_string())
}

fn volume(v: &str) -> Result<Option<i64>, WebError> {
    given(v)
        .map(|v| {
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| WebError::BadRequest("het volume is geen heel getal".into()))
        })
        .transpose()
}

fn a_date(v: &str, what: &str) -> Result<Option<String>, WebError> {
    given(v)
        .map(|d| {
            d.parse::<NaiveDate>()
                .map(|d| d.to_string())
                .map_err(|_| WebError::BadRequest(format!("de {what} is geen geldige datum")))
        })
        .transpose()
}

#[derive(Deserialize)]
pub struct ChangeForm {
    csrf: String,
    toewijzing: String,
    actie: String,
    #[serde(default)]
    einddatum: String,
    #[serde(default)]
    volume: String,
    #[serde(default)]
    ingangsdatum: String,
    reden: String,
}

#[derive(Deserialize)]
pub struct NewForm {
    csrf: String,
    financier: String,
    categorie: String,
    #[serde(default)]
    code: String,
    ingangsdatum: String,
    #[serde(default)]
    einddatum: String,
    #[serde(default)]
    volume: String,
    #[serde(default)]
    eenheid: String,
    #[serde(default)]
    frequentie: String,
    verwijzer: String,
    #[serde(default)]
    verwijzer_naam: String,
    #[serde(default)]
    zorgverlenercode: String,
    #[serde(default)]
    commentaar: String,
}
csrf_form!(ChangeForm, NewForm);

/// `POST /deelnemers/{id}/verzoek/wijziging`: a verzoek om wijziging (317)
/// for one allocation: extend, change the volume, or end early.
pub async fn change(
    State(state): State<AppState>,
    peer: crate::server::access::Peer,
    Path(id): Path<String>,
    Post(user, f): Post<ChangeForm>,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    own_participant(&state, &user, &id).await?;
    let allocation = crate::record::read::participant(state.store().pool(), &user.tenant, &id)
        .await?
        .and_then(|r| r.allocations.into_iter().find(|a| a.id == f.toewijzing))
        .ok_or(WebError::NotFound)?;
    let einddatum = a_date(&f.einddatum, "einddatum")?;
    let mut change = ChangeInput {
        allocation: f.toewijzing.clone(),
        ingangsdatum: a_date(&f.ingangsdatum, "ingangsdatum")?,
        ..ChangeInput::default()
    };
    match f.actie.as_str() {
        "verlengen" | "beeindigen" => {
            change.einddatum = Some(
                einddatum
                    .ok_or_else(|| WebError::BadRequest("vul de nieuwe einddatum in".into()))?,
            );
        }
        "omvang" => {
            let v = volume(&f.volume)?
                .ok_or_else(|| WebError::BadRequest("vul het nieuwe volume in".into()))?;
            let (Some(eenheid), Some(frequentie)) = (
                allocation.omvang.eenheid.clone(),
                allocation.omvang.frequentie.clone(),
            ) else {
                return Err(WebError::BadRequest(
                    "deze toewijzing heeft geen omvang (maar een budget); wijzig die via de API"
                        .into(),
                ));
            };
            change.omvang = Some(Omvang {
                volume: v,
                eenheid,
                frequentie,
            });
            change.einddatum = einddatum;
        }
        _ => return Err(WebError::BadRequest("onbekende soort wijziging".into())),
    }
    let input = RequestInput {
        kind: "wijziging".into(),
        participant_id: Some(id.clone()),
        financier: FinancierInput {
            kind: allocation.financier.kind.clone(),
            code: allocation.financier.code.clone(),
        },
        reden: Some(f.reden.clone()),
        change: vec![change],
        ..RequestInput::default()
    };
    send(&state, &user, &peer, &id, &input, &f.actie).await
}

/// `POST /deelnemers/{id}/verzoek/toewijzing`: a verzoek om toewijzing (315)
/// of one new product.
pub async fn new(
    State(state): State<AppState>,
    peer: crate::server::access::Peer,
    Path(id): Path<String>,
    Post(user, f): Post<NewForm>,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    own_participant(&state, &user, &id).await?;
    let (kind, code) = f
        .financier
        .split_once(':')
        .filter(|(k, _)| matches!(Kind::parse(k), Some(Kind::Wmo | Kind::Jeugdwet)))
        .ok_or_else(|| WebError::BadRequest("kies een gemeente".into()))?;
    let omvang = volume(&f.volume)?.map(|v| Omvang {
        volume: v,
        eenheid: f.eenheid.clone(),
        frequentie: f.frequentie.clone(),
    });
    let input = RequestInput {
        kind: "toewijzing".into(),
        participant_id: Some(id.clone()),
        financier: FinancierInput {
            kind: kind.to_string(),
            code: code.to_string(),
        },
        products: vec![ProductInput {
            categorie: f.categorie.trim().to_string(),
            code: given(&f.code),
            ingangsdatum: a_date(&f.ingangsdatum, "ingangsdatum")?
                .ok_or_else(|| WebError::BadRequest("vul de ingangsdatum in".into()))?,
            einddatum: a_date(&f.einddatum, "einddatum")?,
            omvang,
            budget: None,
            verwijzer: Some(Verwijzer {
                kind: f.verwijzer.clone(),
                naam: given(&f.verwijzer_naam),
                zorgverlenercode: given(&f.zorgverlenercode),
            }),
            commentaar: given(&f.commentaar),
        }],
        ..RequestInput::default()
    };
    send(&state, &user, &peer, &id, &input, "toewijzing").await
}

/// Composes and queues the request with its audit entry in one
/// transaction; a refusal or a finding is shown in Dutch and nothing is
/// stored.
async fn send(
    state: &AppState,
    user: &WebUser,
    peer: &crate::server::access::Peer,
    participant: &str,
    input: &RequestInput,
    what: &str,
) -> Result<Response, WebError> {
    let mappings = state.mappings.for_tenant(&user.tenant.id);
    let mut w = state.store().begin_write().await?;
    let outcome = requests::compose_in(
        &mut w,
        state.ingest.schema,
        mappings,
        &user.tenant.id,
        input,
        today(),
    )
    .await?;
    let created = match outcome {
        Outcome::Created(c) => c,
        Outcome::Refused(r) => return Err(WebError::BadRequest(r.nl)),
        Outcome::Findings(findings) => {
            let text: Vec<String> = findings
                .iter()
                .map(|f| format!("{} ({}): {}", f.nl, f.rule, f.path))
                .collect();
            return Err(WebError::BadRequest(format!(
                "Het verzoek is niet verstuurd, want het breekt de regels van de standaard: {}",
                text.join("; ")
            )));
        }
        Outcome::NotFound => return Err(WebError::NotFound),
    };
    audit(
        &mut w,
        &user.tenant.id,
        &user.username,
        "request",
        Some(("participant", participant)),
        serde_json::json!({"message_id": created.message_id, "bericht": created.bericht, "what": what}),
    )
    .await?;
    let object = format!("verzoek {}", created.message_id);
    super::access::changed(&mut w, user, peer, &object, participant).await?;
    w.commit().await?;
    state.outbox.wake();
    // The participant page lists the request with its reference.
    Ok(back_to(participant, Notice::RequestQueued))
}
