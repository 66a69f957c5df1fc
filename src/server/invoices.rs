//! `POST /allocations` and `POST /invoices`: the invoice side over HTTP.
//!
//! A provider registers the orders of financiers that send no 301 (UWV, a
//! Participatiewet department); the declaration run then invoices them
//! ([`crate::engine::invoice`]). A municipality posts the UBL invoices it
//! receives and gets back the same normalized declaration lines a 323
//! gives ([`crate::adapter::lines`]).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde_json::{Value, json};
use sqlx::Row;

use super::AppState;
use super::routes::{ApiError, Auth, Body};
use crate::adapter::ubl::{self, Dec};
use crate::mapping::{FinancierKey, Kind, PriceBasis, Standard};
use crate::record::apply;
use crate::store::{TenantKind, new_id, now};

fn unprocessable(nl: impl Into<String>, en: impl Into<String>, path: &str) -> Response {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, nl, en)
        .with_paths(vec![path.to_string()])
        .into_response()
}

/// `POST /allocations` (`schemas/api/allocation.json`): registers or
/// changes an order. 201 with the allocation; 422 when the financier is not
/// an invoiced one in the mappings, the service is not in its mapping, the
/// price basis differs from the service's, or the BSN fails the elfproef;
/// 404 for an unknown participant id.
pub async fn post_allocation(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    Body(body): Body,
) -> Response {
    if let Err(e) = super::declarations::only_providers(tenant.kind) {
        return e.into_response();
    }
    let v = match super::input::parse_body("allocation", &body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let text = |k: &str| v.get(k).and_then(Value::as_str);
    let kind = Kind::parse(v["financier"]["kind"].as_str().unwrap_or_default());
    let code = v["financier"]["code"].as_str().unwrap_or_default();
    let Some(kind) = kind else {
        return unprocessable(
            "onbekende financier",
            "unknown financier",
            "/financier/kind",
        );
    };
    let key = FinancierKey::new(kind, code);
    let mappings = state.mappings.for_tenant(&tenant.id);
    let Some(mapping) = mappings
        .get(&key)
        .filter(|m| m.financier.standard == Standard::Ubl)
    else {
        return unprocessable(
            format!("{key} is geen factuurfinancier in de mappings"),
            format!("{key} is not an invoiced financier in the mappings"),
            "/financier",
        );
    };
    let service = text("service").unwrap_or_default();
    let Some(product) = mapping.products.iter().find(|p| p.key.code == service) else {
        return unprocessable(
            format!("dienst {service} staat niet in de mapping van {key}"),
            format!("service {service} is not in the mapping of {key}"),
            "/service",
        );
    };
    if let Some(basis) = text("price_basis").and_then(PriceBasis::parse)
        && basis != product.price_basis
    {
        return unprocessable(
            format!(
                "prijs per {} past niet bij dienst {service} (per {})",
                basis.as_str(),
                product.price_basis.as_str()
            ),
            format!(
                "a price per {} does not fit service {service} (per {})",
                basis.as_str(),
                product.price_basis.as_str()
            ),
            "/price_basis",
        );
    }
    let date = |k: &str| text(k).map(|d| d.parse::<NaiveDate>());
    let from = match date("from") {
        Some(Ok(d)) => d,
        _ => return unprocessable("from is geen datum", "from is not a date", "/from"),
    };
    let to = match date("to") {
        None => None,
        Some(Ok(d)) if d >= from => Some(d),
        _ => {
            return unprocessable(
                "to is geen datum op of na from",
                "to is not a date on or after from",
                "/to",
            );
        }
    };
    if let Some(bsn) = text("bsn")
        && !crate::adapter::istandaard::rules::elfproef(bsn)
    {
        // The BSN itself is not repeated in the answer.
        return unprocessable(
            "het BSN voldoet niet aan de elfproef",
            "the BSN fails the elfproef",
            "/bsn",
        );
    }
    let order_number = text("order_number").unwrap_or_default();
    let client_reference = text("client_reference").unwrap_or_default();
    let nummer = format!("{order_number}:{client_reference}:{service}");
    let result: anyhow::Result<Option<(String, String, bool)>> = async {
        let mut w = state.store().begin_write().await?;
        let participant = match (text("participant_id"), text("bsn")) {
            (Some(id), _) => {
                let row = sqlx::query("SELECT id FROM participants WHERE tenant_id = $1 AND id = $2")
                    .bind(&tenant.id)
                    .bind(id)
                    .fetch_optional(&mut *w.tx)
                    .await?;
                match row {
                    Some(r) => r.try_get::<String, _>("id")?,
                    None => return Ok(None),
                }
            }
            (None, Some(bsn)) => apply::ensure_participant(&mut w.tx, &tenant.id, bsn).await?,
            (None, None) => return Ok(None),
        };
        let fin_id = format!("{}:{}-{}", tenant.id, kind.as_str(), code);
        sqlx::query(
            "INSERT INTO financiers (id, tenant_id, kind, code, name, standard) VALUES ($1, $2, $3, $4, $5, 'ubl') \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&fin_id)
        .bind(&tenant.id)
        .bind(kind.as_str())
        .bind(code)
        .bind(&mapping.financier.name)
        .execute(&mut *w.tx)
        .await?;
        let offered = new_id();
        let row = sqlx::query(
            "INSERT INTO allocations (id, tenant_id, participant_id, financier_id, toewijzing_nummer, product_categorie, \
             product_code, ingangsdatum, einddatum, budget, status, updated_at, order_number, order_line, price_cents, \
             price_basis, client_reference) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'allocated', $11, $12, $13, $14, $15, $16) \
             ON CONFLICT (tenant_id, financier_id, toewijzing_nummer) DO UPDATE SET \
               participant_id = excluded.participant_id, ingangsdatum = excluded.ingangsdatum, \
               einddatum = excluded.einddatum, budget = excluded.budget, order_line = excluded.order_line, \
               price_cents = excluded.price_cents, price_basis = excluded.price_basis, updated_at = excluded.updated_at \
             RETURNING id",
        )
        .bind(&offered)
        .bind(&tenant.id)
        .bind(&participant)
        .bind(&fin_id)
        .bind(&nummer)
        .bind(&product.key.categorie)
        .bind(&product.key.code)
        .bind(from.to_string())
        .bind(to.map(|d| d.to_string()))
        .bind(v.get("budget_cents").and_then(Value::as_i64))
        .bind(now())
        .bind(order_number)
        .bind(text("order_line"))
        .bind(v.get("price_cents").and_then(Value::as_i64))
        .bind(product.price_basis.as_str())
        .bind(client_reference)
        .fetch_one(&mut *w.tx)
        .await?;
        let id: String = row.try_get("id")?;
        w.commit().await?;
        let created = id == offered;
        Ok(Some((id, participant, created)))
    }
    .await;
    match result {
        Ok(Some((id, participant, created))) => (
            if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            Json(json!({
                "id": id,
                "participant_id": participant,
                "toewijzing_nummer": nummer,
                "financier": {"kind": kind.as_str(), "code": code},
                "order_number": order_number,
                "service": service,
                "price_basis": product.price_basis.as_str(),
                "created": created,
            })),
        )
            .into_response(),
        Ok(None) => ApiError::not_found().into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// `POST /invoices`: a municipality receives a UBL Invoice or CreditNote
/// (body: the XML). It is checked (structure and EN 16931 rules), its buyer
/// must be this municipality (its OIN, `loket tenant add --oin`), and it is
/// stored once; the answer is its normalized declaration lines
/// (`schemas/api/invoice-lines.json`). 400 unusable XML or not UBL, 422
/// findings (each with rule and path), 403 addressed to another buyer or
/// sent by a provider. The same invoice again gets the same answer
/// (`x-loket-duplicate: true`).
pub async fn post_invoice(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    Body(body): Body,
) -> Response {
    if tenant.kind != TenantKind::Gemeente {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "alleen een gemeente ontvangt facturen",
            "only a municipality receives invoices",
        )
        .into_response();
    }
    let checked = match ubl::check(&body, &state.ingest.limits) {
        Ok(c) => c,
        Err(e) => {
            return ApiError::new(StatusCode::BAD_REQUEST, e.nl(), e.to_string()).into_response();
        }
    };
    if !checked.is_valid() {
        let paths: Vec<String> = checked
            .findings
            .iter()
            .map(|f| format!("{} {}", f.rule, f.path))
            .collect();
        let nl: Vec<String> = checked
            .findings
            .iter()
            .map(|f| format!("[{}] {}", f.rule, f.nl))
            .collect();
        let en: Vec<String> = checked
            .findings
            .iter()
            .map(|f| format!("[{}] {}", f.rule, f.en))
            .collect();
        return ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("de factuur voldoet niet: {}", nl.join("; ")),
            format!("the invoice is invalid: {}", en.join("; ")),
        )
        .with_paths(paths)
        .into_response();
    }
    let doc = &checked.document;
    let oin: Option<String> = match sqlx::query("SELECT oin FROM tenants WHERE id = $1")
        .bind(&tenant.id)
        .fetch_one(state.store().pool())
        .await
        .and_then(|r| r.try_get("oin"))
    {
        Ok(o) => o,
        Err(e) => return ApiError::internal(e.into()).into_response(),
    };
    let b = &doc.buyer;
    let names: Vec<&str> = [
        b.endpoint.as_ref().map(|e| e.1.as_str()),
        b.company_id.as_ref().map(|c| c.1.as_str()),
        b.identification.as_ref().map(|c| c.1.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if oin.as_deref().is_none_or(|o| !names.contains(&o)) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "de koper op de factuur is niet deze gemeente (OIN)",
            "the buyer on the invoice is not this municipality (OIN)",
        )
        .into_response();
    }
    let lines = ubl::decode::lines(doc);
    let number = doc.id.clone().unwrap_or_default();
    let seller = doc
        .seller
        .company_id
        .as_ref()
        .map(|c| c.1.clone())
        .or_else(|| doc.seller.endpoint.as_ref().map(|e| e.1.clone()))
        .or_else(|| doc.seller.registration_name.clone());
    let total = doc.totals.payable.and_then(Dec::to_cents).unwrap_or(0);
    let mut answer = json!({
        "document": doc.kind.name(),
        "number": number,
        "seller": seller,
        "order_reference": doc.order_reference,
        "currency": doc.currency.clone().unwrap_or_default(),
        "total_cents": if doc.kind == ubl::Kind::CreditNote { -total } else { total },
        "lines": lines,
    });
    let stored: anyhow::Result<(String, bool)> = async {
        let mut w = state.store().begin_write().await?;
        let existing = sqlx::query(
            "SELECT id FROM messages WHERE tenant_id = $1 AND direction = 'in' AND sender = $2 \
             AND bericht = $3 AND identificatie = $4",
        )
        .bind(&tenant.id)
        .bind(seller.as_deref())
        .bind(doc.kind.name())
        .bind(&number)
        .fetch_optional(&mut *w.tx)
        .await?;
        if let Some(r) = existing {
            return Ok((r.try_get("id")?, true));
        }
        let id = new_id();
        let row = apply::MessageRow {
            id: &id,
            tenant: &tenant.id,
            direction: "in",
            standard: "ubl",
            bericht: doc.kind.name(),
            sender: seller.as_deref(),
            receiver: oin.as_deref(),
            identificatie: Some(&number),
            dagtekening: doc.issue_date.as_deref(),
            participant_id: None,
            status: "accepted",
            retourcodes: "[]".into(),
            findings: "[]".into(),
            parsed: answer.to_string(),
            raw: &body,
            answer_of: None,
        };
        apply::insert_messages(&mut w.tx, &[row]).await?;
        w.commit().await?;
        Ok((id, false))
    }
    .await;
    match stored {
        Ok((id, duplicate)) => {
            answer["message_id"] = json!(id);
            let mut headers = HeaderMap::new();
            if let Ok(v) = (if duplicate { "true" } else { "false" }).parse() {
                headers.insert("x-loket-duplicate", v);
            }
            (StatusCode::OK, headers, Json(answer)).into_response()
        }
        Err(e) => ApiError::internal(e).into_response(),
    }
}
