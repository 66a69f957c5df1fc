//! Evaluaties: the due and overdue evaluations of a user's participants,
//! the evaluation form (the period's day notes, progress on each open goal,
//! a measurement per instrument, the participant's own mark, the next
//! step), goals, a participant's own evaluation plan, the evaluation history,
//! the outcome section of the participant page, and the groups a begeleider
//! works with (set by beheer on `/gebruikers`).
//!
//! Outcome data are special personal data: every page here checks the
//! user's scope ([`WebUser::require_outcomes`]: a begeleider sees the
//! participants of their groups, the back office all of the provider's, a
//! municipality none) and writes the access log, a view before the page
//! leaves, a change in the write's own transaction. What is typed is
//! checked by [`crate::record::outcomes`], the one writer, so the form and
//! the API refuse the same things.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, NaiveDate};
use maud::{Markup, html};
use serde::Deserialize;

use super::access::{actor, changed, log};
use super::auth::{OutcomeScope, Post, WebUser, audit, csrf_form};
use super::{WebError, csrf_field, format, name_of, page};
use crate::instrument::Instrument;
use crate::record::access::Kind;
use crate::record::outcomes::{
    self, DueEvaluation, GoalProgress, GoalStatus, Measurement, NewEvaluation, NewGoal,
    NewMeasurement, NewScore, OutcomeError, Progress,
};
use crate::registration::today;
use crate::server::AppState;
use crate::server::access::Peer;

/// How many lines of the due list the day registration page shows.
const COMPACT: usize = 10;

/// The groups whose participants `scope` covers: `None` for all.
fn groups_of(scope: &OutcomeScope) -> Option<&[String]> {
    match scope {
        OutcomeScope::All => None,
        OutcomeScope::Groups(g) => Some(g.as_slice()),
        OutcomeScope::Nobody => Some(&[]),
    }
}

/// The due list of the user's scope.
async fn due_for(state: &AppState, user: &WebUser) -> Result<Vec<DueEvaluation>, WebError> {
    let scope = user.outcome_scope(state).await?;
    if scope == OutcomeScope::Nobody {
        return Ok(Vec::new());
    }
    Ok(outcomes::due_evaluations(
        state.store().pool(),
        &user.tenant.id,
        state.mappings.for_tenant(&user.tenant.id),
        &state.evaluations,
        groups_of(&scope),
        today(),
    )
    .await?)
}

fn due_table(rows: &[DueEvaluation], today: NaiveDate) -> Markup {
    html! {
        table.evaluaties {
            thead { tr { th { "Deelnemer" } th { "Groep" } th { "Laatste evaluatie" } th { "Volgende" } th { "Ritme" } } }
            tbody {
                @for r in rows {
                    tr.te-laat[r.overdue] {
                        th scope="row" { a href={ "/deelnemers/" (r.participant_id) "/evaluatie" } { (name_of(&r.name)) } }
                        td { (r.group.as_deref().unwrap_or("—")) }
                        td { (r.last_held.map_or_else(|| "nog geen".to_string(), format::date)) }
                        td {
                            (format::date(r.due))
                            @if r.overdue {
                                " " span.waarschuwing { "te laat (" (format::count((today - r.due).num_days(), "dag", "dagen")) ")" }
                            } @else if r.due <= today + Duration::days(7) {
                                " " span.label { "deze week" }
                            }
                        }
                        td { "elke " (format::count(i64::from(r.weeks), "week", "weken")) " · " (r.source.nl()) }
                    }
                }
            }
        }
    }
}

/// `GET /evaluaties`: the due and overdue evaluations of the user's
/// participants, overdue first.
pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
) -> Result<Response, WebError> {
    if user.outcome_scope(&state).await? == OutcomeScope::Nobody {
        return Err(WebError::Forbidden(Box::new(user)));
    }
    let rows = due_for(&state, &user).await?;
    let ids: Vec<String> = rows.iter().map(|r| r.participant_id.clone()).collect();
    log(&state, &user, &peer, Kind::View, "GET /evaluaties", &ids).await?;
    let today = today();
    let overdue = rows.iter().filter(|r| r.overdue).count();
    let body = html! {
        h1 { "Evaluaties" }
        @if rows.is_empty() {
            p { "Geen deelnemers in uw groepen met zorg die loopt." }
        } @else {
            p { (format::count(rows.len() as i64, "deelnemer", "deelnemers")) ", waarvan " (format::count(overdue as i64, "evaluatie", "evaluaties")) " te laat." }
            (due_table(&rows, today))
        }
    };
    Ok(page("Evaluaties", Some(&user), body))
}

/// The compact due list at the top of the day registration page: what is
/// due this week or overdue, at most [`COMPACT`] lines; nothing for a user
/// without outcome scope. The ids shown, whose views the page logs.
pub async fn due_compact(
    state: &AppState,
    user: &WebUser,
) -> Result<(Markup, Vec<String>), WebError> {
    let today = today();
    let rows: Vec<DueEvaluation> = due_for(state, user)
        .await?
        .into_iter()
        .filter(|r| r.due <= today + Duration::days(7))
        .collect();
    if rows.is_empty() {
        return Ok((html! {}, Vec::new()));
    }
    let shown: Vec<DueEvaluation> = rows.iter().take(COMPACT).cloned().collect();
    let ids = shown.iter().map(|r| r.participant_id.clone()).collect();
    Ok((
        html! {
            section.evaluaties-kort aria-label="Evaluaties" {
                h2 { "Evaluaties deze week of te laat" }
                (due_table(&shown, today))
                p { a href="/evaluaties" { "Alle evaluaties" } @if rows.len() > COMPACT { " (" (format::count(rows.len() as i64, "deelnemer", "deelnemers")) ")" } }
            }
        },
        ids,
    ))
}

/// A participant's name and group, or 404.
async fn participant(
    state: &AppState,
    user: &WebUser,
    id: &str,
) -> Result<(String, Option<String>), WebError> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT name_json, group_name FROM participants WHERE tenant_id = $1 AND id = $2",
    )
    .bind(&user.tenant.id)
    .bind(id)
    .fetch_optional(state.store().pool())
    .await?;
    let (name, group) = row.ok_or(WebError::NotFound)?;
    Ok((
        name_of(&serde_json::from_str(&name).unwrap_or_default()),
        group,
    ))
}

/// The next evaluation of one participant, from the due list's rule.
async fn next_due(
    state: &AppState,
    user: &WebUser,
    id: &str,
) -> Result<Option<DueEvaluation>, WebError> {
    Ok(outcomes::due_evaluations(
        state.store().pool(),
        &user.tenant.id,
        state.mappings.for_tenant(&user.tenant.id),
        &state.evaluations,
        None,
        today(),
    )
    .await?
    .into_iter()
    .find(|d| d.participant_id == id))
}

/// The outcome section of the participant page: next evaluation, goals,
/// the last evaluations and the links to the form and the development
/// chart. Nothing for a user out of scope (not an error: the rest of the
/// page is theirs to see). The caller has logged the page's view.
pub async fn section(state: &AppState, user: &WebUser, id: &str) -> Result<Markup, WebError> {
    match user.require_outcomes(state, id).await {
        Ok(()) => {}
        Err(WebError::Forbidden(_) | WebError::NotFound) => return Ok(html! {}),
        Err(e) => return Err(e),
    }
    let pool = state.store().pool();
    let goals = outcomes::goals_of(pool, &user.tenant.id, id).await?;
    let evaluations = outcomes::evaluations_of(pool, &user.tenant.id, id).await?;
    let due = next_due(state, user, id).await?;
    let plan = outcomes::plan_of(pool, &user.tenant.id, id).await?;
    Ok(html! {
        section #ontwikkeling aria-label="Ontwikkeling" {
            h2 { "Ontwikkeling en evaluaties" }
            p.navigatie {
                a.knop href={ "/deelnemers/" (id) "/evaluatie" } { "Evaluatie invullen" }
                " " a href={ "/deelnemers/" (id) "/ontwikkeling" } { "Ontwikkeling per leefgebied" }
                " " a href={ "/deelnemers/" (id) "/evaluaties" } { "Alle evaluaties" }
            }
            @if let Some(d) = &due {
                p { "Volgende evaluatie: " strong { (format::date(d.due)) } @if d.overdue { " " span.waarschuwing { "te laat" } }
                    " (elke " (format::count(i64::from(d.weeks), "week", "weken")) ", " (d.source.nl()) ")" }
            }
            (plan_form(user, id, plan))
            h3 { "Doelen" }
            (goal_list(&goals, state))
            (goal_form(state, user, id, None))
            h3 { "Laatste evaluaties" }
            (history(&evaluations[..evaluations.len().min(3)], &goals))
        }
    })
}

fn plan_form(user: &WebUser, id: &str, plan: Option<i64>) -> Markup {
    html! {
        details {
            summary { "Evaluatieritme van deze deelnemer" }
            form.regel method="post" action={ "/deelnemers/" (id) "/evaluatieplan" } {
                (csrf_field(user))
                label { "Elke … weken (leeg: volgens contract, groep of standaard)"
                    input type="number" name="weken" min="1" max="52" value=(plan.map(|p| p.to_string()).unwrap_or_default());
                }
                button.secundair type="submit" { "Ritme opslaan" }
            }
        }
    }
}

fn domain_name(state: &AppState, instrument: &str, domain: &str) -> String {
    state
        .instruments
        .get(instrument)
        .and_then(|i| i.domain(domain))
        .map_or_else(|| format!("{instrument}/{domain}"), |d| d.name.clone())
}

fn goal_list(goals: &[outcomes::Goal], state: &AppState) -> Markup {
    html! {
        @if goals.is_empty() { p { "Nog geen doelen afgesproken." } } @else {
            ul.doelen {
                @for g in goals {
                    @let status = GoalStatus::parse(&g.row.status).unwrap_or(GoalStatus::Open);
                    li {
                        (g.row.text) " "
                        span.label { (status.nl()) @if let Some(c) = &g.row.closed_on { " op " (format::date_str(c)) } }
                        br;
                        small { "afgesproken " (format::date_str(&g.row.agreed_on))
                            @if !g.domains.is_empty() {
                                " · " (g.domains.iter().map(|(i, d)| domain_name(state, i, d)).collect::<Vec<_>>().join(", "))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The add-a-goal form; `back` is where to return after saving.
fn goal_form(state: &AppState, user: &WebUser, id: &str, back: Option<&str>) -> Markup {
    html! {
        details.doel-toevoegen {
            summary { "Doel toevoegen" }
            form method="post" action={ "/deelnemers/" (id) "/doelen" } {
                (csrf_field(user))
                @if let Some(b) = back { input type="hidden" name="terug" value=(b); }
                label { "Doel, in de woorden van de deelnemer" textarea name="tekst" rows="2" maxlength="2000" required {} }
                label { "Afgesproken op" input type="date" name="datum" value=(today()) max=(today()) required; }
                @for i in state.instruments.iter() {
                    fieldset.doeldomeinen {
                        legend { (i.name) }
                        @for d in &i.domains {
                            label.vinkje { input type="checkbox" name="domein" value={ (i.id) "/" (d.id) }; " " (d.name) }
                        }
                    }
                }
                button type="submit" { "Doel opslaan" }
            }
        }
    }
}

fn history(evaluations: &[outcomes::Evaluation], goals: &[outcomes::Goal]) -> Markup {
    html! {
        @if evaluations.is_empty() { p { "Nog geen evaluaties." } } @else {
            table.evaluaties {
                thead { tr { th { "Datum" } th { "Door" } th { "Voortgang" } th { "Volgende stap" } } }
                tbody {
                    @for e in evaluations {
                        tr {
                            td { (format::date_str(&e.row.held_on)) br; small { (format::date_str(&e.row.period_from)) " – " (format::date_str(&e.row.period_to)) } }
                            td { (e.row.written_by_name) }
                            td {
                                @for p in &e.progress {
                                    @let text = goals.iter().find(|g| g.row.id == p.goal_id).map(|g| g.row.text.as_str()).unwrap_or("—");
                                    div { (text) ": " strong { (Progress::parse(&p.progress).map_or_else(|| p.progress.clone(), |x| x.nl().to_string())) }
                                        @if let Some(n) = &p.note { " — " (n) } }
                                }
                                @if let Some(s) = e.row.satisfaction { div { "Rapportcijfer deelnemer: " (s) } }
                            }
                            td { (e.row.next_step) }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct HistoryQuery {
    #[serde(default)]
    opgeslagen: Option<String>,
}

/// `GET /deelnemers/{id}/evaluaties`: every evaluation of the participant.
pub async fn history_page(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Response, WebError> {
    user.require_outcomes(&state, &id).await?;
    let (name, _) = participant(&state, &user, &id).await?;
    log(
        &state,
        &user,
        &peer,
        Kind::View,
        "GET /deelnemers/{id}/evaluaties",
        std::slice::from_ref(&id),
    )
    .await?;
    let pool = state.store().pool();
    let goals = outcomes::goals_of(pool, &user.tenant.id, &id).await?;
    let evaluations = outcomes::evaluations_of(pool, &user.tenant.id, &id).await?;
    let body = html! {
        h1 { "Evaluaties van " (name) }
        @if q.opgeslagen.is_some() { p.melding.ok role="status" { "De evaluatie is opgeslagen." } }
        p.navigatie { a href={ "/deelnemers/" (id) } { "Naar de deelnemer" } " " a.knop href={ "/deelnemers/" (id) "/evaluatie" } { "Nieuwe evaluatie" } }
        h2 { "Doelen" }
        (goal_list(&goals, &state))
        h2 { "Evaluaties" }
        (history(&evaluations, &goals))
    };
    Ok(page("Evaluaties", Some(&user), body))
}

#[derive(Deserialize, Default)]
pub struct FormQuery {
    #[serde(default)]
    van: Option<String>,
    #[serde(default)]
    tot: Option<String>,
}

fn parse_date(s: Option<&str>) -> Option<NaiveDate> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse().ok())
}

/// The default period: the day after the last evaluation up to today; the
/// default interval back from today before any evaluation.
async fn default_period(
    state: &AppState,
    user: &WebUser,
    id: &str,
) -> Result<(NaiveDate, NaiveDate), WebError> {
    let today = today();
    let last = outcomes::evaluations_of(state.store().pool(), &user.tenant.id, id)
        .await?
        .first()
        .and_then(|e| e.row.held_on.parse::<NaiveDate>().ok());
    let from = match last {
        Some(d) => (d + Duration::days(1)).min(today),
        None => today - Duration::weeks(i64::from(state.evaluations.every_weeks.max(1))),
    };
    Ok((from, today))
}

/// `GET /deelnemers/{id}/evaluatie[?van=&tot=]`: the evaluation form.
pub async fn form(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    Path(id): Path<String>,
    Query(q): Query<FormQuery>,
) -> Result<Response, WebError> {
    user.require_outcomes(&state, &id).await?;
    let (mut from, mut to) = default_period(&state, &user, &id).await?;
    if let Some(d) = parse_date(q.van.as_deref()) {
        from = d;
    }
    if let Some(d) = parse_date(q.tot.as_deref()) {
        to = d;
    }
    let mut typed = HashMap::new();
    typed.insert("van".to_string(), from.to_string());
    typed.insert("tot".to_string(), to.to_string());
    let body = form_page(&state, &user, &id, &typed, None).await?;
    log(
        &state,
        &user,
        &peer,
        Kind::View,
        "GET /deelnemers/{id}/evaluatie",
        std::slice::from_ref(&id),
    )
    .await?;
    Ok(page("Evaluatie", Some(&user), body))
}

/// The form with what was typed (`typed`, the form's own fields) and, after
/// a refused save, why.
async fn form_page(
    state: &AppState,
    user: &WebUser,
    id: &str,
    typed: &HashMap<String, String>,
    error: Option<&str>,
) -> Result<Markup, WebError> {
    let (name, _) = participant(state, user, id).await?;
    let pool = state.store().pool();
    let tenant = &user.tenant.id;
    let field = |k: &str| typed.get(k).map(String::as_str).unwrap_or("");
    let today = today();
    let from = parse_date(typed.get("van").map(String::as_str)).unwrap_or(today);
    let to = parse_date(typed.get("tot").map(String::as_str)).unwrap_or(today);
    let notes = if from <= to {
        outcomes::day_notes(pool, tenant, id, from, to).await?
    } else {
        Vec::new()
    };
    let goals: Vec<outcomes::Goal> = outcomes::goals_of(pool, tenant, id)
        .await?
        .into_iter()
        .filter(|g| g.row.status == GoalStatus::Open.as_str())
        .collect();
    let measurements = outcomes::measurements_of(pool, tenant, id).await?;
    let held = if field("datum").is_empty() {
        today.to_string()
    } else {
        field("datum").to_string()
    };
    Ok(html! {
        h1 { "Evaluatie van " (name) }
        p.navigatie { a href={ "/deelnemers/" (id) } { "Naar de deelnemer" } " " a href={ "/deelnemers/" (id) "/evaluaties" } { "Eerdere evaluaties" } }
        @if let Some(e) = error { p.melding.fout role="alert" { "Er is niets opgeslagen: " (e) } }
        form.filters method="get" action={ "/deelnemers/" (id) "/evaluatie" } {
            label { "Periode van" input type="date" name="van" value=(from) max=(today); }
            label { "tot en met" input type="date" name="tot" value=(to) max=(today); }
            button.secundair type="submit" { "Dagnotities tonen" }
        }
        section.dagnotities aria-label="Dagnotities" {
            h2 { "Dagnotities " (format::period(from, to)) }
            @if notes.is_empty() { p { "Geen dagnotities in deze periode." } } @else {
                dl.dagnotities {
                    @for (day, note) in &notes { dt { (format::date_str(day)) } dd { (note) } }
                }
            }
        }
        // Its own form (forms do not nest), before the evaluation's: a goal
        // agreed in the conversation is added first, then evaluated.
        (goal_form(state, user, id, Some("evaluatie")))
        form.evaluatie method="post" action={ "/deelnemers/" (id) "/evaluatie" } {
            (csrf_field(user))
            input type="hidden" name="van" value=(from);
            input type="hidden" name="tot" value=(to);
            label { "Datum van de evaluatie" input type="date" name="datum" value=(held) max=(today) required; }
            h2 { "Doelen" }
            @if goals.is_empty() { p { "Geen lopende doelen. Voeg er een toe op de pagina van de deelnemer." } }
            @for g in &goals {
                @let key = format!("voortgang.{}", g.row.id);
                fieldset.doel {
                    legend { (g.row.text) }
                    div.segmenten {
                        @for p in Progress::ALL {
                            label { input type="radio" name=(key) value=(p.as_str()) checked[field(&key) == p.as_str()]; span { (p.nl()) } }
                        }
                    }
                    @let nkey = format!("doelnotitie.{}", g.row.id);
                    label { "Toelichting" input type="text" name=(nkey) maxlength="2000" value=(field(&nkey)); }
                }
            }
            h2 { "Meting" }
            p.hulp { "Een instrument zonder scores wordt overgeslagen. Per leefgebied staat de vorige score erbij." }
            @for i in state.instruments.iter() {
                @let previous = measurements.iter().rev().find(|m| m.row.instrument == i.id);
                @let typed_any = i.domains.iter().any(|d| !field(&format!("m.{}.{}", i.id, d.id)).is_empty());
                details.instrument open[previous.is_some() || typed_any] {
                    summary { (i.name) @if let Some(p) = previous { " — vorige meting " (format::date_str(&p.row.measured_on)) } }
                    @for d in &i.domains {
                        (domain_field(i, d, previous, typed))
                    }
                }
            }
            h2 { "Afsluiting" }
            label { "Rapportcijfer van de deelnemer (niet verplicht)"
                select name="tevredenheid" {
                    option value="" { "—" }
                    @for n in 1..=10 { option value=(n) selected[field("tevredenheid") == n.to_string()] { (n) } }
                }
            }
            label { "Volgende stap" textarea name="volgende_stap" rows="3" maxlength="2000" { (field("volgende_stap")) } }
            p.navigatie { button type="submit" { "Evaluatie opslaan" } }
        }
    })
}

/// One domain of a measurement: a segmented choice of the levels (each
/// with the level's label and the domain's own description of it), the
/// previous score, and a note.
fn domain_field(
    i: &Instrument,
    d: &crate::instrument::Domain,
    previous: Option<&Measurement>,
    typed: &HashMap<String, String>,
) -> Markup {
    let key = format!("m.{}.{}", i.id, d.id);
    let nkey = format!("n.{}.{}", i.id, d.id);
    let chosen = typed.get(&key).map(String::as_str).unwrap_or("");
    let before = previous.and_then(|m| m.score(&d.id));
    html! {
        fieldset.domein {
            legend { (d.name) @if let Some(b) = before { " " small.vorige { "vorige: " (i.score_label(b)) } } }
            p.hulp { (d.description) }
            div.segmenten.niveaus {
                label { input type="radio" name=(key) value="" checked[chosen.is_empty()]; span { "niet gescoord" } }
                @for v in i.min..=i.max {
                    @let title = d.level_description(v).map(str::to_string)
                        .or_else(|| i.level(v).map(|l| l.description.clone()))
                        .unwrap_or_default();
                    label title=(title) {
                        input type="radio" name=(key) value=(v) checked[chosen == v.to_string()];
                        span { (v) @if let Some(l) = i.level(v) { " " small { (l.label) } } }
                    }
                }
            }
            @if !d.levels.is_empty() || !i.levels.is_empty() {
                details.omschrijvingen {
                    summary { "Omschrijving per niveau" }
                    dl {
                        @for v in i.min..=i.max {
                            @if let Some(text) = d.level_description(v).or_else(|| i.level(v).map(|l| l.description.as_str())) {
                                dt { (i.score_label(v)) } dd { (text) }
                            }
                        }
                    }
                }
            }
            label { "Toelichting" input type="text" name=(nkey) maxlength="2000" value=(typed.get(&nkey).map(String::as_str).unwrap_or("")); }
        }
    }
}

/// Reads the evaluation form into what [`outcomes::add_evaluation`] takes,
/// or the Dutch reason it cannot.
fn read_form(
    state: &AppState,
    id: &str,
    f: &HashMap<String, String>,
) -> Result<NewEvaluation, String> {
    let get = |k: &str| f.get(k).map(|v| v.trim()).unwrap_or("");
    let date = |k: &str, what: &str| {
        get(k)
            .parse::<NaiveDate>()
            .map_err(|_| format!("{what} is geen geldige datum"))
    };
    let held_on = date("datum", "de datum van de evaluatie")?;
    let period_from = date("van", "het begin van de periode")?;
    let period_to = date("tot", "het einde van de periode")?;
    let satisfaction = match get("tevredenheid") {
        "" => None,
        s => Some(
            s.parse::<i64>()
                .map_err(|_| "het rapportcijfer is geen getal".to_string())?,
        ),
    };
    let mut measurements = Vec::new();
    for i in state.instruments.iter() {
        let mut scores = Vec::new();
        for d in &i.domains {
            let v = get(&format!("m.{}.{}", i.id, d.id));
            let note =
                Some(get(&format!("n.{}.{}", i.id, d.id)).to_string()).filter(|n| !n.is_empty());
            if v.is_empty() {
                if note.is_some() {
                    return Err(format!(
                        "{}: {} heeft een toelichting maar geen score",
                        i.name, d.name
                    ));
                }
                continue;
            }
            let score = v
                .parse::<i64>()
                .map_err(|_| format!("{}: de score van {} is geen getal", i.name, d.name))?;
            scores.push(NewScore {
                domain: d.id.clone(),
                score,
                note,
            });
        }
        // Scores the instrument does not know (a tampered form) are refused,
        // not dropped.
        let prefix = format!("m.{}.", i.id);
        for (k, v) in f {
            if let Some(domain) = k.strip_prefix(&prefix)
                && i.domain(domain).is_none()
                && !v.trim().is_empty()
            {
                return Err(format!("{} kent geen leefgebied {domain:?}", i.name));
            }
        }
        if !scores.is_empty() {
            measurements.push(NewMeasurement {
                participant_id: id.to_string(),
                instrument: i.id.clone(),
                measured_on: held_on,
                scores,
                supersedes: None,
            });
        }
    }
    for k in f.keys() {
        if let Some(rest) = k.strip_prefix("m.")
            && !state
                .instruments
                .iter()
                .any(|i| rest.starts_with(&format!("{}.", i.id)))
        {
            return Err("een meting met een onbekend instrument".to_string());
        }
    }
    let mut progress = Vec::new();
    for (k, v) in f {
        let Some(goal) = k.strip_prefix("voortgang.") else {
            continue;
        };
        if v.trim().is_empty() {
            continue;
        }
        let level =
            Progress::parse(v.trim()).ok_or_else(|| format!("onbekende voortgang {v:?}"))?;
        progress.push(GoalProgress {
            goal_id: goal.to_string(),
            progress: level,
            note: Some(get(&format!("doelnotitie.{goal}")).to_string()).filter(|n| !n.is_empty()),
        });
    }
    progress.sort_by(|a, b| a.goal_id.cmp(&b.goal_id));
    Ok(NewEvaluation {
        participant_id: id.to_string(),
        held_on,
        period_from,
        period_to,
        next_step: get("volgende_stap").to_string(),
        satisfaction,
        measurements,
        progress,
    })
}

/// `POST /deelnemers/{id}/evaluatie`: the evaluation, its measurements and
/// the progress on its goals in one transaction with its audit-trail and
/// access-log entries; a refused save shows the form again as typed, with
/// the reason.
pub async fn save(
    State(state): State<AppState>,
    peer: Peer,
    Path(id): Path<String>,
    Post(user, f): Post<HashMap<String, String>>,
) -> Result<Response, WebError> {
    user.require_outcomes(&state, &id).await?;
    let refused = match read_form(&state, &id, &f) {
        Err(e) => e,
        Ok(evaluation) => {
            let mut w = state.store().begin_write().await?;
            match outcomes::add_evaluation(
                &mut w,
                &user.tenant.id,
                &state.instruments,
                &actor(&user, &peer),
                &evaluation,
            )
            .await
            {
                Ok(eid) => {
                    commit_change(
                        w,
                        &user,
                        &peer,
                        &id,
                        "evaluation_add",
                        serde_json::json!({
                            "evaluation": eid,
                            "measurements": evaluation.measurements.len(),
                            "goals": evaluation.progress.len(),
                        }),
                        "POST /deelnemers/{id}/evaluatie",
                    )
                    .await?;
                    return Ok(
                        Redirect::to(&format!("/deelnemers/{id}/evaluaties?opgeslagen=1"))
                            .into_response(),
                    );
                }
                Err(OutcomeError::Invalid { nl, .. }) => nl,
                Err(OutcomeError::NotFound) => return Err(WebError::NotFound),
                Err(OutcomeError::Store(e)) => return Err(WebError::Internal(e)),
            }
        }
    };
    let body = form_page(&state, &user, &id, &f, Some(&refused)).await?;
    log(
        &state,
        &user,
        &peer,
        Kind::View,
        "POST /deelnemers/{id}/evaluatie",
        std::slice::from_ref(&id),
    )
    .await?;
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        page("Evaluatie", Some(&user), body),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct GoalForm {
    csrf: String,
    tekst: String,
    datum: String,
    #[serde(default)]
    domein: Vec<String>,
    #[serde(default)]
    terug: Option<String>,
}

#[derive(Deserialize)]
pub struct PlanForm {
    csrf: String,
    #[serde(default)]
    weken: String,
}

csrf_form!(GoalForm, PlanForm, GroupsForm);

/// `POST /deelnemers/{id}/doelen`: a goal agreed with the participant.
pub async fn add_goal(
    State(state): State<AppState>,
    peer: Peer,
    Path(id): Path<String>,
    Post(user, f): Post<GoalForm>,
) -> Result<Response, WebError> {
    user.require_outcomes(&state, &id).await?;
    let agreed_on =
        f.datum.trim().parse::<NaiveDate>().map_err(|_| {
            WebError::BadRequest("de datum van het doel is geen geldige datum".into())
        })?;
    let mut domains = Vec::new();
    for d in &f.domein {
        let Some((i, d)) = d.split_once('/') else {
            return Err(WebError::BadRequest(format!("onbekend leefgebied {d:?}")));
        };
        domains.push((i.to_string(), d.to_string()));
    }
    let goal = NewGoal {
        participant_id: id.clone(),
        text: f.tekst,
        agreed_on,
        domains,
    };
    let mut w = state.store().begin_write().await?;
    let gid = outcomes::add_goal(
        &mut w,
        &user.tenant.id,
        &state.instruments,
        &actor(&user, &peer),
        &goal,
    )
    .await?;
    commit_change(
        w,
        &user,
        &peer,
        &id,
        "goal_add",
        serde_json::json!({ "goal": gid }),
        "POST /deelnemers/{id}/doelen",
    )
    .await?;
    let to = match f.terug.as_deref() {
        Some("evaluatie") => format!("/deelnemers/{id}/evaluatie"),
        _ => format!("/deelnemers/{id}#ontwikkeling"),
    };
    Ok(Redirect::to(&to).into_response())
}

/// Ends a change of one participant's outcomes: its audit-trail entry and
/// its access-log entry in the change's transaction, then the commit.
async fn commit_change(
    mut w: crate::store::WriteTx,
    user: &WebUser,
    peer: &Peer,
    id: &str,
    action: &str,
    detail: serde_json::Value,
    object: &str,
) -> Result<(), WebError> {
    audit(
        &mut w,
        &user.tenant.id,
        &user.username,
        action,
        Some(("participant", id)),
        detail,
    )
    .await?;
    changed(&mut w, user, peer, object, id).await?;
    w.commit().await?;
    Ok(())
}

/// `POST /deelnemers/{id}/evaluatieplan`: sets (or, empty, clears) the
/// participant's own evaluation interval; back office, or the begeleider
/// of the participant's group.
pub async fn set_plan(
    State(state): State<AppState>,
    peer: Peer,
    Path(id): Path<String>,
    Post(user, f): Post<PlanForm>,
) -> Result<Response, WebError> {
    user.require_outcomes(&state, &id).await?;
    let weeks = match f.weken.trim() {
        "" => None,
        s => Some(
            s.parse::<i64>()
                .map_err(|_| WebError::BadRequest("het aantal weken is geen heel getal".into()))?,
        ),
    };
    let mut w = state.store().begin_write().await?;
    outcomes::set_plan(&mut w, &user.tenant.id, &actor(&user, &peer), &id, weeks).await?;
    commit_change(
        w,
        &user,
        &peer,
        &id,
        "evaluation_plan",
        serde_json::json!({ "every_weeks": weeks }),
        "POST /deelnemers/{id}/evaluatieplan",
    )
    .await?;
    Ok(Redirect::to(&format!("/deelnemers/{id}#ontwikkeling")).into_response())
}

#[derive(sqlx::FromRow)]
struct UserLine {
    id: String,
    username: String,
    display_name: String,
    role: String,
}

/// The groups section of `/gebruikers` (beheer): per user the groups whose
/// participants' outcomes they see.
pub async fn groups_section(state: &AppState, user: &WebUser) -> Result<Markup, WebError> {
    let pool = state.store().pool();
    let users: Vec<UserLine> = sqlx::query_as(
        "SELECT id, username, display_name, role FROM users WHERE tenant_id = $1 ORDER BY username",
    )
    .bind(&user.tenant.id)
    .fetch_all(pool)
    .await?;
    let groups = crate::record::read::groups(pool, &user.tenant).await?;
    let mut rows = Vec::new();
    for u in users {
        let own = outcomes::groups_of_user(pool, &u.id).await?;
        rows.push((u, own));
    }
    Ok(html! {
        h2 #groepen { "Groepen per begeleider" }
        p { small { "Een begeleider ziet de ontwikkeling en evaluaties van de deelnemers in de groepen die hier zijn aangevinkt. Backoffice en beheer zien alle deelnemers." } }
        @if groups.is_empty() { p { "Er zijn nog geen groepen; een groep zet u op de pagina van een deelnemer." } } @else {
            table.groepen {
                thead { tr { th { "Gebruiker" } th { "Groepen" } } }
                tbody {
                    @for (u, own) in &rows {
                        tr {
                            td { (u.display_name) br; small { (u.username) " · " (u.role) } }
                            td {
                                form.regel method="post" action="/gebruikers/groepen" {
                                    (csrf_field(user))
                                    input type="hidden" name="gebruiker" value=(u.username);
                                    @for g in &groups {
                                        label.vinkje { input type="checkbox" name="groep" value=(g) checked[own.contains(g)]; " " (g) }
                                    }
                                    button.secundair type="submit" { "Groepen opslaan" }
                                }
                            }
                        }
                    }
                }
            }
        }
    })
}

#[derive(Deserialize)]
pub struct GroupsForm {
    csrf: String,
    gebruiker: String,
    #[serde(default)]
    groep: Vec<String>,
}

/// `POST /gebruikers/groepen` (beheer): replaces the groups a user works
/// with, in the audit trail.
pub async fn set_groups(
    State(state): State<AppState>,
    Post(user, f): Post<GroupsForm>,
) -> Result<Response, WebError> {
    user.require_beheer()?;
    let found: Option<(String,)> =
        sqlx::query_as("SELECT id FROM users WHERE tenant_id = $1 AND username = $2")
            .bind(&user.tenant.id)
            .bind(&f.gebruiker)
            .fetch_optional(state.store().pool())
            .await?;
    let (uid,) = found.ok_or(WebError::NotFound)?;
    let known = crate::record::read::groups(state.store().pool(), &user.tenant).await?;
    if let Some(g) = f.groep.iter().find(|g| !known.contains(g)) {
        return Err(WebError::BadRequest(format!("onbekende groep {g:?}")));
    }
    let mut w = state.store().begin_write().await?;
    outcomes::set_user_groups(&mut w, &uid, &f.groep).await?;
    audit(
        &mut w,
        &user.tenant.id,
        &user.username,
        "user_groups",
        Some(("user", &f.gebruiker)),
        serde_json::json!({ "groups": f.groep }),
    )
    .await?;
    w.commit().await?;
    Ok(Redirect::to("/gebruikers#groepen").into_response())
}
