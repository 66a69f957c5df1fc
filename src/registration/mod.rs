//! Daily registrations: per participant per day, present (with time, hours or
//! dagdelen) or absent (with a reason), the activity or workplace, and
//! optionally the allocation it counts for.
//!
//! Both inputs, `POST /registrations` (JSON) and `loket import registrations`
//! (CSV, see [`csv`]), turn what they read into [`RegistrationInput`] and hand
//! it to [`register`]: one validation, one way of storing. A batch is stored
//! all or nothing unless [`Mode::ValidOnly`] is asked for.
//!
//! A registration for a (participant, day, allocation-or-none) that already
//! has one is a correction: the new version becomes current and the earlier
//! one is kept, marked `superseded_by` the new one, with who registered each
//! version and when. Sending the same content again changes nothing.
//!
//! Error texts never quote a BSN or a name: items are pointed at by their
//! JSON path or file line.

pub mod csv;

use std::collections::HashMap;

use anyhow::{Context, Result};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Row;

use crate::adapter::istandaard::rules::elfproef;
use crate::store::{Store, new_id, now};

/// One registration as both inputs give it (the JSON item of
/// `schemas/api/registrations.json`; the CSV import fills the same struct).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationInput {
    /// The participant's id in loket.
    #[serde(default)]
    pub participant_id: Option<String>,
    /// Or the participant's BSN (9 digits, elfproef).
    #[serde(default)]
    pub bsn: Option<String>,
    /// The day, YYYY-MM-DD.
    pub date: String,
    pub present: bool,
    /// Absent only: sick | holiday | no_show | other.
    #[serde(default)]
    pub reason: Option<String>,
    /// HH:MM
    #[serde(default)]
    pub from: Option<String>,
    /// HH:MM (24:00 allowed), after `from`.
    #[serde(default)]
    pub to: Option<String>,
    /// Hours (decimal), 0 to 24.
    #[serde(default)]
    pub hours: Option<f64>,
    /// Number of dagdelen, 0 to [`MAX_DAGDELEN`].
    #[serde(default)]
    pub dagdelen: Option<i64>,
    /// Activity or workplace (houtwerkplaats, kas, koffiebranderij, ...).
    #[serde(default)]
    pub activity: Option<String>,
    /// allocations.id or ToewijzingNummer, when the registration counts for one allocation.
    #[serde(default)]
    pub allocation: Option<String>,
    /// Who registered this item, when not the batch's `registered_by`.
    #[serde(default)]
    pub registered_by: Option<String>,
    /// A short note on the day (at most [`MAX_DAY_NOTE`] characters), shown
    /// on the evaluation form of the period so the daily report is written
    /// once. Left out: a correction keeps the note the day had; empty:
    /// the note is removed.
    #[serde(default)]
    pub day_note: Option<String>,
}

/// Longest day note, in characters: a few sentences, not a report.
pub const MAX_DAY_NOTE: usize = 500;

/// The body of `POST /registrations`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchInput {
    pub registered_by: String,
    #[serde(default)]
    pub valid_only: bool,
    pub registrations: Vec<RegistrationInput>,
}

/// A day has at most this many dagdelen (of four hours).
pub const MAX_DAGDELEN: i64 = 6;
/// Longest activity text and registered_by name, in characters.
pub const MAX_TEXT: usize = 200;
/// Registrations before this year are taken for typing errors.
pub const FIRST_YEAR: i32 = 2000;

/// Why an absent participant was absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Sick,
    Holiday,
    NoShow,
    Other,
}

impl Reason {
    pub const ALL: [Reason; 4] = [Reason::Sick, Reason::Holiday, Reason::NoShow, Reason::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Sick => "sick",
            Reason::Holiday => "holiday",
            Reason::NoShow => "no_show",
            Reason::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// How a batch with invalid items is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One invalid item and nothing is stored.
    AllOrNothing,
    /// The valid items are stored, the invalid ones reported.
    ValidOnly,
}

/// What is wrong with one item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemError {
    /// The input field (`date`, `to`, ...), when one field is to blame.
    pub field: Option<&'static str>,
    /// 404 for an unknown participant or allocation, 422 otherwise.
    pub status: u16,
    pub nl: String,
    pub en: String,
}

impl ItemError {
    pub fn invalid(
        field: Option<&'static str>,
        nl: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        ItemError {
            field,
            status: 422,
            nl: nl.into(),
            en: en.into(),
        }
    }

    fn not_found(field: &'static str, nl: impl Into<String>, en: impl Into<String>) -> Self {
        ItemError {
            field: Some(field),
            status: 404,
            nl: nl.into(),
            en: en.into(),
        }
    }
}

/// One item of a batch, as an input read it.
#[derive(Debug, Clone)]
pub struct Item {
    /// The registration, or why the input could not even be read (CSV cells).
    pub input: Result<RegistrationInput, Vec<ItemError>>,
    /// Stored with the registration: `api`, or `import:<file>:<line>`.
    pub source: String,
    /// How messages point at this item: `/registrations/3`, `regel/line 5`.
    pub label: String,
}

/// Who stores a batch through a person-facing screen, and why: each
/// correction of an earlier day then gets an audit trail entry in the
/// batch's own transaction, so a correction never lands without its reason.
#[derive(Debug, Clone, Copy)]
pub struct Audit<'a> {
    /// The user name as the audit trail keeps it.
    pub actor: &'a str,
    /// The reason the person gave for correcting.
    pub reason: Option<&'a str>,
}

/// A validated registration, before the participant and allocation are looked up.
#[derive(Debug, Clone, PartialEq)]
pub struct Valid {
    pub participant_id: Option<String>,
    pub bsn: Option<String>,
    pub day: NaiveDate,
    pub present: bool,
    pub reason: Option<Reason>,
    /// Minutes since midnight.
    pub from: Option<u32>,
    pub to: Option<u32>,
    pub minutes: Option<i64>,
    pub dagdelen: Option<i64>,
    pub activity: Option<String>,
    pub allocation: Option<String>,
    pub registered_by: String,
    /// `None`: not given (a correction keeps the day's note); `Some("")`:
    /// removed.
    pub day_note: Option<String>,
}

/// "HH:MM" (00:00 to 24:00) as minutes since midnight.
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (0..=23, 0..=59) | (24, 0) => Some(h * 60 + m),
        _ => None,
    }
}

/// Minutes since midnight as "HH:MM".
pub fn format_hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// An input value quoted in an error message (`"31-02-2026": `), or nothing
/// when it might be personal: letters (a name), a run of 8 or more digits (a
/// BSN in the wrong column) or more than 20 characters.
pub fn shown(value: &str) -> String {
    let mut run = 0;
    let mut longest = 0;
    for c in value.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    if value.chars().count() > 20 || longest >= 8 || value.chars().any(char::is_alphabetic) {
        String::new()
    } else {
        format!("{value:?}: ")
    }
}

/// An invalid field (422).
fn bad(field: &'static str, nl: impl Into<String>, en: impl Into<String>) -> ItemError {
    ItemError::invalid(Some(field), nl, en)
}

/// Trimmed, `None` when empty.
fn text(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Checks one registration on its own: fields and their consistency.
/// `today` bounds the date (no registrations for the future).
pub fn validate(
    input: &RegistrationInput,
    default_registered_by: &str,
    today: NaiveDate,
) -> Result<Valid, Vec<ItemError>> {
    let mut errors = Vec::new();

    // Who.
    let participant_id = text(&input.participant_id);
    let bsn = text(&input.bsn);
    if let Some(id) = &participant_id
        && id.chars().count() > 64
    {
        errors.push(bad(
            "participant_id",
            "participant_id is langer dan 64 tekens",
            "participant_id is longer than 64 characters",
        ));
    }
    if let Some(b) = &bsn
        && !elfproef(b)
    {
        errors.push(bad(
            "bsn",
            "het BSN is geen 9 cijfers of voldoet niet aan de elfproef",
            "the BSN is not 9 digits or fails the elfproef (11-test)",
        ));
    }
    if participant_id.is_none() && bsn.is_none() {
        errors.push(bad(
            "participant_id",
            "de deelnemer ontbreekt: geef participant_id of bsn",
            "the participant is missing: give participant_id or bsn",
        ));
    }

    // When.
    let day = match NaiveDate::parse_from_str(input.date.trim(), "%Y-%m-%d") {
        Ok(d) if d > today => {
            errors.push(bad(
                "date",
                format!(
                    "de datum {d} ligt na vandaag ({today}); registreer geen toekomstige dagen"
                ),
                format!("the date {d} is after today ({today}); future days cannot be registered"),
            ));
            None
        }
        Ok(d) if d.year() < FIRST_YEAR => {
            errors.push(bad(
                "date",
                format!("de datum {d} ligt voor {FIRST_YEAR}; is het jaar goed?"),
                format!("the date {d} is before {FIRST_YEAR}; is the year right?"),
            ));
            None
        }
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(bad(
                "date",
                format!(
                    "de datum {:?} is geen geldige datum (JJJJ-MM-DD)",
                    input.date.trim()
                ),
                format!(
                    "the date {:?} is not a valid date (YYYY-MM-DD)",
                    input.date.trim()
                ),
            ));
            None
        }
    };

    // Why not.
    let reason = match text(&input.reason) {
        None => None,
        Some(r) => match Reason::parse(&r) {
            Some(r) => Some(r),
            None => {
                errors.push(bad(
                    "reason",
                    format!(
                        "{}onbekende reden: kies sick, holiday, no_show of other",
                        shown(&r)
                    ),
                    format!(
                        "{}unknown reason: use sick, holiday, no_show or other",
                        shown(&r)
                    ),
                ));
                None
            }
        },
    };

    // How long.
    let time = |field: &'static str, v: &Option<String>, errors: &mut Vec<ItemError>| {
        let v = text(v)?;
        match parse_hhmm(&v) {
            Some(m) if field == "from" && m == 24 * 60 => {
                errors.push(bad(
                    field,
                    "24:00 kan alleen een eindtijd zijn",
                    "24:00 can only be an end time",
                ));
                None
            }
            Some(m) => Some(m),
            None => {
                errors.push(bad(
                    field,
                    format!("{field}: {v:?} is geen tijd (UU:MM, 00:00 tot 24:00)"),
                    format!("{field}: {v:?} is not a time (HH:MM, 00:00 to 24:00)"),
                ));
                None
            }
        }
    };
    let from = time("from", &input.from, &mut errors);
    let to = time("to", &input.to, &mut errors);
    let from_given = text(&input.from).is_some();
    let to_given = text(&input.to).is_some();
    if from_given && !to_given {
        errors.push(bad(
            "to",
            "een begintijd zonder eindtijd: vul ook 'to' in",
            "a start time without an end time: give 'to' as well",
        ));
    }
    if to_given && !from_given {
        errors.push(bad(
            "from",
            "een eindtijd zonder begintijd: vul ook 'from' in",
            "an end time without a start time: give 'from' as well",
        ));
    }
    let span = match (from, to) {
        (Some(f), Some(t)) if f >= t => {
            errors.push(bad(
                "to",
                format!(
                    "de eindtijd {} ligt niet na de begintijd {}",
                    format_hhmm(t),
                    format_hhmm(f)
                ),
                format!(
                    "the end time {} is not after the start time {}",
                    format_hhmm(t),
                    format_hhmm(f)
                ),
            ));
            None
        }
        (Some(f), Some(t)) => Some(i64::from(t - f)),
        _ => None,
    };
    let hours_minutes = match input.hours {
        None => None,
        Some(h) if !h.is_finite() || !(0.0..=24.0).contains(&h) => {
            errors.push(bad(
                "hours",
                "het aantal uren ligt niet tussen 0 en 24",
                "the number of hours is not between 0 and 24",
            ));
            None
        }
        #[allow(clippy::cast_possible_truncation)]
        Some(h) => Some((h * 60.0).round() as i64),
    };
    if let (Some(span), Some(hm)) = (span, hours_minutes)
        && hm != 0
        && (span - hm).abs() > 1
    {
        errors.push(bad(
            "hours",
            format!(
                "de uren ({}) kloppen niet met van/tot ({} minuten); geef het een of het ander",
                hours_text(hm),
                span
            ),
            format!(
                "the hours ({}) do not match from/to ({} minutes); give one or the other",
                hours_text(hm),
                span
            ),
        ));
    }
    let dagdelen = match input.dagdelen {
        Some(d) if !(0..=MAX_DAGDELEN).contains(&d) => {
            errors.push(bad(
                "dagdelen",
                format!("het aantal dagdelen ligt niet tussen 0 en {MAX_DAGDELEN}"),
                format!("the number of dagdelen is not between 0 and {MAX_DAGDELEN}"),
            ));
            None
        }
        d => d,
    };
    let minutes = span.or(hours_minutes);

    // Present or absent, consistently.
    if input.present {
        if reason.is_some() {
            errors.push(bad(
                "reason",
                "een reden hoort alleen bij afwezigheid",
                "a reason belongs to an absence only",
            ));
        }
        let has_time = minutes.is_some_and(|m| m > 0) || dagdelen.is_some_and(|d| d > 0);
        let time_broken = errors
            .iter()
            .any(|e| matches!(e.field, Some("from" | "to" | "hours" | "dagdelen")));
        if !has_time && !time_broken {
            errors.push(bad(
                "present",
                "aanwezig zonder tijd: geef van/tot, uren of dagdelen",
                "present without time: give from/to, hours or dagdelen",
            ));
        }
    } else {
        if reason.is_none() && text(&input.reason).is_none() {
            errors.push(bad(
                "reason",
                "afwezig zonder reden: kies sick, holiday, no_show of other",
                "absent without a reason: use sick, holiday, no_show or other",
            ));
        }
        for (field, given) in [
            ("from", from_given),
            ("to", to_given),
            ("hours", hours_minutes.is_some_and(|m| m > 0)),
            ("dagdelen", dagdelen.is_some_and(|d| d > 0)),
        ] {
            if given {
                errors.push(bad(
                    field,
                    "een afwezige deelnemer heeft geen tijd",
                    "an absent participant has no time",
                ));
            }
        }
    }

    // What and who.
    let activity = text(&input.activity);
    if activity
        .as_ref()
        .is_some_and(|a| a.chars().count() > MAX_TEXT)
    {
        errors.push(bad(
            "activity",
            format!("de activiteit is langer dan {MAX_TEXT} tekens"),
            format!("the activity is longer than {MAX_TEXT} characters"),
        ));
    }
    let day_note = input.day_note.as_deref().map(|n| n.trim().to_string());
    if day_note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_DAY_NOTE)
    {
        errors.push(bad(
            "day_note",
            format!("de dagnotitie is langer dan {MAX_DAY_NOTE} tekens"),
            format!("the day note is longer than {MAX_DAY_NOTE} characters"),
        ));
    }
    let allocation = text(&input.allocation);
    if allocation.as_ref().is_some_and(|a| a.chars().count() > 64) {
        errors.push(bad(
            "allocation",
            "de toewijzing is langer dan 64 tekens",
            "the allocation is longer than 64 characters",
        ));
    }
    let registered_by =
        text(&input.registered_by).unwrap_or_else(|| default_registered_by.trim().to_string());
    if registered_by.is_empty() {
        errors.push(bad(
            "registered_by",
            "wie registreert ontbreekt (registered_by)",
            "who registers is missing (registered_by)",
        ));
    } else if registered_by.chars().count() > MAX_TEXT {
        errors.push(bad(
            "registered_by",
            format!("registered_by is langer dan {MAX_TEXT} tekens"),
            format!("registered_by is longer than {MAX_TEXT} characters"),
        ));
    }

    match day {
        Some(day) if errors.is_empty() => Ok(Valid {
            participant_id,
            bsn,
            day,
            present: input.present,
            reason: if input.present { None } else { reason },
            from: if input.present { from } else { None },
            to: if input.present { to } else { None },
            minutes: if input.present {
                minutes.filter(|m| *m > 0)
            } else {
                None
            },
            dagdelen: if input.present {
                dagdelen.filter(|d| *d > 0)
            } else {
                None
            },
            activity,
            allocation,
            registered_by,
            day_note,
        }),
        _ => Err(errors),
    }
}

fn hours_text(minutes: i64) -> String {
    format!("{}:{:02}", minutes / 60, minutes % 60)
}

/// What happened to one item.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemOutcome {
    /// A first registration for its day.
    Created { id: String },
    /// A correction: `id` is current now, `replaces` is kept as history.
    Corrected { id: String, replaces: String },
    /// The same content was already current.
    Unchanged { id: String },
    /// Valid, but not stored because another item of the batch was not.
    NotStored,
    /// Invalid, or its participant or allocation is unknown.
    Failed(Vec<ItemError>),
}

impl ItemOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            ItemOutcome::Created { .. } => "created",
            ItemOutcome::Corrected { .. } => "corrected",
            ItemOutcome::Unchanged { .. } => "unchanged",
            ItemOutcome::NotStored => "not_stored",
            ItemOutcome::Failed(errors) if errors.iter().all(|e| e.status == 404) => "not_found",
            ItemOutcome::Failed(_) => "invalid",
        }
    }
}

/// The outcome of one item.
#[derive(Debug, Clone)]
pub struct ItemResult {
    pub label: String,
    pub outcome: ItemOutcome,
    pub participant_id: Option<String>,
    pub allocation_id: Option<String>,
    pub date: Option<NaiveDate>,
}

/// The outcome of a batch.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Whether the batch was committed (with [`Mode::ValidOnly`]: the valid items).
    pub stored: bool,
    pub results: Vec<ItemResult>,
}

/// Counts per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub received: usize,
    pub created: usize,
    pub corrected: usize,
    pub unchanged: usize,
    pub not_stored: usize,
    pub invalid: usize,
    pub not_found: usize,
}

impl Outcome {
    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            received: self.results.len(),
            ..Counts::default()
        };
        for r in &self.results {
            match r.outcome.as_str() {
                "created" => c.created += 1,
                "corrected" => c.corrected += 1,
                "unchanged" => c.unchanged += 1,
                "not_stored" => c.not_stored += 1,
                "not_found" => c.not_found += 1,
                _ => c.invalid += 1,
            }
        }
        c
    }

    pub fn has_errors(&self) -> bool {
        self.results
            .iter()
            .any(|r| matches!(r.outcome, ItemOutcome::Failed(_)))
    }

    /// The answer of `POST /registrations` (`schemas/api/registrations-result.json`):
    /// error paths are JSON pointers into the request body.
    pub fn to_api_json(&self) -> Value {
        let mut all_paths = Vec::new();
        let results: Vec<Value> = self
            .results
            .iter()
            .enumerate()
            .map(|(index, r)| {
                let mut v = json!({"index": index, "outcome": r.outcome.as_str()});
                let o = v.as_object_mut().expect("object");
                if let Some(p) = &r.participant_id {
                    o.insert("participant_id".into(), json!(p));
                }
                if let Some(d) = r.date {
                    o.insert("date".into(), json!(d.to_string()));
                }
                if let Some(a) = &r.allocation_id {
                    o.insert("allocation_id".into(), json!(a));
                }
                match &r.outcome {
                    ItemOutcome::Created { id } | ItemOutcome::Unchanged { id } => {
                        o.insert("id".into(), json!(id));
                    }
                    ItemOutcome::Corrected { id, replaces } => {
                        o.insert("id".into(), json!(id));
                        o.insert("replaces".into(), json!(replaces));
                    }
                    ItemOutcome::NotStored => {}
                    ItemOutcome::Failed(errors) => {
                        let errors: Vec<Value> = errors
                            .iter()
                            .map(|e| {
                                let path = match e.field {
                                    Some(f) => format!("{}/{f}", r.label),
                                    None => r.label.clone(),
                                };
                                all_paths.push(path.clone());
                                json!({"status": e.status, "path": path, "nl": e.nl, "en": e.en})
                            })
                            .collect();
                        o.insert("errors".into(), json!(errors));
                    }
                }
                v
            })
            .collect();
        let counts = self.counts();
        let mut out = json!({"stored": self.stored, "counts": counts, "results": results});
        if !self.stored {
            all_paths.dedup();
            out["error"] = json!({
                "nl": format!(
                    "{} van de {} registraties zijn fout; er is niets opgeslagen (valid_only: true slaat de goede op)",
                    counts.invalid + counts.not_found,
                    counts.received
                ),
                "en": format!(
                    "{} of {} registrations are wrong; nothing was stored (valid_only: true stores the valid ones)",
                    counts.invalid + counts.not_found,
                    counts.received
                ),
                "paths": all_paths,
            });
        }
        out
    }
}

/// Today in the local time zone: the last day that can be registered.
pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

/// Validates and stores a batch of registrations for `tenant`, in one
/// transaction. With [`Mode::AllOrNothing`] a batch with any failed item
/// stores nothing (every item is still checked and reported).
#[allow(clippy::too_many_arguments)]
pub async fn register(
    store: &Store,
    tenant: &str,
    items: Vec<Item>,
    default_registered_by: &str,
    mode: Mode,
    today: NaiveDate,
    audit: Option<Audit<'_>>,
    access: Option<&crate::record::access::Actor>,
) -> Result<Outcome> {
    let checked: Vec<Result<Valid, Vec<ItemError>>> = items
        .iter()
        .map(|item| match &item.input {
            Ok(input) => validate(input, default_registered_by, today),
            Err(e) => Err(e.clone()),
        })
        .collect();
    // A concurrent writer of the same key (another path than this one, as
    // batches of one tenant take the tenant lock first) makes the unique
    // index refuse; the batch is then redone against what it committed.
    let mut attempt = 0;
    loop {
        attempt += 1;
        match try_register(store, tenant, &items, &checked, mode, audit, access).await {
            Err(e) if attempt < 5 && is_unique_violation(&e) => {
                tracing::debug!(
                    attempt,
                    "registration batch met a concurrent writer; retrying"
                );
                tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
            }
            other => return other,
        }
    }
}

fn is_unique_violation(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<sqlx::Error>()
            .and_then(|e| e.as_database_error())
            .is_some_and(|d| d.is_unique_violation())
    })
}

/// The columns that make a registration's content (not who or when).
#[derive(Debug, Clone, PartialEq)]
struct Content {
    present: i64,
    reason: Option<String>,
    from: Option<String>,
    to: Option<String>,
    minutes: Option<i64>,
    dagdelen: Option<i64>,
    activity: Option<String>,
    day_note: Option<String>,
}

impl Content {
    /// The content `v` gives; its day note is the stored one's when `v`
    /// does not give one.
    fn of(v: &Valid, stored_note: Option<&str>) -> Content {
        Content {
            present: i64::from(v.present),
            reason: v.reason.map(|r| r.as_str().to_string()),
            from: v.from.map(format_hhmm),
            to: v.to.map(format_hhmm),
            minutes: v.minutes,
            dagdelen: v.dagdelen,
            activity: v.activity.clone(),
            day_note: match &v.day_note {
                None => stored_note.map(str::to_string),
                Some(n) if n.is_empty() => None,
                Some(n) => Some(n.clone()),
            },
        }
    }
}

async fn try_register(
    store: &Store,
    tenant: &str,
    items: &[Item],
    checked: &[Result<Valid, Vec<ItemError>>],
    mode: Mode,
    audit: Option<Audit<'_>>,
    access: Option<&crate::record::access::Actor>,
) -> Result<Outcome> {
    let mut w = store.begin_write().await?;
    // Batches of one tenant follow each other:
    // eight colleagues correcting the same day at once otherwise met in the
    // unique index, and under enough contention one of them ran out of
    // retries. It also keeps a batch from interleaving with a declaration
    // run, which takes the same lock.
    w.lock_tenant(tenant).await?;
    let tx = &mut w.tx;
    let mut participants: HashMap<(bool, String), Option<String>> = HashMap::new();
    let mut allocations: HashMap<(String, String), Vec<String>> = HashMap::new();
    let mut seen: HashMap<(String, NaiveDate, Option<String>), usize> = HashMap::new();
    let mut results = Vec::with_capacity(items.len());
    // Resolve participants and allocations; find duplicates within the batch.
    for (i, (item, check)) in items.iter().zip(checked).enumerate() {
        let mut result = ItemResult {
            label: item.label.clone(),
            outcome: ItemOutcome::NotStored,
            participant_id: None,
            allocation_id: None,
            date: None,
        };
        let v = match check {
            Ok(v) => v,
            Err(errors) => {
                result.outcome = ItemOutcome::Failed(errors.clone());
                results.push(result);
                continue;
            }
        };
        result.date = Some(v.day);
        let mut errors = Vec::new();
        let mut pid = None;
        for (by_bsn, key) in [(false, &v.participant_id), (true, &v.bsn)] {
            let Some(key) = key else { continue };
            let found = match participants.get(&(by_bsn, key.clone())) {
                Some(f) => f.clone(),
                None => {
                    let sql = if by_bsn {
                        "SELECT id FROM participants WHERE tenant_id = $1 AND bsn = $2"
                    } else {
                        "SELECT id FROM participants WHERE tenant_id = $1 AND id = $2"
                    };
                    let f: Option<String> = sqlx::query(sql)
                        .bind(tenant)
                        .bind(key)
                        .fetch_optional(&mut **tx)
                        .await?
                        .map(|r| r.try_get("id"))
                        .transpose()?;
                    participants.insert((by_bsn, key.clone()), f.clone());
                    f
                }
            };
            match (found, &pid) {
                (None, _) if by_bsn => errors.push(ItemError::not_found(
                    "bsn",
                    "geen deelnemer met dit BSN bij deze tenant",
                    "no participant with this BSN for this tenant",
                )),
                (None, _) => errors.push(ItemError::not_found(
                    "participant_id",
                    "geen deelnemer met dit id bij deze tenant",
                    "no participant with this id for this tenant",
                )),
                (Some(f), Some(p)) if &f != p => errors.push(ItemError::invalid(
                    Some("bsn"),
                    "participant_id en bsn horen bij verschillende deelnemers",
                    "participant_id and bsn belong to different participants",
                )),
                (Some(f), _) => pid = Some(f),
            }
        }
        let pid = match pid {
            Some(p) if errors.is_empty() => p,
            _ => {
                result.outcome = ItemOutcome::Failed(errors);
                results.push(result);
                continue;
            }
        };
        result.participant_id = Some(pid.clone());
        let mut allocation_id = None;
        if let Some(a) = &v.allocation {
            let key = (pid.clone(), a.clone());
            let found = match allocations.get(&key) {
                Some(f) => f.clone(),
                None => {
                    let rows = sqlx::query(
                        "SELECT id FROM allocations WHERE tenant_id = $1 AND participant_id = $2 \
                         AND (id = $3 OR toewijzing_nummer = $3) ORDER BY id",
                    )
                    .bind(tenant)
                    .bind(&pid)
                    .bind(a)
                    .fetch_all(&mut **tx)
                    .await?;
                    let f = rows
                        .iter()
                        .map(|r| r.try_get::<String, _>("id"))
                        .collect::<Result<Vec<_>, _>>()?;
                    allocations.insert(key, f.clone());
                    f
                }
            };
            match found.as_slice() {
                [] => errors.push(ItemError::not_found(
                    "allocation",
                    format!("{}de deelnemer heeft deze toewijzing niet", shown(a)),
                    format!("{}the participant has no such allocation", shown(a)),
                )),
                [one] => allocation_id = Some(one.clone()),
                _ => errors.push(ItemError::invalid(
                    Some("allocation"),
                    format!("{}dit toewijzingnummer komt bij meer financiers voor; geef het id van de toewijzing", shown(a)),
                    format!("{}this ToewijzingNummer exists at more than one financier; give the allocation's id", shown(a)),
                )),
            }
        }
        result.allocation_id = allocation_id.clone();
        if errors.is_empty() {
            let key = (pid, v.day, allocation_id);
            if let Some(first) = seen.get(&key) {
                errors.push(ItemError::invalid(
                    None,
                    format!(
                        "dezelfde deelnemer, dag en toewijzing staan al in {}; één registratie per dag",
                        items[*first].label
                    ),
                    format!(
                        "the same participant, day and allocation are already in {}; one registration per day",
                        items[*first].label
                    ),
                ));
            } else {
                seen.insert(key, i);
            }
        }
        if !errors.is_empty() {
            result.outcome = ItemOutcome::Failed(errors);
        }
        results.push(result);
    }
    let failed = results
        .iter()
        .any(|r| matches!(r.outcome, ItemOutcome::Failed(_)));
    if failed && mode == Mode::AllOrNothing {
        // Dropping the transaction rolls it back; nothing was written.
        return Ok(Outcome {
            stored: false,
            results,
        });
    }
    // Store: a new version per changed (participant, day, allocation).
    let ts = now();
    for ((item, check), result) in items.iter().zip(checked).zip(results.iter_mut()) {
        let (Ok(v), ItemOutcome::NotStored) = (check, &result.outcome) else {
            continue;
        };
        let pid = result
            .participant_id
            .clone()
            .context("participant resolved")?;
        let day = v.day.to_string();
        let current = sqlx::query(
            "SELECT id, present, absence_reason, time_from, time_to, minutes, dagdelen, activity, day_note \
             FROM registrations \
             WHERE tenant_id = $1 AND participant_id = $2 AND day = $3 AND COALESCE(allocation_id, '') = $4 \
             AND superseded_by IS NULL",
        )
        .bind(tenant)
        .bind(&pid)
        .bind(&day)
        .bind(result.allocation_id.as_deref().unwrap_or(""))
        .fetch_optional(&mut **tx)
        .await?;
        let stored_note: Option<String> = match &current {
            Some(r) => r.try_get("day_note")?,
            None => None,
        };
        let content = Content::of(v, stored_note.as_deref());
        let previous = match &current {
            Some(r) => {
                let id: String = r.try_get("id")?;
                let old = Content {
                    present: r.try_get("present")?,
                    reason: r.try_get("absence_reason")?,
                    from: r.try_get("time_from")?,
                    to: r.try_get("time_to")?,
                    minutes: r.try_get("minutes")?,
                    dagdelen: r.try_get("dagdelen")?,
                    activity: r.try_get("activity")?,
                    day_note: stored_note.clone(),
                };
                if old == content {
                    result.outcome = ItemOutcome::Unchanged { id };
                    continue;
                }
                Some(id)
            }
            None => None,
        };
        let id = new_id();
        if let Some(old) = &previous {
            // superseded_by is checked at commit (DEFERRABLE), so the old
            // version can leave the current slot before the new one exists.
            sqlx::query(
                "UPDATE registrations SET superseded_by = $1, superseded_at = $2 WHERE id = $3 AND superseded_by IS NULL",
            )
            .bind(&id)
            .bind(&ts)
            .bind(old)
            .execute(&mut **tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO registrations (id, tenant_id, participant_id, day, allocation_id, present, absence_reason, \
             time_from, time_to, minutes, dagdelen, activity, registered_by, source, created_at, day_note) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(&pid)
        .bind(&day)
        .bind(result.allocation_id.as_deref())
        .bind(content.present)
        .bind(content.reason.as_deref())
        .bind(content.from.as_deref())
        .bind(content.to.as_deref())
        .bind(content.minutes)
        .bind(content.dagdelen)
        .bind(content.activity.as_deref())
        .bind(&v.registered_by)
        .bind(&item.source)
        .bind(&ts)
        .bind(content.day_note.as_deref())
        .execute(&mut **tx)
        .await?;
        result.outcome = match previous {
            Some(replaces) => ItemOutcome::Corrected { id, replaces },
            None => ItemOutcome::Created { id },
        };
    }
    if let Some(a) = audit {
        for r in &results {
            if let ItemOutcome::Corrected { id, replaces } = &r.outcome {
                crate::store::audit(
                    &mut w,
                    tenant,
                    a.actor,
                    "registration_corrected",
                    Some(("registration", id)),
                    serde_json::json!({"replaces": replaces, "reason": a.reason}),
                )
                .await?;
            }
        }
    }
    if let Some(actor) = access {
        // NEN 7513: each participant whose days changed, with the batch.
        let mut changed: Vec<String> = results
            .iter()
            .filter(|r| {
                matches!(
                    r.outcome,
                    ItemOutcome::Created { .. } | ItemOutcome::Corrected { .. }
                )
            })
            .filter_map(|r| r.participant_id.clone())
            .collect();
        changed.sort();
        changed.dedup();
        crate::record::access::record_in(
            &mut w,
            tenant,
            actor,
            crate::record::access::Kind::Change,
            "registrations",
            &changed,
        )
        .await?;
    }
    w.commit().await?;
    Ok(Outcome {
        stored: true,
        results,
    })
}

/// Which registrations [`list`] returns.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub participant_id: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Include the earlier versions of each registration.
    pub history: bool,
    pub limit: i64,
    pub offset: i64,
}

/// A stored registration (one version).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stored {
    pub id: String,
    pub participant_id: String,
    pub date: String,
    pub allocation_id: Option<String>,
    pub toewijzing_nummer: Option<String>,
    pub present: bool,
    pub reason: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub minutes: Option<i64>,
    pub dagdelen: Option<i64>,
    pub activity: Option<String>,
    pub day_note: Option<String>,
    pub registered_by: String,
    pub registered_at: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_at: Option<String>,
    /// Earlier versions, newest first (only when asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<Stored>>,
}

const STORED_COLUMNS: &str = "r.id, r.participant_id, r.day, r.allocation_id, a.toewijzing_nummer, r.present, \
     r.absence_reason, r.time_from, r.time_to, r.minutes, r.dagdelen, r.activity, r.day_note, r.registered_by, r.source, \
     r.created_at, r.superseded_by, r.superseded_at";

fn stored_of(r: &sqlx::any::AnyRow) -> Result<Stored> {
    Ok(Stored {
        id: r.try_get("id")?,
        participant_id: r.try_get("participant_id")?,
        date: r.try_get("day")?,
        allocation_id: r.try_get("allocation_id")?,
        toewijzing_nummer: r.try_get("toewijzing_nummer")?,
        present: r.try_get::<i64, _>("present")? != 0,
        reason: r.try_get("absence_reason")?,
        from: r.try_get("time_from")?,
        to: r.try_get("time_to")?,
        minutes: r.try_get("minutes")?,
        dagdelen: r.try_get("dagdelen")?,
        activity: r.try_get("activity")?,
        day_note: r.try_get("day_note")?,
        registered_by: r.try_get("registered_by")?,
        registered_at: r.try_get("created_at")?,
        source: r.try_get("source")?,
        superseded_by: r.try_get("superseded_by")?,
        superseded_at: r.try_get("superseded_at")?,
        history: None,
    })
}

/// The current registrations of `tenant`, by day, participant and
/// allocation; with `history`, each with its earlier versions.
pub async fn list(store: &Store, tenant: &str, f: &Filter) -> Result<Vec<Stored>> {
    let pool = store.pool();
    let sql = format!(
        "SELECT {STORED_COLUMNS} FROM registrations r LEFT JOIN allocations a ON a.id = r.allocation_id \
         WHERE r.tenant_id = $1 AND r.superseded_by IS NULL \
         AND ($2 IS NULL OR r.participant_id = $2) AND ($3 IS NULL OR r.day >= $3) AND ($4 IS NULL OR r.day <= $4) \
         ORDER BY r.day, r.participant_id, COALESCE(r.allocation_id, ''), r.id LIMIT $5 OFFSET $6"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .bind(f.participant_id.as_deref())
        .bind(f.from.map(|d| d.to_string()))
        .bind(f.to.map(|d| d.to_string()))
        .bind(f.limit)
        .bind(f.offset)
        .fetch_all(pool)
        .await?;
    let mut out = rows.iter().map(stored_of).collect::<Result<Vec<_>>>()?;
    if f.history {
        let sql = format!(
            "SELECT {STORED_COLUMNS} FROM registrations r LEFT JOIN allocations a ON a.id = r.allocation_id \
             WHERE r.tenant_id = $1 AND r.participant_id = $2 AND r.day = $3 \
             AND COALESCE(r.allocation_id, '') = $4 AND r.superseded_by IS NOT NULL \
             ORDER BY r.created_at DESC, r.id DESC"
        );
        for s in &mut out {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(tenant)
                .bind(&s.participant_id)
                .bind(&s.date)
                .bind(s.allocation_id.as_deref().unwrap_or(""))
                .fetch_all(pool)
                .await?;
            s.history = Some(rows.iter().map(stored_of).collect::<Result<Vec<_>>>()?);
        }
    }
    Ok(out)
}

/// A participant's allocation in force somewhere in a period, as the
/// registration pages list them: who is expected on a day.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExpectedRow {
    pub participant_id: String,
    pub name_json: String,
    pub allocation_id: String,
    pub toewijzing_nummer: String,
    pub product_code: Option<String>,
    /// The financier's kind (wmo, jeugdwet, uwv, ...).
    pub kind: String,
    pub ingangsdatum: String,
    pub einddatum: Option<String>,
}

/// The allocations in force somewhere in `from..=to` of the participants
/// of `group` (every group when `None`), by participant, start and number.
/// Their dates decide, not their status: an allocation stopped or ended
/// since was in force on its days, which the week view corrects and the
/// declaration run counts (the same statuses as [`crate::engine`] loads:
/// all but requested and withdrawn).
pub async fn expected(
    store: &Store,
    tenant: &str,
    group: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<ExpectedRow>> {
    sqlx::query_as::<_, ExpectedRow>(
        "SELECT p.id AS participant_id, p.name_json, a.id AS allocation_id, a.toewijzing_nummer, \
                a.product_code, f.kind, a.ingangsdatum, a.einddatum \
         FROM participants p JOIN allocations a ON a.participant_id = p.id JOIN financiers f ON f.id = a.financier_id \
         WHERE p.tenant_id = $1 AND ($2 IS NULL OR p.group_name = $2) \
           AND a.status NOT IN ('requested', 'withdrawn') AND a.ingangsdatum <= $4 \
           AND (a.einddatum IS NULL OR a.einddatum >= $3) \
         ORDER BY p.id, a.ingangsdatum, a.toewijzing_nummer",
    )
    .bind(tenant)
    .bind(group)
    .bind(from.to_string())
    .bind(to.to_string())
    .fetch_all(store.pool())
    .await
    .context("cannot read the participants expected")
}

/// Each participant's latest registered activity in `from..until`
/// (`until` excluded): most people work at the same place every day, and
/// the day form offers it again.
pub async fn usual_activities(
    store: &Store,
    tenant: &str,
    from: NaiveDate,
    until: NaiveDate,
) -> Result<HashMap<String, String>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT participant_id, activity FROM registrations WHERE tenant_id = $1 AND superseded_by IS NULL \
         AND activity IS NOT NULL AND day >= $2 AND day < $3 ORDER BY day",
    )
    .bind(tenant)
    .bind(from.to_string())
    .bind(until.to_string())
    .fetch_all(store.pool())
    .await
    .context("cannot read the usual activities")?;
    Ok(rows.into_iter().collect())
}

/// Whether `participant` is one of the tenant's: an id of another tenant
/// is unknown here.
pub async fn participant_known(store: &Store, tenant: &str, participant: &str) -> Result<bool> {
    let found = sqlx::query("SELECT 1 FROM participants WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(participant)
        .fetch_optional(store.pool())
        .await
        .context("cannot look up the participant")?;
    Ok(found.is_some())
}

/// The reason given for each correction (by the id of the version it
/// made), from the audit trail; `None` when the entry has none.
pub async fn correction_reasons(
    store: &Store,
    tenant: &str,
    ids: &[&str],
) -> Result<HashMap<String, Option<String>>> {
    let mut reasons = HashMap::new();
    for chunk in ids.chunks(500) {
        let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT subject_id, detail FROM audit_log WHERE tenant_id = $1 \
             AND action = 'registration_corrected' AND subject_kind = 'registration' \
             AND subject_id IN ({})",
            marks.join(", ")
        );
        // Only placeholders are formatted in; the ids are bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant);
        for id in chunk {
            q = q.bind(*id);
        }
        let rows = q
            .fetch_all(store.pool())
            .await
            .context("cannot read the reasons of corrections")?;
        for row in rows {
            let id: String = row.try_get("subject_id")?;
            let detail: String = row.try_get("detail")?;
            let reason = serde_json::from_str::<Value>(&detail)
                .ok()
                .and_then(|d| d.get("reason")?.as_str().map(str::to_string));
            reasons.insert(id, reason);
        }
    }
    Ok(reasons)
}

/// Removes a participant's day notes, every version, when retention
/// pseudonymises them: a note written about a person's day can name or
/// describe them; the attendance itself stays, without a name.
pub async fn strip_day_notes(
    w: &mut crate::store::WriteTx,
    tenant: &str,
    participant: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE registrations SET day_note = NULL WHERE tenant_id = $1 AND participant_id = $2 \
         AND day_note IS NOT NULL",
    )
    .bind(tenant)
    .bind(participant)
    .execute(&mut *w.tx)
    .await
    .context("cannot remove the day notes")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    const TODAY: &str = "2025-03-14";

    fn present(from: &str, to: &str) -> RegistrationInput {
        RegistrationInput {
            bsn: Some("999990019".into()),
            date: "2025-03-03".into(),
            present: true,
            from: Some(from.into()),
            to: Some(to.into()),
            activity: Some("houtwerkplaats".into()),
            ..RegistrationInput::default()
        }
    }

    fn check(input: &RegistrationInput) -> Result<Valid, Vec<ItemError>> {
        validate(input, "Anna", day(TODAY))
    }

    fn fields(r: Result<Valid, Vec<ItemError>>) -> Vec<&'static str> {
        r.expect_err("invalid")
            .iter()
            .filter_map(|e| e.field)
            .collect()
    }

    #[test]
    fn present_with_time_is_valid() {
        let v = check(&present("09:00", "15:30")).expect("valid");
        assert_eq!(v.minutes, Some(390));
        assert_eq!(v.from, Some(540));
        assert_eq!(v.registered_by, "Anna");
        assert_eq!(v.activity.as_deref(), Some("houtwerkplaats"));
        // Until midnight.
        assert_eq!(
            check(&present("18:00", "24:00")).expect("valid").minutes,
            Some(360)
        );
    }

    #[test]
    fn time_must_be_consistent() {
        assert_eq!(fields(check(&present("15:00", "09:00"))), ["to"]);
        assert_eq!(fields(check(&present("09:00", "09:00"))), ["to"]);
        assert_eq!(fields(check(&present("9:00", "12:00"))), ["from"]);
        assert_eq!(fields(check(&present("24:00", "24:00"))), ["from"]);
        assert_eq!(fields(check(&present("09:00", "25:00"))), ["to"]);
        let mut only_from = present("09:00", "12:00");
        only_from.to = None;
        assert_eq!(fields(check(&only_from)), ["to"]);
        // Hours beside from/to must agree.
        let mut both = present("09:00", "12:30");
        both.hours = Some(3.5);
        assert!(check(&both).is_ok());
        both.hours = Some(4.0);
        assert_eq!(fields(check(&both)), ["hours"]);
    }

    #[test]
    fn present_needs_time_hours_or_dagdelen() {
        let mut p = present("09:00", "12:00");
        p.from = None;
        p.to = None;
        assert_eq!(fields(check(&p)), ["present"]);
        p.hours = Some(0.0);
        assert_eq!(fields(check(&p)), ["present"]);
        p.hours = Some(5.25);
        assert_eq!(check(&p).expect("valid").minutes, Some(315));
        p.hours = Some(24.5);
        assert_eq!(fields(check(&p)), ["hours"]);
        p.hours = None;
        p.dagdelen = Some(2);
        let v = check(&p).expect("valid");
        assert_eq!((v.minutes, v.dagdelen), (None, Some(2)));
        p.dagdelen = Some(MAX_DAGDELEN + 1);
        assert_eq!(fields(check(&p)), ["dagdelen"]);
        p.dagdelen = Some(2);
        p.reason = Some("sick".into());
        assert_eq!(fields(check(&p)), ["reason"]);
    }

    #[test]
    fn a_day_note_is_short_and_trimmed() {
        let mut p = present("09:00", "12:00");
        assert_eq!(check(&p).expect("valid").day_note, None, "not given");
        p.day_note = Some("  zelf gekomen  ".into());
        assert_eq!(
            check(&p).expect("valid").day_note.as_deref(),
            Some("zelf gekomen")
        );
        p.day_note = Some(" ".into());
        assert_eq!(
            check(&p).expect("valid").day_note.as_deref(),
            Some(""),
            "given empty: removes the note"
        );
        p.day_note = Some("é".repeat(MAX_DAY_NOTE));
        assert!(check(&p).is_ok(), "500 characters, not bytes");
        p.day_note = Some("x".repeat(MAX_DAY_NOTE + 1));
        assert_eq!(fields(check(&p)), ["day_note"]);
    }

    #[test]
    fn absent_needs_a_reason_and_no_time() {
        let mut a = RegistrationInput {
            participant_id: Some("p1".into()),
            date: "2025-03-03".into(),
            present: false,
            reason: Some("holiday".into()),
            ..RegistrationInput::default()
        };
        let v = check(&a).expect("valid");
        assert_eq!(v.reason, Some(Reason::Holiday));
        // Zeros from a spreadsheet are no time.
        a.hours = Some(0.0);
        a.dagdelen = Some(0);
        assert!(check(&a).is_ok());
        a.reason = None;
        assert_eq!(fields(check(&a)), ["reason"]);
        a.reason = Some("ill".into());
        assert_eq!(fields(check(&a)), ["reason"]);
        a.reason = Some("no_show".into());
        a.from = Some("09:00".into());
        a.to = Some("12:00".into());
        a.dagdelen = Some(1);
        assert_eq!(fields(check(&a)), ["from", "to", "dagdelen"]);
    }

    #[test]
    fn dates_participant_and_texts() {
        let mut p = present("09:00", "12:00");
        p.date = "2025-03-15".into();
        assert_eq!(fields(check(&p)), ["date"], "tomorrow");
        p.date = TODAY.into();
        assert!(check(&p).is_ok(), "today");
        p.date = "1999-12-31".into();
        assert_eq!(fields(check(&p)), ["date"]);
        p.date = "2025-02-30".into();
        assert_eq!(fields(check(&p)), ["date"]);
        p.date = "03-03-2025".into();
        assert_eq!(fields(check(&p)), ["date"], "the JSON input is ISO");
        p.date = "2025-03-03".into();
        p.bsn = Some("123456789".into());
        assert_eq!(fields(check(&p)), ["bsn"]);
        let err = check(&p).expect_err("elfproef");
        assert!(!err[0].nl.contains("123456789") && !err[0].en.contains("123456789"));
        p.bsn = None;
        assert_eq!(fields(check(&p)), ["participant_id"]);
        p.participant_id = Some("x".into());
        p.activity = Some("x".repeat(MAX_TEXT + 1));
        assert_eq!(fields(check(&p)), ["activity"]);
        p.activity = Some("  ".into());
        assert_eq!(check(&p).expect("valid").activity, None);
        assert_eq!(fields(validate(&p, " ", day(TODAY))), ["registered_by"]);
        p.registered_by = Some("Bram".into());
        assert_eq!(
            validate(&p, "", day(TODAY)).expect("valid").registered_by,
            "Bram"
        );
    }

    #[test]
    fn only_harmless_values_are_quoted() {
        assert_eq!(shown("31-02-2026"), "\"31-02-2026\": ");
        assert_eq!(shown("9:5"), "\"9:5\": ");
        assert_eq!(shown("999901023"), "", "a BSN");
        assert_eq!(shown("99990102"), "", "a BSN without its zero");
        assert_eq!(shown("Jan"), "", "a name");
        assert_eq!(shown("1234-5678-9012-3456-78"), "", "long");
    }

    #[test]
    fn hhmm() {
        assert_eq!(parse_hhmm("00:00"), Some(0));
        assert_eq!(parse_hhmm("23:59"), Some(1439));
        assert_eq!(parse_hhmm("24:00"), Some(1440));
        for bad in ["24:01", "7:00", "07:60", "0700", "07:0a", ""] {
            assert_eq!(parse_hhmm(bad), None, "{bad}");
        }
        assert_eq!(format_hhmm(545), "09:05");
    }
}
