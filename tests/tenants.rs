//! Tenants and API tokens on the command line, against the database a
//! running daemon uses: `tenant add` refuses an id that exists, tokens are
//! added with a name, listed (never shown again) with their last use, and
//! revoked; a revoked token is refused.

use std::process::Output;

use serde_json::Value;

#[macro_use]
mod common;
use common::*;

on_both_backends!(tokens_are_named_listed_used_and_revoked);

fn loket(s: &Server, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_loket"))
        .args(args)
        .args(s.store_args())
        .output()
        .expect("loket runs")
}

fn last_line(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string()
}

async fn status(s: &Server, token: &str) -> u16 {
    s.http
        .get(format!("{}/participants", s.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

async fn tokens_are_named_listed_used_and_revoked(db: Db) {
    let s = Server::start(db).await;
    let made = loket(
        &s,
        &["tenant", "add", "12345678", "--token-name", "EVV-koppeling"],
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let first = last_line(&made);
    assert_eq!(first.len(), 64, "{first}");

    // The same id again: refused, nothing added.
    let again = loket(&s, &["tenant", "add", "12345678"]);
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("bestaat al") && err.contains("exists already"),
        "{err}"
    );

    let added = loket(&s, &["token", "add", "12345678", "--name", "rapportage"]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let second = last_line(&added);
    assert_ne!(first, second);
    let unknown = loket(&s, &["token", "add", "87654320", "--name", "x"]);
    assert_eq!(unknown.status.code(), Some(2));

    assert_eq!(status(&s, &second).await, 200);
    let listed = loket(&s, &["token", "list", "12345678", "--json"]);
    let text = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(
        !text.contains(&first) && !text.contains(&second),
        "a token is never shown again"
    );
    let rows: Value = serde_json::from_str(&text).expect("JSON");
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 2, "{text}");
    let used = rows
        .iter()
        .find(|r| r["name"] == "rapportage")
        .expect("rapportage");
    let unused = rows
        .iter()
        .find(|r| r["name"] == "EVV-koppeling")
        .expect("EVV");
    assert!(used["last_used_at"].is_string(), "{text}");
    assert!(unused["last_used_at"].is_null(), "{text}");
    let id = used["id"].as_str().expect("id").to_string();
    assert_eq!(id.len(), 12);

    // A municipality's OIN, recorded afterwards; an unknown tenant refused.
    let made = loket(&s, &["tenant", "add", "0599"]);
    assert!(made.status.success());
    let oin = loket(&s, &["tenant", "oin", "0599", "00000001001234560000"]);
    assert!(
        oin.status.success(),
        "{}",
        String::from_utf8_lossy(&oin.stderr)
    );
    assert_eq!(
        loket(&s, &["tenant", "oin", "0598", "00000001001234560000"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        loket(&s, &["tenant", "oin", "0599", "123"]).status.code(),
        Some(2)
    );
    assert_eq!(
        s.state
            .store()
            .tenant_oin("0599")
            .await
            .expect("oin")
            .as_deref(),
        Some("00000001001234560000")
    );

    let tenants = loket(&s, &["tenant", "list", "--json"]);
    let tenants: Value = serde_json::from_slice(&tenants.stdout).expect("JSON");
    let t = tenants
        .as_array()
        .and_then(|a| a.iter().find(|t| t["id"] == "12345678"))
        .expect("listed");
    assert_eq!(t["kind"], "aanbieder");
    assert_eq!(t["tokens"], 2);

    // Revoked on the command line: listed as revoked; the daemon refuses it
    // once its cache period has passed, and at once when revoked through it.
    let revoked = loket(&s, &["token", "revoke", "12345678", &id]);
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    let twice = loket(&s, &["token", "revoke", "12345678", &id]);
    assert_eq!(twice.status.code(), Some(1));
    let bad = loket(&s, &["token", "revoke", "12345678", "not-an-id"]);
    assert_eq!(bad.status.code(), Some(2));
    let listed: Value =
        serde_json::from_slice(&loket(&s, &["token", "list", "12345678", "--json"]).stdout)
            .expect("JSON");
    assert!(
        listed
            .as_array()
            .and_then(|a| a.iter().find(|r| r["id"] == id.as_str()))
            .is_some_and(|r| r["revoked_at"].is_string())
    );
    let store = s.state.store();
    let first_id = store
        .tokens("12345678")
        .await
        .expect("tokens")
        .into_iter()
        .find(|t| t.name == "EVV-koppeling")
        .expect("EVV")
        .id;
    assert_eq!(status(&s, &first).await, 200);
    assert!(
        store
            .revoke_token("12345678", &first_id)
            .await
            .expect("revoke")
    );
    assert_eq!(status(&s, &first).await, 401);
    let tenants: Value =
        serde_json::from_slice(&loket(&s, &["tenant", "list", "--json"]).stdout).expect("JSON");
    assert_eq!(
        tenants
            .as_array()
            .and_then(|a| a.iter().find(|t| t["id"] == "12345678"))
            .map(|t| t["tokens"].clone()),
        Some(Value::from(0))
    );
}
