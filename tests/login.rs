//! Logging in under attack, over HTTP on both backends: a burst of wrong
//! passwords checks at most five and locks the account for the right one
//! too; locked, unknown and wrong read exactly alike; one address is rate
//! limited; and status notices come only from loket's own codes.

use std::net::{IpAddr, Ipv4Addr};

use loket::web::auth::{LOCK_MINUTES, MAX_FAILED_LOGINS, Role, add_user};
use loket::web::demo::{DEMO_AGB, DEMO_PASSWORD};
use loket::web::limit::BURST;
use sqlx::Row;

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    a_burst_of_wrong_passwords_checks_five_and_locks_out_the_right_one,
    locked_unknown_and_wrong_get_the_same_answer,
    one_address_is_rate_limited,
    forwarded_clients_are_limited_one_by_one_behind_a_trusted_proxy,
    notices_come_only_from_fixed_codes,
);

const TENANT: &str = "12345678";
const PASSWORD: &str = "het-goede-wachtwoord";
/// Where every refused login goes.
const REFUSED: &str = "/login?melding=inloggen-mislukt";

/// The answer to one login attempt, as far as the client can see it.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    location: Option<String>,
    set_cookie: Vec<String>,
    retry_after: Option<String>,
    body: String,
}

/// The login form's cookie and CSRF token (one form serves every attempt:
/// the token is only dropped by a successful login).
struct Form {
    cookie: String,
    csrf: String,
}

async fn login_form(base: &str) -> Form {
    let mut web = WebClient::new(base);
    let page = web.get("/login").await;
    let csrf = page.csrf();
    let cookie = web
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    Form { cookie, csrf }
}

/// A client whose connections come from `ip` (any 127.x.y.z is loopback).
fn client_from(ip: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(ip)
        .build()
        .expect("client")
}

/// A client at `ip` whose requests say they forward for `forwarded`, as a
/// reverse proxy's do.
fn client_forwarding(ip: IpAddr, forwarded: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", forwarded.parse().expect("header value"));
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(ip)
        .default_headers(headers)
        .build()
        .expect("client")
}

fn loopback(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x7f00_0002 + i))
}

async fn attempt(
    http: &reqwest::Client,
    base: &str,
    form: &Form,
    tenant: &str,
    user: &str,
    password: &str,
) -> Answer {
    let body = [
        ("csrf", form.csrf.as_str()),
        ("organisatie", tenant),
        ("gebruiker", user),
        ("wachtwoord", password),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", urlencode(v)))
    .collect::<Vec<_>>()
    .join("&");
    let res = http
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", &form.cookie)
        .body(body)
        .send()
        .await
        .expect("login request");
    let header = |name: &str| {
        res.headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect::<Vec<_>>()
    };
    let location = header("location").into_iter().next();
    let set_cookie = header("set-cookie");
    let retry_after = header("retry-after").into_iter().next();
    Answer {
        status: res.status().as_u16(),
        location,
        set_cookie,
        retry_after,
        body: res.text().await.expect("body"),
    }
}

fn refused() -> Answer {
    Answer {
        status: 303,
        location: Some(REFUSED.to_string()),
        set_cookie: Vec::new(),
        retry_after: None,
        body: String::new(),
    }
}

async fn with_users(s: &Server, users: &[&str]) {
    let store = s.state.store();
    store.add_tenant(TENANT).await.expect("tenant");
    for user in users {
        add_user(store, TENANT, user, "Test", Role::Begeleider, PASSWORD)
            .await
            .expect("user");
    }
}

/// The failed checks counted for `user`.
async fn failed_logins(s: &Server, user: &str) -> i64 {
    sqlx::query("SELECT failed_logins FROM users WHERE tenant_id = $1 AND username = $2")
        .bind(TENANT)
        .bind(user)
        .fetch_one(s.state.store().pool())
        .await
        .expect("user")
        .try_get::<i64, _>(0)
        .expect("number")
}

async fn count(s: &Server, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(s.state.store().pool())
        .await
        .expect("count")
        .try_get::<i64, _>(0)
        .expect("number")
}

/// One attempt from loopback address number `address`.
async fn attempt_from(s: &Server, form: &Form, address: u32, user: &str, password: &str) -> Answer {
    attempt(
        &client_from(loopback(address)),
        &s.base,
        form,
        TENANT,
        user,
        password,
    )
    .await
}

/// Sends every attempt at once, each from its own address (so the rate
/// limit stays out of it), and returns the answers.
async fn burst(s: &Server, form: &Form, first_address: u32, tries: &[(&str, &str)]) -> Vec<Answer> {
    let mut set = tokio::task::JoinSet::new();
    for (i, (user, password)) in tries.iter().enumerate() {
        let http = client_from(loopback(first_address + i as u32));
        let base = s.base.clone();
        let form = Form {
            cookie: form.cookie.clone(),
            csrf: form.csrf.clone(),
        };
        let (user, password) = (user.to_string(), password.to_string());
        set.spawn(async move { attempt(&http, &base, &form, TENANT, &user, &password).await });
    }
    set.join_all().await
}

async fn a_burst_of_wrong_passwords_checks_five_and_locks_out_the_right_one(db: Db) {
    let s = Server::start(db).await;
    with_users(&s, &["anna"]).await;
    let form = login_form(&s.base).await;

    let wrong: Vec<(&str, String)> = (0..100)
        .map(|i| ("anna", format!("fout-wachtwoord-{i}")))
        .collect();
    let tries: Vec<(&str, &str)> = wrong.iter().map(|(u, p)| (*u, p.as_str())).collect();
    let answers = burst(&s, &form, 0, &tries).await;
    for a in &answers {
        assert_eq!(a, &refused());
    }
    // Every password check is reserved (counted) before it runs, so the
    // count is the number of checks: exactly the limit, not one more.
    assert_eq!(failed_logins(&s, "anna").await, MAX_FAILED_LOGINS);
    let locked_until: String =
        sqlx::query("SELECT locked_until FROM users WHERE tenant_id = $1 AND username = $2")
            .bind(TENANT)
            .bind("anna")
            .fetch_one(s.state.store().pool())
            .await
            .expect("user")
            .try_get("locked_until")
            .expect("locked");
    assert!(locked_until > loket::store::now(), "{locked_until}");
    let lock_end = (chrono::Utc::now() + chrono::Duration::minutes(LOCK_MINUTES))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    assert!(
        locked_until <= lock_end,
        "{locked_until} within the lock time"
    );
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'account_locked'"
        )
        .await,
        1
    );

    // The right password, also in a burst, is refused while locked; no
    // session is opened and nothing more is counted.
    let right: Vec<(&str, &str)> = (0..20).map(|_| ("anna", PASSWORD)).collect();
    for a in burst(&s, &form, 100, &right).await {
        assert_eq!(a, refused());
    }
    assert_eq!(count(&s, "SELECT COUNT(*) FROM sessions").await, 0);
    assert_eq!(failed_logins(&s, "anna").await, MAX_FAILED_LOGINS);

    // When the lock has ended, the right password logs in and resets the count.
    sqlx::query("UPDATE users SET locked_until = $1 WHERE username = 'anna'")
        .bind("2000-01-01T00:00:00.000Z")
        .execute(s.state.store().pool())
        .await
        .expect("end the lock");
    let ok = attempt_from(&s, &form, 200, "anna", PASSWORD).await;
    assert_eq!(ok.status, 303);
    assert_eq!(ok.location.as_deref(), Some("/"));
    assert_eq!(failed_logins(&s, "anna").await, 0);
}

async fn locked_unknown_and_wrong_get_the_same_answer(db: Db) {
    let s = Server::start(db).await;
    with_users(&s, &["anna", "bert"]).await;
    let form = login_form(&s.base).await;
    let http = client_from(loopback(0));
    for i in 0..MAX_FAILED_LOGINS {
        let a = attempt(
            &http,
            &s.base,
            &form,
            TENANT,
            "anna",
            &format!("fout-{i}-wachtwoord"),
        )
        .await;
        assert_eq!(a, refused());
    }
    let locked = attempt(&http, &s.base, &form, TENANT, "anna", PASSWORD).await;
    let wrong = attempt(
        &http,
        &s.base,
        &form,
        TENANT,
        "bert",
        "niet-zijn-wachtwoord",
    )
    .await;
    let unknown = attempt(&http, &s.base, &form, TENANT, "niemand", PASSWORD).await;
    let other_tenant = attempt(&http, &s.base, &form, "99999999", "anna", PASSWORD).await;
    assert_eq!(locked, wrong, "locked reads like a wrong password");
    assert_eq!(unknown, wrong, "unknown reads like a wrong password");
    assert_eq!(other_tenant, wrong);
    assert_eq!(wrong, refused());
    // The page it leads to says nothing about which it was.
    let page = WebClient::new(&s.base).get(REFUSED).await;
    assert!(
        page.body.contains("Inloggen is niet gelukt"),
        "{}",
        page.body
    );
    // bert was not locked by anna's failures, and logs in.
    let ok = attempt(&http, &s.base, &form, TENANT, "bert", PASSWORD).await;
    assert_eq!(ok.location.as_deref(), Some("/"));
}

async fn one_address_is_rate_limited(db: Db) {
    let s = Server::start(db).await;
    with_users(&s, &["anna"]).await;
    let form = login_form(&s.base).await;
    let one = client_from(loopback(0));
    // Twice the burst at once from one address, for a name that does not
    // exist (so no account is locked by it).
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..2 * BURST {
        let (http, base) = (one.clone(), s.base.clone());
        let form = Form {
            cookie: form.cookie.clone(),
            csrf: form.csrf.clone(),
        };
        set.spawn(async move {
            attempt(&http, &base, &form, TENANT, "niemand", "een-wachtwoord").await
        });
    }
    let answers = set.join_all().await;
    let limited: Vec<&Answer> = answers.iter().filter(|a| a.status == 429).collect();
    let answered = answers.iter().filter(|a| **a == refused()).count();
    assert_eq!(answered + limited.len(), answers.len(), "{answers:?}");
    assert!(
        answered >= BURST as usize,
        "the burst is let through: {answered}"
    );
    assert!(!limited.is_empty(), "over the burst is refused");
    for a in &limited {
        let wait: u64 = a
            .retry_after
            .as_deref()
            .and_then(|v| v.parse().ok())
            .expect("Retry-After in seconds");
        assert!(wait >= 1, "{wait}");
        assert!(a.body.contains("Te veel inlogpogingen"), "{}", a.body);
    }
    // Another address is not affected, and the account was never touched.
    let ok = attempt_from(&s, &form, 1, "anna", PASSWORD).await;
    assert_eq!(ok.location.as_deref(), Some("/"));
}

/// Behind a proxy named in `trusted_proxies` every client it forwards for has
/// its own limit (without it, all users would share the proxy's); from any
/// other address `X-Forwarded-For` changes nothing, so it cannot be used to
/// escape the limit.
async fn forwarded_clients_are_limited_one_by_one_behind_a_trusted_proxy(db: Db) {
    let proxy = loopback(7);
    let mut config = loket::config::Config::default();
    config.limits.trusted_proxies = vec![proxy];
    let s = Server::start_with(db, config).await;
    with_users(&s, &["anna"]).await;
    let form = login_form(&s.base).await;
    let statuses = |client: reqwest::Client, forged: bool| {
        let (base, form) = (
            s.base.clone(),
            Form {
                cookie: form.cookie.clone(),
                csrf: form.csrf.clone(),
            },
        );
        async move {
            let mut out = Vec::new();
            for i in 0..2 * BURST {
                // An untrusted client names another address every time.
                let http = if forged {
                    client_forwarding(loopback(8), &format!("198.51.100.{i}"))
                } else {
                    client.clone()
                };
                out.push(
                    attempt(&http, &base, &form, TENANT, "niemand", "fout")
                        .await
                        .status,
                );
            }
            out
        }
    };
    // One client behind the proxy spends its burst and is limited...
    let one = statuses(client_forwarding(proxy, "203.0.113.9"), false).await;
    assert!(one.contains(&429), "{one:?}");
    // ...another client behind the same proxy is not.
    let other = client_forwarding(proxy, "203.0.113.10");
    let ok = attempt(&other, &s.base, &form, TENANT, "anna", PASSWORD).await;
    assert_eq!(ok.location.as_deref(), Some("/"));
    // An address that is no trusted proxy is itself, whatever it says.
    let forged = statuses(client_forwarding(loopback(8), "-"), true).await;
    assert!(forged.contains(&429), "{forged:?}");
}

async fn notices_come_only_from_fixed_codes(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let mut web = WebClient::new(&s.base);
    let login = web.login(DEMO_AGB, "beheer", DEMO_PASSWORD).await;
    assert_eq!(login.location.as_deref(), Some("/"));
    let pool = s.state.store().pool();
    let pid: String = sqlx::query("SELECT id FROM participants WHERE tenant_id = $1 LIMIT 1")
        .bind(DEMO_AGB)
        .fetch_one(pool)
        .await
        .expect("participant")
        .try_get("id")
        .expect("id");
    let item: String = sqlx::query("SELECT id FROM review_items WHERE tenant_id = $1 LIMIT 1")
        .bind(DEMO_AGB)
        .fetch_one(pool)
        .await
        .expect("review item")
        .try_get("id")
        .expect("id");
    let pages = [
        "/gebruikers".to_string(),
        "/declaraties".to_string(),
        "/afgekeurd".to_string(),
        format!("/afgekeurd/{item}"),
        format!("/deelnemers/{pid}"),
        "/registratie".to_string(),
    ];
    let planted = [
        "<script>alert('melding')</script>",
        "Uw sessie is verlopen. Bel de helpdesk: 0900-1234567",
    ];
    for page in &pages {
        for text in planted {
            for param in ["melding", "fout"] {
                let url = format!("{page}?{param}={}", urlencode(text));
                let p = web.get(&url).await;
                assert_eq!(p.status, 200, "{url}");
                for needle in ["alert(", "0900-1234567", "helpdesk"] {
                    assert!(!p.body.contains(needle), "{url} shows {needle:?}");
                }
            }
        }
    }
    let anonymous = WebClient::new(&s.base)
        .get(&format!("/login?melding={}", urlencode(planted[1])))
        .await;
    assert!(!anonymous.body.contains("helpdesk"));
    // A code shows its own text.
    let saved = web
        .get(&format!("/deelnemers/{pid}?melding=groep-opgeslagen"))
        .await;
    assert!(saved.body.contains("Groep opgeslagen."), "{}", saved.body);
    // Forms redirect with codes: adding a user whose name exists.
    let csrf = web.get("/gebruikers").await.csrf();
    let exists = web
        .post(
            "/gebruikers",
            &[
                ("csrf", &csrf),
                ("gebruiker", "jobcoach"),
                ("naam", "Nog een"),
                ("rol", "begeleider"),
                ("wachtwoord", "lang-genoeg-wachtwoord"),
            ],
        )
        .await;
    assert_eq!(
        exists.location.as_deref(),
        Some("/gebruikers?melding=gebruiker-bestaat")
    );
    let page = web.get("/gebruikers?melding=gebruiker-bestaat").await;
    assert!(page.body.contains("Deze gebruikersnaam bestaat al."));
    let short = web
        .post(
            "/gebruikers",
            &[
                ("csrf", &csrf),
                ("gebruiker", "nieuw"),
                ("naam", "Nieuw"),
                ("rol", "begeleider"),
                ("wachtwoord", "kort"),
            ],
        )
        .await;
    assert_eq!(
        short.location.as_deref(),
        Some("/gebruikers?melding=wachtwoord-te-kort")
    );
}
