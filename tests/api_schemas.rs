//! The API's JSON answers obey the schemas in `schemas/api`, and JSON input is
//! validated with errors that name the JSON path. Runs the real server on an
//! ephemeral port with the embedded SQLite store.

use std::net::SocketAddr;

use loket::config::Config;
use loket::server::{self, input::violations};
use serde_json::{Value, json};

struct Server {
    base: String,
    token: String,
    _dir: tempfile::TempDir,
}

async fn start(tenant: &str) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: dir.path().to_path_buf(),
        database_url: None,
        max_message_bytes: 64 * 1024,
        ..Config::default()
    };
    let state = config.state().await.expect("state");
    let token = state.store().add_tenant(tenant).await.expect("tenant");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, server::router(state)).await;
    });
    Server {
        base: format!("http://{addr}"),
        token,
        _dir: dir,
    }
}

fn fixture_301() -> (String, String) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/iwmo/valid/WMO301_omvang.xml"
    ))
    .expect("fixture");
    let ontvanger = text
        .split("Ontvanger>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("Ontvanger")
        .to_string();
    (text, ontvanger)
}

fn assert_schema(name: &str, value: &Value) {
    let found = violations(name, value).expect("schema compiles");
    assert!(found.is_empty(), "{name}: {found:?}\n{value:#}");
}

#[tokio::test]
async fn answers_follow_their_schemas_and_input_is_checked() {
    let (xml, tenant) = fixture_301();
    let s = start(&tenant).await;
    let c = reqwest::Client::new();
    let auth = format!("Bearer {}", s.token);
    let res = c
        .post(format!("{}/messages", s.base))
        .header("Authorization", &auth)
        .body(xml.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 200);
    let message_id = res
        .headers()
        .get("x-loket-message-id")
        .and_then(|v| v.to_str().ok())
        .expect("message id")
        .to_string();

    let list: Value = c
        .get(format!("{}/participants", s.base))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_schema("participant-list", &list);
    let id = list["participants"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let bsn = list["participants"][0]["bsn"]
        .as_str()
        .expect("bsn")
        .to_string();

    let record: Value = c
        .get(format!("{}/participants/{id}", s.base))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_schema("participant", &record);
    assert!(
        !record["allocations"]
            .as_array()
            .expect("allocations")
            .is_empty()
    );

    let message: Value = c
        .get(format!("{}/messages/{message_id}", s.base))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_schema("message", &message);
    // Its conversation: the 301 and the 302 loket answered it with.
    let conversation = message["conversation"]["messages"]
        .as_array()
        .expect("conversation");
    assert_eq!(conversation.len(), 2, "{message:#}");
    assert_eq!(conversation[0]["id"], message_id.as_str());
    assert_eq!(conversation[1]["answers"], message_id.as_str());

    // The open deadlines: none, the 301 was answered at once.
    let deadlines: Value = c
        .get(format!("{}/deadlines", s.base))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("deadlines")
        .json()
        .await
        .expect("json");
    assert_schema("deadlines", &deadlines);
    assert_eq!(deadlines["items"], json!([]), "{deadlines:#}");
    let res = c
        .get(format!("{}/deadlines?date=gisteren", s.base))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("deadlines");
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.expect("json");
    assert_schema("error", &err);

    // Lookup by BSN in the body: the same record.
    let found: Value = c
        .post(format!("{}/participants/search", s.base))
        .header("Authorization", &auth)
        .json(&json!({"bsn": bsn}))
        .send()
        .await
        .expect("search")
        .json()
        .await
        .expect("json");
    assert_eq!(found["id"], record["id"]);

    // Malformed JSON and schema violations: 400 with the JSON paths.
    let res = c
        .post(format!("{}/participants/search", s.base))
        .header("Authorization", &auth)
        .body("{\"bsn\": ")
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.expect("json");
    assert_schema("error", &err);
    let res = c
        .post(format!("{}/participants/search", s.base))
        .header("Authorization", &auth)
        .json(&json!({"bsn": "12345", "extra": true}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.expect("json");
    assert_schema("error", &err);
    let paths: Vec<&str> = err["error"]["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(paths.contains(&"/bsn"), "{paths:?}");

    // Every POST reads its body the same way: over the limit is 413, as JSON.
    let res = c
        .post(format!("{}/participants/search", s.base))
        .header("Authorization", &auth)
        .body(vec![b' '; 64 * 1024 + 1])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 413);
    let err: Value = res.json().await.expect("413 is JSON");
    assert_schema("error", &err);
    assert!(
        !err.to_string().contains("12345"),
        "input values are not echoed"
    );
}
