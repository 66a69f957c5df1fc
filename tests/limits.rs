//! What a client can make the server hold (issue 15, item 1): a
//! Content-Length over the limit is refused before the body is read,
//! stalled headers and bodies and idle connections are closed after their
//! timeout, a request over the body budget gets 503 with Retry-After, and
//! the connection limit holds. Raw TCP where a well-behaved HTTP client
//! cannot misbehave enough.

mod common;
#[path = "benches/support/declaration.rs"]
mod declaration;

use std::time::Duration;

use common::*;
use loket::adapter::istandaard::MAX_MESSAGE_BYTES;
use loket::server::limits::Settings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Far beyond every timeout configured in these tests: a read that takes
/// this long means the server held the connection.
const GIVE_UP: Duration = Duration::from_secs(15);

async fn start(db: Db, limits: Settings) -> Server {
    let config = loket::config::Config {
        max_message_bytes: LIMIT,
        limits,
        ..loket::config::Config::default()
    };
    Server::start_with(db, config).await
}

async fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Reads until the server closes the connection (or `GIVE_UP`): what it
/// sent, and whether it closed.
async fn read_to_close(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(GIVE_UP, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&got).into_owned(), closed)
}

/// The status line's code of a raw response.
fn status_of(response: &str) -> Option<u16> {
    response
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
}

fn post_head(token: &str, length: usize) -> String {
    format!(
        "POST /messages HTTP/1.1\r\nHost: loket\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/xml\r\nContent-Length: {length}\r\n\r\n"
    )
}

async fn content_length_over_limit_refused_unread(db: Db) {
    let server = start(db, Settings::default()).await;
    let api = server.tenant_api("12345678").await;
    let mut s = connect(&server).await;
    // 100 MB announced, not one byte of it sent: the answer cannot wait for
    // the body.
    s.write_all(post_head(&api.token, 100 * 1024 * 1024).as_bytes())
        .await
        .expect("send headers");
    let (response, closed) = read_to_close(&mut s).await;
    assert_eq!(status_of(&response), Some(413), "{response}");
    assert!(response.contains("\"error\""), "{response}");
    assert!(closed, "the connection is closed after the 413");
}

/// Issue 16, item 6: with the default configuration a valid declaration of
/// 24 MB, which the exchange accepts (25 MB per message), is taken in and
/// answered with its 325 (the municipality holds none of its allocations,
/// so its lines are rejected on their content, not on their size); one of
/// 26 MiB is refused 413 in Dutch and English before its body is read.
async fn the_size_limit_follows_the_exchange(db: Db) {
    let config = loket::config::Config::default();
    assert_eq!(config.max_message_bytes, MAX_MESSAGE_BYTES);
    let server = Server::start_with(db, config).await;
    let api = server.tenant_api("0200").await;

    let xml = declaration::declaration("LIMIT24", 23_300_000);
    assert!(
        (24_000_000..MAX_MESSAGE_BYTES).contains(&xml.len()),
        "a 24 MB declaration: {} bytes",
        xml.len()
    );
    let res = api.post_message(&xml).await;
    drop(xml);
    assert_eq!(res.status().as_u16(), 200);
    let headers = res.headers();
    assert_eq!(headers["x-loket-bericht"], "WMO323");
    let judged = headers["x-loket-status"].to_str().unwrap_or("");
    assert!(
        ["accepted", "rejected"].contains(&judged),
        "judged: {judged}"
    );
    let answer = res.text().await.expect("answer");
    assert!(answer.contains("wmo325"), "a 325 answers it");

    let big = declaration::declaration("LIMIT26", 26 * 1024 * 1024);
    assert!(big.len() > MAX_MESSAGE_BYTES);
    let mut s = connect(&server).await;
    s.write_all(post_head(&api.token, big.len()).as_bytes())
        .await
        .expect("send headers");
    // The start of the body: the answer must not wait for the rest.
    let _ = s.write_all(&big.as_bytes()[..64 * 1024]).await;
    let (response, closed) = read_to_close(&mut s).await;
    assert_eq!(status_of(&response), Some(413), "{response}");
    assert!(closed, "the connection is closed after the 413");
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    let err: serde_json::Value = serde_json::from_str(body).expect("a JSON error");
    let limit = MAX_MESSAGE_BYTES.to_string();
    let nl = err["error"]["nl"].as_str().unwrap_or("");
    let en = err["error"]["en"].as_str().unwrap_or("");
    assert!(nl.contains("groter dan") && nl.contains(&limit), "{nl}");
    assert!(en.contains("larger than") && en.contains(&limit), "{en}");
}

/// Sends `bytes` to a server whose header timeout is one second and reads
/// until it closes: what it answered, and whether it closed.
async fn send_then_wait(db: Db, bytes: &[u8]) -> (String, bool) {
    let settings = Settings {
        header_read_timeout_secs: 1,
        ..Settings::default()
    };
    let server = start(db, settings).await;
    let mut s = connect(&server).await;
    s.write_all(bytes).await.expect("send");
    read_to_close(&mut s).await
}

async fn stalled_headers_closed(db: Db) {
    let (response, closed) = send_then_wait(db, b"GET /healthz HTTP/1.1\r\nHost: loket\r\n").await;
    assert!(closed, "a connection with unfinished headers is closed");
    assert!(
        status_of(&response).is_none_or(|s| s == 408),
        "no request was handled: {response}"
    );
}

async fn idle_keep_alive_closed(db: Db) {
    let (response, closed) =
        send_then_wait(db, b"GET /healthz HTTP/1.1\r\nHost: loket\r\n\r\n").await;
    assert_eq!(status_of(&response), Some(200), "{response}");
    assert!(
        closed,
        "a kept-alive connection without a next request is closed"
    );
}

async fn stalled_body_closed(db: Db) {
    let server = start(
        db,
        Settings {
            body_read_timeout_secs: 1,
            ..Settings::default()
        },
    )
    .await;
    let api = server.tenant_api("12345678").await;
    let mut s = connect(&server).await;
    s.write_all(post_head(&api.token, 1000).as_bytes())
        .await
        .expect("send headers");
    s.write_all(b"<?xml version=\"1.0\"?>")
        .await
        .expect("send the body's start");
    let (response, closed) = read_to_close(&mut s).await;
    assert!(closed, "a connection whose body stalls is closed");
    let status = status_of(&response);
    assert!(
        status.is_none_or(|s| (400..500).contains(&s)),
        "the stalled message is not processed: {response}"
    );
    // Nothing was stored.
    let reply = api.get("/participants").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["participants"], serde_json::json!([]));
}

/// A body that keeps coming, a byte at a time just inside the inactivity
/// timeout, is cut off at its deadline (the timeout plus its size at the
/// minimum rate) and gives its budget back, instead of holding it for ever.
async fn trickled_body_cut_at_its_deadline(db: Db) {
    let server = start(
        db,
        Settings {
            body_read_timeout_secs: 1,
            body_min_rate_bytes_per_sec: 1000,
            ..Settings::default()
        },
    )
    .await;
    let api = server.tenant_api("12345678").await;
    let (mut read, mut write) = connect(&server).await.into_split();
    // 1,000 bytes: a deadline of 1 s + 1 s; at a byte every 400 ms the body
    // would take 400 s.
    write
        .write_all(post_head(&api.token, 1000).as_bytes())
        .await
        .expect("send headers");
    let trickle = tokio::spawn(async move {
        for _ in 0..1000 {
            if write.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
    });
    let started = std::time::Instant::now();
    let (response, closed) = read_to_close(&mut read).await;
    trickle.abort();
    assert!(closed, "the trickling connection is closed: {response}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "cut off near its deadline, not by the test's own limit"
    );
    let status = status_of(&response);
    assert!(
        status.is_none_or(|s| (400..500).contains(&s)),
        "the message is not processed: {response}"
    );
    for _ in 0..100 {
        if server.state.budget.in_use_bytes() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.state.budget.in_use_bytes(), 0, "the budget is back");
}

/// A form post (the login is one) over the form limit is refused before its
/// body is read: a client that is not logged in cannot reserve a message's
/// share of the budget.
async fn large_form_refused_unread(db: Db) {
    let server = start(db, Settings::default()).await;
    let mut s = connect(&server).await;
    let length = loket::server::limits::FORM_LIMIT + 1;
    s.write_all(
        format!(
            "POST /login HTTP/1.1\r\nHost: loket\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .expect("send headers");
    let (response, closed) = read_to_close(&mut s).await;
    assert_eq!(status_of(&response), Some(413), "{response}");
    assert!(closed, "the connection is closed after the 413");
    assert_eq!(server.state.budget.in_use_bytes(), 0);
}

async fn over_budget_gets_503(db: Db) {
    let server = start(
        db,
        Settings {
            body_budget_bytes: 64 * 1024,
            budget_wait_ms: 200,
            ..Settings::default()
        },
    )
    .await;
    let api = server.tenant_api("12345678").await;
    // One request takes the whole budget and holds it: its body stalls.
    let mut holder = connect(&server).await;
    holder
        .write_all(post_head(&api.token, 64 * 1024).as_bytes())
        .await
        .expect("send headers");
    holder.write_all(b"<").await.expect("send a byte");
    // Wait until the server holds the reservation.
    for _ in 0..100 {
        if server.state.budget.in_use_bytes() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.state.budget.in_use_bytes(), 64 * 1024);
    let xml = allocation_xml(
        "WMO",
        "0363",
        "12345678",
        "LIM0001",
        "999901023",
        &[dagbesteding("300001", "2026-01-01")],
    );
    let res = api.post_message(&xml).await;
    assert_eq!(res.status().as_u16(), 503);
    let retry = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(retry.is_some_and(|s| s > 0), "Retry-After in seconds");
    let body: serde_json::Value = res.json().await.expect("JSON error");
    assert_schema("error", &body);
    // The holder gives up; the budget is free again and the message goes in.
    drop(holder);
    let mut status = 0;
    for _ in 0..100 {
        let res = api.post_message(&xml).await;
        status = res.status().as_u16();
        if status != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200, "accepted once the budget is free");
    assert_eq!(
        server.state.budget.in_use_bytes(),
        0,
        "every reservation returned"
    );
}

async fn connection_limit_honoured(db: Db) {
    let server = start(
        db,
        Settings {
            max_connections: 2,
            header_read_timeout_secs: 60,
            ..Settings::default()
        },
    )
    .await;
    let mut first = connect(&server).await;
    let second = connect(&server).await;
    // Both are served: a request on the first is answered.
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: loket\r\n\r\n")
        .await
        .expect("request");
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(GIVE_UP, first.read(&mut buf))
        .await
        .expect("answered")
        .expect("read");
    assert_eq!(status_of(&String::from_utf8_lossy(&buf[..n])), Some(200));
    // A third waits: its request is not answered while two are open.
    let mut third = connect(&server).await;
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: loket\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let waited = tokio::time::timeout(Duration::from_millis(700), third.read(&mut buf)).await;
    assert!(waited.is_err(), "the third connection is not served yet");
    // One closes; the third is served.
    drop(second);
    let (response, _) = read_to_close(&mut third).await;
    assert_eq!(status_of(&response), Some(200), "{response}");
    drop(first);
}

on_both_backends!(
    content_length_over_limit_refused_unread,
    stalled_headers_closed,
    idle_keep_alive_closed,
    stalled_body_closed,
    trickled_body_cut_at_its_deadline,
    large_form_refused_unread,
    over_budget_gets_503,
    connection_limit_honoured,
    the_size_limit_follows_the_exchange,
);
