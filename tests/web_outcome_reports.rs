//! Verantwoording over HTTP, on both backends: a provider financed by Wmo
//! 0363 and Jeugdwet 0599, four participants financed by one, both or (in
//! an earlier year) neither, with measurements, goals, evaluations and
//! ends written through `record::outcomes` and the API. Each financier's
//! report holds exactly its own participants; the CSVs are parsed back and
//! their values equal the ones worked out by hand below; every participant
//! in a report or file is in the access log; only the provider's back
//! office may open them; bad periods and half years get a Dutch 400.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use loket::instrument::{Instruments, LADDER, LADDER_DOMAIN, ZRM};
use loket::record::access::Actor;
use loket::record::outcomes::{
    self, GoalProgress, NewEvaluation, NewGoal, NewMeasurement, NewScore, Progress,
};
use loket::web::auth::{Role, add_user};
use serde_json::json;
use sqlx::Row;

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    each_financier_gets_its_own_participants_and_the_csv_reads_back,
    the_cbs_file_holds_the_ended_jeugdwet_allocations,
    only_the_providers_back_office_opens_the_reports,
);

const AGB: &str = "73730113";
const PASSWORD: &str = "een-lang-wachtwoord";
/// Aalbers (Wmo), de Boer (Wmo and Jeugdwet), Claassen (Jeugdwet),
/// Dijkstra (Wmo, in 2025 only).
const BSN: [&str; 4] = ["999990019", "999990032", "999990044", "999990056"];

/// The provider's participants by surname.
struct World {
    s: Server,
    ids: BTreeMap<&'static str, String>,
    wmo: String,
    jw: String,
}

fn jeugd<'a>(nummer: &'a str, ingang: &'a str, eind: Option<&'a str>) -> Alloc<'a> {
    Alloc {
        nummer,
        categorie: "45",
        code: "45A48",
        ingang,
        eind,
        omvang: Some(("40", "04", "4")),
        reden: None,
    }
}

fn d(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

fn zrm(p: &str, on: &str, financien: i64) -> NewMeasurement {
    NewMeasurement {
        participant_id: p.to_string(),
        instrument: ZRM.into(),
        measured_on: d(on),
        scores: vec![NewScore {
            domain: "financien".into(),
            score: financien,
            note: None,
        }],
        supersedes: None,
    }
}

/// The scenario, written through the API (allocations, ends) and
/// `record::outcomes` (measurements, goals, evaluations).
async fn world(db: Db) -> World {
    let s = Server::start(db).await;
    let api = s.tenant_api(AGB).await;
    let wmo = |ident: &str, bsn: &str, nummer: &'static str, ingang: &'static str, eind| {
        let mut a = dagbesteding(nummer, ingang);
        a.eind = eind;
        allocation_xml("WMO", "0363", AGB, ident, bsn, &[a])
    };
    let mut ids = BTreeMap::new();
    // Aalbers also had a short Wmo allocation that ended in March: in the
    // Wmo report, never in the Jeugdwet CBS file.
    let mut short = dagbesteding("360005", "2026-01-01");
    short.eind = Some("2026-03-31");
    short.code = "07A12";
    let both = allocation_xml(
        "WMO",
        "0363",
        AGB,
        "R1",
        BSN[0],
        &[dagbesteding("360001", "2026-01-01"), short],
    );
    ids.insert("Aalbers", api.allocate(&both, BSN[0]).await);
    ids.insert(
        "Boer",
        api.allocate(&wmo("R2", BSN[1], "360002", "2026-01-01", None), BSN[1])
            .await,
    );
    let jw =
        |ident: &str, bsn: &str, a: Alloc<'_>| allocation_xml("JW", "0599", AGB, ident, bsn, &[a]);
    api.allocate(
        &jw(
            "R3",
            BSN[1],
            jeugd("590002", "2026-01-01", Some("2026-05-31")),
        ),
        BSN[1],
    )
    .await;
    ids.insert(
        "Claassen",
        api.allocate(
            &jw("R4", BSN[2], jeugd("590003", "2026-01-01", None)),
            BSN[2],
        )
        .await,
    );
    ids.insert(
        "Dijkstra",
        api.allocate(
            &wmo("R5", BSN[3], "360004", "2025-12-01", Some("2025-12-31")),
            BSN[3],
        )
        .await,
    );
    // Every 301 names its client "J Voorbeeld": each gets a name of their
    // own here, so the reports can be told apart by name.
    for (last, id) in &ids {
        let (voorvoegsel, achternaam) = if *last == "Boer" {
            (Some("de"), "Boer")
        } else {
            (None, *last)
        };
        let mut name = json!({"Voorletters": "K", "Geslachtsnaam": {"Achternaam": achternaam}});
        if let Some(v) = voorvoegsel {
            name["Geslachtsnaam"]["Voorvoegsel"] = json!(v);
        }
        sqlx::query("UPDATE participants SET name_json = $1 WHERE id = $2")
            .bind(name.to_string())
            .bind(id)
            .execute(s.state.store().pool())
            .await
            .expect("name");
    }
    // Claassen came on 3 February: the start/stop run sends the JW305.
    api.days(&[(
        &ids["Claassen"],
        "2026-02-03",
        "09:00",
        "12:00",
        "training-groep",
    )])
    .await;
    let tenant = loket::store::Tenant {
        id: AGB.into(),
        kind: loket::store::TenantKind::Aanbieder,
    };
    let startstop = |day: &'static str| {
        let (state, tenant) = (s.state.clone(), tenant.clone());
        async move {
            loket::engine::startstop::run(
                state.store(),
                state.mappings.for_tenant(AGB),
                &tenant,
                d(day),
                false,
                None,
            )
            .await
            .expect("start/stop run")
            .messages
            .len()
        }
    };
    assert_eq!(startstop("2026-02-05").await, 1, "the start");
    // Claassen's care ended early, by the client: the next run sends the
    // JW307 with 32, which the CBS file reads.
    let end = api
        .post_json(
            &format!("/participants/{}/end", ids["Claassen"]),
            &json!({"date": "2026-04-15", "reason": "door_client", "registered_by": "Karin"}),
        )
        .await;
    assert_eq!(end.status, 201, "{}", end.body);
    assert_eq!(startstop("2026-04-20").await, 1, "the stop");
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM deliveries WHERE kind = 'stop' AND current = 1 AND reden_beeindiging = '32'"
        )
        .await,
        1
    );

    let instruments = Instruments::builtin().expect("instruments");
    let by = Actor::user("coach", "Chris (coach)", "begeleider", None);
    let mut w = s.state.store().begin_write().await.expect("write");
    let (a, b, c) = (&ids["Aalbers"], &ids["Boer"], &ids["Claassen"]);
    // Aalbers: financiën 1 and 2 before the half year (2 is the baseline),
    // 3 and 4 in it, 1 after it; one rung of the ladder in it.
    for m in [
        zrm(a, "2025-10-01", 1),
        zrm(a, "2025-12-10", 2),
        zrm(a, "2026-02-01", 3),
        zrm(a, "2026-05-01", 4),
        zrm(a, "2026-08-01", 1),
        NewMeasurement {
            participant_id: a.clone(),
            instrument: LADDER.into(),
            measured_on: d("2026-03-01"),
            scores: vec![NewScore {
                domain: LADDER_DOMAIN.into(),
                score: 3,
                note: None,
            }],
            supersedes: None,
        },
        // de Boer: 3 in February, 2 in June.
        zrm(b, "2026-02-15", 3),
        zrm(b, "2026-06-15", 2),
    ] {
        outcomes::add_measurement(&mut w, AGB, instruments, &by, &m, None)
            .await
            .expect("measurement");
    }
    let goal = |p: &str, text: &str, on: &str| NewGoal {
        participant_id: p.to_string(),
        text: text.into(),
        agreed_on: d(on),
        domains: vec![(ZRM.into(), "financien".into())],
    };
    let ga = outcomes::add_goal(
        &mut w,
        AGB,
        instruments,
        &by,
        &goal(a, "Eigen geld beheren", "2026-01-10"),
    )
    .await
    .expect("goal");
    let gb1 = outcomes::add_goal(
        &mut w,
        AGB,
        instruments,
        &by,
        &goal(b, "Schulden in een regeling", "2026-01-15"),
    )
    .await
    .expect("goal");
    let gb2 = outcomes::add_goal(
        &mut w,
        AGB,
        instruments,
        &by,
        &goal(b, "Een vaste dagstructuur", "2026-01-15"),
    )
    .await
    .expect("goal");
    let gc = outcomes::add_goal(
        &mut w,
        AGB,
        instruments,
        &by,
        &goal(c, "Naar school", "2026-02-01"),
    )
    .await
    .expect("goal");
    let evaluation =
        |p: &str, on: &str, mark: Option<i64>, progress: Vec<(&str, Progress)>| NewEvaluation {
            participant_id: p.to_string(),
            held_on: d(on),
            period_from: d(on) - chrono::Duration::days(42),
            period_to: d(on),
            next_step: "verder".into(),
            satisfaction: mark,
            measurements: vec![],
            progress: progress
                .into_iter()
                .map(|(g, progress)| GoalProgress {
                    goal_id: g.to_string(),
                    progress,
                    note: None,
                })
                .collect(),
        };
    for e in [
        evaluation(a, "2026-04-01", Some(9), vec![(&ga, Progress::Reached)]),
        evaluation(
            b,
            "2026-03-15",
            Some(7),
            vec![(&gb1, Progress::Reached), (&gb2, Progress::Some)],
        ),
        evaluation(b, "2026-05-20", Some(8), vec![(&gb2, Progress::Some)]),
        evaluation(c, "2026-03-01", None, vec![(&gc, Progress::Stopped)]),
    ] {
        outcomes::add_evaluation(&mut w, AGB, instruments, &by, &e)
            .await
            .expect("evaluation");
    }
    w.commit().await.expect("commit");

    for (user, name, role) in [
        ("kantoor", "Karin (kantoor)", Role::Backoffice),
        ("coach", "Chris (coach)", Role::Begeleider),
    ] {
        add_user(s.state.store(), AGB, user, name, role, PASSWORD)
            .await
            .expect("user");
    }
    let financier = |kind: &'static str| {
        let pool = s.state.store().pool().clone();
        async move {
            sqlx::query("SELECT id FROM financiers WHERE tenant_id = $1 AND kind = $2")
                .bind(AGB)
                .bind(kind)
                .fetch_one(&pool)
                .await
                .expect("financier")
                .get::<String, _>(0)
        }
    };
    let (wmo, jw) = (financier("wmo").await, financier("jeugdwet").await);
    World { s, ids, wmo, jw }
}

async fn office(s: &Server) -> WebClient {
    let mut web = WebClient::new(&s.base);
    let login = web.login(AGB, "kantoor", PASSWORD).await;
    assert_eq!(login.status, 303, "{}", login.body);
    web
}

/// A CSV as loket writes it (BOM, `;`, CRLF) as header → value maps.
fn parse(bytes: &[u8]) -> Vec<BTreeMap<String, String>> {
    let text = std::str::from_utf8(bytes).expect("utf-8");
    let text = text.strip_prefix('\u{feff}').expect("a BOM first");
    assert!(text.contains("\r\n"), "CRLF line ends");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes());
    let headers = reader.headers().expect("headers").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("record");
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The participants logged for `object` with `kind`.
async fn logged(s: &Server, kind: &str, object: &str) -> BTreeSet<String> {
    sqlx::query(
        "SELECT participant_id FROM access_log WHERE tenant_id = $1 AND kind = $2 AND object = $3",
    )
    .bind(AGB)
    .bind(kind)
    .bind(object)
    .fetch_all(s.state.store().pool())
    .await
    .expect("access log")
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect()
}

async fn audits(s: &Server, subject: &str) -> i64 {
    count(
        s,
        &format!(
            "SELECT COUNT(*) FROM audit_log WHERE tenant_id = '{AGB}' AND action = 'export' AND subject_id = '{subject}'"
        ),
    )
    .await
}

const H1: &str = "van=2026-01-01&tot=2026-06-30";

async fn each_financier_gets_its_own_participants_and_the_csv_reads_back(db: Db) {
    let World { s, ids, wmo, jw } = world(db).await;
    let mut web = office(&s).await;
    let start = web.get("/verantwoording").await;
    assert_eq!(start.status, 200, "{}", start.body);
    assert!(
        start.body.contains("href=\"/verantwoording\""),
        "in the menu"
    );
    assert!(start.body.contains("1e halfjaar 2026") || start.body.contains("2e halfjaar 2026"));

    // Wmo 0363: Aalbers and de Boer; not Claassen (Jeugdwet only), not
    // Dijkstra (financed in 2025 only).
    let page = web
        .get(&format!("/verantwoording/rapport?financier={wmo}&{H1}"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    for shown in ["K Aalbers", "K de Boer"] {
        assert!(body.contains(shown), "{shown} in the Wmo report");
    }
    for absent in ["Claassen", "Dijkstra", BSN[0], BSN[1]] {
        assert!(!body.contains(absent), "{absent} not in the Wmo report");
    }
    assert!(
        body.find("K Aalbers") < body.find("K de Boer"),
        "by surname: Aalbers before (de) Boer"
    );
    assert!(body.contains("01-01-2026 t/m 30-06-2026"));
    assert!(body.contains("Karin (kantoor)"), "made by");
    assert!(body.contains("2 deelnemers gefinancierd in deze periode, 2 gemeten"));
    assert!(body.contains("geen cijfer"), "two people: no figures");
    let instruments = Instruments::builtin().expect("instruments");
    let z = instruments.get(ZRM).expect("zrm");
    for score in [2, 3, 4] {
        assert!(
            body.contains(&z.score_label(score)),
            "level label of {score}"
        );
    }
    assert!(body.contains("10-12-2025"), "the baseline's date");
    assert!(
        body.contains("31-03-2026 (volgens plan beëindigd, code 19)"),
        "the short Wmo allocation ended as planned, with the iWmo code"
    );
    assert!(
        !body.contains("01-08-2026"),
        "nothing measured after the period"
    );
    assert_eq!(
        logged(&s, "view", "GET /verantwoording/rapport").await,
        BTreeSet::from([ids["Aalbers"].clone(), ids["Boer"].clone()])
    );

    // Jeugdwet 0599: de Boer (the same measurements) and Claassen.
    let page = web
        .get(&format!("/verantwoording/rapport?financier={jw}&{H1}"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    for shown in ["K de Boer", "K Claassen"] {
        assert!(page.body.contains(shown), "{shown} in the Jeugdwet report");
    }
    for absent in ["Aalbers", "Dijkstra"] {
        assert!(
            !page.body.contains(absent),
            "{absent} not in the Jeugdwet report"
        );
    }
    assert!(
        page.body.contains("15-06-2026"),
        "de Boer's June measurement"
    );
    assert!(
        page.body
            .contains("31-05-2026 (volgens plan beëindigd, code 31)"),
        "de Boer's Jeugdwet care ended as planned"
    );
    assert!(
        page.body
            .contains("15-04-2026 (voortijdig, door de cliënt, code 32)"),
        "Claassen's end"
    );

    // The Wmo CSV, parsed back.
    let (status, kind, bytes) = web
        .download(&format!("/verantwoording/rapport.csv?financier={wmo}&{H1}"))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert!(
        kind["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/csv")
    );
    let rows = parse(&bytes);
    let row = |name: &str, instrument: &str| {
        rows.iter()
            .find(|r| r["Deelnemer"] == name && r["Instrument"] == instrument)
            .unwrap_or_else(|| panic!("{name} {instrument} in {rows:#?}"))
    };
    assert_eq!(rows.len(), 3, "{rows:#?}");
    let names: BTreeSet<&str> = rows.iter().map(|r| r["Deelnemer"].as_str()).collect();
    assert_eq!(names, BTreeSet::from(["K Aalbers", "K de Boer"]));
    let a = row("K Aalbers", "Zelfredzaamheid-Matrix");
    let expect = |r: &BTreeMap<String, String>, pairs: &[(&str, &str)]| {
        for (k, v) in pairs {
            assert_eq!(r[*k], *v, "{k} in {r:#?}");
        }
    };
    expect(
        a,
        &[
            ("Toewijzingen", "360001, 360005"),
            ("Domein", "Financiën"),
            ("Beginstand", "2"),
            ("Datum beginstand", "10-12-2025"),
            ("Eerste in periode", "3"),
            ("Datum eerste", "01-02-2026"),
            ("Laatste in periode", "4"),
            ("Datum laatste", "01-05-2026"),
            ("Verandering", "vooruit"),
            ("Doelen afgesproken", "1"),
            ("Doelen behaald in periode", "1"),
            ("Doelen gestopt in periode", "0"),
            ("Doelen open", "0"),
            ("Evaluaties in periode", "1"),
            ("Einde zorg", ""),
            ("Reden einde", ""),
        ],
    );
    // One rung, no baseline: no change to report.
    expect(
        row("K Aalbers", "Participatieladder"),
        &[
            ("Beginstand", ""),
            ("Eerste in periode", "3"),
            ("Laatste in periode", "3"),
            ("Verandering", ""),
        ],
    );
    expect(
        row("K de Boer", "Zelfredzaamheid-Matrix"),
        &[
            ("Toewijzingen", "360002"),
            ("Beginstand", ""),
            ("Eerste in periode", "3"),
            ("Datum eerste", "15-02-2026"),
            ("Laatste in periode", "2"),
            ("Datum laatste", "15-06-2026"),
            ("Verandering", "achteruit"),
            ("Doelen afgesproken", "2"),
            ("Doelen behaald in periode", "1"),
            ("Doelen open", "1"),
            ("Evaluaties in periode", "2"),
            // Their Wmo care runs on, whatever happened with the Jeugdwet.
            ("Einde zorg", ""),
        ],
    );
    assert_eq!(
        logged(&s, "export", "GET /verantwoording/rapport.csv").await,
        BTreeSet::from([ids["Aalbers"].clone(), ids["Boer"].clone()])
    );
    assert_eq!(audits(&s, "verantwoording").await, 1);

    // The Jeugdwet CSV: Claassen without measurements still has a row.
    let (_, _, bytes) = web
        .download(&format!("/verantwoording/rapport.csv?financier={jw}&{H1}"))
        .await;
    let rows = parse(&bytes);
    let c = rows
        .iter()
        .find(|r| r["Deelnemer"] == "K Claassen")
        .expect("Claassen's row");
    expect(
        c,
        &[
            ("Instrument", ""),
            ("Toewijzingen", "590003"),
            ("Doelen afgesproken", "1"),
            ("Doelen gestopt in periode", "1"),
            ("Einde zorg", "15-04-2026"),
            ("Reden einde (code)", "32"),
            ("Reden einde", "voortijdig, door de cliënt"),
        ],
    );
    let b = rows
        .iter()
        .find(|r| r["Deelnemer"] == "K de Boer")
        .expect("de Boer's row");
    expect(
        b,
        &[
            ("Toewijzingen", "590002"),
            ("Eerste in periode", "3"),
            ("Laatste in periode", "2"),
            ("Einde zorg", "31-05-2026"),
            ("Reden einde (code)", "31"),
        ],
    );
    assert!(!rows.iter().any(|r| r["Deelnemer"] == "K Aalbers"));
    assert_eq!(audits(&s, "verantwoording").await, 2);

    // Bad periods: a Dutch 400.
    for (query, says) in [
        (
            format!("financier={wmo}&van=2026-13-01&tot=2026-06-30"),
            "is geen datum",
        ),
        (
            format!("financier={wmo}&van=2026-07-01&tot=2026-06-30"),
            "begint na haar laatste dag",
        ),
        (format!("financier={wmo}&tot=2026-06-30"), "Vul de datum"),
        (H1.to_string(), "Kies een financier"),
    ] {
        let bad = web.get(&format!("/verantwoording/rapport?{query}")).await;
        assert_eq!(bad.status, 400, "{query}");
        assert!(bad.body.contains(says), "{query}: {}", bad.body);
    }
    let unknown = web
        .get(&format!("/verantwoording/rapport?financier=nope&{H1}"))
        .await;
    assert_eq!(unknown.status, 404);
    for bsn in BSN {
        assert!(!captured_logs().contains(bsn), "no BSN in the logs");
    }
}

async fn the_cbs_file_holds_the_ended_jeugdwet_allocations(db: Db) {
    let World { s, ids, wmo, jw } = world(db).await;
    let web = office(&s).await;
    let (status, _, bytes) = web
        .download(&format!(
            "/verantwoording/cbs.csv?financier={jw}&halfjaar=2026-1"
        ))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    let rows = parse(&bytes);
    assert_eq!(rows.len(), 2, "{rows:#?}");
    // By end date: Claassen (April, by the client), de Boer (May, as planned).
    let expect = |r: &BTreeMap<String, String>, pairs: &[(&str, &str)]| {
        for (k, v) in pairs {
            assert_eq!(r[*k], *v, "{k} in {r:#?}");
        }
    };
    expect(
        &rows[0],
        &[
            ("AGB-code aanbieder", AGB),
            ("Gemeentecode", "0599"),
            ("BSN", BSN[2]),
            ("ToewijzingNummer", "590003"),
            ("Productcategorie", "45"),
            ("Productcode", "45A48"),
            // The start sent, not the Ingangsdatum.
            ("Begindatum", "03-02-2026"),
            ("Einddatum", "15-04-2026"),
            ("RedenBeeindiging", "32"),
            ("Reden beëindiging", "voortijdig, door de cliënt"),
            ("Beëindigd volgens plan", "nee"),
            // Their one goal was stopped: not reached.
            ("Doelen behaald", "nee"),
            ("Cliënttevredenheid", ""),
            ("Aantal evaluaties", "1"),
        ],
    );
    expect(
        &rows[1],
        &[
            ("BSN", BSN[1]),
            ("ToewijzingNummer", "590002"),
            ("Einddatum", "31-05-2026"),
            ("RedenBeeindiging", "31"),
            ("Beëindigd volgens plan", "ja"),
            // One of two goals reached by the end of May.
            ("Doelen behaald", "deels"),
            // The last evaluation in the care, 20 May.
            ("Cliënttevredenheid", "8"),
            ("Aantal evaluaties", "2"),
        ],
    );
    assert_eq!(
        logged(&s, "export", "GET /verantwoording/cbs.csv").await,
        BTreeSet::from([ids["Boer"].clone(), ids["Claassen"].clone()])
    );
    assert_eq!(audits(&s, "cbs-beleidsinformatie").await, 1);

    // The second half year: nothing ended.
    let (status, _, bytes) = web
        .download(&format!(
            "/verantwoording/cbs.csv?financier={jw}&halfjaar=2026-2"
        ))
        .await;
    assert_eq!(status, 200);
    assert!(parse(&bytes).is_empty());

    // A Wmo financier has no CBS beleidsinformatie Jeugd; a wrong half year
    // is refused.
    let (status, _, bytes) = web
        .download(&format!(
            "/verantwoording/cbs.csv?financier={wmo}&halfjaar=2026-1"
        ))
        .await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&bytes).contains("Jeugdwet"));
    for half in ["2026-3", "2026", "26-1", "2026-H1"] {
        let (status, _, bytes) = web
            .download(&format!(
                "/verantwoording/cbs.csv?financier={jw}&halfjaar={half}"
            ))
            .await;
        assert_eq!(status, 400, "{half}");
        assert!(
            String::from_utf8_lossy(&bytes).contains("bestaat niet"),
            "{half}"
        );
    }
    assert_eq!(
        audits(&s, "cbs-beleidsinformatie").await,
        2,
        "refused: no export"
    );
    // The page offers the file for the Jeugdwet financier only.
    let mut web = web;
    let page = web.get(&format!("/verantwoording?financier={jw}")).await;
    assert!(page.body.contains("/verantwoording/cbs.csv?financier="));
    let page = web.get(&format!("/verantwoording?financier={wmo}")).await;
    assert!(!page.body.contains("/verantwoording/cbs.csv"));
}

async fn only_the_providers_back_office_opens_the_reports(db: Db) {
    let World { s, wmo, jw, .. } = world(db).await;
    let report = format!("/verantwoording/rapport?financier={wmo}&{H1}");
    let files = [
        format!("/verantwoording/rapport.csv?financier={wmo}&{H1}"),
        format!("/verantwoording/cbs.csv?financier={jw}&halfjaar=2026-1"),
    ];
    let mut coach = WebClient::new(&s.base);
    coach.login(AGB, "coach", PASSWORD).await;
    for path in ["/verantwoording".to_string(), report.clone()]
        .iter()
        .chain(files.iter())
    {
        assert_eq!(coach.get(path).await.status, 403, "a begeleider: {path}");
    }
    let menu = coach.get("/registratie").await;
    assert!(!menu.body.contains("href=\"/verantwoording\""));

    // The municipality: no provider's outcome data.
    s.state.store().add_tenant("0363").await.expect("gemeente");
    add_user(
        s.state.store(),
        "0363",
        "gemeente",
        "Greet",
        Role::Beheer,
        PASSWORD,
    )
    .await
    .expect("user");
    let mut gemeente = WebClient::new(&s.base);
    gemeente.login("0363", "gemeente", PASSWORD).await;
    for path in ["/verantwoording".to_string(), report.clone()]
        .iter()
        .chain(files.iter())
    {
        let status = gemeente.get(path).await.status;
        assert!(
            status == 403 || status == 404,
            "a municipality: {path} {status}"
        );
    }
    // Another provider: the financier is not theirs.
    add_other_tenant(&s).await;
    let mut other = WebClient::new(&s.base);
    other
        .login("11112222", "anna", "een-ander-wachtwoord")
        .await;
    assert_eq!(other.get("/verantwoording").await.status, 200);
    for path in std::iter::once(&report).chain(files.iter()) {
        assert_eq!(
            other.get(path).await.status,
            404,
            "another provider: {path}"
        );
    }
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM access_log WHERE object LIKE '%verantwoording%'"
        )
        .await,
        0,
        "nobody was shown anything"
    );
}
