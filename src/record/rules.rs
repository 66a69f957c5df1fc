//! Rules across messages (berichtoverstijgende technische regels): a new
//! message is judged against the record before it is accepted.
//!
//! Each finding names the berichtklasse it rejects, so the retourbericht
//! carries the rule's retourcode exactly there (IV028, controleniveau 3).

use anyhow::Result;
use sqlx::Row;

use super::apply::{Tx, delivery_key};
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
        "305" => starts(tx, tenant, msg).await,
        "307" => stops(tx, tenant, msg).await,
        "323" => declarations(tx, tenant, msg).await,
        _ => Ok(Vec::new()),
    }
}

struct Delivery {
    status_aanlevering: String,
    reden: Option<String>,
    einddatum: Option<String>,
}

async fn current(
    tx: &mut Tx,
    tenant: &str,
    kind: &str,
    key: &str,
    nummer: &str,
    begin: Option<&str>,
) -> Result<Vec<Delivery>> {
    let rows = sqlx::query(
        "SELECT status_aanlevering, reden_beeindiging, einddatum, begindatum FROM deliveries \
         WHERE tenant_id = $1 AND kind = $2 AND bsn_hash = $3 AND toewijzing_nummer = $4 AND current = 1",
    )
    .bind(tenant)
    .bind(kind)
    .bind(key)
    .bind(nummer)
    .fetch_all(&mut **tx)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let b: String = r.try_get("begindatum")?;
        if begin.is_some_and(|x| x != b) {
            continue;
        }
        out.push(Delivery {
            status_aanlevering: r.try_get("status_aanlevering")?,
            reden: r.try_get("reden_beeindiging")?,
            einddatum: r.try_get("einddatum")?,
        });
    }
    Ok(out)
}

/// TR063 (removal needs an earlier delivery), TR074 (a first delivery is new),
/// TR071 (a start cannot be removed once stopped), TR326 (no second current start).
async fn starts(tx: &mut Tx, tenant: &Tenant, msg: &Message) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    let key = delivery_key(&tenant.id, msg.value("Client/Bsn").unwrap_or_default());
    for p in msg.root().all("Client/StartProducten/StartProduct") {
        let nummer = p.value("ToewijzingNummer").unwrap_or_default();
        let begin = p.value("Begindatum");
        let status = p.value("StatusAanlevering").unwrap_or("1");
        let same = current(tx, &tenant.id, "start", &key, nummer, begin).await?;
        match status {
            "3" if same.is_empty() => out.push(finding("TR063", p, "", "")),
            "3" if !current(tx, &tenant.id, "stop", &key, nummer, begin)
                .await?
                .is_empty() =>
            {
                out.push(finding("TR071", p, "", ""))
            }
            "1" if !same.is_empty() => out.push(finding("TR074", p, "", "")),
            "1" => {
                let any_start = current(tx, &tenant.id, "start", &key, nummer, None).await?;
                let mut open = false;
                for _ in &any_start {
                    // A start is current until a stop with the same ToewijzingNummer follows.
                    open = current(tx, &tenant.id, "stop", &key, nummer, None)
                        .await?
                        .is_empty();
                }
                if open {
                    out.push(finding("TR326", p, "", ""));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// TR063, TR074, TR382 (a stop repeats the key of a current start) and the
/// stop rules TR413, TR414, TR415.
async fn stops(tx: &mut Tx, tenant: &Tenant, msg: &Message) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    let key = delivery_key(&tenant.id, msg.value("Client/Bsn").unwrap_or_default());
    for p in msg.root().all("Client/StopProducten/StopProduct") {
        let nummer = p.value("ToewijzingNummer").unwrap_or_default();
        let begin = p.value("Begindatum");
        let status = p.value("StatusAanlevering").unwrap_or("1");
        let reden = p.value("RedenBeeindiging").unwrap_or_default();
        let eind = p.value("Einddatum").unwrap_or_default();
        let same = current(tx, &tenant.id, "stop", &key, nummer, begin).await?;
        if status == "3" {
            if same.is_empty() {
                out.push(finding("TR063", p, "", ""));
            }
            continue;
        }
        if status == "1"
            && same
                .iter()
                .any(|d| d.reden.as_deref() == Some(reden) && d.einddatum.as_deref() == Some(eind))
        {
            out.push(finding("TR074", p, "", ""));
            continue;
        }
        if reden == "20" && same.iter().any(|d| d.reden.as_deref() == Some("20")) {
            out.push(finding("TR413", p, "", ""));
        }
        if same
            .iter()
            .any(|d| d.einddatum.as_deref().is_some_and(|e| eind < e))
        {
            out.push(finding("TR414", p, "", ""));
        }
        if same
            .iter()
            .any(|d| d.reden.as_deref().is_some_and(|r| r != "20") && d.status_aanlevering != "3")
        {
            out.push(finding("TR415", p, "", ""));
        }
    }
    Ok(out)
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
