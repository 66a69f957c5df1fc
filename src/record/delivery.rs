//! Starts and stops of delivery (305/307 StartProduct / StopProduct): the one
//! owner of the `deliveries` table and of the allocation status that follows
//! a delivery.
//!
//! Both parties keep the same facts: a municipality the starts and stops it
//! receives, a provider the ones it sends. One piece of code records them
//! ([`record`]), judges a new one against them ([`check`]: TR063, TR071,
//! TR074, TR326, TR382, TR413, TR414, TR415) and answers what the engine
//! asks ("which start does this stop close?", [`History`]), so the two
//! parties cannot come to disagree about what is current: the provider
//! judges what it is about to send with the very rules the municipality
//! applies when it arrives.
//!
//! A delivery's logical key is (BSN, ToewijzingNummer, Begindatum), the BSN
//! kept as a tenant-salted hash. *Current* is the standard's word (IV008): a
//! delivery that no later StatusAanlevering 3 removed and that the
//! counterpart did not reject. A start is *open* while no current stop
//! repeats its key (TR326); a stop *closes* the start whose key it repeats
//! (TR382), which is why the stop is always built from the start's own row
//! and never from the allocation, which a later 301 may have changed.

use std::collections::{HashMap, HashSet};

use anyhow::Result;
use sqlx::Row;

use super::apply::{Tx, add_event, delivery_key};
use crate::finding::Finding;
use crate::message::{Message, NodeRef};
use crate::store::{Backend, Params, Tenant, new_id, now};

/// A delivery row: one StartProduct or StopProduct as it was sent.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Delivery {
    pub id: String,
    /// `start` | `stop`
    pub kind: String,
    pub toewijzing_nummer: String,
    pub product_categorie: Option<String>,
    pub product_code: Option<String>,
    pub toewijzing_ingangsdatum: Option<String>,
    pub begindatum: String,
    pub einddatum: Option<String>,
    pub reden_beeindiging: Option<String>,
    pub status_aanlevering: String,
    pub message_id: String,
    pub allocation_id: Option<String>,
    /// When the record took it in (sent or received).
    pub created_at: String,
}

const COLUMNS: &str = "id, kind, toewijzing_nummer, product_categorie, product_code, toewijzing_ingangsdatum, \
     begindatum, einddatum, reden_beeindiging, status_aanlevering, message_id, allocation_id, created_at";

impl Delivery {
    /// The delivery a StartProduct / StopProduct describes (not stored yet).
    fn of(kind: &str, p: NodeRef<'_>) -> Delivery {
        let s = |path: &str| p.value(path).map(str::to_string);
        Delivery {
            id: new_id(),
            kind: kind.to_string(),
            toewijzing_nummer: s("ToewijzingNummer").unwrap_or_default(),
            product_categorie: s("Product/Categorie"),
            product_code: s("Product/Code"),
            toewijzing_ingangsdatum: s("ToewijzingIngangsdatum"),
            begindatum: s("Begindatum").unwrap_or_default(),
            einddatum: s("Einddatum"),
            reden_beeindiging: s("RedenBeeindiging"),
            status_aanlevering: s("StatusAanlevering").unwrap_or_else(|| "1".into()),
            message_id: String::new(),
            allocation_id: None,
            created_at: now(),
        }
    }

    fn is_start(&self) -> bool {
        self.kind == "start"
    }

    /// The whole logical key of a stop (TR101): a removal must name it.
    fn same_stop(&self, other: &Delivery) -> bool {
        self.begindatum == other.begindatum
            && self.reden_beeindiging == other.reden_beeindiging
            && self.einddatum == other.einddatum
    }

    /// Whether this is a temporary stop (RedenBeeindiging 20 in both laws;
    /// the laws' data in `schemas/istandaard` says so, see `StopCodes`).
    pub fn is_temporary(&self) -> bool {
        self.reden_beeindiging.as_deref() == Some(TEMPORARY)
    }
}

/// The temporary stop's RedenBeeindiging. Both code lists give it the same
/// code; a test in `engine::startstop` holds it equal to each law's
/// `[stop] temporary`, so the data and the judging cannot drift apart.
pub const TEMPORARY: &str = "20";

/// The current deliveries of one ToewijzingNummer for one client.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub starts: Vec<Delivery>,
    pub stops: Vec<Delivery>,
}

impl History {
    fn push(&mut self, d: Delivery) {
        if d.is_start() {
            self.starts.push(d);
        } else {
            self.stops.push(d);
        }
    }

    /// The current start with this Begindatum.
    pub fn start(&self, begindatum: &str) -> Option<&Delivery> {
        self.starts.iter().find(|s| s.begindatum == begindatum)
    }

    /// The current stops of the start with this Begindatum: a temporary one,
    /// a definitive one, or both (a definitive stop follows a temporary one
    /// without removing it).
    pub fn stops_of<'a, 'b>(
        &'a self,
        begindatum: &'b str,
    ) -> impl Iterator<Item = &'a Delivery> + use<'a, 'b> {
        self.stops
            .iter()
            .filter(move |s| s.begindatum == begindatum)
    }

    /// The start no current stop closes yet (TR326's "actueel startbericht").
    pub fn open_start(&self) -> Option<&Delivery> {
        self.starts
            .iter()
            .find(|s| self.stops_of(&s.begindatum).next().is_none())
    }

    /// The latest current start: the one a new stop closes.
    pub fn last_start(&self) -> Option<&Delivery> {
        self.starts
            .iter()
            .max_by(|a, b| a.begindatum.cmp(&b.begindatum))
    }

    /// The definitive (not temporary) current stop of a start.
    pub fn definitive_stop(&self, begindatum: &str) -> Option<&Delivery> {
        self.stops_of(begindatum).find(|s| !s.is_temporary())
    }

    /// The temporary current stop of a start.
    pub fn temporary_stop(&self, begindatum: &str) -> Option<&Delivery> {
        self.stops_of(begindatum).find(|s| s.is_temporary())
    }

    /// The allocation status these deliveries imply: `started` while a start
    /// is open, `stopped` once the last start is closed, `allocated` when no
    /// start is current.
    pub fn status(&self) -> &'static str {
        if self.open_start().is_some() {
            "started"
        } else if self.last_start().is_some() {
            "stopped"
        } else {
            "allocated"
        }
    }

    /// Judges one product against the history and, when it passes, applies
    /// it, so that the next product of the same message is judged against
    /// the history this one leaves (3.2 allows the removal of a stop and its
    /// replacement in one message).
    fn judge_and_apply(&mut self, d: Delivery, node: NodeRef<'_>, out: &mut Vec<Finding>) {
        let before = out.len();
        let removal = d.status_aanlevering == "3";
        if d.is_start() {
            let same = self.start(&d.begindatum).is_some();
            if removal {
                if !same {
                    out.push(finding("TR063", node));
                } else if self.stops_of(&d.begindatum).next().is_some() {
                    out.push(finding("TR071", node));
                }
            } else if same {
                out.push(finding("TR074", node));
            } else if self.open_start().is_some() {
                out.push(finding("TR326", node));
            }
        } else if removal {
            if !self.stops.iter().any(|s| s.same_stop(&d)) {
                out.push(finding("TR063", node));
            }
        } else {
            match self.start(&d.begindatum) {
                // TR382: the stop repeats the key of a current start.
                None => out.push(finding("TR382", node)),
                Some(start) if !same_product(start, &d) => out.push(finding("TR382", node)),
                Some(_) => {}
            }
            if self.stops.iter().any(|s| s.same_stop(&d)) {
                out.push(finding("TR074", node));
            } else {
                let stops: Vec<&Delivery> = self.stops_of(&d.begindatum).collect();
                if d.is_temporary() && stops.iter().any(|s| s.is_temporary()) {
                    out.push(finding("TR413", node));
                }
                if stops.iter().any(|s| s.einddatum > d.einddatum) {
                    out.push(finding("TR414", node));
                }
                if stops.iter().any(|s| !s.is_temporary()) {
                    out.push(finding("TR415", node));
                }
            }
        }
        if out.len() == before {
            self.apply(d);
        }
    }

    /// Applies one product: a removal ends the current delivery with its
    /// key, anything else is added.
    fn apply(&mut self, d: Delivery) -> Option<Delivery> {
        if d.status_aanlevering == "3" {
            let list = if d.is_start() {
                &mut self.starts
            } else {
                &mut self.stops
            };
            let at = list.iter().position(|s| {
                if d.is_start() {
                    s.begindatum == d.begindatum
                } else {
                    s.same_stop(&d)
                }
            })?;
            return Some(list.remove(at));
        }
        self.push(d);
        None
    }
}

/// A stop names the product of its start; a product left out is not a
/// difference (both are optional in 3.2 when the ToewijzingNummer is given).
fn same_product(start: &Delivery, stop: &Delivery) -> bool {
    let same = |a: &Option<String>, b: &Option<String>| a.is_none() || b.is_none() || a == b;
    same(&start.product_categorie, &stop.product_categorie)
        && same(&start.product_code, &stop.product_code)
}

fn finding(rule: &str, node: NodeRef<'_>) -> Finding {
    Finding::cross_message(rule, node, "", "")
}

/// The products of a 305 or 307 with the kind they are.
fn products(msg: &Message) -> (&'static str, Vec<NodeRef<'_>>) {
    if msg.def().number == "305" {
        (
            "start",
            msg.root().all("Client/StartProducten/StartProduct"),
        )
    } else {
        ("stop", msg.root().all("Client/StopProducten/StopProduct"))
    }
}

/// The current deliveries of one client's ToewijzingNummer.
pub async fn history(tx: &mut Tx, tenant: &str, bsn_hash: &str, nummer: &str) -> Result<History> {
    let rows: Vec<Delivery> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM deliveries WHERE tenant_id = $1 AND bsn_hash = $2 \
         AND toewijzing_nummer = $3 AND current = 1 ORDER BY created_at, id"
    )))
    .bind(tenant)
    .bind(bsn_hash)
    .bind(nummer)
    .fetch_all(&mut **tx)
    .await?;
    let mut h = History::default();
    rows.into_iter().for_each(|d| h.push(d));
    Ok(h)
}

/// The current deliveries of the tenant's allocations `ids`, by allocation
/// id: what the start/stop run plans from. A few bounded statements, so a
/// run that has little to plan reads little.
pub async fn by_allocation(
    tx: &mut Tx,
    tenant: &str,
    ids: &[&str],
) -> Result<HashMap<String, History>> {
    let mut out: HashMap<String, History> = HashMap::new();
    for chunk in ids.chunks(256) {
        let mut p = Params::new(Backend::of(tx));
        let tenant_param = p.one();
        let sql = format!(
            "SELECT {COLUMNS} FROM deliveries WHERE tenant_id = {tenant_param} AND current = 1 \
             AND allocation_id IN ({}) ORDER BY created_at, id",
            p.list(chunk.len())
        );
        let mut q = sqlx::query_as::<_, Delivery>(sqlx::AssertSqlSafe(sql))
            .persistent(false)
            .bind(tenant);
        for id in chunk {
            q = q.bind(*id);
        }
        for d in q.fetch_all(&mut **tx).await? {
            if let Some(a) = d.allocation_id.clone() {
                out.entry(a).or_default().push(d);
            }
        }
    }
    Ok(out)
}

/// Allocations with a start or stop the counterpart rejected whose review
/// item is still open, as `(allocation id, kind)`: planned again only once a
/// person has looked at it, or the run would send the same refused message
/// every day.
pub async fn held_for_review(tx: &mut Tx, tenant: &str) -> Result<HashSet<(String, String)>> {
    let rows = sqlx::query(
        "SELECT DISTINCT d.allocation_id, d.kind FROM deliveries d \
         JOIN review_items r ON r.tenant_id = d.tenant_id AND r.subject_id = d.message_id AND r.status = 'open' \
         WHERE d.tenant_id = $1 AND d.answer = 'rejected' AND d.allocation_id IS NOT NULL",
    )
    .bind(tenant)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("allocation_id")?, r.try_get("kind")?)))
        .collect()
}

/// Judges a 305 or 307 against the deliveries the tenant holds for its
/// client (TR063, TR071, TR074, TR326, TR382, TR413, TR414, TR415), product
/// by product in message order. Each finding names its StartProduct or
/// StopProduct, where the retourbericht carries the code.
pub async fn check(tx: &mut Tx, tenant: &Tenant, msg: &Message) -> Result<Vec<Finding>> {
    let key = delivery_key(&tenant.id, msg.value("Client/Bsn").unwrap_or_default());
    let (kind, nodes) = products(msg);
    let mut histories: HashMap<String, History> = HashMap::new();
    let mut out = Vec::new();
    for node in nodes {
        let d = Delivery::of(kind, node);
        if !histories.contains_key(&d.toewijzing_nummer) {
            let h = history(tx, &tenant.id, &key, &d.toewijzing_nummer).await?;
            histories.insert(d.toewijzing_nummer.clone(), h);
        }
        if let Some(h) = histories.get_mut(&d.toewijzing_nummer) {
            h.judge_and_apply(d, node, &mut out);
        }
    }
    Ok(out)
}

/// Records an accepted (incoming) or sent (outgoing) 305/307 for
/// `participant`: each product is added to, or (StatusAanlevering 3)
/// removed from, the current deliveries, and the allocation it names moves
/// to the status its deliveries imply, with an event linked to the message.
pub async fn record(
    tx: &mut Tx,
    tenant: &Tenant,
    msg: &Message,
    participant: &str,
    message_id: &str,
) -> Result<()> {
    let key = delivery_key(&tenant.id, msg.value("Client/Bsn").unwrap_or_default());
    let (kind, nodes) = products(msg);
    // The municipality of a start or stop is its Ontvanger, whichever side
    // records it.
    let law = if msg.standard().name == "ijw" {
        "jeugdwet"
    } else {
        "wmo"
    };
    let gemeente = msg.value("Header/Ontvanger").unwrap_or_default();
    // The provider is the Afzender: a municipality's allocations of the
    // same number are found only at the provider it granted them to (a
    // provider's own allocations all name itself, or nothing when recorded
    // before loket kept the provider).
    let aanbieder = msg.value("Header/Afzender").unwrap_or_default();
    let mut touched: Vec<(String, String)> = Vec::new();
    for node in nodes {
        let mut d = Delivery::of(kind, node);
        let allocation: Option<String> = sqlx::query(
            "SELECT a.id FROM allocations a JOIN financiers f ON f.id = a.financier_id \
             WHERE a.tenant_id = $1 AND a.participant_id = $2 AND a.toewijzing_nummer = $3 \
             AND f.kind = $4 AND f.code = $5 AND (a.aanbieder IS NULL OR a.aanbieder = $6)",
        )
        .bind(&tenant.id)
        .bind(participant)
        .bind(&d.toewijzing_nummer)
        .bind(law)
        .bind(gemeente)
        .bind(aanbieder)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.try_get("id"))
        .transpose()?;
        if d.status_aanlevering == "3" {
            // Ends the current delivery with the same key; kept, with the
            // message that removed it, so a rejected removal can be undone.
            let mut q = String::from(
                "UPDATE deliveries SET current = 0, removed_by = $1 WHERE tenant_id = $2 AND kind = $3 \
                 AND bsn_hash = $4 AND toewijzing_nummer = $5 AND begindatum = $6 AND current = 1",
            );
            if !d.is_start() {
                q.push_str(" AND reden_beeindiging = $7 AND einddatum = $8");
            }
            let mut query = sqlx::query(sqlx::AssertSqlSafe(q))
                .bind(message_id)
                .bind(&tenant.id)
                .bind(kind)
                .bind(&key)
                .bind(&d.toewijzing_nummer)
                .bind(&d.begindatum);
            if !d.is_start() {
                query = query.bind(&d.reden_beeindiging).bind(&d.einddatum);
            }
            query.execute(&mut **tx).await?;
        } else {
            d.allocation_id = allocation.clone();
            sqlx::query(
                "INSERT INTO deliveries (id, tenant_id, kind, bsn_hash, toewijzing_nummer, product_categorie, \
                 product_code, toewijzing_ingangsdatum, begindatum, einddatum, reden_beeindiging, \
                 status_aanlevering, current, message_id, allocation_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $14, $15)",
            )
            .bind(&d.id)
            .bind(&tenant.id)
            .bind(kind)
            .bind(&key)
            .bind(&d.toewijzing_nummer)
            .bind(&d.product_categorie)
            .bind(&d.product_code)
            .bind(&d.toewijzing_ingangsdatum)
            .bind(&d.begindatum)
            .bind(&d.einddatum)
            .bind(&d.reden_beeindiging)
            .bind(&d.status_aanlevering)
            .bind(message_id)
            .bind(&d.allocation_id)
            .bind(&d.created_at)
            .execute(&mut **tx)
            .await?;
        }
        if let Some(a) = allocation {
            let what = match (kind, d.status_aanlevering.as_str()) {
                ("start", "3") => "start verwijderd / start removed".to_string(),
                ("start", _) => format!("start {}", d.begindatum),
                ("stop", "3") => "stop verwijderd / stop removed".to_string(),
                _ => format!(
                    "stop {} (RedenBeeindiging {})",
                    d.einddatum.as_deref().unwrap_or("-"),
                    d.reden_beeindiging.as_deref().unwrap_or("-")
                ),
            };
            touched.push((a, what));
        }
    }
    for (allocation, what) in touched {
        let status = settle(tx, &tenant.id, &key, &allocation).await?;
        add_event(tx, &allocation, message_id, status, &what).await?;
    }
    Ok(())
}

/// Sets an allocation's status to what its current deliveries imply (a
/// withdrawn allocation stays withdrawn); returns it.
async fn settle(tx: &mut Tx, tenant: &str, key: &str, allocation: &str) -> Result<&'static str> {
    let nummer: String =
        sqlx::query("SELECT toewijzing_nummer FROM allocations WHERE id = $1 AND tenant_id = $2")
            .bind(allocation)
            .bind(tenant)
            .fetch_one(&mut **tx)
            .await?
            .try_get("toewijzing_nummer")?;
    let status = history(tx, tenant, key, &nummer).await?.status();
    sqlx::query(
        "UPDATE allocations SET status = $1, updated_at = $2 WHERE id = $3 AND status <> 'withdrawn'",
    )
    .bind(status)
    .bind(now())
    .bind(allocation)
    .execute(&mut **tx)
    .await?;
    Ok(status)
}

/// The counterpart rejected the products of our message `heen` with this
/// ToewijzingNummer (a 306 or 308 with a rejection code): what it added is
/// no longer current, what it removed is current again, and the allocation
/// returns to the status that leaves. The rows stay, marked `rejected`, so
/// the run waits for the review item before it tries again.
pub async fn rejected(tx: &mut Tx, tenant: &str, heen: &str, nummer: &str) -> Result<()> {
    let rows = sqlx::query(
        "SELECT DISTINCT bsn_hash, allocation_id FROM deliveries WHERE tenant_id = $1 \
         AND toewijzing_nummer = $2 AND (message_id = $3 OR removed_by = $3)",
    )
    .bind(tenant)
    .bind(nummer)
    .bind(heen)
    .fetch_all(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE deliveries SET current = 0, answer = 'rejected' WHERE tenant_id = $1 \
         AND toewijzing_nummer = $2 AND message_id = $3",
    )
    .bind(tenant)
    .bind(nummer)
    .bind(heen)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE deliveries SET current = 1, removed_by = NULL WHERE tenant_id = $1 \
         AND toewijzing_nummer = $2 AND removed_by = $3",
    )
    .bind(tenant)
    .bind(nummer)
    .bind(heen)
    .execute(&mut **tx)
    .await?;
    for r in rows {
        let key: String = r.try_get("bsn_hash")?;
        if let Some(a) = r.try_get::<Option<String>, _>("allocation_id")? {
            settle(tx, tenant, &key, &a).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(
        kind: &str,
        begin: &str,
        reden: Option<&str>,
        eind: Option<&str>,
        status: &str,
    ) -> Delivery {
        Delivery {
            id: new_id(),
            kind: kind.into(),
            toewijzing_nummer: "667899".into(),
            product_categorie: Some("45".into()),
            product_code: Some("45A04".into()),
            toewijzing_ingangsdatum: Some("2023-01-01".into()),
            begindatum: begin.into(),
            einddatum: eind.map(Into::into),
            reden_beeindiging: reden.map(Into::into),
            status_aanlevering: status.into(),
            message_id: String::new(),
            allocation_id: None,
            created_at: now(),
        }
    }

    #[test]
    fn status_follows_starts_and_stops() {
        let mut h = History::default();
        assert_eq!(h.status(), "allocated");
        h.apply(d("start", "2023-01-05", None, None, "1"));
        assert_eq!(h.status(), "started");
        h.apply(d("stop", "2023-01-05", Some("20"), Some("2023-06-20"), "1"));
        assert_eq!(h.status(), "stopped");
        assert!(h.temporary_stop("2023-01-05").is_some());
        assert!(h.definitive_stop("2023-01-05").is_none());
        // A restart after the temporary stop is a new start, and the last.
        h.apply(d("start", "2023-07-01", None, None, "1"));
        assert_eq!(h.status(), "started");
        assert_eq!(
            h.last_start().map(|s| s.begindatum.as_str()),
            Some("2023-07-01")
        );
        // Removing a stop opens its start again.
        let removed = h.apply(d("stop", "2023-01-05", Some("20"), Some("2023-06-20"), "3"));
        assert!(removed.is_some());
        assert_eq!(h.stops.len(), 0);
    }
}
