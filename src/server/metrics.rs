//! Prometheus metrics: counts per message type and outcome, a latency
//! histogram of message handling, and outbox deliveries per transport and
//! outcome, and the standard's answer deadlines past due per kind. Labels
//! are message types, transports, outcomes and deadline kinds only, never
//! identifiers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS_MS: [f64; 10] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 250.0, 500.0, 1000.0];

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    messages: BTreeMap<(String, String), u64>,
    /// Outbox delivery attempts by (transport, outcome).
    deliveries: BTreeMap<(&'static str, &'static str), u64>,
    /// Messages pulled from VECOZO by outcome (confirmed, kept).
    pulled: BTreeMap<&'static str, u64>,
    buckets: [u64; BUCKETS_MS.len()],
    count: u64,
    sum_ms: f64,
    /// Overdue answer deadlines per kind, over every tenant, as last
    /// counted ([`Metrics::set_deadlines_overdue`]), and when.
    deadlines: Option<(std::time::Instant, BTreeMap<&'static str, u64>)>,
}

impl Metrics {
    /// Records one handled message: its type (WMO301, or "unknown") and outcome
    /// (accepted, rejected, duplicate, unusable, refused).
    pub fn record(&self, bericht: &str, outcome: &str, took: Duration) {
        let ms = took.as_secs_f64() * 1000.0;
        let mut m = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *m.messages
            .entry((bericht.to_string(), outcome.to_string()))
            .or_default() += 1;
        for (i, b) in BUCKETS_MS.iter().enumerate() {
            if ms <= *b {
                m.buckets[i] += 1;
            }
        }
        m.count += 1;
        m.sum_ms += ms;
    }

    /// Records one outbox delivery attempt: its transport (`http`, `folder`)
    /// and outcome (`sent`, `retry`, `failed`).
    pub fn record_delivery(&self, transport: &str, outcome: &'static str) {
        let transport = match transport {
            "http" => "http",
            "folder" => "folder",
            "vsp" => "vsp",
            "stuf" => "stuf",
            _ => "other",
        };
        let mut m = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *m.deliveries.entry((transport, outcome)).or_default() += 1;
    }

    /// Records `n` messages pulled from VECOZO with `outcome` (`confirmed`:
    /// taken in and confirmed; `kept`: left there for a later pull).
    pub fn record_pulled(&self, outcome: &'static str, n: usize) {
        if n == 0 {
            return;
        }
        let mut m = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *m.pulled.entry(outcome).or_default() += n as u64;
    }

    /// Sets the gauge of overdue deadlines (every kind, zero included).
    pub fn set_deadlines_overdue(&self, counts: BTreeMap<&'static str, u64>) {
        let mut m = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        m.deadlines = Some((std::time::Instant::now(), counts));
    }

    /// Whether the deadline gauge was counted less than `max_age` ago.
    pub fn deadlines_fresh(&self, max_age: Duration) -> bool {
        let m = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        m.deadlines
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < max_age)
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        let m = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = String::new();
        out.push_str("# HELP loket_messages_total Inbound messages by type and outcome.\n");
        out.push_str("# TYPE loket_messages_total counter\n");
        for ((b, o), n) in &m.messages {
            let _ = writeln!(
                out,
                "loket_messages_total{{bericht=\"{b}\",outcome=\"{o}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP loket_message_duration_seconds Time to check, store and answer one message.\n",
        );
        out.push_str("# TYPE loket_message_duration_seconds histogram\n");
        for (i, b) in BUCKETS_MS.iter().enumerate() {
            let _ = writeln!(
                out,
                "loket_message_duration_seconds_bucket{{le=\"{}\"}} {}",
                b / 1000.0,
                m.buckets[i]
            );
        }
        let _ = writeln!(
            out,
            "loket_message_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            m.count
        );
        let _ = writeln!(
            out,
            "loket_message_duration_seconds_sum {}",
            m.sum_ms / 1000.0
        );
        let _ = writeln!(out, "loket_message_duration_seconds_count {}", m.count);
        out.push_str(
            "# HELP loket_outbox_deliveries_total Outbox delivery attempts by transport and outcome.\n",
        );
        out.push_str("# TYPE loket_outbox_deliveries_total counter\n");
        for ((t, o), n) in &m.deliveries {
            let _ = writeln!(
                out,
                "loket_outbox_deliveries_total{{transport=\"{t}\",outcome=\"{o}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP loket_vsp_pulled_total Messages pulled from VECOZO: confirmed, or kept there for a later pull.\n",
        );
        out.push_str("# TYPE loket_vsp_pulled_total counter\n");
        for (o, n) in &m.pulled {
            let _ = writeln!(out, "loket_vsp_pulled_total{{outcome=\"{o}\"}} {n}");
        }
        if let Some((_, counts)) = &m.deadlines {
            out.push_str(
                "# HELP loket_deadlines_overdue Answer deadlines of the standard past due, by kind, over all tenants.\n",
            );
            out.push_str("# TYPE loket_deadlines_overdue gauge\n");
            for (k, n) in counts {
                let _ = writeln!(out, "loket_deadlines_overdue{{kind=\"{k}\"}} {n}");
            }
        }
        out
    }
}
