//! Declaraties: per financier and period every declaration (and invoice)
//! with its status (concept, verzonden, goedgekeurd, deels afgekeurd,
//! afgekeurd), totals and the message to download; and the button that
//! runs the engine, the same [`crate::engine::run`] as `loket declare` and
//! `POST /declarations/run`.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::auth::{Post, WebUser, audit, csrf_form};
use super::notice::{self, Notice};
use super::{WebError, bericht_nl, csrf_field, euro, financier_nl, format, page, status_nl};
use crate::record::read::{self, DeclarationView, Prestaties, prestaties};
use crate::server::AppState;

/// A declaration's status as staff read it: from its outbox state and the
/// answers on its lines.
fn status(d: &DeclarationView) -> &'static str {
    let (lines, approved, rejected) = (d.lines, d.approved, d.rejected);
    match d.outbox_state.as_deref() {
        Some("queued" | "sending") => return "concept",
        Some("failed") => return "verzenden mislukt",
        _ => {}
    }
    if rejected > 0 && rejected == lines {
        "afgekeurd"
    } else if rejected > 0 {
        "deels afgekeurd"
    } else if lines > 0 && approved == lines {
        "goedgekeurd"
    } else {
        "verzonden"
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    financier: Option<String>,
    #[serde(default)]
    periode: Option<String>,
    #[serde(default)]
    melding: Option<String>,
}

/// `GET /declaraties?financier=&periode=`.
pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    let period = q.periode.as_deref().filter(|p| !p.is_empty());
    let financier = q.financier.as_deref().filter(|p| !p.is_empty());
    let pool = state.store().pool();
    let rows = read::declarations(
        pool,
        &user.tenant,
        read::DeclarationFilter {
            month: period,
            financier,
            newest_first: false,
            limit: 500,
        },
    )
    .await?;
    let financiers: Vec<(String, String)> = read::financiers(pool, &user.tenant)
        .await?
        .into_iter()
        .map(|(kind, code)| (format!("{kind}:{code}"), financier_nl(&kind, &code)))
        .collect();
    let last_month = crate::registration::today()
        .checked_sub_months(chrono::Months::new(1))
        .map(|d| d.format("%Y-%m").to_string())
        .unwrap_or_default();
    let body = html! {
        h1 { "Declaraties en facturen" }
        (notice::show(q.melding.as_deref()))
        form.regel method="post" action="/declaraties/run" {
            (csrf_field(&user))
            label { "Periode" input type="month" name="periode" value=(last_month) required; }
            button type="submit" { "Declaratierun starten" }
        }
        form.filters method="get" action="/declaraties" {
            label { "Financier"
                select name="financier" {
                    option value="" { "Alle" }
                    @for (k, l) in &financiers { option value=(k) selected[financier == Some(k.as_str())] { (l) } }
                }
            }
            label { "Periode" input type="month" name="periode" value=(period.unwrap_or("")); }
            button.secundair type="submit" { "Filteren" }
        }
        @if rows.is_empty() { p { "Nog geen declaraties." } } @else {
            table {
                thead { tr {
                    th { "Periode" } th { "Financier" } th { "Bericht" } th { "Nummer" }
                    th.getal { "Regels" } th.getal { "Totaal" } th { "Status" } th { "" }
                } }
                tbody {
                    @for d in &rows {
                        tr {
                            td { (format::month_str(&d.period_begin)) }
                            td { (financier_nl(&d.financier.kind, &d.financier.code)) }
                            td { (bericht_nl(d.bericht.as_deref().unwrap_or_default())) }
                            td { code { (d.declaratie_nummer) } }
                            td.getal { (d.lines) }
                            td.getal { (euro(d.total_cents)) }
                            td { (status(d)) }
                            td { a href={ "/declaraties/" (d.id) } { "Bekijken" } " · " a href={ "/declaraties/" (d.id) "/bericht" } download { "Bericht" } }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Declaraties", Some(&user), body))
}

/// `GET /declaraties/{id}`: the lines, each with its answer.
pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    peer: crate::server::access::Peer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    let pool = state.store().pool();
    let d = read::declaration(pool, &user.tenant, &id)
        .await?
        .ok_or(WebError::NotFound)?;
    let lines = prestaties(pool, &user.tenant, Prestaties::InDeclaration(&id)).await?;
    // The lines are care delivered per participant: a view of each of them.
    let shown: Vec<String> = lines.iter().map(|l| l.participant_id.clone()).collect();
    super::access::log(
        &state,
        &user,
        &peer,
        crate::record::access::Kind::View,
        "GET /declaraties/{id}",
        &shown,
    )
    .await?;
    let names = crate::record::search::names_in_declaration(pool, &user.tenant, &id).await?;
    let mut lines = lines;
    // Per participant by surname, as every list; a participant's lines
    // stay in the order they were declared.
    lines.sort_by_cached_key(|l| names.get(&l.participant_id).map(super::name_sort_key));
    let body = html! {
        h1 { (bericht_nl(d.bericht.as_deref().unwrap_or_default())) " " (d.declaratie_nummer) }
        dl.gegevens {
            dt { "Financier" } dd { (financier_nl(&d.financier.kind, &d.financier.code)) }
            dt { "Periode" } dd { (format::date_str(&d.period_begin)) " t/m " (format::date_str(&d.period_end)) }
            dt { "Totaal" } dd { (euro(d.total_cents)) }
            dt { "Status" } dd { (status(&d)) }
        }
        p { a href={ "/declaraties/" (id) "/bericht" } download { "Bericht downloaden (XML)" } " · " a href={ "/declaraties/" (id) "/specificatie" } { "Specificatie (afdrukken)" } }
        table {
            thead { tr { th { "Referentie" } th { "Deelnemer" } th { "Toewijzing" } th { "Product" } th.getal { "Volume" } th.getal { "Bedrag" } th { "D/C" } th { "Status" } th { "Retourcodes" } } }
            tbody {
                @for l in &lines {
                    tr {
                        td { code { (l.referentie_nummer) } }
                        td { a href={ "/deelnemers/" (l.participant_id) } { (names.get(&l.participant_id).map_or_else(|| "(naam onbekend)".to_string(), super::name_of)) } }
                        td { code { (l.toewijzing_nummer) } }
                        td { (l.product.categorie) "/" (l.product.code) }
                        td.getal { (super::review::volume_nl(l.volume, &l.eenheid)) }
                        td.getal { (euro(l.bedrag_cents)) }
                        td { (l.debet_credit) }
                        td { (status_nl(&l.status)) }
                        td { @for c in &l.retourcodes { code { (c.code) } " " (c.nl) br; } }
                    }
                }
            }
        }
    };
    Ok(page("Declaratie", Some(&user), body))
}

/// `GET /declaraties/{id}/bericht`: the message as it was sent.
///
/// The file names every participant declared in it, so the download is
/// logged once per participant (NEN 7513 is per patient: each of them sees
/// it in "Wie heeft dit dossier bekeken"), in one insert.
pub async fn download(
    State(state): State<AppState>,
    user: WebUser,
    peer: crate::server::access::Peer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    user.require_back_office()?;
    let pool = state.store().pool();
    let doc = read::declaration_document(pool, &user.tenant, &id)
        .await?
        .ok_or(WebError::NotFound)?;
    let participants =
        crate::record::access::participants_of_declaration(pool, &user.tenant, &id).await?;
    super::access::log(
        &state,
        &user,
        &peer,
        crate::record::access::Kind::Download,
        &format!("GET /declaraties/{id}/bericht"),
        &participants,
    )
    .await?;
    let name: String = format!(
        "{}_{}.xml",
        doc.bericht.as_deref().unwrap_or("bericht"),
        doc.declaratie_nummer
    )
    .chars()
    .filter(|c| c.is_ascii_alphanumeric() || "_-.".contains(*c))
    .collect();
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/xml; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        doc.raw,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct RunForm {
    csrf: String,
    periode: String,
}
csrf_form!(RunForm);

/// The user may run declarations: back office of a provider.
fn require_declaring(user: &WebUser) -> Result<(), WebError> {
    user.require_back_office()?;
    if user.tenant.kind != crate::store::TenantKind::Aanbieder {
        return Err(WebError::BadRequest(
            "alleen een aanbieder declareert".into(),
        ));
    }
    Ok(())
}

fn parse_period(periode: &str) -> Result<crate::mapping::Period, WebError> {
    crate::engine::parse_period(periode.trim())
        .map_err(|_| WebError::BadRequest("periode is geen JJJJ-MM".into()))
}

/// `POST /declaraties/run`: a preview. The engine runs with `dry_run` (it
/// computes and checks, stores and sends nothing) and the page shows per
/// financier the messages that would be made and every finding that holds
/// a line back; "Versturen" confirms ([`confirm`]).
pub async fn run(
    State(state): State<AppState>,
    Post(user, f): Post<RunForm>,
) -> Result<Response, WebError> {
    require_declaring(&user)?;
    let period = parse_period(&f.periode)?;
    let report = engine(&state, &user, period, true).await?;
    // Names the preview, so that a second click on its button sends nothing.
    let token = crate::store::new_id();
    let total: i64 = report.declarations.iter().map(|d| d.total_cents).sum();
    let lines: usize = report
        .declarations
        .iter()
        .map(|d| d.debit_lines + d.credit_lines)
        .sum();
    let month = period.start.format("%Y-%m").to_string();
    let body = html! {
        h1 { "Voorbeeld declaratierun " (format::month_str(&month)) }
        p.melding { "Dit is een voorbeeld: er is nog niets opgeslagen of verzonden. Controleer de berichten en meldingen en kies Versturen." }
        @if report.declarations.is_empty() {
            p { "Er zijn geen nieuwe declaraties of facturen voor deze periode." }
        } @else {
            table.preview {
                thead { tr {
                    th { "Financier" } th { "Bericht" } th { "Periode" }
                    th.getal { "Debetregels" } th.getal { "Creditregels" } th.getal { "Totaal" }
                } }
                tbody {
                    @for d in &report.declarations {
                        tr {
                            td { (financier_label(&d.financier)) }
                            td { (bericht_nl(&d.bericht)) }
                            td { (format::date_str(&d.period_begin)) " t/m " (format::date_str(&d.period_end)) }
                            td.getal { (d.debit_lines) }
                            td.getal { (d.credit_lines) }
                            td.getal { (euro(d.total_cents)) }
                        }
                    }
                }
                tfoot { tr.totaal {
                    th colspan="3" { (format::count(i64::try_from(report.declarations.len()).unwrap_or(i64::MAX), "bericht", "berichten")) }
                    th.getal colspan="2" { (format::count(i64::try_from(lines).unwrap_or(i64::MAX), "regel", "regels")) }
                    th.getal { (euro(total)) }
                } }
            }
        }
        @if !report.messages.is_empty() {
            p { "Ook gaan mee: " (format::count(i64::try_from(report.messages.len()).unwrap_or(i64::MAX), "start- of stopbericht", "start- en stopberichten")) "." }
        }
        h2 { "Meldingen" }
        @if report.notices.is_empty() {
            p { "Geen meldingen: niets wordt tegengehouden." }
        } @else {
            p { (format::count(i64::try_from(report.notices.len()).unwrap_or(i64::MAX), "melding", "meldingen")) }
            ul.meldingen {
                @for n in &report.notices {
                    li {
                        @if let Some(t) = &n.toewijzing_nummer { "Toewijzing " code { (t) } ": " }
                        (n.nl)
                        @if let Some(p) = &n.participant_id { " " a href={ "/deelnemers/" (p) } { "deelnemer" } }
                    }
                }
            }
        }
        div.preview-knoppen {
            form method="post" action="/declaraties/run/versturen" {
                (csrf_field(&user))
                input type="hidden" name="periode" value=(month);
                input type="hidden" name="voorbeeld" value=(token);
                button type="submit" { "Versturen" }
            }
            a href="/declaraties" { "Annuleren" }
        }
    };
    Ok(page("Voorbeeld declaratierun", Some(&user), body))
}

/// A financier key (`wmo:0363`) as staff name it.
fn financier_label(key: &str) -> String {
    match key.split_once(':') {
        Some((kind, code)) => financier_nl(kind, code),
        None => key.to_string(),
    }
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    csrf: String,
    periode: String,
    voorbeeld: String,
}
csrf_form!(ConfirmForm);

/// `POST /declaraties/run/versturen`: the real run for the previewed period
/// and the user's tenant. What it makes is what the data hold now (the
/// list shows the result, not the preview); a preview confirmed before
/// sends nothing again.
pub async fn confirm(
    State(state): State<AppState>,
    Post(user, f): Post<ConfirmForm>,
) -> Result<Response, WebError> {
    require_declaring(&user)?;
    let period = parse_period(&f.periode)?;
    let token = f.voorbeeld.trim();
    if token.is_empty() || token.len() > 64 {
        return Err(WebError::BadRequest("het voorbeeld is onbekend".into()));
    }
    let mut w = state.store().begin_write().await?;
    let claimed = crate::record::reports::claim_preview(
        &mut w,
        &user.tenant,
        &user.username,
        token,
        &period.start.to_string(),
    )
    .await?;
    w.commit().await?;
    if !claimed {
        return Ok(Notice::DeclarationRunNothingNew.redirect("/declaraties"));
    }
    let report = run_engine(&state, &user, period).await?;
    let notice = if report.declarations.is_empty() {
        Notice::DeclarationRunNothingNew
    } else {
        Notice::DeclarationRun
    };
    Ok(notice.redirect("/declaraties"))
}

/// The engine for `period` and the user's tenant, as of today; `dry_run`
/// computes and checks only (the preview).
async fn engine(
    state: &AppState,
    user: &WebUser,
    period: crate::mapping::Period,
    dry_run: bool,
) -> Result<crate::engine::RunReport, WebError> {
    let opts = crate::engine::RunOptions {
        period,
        today: crate::registration::today(),
        dry_run,
        out_dir: None,
    };
    Ok(crate::engine::run(
        state.store(),
        state.mappings.for_tenant(&user.tenant.id),
        &user.tenant,
        &opts,
    )
    .await?)
}

/// Runs the engine for `period` for the user's tenant, wakes the outbox and
/// writes the run to the audit trail: the run button and the review
/// queue's resend both go through here.
pub async fn run_engine(
    state: &AppState,
    user: &WebUser,
    period: crate::mapping::Period,
) -> Result<crate::engine::RunReport, WebError> {
    let report = engine(state, user, period, false).await?;
    state.outbox.wake();
    let mut w = state.store().begin_write().await?;
    audit(
        &mut w,
        &user.tenant.id,
        &user.username,
        "declaration_run",
        None,
        serde_json::json!({
            "period": period.start.to_string(),
            "declarations": report.declarations.len(),
            "notices": report.notices.len(),
        }),
    )
    .await?;
    w.commit().await?;
    Ok(report)
}
