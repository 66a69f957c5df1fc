//! `GET /declarations/received` and `GET /declarations/received.csv`: a
//! municipality's normalised declarations ([`crate::record::received`]) as
//! JSON with totals, or as a CSV file that Dutch spreadsheets open as they
//! are (`;`, decimal comma, dd-mm-jjjj, UTF-8 with BOM).
//!
//! Both an API token and a logged-in person of the municipality may read
//! them (the municipality's pages link to the CSV). The BSN is shown to the
//! tenant's API tokens and to the roles that work with declarations
//! (backoffice, beheer); a begeleider gets the lines without it. Every
//! participant shown is in the access log before the data leave.

use axum::Json;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::access::{Caller, Peer};
use super::routes::ApiError;
use crate::record::access::{self, Actor, Kind};
use crate::record::received::{self, CREDITS_NOTE, Filter, LAWS, ReceivedLine, STATUSES, Totals};
use crate::store::{Tenant, TenantKind};
use crate::web::auth::{SESSION_COOKIE, WebUser};

/// Lines per JSON answer by default, and at most.
const DEFAULT_LIMIT: i64 = 1000;
const MAX_LIMIT: i64 = 10_000;
/// Most lines one CSV file holds, as the access log's CSV: the file is
/// built in memory (narrow the period for more).
const CSV_MAX: i64 = 100_000;

/// Who reads the declarations: a municipality's API token or one of its
/// people, with whether they may see BSNs.
pub struct Reader {
    tenant: Tenant,
    actor: Actor,
    show_bsn: bool,
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let has_session = CookieJar::from_headers(&parts.headers)
            .get(SESSION_COOKIE)
            .is_some();
        let reader = if super::routes::bearer(parts).is_some() || !has_session {
            // A machine: the tenant's own token sees what the tenant holds.
            let caller = Caller::from_request_parts(parts, state)
                .await
                .map_err(IntoResponse::into_response)?;
            Reader {
                tenant: caller.tenant,
                actor: caller.actor,
                show_bsn: true,
            }
        } else {
            let user = WebUser::from_request_parts(parts, state).await?;
            let Ok(peer) = Peer::from_request_parts(parts, state).await;
            Reader {
                actor: crate::web::access::actor(&user, &peer),
                show_bsn: user.role.back_office(),
                tenant: user.tenant,
            }
        };
        if reader.tenant.kind != TenantKind::Gemeente {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "alleen een gemeente ontvangt declaraties",
                "only a municipality receives declarations",
            )
            .into_response());
        }
        Ok(reader)
    }
}

/// The query of both calls; empty fields do not filter.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceivedQuery {
    pub aanbieder: Option<String>,
    pub van: Option<String>,
    pub tot: Option<String>,
    pub product: Option<String>,
    pub status: Option<String>,
    pub law: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// A checked filter (shared with the municipality's pages): dates must be
/// dates and `van` not after `tot`, status and law one of the known ones.
pub fn filter_of(
    q: ReceivedQuery,
    show_bsn: bool,
    default_limit: i64,
    max_limit: i64,
) -> Result<Filter, (String, String)> {
    let given = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let day = |v: Option<String>, name: &str| -> Result<Option<String>, (String, String)> {
        match given(v) {
            None => Ok(None),
            Some(d) => parse_day(&d).map(|d| Some(d.to_string())).ok_or_else(|| {
                (
                    format!("{name} is geen datum (JJJJ-MM-DD of DD-MM-JJJJ)"),
                    format!("{name} is not a date (YYYY-MM-DD or DD-MM-YYYY)"),
                )
            }),
        }
    };
    let one_of = |v: Option<String>, name: &str, all: &[&str]| match given(v) {
        Some(s) if !all.contains(&s.as_str()) => Err((
            format!("onbekende {name}; kies uit {}", all.join(", ")),
            format!("unknown {name}; use one of {}", all.join(", ")),
        )),
        s => Ok(s),
    };
    let van = day(q.van, "van")?;
    let tot = day(q.tot, "tot")?;
    if let (Some(v), Some(t)) = (&van, &tot)
        && v > t
    {
        return Err((
            "van ligt na tot".to_string(),
            "van is after tot".to_string(),
        ));
    }
    Ok(Filter {
        aanbieder: given(q.aanbieder),
        van,
        tot,
        product: given(q.product),
        status: one_of(q.status, "status", &STATUSES)?,
        law: one_of(q.law, "law", &LAWS)?,
        limit: q.limit.unwrap_or(default_limit).clamp(1, max_limit.max(1)),
        offset: q.offset.unwrap_or(0).max(0),
        show_bsn,
    })
}

/// A date as people type it in the Netherlands or as ISO.
fn parse_day(s: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(s, "%d-%m-%Y"))
        .ok()
}

/// The JSON answer (`schemas/api/received-declarations.json`).
#[derive(Serialize)]
struct Answer {
    lines: Vec<ReceivedLine>,
    totals: Totals,
    /// How credits are counted in the totals.
    credits: &'static str,
    limit: i64,
    offset: i64,
}

/// Reads the lines (and, for JSON, the totals) and logs every participant
/// shown before anything leaves.
async fn read(
    state: &AppState,
    reader: &Reader,
    f: &Filter,
    kind: Kind,
    object: &str,
) -> Result<Vec<ReceivedLine>, ApiError> {
    let pool = state.store().pool();
    let mut lines = received::lines(pool, &reader.tenant, f)
        .await
        .map_err(ApiError::internal)?;
    received::name_lines(state.mappings.for_tenant(&reader.tenant.id), &mut lines);
    let shown: Vec<String> = lines
        .iter()
        .filter_map(|l| l.participant_id.clone())
        .collect();
    access::record(
        state.store(),
        &reader.tenant.id,
        &reader.actor,
        kind,
        object,
        &shown,
    )
    .await
    .map_err(ApiError::internal)?;
    Ok(lines)
}

fn bad_request((nl, en): (String, String)) -> Response {
    ApiError::new(StatusCode::BAD_REQUEST, nl, en).into_response()
}

/// `GET /declarations/received?aanbieder=&van=&tot=&product=&status=&law=&limit=&offset=`:
/// the lines and their totals as JSON, or the CSV with `Accept: text/csv`.
pub async fn list(
    State(state): State<AppState>,
    reader: Reader,
    headers: HeaderMap,
    Query(q): Query<ReceivedQuery>,
) -> Response {
    let wants_csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().starts_with("text/csv")));
    if wants_csv {
        return csv_answer(&state, &reader, q).await;
    }
    let f = match filter_of(q, reader.show_bsn, DEFAULT_LIMIT, MAX_LIMIT) {
        Ok(f) => f,
        Err(e) => return bad_request(e),
    };
    let lines = match read(
        &state,
        &reader,
        &f,
        Kind::View,
        "GET /declarations/received",
    )
    .await
    {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let mut totals = match received::totals(state.store().pool(), &reader.tenant, &f).await {
        Ok(t) => t,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    totals.name(state.mappings.for_tenant(&reader.tenant.id));
    Json(Answer {
        lines,
        totals,
        credits: CREDITS_NOTE,
        limit: f.limit,
        offset: f.offset,
    })
    .into_response()
}

/// `GET /declarations/received.csv` with the same filters: every matching
/// line (up to [`CSV_MAX`]) as a download.
pub async fn csv(
    State(state): State<AppState>,
    reader: Reader,
    Query(q): Query<ReceivedQuery>,
) -> Response {
    csv_answer(&state, &reader, q).await
}

async fn csv_answer(state: &AppState, reader: &Reader, q: ReceivedQuery) -> Response {
    let f = match filter_of(q, reader.show_bsn, CSV_MAX, CSV_MAX) {
        Ok(f) => f,
        Err(e) => return bad_request(e),
    };
    let lines = match read(
        state,
        reader,
        &f,
        Kind::Download,
        "GET /declarations/received.csv",
    )
    .await
    {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    match csv_text(&lines) {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"declaraties-ontvangen.csv\"",
                ),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// The CSV's columns, in order.
pub const CSV_HEADER: [&str; 23] = [
    "Bron",
    "Aanbieder",
    "Naam aanbieder",
    "Wet",
    "BSN",
    "Klantnummer",
    "Productcategorie",
    "Productcode",
    "Declaratie/factuur",
    "Regel",
    "Toewijzingnummer",
    "Opdrachtreferentie",
    "Begindatum",
    "Einddatum",
    "Volume",
    "Eenheid",
    "Tarief",
    "Bedrag",
    "Debet/credit",
    "Netto bedrag",
    "Status",
    "Retourcodes",
    "Ontvangen",
];

/// Cents as euros with a decimal comma and no thousands separator (which
/// a spreadsheet would read as part of the number): -5398 -> "-53,98".
fn euros(cents: i64) -> String {
    crate::adapter::lines::cents_text(cents).replace('.', ",")
}

/// `YYYY-MM-DD...` as dd-mm-jjjj; anything else as it is. By position,
/// not through a date parser: it runs three times per line of a file that
/// may hold a hundred thousand.
fn dutch_date(iso: &str) -> String {
    let b = iso.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
    {
        format!("{}-{}-{}", &iso[8..10], &iso[5..7], &iso[..4])
    } else {
        iso.to_string()
    }
}

/// Text a sender chose: a leading `= + - @` would be a formula in a
/// spreadsheet, so it gets a quote first.
fn text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// The lines as CSV: UTF-8 with a BOM (so Excel reads the accents),
/// `;`-separated, CRLF, decimal comma, dates as dd-mm-jjjj.
pub fn csv_text(lines: &[ReceivedLine]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::from("\u{feff}".as_bytes());
    {
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        w.write_record(CSV_HEADER)?;
        for l in lines {
            let opt = |v: &Option<String>| text(v.as_deref().unwrap_or_default());
            w.write_record([
                l.source.clone(),
                text(&l.aanbieder),
                opt(&l.provider_name),
                l.law.clone(),
                opt(&l.bsn),
                opt(&l.client_reference),
                opt(&l.product_categorie),
                opt(&l.product_code),
                text(&l.document),
                text(&l.line_reference),
                opt(&l.toewijzing_nummer),
                opt(&l.order_reference),
                dutch_date(&l.period_begin),
                dutch_date(&l.period_end),
                l.volume.replace('.', ","),
                text(&l.unit),
                l.tarief_cents.map(euros).unwrap_or_default(),
                euros(l.bedrag_cents),
                l.debet_credit.clone(),
                euros(l.signed_cents()),
                l.status.clone(),
                l.retourcodes.0.join(" "),
                dutch_date(&l.received_at),
            ])?;
        }
        w.flush()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dutch_numbers_dates_and_formulas() {
        assert_eq!(euros(5398), "53,98");
        assert_eq!(euros(-5), "-0,05");
        assert_eq!(dutch_date("2026-04-30"), "30-04-2026");
        assert_eq!(dutch_date("2026-04-30T10:00:00.000Z"), "30-04-2026");
        assert_eq!(dutch_date("30-04-2026"), "30-04-2026");
        assert_eq!(dutch_date(""), "");
        assert_eq!(text("=1+1"), "'=1+1");
        assert_eq!(parse_day("01-04-2026"), parse_day("2026-04-01"));
    }

    #[test]
    fn filters_are_checked() {
        let q = |van: &str, tot: &str, status: &str| ReceivedQuery {
            van: Some(van.into()),
            tot: Some(tot.into()),
            status: Some(status.into()),
            ..ReceivedQuery::default()
        };
        let f = filter_of(q("01-04-2026", "2026-04-30", "afgekeurd"), false, 10, 20).expect("ok");
        assert_eq!(f.van.as_deref(), Some("2026-04-01"));
        assert_eq!(f.limit, 10);
        assert!(filter_of(q("2026-05-01", "2026-04-30", ""), false, 10, 20).is_err());
        assert!(filter_of(q("", "", "betaald"), false, 10, 20).is_err());
        assert!(filter_of(q("morgen", "", ""), false, 10, 20).is_err());
    }
}
