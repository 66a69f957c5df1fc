//! Rules across messages (berichtoverstijgende technische regels): a new
//! message is judged against the record before it is accepted.
//!
//! Each finding names the berichtklasse it rejects, so the retourbericht
//! carries the rule's retourcode exactly there (IV028, controleniveau 3).

use anyhow::Result;

use super::apply::Tx;
use crate::finding::Finding;
use crate::mapping::Mappings;
use crate::message::Message;
use crate::store::Tenant;

/// Checks `msg` against the record of `tenant`; `mappings` are the
/// tenant's (a municipality's contract with the provider that declares).
pub async fn check(
    tx: &mut Tx,
    tenant: &Tenant,
    msg: &Message,
    mappings: &Mappings,
) -> Result<Vec<Finding>> {
    match msg.def().number.as_str() {
        // 301s are judged a run at a time by the writer (`lookahead`).
        "305" | "307" => super::delivery::check(tx, tenant, msg).await,
        "323" => super::declared::judge(tx, tenant, msg, mappings).await,
        _ => Ok(Vec::new()),
    }
}
