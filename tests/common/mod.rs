//! Test harness shared by the end-to-end suites: every case runs on a fresh
//! SQLite store and, when `LOKET_TEST_DATABASE_URL` is set, on a PostgreSQL
//! database of its own; the daemon's logs are captured so the suites can
//! assert that no BSN is ever logged.

#![allow(dead_code)]

use std::future::Future;
use std::sync::{Mutex, Once};

use chrono::NaiveDate;
use loket::adapter::istandaard::encode::Builder;
use loket::adapter::istandaard::{self, Limits};
use loket::schema::Schema;
use serde_json::{Value, json};
use sqlx::Row;

pub mod browser;
pub mod ggk;
pub mod vsp;

// ---------------------------------------------------------------------------
// Backends: each test runs on SQLite and (when configured) on PostgreSQL.

/// The database one test runs on. The temp directory is the SQLite data
/// directory (and stays unused on PostgreSQL); it lives as long as the test.
pub struct Db {
    pub url: Option<String>,
    pub dir: tempfile::TempDir,
}

/// The variable that turns the PostgreSQL variants on.
pub const PG_ENV: &str = "LOKET_TEST_DATABASE_URL";

/// Runs `case` on a fresh SQLite store.
pub async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    capture_logs();
    case(Db {
        url: None,
        dir: tempfile::tempdir().expect("tempdir"),
    })
    .await;
}

/// Runs `case` on a fresh PostgreSQL database, or does nothing when
/// `LOKET_TEST_DATABASE_URL` is unset. The database is dropped afterwards,
/// also when the case panics (the panic is passed on).
pub async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    use sqlx::{Connection, Executor};
    let admin = match std::env::var(PG_ENV) {
        Ok(u) if !u.trim().is_empty() => u,
        _ => return,
    };
    capture_logs();
    let name = format!("loket_t_{:016x}", rand::random::<u64>());
    let mut conn = sqlx::postgres::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("{PG_ENV} is set but PostgreSQL is unreachable: {e}"));
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("create test database");
    let db = Db {
        url: Some(with_database(&admin, &name)),
        dir: tempfile::tempdir().expect("tempdir"),
    };
    // Spawned, so a failing assertion comes back as a JoinError and the
    // database is still dropped.
    let outcome = tokio::spawn(case(db)).await;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .await
    .expect("drop test database");
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("test task failed: {e}"),
        }
    }
}

/// `url` with its database name replaced by `name` (query string kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[host_start..].find('/') {
        Some(i) => &base[..host_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Declares every listed case as `sqlite::<case>` and `postgres::<case>`,
/// so a failure report names the backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::on_sqlite(super::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::on_postgres(super::$case).await;
                }
            )*
        }
    };
}

// ---------------------------------------------------------------------------
// Mappings for a provider and municipality 0363 talking through an exchange.

/// The project's Wmo contract of gemeente 0363 written into `dir` twice:
/// as the provider's mapping, delivering by `provider_delivery`, and as
/// municipality 0363's mapping of provider `agb` (kind aanbieder, the same
/// products), delivering by `municipality_delivery` and with the sections in
/// `settings` (e.g. `[declarations]\ndecide = "person"`, or nothing). Each
/// delivery is a TOML inline table, e.g. `{ vsp = "https://..." }` or
/// `{ stuf = "0310" }`.
pub fn exchange_mappings(
    dir: &std::path::Path,
    agb: &str,
    provider_delivery: &str,
    municipality_delivery: &str,
    settings: &str,
) {
    let (provider, products) = wmo_contract(&format!("delivery = {provider_delivery}"));
    std::fs::create_dir_all(dir.join("0363")).expect("mappings dir");
    std::fs::write(dir.join("gemeente-0363-wmo.toml"), provider).expect("provider mapping");
    std::fs::write(
        dir.join("0363").join(format!("aanbieder-{agb}.toml")),
        format!(
            "[financier]\nkind = \"aanbieder\"\ncode = \"{agb}\"\nname = \"Aanbieder {agb}\"\n\
             standard = \"iwmo\"\ndelivery = {municipality_delivery}\n\n{settings}\n\n{products}"
        ),
    )
    .expect("municipality's provider mapping");
}

// ---------------------------------------------------------------------------
// Log capture: every test's server logs into one buffer, checked for BSNs.

pub static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the process-wide subscriber once: the daemon's default level
/// (info) and everything loket itself logs.
pub fn capture_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info,loket=trace"))
            .with_ansi(false)
            .with_writer(|| LogWriter)
            .try_init();
    });
}

pub fn captured_logs() -> String {
    String::from_utf8_lossy(
        &LOG.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
    .into_owned()
}

// ---------------------------------------------------------------------------
// The server under test: the real router on an ephemeral loopback port.

pub struct Server {
    pub base: String,
    pub state: loket::server::AppState,
    pub http: reqwest::Client,
    pub db: Db,
}

/// The default size limit in these tests: every fixture fits.
pub const LIMIT: usize = 1024 * 1024;

impl Server {
    pub async fn start(db: Db) -> Server {
        Server::start_with_limit(db, LIMIT).await
    }

    /// Starts the server on `db`, checking it really runs on the intended backend.
    pub async fn start_with_limit(db: Db, max_message_bytes: usize) -> Server {
        let config = loket::config::Config {
            max_message_bytes,
            ..loket::config::Config::default()
        };
        Server::start_with(db, config).await
    }

    /// Starts the server on `db` with `config` (its listen address, data
    /// directory and database URL are the test's own).
    pub async fn start_with(db: Db, config: loket::config::Config) -> Server {
        let config = loket::config::Config {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: db.dir.path().to_path_buf(),
            database_url: db.url.clone(),
            ..config
        };
        let state = config.state().await.expect("server state");
        let expected = match db.url {
            Some(_) => loket::store::Backend::Postgres,
            None => loket::store::Backend::Sqlite,
        };
        assert_eq!(state.store().backend, expected, "the intended backend");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let router = loket::server::router(state.clone());
        // The daemon's own server loop, with its timeouts and limits.
        let limits = config.limits.clone();
        tokio::spawn(async move {
            loket::server::limits::serve(listener, router, &limits, std::future::pending())
                .await
                .expect("serve");
        });
        Server {
            base: format!("http://{addr}"),
            state,
            http: reqwest::Client::new(),
            db,
        }
    }
}

// ---------------------------------------------------------------------------
// An API client for one tenant.

impl Server {
    pub async fn tenant_api(&self, id: &str) -> Api {
        let token = self.state.store().add_tenant(id).await.expect("tenant");
        Api {
            base: self.base.clone(),
            http: self.http.clone(),
            token,
            tenant: id.to_string(),
        }
    }

    /// Where `loket import` finds this database.
    pub fn store_args(&self) -> Vec<String> {
        match &self.db.url {
            Some(u) => vec!["--database-url".into(), u.clone()],
            None => vec![
                "--data-dir".into(),
                self.db.dir.path().display().to_string(),
            ],
        }
    }
}

#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
    pub tenant: String,
}

pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
}

impl Api {
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Reply {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    /// Posts a raw (XML) body and reads a JSON answer.
    pub async fn post_raw(&self, path: &str, body: &str) -> Reply {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .body(body.to_string()),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    /// Sends with this tenant's token and reads a JSON answer.
    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let res = request
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")),
        }
    }
}

impl Api {
    /// `GET /metrics` as text (Prometheus, not JSON).
    pub async fn metrics_text(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// Posts a raw iWmo/iJw message to `POST /messages` with this tenant's
    /// token; the caller reads the answer it expects.
    pub async fn post_message(&self, xml: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/messages", self.base))
            .bearer_auth(&self.token)
            .body(xml.to_string())
            .send()
            .await
            .expect("post message")
    }

    /// The raw XML of a stored message, written out for CI's official
    /// validation ([`emit`]).
    pub async fn message_xml(&self, id: &str) -> String {
        let reply = self.get(&format!("/messages/{id}")).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let xml = reply.body["raw"].as_str().expect("raw").to_string();
        let bericht = reply.body["bericht"].as_str().unwrap_or("message");
        emit(
            &xml,
            reply.body["standard"] == "ubl",
            &format!("{bericht}-{id}"),
        );
        xml
    }

    /// Registers present days: (participant, day, from, to, activity).
    pub async fn days(&self, days: &[(&str, &str, &str, &str, &str)]) {
        let items: Vec<Value> = days
            .iter()
            .map(|(p, d, from, to, act)| {
                json!({"participant_id": p, "date": d, "present": true, "from": from, "to": to, "activity": act})
            })
            .collect();
        let reply = self
            .post_json(
                "/registrations",
                &json!({"registered_by": "Anna", "registrations": items}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    /// Runs the engine for `period` (dagtekening fixed so runs are
    /// reproducible); the answer must follow its schema.
    pub async fn run(&self, period: &str, dagtekening: &str) -> Value {
        let reply = self
            .post_json(
                "/declarations/run",
                &json!({"period": period, "dagtekening": dagtekening}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_schema("declarations-run-result", &reply.body);
        reply.body
    }
}

/// Polls `check` every 50 ms until it holds, or fails the test saying
/// `what` after `patience`.
pub async fn until<F, Fut>(what: &str, patience: std::time::Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + patience;
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Writes a generated document for CI's official validation:
/// `$LOKET_EMIT_DIR/<name>.xml` for iStandaarden, `$LOKET_EMIT_DIR/ubl/` for
/// UBL invoices (checked with validate-ubl apart).
pub fn emit(xml: &str, ubl: bool, name: &str) {
    if let Ok(dir) = std::env::var("LOKET_EMIT_DIR") {
        let dir = if ubl { format!("{dir}/ubl") } else { dir };
        std::fs::create_dir_all(&dir).expect("emit dir");
        std::fs::write(format!("{dir}/{name}.xml"), xml).expect("emit");
    }
}

/// Asserts that `value` follows the API schema `name` (schemas/api).
pub fn assert_schema(name: &str, value: &serde_json::Value) {
    let found = loket::server::input::violations(name, value).expect("schema compiles");
    assert!(found.is_empty(), "{name}: {found:?}\n{value:#}");
}

// ---------------------------------------------------------------------------
// The web app: a server with the demo tenant, and a browser-like client.

impl Server {
    /// Starts the server on `db` with the demo tenant of `loket serve --demo`
    /// (its mappings deliver to folders in the test's data directory).
    pub async fn start_demo(db: Db) -> (Server, loket::web::demo::Demo) {
        let mut config = loket::config::Config {
            data_dir: db.dir.path().to_path_buf(),
            ..loket::config::Config::default()
        };
        loket::web::demo::prepare(&mut config).expect("demo mappings");
        let inbox = loket::web::demo::provider_inbox(&config);
        let server = Server::start_with(db, config).await;
        let demo = loket::web::demo::seed(
            &server.state,
            loket::registration::today(),
            inbox.as_deref(),
        )
        .await
        .expect("demo seed");
        (server, demo)
    }
}

/// A browser without a browser: keeps the session cookie, follows no
/// redirects (the tests look at them), posts forms.
pub struct WebClient {
    pub base: String,
    pub http: reqwest::Client,
    pub cookies: std::collections::BTreeMap<String, String>,
    /// The Set-Cookie headers of the last response, as sent.
    pub last_set_cookie: Vec<String>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        self.body
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a csrf field")
            .to_string()
    }
}

impl WebClient {
    pub fn new(base: &str) -> WebClient {
        WebClient {
            base: base.to_string(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: Default::default(),
            last_set_cookie: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let res = req
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("request");
        self.last_set_cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        for c in &self.last_set_cookie {
            let pair = c.split(';').next().unwrap_or_default();
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() || c.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
        Page {
            status: res.status().as_u16(),
            location: res
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            body: res.text().await.expect("body"),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(req).await
    }

    /// A download as sent: status, headers and the bytes (not decoded as
    /// text: a CSV starts with a BOM, an .xlsx is binary).
    pub async fn download(&self, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("download");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        (status, headers, res.bytes().await.expect("bytes").to_vec())
    }

    /// Logs in; returns the answer to the login form.
    pub async fn login(&mut self, tenant: &str, user: &str, password: &str) -> Page {
        let form = self.get("/login").await;
        let csrf = form.csrf();
        self.post(
            "/login",
            &[
                ("csrf", &csrf),
                ("organisatie", tenant),
                ("gebruiker", user),
                ("wachtwoord", password),
            ],
        )
        .await
    }
}

/// The first column of the first row of `sql`, a count.
pub async fn count(s: &Server, sql: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(s.state.store().pool())
        .await
        .expect("count")
        .try_get::<i64, _>(0)
        .expect("count column")
}

/// A second provider tenant, 11112222, with a beheer user `anna` (password
/// `een-ander-wachtwoord`): what another organisation may see of the demo.
pub async fn add_other_tenant(s: &Server) {
    s.state
        .store()
        .add_tenant("11112222")
        .await
        .expect("tenant");
    loket::web::auth::add_user(
        s.state.store(),
        "11112222",
        "anna",
        "Anna",
        loket::web::auth::Role::Beheer,
        "een-ander-wachtwoord",
    )
    .await
    .expect("user");
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Allocations as a municipality sends them.

/// One allocation in a generated 301.
#[derive(Clone)]
pub struct Alloc<'a> {
    pub nummer: &'a str,
    pub categorie: &'a str,
    pub code: &'a str,
    pub ingang: &'a str,
    pub eind: Option<&'a str>,
    /// Volume, eenheid, frequentie.
    pub omvang: Option<(&'a str, &'a str, &'a str)>,
    pub reden: Option<&'a str>,
}

/// A Wmo 0363 dagbesteding (07A11) allocation of 40 dagdelen a month: more
/// than anyone in the tests attends.
pub fn dagbesteding<'a>(nummer: &'a str, ingang: &'a str) -> Alloc<'a> {
    Alloc {
        nummer,
        categorie: "07",
        code: "07A11",
        ingang,
        eind: None,
        omvang: Some(("40", "16", "4")),
        reden: None,
    }
}

/// The test client's Client with its Bsn, birth date and gender; the
/// caller adds its Naam (a 301 has the full name, a 305 the short one).
pub fn client(b: &mut Builder, bsn: &str) -> u32 {
    let c = b.add(0, "Client").expect("client");
    b.value(c, "Bsn", bsn).unwrap();
    let g = b.add(c, "Geboortedatum").unwrap();
    b.value(g, "Datum", "1990-05-17").unwrap();
    b.value(c, "Geslacht", "1").unwrap();
    c
}

/// A valid WMO301 / JW301 from `gemeente` to provider `aanbieder`, built
/// with the same builder the engine uses: the first message of a scenario,
/// before loket's own features take over.
pub fn allocation_xml(
    prefix: &str,
    gemeente: &str,
    aanbieder: &str,
    ident: &str,
    bsn: &str,
    allocs: &[Alloc<'_>],
) -> String {
    let schema = Schema::builtin().expect("schema");
    let day: NaiveDate = "2025-11-20".parse().expect("date");
    let mut b = Builder::heenbericht(
        schema,
        &format!("{prefix}301"),
        gemeente,
        aanbieder,
        ident,
        day,
    )
    .expect("header");
    let c = client(&mut b, bsn);
    let n = b.add(c, "Naam").unwrap();
    let gn = b.add(n, "Geslachtsnaam").unwrap();
    b.value(gn, "Achternaam", "Voorbeeld").unwrap();
    b.value(n, "Voorletters", "J").unwrap();
    b.value(n, "NaamGebruik", "1").unwrap();
    let cg = b.add(c, "Contactgegevens").unwrap();
    let ct = b.add(cg, "Contact").unwrap();
    b.value(ct, "Soort", "01").unwrap();
    let ad = b.add(ct, "Adres").unwrap();
    let huis = b.add(ad, "Huis").unwrap();
    b.value(huis, "Huisnummer", "12").unwrap();
    b.value(ad, "Postcode", "1011AB").unwrap();
    b.value(ad, "Straatnaam", "Dorpsstraat").unwrap();
    b.value(ad, "Plaatsnaam", "Amsterdam").unwrap();
    b.value(ad, "LandCode", "NL").unwrap();
    let t = b.add(ct, "Telefoon").unwrap();
    let t1 = b.add(t, "Telefoon01").unwrap();
    b.value(t1, "Telefoonnummer", "0201234567").unwrap();
    b.value(t1, "Landnummer", "0031").unwrap();
    let tps = b.add(c, "ToegewezenProducten").unwrap();
    for a in allocs {
        let tp = b.add(tps, "ToegewezenProduct").unwrap();
        b.value(tp, "ToewijzingNummer", a.nummer).unwrap();
        let p = b.add(tp, "Product").unwrap();
        b.value(p, "Categorie", a.categorie).unwrap();
        b.value(p, "Code", a.code).unwrap();
        b.value(tp, "Toewijzingsdatum", "2025-11-20").unwrap();
        b.value(tp, "Toewijzingstijd", "10:00:00").unwrap();
        b.value(tp, "Ingangsdatum", a.ingang).unwrap();
        b.opt(tp, "Einddatum", a.eind).unwrap();
        b.opt(tp, "RedenWijziging", a.reden).unwrap();
        if let Some((v, e, f)) = a.omvang {
            let o = b.add(tp, "Omvang").unwrap();
            b.value(o, "Volume", v).unwrap();
            b.value(o, "Eenheid", e).unwrap();
            b.value(o, "Frequentie", f).unwrap();
        }
    }
    let (xml, checked) = istandaard::check_outgoing(&b.msg, &Limits::default()).expect("encode");
    assert!(
        checked.findings.is_empty(),
        "test 301 is valid: {:?}",
        checked.findings
    );
    xml
}

impl Api {
    /// Posts a message as raw XML; the answer must be a retour or 200.
    pub async fn post_xml(&self, xml: &str) -> String {
        let res = self.post_message(xml).await;
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        assert_eq!(status, 200, "{text}");
        text
    }

    /// Posts the allocation message and returns the participant's id.
    pub async fn allocate(&self, xml: &str, bsn: &str) -> String {
        let retour = self.post_xml(xml).await;
        assert!(
            !retour.contains("RetourCode>0001<"),
            "allocation accepted: {retour}"
        );
        self.participant_by_bsn(bsn).await
    }

    /// The id of this tenant's participant with `bsn`.
    pub async fn participant_by_bsn(&self, bsn: &str) -> String {
        let reply = self
            .post_json("/participants/search", &json!({ "bsn": bsn }))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["id"]
            .as_str()
            .expect("participant id")
            .to_string()
    }
}

/// The body of `POST /allocations`: one 07 product (`code`, six dagdelen a
/// week from March to December 2026) for a client the municipality names in
/// full.
pub fn grant_body(aanbieder: &str, bsn: &str, nummer: &str, code: &str) -> Value {
    json!({
        "aanbieder": aanbieder, "bsn": bsn,
        "client": {
            "geboortedatum": "2001-04-03", "geslacht": "2", "achternaam": "Voorbeeld", "voorletters": "J",
            "adres": {"straatnaam": "Dorpsstraat", "huisnummer": 12, "postcode": "1011 AB", "plaatsnaam": "Amsterdam"},
        },
        "products": [{
            "toewijzing_nummer": nummer, "categorie": "07", "code": code,
            "toewijzingsdatum": "2026-02-20", "ingangsdatum": "2026-03-01", "einddatum": "2026-12-31",
            "omvang": {"volume": 6, "eenheid": "16", "frequentie": "2"},
        }],
    })
}

/// The project's Wmo contract with 0363 (`mappings/gemeente-0363-wmo.toml`)
/// with its `delivery = ...` line replaced by `delivery`, and its
/// `[[products]]` part (what a municipality's mapping of the provider
/// repeats).
pub fn wmo_contract(delivery: &str) -> (String, String) {
    let contract = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/gemeente-0363-wmo.toml"),
    )
    .expect("contract");
    let provider = contract
        .lines()
        .map(|l| {
            if l.starts_with("delivery = ") {
                delivery
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let products = contract[contract.find("[[products]]").expect("products")..].to_string();
    (provider, products)
}

/// Corrects a declared, approved day of the demo month to "ziek" through the
/// week form, as the back office `web` does: the next run of that month has
/// a correction (credit and new debit) to declare.
pub async fn correct_a_declared_day(s: &Server, web: &mut WebClient, month: &str) {
    let row = sqlx::query(
        "SELECT p.participant_id, MIN(r.day) AS day FROM prestaties p JOIN declarations d ON d.id = p.declaration_id \
         JOIN registrations r ON r.participant_id = p.participant_id AND r.superseded_by IS NULL AND r.present = 1 \
         WHERE p.tenant_id = $1 AND d.standard IN ('iwmo', 'ijw') AND p.status = 'approved' AND p.debet_credit = 'D' \
         AND r.day LIKE $2 GROUP BY p.participant_id ORDER BY p.participant_id LIMIT 1",
    )
    .bind(loket::web::demo::DEMO_AGB)
    .bind(format!("{month}%"))
    .fetch_one(s.state.store().pool())
    .await
    .expect("an approved line with a present day");
    let (pid, day): (String, String) = (row.get(0), row.get(1));
    let week = web
        .get(&format!(
            "/registratie/week?week={day}&deelnemer={pid}&dag={day}"
        ))
        .await;
    let saved = web
        .post(
            "/registratie/week/correctie",
            &[
                ("csrf", &week.csrf()),
                ("deelnemer", &pid),
                ("dag", &day),
                ("groep", ""),
                ("keuze", "ziek"),
                ("reden", "was ziek gemeld"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
}
