//! JSON input and output contracts: the JSON Schemas in `schemas/api`.
//!
//! Every JSON body the API accepts is checked against its schema before a
//! handler sees it, so a client learns exactly which JSON paths are wrong;
//! the tests check every JSON answer against its schema the same way.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::http::StatusCode;
use serde_json::Value;

use super::routes::ApiError;

/// The schemas, by file name without `.json`.
pub const SCHEMAS: &[(&str, &str)] = &[
    ("error", include_str!("../../schemas/api/error.json")),
    ("message", include_str!("../../schemas/api/message.json")),
    (
        "deadlines",
        include_str!("../../schemas/api/deadlines.json"),
    ),
    (
        "participant",
        include_str!("../../schemas/api/participant.json"),
    ),
    (
        "participant-list",
        include_str!("../../schemas/api/participant-list.json"),
    ),
    (
        "participant-search",
        include_str!("../../schemas/api/participant-search.json"),
    ),
    (
        "outbox-item",
        include_str!("../../schemas/api/outbox-item.json"),
    ),
    (
        "outbox-list",
        include_str!("../../schemas/api/outbox-list.json"),
    ),
    (
        "registrations",
        include_str!("../../schemas/api/registrations.json"),
    ),
    (
        "registrations-result",
        include_str!("../../schemas/api/registrations-result.json"),
    ),
    (
        "declarations-run",
        include_str!("../../schemas/api/declarations-run.json"),
    ),
    (
        "declarations-run-result",
        include_str!("../../schemas/api/declarations-run-result.json"),
    ),
    (
        "declaration-list",
        include_str!("../../schemas/api/declaration-list.json"),
    ),
    (
        "milestone",
        include_str!("../../schemas/api/milestone.json"),
    ),
    (
        "participant-end",
        include_str!("../../schemas/api/participant-end.json"),
    ),
    (
        "registration-list",
        include_str!("../../schemas/api/registration-list.json"),
    ),
    (
        "review-item",
        include_str!("../../schemas/api/review-item.json"),
    ),
    (
        "review-list",
        include_str!("../../schemas/api/review-list.json"),
    ),
    (
        "allocation",
        include_str!("../../schemas/api/allocation.json"),
    ),
    (
        "invoice-lines",
        include_str!("../../schemas/api/invoice-lines.json"),
    ),
    (
        "received-declarations",
        include_str!("../../schemas/api/received-declarations.json"),
    ),
    (
        "review-resolve",
        include_str!("../../schemas/api/review-resolve.json"),
    ),
    (
        "declaration-decision",
        include_str!("../../schemas/api/declaration-decision.json"),
    ),
    (
        "declaration-decisions",
        include_str!("../../schemas/api/declaration-decisions.json"),
    ),
    (
        "startstop-run",
        include_str!("../../schemas/api/startstop-run.json"),
    ),
    (
        "startstop-run-result",
        include_str!("../../schemas/api/startstop-run-result.json"),
    ),
    ("request", include_str!("../../schemas/api/request.json")),
    ("grant", include_str!("../../schemas/api/grant.json")),
    (
        "request-answer",
        include_str!("../../schemas/api/request-answer.json"),
    ),
    (
        "allocation-change",
        include_str!("../../schemas/api/allocation-change.json"),
    ),
    (
        "grant-result",
        include_str!("../../schemas/api/grant-result.json"),
    ),
    (
        "request-item",
        include_str!("../../schemas/api/request-item.json"),
    ),
    (
        "request-list",
        include_str!("../../schemas/api/request-list.json"),
    ),
    (
        "access-log",
        include_str!("../../schemas/api/access-log.json"),
    ),
    (
        "participant-export",
        include_str!("../../schemas/api/participant-export.json"),
    ),
    ("exchange", include_str!("../../schemas/api/exchange.json")),
    (
        "measurement",
        include_str!("../../schemas/api/measurement.json"),
    ),
    (
        "measurement-list",
        include_str!("../../schemas/api/measurement-list.json"),
    ),
    ("goal", include_str!("../../schemas/api/goal.json")),
    (
        "goal-list",
        include_str!("../../schemas/api/goal-list.json"),
    ),
    (
        "evaluation",
        include_str!("../../schemas/api/evaluation.json"),
    ),
    (
        "evaluation-list",
        include_str!("../../schemas/api/evaluation-list.json"),
    ),
];

/// Every schema by its `$id`, so one schema can `$ref` a part of another
/// (`declarations-run-result.json#/$defs/message`) instead of repeating it.
static REGISTRY: LazyLock<Result<jsonschema::Registry<'static>, String>> = LazyLock::new(|| {
    let mut builder = jsonschema::Registry::new();
    for (name, text) in SCHEMAS {
        let schema: Value = serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))?;
        let id = schema["$id"]
            .as_str()
            .ok_or_else(|| format!("{name} has no $id"))?
            .to_string();
        builder = builder
            .add(id, schema)
            .map_err(|e| format!("{name}: {e}"))?;
    }
    builder.prepare().map_err(|e| e.to_string())
});

static VALIDATORS: LazyLock<HashMap<&'static str, Result<jsonschema::Validator, String>>> =
    LazyLock::new(|| {
        SCHEMAS
            .iter()
            .map(|(name, text)| {
                let v = serde_json::from_str::<Value>(text)
                    .map_err(|e| e.to_string())
                    .and_then(|schema| {
                        let registry = REGISTRY.as_ref().map_err(Clone::clone)?;
                        jsonschema::options()
                            .with_registry(registry)
                            .build(&schema)
                            .map_err(|e| e.to_string())
                    });
                (*name, v)
            })
            .collect()
    });

/// Checks `value` against schema `name`; returns the JSON pointers and
/// messages of every violation.
pub fn violations(name: &str, value: &Value) -> Result<Vec<(String, String)>, String> {
    let validator = match VALIDATORS.get(name) {
        Some(Ok(v)) => v,
        Some(Err(e)) => return Err(format!("schema {name} does not compile: {e}")),
        None => return Err(format!("no schema named {name}")),
    };
    Ok(validator
        .iter_errors(value)
        .map(|e| {
            let path = e.instance_path().to_string();
            (
                if path.is_empty() {
                    "/".to_string()
                } else {
                    path
                },
                e.to_string(),
            )
        })
        .collect())
}

/// Parses and validates a JSON request body against schema `name`.
pub fn parse_body(name: &str, body: &[u8]) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("ongeldige JSON op regel {}, kolom {}", e.line(), e.column()),
            format!(
                "malformed JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
        )
        .with_paths(vec!["/".to_string()])
    })?;
    let found = violations(name, &value).map_err(|e| {
        tracing::error!(error = %e, "input schema");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "interne fout",
            "internal error",
        )
    })?;
    if found.is_empty() {
        return Ok(value);
    }
    let paths: Vec<String> = found.iter().map(|(p, _)| p.clone()).collect();
    // The messages may quote input values (a BSN); only paths go back.
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        format!(
            "de invoer voldoet niet aan het schema op {}",
            paths.join(", ")
        ),
        format!(
            "the input does not match the schema at {}",
            paths.join(", ")
        ),
    )
    .with_paths(paths))
}
