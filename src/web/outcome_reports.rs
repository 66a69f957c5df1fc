//! Verantwoording: per financier and period a report of the participants
//! it finances (their allocations, measurements with the baseline before
//! the period, goals, evaluations, the end of their care and its reason),
//! printable on A4 and as CSV; and for a Jeugdwet financier the CBS
//! beleidsinformatie per half year (the outcome criteria per ended
//! allocation) as the CSV the municipality passes on.
//!
//! Outcome data are special personal data: the back office and beheer of
//! a provider only (they make the financiers' reports), a report holds the
//! financier's own participants only ([`crate::record::outcome_reports`]),
//! and every participant in a report is written to the access log, as a
//! view for the page and an export for a file, before it is sent; every
//! file also gets an entry in the audit trail. URLs carry loket's ids and
//! dates only, never a BSN or a name.

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{Datelike, Months, NaiveDate, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{OutcomeScope, WebUser};
use super::export::{Cell, Column, FileType, Kind, Table, col};
use super::reports::exported;
use super::{WebError, financier_nl, format, name_of, name_sort_key, page};
use crate::engine::outcomes::{domain_figures, publishable, series};
use crate::instrument::Instrument;
use crate::record::access::Kind as AccessKind;
use crate::record::outcome_reports::{
    self as read, CareEnd, CbsRow, FinancierRow, Period, Report, ReportParticipant, half_year,
};
use crate::record::outcomes::GoalStatus;
use crate::server::AppState;
use crate::server::access::Peer;

/// The back office of a provider, who may see every participant's outcome
/// data: the only users of these pages.
async fn require(state: &AppState, user: &WebUser) -> Result<(), WebError> {
    super::reports::require_provider_office(user)?;
    if user.outcome_scope(state).await? != OutcomeScope::All {
        return Err(WebError::Forbidden(Box::new(user.clone())));
    }
    Ok(())
}

/// `?financier=<id>&van=JJJJ-MM-DD&tot=JJJJ-MM-DD`
#[derive(Deserialize, Default)]
pub struct ReportQuery {
    #[serde(default)]
    financier: Option<String>,
    #[serde(default)]
    van: Option<String>,
    #[serde(default)]
    tot: Option<String>,
}

/// `?financier=<id>&halfjaar=JJJJ-1|JJJJ-2`
#[derive(Deserialize, Default)]
pub struct CbsQuery {
    #[serde(default)]
    financier: Option<String>,
    #[serde(default)]
    halfjaar: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The tenant's financier the query names: 400 without one, 404 for an id
/// that is not the tenant's.
async fn financier_of(
    state: &AppState,
    user: &WebUser,
    id: &Option<String>,
) -> Result<FinancierRow, WebError> {
    let id = given(id).ok_or_else(|| WebError::BadRequest("Kies een financier.".into()))?;
    read::financier(state.store().pool(), &user.tenant, id)
        .await?
        .ok_or(WebError::NotFound)
}

/// A day as typed in the query, within the years loket keeps.
fn day(what: &str, v: &Option<String>) -> Result<NaiveDate, WebError> {
    let s = given(v).ok_or_else(|| WebError::BadRequest(format!("Vul de datum '{what}' in.")))?;
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=2100).contains(&d.year()))
        .ok_or_else(|| {
            WebError::BadRequest(format!(
                "'{what}' ({s}) is geen datum; gebruik dd-mm-jjjj in het formulier."
            ))
        })
}

/// The period of the query: both days given, the first not after the last.
fn period_of(q: &ReportQuery) -> Result<Period, WebError> {
    let (from, to) = (day("van", &q.van)?, day("tot en met", &q.tot)?);
    if from > to {
        return Err(WebError::BadRequest(
            "De periode begint na haar laatste dag.".into(),
        ));
    }
    Ok(Period { from, to })
}

/// `JJJJ-1` (January to June) or `JJJJ-2` (July to December).
fn half_of(v: &Option<String>) -> Result<(String, Period), WebError> {
    let s = given(v).ok_or_else(|| WebError::BadRequest("Kies een halfjaar.".into()))?;
    s.split_once('-')
        .and_then(|(y, h)| {
            let year: i32 = y.parse().ok().filter(|y| (2000..=2100).contains(y))?;
            let half: u32 = h.parse().ok()?;
            Some((format!("{year}-{half}"), half_year(year, half)?))
        })
        .ok_or_else(|| {
            WebError::BadRequest(format!(
                "Halfjaar {s:?} bestaat niet: kies het eerste (JJJJ-1) of het tweede (JJJJ-2) halfjaar van een jaar."
            ))
        })
}

/// A half year as "1e halfjaar 2026".
fn half_nl(p: Period) -> String {
    let n = if p.from.month() <= 6 { 1 } else { 2 };
    format!("{n}e halfjaar {}", p.from.year())
}

/// A financier as every page names it ("Jeugdwet 0599").
fn financier_label(f: &FinancierRow) -> String {
    financier_nl(&f.kind, &f.code)
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The periods the page offers: the last three months, four quarters, two
/// half years and two years (each up to and with the current one).
fn offered(today: NaiveDate) -> Vec<(String, Period)> {
    let first = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1);
    let span = |from: Option<NaiveDate>, months: u32| {
        let from = from?;
        let to = from.checked_add_months(Months::new(months))?.pred_opt()?;
        Some(Period { from, to })
    };
    let mut out = Vec::new();
    let this_month = first(today.year(), today.month());
    for back in 0..3 {
        if let Some(p) = span(
            this_month.and_then(|m| m.checked_sub_months(Months::new(back))),
            1,
        ) {
            out.push((format::month_of(p.from), p));
        }
    }
    let this_quarter = first(today.year(), (today.month0() / 3) * 3 + 1);
    for back in 0..4 {
        if let Some(p) = span(
            this_quarter.and_then(|m| m.checked_sub_months(Months::new(3 * back))),
            3,
        ) {
            out.push((
                format!("{}e kwartaal {}", p.from.month0() / 3 + 1, p.from.year()),
                p,
            ));
        }
    }
    let this_half = first(today.year(), if today.month() <= 6 { 1 } else { 7 });
    for back in 0..2 {
        if let Some(p) = span(
            this_half.and_then(|m| m.checked_sub_months(Months::new(6 * back))),
            6,
        ) {
            out.push((half_nl(p), p));
        }
    }
    for back in 0..2 {
        if let Some(p) = span(first(today.year() - back, 1), 12) {
            out.push((format!("heel {}", p.from.year()), p));
        }
    }
    out
}

/// The query string of a report.
fn report_query(f: &FinancierRow, p: Period) -> String {
    format!("financier={}&van={}&tot={}", f.id, ymd(p.from), ymd(p.to))
}

/// `GET /verantwoording?financier=`: choose financier and period.
pub async fn index(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<ReportQuery>,
) -> Result<Response, WebError> {
    require(&state, &user).await?;
    let financiers = read::financiers(state.store().pool(), &user.tenant).await?;
    let chosen = match given(&q.financier) {
        Some(id) => Some(
            financiers
                .iter()
                .find(|f| f.id == id)
                .ok_or(WebError::NotFound)?,
        ),
        None => financiers.first(),
    };
    let today = crate::registration::today();
    let this_half = if today.month() <= 6 { 1 } else { 2 };
    // The current half year and the three before it.
    let halves: Vec<(String, Period)> = (0..4)
        .filter_map(|back: i32| {
            let index = today.year() * 2 + (this_half - 1) - back;
            let (year, half) = (index.div_euclid(2), index.rem_euclid(2) + 1);
            let p = half_year(year, u32::try_from(half).ok()?)?;
            Some((format!("{year}-{half}"), p))
        })
        .collect();
    let body = html! {
        h1 { "Verantwoording" }
        p.toelichting {
            "Per financier en periode een rapport over de deelnemers die zij financiert: toewijzingen, metingen "
            "(met de laatste meting vóór de periode als beginstand), doelen, evaluaties en het einde van de zorg. "
            "Afdrukken als A4 of downloaden als CSV. Elke deelnemer in een rapport komt in het toegangslogboek."
        }
        @if financiers.is_empty() {
            p { "Nog geen financiers: die komen met de eerste toewijzing of opdracht." }
        } @else {
            form.filters method="get" action="/verantwoording" {
                label { "Financier"
                    select name="financier" {
                        @for f in &financiers {
                            option value=(f.id) selected[chosen.is_some_and(|c| c.id == f.id)] { (financier_label(f)) }
                        }
                    }
                }
                button.secundair type="submit" { "Kiezen" }
            }
        }
        @if let Some(f) = chosen {
            h2 { (financier_label(f)) }
            table.exports.verantwoording {
                thead { tr { th { "Periode" } th { "Van" } th { "Tot en met" } th { "Rapport" } th { "CSV" } } }
                tbody {
                    @for (label, p) in offered(today) {
                        tr {
                            td { (label) }
                            td { (format::date(p.from)) }
                            td { (format::date(p.to)) }
                            td { a href={ "/verantwoording/rapport?" (report_query(f, p)) } { "Rapport" } }
                            td { a href={ "/verantwoording/rapport.csv?" (report_query(f, p)) } download { "CSV" } }
                        }
                    }
                }
            }
            h3 { "Andere periode" }
            form.filters method="get" action="/verantwoording/rapport" {
                input type="hidden" name="financier" value=(f.id);
                label { "Van" input type="date" name="van" required; }
                label { "Tot en met" input type="date" name="tot" required; }
                button.secundair type="submit" { "Rapport maken" }
            }
            @if f.is_jeugdwet() {
                h2 { "CBS beleidsinformatie Jeugd" }
                p.toelichting {
                    "Per halfjaar één regel per Jeugdwet-toewijzing waarvan de zorg in dat halfjaar eindigde, met de "
                    "outputcriteria: beëindigd volgens plan, doelen behaald en cliënttevredenheid. Het bestand bevat het "
                    "BSN (CBS koppelt daarop) en gaat naar de gemeente die de toewijzing gaf."
                }
                table.exports {
                    tbody {
                        @for (value, p) in &halves {
                            tr {
                                td { (half_nl(*p)) }
                                td { a href={ "/verantwoording/cbs.csv?financier=" (f.id) "&halfjaar=" (value) } download { "CSV voor CBS" } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Verantwoording", Some(&user), body))
}

/// The report's participants sorted by surname ([`name_sort_key`]), each
/// with their parsed name.
fn sorted(report: &Report) -> Vec<(&ReportParticipant, serde_json::Value)> {
    let mut out: Vec<(&ReportParticipant, serde_json::Value)> = report
        .participants
        .iter()
        .map(|p| (p, serde_json::from_str(&p.name_json).unwrap_or_default()))
        .collect();
    out.sort_by_cached_key(|(p, n)| (name_sort_key(n), p.id.clone()));
    out
}

/// The instruments the report's participants were measured with, in the
/// order loket lists them.
fn instruments_of<'a>(state: &'a AppState, report: &Report) -> Vec<&'a Instrument> {
    state
        .instruments
        .iter()
        .filter(|i| {
            report
                .participants
                .iter()
                .any(|p| p.measurements.iter().any(|m| m.instrument == i.id))
        })
        .collect()
}

async fn load(state: &AppState, user: &WebUser, q: &ReportQuery) -> Result<Report, WebError> {
    let financier = financier_of(state, user, &q.financier).await?;
    let period = period_of(q)?;
    Ok(read::report(
        state.store().pool(),
        &user.tenant,
        &state.instruments,
        &financier,
        period,
    )
    .await?)
}

fn ids(report: &Report) -> Vec<String> {
    report.participants.iter().map(|p| p.id.clone()).collect()
}

/// A score with its level's label, or a dash.
fn score(instrument: &Instrument, p: Option<crate::engine::outcomes::Point<'_>>) -> Markup {
    html! {
        @match p {
            Some(p) => { (instrument.score_label(p.score)) br; small { (format::date(p.date)) } }
            None => { "—" }
        }
    }
}

fn end_text(e: &CareEnd) -> String {
    match &e.code {
        Some(c) => format!("{} ({}, code {c})", format::date(e.date), e.meaning()),
        None => format!("{} ({})", format::date(e.date), e.meaning()),
    }
}

/// The summary per instrument and domain: participants measured, compared
/// (two measurements or more), and how many improved, stayed or fell back,
/// with no figure behind fewer than five.
fn summary(instruments: &[&Instrument], report: &Report) -> Markup {
    html! {
        @for instrument in instruments {
            @let all: Vec<Vec<crate::record::outcomes::Measurement>> = report.participants.iter()
                .filter_map(|p| p.measurements.iter().find(|m| m.instrument == instrument.id))
                .map(|m| m.all())
                .collect();
            h3 { (instrument.name) }
            table.overzicht {
                thead { tr {
                    th { "Domein" } th.getal { "Deelnemers" } th.getal { "Vergeleken" }
                    th.getal { "Vooruit" } th.getal { "Gelijk" } th.getal { "Achteruit" }
                } }
                tbody {
                    @for d in &instrument.domains {
                        @let per: Vec<_> = all.iter().map(|ms| series(ms, &d.id)).filter(|s| !s.is_empty()).collect();
                        @if !per.is_empty() {
                            @let f = domain_figures(instrument, &per);
                            tr {
                                td { (d.name) }
                                td.getal { (f.participants) }
                                td.getal { (f.compared) }
                                @if publishable(f.compared) {
                                    td.getal { (f.improved) } td.getal { (f.same) } td.getal { (f.worse) }
                                } @else {
                                    td.getal colspan="3" { "minder dan " (crate::engine::outcomes::MIN_GROUP) ": geen cijfer" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn participant_block(state: &AppState, p: &ReportParticipant, name: &serde_json::Value) -> Markup {
    html! {
        section.rapport-deelnemer {
            h2 { (name_of(name)) @if let Some(c) = &p.client_number { small { " · cliëntnummer " (c) } } }
            table.specificatie {
                thead { tr { th { "Toewijzing / opdracht" } th { "Product" } th { "Van" } th { "Tot en met" } th { "Einde zorg" } } }
                tbody {
                    @for (a, end) in &p.allocations {
                        tr {
                            td { code { (a.number()) } }
                            td { (a.product_categorie.as_deref().unwrap_or("—")) @if let Some(c) = &a.product_code { "/" (c) } }
                            td.datum { (format::date_str(&a.ingangsdatum)) }
                            td.datum { (a.einddatum.as_deref().map_or_else(|| "—".to_string(), format::date_str)) }
                            td { (end.as_ref().map_or_else(|| "loopt door".to_string(), end_text)) }
                        }
                    }
                }
            }
            @for m in &p.measurements {
                @if let Some(instrument) = state.instruments.get(&m.instrument) {
                    @let all = m.all();
                    h3 { (instrument.name) }
                    table.specificatie {
                        thead { tr { th { "Domein" } th { "Beginstand" } th { "Eerste in periode" } th { "Laatste in periode" } th { "Verandering" } } }
                        tbody {
                            @for r in m.domain_rows(instrument, &all) {
                                tr {
                                    td { (instrument.domain(r.domain).map_or(r.domain, |d| d.name.as_str())) }
                                    td { (score(instrument, r.baseline)) }
                                    td { (score(instrument, r.first)) }
                                    td { (score(instrument, r.last)) }
                                    td { (r.change.map_or("—", |c| c.nl())) }
                                }
                            }
                        }
                    }
                }
            }
            @if p.measurements.is_empty() { p { "Geen metingen tot en met deze periode." } }
            @let c = p.goal_counts;
            h3 { "Doelen" }
            p {
                (format::count(i64::try_from(c.agreed).unwrap_or(i64::MAX), "doel", "doelen")) " afgesproken · "
                (c.reached) " behaald in deze periode · " (c.stopped) " gestopt in deze periode · " (c.open) " open"
            }
            @if !p.goals.is_empty() {
                ul.doelen {
                    @for g in &p.goals {
                        li {
                            (g.row.text) " — afgesproken " (format::date_str(&g.row.agreed_on)) ", "
                            (GoalStatus::parse(&g.row.status).map_or(g.row.status.as_str(), |s| s.nl()))
                            @if let Some(d) = &g.row.closed_on { " op " (format::date_str(d)) }
                        }
                    }
                }
            }
            p {
                "Evaluaties in deze periode: " (p.evaluations)
                @if let Some(d) = p.last_evaluation { ", laatste op " (format::date(d)) }
            }
            p {
                "Einde zorg: "
                @match p.end() {
                    Some(e) => { (end_text(e)) }
                    None => { "de zorg loopt na deze periode door" }
                }
            }
        }
    }
}

/// `GET /verantwoording/rapport?financier=&van=&tot=`: the printable report.
pub async fn report(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    Query(q): Query<ReportQuery>,
) -> Result<Response, WebError> {
    require(&state, &user).await?;
    let report = load(&state, &user, &q).await?;
    let shown = ids(&report);
    if !shown.is_empty() {
        super::access::log(
            &state,
            &user,
            &peer,
            AccessKind::View,
            "GET /verantwoording/rapport",
            &shown,
        )
        .await?;
    }
    let f = &report.financier;
    let people = sorted(&report);
    let instruments = instruments_of(&state, &report);
    // The results claimed from this financier for outcomes reached in the
    // period, with their evidence: a claim's participants are the
    // financier's own (a claim needs one of its allocations in force).
    let claims = crate::record::results::claims(
        state.store().pool(),
        &user.tenant.id,
        Some(&f.id),
        report.period.from,
        report.period.to,
    )
    .await?;
    let claims: Vec<_> = claims
        .iter()
        .filter(|c| shown.contains(&c.claim.participant_id))
        .collect();
    let claim_name = |id: &str| -> maud::Markup {
        let name = people
            .iter()
            .find(|(p, _)| p.id == id)
            .map(|(_, n)| name_of(n))
            .unwrap_or_else(|| "deelnemer".to_string());
        maud::html! { (name) }
    };
    let measured = report.participants.iter().filter(|p| p.measured()).count();
    let n = |x: usize| i64::try_from(x).unwrap_or(i64::MAX);
    let title = format!("Verantwoording {}", financier_nl(&f.kind, &f.code));
    let body = html! {
        div.specificatie {
            p.geen-print {
                a href={ "/verantwoording?financier=" (f.id) } { "Terug naar Verantwoording" } " "
                a href={ "/verantwoording/rapport.csv?" (report_query(f, report.period)) } download { "CSV" } " "
                button.secundair #afdrukken type="button" { "Afdrukken" }
            }
            h1 { (title) }
            dl.gegevens {
                dt { "Zorgaanbieder" } dd { "AGB " (user.tenant.id) }
                dt { "Financier" } dd { (financier_label(f)) }
                dt { "Periode" } dd { (format::period(report.period.from, report.period.to)) }
                dt { "Gemaakt op" } dd { (format::time(Utc::now())) }
                dt { "Gemaakt door" } dd { (user.display_name) }
            }
            h2 { "Samenvatting" }
            p #samenvatting {
                (format::count(n(report.participants.len()), "deelnemer", "deelnemers")) " gefinancierd in deze periode, "
                (measured) " gemeten in deze periode."
            }
            @if !instruments.is_empty() {
                (summary(&instruments, &report))
                p.toelichting {
                    "Vergeleken: deelnemers met een beginstand of meting en een latere meting in de periode; vooruit, "
                    "gelijk of achteruit tussen de eerste en de laatste daarvan. Onder de "
                    (crate::engine::outcomes::MIN_GROUP) " deelnemers geen cijfer, zodat het niet naar een persoon wijst."
                }
            }
            @if !claims.is_empty() {
                h2 { "Resultaatclaims" }
                p {
                    (format::count(n(claims.len()), "resultaat", "resultaten")) " bereikt in deze periode en geclaimd, samen "
                    (super::euro(claims.iter().map(|c| c.claim.amount_cents).sum())) ", elk met het bewijs waarop de claim rust."
                }
                (super::results::claims_table(&state, &claims, &claim_name))
            }
            @if report.participants.is_empty() {
                p { "Geen deelnemers van deze financier in deze periode." }
            }
            @for (p, name) in &people { (participant_block(&state, p, name)) }
        }
    };
    Ok(page(&title, Some(&user), body))
}

const REPORT_COLUMNS: &[Column] = &[
    col("Deelnemer", Kind::Text, 26),
    col("Cliëntnummer", Kind::Text, 14),
    col("Toewijzingen", Kind::Text, 20),
    col("Instrument", Kind::Text, 22),
    col("Domein", Kind::Text, 22),
    col("Beginstand", Kind::Integer, 10),
    col("Datum beginstand", Kind::Date, 12),
    col("Eerste in periode", Kind::Integer, 10),
    col("Datum eerste", Kind::Date, 12),
    col("Laatste in periode", Kind::Integer, 10),
    col("Datum laatste", Kind::Date, 12),
    col("Verandering", Kind::Text, 12),
    col("Doelen afgesproken", Kind::Integer, 10),
    col("Doelen behaald in periode", Kind::Integer, 10),
    col("Doelen gestopt in periode", Kind::Integer, 10),
    col("Doelen open", Kind::Integer, 10),
    col("Evaluaties in periode", Kind::Integer, 10),
    col("Einde zorg", Kind::Date, 12),
    col("Reden einde (code)", Kind::Text, 8),
    col("Reden einde", Kind::Text, 30),
];

/// The report's rows: one per participant, instrument and domain; a
/// participant without a measurement gets one row without scores.
fn report_rows(state: &AppState, report: &Report) -> Vec<Vec<Cell>> {
    let mut rows = Vec::new();
    let n = |x: usize| Cell::Integer(i64::try_from(x).unwrap_or(i64::MAX));
    for (p, name) in sorted(report) {
        let numbers = p
            .allocations
            .iter()
            .map(|(a, _)| a.number())
            .collect::<Vec<_>>()
            .join(", ");
        let c = p.goal_counts;
        let end = p.end();
        let tail = vec![
            n(c.agreed),
            n(c.reached),
            n(c.stopped),
            n(c.open),
            n(p.evaluations),
            end.map_or(Cell::Empty, |e| Cell::Date(e.date)),
            Cell::opt(end.and_then(|e| e.code.as_deref())),
            end.map_or(Cell::Empty, |e| Cell::text(e.meaning())),
        ];
        let head = |instrument: Cell, domain: Cell| {
            vec![
                Cell::text(name_of(&name)),
                Cell::opt(p.client_number.as_deref()),
                Cell::text(numbers.clone()),
                instrument,
                domain,
            ]
        };
        let point = |x: Option<crate::engine::outcomes::Point<'_>>| {
            x.map_or([Cell::Empty, Cell::Empty], |x| {
                [Cell::Integer(x.score), Cell::Date(x.date)]
            })
        };
        let mut any = false;
        for m in &p.measurements {
            let Some(instrument) = state.instruments.get(&m.instrument) else {
                continue;
            };
            let all = m.all();
            for r in m.domain_rows(instrument, &all) {
                any = true;
                let mut row = head(
                    Cell::text(&instrument.name),
                    Cell::text(
                        instrument
                            .domain(r.domain)
                            .map_or(r.domain, |d| d.name.as_str()),
                    ),
                );
                row.extend(point(r.baseline));
                row.extend(point(r.first));
                row.extend(point(r.last));
                row.push(Cell::opt(r.change.map(|c| c.nl())));
                row.extend(tail.iter().cloned());
                rows.push(row);
            }
        }
        if !any {
            let mut row = head(Cell::Empty, Cell::Empty);
            row.extend(std::iter::repeat_n(Cell::Empty, 7));
            row.extend(tail);
            rows.push(row);
        }
    }
    rows
}

/// `GET /verantwoording/rapport.csv?financier=&van=&tot=`
pub async fn report_csv(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    Query(q): Query<ReportQuery>,
) -> Result<Response, WebError> {
    require(&state, &user).await?;
    let report = load(&state, &user, &q).await?;
    let table = Table {
        sheet: "Verantwoording",
        columns: REPORT_COLUMNS,
        rows: report_rows(&state, &report),
    };
    let shown = ids(&report);
    let f = &report.financier;
    exported(
        &state,
        &user,
        &peer,
        "GET /verantwoording/rapport.csv",
        &shown,
        "verantwoording",
        serde_json::json!({
            "financier": f.id,
            "from": ymd(report.period.from),
            "to": ymd(report.period.to),
            "rows": table.rows.len(),
            "participants": shown.len(),
        }),
    )
    .await?;
    let stem = format!(
        "verantwoording-{}-{}-{}_{}",
        f.kind,
        f.code,
        ymd(report.period.from),
        ymd(report.period.to)
    );
    Ok(super::export::download(&table, FileType::Csv, &stem)?)
}

const CBS_COLUMNS: &[Column] = &[
    col("AGB-code aanbieder", Kind::Text, 10),
    col("Gemeentecode", Kind::Text, 8),
    col("BSN", Kind::Text, 11),
    col("ToewijzingNummer", Kind::Text, 14),
    col("Productcategorie", Kind::Text, 8),
    col("Productcode", Kind::Text, 8),
    col("Begindatum", Kind::Date, 12),
    col("Einddatum", Kind::Date, 12),
    col("RedenBeeindiging", Kind::Text, 8),
    col("Reden beëindiging", Kind::Text, 30),
    col("Beëindigd volgens plan", Kind::Text, 10),
    col("Doelen behaald", Kind::Text, 10),
    col("Cliënttevredenheid", Kind::Integer, 10),
    col("Aantal evaluaties", Kind::Integer, 10),
];

fn cbs_row(agb: &str, gemeente: &str, r: &CbsRow) -> Vec<Cell> {
    vec![
        Cell::text(agb),
        Cell::text(gemeente),
        // The municipality has the BSN already; CBS links on it. It is in
        // the file only, never in the URL or a log.
        Cell::text(&r.bsn),
        Cell::text(&r.allocation.toewijzing_nummer),
        Cell::opt(r.allocation.product_categorie.as_deref()),
        Cell::opt(r.allocation.product_code.as_deref()),
        Cell::Date(r.begin),
        Cell::Date(r.end.date),
        Cell::opt(r.end.code.as_deref()),
        Cell::text(r.end.meaning()),
        Cell::text(r.end.as_planned()),
        Cell::text(r.goals.nl()),
        r.satisfaction.map_or(Cell::Empty, Cell::Integer),
        Cell::Integer(i64::try_from(r.evaluations).unwrap_or(i64::MAX)),
    ]
}

/// `GET /verantwoording/cbs.csv?financier=&halfjaar=JJJJ-1`: the CBS
/// beleidsinformatie of a Jeugdwet financier for a half year.
pub async fn cbs_csv(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    Query(q): Query<CbsQuery>,
) -> Result<Response, WebError> {
    require(&state, &user).await?;
    let f = financier_of(&state, &user, &q.financier).await?;
    if !f.is_jeugdwet() {
        return Err(WebError::BadRequest(format!(
            "De CBS beleidsinformatie is er voor Jeugdwet-financiers; {} is dat niet.",
            financier_label(&f)
        )));
    }
    let (label, half) = half_of(&q.halfjaar)?;
    let rows = read::cbs(
        state.store().pool(),
        &user.tenant,
        &f,
        half,
        crate::registration::today(),
    )
    .await?;
    let table = Table {
        sheet: "CBS beleidsinformatie",
        columns: CBS_COLUMNS,
        rows: rows
            .iter()
            .map(|r| cbs_row(&user.tenant.id, &f.code, r))
            .collect(),
    };
    let mut shown: Vec<String> = rows.iter().map(|r| r.participant_id.clone()).collect();
    shown.sort();
    shown.dedup();
    exported(
        &state,
        &user,
        &peer,
        "GET /verantwoording/cbs.csv",
        &shown,
        "cbs-beleidsinformatie",
        serde_json::json!({
            "financier": f.id,
            "half_year": label,
            "rows": table.rows.len(),
            "participants": shown.len(),
        }),
    )
    .await?;
    Ok(super::export::download(
        &table,
        FileType::Csv,
        &format!(
            "cbs-beleidsinformatie-{}-{}-{label}",
            user.tenant.id, f.code
        ),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_offers_months_quarters_half_years_and_years() {
        let today: NaiveDate = "2026-12-07".parse().expect("date");
        let offered = offered(today);
        let labels: Vec<&str> = offered.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            labels,
            [
                "december 2026",
                "november 2026",
                "oktober 2026",
                "4e kwartaal 2026",
                "3e kwartaal 2026",
                "2e kwartaal 2026",
                "1e kwartaal 2026",
                "2e halfjaar 2026",
                "1e halfjaar 2026",
                "heel 2026",
                "heel 2025",
            ]
        );
        let q2 = offered[5].1;
        assert_eq!(
            (ymd(q2.from), ymd(q2.to)),
            ("2026-04-01".into(), "2026-06-30".into())
        );
        assert!(half_of(&Some("2026-3".into())).is_err());
        assert!(half_of(&Some("2026".into())).is_err());
        assert_eq!(
            half_of(&Some("2026-1".into()))
                .map(|(l, p)| (l, ymd(p.to)))
                .ok(),
            Some(("2026-1".to_string(), "2026-06-30".to_string()))
        );
    }
}
