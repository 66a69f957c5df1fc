//! The published OpenAPI descriptions as JSON Schema validators.
//!
//! The three files in `../shared/reference/vecozo-vsp/` are read at run time
//! (never copied into the project): each validator is the document's
//! `components.schemas` with a root `$ref` to the schema wanted, so every
//! `$ref` inside resolves exactly as the publisher wrote it. Formats (`uuid`,
//! `date-time`, `uri`) are checked; OpenAPI-only formats (`int32`, `binary`)
//! are unknown to JSON Schema and ignored.

use std::path::PathBuf;
use std::sync::LazyLock;

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value, json};

/// Where the descriptions live: `LOKET_VSP_SPEC_DIR`, or the shared reference
/// folder beside the project.
pub fn spec_dir() -> PathBuf {
    match std::env::var_os("LOKET_VSP_SPEC_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/vecozo-vsp"),
    }
}

fn load(file: &str) -> Value {
    let path = spec_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("VSP description {} unreadable: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("VSP description {} is not JSON: {e}", path.display()))
}

fn compile(components: &Value, name: &str) -> Validator {
    let root = json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": components,
    });
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema {name} does not compile: {e}"))
}

/// The validators the counterpart needs.
pub struct Spec {
    /// Push request part `berichtMetadata`.
    pub push_metadata: Validator,
    /// One item of the pull list (`GET /berichten`, `POST /berichten/zoeken`).
    pub pull_metadata: Validator,
    /// The Zoekpad variants by their `zoekpadType`.
    pub zoekpad: Vec<(String, Validator)>,
    /// One item of the status list.
    pub status: Validator,
    /// The 400/422 body.
    pub problem: Validator,
}

/// Loaded once per test binary.
pub static SPEC: LazyLock<Spec> = LazyLock::new(|| {
    let push = load("berichtuitwisseling-push-v1.json");
    let pull = load("berichtuitwisseling-pull-v1.json");
    let status = load("berichtstatus-pull-v3.json");
    let zoekpad_components = zoekpad_variants(&pull["components"]);
    let variants = pull["components"]["schemas"]["Zoekpad"]["discriminator"]["mapping"]
        .as_object()
        .expect("Zoekpad has a discriminator mapping")
        .keys()
        .map(|k| (k.clone(), compile(&zoekpad_components, k)))
        .collect();
    Spec {
        push_metadata: compile(&push["components"], "BerichtMetadata"),
        pull_metadata: compile(&pull["components"], "BerichtMetadata"),
        zoekpad: variants,
        status: compile(&status["components"], "BerichtstatusGegevens"),
        problem: compile(&push["components"], "ValidationProblemDetails"),
    }
});

/// The Zoekpad variants say `allOf: [Zoekpad]` while both the base and the
/// variant forbid additional properties: read as JSON Schema no request could
/// ever pass. OpenAPI means inheritance (the discriminator picks the variant
/// and the base's properties are merged in), so each variant gets the base's
/// properties and required list in place of the `allOf`.
fn zoekpad_variants(components: &Value) -> Value {
    let mut components = components.clone();
    let schemas = components["schemas"]
        .as_object_mut()
        .expect("components.schemas");
    let base = schemas.get("Zoekpad").cloned().expect("Zoekpad schema");
    let names: Vec<String> = base["discriminator"]["mapping"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    for name in names {
        let Some(Value::Object(v)) = schemas.get_mut(&name) else {
            panic!("Zoekpad variant {name} missing");
        };
        v.remove("allOf");
        let props = v
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let (Value::Object(p), Some(bp)) = (props, base["properties"].as_object()) {
            for (k, s) in bp {
                p.insert(k.clone(), s.clone());
            }
        }
        let req = v.entry("required").or_insert_with(|| json!([]));
        if let (Value::Array(r), Some(br)) = (req, base["required"].as_array()) {
            r.extend(br.iter().cloned());
        }
    }
    components
}

/// Every violation as (instance path, message).
pub fn errors(v: &Validator, value: &Value) -> Vec<(String, String)> {
    v.iter_errors(value)
        .map(|e| {
            let path = e.instance_path().to_string();
            let path = if path.is_empty() {
                "$".to_string()
            } else {
                path
            };
            (path, e.to_string())
        })
        .collect()
}
