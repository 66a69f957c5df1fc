//! The back-office web app, served by `loket serve` beside the API: job
//! coaches register attendance, back-office staff review rejections and
//! declare. Server-rendered HTML in Dutch (maud templates, escaped by
//! construction), one small script of our own for keyboard registration,
//! no build chain.
//!
//! The pages read and write through the same functions as the API
//! ([`crate::registration::register`], [`crate::engine::run`], the record
//! and review queries), so a page and an API call cannot disagree. Every
//! page checks the session's tenant and role ([`auth::WebUser`]); ids in
//! URLs are loket's own ids, never a BSN.

pub mod access;
pub mod auth;
pub mod chart;
pub mod deadlines;
pub mod declarations;
pub mod demo;
pub mod demo_evaluations;
pub mod demo_outcomes;
pub mod demo_results;
pub mod evaluations;
pub mod export;
pub mod format;
pub mod gemeente;
pub mod limit;
pub mod messages;
pub mod notice;
pub mod outcome_reports;
pub mod outcomes;
pub mod participants;
pub mod registration;
pub mod reports;
pub mod requests;
pub mod results;
pub mod review;
pub mod search;
pub mod users;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};

use crate::server::AppState;
use auth::{Role, WebUser};

/// The web app's routes (merged into the API router by [`crate::server`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(auth::login_page).post(auth::login_submit))
        .route("/logout", post(auth::logout))
        .route("/static/loket.css", get(css))
        .route("/static/loket.js", get(script))
        .route(
            "/registratie",
            get(registration::day).post(registration::save_day),
        )
        .route("/registratie/week", get(registration::week))
        .route("/registratie/week/correctie", post(registration::correct))
        .route("/deelnemers", get(participants::list))
        .route("/deelnemers/{id}", get(participants::show))
        .route("/deelnemers/{id}/toegang", get(access::of_participant))
        .route("/deelnemers/{id}/ontwikkeling", get(outcomes::participant))
        .route("/ontwikkeling", get(outcomes::aggregate))
        .route("/deelnemers/{id}/avg", get(access::export_page))
        .route("/deelnemers/{id}/avg.json", get(access::export_json))
        .route("/deelnemers/{id}/groep", post(participants::set_group))
        .route("/evaluaties", get(evaluations::list))
        .route(
            "/deelnemers/{id}/evaluatie",
            get(evaluations::form).post(evaluations::save),
        )
        .route(
            "/deelnemers/{id}/evaluaties",
            get(evaluations::history_page),
        )
        .route("/deelnemers/{id}/doelen", post(evaluations::add_goal))
        .route(
            "/deelnemers/{id}/evaluatieplan",
            post(evaluations::set_plan),
        )
        .route("/gebruikers/groepen", post(evaluations::set_groups))
        .route("/deelnemers/{id}/einde", post(participants::end))
        .route("/deelnemers/{id}/verzoek/wijziging", post(requests::change))
        .route("/deelnemers/{id}/verzoek/toewijzing", post(requests::new))
        .route("/zoeken", get(search::form).post(search::results))
        .route("/afgekeurd", get(review::list))
        .route("/afgekeurd/bulk", post(review::bulk))
        .route("/afgekeurd/{id}", get(review::show))
        .route("/afgekeurd/{id}/opnieuw", post(review::resend))
        .route("/afgekeurd/{id}/sluiten", post(review::close))
        .route("/termijnen", get(deadlines::list))
        .route("/resultaten", get(results::list))
        .route("/deelnemers/{id}/mijlpaal", post(results::add))
        .route("/berichten", get(messages::list).post(messages::search))
        .route("/berichten/opnieuw", post(messages::retry_all))
        .route("/berichten/{id}", get(messages::show))
        .route("/berichten/{id}/xml", get(messages::xml))
        .route("/berichten/{id}/opnieuw", post(messages::retry))
        .route("/declaraties", get(declarations::list))
        .route("/declaraties/run", post(declarations::run))
        .route("/declaraties/run/versturen", post(declarations::confirm))
        .route(
            "/declaraties/{id}/specificatie",
            get(reports::specification),
        )
        .route("/overzichten", get(reports::overview))
        .route("/overzichten/{bestand}", get(reports::export))
        .route("/verantwoording", get(outcome_reports::index))
        .route("/verantwoording/rapport", get(outcome_reports::report))
        .route(
            "/verantwoording/rapport.csv",
            get(outcome_reports::report_csv),
        )
        .route("/verantwoording/cbs.csv", get(outcome_reports::cbs_csv))
        .route("/declaraties/{id}", get(declarations::show))
        .route("/declaraties/{id}/bericht", get(declarations::download))
        .route("/gemeente/declaraties", get(gemeente::list))
        .route("/gemeente/declaraties/{id}", get(gemeente::show))
        .route(
            "/gemeente/declaraties/{id}/regels/{line}",
            post(gemeente::decide),
        )
        .route("/gemeente/declaraties/{id}/versturen", post(gemeente::send))
        .route("/gemeente/toewijzingen", get(gemeente::allocations))
        .route("/gemeente/verzoeken", get(gemeente::requests))
        .route("/gebruikers", get(users::list).post(users::add))
        .route("/gebruikers/{gebruiker}/{actie}", post(users::act))
        .route(
            auth::PASSWORD_PAGE,
            get(users::password_page).post(users::change_password),
        )
        .route("/toegang", get(access::list))
        .route("/toegang.csv", get(access::csv))
        // One login limiter per router: per server, and per test server.
        .layer(axum::Extension(std::sync::Arc::new(
            limit::LoginLimiter::default(),
        )))
}

/// `/`: the page a role starts on.
async fn home(user: WebUser) -> Redirect {
    if user.tenant.kind == crate::store::TenantKind::Gemeente {
        Redirect::to("/gemeente/declaraties")
    } else if user.role.back_office() {
        Redirect::to("/afgekeurd")
    } else {
        Redirect::to("/registratie")
    }
}

/// Why a page could not be shown, as a page.
#[derive(Debug)]
pub enum WebError {
    NotFound,
    /// The user's role may not open the page; the page keeps their menu.
    Forbidden(Box<WebUser>),
    Csrf,
    BadRequest(String),
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for WebError {
    fn from(e: anyhow::Error) -> Self {
        WebError::Internal(e)
    }
}

/// An outcome write refused (a score, goal, plan or milestone): the Dutch
/// reason on the page, nothing stored.
impl From<crate::record::outcomes::OutcomeError> for WebError {
    fn from(e: crate::record::outcomes::OutcomeError) -> Self {
        use crate::record::outcomes::OutcomeError;
        match e {
            OutcomeError::Invalid { nl, .. } => WebError::BadRequest(nl),
            OutcomeError::NotFound => WebError::NotFound,
            OutcomeError::Store(e) => WebError::Internal(e),
        }
    }
}

impl From<sqlx::Error> for WebError {
    fn from(e: sqlx::Error) -> Self {
        WebError::Internal(e.into())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let user = match &self {
            WebError::Forbidden(u) => Some(u.as_ref().clone()),
            _ => None,
        };
        let (status, title, text) = match self {
            WebError::NotFound => (
                StatusCode::NOT_FOUND,
                "Niet gevonden",
                "Deze pagina of dit gegeven bestaat niet (meer).".to_string(),
            ),
            WebError::Forbidden(_) => (
                StatusCode::FORBIDDEN,
                "Geen toegang",
                "Uw rol geeft geen toegang tot deze pagina. Vraag zo nodig een beheerder.".to_string(),
            ),
            WebError::Csrf => (
                StatusCode::FORBIDDEN,
                "Formulier verlopen",
                "Het formulier hoort niet bij deze sessie. Open de pagina opnieuw en probeer het nog eens."
                    .to_string(),
            ),
            WebError::BadRequest(t) => (StatusCode::BAD_REQUEST, "Ongeldige invoer", t),
            WebError::Internal(e) if crate::store::is_unavailable(&e) => {
                tracing::warn!(error = %format!("{e:#}"), "web page: database unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Tijdelijk niet beschikbaar",
                    "De database is tijdelijk niet bereikbaar; er is niets gewijzigd. Probeer het over enkele seconden opnieuw."
                        .to_string(),
                )
            }
            WebError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "web page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Er ging iets mis",
                    "Interne fout; er is niets gewijzigd. Probeer het later opnieuw.".to_string(),
                )
            }
        };
        let body = html! {
            h1 { (title) }
            p.melding.fout role="alert" { (text) }
            p { a href="/" { "Naar de startpagina" } }
        };
        let mut res = (status, page(title, user.as_ref(), body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(crate::server::routes::RETRY_AFTER_SECS),
            );
        }
        res
    }
}

/// The page shell: header with the navigation of the user's role.
pub fn page(title: &str, user: Option<&WebUser>, body: Markup) -> Response {
    let html = html! {
        (DOCTYPE)
        html lang="nl" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · loket" }
                link rel="stylesheet" href="/static/loket.css";
                script src="/static/loket.js" defer {}
            }
            body {
                header.balk {
                    a.merk href="/" { "loket" }
                    @if let Some(u) = user {
                        nav aria-label="Hoofdmenu" {
                            ul {
                                @if u.tenant.kind == crate::store::TenantKind::Gemeente {
                                    li { a href="/gemeente/declaraties" { "Declaraties" } }
                                    li { a href="/gemeente/toewijzingen" { "Toewijzingen" } }
                                    li { a href="/gemeente/verzoeken" { "Verzoeken" } }
                                    @if u.role.back_office() {
                                        li { a href="/termijnen" { "Termijnen" } }
                                        li { a href="/berichten" { "Berichten" } }
                                    }
                                } @else {
                                li { a href="/registratie" { "Dagregistratie" } }
                                li { a href="/deelnemers" { "Deelnemers" } }
                                li { a href="/ontwikkeling" { "Ontwikkeling" } }
                                li { a href="/evaluaties" { "Evaluaties" } }
                                }
                                @if u.role.back_office() && u.tenant.kind != crate::store::TenantKind::Gemeente {
                                    li { a href="/afgekeurd" { "Afgekeurde berichten" } }
                                    li { a href="/declaraties" { "Declaraties" } }
                                    li { a href="/termijnen" { "Termijnen" } }
                                    li { a href="/berichten" { "Berichten" } }
                                    li { a href="/overzichten" { "Overzichten" } }
                                    li { a href="/verantwoording" { "Verantwoording" } }
                                    li { a href="/resultaten" { "Resultaten" } }
                                }
                                @if u.role == Role::Beheer {
                                    li { a href="/gebruikers" { "Gebruikers" } }
                                    li { a href="/toegang" { "Toegang" } }
                                }
                            }
                        }
                        (search::field(u))
                        div.wie {
                            span { (u.display_name) " · " (u.role.as_str()) " · " (u.tenant.id) }
                            a href=(auth::PASSWORD_PAGE) { "Wachtwoord" }
                            form method="post" action="/logout" {
                                (csrf_field(u))
                                button.link type="submit" { "Uitloggen" }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    };
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::response::Html(html.into_string()),
    )
        .into_response()
}

/// The hidden CSRF field every form of a logged-in user carries.
pub fn csrf_field(user: &WebUser) -> Markup {
    html! { input type="hidden" name="csrf" value=(user.csrf); }
}

/// Euros from cents, Dutch notation.
pub fn euro(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    let whole = format::integer(i64::try_from(c / 100).unwrap_or(i64::MAX));
    format!("{sign}€ {whole},{:02}", c % 100)
}

/// A participant's display name from the record's `naam` JSON.
pub fn name_of(naam: &serde_json::Value) -> String {
    let s = |k: &str| {
        naam.get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
    };
    let last = naam
        .get("Geslachtsnaam")
        .and_then(|g| g.get("Achternaam"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    let initials = s("Voorletters");
    let voorvoegsel = naam
        .get("Geslachtsnaam")
        .and_then(|g| g.get("Voorvoegsel"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    let joined = [initials, voorvoegsel, last]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    if joined.is_empty() {
        "(naam onbekend)".to_string()
    } else {
        joined
    }
}

/// The key participants are listed by: the surname without its voorvoegsel
/// ("de Vries" sorts under V, as Dutch registers do), then the initials,
/// then the voorvoegsel (to keep "Boer" and "de Boer" in a fixed order),
/// case-insensitive. One key for every list, so a person
/// finds someone at the same place on every page.
pub fn name_sort_key(naam: &serde_json::Value) -> (String, String, String) {
    let part = |k: &str| {
        naam.get("Geslachtsnaam")
            .and_then(|g| g.get(k))
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .trim()
            .to_lowercase()
    };
    let initials = naam
        .get("Voorletters")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .trim()
        .to_lowercase();
    (part("Achternaam"), initials, part("Voorvoegsel"))
}

/// Dutch labels of the standard's and loket's status words.
pub fn status_nl(status: &str) -> &str {
    match status {
        "requested" => "verzoek",
        "allocated" => "toegewezen",
        "started" => "gestart",
        "stopped" => "gestopt",
        "ended" => "beëindigd",
        "withdrawn" => "ingetrokken",
        "submitted" => "ingediend",
        "approved" => "goedgekeurd",
        "rejected" => "afgekeurd",
        "invoiced" => "gefactureerd",
        "accepted" => "geaccepteerd",
        "unusable" => "onbruikbaar",
        "sent" => "verzonden",
        "queued" => "in wachtrij",
        "sending" => "wordt verzonden",
        "failed" => "verzenden mislukt",
        "open" => "open",
        "held" => "wacht op beslissing",
        "resolved" => "afgehandeld",
        other => other,
    }
}

/// Dutch names of financier kinds.
/// A financier as staff name it: the law or body and its code ("Wmo 0363"),
/// or the body alone where its code is its name ("UWV").
pub fn financier_nl(kind: &str, code: &str) -> String {
    let label = financier_kind_nl(kind);
    if code.is_empty() || code.eq_ignore_ascii_case(label) {
        label.to_string()
    } else {
        format!("{label} {code}")
    }
}

/// A message type as staff read it: the iStandaarden names are the
/// standard's own (WMO323), UBL documents get their Dutch names.
pub fn bericht_nl(bericht: &str) -> &str {
    match bericht {
        "Invoice" => "Factuur",
        "CreditNote" => "Creditnota",
        other => other,
    }
}

pub fn financier_kind_nl(kind: &str) -> &str {
    match kind {
        "wmo" => "Wmo",
        "jeugdwet" => "Jeugdwet",
        "uwv" => "UWV",
        "participatiewet" => "Participatiewet",
        "wlz" => "Wlz",
        "pgb" => "PGB",
        "social_impact" => "Social impact",
        other => other,
    }
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        STYLE,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// One stylesheet: readable at 1280 px and on a tablet, large targets for
/// touch, visible focus for keyboard use.
const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;background:#f6f7f9}
header.balk{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.5rem;padding:.6rem 1.2rem;background:#123c69;color:#fff}
header.balk a{color:#fff}
.merk{font-weight:700;font-size:1.2rem;text-decoration:none}
nav ul{display:flex;flex-wrap:wrap;gap:.3rem 1rem;list-style:none;margin:0;padding:0}
.wie{margin-left:auto;display:flex;gap:.6rem;align-items:center;font-size:.9rem}
.wie form{margin:0}
button.link{background:none;border:0;color:#fff;text-decoration:underline;cursor:pointer;font:inherit;padding:0}
main{max-width:1200px;margin:0 auto;padding:1rem 1.2rem 3rem}
h1{font-size:1.5rem;margin:.6rem 0 1rem}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #dde1e6;padding:.45rem .5rem;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}
td.getal,th.getal{text-align:right;font-variant-numeric:tabular-nums}
form.filters,form.regel{display:flex;flex-wrap:wrap;gap:.6rem 1rem;align-items:flex-end;margin:0 0 1rem}
form.filters label,form.regel label{display:flex;flex-direction:column;font-size:.9rem}
form.login{display:grid;gap:.4rem;max-width:22rem}
input,select,textarea,button{font:inherit;padding:.45rem .55rem;border:1px solid #8a94a0;border-radius:4px;background:#fff}
button{background:#123c69;color:#fff;border-color:#123c69;cursor:pointer;min-height:2.6rem}
button.secundair{background:#fff;color:#123c69}
:focus-visible{outline:3px solid #f0a500;outline-offset:2px}
.melding{padding:.6rem .8rem;border-radius:4px;background:#e6f2ff;border:1px solid #9cc3ef}
.melding.fout{background:#fdecea;border-color:#e6a09a}
.melding.ok{background:#e8f6ec;border-color:#94cfa5}
.waarschuwing{color:#8a4b00}
.keuzes{display:flex;flex-wrap:wrap;gap:.25rem;border:0;padding:0;margin:0}
.verborgen{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.keuzes label{display:inline-flex;align-items:center;gap:.2rem;padding:.3rem .5rem;border:1px solid #b8c0c8;border-radius:4px;cursor:pointer;background:#fff;font-size:.9rem}
.keuzes input{margin:0}
.keuzes label:has(input:checked){background:#123c69;color:#fff;border-color:#123c69}
tr.deelnemer:focus-within{background:#fff8e1}
.tijdlijn{position:relative;height:2rem;background:#eef1f4;border-radius:4px;margin:.2rem 0}
.tijdlijn span{position:absolute;top:0;bottom:0;background:#5b8fc7;border-radius:4px;color:#fff;font-size:.75rem;padding:.3rem;overflow:hidden;white-space:nowrap}
.tijdlijn span.wmo{background:#2f6db5}.tijdlijn span.jeugdwet{background:#7a4fb0}.tijdlijn span.uwv{background:#1d8a5b}.tijdlijn span.participatiewet{background:#b5651d}
.gebruik{height:.6rem;background:#dde1e6;border-radius:3px;overflow:hidden;width:8rem;display:inline-block;vertical-align:middle}
.gebruik i{display:block;height:100%;background:#2f6db5}
.gebruik i.over{background:#c0392b}
.navigatie{display:flex;justify-content:space-between;margin:1rem 0}
dl.gegevens{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}
dl.gegevens dt{font-weight:600}
code{font-family:ui-monospace,monospace;font-size:.9em}
td.beslissing form{flex-direction:column;align-items:stretch;gap:.3rem;margin:0}
td.beslissing select,td.beslissing input{width:100%;max-width:15rem}
form.inline{display:inline-block;margin:0 .3rem .3rem 0}
td.acties{white-space:nowrap}
table.gebruikers form.regel{margin:0;gap:.3rem}
.wie a{color:#fff}
code.wachtwoord{font-size:1.4rem;letter-spacing:.05em;padding:.3rem .6rem;background:#eef2f6;border-radius:4px}
@media (max-width:820px){table{font-size:.9rem}.wie{margin-left:0}}
/* Berichten (message browser, src/web/messages.rs) */
table.berichten td.moment,table.gesprek td.moment{white-space:nowrap}
table.berichten tr.fout{background:#fdecea}
table.berichten td.bericht code{white-space:nowrap}
code.retourcode{cursor:help;border-bottom:1px dotted #5b6673}
p.aantal{margin:.2rem 0 .6rem;color:#3a4450}
.inhoud section.deel{margin:0 0 .6rem;padding:.4rem .8rem;background:#fff;border-left:3px solid #9cc3ef}
.inhoud section.diepte-1{margin-left:1rem}.inhoud section.diepte-2{margin-left:2rem}.inhoud section.diepte-3,.inhoud section.diepte-4{margin-left:3rem}
.inhoud h3{font-size:1rem;margin:.2rem 0 .3rem}
details.xml{margin:1rem 0}
details.xml pre{max-height:32rem;overflow:auto;background:#fff;border:1px solid #dde1e6;padding:.6rem;font-size:.85rem;white-space:pre-wrap;overflow-wrap:anywhere}
tr[aria-current=true]{background:#fff8e1}
@media (max-width:820px){table.berichten td.moment{white-space:normal;min-width:6rem}table.berichten th,table.berichten td{padding:.4rem .35rem}.inhoud section.diepte-2,.inhoud section.diepte-3,.inhoud section.diepte-4{margin-left:1.5rem}form.filters label{flex:1 1 11rem}}
/* Registratie: the day table as one grid row per participant (a group of
   twenty on a tablet at 820 px: no sideways scroll, rows under 80 px,
   touch targets of 40 px and more), the week view wrapping its cells. */
table.dag,table.dag thead,table.dag tbody{display:block;width:100%}
table.dag tr{display:grid;grid-template-columns:minmax(7rem,11rem) minmax(0,1fr) 3.6rem minmax(6rem,9rem);gap:.35rem;align-items:center;padding:.25rem .35rem;border-bottom:1px solid #dde1e6}
table.dag thead tr{background:#eef1f4}
table.dag th,table.dag td{border:0;padding:0;min-width:0;background:none}
table.dag th.naam{display:flex;flex-direction:column;gap:.1rem;overflow:hidden;line-height:1.2}
table.dag .naam-tekst,table.dag span.toewijzing{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
table.dag span.toewijzing{font-size:.75rem;font-weight:400;color:#4a5560}
table.dag select,table.dag input[type=text]{width:100%;min-height:2.6rem;padding:.25rem .3rem}
table.dag select.toewijzing{font-size:.75rem;font-weight:400}
table.dag .keuzes{display:grid;grid-template-columns:repeat(6,minmax(0,1fr));gap:.2rem}
table.dag .keuzes label{position:relative;display:flex;justify-content:center;text-align:center;min-height:2.6rem;padding:.1rem .15rem;font-size:.78rem;line-height:1.1;overflow-wrap:anywhere}
table.dag .keuzes input{-webkit-appearance:none;appearance:none;position:absolute;inset:0;width:100%;height:100%;margin:0;padding:0;border:0;border-radius:4px;background:transparent;cursor:pointer}
table.dag .keuzes label:has(input:focus-visible){outline:3px solid #f0a500;outline-offset:1px}
table.dag .keuzes input:focus-visible{outline:0}
@media (max-width:900px){table.dag tr{grid-template-columns:8rem minmax(0,1fr) 3rem 7rem;gap:.25rem;padding:.25rem .2rem}table.dag .keuzes label{font-size:.74rem;padding:.1rem}}
.controle ul{margin:.3rem 0 0;padding-left:1.2rem}
.controle{background:#fff6e0;border-color:#e0b860;margin:.6rem 0}
table.week{table-layout:fixed}
table.week th:first-child{width:9rem}
table.week td,table.week th{overflow-wrap:anywhere;font-size:.85rem;padding:.35rem .3rem}
table.week a.registratie{display:block;margin-bottom:.2rem}
table.week td.ontbreekt{background:#fdecea}
table.week td.ontbreekt a,span.ontbreekt{color:#a61b0f;font-weight:600}
table.week td.ontbreekt a{font-size:.75rem;overflow-wrap:normal}
table.week span.ontbreekt{font-size:.8rem}
table.week tr.gemarkeerd th,table.week tr.gemarkeerd td{background:#fff3c4}
table.week tr.gemarkeerd td.ontbreekt{background:#fbd3cd}
table.correcties td{overflow-wrap:anywhere}
/* Overzichten, exports, specificatie, run preview (issue 19 item 5) */
table.overzicht small{color:#5a6470}
table.overzicht td.getal{white-space:nowrap}
table.overzicht tr.subtotaal th,table.overzicht tr.subtotaal td{background:#f3f5f8}
tr.totaal th,tr.totaal td{border-top:2px solid #1b1f24;font-weight:700}
table.exports{width:auto}
.toelichting{font-size:.9rem;color:#5a6470}
table.specificatie tr.kop th{background:#e3e8ee}
table.specificatie tr.subtotaal td{font-style:italic}
.preview-knoppen{display:flex;gap:1rem;align-items:center;margin:1rem 0}
@media print{
@page{size:A4;margin:18mm 15mm}
body{background:#fff;font-size:10pt}
header.balk,nav,button,.geen-print,form{display:none!important}
main{max-width:none;padding:0}
a{color:inherit;text-decoration:none}
table{font-size:9pt}
thead{display:table-header-group}
tbody.deelnemer-blok{break-inside:avoid}
tr{break-inside:avoid}
}
/* Zoeken en beoordeling (issue 19, H2) */
form.zoeken{display:flex;gap:.3rem;align-items:center;margin:0}
form.zoeken input{min-width:14rem;max-width:100%}
header.balk form.zoeken button.secundair{min-height:2.2rem;padding:.3rem .6rem}
main form.zoeken{margin:0 0 1rem}
main form.zoeken input{flex:1}
table.registraties td a.corrigeren{white-space:nowrap}
@media (max-width:820px){form.zoeken input{min-width:0;width:11rem}}
/* Ontwikkeling (issue 20, H-B): outcome charts as inline SVG (src/web/chart.rs),
   coloured here, not in the SVG: five steps from the worst level to the best. */
svg.grafiek{display:block;width:100%;height:auto;max-width:100%;font-size:11px;font-family:inherit}
svg.grafiek.lijn.groot{max-width:44rem}
svg.grafiek.verdeling,svg.grafiek.verandering{max-width:26rem}
svg.grafiek .as text,svg.grafiek text.as{fill:#3a4450}
svg.grafiek line.raster{stroke:#e3e7ec;stroke-width:1}
svg.grafiek line.basis,svg.grafiek line.tik{stroke:#8a94a0;stroke-width:1}
svg.grafiek polyline.lijn{fill:none;stroke:#123c69;stroke-width:2.5;stroke-linejoin:round}
svg.grafiek circle.punt{fill:#fff;stroke:#123c69;stroke-width:2}
svg.grafiek rect.leeg{fill:#f0f2f5}
svg.grafiek rect.segment{stroke:#fff;stroke-width:1}
svg.grafiek text.in-balk{fill:#1b1f24;font-weight:600}
.n0{fill:#d9604c;background:#d9604c}.n1{fill:#f0a35e;background:#f0a35e}.n2{fill:#f2d46b;background:#f2d46b}.n3{fill:#9fcf7a;background:#9fcf7a}.n4{fill:#3fa46a;background:#3fa46a}
rect.vooruit{fill:#3fa46a}rect.gelijk{fill:#c3cad2}rect.achteruit{fill:#d9604c}
span.verloop.vooruit,span.vooruit{color:#1d6b3f}span.verloop.achteruit,span.achteruit{color:#a61b0f}
.kleine-grafieken{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,15rem),1fr));gap:.8rem;margin:1rem 0}
figure.klein,figure.groot{margin:0;background:#fff;border:1px solid #dde1e6;border-radius:4px;padding:.4rem .5rem}
figure.groot{margin:1rem 0;max-width:46rem}
figure.klein figcaption{font-weight:600;font-size:.9rem}
ul.legenda{display:flex;flex-wrap:wrap;gap:.2rem 1rem;list-style:none;padding:0;margin:.4rem 0 1rem;font-size:.85rem}
ul.legenda .staal{display:inline-block;width:.9rem;height:.9rem;border-radius:2px;margin-right:.3rem;vertical-align:-.1rem}
.domeinen{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,19rem),1fr));gap:.8rem}
article.domein{background:#fff;border:1px solid #dde1e6;border-radius:4px;padding:.5rem .7rem}
article.domein h3{font-size:1rem;margin:.1rem 0 .3rem}
article.domein p{margin:.3rem 0;font-size:.9rem}
.onderdrukt{color:#5a6470;font-style:italic}
section.uitsplitsing{margin:1.4rem 0}
nav.indeling{display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;margin:0 0 .8rem}
details.meting{background:#fff;border:1px solid #dde1e6;border-radius:4px;padding:.4rem .6rem;margin:.3rem 0}
details.meting summary{cursor:pointer}
table.scores td{overflow-wrap:anywhere}
table.scores th:last-child,table.scores td:last-child{white-space:nowrap}
/* Verantwoording (issue 20, H-C): a financier's report, one section per
   participant, kept together on paper where it fits */
section.rapport-deelnemer{margin:1.5rem 0 0;padding-top:.4rem;border-top:2px solid #dde1e6}
section.rapport-deelnemer h2{font-size:1.15rem;margin:.4rem 0 .5rem}
section.rapport-deelnemer h3{font-size:1rem;margin:.8rem 0 .3rem}
section.rapport-deelnemer table{margin-bottom:.4rem}
ul.doelen{margin:.2rem 0 .6rem;padding-left:1.2rem}
section.rapport-deelnemer td.datum,section.rapport-deelnemer small{white-space:nowrap}
@media print{section.rapport-deelnemer{break-inside:avoid-page}section.rapport-deelnemer h2,section.rapport-deelnemer h3{break-after:avoid}}
/* H-D: Resultaten (claims with their evidence) and the participant's
   milestones; long result names and evidence wrap instead of widening the
   table on a tablet. */
table.resultaten td{overflow-wrap:break-word}
table.resultaten td.getal{white-space:nowrap}
ul.bewijs{margin:0;padding-left:1rem;font-size:.9rem}
form.mijlpaal{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end}
form.mijlpaal label{display:flex;flex-direction:column;flex:1 1 11rem}
@media print{form.mijlpaal{display:none}}
/* Evaluaties, doelen en dagnotities (issue 20, H-A) */
table.dag details.notitie{font-size:.75rem;font-weight:400}
table.dag details.notitie summary{cursor:pointer;color:#123c69}
table.dag details.notitie textarea{width:100%;box-sizing:border-box;font-size:.85rem}
table.evaluaties{width:100%}
table.evaluaties tr.te-laat th,table.evaluaties tr.te-laat td{background:#fdf3e1}
section.evaluaties-kort{margin-bottom:1.5rem}
form.evaluatie{display:flex;flex-direction:column;gap:.6rem;max-width:100%}
form.evaluatie label{display:flex;flex-direction:column;gap:.2rem;max-width:100%}
form.evaluatie textarea,form.evaluatie input[type=text]{width:100%;box-sizing:border-box}
form.evaluatie fieldset{border:1px solid #dde1e6;border-radius:4px;padding:.5rem .6rem;margin:0;min-width:0}
form.evaluatie details.instrument{border:1px solid #b8c0c8;border-radius:4px;padding:.4rem .6rem}
form.evaluatie details.instrument>summary{font-weight:600;cursor:pointer;min-height:2.2rem;display:flex;align-items:center}
.segmenten{display:flex;flex-wrap:wrap;gap:.25rem}
.segmenten label{flex-direction:row!important;align-items:center;padding:.35rem .55rem;border:1px solid #b8c0c8;border-radius:4px;background:#fff;cursor:pointer;min-height:2.4rem;font-size:.88rem}
.segmenten label:has(input:checked){background:#123c69;color:#fff;border-color:#123c69}
.segmenten input{margin:0 .3rem 0 0}
.segmenten label small{font-size:.75rem}
small.vorige{font-weight:400;color:#4a5560}
dl.dagnotities dt{font-weight:600}
dl.dagnotities dd{margin:0 0 .4rem 0}
fieldset.doeldomeinen{border:0;padding:0;margin:.3rem 0;display:flex;flex-wrap:wrap;gap:.2rem .8rem}
fieldset.doeldomeinen legend{font-weight:600;width:100%}
label.vinkje{display:inline-flex;align-items:center;gap:.2rem;white-space:nowrap}
table.groepen form.regel{flex-wrap:wrap}
"#;

/// Keyboard registration: in a participant's row, a key chooses an option
/// (a = aanwezig, d = dagdeel, z = ziek, v = vakantie, n = niet
/// verschenen, x = anders) and moves to the next row, so a group of twenty
/// is registered with twenty key presses. "Alle open: aanwezig" fills the
/// rows not chosen yet. Without script every choice is a plain radio button.
/// It also sizes the bars from their data attributes (see
/// [`crate::server::headers`]: no inline style).
const SCRIPT: &str = r#"
document.addEventListener('DOMContentLoaded', function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll('tr.deelnemer'));
  var keys = {a: 'aanwezig', d: 'dagdeel', z: 'ziek', v: 'vakantie', n: 'no_show', x: 'anders'};
  rows.forEach(function (row, i) {
    row.addEventListener('keydown', function (e) {
      if (e.target.tagName === 'INPUT' && (e.target.type === 'text' || e.target.type === 'number')) return;
      if (e.target.tagName === 'SELECT') return;
      var v = keys[e.key];
      if (!v) return;
      var r = row.querySelector('input[type=radio][value="' + v + '"]');
      if (!r) return;
      e.preventDefault();
      r.checked = true;
      var next = rows[i + 1];
      if (next) { var f = next.querySelector('input[type=radio]'); if (f) f.focus(); }
    });
  });
  var all = document.getElementById('alle-aanwezig');
  if (all) all.addEventListener('click', function () {
    rows.forEach(function (row) {
      if (!row.querySelector('input[type=radio]:checked')) {
        var r = row.querySelector('input[type=radio][value="aanwezig"]');
        if (r) r.checked = true;
      }
    });
  });
  // Bars (usage, the allocation timeline) carry their size as data: the
  // Content-Security-Policy allows no style attributes, but does allow
  // setting a style from this script.
  document.querySelectorAll('[data-breedte]').forEach(function (el) {
    var w = parseFloat(el.getAttribute('data-breedte'));
    var l = parseFloat(el.getAttribute('data-links'));
    if (isFinite(w)) el.style.width = w + '%';
    if (isFinite(l)) el.style.left = l + '%';
  });
  // The week view opened for one participant scrolls to their row,
  // unless the address names a place of its own (#corrigeren).
  var marked = document.querySelector('tr.gemarkeerd');
  if (marked && !window.location.hash) marked.scrollIntoView({block: 'center'});
  // The specification's print button (no inline script under the CSP).
  var print = document.getElementById('afdrukken');
  if (print) print.addEventListener('click', function () { window.print(); });
  var pick = document.getElementById('selecteer-alles');
  if (pick) pick.addEventListener('change', function () {
    document.querySelectorAll('input[name=items]').forEach(function (c) { c.checked = pick.checked; });
  });
});
"#;

#[cfg(test)]
mod tests {
    #[test]
    fn euros_in_dutch_notation() {
        assert_eq!(super::euro(0), "€ 0,00");
        assert_eq!(super::euro(199_726), "€ 1.997,26");
        assert_eq!(super::euro(-123_456_789), "-€ 1.234.567,89");
    }
}
