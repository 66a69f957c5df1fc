//! Zoeken: the search field in every page's header and its results.
//!
//! One field takes what people have at hand: a part of a name, a BSN (back
//! office only: an exact, elfproef-valid number), a client number, a
//! ToewijzingNummer or a UWV order number. The form POSTs, so neither a BSN
//! nor a name ends up in a URL, a browser history or a server log; the
//! results link by loket's own ids. Every participant shown is recorded in
//! the access log, as on every page that shows participants.
//!
//! A municipality searches its own participants and allocations the same
//! way; it has no participant pages, so its results lead to the
//! declarations it received with a line for the person found.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{Post, WebUser, csrf_form};
use super::{WebError, csrf_field, euro, financier_nl, format, name_of, name_sort_key, page};
use crate::adapter::istandaard::rules::elfproef;
use crate::record::access::Kind;
use crate::record::search::{self, AllocationHit, DeclarationHit, ParticipantHit, ReceivedHit};
use crate::server::AppState;
use crate::server::access::Peer;
use crate::store::TenantKind;

/// The longest search text taken: a name or a number is far shorter.
const MAX_QUERY: usize = 100;

#[derive(Deserialize)]
pub struct SearchForm {
    csrf: String,
    #[serde(default)]
    q: String,
}
csrf_form!(SearchForm);

/// The search field of the page header.
pub fn field(user: &WebUser) -> Markup {
    html! {
        form.zoeken role="search" method="post" action="/zoeken" {
            (csrf_field(user))
            label.verborgen for="zoekveld" { "Zoeken" }
            input #zoekveld type="search" name="q" maxlength=(MAX_QUERY) autocomplete="off"
                placeholder=(placeholder(user));
            button.secundair type="submit" { "Zoeken" }
        }
    }
}

/// What the field takes, for this user.
fn placeholder(user: &WebUser) -> &'static str {
    match (
        user.role.back_office(),
        user.tenant.kind == TenantKind::Gemeente,
    ) {
        (true, false) => "Naam, BSN, cliënt-, toewijzing- of opdrachtnummer",
        (false, false) => "Naam, cliënt-, toewijzing- of opdrachtnummer",
        (true, true) => "Naam, BSN, cliënt- of toewijzingnummer",
        (false, true) => "Naam, cliënt- of toewijzingnummer",
    }
}

/// What one search found.
#[derive(Default)]
struct Found {
    /// Participants by id, each with its allocations and (a municipality)
    /// the declarations received with a line for them.
    participants: BTreeMap<String, (ParticipantHit, Vec<AllocationHit>, Vec<ReceivedHit>)>,
    /// Allocations found by their own number.
    allocations: Vec<AllocationHit>,
    /// Declarations and invoices of an order found by its number.
    declarations: Vec<DeclarationHit>,
    /// Why nothing was searched, when nothing was.
    refused: Option<&'static str>,
}

/// Whether `q` is a BSN: nine digits that pass the elfproef.
fn is_bsn(q: &str) -> bool {
    elfproef(q)
}

async fn find(state: &AppState, user: &WebUser, q: &str) -> Result<Found, WebError> {
    let pool = state.store().pool();
    let tenant = &user.tenant;
    let mut found = Found::default();
    let mut people: Vec<ParticipantHit> = Vec::new();
    if is_bsn(q) {
        if !user.role.back_office() {
            found.refused = Some(
                "Zoeken op BSN kan alleen voor de backoffice. Er is niet gezocht; zoek op naam of cliëntnummer.",
            );
            return Ok(found);
        }
        people.extend(search::by_bsn(pool, tenant, q).await?);
    } else {
        if q.chars().any(char::is_alphabetic) {
            people.extend(search::by_name(pool, tenant, q).await?);
        }
        people.extend(search::by_client_number(pool, tenant, q).await?);
        found.allocations = search::allocations_by_number(pool, tenant, q).await?;
        if found
            .allocations
            .iter()
            .any(|a| a.order_number.as_deref() == Some(q))
        {
            found.declarations = search::declarations_of_order(pool, tenant, q).await?;
        }
        let owners: Vec<&str> = found
            .allocations
            .iter()
            .map(|a| a.participant_id.as_str())
            .collect();
        people.extend(search::participants(pool, tenant, &owners).await?);
    }
    for p in people.into_iter().take(search::MAX_HITS) {
        if found.participants.contains_key(&p.id) {
            continue;
        }
        let allocations = search::allocations_of(pool, tenant, &p.id).await?;
        let received = if tenant.kind == TenantKind::Gemeente {
            search::received_of(pool, tenant, &p.id).await?
        } else {
            Vec::new()
        };
        found
            .participants
            .insert(p.id.clone(), (p, allocations, received));
    }
    Ok(found)
}

/// `GET /zoeken`: the search form on its own.
pub async fn form(user: WebUser) -> Result<Response, WebError> {
    let body = html! {
        h1 { "Zoeken" }
        (field(&user))
    };
    Ok(page("Zoeken", Some(&user), body))
}

/// `POST /zoeken`: the results.
pub async fn results(
    State(state): State<AppState>,
    peer: Peer,
    Post(user, f): Post<SearchForm>,
) -> Result<Response, WebError> {
    let q = f.q.trim();
    if q.is_empty() {
        return Err(WebError::BadRequest("vul in waarop u wilt zoeken".into()));
    }
    if q.chars().count() > MAX_QUERY {
        return Err(WebError::BadRequest(format!(
            "de zoektekst is langer dan {MAX_QUERY} tekens"
        )));
    }
    let found = find(&state, &user, q).await?;
    type Row<'a> = (
        &'a ParticipantHit,
        &'a [AllocationHit],
        &'a [ReceivedHit],
        serde_json::Value,
    );
    let mut people: Vec<Row<'_>> = found
        .participants
        .values()
        .map(|(p, a, r)| (p, a.as_slice(), r.as_slice(), p.naam()))
        .collect();
    people.sort_by_cached_key(|(p, _, _, n)| (name_sort_key(n), p.id.clone()));
    // A municipality has no participant pages: its people are named, and
    // lead to the declarations it received for them.
    let provider = user.tenant.kind != TenantKind::Gemeente;
    // The object names the page, never the search text (it may hold a BSN
    // or a name).
    let shown: Vec<String> = people.iter().map(|(p, _, _, _)| p.id.clone()).collect();
    super::access::log(&state, &user, &peer, Kind::View, "POST /zoeken", &shown).await?;
    let names: BTreeMap<&str, String> = people
        .iter()
        .map(|(p, _, _, n)| (p.id.as_str(), name_of(n)))
        .collect();
    let body = html! {
        h1 { "Zoeken" }
        (field(&user))
        @if let Some(why) = found.refused {
            p.melding.fout { (why) }
        } @else {
            p.zoekresultaat { (format::count(people.len() as i64, "deelnemer gevonden", "deelnemers gevonden")) }
            @if !people.is_empty() {
                table.zoekresultaten {
                    thead { tr {
                        th { "Naam" } th { "Cliëntnummer" } th { "Toewijzingen" }
                        @if !provider { th { "Ontvangen declaraties" } }
                    } }
                    tbody {
                        @for (p, allocations, received, _) in &people {
                            tr {
                                td { (person(provider, &p.id, &names)) }
                                td { (p.client_number.as_deref().unwrap_or("—")) }
                                td { @for a in allocations.iter() { div { (allocation_line(a)) } } }
                                @if !provider {
                                    td { @for r in received.iter() {
                                        div { a href={ "/gemeente/declaraties/" (r.message_id) } {
                                            (r.declaratie_nummer) " · " (format::month_str(&r.period_begin)) " · aanbieder " (r.aanbieder)
                                        } }
                                    } }
                                }
                            }
                        }
                    }
                }
            }
            @if !found.allocations.is_empty() {
                h2 { "Toewijzingen en opdrachten" }
                table {
                    thead { tr { th { "Nummer" } th { "Deelnemer" } th { "Financier" } th { "Looptijd" } th { "Status" } } }
                    tbody {
                        @for a in &found.allocations {
                            tr {
                                td { code { (a.order_number.as_deref().filter(|o| *o == q).unwrap_or(&a.toewijzing_nummer)) } }
                                td { (person(provider, &a.participant_id, &names)) }
                                td { (financier_nl(&a.financier_kind, &a.financier_code)) }
                                td { (looptijd(a)) }
                                td { (super::status_nl(&a.status)) }
                            }
                        }
                    }
                }
            }
            @if !found.declarations.is_empty() {
                h2 { "Declaraties en facturen van deze opdracht" }
                table {
                    thead { tr { th { "Nummer" } th { "Periode" } th.getal { "Totaal" } th { "Status" } } }
                    tbody {
                        @for d in &found.declarations {
                            tr {
                                td { a href={ "/declaraties/" (d.id) } { (if d.standard == "ubl" { "Factuur " } else { "Declaratie " }) (d.declaratie_nummer) } }
                                td { (format::date_str(&d.period_begin)) " t/m " (format::date_str(&d.period_end)) }
                                td.getal { (euro(d.total_cents)) }
                                td { (super::status_nl(&d.status)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Zoeken", Some(&user), body))
}

/// A participant's name; for a provider a link to the participant's page.
fn person(provider: bool, id: &str, names: &BTreeMap<&str, String>) -> Markup {
    let name = names.get(id).map_or("(naam onbekend)", String::as_str);
    html! {
        @if provider { a href={ "/deelnemers/" (id) } { (name) } } @else { (name) }
    }
}

/// "0363 Wmo · 3600 · 07A11 · vanaf 01-10-2026".
fn allocation_line(a: &AllocationHit) -> Markup {
    html! {
        (financier_nl(&a.financier_kind, &a.financier_code)) " · "
        code { (a.toewijzing_nummer) }
        @if let Some(o) = &a.order_number { " · opdracht " code { (o) } }
        @if let Some(c) = &a.product_code { " · " (c) }
        " · " (looptijd(a)) " · " (super::status_nl(&a.status))
    }
}

fn looptijd(a: &AllocationHit) -> String {
    match &a.einddatum {
        Some(e) => format!(
            "{} t/m {}",
            format::date_str(&a.ingangsdatum),
            format::date_str(e)
        ),
        None => format!("vanaf {}", format::date_str(&a.ingangsdatum)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_an_elfproef_number_is_a_bsn() {
        assert!(is_bsn("111222333"));
        assert!(!is_bsn("111222334"));
        assert!(!is_bsn("3600"));
        assert!(!is_bsn("de Vries"));
    }

    #[test]
    fn a_voorvoegsel_does_not_decide_the_order() {
        let n = |v: &str, a: &str, i: &str| json!({"Voorletters": i, "Geslachtsnaam": {"Voorvoegsel": v, "Achternaam": a}});
        let mut names = [
            n("de", "Vries", "A"),
            n("", "Visser", "D"),
            n("van", "Leeuwen", "D"),
            n("de", "Boer", "G"),
            n("", "Bos", "K"),
            n("", "Bakker", "C"),
        ];
        names.sort_by_key(name_sort_key);
        let surnames: Vec<&str> = names
            .iter()
            .map(|n| n["Geslachtsnaam"]["Achternaam"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            surnames,
            ["Bakker", "Boer", "Bos", "Leeuwen", "Visser", "Vries"]
        );
    }
}
