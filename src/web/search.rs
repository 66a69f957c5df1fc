//! Zoeken: the search field in every page's header and its results.
//!
//! One field takes what people have at hand: a part of a name, a BSN (back
//! office only: an exact, elfproef-valid number), a client number, a
//! ToewijzingNummer or a UWV order number. The form POSTs, so neither a BSN
//! nor a name ends up in a URL, a browser history or a server log; the
//! results link by loket's own ids. Every participant shown is recorded in
//! the access log, as on every page that shows participants.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{Post, WebUser, csrf_form};
use super::{WebError, csrf_field, euro, financier_nl, format, name_of, name_sort_key, page};
use crate::adapter::istandaard::rules::elfproef;
use crate::record::access::Kind;
use crate::record::search::{self, AllocationHit, DeclarationHit, ParticipantHit};
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

/// The search field of the page header (provider tenants).
pub fn field(user: &WebUser) -> Markup {
    html! {
        form.zoeken role="search" method="post" action="/zoeken" {
            (csrf_field(user))
            label.verborgen for="zoekveld" { "Zoeken" }
            input #zoekveld type="search" name="q" maxlength=(MAX_QUERY) autocomplete="off"
                placeholder=(if user.role.back_office() { "Naam, BSN, cliënt-, toewijzing- of opdrachtnummer" } else { "Naam, cliënt-, toewijzing- of opdrachtnummer" });
            button.secundair type="submit" { "Zoeken" }
        }
    }
}

/// What one search found.
#[derive(Default)]
struct Found {
    /// Participants by id, each with its allocations.
    participants: BTreeMap<String, (ParticipantHit, Vec<AllocationHit>)>,
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
        found.participants.insert(p.id.clone(), (p, allocations));
    }
    Ok(found)
}

/// `GET /zoeken`: the search form on its own.
pub async fn form(user: WebUser) -> Result<Response, WebError> {
    provider_only(&user)?;
    let body = html! {
        h1 { "Zoeken" }
        (field(&user))
    };
    Ok(page("Zoeken", Some(&user), body))
}

fn provider_only(user: &WebUser) -> Result<(), WebError> {
    if user.tenant.kind == TenantKind::Gemeente {
        return Err(WebError::BadRequest(
            "zoeken is er (nog) alleen voor aanbieders".into(),
        ));
    }
    Ok(())
}

/// `POST /zoeken`: the results.
pub async fn results(
    State(state): State<AppState>,
    peer: Peer,
    Post(user, f): Post<SearchForm>,
) -> Result<Response, WebError> {
    provider_only(&user)?;
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
    let mut people: Vec<(&ParticipantHit, &Vec<AllocationHit>, serde_json::Value)> = found
        .participants
        .values()
        .map(|(p, a)| (p, a, p.naam()))
        .collect();
    people.sort_by_cached_key(|(p, _, n)| (name_sort_key(n), p.id.clone()));
    // The object names the page, never the search text (it may hold a BSN
    // or a name).
    let shown: Vec<String> = people.iter().map(|(p, _, _)| p.id.clone()).collect();
    super::access::log(&state, &user, &peer, Kind::View, "POST /zoeken", &shown).await?;
    let names: BTreeMap<&str, String> = people
        .iter()
        .map(|(p, _, n)| (p.id.as_str(), name_of(n)))
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
                    thead { tr { th { "Naam" } th { "Cliëntnummer" } th { "Toewijzingen" } } }
                    tbody {
                        @for (p, allocations, _) in &people {
                            tr {
                                td { a href={ "/deelnemers/" (p.id) } { (names.get(p.id.as_str()).map_or("", String::as_str)) } }
                                td { (p.client_number.as_deref().unwrap_or("—")) }
                                td { @for a in allocations.iter() { div { (allocation_line(a)) } } }
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
                                td { a href={ "/deelnemers/" (a.participant_id) } { (names.get(a.participant_id.as_str()).map_or("deelnemer", String::as_str)) } }
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
    use super::*;

    #[test]
    fn only_an_elfproef_number_is_a_bsn() {
        assert!(is_bsn("111222333"));
        assert!(!is_bsn("111222334"));
        assert!(!is_bsn("3600"));
        assert!(!is_bsn("de Vries"));
    }
}
