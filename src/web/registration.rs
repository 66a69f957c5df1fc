//! Dagregistratie: for a group and a date, the participants expected that
//! day (an allocation in force), each with one choice per click or key
//! press; and a week view to correct earlier days.
//!
//! Both pages store through [`crate::registration::register`], the function
//! behind `POST /registrations` and the CSV import: the same checks, and a
//! changed day becomes a correction that keeps the earlier version with who
//! and when.

use std::collections::{BTreeSet, HashMap};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, Duration, NaiveDate};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{Post, WebUser, csrf_form};
use super::{WebError, csrf_field, financier_kind_nl, format, name_of, page};
use crate::record::access::Kind;
use crate::registration::{
    self, Item, ItemOutcome, Mode, Reason, RegistrationInput, Stored, today,
};
use crate::server::AppState;
use crate::server::access::Peer;

/// What one click or key press registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    /// Present the whole day: two dagdelen.
    Present,
    /// One dagdeel (half a day).
    HalfDay,
    Absent(Reason),
}

impl Choice {
    const ALL: [(Choice, &'static str, &'static str, char); 6] = [
        (Choice::Present, "aanwezig", "Aanwezig", 'a'),
        (Choice::HalfDay, "dagdeel", "Dagdeel", 'd'),
        (Choice::Absent(Reason::Sick), "ziek", "Ziek", 'z'),
        (Choice::Absent(Reason::Holiday), "vakantie", "Vakantie", 'v'),
        (
            Choice::Absent(Reason::NoShow),
            "no_show",
            "Niet verschenen",
            'n',
        ),
        (
            Choice::Absent(Reason::Other),
            "anders",
            "Anders afwezig",
            'x',
        ),
    ];

    fn parse(s: &str) -> Option<Choice> {
        Choice::ALL.iter().find(|c| c.1 == s).map(|c| c.0)
    }

    fn value(self) -> &'static str {
        Choice::ALL
            .iter()
            .find(|c| c.0 == self)
            .map_or("aanwezig", |c| c.1)
    }

    /// The choice a stored registration shows as.
    fn of(s: &Stored) -> Choice {
        if !s.present {
            return Choice::Absent(
                s.reason
                    .as_deref()
                    .and_then(Reason::parse)
                    .unwrap_or(Reason::Other),
            );
        }
        match s.dagdelen {
            Some(1) => Choice::HalfDay,
            _ => Choice::Present,
        }
    }

    /// The registration this choice (with optional hours and activity) makes.
    fn input(
        self,
        participant: &str,
        date: NaiveDate,
        hours: Option<f64>,
        activity: Option<String>,
        allocation: Option<String>,
    ) -> RegistrationInput {
        let mut r = RegistrationInput {
            participant_id: Some(participant.to_string()),
            date: date.to_string(),
            present: !matches!(self, Choice::Absent(_)),
            allocation,
            ..RegistrationInput::default()
        };
        match self {
            Choice::Absent(reason) => r.reason = Some(reason.as_str().to_string()),
            _ if hours.is_some() => {
                r.hours = hours;
                r.activity = activity;
            }
            Choice::Present => {
                r.dagdelen = Some(2);
                r.activity = activity;
            }
            Choice::HalfDay => {
                r.dagdelen = Some(1);
                r.activity = activity;
            }
        }
        r
    }
}

/// An allocation in force somewhere in the period shown, with the dates it
/// runs: a day outside them is not expected.
struct Alloc {
    id: String,
    label: String,
    /// The financier and product only ("Wmo 07A11"), for a crowded cell.
    short: String,
    from: NaiveDate,
    to: Option<NaiveDate>,
}

impl Alloc {
    fn in_force(&self, day: NaiveDate) -> bool {
        self.from <= day && self.to.is_none_or(|t| day <= t)
    }
}

/// A participant expected on a day, with what is registered already.
struct Expected {
    id: String,
    name: String,
    allocations: Vec<Alloc>,
    /// The current registrations of the day shown: one per allocation (and
    /// one not tied to any), so a day can hold several.
    current: Vec<Stored>,
}

impl Expected {
    /// The registration the day form shows and saves: the one not tied to
    /// an allocation, else the first.
    fn main(&self) -> Option<&Stored> {
        self.current
            .iter()
            .find(|s| s.allocation_id.is_none())
            .or_else(|| self.current.first())
    }
}

/// Participants of `group` (all when `None`) with an allocation in force
/// somewhere in `from..=to`, by name.
async fn expected(
    state: &AppState,
    tenant: &str,
    group: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Expected>, WebError> {
    let rows = registration::expected(state.store(), tenant, group, from, to).await?;
    let mut out: Vec<Expected> = Vec::new();
    for r in rows {
        let short = format!(
            "{} {}",
            financier_kind_nl(&r.kind),
            r.product_code.as_deref().unwrap_or_default(),
        );
        let label = format!("{short} ({})", r.toewijzing_nummer);
        let day = |d: Option<&str>| d.and_then(|d| d.get(..10)?.parse::<NaiveDate>().ok());
        let alloc = Alloc {
            id: r.allocation_id,
            label,
            short,
            from: day(Some(&r.ingangsdatum)).unwrap_or(from),
            to: day(r.einddatum.as_deref()),
        };
        match out.last_mut() {
            Some(e) if e.id == r.participant_id => e.allocations.push(alloc),
            _ => {
                let naam = serde_json::from_str(&r.name_json).unwrap_or_default();
                out.push(Expected {
                    id: r.participant_id,
                    name: name_of(&naam),
                    allocations: vec![alloc],
                    current: Vec::new(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    Ok(out)
}

/// The current registrations of `from..=to`, by participant and day: every
/// one of them, since a day holds one per allocation.
async fn current(
    state: &AppState,
    tenant: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<HashMap<(String, String), Vec<Stored>>, WebError> {
    let list = registration::list(
        state.store(),
        tenant,
        &registration::Filter {
            participant_id: None,
            from: Some(from),
            to: Some(to),
            history: false,
            limit: 100_000,
            offset: 0,
        },
    )
    .await?;
    let mut out: HashMap<(String, String), Vec<Stored>> = HashMap::new();
    for s in list {
        out.entry((s.participant_id.clone(), s.date.clone()))
            .or_default()
            .push(s);
    }
    Ok(out)
}

/// Hours as the forms show them: "5,5" (the minutes of a registration
/// given in time, not in dagdelen).
fn hours_of(s: &Stored) -> Option<String> {
    if s.dagdelen.is_some() {
        return None;
    }
    s.minutes.map(|m| format::number(m as f64 / 60.0, 2))
}

/// Hours typed in a form: a decimal comma or point; empty is none.
fn parse_hours(s: Option<&str>) -> Result<Option<f64>, String> {
    match s.map(str::trim).filter(|h| !h.is_empty()) {
        None => Ok(None),
        Some(h) => format::parse_number(h)
            .map(Some)
            .ok_or_else(|| format!("uren {h:?} is geen getal (bijvoorbeeld 5,5)")),
    }
}

/// The warnings after saving a day: rows left open (who), and saved days a
/// declaration run will not (fully) declare, with the run's own reason
/// ([`crate::engine::check::uncounted`]).
async fn warnings(
    state: &AppState,
    tenant: &str,
    date: NaiveDate,
    people: &[Expected],
    open_rows: bool,
) -> Result<Markup, WebError> {
    let open: Vec<&str> = if open_rows {
        people
            .iter()
            .filter(|p| p.current.is_empty())
            .map(|p| p.name.as_str())
            .collect()
    } else {
        Vec::new()
    };
    let present: Vec<String> = people
        .iter()
        .filter(|p| p.current.iter().any(|s| s.present))
        .map(|p| p.id.clone())
        .collect();
    let uncounted = if present.is_empty() {
        Vec::new()
    } else {
        crate::engine::check::uncounted(
            state.store(),
            state.mappings.for_tenant(tenant),
            tenant,
            date,
            date,
            &present,
        )
        .await?
    };
    let names: HashMap<&str, &str> = people
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    Ok(html! {
        @if !open.is_empty() || !uncounted.is_empty() {
            div.melding.waarschuwing.controle role="status" {
                p { strong { "Let op, dit wordt niet (helemaal) gedeclareerd:" } }
                ul {
                    @if !open.is_empty() {
                        li.open {
                            (format::count(open.len() as i64, "regel", "regels")) " open, zonder registratie: "
                            (open.join(", "))
                        }
                    }
                    @for u in &uncounted {
                        li.telt-niet {
                            (names.get(u.participant_id.as_str()).copied().unwrap_or("(deelnemer)"))
                            ", " (format::date(u.day))
                            @if !u.activity.is_empty() { " (" (u.activity) ")" }
                            @if u.minutes > 0 { ", " (format::count(i64::from(u.minutes), "minuut", "minuten")) }
                            ": " (u.reason.nl()) "."
                        }
                    }
                }
            }
        }
    })
}

/// Each participant's latest registered activity in the two months before
/// `date`: a day registered without an activity counts for no product.
async fn usual_activities(
    state: &AppState,
    tenant: &str,
    date: NaiveDate,
) -> Result<HashMap<String, String>, WebError> {
    let from = date - Duration::days(62);
    Ok(registration::usual_activities(state.store(), tenant, from, date).await?)
}

/// Every activity the tenant's contracts name, for the activity list.
fn activities(state: &AppState, tenant: &str) -> Vec<String> {
    let set: BTreeSet<String> = state
        .mappings
        .for_tenant(tenant)
        .iter()
        .flat_map(|m| m.products.iter())
        .flat_map(|p| p.activities.iter())
        .filter(|a| *a != "*")
        .cloned()
        .collect();
    set.into_iter().collect()
}

#[derive(Deserialize, Default)]
pub struct DayQuery {
    #[serde(default)]
    groep: Option<String>,
    #[serde(default)]
    datum: Option<String>,
    #[serde(default)]
    opgeslagen: Option<usize>,
}

fn parse_day(s: Option<&str>) -> Result<NaiveDate, WebError> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(today()),
        // Years of care, not the calendar's ends: a week or a window
        // around a far date would step past chrono's last day.
        Some(s) => s
            .parse::<NaiveDate>()
            .ok()
            .filter(|d| (1900..=2999).contains(&d.year()))
            .ok_or_else(|| WebError::BadRequest(format!("{s:?} is geen datum (JJJJ-MM-DD)"))),
    }
}

fn group_param(g: Option<&str>) -> Option<String> {
    g.map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string)
}

/// `GET /registratie?groep=&datum=`; after saving (`opgeslagen`) with the
/// warnings about open rows and days that will not count.
pub async fn day(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    Query(q): Query<DayQuery>,
) -> Result<Response, WebError> {
    let date = parse_day(q.datum.as_deref())?;
    let group = group_param(q.groep.as_deref());
    let (body, shown) = day_form(
        &state,
        &user,
        group.as_deref(),
        date,
        &HashMap::new(),
        &[],
        q.opgeslagen,
    )
    .await?;
    let (due, due_shown) = super::evaluations::due_compact(&state, &user).await?;
    let object = "GET /registratie";
    super::access::log(&state, &user, &peer, Kind::View, object, &shown).await?;
    super::access::log(&state, &user, &peer, Kind::View, object, &due_shown).await?;
    Ok(page("Dagregistratie", Some(&user), html! { (due) (body) }))
}

/// The day form; `submitted` and `errors` when a save failed, so nothing
/// typed is lost. With it the ids of the participants it shows, whose
/// views the caller logs.
async fn day_form(
    state: &AppState,
    user: &WebUser,
    group: Option<&str>,
    date: NaiveDate,
    submitted: &HashMap<String, String>,
    errors: &[(String, String)],
    saved: Option<usize>,
) -> Result<(Markup, Vec<String>), WebError> {
    let tenant = &user.tenant.id;
    let groups = crate::record::read::groups(state.store().pool(), &user.tenant).await?;
    let mut people = expected(state, tenant, group, date, date).await?;
    let mut regs = current(state, tenant, date, date).await?;
    for p in &mut people {
        p.current = regs
            .remove(&(p.id.clone(), date.to_string()))
            .unwrap_or_default();
    }
    let activities = activities(state, tenant);
    let usual = usual_activities(state, tenant, date).await?;
    let errors: HashMap<&str, &str> = errors
        .iter()
        .map(|(p, e)| (p.as_str(), e.as_str()))
        .collect();
    let field = |prefix: &str, id: &str| submitted.get(&format!("{prefix}.{id}")).cloned();
    let shown = people.iter().map(|p| p.id.clone()).collect();
    let checks = match saved {
        Some(_) => warnings(state, tenant, date, &people, true).await?,
        None => html! {},
    };
    let body = html! {
        h1 { "Dagregistratie" }
        form.filters method="get" action="/registratie" {
            label { "Groep"
                select name="groep" {
                    option value="" { "Alle groepen" }
                    @for g in &groups {
                        option value=(g) selected[group == Some(g.as_str())] { (g) }
                    }
                }
            }
            label { "Datum" input type="date" name="datum" value=(date) max=(today()); }
            button.secundair type="submit" { "Tonen" }
            a href={ "/registratie/week?groep=" (urlencode(group.unwrap_or(""))) "&week=" (date) } { "Weekoverzicht" }
        }
        @if let Some(n) = saved { p.melding.ok role="status" { (format::count(n as i64, "registratie", "registraties")) " opgeslagen." } }
        (checks)
        @if !errors.is_empty() {
            p.melding.fout role="alert" { "Er is niets opgeslagen: " (format::count(errors.len() as i64, "regel is", "regels zijn")) " niet goed. Zie de meldingen hieronder." }
        }
        @if people.is_empty() {
            p { "Geen deelnemers met een geldige toewijzing op " (format::date(date)) " in deze groep." }
        } @else {
            p.hulp { (format::count(people.len() as i64, "deelnemer", "deelnemers")) ". Toetsen per regel: a aanwezig, d dagdeel, z ziek, v vakantie, n niet verschenen, x anders. Uren en activiteit zijn niet verplicht." }
            form method="post" action="/registratie" {
                (csrf_field(user))
                input type="hidden" name="datum" value=(date);
                input type="hidden" name="groep" value=(group.unwrap_or(""));
                table.dag {
                    thead { tr { th { "Deelnemer" } th { "Aanwezigheid" } th { "Uren" } th { "Activiteit" } } }
                    tbody {
                        @for p in &people {
                            @let main = p.main();
                            @let chosen = field("s", &p.id).or_else(|| main.map(|c| Choice::of(c).value().to_string()));
                            @let hours = field("u", &p.id).or_else(|| main.and_then(hours_of));
                            @let activity = field("a", &p.id)
                                .or_else(|| main.and_then(|c| c.activity.clone()))
                                .or_else(|| usual.get(&p.id).cloned());
                            @let alloc = field("t", &p.id).or_else(|| main.and_then(|c| c.allocation_id.clone()));
                            tr.deelnemer #{ "deelnemer-" (p.id) } data-deelnemer=(p.id) {
                                th.naam scope="row" {
                                    span.naam-tekst title=(p.name) { (p.name) }
                                    @if p.allocations.len() > 1 {
                                        select.toewijzing name={ "t." (p.id) } aria-label={ "Toewijzing van " (p.name) } {
                                            option value="" { "volgens voorrangsregels" }
                                            @for a in &p.allocations { option value=(a.id) selected[alloc.as_deref() == Some(a.id.as_str())] { (a.label) } }
                                        }
                                    } @else {
                                        @for a in &p.allocations { span.toewijzing title=(a.label) { (a.label) } }
                                        // The day's registration stays on the allocation it was made for.
                                        @if let Some(a) = alloc.as_deref() { input type="hidden" name={ "t." (p.id) } value=(a); }
                                    }
                                    @if let Some(e) = errors.get(p.id.as_str()) { span.waarschuwing role="alert" { (e) } }
                                }
                                td.keuze {
                                    fieldset.keuzes {
                                        legend.verborgen { "Aanwezigheid van " (p.name) }
                                        @for (_, value, label, key) in Choice::ALL {
                                            label title={ (label) " (toets " (key) ")" } {
                                                input type="radio" name={ "s." (p.id) } value=(value) checked[chosen.as_deref() == Some(value)];
                                                span { (label) }
                                            }
                                        }
                                    }
                                }
                                td.uren { input type="text" inputmode="decimal" name={ "u." (p.id) } size="4" aria-label={ "Uren van " (p.name) } value=(hours.unwrap_or_default()); }
                                td.activiteit {
                                    (activity_select(&format!("a.{}", p.id), &format!("Activiteit van {}", p.name), &activities, activity.as_deref()))
                                    @let note = field("n", &p.id).or_else(|| main.and_then(|c| c.day_note.clone())).unwrap_or_default();
                                    // Closed, also with a note (the row stays one line high); the
                                    // summary says there is one.
                                    details.notitie {
                                        summary title=(note) { @if note.is_empty() { "notitie" } @else { "notitie ✓" } }
                                        // A text area, not a text field: the row's touch targets are the
                                        // choices, the hours and the activity; the note is opened on purpose.
                                        textarea name={ "n." (p.id) } rows="2" maxlength=(registration::MAX_DAY_NOTE) aria-label={ "Dagnotitie van " (p.name) } { (note) }
                                    }
                                }
                            }
                        }
                    }
                }
                p.navigatie {
                    button.secundair type="button" id="alle-aanwezig" { "Alle open regels: aanwezig" }
                    button type="submit" { "Registratie opslaan" }
                }
            }
        }
    };
    Ok((body, shown))
}

/// The activity list of a form, with the registration's own activity
/// selected even when no contract names it (or names it in another case):
/// a form that dropped it would save the day without its activity.
fn activity_select(name: &str, aria: &str, activities: &[String], chosen: Option<&str>) -> Markup {
    let chosen = chosen.map(str::trim).filter(|a| !a.is_empty());
    let listed = chosen.and_then(|c| activities.iter().find(|a| a.eq_ignore_ascii_case(c)));
    html! {
        select name=(name) aria-label=(aria) {
            option value="" { "—" }
            @if let (Some(c), None) = (chosen, listed) {
                option value=(c) selected { (c) " (onbekend in de contracten)" }
            }
            @for a in activities { option value=(a) selected[listed == Some(a)] { (a) } }
        }
    }
}

/// `POST /registratie`: the rows with a choice, as one batch; nothing is
/// stored when a row is wrong, and the form comes back as it was typed.
pub async fn save_day(
    State(state): State<AppState>,
    peer: Peer,
    Post(user, form): Post<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let date = parse_day(form.get("datum").map(String::as_str))?;
    let group = group_param(form.get("groep").map(String::as_str));
    let mut items = Vec::new();
    let mut bad = Vec::new();
    for (key, value) in &form {
        let Some(pid) = key.strip_prefix("s.") else {
            continue;
        };
        let Some(choice) = Choice::parse(value) else {
            bad.push((pid.to_string(), format!("onbekende keuze {value:?}")));
            continue;
        };
        let hours = match parse_hours(form.get(&format!("u.{pid}")).map(String::as_str)) {
            Ok(h) => h,
            Err(e) => {
                bad.push((pid.to_string(), e));
                continue;
            }
        };
        let nonempty = |k: String| {
            form.get(&k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let input = choice.input(
            pid,
            date,
            hours,
            nonempty(format!("a.{pid}")),
            nonempty(format!("t.{pid}")),
        );
        let mut input = input;
        // Sent with every row (as shown): empty removes the day's note.
        input.day_note = form.get(&format!("n.{pid}")).cloned();
        items.push((pid.to_string(), input));
    }
    if bad.is_empty() && !items.is_empty() {
        let outcome = store_items(&state, &user, &peer, items, "registratie", None).await?;
        match outcome {
            Ok(n) => {
                let to = format!(
                    "/registratie?groep={}&datum={date}&opgeslagen={n}",
                    urlencode(group.as_deref().unwrap_or(""))
                );
                return Ok(Redirect::to(&to).into_response());
            }
            Err(errors) => bad = errors,
        }
    } else if items.is_empty() && bad.is_empty() {
        bad.push((String::new(), "er is niets gekozen".to_string()));
    }
    let (body, shown) = day_form(&state, &user, group.as_deref(), date, &form, &bad, None).await?;
    let object = "POST /registratie";
    super::access::log(&state, &user, &peer, Kind::View, object, &shown).await?;
    Ok((
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        page("Dagregistratie", Some(&user), body),
    )
        .into_response())
}

/// Stores registrations through the shared path; `Ok(stored)` or the Dutch
/// error per participant id. Registered by the user's name, and each
/// correction is in the audit trail with `reason`, in the same transaction.
async fn store_items(
    state: &AppState,
    user: &WebUser,
    peer: &Peer,
    items: Vec<(String, RegistrationInput)>,
    source: &str,
    reason: Option<&str>,
) -> Result<Result<usize, Vec<(String, String)>>, WebError> {
    let ids: Vec<String> = items.iter().map(|(p, _)| p.clone()).collect();
    let items: Vec<Item> = items
        .into_iter()
        .enumerate()
        .map(|(i, (_, input))| Item {
            input: Ok(input),
            source: format!("web:{source}"),
            label: format!("regel {}", i + 1),
        })
        .collect();
    let by = format!("{} ({})", user.display_name, user.username);
    let outcome = registration::register(
        state.store(),
        &user.tenant.id,
        items,
        &by,
        Mode::AllOrNothing,
        today(),
        Some(registration::Audit {
            actor: &user.username,
            reason,
        }),
        Some(&super::access::actor(user, peer)),
    )
    .await?;
    if outcome.has_errors() {
        return Ok(Err(outcome
            .results
            .iter()
            .zip(&ids)
            .filter_map(|(r, pid)| match &r.outcome {
                ItemOutcome::Failed(errs) => Some((
                    pid.clone(),
                    errs.iter()
                        .map(|e| e.nl.clone())
                        .collect::<Vec<_>>()
                        .join("; "),
                )),
                _ => None,
            })
            .collect()));
    }
    let c = outcome.counts();
    Ok(Ok(c.created + c.corrected + c.unchanged))
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Deserialize, Default)]
pub struct WeekQuery {
    #[serde(default)]
    groep: Option<String>,
    #[serde(default)]
    week: Option<String>,
    /// The participant marked (and scrolled to); with `dag` the cell being
    /// corrected.
    #[serde(default)]
    deelnemer: Option<String>,
    #[serde(default)]
    dag: Option<String>,
    /// With `dag`: the registration of this allocation (empty: the one
    /// not tied to an allocation); a new one when the day has none for it.
    #[serde(default)]
    toewijzing: Option<String>,
    #[serde(default)]
    opgeslagen: Option<String>,
    /// The day just corrected, whose warnings are shown.
    #[serde(default)]
    gecorrigeerd: Option<String>,
}

fn short(s: &Stored) -> String {
    if !s.present {
        let r = s.reason.as_deref().and_then(Reason::parse);
        return match r {
            Some(Reason::Sick) => "ziek",
            Some(Reason::Holiday) => "vakantie",
            Some(Reason::NoShow) => "niet verschenen",
            _ => "afwezig",
        }
        .to_string();
    }
    let time = match (s.dagdelen, s.minutes) {
        (Some(d), _) => format!("{d} dd"),
        (None, Some(m)) => format!("{}:{:02} u", m / 60, m % 60),
        _ => "aanwezig".to_string(),
    };
    match &s.activity {
        Some(a) => format!("{time} · {a}"),
        None => time,
    }
}

/// Whether a day is one a participant is expected to be registered on:
/// a working day up to today with an allocation in force. Weekends are
/// left out: day care and jobcoaching are not given then, and a week of
/// seven marked days would hide the two that matter.
fn expected_on(p: &Expected, day: NaiveDate) -> bool {
    day <= today()
        && day.weekday().num_days_from_monday() < 5
        && p.allocations.iter().any(|a| a.in_force(day))
}

/// `GET /registratie/week?groep=&week=&deelnemer=&dag=&toewijzing=`: Monday
/// to Sunday of the week of `week`, every registration of a day with its
/// own link to correct it, the days without any marked, the participant
/// `deelnemer` marked, and the corrections made.
pub async fn week(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    Query(q): Query<WeekQuery>,
) -> Result<Response, WebError> {
    let any_day = parse_day(q.week.as_deref())?;
    let monday = any_day - Duration::days(i64::from(any_day.weekday().num_days_from_monday()));
    let sunday = monday + Duration::days(6);
    let group = group_param(q.groep.as_deref());
    let tenant = &user.tenant.id;
    let groups = crate::record::read::groups(state.store().pool(), &user.tenant).await?;
    let people = expected(&state, tenant, group.as_deref(), monday, sunday).await?;
    let shown: Vec<String> = people.iter().map(|p| p.id.clone()).collect();
    let object = "GET /registratie/week";
    super::access::log(&state, &user, &peer, Kind::View, object, &shown).await?;
    let regs = current(&state, tenant, monday, sunday).await?;
    let days: Vec<NaiveDate> = (0..7).map(|i| monday + Duration::days(i)).collect();
    let marked = q.deelnemer.as_deref().filter(|d| !d.is_empty());
    let editing = match (marked, q.dag.as_deref()) {
        (Some(p), Some(d)) => {
            let d = parse_day(Some(d))?;
            people.iter().find(|e| e.id == p).map(|e| (e, d))
        }
        _ => None,
    };
    // The warnings of a day just corrected: the participant's registrations
    // of that day, checked as a declaration run would.
    let checks = match (q.gecorrigeerd.as_deref(), marked) {
        (Some(d), Some(pid)) => {
            let d = parse_day(Some(d))?;
            let one: Vec<Expected> = people
                .iter()
                .filter(|e| e.id == pid)
                .map(|e| Expected {
                    id: e.id.clone(),
                    name: e.name.clone(),
                    allocations: Vec::new(),
                    current: regs
                        .get(&(e.id.clone(), d.to_string()))
                        .cloned()
                        .unwrap_or_default(),
                })
                .collect();
            warnings(&state, tenant, d, &one, false).await?
        }
        _ => html! {},
    };
    let corrections = corrections(&state, tenant, monday, sunday).await?;
    let names: HashMap<&str, &str> = people
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    let activities = activities(&state, tenant);
    let g = urlencode(group.as_deref().unwrap_or(""));
    let link = |pid: &str, d: NaiveDate, alloc: Option<&str>| {
        let mut l = format!(
            "/registratie/week?groep={g}&week={monday}&deelnemer={}&dag={d}",
            urlencode(pid)
        );
        if let Some(a) = alloc {
            l.push_str(&format!("&toewijzing={}", urlencode(a)));
        }
        l.push_str("#corrigeren");
        l
    };
    let body = html! {
        h1 { "Weekoverzicht " (format::period(monday, sunday)) }
        form.filters method="get" action="/registratie/week" {
            label { "Groep"
                select name="groep" {
                    option value="" { "Alle groepen" }
                    @for gr in &groups { option value=(gr) selected[group.as_deref() == Some(gr.as_str())] { (gr) } }
                }
            }
            label { "Week van" input type="date" name="week" value=(monday); }
            button.secundair type="submit" { "Tonen" }
            a href={ "/registratie/week?groep=" (g) "&week=" (monday - Duration::days(7)) } { "← vorige week" }
            a href={ "/registratie/week?groep=" (g) "&week=" (monday + Duration::days(7)) } { "volgende week →" }
        }
        @if q.opgeslagen.is_some() { p.melding.ok role="status" { "Correctie opgeslagen." } }
        (checks)
        @if let Some((p, d)) = editing {
            (correction_form(&user, p, d, q.toewijzing.as_deref(), regs.get(&(p.id.clone(), d.to_string())).map(Vec::as_slice).unwrap_or(&[]), &activities, group.as_deref(), &link))
        }
        table.week {
            thead { tr { th { "Deelnemer" } @for d in &days { th { (weekday_nl(*d)) " " (format::date(*d)) } } } }
            tbody {
                @for p in &people {
                    @let missing = days.iter().filter(|d| expected_on(p, **d) && !regs.contains_key(&(p.id.clone(), d.to_string()))).count();
                    tr.gemarkeerd[marked == Some(p.id.as_str())] #{ "deelnemer-" (p.id) } {
                        th scope="row" {
                            (p.name)
                            @if missing > 0 {
                                br;
                                span.ontbreekt { (format::count(missing as i64, "dag", "dagen")) " zonder registratie" }
                            }
                        }
                        @for d in &days {
                            @let cell = regs.get(&(p.id.clone(), d.to_string()));
                            @if *d > today() {
                                td {}
                            } @else if let Some(list) = cell {
                                td {
                                    @for s in list {
                                        @let alloc = s.allocation_id.as_deref().and_then(|id| p.allocations.iter().find(|a| a.id == id));
                                        a.registratie href=(link(&p.id, *d, Some(s.allocation_id.as_deref().unwrap_or("")))) title=[alloc.map(|a| a.label.as_str()).or(s.toewijzing_nummer.as_deref())] {
                                            (short(s))
                                            @match (alloc, &s.toewijzing_nummer) {
                                                (Some(a), _) => { " (" (a.short) ")" }
                                                (None, Some(n)) => { " (" (n) ")" }
                                                (None, None) => {}
                                            }
                                        }
                                    }
                                }
                            } @else if expected_on(p, *d) {
                                td.ontbreekt {
                                    a href=(link(&p.id, *d, None)) { "geen registratie" }
                                }
                            } @else {
                                td { a href=(link(&p.id, *d, None)) { "—" } }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Correcties in deze week" }
        @if corrections.is_empty() { p { "Geen correcties." } } @else {
            table.correcties {
                thead { tr { th { "Deelnemer" } th { "Dag" } th { "Was" } th { "Werd" } th { "Door" } th { "Wanneer" } th { "Reden" } } }
                tbody {
                    @for c in &corrections {
                        tr {
                            td { (names.get(c.0.participant_id.as_str()).copied().unwrap_or("(andere groep)")) }
                            td { (format::date_str(&c.0.date)) }
                            td { (short(&c.0)) }
                            td { (short(&c.1)) }
                            td { (c.1.registered_by) }
                            td { (format::time_str(&c.1.registered_at)) }
                            td { (c.2.as_deref().unwrap_or("—")) }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Weekoverzicht", Some(&user), body))
}

/// The form correcting one registration of a day, or adding one for an
/// allocation the day has none for. It starts from the registration as it
/// is (choice, hours, activity, allocation), so saving without a change
/// changes nothing.
#[allow(clippy::too_many_arguments)]
fn correction_form(
    user: &WebUser,
    p: &Expected,
    d: NaiveDate,
    toewijzing: Option<&str>,
    day: &[Stored],
    activities: &[String],
    group: Option<&str>,
    link: &dyn Fn(&str, NaiveDate, Option<&str>) -> String,
) -> Markup {
    // Which registration: the allocation asked for ("" is none), else the
    // day's main one.
    let wanted: Option<Option<&str>> = toewijzing.map(|t| Some(t).filter(|t| !t.is_empty()));
    let cur = match wanted {
        Some(w) => day.iter().find(|s| s.allocation_id.as_deref() == w),
        None => day
            .iter()
            .find(|s| s.allocation_id.is_none())
            .or_else(|| day.first()),
    };
    let allocation: Option<&str> = match (cur, wanted) {
        (Some(s), _) => s.allocation_id.as_deref(),
        (None, Some(w)) => w,
        (None, None) => None,
    };
    let label = |id: Option<&str>| match id {
        None => "niet aan één toewijzing gebonden (volgens voorrangsregels)".to_string(),
        Some(id) => p
            .allocations
            .iter()
            .find(|a| a.id == id)
            .map_or_else(|| id.to_string(), |a| a.label.clone()),
    };
    // Allocations in force that day without a registration of their own.
    let others: Vec<&Alloc> = p
        .allocations
        .iter()
        .filter(|a| a.in_force(d) && Some(a.id.as_str()) != allocation)
        .filter(|a| {
            !day.iter()
                .any(|s| s.allocation_id.as_deref() == Some(a.id.as_str()))
        })
        .collect();
    html! {
        section aria-labelledby="corrigeren" {
            h2 #corrigeren {
                @if cur.is_some() { "Corrigeren: " } @else { "Toevoegen: " }
                (p.name) ", " (format::date(d))
            }
            form.regel method="post" action="/registratie/week/correctie" {
                (csrf_field(user))
                input type="hidden" name="deelnemer" value=(p.id);
                input type="hidden" name="dag" value=(d);
                input type="hidden" name="groep" value=(group.unwrap_or(""));
                input type="hidden" name="toewijzing" value=(allocation.unwrap_or(""));
                p.toewijzing { "Toewijzing: " (label(allocation)) }
                fieldset.keuzes {
                    legend { "Aanwezigheid" }
                    @for (c, value, text, _) in Choice::ALL {
                        label { input type="radio" name="keuze" value=(value) required checked[cur.is_some_and(|s| Choice::of(s) == c)]; (text) }
                    }
                }
                label { "Uren" input type="text" inputmode="decimal" name="uren" size="5" value=(cur.and_then(hours_of).unwrap_or_default()); }
                label { "Activiteit"
                    (activity_select("activiteit", "Activiteit", activities, cur.and_then(|c| c.activity.as_deref())))
                }
                label { "Dagnotitie" input name="notitie" maxlength=(registration::MAX_DAY_NOTE) value=(cur.and_then(|c| c.day_note.as_deref()).unwrap_or("")); }
                label { "Reden van de correctie" input name="reden" required maxlength="200"; }
                button type="submit" { @if cur.is_some() { "Correctie opslaan" } @else { "Registratie toevoegen" } }
            }
            @if !others.is_empty() {
                p.andere {
                    "Ook een registratie voor een andere toewijzing op deze dag: "
                    @for a in &others {
                        a href=(link(&p.id, d, Some(&a.id))) { (a.label) } " "
                    }
                }
            }
        }
    }
}

fn weekday_nl(d: NaiveDate) -> &'static str {
    ["ma", "di", "wo", "do", "vr", "za", "zo"][d.weekday().num_days_from_monday() as usize]
}

/// The corrections of a week: (replaced version, its replacement, the
/// reason given for it in the audit trail).
async fn corrections(
    state: &AppState,
    tenant: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(Stored, Stored, Option<String>)>, WebError> {
    let list = registration::list(
        state.store(),
        tenant,
        &registration::Filter {
            participant_id: None,
            from: Some(from),
            to: Some(to),
            history: true,
            limit: 100_000,
            offset: 0,
        },
    )
    .await?;
    let mut out = Vec::new();
    for mut s in list {
        let history = s.history.take().unwrap_or_default();
        // history is newest first; each version was replaced by the one after it.
        let mut newer = s;
        for old in history {
            out.push((old.clone(), newer.clone()));
            newer = old;
        }
    }
    out.sort_by(|a, b| b.1.registered_at.cmp(&a.1.registered_at));
    let ids: Vec<&str> = out.iter().map(|c| c.1.id.as_str()).collect();
    let reasons = registration::correction_reasons(state.store(), tenant, &ids).await?;
    Ok(out
        .into_iter()
        .map(|(old, new)| {
            let reason = reasons.get(&new.id).cloned().flatten();
            (old, new, reason)
        })
        .collect())
}

#[derive(Deserialize)]
pub struct Correction {
    csrf: String,
    deelnemer: String,
    dag: String,
    groep: String,
    keuze: String,
    #[serde(default)]
    uren: String,
    #[serde(default)]
    activiteit: String,
    /// The registration's allocation ("" none); absent: the day's main
    /// registration's.
    #[serde(default)]
    toewijzing: Option<String>,
    /// The day note; absent keeps the registration's own.
    #[serde(default)]
    notitie: Option<String>,
    reden: String,
}
csrf_form!(Correction);

/// Keeps what the correction did not change: with the same choice and the
/// hours as shown (or none typed), the registration's own time (from/to,
/// minutes or dagdelen) stays as it was, instead of becoming two dagdelen.
fn keep_time(cur: &Stored, choice: Choice, hours: Option<f64>, input: &mut RegistrationInput) {
    if Choice::of(cur) != choice || !cur.present {
        return;
    }
    let shown = hours_of(cur).and_then(|h| format::parse_number(&h));
    let same_hours = match hours {
        None => true,
        Some(h) => shown.is_some_and(|s| (s - h).abs() < 1e-9),
    };
    if !same_hours {
        return;
    }
    input.dagdelen = cur.dagdelen;
    input.hours = None;
    input.from = None;
    input.to = None;
    match (&cur.from, &cur.to, cur.minutes) {
        (Some(f), Some(t), _) => {
            input.from = Some(f.clone());
            input.to = Some(t.clone());
        }
        (_, _, Some(m)) if cur.dagdelen.is_none() => input.hours = Some(m as f64 / 60.0),
        _ => {}
    }
}

/// `POST /registratie/week/correctie`: one registration of one
/// participant's day (by its allocation), corrected or added.
pub async fn correct(
    State(state): State<AppState>,
    peer: Peer,
    Post(user, f): Post<Correction>,
) -> Result<Response, WebError> {
    let date = parse_day(Some(&f.dag))?;
    let choice = Choice::parse(&f.keuze).ok_or_else(|| {
        WebError::BadRequest("kies aanwezig, dagdeel of een reden van afwezigheid".into())
    })?;
    let reason = f.reden.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(WebError::BadRequest(
            "geef een reden voor de correctie (hoogstens 200 tekens)".into(),
        ));
    }
    let hours = parse_hours(Some(&f.uren)).map_err(WebError::BadRequest)?;
    // Only a participant of this tenant: an id of another tenant is unknown here.
    if !registration::participant_known(state.store(), &user.tenant.id, &f.deelnemer).await? {
        return Err(WebError::NotFound);
    }
    let activity = Some(f.activiteit.trim().to_string()).filter(|a| !a.is_empty());
    let day = current(&state, &user.tenant.id, date, date)
        .await?
        .remove(&(f.deelnemer.clone(), date.to_string()))
        .unwrap_or_default();
    // The allocation of the registration corrected: as the form says, or
    // (a form without it) the day's main registration's.
    let allocation = match f.toewijzing.as_deref().map(str::trim) {
        Some("") => None,
        Some(a) => Some(a.to_string()),
        None => day
            .iter()
            .find(|s| s.allocation_id.is_none())
            .or_else(|| day.first())
            .and_then(|s| s.allocation_id.clone()),
    };
    let cur = day.iter().find(|s| s.allocation_id == allocation);
    let mut input = choice.input(&f.deelnemer, date, hours, activity, allocation);
    if let Some(cur) = cur {
        keep_time(cur, choice, hours, &mut input);
    }
    input.day_note = f.notitie.clone();
    match store_items(
        &state,
        &user,
        &peer,
        vec![(f.deelnemer.clone(), input)],
        "correctie",
        Some(reason),
    )
    .await?
    {
        Ok(_) => Ok(Redirect::to(&format!(
            "/registratie/week?groep={}&week={date}&deelnemer={}&gecorrigeerd={date}&opgeslagen=1",
            urlencode(f.groep.trim()),
            urlencode(&f.deelnemer)
        ))
        .into_response()),
        Err(errors) => Err(WebError::BadRequest(
            errors
                .into_iter()
                .map(|(_, e)| e)
                .collect::<Vec<_>>()
                .join("; "),
        )),
    }
}
