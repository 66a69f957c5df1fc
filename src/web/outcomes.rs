//! Ontwikkeling: outcomes in the web app. Per participant every domain of
//! every instrument they were measured with, over time, with the latest
//! scores, who scored and the notes; and for a group of participants (per
//! group, per financier, per financing model) where they stood at intake
//! and where they stand now, and how many improved, stayed or fell back:
//! what no single financier can see.
//!
//! Outcome data are special personal data. A participant's page checks
//! the user may see this participant's outcomes
//! ([`WebUser::require_outcomes`]) and writes the access log before it is
//! sent; the aggregate page shows only the participants in the user's
//! scope ([`WebUser::outcome_scope`]) and never a figure over fewer than
//! five people ([`outcomes::publishable`]), so it names no one and logs
//! no one. A municipality sees neither.
//!
//! What the measurements mean (first/last, intake/now, improved) comes
//! from [`crate::engine::outcomes`] only, so these pages, the financiers'
//! reports and the results claims agree.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::NaiveDate;
use maud::{Markup, html};
use serde::Deserialize;

use super::access::log;
use super::auth::{OutcomeScope, WebUser};
use super::chart::{self, Dot};
use super::{WebError, financier_kind_nl, financier_nl, format, name_of, page};
use crate::engine::outcomes::{self as figures, DomainFigures, GroupFigures};
use crate::instrument::{Instrument, ZRM};
use crate::mapping::Kind as FinancierKind;
use crate::record::access::Kind;
use crate::record::outcome_views::{self, Financing, Member};
use crate::record::outcomes::{self, Measurement};
use crate::server::AppState;
use crate::server::access::Peer;

/// `GET /deelnemers/{id}/ontwikkeling`: one participant's development.
pub async fn participant(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    // Refused before anything is read or logged: a refused view is no view.
    user.require_outcomes(&state, &id).await?;
    let pool = state.store().pool();
    let person = outcome_views::participant(pool, &user.tenant.id, &id)
        .await?
        .ok_or(WebError::NotFound)?;
    let measurements = outcomes::measurements_of(pool, &user.tenant.id, &id).await?;
    log(
        &state,
        &user,
        &peer,
        Kind::View,
        "GET /deelnemers/{id}/ontwikkeling",
        std::slice::from_ref(&person.id),
    )
    .await?;
    let naam: serde_json::Value = serde_json::from_str(&person.name_json).unwrap_or_default();
    let name = name_of(&naam);
    let known: Vec<&Instrument> = state
        .instruments
        .iter()
        .filter(|i| measurements.iter().any(|m| m.row.instrument == i.id))
        .collect();
    let mut unknown: Vec<&str> = measurements
        .iter()
        .map(|m| m.row.instrument.as_str())
        .filter(|i| state.instruments.get(i).is_none())
        .collect();
    unknown.dedup();
    let body = html! {
        h1 { "Ontwikkeling van " (name) }
        p {
            a href={ "/deelnemers/" (person.id) } { "Terug naar " (name) }
            " · groep " (person.group_name.as_deref().unwrap_or("—"))
        }
        @if measurements.is_empty() {
            p { "Nog geen metingen." }
        }
        @for instrument in &known {
            @let own: Vec<Measurement> = measurements.iter().filter(|m| m.row.instrument == instrument.id).cloned().collect();
            (instrument_section(instrument, &own))
        }
        @if !unknown.is_empty() {
            p.melding {
                "Er zijn ook metingen met een instrument dat deze installatie niet (meer) kent: "
                (unknown.join(", ")) ". Vraag een beheerder het instrumentbestand terug te zetten."
            }
        }
    };
    Ok(page(&format!("Ontwikkeling van {name}"), Some(&user), body))
}

/// One instrument on a participant's page: latest scores, the charts, and
/// every measurement with who scored it and the notes.
fn instrument_section(instrument: &Instrument, measurements: &[Measurement]) -> Markup {
    let per_domain: Vec<(&crate::instrument::Domain, Vec<Dot>)> = instrument
        .domains
        .iter()
        .map(|d| {
            let dots = figures::series(measurements, &d.id)
                .iter()
                .map(|p| Dot {
                    date: p.date,
                    score: p.score,
                })
                .collect();
            (d, dots)
        })
        .collect();
    let last = measurements.last();
    html! {
        section.instrument id=(instrument.id) {
            h2 { (instrument.name) }
            p.toelichting {
                (format::count(measurements.len() as i64, "meting", "metingen"))
                @if let Some(l) = last {
                    ", de laatste op " (format::date_str(&l.row.measured_on)) " door " (scorer(l))
                }
                "."
            }
            @if instrument.domains.len() == 1 {
                @if let Some((domain, dots)) = per_domain.first() {
                    @if let (Some(a), Some(b)) = (dots.first(), dots.last()) {
                        figure.groot {
                            (chart::line(instrument, domain, dots, (a.date, b.date), chart::Size::Large))
                        }
                    }
                }
            } @else {
                (chart::small_multiples(instrument, &per_domain))
            }
            h3 { "Eerste en laatste meting per domein" }
            table.scores {
                thead { tr { th { "Domein" } th { "Eerste meting" } th { "Laatste meting" } th { "Verloop" } } }
                tbody {
                    @for (domain, _) in per_domain.iter().filter(|(_, d)| !d.is_empty()) {
                        @let s = figures::series(measurements, &domain.id);
                        @if let (Some(first), Some(latest)) = (s.first(), s.last()) {
                            tr {
                                th scope="row" { (domain.name) }
                                td { (instrument.score_label(first.score)) br; small { (format::date(first.date)) } }
                                td {
                                    (instrument.score_label(latest.score)) br;
                                    small { (format::date(latest.date)) }
                                    @if let Some(text) = domain.level_description(latest.score) {
                                        br; small.toelichting { (text) }
                                    }
                                }
                                td {
                                    @match figures::first_last(instrument, &s) {
                                        Some((_, _, change)) => span class=(format!("verloop {}", chart::change_class(change))) { (change.nl()) },
                                        None => span.toelichting { "één meting" },
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h3 { "Metingen" }
            @for m in measurements.iter().rev() {
                @let notes = m.scores.iter().filter(|s| s.note.is_some()).count();
                details.meting {
                    summary {
                        (format::date_str(&m.row.measured_on)) " · " (scorer(m)) " · "
                        (format::count(m.scores.len() as i64, "domein", "domeinen"))
                        @if notes > 0 { " · " (format::count(notes as i64, "toelichting", "toelichtingen")) }
                    }
                    table {
                        thead { tr { th { "Domein" } th { "Score" } th { "Toelichting" } } }
                        tbody {
                            @for s in &m.scores {
                                tr {
                                    td { (instrument.domain(&s.domain).map_or(s.domain.as_str(), |d| d.name.as_str())) }
                                    td { (instrument.score_label(s.score)) }
                                    td { (s.note.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                    p.toelichting {
                        "Versie " (m.row.instrument_version) " van het instrument; vastgelegd "
                        (format::time_str(&m.row.created_at)) "."
                    }
                }
            }
        }
    }
}

/// Who scored a measurement, as a page names them.
fn scorer(m: &Measurement) -> &str {
    if m.row.scored_by_name.is_empty() {
        &m.row.scored_by
    } else {
        &m.row.scored_by_name
    }
}

/// How the aggregate page splits participants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakdown {
    Group,
    Financier,
    Model,
}

impl Breakdown {
    const ALL: [Breakdown; 3] = [Breakdown::Group, Breakdown::Financier, Breakdown::Model];

    fn as_str(self) -> &'static str {
        match self {
            Breakdown::Group => "groep",
            Breakdown::Financier => "financier",
            Breakdown::Model => "financieringsvorm",
        }
    }

    fn nl(self) -> &'static str {
        match self {
            Breakdown::Group => "Per groep",
            Breakdown::Financier => "Per financier",
            Breakdown::Model => "Per financieringsvorm",
        }
    }

    fn parse(s: &str) -> Option<Breakdown> {
        Breakdown::ALL.into_iter().find(|b| b.as_str() == s)
    }
}

#[derive(Deserialize, Default)]
pub struct AggregateQuery {
    #[serde(default)]
    instrument: Option<String>,
    #[serde(default)]
    indeling: Option<String>,
    #[serde(default)]
    van: Option<String>,
    #[serde(default)]
    tot: Option<String>,
}

/// A date typed in the filter (the browser's date input sends ISO).
fn parse_date(what: &str, s: Option<&str>) -> Result<Option<NaiveDate>, WebError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| WebError::BadRequest(format!("{what} is geen datum (dd-mm-jjjj): {s:?}"))),
    }
}

/// One part of a breakdown: its name and its participants.
struct Part {
    label: String,
    members: Vec<String>,
}

/// Splits `members` by `breakdown`; the ones that fall in no part (no
/// group, no financier) form a remainder at the end.
fn parts(breakdown: Breakdown, members: &[Member], financing: &[Financing]) -> Vec<Part> {
    let mut of: BTreeMap<&str, Vec<&Financing>> = BTreeMap::new();
    for f in financing {
        of.entry(f.participant_id.as_str()).or_default().push(f);
    }
    let financiers = |id: &str| of.get(id).map_or(&[][..], Vec::as_slice);
    let mut out: Vec<Part> = Vec::new();
    let mut rest: Vec<String> = Vec::new();
    match breakdown {
        Breakdown::Group => {
            let mut by: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for m in members {
                match m.group_name.as_deref() {
                    Some(g) => by.entry(g).or_default().push(m.id.clone()),
                    None => rest.push(m.id.clone()),
                }
            }
            out.extend(by.into_iter().map(|(g, ids)| Part {
                label: g.to_string(),
                members: ids,
            }));
            push_rest(&mut out, "Zonder groep", rest);
        }
        Breakdown::Financier => {
            let mut by: BTreeMap<(String, &str), Vec<String>> = BTreeMap::new();
            for m in members {
                let mut any = false;
                for f in financiers(&m.id) {
                    let label = if f.name.trim().is_empty() {
                        financier_nl(&f.kind, &f.code)
                    } else {
                        f.name.clone()
                    };
                    by.entry((label, f.financier_id.as_str()))
                        .or_default()
                        .push(m.id.clone());
                    any = true;
                }
                if !any {
                    rest.push(m.id.clone());
                }
            }
            out.extend(by.into_iter().map(|((label, _), ids)| Part {
                label,
                members: ids,
            }));
            push_rest(&mut out, "Zonder financier", rest);
        }
        Breakdown::Model => {
            for kind in FinancierKind::ALL
                .into_iter()
                .filter(|k| *k != FinancierKind::Aanbieder)
            {
                let ids: Vec<String> = members
                    .iter()
                    .filter(|m| financiers(&m.id).iter().any(|f| f.kind == kind.as_str()))
                    .map(|m| m.id.clone())
                    .collect();
                if !ids.is_empty() {
                    out.push(Part {
                        label: financier_kind_nl(kind.as_str()).to_string(),
                        members: ids,
                    });
                }
            }
            rest.extend(
                members
                    .iter()
                    .filter(|m| financiers(&m.id).is_empty())
                    .map(|m| m.id.clone()),
            );
            push_rest(&mut out, "Zonder financiering", rest);
        }
    }
    out
}

fn push_rest(out: &mut Vec<Part>, label: &str, rest: Vec<String>) {
    if !rest.is_empty() {
        out.push(Part {
            label: label.to_string(),
            members: rest,
        });
    }
}

/// A part's figures and which of them may be shown.
struct Shown {
    label: String,
    figures: GroupFigures,
    part: bool,
    /// Per domain (in the instrument's order): distribution, changes.
    domains: Vec<(bool, bool)>,
}

/// Decides what may be shown: nothing over fewer than five people; in a
/// breakdown by group (everyone in exactly one part) also the next
/// smallest part when only one is hidden ([`figures::shown_parts`]).
fn suppress(breakdown: Breakdown, computed: Vec<(String, GroupFigures)>) -> Vec<Shown> {
    let decide = |counts: Vec<usize>| -> Vec<bool> {
        if breakdown == Breakdown::Group {
            figures::shown_parts(&counts)
        } else {
            counts
                .iter()
                .map(|n| *n == 0 || figures::publishable(*n))
                .collect()
        }
    };
    let part_shown = decide(computed.iter().map(|(_, f)| f.participants).collect());
    let domains = computed.first().map_or(0, |(_, f)| f.domains.len());
    let mut dist: Vec<Vec<bool>> = vec![Vec::new(); computed.len()];
    let mut change: Vec<Vec<bool>> = vec![Vec::new(); computed.len()];
    for d in 0..domains {
        let of = |pick: fn(&DomainFigures) -> usize| -> Vec<usize> {
            computed
                .iter()
                .map(|(_, f)| f.domains.get(d).map_or(0, |(_, x)| pick(x)))
                .collect()
        };
        for (i, s) in decide(of(|x| x.participants)).into_iter().enumerate() {
            dist[i].push(s);
        }
        for (i, s) in decide(of(|x| x.compared)).into_iter().enumerate() {
            change[i].push(s);
        }
    }
    computed
        .into_iter()
        .enumerate()
        .map(|(i, (label, figures))| Shown {
            label,
            part: part_shown[i] && figures.participants > 0,
            domains: dist[i]
                .iter()
                .zip(&change[i])
                .map(|(a, b)| (*a, *b))
                .collect(),
            figures,
        })
        .collect()
}

/// `GET /ontwikkeling?instrument=&indeling=&van=&tot=`: outcomes of the
/// participants in the user's scope, broken down.
pub async fn aggregate(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<AggregateQuery>,
) -> Result<Response, WebError> {
    let scope = user.outcome_scope(&state).await?;
    if scope == OutcomeScope::Nobody {
        return Err(WebError::Forbidden(Box::new(user)));
    }
    let instrument = match q.instrument.as_deref().filter(|i| !i.is_empty()) {
        Some(id) => state
            .instruments
            .get(id)
            .ok_or_else(|| WebError::BadRequest(format!("Onbekend instrument {id:?}.")))?,
        None => state
            .instruments
            .get(ZRM)
            .or_else(|| state.instruments.iter().next())
            .ok_or(WebError::NotFound)?,
    };
    let breakdown = match q.indeling.as_deref().filter(|i| !i.is_empty()) {
        Some(b) => Breakdown::parse(b)
            .ok_or_else(|| WebError::BadRequest(format!("Onbekende indeling {b:?}.")))?,
        None => Breakdown::Group,
    };
    let from = parse_date("Van", q.van.as_deref())?;
    let to = parse_date("Tot en met", q.tot.as_deref())?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(WebError::BadRequest(
            "De periode begint na haar einde: kies een van-datum vóór de tot-datum.".into(),
        ));
    }
    let pool = state.store().pool();
    let tenant = &user.tenant.id;
    let members: Vec<Member> = outcome_views::members(pool, tenant)
        .await?
        .into_iter()
        .filter(|m| scope.allows(m.group_name.as_deref()))
        .collect();
    let ids: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
    let measurements = match scope {
        OutcomeScope::All => {
            outcomes::measurements_with(pool, tenant, &instrument.id, None).await?
        }
        _ => outcomes::measurements_with(pool, tenant, &instrument.id, Some(&ids)).await?,
    };
    // Per participant: their measurements as they count for the period.
    let mut of: BTreeMap<&str, &[Measurement]> = BTreeMap::new();
    for chunk in measurements.chunk_by(|a, b| a.row.participant_id == b.row.participant_id) {
        if let Some(kept) = figures::in_period(chunk, from, to) {
            of.insert(chunk[0].row.participant_id.as_str(), kept);
        }
    }
    let financing = outcome_views::financing(pool, tenant).await?;
    let computed: Vec<(String, GroupFigures)> = parts(breakdown, &members, &financing)
        .into_iter()
        .map(|p| {
            let slices: Vec<&[Measurement]> = p
                .members
                .iter()
                .filter_map(|id| of.get(id.as_str()).copied())
                .collect();
            (p.label, figures::group_figures(instrument, &slices))
        })
        .collect();
    let shown = suppress(breakdown, computed);
    let query = |b: Breakdown| {
        format!(
            "/ontwikkeling?instrument={}&indeling={}&van={}&tot={}",
            super::registration::urlencode(&instrument.id),
            b.as_str(),
            from.map(|d| d.to_string()).unwrap_or_default(),
            to.map(|d| d.to_string()).unwrap_or_default()
        )
    };
    let body = html! {
        h1 { "Ontwikkeling" }
        p.toelichting {
            "Waar deelnemers stonden bij hun eerste meting (intake) en waar ze nu staan (hun laatste meting), "
            "en hoeveel er tussen die twee vooruit gingen, gelijk bleven of terugvielen. Elk cijfer noemt het "
            "aantal deelnemers erachter; onder de " (figures::MIN_GROUP) " deelnemers staat er geen cijfer, zodat "
            "niemand herkenbaar is."
        }
        @match &scope {
            OutcomeScope::Groups(groups) if groups.is_empty() => {
                p.melding { "U bent nog aan geen groep gekoppeld en ziet daarom geen deelnemers. Vraag een beheerder u aan uw groepen te koppelen." }
            }
            OutcomeScope::Groups(groups) => {
                p.melding { "U ziet de deelnemers van uw groepen: " (groups.join(", ")) "." }
            }
            _ => {}
        }
        form.filters method="get" action="/ontwikkeling" {
            label { "Instrument"
                select name="instrument" {
                    @for i in state.instruments.iter() {
                        option value=(i.id) selected[i.id == instrument.id] { (i.name) }
                    }
                }
            }
            label { "Indeling"
                select name="indeling" {
                    @for b in Breakdown::ALL {
                        option value=(b.as_str()) selected[b == breakdown] { (b.nl()) }
                    }
                }
            }
            label { "Gemeten van" input type="date" name="van" value=(from.map(|d| d.to_string()).unwrap_or_default()); }
            label { "tot en met" input type="date" name="tot" value=(to.map(|d| d.to_string()).unwrap_or_default()); }
            button.secundair type="submit" { "Tonen" }
        }
        nav.indeling aria-label="Indeling" {
            @for b in Breakdown::ALL {
                @if b == breakdown { strong aria-current="page" { (b.nl()) } }
                @else { a href=(query(b)) { (b.nl()) } }
            }
        }
        p {
            (instrument.name) ": "
            (format::count(of.len() as i64, "deelnemer", "deelnemers")) " met een meting"
            @match (from, to) {
                (Some(f), Some(t)) => { " van " (format::period(f, t)) }
                (Some(f), None) => { " vanaf " (format::date(f)) }
                (None, Some(t)) => { " tot en met " (format::date(t)) }
                (None, None) => {}
            }
            "."
            @match breakdown {
                Breakdown::Group => { " Elke deelnemer telt bij één groep. Is er precies één groep te klein, dan blijft ook de kleinste andere leeg: anders is de kleine uit het totaal terug te rekenen." }
                Breakdown::Financier => { " Een deelnemer met twee financiers telt bij beide mee." }
                Breakdown::Model => { " Een deelnemer die uit twee financieringsvormen betaald wordt, telt bij beide mee." }
            }
        }
        (chart::legend(instrument))
        @for s in &shown {
            section.uitsplitsing {
                h2 { (s.label) }
                @if s.figures.participants == 0 {
                    p.toelichting { "Geen deelnemers met een meting." }
                } @else if !s.part {
                    p.melding.onderdrukt { "Minder dan " (figures::MIN_GROUP) " deelnemers (of nodig om een kleine groep te beschermen): geen cijfers." }
                } @else {
                    p { (format::count(s.figures.participants as i64, "deelnemer", "deelnemers")) " met een meting." }
                    div.domeinen {
                        @for (i, (domain_id, f)) in s.figures.domains.iter().enumerate() {
                            @let (dist, change) = s.domains.get(i).copied().unwrap_or((false, false));
                            @let name = instrument.domain(domain_id).map_or(domain_id.as_str(), |d| d.name.as_str());
                            (domain_card(instrument, name, f, dist, change))
                        }
                    }
                }
            }
        }
    };
    Ok(page("Ontwikkeling", Some(&user), body))
}

/// One domain of one part: the intake/now distribution and the changes,
/// each with the number of participants behind it, or the note that the
/// figure is not shown.
fn domain_card(
    instrument: &Instrument,
    name: &str,
    f: &DomainFigures,
    dist: bool,
    change: bool,
) -> Markup {
    html! {
        article.domein {
            h3 { (name) }
            @if f.participants == 0 {
                p.toelichting { "Niet gescoord." }
            } @else if !dist {
                p.onderdrukt { "Minder dan " (figures::MIN_GROUP) " deelnemers: geen cijfers." }
            } @else {
                p.aantal { "Intake en nu: " (format::count(f.participants as i64, "deelnemer", "deelnemers")) }
                (chart::distribution(instrument, &[("Intake", &f.intake), ("Nu", &f.now)]))
                details.cijfers {
                    summary { "Cijfers" }
                    table {
                        thead { tr { th { "Niveau" } th.getal { "Intake" } th.getal { "Nu" } } }
                        tbody {
                            @for v in instrument.min..=instrument.max {
                                @let (a, b) = (f.intake.get(&v).copied().unwrap_or(0), f.now.get(&v).copied().unwrap_or(0));
                                @if a > 0 || b > 0 {
                                    tr { td { (instrument.score_label(v)) } td.getal { (a) } td.getal { (b) } }
                                }
                            }
                        }
                    }
                }
                @if f.compared == 0 {
                    p.toelichting { "Nog niemand twee keer gemeten." }
                } @else if !change {
                    p.onderdrukt { "Verloop: minder dan " (figures::MIN_GROUP) " deelnemers twee keer gemeten, geen cijfers." }
                } @else {
                    p.aantal {
                        "Verloop van " (format::count(f.compared as i64, "deelnemer", "deelnemers")) ": "
                        span.vooruit { (f.improved) " vooruit" } ", "
                        span.gelijk { (f.same) " gelijk" } ", "
                        span.achteruit { (f.worse) " achteruit" }
                    }
                    (chart::changes(f.improved, f.same, f.worse))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, group: Option<&str>) -> Member {
        Member {
            id: id.into(),
            group_name: group.map(str::to_string),
        }
    }

    fn fin(p: &str, id: &str, kind: &str) -> Financing {
        Financing {
            participant_id: p.into(),
            financier_id: id.into(),
            kind: kind.into(),
            code: "0363".into(),
            name: String::new(),
        }
    }

    #[test]
    fn breakdowns_count_twice_financed_people_in_both_and_keep_a_remainder() {
        let members = [
            member("a", Some("Kas")),
            member("b", Some("Hout")),
            member("c", None),
        ];
        let financing = [
            fin("a", "f1", "wmo"),
            fin("a", "f2", "uwv"),
            fin("b", "f1", "wmo"),
        ];
        let labels = |b| {
            parts(b, &members, &financing)
                .into_iter()
                .map(|p| (p.label, p.members))
                .collect::<Vec<_>>()
        };
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            labels(Breakdown::Group),
            [
                ("Hout".to_string(), s(&["b"])),
                ("Kas".to_string(), s(&["a"])),
                ("Zonder groep".to_string(), s(&["c"]))
            ]
        );
        assert_eq!(
            labels(Breakdown::Model),
            [
                ("Wmo".to_string(), s(&["a", "b"])),
                ("UWV".to_string(), s(&["a"])),
                ("Zonder financiering".to_string(), s(&["c"]))
            ]
        );
        assert_eq!(
            labels(Breakdown::Financier),
            [
                ("UWV 0363".to_string(), s(&["a"])),
                ("Wmo 0363".to_string(), s(&["a", "b"])),
                ("Zonder financier".to_string(), s(&["c"]))
            ]
        );
    }
}
