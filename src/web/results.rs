//! Resultaten (back office, beheer): the pay-for-results claims the
//! declaration runs made, each with the evidence it rests on (the
//! measurements with their dates and scores, or the milestone) and the
//! status of the line it was sent as; and the outcomes reached that could
//! not be claimed, with the reason. Printable, so the evidence can go with
//! a financier's questions.
//!
//! Outcome data are special personal data: only users who may see every
//! participant's outcomes ([`super::auth::OutcomeScope::All`]) open the
//! page, and every participant it shows is written to the access log.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::access::{actor, changed};
use super::auth::{OutcomeScope, Post, WebUser, csrf_form};
use super::{WebError, csrf_field, euro, format, name_of, page};
use crate::engine::results::evidence_nl;
use crate::mapping::results::{MILESTONES, milestone_nl};
use crate::record::access::Kind;
use crate::record::results::{self, ClaimWithEvidence};
use crate::server::AppState;
use crate::server::access::Peer;

/// The status of a claim's line, in Dutch.
fn status_nl(status: Option<&str>) -> &'static str {
    match status {
        Some("submitted") => "verzonden, wacht op antwoord",
        Some("approved") => "goedgekeurd",
        Some("rejected") => "afgewezen (zie Afgekeurde berichten)",
        Some("invoiced") => "gefactureerd",
        _ => "onbekend",
    }
}

/// An outcome reached that no run could claim, from the run's notice.
struct NotClaimable {
    participant_id: String,
    result_id: String,
    reason: String,
    since: String,
}

/// `GET /resultaten`.
pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    if user.outcome_scope(&state).await? != OutcomeScope::All {
        return Err(WebError::Forbidden(Box::new(user)));
    }
    let pool = state.store().pool();
    let tenant = &user.tenant;
    let from = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(chrono::NaiveDate::MIN);
    let to = chrono::NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(chrono::NaiveDate::MAX);
    let claims = results::claims(pool, &tenant.id, None, from, to).await?;
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT COALESCE(participant_id, ''), detail, created_at, COALESCE(subject_id, '') FROM review_items \
         WHERE tenant_id = $1 AND kind = 'result_not_claimable' AND status = 'open' \
         ORDER BY created_at",
    )
    .bind(&tenant.id)
    .fetch_all(pool)
    .await?;
    let not_claimable: Vec<NotClaimable> = rows
        .into_iter()
        .map(|(participant_id, detail, created_at, _)| {
            let d: serde_json::Value = serde_json::from_str(&detail).unwrap_or_default();
            NotClaimable {
                participant_id,
                result_id: d["rule"].as_str().unwrap_or("").to_string(),
                reason: d["nl"].as_str().unwrap_or("").to_string(),
                since: created_at,
            }
        })
        .collect();
    let mut shown: Vec<String> = claims
        .iter()
        .map(|c| c.claim.participant_id.clone())
        .chain(not_claimable.iter().map(|n| n.participant_id.clone()))
        .filter(|p| !p.is_empty())
        .collect();
    shown.sort();
    shown.dedup();
    let names = crate::record::deadlines::participant_names(pool, tenant, &shown).await?;
    super::access::log(&state, &user, &peer, Kind::View, "GET /resultaten", &shown).await?;
    let name = |p: &str| -> Markup {
        html! {
            a href={ "/deelnemers/" (p) } {
                (names.get(p).map(name_of).unwrap_or_else(|| "deelnemer".to_string()))
            }
        }
    };
    // Per financier: claims and their total.
    let mut by_financier: BTreeMap<String, Vec<&ClaimWithEvidence>> = BTreeMap::new();
    for c in &claims {
        by_financier
            .entry(c.claim.financier_name.clone())
            .or_default()
            .push(c);
    }
    let body = html! {
        h1 { "Resultaten" }
        p {
            "Resultaatfinanciering: wat een contract betaalt voor een bereikt resultaat (een trede op de "
            "participatieladder behouden, vooruitgang op de ZRM, uitstroom naar werk, een mijlpaal). "
            "De declaratierun claimt elk resultaat één keer per deelnemer, met het bewijs hieronder."
        }
        @if claims.is_empty() {
            p { "Nog geen resultaten geclaimd." }
        }
        @for (financier, list) in &by_financier {
            @let total: i64 = list.iter().map(|c| c.claim.amount_cents).sum();
            h2 { (financier) " (" (format::count(list.len() as i64, "claim", "claims")) ", " (euro(total)) ")" }
            (claims_table(&state, list, &name))
        }
        h2 { "Bereikt, maar niet te claimen (" (format::count(not_claimable.len() as i64, "resultaat", "resultaten")) ")" }
        @if not_claimable.is_empty() {
            p { "Geen." }
        } @else {
            table.resultaten {
                thead { tr { th { "Deelnemer" } th { "Resultaat" } th { "Waarom niet" } th { "Gemeld" } } }
                tbody {
                    @for n in &not_claimable {
                        tr {
                            td { (name(&n.participant_id)) }
                            td { code { (n.result_id) } }
                            td { (n.reason) }
                            td { (format::time_str(&n.since)) }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Resultaten", Some(&user), body))
}

/// Claims with their line's status and the evidence each rests on: the
/// table of /resultaten and of a financier's report (Verantwoording), so
/// the two show a claim alike. `name` links a participant.
pub fn claims_table(
    state: &AppState,
    claims: &[&ClaimWithEvidence],
    name: &dyn Fn(&str) -> Markup,
) -> Markup {
    html! {
        table.resultaten {
            thead { tr {
                th { "Deelnemer" } th { "Resultaat" } th { "Bereikt op" } th.getal { "Bedrag" }
                th { "Regel" } th { "Bewijs" }
            } }
            tbody {
                @for c in claims {
                    tr {
                        td { (name(&c.claim.participant_id)) }
                        td { (c.claim.result_name) }
                        td { (format::date_str(&c.claim.reached_on)) }
                        td.getal { (euro(c.claim.amount_cents)) }
                        td {
                            (status_nl(c.claim.line_status.as_deref()))
                            @if let Some(n) = &c.claim.declaratie_nummer {
                                br; small { "nummer " (n) }
                            }
                        }
                        td {
                            ul.bewijs {
                                @for e in &c.evidence {
                                    li {
                                        (format::date_str(&e.evidence_on)) ": "
                                        (evidence_nl(&state.instruments, e.domain.as_deref(), e.score, e.milestone_kind.as_deref()))
                                        @if let Some(n) = &e.milestone_note { " (" (n) ")" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The participant page's milestones: those recorded and, for the back
/// office, a form to record one. Empty for a user who may not see this
/// participant's outcome data (the page itself logs the view).
pub async fn section(
    state: &AppState,
    user: &WebUser,
    participant: &str,
) -> Result<Markup, WebError> {
    if user.require_outcomes(state, participant).await.is_err() {
        return Ok(html! {});
    }
    let milestones =
        results::milestones_of(state.store().pool(), &user.tenant.id, participant).await?;
    let today = crate::registration::today();
    Ok(html! {
        section.mijlpalen id="mijlpalen" {
            h2 { "Mijlpalen" }
            @if milestones.is_empty() {
                p { "Nog geen mijlpaal vastgelegd." }
            } @else {
                ul {
                    @for m in &milestones {
                        li {
                            (format::date_str(&m.reached_on)) ": " strong { (milestone_nl(&m.kind)) }
                            @if let Some(n) = &m.note { " — " (n) }
                            " " small { "(vastgelegd door " (m.recorded_by_name) ")" }
                        }
                    }
                }
            }
            @if user.role.back_office() {
                form.mijlpaal method="post" action={ "/deelnemers/" (participant) "/mijlpaal" } {
                    (csrf_field(user))
                    label { "Mijlpaal"
                        select name="soort" required {
                            @for (k, nl) in MILESTONES { option value=(k) { (nl) } }
                        }
                    }
                    label { "Datum" input type="date" name="datum" required max=(today.to_string()); }
                    label { "Toelichting (optioneel)" input type="text" name="toelichting" maxlength="2000"; }
                    button type="submit" { "Mijlpaal vastleggen" }
                }
            }
        }
    })
}

#[derive(Deserialize)]
pub struct MilestoneForm {
    csrf: String,
    soort: String,
    datum: String,
    #[serde(default)]
    toelichting: String,
}

csrf_form!(MilestoneForm);

/// `POST /deelnemers/{id}/mijlpaal`: records a milestone (back office), as
/// `POST /participants/{id}/milestones` does.
pub async fn add(
    State(state): State<AppState>,
    peer: Peer,
    Path(id): Path<String>,
    Post(user, f): Post<MilestoneForm>,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    user.require_outcomes(&state, &id).await?;
    let Ok(date) = f.datum.parse::<chrono::NaiveDate>() else {
        return Err(WebError::BadRequest(
            "de datum van de mijlpaal is geen geldige datum".into(),
        ));
    };
    let m = results::NewMilestone {
        participant_id: id.clone(),
        kind: f.soort,
        reached_on: date,
        note: Some(f.toelichting),
    };
    let mut w = state.store().begin_write().await?;
    results::add_milestone(&mut w, &user.tenant.id, &actor(&user, &peer), &m).await?;
    changed(&mut w, &user, &peer, "POST /deelnemers/{id}/mijlpaal", &id).await?;
    w.commit().await?;
    Ok(Redirect::to(&format!("/deelnemers/{id}#mijlpalen")).into_response())
}
