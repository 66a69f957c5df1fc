//! Deelnemers: the list, and one page per participant with every allocation
//! of every financier on one timeline, what was declared against each, the
//! status, the message history and the warnings staff act on (an
//! allocation ending within four weeks, delivery beyond the allocation, a
//! delivered allocation without a start message).
//!
//! The page renders the record the API returns
//! ([`crate::server::routes::participant_record`]); the participant is
//! addressed by loket's id, never by BSN.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{Duration, NaiveDate};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::access::{changed, log};
use super::auth::{Post, WebUser, audit, csrf_form};
use super::notice::{self, Notice};
use super::{
    WebError, csrf_field, euro, financier_kind_nl, financier_nl, format, name_of, page, status_nl,
};
use crate::engine::startstop::{END_REASONS, is_end_reason, register_end_in};
use crate::record::access::Kind;
use crate::record::read::{self, AllocationView, ParticipantRecord, Prestatie};
use crate::registration::today;
use crate::server::AppState;
use crate::server::access::Peer;

/// An allocation ending within this many days is flagged.
const ENDING_SOON_DAYS: i64 = 28;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    groep: Option<String>,
    #[serde(default)]
    financier: Option<String>,
}

struct Row_ {
    id: String,
    name: String,
    sort_key: (String, String, String),
    group: Option<String>,
    financiers: Vec<String>,
    statuses: Vec<String>,
    ending_soon: bool,
}

/// `GET /deelnemers?groep=&financier=`.
pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let group = q.groep.as_deref().filter(|g| !g.is_empty());
    let financier = q.financier.as_deref().filter(|f| !f.is_empty());
    let rows = read::overview(state.store().pool(), &user.tenant, group, financier).await?;
    // The list shows names: a view of every participant on it.
    let shown: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    log(&state, &user, &peer, Kind::View, "GET /deelnemers", &shown).await?;
    let soon = (today() + Duration::days(ENDING_SOON_DAYS)).to_string();
    let now = today().to_string();
    let mut people: Vec<Row_> = Vec::new();
    for r in rows {
        if people.last().is_none_or(|p| p.id != r.id) {
            let naam: Value = serde_json::from_str(&r.name_json).unwrap_or_default();
            people.push(Row_ {
                id: r.id.clone(),
                name: name_of(&naam),
                sort_key: super::name_sort_key(&naam),
                group: r.group_name.clone(),
                financiers: Vec::new(),
                statuses: Vec::new(),
                ending_soon: false,
            });
        }
        let Some(p) = people.last_mut() else { continue };
        if let Some(kind) = &r.kind {
            let kind = financier_kind_nl(kind).to_string();
            if !p.financiers.contains(&kind) {
                p.financiers.push(kind);
            }
        }
        if let Some(s) = &r.status {
            let s = status_nl(s).to_string();
            if !p.statuses.contains(&s) {
                p.statuses.push(s);
            }
        }
        if matches!(r.status.as_deref(), Some("allocated" | "started"))
            && r.einddatum
                .as_deref()
                .is_some_and(|e| e >= now.as_str() && e <= soon.as_str())
        {
            p.ending_soon = true;
        }
    }
    // By surname (without voorvoegsel), then initials; the id keeps
    // namesakes in a fixed order.
    people.sort_by(|a, b| (&a.sort_key, &a.id).cmp(&(&b.sort_key, &b.id)));
    let groups = read::groups(state.store().pool(), &user.tenant).await?;
    let body = html! {
        h1 { "Deelnemers" }
        form.filters method="get" action="/deelnemers" {
            label { "Groep"
                select name="groep" {
                    option value="" { "Alle groepen" }
                    @for g in &groups { option value=(g) selected[group == Some(g.as_str())] { (g) } }
                }
            }
            label { "Financier"
                select name="financier" {
                    option value="" { "Alle financiers" }
                    @for k in crate::mapping::Kind::ALL.iter().filter(|k| **k != crate::mapping::Kind::Aanbieder).map(|k| k.as_str()) {
                        option value=(k) selected[financier == Some(k)] { (financier_kind_nl(k)) }
                    }
                }
            }
            button.secundair type="submit" { "Filteren" }
        }
        p { (super::format::count(people.len() as i64, "deelnemer", "deelnemers")) }
        table {
            thead { tr { th { "Naam" } th { "Groep" } th { "Financiers" } th { "Status" } th { "Let op" } } }
            tbody {
                @for p in &people {
                    tr {
                        td { a href={ "/deelnemers/" (p.id) } { (p.name) } }
                        td { (p.group.as_deref().unwrap_or("—")) }
                        td { (p.financiers.join(", ")) }
                        td { (p.statuses.join(", ")) }
                        td { @if p.ending_soon { span.waarschuwing { "toewijzing eindigt binnen 4 weken" } } }
                    }
                }
            }
        }
    };
    Ok(page("Deelnemers", Some(&user), body))
}

/// The Frequentie of an Omvang in Dutch (code list WMO757/JW757).
pub(super) fn frequentie_nl(code: &str) -> &str {
    crate::engine::limits::Frequentie::from_code(code).map_or(code, |f| f.label_nl())
}

/// What was declared against one allocation: the volume of debits that
/// still count (not credited, not rejected), in total and in the latest
/// declared period, and their amount.
#[derive(Default)]
struct Used {
    total: i64,
    latest_period: Option<String>,
    latest: i64,
    amount_cents: i64,
}

/// What was declared per allocation, as the engine counts it: a debit no
/// longer counts once a credit names it (unless that credit was rejected),
/// whether or not an answer has approved the credit yet. An invoice's
/// credit note never gets an answer, so waiting for one would count a
/// corrected month twice.
fn used_per_allocation(prestaties: &[Prestatie]) -> HashMap<String, Used> {
    let cancelled: std::collections::HashSet<&str> = prestaties
        .iter()
        .filter(|p| p.debet_credit == "C" && p.status != "rejected")
        .filter_map(|p| p.vorig_referentie_nummer.as_deref())
        .collect();
    let mut out: HashMap<String, Used> = HashMap::new();
    for p in prestaties {
        let counts = p.debet_credit == "D"
            && p.credited_by.is_none()
            && p.status != "rejected"
            && !cancelled.contains(p.referentie_nummer.as_str());
        if !counts {
            continue;
        }
        let u = out.entry(p.allocation_id.clone()).or_default();
        let period = p.period.begin.clone();
        u.total += p.volume;
        u.amount_cents += p.bedrag_cents;
        match &u.latest_period {
            Some(l) if *l > period => {}
            Some(l) if *l == period => u.latest += p.volume,
            _ => {
                u.latest_period = Some(period);
                u.latest = p.volume;
            }
        }
    }
    out
}

#[derive(Deserialize, Default)]
pub struct ShowQuery {
    #[serde(default)]
    melding: Option<String>,
}

/// `GET /deelnemers/{id}`.
pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, WebError> {
    // Only an id: a BSN never travels in a URL, not even to be looked up.
    if id.len() == 9 && id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebError::NotFound);
    }
    let record = read::participant(state.store().pool(), &user.tenant, &id)
        .await?
        .ok_or(WebError::NotFound)?;
    log(
        &state,
        &user,
        &peer,
        Kind::View,
        "GET /deelnemers/{id}",
        std::slice::from_ref(&record.id),
    )
    .await?;
    let accessed = super::access::section(&state, &user, &record.id).await?;
    let allocations = &record.allocations;
    let used = used_per_allocation(&record.prestaties);
    let warnings = warnings(&state, &user, &record).await?;
    let requests = super::requests::section(&state, &user, &id, allocations).await?;
    let outcomes = super::evaluations::section(&state, &user, &record.id).await?;
    let milestones = super::results::section(&state, &user, &record.id).await?;
    let name = name_of(&record.name);
    let body = html! {
        h1 { (name) }
        dl.gegevens {
            dt { "BSN" } dd { (record.bsn) }
            dt { "Geboortedatum" } dd { (record.birth_date.as_deref().map(format::date_str).unwrap_or_default()) }
            dt { "Cliëntnummer" } dd { (record.client_number.as_deref().unwrap_or("—")) }
            dt { "Groep" } dd { (record.group.as_deref().unwrap_or("—")) }
        }
        @if !warnings.is_empty() {
            h2 { "Let op" }
            ul.waarschuwingen {
                @for w in &warnings { li.waarschuwing { (w) } }
            }
        }
        (notice::show(q.melding.as_deref()))
        @if user.role.back_office() {
            details {
                summary { "Groep wijzigen of zorg beëindigen" }
                form.regel method="post" action={ "/deelnemers/" (id) "/groep" } {
                    (csrf_field(&user))
                    label { "Groep of locatie" input name="groep" maxlength="100" value=(record.group.as_deref().unwrap_or("")); }
                    button.secundair type="submit" { "Groep opslaan" }
                }
                form.regel method="post" action={ "/deelnemers/" (id) "/einde" } {
                    (csrf_field(&user))
                    label { "Laatste dag van de zorg" input type="date" name="datum" required; }
                    label { "Reden"
                        select name="reden" required {
                            // No default: the reason is a decision, not a guess.
                            option value="" selected { "— kies een reden —" }
                            @for (reason, label) in END_REASONS { option value=(reason) { (label) } }
                        }
                    }
                    button.secundair type="submit" { "Einde registreren" }
                }
                p { small { "Na het einde stuurt de dagelijkse start/stop-run voor elke gestarte toewijzing een stopbericht (307) met de code van deze reden in de wet van de toewijzing. Een nieuwe registratie vervangt de vorige: een al verzonden stop wordt dan gecorrigeerd." } }
            }
        }
        h2 { "Toewijzingen van alle financiers" }
        (timeline(allocations))
        table {
            thead { tr {
                th { "Financier" } th { "Product" } th { "Toewijzing" } th { "Periode" }
                th { "Omvang" } th { "Gedeclareerd" } th { "Status" }
            } }
            tbody {
                @for a in allocations {
                    @let u = used.get(&a.id);
                    tr {
                        td { (financier_nl(&a.financier.kind, &a.financier.code)) }
                        td { (a.product.categorie.as_deref().unwrap_or("")) "/" (a.product.code.as_deref().unwrap_or("")) }
                        td { code { (a.toewijzing_nummer) } }
                        td { (format::date_str(&a.ingangsdatum)) " – " (a.einddatum.as_deref().map_or_else(|| "…".to_string(), format::date_str)) }
                        td { (omvang(a)) }
                        td { (usage(a, u)) }
                        td { (status_nl(&a.status)) (deliveries(a)) }
                    }
                }
            }
        }
        (requests)
        (outcomes)
        (milestones)
        h2 { "Declaratieregels" }
        @if record.prestaties.is_empty() { p { "Nog niets gedeclareerd." } } @else {
            table {
                thead { tr { th { "Periode" } th { "Toewijzing" } th.getal { "Volume" } th.getal { "Bedrag" } th { "D/C" } th { "Status" } th { "Retourcodes" } } }
                tbody {
                    @for p in &record.prestaties {
                        tr {
                            td { (format::date_str(&p.period.begin)) " – " (format::date_str(&p.period.end)) }
                            td { code { (p.toewijzing_nummer) } }
                            td.getal { (format::volume(p.volume, &p.eenheid)) }
                            td.getal { (euro(p.bedrag_cents)) }
                            td { (p.debet_credit) }
                            td { (status_nl(&p.status)) }
                            td { @for c in &p.retourcodes { code { (c.code) } " " (c.nl) br; } }
                        }
                    }
                }
            }
        }
        h2 { "Berichten" }
        table {
            thead { tr { th { "Datum" } th { "Bericht" } th { "Richting" } th { "Status" } th { "VECOZO" } th { "Retourcodes" } } }
            tbody {
                @for m in &record.messages {
                    tr {
                        td { (format::time_str(&m.created_at)) }
                        td {
                            // The conversation page is the back office's.
                            @if user.role.back_office() {
                                a href={ "/berichten/" (m.id) } title="Gesprek" { (m.bericht.as_deref().unwrap_or("—")) }
                            } @else {
                                (m.bericht.as_deref().unwrap_or("—"))
                            }
                        }
                        td { @if m.direction == "in" { "ontvangen" } @else { "verzonden" } }
                        td { (status_nl(&m.status)) }
                        td { (exchange_nl(m.exchange_status.as_deref())) }
                        td { @for c in m.codes() { code { (c) } " " } }
                    }
                }
            }
        }
        (accessed)
    };
    Ok(page(&name, Some(&user), body))
}

/// VECOZO's berichtstatus in Dutch, as the exchange's codes list names it;
/// empty for a message that did not cross the exchange.
fn exchange_nl(status: Option<&str>) -> String {
    let Some(s) = status else {
        return String::new();
    };
    crate::schema::exchange::ExchangeCodes::builtin()
        .status(s)
        .map_or_else(|| s.to_string(), |i| i.label_nl.clone())
}

fn omvang(a: &AllocationView) -> String {
    let o = &a.omvang;
    if let Some(v) = o.volume {
        return format!(
            "{} {}",
            format::volume(v, o.eenheid.as_deref().unwrap_or("")),
            frequentie_nl(o.frequentie.as_deref().unwrap_or(""))
        );
    }
    match a.budget {
        Some(b) => format!("budget {}", euro(b)),
        None => "—".to_string(),
    }
}

/// The starts and stops of an allocation as the record keeps them (the
/// current ones; a removed or rejected one is struck through).
fn deliveries(a: &AllocationView) -> Markup {
    html! {
        @for d in &a.deliveries {
            br;
            @let text = match (d.kind.as_str(), &d.einddatum) {
                ("start", _) => format!("start {}", format::date_str(&d.begindatum)),
                (_, Some(e)) => format!(
                    "stop {} ({})",
                    format::date_str(e),
                    d.reden_beeindiging.as_deref().unwrap_or("")
                ),
                _ => "stop".to_string(),
            };
            @if d.current != 0 { small { (text) } }
            @else { small { del { (text) } @if d.answer.as_deref() == Some("rejected") { " afgewezen" } @else { " gecorrigeerd" } } }
        }
    }
}

/// Used against the allocation: per declared period for volumes per week or
/// month, in total for a volume over the whole allocation or a budget.
fn usage(a: &AllocationView, used: Option<&Used>) -> Markup {
    let Some(u) = used else {
        return html! { "—" };
    };
    let o = &a.omvang;
    let (value, limit, what) = match (o.volume, o.frequentie.as_deref().unwrap_or(""), a.budget) {
        (Some(v), "4", _) => (
            u.latest,
            Some(v),
            format!(
                "in {}",
                format::month_str(u.latest_period.as_deref().unwrap_or(""))
            ),
        ),
        (Some(v), "6", _) => (u.total, Some(v), "totaal".to_string()),
        (None, _, Some(b)) => (u.amount_cents, Some(b), "van het budget".to_string()),
        _ => (
            u.latest,
            None,
            format!(
                "in {}",
                format::month_str(u.latest_period.as_deref().unwrap_or(""))
            ),
        ),
    };
    let shown = if a.budget.is_some() && o.volume.is_none() {
        euro(value)
    } else {
        value.to_string()
    };
    html! {
        @if let Some(l) = limit.filter(|l| *l > 0) {
            @let pct = (value * 100 / l).clamp(0, 100);
            span.gebruik role="img" aria-label={ (pct) "% gebruikt" } { i.over[value > l] data-breedte=(pct) {} }
            " "
        }
        (shown) " " (what)
        br; small { "totaal " (euro(u.amount_cents)) }
    }
}

/// The warnings of one record.
async fn warnings(
    state: &AppState,
    user: &WebUser,
    record: &ParticipantRecord,
) -> Result<Vec<String>, WebError> {
    let mut out = Vec::new();
    let now = today();
    let soon = now + Duration::days(ENDING_SOON_DAYS);
    for a in &record.allocations {
        let live = matches!(a.status.as_str(), "allocated" | "started");
        if let Some(end) = a
            .einddatum
            .as_deref()
            .and_then(|e| e.parse::<NaiveDate>().ok())
            && live
            && end >= now
            && end <= soon
        {
            out.push(format!(
                "Toewijzing {} ({} {}) eindigt op {}: vraag op tijd een verlenging aan.",
                a.toewijzing_nummer,
                financier_kind_nl(&a.financier.kind),
                a.product.code.as_deref().unwrap_or(""),
                format::date(end)
            ));
        }
    }
    for item in &record.review_items {
        if item.kind == "over_allocation" {
            out.push(format!(
                "Levering boven de toewijzing{}: overweeg een verzoek om wijziging (317).",
                item.detail["toewijzing_nummer"]
                    .as_str()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ));
        }
    }
    // Delivered but never started: an allocation without a start while the
    // participant was present on a day it covers. Invoiced financiers (UWV,
    // Participatiewet) get no start message.
    for a in record
        .allocations
        .iter()
        .filter(|a| a.status == "allocated" && !a.invoiced())
    {
        let to = a.einddatum.as_deref().unwrap_or("9999-12-31");
        let pool = state.store().pool();
        if read::delivered_within(pool, &user.tenant, &record.id, &a.id, &a.ingangsdatum, to)
            .await?
        {
            out.push(format!(
                "Toewijzing {} is geleverd maar er is nog geen startbericht (305) verzonden: de dagelijkse start/stop-run verstuurt het.",
                a.toewijzing_nummer
            ));
        }
    }
    Ok(out)
}

/// Every allocation as a bar on one time axis, coloured by law.
fn timeline(allocations: &[AllocationView]) -> Markup {
    let date = |d: &str| d.parse::<NaiveDate>().ok();
    let now = today();
    let Some(start) = allocations
        .iter()
        .filter_map(|a| date(&a.ingangsdatum))
        .min()
    else {
        return html! { p { "Geen toewijzingen." } };
    };
    let end = allocations
        .iter()
        .filter_map(|a| a.einddatum.as_deref().and_then(date))
        .max()
        .unwrap_or(now)
        .max(now + Duration::days(90));
    let span = (end - start).num_days().max(1) as f64;
    let pos = |d: NaiveDate| ((d - start).num_days() as f64 / span * 100.0).clamp(0.0, 100.0);
    html! {
        div.tijdlijnen aria-label={ "Tijdlijn van " (format::date(start)) " tot " (format::date(end)) } {
            @for a in allocations {
                @let from = date(&a.ingangsdatum).unwrap_or(start);
                @let to = a.einddatum.as_deref().and_then(date).unwrap_or(end);
                @let left = pos(from);
                @let width = (pos(to) - left).max(1.0);
                div.tijdlijn {
                    span class=(a.financier.kind) data-links=(format!("{left:.1}")) data-breedte=(format!("{width:.1}"))
                        title={ (a.toewijzing_nummer) ": " (format::date(from)) " – " (a.einddatum.as_deref().map_or_else(|| "…".to_string(), format::date_str)) } {
                        (financier_kind_nl(&a.financier.kind)) " " (a.product.code.as_deref().unwrap_or("")) " · " (status_nl(&a.status))
                    }
                }
            }
            p { small { (format::date(start)) " — vandaag " (format::date(now)) " — " (format::date(end)) } }
        }
    }
}

/// A participant of the user's tenant, or 404.
pub(super) async fn own_participant(
    state: &AppState,
    user: &WebUser,
    id: &str,
) -> Result<(), WebError> {
    if read::participant_exists(state.store().pool(), &user.tenant, id).await? {
        Ok(())
    } else {
        Err(WebError::NotFound)
    }
}

pub(super) fn back_to(id: &str, notice: Notice) -> Response {
    notice.redirect(&format!("/deelnemers/{id}"))
}

#[derive(Deserialize)]
pub struct GroupForm {
    csrf: String,
    groep: String,
}

#[derive(Deserialize)]
pub struct EndForm {
    csrf: String,
    datum: String,
    /// No default reason: a stop message carries it to the financier, so a
    /// missing one is refused rather than guessed.
    #[serde(default)]
    reden: String,
}
csrf_form!(GroupForm, EndForm);

/// `POST /deelnemers/{id}/groep`: the group or location the daily
/// registration lists the participant under (empty: none).
pub async fn set_group(
    State(state): State<AppState>,
    peer: Peer,
    Path(id): Path<String>,
    Post(user, f): Post<GroupForm>,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    own_participant(&state, &user, &id).await?;
    let group = f.groep.trim();
    if group.chars().count() > 100 {
        return Err(WebError::BadRequest(
            "de groepsnaam is langer dan 100 tekens".into(),
        ));
    }
    let mut w = state.store().begin_write().await?;
    crate::record::apply::set_group(
        &mut w.tx,
        &user.tenant.id,
        &id,
        Some(group).filter(|g| !g.is_empty()),
    )
    .await?;
    audit(
        &mut w,
        &user.tenant.id,
        &user.username,
        "participant_group",
        Some(("participant", &id)),
        serde_json::json!({"group": group}),
    )
    .await?;
    changed(&mut w, &user, &peer, "POST /deelnemers/{id}/groep", &id).await?;
    w.commit().await?;
    Ok(back_to(&id, Notice::GroupSaved))
}

/// `POST /deelnemers/{id}/einde`: the end of care, as `POST
/// /participants/{id}/end` registers it.
pub async fn end(
    State(state): State<AppState>,
    peer: Peer,
    Path(id): Path<String>,
    Post(user, f): Post<EndForm>,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    own_participant(&state, &user, &id).await?;
    let date = f
        .datum
        .parse::<NaiveDate>()
        .map_err(|_| WebError::BadRequest("de datum is geen geldige datum".into()))?;
    if f.reden.trim().is_empty() {
        return Err(WebError::BadRequest(
            "kies een reden van beëindiging; zonder reden wordt het einde niet vastgelegd".into(),
        ));
    }
    if !is_end_reason(&f.reden) {
        return Err(WebError::BadRequest(
            "onbekende reden van beëindiging".into(),
        ));
    }
    let by = format!("{} ({})", user.display_name, user.username);
    let mut w = state.store().begin_write().await?;
    register_end_in(&mut w, &user.tenant.id, &id, date, &f.reden, &by).await?;
    audit(
        &mut w,
        &user.tenant.id,
        &user.username,
        "participant_end",
        Some(("participant", &id)),
        serde_json::json!({"date": date.to_string(), "reason": f.reden}),
    )
    .await?;
    changed(&mut w, &user, &peer, "POST /deelnemers/{id}/einde", &id).await?;
    w.commit().await?;
    Ok(back_to(&id, Notice::CareEnded))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::read::{Period, Product};

    fn line(r: &str, dc: &str, vorig: Option<&str>, status: &str, volume: i64) -> Prestatie {
        Prestatie {
            id: r.into(),
            declaration_id: "d1".into(),
            declaratie_nummer: None,
            referentie_nummer: r.into(),
            vorig_referentie_nummer: vorig.map(Into::into),
            participant_id: "p1".into(),
            allocation_id: "a1".into(),
            toewijzing_nummer: "1".into(),
            product: Product {
                categorie: "07".into(),
                code: "07A11".into(),
            },
            period: Period {
                begin: "2026-10-01".into(),
                end: "2026-10-31".into(),
            },
            volume,
            eenheid: "16".into(),
            tarief_cents: None,
            bedrag_cents: volume * 100,
            debet_credit: dc.into(),
            status: status.into(),
            retourcodes: Vec::new(),
            credited_by: None,
            answered_at: None,
        }
    }

    #[test]
    fn a_credited_invoice_line_no_longer_counts_without_an_answer() {
        // An invoice line, its credit note and the new invoice line: only
        // the new line counts.
        let lines = [
            line("R1", "D", None, "invoiced", 14),
            line("R2", "C", Some("R1"), "invoiced", 14),
            line("R3", "D", None, "invoiced", 12),
        ];
        let used = used_per_allocation(&lines);
        assert_eq!(used["a1"].total, 12);
        assert_eq!(used["a1"].amount_cents, 1200);
        // A rejected credit leaves the debit standing.
        let lines = [
            line("R1", "D", None, "approved", 14),
            line("R2", "C", Some("R1"), "rejected", 14),
        ];
        assert_eq!(used_per_allocation(&lines)["a1"].total, 14);
    }
}
