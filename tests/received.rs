//! A municipality's normalised declarations over HTTP, on SQLite and
//! PostgreSQL: a WMO323 from provider A judged by municipality 0363 (one
//! line rejected) and UBL invoices and a credit note from provider B
//! (`POST /invoices`) in one export (`GET /declarations/received`, JSON and
//! CSV), its filters and totals, the CSV read back with the csv crate as a
//! Dutch spreadsheet would, who may see the BSN, the access log, and tenant
//! scoping.

use serde_json::{Value, json};

#[macro_use]
mod common;
use common::*;

on_both_backends!(one_export_of_323_and_ubl_lines);

/// Provider A declares with a WMO323.
const AGB_A: &str = "73730112";
/// Provider B invoices the Participatiewet (its seller id on the invoice is
/// the KvK number of mappings/gemeente-0363-participatiewet.toml).
const AGB_B: &str = "87654321";
const KVK_B: &str = "12345678";
const BSN: &str = "999901023";
/// The buyer's OIN in mappings/gemeente-0363-participatiewet.toml.
const OIN_0363: &str = "00000001002564440000";
const PASSWORD: &str = "een-lang-wachtwoord-2026";

struct Setup {
    server: Server,
    gemeente: Api,
    other: Api,
    provider_a: Api,
    provider_b: Api,
    _dir: tempfile::TempDir,
}

/// Municipality 0363 knows provider A (its mapping names it "Zorg A");
/// provider B has the Participatiewet contract with 0363; 0599 is another
/// municipality.
async fn setup(db: Db) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let mappings = dir.path().join("mappings");
    let own = mappings.join("0363");
    let out = dir.path().join("out");
    for d in [&own, &out, &mappings.join("0599")] {
        std::fs::create_dir_all(d).expect("dir");
    }
    std::fs::write(
        own.join("zorg-a.toml"),
        format!(
            "[financier]\nkind = \"aanbieder\"\ncode = \"{AGB_A}\"\nname = \"Zorg A\"\nstandard = \"iwmo\"\n\
             delivery = {{ folder = \"{}\" }}\n",
            out.display()
        ),
    )
    .expect("mapping");
    let project = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
    std::fs::copy(
        project.join("gemeente-0363-participatiewet.toml"),
        mappings.join("gemeente-0363-participatiewet.toml"),
    )
    .expect("contract");
    let config = loket::config::Config {
        mappings_dir: mappings,
        ..loket::config::Config::default()
    };
    let server = Server::start_with(db, config).await;
    let gemeente = server.tenant_api("0363").await;
    let other = server.tenant_api("0599").await;
    let provider_a = server.tenant_api(AGB_A).await;
    let provider_b = server.tenant_api(AGB_B).await;
    server
        .state
        .store()
        .set_tenant_oin("0363", OIN_0363)
        .await
        .expect("oin");
    Setup {
        server,
        gemeente,
        other,
        provider_a,
        provider_b,
        _dir: dir,
    }
}

/// A WMO323 from provider A to 0363 over April: one line on the allocation
/// 0363 granted (approved) and one on a ToewijzingNummer it never granted
/// (rejected).
fn declaration_323() -> String {
    let fixture = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/iwmo/valid/WMO323_declaratie.xml"),
    )
    .expect("fixture");
    // The second line: the first one again, on another number, 4 hours.
    let from = fixture.find("<wmo323:Prestatie>").expect("a prestatie");
    let to = fixture.find("</wmo323:Prestaties>").expect("prestaties");
    let second = fixture[from..to]
        .replace(">P1-2604-D01<", ">P1-2604-D02<")
        .replace(">300146<", ">399999<")
        .replace("<wmo323:GeleverdVolume>16<", "<wmo323:GeleverdVolume>4<")
        .replace("<iwmo:Bedrag>63200<", "<iwmo:Bedrag>15800<");
    fixture
        .replace("<wmo323:Ontvanger>0200<", "<wmo323:Ontvanger>0363<")
        .replace("<iwmo:TotaalBedrag>63200<", "<iwmo:TotaalBedrag>79000<")
        .replacen(
            "</wmo323:Prestaties>",
            &format!("{second}</wmo323:Prestaties>"),
            1,
        )
}

/// The municipality grants provider A the allocation the 323 declares on.
async fn grant(gemeente: &Api) {
    let reply = gemeente
        .post_json(
            "/allocations",
            &json!({
                "aanbieder": AGB_A, "bsn": BSN,
                "client": {"geboortedatum": "2001-04-03", "geslacht": "1", "achternaam": "Jansen",
                           "voorletters": "K", "adres": {"straatnaam": "Kerkstraat", "huisnummer": 3,
                           "postcode": "1011AB", "plaatsnaam": "Amsterdam"}},
                "products": [{"toewijzing_nummer": "300146", "categorie": "01", "code": "01A02",
                              "ingangsdatum": "2026-01-01", "einddatum": "2026-12-31",
                              "omvang": {"volume": 40, "eenheid": "04", "frequentie": "4"}}],
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

/// Provider B's April invoice, then its correction in May: a credit note
/// for April and a new invoice. Returns the three documents' XML.
async fn invoices_of_provider_b(api: &Api) -> Vec<String> {
    let order = api
        .post_json(
            "/allocations",
            &json!({
                "bsn": BSN, "financier": {"kind": "participatiewet", "code": "0363"},
                "order_number": "WI-2026-8", "service": "PB001", "from": "2026-01-01",
                "client_reference": "W-78",
            }),
        )
        .await;
    assert_eq!(order.status, 201, "{}", order.body);
    let p = order.body["participant_id"].as_str().unwrap().to_string();
    api.days(&[(
        &p,
        "2026-04-06",
        "09:00",
        "12:00",
        "participatiebegeleiding",
    )])
    .await;
    let mut xml = Vec::new();
    let april = api.run("2026-04", "2026-05-04").await;
    for d in april["declarations"].as_array().expect("documents") {
        xml.push(api.message_xml(d["message_id"].as_str().unwrap()).await);
    }
    api.days(&[(
        &p,
        "2026-04-06",
        "09:00",
        "13:00",
        "participatiebegeleiding",
    )])
    .await;
    let may = api.run("2026-05", "2026-06-02").await;
    for d in may["declarations"].as_array().expect("documents") {
        xml.push(api.message_xml(d["message_id"].as_str().unwrap()).await);
    }
    assert_eq!(xml.len(), 3, "{april} {may}");
    xml
}

/// `GET` with this tenant's token: (status, headers, body bytes).
async fn fetch(
    api: &Api,
    path: &str,
    accept: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = api
        .http
        .get(format!("{}{path}", api.base))
        .bearer_auth(&api.token);
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let res = req.send().await.expect("get");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.bytes().await.expect("body").to_vec())
}

/// The export's JSON, checked against its schema.
async fn export(api: &Api, query: &str) -> Value {
    let reply = api.get(&format!("/declarations/received{query}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_schema("received-declarations", &reply.body);
    reply.body
}

fn lines(v: &Value) -> Vec<Value> {
    v["lines"].as_array().expect("lines").clone()
}

/// (key, count, declared, approved, rejected) of one totals list.
fn totals(v: &Value, per: &str) -> Vec<(String, i64, i64, i64, i64)> {
    v["totals"][per]
        .as_array()
        .expect("totals")
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap().to_string(),
                t["count"].as_i64().unwrap(),
                t["declared_cents"].as_i64().unwrap(),
                t["approved_cents"].as_i64().unwrap(),
                t["rejected_cents"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The CSV as a Dutch spreadsheet reads it: BOM, `;`, header row.
fn read_csv(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM");
    let mut r = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(&bytes[3..]);
    let header = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let rows = r
        .records()
        .map(|rec| rec.expect("row").iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// Cents from a Dutch amount ("-207,00").
fn cents(s: &str) -> i64 {
    let (euros, cents) = s.split_once(',').expect("decimal comma");
    let sign = if euros.starts_with('-') { -1 } else { 1 };
    sign * (euros.trim_start_matches('-').parse::<i64>().unwrap() * 100
        + cents.parse::<i64>().unwrap())
}

async fn one_export_of_323_and_ubl_lines(db: Db) {
    let s = setup(db).await;
    grant(&s.gemeente).await;

    // Provider A's 323, received and judged by 0363: its 325 rejects the
    // line on the allocation it never granted.
    let answer = s.gemeente.post_xml(&declaration_323()).await;
    assert!(answer.contains("DeclaratieAntwoord"), "{answer}");
    assert!(
        answer.contains("399999"),
        "the second line rejected: {answer}"
    );
    assert!(
        !answer.contains(">300146<"),
        "the first line approved: {answer}"
    );

    // Provider B's invoices; the municipality knows its client number.
    let participant = s.gemeente.participant_by_bsn(BSN).await;
    sqlx::query("UPDATE participants SET client_number = 'W-78' WHERE tenant_id = '0363'")
        .execute(s.server.state.store().pool())
        .await
        .expect("client number");
    for xml in invoices_of_provider_b(&s.provider_b).await {
        let reply = s.gemeente.post_raw("/invoices", &xml).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    // One export: 2 lines of the 323 and 3 of the invoices (April 3 hours,
    // its credit, April 4 hours).
    let all = export(&s.gemeente, "").await;
    let got = lines(&all);
    assert_eq!(got.len(), 5, "{all:#}");
    let by = |source: &str, status: &str| -> Vec<Value> {
        got.iter()
            .filter(|l| l["source"] == source && l["status"] == status)
            .cloned()
            .collect()
    };
    let approved = by("323", "goedgekeurd");
    let rejected = by("323", "afgekeurd");
    assert_eq!((approved.len(), rejected.len()), (1, 1), "{all:#}");
    let a = &approved[0];
    assert_eq!(a["aanbieder"], AGB_A);
    assert_eq!(a["provider_name"], "Zorg A");
    assert_eq!(a["law"], "wmo");
    assert_eq!(a["bsn"], BSN);
    assert_eq!(a["participant_id"], participant.as_str());
    assert_eq!(a["toewijzing_nummer"], "300146");
    assert!(a["allocation_id"].is_string(), "{a}");
    assert_eq!(
        (a["product_categorie"].clone(), a["product_code"].clone()),
        (json!("01"), json!("01A02"))
    );
    assert_eq!(a["volume"], "16");
    assert_eq!(a["bedrag_cents"], 63200);
    assert_eq!(a["tarief_cents"], 3950);
    assert_eq!(a["retourcodes"], json!([]));
    let r = &rejected[0];
    assert_eq!(r["toewijzing_nummer"], "399999");
    assert!(r["allocation_id"].is_null(), "{r}");
    assert!(
        !r["retourcodes"].as_array().unwrap().is_empty(),
        "a rejected line says why: {r}"
    );
    let ubl = by("ubl", "ingediend");
    assert_eq!(ubl.len(), 3, "{all:#}");
    for l in &ubl {
        assert_eq!(l["aanbieder"], KVK_B);
        assert_eq!(l["provider_name"], "Werkplaats De Linde B.V.");
        assert_eq!(l["law"], "participatiewet");
        assert_eq!(l["client_reference"], "W-78");
        assert_eq!(l["participant_id"], participant.as_str());
        assert_eq!(l["bsn"], BSN, "linked by the client number");
        assert_eq!(l["product_code"], "PB001");
        assert_eq!(l["period_begin"], "2026-04-01");
        assert!(
            l["order_reference"]
                .as_str()
                .unwrap()
                .starts_with("WI-2026-8"),
            "{l}"
        );
    }
    let mut amounts: Vec<(String, i64)> = ubl
        .iter()
        .map(|l| {
            (
                l["debet_credit"].as_str().unwrap().to_string(),
                l["bedrag_cents"].as_i64().unwrap(),
            )
        })
        .collect();
    amounts.sort();
    assert_eq!(
        amounts,
        vec![
            ("C".to_string(), 20700),
            ("D".to_string(), 20700),
            ("D".to_string(), 27600)
        ]
    );

    // Totals: net, a credit counts negative.
    assert_eq!(
        totals(&all, "per_provider"),
        vec![
            (KVK_B.to_string(), 3, 27600, 0, 0),
            (AGB_A.to_string(), 2, 79000, 63200, 15800),
        ]
    );
    let names: Vec<&str> = all["totals"]["per_provider"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap_or_default())
        .collect();
    assert!(names.contains(&"Zorg A"), "{names:?}");
    assert_eq!(
        totals(&all, "per_product"),
        vec![
            ("01A02".to_string(), 2, 79000, 63200, 15800),
            ("PB001".to_string(), 3, 27600, 0, 0),
        ]
    );
    assert_eq!(
        totals(&all, "per_month"),
        vec![("2026-04".to_string(), 5, 106600, 63200, 15800)]
    );

    // Filters.
    let only = |q: &'static str| {
        let api = s.gemeente.clone();
        async move { lines(&export(&api, q).await) }
    };
    assert_eq!(only("?aanbieder=73730112").await.len(), 2);
    assert_eq!(only("?aanbieder=12345678").await.len(), 3);
    let afgekeurd = only("?status=afgekeurd").await;
    assert_eq!(afgekeurd.len(), 1);
    assert_eq!(afgekeurd[0]["toewijzing_nummer"], "399999");
    assert_eq!(only("?product=PB001").await.len(), 3);
    assert_eq!(only("?product=01").await.len(), 2, "by categorie");
    assert_eq!(only("?law=participatiewet").await.len(), 3);
    assert_eq!(only("?law=wmo").await.len(), 2);
    assert_eq!(only("?van=2026-04-15&tot=2026-04-20").await.len(), 5);
    assert_eq!(only("?van=01-04-2026&tot=30-04-2026").await.len(), 5);
    assert!(only("?tot=2026-03-31").await.is_empty());
    assert!(only("?van=2026-05-01").await.is_empty());
    assert_eq!(only("?limit=2").await.len(), 2);
    let filtered = export(&s.gemeente, "?status=goedgekeurd").await;
    assert_eq!(
        totals(&filtered, "per_month"),
        vec![("2026-04".to_string(), 1, 63200, 63200, 0)]
    );
    for bad in [
        "?status=betaald",
        "?van=morgen",
        "?van=2026-05-01&tot=2026-04-01",
        "?law=wlz",
    ] {
        let reply = s
            .gemeente
            .get(&format!("/declarations/received{bad}"))
            .await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
        assert_schema("error", &reply.body);
    }

    // The CSV, as a spreadsheet opens it: one row per line, in the JSON's
    // order.
    let (status, headers, body) = fetch(&s.gemeente, "/declarations/received.csv", None).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment"),
    );
    assert_eq!(headers["cache-control"], "no-store");
    let (header, rows) = read_csv(&body);
    assert_eq!(header[0], "Bron");
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("column {name}: {header:?}"))
    };
    assert_eq!(rows.len(), got.len());
    for (row, line) in rows.iter().zip(&got) {
        assert_eq!(row.len(), header.len());
        assert_eq!(row[col("Bron")], line["source"].as_str().unwrap());
        assert_eq!(row[col("Aanbieder")], line["aanbieder"].as_str().unwrap());
        assert_eq!(row[col("BSN")], BSN);
        assert_eq!(row[col("Status")], line["status"].as_str().unwrap());
        assert_eq!(row[col("Begindatum")], "01-04-2026");
        assert_eq!(row[col("Einddatum")], "30-04-2026");
        assert_eq!(
            cents(&row[col("Bedrag")]),
            line["bedrag_cents"].as_i64().unwrap()
        );
        let signed = if line["debet_credit"] == "C" { -1 } else { 1 }
            * line["bedrag_cents"].as_i64().unwrap();
        assert_eq!(cents(&row[col("Netto bedrag")]), signed);
        assert_eq!(
            row[col("Debet/credit")],
            line["debet_credit"].as_str().unwrap()
        );
        assert_eq!(
            row[col("Volume")],
            line["volume"].as_str().unwrap().replace('.', ",")
        );
        let received = row[col("Ontvangen")].clone();
        assert!(
            chrono::NaiveDate::parse_from_str(&received, "%d-%m-%Y").is_ok(),
            "{received}"
        );
    }
    let approved_row = rows
        .iter()
        .find(|r| r[col("Status")] == "goedgekeurd")
        .expect("approved row");
    assert_eq!(approved_row[col("Tarief")], "39,50");
    assert_eq!(approved_row[col("Bedrag")], "632,00");
    assert_eq!(approved_row[col("Naam aanbieder")], "Zorg A");
    let rejected_row = rows
        .iter()
        .find(|r| r[col("Status")] == "afgekeurd")
        .expect("rejected row");
    assert!(!rejected_row[col("Retourcodes")].is_empty());
    let credit_row = rows
        .iter()
        .find(|r| r[col("Debet/credit")] == "C")
        .expect("credit row");
    assert_eq!(credit_row[col("Netto bedrag")], "-207,00");
    assert_eq!(credit_row[col("Klantnummer")], "W-78");
    // The same file by content negotiation, and filtered.
    let (status, headers, negotiated) =
        fetch(&s.gemeente, "/declarations/received", Some("text/csv")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(negotiated, body);
    let (_, _, rejected_only) = fetch(
        &s.gemeente,
        "/declarations/received.csv?status=afgekeurd",
        None,
    )
    .await;
    assert_eq!(read_csv(&rejected_only).1.len(), 1);

    // A provider receives no declarations; another municipality sees none
    // of these.
    for provider in [&s.provider_a, &s.provider_b] {
        let reply = provider.get("/declarations/received").await;
        assert_eq!(reply.status, 403, "{}", reply.body);
        let (status, _, _) = fetch(provider, "/declarations/received.csv", None).await;
        assert_eq!(status, 403);
    }
    let none = export(&s.other, "").await;
    assert!(lines(&none).is_empty(), "{none}");
    assert!(totals(&none, "per_provider").is_empty());
    let (_, _, empty) = fetch(&s.other, "/declarations/received.csv", None).await;
    assert!(read_csv(&empty).1.is_empty());

    // Every read is in the access log of the participant shown.
    let log = s
        .gemeente
        .get(&format!("/access-log?participant={participant}&limit=1000"))
        .await;
    assert_eq!(log.status, 200, "{}", log.body);
    let objects: Vec<(String, String)> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["object"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        objects.contains(&("view".into(), "GET /declarations/received".into())),
        "{objects:?}"
    );
    assert!(
        objects.contains(&("download".into(), "GET /declarations/received.csv".into())),
        "{objects:?}"
    );

    // People: a begeleider gets the file without BSNs, back office with.
    let store = s.server.state.store();
    for (user, role) in [
        ("begeleider", loket::web::auth::Role::Begeleider),
        ("backoffice", loket::web::auth::Role::Backoffice),
    ] {
        loket::web::auth::add_user(store, "0363", user, user, role, PASSWORD)
            .await
            .expect("user");
        let mut web = WebClient::new(&s.server.base);
        let login = web.login("0363", user, PASSWORD).await;
        assert_eq!(login.status, 303, "{}", login.body);
        let page = web.get("/declarations/received.csv").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let text = page.body.trim_start_matches('\u{feff}');
        let mut r = csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_reader(text.as_bytes());
        let bsn_col = r
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "BSN")
            .expect("BSN column");
        let bsns: Vec<String> = r
            .records()
            .map(|rec| rec.unwrap()[bsn_col].to_string())
            .collect();
        assert_eq!(bsns.len(), 5);
        if role == loket::web::auth::Role::Begeleider {
            assert!(bsns.iter().all(String::is_empty), "{bsns:?}");
            assert!(!page.body.contains(BSN));
        } else {
            assert!(bsns.iter().all(|b| b == BSN), "{bsns:?}");
        }
        let json = web.get("/declarations/received").await;
        assert_eq!(json.status, 200);
        let v: Value = serde_json::from_str(&json.body).expect("json");
        assert_schema("received-declarations", &v);
        if role == loket::web::auth::Role::Begeleider {
            assert!(lines(&v).iter().all(|l| l["bsn"].is_null()));
        }
        let log = s
            .gemeente
            .get(&format!(
                "/access-log?participant={participant}&actor={user}"
            ))
            .await;
        assert!(
            !log.body["items"].as_array().unwrap().is_empty(),
            "{user} is in the access log: {}",
            log.body
        );
    }
    // Without a token or session: 401.
    let res = s
        .server
        .http
        .get(format!("{}/declarations/received", s.server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    // Retention: the participant pseudonymised, the client number the
    // invoices quoted goes too; the lines and their amounts stay.
    let later = loket::registration::today() + chrono::Duration::days(365 * 30);
    let run = loket::record::retention::run(
        store,
        &loket::record::retention::Settings::default(),
        later,
        Some("0363"),
        false,
    )
    .await
    .expect("retention");
    assert_eq!(run.participants.len(), 1, "{run:?}");
    let kept = lines(&export(&s.gemeente, "").await);
    assert_eq!(kept.len(), 5);
    for l in &kept {
        assert_ne!(l["bsn"], BSN, "{l}");
        if l["source"] == "ubl" {
            assert_eq!(l["client_reference"], "", "{l}");
        }
    }
    // No BSN reached the logs.
    assert!(!captured_logs().contains(BSN), "a BSN in the logs");
}
