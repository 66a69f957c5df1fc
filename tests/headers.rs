//! Security headers (issue 15, item 6): every kind of response (API, web
//! page, download, error, static asset) carries them; care data are never
//! cached, static assets are; and no page needs what the
//! Content-Security-Policy forbids (inline script, style attributes, event
//! handler attributes).

use loket::server::headers::{CONTENT_SECURITY_POLICY, HEADERS};
use loket::web::demo::{DEMO_AGB, DEMO_PASSWORD};
use regex::Regex;

#[macro_use]
mod common;
use common::*;

on_both_backends!(every_response_carries_the_security_headers);

struct Fetched {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn fetch(s: &Server, path: &str, cookie: Option<&str>, token: Option<&str>) -> Fetched {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut req = http.get(format!("{}{path}", s.base));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("request");
    Fetched {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.text().await.expect("body"),
    }
}

fn header<'a>(f: &'a Fetched, name: &str) -> &'a str {
    f.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The security headers, and `no-store` unless `cacheable`.
fn assert_headers(what: &str, f: &Fetched, cacheable: bool) {
    for (name, value) in HEADERS {
        assert_eq!(header(f, name), *value, "{what}: {name}");
    }
    let csp = header(f, "content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    let cache = header(f, "cache-control");
    if cacheable {
        assert!(cache.contains("max-age"), "{what}: cache-control {cache}");
    } else {
        assert_eq!(cache, "no-store", "{what}");
    }
}

/// What the policy would block: inline script, style attributes or
/// elements, event handler attributes, `javascript:` URLs.
fn assert_no_inline(what: &str, html: &str) {
    let inline_script = Regex::new(r"<script(?:\s[^>]*)?>\s*[^<\s]").expect("regex");
    let style = Regex::new(r#"(?i)<style|\sstyle\s*="#).expect("regex");
    let handler = Regex::new(r#"(?i)<[^>]*\son[a-z]+\s*="#).expect("regex");
    assert!(!inline_script.is_match(html), "{what}: inline script");
    for tag in html.split("<script").skip(1) {
        let tag = tag.split('>').next().unwrap_or_default();
        assert!(tag.contains("src="), "{what}: a script element without src");
    }
    assert!(!style.is_match(html), "{what}: inline style");
    assert!(!handler.is_match(html), "{what}: event handler attribute");
    assert!(!html.contains("javascript:"), "{what}: javascript: URL");
}

/// Every `href` in `html` that starts with `prefix` and has one more path
/// segment: the detail pages a list links to.
fn links(html: &str, prefix: &str) -> Vec<String> {
    let re = Regex::new(&format!(
        r#"href="({}[A-Za-z0-9-]+)""#,
        regex::escape(prefix)
    ))
    .expect("regex");
    re.captures_iter(html).map(|c| c[1].to_string()).collect()
}

async fn every_response_carries_the_security_headers(db: Db) {
    assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self'"));
    let (s, demo) = Server::start_demo(db).await;
    let token = demo.api_token.clone().expect("the demo's API token");

    // Without a session or token.
    for (path, status) in [("/login", 200), ("/healthz", 200), ("/bestaat-niet", 404)] {
        let f = fetch(&s, path, None, None).await;
        assert_eq!(f.status, status, "{path}");
        assert_headers(path, &f, false);
    }
    let f = fetch(&s, "/participants", None, None).await;
    assert_eq!(f.status, 401);
    assert_headers("API 401", &f, false);
    assert_no_inline("/login", &fetch(&s, "/login", None, None).await.body);

    // Static assets: the headers, and cacheable.
    for path in ["/static/loket.css", "/static/loket.js"] {
        let f = fetch(&s, path, None, None).await;
        assert_eq!(f.status, 200, "{path}");
        assert_headers(path, &f, true);
    }

    // The API.
    let f = fetch(&s, "/participants", None, Some(&token)).await;
    assert_eq!(f.status, 200, "{}", f.body);
    assert_headers("GET /participants", &f, false);
    let f = fetch(&s, "/participants/onbekend", None, Some(&token)).await;
    assert_eq!(f.status, 404);
    assert_headers("API 404", &f, false);

    // The web app, logged in as the back office, every page kind.
    let mut web = WebClient::new(&s.base);
    let ok = web.login(DEMO_AGB, "beheer", DEMO_PASSWORD).await;
    assert_eq!(ok.status, 303);
    let cookie = web
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut pages: Vec<String> = [
        "/registratie",
        "/registratie/week",
        "/deelnemers",
        "/afgekeurd",
        "/declaraties",
        "/gebruikers",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    let participants = fetch(&s, "/deelnemers", Some(&cookie), None).await;
    let declarations = fetch(&s, "/declaraties", Some(&cookie), None).await;
    let review = fetch(&s, "/afgekeurd", Some(&cookie), None).await;
    let participant = links(&participants.body, "/deelnemers/");
    let declaration = links(&declarations.body, "/declaraties/");
    assert!(!participant.is_empty() && !declaration.is_empty());
    pages.extend(participant.into_iter().take(3));
    pages.extend(declaration.iter().take(2).cloned());
    pages.extend(links(&review.body, "/afgekeurd/").into_iter().take(2));
    for path in &pages {
        let f = fetch(&s, path, Some(&cookie), None).await;
        assert_eq!(f.status, 200, "{path}");
        assert_headers(path, &f, false);
        assert_no_inline(path, &f.body);
    }
    // A participant page with bars: sized from data attributes by the script.
    let detail = fetch(&s, &pages[6], Some(&cookie), None).await;
    assert!(detail.body.contains("data-breedte"), "{}", pages[6]);

    // A download.
    let download = format!("{}/bericht", declaration[0]);
    let f = fetch(&s, &download, Some(&cookie), None).await;
    assert_eq!(f.status, 200, "{download}");
    assert!(header(&f, "content-disposition").starts_with("attachment"));
    assert_headers(&download, &f, false);

    // A web error page.
    let f = fetch(&s, "/deelnemers/onbekend", Some(&cookie), None).await;
    assert_eq!(f.status, 404);
    assert_headers("web 404", &f, false);
}
