//! Outcomes on the participant's record: measurements with an instrument,
//! the goals agreed with the participant, evaluations and evaluation plans,
//! and the groups a begeleider works with.
//!
//! This module is the one writer of `measurements`, `measurement_scores`,
//! `goals`, `goal_domains`, `evaluations`, `evaluation_goals`,
//! `evaluation_plans` and `user_groups`; the API, the web app, the reports
//! and the results claims go through it. Every write checks what a person
//! typed against the instrument it claims to use ([`crate::instrument`]),
//! inside the caller's transaction, so an evaluation with its measurement
//! and its goals' progress commits whole or not at all.
//!
//! A measurement is evidence (a results claim names it, a financier's
//! report shows it), so it is never changed in place: a correction is a new
//! measurement that supersedes it, and the reads return current ones.

use std::collections::{BTreeMap, HashSet};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use sqlx::AnyPool;
use thiserror::Error;

use super::access::Actor;
use crate::instrument::Instruments;
use crate::store::{Params, WriteTx, new_id, now};

/// The `[evaluations]` section of the configuration: how often a
/// participant is evaluated when neither the participant's own plan nor a
/// financier's contract (`[outcomes] evaluation_weeks`) says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluationSettings {
    /// Weeks between evaluations; 6 by default, the rhythm providers
    /// describe (every four to six weeks).
    pub every_weeks: u32,
    /// Per group (`participants.group_name`): weeks between evaluations.
    pub groups: BTreeMap<String, u32>,
}

impl Default for EvaluationSettings {
    fn default() -> Self {
        EvaluationSettings {
            every_weeks: 6,
            groups: BTreeMap::new(),
        }
    }
}

/// Longest free text (a note per domain, a goal, a next step).
pub const MAX_TEXT: usize = 2000;

/// Why an outcome write was refused: what a person reads, in Dutch and
/// English.
#[derive(Debug, Error)]
pub enum OutcomeError {
    #[error("{nl} / {en}")]
    Invalid { nl: String, en: String },
    #[error("participant not found / deelnemer niet gevonden")]
    NotFound,
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

impl From<sqlx::Error> for OutcomeError {
    fn from(e: sqlx::Error) -> Self {
        OutcomeError::Store(e.into())
    }
}

pub(crate) fn invalid(nl: impl Into<String>, en: impl Into<String>) -> OutcomeError {
    OutcomeError::Invalid {
        nl: nl.into(),
        en: en.into(),
    }
}

/// One domain's score as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewScore {
    pub domain: String,
    pub score: i64,
    pub note: Option<String>,
}

/// A measurement to store.
#[derive(Debug, Clone)]
pub struct NewMeasurement {
    pub participant_id: String,
    pub instrument: String,
    pub measured_on: NaiveDate,
    pub scores: Vec<NewScore>,
    /// The current measurement this one corrects.
    pub supersedes: Option<String>,
}

/// A stored measurement as the pages and reports read it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct MeasurementRow {
    pub id: String,
    pub participant_id: String,
    pub instrument: String,
    pub instrument_version: String,
    pub measured_on: String,
    pub scored_by: String,
    pub scored_by_name: String,
    pub evaluation_id: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct ScoreRow {
    pub measurement_id: String,
    pub domain: String,
    pub score: i64,
    pub note: Option<String>,
}

/// A measurement with its scores (by domain, in the order stored).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Measurement {
    #[serde(flatten)]
    pub row: MeasurementRow,
    pub scores: Vec<ScoreRow>,
}

impl Measurement {
    pub fn score(&self, domain: &str) -> Option<i64> {
        self.scores
            .iter()
            .find(|s| s.domain == domain)
            .map(|s| s.score)
    }

    pub fn date(&self) -> Option<NaiveDate> {
        self.row.measured_on.parse().ok()
    }
}

#[cfg(test)]
impl Measurement {
    /// A measurement scoring one domain, as the engine's unit tests build
    /// series.
    pub fn of_one(id: &str, date: &str, domain: &str, score: i64) -> Measurement {
        Measurement {
            row: MeasurementRow {
                id: id.into(),
                participant_id: "p".into(),
                instrument: "zrm".into(),
                instrument_version: "2017".into(),
                measured_on: date.into(),
                scored_by: "u".into(),
                scored_by_name: "U".into(),
                evaluation_id: None,
                created_at: String::new(),
            },
            scores: vec![ScoreRow {
                measurement_id: id.into(),
                domain: domain.into(),
                score,
                note: None,
            }],
        }
    }
}

/// Checks a participant id belongs to the tenant.
pub(crate) async fn own_participant(
    w: &mut WriteTx,
    tenant: &str,
    participant: &str,
) -> Result<(), OutcomeError> {
    let found: Option<(String,)> =
        sqlx::query_as("SELECT id FROM participants WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(participant)
            .fetch_optional(&mut *w.tx)
            .await?;
    found.map(|_| ()).ok_or(OutcomeError::NotFound)
}

pub(crate) fn check_date(what_nl: &str, what_en: &str, d: NaiveDate) -> Result<(), OutcomeError> {
    let today = crate::registration::today();
    if d > today {
        return Err(invalid(
            format!("{what_nl} ligt in de toekomst"),
            format!("the {what_en} is in the future"),
        ));
    }
    if d < NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(NaiveDate::MIN) {
        return Err(invalid(
            format!("{what_nl} ligt vóór 2000"),
            format!("the {what_en} is before 2000"),
        ));
    }
    Ok(())
}

pub(crate) fn check_text(field_nl: &str, field_en: &str, text: &str) -> Result<(), OutcomeError> {
    if text.chars().count() > MAX_TEXT {
        return Err(invalid(
            format!("{field_nl} is langer dan {MAX_TEXT} tekens"),
            format!("{field_en} is longer than {MAX_TEXT} characters"),
        ));
    }
    Ok(())
}

/// Stores a measurement in the caller's transaction; its id.
pub async fn add_measurement(
    w: &mut WriteTx,
    tenant: &str,
    instruments: &Instruments,
    by: &Actor,
    m: &NewMeasurement,
    evaluation: Option<&str>,
) -> Result<String, OutcomeError> {
    own_participant(w, tenant, &m.participant_id).await?;
    let Some(instrument) = instruments.get(&m.instrument) else {
        return Err(invalid(
            format!("onbekend instrument {:?}", m.instrument),
            format!("unknown instrument {:?}", m.instrument),
        ));
    };
    check_date("de meetdatum", "measurement date", m.measured_on)?;
    if m.scores.is_empty() {
        return Err(invalid("geen enkele score ingevuld", "no score given"));
    }
    let mut seen = HashSet::new();
    for s in &m.scores {
        if !seen.insert(s.domain.as_str()) {
            return Err(invalid(
                format!("domein {:?} staat er twee keer in", s.domain),
                format!("domain {:?} appears twice", s.domain),
            ));
        }
        instrument
            .check_score(&s.domain, s.score)
            .map_err(|e| invalid(e.clone(), e))?;
        if let Some(note) = &s.note {
            check_text("de toelichting", "the note", note)?;
        }
    }
    let id = new_id();
    let at = now();
    if let Some(old) = &m.supersedes {
        let done = sqlx::query(
            "UPDATE measurements SET superseded_by = $1 WHERE id = $2 AND tenant_id = $3 \
             AND participant_id = $4 AND superseded_by IS NULL",
        )
        .bind(&id)
        .bind(old)
        .bind(tenant)
        .bind(&m.participant_id)
        .execute(&mut *w.tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(invalid(
                "de meting die u corrigeert bestaat niet of is al gecorrigeerd",
                "the measurement to correct does not exist or was corrected already",
            ));
        }
    }
    sqlx::query(
        "INSERT INTO measurements (id, tenant_id, participant_id, instrument, instrument_version, \
         measured_on, scored_by, scored_by_name, evaluation_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(tenant)
    .bind(&m.participant_id)
    .bind(&instrument.id)
    .bind(&instrument.version)
    .bind(m.measured_on.to_string())
    .bind(&by.actor)
    .bind(&by.name)
    .bind(evaluation)
    .bind(&at)
    .execute(&mut *w.tx)
    .await
    .context("cannot store the measurement")?;
    let mut p = Params::new(crate::store::Backend::of(&w.tx));
    let sql = format!(
        "INSERT INTO measurement_scores (measurement_id, domain, score, note) VALUES {}",
        p.rows(m.scores.len(), 4)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for s in &m.scores {
        q = q
            .bind(&id)
            .bind(&s.domain)
            .bind(s.score)
            .bind(s.note.as_deref().map(str::trim).filter(|n| !n.is_empty()));
    }
    q.execute(&mut *w.tx)
        .await
        .context("cannot store the scores")?;
    Ok(id)
}

const MEASUREMENT: &str = "SELECT id, participant_id, instrument, instrument_version, measured_on, \
     scored_by, scored_by_name, evaluation_id, created_at FROM measurements";

/// The current measurements of a participant, oldest first.
pub async fn measurements_of(
    pool: &AnyPool,
    tenant: &str,
    participant: &str,
) -> Result<Vec<Measurement>> {
    let rows: Vec<MeasurementRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{MEASUREMENT} WHERE tenant_id = $1 AND participant_id = $2 AND superseded_by IS NULL \
         ORDER BY measured_on, created_at, id"
    )))
    .bind(tenant)
    .bind(participant)
    .fetch_all(pool)
    .await
    .context("cannot read measurements")?;
    with_scores(pool, rows).await
}

/// A measurement as the AVG export shows it: current or corrected.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoricMeasurement {
    #[serde(flatten)]
    pub measurement: Measurement,
    /// The measurement that corrected this one.
    pub superseded_by: Option<String>,
}

/// Every measurement of a participant, corrected ones included, oldest
/// first: what the AVG export shows.
pub async fn history_of(
    pool: &AnyPool,
    tenant: &str,
    participant: &str,
) -> Result<Vec<HistoricMeasurement>> {
    let rows: Vec<MeasurementRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{MEASUREMENT} WHERE tenant_id = $1 AND participant_id = $2 ORDER BY measured_on, created_at, id"
    )))
    .bind(tenant)
    .bind(participant)
    .fetch_all(pool)
    .await
    .context("cannot read measurements")?;
    let corrected: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, superseded_by FROM measurements WHERE tenant_id = $1 AND participant_id = $2 \
         AND superseded_by IS NOT NULL",
    )
    .bind(tenant)
    .bind(participant)
    .fetch_all(pool)
    .await
    .context("cannot read corrected measurements")?;
    Ok(with_scores(pool, rows)
        .await?
        .into_iter()
        .map(|measurement| HistoricMeasurement {
            superseded_by: corrected
                .iter()
                .find(|(id, _)| *id == measurement.row.id)
                .map(|(_, by)| by.clone()),
            measurement,
        })
        .collect())
}

/// Removes the free text of a participant's outcome data (notes per
/// domain, goals, next steps, progress notes) when retention pseudonymises
/// them: text typed about a person can name or describe them, while the
/// scores and dates, without a name, still count in the figures.
pub async fn pseudonymise(w: &mut WriteTx, tenant: &str, participant: &str) -> Result<()> {
    for sql in [
        "UPDATE measurement_scores SET note = NULL WHERE note IS NOT NULL AND measurement_id IN \
         (SELECT id FROM measurements WHERE tenant_id = $1 AND participant_id = $2)",
        "UPDATE goals SET text = '' WHERE tenant_id = $1 AND participant_id = $2",
        "UPDATE evaluations SET next_step = '' WHERE tenant_id = $1 AND participant_id = $2",
        "UPDATE evaluation_goals SET note = NULL WHERE note IS NOT NULL AND evaluation_id IN \
         (SELECT id FROM evaluations WHERE tenant_id = $1 AND participant_id = $2)",
    ] {
        sqlx::query(sql)
            .bind(tenant)
            .bind(participant)
            .execute(&mut *w.tx)
            .await
            .context("cannot remove the outcome notes")?;
    }
    Ok(())
}

/// The current measurements of `participants` (all of the tenant's when
/// `None`) with one instrument, oldest first per participant: what the
/// outcome views, the reports and the results claims read.
pub async fn measurements_with(
    pool: &AnyPool,
    tenant: &str,
    instrument: &str,
    participants: Option<&[String]>,
) -> Result<Vec<Measurement>> {
    let mut out = Vec::new();
    match participants {
        None => {
            let rows: Vec<MeasurementRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{MEASUREMENT} WHERE tenant_id = $1 AND instrument = $2 AND superseded_by IS NULL \
                 ORDER BY participant_id, measured_on, created_at, id"
            )))
            .bind(tenant)
            .bind(instrument)
            .fetch_all(pool)
            .await
            .context("cannot read measurements")?;
            // The scores of the same measurements in one statement, not
            // one list of ids per 500 (a tenant's whole instrument: the
            // aggregate page's read).
            let scores: Vec<ScoreRow> = sqlx::query_as(
                "SELECT s.measurement_id, s.domain, s.score, s.note FROM measurement_scores s \
                 JOIN measurements m ON m.id = s.measurement_id \
                 WHERE m.tenant_id = $1 AND m.instrument = $2 AND m.superseded_by IS NULL",
            )
            .bind(tenant)
            .bind(instrument)
            .fetch_all(pool)
            .await
            .context("cannot read scores")?;
            out.extend(attach(rows, scores));
        }
        Some(ids) => {
            for chunk in ids.chunks(500) {
                // Numbered placeholders: both backends take them, and a
                // read of 500 is far from where SQLite's lookup of named
                // parameters costs anything.
                let list = (3..chunk.len() + 3)
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "{MEASUREMENT} WHERE tenant_id = $1 AND instrument = $2 AND superseded_by IS NULL \
                     AND participant_id IN ({list}) ORDER BY participant_id, measured_on, created_at, id"
                );
                let mut q = sqlx::query_as::<_, MeasurementRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant)
                    .bind(instrument);
                for id in chunk {
                    q = q.bind(id);
                }
                let rows = q
                    .fetch_all(pool)
                    .await
                    .context("cannot read measurements")?;
                out.extend(with_scores(pool, rows).await?);
            }
        }
    }
    Ok(out)
}

/// Adds the scores to measurement rows, keeping their order.
async fn with_scores(pool: &AnyPool, rows: Vec<MeasurementRow>) -> Result<Vec<Measurement>> {
    let mut scores = Vec::new();
    for chunk in rows.chunks(500) {
        let list = (1..=chunk.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT measurement_id, domain, score, note FROM measurement_scores \
             WHERE measurement_id IN ({list})"
        );
        let mut q = sqlx::query_as::<_, ScoreRow>(sqlx::AssertSqlSafe(sql));
        for r in chunk {
            q = q.bind(&r.id);
        }
        scores.extend(q.fetch_all(pool).await.context("cannot read scores")?);
    }
    Ok(attach(rows, scores))
}

/// Measurement rows with their scores, in the rows' order.
fn attach(rows: Vec<MeasurementRow>, scores: Vec<ScoreRow>) -> Vec<Measurement> {
    let mut by: std::collections::HashMap<String, Vec<ScoreRow>> =
        std::collections::HashMap::with_capacity(rows.len());
    for s in scores {
        by.entry(s.measurement_id.clone()).or_default().push(s);
    }
    rows.into_iter()
        .map(|row| Measurement {
            scores: by.remove(&row.id).unwrap_or_default(),
            row,
        })
        .collect()
}

/// Where a goal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoalStatus {
    Open,
    Reached,
    Stopped,
}

impl GoalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GoalStatus::Open => "open",
            GoalStatus::Reached => "reached",
            GoalStatus::Stopped => "stopped",
        }
    }

    pub fn parse(s: &str) -> Option<GoalStatus> {
        [GoalStatus::Open, GoalStatus::Reached, GoalStatus::Stopped]
            .into_iter()
            .find(|g| g.as_str() == s)
    }

    pub fn nl(self) -> &'static str {
        match self {
            GoalStatus::Open => "loopt",
            GoalStatus::Reached => "behaald",
            GoalStatus::Stopped => "gestopt",
        }
    }
}

/// Progress on a goal at an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    None,
    Some,
    Much,
    Reached,
    Stopped,
}

impl Progress {
    pub const ALL: [Progress; 5] = [
        Progress::None,
        Progress::Some,
        Progress::Much,
        Progress::Reached,
        Progress::Stopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Progress::None => "none",
            Progress::Some => "some",
            Progress::Much => "much",
            Progress::Reached => "reached",
            Progress::Stopped => "stopped",
        }
    }

    pub fn parse(s: &str) -> Option<Progress> {
        Progress::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn nl(self) -> &'static str {
        match self {
            Progress::None => "geen vooruitgang",
            Progress::Some => "enige vooruitgang",
            Progress::Much => "veel vooruitgang",
            Progress::Reached => "behaald",
            Progress::Stopped => "gestopt (niet meer van toepassing)",
        }
    }
}

/// A goal as stored, with the domains it concerns.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct GoalRow {
    pub id: String,
    pub participant_id: String,
    pub text: String,
    pub agreed_on: String,
    pub status: String,
    pub closed_on: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Goal {
    #[serde(flatten)]
    pub row: GoalRow,
    /// (instrument, domain); in JSON `{"instrument", "domain"}`.
    #[serde(serialize_with = "domain_objects")]
    pub domains: Vec<(String, String)>,
}

fn domain_objects<S: serde::Serializer>(
    domains: &[(String, String)],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(domains.len()))?;
    for (instrument, domain) in domains {
        seq.serialize_element(&serde_json::json!({"instrument": instrument, "domain": domain}))?;
    }
    seq.end()
}

/// A goal to store.
#[derive(Debug, Clone)]
pub struct NewGoal {
    pub participant_id: String,
    /// In the participant's words.
    pub text: String,
    pub agreed_on: NaiveDate,
    /// (instrument, domain) the goal concerns.
    pub domains: Vec<(String, String)>,
}

/// Adds a goal agreed with the participant; its id.
pub async fn add_goal(
    w: &mut WriteTx,
    tenant: &str,
    instruments: &Instruments,
    by: &Actor,
    goal: &NewGoal,
) -> Result<String, OutcomeError> {
    let (participant, agreed_on, domains) = (&goal.participant_id, goal.agreed_on, &goal.domains);
    own_participant(w, tenant, participant).await?;
    let text = goal.text.trim();
    if text.is_empty() {
        return Err(invalid("het doel is leeg", "the goal is empty"));
    }
    check_text("het doel", "the goal", text)?;
    check_date("de datum van het doel", "goal's date", agreed_on)?;
    for (i, d) in domains {
        if instruments.get(i).and_then(|i| i.domain(d)).is_none() {
            return Err(invalid(
                format!("onbekend domein {i}/{d}"),
                format!("unknown domain {i}/{d}"),
            ));
        }
    }
    let id = new_id();
    sqlx::query(
        "INSERT INTO goals (id, tenant_id, participant_id, text, agreed_on, status, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'open', $6, $7)",
    )
    .bind(&id)
    .bind(tenant)
    .bind(participant)
    .bind(text)
    .bind(agreed_on.to_string())
    .bind(&by.actor)
    .bind(now())
    .execute(&mut *w.tx)
    .await
    .context("cannot store the goal")?;
    let mut unique: Vec<&(String, String)> = domains.iter().collect();
    unique.sort();
    unique.dedup();
    for (i, d) in unique {
        sqlx::query("INSERT INTO goal_domains (goal_id, instrument, domain) VALUES ($1, $2, $3)")
            .bind(&id)
            .bind(i)
            .bind(d)
            .execute(&mut *w.tx)
            .await
            .context("cannot store the goal's domains")?;
    }
    Ok(id)
}

/// Every goal of a participant, open ones first, then by date agreed.
pub async fn goals_of(pool: &AnyPool, tenant: &str, participant: &str) -> Result<Vec<Goal>> {
    let rows: Vec<GoalRow> = sqlx::query_as(
        "SELECT id, participant_id, text, agreed_on, status, closed_on, created_by, created_at \
         FROM goals WHERE tenant_id = $1 AND participant_id = $2 \
         ORDER BY CASE status WHEN 'open' THEN 0 ELSE 1 END, agreed_on, created_at, id",
    )
    .bind(tenant)
    .bind(participant)
    .fetch_all(pool)
    .await
    .context("cannot read goals")?;
    let domains: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT d.goal_id, d.instrument, d.domain FROM goal_domains d \
         JOIN goals g ON g.id = d.goal_id WHERE g.tenant_id = $1 AND g.participant_id = $2 \
         ORDER BY d.instrument, d.domain",
    )
    .bind(tenant)
    .bind(participant)
    .fetch_all(pool)
    .await
    .context("cannot read the goals' domains")?;
    Ok(rows
        .into_iter()
        .map(|row| Goal {
            domains: domains
                .iter()
                .filter(|(g, _, _)| *g == row.id)
                .map(|(_, i, d)| (i.clone(), d.clone()))
                .collect(),
            row,
        })
        .collect())
}

/// Progress on one goal, as the evaluation form records it.
#[derive(Debug, Clone)]
pub struct GoalProgress {
    pub goal_id: String,
    pub progress: Progress,
    pub note: Option<String>,
}

/// An evaluation to store, with its measurements.
#[derive(Debug, Clone)]
pub struct NewEvaluation {
    pub participant_id: String,
    pub held_on: NaiveDate,
    pub period_from: NaiveDate,
    pub period_to: NaiveDate,
    pub next_step: String,
    /// The participant's own mark, 1 to 10.
    pub satisfaction: Option<i64>,
    /// Taken in the evaluation (each with `measured_on` the day held).
    pub measurements: Vec<NewMeasurement>,
    pub progress: Vec<GoalProgress>,
}

/// Stores an evaluation, its measurements and the progress on its goals in
/// the caller's transaction; a goal marked reached or stopped is closed on
/// the day of the evaluation. Its id.
pub async fn add_evaluation(
    w: &mut WriteTx,
    tenant: &str,
    instruments: &Instruments,
    by: &Actor,
    e: &NewEvaluation,
) -> Result<String, OutcomeError> {
    own_participant(w, tenant, &e.participant_id).await?;
    check_date("de datum van de evaluatie", "evaluation date", e.held_on)?;
    if e.period_from > e.period_to {
        return Err(invalid(
            "de periode begint na haar einde",
            "the period begins after its end",
        ));
    }
    check_text("de volgende stap", "the next step", &e.next_step)?;
    if let Some(s) = e.satisfaction
        && !(1..=10).contains(&s)
    {
        return Err(invalid(
            "het rapportcijfer moet van 1 tot en met 10 zijn",
            "the satisfaction mark must be 1 to 10",
        ));
    }
    let id = new_id();
    sqlx::query(
        "INSERT INTO evaluations (id, tenant_id, participant_id, held_on, period_from, period_to, \
         next_step, satisfaction, written_by, written_by_name, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&id)
    .bind(tenant)
    .bind(&e.participant_id)
    .bind(e.held_on.to_string())
    .bind(e.period_from.to_string())
    .bind(e.period_to.to_string())
    .bind(e.next_step.trim())
    .bind(e.satisfaction)
    .bind(&by.actor)
    .bind(&by.name)
    .bind(now())
    .execute(&mut *w.tx)
    .await
    .context("cannot store the evaluation")?;
    for m in &e.measurements {
        if m.participant_id != e.participant_id {
            return Err(invalid(
                "een meting van een andere deelnemer",
                "a measurement of another participant",
            ));
        }
        add_measurement(w, tenant, instruments, by, m, Some(&id)).await?;
    }
    let mut seen = HashSet::new();
    for g in &e.progress {
        if !seen.insert(g.goal_id.as_str()) {
            return Err(invalid(
                "een doel staat er twee keer in",
                "a goal appears twice",
            ));
        }
        if let Some(note) = &g.note {
            check_text("de toelichting", "the note", note)?;
        }
        let found: Option<(String,)> = sqlx::query_as(
            "SELECT status FROM goals WHERE id = $1 AND tenant_id = $2 AND participant_id = $3",
        )
        .bind(&g.goal_id)
        .bind(tenant)
        .bind(&e.participant_id)
        .fetch_optional(&mut *w.tx)
        .await?;
        let Some((status,)) = found else {
            return Err(invalid(
                "een doel van een andere deelnemer of dat niet bestaat",
                "a goal of another participant or one that does not exist",
            ));
        };
        sqlx::query(
            "INSERT INTO evaluation_goals (evaluation_id, goal_id, progress, note) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(&g.goal_id)
        .bind(g.progress.as_str())
        .bind(g.note.as_deref().map(str::trim).filter(|n| !n.is_empty()))
        .execute(&mut *w.tx)
        .await
        .context("cannot store the progress")?;
        let closes = match g.progress {
            Progress::Reached => Some(GoalStatus::Reached),
            Progress::Stopped => Some(GoalStatus::Stopped),
            _ => None,
        };
        if let Some(to) = closes
            && status == GoalStatus::Open.as_str()
        {
            sqlx::query("UPDATE goals SET status = $1, closed_on = $2 WHERE id = $3")
                .bind(to.as_str())
                .bind(e.held_on.to_string())
                .bind(&g.goal_id)
                .execute(&mut *w.tx)
                .await
                .context("cannot close the goal")?;
        }
    }
    Ok(id)
}

/// An evaluation as stored.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct EvaluationRow {
    pub id: String,
    pub participant_id: String,
    pub held_on: String,
    pub period_from: String,
    pub period_to: String,
    pub next_step: String,
    pub satisfaction: Option<i64>,
    pub written_by: String,
    pub written_by_name: String,
    pub created_at: String,
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct ProgressRow {
    pub evaluation_id: String,
    pub goal_id: String,
    pub progress: String,
    pub note: Option<String>,
}

/// An evaluation with the progress it recorded per goal.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Evaluation {
    #[serde(flatten)]
    pub row: EvaluationRow,
    pub progress: Vec<ProgressRow>,
}

/// Every evaluation of a participant, newest first.
pub async fn evaluations_of(
    pool: &AnyPool,
    tenant: &str,
    participant: &str,
) -> Result<Vec<Evaluation>> {
    let rows: Vec<EvaluationRow> = sqlx::query_as(
        "SELECT id, participant_id, held_on, period_from, period_to, next_step, satisfaction, \
         written_by, written_by_name, created_at FROM evaluations \
         WHERE tenant_id = $1 AND participant_id = $2 ORDER BY held_on DESC, created_at DESC, id",
    )
    .bind(tenant)
    .bind(participant)
    .fetch_all(pool)
    .await
    .context("cannot read evaluations")?;
    let progress: Vec<ProgressRow> = sqlx::query_as(
        "SELECT p.evaluation_id, p.goal_id, p.progress, p.note FROM evaluation_goals p \
         JOIN evaluations e ON e.id = p.evaluation_id WHERE e.tenant_id = $1 AND e.participant_id = $2",
    )
    .bind(tenant)
    .bind(participant)
    .fetch_all(pool)
    .await
    .context("cannot read the evaluations' progress")?;
    Ok(rows
        .into_iter()
        .map(|row| Evaluation {
            progress: progress
                .iter()
                .filter(|p| p.evaluation_id == row.id)
                .cloned()
                .collect(),
            row,
        })
        .collect())
}

/// Sets (or with `None` removes) a participant's own evaluation interval.
pub async fn set_plan(
    w: &mut WriteTx,
    tenant: &str,
    by: &Actor,
    participant: &str,
    every_weeks: Option<i64>,
) -> Result<(), OutcomeError> {
    own_participant(w, tenant, participant).await?;
    sqlx::query("DELETE FROM evaluation_plans WHERE participant_id = $1")
        .bind(participant)
        .execute(&mut *w.tx)
        .await?;
    if let Some(weeks) = every_weeks {
        if !(1..=52).contains(&weeks) {
            return Err(invalid(
                "evalueer elke 1 tot 52 weken",
                "evaluate every 1 to 52 weeks",
            ));
        }
        sqlx::query(
            "INSERT INTO evaluation_plans (participant_id, tenant_id, every_weeks, set_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(participant)
        .bind(tenant)
        .bind(weeks)
        .bind(&by.actor)
        .bind(now())
        .execute(&mut *w.tx)
        .await?;
    }
    Ok(())
}

/// A participant's own evaluation interval in weeks, if set.
pub async fn plan_of(pool: &AnyPool, tenant: &str, participant: &str) -> Result<Option<i64>> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT every_weeks FROM evaluation_plans WHERE tenant_id = $1 AND participant_id = $2",
    )
    .bind(tenant)
    .bind(participant)
    .fetch_optional(pool)
    .await
    .context("cannot read the evaluation plan")?;
    Ok(row.map(|(w,)| w))
}

/// Replaces the groups a user works with.
pub async fn set_user_groups(w: &mut WriteTx, user_id: &str, groups: &[String]) -> Result<()> {
    sqlx::query("DELETE FROM user_groups WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *w.tx)
        .await
        .context("cannot replace the user's groups")?;
    let mut groups: Vec<&str> = groups
        .iter()
        .map(|g| g.trim())
        .filter(|g| !g.is_empty())
        .collect();
    groups.sort();
    groups.dedup();
    for g in groups {
        sqlx::query("INSERT INTO user_groups (user_id, group_name) VALUES ($1, $2)")
            .bind(user_id)
            .bind(g)
            .execute(&mut *w.tx)
            .await
            .context("cannot store the user's group")?;
    }
    Ok(())
}

/// The groups a user works with, sorted.
pub async fn groups_of_user(pool: &AnyPool, user_id: &str) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT group_name FROM user_groups WHERE user_id = $1 ORDER BY group_name")
            .bind(user_id)
            .fetch_all(pool)
            .await
            .context("cannot read the user's groups")?;
    Ok(rows.into_iter().map(|(g,)| g).collect())
}

/// Where a participant's evaluation interval comes from, most specific
/// first: what the begeleider agreed with the participant beats what a
/// financier's contract asks, which beats the group's rhythm, which beats
/// the provider's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntervalSource {
    /// The participant's own plan (`evaluation_plans`).
    Plan,
    /// `[outcomes] evaluation_weeks` of this financier (its name).
    Financier(String),
    /// `[evaluations.groups]` for this group.
    Group(String),
    /// `[evaluations] every_weeks`.
    Default,
}

impl IntervalSource {
    /// What the due list says about it.
    pub fn nl(&self) -> String {
        match self {
            IntervalSource::Plan => "eigen plan".to_string(),
            IntervalSource::Financier(f) => format!("contract {f}"),
            IntervalSource::Group(g) => format!("groep {g}"),
            IntervalSource::Default => "standaard".to_string(),
        }
    }
}

/// The interval that applies (in weeks) and where it comes from. Of several
/// financiers the shortest interval wins: every contract's rhythm is then
/// met.
pub fn interval(
    plan: Option<i64>,
    financiers: &[(String, u32)],
    group: Option<&str>,
    settings: &EvaluationSettings,
) -> (u32, IntervalSource) {
    if let Some(weeks) = plan.and_then(|w| u32::try_from(w).ok()).filter(|w| *w > 0) {
        return (weeks, IntervalSource::Plan);
    }
    if let Some((name, weeks)) = financiers
        .iter()
        .filter(|(_, w)| *w > 0)
        .min_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)))
    {
        return (*weeks, IntervalSource::Financier(name.clone()));
    }
    if let Some((g, weeks)) = group.and_then(|g| settings.groups.get_key_value(g))
        && *weeks > 0
    {
        return (*weeks, IntervalSource::Group(g.clone()));
    }
    (settings.every_weeks.max(1), IntervalSource::Default)
}

/// The day the next evaluation is due: the last one plus the interval, or,
/// before any evaluation, the start of care plus the interval (the first
/// evaluation looks back on the first period). `None` without either.
pub fn due_date(
    last_held: Option<NaiveDate>,
    start: Option<NaiveDate>,
    weeks: u32,
) -> Option<NaiveDate> {
    last_held
        .or(start)
        .and_then(|d| d.checked_add_signed(chrono::Duration::weeks(i64::from(weeks))))
}

/// One line of the due list.
#[derive(Debug, Clone)]
pub struct DueEvaluation {
    pub participant_id: String,
    pub name: serde_json::Value,
    pub group: Option<String>,
    pub weeks: u32,
    pub source: IntervalSource,
    pub last_held: Option<NaiveDate>,
    pub due: NaiveDate,
    pub overdue: bool,
}

#[derive(sqlx::FromRow)]
struct DueParticipant {
    id: String,
    name_json: String,
    group_name: Option<String>,
}

/// The participants in care (an allocation in force today, or a
/// registration in the last 90 days) of the `groups` given (all when
/// `None`), with their next evaluation: overdue first, then by due date.
pub async fn due_evaluations(
    pool: &AnyPool,
    tenant: &str,
    mappings: &crate::mapping::Mappings,
    settings: &EvaluationSettings,
    groups: Option<&[String]>,
    today: NaiveDate,
) -> Result<Vec<DueEvaluation>> {
    let day = today.to_string();
    let people: Vec<DueParticipant> =
        sqlx::query_as("SELECT id, name_json, group_name FROM participants WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_all(pool)
            .await
            .context("cannot read participants")?;
    let people: Vec<DueParticipant> = people
        .into_iter()
        .filter(|p| match groups {
            None => true,
            Some(gs) => p
                .group_name
                .as_deref()
                .is_some_and(|g| gs.iter().any(|x| x == g)),
        })
        .collect();
    let allocations: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT a.participant_id, a.ingangsdatum, f.kind, f.code, f.name FROM allocations a \
         JOIN financiers f ON f.id = a.financier_id WHERE a.tenant_id = $1 \
         AND a.ingangsdatum <= $2 AND (a.einddatum IS NULL OR a.einddatum >= $2) \
         AND a.status IN ('allocated', 'started')",
    )
    .bind(tenant)
    .bind(&day)
    .fetch_all(pool)
    .await
    .context("cannot read the allocations in force")?;
    let since = (today - chrono::Duration::days(90)).to_string();
    let registrations: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT participant_id, MIN(day), MAX(day) FROM registrations \
         WHERE tenant_id = $1 AND superseded_by IS NULL GROUP BY participant_id",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await
    .context("cannot read the first registrations")?;
    let last: Vec<(String, String)> = sqlx::query_as(
        "SELECT participant_id, MAX(held_on) FROM evaluations WHERE tenant_id = $1 \
         GROUP BY participant_id",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await
    .context("cannot read the last evaluations")?;
    let plans: Vec<(String, i64)> = sqlx::query_as(
        "SELECT participant_id, every_weeks FROM evaluation_plans WHERE tenant_id = $1",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await
    .context("cannot read the evaluation plans")?;
    // Care that ended (registered end of care up to today): no evaluation
    // is due any more, however recently the participant came.
    let ended: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT participant_id FROM participant_ends WHERE tenant_id = $1 AND end_date <= $2",
    )
    .bind(tenant)
    .bind(&day)
    .fetch_all(pool)
    .await
    .context("cannot read the ends of care")?;
    let date = |s: &str| s.parse::<NaiveDate>().ok();
    let mut out = Vec::new();
    for p in people {
        let own: Vec<&(String, String, String, String, String)> =
            allocations.iter().filter(|a| a.0 == p.id).collect();
        let regs = registrations.iter().find(|r| r.0 == p.id);
        let recent = regs.is_some_and(|r| r.2 >= since) && !ended.iter().any(|(e,)| *e == p.id);
        if own.is_empty() && !recent {
            continue;
        }
        let start = own
            .iter()
            .filter_map(|a| date(&a.1))
            .min()
            .or_else(|| regs.and_then(|r| date(&r.1)));
        let financiers: Vec<(String, u32)> = own
            .iter()
            .filter_map(|a| {
                let kind = crate::mapping::Kind::parse(&a.2)?;
                let mapping = mappings.get(&crate::mapping::FinancierKey::new(kind, &a.3))?;
                let name = if a.4.is_empty() {
                    mapping.financier.name.clone()
                } else {
                    a.4.clone()
                };
                Some((name, mapping.evaluation_weeks?))
            })
            .collect();
        let plan = plans.iter().find(|x| x.0 == p.id).map(|x| x.1);
        let (weeks, source) = interval(plan, &financiers, p.group_name.as_deref(), settings);
        let last_held = last.iter().find(|x| x.0 == p.id).and_then(|x| date(&x.1));
        let Some(due) = due_date(last_held, start, weeks) else {
            continue;
        };
        out.push(DueEvaluation {
            participant_id: p.id,
            name: serde_json::from_str(&p.name_json).unwrap_or_default(),
            group: p.group_name,
            weeks,
            source,
            last_held,
            due,
            overdue: due < today,
        });
    }
    out.sort_by(|a, b| {
        b.overdue
            .cmp(&a.overdue)
            .then(a.due.cmp(&b.due))
            .then_with(|| a.participant_id.cmp(&b.participant_id))
    });
    Ok(out)
}

/// The current day notes of a participant in a period, oldest first: what
/// the evaluation form shows so the daily report is written once.
pub async fn day_notes(
    pool: &AnyPool,
    tenant: &str,
    participant: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT day, day_note FROM registrations WHERE tenant_id = $1 AND participant_id = $2 \
         AND superseded_by IS NULL AND day >= $3 AND day <= $4 AND day_note IS NOT NULL \
         AND day_note <> '' ORDER BY day, created_at",
    )
    .bind(tenant)
    .bind(participant)
    .bind(from.to_string())
    .bind(to.to_string())
    .fetch_all(pool)
    .await
    .context("cannot read the day notes")
}

#[cfg(test)]
mod due_tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn settings() -> EvaluationSettings {
        EvaluationSettings {
            every_weeks: 6,
            groups: [("Kas".to_string(), 8)].into_iter().collect(),
        }
    }

    #[test]
    fn the_most_specific_interval_applies() {
        let s = settings();
        let two = [("Gemeente A".to_string(), 5), ("UWV".to_string(), 4)];
        assert_eq!(
            interval(Some(3), &two, Some("Kas"), &s),
            (3, IntervalSource::Plan)
        );
        assert_eq!(
            interval(None, &two, Some("Kas"), &s),
            (4, IntervalSource::Financier("UWV".into()))
        );
        assert_eq!(
            interval(None, &[], Some("Kas"), &s),
            (8, IntervalSource::Group("Kas".into()))
        );
        assert_eq!(
            interval(None, &[], Some("Hout"), &s),
            (6, IntervalSource::Default)
        );
        assert_eq!(interval(None, &[], None, &s), (6, IntervalSource::Default));
    }

    #[test]
    fn due_counts_from_the_last_evaluation_or_the_start() {
        assert_eq!(
            due_date(Some(d("2026-10-01")), Some(d("2026-01-05")), 6),
            Some(d("2026-11-12"))
        );
        assert_eq!(
            due_date(None, Some(d("2026-01-05")), 4),
            Some(d("2026-02-02"))
        );
        assert_eq!(due_date(None, None, 6), None);
    }
}
