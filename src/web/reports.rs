//! Overzichten: per financier and month what the provider declared and
//! what the answers made of it, the spreadsheet exports (declarations,
//! declared lines, registrations, participants; CSV and .xlsx) and the
//! printable specification of one declaration or invoice.
//!
//! Back office of a provider only. An export that carries participants is
//! written to the access log (one entry per participant, as NEN 7513 asks)
//! and to the audit trail before it is sent.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{Datelike, Months, NaiveDate};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{WebUser, audit};
use super::export::{Cell, Column, FileType, Kind, Table, col};
use super::{WebError, bericht_nl, euro, financier_nl, format, name_of, page, status_nl};
use crate::record::access::Kind as AccessKind;
use crate::record::read;
use crate::record::reports::{self, OverviewRow, Range};
use crate::server::AppState;
use crate::server::access::Peer;

/// The back office of a provider: the only users of these pages.
pub(super) fn require_provider_office(user: &WebUser) -> Result<(), WebError> {
    user.require_back_office()?;
    if user.tenant.kind != crate::store::TenantKind::Aanbieder {
        return Err(WebError::Forbidden(Box::new(user.clone())));
    }
    Ok(())
}

/// Records an export before the file is sent: each of `participants` in
/// the access log (NEN 7513 asks one entry per participant) and the export
/// itself in the audit trail, with `detail` saying what it held.
pub(super) async fn exported(
    state: &AppState,
    user: &WebUser,
    peer: &Peer,
    object: &str,
    participants: &[String],
    subject: &str,
    detail: serde_json::Value,
) -> Result<(), WebError> {
    if !participants.is_empty() {
        super::access::log(state, user, peer, AccessKind::Export, object, participants).await?;
    }
    let mut w = state.store().begin_write().await?;
    audit(
        &mut w,
        &user.tenant.id,
        &user.username,
        "export",
        Some(("export", subject)),
        detail,
    )
    .await?;
    w.commit().await?;
    Ok(())
}

/// `?van=JJJJ-MM&tot=JJJJ-MM&financier=kind:code`, or `?jaar=JJJJ` for a
/// whole year.
#[derive(Deserialize, Default)]
pub struct RangeQuery {
    #[serde(default)]
    jaar: Option<String>,
    #[serde(default)]
    van: Option<String>,
    #[serde(default)]
    tot: Option<String>,
    #[serde(default)]
    financier: Option<String>,
}

/// A month `JJJJ-MM` as its first day.
fn month_start(ym: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{ym}-01"), "%Y-%m-%d").ok()
}

fn ym(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

/// The chosen months: by default the twelve up to this month; a bad month
/// or a range that ends before it starts is refused in Dutch.
struct Chosen {
    from: String,
    to: String,
    financier: Option<String>,
}

impl Chosen {
    fn of(q: &RangeQuery) -> Result<Chosen, WebError> {
        let this = crate::registration::today();
        if let Some(y) = q.jaar.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let year: i32 = y
                .parse()
                .ok()
                .filter(|y| (2000..=2100).contains(y))
                .ok_or_else(|| WebError::BadRequest(format!("jaar {y:?} is geen JJJJ")))?;
            return Ok(Chosen {
                from: format!("{year:04}-01"),
                to: format!("{year:04}-12"),
                financier: q.financier.clone().filter(|f| !f.trim().is_empty()),
            });
        }
        let pick = |v: &Option<String>, default: NaiveDate| -> Result<NaiveDate, WebError> {
            match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => Ok(default),
                Some(s) => month_start(s)
                    .ok_or_else(|| WebError::BadRequest(format!("maand {s:?} is geen JJJJ-MM"))),
            }
        };
        let to = pick(&q.tot, this)?;
        let from = pick(&q.van, to.checked_sub_months(Months::new(11)).unwrap_or(to))?;
        if from > to {
            return Err(WebError::BadRequest(
                "de eerste maand ligt na de laatste".into(),
            ));
        }
        Ok(Chosen {
            from: ym(from),
            to: ym(to),
            financier: q.financier.clone().filter(|f| !f.trim().is_empty()),
        })
    }

    fn range(&self) -> Range<'_> {
        Range {
            from: &self.from,
            to: &self.to,
            financier: self.financier.as_deref(),
        }
    }

    /// The months as a file name part: `2026-11` or `2026-01_2026-12`.
    fn stem(&self) -> String {
        if self.from == self.to {
            self.from.clone()
        } else {
            format!("{}_{}", self.from, self.to)
        }
    }

    /// The query string that keeps the choice on the export links.
    fn query(&self) -> String {
        let mut q = format!("van={}&tot={}", self.from, self.to);
        if let Some(f) = &self.financier {
            q.push_str("&financier=");
            q.push_str(&f.replace(':', "%3A"));
        }
        q
    }
}

/// Lines and amounts added up.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    lines: i64,
    declared: i64,
    approved: (i64, i64),
    rejected: (i64, i64),
    outstanding: (i64, i64),
    invoiced: (i64, i64),
}

impl Totals {
    fn add(&mut self, r: &OverviewRow) {
        self.lines += r.lines;
        self.declared += r.declared_cents;
        self.approved.0 += r.approved_lines;
        self.approved.1 += r.approved_cents;
        self.rejected.0 += r.rejected_lines;
        self.rejected.1 += r.rejected_cents;
        self.outstanding.0 += r.outstanding_lines;
        self.outstanding.1 += r.outstanding_cents;
        self.invoiced.0 += r.invoiced_lines;
        self.invoiced.1 += r.invoiced_cents;
    }

    fn of(r: &OverviewRow) -> Totals {
        let mut t = Totals::default();
        t.add(r);
        t
    }
}

/// An amount with its number of lines under it.
fn amount(lines: i64, cents: i64) -> Markup {
    html! {
        td.getal { (euro(cents)) br; small { (format::count(lines, "regel", "regels")) } }
    }
}

fn total_cells(t: &Totals) -> Markup {
    html! {
        (amount(t.lines, t.declared))
        (amount(t.approved.0, t.approved.1))
        (amount(t.rejected.0, t.rejected.1))
        (amount(t.outstanding.0, t.outstanding.1))
        (amount(t.invoiced.0, t.invoiced.1))
    }
}

/// The exports: file stem, Dutch label, whether it carries participants.
const EXPORTS: [(&str, &str); 4] = [
    ("declaraties", "Declaraties en facturen"),
    ("declaratieregels", "Declaratieregels"),
    ("registraties", "Registraties"),
    ("deelnemers", "Deelnemers"),
];

/// `GET /overzichten?van=&tot=&financier=`.
pub async fn overview(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<RangeQuery>,
) -> Result<Response, WebError> {
    require_provider_office(&user)?;
    let chosen = Chosen::of(&q)?;
    let pool = state.store().pool();
    let rows = reports::overview(pool, &user.tenant, chosen.range()).await?;
    let financiers: Vec<(String, String)> = read::financiers(pool, &user.tenant)
        .await?
        .into_iter()
        .map(|(kind, code)| (format!("{kind}:{code}"), financier_nl(&kind, &code)))
        .collect();
    let mut overall = Totals::default();
    // Rows come ordered by financier: a subtotal closes each one's block.
    let mut blocks: Vec<(String, Vec<&OverviewRow>, Totals)> = Vec::new();
    for r in &rows {
        let name = financier_nl(&r.financier_kind, &r.financier_code);
        overall.add(r);
        match blocks.last_mut() {
            Some((n, list, t)) if *n == name => {
                list.push(r);
                t.add(r);
            }
            _ => blocks.push((name, vec![r], Totals::of(r))),
        }
    }
    let query = chosen.query();
    let body = html! {
        h1 { "Overzichten" }
        form.filters method="get" action="/overzichten" {
            label { "Van maand" input type="month" name="van" value=(chosen.from); }
            label { "Tot en met maand" input type="month" name="tot" value=(chosen.to); }
            label { "Financier"
                select name="financier" {
                    option value="" { "Alle" }
                    @for (k, l) in &financiers { option value=(k) selected[chosen.financier.as_deref() == Some(k.as_str())] { (l) } }
                }
            }
            button.secundair type="submit" { "Tonen" }
        }
        @let year = crate::registration::today().year();
        p {
            (format::month_str(&chosen.from)) " t/m " (format::month_str(&chosen.to)) " · "
            a href={ "/overzichten?jaar=" (year) } { "heel " (year) } " · "
            a href={ "/overzichten?jaar=" (year - 1) } { "heel " (year - 1) }
        }
        @if rows.is_empty() { p { "Geen declaraties in deze periode." } } @else {
            table.overzicht {
                thead { tr {
                    th { "Financier" } th { "Maand" } th.getal { "Gedeclareerd" } th.getal { "Goedgekeurd" }
                    th.getal { "Afgekeurd" } th.getal { "Openstaand" } th.getal { "Gefactureerd" }
                } }
                @for (name, list, t) in &blocks {
                    tbody {
                        @for r in list {
                            tr {
                                td { (name) }
                                td { (format::month_str(&r.month)) }
                                (total_cells(&Totals::of(r)))
                            }
                        }
                        tr.subtotaal { th colspan="2" { "Totaal " (name) } (total_cells(t)) }
                    }
                }
                tfoot { tr.totaal { th colspan="2" { "Totaal" } (total_cells(&overall)) } }
            }
            p.toelichting { "Openstaand: verzonden, nog geen antwoord. Gefactureerd: UBL-facturen (daarop komt geen antwoord per regel). Creditregels tellen negatief." }
        }
        h2 { "Exporteren" }
        table.exports {
            tbody {
                @for (stem, label) in EXPORTS {
                    tr {
                        td { (label) }
                        td { a href={ "/overzichten/" (stem) ".csv?" (query) } download { "CSV" } }
                        td { a href={ "/overzichten/" (stem) ".xlsx?" (query) } download { "Excel (.xlsx)" } }
                    }
                }
            }
        }
    };
    Ok(page("Overzichten", Some(&user), body))
}

const DECLARATION_COLUMNS: &[Column] = &[
    col("Declaratienummer", Kind::Text, 20),
    col("Bericht", Kind::Text, 12),
    col("Financier", Kind::Text, 18),
    col("Periode van", Kind::Date, 12),
    col("Periode tot en met", Kind::Date, 12),
    col("Aangemaakt", Kind::Date, 12),
    col("Regels", Kind::Integer, 8),
    col("Goedgekeurd", Kind::Integer, 12),
    col("Afgekeurd", Kind::Integer, 10),
    col("Totaal", Kind::Euro, 14),
    col("Verzendstatus", Kind::Text, 16),
];

const LINE_COLUMNS: &[Column] = &[
    col("Declaratienummer", Kind::Text, 20),
    col("Financier", Kind::Text, 18),
    col("Deelnemer", Kind::Text, 26),
    col("Cliëntnummer", Kind::Text, 14),
    col("Referentie", Kind::Text, 18),
    col("Toewijzing", Kind::Text, 14),
    col("Product", Kind::Text, 10),
    col("Periode van", Kind::Date, 12),
    col("Periode tot en met", Kind::Date, 12),
    col("Volume", Kind::Integer, 8),
    col("Eenheid", Kind::Text, 12),
    col("Tarief", Kind::Euro, 12),
    col("Bedrag", Kind::Euro, 14),
    col("Debet/credit", Kind::Text, 8),
    col("Status", Kind::Text, 14),
];

const REGISTRATION_COLUMNS: &[Column] = &[
    col("Datum", Kind::Date, 12),
    col("Deelnemer", Kind::Text, 26),
    col("Cliëntnummer", Kind::Text, 14),
    col("Aanwezig", Kind::Text, 9),
    col("Reden afwezig", Kind::Text, 14),
    col("Van", Kind::Text, 7),
    col("Tot", Kind::Text, 7),
    col("Uren", Kind::Decimal, 8),
    col("Dagdelen", Kind::Integer, 9),
    col("Activiteit", Kind::Text, 18),
    col("Geregistreerd door", Kind::Text, 20),
];

const PARTICIPANT_COLUMNS: &[Column] = &[
    col("Naam", Kind::Text, 26),
    col("BSN", Kind::Text, 11),
    col("Cliëntnummer", Kind::Text, 14),
    col("Geboortedatum", Kind::Date, 14),
    col("Geslacht", Kind::Text, 9),
    col("Groep", Kind::Text, 18),
];

/// A participant's name from the stored JSON.
fn name(json: &str) -> String {
    name_of(&serde_json::from_str(json).unwrap_or_default())
}

/// The surname to sort by ("Vries" of "de Vries" sorts under V, as Dutch
/// lists do), then the full name.
fn surname_key(json: &str) -> (String, String) {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let last = v
        .get("Geslachtsnaam")
        .and_then(|g| g.get("Achternaam"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .to_lowercase();
    (last, name_of(&v).to_lowercase())
}

fn unit_nl(code: &str) -> String {
    crate::mapping::Eenheid::from_code(code)
        .map_or_else(|| code.to_string(), |e| e.label_nl().to_string())
}

fn absence_nl(reason: Option<&str>) -> Cell {
    Cell::opt(reason.map(|r| match r {
        "sick" => "ziek",
        "holiday" => "vakantie",
        "no_show" => "niet verschenen",
        "other" => "anders",
        other => other,
    }))
}

/// `GET /overzichten/{bestand}`: `declaraties`, `declaratieregels`,
/// `registraties` or `deelnemers`, as `.csv` or `.xlsx`, for the months and
/// financier of the query.
pub async fn export(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    Path(file): Path<String>,
    Query(q): Query<RangeQuery>,
) -> Result<Response, WebError> {
    require_provider_office(&user)?;
    let (stem, ext) = file.rsplit_once('.').ok_or(WebError::NotFound)?;
    let kind = FileType::of(ext).ok_or(WebError::NotFound)?;
    let chosen = Chosen::of(&q)?;
    let range = chosen.range();
    let pool = state.store().pool();
    let tenant = &user.tenant;
    // The participants whose data leave with the file.
    let mut shown: Vec<String> = Vec::new();
    let table = match stem {
        "declaraties" => Table {
            sheet: "Declaraties",
            columns: DECLARATION_COLUMNS,
            rows: reports::declarations(pool, tenant, range)
                .await?
                .into_iter()
                .map(|d| {
                    vec![
                        Cell::text(d.declaratie_nummer),
                        Cell::text(bericht_nl(d.bericht.as_deref().unwrap_or_default())),
                        Cell::text(financier_nl(&d.financier_kind, &d.financier_code)),
                        Cell::date(Some(&d.period_begin)),
                        Cell::date(Some(&d.period_end)),
                        Cell::date(Some(&d.created_at)),
                        Cell::Integer(d.lines),
                        Cell::Integer(d.approved),
                        Cell::Integer(d.rejected),
                        Cell::Cents(d.total_cents),
                        Cell::opt(d.outbox_state.as_deref().map(status_nl)),
                    ]
                })
                .collect(),
        },
        "declaratieregels" => {
            let lines = reports::lines(pool, tenant, range).await?;
            shown.extend(lines.iter().map(|l| l.participant_id.clone()));
            Table {
                sheet: "Declaratieregels",
                columns: LINE_COLUMNS,
                rows: lines
                    .into_iter()
                    .map(|l| {
                        vec![
                            Cell::text(l.declaratie_nummer),
                            Cell::text(financier_nl(&l.financier_kind, &l.financier_code)),
                            Cell::text(name(&l.name_json)),
                            Cell::opt(l.client_number.as_deref()),
                            Cell::text(l.referentie_nummer),
                            Cell::text(l.toewijzing_nummer),
                            Cell::text(format!("{}/{}", l.product_categorie, l.product_code)),
                            Cell::date(Some(&l.period_begin)),
                            Cell::date(Some(&l.period_end)),
                            Cell::Integer(l.volume),
                            Cell::text(unit_nl(&l.eenheid)),
                            l.tarief_cents.map_or(Cell::Empty, Cell::Cents),
                            Cell::Cents(l.bedrag_cents),
                            Cell::text(l.debet_credit),
                            Cell::text(status_nl(&l.status)),
                        ]
                    })
                    .collect(),
            }
        }
        "registraties" => {
            let regs = reports::registrations(pool, tenant, range).await?;
            shown.extend(regs.iter().map(|r| r.participant_id.clone()));
            Table {
                sheet: "Registraties",
                columns: REGISTRATION_COLUMNS,
                rows: regs
                    .into_iter()
                    .map(|r| {
                        vec![
                            Cell::date(Some(&r.day)),
                            Cell::text(name(&r.name_json)),
                            Cell::opt(r.client_number.as_deref()),
                            Cell::text(if r.present == 1 { "ja" } else { "nee" }),
                            absence_nl(r.absence_reason.as_deref()),
                            Cell::opt(r.time_from.as_deref()),
                            Cell::opt(r.time_to.as_deref()),
                            r.minutes
                                .map_or(Cell::Empty, |m| Cell::Decimal(m as f64 / 60.0)),
                            r.dagdelen.map_or(Cell::Empty, Cell::Integer),
                            Cell::opt(r.activity.as_deref()),
                            Cell::text(r.registered_by),
                        ]
                    })
                    .collect(),
            }
        }
        "deelnemers" => {
            let mut people = reports::participants(pool, tenant, range).await?;
            people.sort_by_cached_key(|p| surname_key(&p.name_json));
            shown.extend(people.iter().map(|p| p.id.clone()));
            Table {
                sheet: "Deelnemers",
                columns: PARTICIPANT_COLUMNS,
                rows: people
                    .into_iter()
                    .map(|p| {
                        vec![
                            Cell::text(name(&p.name_json)),
                            // Back office only: they see the BSN on the pages too.
                            Cell::text(p.bsn),
                            Cell::opt(p.client_number.as_deref()),
                            Cell::date(p.birth_date.as_deref()),
                            Cell::opt(p.gender.as_deref()),
                            Cell::opt(p.group_name.as_deref()),
                        ]
                    })
                    .collect(),
            }
        }
        _ => return Err(WebError::NotFound),
    };
    if table.rows.len() > reports::MAX_EXPORT_ROWS {
        return Err(WebError::BadRequest(format!(
            "Dit bestand zou meer dan {} regels krijgen. Kies minder maanden of één financier.",
            super::format::integer(reports::MAX_EXPORT_ROWS as i64)
        )));
    }
    shown.sort();
    shown.dedup();
    exported(
        &state,
        &user,
        &peer,
        &format!("GET /overzichten/{file}"),
        &shown,
        stem,
        serde_json::json!({
            "file": file,
            "from": chosen.from,
            "to": chosen.to,
            "financier": chosen.financier,
            "rows": table.rows.len(),
            "participants": shown.len(),
        }),
    )
    .await?;
    Ok(super::export::download(
        &table,
        kind,
        &format!("{stem}-{}", chosen.stem()),
    )?)
}

/// `GET /declaraties/{id}/specificatie`: the declaration or invoice as a
/// printable specification, its lines grouped per participant (by surname).
pub async fn specification(
    State(state): State<AppState>,
    user: WebUser,
    peer: Peer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    require_provider_office(&user)?;
    let pool = state.store().pool();
    let d = read::declaration(pool, &user.tenant, &id)
        .await?
        .ok_or(WebError::NotFound)?;
    let mut lines = reports::lines_of(pool, &user.tenant, &id).await?;
    lines.sort_by_cached_key(|l| (surname_key(&l.name_json), l.participant_id.clone()));
    let mut shown: Vec<String> = lines.iter().map(|l| l.participant_id.clone()).collect();
    shown.dedup();
    super::access::log(
        &state,
        &user,
        &peer,
        AccessKind::View,
        "GET /declaraties/{id}/specificatie",
        &shown,
    )
    .await?;
    let signed = |l: &reports::LineRow| {
        if l.debet_credit == "C" {
            -l.bedrag_cents
        } else {
            l.bedrag_cents
        }
    };
    // One block per participant; the lines are sorted so they are adjacent.
    let mut blocks: Vec<(&str, Vec<&reports::LineRow>)> = Vec::new();
    for l in &lines {
        match blocks.last_mut() {
            Some((p, list)) if *p == l.participant_id => list.push(l),
            _ => blocks.push((l.participant_id.as_str(), vec![l])),
        }
    }
    let total: i64 = lines.iter().map(signed).sum();
    let title = format!(
        "Specificatie {} {}",
        bericht_nl(d.bericht.as_deref().unwrap_or_default()),
        d.declaratie_nummer
    );
    let body = html! {
        div.specificatie {
            p.geen-print { a href={ "/declaraties/" (id) } { "Terug naar de declaratie" } " " button.secundair #afdrukken type="button" { "Afdrukken" } }
            h1 { (title) }
            dl.gegevens {
                dt { "Zorgaanbieder" } dd { "AGB " (user.tenant.id) }
                dt { "Financier" } dd { (financier_nl(&d.financier.kind, &d.financier.code)) }
                dt { "Declaratienummer" } dd { (d.declaratie_nummer) }
                dt { "Periode" } dd { (format::date_str(&d.period_begin)) " t/m " (format::date_str(&d.period_end)) }
                dt { "Aangemaakt" } dd { (format::time_str(&d.created_at)) }
                @if let Some(a) = &d.answered_at { dt { "Beantwoord" } dd { (format::time_str(a)) } }
                dt { "Regels" } dd { (format::count(d.lines, "regel", "regels")) " · " (format::count(i64::try_from(blocks.len()).unwrap_or(i64::MAX), "deelnemer", "deelnemers")) }
            }
            table.specificatie {
                thead { tr {
                    th { "Referentie" } th { "Toewijzing" } th { "Product" } th { "Periode" }
                    th.getal { "Volume" } th.getal { "Bedrag" } th { "Status" }
                } }
                @for (_, list) in &blocks {
                    tbody.deelnemer-blok {
                        @if let Some(first) = list.first() {
                            tr.kop { th colspan="7" { (name(&first.name_json)) @if let Some(c) = &first.client_number { " · cliëntnummer " (c) } } }
                        }
                        @for l in list {
                            tr {
                                td { code { (l.referentie_nummer) } }
                                td { code { (l.toewijzing_nummer) } }
                                td { (l.product_categorie) "/" (l.product_code) }
                                td { (format::date_str(&l.period_begin)) " t/m " (format::date_str(&l.period_end)) }
                                td.getal { (format::volume(l.volume, &l.eenheid)) }
                                td.getal { (euro(signed(l))) }
                                td { (status_nl(&l.status)) }
                            }
                        }
                        tr.subtotaal { td colspan="5" { "Subtotaal" } td.getal { (euro(list.iter().map(|l| signed(l)).sum::<i64>())) } td {} }
                    }
                }
                tfoot { tr.totaal { th colspan="5" { "Totaal" } th.getal #specificatie-totaal { (euro(total)) } th {} } }
            }
        }
    };
    Ok(page(&title, Some(&user), body))
}
