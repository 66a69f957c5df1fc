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
use serde_json::json;

use super::AppState;
use super::routes::{ApiError, Auth, Body};
use crate::adapter::ubl::{self, Dec};
use crate::record::{apply, order};
use crate::store::TenantKind;

fn unprocessable(nl: impl Into<String>, en: impl Into<String>, path: &str) -> Response {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, nl, en)
        .with_paths(vec![path.to_string()])
        .into_response()
}

/// `POST /allocations` (`schemas/api/allocation.json`): registers or
/// changes an order through [`order::register`]. 201 with the allocation
/// (200 for a change of the same order); 422 when the financier is not an
/// invoiced one in the mappings, the service is not in its mapping, the
/// price basis differs from the service's, or the BSN fails the elfproef;
/// 404 for an unknown participant id. A municipality's body is a grant
/// instead ([`super::allocations::grant`], `schemas/api/grant.json`).
pub async fn post_allocation(
    State(state): State<AppState>,
    caller: super::access::Caller,
    Body(body): Body,
) -> Response {
    if caller.tenant.kind == TenantKind::Gemeente {
        return super::allocations::grant(&state, &caller, &body).await;
    }
    let tenant = caller.tenant;
    let v = match super::input::parse_body("allocation", &body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    // The schema has checked the shape, so this only fails on a schema
    // that drifted from `Order`: say so instead of guessing.
    let order: order::Order = match serde_json::from_value(v) {
        Ok(o) => o,
        Err(e) => return ApiError::internal(anyhow::Error::from(e)).into_response(),
    };
    let mappings = state.mappings.for_tenant(&tenant.id);
    match order::register(state.store(), mappings, &tenant.id, &order).await {
        Ok(order::Outcome::Stored(r)) => (
            if r.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            Json(json!({
                "id": r.id,
                "participant_id": r.participant_id,
                "toewijzing_nummer": r.toewijzing_nummer,
                "financier": {"kind": r.kind.as_str(), "code": order.financier.code},
                "order_number": order.order_number,
                "service": order.service,
                "price_basis": r.price_basis.as_str(),
                "created": r.created,
            })),
        )
            .into_response(),
        Ok(order::Outcome::Refused(r)) => unprocessable(r.nl, r.en, r.path),
        Ok(order::Outcome::NotFound) => ApiError::not_found().into_response(),
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
    let oin = match state.store().tenant_oin(&tenant.id).await {
        Ok(o) => o,
        Err(e) => return ApiError::internal(e).into_response(),
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
        // Rules flagged as warnings and loket's own business checks: the
        // invoice is taken, and the sender and back office see what to mend.
        "warnings": checked.warnings.iter().map(|f| json!({
            "rule": f.rule, "path": f.path, "nl": f.nl, "en": f.en,
        })).collect::<Vec<_>>(),
    });
    let stored = apply::receive_document(
        state.store(),
        apply::ReceivedDocument {
            tenant: &tenant.id,
            bericht: doc.kind.name(),
            seller: seller.as_deref(),
            buyer: oin.as_deref(),
            number: &number,
            issue_date: doc.issue_date.as_deref(),
            parsed: answer.to_string(),
            raw: &body,
            document: doc,
        },
    )
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
