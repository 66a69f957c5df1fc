//! Berichten (back office, provider and municipality): every message in
//! and out of the tenant, with its delivery state, retourcodes and the
//! participant it is about, filtered and searched; and one message read as
//! a Dutch summary derived from the schema, its XML, its conversation
//! ([`crate::record::conversation`]) and its delivery, where a failed
//! delivery is retried through [`crate::outbox::retry`] (the same function
//! as `POST /outbox/{id}/retry`).
//!
//! Privacy: the search takes identifiers only. The filter form posts, and
//! only a search that may appear in an address is turned into one: a BSN
//! or a name would end up in a browser history and in proxy logs, so such
//! a search is refused on the page, with the way to find a participant
//! instead (a typed address with one is refused the same way). Ids in URLs
//! are loket's own.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Amsterdam;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;

use super::auth::{Post, WebUser, audit, csrf_form};
use super::format;
use super::registration::urlencode;
use super::{WebError, bericht_nl, csrf_field, euro, financier_nl, name_of, page, status_nl};
use crate::adapter::istandaard::{self, config::Limits};
use crate::record::access::Kind;
use crate::record::messages::{self, Filter, MessageRow, Section, Value};
use crate::schema::Schema;
use crate::server::AppState;
use crate::server::access::Peer;
use crate::store::TenantKind;

/// The most failed messages "alles opnieuw" queues at once.
const MAX_RETRY: i64 = 500;

/// The list's filters, as GET parameters (never a BSN or a name: see
/// [`refusal`]).
#[derive(Debug, Default, Deserialize, Clone)]
pub struct Filters {
    /// in | uit
    #[serde(default)]
    richting: Option<String>,
    #[serde(default)]
    soort: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    partij: Option<String>,
    /// dd-mm-jjjj or jjjj-mm-dd
    #[serde(default)]
    van: Option<String>,
    #[serde(default)]
    tot: Option<String>,
    #[serde(default)]
    zoek: Option<String>,
    /// Text, so that a mangled page number shows the first page rather
    /// than an error.
    #[serde(default)]
    pagina: Option<String>,
    #[serde(default)]
    resultaat: Option<String>,
}

fn set(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

impl Filters {
    /// The query string of the filters (for paging), without the page.
    fn query(&self) -> String {
        [
            ("richting", &self.richting),
            ("soort", &self.soort),
            ("status", &self.status),
            ("partij", &self.partij),
            ("van", &self.van),
            ("tot", &self.tot),
            ("zoek", &self.zoek),
        ]
        .into_iter()
        .filter_map(|(k, v)| set(v).map(|v| format!("{k}={}", urlencode(&v))))
        .collect::<Vec<_>>()
        .join("&")
    }

    /// The record's filter; a bad date or a forbidden search is a Dutch
    /// refusal.
    fn to_filter(&self) -> Result<Filter, String> {
        let direction = match set(&self.richting).as_deref() {
            None => None,
            Some("in") => Some("in".to_string()),
            Some("uit") => Some("out".to_string()),
            Some(_) => return Err("Kies bij richting 'ontvangen' of 'verstuurd'.".into()),
        };
        let search = set(&self.zoek);
        if let Some(why) = search.as_deref().and_then(refusal) {
            return Err(why.to_string());
        }
        let from = set(&self.van).map(|d| day_start(&d, 0)).transpose()?;
        let until = set(&self.tot).map(|d| day_start(&d, 1)).transpose()?;
        Ok(Filter {
            direction,
            bericht: set(&self.soort),
            status: set(&self.status),
            counterpart: set(&self.partij),
            from,
            until,
            search,
        })
    }
}

/// Why a search text may not be used, if it may not: a BSN (nine digits
/// passing the elfproef) or something that reads like a name (no digit at
/// all; every identifier the search takes has one).
fn refusal(q: &str) -> Option<&'static str> {
    let digits = q.chars().filter(char::is_ascii_digit).count();
    if q.len() == 9 && digits == 9 && crate::adapter::istandaard::rules::elfproef(q) {
        return Some(
            "Dit lijkt een BSN. Berichten zoekt u op identificatie, ToewijzingNummer, bericht-id of \
             conversatie-id; zoek de deelnemer met het zoekveld bovenaan en open daar zijn berichten.",
        );
    }
    if digits == 0 {
        return Some(
            "Zoek op identificatie, ToewijzingNummer, bericht-id of conversatie-id. Een naam zoekt u \
             hier niet; zoek de deelnemer met het zoekveld bovenaan en open daar zijn berichten.",
        );
    }
    None
}

/// The UTC moment (as stored) at which the Amsterdam day of `typed`, plus
/// `add` days, begins.
fn day_start(typed: &str, add: i64) -> Result<String, String> {
    let day = NaiveDate::parse_from_str(typed, "%d-%m-%Y")
        .or_else(|_| NaiveDate::parse_from_str(typed, "%Y-%m-%d"))
        .ok()
        .and_then(|d| d.checked_add_signed(Duration::days(add)))
        .ok_or_else(|| format!("'{typed}' is geen datum; schrijf dd-mm-jjjj."))?;
    let local = day
        .and_hms_opt(0, 0, 0)
        .and_then(|t| Amsterdam.from_local_datetime(&t).earliest())
        .ok_or_else(|| format!("'{typed}' is geen datum; schrijf dd-mm-jjjj."))?;
    Ok(local
        .with_timezone(&Utc)
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string())
}

/// The other party as staff name it: the financier ("Wmo 0363", "UWV")
/// for a provider, the provider's AGB code for a municipality.
fn counterpart(user: &WebUser, row: &MessageRow) -> String {
    let code = row.counterpart_code();
    if user.tenant.kind == TenantKind::Gemeente {
        format!("Aanbieder {code}")
    } else {
        financier_nl(row.counterpart_kind(), code)
    }
}

fn direction_nl(direction: &str) -> &'static str {
    if direction == "in" {
        "ontvangen"
    } else {
        "verstuurd"
    }
}

/// The fixed texts of the results a redirect names (text from a URL never
/// reaches a page, as in [`super::notice`]).
fn result_text(code: Option<&str>) -> Markup {
    match code {
        Some("opnieuw") => html! { p.melding.ok role="status" {
        "Het bericht staat weer in de wachtrij en wordt opnieuw verzonden." } },
        Some("alle-opnieuw") => html! { p.melding.ok role="status" {
        "De mislukte berichten staan weer in de wachtrij en worden opnieuw verzonden." } },
        Some("niet-mislukt") => html! { p.melding.fout role="alert" {
        "Alleen een bericht waarvan het verzenden mislukt is, kan opnieuw worden verzonden; dit bericht is niet (meer) mislukt." } },
        Some("niets-mislukt") => html! { p.melding.ok role="status" {
        "Er waren geen mislukte berichten." } },
        _ => html! {},
    }
}

/// The status options of the filter: (value, label).
const STATUSES: [(&str, &str); 10] = [
    ("mislukt", "verzenden mislukt"),
    ("afgekeurd", "afgekeurd"),
    ("retourcodes", "met retourcodes"),
    ("queued", "in wachtrij"),
    ("sending", "wordt verzonden"),
    ("sent", "verzonden"),
    ("held", "wacht op beslissing"),
    ("accepted", "geaccepteerd"),
    ("rejected", "afgekeurd door loket"),
    ("unusable", "onbruikbaar"),
];

/// Retourcodes with their meaning on hover and for screen readers.
fn codes(row: &MessageRow) -> Markup {
    html! {
        @for c in row.retourcodes() {
            code.retourcode title=(c.nl) { (c.code) } " "
        }
    }
}

/// `GET /berichten`.
pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    Query(f): Query<Filters>,
) -> Result<Response, WebError> {
    render_list(state, user, peer, f).await
}

/// `POST /berichten`: the filter form. The search text travels in the
/// body, so one that may not be used (a BSN, a name) is refused on this
/// page and never reaches an address; an allowed one leads to the list's
/// address with its filters, which paging and the browser's back button
/// keep.
pub async fn search(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    axum::Form(f): axum::Form<Filters>,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    if f.to_filter().is_err() {
        return render_list(state, user, peer, f).await;
    }
    let query = f.query();
    let to = if query.is_empty() {
        "/berichten".to_string()
    } else {
        format!("/berichten?{query}")
    };
    Ok(axum::response::Redirect::to(&to).into_response())
}

async fn render_list(
    state: AppState,
    user: WebUser,
    peer: Peer,
    f: Filters,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    let pool = state.store().pool();
    let choices = messages::choices(pool, &user.tenant).await?;
    let page_no = f
        .pagina
        .as_deref()
        .and_then(|p| p.trim().parse::<i64>().ok())
        .unwrap_or(1)
        .clamp(1, 1_000_000);
    let (rows, total, refused) = match f.to_filter() {
        Ok(filter) => {
            let (mut rows, total) =
                messages::list(pool, &user.tenant, &filter, page_no - 1).await?;
            messages::with_content_codes(pool, &user.tenant, &mut rows).await?;
            (rows, total, None)
        }
        Err(why) => (Vec::new(), 0, Some(why)),
    };
    let shown: Vec<String> = rows
        .iter()
        .filter_map(|r| r.participant_id.clone())
        .collect();
    super::access::log(&state, &user, &peer, Kind::View, "GET /berichten", &shown).await?;
    let pages = (total + messages::PAGE_SIZE - 1) / messages::PAGE_SIZE;
    let query = f.query();
    let link = |p: i64| {
        if query.is_empty() {
            format!("/berichten?pagina={p}")
        } else {
            format!("/berichten?{query}&pagina={p}")
        }
    };
    let sel = |v: &Option<String>, x: &str| set(v).as_deref() == Some(x);
    let failed_only = set(&f.status).as_deref() == Some("mislukt");
    let body = html! {
        h1 { "Berichten" }
        (result_text(f.resultaat.as_deref()))
        form.filters method="post" action="/berichten" {
            label { "Richting"
                select name="richting" {
                    option value="" { "alle" }
                    option value="in" selected[sel(&f.richting, "in")] { "ontvangen" }
                    option value="uit" selected[sel(&f.richting, "uit")] { "verstuurd" }
                }
            }
            label { "Soort"
                select name="soort" {
                    option value="" { "alle" }
                    @for b in &choices.berichten {
                        option value=(b) selected[sel(&f.soort, b)] { (bericht_nl(b)) }
                    }
                }
            }
            label { "Status"
                select name="status" {
                    option value="" { "alle" }
                    @for (v, l) in STATUSES {
                        option value=(v) selected[sel(&f.status, v)] { (l) }
                    }
                }
            }
            label { "Partij"
                select name="partij" {
                    option value="" { "alle" }
                    @for c in &choices.counterparts {
                        option value=(c.counterpart_code()) selected[sel(&f.partij, c.counterpart_code())] { (counterpart(&user, c)) }
                    }
                }
            }
            label { "Van" input type="text" name="van" inputmode="numeric" placeholder="dd-mm-jjjj" size="10" value=[set(&f.van)]; }
            label { "Tot en met" input type="text" name="tot" inputmode="numeric" placeholder="dd-mm-jjjj" size="10" value=[set(&f.tot)]; }
            label { "Zoeken"
                input type="search" name="zoek" placeholder="identificatie, ToewijzingNummer, id" value=[set(&f.zoek)];
            }
            button type="submit" { "Filteren" }
            a href="/berichten" { "Alles tonen" }
        }
        @if let Some(why) = &refused {
            p.melding.fout role="alert" { (why) }
        }
        p.aantal { (format::count(total, "bericht", "berichten"))
            @if pages > 1 { " · pagina " (page_no) " van " (pages) } }
        @if failed_only && total > 0 {
            form.inline method="post" action="/berichten/opnieuw" {
                (csrf_field(&user))
                button type="submit" { "Alle mislukte berichten opnieuw versturen" }
            }
        }
        @if !rows.is_empty() {
            table.berichten {
                thead { tr {
                    th { "Moment" } th { "Bericht" } th { "Richting" } th { "Partij" }
                    th { "Status" } th { "Retourcodes" } th { "Deelnemer" }
                } }
                tbody {
                    @for r in &rows {
                        tr.fout[r.failed()] {
                            td.moment { (format::time_str(&r.created_at)) }
                            td.bericht {
                                a href={ "/berichten/" (r.id) } { (bericht_nl(r.bericht.as_deref().unwrap_or("document"))) }
                                @if let Some(i) = &r.identificatie { br; small { code { (i) } } }
                            }
                            td { (direction_nl(&r.direction)) }
                            td { (counterpart(&user, r)) }
                            td { (status_nl(r.state())) }
                            td { (codes(r)) }
                            td {
                                @if let (Some(p), Some(n)) = (&r.participant_id, &r.participant_name) {
                                    a href={ "/deelnemers/" (p) } { (participant_name(n)) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if pages > 1 {
            nav.navigatie aria-label="Pagina's" {
                @if page_no > 1 { a href=(link(page_no - 1)) rel="prev" { "← Nieuwere berichten" } } @else { span {} }
                @if page_no < pages { a href=(link(page_no + 1)) rel="next" { "Oudere berichten →" } }
            }
        }
    };
    Ok(page("Berichten", Some(&user), body))
}

fn participant_name(name_json: &str) -> String {
    serde_json::from_str(name_json)
        .map(|v| name_of(&v))
        .unwrap_or_else(|_| "deelnemer".to_string())
}

#[derive(Deserialize, Default)]
pub struct ShowQuery {
    #[serde(default)]
    resultaat: Option<String>,
}

/// A section's value the Dutch way.
fn value(v: &Value) -> Markup {
    match v {
        Value::Text(t) => html! { (t) },
        Value::Date(d) => html! { (format::date_str(d)) },
        Value::Amount(c) => html! { (euro(*c)) },
        Value::Code {
            code,
            meaning: Some(m),
        } => html! { (m) " " small { "(" (code) ")" } },
        Value::Code {
            code,
            meaning: None,
        } => html! { (code) },
        Value::Retourcode(e) => html! { code.retourcode title=(e.nl) { (e.code) } " " (e.nl) },
    }
}

fn sections(list: &[Section]) -> Markup {
    html! {
        @for s in list {
            section class={ "deel diepte-" (s.depth.min(4)) } {
                h3 { (s.title) }
                @if !s.fields.is_empty() {
                    dl.gegevens {
                        @for f in &s.fields {
                            dt { (f.label) }
                            dd { (value(&f.value)) }
                        }
                    }
                }
            }
        }
    }
}

/// The participants a message and its conversation show, for the access log.
async fn participants_of(
    state: &AppState,
    user: &WebUser,
    row: &MessageRow,
    conversation: Option<&crate::record::conversation::Conversation>,
) -> Result<Vec<String>, WebError> {
    let pool = state.store().pool();
    let mut ids =
        crate::record::access::participants_of_message(pool, &user.tenant, &row.id).await?;
    for p in conversation
        .iter()
        .flat_map(|c| &c.messages)
        .filter_map(|m| m.participant_id.clone())
    {
        if !ids.contains(&p) {
            ids.push(p);
        }
    }
    Ok(ids)
}

/// `GET /berichten/{id}`: the message read in Dutch, its XML, its
/// conversation and its delivery.
pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    let pool = state.store().pool();
    let mut row = messages::one(pool, &user.tenant, &id)
        .await?
        .ok_or(WebError::NotFound)?;
    let detail = crate::record::read::message(pool, &user.tenant, &id)
        .await?
        .ok_or(WebError::NotFound)?;
    let conversation = crate::record::conversation::of_message(pool, &user.tenant, &id).await?;
    let shown = participants_of(&state, &user, &row, conversation.as_ref()).await?;
    super::access::log(
        &state,
        &user,
        &peer,
        Kind::View,
        "GET /berichten/{id}",
        &shown,
    )
    .await?;
    let delivery = crate::outbox::item(state.store(), &user.tenant.id, &id).await?;
    let history = crate::store::audit_of(pool, &user.tenant.id, "message", &id).await?;
    let summary: Vec<Section> = if matches!(detail.standard.as_deref(), Some("iwmo" | "ijw")) {
        match istandaard::check(Schema::builtin()?, &detail.raw, &Limits::outgoing()) {
            Ok(c) => {
                row.content_codes = messages::rejection_codes(&c.message);
                messages::summary(&c.message)
            }
            Err(_) => Vec::new(),
        }
    } else {
        detail
            .parsed
            .as_deref()
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
            .map(|v| messages::json_summary(&v))
            .unwrap_or_default()
    };
    let xml = messages::pretty_xml(&detail.raw);
    let name = bericht_nl(row.bericht.as_deref().unwrap_or("document")).to_string();
    let role_nl = |r: Option<&str>| match r {
        Some("heenbericht") => "heenbericht",
        Some("retour") => "retourbericht",
        Some("antwoord") => "antwoordbericht",
        _ => "document",
    };
    let exchange = &detail.exchange;
    let body = html! {
        h1 { (name) @if let Some(i) = &row.identificatie { " " code { (i) } } }
        (result_text(q.resultaat.as_deref()))
        dl.gegevens.kop {
            dt { "Richting" } dd { (direction_nl(&row.direction)) }
            dt { "Afzender" } dd { (row.sender.as_deref().unwrap_or("—")) }
            dt { "Ontvanger" } dd { (row.receiver.as_deref().unwrap_or("—")) }
            dt { "Partij" } dd { (counterpart(&user, &row)) }
            dt { "Identificatie" } dd { code { (row.identificatie.as_deref().unwrap_or("—")) } }
            dt { "Dagtekening" } dd { (row.dagtekening.as_deref().map(format::date_str).unwrap_or_else(|| "—".into())) }
            dt { @if row.direction == "in" { "Ontvangen" } @else { "Aangemaakt" } } dd { (format::time_str(&row.created_at)) }
            dt { "Status" } dd { (status_nl(row.state())) }
            @if let (Some(p), Some(n)) = (&row.participant_id, &row.participant_name) {
                dt { "Deelnemer" } dd { a href={ "/deelnemers/" (p) } { (participant_name(n)) } }
            }
        }
        @if row.failed() {
            form.inline method="post" action={ "/berichten/" (row.id) "/opnieuw" } {
                (csrf_field(&user))
                button type="submit" { "Opnieuw versturen" }
            }
        }
        @let explained = row.retourcodes();
        @if !explained.is_empty() {
            h2 { "Retourcodes" }
            table.retourcodes {
                thead { tr { th { "Code" } th { "Betekenis" } } }
                tbody { @for c in &explained { tr { td { code { (c.code) } } td { (c.nl) } } } }
            }
        }
        h2 { "Inhoud" }
        @if summary.is_empty() {
            p { "Van dit bericht kan loket geen samenvatting maken; de XML staat hieronder." }
        } @else {
            div.inhoud { (sections(&summary)) }
        }
        details.xml {
            summary { "XML van het bericht" }
            pre { code { (xml) } }
        }
        p { a href={ "/berichten/" (row.id) "/xml" } download { "XML downloaden" } }
        @if let Some(c) = &conversation {
            h2 { "Gesprek" }
            @if !c.conversatie_ids.is_empty() {
                p { "ConversatieId: " @for (i, cid) in c.conversatie_ids.iter().enumerate() { @if i > 0 { ", " } code { (cid) } } }
            }
            table.gesprek {
                thead { tr { th { "Moment" } th { "Richting" } th { "Bericht" } th { "Soort" } th { "Status" } th { "Antwoord op" } } }
                tbody {
                    @for m in &c.messages {
                        tr aria-current=[(m.id == id).then_some("true")] {
                            td.moment { (format::time_str(&m.created_at)) }
                            td { (direction_nl(&m.direction)) }
                            td { @if m.id == id { strong { (bericht_nl(m.bericht.as_deref().unwrap_or("—"))) } } @else {
                                a href={ "/berichten/" (m.id) } { (bericht_nl(m.bericht.as_deref().unwrap_or("—"))) } } }
                            td { (role_nl(m.role)) }
                            td { (status_nl(&m.status)) }
                            td { @if let Some(a) = &m.answers {
                                (c.messages.iter().find(|x| &x.id == a).and_then(|x| x.bericht.as_deref()).map(bericht_nl).unwrap_or("—")) } }
                        }
                    }
                }
            }
        }
        @if let Some(d) = &delivery {
            h2 { "Verzending" }
            dl.gegevens {
                dt { "Status" } dd { (status_nl(&d.state)) }
                dt { "Pogingen" } dd { (format::count(d.attempts, "poging", "pogingen")) }
                dt { "In wachtrij sinds" } dd { (format::time_str(&d.created_at)) }
                @if let Some(s) = &d.sent_at { dt { "Verzonden" } dd { (format::time_str(s)) } }
                @if let Some(next) = &d.next_attempt_at { dt { "Volgende poging" } dd { (format::time_str(next)) } }
                @if let Some(s) = d.response_status { dt { "Laatste HTTP-status" } dd { (s) } }
                @if let Some(e) = &d.last_error { dt { "Laatste fout" } dd { (e) } }
                @if let Some(r) = &d.retour_id { dt { "Retourbericht" } dd { a href={ "/berichten/" (r) } { "openen" } } }
            }
        }
        @if let Some(x) = exchange {
            h2 { "VECOZO" }
            dl.gegevens {
                dt { "Status" }
                dd { (x.label.as_deref().unwrap_or("nog niet gemeld door VECOZO"))
                    @if let Some(at) = &x.changed_at { " (" (format::time_str(at)) ")" } }
                @if let Some(t) = &x.traceer_id { dt { "TraceerId" } dd { code { (t) } } }
                @if let Some(a) = &x.als_antwoord_op { dt { "Antwoord op (traceerId)" } dd { code { (a) } } }
            }
            @if !x.meldingen.is_empty() {
                table {
                    thead { tr { th { "Code" } th { "Melding van VECOZO" } th { "Wat betekent dit" } } }
                    tbody { @for m in &x.meldingen { tr { td { code { (m.code) } } td { (m.omschrijving) } td { (m.uitleg) } } } }
                }
            }
        }
        @if !history.is_empty() {
            h2 { "Geschiedenis" }
            ul {
                @for h in &history {
                    li { (format::time_str(&h.created_at)) " · " (h.actor) " · " (action_nl(&h.action)) }
                }
            }
        }
        p { a href="/berichten" { "Naar alle berichten" } }
    };
    Ok(page(&name, Some(&user), body))
}

fn action_nl(action: &str) -> &str {
    match action {
        "message_retry" => "opnieuw in de wachtrij gezet",
        other => other,
    }
}

/// `GET /berichten/{id}/xml`: the bytes as exchanged, as a download
/// (logged as one for every participant the message carries).
pub async fn xml(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    let pool = state.store().pool();
    let detail = crate::record::read::message(pool, &user.tenant, &id)
        .await?
        .ok_or(WebError::NotFound)?;
    let shown = crate::record::access::participants_of_message(pool, &user.tenant, &id).await?;
    super::access::log(
        &state,
        &user,
        &peer,
        Kind::Download,
        "GET /berichten/{id}/xml",
        &shown,
    )
    .await?;
    // The file name holds only the type and identificatie, made safe.
    let safe = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
            .collect()
    };
    let file = format!(
        "{}-{}.xml",
        safe(detail.bericht.as_deref().unwrap_or("bericht")),
        safe(detail.identificatie.as_deref().unwrap_or(&detail.id))
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/xml".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        detail.raw,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct RetryForm {
    csrf: String,
}
csrf_form!(RetryForm);

/// Queues a failed message again and writes who did it to the audit trail;
/// false when it had not failed.
async fn retry_one(state: &AppState, user: &WebUser, id: &str) -> Result<bool, WebError> {
    let done = crate::outbox::retry(state.store(), &user.tenant.id, id).await?;
    if done {
        let mut w = state.store().begin_write().await?;
        audit(
            &mut w,
            &user.tenant.id,
            &user.username,
            "message_retry",
            Some(("message", id)),
            json!({}),
        )
        .await?;
        w.commit().await?;
    }
    Ok(done)
}

/// `POST /berichten/{id}/opnieuw`: a failed outgoing message back in the
/// queue, due now.
pub async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Post(user, _f): Post<RetryForm>,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    messages::one(state.store().pool(), &user.tenant, &id)
        .await?
        .ok_or(WebError::NotFound)?;
    let done = retry_one(&state, &user, &id).await?;
    if done {
        state.outbox.wake();
    }
    let code = if done { "opnieuw" } else { "niet-mislukt" };
    Ok(axum::response::Redirect::to(&format!("/berichten/{id}?resultaat={code}")).into_response())
}

/// `POST /berichten/opnieuw`: every failed outgoing message of the tenant
/// back in the queue.
pub async fn retry_all(
    State(state): State<AppState>,
    Post(user, _f): Post<RetryForm>,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    let ids = messages::failed_ids(state.store().pool(), &user.tenant, MAX_RETRY).await?;
    let mut any = false;
    for id in &ids {
        any |= retry_one(&state, &user, id).await?;
    }
    if any {
        state.outbox.wake();
    }
    let code = if any { "alle-opnieuw" } else { "niets-mislukt" };
    Ok(
        axum::response::Redirect::to(&format!("/berichten?status=mislukt&resultaat={code}"))
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bsn_or_a_name_is_refused_identifiers_are_not() {
        assert!(refusal("111222333").is_some(), "elfproef BSN");
        assert!(refusal("Jansen").is_some());
        assert!(refusal("de Vries").is_some());
        assert!(refusal("DEMO0001").is_none());
        assert!(refusal("360001").is_none());
        assert!(refusal("123456789").is_none(), "fails the elfproef");
    }

    #[test]
    fn a_period_is_amsterdam_days_in_utc() {
        assert_eq!(
            day_start("07-12-2026", 0).unwrap(),
            "2026-12-06T23:00:00.000Z"
        );
        assert_eq!(
            day_start("2026-07-01", 1).unwrap(),
            "2026-07-01T22:00:00.000Z"
        );
        assert!(day_start("gisteren", 0).is_err());
        // The last day chrono knows, plus one: a refusal, not a panic.
        assert!(day_start("31-12-262142", 1).is_err());
    }
}
