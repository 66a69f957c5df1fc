//! A municipality tenant over HTTP: the errors of granting and changing
//! allocations (`POST /allocations`, `POST /allocations/{id}/change`), each
//! with nothing stored, tenant scoping, and what only a municipality may
//! do. The exchange with a provider is in `cases.rs`. Every case runs on
//! SQLite and, with `LOKET_TEST_DATABASE_URL`, PostgreSQL.

use serde_json::{Value, json};
use sqlx::Row;

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    granting_errors_store_nothing,
    changes_the_standard_does_not_allow_are_refused,
    allocations_are_the_municipalitys_own,
    answering_requests,
    allocations_from_a_case_system_export,
);

const AGB: &str = "73730112";
const BSN: &str = "999901023";

/// A server whose municipality 0363 knows provider AGB (kind aanbieder,
/// delivered into a folder) and whose 0599 knows nobody.
struct Setup {
    server: Server,
    gemeente: Api,
    other: Api,
    provider: Api,
    mappings: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn setup(db: Db) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let mappings = dir.path().join("mappings");
    let own = mappings.join("0363");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&own).expect("mappings");
    std::fs::create_dir_all(&out).expect("out");
    std::fs::create_dir_all(mappings.join("0599")).expect("mappings");
    std::fs::write(
        own.join("aanbieder.toml"),
        format!(
            "[financier]\nkind = \"aanbieder\"\ncode = \"{AGB}\"\nname = \"Aanbieder\"\nstandard = \"iwmo\"\n\
             delivery = {{ folder = \"{}\" }}\n",
            out.display()
        ),
    )
    .expect("mapping");
    // The provider's contract with 0363, its messages written to a folder.
    let contract = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/gemeente-0363-wmo.toml"),
    )
    .expect("contract");
    let contract: String = contract
        .lines()
        .map(|l| {
            if l.starts_with("delivery = ") {
                format!("delivery = {{ folder = \"{}\" }}\n", out.display())
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(mappings.join("gemeente-0363-wmo.toml"), contract).expect("contract");
    let config = loket::config::Config {
        mappings_dir: mappings.clone(),
        ..loket::config::Config::default()
    };
    let server = Server::start_with(db, config).await;
    let gemeente = server.tenant_api("0363").await;
    let other = server.tenant_api("0599").await;
    let provider = server.tenant_api(AGB).await;
    Setup {
        server,
        gemeente,
        other,
        provider,
        mappings,
        _dir: dir,
    }
}

fn client() -> Value {
    json!({
        "geboortedatum": "2001-04-03", "geslacht": "1", "achternaam": "Jansen", "voorletters": "K",
        "adres": {"straatnaam": "Kerkstraat", "huisnummer": 3, "postcode": "1011AB", "plaatsnaam": "Amsterdam"},
    })
}

fn body(products: Value) -> Value {
    json!({"aanbieder": AGB, "bsn": BSN, "client": client(), "products": products})
}

fn dagbesteding(volume: i64, frequentie: &str) -> Value {
    json!({"categorie": "07", "code": "07A12", "ingangsdatum": "2026-01-01", "einddatum": "2026-12-31",
           "omvang": {"volume": volume, "eenheid": "16", "frequentie": frequentie}})
}

/// Begeleiding, `hours` over the whole allocation (Frequentie 6).
fn begeleiding(hours: i64) -> Value {
    json!({"categorie": "02", "code": "02A04", "ingangsdatum": "2026-01-01", "einddatum": "2026-12-31",
           "omvang": {"volume": hours, "eenheid": "04", "frequentie": "6"}})
}

/// What the tenant has stored: participants, allocations, outbox rows.
async fn stored(server: &Server, tenant: &str) -> (i64, i64, i64) {
    let pool = server.state.store().pool();
    let mut counts = Vec::new();
    for table in ["participants", "allocations", "outbox"] {
        let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE tenant_id = $1");
        let n: i64 = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .fetch_one(pool)
            .await
            .expect("count")
            .try_get("n")
            .expect("n");
        counts.push(n);
    }
    (counts[0], counts[1], counts[2])
}

async fn granting_errors_store_nothing(db: Db) {
    let s = setup(db).await;
    let g = &s.gemeente;
    // 400: the body does not match grant.json, with the JSON paths.
    let bad = g
        .post_json(
            "/allocations",
            &json!({"aanbieder": "123", "bsn": BSN, "products": []}),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let paths = bad.body["error"]["paths"].to_string();
    assert!(
        paths.contains("/aanbieder") && paths.contains("/products"),
        "{}",
        bad.body
    );
    assert!(bad.body["error"]["nl"].is_string() && bad.body["error"]["en"].is_string());
    // 422: a provider without a mapping.
    let unknown = g
        .post_json(
            "/allocations",
            &json!({"aanbieder": "12345678", "bsn": BSN, "client": client(), "products": [dagbesteding(4, "2")]}),
        )
        .await;
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    assert_eq!(unknown.body["error"]["paths"], json!(["/aanbieder"]));
    // 422: the BSN fails the elfproef.
    let mut elf = body(json!([dagbesteding(4, "2")]));
    elf["bsn"] = json!("123456789");
    let elf = g.post_json("/allocations", &elf).await;
    assert_eq!(elf.status, 422, "{}", elf.body);
    assert_eq!(elf.body["error"]["paths"], json!(["/bsn"]));
    // 422: a new client without a name or address cannot be named in a 301.
    let nameless = g
        .post_json(
            "/allocations",
            &json!({"aanbieder": AGB, "bsn": BSN, "products": [dagbesteding(4, "2")]}),
        )
        .await;
    assert_eq!(nameless.status, 422, "{}", nameless.body);
    assert_eq!(
        nameless.body["error"]["paths"],
        json!(["/client/achternaam"])
    );
    // 422 with the standard's findings: an unknown product category, an
    // end before the start.
    let mut wrong = dagbesteding(4, "2");
    wrong["categorie"] = json!("99");
    wrong["einddatum"] = json!("2025-06-30");
    let broken = g.post_json("/allocations", &body(json!([wrong]))).await;
    assert_eq!(broken.status, 422, "{}", broken.body);
    let findings = broken.body["error"]["findings"]
        .as_array()
        .expect("findings");
    assert!(findings.len() >= 2, "{}", broken.body);
    assert!(
        findings
            .iter()
            .all(|f| f["nl"].is_string() && f["en"].is_string())
    );
    assert_eq!(stored(&s.server, "0363").await, (0, 0, 0));
    // Granted: 201, one 301 queued, the allocation kept with its provider.
    let ok = g
        .post_json("/allocations", &body(json!([dagbesteding(4, "2")])))
        .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert_schema("grant-result", &ok.body);
    assert_eq!(ok.body["bericht"], "WMO301");
    let a = &ok.body["allocations"][0];
    assert_eq!(a["aanbieder"], AGB);
    assert_eq!(a["status"], "allocated");
    let nummer = a["toewijzing_nummer"].as_str().unwrap();
    assert_eq!(nummer.len(), 9, "a nine-digit LDT_Nummer: {nummer}");
    assert_eq!(stored(&s.server, "0363").await, (1, 1, 1));
    let xml = g.message_xml(ok.body["message_id"].as_str().unwrap()).await;
    assert!(xml.contains("Ontvanger>73730112<"), "{xml}");
    // The same number again is refused: change it instead.
    let mut twice = dagbesteding(4, "2");
    twice["toewijzing_nummer"] = json!(nummer);
    let twice = g.post_json("/allocations", &body(json!([twice]))).await;
    assert_eq!(twice.status, 422, "{}", twice.body);
    assert_eq!(stored(&s.server, "0363").await, (1, 1, 1));
}

async fn changes_the_standard_does_not_allow_are_refused(db: Db) {
    let s = setup(db).await;
    let g = &s.gemeente;
    let ok = g
        .post_json(
            "/allocations",
            &body(json!([dagbesteding(4, "2"), begeleiding(40)])),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    let weekly = ok.body["allocations"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let total = ok.body["allocations"][1]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let change = |id: &str, v: Value| {
        let g = g.clone();
        let path = format!("/allocations/{id}/change");
        async move { g.post_json(&path, &v).await }
    };
    for (id, v, path) in [
        // 400: not a RedenWijziging a municipality gives.
        (
            &weekly,
            json!({"reden": "01", "einddatum": "2026-06-30"}),
            "/reden",
        ),
        // Extending needs a later end date.
        (
            &weekly,
            json!({"reden": "04", "einddatum": "2026-06-30"}),
            "/einddatum",
        ),
        // Shortening needs an earlier one.
        (
            &weekly,
            json!({"reden": "05", "einddatum": "2027-06-30"}),
            "/einddatum",
        ),
        // A volume per week does not change: end it and grant a new one.
        (
            &weekly,
            json!({"reden": "12", "omvang": {"volume": 6, "eenheid": "16", "frequentie": "2"}}),
            "/omvang",
        ),
        // Withdrawing sets the end date itself.
        (
            &weekly,
            json!({"reden": "13", "einddatum": "2026-01-01"}),
            "/reden",
        ),
        // Nothing changes.
        (&total, json!({"reden": "12"}), "/einddatum"),
    ] {
        let r = change(id, v.clone()).await;
        if path == "/reden" && v["reden"] == "01" {
            assert_eq!(r.status, 400, "{v}: {}", r.body);
        } else {
            assert_eq!(r.status, 422, "{v}: {}", r.body);
            assert_eq!(r.body["error"]["paths"], json!([path]), "{v}");
        }
    }
    assert_eq!(stored(&s.server, "0363").await, (1, 2, 1));
    // A total volume may change (OP033x1); the 301 repeats the other one
    // without RedenWijziging (OP087, IV099).
    let r = change(
        &total,
        json!({"reden": "12", "omvang": {"volume": 50, "eenheid": "04", "frequentie": "6"}}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["allocations"][0]["omvang"]["volume"], 50);
    let xml = g.message_xml(r.body["message_id"].as_str().unwrap()).await;
    assert_eq!(xml.matches("ToegewezenProduct>").count(), 4, "{xml}");
    assert_eq!(xml.matches("RedenWijziging>").count(), 2, "{xml}");
    assert_eq!(stored(&s.server, "0363").await, (1, 2, 2));
}

async fn allocations_are_the_municipalitys_own(db: Db) {
    let s = setup(db).await;
    let ok = s
        .gemeente
        .post_json("/allocations", &body(json!([dagbesteding(4, "2")])))
        .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    let id = ok.body["allocations"][0]["id"].as_str().unwrap();
    let path = format!("/allocations/{id}/change");
    let extend = json!({"reden": "04", "einddatum": "2027-06-30"});
    // Another municipality: 404, never a hint that it exists.
    let other = s.other.post_json(&path, &extend).await;
    assert_eq!(other.status, 404, "{}", other.body);
    // A provider does not change allocations: 403.
    let provider = s.provider.post_json(&path, &extend).await;
    assert_eq!(provider.status, 403, "{}", provider.body);
    // A municipality's grant is not a provider's order, and the reverse.
    let order = s
        .gemeente
        .post_json(
            "/allocations",
            &json!({"bsn": BSN, "financier": {"kind": "uwv", "code": "UWV"}, "order_number": "U-1", "service": "JC001", "from": "2026-01-01"}),
        )
        .await;
    assert_eq!(order.status, 400, "{}", order.body);
    // 0599 has no provider mapping.
    let nowhere = s
        .other
        .post_json("/allocations", &body(json!([dagbesteding(4, "2")])))
        .await;
    assert_eq!(nowhere.status, 422, "{}", nowhere.body);
    let r = s.gemeente.post_json(&path, &extend).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["allocations"][0]["einddatum"], "2027-06-30");
    assert_eq!(r.body["allocations"][0]["reden_wijziging"], "04");
}

/// A request the provider composed, received by the municipality as the
/// exchange would hand it over (the XML loket wrote).
async fn received_request(s: &Setup) -> String {
    let sent = s
        .provider
        .post_json(
            "/requests",
            &json!({
                "kind": "toewijzing", "bsn": BSN, "financier": {"kind": "wmo", "code": "0363"},
                "client": {"geboortedatum": "2001-04-03", "geslacht": "1", "achternaam": "Jansen"},
                "products": [{"categorie": "07", "code": "07A12", "ingangsdatum": "2027-01-01", "einddatum": "2027-06-30",
                              "omvang": {"volume": 4, "eenheid": "16", "frequentie": "2"},
                              "verwijzer": {"type": "02", "zorgverlenercode": "01087654"}}],
            }),
        )
        .await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let xml = s
        .provider
        .message_xml(sent.body["message_id"].as_str().unwrap())
        .await;
    s.gemeente.post_xml(&xml).await;
    let list = s.gemeente.get("/requests?status=received").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_schema("request-list", &list.body);
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", list.body);
    assert_eq!(items[0]["direction"], "in");
    assert_eq!(items[0]["aanbieder"], AGB);
    items[0]["id"].as_str().unwrap().to_string()
}

async fn answering_requests(db: Db) {
    let s = setup(db).await;
    let id = received_request(&s).await;
    let path = format!("/requests/{id}/answer");
    // 400: a rejection needs its WJ759 reason.
    let bad = s
        .gemeente
        .post_json(&path, &json!({"answer": "reject"}))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    // 403 for a provider; 404 for another municipality.
    let provider = s
        .provider
        .post_json(&path, &json!({"answer": "investigate"}))
        .await;
    assert_eq!(provider.status, 403, "{}", provider.body);
    let other = s
        .other
        .post_json(&path, &json!({"answer": "investigate"}))
        .await;
    assert_eq!(other.status, 404, "{}", other.body);
    // The 315 names no address: honouring needs one, and stores nothing.
    let (_, _, outbox) = stored(&s.server, "0363").await;
    let nameless = s
        .gemeente
        .post_json(&path, &json!({"answer": "honour"}))
        .await;
    assert_eq!(nameless.status, 422, "{}", nameless.body);
    assert_eq!(nameless.body["error"]["paths"], json!(["/client/adres"]));
    assert_eq!(stored(&s.server, "0363").await.2, outbox);
    // In onderzoek: a 319 with VerzoekAntwoord 2.
    let investigating = s
        .gemeente
        .post_json(&path, &json!({"answer": "investigate"}))
        .await;
    assert_eq!(investigating.status, 201, "{}", investigating.body);
    assert_schema("grant-result", &investigating.body);
    assert_eq!(investigating.body["bericht"], "WMO319");
    let item = s.gemeente.get(&format!("/requests/{id}")).await;
    assert_eq!(item.body["status"], "accepted", "{}", item.body);
    // Honoured with the address: the allocation carries the reference.
    let honoured = s
        .gemeente
        .post_json(&path, &json!({"answer": "honour", "client": client()}))
        .await;
    assert_eq!(honoured.status, 201, "{}", honoured.body);
    let reference = item.body["referentie_aanbieder"].as_str().unwrap();
    assert_eq!(
        honoured.body["allocations"][0]["referentie_aanbieder"],
        reference
    );
    let item = s.gemeente.get(&format!("/requests/{id}")).await;
    assert_eq!(item.body["status"], "honoured", "{}", item.body);
    assert_schema("request-item", &item.body);
}

/// `loket import allocations` on this setup's database and mappings.
fn import(s: &Setup, file: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<String> = vec![
        "import".into(),
        "allocations".into(),
        file.display().to_string(),
        "--tenant".into(),
        "0363".into(),
        "--mappings".into(),
        s.mappings.display().to_string(),
    ];
    args.extend(s.server.store_args());
    args.extend(extra.iter().map(|a| a.to_string()));
    std::process::Command::new(env!("CARGO_BIN_EXE_loket"))
        .args(&args)
        .env("LOKET_LOG", "warn")
        .env_remove("LOKET_DATABASE_URL")
        .env_remove("LOKET_DATA_DIR")
        .output()
        .expect("loket runs")
}

async fn allocations_from_a_case_system_export(db: Db) {
    let s = setup(db).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/allocations/toewijzingen-0363.csv"
    ))
    .expect("example");
    // The example with a date that does not exist and a provider without
    // a mapping: nothing is imported, and every wrong row is named.
    let mut wrong = example.clone();
    wrong.push_str(
        "999996782;Bakker;P;01-01-1990;M;Laan;1;1011 AB;Amsterdam;73730112;;07;07A11;01-12-2026;31-02-2027;;;;;\n\
         999996770;Smit;Q;01-01-1990;V;Laan;2;1011 AB;Amsterdam;12345678;;07;07A11;01-12-2026;01-02-2027;;;;;\n",
    );
    let file = dir.path().join("fout.csv");
    std::fs::write(&file, &wrong).expect("write");
    let out = import(&s, &file, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("fout.csv:5: kolom/column \"Ingangsdatum\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("fout.csv:6: kolom/column \"Aanbieder\""),
        "{stdout}"
    );
    assert!(stdout.contains(" / "), "bilingual: {stdout}");
    assert!(stdout.contains("niets geïmporteerd"), "{stdout}");
    assert!(
        !stdout.contains("999996782"),
        "no BSN in the output: {stdout}"
    );
    assert_eq!(stored(&s.server, "0363").await, (0, 0, 0));
    // --valid-only grants the clients whose rows are all good: two 301s.
    let out = import(&s, &file, &["--valid-only"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("3 toegewezen/granted in 2 bericht(en)"),
        "{stdout}"
    );
    assert_eq!(stored(&s.server, "0363").await, (2, 3, 2));
    let given: i64 = sqlx::query("SELECT COUNT(*) AS n FROM allocations WHERE tenant_id = '0363' AND toewijzing_nummer = '550001' AND aanbieder = $1")
        .bind(AGB)
        .fetch_one(s.server.state.store().pool())
        .await
        .expect("count")
        .try_get("n")
        .expect("n");
    assert_eq!(given, 1, "the number the export gave");
    // A comma-separated export with ISO dates, all good: exit 0; the
    // client's earlier allocations are repeated in its new 301 (OP087).
    let comma = "bsn,achternaam,aanbieder,categorie,productcode,ingangsdatum,einddatum,volume,eenheid,frequentie\n\
                 999900006,Vries,73730112,07,07A11,2027-01-01,2027-12-31,2,16,2\n";
    let file = dir.path().join("komma.csv");
    std::fs::write(&file, comma).expect("write");
    let out = import(&s, &file, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(stored(&s.server, "0363").await, (2, 4, 3));
    // Not a file for a provider.
    let provider = std::process::Command::new(env!("CARGO_BIN_EXE_loket"))
        .args([
            "import",
            "allocations",
            &file.display().to_string(),
            "--tenant",
            AGB,
        ])
        .args(s.server.store_args())
        .env("LOKET_LOG", "warn")
        .output()
        .expect("loket runs");
    assert_ne!(provider.status.code(), Some(0));
}
