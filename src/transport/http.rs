//! HTTP delivery: the outbox POSTs a message to the endpoint in the
//! financier's mapping, and the counterpart answers with the retourbericht
//! in the body (as loket's own `POST /messages` does).
//!
//! What an answer means for the message:
//!
//! - 2xx: delivered; an XML body is the retourbericht.
//! - 408, 429, 5xx, connect errors, timeouts, a cut-off answer: the
//!   counterpart is down or busy; retry later (`Retry-After` honoured). A
//!   resend of something the counterpart did take in is harmless: it
//!   recognises the BerichtIdentificatie (TR056) and answers the same.
//! - other 4xx, 3xx: the counterpart refuses this message or the endpoint is
//!   wrong; retrying unchanged would not help, a person has to look.
//!
//! Redirects are not followed: a POST that is redirected may arrive as a GET
//! or at a host the mapping never named. The API token is read from the
//! environment by the caller and marked sensitive, so it is never logged.

use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};

use super::Sent;

/// Longest error text kept from a counterpart's answer.
const ERROR_SNIPPET: usize = 300;

/// A reusable HTTP client for deliveries (connection pooling, timeouts).
#[derive(Clone, Debug)]
pub struct HttpSender {
    client: reqwest::Client,
    /// Largest answer read; a retourbericht is never larger than a message.
    max_answer_bytes: usize,
}

impl HttpSender {
    pub fn new(
        timeout: Duration,
        connect_timeout: Duration,
        max_answer_bytes: usize,
    ) -> Result<HttpSender> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("loket/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(HttpSender {
            client,
            max_answer_bytes,
        })
    }

    /// POSTs `xml` to `url` with the bearer `token`, if any.
    pub async fn send(&self, url: &str, token: Option<&str>, xml: Vec<u8>) -> Sent {
        let mut req = self
            .client
            .post(url)
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/xml; charset=utf-8"),
            )
            .body(xml);
        if let Some(token) = token {
            match HeaderValue::from_str(&format!("Bearer {token}")) {
                Ok(mut v) => {
                    v.set_sensitive(true);
                    req = req.header(AUTHORIZATION, v);
                }
                Err(_) => {
                    return Sent::Failed {
                        status: None,
                        error: "het API-token bevat tekens die niet in een header passen / the API token has characters a header cannot carry".into(),
                    };
                }
            }
        }
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return transport_error(&e),
        };
        let status = resp.status();
        let code = Some(status.as_u16());
        if status.is_success() {
            let mut body = Vec::new();
            loop {
                match resp.chunk().await {
                    Ok(Some(chunk)) => {
                        if body.len() + chunk.len() > self.max_answer_bytes {
                            return Sent::Delivered {
                                status: code,
                                answer: None,
                                note: Some(format!(
                                    "het antwoord is groter dan {n} bytes; geen retourbericht opgeslagen / the answer is larger than {n} bytes; no retourbericht stored",
                                    n = self.max_answer_bytes
                                )),
                            };
                        }
                        body.extend_from_slice(&chunk);
                    }
                    Ok(None) => break,
                    // It was taken in, but its answer got lost: sending it
                    // again gets the same answer (TR056).
                    Err(e) => return transport_error(&e),
                }
            }
            let xml = body
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|b| *b == b'<');
            return Sent::Delivered {
                status: code,
                answer: xml.then_some(body),
                note: None,
            };
        }
        let after = retry_after(&resp);
        let snippet = match resp.text().await {
            Ok(t) => error_snippet(&t),
            Err(_) => String::new(),
        };
        let error = if snippet.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {snippet}")
        };
        if retryable(status) {
            Sent::Retry {
                status: code,
                error,
                after,
            }
        } else {
            Sent::Failed {
                status: code,
                error,
            }
        }
    }
}

/// 408, 429 and every 5xx mean "not now" rather than "not this".
pub fn retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

/// A request that got no (complete) answer. Everything but a request loket
/// could not even build is the network or the counterpart: retry.
pub(crate) fn transport_error(e: &reqwest::Error) -> Sent {
    let error = chain(e);
    if e.is_builder() {
        Sent::Failed {
            status: None,
            error,
        }
    } else {
        Sent::Retry {
            status: None,
            error,
            after: None,
        }
    }
}

/// The error with its causes ("connection refused" is three levels down).
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

/// A post to the exchange that did not simply go through: what the
/// counterpart answered instead, for the transport to read as that
/// counterpart means it.
pub(crate) struct Refusal {
    pub resp: reqwest::Response,
    pub status: StatusCode,
    pub after: Option<Duration>,
}

/// The outcome every transport that posts to the exchange shares: no
/// (complete) answer is a retry ([`transport_error`]), a 2xx is delivered
/// without a retour (the exchange answers later, on its own), anything
/// else is a [`Refusal`] to read.
pub(crate) fn accepted(sent: reqwest::Result<reqwest::Response>) -> Result<Sent, Box<Refusal>> {
    let resp = match sent {
        Ok(r) => r,
        Err(e) => return Ok(transport_error(&e)),
    };
    let status = resp.status();
    if status.is_success() {
        return Ok(Sent::Delivered {
            status: Some(status.as_u16()),
            answer: None,
            note: None,
        });
    }
    let after = retry_after(&resp);
    Err(Box::new(Refusal {
        resp,
        status,
        after,
    }))
}

/// The `Retry-After` a counterpart answered with, if any (every transport
/// that posts reads it the same way).
pub fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
}

/// `Retry-After` as seconds or as an HTTP date (RFC 9110).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// A counterpart's error text, short, on one line, and with every run of
/// nine or more digits masked: an error page may quote the message, and a
/// BSN must not end up in loket's database or logs through it.
pub fn error_snippet(text: &str) -> String {
    let one_line: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(ERROR_SNIPPET)
        .collect();
    mask_digit_runs(&one_line)
}

fn mask_digit_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 9 {
            out.extend(std::iter::repeat_n('*', run.len()));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_statuses_are_retried() {
        for s in [500, 502, 503, 504, 408, 429] {
            assert!(retryable(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 413, 422] {
            assert!(!retryable(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(120))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let d = parse_retry_after(&soon).expect("a date");
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    /// A local counterpart: `/ok` answers a retour, `/busy` 429 with
    /// Retry-After, `/moved` a redirect; every request's Authorization is kept.
    async fn counterpart() -> (
        String,
        std::sync::Arc<std::sync::Mutex<Vec<Option<String>>>>,
    ) {
        use axum::http::HeaderMap;
        use axum::routing::post;
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = |seen: std::sync::Arc<std::sync::Mutex<Vec<Option<String>>>>, h: &HeaderMap| {
            let auth = h
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            seen.lock().unwrap().push(auth);
        };
        let (s1, s2, s3) = (seen.clone(), seen.clone(), seen.clone());
        let app = axum::Router::new()
            .route(
                "/ok",
                post(move |h: HeaderMap| async move {
                    keep(s1, &h);
                    "\n  <retour/>"
                }),
            )
            .route(
                "/busy",
                post(move |h: HeaderMap| async move {
                    keep(s2, &h);
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", "3")],
                        "busy",
                    )
                }),
            )
            .route(
                "/moved",
                post(move |h: HeaderMap| async move {
                    keep(s3, &h);
                    (StatusCode::MOVED_PERMANENTLY, [("location", "/ok")], "")
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}"), seen)
    }

    #[tokio::test]
    async fn bearer_token_retour_retry_after_and_no_redirects() {
        let (base, seen) = counterpart().await;
        let sender = HttpSender::new(Duration::from_secs(5), Duration::from_secs(1), 1024).unwrap();
        let ok = sender
            .send(&format!("{base}/ok"), Some("t0k3n"), b"<m/>".to_vec())
            .await;
        assert_eq!(
            ok,
            Sent::Delivered {
                status: Some(200),
                answer: Some(b"\n  <retour/>".to_vec()),
                note: None
            }
        );
        let busy = sender
            .send(&format!("{base}/busy"), None, b"<m/>".to_vec())
            .await;
        assert_eq!(
            busy,
            Sent::Retry {
                status: Some(429),
                error: "HTTP 429 Too Many Requests: busy".into(),
                after: Some(Duration::from_secs(3))
            }
        );
        let moved = sender
            .send(&format!("{base}/moved"), None, b"<m/>".to_vec())
            .await;
        assert!(
            matches!(
                moved,
                Sent::Failed {
                    status: Some(301),
                    ..
                }
            ),
            "{moved:?}"
        );
        // The token went as a bearer token, once; the redirect was not followed.
        assert_eq!(
            *seen.lock().unwrap(),
            [Some("Bearer t0k3n".to_string()), None, None]
        );
        // Nobody listening: retry.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = format!("http://{}/", listener.local_addr().unwrap());
        drop(listener);
        let down = sender.send(&closed, None, b"<m/>".to_vec()).await;
        assert!(matches!(down, Sent::Retry { status: None, .. }), "{down:?}");
    }

    #[test]
    fn error_snippets_hide_bsns_and_stay_short() {
        assert_eq!(
            error_snippet("client\n 999901023 unknown, agb 12345678"),
            "client ********* unknown, agb 12345678"
        );
        assert_eq!(error_snippet(&"x".repeat(1000)).len(), ERROR_SNIPPET);
    }
}
