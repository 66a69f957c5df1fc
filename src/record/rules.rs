//! Rules across messages (berichtoverstijgende technische regels): a new
//! message is judged against the record before it is accepted.
//!
//! Each finding names the berichtklasse it rejects, so the retourbericht
//! carries the rule's retourcode exactly there (IV028, controleniveau 3).

use anyhow::Result;
use sqlx::Row;

use super::apply::Tx;
use crate::finding::Finding;
use crate::message::{Message, NodeRef};
use crate::store::Tenant;

fn finding(rule: &str, node: NodeRef<'_>, detail_nl: &str, detail_en: &str) -> Finding {
    Finding::cross_message(rule, node, detail_nl, detail_en)
}

/// Checks `msg` against the record of `tenant`.
pub async fn check(tx: &mut Tx, tenant: &Tenant, msg: &Message) -> Result<Vec<Finding>> {
    match msg.def().number.as_str() {
        // 301s are judged a run at a time by the writer (`lookahead`).
        "305" | "307" => super::delivery::check(tx, tenant, msg).await,
        "323" => declarations(tx, tenant, msg).await,
        _ => Ok(Vec::new()),
    }
}

/// TR384 (no declaration on a removed allocation) and TR304 (the prestatie's
/// allocation belongs to this client).
async fn declarations(tx: &mut Tx, tenant: &Tenant, msg: &Message) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    for client in msg.root().all("Declaratie/Clienten/Client") {
        let bsn = client.value("Bsn").unwrap_or_default();
        for p in client.all("Prestaties/Prestatie") {
            let nummer = p.value("ToewijzingNummer").unwrap_or_default();
            let rows = sqlx::query(
                "SELECT a.reden_wijziging, a.einddatum, a.ingangsdatum, p.bsn FROM allocations a \
                 JOIN participants p ON p.id = a.participant_id WHERE a.tenant_id = $1 AND a.toewijzing_nummer = $2",
            )
            .bind(&tenant.id)
            .bind(nummer)
            .fetch_all(&mut **tx)
            .await?;
            for r in rows {
                let owner: String = r.try_get("bsn")?;
                let reden: Option<String> = r.try_get("reden_wijziging")?;
                if owner != bsn {
                    out.push(finding("TR304", p, "", ""));
                } else if reden.as_deref() == Some("13") {
                    out.push(finding("TR384", p, "", ""));
                }
            }
        }
    }
    Ok(out)
}
