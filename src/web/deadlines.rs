//! Termijnen (back office): the answer deadlines of the standard that have
//! passed, and those that fall within the next days, as
//! [`crate::record::deadlines`] computes them (the same list as
//! `GET /deadlines`); each links to its message's page, with its
//! conversation, in Berichten ([`super::messages`]).

use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};

use super::auth::WebUser;
use super::{WebError, bericht_nl, format, name_of, page};
use crate::record::access::Kind;
use crate::record::deadlines::{self, Deadline};
use crate::server::AppState;
use crate::server::access::Peer;

/// Working days ahead that the page shows as "binnenkort".
const SOON: i64 = 2;

/// What an item is about, in Dutch.
fn kind_nl(kind: &str) -> &'static str {
    match kind {
        deadlines::RETOUR => "Retourbericht",
        deadlines::START => "Start zorg (305)",
        deadlines::STOP => "Stop zorg (307)",
        deadlines::VERZOEK_ANTWOORD => "Antwoord op verzoek (301/319)",
        deadlines::DECLARATIE_ANTWOORD => "Declaratie-antwoord (325)",
        _ => "Termijn",
    }
}

/// Who has to act, in Dutch.
fn waiting_nl(d: &Deadline) -> &'static str {
    if d.waiting_on == "loket" {
        "wij versturen"
    } else {
        "wacht op de andere partij"
    }
}

/// `GET /termijnen`.
pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    let pool = state.store().pool();
    let today = crate::registration::today();
    let mappings = state.mappings.for_tenant(&user.tenant.id);
    let all = deadlines::list(pool, &user.tenant, mappings, today).await?;
    let overdue: Vec<&Deadline> = all.items.iter().filter(|d| d.overdue).collect();
    let soon: Vec<&Deadline> = all
        .items
        .iter()
        .filter(|d| !d.overdue && d.days_overdue >= -SOON)
        .collect();
    let shown: Vec<String> = overdue
        .iter()
        .chain(&soon)
        .filter_map(|d| d.participant_id.clone())
        .collect();
    let names = deadlines::participant_names(pool, &user.tenant, &shown).await?;
    super::access::log(&state, &user, &peer, Kind::View, "GET /termijnen", &shown).await?;
    let name = |d: &Deadline| -> Markup {
        match &d.participant_id {
            Some(p) => html! {
                a href={ "/deelnemers/" (p) } {
                    (names.get(p).map(name_of).unwrap_or_else(|| "deelnemer".to_string()))
                }
            },
            None => html! { "—" },
        }
    };
    let table = |rows: &[&Deadline], late: bool| -> Markup {
        html! {
            table.termijnen {
                thead { tr {
                    th { "Wat" } th { "Deelnemer" } th { "Partij" } th { "Sinds" } th { "Uiterlijk" }
                    th.getal { @if late { "Werkdagen te laat" } @else { "Werkdagen over" } }
                    th { "Actie" } th { "" }
                } }
                tbody {
                    @for d in rows {
                        tr {
                            td { (kind_nl(d.kind)) @if let Some(b) = &d.bericht { br; small { (bericht_nl(b)) } } }
                            td { (name(d)) }
                            td { (d.counterpart.as_deref().unwrap_or("—")) }
                            td { (format::date_str(&d.started_on)) }
                            td { (format::date_str(&d.due_on)) }
                            td.getal { (d.days_overdue.abs()) }
                            td { (waiting_nl(d)) }
                            td {
                                @if let Some(m) = &d.message_id {
                                    a href={ "/berichten/" (m) } { "Gesprek" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let body = html! {
        h1 { "Termijnen" }
        p {
            "Peildatum " strong { (format::date_str(&all.reference_date)) } ". Termijnen in werkdagen: weekend en feestdagen tellen niet mee. "
            "Retourbericht binnen 3, start en stop binnen 5 na de datum, antwoord op een verzoek binnen 5, "
            "declaratie-antwoord binnen 10."
        }
        h2 { "Verlopen (" (format::count(overdue.len() as i64, "termijn", "termijnen")) ")" }
        @if overdue.is_empty() { p { "Geen verlopen termijnen." } } @else { (table(&overdue, true)) }
        h2 { "Binnenkort (" (format::count(soon.len() as i64, "termijn", "termijnen")) ")" }
        @if soon.is_empty() { p { "Niets binnen " (SOON) " werkdagen." } } @else { (table(&soon, false)) }
    };
    Ok(page("Termijnen", Some(&user), body))
}
