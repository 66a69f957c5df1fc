//! Ontwikkeling over HTTP on both backends: a provider built in the test
//! (allocations as municipalities send them, orders as UWV and the
//! Participatiewet register them, groups, measurements through the one
//! writer) whose figures are computed by hand here; the aggregate page
//! shows exactly those per group, per financier and per financing model,
//! and no figure for a group under five; a participant's page shows every
//! domain's points and is written to the access log; a begeleider outside
//! the group is refused and leaves no log entry; a municipality gets no
//! outcome page; the demo's aggregate shows figures.

use loket::instrument::ZRM;
use loket::record::access::Actor;
use loket::record::outcomes::{self, NewMeasurement, NewScore};
use loket::web::auth::{Role, add_user};
use loket::web::demo::{DEMO_AGB, DEMO_PASSWORD};
use serde_json::json;

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    the_aggregate_shows_the_hand_computed_figures_and_hides_groups_under_five,
    a_participants_development_is_scoped_and_logged,
    the_demo_shows_development_at_once,
);

const AGB: &str = "73730112";
const PASSWORD: &str = "een-lang-wachtwoord";

/// Valid BSNs (elfproef), one per participant.
fn bsns(n: usize) -> Vec<String> {
    (999_900_000u32..)
        .map(|b| b.to_string())
        .filter(|b| loket::adapter::istandaard::rules::elfproef(b))
        .take(n)
        .collect()
}

/// The test's participants: (group, financed by Wmo 0363, by UWV, by the
/// Participatiewet), by index.
const PEOPLE: [(Option<&str>, bool, bool, bool); 16] = [
    (Some("Kas"), true, true, false),
    (Some("Kas"), true, true, false),
    (Some("Kas"), true, true, false),
    (Some("Kas"), true, false, false),
    (Some("Kas"), true, false, false),
    (Some("Kas"), true, false, false),
    (Some("Werkplaats"), true, true, false),
    (Some("Werkplaats"), true, true, false),
    (Some("Werkplaats"), true, false, false),
    (Some("Werkplaats"), true, false, false),
    (Some("Werkplaats"), true, false, false),
    (Some("Hout"), true, true, false),
    (Some("Hout"), true, false, false),
    (Some("Hout"), false, false, true),
    (Some("Hout"), false, false, true),
    (None, false, false, true),
];

/// ZRM scores per participant: (date, financiën, werk en opleiding).
fn scores(i: usize) -> Vec<(&'static str, i64, i64)> {
    let (a, b, c) = ("2026-01-10", "2026-03-10", "2026-05-10");
    match i {
        0 => vec![(a, 2, 1), (c, 4, 2)],
        1 => vec![(a, 3, 2), (c, 3, 3)],
        2 => vec![(a, 1, 2), (c, 2, 2)],
        3 => vec![(a, 4, 3), (c, 3, 3)],
        4 => vec![(a, 2, 1), (c, 2, 1)],
        5 => vec![(b, 3, 2)],
        6 => vec![(a, 1, 2), (b, 2, 2), (c, 3, 1)],
        7 => vec![(a, 2, 2), (c, 2, 3)],
        8 => vec![(a, 3, 4), (c, 4, 4)],
        9 => vec![(a, 5, 3), (c, 4, 3)],
        10 => vec![(a, 2, 1), (c, 3, 2)],
        11 => vec![(a, 2, 2), (c, 3, 2)],
        12 => vec![(a, 3, 1), (c, 3, 2)],
        13 => vec![(a, 1, 1), (c, 1, 1)],
        14 => vec![(a, 4, 2), (c, 5, 3)],
        _ => vec![(a, 3, 3), (c, 4, 3)],
    }
}

fn order(bsn: &str, kind: &str, code: &str, service: &str, number: &str) -> serde_json::Value {
    json!({
        "bsn": bsn,
        "financier": {"kind": kind, "code": code},
        "order_number": number,
        "service": service,
        "from": "2026-01-01",
        "to": "2026-12-31",
        "client_reference": format!("K-{number}"),
    })
}

/// The provider with its sixteen participants and their measurements, a
/// beheer user `beheerder` and a begeleider `coach` of the Kas; their ids
/// by index.
async fn provider(s: &Server) -> Vec<String> {
    let api = s.tenant_api(AGB).await;
    let store = s.state.store();
    let mut ids = Vec::new();
    for (i, (bsn, (group, wmo, uwv, pw))) in bsns(PEOPLE.len()).iter().zip(PEOPLE).enumerate() {
        if wmo {
            let nummer = format!("{}", 700_001 + i);
            let xml = allocation_xml(
                "WMO",
                "0363",
                AGB,
                &format!("OUT{i}"),
                bsn,
                &[dagbesteding(&nummer, "2026-01-01")],
            );
            api.allocate(&xml, bsn).await;
        }
        for (on, kind, code, service) in [
            (uwv, "uwv", "UWV", "JC001"),
            (pw, "participatiewet", "0363", "BW001"),
        ] {
            if on {
                let reply = api
                    .post_json(
                        "/allocations",
                        &order(bsn, kind, code, service, &format!("O-{kind}-{i}")),
                    )
                    .await;
                assert!(reply.status == 201 || reply.status == 200, "{}", reply.body);
            }
        }
        let id = api.participant_by_bsn(bsn).await;
        let mut w = store.begin_write().await.expect("write");
        loket::record::apply::set_group(&mut w.tx, AGB, &id, group)
            .await
            .expect("group");
        let by = Actor::user("beheerder", "Beheerder", "beheer", None);
        for (date, f, werk) in scores(i) {
            let m = NewMeasurement {
                participant_id: id.clone(),
                instrument: ZRM.into(),
                measured_on: date.parse().expect("date"),
                scores: vec![
                    NewScore {
                        domain: "financien".into(),
                        score: f,
                        note: Some(format!("toelichting {i} {date}")),
                    },
                    NewScore {
                        domain: "werk_opleiding".into(),
                        score: werk,
                        note: None,
                    },
                ],
                supersedes: None,
            };
            outcomes::add_measurement(&mut w, AGB, &s.state.instruments, &by, &m, None)
                .await
                .expect("measurement");
        }
        w.commit().await.expect("commit");
        ids.push(id);
    }
    add_user(store, AGB, "beheerder", "Beheerder", Role::Beheer, PASSWORD)
        .await
        .expect("beheer");
    let coach = add_user(store, AGB, "coach", "Coach Kas", Role::Begeleider, PASSWORD)
        .await
        .expect("coach");
    let mut w = store.begin_write().await.expect("write");
    outcomes::set_user_groups(&mut w, &coach, &["Kas".to_string()])
        .await
        .expect("groups");
    w.commit().await.expect("commit");
    ids
}

async fn logged_in(s: &Server, tenant: &str, user: &str, password: &str) -> WebClient {
    let mut web = WebClient::new(&s.base);
    let login = web.login(tenant, user, password).await;
    assert_eq!(login.status, 303, "{user} logs in: {}", login.body);
    web
}

/// The part of `body` from the section headed `name` to the next section.
fn section<'a>(body: &'a str, name: &str) -> &'a str {
    let start = body
        .find(&format!("<section class=\"uitsplitsing\"><h2>{name}</h2>"))
        .unwrap_or_else(|| panic!("a section {name}"));
    let rest = &body[start + 10..];
    &body[start..start + 10 + rest.find("<section").unwrap_or(rest.len())]
}

/// The card of `domain` in a section.
fn card<'a>(section: &'a str, domain: &str) -> &'a str {
    let start = section
        .find(&format!("<article class=\"domein\"><h3>{domain}</h3>"))
        .unwrap_or_else(|| panic!("a card {domain} in {section}"));
    let rest = &section[start..];
    &rest[..rest.find("</article>").expect("end of card")]
}

/// The words a distribution chart says: intake and now, per level.
fn spread(intake: &[(i64, usize)], now: &[(i64, usize)]) -> String {
    let labels = [
        "",
        "1 – Acute problematiek",
        "2 – Niet zelfredzaam",
        "3 – Beperkt zelfredzaam",
        "4 – Voldoende zelfredzaam",
        "5 – Volledig zelfredzaam",
    ];
    let part = |v: &[(i64, usize)]| {
        v.iter()
            .map(|(l, n)| format!("{n} op {}", labels[*l as usize]))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("aria-label=\"Intake: {}; Nu: {}\"", part(intake), part(now))
}

fn verloop(improved: usize, same: usize, worse: usize) -> String {
    format!(
        "aria-label=\"{improved} vooruit, {same} gelijk, {worse} achteruit van {} deelnemers\"",
        improved + same + worse
    )
}

async fn the_aggregate_shows_the_hand_computed_figures_and_hides_groups_under_five(db: Db) {
    let s = Server::start(db).await;
    provider(&s).await;
    let mut web = logged_in(&s, AGB, "beheerder", PASSWORD).await;

    // Per group. Kas: six measured, five of them twice.
    let page = web.get("/ontwikkeling").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("href=\"/ontwikkeling\""), "in the menu");
    let kas = section(&page.body, "Kas");
    assert!(kas.contains("6 deelnemers met een meting"), "{kas}");
    let f = card(kas, "Financiën");
    assert!(f.contains("Intake en nu: 6 deelnemers"), "{f}");
    assert!(
        f.contains(&spread(
            &[(1, 1), (2, 2), (3, 2), (4, 1)],
            &[(2, 2), (3, 3), (4, 1)]
        )),
        "{f}"
    );
    assert!(f.contains("Verloop van 5 deelnemers"), "{f}");
    assert!(f.contains(&verloop(2, 2, 1)), "{f}");
    let w = card(kas, "Werk en opleiding");
    assert!(
        w.contains(&spread(
            &[(1, 2), (2, 3), (3, 1)],
            &[(1, 1), (2, 3), (3, 2)]
        )),
        "{w}"
    );
    assert!(w.contains(&verloop(2, 3, 0)), "{w}");
    // A domain nobody scored says so.
    assert!(card(kas, "Huisvesting").contains("Niet gescoord."));
    // Werkplaats: five, one measured three times (the middle one does
    // not count: first and last).
    let wp = section(&page.body, "Werkplaats");
    let f = card(wp, "Financiën");
    assert!(
        f.contains(&spread(
            &[(1, 1), (2, 2), (3, 1), (5, 1)],
            &[(2, 1), (3, 2), (4, 2)]
        )),
        "{f}"
    );
    assert!(f.contains(&verloop(3, 1, 1)), "{f}");
    let w = card(wp, "Werk en opleiding");
    assert!(
        w.contains(&spread(
            &[(1, 1), (2, 2), (3, 1), (4, 1)],
            &[(1, 1), (2, 1), (3, 2), (4, 1)]
        )),
        "{w}"
    );
    assert!(w.contains(&verloop(2, 2, 1)), "{w}");
    // Hout has four and the remainder without a group one: no figure.
    for small in ["Hout", "Zonder groep"] {
        let part = section(&page.body, small);
        assert!(part.contains("Minder dan 5 deelnemers"), "{part}");
        assert!(
            !part.contains("<svg") && !part.contains("deelnemers met een meting"),
            "{part}"
        );
    }

    // Per financing model: UWV's six, the Participatiewet's three hidden;
    // Wmo counts everyone it finances, also those UWV finances as well.
    let page = web
        .get("/ontwikkeling?instrument=zrm&indeling=financieringsvorm")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("telt bij beide mee"));
    let uwv = section(&page.body, "UWV");
    assert!(uwv.contains("6 deelnemers met een meting"), "{uwv}");
    let f = card(uwv, "Financiën");
    assert!(
        f.contains(&spread(
            &[(1, 2), (2, 3), (3, 1)],
            &[(2, 2), (3, 3), (4, 1)]
        )),
        "{f}"
    );
    assert!(f.contains(&verloop(4, 2, 0)), "{f}");
    assert!(section(&page.body, "Wmo").contains("13 deelnemers met een meting"));
    let pw = section(&page.body, "Participatiewet");
    assert!(
        pw.contains("Minder dan 5 deelnemers") && !pw.contains("<svg"),
        "{pw}"
    );
    assert!(
        !page.body.contains("<h2>Jeugdwet</h2>"),
        "a model nobody is financed by is not listed"
    );

    // Per financier, by name: the same people as the models here.
    let page = web
        .get("/ontwikkeling?instrument=zrm&indeling=financier")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let uwv = section(&page.body, "UWV");
    assert!(card(uwv, "Financiën").contains(&verloop(4, 2, 0)));
    assert!(
        section(&page.body, "Gemeente 0363 (Participatiewet)").contains("Minder dan 5 deelnemers")
    );

    // A period: only who was measured in March counts; the Kas has one.
    let page = web
        .get("/ontwikkeling?indeling=groep&van=2026-03-01&tot=2026-03-31")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("2 deelnemers met een meting van 01-03-2026 t/m 31-03-2026"),
        "{}",
        page.body
    );
    assert!(section(&page.body, "Kas").contains("Minder dan 5 deelnemers"));
    // Bad input gets a Dutch answer, not a page of figures.
    let bad = web.get("/ontwikkeling?van=2026-04-01&tot=2026-03-01").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("De periode begint na haar einde"));
    assert_eq!(web.get("/ontwikkeling?van=31-12-2026").await.status, 400);
    assert_eq!(web.get("/ontwikkeling?instrument=geen").await.status, 400);
    assert_eq!(web.get("/ontwikkeling?indeling=leeftijd").await.status, 400);

    // The coach of the Kas sees the Kas only.
    let mut coach = logged_in(&s, AGB, "coach", PASSWORD).await;
    let page = coach.get("/ontwikkeling").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("U ziet de deelnemers van uw groepen: Kas.")
    );
    assert!(section(&page.body, "Kas").contains(&verloop(2, 2, 1)));
    for other in ["Werkplaats", "Hout", "Zonder groep"] {
        assert!(!page.body.contains(&format!("<h2>{other}</h2>")), "{other}");
    }
    // The aggregate names no one: no entry in the access log.
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM access_log WHERE object LIKE '%ontwikkeling%'"
        )
        .await,
        0
    );
}

async fn a_participants_development_is_scoped_and_logged(db: Db) {
    let s = Server::start(db).await;
    let ids = provider(&s).await;
    let mut web = logged_in(&s, AGB, "beheerder", PASSWORD).await;
    // Participant 6 of the Werkplaats: three measurements of two domains.
    let path = format!("/deelnemers/{}/ontwikkeling", ids[6]);
    let page = web.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let b = &page.body;
    assert_eq!(b.matches("<svg").count(), 2, "one chart per domain scored");
    assert_eq!(b.matches("<circle").count(), 6, "three points per domain");
    assert!(b.contains("Financiën: 3 metingen van 10-01-2026 tot 10-05-2026, van 1 – Acute problematiek naar 3 – Beperkt zelfredzaam"), "{b}");
    assert!(b.contains("Werk en opleiding: 3 metingen van 10-01-2026 tot 10-05-2026, van 2 – Niet zelfredzaam naar 1 – Acute problematiek"));
    // Latest scores with their levels, the change, who scored, the notes.
    assert!(b.contains("<span class=\"verloop vooruit\">vooruit</span>"));
    assert!(b.contains("<span class=\"verloop achteruit\">achteruit</span>"));
    assert!(b.contains("door Beheerder"));
    assert!(b.contains("toelichting 6 2026-03-10"));
    assert_eq!(b.matches("<details class=\"meting\">").count(), 3);
    // From the participant's page there is a link.
    let record = web.get(&format!("/deelnemers/{}", ids[6])).await;
    assert!(record.body.contains(&format!("href=\"{path}\"")));
    // The view is in the access log: who, as what, which participant.
    let logged = |who: &'static str, id: String| {
        let s = &s;
        async move {
            count(
                s,
                &format!(
                    "SELECT COUNT(*) FROM access_log WHERE tenant_id = '{AGB}' AND participant_id = '{id}' \
                     AND actor = '{who}' AND kind = 'view' AND object = 'GET /deelnemers/{{id}}/ontwikkeling'"
                ),
            )
            .await
        }
    };
    assert_eq!(logged("beheerder", ids[6].clone()).await, 1);
    let role = count(&s, &format!("SELECT COUNT(*) FROM access_log WHERE actor = 'beheerder' AND role = 'beheer' AND participant_id = '{}'", ids[6])).await;
    assert!(role >= 1);

    // The coach of the Kas: the Kas's participant yes, the Werkplaats's no,
    // and the refused view is not in the log.
    let mut coach = logged_in(&s, AGB, "coach", PASSWORD).await;
    assert_eq!(
        coach
            .get(&format!("/deelnemers/{}/ontwikkeling", ids[0]))
            .await
            .status,
        200
    );
    assert_eq!(logged("coach", ids[0].clone()).await, 1);
    let refused = coach.get(&path).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(!refused.body.contains("<svg"));
    assert_eq!(logged("coach", ids[6].clone()).await, 0);
    // Unknown ids, and another tenant's participant, are not found.
    assert_eq!(
        coach.get("/deelnemers/onbekend/ontwikkeling").await.status,
        404
    );

    // A municipality has no outcome page, not even for its own residents.
    s.state.store().add_tenant("0344").await.expect("gemeente");
    add_user(
        s.state.store(),
        "0344",
        "gemeente",
        "Gemeente",
        Role::Beheer,
        PASSWORD,
    )
    .await
    .expect("user");
    let mut gemeente = logged_in(&s, "0344", "gemeente", PASSWORD).await;
    let page = gemeente.get("/ontwikkeling").await;
    assert_eq!(page.status, 403);
    assert!(
        !page.body.contains("href=\"/ontwikkeling\""),
        "not in a municipality's menu"
    );
    assert_eq!(gemeente.get(&path).await.status, 404);
    // Another provider sees nothing of this one's participants.
    add_other_tenant(&s).await;
    let mut other = logged_in(&s, "11112222", "anna", "een-ander-wachtwoord").await;
    assert_eq!(other.get(&path).await.status, 404);
    let page = other.get("/ontwikkeling").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("ZRM") || page.body.contains("0 deelnemers met een meting"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<svg class=\"grafiek verdeling\""));
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM access_log WHERE actor IN ('gemeente', 'anna')"
        )
        .await,
        0
    );
}

async fn the_demo_shows_development_at_once(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let mut web = WebClient::new(&s.base);
    assert_eq!(
        web.login(DEMO_AGB, "backoffice", DEMO_PASSWORD)
            .await
            .status,
        303
    );
    for breakdown in ["groep", "financier", "financieringsvorm"] {
        let page = web
            .get(&format!("/ontwikkeling?indeling={breakdown}"))
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(
            page.body.contains("<svg class=\"grafiek verdeling\""),
            "{breakdown}: figures"
        );
        assert!(page.body.contains(" vooruit, "), "{breakdown}: changes");
        // Justitie is scored for four: withheld in every breakdown.
        assert!(
            page.body.contains("Minder dan 5 deelnemers"),
            "{breakdown}: a figure withheld"
        );
    }
    let page = web.get("/ontwikkeling?indeling=financieringsvorm").await;
    for model in ["Wmo", "Jeugdwet", "UWV"] {
        let part = section(&page.body, model);
        assert!(part.contains("<svg class=\"grafiek verdeling\""), "{model}");
    }
    // Positieve Gezondheid for half of them: UWV's four get no figures.
    let page = web
        .get("/ontwikkeling?instrument=positieve-gezondheid&indeling=financieringsvorm")
        .await;
    assert!(section(&page.body, "UWV").contains("Minder dan 5 deelnemers"));
    assert!(section(&page.body, "Wmo").contains("<svg"));
    // Every demo participant has a page with charts.
    let id: String = sqlx::query_scalar("SELECT participant_id FROM measurements WHERE tenant_id = $1 ORDER BY participant_id LIMIT 1")
        .bind(DEMO_AGB)
        .fetch_one(s.state.store().pool())
        .await
        .expect("a measured participant");
    let page = web.get(&format!("/deelnemers/{id}/ontwikkeling")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Zelfredzaamheid-Matrix") && page.body.contains("<circle"));
    let per_person = count(&s, &format!("SELECT COUNT(*) FROM measurements WHERE tenant_id = '{DEMO_AGB}' AND instrument = 'zrm'")).await;
    assert!(
        (4 * 30..=5 * 30).contains(&per_person),
        "4 or 5 ZRM measurements each: {per_person}"
    );
}
