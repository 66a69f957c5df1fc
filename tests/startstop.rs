//! The daily start/stop run outside the declaration run: by hand with
//! `loket startstop` (its report, exit codes and dry run), and in the daemon,
//! whose daily task sends the starts due as soon as it runs.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Row;

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    loket_startstop_sends_what_is_due_once,
    the_daemon_runs_starts_and_stops_without_a_declaration_run,
);

const AGB: &str = "73730112";
const BSN: &str = "999901023";

/// `loket startstop` with this server's store, from the checkout (its
/// mappings), returning the exit code and the JSON report.
async fn startstop(s: &Server, args: &[&str]) -> (i32, Value) {
    let mut all: Vec<String> = vec!["startstop".into(), "--tenant".into(), AGB.into()];
    all.extend(args.iter().map(|a| a.to_string()));
    all.push("--json".into());
    all.extend(s.store_args());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_loket"))
            .args(&all)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("loket startstop")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&out.stderr)));
    assert_schema("startstop-run-result", &report);
    (out.status.code().unwrap_or(-1), report)
}

async fn outbox_count(s: &Server) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM outbox")
        .fetch_one(s.state.store().pool())
        .await
        .expect("count")
        .try_get("n")
        .expect("n")
}

async fn loket_startstop_sends_what_is_due_once(db: Db) {
    let s = Server::start(db).await;
    let api = s.tenant_api(AGB).await;
    let xml = allocation_xml(
        "WMO",
        "0363",
        AGB,
        "S1",
        BSN,
        &[dagbesteding("600001", "2026-01-01")],
    );
    let p = api.allocate(&xml, BSN).await;
    api.days(&[(&p, "2026-02-03", "09:00", "13:00", "kas")])
        .await;
    // Before the first day nothing is due.
    let (code, early) = startstop(&s, &["--date", "2026-02-02"]).await;
    assert_eq!(code, 0, "{early}");
    assert!(early["messages"].as_array().unwrap().is_empty(), "{early}");
    // A dry run plans the start and stores nothing.
    let (code, dry) = startstop(&s, &["--date", "2026-02-04", "--dry-run"]).await;
    assert_eq!(code, 0, "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["messages"][0]["kind"], "start", "{dry}");
    assert_eq!(outbox_count(&s).await, 0);
    // The run sends it, once.
    let (code, run) = startstop(&s, &["--date", "2026-02-04"]).await;
    assert_eq!(code, 0, "{run}");
    assert_eq!(run["messages"][0]["bericht"], "WMO305", "{run}");
    let id = run["messages"][0]["message_id"]
        .as_str()
        .expect("message id");
    let sent = api.message_xml(id).await;
    assert!(
        sent.contains("2026-02-03"),
        "Begindatum is the first day: {sent}"
    );
    assert_eq!(outbox_count(&s).await, 1);
    let (_, again) = startstop(&s, &["--date", "2026-02-05"]).await;
    assert!(again["messages"].as_array().unwrap().is_empty(), "{again}");
    // The declaration run of the month finds the start sent.
    let month = api.run("2026-02", "2026-03-02").await;
    assert!(
        month["messages"].as_array().unwrap().is_empty(),
        "no second start: {month}"
    );
    // The end of care: the next run stops it, with the start's Begindatum.
    let end = api
        .post_json(
            &format!("/participants/{p}/end"),
            &json!({"date": "2026-03-06", "reason": "volgens_plan", "registered_by": "Anna"}),
        )
        .await;
    assert_eq!(end.status, 201, "{}", end.body);
    let (code, stop) = startstop(&s, &["--date", "2026-03-09"]).await;
    assert_eq!(code, 0, "{stop}");
    assert_eq!(stop["messages"][0]["kind"], "stop", "{stop}");
    let xml = api
        .message_xml(stop["messages"][0]["message_id"].as_str().unwrap())
        .await;
    assert!(xml.contains("Begindatum>2026-02-03<"), "{xml}");
    assert!(xml.contains("RedenBeeindiging>19<"), "{xml}");
}

async fn the_daemon_runs_starts_and_stops_without_a_declaration_run(db: Db) {
    let s = Server::start(db).await;
    let api = s.tenant_api(AGB).await;
    let today = loket::registration::today();
    let ingang = (today - chrono::Duration::days(20)).to_string();
    let yesterday = (today - chrono::Duration::days(1)).to_string();
    let xml = allocation_xml(
        "WMO",
        "0363",
        AGB,
        "D1",
        BSN,
        &[dagbesteding("600002", &ingang)],
    );
    let p = api.allocate(&xml, BSN).await;
    api.days(&[(&p, &yesterday, "09:00", "13:00", "kas")]).await;
    // The daemon's daily task runs once at start.
    let daily = loket::engine::daily::Daily::start(
        s.state.clone(),
        loket::engine::daily::Settings::default(),
        loket::record::retention::Settings::default(),
    );
    let mut sent = 0;
    for _ in 0..200 {
        sent = outbox_count(&s).await;
        if sent > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    daily.stop().await;
    assert_eq!(sent, 1, "the start is in the outbox");
    let list = api.get("/outbox").await;
    assert_eq!(list.body["items"][0]["bericht"], "WMO305", "{}", list.body);
    // Switched off, it sends nothing.
    let end = api
        .post_json(
            &format!("/participants/{p}/end"),
            &json!({"date": yesterday, "reason": "door_client", "registered_by": "Anna"}),
        )
        .await;
    assert_eq!(end.status, 201, "{}", end.body);
    let off = loket::engine::daily::Daily::start(
        s.state.clone(),
        loket::engine::daily::Settings {
            enabled: false,
            ..loket::engine::daily::Settings::default()
        },
        loket::record::retention::Settings {
            enabled: false,
            ..loket::record::retention::Settings::default()
        },
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    off.stop().await;
    assert_eq!(outbox_count(&s).await, 1);
}
