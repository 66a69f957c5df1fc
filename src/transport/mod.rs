//! Transports: the ways messages reach [`crate::record::Ingest::receive`]
//! and leave through the outbox. Inbound HTTP lives in [`crate::server`];
//! this module holds the drop folder (inbound), the delivery adapters the
//! outbox sends with ([`http`], [`outfolder`]), and the exchange's two
//! mutual-TLS transports ([`vsp`], [`stuf`]) with their shared [`tls`].

pub mod dropfolder;
pub mod http;
pub mod outfolder;
pub mod stuf;
pub mod tls;
pub mod vsp;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// What one delivery attempt came to. The outbox decides from this alone
/// whether a message is sent, waits, or needs a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// Delivered. `answer` is what an HTTP counterpart answered with (the
    /// retourbericht), when it answered with XML; `note` says why an answer
    /// was not taken (too large), for the person looking at the outbox.
    Delivered {
        status: Option<u16>,
        answer: Option<Vec<u8>>,
        note: Option<String>,
    },
    /// Not delivered this time (counterpart down, overloaded, timed out):
    /// try again, not before `after` when the counterpart said so.
    Retry {
        status: Option<u16>,
        error: String,
        after: Option<Duration>,
    },
    /// Refused: sending the same again will not help until someone changes
    /// something (configuration, the counterpart's setup).
    Failed { status: Option<u16>, error: String },
}

/// The test-only fault hook of a transport: when environment variable `var`
/// names `step`, the process aborts right after that step, as a kill -9
/// would, so the tests can prove a restart finishes everything exactly once.
/// Never set in production (each transport warns at start when it is).
pub(crate) fn fault(var: &'static str, step: &str) {
    if std::env::var(var).is_ok_and(|v| v == step) {
        tracing::error!(step, "{var}: aborting after this step (test hook)");
        std::process::abort();
    }
}

/// One transport's connections, a tenant's each (its certificate in a
/// client, its settings), built once at start and shared by the outbox
/// worker and the transport's own loops.
#[derive(Debug)]
pub struct PerTenant<T>(Arc<HashMap<String, Arc<T>>>);

impl<T> Clone for PerTenant<T> {
    fn clone(&self) -> Self {
        PerTenant(self.0.clone())
    }
}

impl<T> Default for PerTenant<T> {
    fn default() -> Self {
        PerTenant(Arc::new(HashMap::new()))
    }
}

impl<T> PerTenant<T> {
    /// The connections of `(tenant, connection)`; a tenant named twice is
    /// a mistake in the configuration (`section`: `[[vsp]]`, `[[stuf]]`).
    pub fn new(
        section: &str,
        connections: impl IntoIterator<Item = (String, T)>,
    ) -> anyhow::Result<PerTenant<T>> {
        let mut map = HashMap::new();
        for (tenant, conn) in connections {
            if map.contains_key(&tenant) {
                anyhow::bail!("{section} {tenant}: staat er twee keer / appears twice");
            }
            map.insert(tenant, Arc::new(conn));
        }
        Ok(PerTenant(Arc::new(map)))
    }

    pub fn get(&self, tenant: &str) -> Option<&Arc<T>> {
        self.0.get(tenant)
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<T>> {
        self.0.values()
    }
}
