//! Toegang (beheer): the NEN 7513 access log and the audit trail of
//! changes on one page, filtered by participant, user, period and kind,
//! paged, and as CSV; per participant "Wie heeft dit dossier bekeken"; the
//! AVG export as a page and as JSON.
//!
//! The pages render [`crate::record::access`] and
//! [`crate::record::export`]; the log is written there, never here.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{Role, WebUser};
use super::registration::urlencode;
use super::{WebError, euro, financier_nl, format, name_of, page, status_nl};
use crate::record::access::{self, Actor, Entry, Kind};
use crate::record::export::{self, ParticipantExport};
use crate::server::AppState;
use crate::server::access::{Peer, filter_of};

/// Rows per page of the log.
const PAGE: i64 = 50;
/// Most rows one CSV export holds (a period of a large tenant: narrow it).
const CSV_MAX: i64 = 100_000;

/// The access log's "who" for a logged-in user.
pub fn actor(user: &WebUser, peer: &Peer) -> Actor {
    Actor::user(
        &user.username,
        &user.display_name,
        user.role.as_str(),
        peer.0.clone(),
    )
}

/// Logs a view, download or export before the page is sent; the page fails
/// when the entry cannot be written.
pub async fn log(
    state: &AppState,
    user: &WebUser,
    peer: &Peer,
    kind: Kind,
    object: &str,
    participants: &[String],
) -> Result<(), WebError> {
    access::record(
        state.store(),
        &user.tenant.id,
        &actor(user, peer),
        kind,
        object,
        participants,
    )
    .await?;
    Ok(())
}

/// Logs a change of one participant by a person, in the change's own
/// transaction.
pub async fn changed(
    w: &mut crate::store::WriteTx,
    user: &WebUser,
    peer: &Peer,
    object: &str,
    participant: &str,
) -> Result<(), WebError> {
    access::record_in(
        w,
        &user.tenant.id,
        &actor(user, peer),
        Kind::Change,
        object,
        &[participant.to_string()],
    )
    .await?;
    Ok(())
}

#[derive(Deserialize, Default)]
pub struct LogQuery {
    #[serde(default)]
    deelnemer: Option<String>,
    #[serde(default)]
    gebruiker: Option<String>,
    #[serde(default)]
    van: Option<String>,
    #[serde(default)]
    tot: Option<String>,
    #[serde(default)]
    soort: Option<String>,
    #[serde(default)]
    pagina: Option<i64>,
}

impl LogQuery {
    fn filter(&self, limit: i64, offset: i64) -> Result<access::Filter, WebError> {
        filter_of(
            self.deelnemer.clone(),
            self.gebruiker.clone(),
            self.van.clone(),
            self.tot.clone(),
            self.soort.clone(),
            limit,
            offset,
        )
        .map_err(|(nl, _)| WebError::BadRequest(nl))
    }

    /// The query string of the filters (for paging and the CSV link).
    fn query(&self) -> String {
        [
            ("deelnemer", &self.deelnemer),
            ("gebruiker", &self.gebruiker),
            ("van", &self.van),
            ("tot", &self.tot),
            ("soort", &self.soort),
        ]
        .iter()
        .filter_map(|(k, v)| {
            v.as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", urlencode(v)))
        })
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// `GET /toegang`: the access log and the audit trail (beheer).
pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<LogQuery>,
) -> Result<Response, WebError> {
    user.require_beheer()?;
    let page_no = q.pagina.unwrap_or(1).max(1);
    // One more than shown: whether there is a next page.
    let f = q.filter(PAGE + 1, (page_no - 1) * PAGE)?;
    let pool = state.store().pool();
    let mut entries = access::list(pool, &user.tenant, &f).await?;
    let more = entries.len() as i64 > PAGE;
    entries.truncate(PAGE as usize);
    let audit = access::audit_trail(pool, &user.tenant, &f).await?;
    let more_audit = audit.len() as i64 > PAGE;
    let query = q.query();
    let link = |p: i64| {
        if query.is_empty() {
            format!("/toegang?pagina={p}")
        } else {
            format!("/toegang?{query}&pagina={p}")
        }
    };
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let body = html! {
        h1 { "Toegang tot dossiers" }
        p { "Wie welk dossier heeft ingezien, gewijzigd, gedownload of geëxporteerd (NEN 7513), en de audittrail van wijzigingen. De log kan niet worden gewijzigd of verwijderd." }
        form.filters method="get" action="/toegang" {
            label { "Deelnemer (id)" input name="deelnemer" value=(value(&q.deelnemer)); }
            label { "Gebruiker" input name="gebruiker" value=(value(&q.gebruiker)); }
            label { "Van" input type="date" name="van" value=(value(&q.van)); }
            label { "Tot en met" input type="date" name="tot" value=(value(&q.tot)); }
            label { "Soort"
                select name="soort" {
                    option value="" { "alle" }
                    @for k in Kind::ALL {
                        option value=(k.as_str()) selected[q.soort.as_deref() == Some(k.as_str())] { (k.nl()) }
                    }
                }
            }
            button type="submit" { "Filteren" }
            a href={ "/toegang.csv" @if !query.is_empty() { "?" (query) } } download { "Exporteren als CSV" }
        }
        h2 { "Inzage en gebruik (NEN 7513)" }
        (entries_table(&entries, true))
        nav.navigatie aria-label="Bladeren" {
            @if page_no > 1 { a href=(link(page_no - 1)) { "← Vorige" } } @else { span {} }
            @if more { a href=(link(page_no + 1)) { "Volgende →" } }
        }
        h2 { "Wijzigingen (audittrail)" }
        @if audit.is_empty() { p { "Geen wijzigingen in deze selectie." } } @else {
            table {
                thead { tr { th { "Tijdstip (UTC)" } th { "Gebruiker" } th { "Actie" } th { "Onderwerp" } th { "Toelichting" } } }
                tbody {
                    @for a in audit.iter().take(PAGE as usize) {
                        tr {
                            td { (format::time_str(&a.created_at)) }
                            td { (a.actor) }
                            td { code { (a.action) } }
                            td { (a.subject_kind.as_deref().unwrap_or("")) " " code { (a.subject_id.as_deref().unwrap_or("")) } }
                            td { code { (a.detail) } }
                        }
                    }
                }
            }
            @if more_audit { p { small { "Alleen de nieuwste " (PAGE) " op deze pagina; blader of verfijn de selectie." } } }
        }
    };
    Ok(page("Toegang", Some(&user), body))
}

/// The access log as a table; `participant`: with the participant column.
pub fn entries_table(entries: &[Entry], participant: bool) -> Markup {
    html! {
        @if entries.is_empty() { p { "Geen toegang geregistreerd in deze selectie." } } @else {
            table {
                thead { tr {
                    th { "Tijdstip (UTC)" }
                    @if participant { th { "Deelnemer" } }
                    th { "Wie" } th { "Rol" } th { "Wat" } th { "Object" } th { "Vanaf" }
                } }
                tbody {
                    @for e in entries {
                        tr {
                            td { (format::time_str(&e.created_at)) }
                            @if participant { td { a href={ "/deelnemers/" (e.participant_id) } { code { (e.participant_id) } } } }
                            td { (e.actor) @if !e.actor_name.is_empty() { br; small { (e.actor_name) } } }
                            td { (e.role) }
                            td { (e.kind_nl()) }
                            td { code { (e.object) } }
                            td { (e.peer.as_deref().unwrap_or("—")) }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /toegang.csv`: the filtered access log as CSV (beheer).
pub async fn csv(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<LogQuery>,
) -> Result<Response, WebError> {
    user.require_beheer()?;
    let f = q.filter(CSV_MAX, 0)?;
    let entries = access::list(state.store().pool(), &user.tenant, &f).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"toegang.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        access::csv(&entries),
    )
        .into_response())
}

/// `GET /deelnemers/{id}/toegang`: who accessed this participant's record
/// (back office and beheer).
pub async fn of_participant(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    if !crate::record::read::participant_exists(state.store().pool(), &user.tenant, &id).await? {
        return Err(WebError::NotFound);
    }
    let entries = access::of_participant(state.store().pool(), &user.tenant, &id).await?;
    let body = html! {
        h1 { "Wie heeft dit dossier bekeken" }
        p { a href={ "/deelnemers/" (id) } { "← Terug naar de deelnemer" } }
        (entries_table(&entries, false))
    };
    Ok(page("Wie heeft dit dossier bekeken", Some(&user), body))
}

/// The section on the participant page: the latest accesses and a link to
/// all of them (back office and beheer only).
pub async fn section(state: &AppState, user: &WebUser, id: &str) -> Result<Markup, WebError> {
    if !user.role.back_office() {
        return Ok(html! {});
    }
    let f = access::Filter {
        participant: Some(id.to_string()),
        limit: 10,
        ..access::Filter::default()
    };
    let entries = access::list(state.store().pool(), &user.tenant, &f).await?;
    Ok(html! {
        h2 { "Wie heeft dit dossier bekeken" }
        (entries_table(&entries, false))
        p {
            a href={ "/deelnemers/" (id) "/toegang" } { "Alle toegang tot dit dossier" }
            @if user.role == Role::Beheer {
                " · " a href={ "/deelnemers/" (id) "/avg" } { "AVG-inzage: alle gegevens" }
            }
        }
    })
}

/// The export after logging it; 404 for another tenant's participant.
async fn export_of(
    state: &AppState,
    user: &WebUser,
    peer: &Peer,
    id: &str,
    object: &str,
) -> Result<ParticipantExport, WebError> {
    user.require_beheer()?;
    if !crate::record::read::participant_exists(state.store().pool(), &user.tenant, id).await? {
        return Err(WebError::NotFound);
    }
    log(state, user, peer, Kind::Export, object, &[id.to_string()]).await?;
    export::participant(state.store(), &user.tenant, id)
        .await?
        .ok_or(WebError::NotFound)
}

/// `GET /deelnemers/{id}/avg.json`: the AVG export as a JSON download.
pub async fn export_json(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let export = export_of(&state, &user, &peer, &id, "GET /deelnemers/{id}/avg.json").await?;
    let body = serde_json::to_vec_pretty(&export).map_err(anyhow::Error::from)?;
    let name: String = format!("avg-{id}.json")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_-.".contains(*c))
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}

/// `GET /deelnemers/{id}/avg`: the AVG export as a readable page.
pub async fn export_page(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let x = export_of(&state, &user, &peer, &id, "GET /deelnemers/{id}/avg").await?;
    let r = &x.record;
    let name = name_of(&r.name);
    let body = html! {
        h1 { "AVG-inzage: " (name) }
        p {
            "Alle gegevens die loket over deze deelnemer bewaart, opgesteld op " (format::time_str(&x.generated_at)) ". "
            a href={ "/deelnemers/" (id) "/avg.json" } download { "Download als JSON" }
        }
        @if let Some(p) = &x.pseudonymised_at {
            p.melding role="status" { "Na de bewaartermijn gepseudonimiseerd op " (p) ": BSN vervangen, naam en contactgegevens verwijderd." }
        }
        h2 { "Identiteit" }
        dl.gegevens {
            dt { "Deelnemer-id" } dd { code { (r.id) } }
            dt { "BSN" } dd { (r.bsn) }
            dt { "Naam" } dd { (name) }
            dt { "Geboortedatum" } dd { (r.birth_date.as_deref().map(format::date_str).unwrap_or_else(|| "—".to_string())) }
            dt { "Geslacht" } dd { (r.gender.as_deref().unwrap_or("—")) }
            dt { "Cliëntnummer" } dd { (r.client_number.as_deref().unwrap_or("—")) }
            dt { "Groep" } dd { (r.group.as_deref().unwrap_or("—")) }
            dt { "Contact" } dd { code { (r.contact) } }
        }
        h2 { "Toewijzingen met historie" }
        @for a in &r.allocations {
            h3 { (financier_nl(&a.financier.kind, &a.financier.code)) " · toewijzing " code { (a.toewijzing_nummer) } }
            p { (a.product.categorie.as_deref().unwrap_or("")) "/" (a.product.code.as_deref().unwrap_or("")) " · "
                (format::date_str(&a.ingangsdatum)) " – " (a.einddatum.as_deref().map(format::date_str).unwrap_or_else(|| "…".to_string())) " · " (status_nl(&a.status)) }
            ul {
                @for e in &a.history { li { (format::time_str(&e.created_at)) ": " (status_nl(&e.status)) " (bericht " code { (e.message_id) } ")" } }
                @for d in &a.deliveries {
                    li { (format::time_str(&d.created_at)) ": " (d.kind) " " (format::date_str(&d.begindatum)) @if let Some(e) = &d.einddatum { " – " (format::date_str(e)) }
                         @if d.current == 0 { " (niet meer geldig)" } " (bericht " code { (d.message_id) } ")" }
                }
            }
        }
        h2 { "Verzoeken" }
        @if x.requests.is_empty() { p { "Geen." } } @else {
            table {
                thead { tr { th { "Datum" } th { "Bericht" } th { "Referentie" } th { "Status" } th { "Gevraagd" } } }
                tbody { @for q in &x.requests { tr {
                    td { (format::time_str(q["created_at"].as_str().unwrap_or(""))) }
                    td { (q["bericht"].as_str().unwrap_or("")) }
                    td { code { (q["referentie_aanbieder"].as_str().unwrap_or("")) } }
                    td { (q["status"].as_str().unwrap_or("")) }
                    td { code { (q["request"]) } }
                } } }
            }
        }
        h2 { "Einde van de zorg" }
        @if x.ends_of_care.is_empty() { p { "Geen." } } @else {
            ul { @for e in &x.ends_of_care { li { (format::date_str(&e.end_date)) ": " (e.reason) " (door " (e.registered_by) ", " (format::time_str(&e.created_at)) ")" } } }
        }
        h2 { "Registraties" }
        @if x.registrations.is_empty() { p { "Geen." } } @else {
            table {
                thead { tr { th { "Dag" } th { "Aanwezig" } th { "Tijd / reden" } th { "Activiteit" } th { "Door" } th { "Eerdere versies" } } }
                tbody { @for g in &x.registrations { tr {
                    td { (format::date_str(&g.date)) }
                    td { @if g.present { "ja" } @else { "nee" } }
                    td { (g.from.as_deref().unwrap_or("")) "–" (g.to.as_deref().unwrap_or("")) " " (g.reason.as_deref().unwrap_or("")) }
                    td { (g.activity.as_deref().unwrap_or("")) }
                    td { (g.registered_by) }
                    td { (g.history.as_ref().map_or(0, Vec::len)) }
                } } }
            }
        }
        h2 { "Declaratieregels" }
        @if r.prestaties.is_empty() { p { "Geen." } } @else {
            table {
                thead { tr { th { "Periode" } th { "Product" } th.getal { "Volume" } th.getal { "Bedrag" } th { "D/C" } th { "Status" } } }
                tbody { @for p in &r.prestaties { tr {
                    td { (format::date_str(&p.period.begin)) " – " (format::date_str(&p.period.end)) }
                    td { (p.product.categorie) "/" (p.product.code) }
                    td.getal { (format::volume(p.volume, &p.eenheid)) }
                    td.getal { (euro(p.bedrag_cents)) }
                    td { (p.debet_credit) }
                    td { (status_nl(&p.status)) }
                } } }
            }
        }
        h2 { "Ontwikkeling" }
        @let o = &x.outcomes;
        @if let Some(w) = o.evaluation_weeks { p { "Eigen evaluatieplan: elke " (format::count(w, "week", "weken")) "." } }
        h3 { "Metingen" }
        @if o.measurements.is_empty() { p { "Geen." } } @else {
            table {
                thead { tr { th { "Datum" } th { "Instrument" } th { "Scores" } th { "Door" } th { "Gecorrigeerd" } } }
                tbody { @for h in &o.measurements {
                    @let m = &h.measurement;
                    @let instrument = state.instruments.get(&m.row.instrument);
                    tr {
                        td { (format::date_str(&m.row.measured_on)) }
                        td { (instrument.map_or(m.row.instrument.as_str(), |i| i.name.as_str())) " (versie " (m.row.instrument_version) ")" }
                        td { ul { @for sc in &m.scores { li {
                            (instrument.and_then(|i| i.domain(&sc.domain)).map_or(sc.domain.as_str(), |d| d.name.as_str())) ": "
                            (instrument.map_or_else(|| sc.score.to_string(), |i| i.score_label(sc.score)))
                            @if let Some(n) = &sc.note { " — " (n) }
                        } } } }
                        td { (m.row.scored_by_name) " (" (m.row.scored_by) ")" }
                        td { @if h.superseded_by.is_some() { "ja" } @else { "nee" } }
                    }
                } }
            }
        }
        h3 { "Doelen" }
        @if o.goals.is_empty() { p { "Geen." } } @else {
            ul { @for g in &o.goals { li {
                (format::date_str(&g.row.agreed_on)) ": " (g.row.text) " ("
                (crate::record::outcomes::GoalStatus::parse(&g.row.status).map_or(g.row.status.as_str(), |s| s.nl()))
                @if let Some(c) = &g.row.closed_on { " op " (format::date_str(c)) } ")"
            } } }
        }
        h3 { "Evaluaties" }
        @if o.evaluations.is_empty() { p { "Geen." } } @else {
            ul { @for e in &o.evaluations { li {
                (format::date_str(&e.row.held_on)) " (periode " (format::date_str(&e.row.period_from)) " – " (format::date_str(&e.row.period_to)) ") door " (e.row.written_by_name)
                @if let Some(t) = e.row.satisfaction { ", rapportcijfer " (t) }
                @if !e.row.next_step.is_empty() { ". Volgende stap: " (e.row.next_step) }
                @for p in &e.progress { br; "Doel: " (crate::record::outcomes::Progress::parse(&p.progress).map_or(p.progress.as_str(), |x| x.nl())) @if let Some(n) = &p.note { " — " (n) } }
            } } }
        }
        h3 { "Mijlpalen" }
        @if o.milestones.is_empty() { p { "Geen." } } @else {
            ul { @for m in &o.milestones { li {
                (format::date_str(&m.reached_on)) ": " (crate::mapping::results::milestone_nl(&m.kind))
                @if let Some(n) = &m.note { " — " (n) } " (door " (m.recorded_by_name) ")"
            } } }
        }
        h3 { "Resultaatclaims" }
        @if o.claims.is_empty() { p { "Geen." } } @else {
            (super::results::claims_table(&state, &o.claims.iter().collect::<Vec<_>>(), &|_: &str| html! { (name) }))
        }
        h2 { "Beoordelingen" }
        @if x.review_items.is_empty() { p { "Geen." } } @else {
            ul { @for i in &x.review_items { li { (format::time_str(&i.created_at)) ": " (i.title.nl) " (" (status_nl(&i.status)) ")" } } }
        }
        h2 { "Berichten" }
        @for m in &x.messages {
            details {
                summary { (format::time_str(&m.created_at)) " · " (m.bericht.as_deref().unwrap_or("—")) " · "
                    @if m.direction == "in" { "ontvangen" } @else { "verzonden" } " · " (status_nl(&m.status)) }
                @if m.raw.is_empty() { p { "Inhoud verwijderd na de bewaartermijn." } } @else {
                    pre { code { (String::from_utf8_lossy(&m.raw)) } }
                }
            }
        }
        h2 { "Audittrail" }
        @if x.audit.is_empty() { p { "Geen." } } @else {
            ul { @for a in &x.audit { li { (format::time_str(&a.created_at)) ": " (a.actor) " " code { (a.action) } " " code { (a.detail) } } } }
        }
        h2 { "Wie heeft dit dossier bekeken" }
        (entries_table(&x.access_log, false))
    };
    Ok(page("AVG-inzage", Some(&user), body))
}
