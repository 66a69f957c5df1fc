//! Requests the provider sends (WMO315/JW315 verzoek om toewijzing, WMO317/
//! JW317 verzoek om wijziging) and what became of them. This module owns the
//! `requests` table: every write to it is here, whoever triggers it.
//!
//! - [`compose`] builds a 315 or 317 from what a person asked for (the API's
//!   `POST /requests`, the participant page's forms), with a ReferentieAanbieder
//!   loket makes, checks it like every message that leaves, and queues it; the
//!   outbox calls [`record`] in the same transaction, so a request exists
//!   exactly when its message does (also one typed in by hand, `POST /outbox`).
//! - [`retour`]: the 316/318 says whether the municipality took it in.
//! - [`answer`]: the 319 (VerzoekAntwoord, WJ760) says "in onderzoek"
//!   (`accepted`) or rejects it with a WJ759 reason (`rejected`, and a
//!   `rejected_request` review item explaining the reason).
//! - [`honour`]: a 301 whose ToegewezenProduct carries the reference (TR379)
//!   honours it (`honoured`, linked to the allocation).
//!
//! Statuses: `sent` -> `answered` (316/318 accepted) or `rejected` (316/318
//! refused it) -> `accepted` / `rejected` (319) -> `honoured` (301). An answer
//! loket cannot tie to a request goes to the review queue as
//! `unmatched_answer`; it is never refused.
//!
//! What is stored about a request (its `summary`, review details) names
//! products, dates and volumes, never a BSN or a name.

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Row;

use super::answers::{UNMATCHED_ANSWER, add_review};
use super::apply::{self, Tx};
use crate::adapter::istandaard::encode::Builder;
use crate::adapter::istandaard::rules::elfproef;
use crate::adapter::istandaard::verzoekcodes::{
    reden_afwijzing, status_of_answer, verzoek_antwoord,
};
use crate::adapter::istandaard::{self, Limits, retourcodes::explain};
use crate::engine::build::{client_block, client_row, new_identifier};
use crate::finding::Finding;
use crate::mapping::{FinancierKey, Kind, Mappings, Standard};
use crate::message::{Message, NodeId, NodeRef};
use crate::outbox::{self, Outgoing};
use crate::schema::Schema;
use crate::store::{Store, Tenant, WriteTx, new_id, now};

/// Request statuses, as stored.
pub const SENT: &str = "sent";
/// A request a municipality received and has not answered yet.
pub const RECEIVED: &str = "received";
pub const ANSWERED: &str = "answered";
pub const ACCEPTED: &str = "accepted";
pub const REJECTED: &str = "rejected";
pub const HONOURED: &str = "honoured";
pub const STATUSES: [&str; 6] = [SENT, RECEIVED, ANSWERED, ACCEPTED, REJECTED, HONOURED];

/// Review item kind for a request the municipality rejected with a 319.
pub const REJECTED_REQUEST: &str = "rejected_request";

// ---------------------------------------------------------------------------
// What a person asks for (`schemas/api/request.json`).

/// A request as `POST /requests` takes it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RequestInput {
    /// `toewijzing` (315) or `wijziging` (317).
    pub kind: String,
    #[serde(default)]
    pub participant_id: Option<String>,
    #[serde(default)]
    pub bsn: Option<String>,
    /// For a client the record does not know yet (a 315 names the client).
    #[serde(default)]
    pub client: Option<ClientInput>,
    pub financier: FinancierInput,
    /// 315: Client/Commentaar.
    #[serde(default)]
    pub commentaar: Option<String>,
    /// 315: the requested products.
    #[serde(default)]
    pub products: Vec<ProductInput>,
    /// 317: RedenVerzoek (WJ758).
    #[serde(default)]
    pub reden: Option<String>,
    /// 317: the allocations that stay as they are (id or ToewijzingNummer).
    /// Absent: every current allocation of this financier not being
    /// changed, as IV092 asks (the verzoek names all of them, TR349).
    #[serde(default)]
    pub unchanged: Option<Vec<String>>,
    /// 317: the allocations to change.
    #[serde(default)]
    pub change: Vec<ChangeInput>,
    /// 317: new products.
    #[serde(default)]
    pub new: Vec<ProductInput>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FinancierInput {
    pub kind: String,
    pub code: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClientInput {
    #[serde(default)]
    pub geboortedatum: Option<String>,
    #[serde(default)]
    pub geslacht: Option<String>,
    #[serde(default)]
    pub achternaam: Option<String>,
    #[serde(default)]
    pub voorvoegsel: Option<String>,
    #[serde(default)]
    pub voorletters: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Omvang {
    pub volume: i64,
    pub eenheid: String,
    pub frequentie: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Verwijzer {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub naam: Option<String>,
    #[serde(default)]
    pub zorgverlenercode: Option<String>,
}

/// A product asked for: an AangevraagdProduct (315) or a NieuwProduct (317).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProductInput {
    pub categorie: String,
    #[serde(default)]
    pub code: Option<String>,
    /// ToewijzingIngangsdatum (315) or GewensteIngangsdatum (317).
    pub ingangsdatum: String,
    #[serde(default)]
    pub einddatum: Option<String>,
    #[serde(default)]
    pub omvang: Option<Omvang>,
    #[serde(default)]
    pub budget: Option<i64>,
    /// 315 only (required there).
    #[serde(default)]
    pub verwijzer: Option<Verwijzer>,
    /// 315 only.
    #[serde(default)]
    pub commentaar: Option<String>,
}

/// A TeWijzigenProduct: what is asked of one allocation. What is left out
/// stays as the allocation has it (the product carries the whole desired
/// state, IV092).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChangeInput {
    /// The allocation: loket's id or its ToewijzingNummer.
    pub allocation: String,
    /// GewensteIngangsdatum; default: the allocation's Ingangsdatum, or
    /// tomorrow for a new volume per day, week or month.
    #[serde(default)]
    pub ingangsdatum: Option<String>,
    /// A later date extends (verlengen), an earlier one ends early
    /// (verkorten, beëindigen): it goes on the TeWijzigenProduct.
    #[serde(default)]
    pub einddatum: Option<String>,
    #[serde(default)]
    pub omvang: Option<Omvang>,
    #[serde(default)]
    pub budget: Option<i64>,
}

/// Why a request was not composed: what a person reads, and the JSON path
/// of the field at fault.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub nl: String,
    pub en: String,
    pub path: String,
}

fn refused(nl: impl Into<String>, en: impl Into<String>, path: impl Into<String>) -> Outcome {
    Outcome::Refused(Refusal {
        nl: nl.into(),
        en: en.into(),
        path: path.into(),
    })
}

/// What [`compose`] did.
#[derive(Debug)]
pub enum Outcome {
    /// Queued: the message and its request rows.
    Created(Created),
    /// The input does not make a request (unknown financier, allocation, ...).
    Refused(Refusal),
    /// The message loket built breaks the standard; nothing was stored.
    Findings(Vec<Finding>),
    /// The participant id is not one of this tenant's.
    NotFound,
}

#[derive(Debug, Clone)]
pub struct Created {
    pub message_id: String,
    pub bericht: String,
    pub participant_id: String,
    pub request_ids: Vec<String>,
}

/// An allocation of the participant at the financier, as a 317 needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct AllocationRow {
    id: String,
    toewijzing_nummer: String,
    ingangsdatum: String,
    einddatum: Option<String>,
    reden_wijziging: Option<String>,
    volume: Option<i64>,
    eenheid: Option<String>,
    frequentie: Option<String>,
    budget: Option<i64>,
    status: String,
}

impl AllocationRow {
    /// Current as TR349 counts it: valid today or later, not withdrawn.
    fn current(&self, today: &str) -> bool {
        let removed = matches!(self.reden_wijziging.as_deref(), Some("13" | "01"))
            && self.einddatum.as_deref() == Some(self.ingangsdatum.as_str());
        self.status != "withdrawn"
            && !removed
            && self.einddatum.as_deref().is_none_or(|e| e >= today)
    }

    fn omvang(&self) -> Option<Omvang> {
        Some(Omvang {
            volume: self.volume?,
            eenheid: self.eenheid.clone()?,
            frequentie: self.frequentie.clone()?,
        })
    }
}

fn date(s: &str, path: &str) -> Result<NaiveDate, Outcome> {
    date_at(s, path).map_err(Outcome::Refused)
}

/// `s` as a date, or why not, naming the JSON path `path`.
pub(crate) fn date_at(s: &str, path: &str) -> Result<NaiveDate, Refusal> {
    s.parse::<NaiveDate>().map_err(|_| Refusal {
        nl: format!("{path} is geen geldige datum"),
        en: format!("{path} is not a valid date"),
        path: path.to_string(),
    })
}

/// Composes a 315 (`toewijzing`) or 317 (`wijziging`) for `tenant`, checks
/// it like every message loket sends, and queues it with its request rows,
/// all in one transaction. `today` is the message's Dagtekening. The caller
/// wakes the outbox after a [`Outcome::Created`].
pub async fn compose(
    store: &Store,
    schema: &'static Schema,
    mappings: &Mappings,
    tenant: &str,
    input: &RequestInput,
    today: NaiveDate,
) -> Result<Outcome> {
    let mut w = store.begin_write().await?;
    let outcome = compose_in(&mut w, schema, mappings, tenant, input, today).await?;
    if matches!(outcome, Outcome::Created(_)) {
        w.commit().await?;
    }
    Ok(outcome)
}

/// [`compose`] in the caller's transaction, for a caller that writes more
/// with it (the web app's audit trail entry). Only a [`Outcome::Created`]
/// may be committed: on any other outcome the caller drops the transaction,
/// so nothing of the request (a participant created for its BSN included)
/// is stored.
pub async fn compose_in(
    w: &mut WriteTx,
    schema: &'static Schema,
    mappings: &Mappings,
    tenant: &str,
    input: &RequestInput,
    today: NaiveDate,
) -> Result<Outcome> {
    let number = match input.kind.as_str() {
        "toewijzing" => "315",
        "wijziging" => "317",
        _ => {
            return Ok(refused(
                "kind is toewijzing of wijziging",
                "kind is toewijzing or wijziging",
                "/kind",
            ));
        }
    };
    let Some(kind) = Kind::parse(&input.financier.kind) else {
        return Ok(refused(
            "onbekende financier",
            "unknown financier",
            "/financier/kind",
        ));
    };
    let key = FinancierKey::new(kind, &input.financier.code);
    let mapping = mappings
        .get(&key)
        .filter(|m| matches!(m.financier.standard, Standard::Iwmo | Standard::Ijw));
    let Some(mapping) = mapping else {
        return Ok(refused(
            format!(
                "{key} is geen gemeente met een iWmo- of iJw-mapping: loket weet niet waar het verzoek heen moet"
            ),
            format!(
                "{key} is not a municipality with an iWmo or iJw mapping: loket does not know where the request goes"
            ),
            "/financier",
        ));
    };
    let prefix = if mapping.financier.standard == Standard::Ijw {
        "JW"
    } else {
        "WMO"
    };
    if let Some(bsn) = input.bsn.as_deref()
        && !elfproef(bsn)
    {
        return Ok(refused(
            "het BSN voldoet niet aan de elfproef",
            "the BSN fails the elfproef",
            "/bsn",
        ));
    }

    let participant = match apply::participant_named(
        &mut w.tx,
        tenant,
        input.participant_id.as_deref(),
        input.bsn.as_deref(),
    )
    .await?
    {
        Some(p) => p,
        None => return Ok(Outcome::NotFound),
    };
    if let Some(c) = &input.client {
        complete_client(&mut w.tx, &participant, c).await?;
    }

    let identificatie = new_identifier(12);
    let mut b = Builder::heenbericht(
        schema,
        &format!("{prefix}{number}"),
        tenant,
        &key.code,
        &identificatie,
        today,
    )?;
    let built = if number == "315" {
        toewijzing(&mut w.tx, &mut b, tenant, &participant, input).await?
    } else {
        let allocations = sqlx::query_as::<_, AllocationRow>(
            "SELECT a.id, a.toewijzing_nummer, a.ingangsdatum, a.einddatum, a.reden_wijziging, a.volume, a.eenheid, \
             a.frequentie, a.budget, a.status \
             FROM allocations a JOIN financiers f ON f.id = a.financier_id \
             WHERE a.tenant_id = $1 AND a.participant_id = $2 AND f.kind = $3 AND f.code = $4 \
             ORDER BY a.ingangsdatum, a.toewijzing_nummer",
        )
        .bind(tenant)
        .bind(&participant)
        .bind(kind.as_str())
        .bind(&key.code)
        .fetch_all(&mut *w.tx)
        .await
        .context("reading the allocations to change")?;
        wijziging(
            &mut w.tx,
            &mut b,
            tenant,
            &participant,
            input,
            &allocations,
            today,
        )
        .await?
    };
    if let Some(refusal) = built {
        return Ok(refusal);
    }
    let message = b.msg;
    let (_, checked) = istandaard::check_outgoing(&message, &Limits::outgoing())?;
    if !checked.findings.is_empty() {
        // Nothing is stored: the transaction is dropped unused.
        return Ok(Outcome::Findings(checked.findings));
    }
    let message_id = outbox::enqueue(
        &mut w.tx,
        Outgoing {
            tenant_id: tenant,
            financier: &mapping.financier,
            participant_id: Some(&participant),
            message: &checked.message,
        },
    )
    .await?;
    let request_ids: Vec<String> = sqlx::query(
        "SELECT id FROM requests WHERE tenant_id = $1 AND message_id = $2 ORDER BY referentie_aanbieder",
    )
    .bind(tenant)
    .bind(&message_id)
    .fetch_all(&mut *w.tx)
    .await?
    .iter()
    .map(|r| r.try_get("id"))
    .collect::<Result<_, _>>()?;
    tracing::info!(%message_id, bericht = %message.name(), financier = %key, requests = request_ids.len(), "request composed");
    Ok(Outcome::Created(Created {
        message_id,
        bericht: message.name().to_string(),
        participant_id: participant,
        request_ids,
    }))
}

/// Fills what the record does not have yet about a client from the
/// request's `client`; what the record has (from a 301) stays.
async fn complete_client(tx: &mut Tx, participant: &str, c: &ClientInput) -> Result<()> {
    let name = c.achternaam.as_deref().map(|a| {
        let mut gn = json!({"Achternaam": a});
        if let Some(v) = &c.voorvoegsel {
            gn["Voorvoegsel"] = json!(v);
        }
        let mut n = json!({"Geslachtsnaam": gn});
        if let Some(v) = &c.voorletters {
            n["Voorletters"] = json!(v);
        }
        n.to_string()
    });
    sqlx::query(
        "UPDATE participants SET birth_date = COALESCE(birth_date, $1), gender = COALESCE(gender, $2), \
         name_json = CASE WHEN name_json = '{}' AND $3 IS NOT NULL THEN $3 ELSE name_json END, updated_at = $4 \
         WHERE id = $5",
    )
    .bind(c.geboortedatum.as_deref())
    .bind(c.geslacht.as_deref())
    .bind(name.as_deref())
    .bind(now())
    .bind(participant)
    .execute(&mut **tx)
    .await
    .context("completing the client")?;
    Ok(())
}

/// A ReferentieAanbieder this tenant has not used: `VOT-`/`VOW-` and letters
/// and digits, well within LDT_Referentie's 36 characters.
async fn new_reference(tx: &mut Tx, tenant: &str, prefix: &str) -> Result<String> {
    for _ in 0..8 {
        let candidate = format!("{prefix}-{}", new_identifier(16));
        let taken = sqlx::query(
            "SELECT 1 FROM requests WHERE tenant_id = $1 AND referentie_aanbieder = $2",
        )
        .bind(tenant)
        .bind(&candidate)
        .fetch_optional(&mut **tx)
        .await?;
        if taken.is_none() {
            return Ok(candidate);
        }
    }
    anyhow::bail!("no unused ReferentieAanbieder after 8 tries")
}

fn add_product(b: &mut Builder, parent: NodeId, categorie: &str, code: Option<&str>) -> Result<()> {
    let p = b.add(parent, "Product")?;
    b.value(p, "Categorie", categorie)?;
    b.opt(p, "Code", code)
}

fn add_amounts(
    b: &mut Builder,
    parent: NodeId,
    omvang: Option<&Omvang>,
    budget: Option<i64>,
) -> Result<()> {
    if let Some(o) = omvang {
        let n = b.add(parent, "Omvang")?;
        b.value(n, "Volume", &o.volume.to_string())?;
        b.value(n, "Eenheid", &o.eenheid)?;
        b.value(n, "Frequentie", &o.frequentie)?;
    }
    if let Some(v) = budget {
        b.value(parent, "Budget", &v.to_string())?;
    }
    Ok(())
}

/// The Client block and AangevraagdeProducten of a 315.
async fn toewijzing(
    tx: &mut Tx,
    b: &mut Builder,
    tenant: &str,
    participant: &str,
    input: &RequestInput,
) -> Result<Option<Outcome>> {
    if input.products.is_empty() {
        return Ok(Some(refused(
            "een verzoek om toewijzing vraagt minstens één product",
            "a request for allocation asks for at least one product",
            "/products",
        )));
    }
    let row = client_row(tx, participant).await?;
    let client = client_block(b, &row)?;
    b.opt(client, "Commentaar", input.commentaar.as_deref())?;
    let list = b.add(client, "AangevraagdeProducten")?;
    for (i, p) in input.products.iter().enumerate() {
        if let Err(o) = date(&p.ingangsdatum, &format!("/products/{i}/ingangsdatum")) {
            return Ok(Some(o));
        }
        let Some(v) = &p.verwijzer else {
            return Ok(Some(refused(
                "een aangevraagd product heeft een verwijzer",
                "a requested product has a referrer",
                format!("/products/{i}/verwijzer"),
            )));
        };
        let ap = b.add(list, "AangevraagdProduct")?;
        b.value(
            ap,
            "ReferentieAanbieder",
            &new_reference(tx, tenant, "VOT").await?,
        )?;
        add_product(b, ap, &p.categorie, p.code.as_deref())?;
        b.value(ap, "ToewijzingIngangsdatum", &p.ingangsdatum)?;
        b.opt(ap, "ToewijzingEinddatum", p.einddatum.as_deref())?;
        add_amounts(b, ap, p.omvang.as_ref(), p.budget)?;
        let vn = b.add(ap, "Verwijzer")?;
        b.value(vn, "Type", &v.kind)?;
        b.opt(vn, "Naam", v.naam.as_deref())?;
        b.opt(vn, "ZorgverlenerCode", v.zorgverlenercode.as_deref())?;
        b.opt(ap, "Commentaar", p.commentaar.as_deref())?;
    }
    Ok(None)
}

/// The Client block and Verzoek of a 317 (IV092): every current allocation
/// as unchanged or to change, and the new products.
async fn wijziging(
    tx: &mut Tx,
    b: &mut Builder,
    tenant: &str,
    participant: &str,
    input: &RequestInput,
    allocations: &[AllocationRow],
    today: NaiveDate,
) -> Result<Option<Outcome>> {
    let Some(reden) = input.reden.as_deref() else {
        return Ok(Some(refused(
            "een verzoek om wijziging heeft een reden (WJ758)",
            "a request for change has a reason (WJ758)",
            "/reden",
        )));
    };
    let find = |key: &str| {
        allocations
            .iter()
            .find(|a| a.id == key)
            .or_else(|| allocations.iter().find(|a| a.toewijzing_nummer == key))
    };
    let mut changes = Vec::new();
    for (i, c) in input.change.iter().enumerate() {
        let Some(a) = find(&c.allocation) else {
            return Ok(Some(refused(
                "deze deelnemer heeft bij deze financier geen toewijzing met dit id of nummer",
                "this participant has no allocation with this id or number at this financier",
                format!("/change/{i}/allocation"),
            )));
        };
        for (field, value) in [
            ("ingangsdatum", &c.ingangsdatum),
            ("einddatum", &c.einddatum),
        ] {
            if let Some(v) = value
                && let Err(o) = date(v, &format!("/change/{i}/{field}"))
            {
                return Ok(Some(o));
            }
        }
        changes.push((a, c));
    }
    let unchanged: Vec<&AllocationRow> = match &input.unchanged {
        Some(keys) => {
            let mut out = Vec::new();
            for (i, k) in keys.iter().enumerate() {
                match find(k) {
                    Some(a) => out.push(a),
                    None => {
                        return Ok(Some(refused(
                            "deze deelnemer heeft bij deze financier geen toewijzing met dit id of nummer",
                            "this participant has no allocation with this id or number at this financier",
                            format!("/unchanged/{i}"),
                        )));
                    }
                }
            }
            out
        }
        None => {
            let day = today.to_string();
            allocations
                .iter()
                .filter(|a| a.current(&day) && !changes.iter().any(|(c, _)| c.id == a.id))
                .collect()
        }
    };
    for (i, p) in input.new.iter().enumerate() {
        if let Err(o) = date(&p.ingangsdatum, &format!("/new/{i}/ingangsdatum")) {
            return Ok(Some(o));
        }
    }

    let client = b.add(0, "Client")?;
    b.value(client, "Bsn", &client_row(tx, participant).await?.bsn)?;
    let verzoek = b.add(client, "Verzoek")?;
    b.value(
        verzoek,
        "ReferentieAanbieder",
        &new_reference(tx, tenant, "VOW").await?,
    )?;
    b.value(verzoek, "RedenVerzoek", reden)?;
    if !unchanged.is_empty() {
        let list = b.add(verzoek, "OngewijzigdeProducten")?;
        for a in &unchanged {
            let n = b.add(list, "OngewijzigdProduct")?;
            b.value(n, "ToewijzingNummer", &a.toewijzing_nummer)?;
        }
    }
    if !changes.is_empty() {
        let list = b.add(verzoek, "TeWijzigenProducten")?;
        for (a, c) in &changes {
            let n = b.add(list, "TeWijzigenProduct")?;
            b.value(n, "ToewijzingNummer", &a.toewijzing_nummer)?;
            let omvang = c
                .omvang
                .clone()
                .or_else(|| c.budget.is_none().then(|| a.omvang()).flatten());
            let budget = c
                .budget
                .or_else(|| if c.omvang.is_none() { a.budget } else { None });
            // A new volume per day, week or month starts from a date in the
            // future; everything else (an end date, a budget, a total over
            // the whole allocation) applies from its start (IV092, TR373).
            let from_tomorrow = c.omvang.is_some()
                && budget.is_none()
                && omvang.as_ref().is_some_and(|o| o.frequentie != "6");
            let ingang = match &c.ingangsdatum {
                Some(d) => d.clone(),
                None if from_tomorrow => (today + Duration::days(1))
                    .to_string()
                    .max(a.ingangsdatum.clone()),
                None => a.ingangsdatum.clone(),
            };
            b.value(n, "GewensteIngangsdatum", &ingang)?;
            b.opt(
                n,
                "Einddatum",
                c.einddatum.as_deref().or(a.einddatum.as_deref()),
            )?;
            add_amounts(b, n, omvang.as_ref(), budget)?;
        }
    }
    if !input.new.is_empty() {
        let list = b.add(verzoek, "NieuweProducten")?;
        for p in &input.new {
            let n = b.add(list, "NieuwProduct")?;
            add_product(b, n, &p.categorie, p.code.as_deref())?;
            b.value(n, "GewensteIngangsdatum", &p.ingangsdatum)?;
            b.opt(n, "Einddatum", p.einddatum.as_deref())?;
            add_amounts(b, n, p.omvang.as_ref(), p.budget)?;
        }
    }
    Ok(None)
}

// ---------------------------------------------------------------------------
// Writes triggered by messages.

/// The `requests` rows of a 315 (one per AangevraagdProduct reference) or
/// 317 (the Verzoek's reference): one a provider queued, in the outbox's
/// transaction, or one a municipality received and accepted, in the ingest's
/// (direction `in`, from its Afzender, status `received`). The client is
/// kept as a hash of tenant and BSN, like the delivery keys: enough to
/// match, nothing to read.
pub async fn record(
    tx: &mut Tx,
    tenant: &str,
    msg: &Message,
    message_id: &str,
    participant_id: Option<&str>,
) -> Result<()> {
    let items: Vec<(&str, Value)> = match msg.def().number.as_str() {
        "315" => msg
            .root()
            .all("Client/AangevraagdeProducten/AangevraagdProduct")
            .into_iter()
            .filter_map(|p| {
                let r = p.value("ReferentieAanbieder")?;
                let mut s = product_summary(p);
                s["kind"] = json!("toewijzing");
                s["verwijzer"] = json!(p.value("Verwijzer/Type"));
                Some((r, s))
            })
            .collect(),
        "317" => msg
            .get("Client/Verzoek")
            .and_then(|v| Some((v.value("ReferentieAanbieder")?, verzoek_summary(v))))
            .into_iter()
            .collect(),
        _ => return Ok(()),
    };
    let gemeente = msg.value("Header/Ontvanger").unwrap_or_default();
    let afzender = msg.value("Header/Afzender").unwrap_or_default();
    let (direction, aanbieder, status) = if afzender == tenant {
        ("out", None, SENT)
    } else {
        ("in", Some(afzender), RECEIVED)
    };
    let bsn_hash = apply::delivery_key(tenant, msg.value("Client/Bsn").unwrap_or_default());
    let ts = now();
    let mut seen = std::collections::HashSet::new();
    for (reference, summary) in items {
        if !seen.insert(reference) {
            continue;
        }
        sqlx::query(
            "INSERT INTO requests (id, tenant_id, message_id, bericht, gemeente, referentie_aanbieder, bsn_hash, status, \
             created_at, participant_id, summary, updated_at, direction, aanbieder) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $9, $12, $13)",
        )
        .bind(new_id())
        .bind(tenant)
        .bind(message_id)
        .bind(msg.name())
        .bind(gemeente)
        .bind(reference)
        .bind(&bsn_hash)
        .bind(status)
        .bind(&ts)
        .bind(participant_id)
        .bind(summary.to_string())
        .bind(direction)
        .bind(aanbieder)
        .execute(&mut **tx)
        .await
        .context("storing the request")?;
    }
    Ok(())
}

fn omvang_json(n: NodeRef<'_>) -> Value {
    match n.get("Omvang") {
        Some(o) => json!({
            "volume": o.int("Volume"),
            "eenheid": o.value("Eenheid"),
            "frequentie": o.value("Frequentie"),
        }),
        None => Value::Null,
    }
}

/// An AangevraagdProduct or NieuwProduct as the summary keeps it.
fn product_summary(p: NodeRef<'_>) -> Value {
    json!({
        "product": {"categorie": p.value("Product/Categorie"), "code": p.value("Product/Code")},
        "ingangsdatum": p.value("ToewijzingIngangsdatum").or_else(|| p.value("GewensteIngangsdatum")),
        "einddatum": p.value("ToewijzingEinddatum").or_else(|| p.value("Einddatum")),
        "omvang": omvang_json(p),
        "budget": p.int("Budget"),
    })
}

fn verzoek_summary(v: NodeRef<'_>) -> Value {
    let reden = v.value("RedenVerzoek").unwrap_or_default();
    json!({
        "kind": "wijziging",
        "reden_verzoek": crate::adapter::istandaard::verzoekcodes::reden_verzoek(reden),
        "ongewijzigd": v.all("OngewijzigdeProducten/OngewijzigdProduct").iter()
            .filter_map(|p| p.value("ToewijzingNummer")).collect::<Vec<_>>(),
        "te_wijzigen": v.all("TeWijzigenProducten/TeWijzigenProduct").iter().map(|p| json!({
            "toewijzing_nummer": p.value("ToewijzingNummer"),
            "ingangsdatum": p.value("GewensteIngangsdatum"),
            "einddatum": p.value("Einddatum"),
            "omvang": omvang_json(*p),
            "budget": p.int("Budget"),
        })).collect::<Vec<_>>(),
        "nieuw": v.all("NieuweProducten/NieuwProduct").iter().map(|p| product_summary(*p)).collect::<Vec<_>>(),
    })
}

/// What a 316/318 says about the requests of our message `heen_id`:
/// `whole` rejects every one with these codes; otherwise each reference in
/// `rejected` is rejected with its codes and the rest is `answered` (taken
/// in, not decided). A request already further along keeps its status.
pub async fn retour(
    tx: &mut Tx,
    tenant: &str,
    heen_id: &str,
    retour_id: &str,
    whole: Option<&[String]>,
    rejected: &[(&str, &[String])],
) -> Result<()> {
    let ts = now();
    if let Some(codes) = whole {
        sqlx::query(
            "UPDATE requests SET status = $1, retour_message_id = $2, retourcodes = $3, answered_at = $4, updated_at = $4 \
             WHERE tenant_id = $5 AND message_id = $6",
        )
        .bind(REJECTED)
        .bind(retour_id)
        .bind(serde_json::to_string(codes)?)
        .bind(&ts)
        .bind(tenant)
        .bind(heen_id)
        .execute(&mut **tx)
        .await?;
        return Ok(());
    }
    sqlx::query(
        "UPDATE requests SET status = CASE WHEN status = $1 THEN $2 ELSE status END, retour_message_id = $3, updated_at = $4 \
         WHERE tenant_id = $5 AND message_id = $6",
    )
    .bind(SENT)
    .bind(ANSWERED)
    .bind(retour_id)
    .bind(&ts)
    .bind(tenant)
    .bind(heen_id)
    .execute(&mut **tx)
    .await?;
    for (reference, codes) in rejected {
        sqlx::query(
            "UPDATE requests SET status = $1, retourcodes = $2, answered_at = $3, updated_at = $3 \
             WHERE tenant_id = $4 AND message_id = $5 AND referentie_aanbieder = $6",
        )
        .bind(REJECTED)
        .bind(serde_json::to_string(codes)?)
        .bind(&ts)
        .bind(tenant)
        .bind(heen_id)
        .bind(*reference)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The requests of both kinds a message of this standard can answer.
fn request_berichten(standard: &str) -> [&'static str; 2] {
    if standard == "ijw" {
        ["JW315", "JW317"]
    } else {
        ["WMO315", "WMO317"]
    }
}

/// Applies an accepted 319 (Antwoord) received by a provider: tied to our
/// request by ReferentieAanbieder and municipality (its Afzender).
pub async fn answer(tx: &mut Tx, tenant: &Tenant, msg: &Message, message_id: &str) -> Result<()> {
    let gemeente = msg.value("Header/Afzender").unwrap_or_default();
    let reference = msg
        .value("Antwoord/ReferentieAanbieder")
        .unwrap_or_default();
    let code = msg.value("Antwoord/VerzoekAntwoord").unwrap_or_default();
    let reden = msg.value("Antwoord/RedenAfwijzingVerzoek");
    let [b315, b317] = request_berichten(&msg.standard().name);
    let found = sqlx::query(
        "SELECT id, participant_id, bericht, message_id, status, summary FROM requests \
         WHERE tenant_id = $1 AND gemeente = $2 AND referentie_aanbieder = $3 AND bericht IN ($4, $5) \
         ORDER BY created_at DESC, id LIMIT 1",
    )
    .bind(&tenant.id)
    .bind(gemeente)
    .bind(reference)
    .bind(b315)
    .bind(b317)
    .fetch_optional(&mut **tx)
    .await
    .context("looking up the request the 319 answers")?;
    let explained_reden = reden.map(reden_afwijzing);
    let Some(row) = found else {
        let detail = json!({
            "bericht": msg.name(),
            "message_id": message_id,
            "referentie_aanbieder": reference,
            "verzoek_antwoord": verzoek_antwoord(code),
            "reden_afwijzing": explained_reden,
            "reason": {
                "nl": "Er is geen verzoek met deze ReferentieAanbieder aan deze gemeente verstuurd; het antwoord is bewaard maar niet verwerkt.",
                "en": "No request with this ReferentieAanbieder was sent to this municipality; the answer was stored but not applied.",
            },
        });
        add_review(
            tx,
            &tenant.id,
            None,
            UNMATCHED_ANSWER,
            Some(message_id),
            &[],
            &detail,
        )
        .await?;
        return Ok(());
    };
    let id: String = row.try_get("id")?;
    let participant: Option<String> = row.try_get("participant_id")?;
    let current: String = row.try_get("status")?;
    let status = answered_with(tx, &id, &current, message_id, code, reden).await?;
    if let Some(p) = &participant {
        apply::set_message_participant(tx, message_id, p).await?;
    }
    if status == REJECTED {
        let summary: String = row.try_get("summary")?;
        let detail = json!({
            "bericht": msg.name(),
            "message_id": message_id,
            "request_id": id,
            "request_bericht": row.try_get::<String, _>("bericht")?,
            "heen_message_id": row.try_get::<String, _>("message_id")?,
            "referentie_aanbieder": reference,
            "reden_afwijzing": explained_reden,
            "request": serde_json::from_str::<Value>(&summary).unwrap_or(Value::Null),
        });
        add_review(
            tx,
            &tenant.id,
            participant.as_deref(),
            REJECTED_REQUEST,
            Some(&id),
            &[],
            &detail,
        )
        .await?;
    }
    Ok(())
}

/// A request a 301 honours: the ToegewezenProduct carrying its reference
/// and the allocation it became.
pub struct Honoured<'a> {
    pub tenant: &'a str,
    pub gemeente: &'a str,
    /// The 301's standard (`iwmo`, `ijw`).
    pub standard: &'a str,
    pub reference: &'a str,
    pub allocation_id: &'a str,
}

/// Marks requests honoured by 301s (TR379 has already found each of them),
/// linked to the first allocation that carries their reference: a 317 is
/// honoured by several products at once, all with its reference, which
/// `allocations.referentie_aanbieder` keeps.
pub async fn honour(tx: &mut Tx, items: &[Honoured<'_>]) -> Result<()> {
    let ts = now();
    for h in items {
        let [b315, b317] = request_berichten(h.standard);
        sqlx::query(
            "UPDATE requests SET status = $1, allocation_id = COALESCE(allocation_id, $2), \
             answered_at = COALESCE(answered_at, $3), updated_at = $3 \
             WHERE tenant_id = $4 AND gemeente = $5 AND referentie_aanbieder = $6 AND bericht IN ($7, $8) \
             AND (status <> $9 OR answer_message_id IS NOT NULL)",
        )
        .bind(HONOURED)
        .bind(h.allocation_id)
        .bind(&ts)
        .bind(h.tenant)
        .bind(h.gemeente)
        .bind(h.reference)
        .bind(b315)
        .bind(b317)
        .bind(REJECTED)
        .execute(&mut **tx)
        .await
        .context("linking an honoured request")?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Reads.

/// A `requests` row with its outbox state.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequestRow {
    pub id: String,
    pub message_id: String,
    pub bericht: String,
    pub gemeente: String,
    pub referentie_aanbieder: String,
    pub status: String,
    pub participant_id: Option<String>,
    pub summary: String,
    pub retour_message_id: Option<String>,
    pub retourcodes: String,
    pub answer_message_id: Option<String>,
    pub answer_code: Option<String>,
    pub reason_code: Option<String>,
    pub allocation_id: Option<String>,
    pub created_at: String,
    pub answered_at: Option<String>,
    pub outbox_state: Option<String>,
    /// `out`: sent by this tenant; `in`: received (a municipality).
    pub direction: String,
    pub aanbieder: Option<String>,
}

const COLUMNS: &str = "r.id, r.message_id, r.bericht, r.gemeente, r.referentie_aanbieder, r.status, \
     COALESCE(r.participant_id, m.participant_id) AS participant_id, r.summary, r.retour_message_id, r.retourcodes, \
     r.answer_message_id, r.answer_code, r.reason_code, r.allocation_id, r.created_at, r.answered_at, \
     o.state AS outbox_state, r.direction, r.aanbieder";
const FROM: &str = "FROM requests r LEFT JOIN messages m ON m.id = r.message_id \
     LEFT JOIN outbox o ON o.message_id = r.message_id";

impl RequestRow {
    /// `toewijzing` (315) or `wijziging` (317).
    pub fn kind(&self) -> &'static str {
        if self.bericht.ends_with("317") {
            "wijziging"
        } else {
            "toewijzing"
        }
    }

    /// The WJ759 reason of a 319 rejection, explained.
    pub fn reason(&self) -> Option<crate::adapter::istandaard::retourcodes::Explained> {
        self.reason_code.as_deref().map(reden_afwijzing)
    }

    /// The request as the API shows it (`schemas/api/request-item.json`).
    pub fn to_json(&self) -> Value {
        let codes: Vec<String> = serde_json::from_str(&self.retourcodes).unwrap_or_default();
        let financier_kind = if self.bericht.starts_with("JW") {
            "jeugdwet"
        } else {
            "wmo"
        };
        json!({
            "id": self.id,
            "kind": self.kind(),
            "bericht": self.bericht,
            "financier": {"kind": financier_kind, "code": self.gemeente},
            "referentie_aanbieder": self.referentie_aanbieder,
            "status": self.status,
            "direction": self.direction,
            "aanbieder": self.aanbieder,
            "participant_id": self.participant_id,
            "message_id": self.message_id,
            "outbox_state": self.outbox_state,
            "request": serde_json::from_str::<Value>(&self.summary).unwrap_or_else(|_| json!({})),
            "retour": self.retour_message_id.as_ref().map(|m| json!({
                "message_id": m,
                "retourcodes": codes.iter().map(|c| explain(c)).collect::<Vec<_>>(),
            })),
            "answer": self.answer_message_id.as_ref().map(|m| json!({
                "message_id": m,
                "verzoek_antwoord": self.answer_code.as_deref().map(verzoek_antwoord),
                "reden_afwijzing": self.reason(),
            })),
            "allocation_id": self.allocation_id,
            "created_at": self.created_at,
            "answered_at": self.answered_at,
        })
    }
}

/// Filters of [`list`].
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    pub status: Option<&'a str>,
    pub participant: Option<&'a str>,
    pub message: Option<&'a str>,
    pub limit: i64,
    pub offset: i64,
}

/// The tenant's requests, newest first.
pub async fn list(pool: &sqlx::AnyPool, tenant: &str, f: &Filter<'_>) -> Result<Vec<RequestRow>> {
    let sql = format!(
        "SELECT {COLUMNS} {FROM} WHERE r.tenant_id = $1 AND ($2 IS NULL OR r.status = $2) \
         AND ($3 IS NULL OR COALESCE(r.participant_id, m.participant_id) = $3) \
         AND ($4 IS NULL OR r.message_id = $4) \
         ORDER BY r.created_at DESC, r.id DESC LIMIT $5 OFFSET $6"
    );
    sqlx::query_as::<_, RequestRow>(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .bind(f.status)
        .bind(f.participant)
        .bind(f.message)
        .bind(f.limit)
        .bind(f.offset)
        .fetch_all(pool)
        .await
        .context("reading requests")
}

/// A request `tenant` (a municipality) received, in the answering
/// transaction.
pub async fn received(tx: &mut Tx, tenant: &str, id: &str) -> Result<Option<RequestRow>> {
    let sql = format!(
        "SELECT {COLUMNS} {FROM} WHERE r.tenant_id = $1 AND r.id = $2 AND r.direction = 'in'"
    );
    sqlx::query_as::<_, RequestRow>(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .context("reading a received request")
}

/// Request `id` (now in status `current`) answered by the 319 `message_id`
/// (the one a provider received, or the one a municipality sent):
/// VerzoekAntwoord `code` (WJ760) and, for a rejection, `reason` (WJ759).
/// Both sides record the same 319 alike; returns the new status.
pub async fn answered_with(
    tx: &mut Tx,
    id: &str,
    current: &str,
    message_id: &str,
    code: &str,
    reason: Option<&str>,
) -> Result<&'static str> {
    let status = match status_of_answer(code) {
        Some(REJECTED) => REJECTED,
        // "In onderzoek" after a 301 honoured it: the allocation is what counts.
        _ if current == HONOURED => HONOURED,
        _ => ACCEPTED,
    };
    let ts = now();
    sqlx::query(
        "UPDATE requests SET status = $1, answer_message_id = $2, answer_code = $3, reason_code = $4, \
         answered_at = $5, updated_at = $5 WHERE id = $6",
    )
    .bind(status)
    .bind(message_id)
    .bind(code)
    .bind(reason)
    .bind(&ts)
    .bind(id)
    .execute(&mut **tx)
    .await
    .context("recording the answer to a request")?;
    Ok(status)
}

/// One of the tenant's requests.
pub async fn get(pool: &sqlx::AnyPool, tenant: &str, id: &str) -> Result<Option<RequestRow>> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE r.tenant_id = $1 AND r.id = $2");
    sqlx::query_as::<_, RequestRow>(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .bind(id)
        .fetch_optional(pool)
        .await
        .context("reading a request")
}
