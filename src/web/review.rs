//! Afgekeurde berichten: every line or message a financier rejected (a 325
//! line, a retour that refused a 305/307/315), every answer loket could not
//! place, and everything loket's own checks held back before sending; with
//! each retourcode explained in Dutch from WJ001.
//!
//! The actions resolve the review item through the same function as
//! `POST /review/{id}/resolve` and, for a resend, run the declaration
//! engine right away: a resolved rejected line is declared again by the
//! engine (with a new reference), after the underlying data was corrected
//! in the registration or by a new allocation. Every action is written to
//! the audit trail with who and when.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{Datelike, NaiveDate};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Post, WebUser, audit, csrf_form};
use super::notice::{self, Notice};
use super::registration::urlencode;
use super::{WebError, csrf_field, financier_nl, format, page, status_nl};
use crate::engine;
use crate::mapping::units::Eenheid;
use crate::record::access::Kind;
use crate::record::read;
use crate::record::review::{self, Filter, Resolved, ReviewItem, resolve_in};
use crate::server::AppState;
use crate::store::Tenant;

/// The most items the queue shows and walks through at once.
const MAX_ITEMS: i64 = 5000;

/// An item with what the filters need.
struct Entry {
    item: ReviewItem,
    /// `kind:code`, e.g. `wmo:0363`; empty when unknown.
    financier: String,
    financier_label: String,
    /// First day of the period it is about (YYYY-MM-DD), if any.
    period: Option<String>,
    participant_name: Option<String>,
    /// [`super::name_sort_key`] of the participant, for the list by name.
    name_key: Option<(String, String, String)>,
    /// Why it cannot be resent, when it cannot.
    not_resendable: Option<&'static str>,
}

impl Entry {
    fn id(&self) -> &str {
        &self.item.id
    }
    fn codes(&self) -> Vec<&str> {
        self.item
            .retourcodes
            .iter()
            .map(|c| c.code.as_str())
            .collect()
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct Filters {
    #[serde(default)]
    financier: Option<String>,
    #[serde(default)]
    code: Option<String>,
    /// YYYY-MM
    #[serde(default)]
    periode: Option<String>,
    /// open (default) | afgehandeld | alle
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    melding: Option<String>,
    /// naam: by the participant's surname; otherwise newest first.
    #[serde(default)]
    sorteer: Option<String>,
}

impl Filters {
    fn query(&self) -> String {
        let f = |k: &str, v: &Option<String>| {
            v.as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", urlencode(v)))
        };
        [
            f("financier", &self.financier),
            f("code", &self.code),
            f("periode", &self.periode),
            f("status", &self.status),
            f("sorteer", &self.sorteer),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("&")
    }

    fn matches(&self, e: &Entry) -> bool {
        let set = |v: &Option<String>| v.as_deref().filter(|v| !v.is_empty()).map(str::to_string);
        if let Some(f) = set(&self.financier)
            && e.financier != f
        {
            return false;
        }
        if let Some(c) = set(&self.code)
            && !e.codes().contains(&c.as_str())
        {
            return false;
        }
        if let Some(p) = set(&self.periode)
            && !e.period.as_deref().is_some_and(|b| b.starts_with(&p))
        {
            return false;
        }
        true
    }

    fn status_sql(&self) -> Option<&'static str> {
        match self.status.as_deref() {
            Some("alle") => None,
            Some("afgehandeld") => Some("resolved"),
            _ => Some("open"),
        }
    }
}

/// The tenant's items (newest first) with financier, period and name, and
/// whether each can be resent.
async fn entries(state: &AppState, user: &WebUser, f: &Filters) -> Result<Vec<Entry>, WebError> {
    let pool = state.store().pool();
    let filter = Filter {
        status: f.status_sql(),
        ..Filter::default()
    };
    let (rows, _) = review::list(pool, &user.tenant, filter, MAX_ITEMS, 0).await?;
    // Allocations and outbound messages of the tenant, for the financier
    // and the resend check.
    let allocations: HashMap<String, (String, String, String)> =
        read::allocation_financiers(pool, &user.tenant)
            .await?
            .into_iter()
            .map(|a| (a.id, (a.status, a.kind, a.code)))
            .collect();
    let names: HashMap<String, (String, (String, String, String))> =
        read::reviewed_names(pool, &user.tenant)
            .await?
            .into_iter()
            .map(|(id, naam)| (id, (super::name_of(&naam), super::name_sort_key(&naam))))
            .collect();
    let mut out = Vec::new();
    for item in rows {
        let detail = &item.detail;
        let allocation = review::allocation_id(&item).and_then(|a| allocations.get(a));
        let (financier, financier_label) = match allocation {
            Some((_, kind, code)) => (format!("{kind}:{code}"), financier_nl(kind, code)),
            None => match receiver_of(state, &user.tenant, detail).await? {
                Some(code) => (String::new(), format!("gemeente {code}")),
                None => (String::new(), "—".to_string()),
            },
        };
        let period = review::period(&item).map(|(begin, _)| begin);
        let kind = item.kind.as_str();
        let not_resendable = match (kind, allocation) {
            ("unmatched_answer", _) => Some(
                "Dit is een antwoord dat loket niet kon koppelen; er is niets om opnieuw te versturen. Neem contact op met de gemeente en sluit het af.",
            ),
            ("rejected_request", _) => Some(
                "De gemeente heeft het verzoek afgewezen; opnieuw versturen verandert dat niet. Dien op de deelnemerpagina zo nodig een nieuw verzoek in en sluit dit af.",
            ),
            (_, Some((status, _, _))) if status == "withdrawn" => Some(
                "De toewijzing is ingetrokken: opnieuw declareren zou TR321/TR071 breken. Sluit het af of vraag een nieuwe toewijzing aan.",
            ),
            _ if item.status != "open" => Some("Dit item is al afgehandeld."),
            _ => None,
        };
        let named = item.participant_id.as_deref().and_then(|p| names.get(p));
        out.push(Entry {
            participant_name: named.map(|(n, _)| n.clone()),
            name_key: named.map(|(_, k)| k.clone()),
            item,
            financier,
            financier_label,
            period,
            not_resendable,
        });
    }
    let mut out: Vec<Entry> = out.into_iter().filter(|e| f.matches(e)).collect();
    if f.sorteer.as_deref() == Some("naam") {
        // Items without a participant last; a person's items newest first
        // (a stable sort keeps the order they came in).
        out.sort_by(|a, b| match (&a.name_key, &b.name_key) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
    }
    Ok(out)
}

/// The municipality a rejected outbound message went to.
async fn receiver_of(
    state: &AppState,
    tenant: &Tenant,
    detail: &Value,
) -> Result<Option<String>, WebError> {
    let Some(id) = detail["heen_message_id"].as_str() else {
        return Ok(None);
    };
    Ok(read::message_receiver(state.store().pool(), tenant, id).await?)
}

fn kind_nl(kind: &str) -> &str {
    match kind {
        "rejected_prestatie" => "Declaratieregel afgewezen",
        "rejected_message" => "Bericht afgekeurd",
        "unmatched_answer" => "Antwoord niet te koppelen",
        "rejected_request" => "Verzoek afgewezen",
        "over_allocation" => "Levering boven toewijzing",
        "not_declarable" => "Niet te declareren",
        "not_sent" => "Tegengehouden door loket",
        "result_not_claimable" => "Resultaat niet te claimen",
        "exchange_refused" => "Geweigerd door VECOZO of de GGk",
        other => other,
    }
}

fn codes_cell(item: &ReviewItem) -> Markup {
    html! {
        @for c in &item.retourcodes {
            div { code { (c.code) } " " (c.nl) }
        }
    }
}

fn filter_form(f: &Filters, entries: &[Entry]) -> Markup {
    let mut financiers: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| !e.financier.is_empty())
        .map(|e| (e.financier.as_str(), e.financier_label.as_str()))
        .collect();
    if let Some(sel) = f.financier.as_deref().filter(|s| !s.is_empty())
        && !financiers.iter().any(|(k, _)| *k == sel)
    {
        financiers.push((sel, sel));
    }
    financiers.sort();
    financiers.dedup();
    html! {
        form.filters method="get" action="/afgekeurd" {
            label { "Financier"
                select name="financier" {
                    option value="" { "Alle" }
                    @for (k, l) in &financiers { option value=(k) selected[f.financier.as_deref() == Some(*k)] { (l) } }
                }
            }
            label { "Retourcode" input name="code" size="6" pattern="[0-9]{4}" value=(f.code.as_deref().unwrap_or("")); }
            label { "Periode" input type="month" name="periode" value=(f.periode.as_deref().unwrap_or("")); }
            label { "Status"
                select name="status" {
                    option value="open" selected[f.status_sql() == Some("open")] { "Open" }
                    option value="afgehandeld" selected[f.status_sql() == Some("resolved")] { "Afgehandeld" }
                    option value="alle" selected[f.status_sql().is_none()] { "Alle" }
                }
            }
            label { "Volgorde"
                select name="sorteer" {
                    option value="" selected[f.sorteer.as_deref() != Some("naam")] { "Nieuwste eerst" }
                    option value="naam" selected[f.sorteer.as_deref() == Some("naam")] { "Op achternaam" }
                }
            }
            button.secundair type="submit" { "Filteren" }
        }
    }
}

/// `GET /afgekeurd`.
pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    peer: crate::server::access::Peer,
    Query(f): Query<Filters>,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    let all = entries(
        &state,
        &user,
        &Filters {
            financier: None,
            code: None,
            periode: None,
            ..f.clone()
        },
    )
    .await?;
    let shown: Vec<&Entry> = all.iter().filter(|e| f.matches(e)).collect();
    // The list names the participants of the items it shows.
    let named: Vec<String> = shown
        .iter()
        .filter_map(|e| e.item.participant_id.clone())
        .collect();
    super::access::log(&state, &user, &peer, Kind::View, "GET /afgekeurd", &named).await?;
    let refused = refused_inbound(&state, &user, &f).await?;
    let q = f.query();
    let body = html! {
        h1 { "Afgekeurde berichten" }
        (filter_form(&f, &all))
        (notice::show(f.melding.as_deref()))
        p { (format::count(shown.len() as i64, "item", "items")) }
        @if !shown.is_empty() {
            form method="post" action="/afgekeurd/bulk" {
                (csrf_field(&user))
                input type="hidden" name="terug" value=(q);
                table {
                    thead { tr {
                        th { input #selecteer-alles type="checkbox" aria-label="Alles selecteren"; }
                        th { "Soort" } th { "Deelnemer" } th { "Financier" } th { "Periode" } th { "Retourcodes" } th { "Status" } th { "" }
                    } }
                    tbody {
                        @for e in &shown {
                            tr {
                                td { input type="checkbox" name="items" value=(e.id()) aria-label="Selecteren"; }
                                td { (kind_nl(&e.item.kind)) }
                                td { (e.participant_name.as_deref().unwrap_or("—")) }
                                td { (e.financier_label) }
                                td { (e.period.as_deref().map_or_else(|| "—".to_string(), format::month_str)) }
                                td { (codes_cell(&e.item)) }
                                td { (status_nl(&e.item.status)) }
                                td { a href={ "/afgekeurd/" (e.id()) "?" (q) } { "Bekijken" } }
                            }
                        }
                    }
                }
                fieldset.regel {
                    legend { "Selectie" }
                    label { "Reden (bij afsluiten)" input name="reden" maxlength="500"; }
                    button type="submit" name="actie" value="opnieuw" { "Selectie opnieuw indienen" }
                    button.secundair type="submit" name="actie" value="sluiten" { "Selectie afsluiten" }
                }
            }
        }
        h2 { "Ontvangen berichten die loket afkeurde" }
        p { "De afzender kreeg een retourbericht met deze codes en moet een verbeterd bericht sturen; hier is niets opnieuw te versturen." }
        @if refused.is_empty() { p { "Geen." } } @else {
            table {
                thead { tr { th { "Ontvangen" } th { "Bericht" } th { "Afzender" } th { "Status" } th { "Retourcodes" } } }
                tbody {
                    @for m in &refused {
                        tr {
                            td { (format::time_str(&m.at)) }
                            td { (m.bericht) }
                            td { (m.sender) }
                            td { (status_nl(&m.status)) }
                            td { @for c in &m.codes { div { code { (c.code) } " " (c.nl) } } }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Afgekeurde berichten", Some(&user), body))
}

/// An incoming message loket's own checks refused.
struct Refused {
    at: String,
    bericht: String,
    sender: String,
    status: String,
    codes: Vec<crate::adapter::istandaard::retourcodes::Explained>,
}

/// Incoming messages loket refused (status rejected or unusable), newest
/// first, by the list's filters: the financier by its code as sender, the
/// retourcode, the month received.
async fn refused_inbound(
    state: &AppState,
    user: &WebUser,
    f: &Filters,
) -> Result<Vec<Refused>, WebError> {
    let set = |v: &Option<String>| v.as_deref().filter(|v| !v.is_empty()).map(str::to_string);
    let sender = set(&f.financier).and_then(|k| k.split_once(':').map(|(_, c)| c.to_string()));
    let periode = set(&f.periode);
    let rows = read::refused_messages(
        state.store().pool(),
        &user.tenant,
        sender.as_deref(),
        periode.as_deref(),
        200,
    )
    .await?;
    let code = set(&f.code);
    Ok(rows
        .into_iter()
        .map(|r| Refused {
            codes: r
                .codes()
                .iter()
                .map(|c| crate::adapter::istandaard::retourcodes::explain(c))
                .collect(),
            at: r.created_at,
            bericht: r.bericht.unwrap_or_else(|| "onleesbaar".into()),
            sender: r.sender.unwrap_or_else(|| "—".into()),
            status: r.status,
        })
        .filter(|m| {
            code.as_ref()
                .is_none_or(|c| m.codes.iter().any(|x| &x.code == c))
        })
        .collect())
}

/// `GET /afgekeurd/{id}?filters`: one item, with previous and next in the
/// filtered list.
pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    peer: crate::server::access::Peer,
    Path(id): Path<String>,
    Query(f): Query<Filters>,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    let list = entries(
        &state,
        &user,
        &Filters {
            status: Some("alle".into()),
            ..f.clone()
        },
    )
    .await?;
    let Some(pos) = list.iter().position(|e| e.id() == id) else {
        return Err(WebError::NotFound);
    };
    let in_filter: Vec<&Entry> = list
        .iter()
        .filter(|e| e.id() == id || f.status_sql().is_none_or(|s| e.item.status == s))
        .collect();
    let here = in_filter.iter().position(|e| e.id() == id).unwrap_or(0);
    let prev = here.checked_sub(1).and_then(|i| in_filter.get(i));
    let next = in_filter.get(here + 1);
    let e = &list[pos];
    let item = &e.item;
    if let Some(p) = &item.participant_id {
        let object = format!("GET /afgekeurd/{id}");
        super::access::log(
            &state,
            &user,
            &peer,
            Kind::View,
            &object,
            std::slice::from_ref(p),
        )
        .await?;
    }
    let q = f.query();
    let history = audit_of(&state, &user, &id).await?;
    let ctx = review::context(state.store().pool(), &user.tenant, item).await?;
    let facts = facts(&state, &user, item, &ctx);
    let body = html! {
        p.navigatie {
            @if let Some(p) = prev { a rel="prev" href={ "/afgekeurd/" (p.id()) "?" (q) } { "← Vorige" } } @else { span {} }
            a href={ "/afgekeurd?" (q) } { "Terug naar de lijst (" (here + 1) " van " (in_filter.len()) ")" }
            @if let Some(n) = next { a rel="next" href={ "/afgekeurd/" (n.id()) "?" (q) } { "Volgende →" } } @else { span {} }
        }
        h1 { (kind_nl(&item.kind)) }
        (notice::show(f.melding.as_deref()))
        p { (item.title.nl) }
        dl.gegevens {
            dt { "Deelnemer" } dd {
                @match (item.participant_id.as_deref(), &e.participant_name) {
                    (Some(pid), Some(n)) => a href={ "/deelnemers/" (pid) } { (n) },
                    _ => "—",
                }
            }
            dt { "Financier" } dd { (e.financier_label) }
            dt { "Periode" } dd { (facts.period.as_deref().unwrap_or("—")) }
            @if let Some(p) = &facts.product { dt { "Product" } dd { (p) } }
            @if let Some(n) = item.detail["toewijzing_nummer"].as_str().or(ctx.allocation.as_ref().map(|a| a.toewijzing_nummer.as_str())) { dt { "Toewijzing" } dd { code { (n) } } }
            @if let Some(v) = &facts.declared { dt { "Gedeclareerd" } dd.gedeclareerd { (v) } }
            @if let Some(a) = &ctx.allocation {
                dt { "Looptijd toewijzing" } dd.looptijd {
                    (format::date_str(&a.ingangsdatum)) " t/m "
                    (a.einddatum.as_deref().map_or_else(|| "open einde".to_string(), format::date_str))
                }
            }
            @if let Some(v) = &facts.allocated { dt { "Toegewezen" } dd.toegewezen { (v) } }
            @if let Some(v) = &facts.allowed { dt { "Toegestaan in deze periode" } dd.toegestaan { (v) } }
            @if let Some(v) = &facts.registered { dt { "Geregistreerd in deze periode" } dd { (v) } }
            @if let Some(n) = item.detail["referentie_nummer"].as_str() { dt { "Referentie" } dd { code { (n) } } }
            @if let Some(n) = item.detail["declaratie_nummer"].as_str() { dt { "Declaratie" } dd {
                @match item.detail["declaration_id"].as_str() {
                    Some(d) => a href={ "/declaraties/" (d) } { code { (n) } },
                    None => code { (n) },
                }
            } }
            @if let Some(c) = item.detail["amount_cents"].as_i64() { dt { "Bedrag" } dd { (super::euro(c)) } }
            @if let Some(t) = item.detail["nl"].as_str() { dt { "Melding" } dd { (t) } }
            @if let Some(m) = &ctx.answer {
                dt { (if matches!(item.kind.as_str(), "rejected_prestatie" | "rejected_message" | "unmatched_answer") { "Antwoordbericht" } else { "Bericht" }) } dd {
                    a href={ "/berichten/" (m.id) } { (m.bericht.as_deref().unwrap_or("bericht")) }
                    " van " (m.sender.as_deref().unwrap_or("—")) ", " (format::time_str(&m.created_at))
                }
            }
            @if let Some(n) = item.detail["referentie_aanbieder"].as_str() { dt { "Verzoek" } dd { code { (n) } } }
            @if let Some(t) = item.detail["reden_afwijzing"]["nl"].as_str() {
                dt { "Reden afwijzing" } dd { (item.detail["reden_afwijzing"]["code"].as_str().unwrap_or("")) ": " (t) }
            }
            dt { "Ontstaan" } dd { (format::time_str(&item.created_at)) }
            dt { "Status" } dd { (status_nl(&item.status)) }
            @if let Some(r) = &item.resolution {
                dt { "Afgehandeld door" } dd { (r.by.as_deref().unwrap_or("")) ", " (r.at.as_deref().map(format::time_str).unwrap_or_default()) }
                dt { "Toelichting" } dd { (r.note.as_ref().and_then(Value::as_str).unwrap_or("—")) }
            }
        }
        h2 { "Retourcodes" }
        @if item.retourcodes.is_empty() && item.detail["reden_afwijzing"].is_null() { p { "Geen retourcode: loket heeft dit zelf tegengehouden of gesignaleerd." } }
        (codes_cell(item))
        @if let Some(a) = &ctx.allocation && item.participant_id.is_some() && facts.period.is_some() {
            h2 { "Registraties in deze periode" }
            @if ctx.registrations.is_empty() { p { "Geen registraties voor deze toewijzing in deze periode." } } @else {
                table.registraties {
                    thead { tr { th { "Datum" } th { "Aanwezig" } th.getal { "Dagdelen" } th.getal { "Uren" } th { "Activiteit" } th { "" } } }
                    tbody {
                        @for r in &ctx.registrations {
                            tr {
                                td { (format::date_str(&r.day)) }
                                td { @if r.present == 1 { "aanwezig" } @else { "afwezig" @if let Some(w) = &r.absence_reason { " (" (absence_nl(w)) ")" } } }
                                td.getal { (r.dagdelen.map(|d| d.to_string()).unwrap_or_default()) }
                                td.getal { (r.minutes.map(|m| format::number(m as f64 / 60.0, 2)).unwrap_or_default()) }
                                td { (r.activity.as_deref().unwrap_or("—")) }
                                td { a.corrigeren href=(correction_link(&r.day, item.participant_id.as_deref().unwrap_or(""), &a.id)) { "Corrigeren" } }
                            }
                        }
                    }
                }
            }
        }
        @if item.status == "open" {
            h2 { "Afhandelen" }
            @match e.not_resendable {
                Some(why) => p.melding.fout { "Opnieuw indienen kan niet. " (why) },
                None => {
                    p { "Corrigeer eerst de onderliggende gegevens (de registratie in het "
                        a href="/registratie/week" { "weekoverzicht" }
                        ", of een nieuwe toewijzing van de gemeente). Opnieuw indienen start daarna de declaratierun; wat er verzonden wordt staat in het resultaat." }
                    form.regel method="post" action={ "/afgekeurd/" (id) "/opnieuw" } {
                        (csrf_field(&user))
                        input type="hidden" name="terug" value=(q);
                        label { "Wat is er gecorrigeerd?" input name="reden" required maxlength="500"; }
                        button type="submit" { "Opnieuw indienen" }
                    }
                }
            }
            form.regel method="post" action={ "/afgekeurd/" (id) "/sluiten" } {
                (csrf_field(&user))
                input type="hidden" name="terug" value=(q);
                label { "Reden van afsluiten" input name="reden" required maxlength="500"; }
                button.secundair type="submit" { "Afsluiten" }
            }
        }
        h2 { "Geschiedenis" }
        @if history.is_empty() { p { "Nog geen acties." } } @else {
            table {
                thead { tr { th { "Wanneer" } th { "Wie" } th { "Actie" } th { "Toelichting" } } }
                tbody {
                    @for (at, actor, action, note) in &history {
                        tr { td { (format::time_str(at)) } td { (actor) } td { (action_nl(action)) } td { (note) } }
                    }
                }
            }
        }
    };
    Ok(page("Afgekeurd bericht", Some(&user), body))
}

fn action_nl(action: &str) -> &str {
    match action {
        "review_resend" => "opnieuw ingediend",
        "review_close" => "afgesloten",
        other => other,
    }
}

/// The audit trail of one item, oldest first.
async fn audit_of(
    state: &AppState,
    user: &WebUser,
    id: &str,
) -> Result<Vec<(String, String, String, String)>, WebError> {
    Ok(
        crate::store::audit_of(state.store().pool(), &user.tenant.id, "review_item", id)
            .await?
            .into_iter()
            .map(|e| {
                let reason = e.reason();
                (e.created_at, e.actor, e.action, reason)
            })
            .collect(),
    )
}

#[derive(Deserialize)]
pub struct Action {
    csrf: String,
    #[serde(default)]
    reden: String,
    #[serde(default)]
    terug: String,
}

#[derive(Deserialize)]
pub struct Bulk {
    csrf: String,
    #[serde(default)]
    items: Vec<String>,
    actie: String,
    #[serde(default)]
    reden: String,
    #[serde(default)]
    terug: String,
}
csrf_form!(Action, Bulk);

fn reason(r: &str, required: bool) -> Result<String, WebError> {
    let r = r.trim();
    if required && r.is_empty() {
        return Err(WebError::BadRequest("geef een reden of toelichting".into()));
    }
    if r.chars().count() > 500 {
        return Err(WebError::BadRequest(
            "de toelichting is langer dan 500 tekens".into(),
        ));
    }
    Ok(r.to_string())
}

/// Only our own filter query goes back into a redirect.
fn back(terug: &str) -> String {
    let ok = terug.len() <= 300
        && terug
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"=&%-_.:".contains(&b));
    if ok { terug.to_string() } else { String::new() }
}

/// Resolves items (all or nothing) with an audit line each; with `resend`,
/// then runs the engine for the latest period so the corrected lines go out.
async fn act(
    state: &AppState,
    user: &WebUser,
    ids: &[String],
    resend: bool,
    why: &str,
) -> Result<Notice, WebError> {
    if ids.is_empty() {
        return Err(WebError::BadRequest("er is niets geselecteerd".into()));
    }
    let all = entries(state, user, &Filters::default()).await?;
    let mut periods: Vec<String> = Vec::new();
    for id in ids {
        let Some(e) = all.iter().find(|e| e.id() == id) else {
            return Err(WebError::NotFound);
        };
        if resend && let Some(why_not) = e.not_resendable {
            return Err(WebError::BadRequest(format!(
                "niets gewijzigd: een geselecteerd item kan niet opnieuw worden ingediend. {why_not}"
            )));
        }
        if let Some(p) = &e.period {
            periods.push(p.clone());
        }
    }
    let by = format!("{} ({})", user.display_name, user.username);
    let note = if resend {
        format!("opnieuw ingediend: {why}")
    } else {
        why.to_string()
    };
    let mut w = state.store().begin_write().await?;
    for id in ids {
        match resolve_in(&mut w, &user.tenant.id, id, &by, Some(&note)).await? {
            Resolved::Done => {}
            Resolved::NotFound => return Err(WebError::NotFound),
            Resolved::AlreadyResolved => {
                return Err(WebError::BadRequest(
                    "niets gewijzigd: een van de items is intussen al afgehandeld".into(),
                ));
            }
        }
        audit(
            &mut w,
            &user.tenant.id,
            &user.username,
            if resend {
                "review_resend"
            } else {
                "review_close"
            },
            Some(("review_item", id)),
            json!({"reason": why}),
        )
        .await?;
    }
    w.commit().await?;
    if !resend {
        return Ok(Notice::ItemsClosed);
    }
    let report = run_latest(state, user, periods.iter().max().map(String::as_str)).await?;
    Ok(if report.declarations.is_empty() {
        Notice::ItemsResentNothingSent
    } else {
        Notice::ItemsResent
    })
}

/// Runs the engine for the later of the latest declared month and `period`
/// (a corrected earlier month is taken along by the engine).
pub async fn run_latest(
    state: &AppState,
    user: &WebUser,
    period: Option<&str>,
) -> Result<engine::RunReport, WebError> {
    let latest = read::latest_declared_period(state.store().pool(), &user.tenant).await?;
    let today = crate::registration::today();
    let month = [latest.as_deref(), period]
        .into_iter()
        .flatten()
        .max()
        .and_then(|p| p.get(..10))
        .and_then(|p| p.parse::<NaiveDate>().ok())
        .unwrap_or(today);
    let spec = format!("{:04}-{:02}", month.year(), month.month());
    super::declarations::run_engine(state, user, engine::parse_period(&spec)?).await
}

/// `POST /afgekeurd/{id}/opnieuw`.
pub async fn resend(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Post(user, f): Post<Action>,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    let why = reason(&f.reden, true)?;
    let notice = act(&state, &user, std::slice::from_ref(&id), true, &why).await?;
    Ok(redirect_with(&format!("/afgekeurd/{id}"), &f.terug, notice))
}

/// `POST /afgekeurd/{id}/sluiten`.
pub async fn close(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Post(user, f): Post<Action>,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    let why = reason(&f.reden, true)?;
    let notice = act(&state, &user, std::slice::from_ref(&id), false, &why).await?;
    Ok(redirect_with(&format!("/afgekeurd/{id}"), &f.terug, notice))
}

/// `POST /afgekeurd/bulk`: the selection resent or closed together.
pub async fn bulk(
    State(state): State<AppState>,
    Post(user, f): Post<Bulk>,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    let resend = match f.actie.as_str() {
        "opnieuw" => true,
        "sluiten" => false,
        _ => return Err(WebError::BadRequest("onbekende actie".into())),
    };
    if f.items.len() > MAX_ITEMS as usize {
        return Err(WebError::BadRequest("te veel items tegelijk".into()));
    }
    let why = reason(&f.reden, !resend)?;
    let why = if why.is_empty() {
        "gecorrigeerd (selectie)".to_string()
    } else {
        why
    };
    let notice = act(&state, &user, &f.items, resend, &why).await?;
    Ok(redirect_with("/afgekeurd", &f.terug, notice))
}

fn redirect_with(path: &str, terug: &str, notice: Notice) -> Response {
    let q = back(terug);
    if q.is_empty() {
        notice.redirect(path)
    } else {
        notice.redirect(&format!("{path}?{q}"))
    }
}

/// What the item page states about a line, worded for a person.
#[derive(Default)]
struct Facts {
    /// "01-11-2026 t/m 30-11-2026".
    period: Option<String>,
    /// "07A11 Dagbesteding regulier (categorie 07)".
    product: Option<String>,
    /// "44 dagdelen".
    declared: Option<String>,
    /// "40 dagdelen per maand".
    allocated: Option<String>,
    /// What the allocation allows for the item's period: "40 dagdelen".
    allowed: Option<String>,
    /// The registrations added up: "44 dagdelen, 3 uur op 22 dagen".
    registered: Option<String>,
}

/// The facts of `item` and its context for the page.
fn facts(state: &AppState, user: &WebUser, item: &ReviewItem, ctx: &review::ItemContext) -> Facts {
    let d = &item.detail;
    let range = review::period(item);
    let period = range.as_ref().map(|(b, e)| match e {
        Some(e) => format!("{} t/m {}", format::date_str(b), format::date_str(e)),
        None => format::date_str(b),
    });
    let a = ctx.allocation.as_ref();
    let categorie = d["product"]["categorie"]
        .as_str()
        .or(a.and_then(|a| a.product_categorie.as_deref()));
    let code = d["product"]["code"]
        .as_str()
        .or(a.and_then(|a| a.product_code.as_deref()));
    let product = code.map(|code| {
        let name = state
            .mappings
            .for_tenant(&user.tenant.id)
            .iter()
            .flat_map(|m| m.products.iter())
            .find(|p| p.key.code == code && categorie.is_none_or(|c| p.key.categorie == c))
            .map(|p| p.name.clone());
        match (name, categorie) {
            (Some(n), Some(c)) => format!("{code} {n} (categorie {c})"),
            (Some(n), None) => format!("{code} {n}"),
            (None, Some(c)) => format!("{code} (categorie {c})"),
            (None, None) => code.to_string(),
        }
    });
    let declared = match (d["volume"].as_i64(), d["eenheid"].as_str()) {
        (Some(v), Some(e)) => Some(volume_nl(v, e)),
        _ => None,
    };
    let allocated = a.and_then(|a| match (a.volume, a.eenheid.as_deref()) {
        (Some(v), Some(e)) => Some(format!(
            "{} {}",
            volume_nl(v, e),
            super::participants::frequentie_nl(a.frequentie.as_deref().unwrap_or(""))
        )),
        _ => a.budget.map(|b| format!("budget {}", super::euro(b))),
    });
    let allowed = a.zip(range.as_ref()).and_then(|(a, (b, e))| {
        let start = b.parse::<NaiveDate>().ok()?;
        let end = e.as_deref()?.parse::<NaiveDate>().ok()?;
        let max = allowance(a)?.max_in_period(crate::mapping::Period { start, end })?;
        Some(volume_nl(i64::try_from(max).ok()?, a.eenheid.as_deref()?))
    });
    let registered = (a.is_some() && range.is_some()).then(|| registered_nl(&ctx.registrations));
    Facts {
        period,
        product,
        declared,
        allocated,
        allowed,
        registered,
    }
}

/// The allocation's Omvang as the engine counts it (TR321, IV077).
fn allowance(a: &review::ItemAllocation) -> Option<crate::engine::limits::Allowance> {
    use crate::engine::limits::{Allowance, Frequentie, Omvang};
    let omvang = Omvang {
        volume: u64::try_from(a.volume?).ok()?,
        eenheid: Eenheid::from_code(a.eenheid.as_deref()?)?,
        frequentie: Frequentie::from_code(a.frequentie.as_deref()?)?,
    };
    Some(Allowance {
        omvang: Some(omvang),
        budget: a.budget.and_then(|b| u64::try_from(b).ok()),
        ingangsdatum: a.ingangsdatum.get(..10)?.parse().ok()?,
        einddatum: a
            .einddatum
            .as_deref()
            .and_then(|e| e.get(..10)?.parse().ok()),
        // Hulp bij het huishouden (iWmo category 01) may take six weeks'
        // volume in a month.
        household_help: a.product_categorie.as_deref() == Some("01"),
    })
}

/// The registrations added up: days present, dagdelen and hours.
fn registered_nl(rows: &[review::ItemRegistration]) -> String {
    let present: Vec<&review::ItemRegistration> = rows.iter().filter(|r| r.present == 1).collect();
    let dagdelen: i64 = present.iter().filter_map(|r| r.dagdelen).sum();
    let minutes: i64 = present.iter().filter_map(|r| r.minutes).sum();
    let mut parts = Vec::new();
    if dagdelen > 0 {
        parts.push(format::count(dagdelen, "dagdeel", "dagdelen"));
    }
    if minutes > 0 {
        parts.push(format!("{} uur", format::number(minutes as f64 / 60.0, 2)));
    }
    let days = format::count(present.len() as i64, "dag", "dagen");
    if parts.is_empty() {
        format!("aanwezig op {days}")
    } else {
        format!("{} op {days}", parts.join(" en "))
    }
}

/// A volume with its unit (WJ756) in the right number: "1 dagdeel",
/// "37 dagdelen", "12 uur"; euro's are cents (IV042).
pub(super) fn volume_nl(n: i64, eenheid: &str) -> String {
    let Some(e) = Eenheid::from_code(eenheid) else {
        return format!("{n} (eenheid {eenheid})");
    };
    let (one, many) = match e {
        Eenheid::Minuut => ("minuut", "minuten"),
        Eenheid::Uur => ("uur", "uur"),
        Eenheid::Etmaal => ("etmaal", "etmalen"),
        Eenheid::Dagdeel => ("dagdeel", "dagdelen"),
        Eenheid::StuksOutput => ("stuk (output)", "stuks (output)"),
        Eenheid::StuksInspanning => ("stuk (inspanning)", "stuks (inspanning)"),
        Eenheid::Euro => return super::euro(n),
    };
    format::count(n, one, many)
}

/// Why someone was absent, in Dutch.
fn absence_nl(reason: &str) -> &str {
    match reason {
        "sick" => "ziek",
        "holiday" => "vakantie",
        "no_show" => "niet verschenen",
        "other" => "anders",
        other => other,
    }
}

/// The week view's correction form for one day of one participant on one
/// allocation (the contract of `/registratie/week`): ids only, never a name.
fn correction_link(day: &str, participant: &str, allocation: &str) -> String {
    format!(
        "/registratie/week?week={d}&deelnemer={p}&dag={d}&toewijzing={a}#corrigeren",
        d = urlencode(day),
        p = urlencode(participant),
        a = urlencode(allocation),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_volume_comes_with_its_unit_in_the_right_number() {
        assert_eq!(volume_nl(37, "16"), "37 dagdelen");
        assert_eq!(volume_nl(1, "16"), "1 dagdeel");
        assert_eq!(volume_nl(60, "04"), "60 uur");
        assert_eq!(volume_nl(90, "01"), "90 minuten");
        assert_eq!(volume_nl(12345, "83"), "€ 123,45");
        assert_eq!(volume_nl(3, "99"), "3 (eenheid 99)");
    }

    #[test]
    fn the_correction_link_follows_the_week_views_contract() {
        assert_eq!(
            correction_link("2026-11-03", "p1", "a1"),
            "/registratie/week?week=2026-11-03&deelnemer=p1&dag=2026-11-03&toewijzing=a1#corrigeren"
        );
    }

    #[test]
    fn registrations_add_up_per_unit() {
        let r = |present, dagdelen, minutes| review::ItemRegistration {
            id: String::new(),
            day: "2026-11-02".into(),
            allocation_id: None,
            present,
            absence_reason: None,
            minutes,
            dagdelen,
            activity: None,
        };
        assert_eq!(
            registered_nl(&[r(1, Some(2), None), r(1, Some(1), None), r(0, None, None)]),
            "3 dagdelen op 2 dagen"
        );
        assert_eq!(registered_nl(&[r(1, None, Some(180))]), "3 uur op 1 dag");
    }
}
