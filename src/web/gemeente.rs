//! The municipality's pages (a tenant of kind gemeente): what its providers
//! declared and how loket judged it, with a person's decision per line
//! before the 325 leaves ([`crate::record::decisions`], the same functions
//! as the API); its allocations with what it approved on them; and the
//! requests (315/317) waiting for its answer.
//!
//! Every role of the municipality may look; `backoffice` and `beheer`
//! decide and send. Pages show loket's ids and names, never a BSN; every
//! participant shown is in the access log.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{Post, WebUser, csrf_form};
use super::notice::{self, Notice};
use super::{WebError, csrf_field, euro, format, name_of, page, status_nl};
use crate::adapter::istandaard::retourcodes::explain;
use crate::mapping::{FinancierKey, Kind};
use crate::record::access::Kind as Access;
use crate::record::decisions::{self, DecideError, Verdict};
use crate::record::declared::{self, APPROVED, REJECTED};
use crate::server::AppState;
use crate::server::access::Peer;
use crate::store::TenantKind;

/// Only a municipality's users see these pages.
fn require_gemeente(user: &WebUser) -> Result<(), WebError> {
    if user.tenant.kind == TenantKind::Gemeente {
        Ok(())
    } else {
        Err(WebError::NotFound)
    }
}

/// The provider's name from the municipality's mapping, else its AGB code.
fn provider_name(state: &AppState, user: &WebUser, agb: &str) -> String {
    state
        .mappings
        .for_tenant(&user.tenant.id)
        .get(&FinancierKey::new(Kind::Aanbieder, agb))
        .map(|m| format!("{} ({agb})", m.financier.name))
        .unwrap_or_else(|| agb.to_string())
}

/// The filter on provider: every provider of the list, by name.
fn provider_select(
    state: &AppState,
    user: &WebUser,
    providers: &[String],
    chosen: Option<&str>,
) -> Markup {
    html! {
        label { "Aanbieder"
            select name="aanbieder" {
                option value="" { "Alle" }
                @for p in providers { option value=(p) selected[chosen == Some(p.as_str())] { (provider_name(state, user, p)) } }
            }
        }
    }
}

/// The names of the participants a page shows, each view written to the
/// access log first (the page fails when it cannot be).
async fn shown_names(
    state: &AppState,
    user: &WebUser,
    peer: &Peer,
    object: &str,
    shown: &[String],
) -> Result<HashMap<String, serde_json::Value>, WebError> {
    super::access::log(state, user, peer, Access::View, object, shown).await?;
    Ok(
        crate::record::deadlines::participant_names(state.store().pool(), &user.tenant, shown)
            .await?,
    )
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    aanbieder: Option<String>,
    #[serde(default)]
    maand: Option<String>,
    #[serde(default)]
    melding: Option<String>,
}

/// `GET /gemeente/declaraties?aanbieder=&maand=`: the held 325s with their
/// terms, and every received declaration per provider and month.
pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    require_gemeente(&user)?;
    let pool = state.store().pool();
    let aanbieder = q.aanbieder.as_deref().filter(|s| !s.is_empty());
    let maand = q.maand.as_deref().filter(|s| !s.is_empty());
    let rows = declared::received(pool, &user.tenant.id, aanbieder, maand).await?;
    let held = decisions::held(pool, &user.tenant.id).await?;
    let held_of: HashMap<&str, &decisions::Hold> =
        held.iter().map(|h| (h.message_id.as_str(), h)).collect();
    let mut providers: Vec<String> = rows.iter().map(|r| r.aanbieder.clone()).collect();
    providers.sort();
    providers.dedup();
    let body = html! {
        h1 { "Ontvangen declaraties" }
        (notice::show(q.melding.as_deref()))
        p { "Declaraties (WMO323/JW323) van uw aanbieders, beoordeeld op uw eigen toewijzingen. "
            a href="/declarations/received.csv" download { "Alle declaratieregels als CSV (Excel)" } }
        h2 { "Wacht op uw beslissing" }
        @if held.is_empty() { p { "Geen antwoorden (325) die wachten." } } @else {
            table {
                thead { tr { th { "Aanbieder" } th { "Ontvangen" } th { "Gaat vanzelf op" } th { "Uiterlijk" } th { "" } } }
                tbody {
                    @for h in &held {
                        tr {
                            td { (provider_name(&state, &user, &h.aanbieder)) }
                            td { (format::date_str(&h.received_on)) }
                            td { (format::date_str(&h.releases_on)) }
                            td { (format::date_str(&h.due_on)) }
                            td { a href={ "/gemeente/declaraties/" (h.message_id) } { "Beoordelen" } }
                        }
                    }
                }
            }
        }
        h2 { "Alle declaraties" }
        form.filters method="get" action="/gemeente/declaraties" {
            (provider_select(&state, &user, &providers, aanbieder))
            label { "Maand" input type="month" name="maand" value=(maand.unwrap_or("")); }
            button.secundair type="submit" { "Filteren" }
        }
        @if rows.is_empty() { p { "Nog geen declaraties ontvangen." } } @else {
            table {
                thead { tr {
                    th { "Maand" } th { "Aanbieder" } th { "Nummer" } th.getal { "Regels" } th.getal { "Afgekeurd" }
                    th.getal { "Gedeclareerd" } th.getal { "Goedgekeurd" } th.getal { "Afgekeurd bedrag" } th { "Antwoord" } th { "" }
                } }
                tbody {
                    @for r in &rows {
                        tr {
                            td { (format::month_str(&r.period_begin)) }
                            td { (provider_name(&state, &user, &r.aanbieder)) }
                            td { code { (r.declaratie_nummer) } }
                            td.getal { (r.lines) }
                            td.getal { (r.rejected) }
                            td.getal { (euro(r.declared_cents)) }
                            td.getal { (euro(r.approved_cents)) }
                            td.getal { (euro(r.rejected_cents)) }
                            td { @if held_of.contains_key(r.message_id.as_str()) { strong.waarschuwing { "wacht op beslissing" } } @else { "verstuurd" } }
                            td { a href={ "/gemeente/declaraties/" (r.message_id) } { "Bekijken" } }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Ontvangen declaraties", Some(&user), body))
}

/// `GET /gemeente/declaraties/{id}`: the lines with loket's verdict and
/// why, the decision form per line while the 325 waits, "325 versturen",
/// and every decision made.
pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    require_gemeente(&user)?;
    let pool = state.store().pool();
    let lines = declared::lines_of(pool, &user.tenant.id, &id).await?;
    let first = lines.first().ok_or(WebError::NotFound)?;
    let hold = decisions::hold(pool, &user.tenant.id, &id).await?;
    let shown: Vec<String> = lines
        .iter()
        .filter_map(|l| l.participant_id.clone())
        .collect();
    let names = shown_names(
        &state,
        &user,
        &peer,
        "GET /gemeente/declaraties/{id}",
        &shown,
    )
    .await?;
    let open = hold.as_ref().is_some_and(|h| h.state == "held");
    let may = user.role.back_office() && open;
    let codes = decisions::person_codes();
    let body = html! {
        h1 { "Declaratie " (first.declaratie_nummer) }
        (notice::show(q.melding.as_deref()))
        dl.gegevens {
            dt { "Aanbieder" } dd { (provider_name(&state, &user, &first.aanbieder)) }
            dt { "Bericht" } dd { (if first.standard == "ijw" { "JW323" } else { "WMO323" }) }
            @if let Some(h) = &hold {
                dt { "Antwoord (325)" } dd { (hold_state(h)) }
                dt { "Uiterlijk versturen" } dd { (format::date_str(&h.due_on)) " (gaat vanzelf op " (format::date_str(&h.releases_on)) ")" }
            } @else {
                dt { "Antwoord (325)" } dd { "direct verstuurd met het oordeel van loket" }
            }
        }
        @if may {
            form.regel method="post" action={ "/gemeente/declaraties/" (id) "/versturen" } {
                (csrf_field(&user))
                button type="submit" id="versturen" { "325 versturen" }
            }
        } @else if open {
            p { "Alleen backoffice en beheer beslissen en versturen." }
        }
        table {
            thead { tr {
                th { "Deelnemer" } th { "Toewijzing" } th { "Product" } th { "Periode" } th.getal { "Volume" }
                th.getal { "Bedrag" } th { "D/C" } th { "Oordeel" } th { "Waarom" }
                @if may { th { "Beslissing" } }
            } }
            tbody {
                @for l in &lines {
                    tr id={ "regel-" (l.id) } {
                        td { @if let Some(p) = &l.participant_id {
                            (names.get(p).map(name_of).unwrap_or_else(|| "deelnemer".into()))
                        } }
                        td { code { (l.toewijzing_nummer) } }
                        td { (l.product_categorie) "/" (l.product_code.as_deref().unwrap_or("")) }
                        td { (format::date_str(&l.period_begin)) " – " (format::date_str(&l.period_end)) }
                        td.getal { (l.volume) " (" (l.eenheid) ")" }
                        td.getal { (euro(l.bedrag_cents)) }
                        td { (l.debet_credit) }
                        td { @if l.status == REJECTED { strong.waarschuwing { (status_nl(&l.status)) } } @else { (status_nl(&l.status)) } }
                        td { @for c in l.codes() { code { (c) } " " (explain(&c).nl) br; } }
                        @if may { td.beslissing { (decision_form(&user, &id, l, &codes)) } }
                    }
                }
            }
        }
        @if let Some(h) = &hold {
            @if !h.decisions.is_empty() {
                h2 { "Beslissingen" }
                table {
                    thead { tr { th { "Wanneer" } th { "Wie" } th { "Rol" } th { "Regel" } th { "Was" } th { "Wordt" } th { "Reden" } } }
                    tbody {
                        @for d in &h.decisions {
                            tr {
                                td { (format::time_str(&d.decided_at)) }
                                td { (d.actor_name) }
                                td { (d.role) }
                                td { code { (d.referentie_nummer) } }
                                td { (verdict_text(&d.old_status, &d.old_codes)) }
                                td { (verdict_text(&d.new_status, &d.new_codes)) }
                                td { (d.reason) }
                            }
                        }
                    }
                }
            }
        }
        p { a href="/gemeente/declaraties" { "Terug naar de declaraties" } }
    };
    Ok(page("Declaratie", Some(&user), body))
}

fn hold_state(h: &decisions::Hold) -> String {
    match h.state {
        "held" => "wacht op uw beslissing".to_string(),
        _ => match (h.released_how.as_deref(), &h.released_at) {
            (Some(decisions::BY_DEADLINE), Some(at)) => {
                format!(
                    "verstuurd op {} (termijn bijna verstreken)",
                    format::time_str(at)
                )
            }
            (_, Some(at)) => format!(
                "verstuurd op {} door {}",
                format::time_str(at),
                h.released_by.as_deref().unwrap_or("")
            ),
            _ => "verstuurd".to_string(),
        },
    }
}

fn verdict_text(status: &str, codes: &str) -> String {
    let codes: Vec<String> = serde_json::from_str(codes).unwrap_or_default();
    if codes.is_empty() {
        status_nl(status).to_string()
    } else {
        format!("{} ({})", status_nl(status), codes.join(", "))
    }
}

/// Approve (a rejected line) or reject with a code (an approved one); a
/// reason is always asked for, it goes into the audit.
fn decision_form(
    user: &WebUser,
    id: &str,
    l: &declared::JudgedLine,
    codes: &[(&'static str, String)],
) -> Markup {
    html! {
        form.regel method="post" action={ "/gemeente/declaraties/" (id) "/regels/" (l.id) } {
            (csrf_field(user))
            @if l.status == APPROVED {
                input type="hidden" name="besluit" value="afkeuren";
                label { "Retourcode"
                    select name="retourcode" required {
                        option value="" { "Kies een code" }
                        @for (c, nl) in codes { option value=(c) title=(nl) { (c) " – " (short(nl)) } }
                    }
                }
            } @else {
                input type="hidden" name="besluit" value="goedkeuren";
            }
            label { "Reden" input type="text" name="reden" required maxlength="2000"; }
            button type="submit" { @if l.status == APPROVED { "Afkeuren" } @else { "Goedkeuren" } }
        }
    }
}

/// The start of a code's explanation, for a select that fits a tablet.
fn short(nl: &str) -> String {
    if nl.chars().count() <= 40 {
        return nl.to_string();
    }
    let mut s: String = nl.chars().take(39).collect();
    s.push('…');
    s
}

#[derive(Deserialize)]
pub struct DecisionForm {
    csrf: String,
    besluit: String,
    #[serde(default)]
    retourcode: Option<String>,
    #[serde(default)]
    reden: String,
}
csrf_form!(DecisionForm);

/// `POST /gemeente/declaraties/{id}/regels/{line}`: a person's decision.
pub async fn decide(
    State(state): State<AppState>,
    peer: Peer,
    Path((id, line)): Path<(String, String)>,
    Post(user, f): Post<DecisionForm>,
) -> Result<Response, WebError> {
    require_gemeente(&user)?;
    user.require_back_office()?;
    let to = format!("/gemeente/declaraties/{id}");
    let verdict = match (f.besluit.as_str(), f.retourcode.filter(|c| !c.is_empty())) {
        ("goedkeuren", _) => Verdict::Approve,
        ("afkeuren", Some(code)) => Verdict::Reject(code),
        _ => return Ok(Notice::DecisionCodeInvalid.redirect(&to)),
    };
    let actor = super::access::actor(&user, &peer);
    match decisions::decide(
        state.store(),
        &user.tenant,
        &actor,
        &id,
        &line,
        &verdict,
        &f.reden,
    )
    .await
    {
        Ok(_) => Ok(Notice::DecisionSaved.redirect(&to)),
        Err(DecideError::NotFound) => Err(WebError::NotFound),
        Err(DecideError::NotHeld) => Ok(Notice::AnswerAlreadySent.redirect(&to)),
        Err(DecideError::BadCode(_) | DecideError::NoReason) => {
            Ok(Notice::DecisionCodeInvalid.redirect(&to))
        }
        Err(e @ DecideError::Invalid(_)) => Err(WebError::BadRequest(e.to_string())),
        Err(DecideError::Store(e)) => Err(WebError::Internal(e)),
    }
}

#[derive(Deserialize)]
pub struct SendForm {
    csrf: String,
}
csrf_form!(SendForm);

/// `POST /gemeente/declaraties/{id}/versturen`: "325 versturen".
pub async fn send(
    State(state): State<AppState>,
    peer: Peer,
    Path(id): Path<String>,
    Post(user, _f): Post<SendForm>,
) -> Result<Response, WebError> {
    require_gemeente(&user)?;
    user.require_back_office()?;
    let to = format!("/gemeente/declaraties/{id}");
    let actor = super::access::actor(&user, &peer);
    match decisions::release(state.store(), &user.tenant, &actor, &id).await {
        Ok(_) => {
            state.outbox.wake();
            Ok(Notice::AnswerSent.redirect(&to))
        }
        Err(DecideError::NotFound) => Err(WebError::NotFound),
        Err(DecideError::NotHeld) => Ok(Notice::AnswerAlreadySent.redirect(&to)),
        Err(DecideError::Store(e)) => Err(WebError::Internal(e)),
        Err(e) => Err(WebError::BadRequest(e.to_string())),
    }
}

/// `GET /gemeente/toewijzingen?aanbieder=`: allocations per provider and
/// participant, with the volume and amount approved on each against what
/// was granted.
pub async fn allocations(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    require_gemeente(&user)?;
    let pool = state.store().pool();
    let aanbieder = q.aanbieder.as_deref().filter(|s| !s.is_empty());
    let rows = declared::granted(pool, &user.tenant.id, aanbieder).await?;
    let mut shown: Vec<String> = rows.iter().map(|r| r.participant_id.clone()).collect();
    shown.sort();
    shown.dedup();
    super::access::log(
        &state,
        &user,
        &peer,
        Access::View,
        "GET /gemeente/toewijzingen",
        &shown,
    )
    .await?;
    let mut providers: Vec<String> = rows.iter().filter_map(|r| r.aanbieder.clone()).collect();
    providers.sort();
    providers.dedup();
    let body = html! {
        h1 { "Toewijzingen en gebruik" }
        p { "Per aanbieder en deelnemer: wat is toegewezen en wat daarvan is goedgekeurd (gedeclareerd, niet gecrediteerd)." }
        form.filters method="get" action="/gemeente/toewijzingen" {
            (provider_select(&state, &user, &providers, aanbieder))
            button.secundair type="submit" { "Filteren" }
        }
        @if rows.is_empty() { p { "Nog geen toewijzingen." } } @else {
            table {
                thead { tr {
                    th { "Aanbieder" } th { "Deelnemer" } th { "Toewijzing" } th { "Product" } th { "Looptijd" }
                    th { "Toegewezen" } th { "Goedgekeurd" } th { "Gebruik" } th { "Status" }
                } }
                tbody {
                    @for r in &rows {
                        @let name = r.name_json.as_deref().and_then(|n| serde_json::from_str::<serde_json::Value>(n).ok()).map(|n| name_of(&n)).unwrap_or_default();
                        @let used_volume = r.used_volume.unwrap_or(0);
                        @let used_cents = r.used_cents.unwrap_or(0);
                        tr {
                            td { (provider_name(&state, &user, r.aanbieder.as_deref().unwrap_or(""))) }
                            td { (name) }
                            td { code { (r.toewijzing_nummer) } }
                            td { (r.product_categorie.as_deref().unwrap_or("")) "/" (r.product_code.as_deref().unwrap_or("")) }
                            td { (format::date_str(&r.ingangsdatum)) " – " (r.einddatum.as_deref().map(format::date_str).unwrap_or_default()) }
                            td { (granted_text(r)) }
                            td { (used_volume) " · " (euro(used_cents)) }
                            td { (usage_bar(r, used_volume, used_cents)) }
                            td { (status_nl(&r.status)) }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Toewijzingen", Some(&user), body))
}

/// What was granted, as a person reads it.
fn granted_text(r: &declared::GrantedAllocation) -> String {
    if let Some(b) = r.budget {
        return format!("budget {}", euro(b));
    }
    let per = r
        .frequentie
        .as_deref()
        .map_or("", super::participants::frequentie_nl);
    format!(
        "{} (eenheid {}) {per}",
        r.volume.unwrap_or(0),
        r.eenheid.as_deref().unwrap_or("")
    )
}

/// A bar of use against grant: a budget against the approved amount; a
/// volume against the approved volume, the volume counted over the
/// allocation's days so far (per day, week or month; a total as it is).
/// Its width is data (`data-breedte`): the page has no inline style.
fn usage_bar(r: &declared::GrantedAllocation, used_volume: i64, used_cents: i64) -> Markup {
    let (used, of) = match (r.budget, r.volume) {
        (Some(b), _) => (used_cents, b),
        (None, Some(v)) => (used_volume, allowed_so_far(r, v)),
        _ => return html! { "–" },
    };
    if of <= 0 {
        return html! { "–" };
    }
    let pct = used.saturating_mul(100) / of;
    html! {
        span.gebruik title={ (pct) "%" } { i.over[pct > 100] data-breedte=(pct.min(100)) {} }
        " " (pct) "%"
    }
}

/// The volume granted from the allocation's start up to today (or its
/// end, if earlier), for a volume per day, week or month; a total whole.
fn allowed_so_far(r: &declared::GrantedAllocation, volume: i64) -> i64 {
    let day =
        |s: &str| chrono::NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d").ok();
    let Some(start) = day(&r.ingangsdatum) else {
        return 0;
    };
    let today = crate::registration::today();
    let end = r
        .einddatum
        .as_deref()
        .and_then(day)
        .map_or(today, |e| e.min(today));
    let days = (end - start).num_days() + 1;
    if days <= 0 {
        return 0;
    }
    let per_days = match r.frequentie.as_deref() {
        Some("1") => 1.0,
        Some("2") => 7.0,
        Some("4") => 365.25 / 12.0,
        _ => return volume,
    };
    ((volume as f64) * (days as f64) / per_days).round() as i64
}

/// `GET /gemeente/verzoeken`: requests (315/317) received and not yet
/// answered, with the five-working-day term.
pub async fn requests(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
) -> Result<Response, WebError> {
    require_gemeente(&user)?;
    let pool = state.store().pool();
    let today = crate::registration::today();
    let deadlines = crate::record::deadlines::list(
        pool,
        &user.tenant,
        state.mappings.for_tenant(&user.tenant.id),
        today,
    )
    .await?;
    let waiting: Vec<&crate::record::deadlines::Deadline> = deadlines
        .items
        .iter()
        .filter(|d| d.kind == crate::record::deadlines::VERZOEK_ANTWOORD)
        .collect();
    let requests = crate::record::requests::list(
        pool,
        &user.tenant.id,
        &crate::record::requests::Filter {
            status: Some("received"),
            limit: 1000,
            ..Default::default()
        },
    )
    .await?;
    let by_id: HashMap<&str, &crate::record::requests::RequestRow> =
        requests.iter().map(|r| (r.id.as_str(), r)).collect();
    let shown: Vec<String> = waiting
        .iter()
        .filter_map(|d| d.participant_id.clone())
        .collect();
    let names = shown_names(&state, &user, &peer, "GET /gemeente/verzoeken", &shown).await?;
    let body = html! {
        h1 { "Verzoeken die wachten" }
        p { "Verzoeken om toewijzing (315) en om wijziging (317) die nog geen antwoord hebben. De standaard geeft vijf werkdagen; beantwoorden kan met " code { "POST /requests/{id}/answer" } "." }
        @if waiting.is_empty() { p { "Geen verzoeken die wachten." } } @else {
            table {
                thead { tr { th { "Verzoek" } th { "Aanbieder" } th { "Deelnemer" } th { "Ontvangen" } th { "Uiterlijk" } th { "Termijn" } } }
                tbody {
                    @for d in &waiting {
                        @let r = d.request_id.as_deref().and_then(|id| by_id.get(id));
                        tr {
                            td { (d.bericht.as_deref().unwrap_or("")) " " @if let Some(r) = r { "(" (r.kind()) ")" } }
                            td { (provider_name(&state, &user, d.counterpart.as_deref().unwrap_or(""))) }
                            td { @if let Some(p) = &d.participant_id { (names.get(p).map(name_of).unwrap_or_else(|| "deelnemer".into())) } }
                            td { (format::date_str(&d.started_on)) }
                            td { (format::date_str(&d.due_on)) }
                            td { @if d.overdue { strong.waarschuwing { (format::count(d.days_overdue, "werkdag", "werkdagen")) " te laat" } }
                                 @else { (format::count(-d.days_overdue, "werkdag", "werkdagen")) " over" } }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Verzoeken", Some(&user), body))
}
