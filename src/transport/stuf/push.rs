//! One outgoing envelope as a SOAP 1.1 POST to the municipality's
//! Digikoppeling adapter. The adapter takes it over (ebMS2 reliable
//! messaging to the GGk) and answers at once; what the GGk later says about
//! it comes back as a Fo01 on loket's own listener.
//!
//! What an answer means:
//! - 200, 202 (any 2xx): taken over; delivered.
//! - a SOAP fault `Client`, or another 4xx: refused; sending the same
//!   again will not help. The outbox item fails, the reason goes to the
//!   review queue.
//! - a SOAP fault `Server`, 408, 429, other 5xx, no or a cut-off answer:
//!   retried with the outbox's backoff, with the same referentienummer, so
//!   the adapter (and the GGk behind it) can recognise a message it has.

use super::Connection;
use super::envelope::read_fault;
use crate::transport::Sent;
use crate::transport::http::{Refusal, accepted, error_snippet, retryable};

/// The most of an answer read: a fault is small, and anything larger is
/// not one.
const MAX_ANSWER: usize = 64 * 1024;

/// Posts `body` (a SOAP Envelope) with SOAPAction `action`.
pub async fn post(conn: &Connection, action: &str, body: String) -> Sent {
    let sent = conn
        .http
        .post(&conn.config.endpoint)
        .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=utf-8")
        .header("SOAPAction", format!("\"{action}\""))
        .body(body)
        .send()
        .await;
    let Refusal {
        resp,
        status,
        after,
    } = match accepted(sent) {
        Ok(sent) => return sent,
        Err(refusal) => *refusal,
    };
    let code = Some(status.as_u16());
    let answer = read_limited(resp).await;
    if let Some((client, text)) = read_fault(&answer) {
        let reason = error_snippet(&text);
        return if client {
            Sent::Failed {
                status: code,
                error: format!(
                    "de adapter weigert het bericht (SOAP-fault Client) / the adapter refuses the message (SOAP fault Client): {reason}"
                ),
            }
        } else {
            Sent::Retry {
                status: code,
                error: format!("SOAP fault Server: {reason}"),
                after,
            }
        };
    }
    let reason = error_snippet(&String::from_utf8_lossy(&answer));
    if retryable(status) {
        return Sent::Retry {
            status: code,
            error: format!("HTTP {status}: {reason}"),
            after,
        };
    }
    Sent::Failed {
        status: code,
        error: match status.as_u16() {
            401 | 403 => format!(
                "de adapter accepteert het certificaat niet / the adapter does not accept the certificate: HTTP {status} {reason}"
            ),
            _ => format!("HTTP {status}: {reason}"),
        },
    }
}

/// At most [`MAX_ANSWER`] bytes of the answer's body.
async fn read_limited(mut resp: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = MAX_ANSWER.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_ANSWER {
            break;
        }
    }
    body
}
