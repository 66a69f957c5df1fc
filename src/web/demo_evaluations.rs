//! The demo's goals, evaluation plans, evaluations, day notes and the
//! jobcoach's groups (`loket serve --demo`), so the due list on the start
//! page shows overdue evaluations and ones due this week at once, and the
//! evaluation form has day notes and goals to work with.
//!
//! Everything goes through the one writer ([`crate::record::outcomes`]), as
//! the jobcoach who would have typed it.

use anyhow::{Context, Result};
use chrono::{Datelike, Duration, NaiveDate};

use crate::instrument::{LADDER, LADDER_DOMAIN, POSITIVE_HEALTH, ZRM};
use crate::record::access::Actor;
use crate::record::outcomes::{self, GoalProgress, NewEvaluation, NewGoal, Progress};
use crate::server::AppState;

/// Goals as participants put them, with the domains they concern.
const GOALS: [(&str, &[(&str, &str)]); 9] = [
    (
        "Elke werkdag op tijd beginnen, zonder dat iemand me hoeft te bellen",
        &[(ZRM, "tijdsbesteding")],
    ),
    (
        "Zelf mijn boodschappen en mijn geld voor de week regelen",
        &[(ZRM, "financien")],
    ),
    (
        "Twee dagen per week meedraaien in de koffiebranderij als vaste kracht",
        &[(LADDER, LADDER_DOMAIN)],
    ),
    (
        "Een stageplek vinden bij een bedrijf in de buurt",
        &[(LADDER, LADDER_DOMAIN), (ZRM, "werk_opleiding")],
    ),
    (
        "Beter slapen en minder piekeren",
        &[(POSITIVE_HEALTH, "mentaal_welbevinden")],
    ),
    (
        "Contact houden met mijn broer, één keer per week bellen",
        &[(ZRM, "sociaal_netwerk")],
    ),
    (
        "Zelfstandig met de bus naar de werkplaats reizen",
        &[(ZRM, "maatschappelijke_participatie")],
    ),
    (
        "Mijn post openen en de rekeningen op tijd betalen",
        &[(ZRM, "financien")],
    ),
    (
        "Een cursus veilig werken met machines afronden",
        &[(ZRM, "werk_opleiding")],
    ),
];

const NEXT_STEPS: [&str; 4] = [
    "Over zes weken kijken we of het rooster van twee vaste dagen haalbaar blijft.",
    "Samen met de deelnemer een gesprek plannen met de werkgever.",
    "De deelnemer houdt een weekoverzicht bij; volgende keer bespreken we het.",
    "Budgetcoach inschakelen en de afspraken in het plan aanpassen.",
];

/// A day note for a handful of registrations of participant `n` (the demo
/// registration's loop index) on `day`: a few sentences a begeleider
/// writes at the end of a day.
pub fn day_note(n: usize, day: NaiveDate) -> Option<String> {
    const NOTES: [&str; 6] = [
        "Goed gewerkt, zelf de machine schoongemaakt.",
        "Was onrustig in de ochtend; na de pauze ging het beter.",
        "Heeft voor het eerst zelf de bestelling aangenomen.",
        "Te laat gekomen, bus gemist. Afgesproken om eerder te vertrekken.",
        "Vertelde trots over het gesprek met de werkgever.",
        "Moe, vroeg naar huis gegaan; morgen even navragen hoe het gaat.",
    ];
    let roll = (n * 5 + day.day() as usize * 7) % 11;
    (roll == 0 || (roll == 4 && n.is_multiple_of(3)))
        .then(|| NOTES[(n + day.day() as usize) % NOTES.len()].to_string())
}

/// Seeds the outcomes of the demo's `participants` (their ids, in the
/// demo's order): jobcoach's groups, 1–3 goals each, a plan of four weeks
/// for every fifth, and evaluations so that about a third is overdue, a
/// third due this week and a third later.
pub async fn seed(
    state: &AppState,
    tenant: &str,
    participants: &[String],
    today: NaiveDate,
) -> Result<()> {
    let store = state.store();
    let pool = store.pool();
    let jobcoach: Option<(String,)> =
        sqlx::query_as("SELECT id FROM users WHERE tenant_id = $1 AND username = 'jobcoach'")
            .bind(tenant)
            .fetch_optional(pool)
            .await?;
    let groups: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT group_name FROM participants WHERE tenant_id = $1 AND group_name IS NOT NULL",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await?;
    let by = Actor::user("jobcoach", "Jamila (jobcoach)", "begeleider", None);
    let mut w = store.begin_write().await?;
    if let Some((uid,)) = jobcoach {
        let groups: Vec<String> = groups.into_iter().map(|(g,)| g).collect();
        outcomes::set_user_groups(&mut w, &uid, &groups).await?;
    }
    let instruments = &state.instruments;
    for (i, id) in participants.iter().enumerate() {
        let start = today - Duration::days(70 + (i as i64 % 4) * 7);
        let mut goals = Vec::new();
        for k in 0..(1 + i % 3) {
            let (text, domains) = GOALS[(i * 2 + k) % GOALS.len()];
            let goal = NewGoal {
                participant_id: id.clone(),
                text: text.to_string(),
                agreed_on: start + Duration::days(k as i64 * 3),
                domains: domains
                    .iter()
                    .filter(|(inst, d)| instruments.get(inst).and_then(|x| x.domain(d)).is_some())
                    .map(|(inst, d)| (inst.to_string(), d.to_string()))
                    .collect(),
            };
            goals.push(
                outcomes::add_goal(&mut w, tenant, instruments, &by, &goal)
                    .await
                    .map_err(|e| anyhow::anyhow!("demo goal: {e}"))?,
            );
        }
        if i % 5 == 0 {
            outcomes::set_plan(&mut w, tenant, &by, id, Some(4))
                .await
                .map_err(|e| anyhow::anyhow!("demo plan: {e}"))?;
        }
        // A third never evaluated (overdue since the start plus the
        // interval), a third evaluated five and a half weeks ago (due this
        // week), a third two weeks ago.
        // Not by `i % 3`: that is the demo's group, and every group should
        // show all three.
        let held = match (i + i / 3) % 3 {
            0 => continue,
            1 => today - Duration::days(38),
            _ => today - Duration::days(14),
        };
        // A plan of four weeks makes the one of 38 days ago overdue too.
        let progress = goals
            .iter()
            .enumerate()
            .map(|(k, g)| GoalProgress {
                goal_id: g.clone(),
                progress: match (i + k) % 5 {
                    0 if k == 0 && i % 4 == 0 => Progress::Reached,
                    0 | 1 => Progress::Some,
                    2 => Progress::Much,
                    _ => Progress::None,
                },
                note: None,
            })
            .collect();
        let evaluation = NewEvaluation {
            participant_id: id.clone(),
            held_on: held,
            period_from: start,
            period_to: held,
            next_step: NEXT_STEPS[i % NEXT_STEPS.len()].to_string(),
            satisfaction: Some(5 + (i as i64 * 3) % 5),
            measurements: Vec::new(),
            progress,
        };
        outcomes::add_evaluation(&mut w, tenant, instruments, &by, &evaluation)
            .await
            .map_err(|e| anyhow::anyhow!("demo evaluation: {e}"))?;
    }
    w.commit()
        .await
        .context("cannot store the demo's evaluations")?;
    Ok(())
}
