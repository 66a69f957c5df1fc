//! `loket serve --demo`: a provider with thirty participants financed by two
//! municipalities (Wmo 0363, Jeugdwet 0599) and, for seven of them, also by
//! UWV (orders paid on invoice), a month of registrations, the
//! declarations of that month, and a declaration answer with one rejected
//! line, so that a newcomer sees the whole flow in the browser. Municipality
//! 0363 is a tenant too: it holds the answer to the Wmo declaration for a
//! person's decision, and once sent that answer travels back into the
//! provider's inbox (a drop folder) and is applied there.
//!
//! Everything goes through the real paths: allocations arrive as WMO301 and
//! JW301 messages through [`crate::record::Ingest`], UWV orders through
//! [`crate::record::order::register`] (as `POST /allocations`), days are stored by
//! [`crate::registration::register`], declarations are made by
//! [`crate::engine::run`], 0363's 325 by its own judgement, and 0599's
//! JW325 (0599 is not a tenant) by the retour builder, received like any
//! other message. The demo's
//! mappings are the project's own with delivery to folders in the data
//! directory, since the example municipalities' addresses do not exist.

use std::path::Path;

use anyhow::{Context, Result};
use chrono::{Datelike, Duration, Months, NaiveDate};
use serde::Serialize;

use super::auth::{Role, add_user};
use crate::adapter::istandaard::encode::Builder;
use crate::adapter::istandaard::{self, Limits, RetourSettings};
use crate::config::Config;
use crate::finding::{Finding, Level};
use crate::record::order::{self, Order, OrderFinancier};
use crate::registration::{Item, Mode, RegistrationInput};
use crate::schema::Schema;
use crate::server::AppState;
use crate::store::{Tenant, TenantKind};

/// The demo provider's AGB code.
pub const DEMO_AGB: &str = "87654321";
/// The demo municipality (Wmo), a tenant of its own that judges the
/// provider's WMO323 and holds its 325 for a person's decision.
pub const DEMO_GEMEENTE: &str = "0363";
/// The municipality's demo users: user name, display name, role.
pub const DEMO_GEMEENTE_USERS: [(&str, &str, Role); 3] = [
    ("beoordelaar", "Greet (beoordelaar Wmo)", Role::Backoffice),
    ("gemeentebeheer", "Hans (beheer gemeente)", Role::Beheer),
    ("meekijker", "Ilse (alleen inzien)", Role::Begeleider),
];
/// The password of every demo user (printed at start).
pub const DEMO_PASSWORD: &str = "demo-wachtwoord";
/// Demo users: user name, display name, role.
pub const DEMO_USERS: [(&str, &str, Role); 3] = [
    ("jobcoach", "Jamila (jobcoach)", Role::Begeleider),
    ("backoffice", "Bas (backoffice)", Role::Backoffice),
    ("beheer", "Berend (beheer)", Role::Beheer),
];
const GROUPS: [(&str, &str); 3] = [
    ("Houtwerkplaats", "houtwerkplaats"),
    ("Kas", "kas"),
    ("Koffiebranderij", "koffiebranderij"),
];
/// UWV orders: participant index, service in `mappings/uwv-re-integratie.toml`,
/// activity.
const UWV_ORDERS: [(usize, &str, &str); 7] = [
    (0, "JC001", "jobcoaching"),
    (1, "JC001", "jobcoaching"),
    (2, "JC001", "jobcoaching"),
    (4, "JC001", "jobcoaching"),
    (5, "JC001", "jobcoaching"),
    (10, "WF001", "werkfit"),
    (11, "WF001", "werkfit"),
];
const FIRST: [&str; 10] = ["A", "B", "C", "D", "E", "F", "G", "H", "J", "K"];
const LAST: [&str; 15] = [
    "de Vries",
    "Jansen",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
];

/// What the demo made, for the start message and the browser tests.
#[derive(Debug, Clone, Serialize)]
pub struct Demo {
    pub tenant: String,
    pub api_token: Option<String>,
    pub participants: usize,
    /// The month with registrations and a declaration, YYYY-MM.
    pub month: String,
}

/// Points `config` at demo mappings in its data directory: the project's
/// mappings with delivery to `<data-dir>/verzonden/<financier>`.
pub fn prepare(config: &mut Config) -> Result<()> {
    let sources = demo_contracts(&config.mappings_dir)?;
    let dir = config.data_dir.join("demo-mappings");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let out = std::path::absolute(config.data_dir.join("verzonden"))?;
    for (name, text) in sources {
        let mut doc: toml::Table = toml::from_str(&text).with_context(|| name.clone())?;
        if let Some(toml::Value::Table(f)) = doc.get_mut("financier") {
            let folder = out.join(&name);
            std::fs::create_dir_all(&folder)?;
            let mut d = toml::Table::new();
            d.insert(
                "folder".into(),
                toml::Value::String(folder.display().to_string()),
            );
            f.insert("delivery".into(), toml::Value::Table(d));
        }
        write(&dir.join(format!("{name}.toml")), &toml::to_string(&doc)?)?;
    }
    gemeente_mapping(&dir, &out)?;
    config.mappings_dir = dir;
    // The provider's inbox: where the demo municipality's 325 arrives once a
    // person sends it, so the answer travels back as it would through the
    // exchange and the provider applies it.
    let inbox = std::path::absolute(config.data_dir.join(format!("inbox-{DEMO_AGB}")))?;
    std::fs::create_dir_all(&inbox)?;
    if !config.dropfolder.iter().any(|d| d.tenant == DEMO_AGB) {
        config
            .dropfolder
            .push(crate::transport::dropfolder::DropfolderConfig {
                tenant: DEMO_AGB.into(),
                inbox,
            });
    }
    Ok(())
}

/// The project's example contracts, built into the binary so that the demo
/// runs from any folder, also without a checkout beside it.
const BUILTIN: &[(&str, &str)] = &[
    (
        "gemeente-0363-participatiewet",
        include_str!("../../mappings/gemeente-0363-participatiewet.toml"),
    ),
    (
        "gemeente-0363-wmo",
        include_str!("../../mappings/gemeente-0363-wmo.toml"),
    ),
    (
        "gemeente-0599-jeugdwet",
        include_str!("../../mappings/gemeente-0599-jeugdwet.toml"),
    ),
    (
        "social-impact-werk",
        include_str!("../../mappings/social-impact-werk.toml"),
    ),
    (
        "uwv-re-integratie",
        include_str!("../../mappings/uwv-re-integratie.toml"),
    ),
];

/// The contracts the demo starts from, by file stem: the `.toml` files of
/// the mappings folder when there is one; the built-in ones when no folder
/// was named and none is found (see `config::default_mappings`). A folder
/// named with `--mappings` that is not there is an error.
fn demo_contracts(mappings: &Path) -> Result<Vec<(String, String)>> {
    if !mappings.is_dir() {
        if mappings == Path::new("mappings") {
            return Ok(BUILTIN
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect());
        }
        anyhow::bail!(
            "de map met mappings {0} bestaat niet (--mappings) / the mappings folder {0} does not exist (--mappings)",
            mappings.display()
        );
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(mappings)
        .with_context(|| format!("cannot read mappings in {}", mappings.display()))?
    {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("financier")
            .to_string();
        out.push((name, text));
    }
    out.sort();
    Ok(out)
}

/// The provider's inbox the demo municipality answers into ([`prepare`]).
pub fn provider_inbox(config: &Config) -> Option<std::path::PathBuf> {
    config
        .dropfolder
        .iter()
        .find(|d| d.tenant == DEMO_AGB)
        .map(|d| d.inbox.clone())
}

/// The demo municipality's mapping of the demo provider: the products and
/// tariffs of the project's Wmo contract, and a person deciding on its
/// declarations before the 325 leaves.
fn gemeente_mapping(dir: &Path, out: &Path) -> Result<()> {
    let contract = dir.join(format!("gemeente-{DEMO_GEMEENTE}-wmo.toml"));
    let Ok(text) = std::fs::read_to_string(&contract) else {
        // Mappings without the Wmo contract: no municipality to show.
        return Ok(());
    };
    let doc: toml::Table =
        toml::from_str(&text).with_context(|| format!("{}", contract.display()))?;
    let folder = out.join(format!("gemeente-{DEMO_GEMEENTE}"));
    std::fs::create_dir_all(&folder)?;
    let mut m = toml::Table::new();
    let mut f = toml::Table::new();
    f.insert("kind".into(), "aanbieder".into());
    f.insert("code".into(), DEMO_AGB.into());
    f.insert("name".into(), "Zorgboerderij De Demo".into());
    f.insert("standard".into(), "iwmo".into());
    let mut d = toml::Table::new();
    d.insert("folder".into(), folder.display().to_string().into());
    f.insert("delivery".into(), toml::Value::Table(d));
    m.insert("financier".into(), toml::Value::Table(f));
    let mut decide = toml::Table::new();
    decide.insert("decide".into(), "person".into());
    m.insert("declarations".into(), toml::Value::Table(decide));
    if let Some(products) = doc.get("products") {
        m.insert("products".into(), products.clone());
    }
    let own = dir.join(DEMO_GEMEENTE);
    std::fs::create_dir_all(&own)?;
    write(
        &own.join(format!("aanbieder-{DEMO_AGB}.toml")),
        &toml::to_string(&m)?,
    )
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// A valid BSN (elfproef) from a counter.
fn bsn(n: u32) -> String {
    let mut k = n;
    loop {
        let digits = format!("{:08}", 10_000_000 + k * 7919 % 89_999_999);
        let sum: u32 = digits
            .bytes()
            .enumerate()
            .map(|(i, d)| u32::from(d - b'0') * (9 - i as u32))
            .sum();
        let check = sum % 11;
        if check < 10 {
            return format!("{digits}{check}");
        }
        k += 100_000;
    }
}

/// Seeds the demo tenant, once: a second start finds it and adds nothing.
pub async fn seed(state: &AppState, today: NaiveDate, inbox: Option<&Path>) -> Result<Demo> {
    let store = state.store();
    let month_start = (today - Duration::days(i64::from(today.day0())))
        .checked_sub_months(Months::new(1))
        .context("date out of range")?;
    let month = format!("{:04}-{:02}", month_start.year(), month_start.month());
    let exists = sqlx::query("SELECT 1 FROM users WHERE tenant_id = $1")
        .bind(DEMO_AGB)
        .fetch_optional(store.pool())
        .await?;
    let participants = 30;
    if exists.is_some() {
        return Ok(Demo {
            tenant: DEMO_AGB.into(),
            api_token: None,
            participants,
            month,
        });
    }
    let token = store.add_tenant(DEMO_AGB).await?;
    for (user, name, role) in DEMO_USERS {
        add_user(store, DEMO_AGB, user, name, role, DEMO_PASSWORD).await?;
    }
    let tenant = Tenant {
        id: DEMO_AGB.into(),
        kind: TenantKind::Aanbieder,
    };
    let schema = Schema::builtin()?;
    let ingang = month_start
        .checked_sub_months(Months::new(1))
        .context("date out of range")?;
    let mut ids = Vec::new();
    // The municipality's own allocations of its Wmo participants, as its
    // case system would export them (`loket import allocations`).
    let mut export = String::from(
        "BSN;Achternaam;Voorletters;Geboortedatum;Geslacht;Straat;Huisnummer;Postcode;Woonplaats;Aanbieder;\
         Toewijzingnummer;Categorie;Productcode;Toewijzingsdatum;Ingangsdatum;Einddatum;Volume;Eenheid;Frequentie\n",
    );
    for i in 0..participants {
        // 20 under the Wmo, 10 under the Jeugdwet; one Wmo allocation ends
        // within four weeks, so its warning shows.
        let jeugd = i >= 20;
        let eind = (i == 3).then(|| (today + Duration::days(20)).to_string());
        let Product {
            cat,
            code,
            volume,
            eenheid,
            ..
        } = product(jeugd);
        let bsn = bsn(i as u32 + 1);
        let born = born(i);
        let last = LAST[i % LAST.len()];
        receive_allocation(
            state,
            &tenant,
            i,
            ingang,
            &Grant {
                identificatie: &format!("DEMO{i:04}"),
                on: ingang,
                volume,
                eind: eind.as_deref(),
                reden: None,
            },
        )
        .await?;
        if !jeugd {
            // One client was granted less by the municipality than the
            // provider delivers: loket's judgement rejects that line (9321).
            let granted = if i == 0 { "10" } else { volume };
            export.push_str(&format!(
                "{bsn};{last};{};{born}-0{}-1{};{};Dorpsstraat;{};1011 AB;Amsterdam;{DEMO_AGB};{};{cat};{code};{ingang};{ingang};{};{granted};{eenheid};4\n",
                FIRST[i % FIRST.len()],
                1 + i % 9,
                i % 10,
                if i % 2 == 0 { "1" } else { "2" },
                i + 1,
                format_args!("36{i:04}"),
                eind.as_deref().unwrap_or(""),
            ));
        }
        let id: String = crate::record::read::participant(store.pool(), &tenant, &bsn)
            .await?
            .context("the demo participant was not recorded")?
            .id;
        let group = GROUPS[i % GROUPS.len()];
        // The coffee roasters are listed with the greenhouse: a group of
        // twenty, as a tablet at the door has to show it (the activity
        // stays theirs).
        let label = if group.0 == "Koffiebranderij" {
            "Kas"
        } else {
            group.0
        };
        let mut w = store.begin_write().await?;
        crate::record::apply::set_group(&mut w.tx, DEMO_AGB, &id, Some(label)).await?;
        w.commit().await?;
        // Youth care counts training in a group, whatever the location.
        ids.push((id, if jeugd { "training-groep" } else { group.1 }, jeugd));
    }

    // UWV pays on invoice and sends no 301: the provider registers its
    // orders, as over `POST /allocations`. Five Wmo participants also get
    // jobcoaching from UWV and two a werkfit-traject, so their record holds
    // two financiers and the month makes an invoice beside the 323s.
    let mappings = state.mappings.for_tenant(DEMO_AGB);
    let mut uwv = Vec::new();
    for (i, service, activity) in UWV_ORDERS {
        let order = Order {
            participant_id: Some(ids[i].0.clone()),
            financier: OrderFinancier {
                kind: "uwv".into(),
                code: "UWV".into(),
            },
            order_number: format!("UWV-OPD-{}", 4711 + i),
            service: service.into(),
            from: ingang.to_string(),
            client_reference: format!("UWV-K{:05}", 20_000 + i),
            ..Order::default()
        };
        match order::register(store, mappings, DEMO_AGB, &order).await? {
            order::Outcome::Stored(r) => uwv.push((i, r.toewijzing_nummer, activity)),
            order::Outcome::Refused(r) => anyhow::bail!("demo order {i} refused: {}", r.en),
            order::Outcome::NotFound => anyhow::bail!("demo order {i}: participant not found"),
        }
    }

    // A month of weekdays: mostly present, now and then sick or on holiday.
    let mut items = Vec::new();
    let mut day = month_start;
    while day.month() == month_start.month() {
        if day.weekday().num_days_from_monday() < 5 {
            for (n, (id, activity, jeugd)) in ids.iter().enumerate() {
                let roll = (n * 7 + day.day() as usize * 3) % 23;
                let mut r = RegistrationInput {
                    participant_id: Some(id.clone()),
                    date: day.to_string(),
                    present: roll > 1,
                    activity: Some((*activity).to_string()),
                    day_note: super::demo_evaluations::day_note(n, day),
                    ..RegistrationInput::default()
                };
                match roll {
                    0 => r.reason = Some("sick".into()),
                    1 => r.reason = Some("holiday".into()),
                    _ if *jeugd => r.hours = Some(3.0),
                    _ => r.dagdelen = Some(if roll.is_multiple_of(5) { 1 } else { 2 }),
                }
                if !r.present {
                    r.activity = None;
                }
                items.push(Item {
                    input: Ok(r),
                    source: "demo".into(),
                    label: format!("demo {n} {day}"),
                });
            }
            // Jobcoaching on Tuesdays and Thursdays, werkfit on Wednesdays,
            // each registered on its order.
            for (i, nummer, activity) in &uwv {
                let weekday = day.weekday().num_days_from_monday();
                let on = if *activity == "werkfit" {
                    weekday == 2
                } else {
                    weekday == 1 || weekday == 3
                };
                if !on {
                    continue;
                }
                items.push(Item {
                    input: Ok(RegistrationInput {
                        participant_id: Some(ids[*i].0.clone()),
                        date: day.to_string(),
                        present: true,
                        hours: Some(1.5),
                        activity: Some((*activity).to_string()),
                        allocation: Some(nummer.clone()),
                        ..RegistrationInput::default()
                    }),
                    source: "demo".into(),
                    label: format!("demo {i} {day} {activity}"),
                });
            }
        }
        day += Duration::days(1);
    }
    let outcome = crate::registration::register(
        store,
        DEMO_AGB,
        items,
        "demo",
        Mode::AllOrNothing,
        today,
        None,
        None,
    )
    .await?;
    anyhow::ensure!(!outcome.has_errors(), "demo registrations were refused");
    // Goals, plans and evaluations (some overdue), six months of
    // measurements, then the social-impact contract's orders and ladder
    // (its last six participants), so the month's run below makes its
    // results claims.
    let participant_ids: Vec<String> = ids.iter().map(|p| p.0.clone()).collect();
    super::demo_evaluations::seed(state, DEMO_AGB, &participant_ids, today).await?;
    super::demo_outcomes::seed(state, DEMO_AGB, &participant_ids, today).await?;
    super::demo_results::seed(state, &tenant, &participant_ids, today).await?;

    // The month's declarations; one of them answered with one line rejected.
    let opts = crate::engine::RunOptions {
        period: crate::engine::parse_period(&month)?,
        today: (month_start + Duration::days(i64::from(days_in(month_start)) + 2)).min(today),
        dry_run: false,
        out_dir: None,
    };
    let report =
        crate::engine::run(store, state.mappings.for_tenant(DEMO_AGB), &tenant, &opts).await?;
    let wmo = report
        .declarations
        .iter()
        .find(|d| d.bericht == "WMO323")
        .and_then(|d| d.message_id.clone())
        .context("the demo month made no WMO323")?;
    anyhow::ensure!(
        report.declarations.iter().any(|d| d.bericht == "Invoice"),
        "the demo month made no UWV invoice: {:?}",
        report.notices
    );
    let raw = crate::record::read::message(store.pool(), &tenant, &wmo)
        .await?
        .context("the demo declaration was not stored")?
        .raw;
    // The Wmo declaration goes to the demo municipality, which holds its
    // 325 for a person and answers into the provider's inbox; the Jeugdwet
    // one (municipality 0599 is not a tenant) gets a seeded answer with a
    // rejected line, so the provider's review queue is not empty at start.
    // Without the municipality (other mappings), the Wmo one gets it.
    let answered = match inbox {
        Some(inbox) => seed_gemeente(state, schema, &export, &raw, today, inbox).await?,
        None => false,
    };
    let seeded = if answered {
        let jw = report
            .declarations
            .iter()
            .find(|d| d.bericht == "JW323")
            .and_then(|d| d.message_id.clone())
            .context("the demo month made no JW323")?;
        crate::record::read::message(store.pool(), &tenant, &jw)
            .await?
            .context("the demo declaration was not stored")?
            .raw
    } else {
        raw
    };
    // After the declaration left, the municipality shortened one
    // participant's allocation to the middle of the declared month (a new
    // 301 with RedenWijziging 05, herbeoordeling verkorting: the standard
    // lets an existing allocation change its end date, not its volume per
    // month, OP257), so its answer rejects that line with 9308: the line
    // ends after the allocation does. The registrations after the new end
    // are behind the line; correcting them and resending declares the part
    // the allocation still covers.
    // A participant of the Houtwerkplaats (index 0 modulo the groups), so
    // the Kas keeps its twenty for today's registration.
    let rejected = if answered { 21 } else { 3 };
    let shortened = (month_start + Duration::days(14)).to_string();
    receive_allocation(
        state,
        &tenant,
        rejected,
        ingang,
        &Grant {
            identificatie: &format!("DEMOW{rejected:03}"),
            on: opts.today,
            volume: product(rejected >= 20).volume,
            eind: Some(&shortened),
            reden: Some("05"),
        },
    )
    .await?;
    let answer = answer_with_one_rejection(
        schema,
        &seeded,
        (opts.today + Duration::days(5)).min(today),
        &toewijzing_nummer(rejected),
    )?;
    let got = state
        .ingest
        .receive(&tenant, answer.as_bytes())
        .await
        .map_err(|e| anyhow::anyhow!("demo answer not received: {e}"))?;
    anyhow::ensure!(got.status == "accepted", "demo answer was {}", got.status);
    state.outbox.wake();
    Ok(Demo {
        tenant: DEMO_AGB.into(),
        api_token: Some(token),
        participants,
        month,
    })
}

/// The demo municipality: its users, its allocations (imported from
/// `export`), and the provider's WMO323 taken in as the exchange's pull
/// does, judged on those allocations and its 325 held for a person
/// (`[declarations] decide = "person"` in its mapping of the provider).
/// Nothing without a mapping of the provider (other mappings than the
/// project's).
async fn seed_gemeente(
    state: &AppState,
    schema: &'static Schema,
    export: &str,
    declaration: &[u8],
    today: NaiveDate,
    inbox: &Path,
) -> Result<bool> {
    let mappings = state.mappings.for_tenant(DEMO_GEMEENTE);
    let provider = crate::mapping::FinancierKey::new(crate::mapping::Kind::Aanbieder, DEMO_AGB);
    if mappings.get(&provider).is_none() {
        return Ok(false);
    }
    let store = state.store();
    store.add_tenant(DEMO_GEMEENTE).await?;
    for (user, name, role) in DEMO_GEMEENTE_USERS {
        add_user(store, DEMO_GEMEENTE, user, name, role, DEMO_PASSWORD).await?;
    }
    let tenant = Tenant {
        id: DEMO_GEMEENTE.into(),
        kind: TenantKind::Gemeente,
    };
    match crate::record::import::import(
        store,
        schema,
        mappings,
        &tenant,
        export.as_bytes(),
        false,
        today,
    )
    .await?
    {
        Ok(report) => anyhow::ensure!(
            report.stored && report.errors.is_empty(),
            "the demo municipality's allocations were refused: {:?}",
            report.errors
        ),
        Err(e) => anyhow::bail!("the demo municipality's allocations: {e:?}"),
    }
    let got = state
        .ingest
        .receive(&tenant, declaration)
        .await
        .map_err(|e| anyhow::anyhow!("the demo declaration was not received by 0363: {e}"))?;
    let ids = crate::record::exchange::Ids {
        conversatie_id: uuid::Uuid::new_v4().to_string(),
        traceer_id: uuid::Uuid::new_v4().to_string(),
        als_antwoord_op: None,
    };
    // Its answer goes back through the outbox, as the exchange's would, into
    // the provider's inbox (a drop folder of the provider's tenant), where
    // the provider takes it in and applies it.
    let inbox = inbox
        .to_str()
        .context("the demo provider's inbox is not UTF-8")?;
    crate::record::exchange::taken_in(
        store,
        DEMO_GEMEENTE,
        &[(got.message_id, ids)],
        crate::record::exchange::ReplyTo {
            kind: crate::outbox::TARGET_FOLDER,
            target: inbox,
        },
    )
    .await?;
    Ok(true)
}

/// What a demo participant is granted: Jeugdwet training (hours) or Wmo
/// dagbesteding (dagdelen), per month.
struct Product {
    prefix: &'static str,
    gemeente: &'static str,
    cat: &'static str,
    code: &'static str,
    volume: &'static str,
    eenheid: &'static str,
}

fn product(jeugd: bool) -> Product {
    let (prefix, gemeente, cat, code, volume, eenheid) = if jeugd {
        ("JW", "0599", "45", "45A48", "80", "04")
    } else {
        ("WMO", "0363", "07", "07A11", "40", "16")
    };
    Product {
        prefix,
        gemeente,
        cat,
        code,
        volume,
        eenheid,
    }
}

/// Demo participant `i`'s year of birth.
fn born(i: usize) -> i32 {
    (if i >= 20 { 2010 } else { 1985 }) - (i as i32 % 9)
}

/// One 301 of a demo participant's municipality.
struct Grant<'a> {
    identificatie: &'a str,
    /// Dagtekening and Toewijzingsdatum.
    on: NaiveDate,
    /// Per month, in the product's eenheid.
    volume: &'a str,
    eind: Option<&'a str>,
    /// RedenWijziging (JZ002) of a changed allocation.
    reden: Option<&'a str>,
}

/// Demo participant `i`'s allocation (from `ingang`) as its municipality's
/// 301, checked like every message loket sends and received by the
/// provider like any other.
async fn receive_allocation(
    state: &AppState,
    tenant: &Tenant,
    i: usize,
    ingang: NaiveDate,
    grant: &Grant<'_>,
) -> Result<()> {
    let schema = Schema::builtin()?;
    let jeugd = i >= 20;
    let Product {
        prefix,
        gemeente,
        cat,
        code,
        eenheid,
        ..
    } = product(jeugd);
    let bsn = bsn(i as u32 + 1);
    let mut b = Builder::heenbericht(
        schema,
        &format!("{prefix}301"),
        gemeente,
        DEMO_AGB,
        grant.identificatie,
        grant.on,
    )?;
    let c = b.add(0, "Client")?;
    b.value(c, "Bsn", &bsn)?;
    let g = b.add(c, "Geboortedatum")?;
    let born = born(i);
    b.value(g, "Datum", &format!("{born}-0{}-1{}", 1 + i % 9, i % 10))?;
    b.value(c, "Geslacht", if i.is_multiple_of(2) { "1" } else { "2" })?;
    let n = b.add(c, "Naam")?;
    let gn = b.add(n, "Geslachtsnaam")?;
    let last = LAST[i % LAST.len()];
    let (voorvoegsel, achternaam) = match last.rsplit_once(' ') {
        Some((v, a)) => (Some(v), a),
        None => (None, last),
    };
    b.value(gn, "Achternaam", achternaam)?;
    b.opt(gn, "Voorvoegsel", voorvoegsel)?;
    b.value(n, "Voorletters", FIRST[i % FIRST.len()])?;
    b.value(n, "NaamGebruik", "1")?;
    let cg = b.add(c, "Contactgegevens")?;
    let ct = b.add(cg, "Contact")?;
    b.value(ct, "Soort", "01")?;
    let ad = b.add(ct, "Adres")?;
    let huis = b.add(ad, "Huis")?;
    b.value(huis, "Huisnummer", &(i + 1).to_string())?;
    b.value(ad, "Postcode", "1011AB")?;
    b.value(ad, "Straatnaam", "Dorpsstraat")?;
    b.value(ad, "Plaatsnaam", "Amsterdam")?;
    b.value(ad, "LandCode", "NL")?;
    let tps = b.add(c, "ToegewezenProducten")?;
    let tp = b.add(tps, "ToegewezenProduct")?;
    b.value(tp, "ToewijzingNummer", &toewijzing_nummer(i))?;
    let p = b.add(tp, "Product")?;
    b.value(p, "Categorie", cat)?;
    b.value(p, "Code", code)?;
    b.value(tp, "Toewijzingsdatum", &grant.on.to_string())?;
    b.value(tp, "Toewijzingstijd", "10:00:00")?;
    b.value(tp, "Ingangsdatum", &ingang.to_string())?;
    b.opt(tp, "Einddatum", grant.eind)?;
    b.opt(tp, "RedenWijziging", grant.reden)?;
    let o = b.add(tp, "Omvang")?;
    b.value(o, "Volume", grant.volume)?;
    b.value(o, "Eenheid", eenheid)?;
    b.value(o, "Frequentie", "4")?;
    let (xml, checked) = istandaard::check_outgoing(&b.msg, &Limits::default())?;
    anyhow::ensure!(
        checked.findings.is_empty(),
        "demo allocation {i} breaks a rule: {:?}",
        checked.findings.iter().map(|f| &f.rule).collect::<Vec<_>>()
    );
    let got = state
        .ingest
        .receive(tenant, xml.as_bytes())
        .await
        .map_err(|e| anyhow::anyhow!("demo allocation {i} not received: {e}"))?;
    anyhow::ensure!(
        got.status == "accepted",
        "demo allocation {i} was {}",
        got.status
    );
    Ok(())
}

/// Demo participant `i`'s ToewijzingNummer.
fn toewijzing_nummer(i: usize) -> String {
    format!("{}{i:04}", if i >= 20 { 59 } else { 36 })
}

fn days_in(first: NaiveDate) -> u32 {
    let next = first + Months::new(1);
    (next - first).num_days() as u32
}

/// The municipality's 325 on `declaration`: the prestatie on allocation
/// `toewijzing` rejected with 9308 (the line ends after the allocation
/// does), the rest approved.
fn answer_with_one_rejection(
    schema: &'static Schema,
    declaration: &[u8],
    day: NaiveDate,
    toewijzing: &str,
) -> Result<String> {
    let mut checked = istandaard::check(schema, declaration, &Limits::default())
        .map_err(|e| anyhow::anyhow!("the demo declaration does not decode: {e}"))?;
    let first = checked
        .message
        .root()
        .all("Declaratie/Clienten/Client/Prestaties/Prestatie")
        .into_iter()
        .find(|p| p.value("ToewijzingNummer") == Some(toewijzing))
        .with_context(|| format!("the demo declaration has no prestatie on {toewijzing}"))?;
    let finding = Finding {
        rule: "TR308".into(),
        retourcode: "9308".into(),
        path: first.path(),
        line: None,
        level: Level::CrossMessage,
        nl: String::new(),
        en: String::new(),
        class_node: Some(first.id),
    };
    checked.findings.push(finding);
    let settings = RetourSettings {
        today: Some(day),
        ..RetourSettings::default()
    };
    istandaard::retour_xml(&checked, &settings).map_err(|e| anyhow::anyhow!("demo answer: {e}"))
}
