//! Allocations a municipality grants: the WMO301/JW301 composed by loket.
//!
//! A municipality tenant keeps its allocations in `allocations` like a
//! provider does (its own financier row `{tenant}:{kind}-{gemeentecode}`),
//! with the provider each is granted to in `aanbieder`. Every change to
//! them goes out as a 301 to that provider, built here:
//!
//! - [`grant`]: new products for a client (`POST /allocations`, the CSV
//!   import, a request honoured);
//! - [`change`]: one allocation extended (RedenWijziging 04), shortened
//!   (05), ended for another reason (02, 03, 06-12), a total volume or
//!   budget changed, or withdrawn (13: Einddatum = Ingangsdatum, OP033x1).
//!
//! Whatever changes, the 301 carries every current allocation of that client
//! at that provider plus the changed ones (OP087); an unchanged one goes
//! without RedenWijziging (IV099). Each 301 is checked like every message
//! loket sends (`check_outgoing`), judged with the rules the provider applies
//! when it receives it ([`super::lookahead::judge_outgoing`]: the same code
//! loket as a provider runs), queued, and applied to the municipality's own
//! record in the same transaction ([`super::lookahead::apply_outgoing`]).
//! Nothing is stored when any of that fails.

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use super::apply::{self, Tx};
use super::requests::{Omvang, Refusal};
use crate::adapter::istandaard::encode::Builder;
use crate::adapter::istandaard::rules::elfproef;
use crate::adapter::istandaard::{self, Limits, json as msg_json};
use crate::engine::build::new_identifier;
use crate::finding::Finding;
use crate::mapping::{FinancierKey, Kind, Mapping, Mappings, Standard};
use crate::message::{Message, NodeId};
use crate::outbox::{self, Outgoing};
use crate::schema::Schema;
use crate::store::{Store, Tenant, WriteTx, now};

/// RedenWijziging (WMO002/JZ002; both lists have the same codes) a
/// municipality may give a change: 01 is no longer used.
pub const REDENEN: [&str; 13] = [
    "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14",
];

/// Frequentie "totaal binnen geldigheidsduur toewijzing" (WMO757/JZ757).
const TOTAAL: &str = "6";

// ---------------------------------------------------------------------------
// What a person asks for (`schemas/api/grant.json`, `allocation-change.json`).

/// New allocations for one client at one provider, as `POST /allocations`
/// takes them from a municipality.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GrantInput {
    /// The provider's AGB code; it needs a mapping (kind aanbieder).
    pub aanbieder: String,
    #[serde(default)]
    pub participant_id: Option<String>,
    #[serde(default)]
    pub bsn: Option<String>,
    /// The client's details; needed for a client the record does not know
    /// in full (a 301 names the client with an address, TR061).
    #[serde(default)]
    pub client: Option<ClientInput>,
    pub products: Vec<ProductInput>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClientInput {
    #[serde(default)]
    pub geboortedatum: Option<String>,
    /// COD046: 0 onbekend, 1 man, 2 vrouw.
    #[serde(default)]
    pub geslacht: Option<String>,
    #[serde(default)]
    pub achternaam: Option<String>,
    #[serde(default)]
    pub voorvoegsel: Option<String>,
    #[serde(default)]
    pub voorletters: Option<String>,
    #[serde(default)]
    pub adres: Option<AdresInput>,
    #[serde(default)]
    pub telefoon: Option<String>,
}

/// The client's BRP address (Contact Soort 01).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AdresInput {
    pub straatnaam: String,
    pub huisnummer: i64,
    #[serde(default)]
    pub huisletter: Option<String>,
    #[serde(default)]
    pub toevoeging: Option<String>,
    pub postcode: String,
    pub plaatsnaam: String,
}

/// One ToegewezenProduct to grant.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProductInput {
    /// Made by loket (unique within the municipality) when left out.
    #[serde(default)]
    pub toewijzing_nummer: Option<String>,
    pub categorie: String,
    #[serde(default)]
    pub code: Option<String>,
    /// Default: today.
    #[serde(default)]
    pub toewijzingsdatum: Option<String>,
    pub ingangsdatum: String,
    #[serde(default)]
    pub einddatum: Option<String>,
    #[serde(default)]
    pub omvang: Option<Omvang>,
    #[serde(default)]
    pub budget: Option<i64>,
    /// The request this allocation honours (TR379).
    #[serde(default)]
    pub referentie_aanbieder: Option<String>,
}

/// A change of one allocation (`POST /allocations/{id}/change`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChangeInput {
    /// RedenWijziging: 04 extends, 05 shortens, 02, 03, 06-12 end early for
    /// that reason, 13 withdraws, 14 corrects.
    pub reden: String,
    /// The new Einddatum (not with 13).
    #[serde(default)]
    pub einddatum: Option<String>,
    /// A new total volume (only for Frequentie 6, OP033x1).
    #[serde(default)]
    pub omvang: Option<Omvang>,
    #[serde(default)]
    pub budget: Option<i64>,
    /// The request this change honours (TR379).
    #[serde(default)]
    pub referentie_aanbieder: Option<String>,
}

/// What composing a 301 (or a 319) did.
#[derive(Debug)]
pub enum Outcome {
    /// Queued and applied.
    Sent(Sent),
    /// The input does not make the message (with the field at fault).
    Refused(Refusal),
    /// The message breaks the standard or a rule the receiver applies;
    /// nothing was stored.
    Findings(Vec<Finding>),
    /// The participant, allocation or request is not one of this tenant's.
    NotFound,
}

#[derive(Debug, Clone)]
pub struct Sent {
    pub message_id: String,
    pub bericht: String,
    pub participant_id: String,
    /// The allocations the message granted or changed.
    pub allocations: Vec<AllocationRow>,
}

pub(crate) fn refused(
    nl: impl Into<String>,
    en: impl Into<String>,
    path: impl Into<String>,
) -> Outcome {
    Outcome::Refused(Refusal {
        nl: nl.into(),
        en: en.into(),
        path: path.into(),
    })
}

/// An allocation of a municipality as its 301s repeat it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AllocationRow {
    pub id: String,
    pub participant_id: String,
    pub aanbieder: Option<String>,
    pub toewijzing_nummer: String,
    pub referentie_aanbieder: Option<String>,
    pub product_categorie: Option<String>,
    pub product_code: Option<String>,
    pub toewijzingsdatum: Option<String>,
    pub ingangsdatum: String,
    pub einddatum: Option<String>,
    pub reden_wijziging: Option<String>,
    pub volume: Option<i64>,
    pub eenheid: Option<String>,
    pub frequentie: Option<String>,
    pub budget: Option<i64>,
    pub status: String,
}

const ALLOCATION_COLUMNS: &str = "a.id, a.participant_id, a.aanbieder, a.toewijzing_nummer, a.referentie_aanbieder, \
     a.product_categorie, a.product_code, a.toewijzingsdatum, a.ingangsdatum, a.einddatum, a.reden_wijziging, \
     a.volume, a.eenheid, a.frequentie, a.budget, a.status";

impl AllocationRow {
    /// Withdrawn (13) or cancelled (01): not an allocation at all (OP087).
    pub fn removed(&self) -> bool {
        matches!(self.reden_wijziging.as_deref(), Some("13" | "01"))
            && self.einddatum.as_deref() == Some(self.ingangsdatum.as_str())
    }

    /// Valid on or after `today` and not removed: a 301 repeats it (OP087).
    fn current(&self, today: &str) -> bool {
        !self.removed() && self.einddatum.as_deref().is_none_or(|e| e >= today)
    }

    fn omvang(&self) -> Option<Omvang> {
        Some(Omvang {
            volume: self.volume?,
            eenheid: self.eenheid.clone()?,
            frequentie: self.frequentie.clone()?,
        })
    }

    /// The allocation as the API shows it (`schemas/api/grant-result.json`).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "participant_id": self.participant_id,
            "aanbieder": self.aanbieder,
            "toewijzing_nummer": self.toewijzing_nummer,
            "referentie_aanbieder": self.referentie_aanbieder,
            "product": {"categorie": self.product_categorie, "code": self.product_code},
            "toewijzingsdatum": self.toewijzingsdatum,
            "ingangsdatum": self.ingangsdatum,
            "einddatum": self.einddatum,
            "reden_wijziging": self.reden_wijziging,
            "omvang": self.omvang(),
            "budget": self.budget,
            "status": self.status,
        })
    }
}

/// One ToegewezenProduct of the 301 being composed.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub(crate) nummer: String,
    pub(crate) referentie: Option<String>,
    pub(crate) categorie: Option<String>,
    pub(crate) code: Option<String>,
    pub(crate) toewijzingsdatum: String,
    /// Only a product granted or changed now gets the time of this message;
    /// one repeated unchanged keeps the date it was granted on.
    pub(crate) toewijzingstijd: String,
    pub(crate) ingangsdatum: String,
    pub(crate) einddatum: Option<String>,
    pub(crate) reden: Option<String>,
    pub(crate) omvang: Option<Omvang>,
    pub(crate) budget: Option<i64>,
}

impl Planned {
    fn unchanged(a: &AllocationRow, today: NaiveDate) -> Planned {
        Planned {
            nummer: a.toewijzing_nummer.clone(),
            referentie: None,
            categorie: a.product_categorie.clone(),
            code: a.product_code.clone(),
            toewijzingsdatum: a
                .toewijzingsdatum
                .clone()
                .unwrap_or_else(|| today.to_string()),
            toewijzingstijd: "00:00:00".into(),
            ingangsdatum: a.ingangsdatum.clone(),
            einddatum: a.einddatum.clone(),
            reden: None,
            omvang: a.omvang(),
            budget: a.budget,
        }
    }
}

fn date(s: &str, path: &str) -> Result<NaiveDate, Outcome> {
    super::requests::date_at(s, path).map_err(Outcome::Refused)
}

/// The provider's mapping (kind aanbieder): where the 301 goes and under
/// which law.
pub(crate) fn provider_mapping<'m>(mappings: &'m Mappings, agb: &str) -> Option<&'m Mapping> {
    mappings
        .get(&FinancierKey::new(Kind::Aanbieder, agb))
        .filter(|m| matches!(m.financier.standard, Standard::Iwmo | Standard::Ijw))
}

fn no_provider(agb: &str, path: &str) -> Outcome {
    refused(
        format!(
            "aanbieder {agb} heeft geen mapping (kind aanbieder) bij deze gemeente: loket weet niet waar het bericht heen moet"
        ),
        format!(
            "provider {agb} has no mapping (kind aanbieder) at this municipality: loket does not know where the message goes"
        ),
        path,
    )
}

/// The law's message prefix and `financiers.kind` of a provider's mapping.
fn law_of(mapping: &Mapping) -> (&'static str, &'static str) {
    if mapping.financier.standard == Standard::Ijw {
        ("JW", "jeugdwet")
    } else {
        ("WMO", "wmo")
    }
}

/// Grants `input`'s products: composes, checks, judges, queues and applies
/// a 301 in `w`. Only a [`Outcome::Sent`] may be committed.
pub async fn grant(
    w: &mut WriteTx,
    schema: &'static Schema,
    mappings: &Mappings,
    tenant: &Tenant,
    input: &GrantInput,
    today: NaiveDate,
) -> Result<Outcome> {
    let Some(mapping) = provider_mapping(mappings, &input.aanbieder) else {
        return Ok(no_provider(&input.aanbieder, "/aanbieder"));
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
    if input.products.is_empty() {
        return Ok(refused(
            "een toewijzing heeft minstens één product",
            "an allocation has at least one product",
            "/products",
        ));
    }
    let Some(participant) = apply::participant_named(
        &mut w.tx,
        &tenant.id,
        input.participant_id.as_deref(),
        input.bsn.as_deref(),
    )
    .await?
    else {
        return Ok(Outcome::NotFound);
    };
    if let Some(c) = &input.client
        && let Some(o) = set_client(&mut w.tx, &participant, c).await?
    {
        return Ok(o);
    }
    let (_, law) = law_of(mapping);
    let existing = allocations_of(&mut w.tx, tenant, &participant, law, &input.aanbieder).await?;
    let stamp = stamp(today);
    let mut planned = Vec::new();
    for (i, p) in input.products.iter().enumerate() {
        let at = |f: &str| format!("/products/{i}/{f}");
        for (field, value) in [
            ("ingangsdatum", Some(&p.ingangsdatum)),
            ("einddatum", p.einddatum.as_ref()),
            ("toewijzingsdatum", p.toewijzingsdatum.as_ref()),
        ] {
            if let Some(v) = value
                && let Err(o) = date(v, &at(field))
            {
                return Ok(o);
            }
        }
        let nummer = match &p.toewijzing_nummer {
            Some(n) => {
                if existing.iter().any(|a| &a.toewijzing_nummer == n)
                    || taken(&mut w.tx, tenant, n).await?
                {
                    return Ok(refused(
                        format!(
                            "toewijzingnummer {n} is al gebruikt; wijzig die toewijzing met /allocations/{{id}}/change"
                        ),
                        format!(
                            "allocation number {n} is already used; change that allocation with /allocations/{{id}}/change"
                        ),
                        at("toewijzing_nummer"),
                    ));
                }
                n.clone()
            }
            None => new_number(&mut w.tx, tenant, &planned).await?,
        };
        planned.push(Planned {
            nummer,
            referentie: p.referentie_aanbieder.clone(),
            categorie: Some(p.categorie.clone()),
            code: p.code.clone(),
            toewijzingsdatum: p
                .toewijzingsdatum
                .clone()
                .unwrap_or_else(|| today.to_string()),
            toewijzingstijd: stamp.clone(),
            ingangsdatum: p.ingangsdatum.clone(),
            einddatum: p.einddatum.clone(),
            reden: None,
            omvang: p.omvang.clone(),
            budget: p.budget,
        });
    }
    send(
        w,
        schema,
        mapping,
        tenant,
        &participant,
        &existing,
        planned,
        today,
    )
    .await
}

/// Changes one allocation of `tenant` (by loket's id): composes the 301 with
/// the change and every other current allocation of that client at that
/// provider. Only a [`Outcome::Sent`] may be committed.
pub async fn change(
    w: &mut WriteTx,
    schema: &'static Schema,
    mappings: &Mappings,
    tenant: &Tenant,
    allocation_id: &str,
    input: &ChangeInput,
    today: NaiveDate,
) -> Result<Outcome> {
    let Some(a) = allocation(&mut w.tx, tenant, allocation_id).await? else {
        return Ok(Outcome::NotFound);
    };
    let Some(agb) = a.aanbieder.clone() else {
        return Ok(refused(
            "deze toewijzing noemt geen aanbieder",
            "this allocation names no provider",
            "/",
        ));
    };
    let Some(mapping) = provider_mapping(mappings, &agb) else {
        return Ok(no_provider(&agb, "/"));
    };
    let changed = match plan_change(&a, input, today) {
        Ok(p) => p,
        Err(o) => return Ok(o),
    };
    let (_, law) = law_of(mapping);
    let existing = allocations_of(&mut w.tx, tenant, &a.participant_id, law, &agb).await?;
    send(
        w,
        schema,
        mapping,
        tenant,
        &a.participant_id,
        &existing,
        vec![changed],
        today,
    )
    .await
}

/// The changed ToegewezenProduct, or why the change is not one the standard
/// allows: ToewijzingNummer, product and Ingangsdatum never change; an
/// Einddatum moves later only with 04 and earlier with any other reason
/// (OP033x1, OP380); a volume changes only as a total over the whole
/// allocation (Frequentie 6) and a budget as a budget (OP033x1, OP257:
/// anything else is an end plus a new allocation); 13 withdraws, its
/// Einddatum the Ingangsdatum (OP033x1).
fn plan_change(a: &AllocationRow, c: &ChangeInput, today: NaiveDate) -> Result<Planned, Outcome> {
    if !REDENEN.contains(&c.reden.as_str()) {
        return Err(refused(
            format!("RedenWijziging is een van {}", REDENEN.join(", ")),
            format!("RedenWijziging is one of {}", REDENEN.join(", ")),
            "/reden",
        ));
    }
    if a.removed() {
        return Err(refused(
            "deze toewijzing is ingetrokken en kan niet meer wijzigen",
            "this allocation was withdrawn and cannot change any more",
            "/",
        ));
    }
    let mut p = Planned::unchanged(a, today);
    p.toewijzingsdatum = today.to_string();
    p.toewijzingstijd = stamp(today);
    p.reden = Some(c.reden.clone());
    p.referentie = c.referentie_aanbieder.clone();
    if c.reden == "13" {
        if c.einddatum.is_some() || c.omvang.is_some() || c.budget.is_some() {
            return Err(refused(
                "intrekken (13) zet de einddatum op de ingangsdatum; geef geen einddatum, omvang of budget",
                "withdrawing (13) sets the end date to the start date; give no end date, volume or budget",
                "/reden",
            ));
        }
        p.einddatum = Some(a.ingangsdatum.clone());
        return Ok(p);
    }
    if let Some(e) = &c.einddatum {
        let new = date(e, "/einddatum")?;
        if e.as_str() < a.ingangsdatum.as_str() {
            return Err(refused(
                "de einddatum ligt voor de ingangsdatum; intrekken is RedenWijziging 13",
                "the end date is before the start date; withdrawing is RedenWijziging 13",
                "/einddatum",
            ));
        }
        let later = a.einddatum.as_deref().is_none_or(|old| e.as_str() > old);
        let earlier = a.einddatum.as_deref().is_none_or(|old| e.as_str() < old);
        match c.reden.as_str() {
            "04" if !later => {
                return Err(refused(
                    "verlengen (04) vraagt een latere einddatum",
                    "extending (04) needs a later end date",
                    "/einddatum",
                ));
            }
            "04" | "14" => {}
            _ if !earlier => {
                return Err(refused(
                    format!(
                        "RedenWijziging {} beëindigt of verkort: de einddatum moet eerder liggen; verlengen is 04",
                        c.reden
                    ),
                    format!(
                        "RedenWijziging {} ends or shortens: the end date must be earlier; extending is 04",
                        c.reden
                    ),
                    "/einddatum",
                ));
            }
            _ => {}
        }
        p.einddatum = Some(new.to_string());
    } else if c.omvang.is_none() && c.budget.is_none() {
        return Err(refused(
            "een wijziging geeft een nieuwe einddatum, omvang of budget",
            "a change gives a new end date, volume or budget",
            "/einddatum",
        ));
    }
    if let Some(o) = &c.omvang {
        if a.frequentie.as_deref() != Some(TOTAAL) || o.frequentie != TOTAAL {
            return Err(refused(
                "alleen een totale omvang (frequentie 6) mag wijzigen; anders beëindigt u deze toewijzing en geeft u een nieuwe af (OP257)",
                "only a total volume (frequentie 6) may change; otherwise end this allocation and grant a new one (OP257)",
                "/omvang",
            ));
        }
        p.omvang = Some(o.clone());
    }
    if let Some(b) = c.budget {
        if a.budget.is_none() {
            return Err(refused(
                "deze toewijzing heeft geen budget",
                "this allocation has no budget",
                "/budget",
            ));
        }
        p.budget = Some(b);
    }
    Ok(p)
}

/// Builds the 301 with `planned` (new or changed products) and every other
/// current allocation of `existing`, checks and judges it, queues it and
/// applies it to the record.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn send(
    w: &mut WriteTx,
    schema: &'static Schema,
    mapping: &Mapping,
    tenant: &Tenant,
    participant: &str,
    existing: &[AllocationRow],
    planned: Vec<Planned>,
    today: NaiveDate,
) -> Result<Outcome> {
    let (prefix, _) = law_of(mapping);
    let agb = &mapping.financier.key.code;
    let day = today.to_string();
    let mut products: Vec<Planned> = existing
        .iter()
        .filter(|a| a.current(&day) && !planned.iter().any(|p| p.nummer == a.toewijzing_nummer))
        .map(|a| Planned::unchanged(a, today))
        .collect();
    let numbers: Vec<String> = planned.iter().map(|p| p.nummer.clone()).collect();
    products.extend(planned);
    products.sort_by(|a, b| (&a.ingangsdatum, &a.nummer).cmp(&(&b.ingangsdatum, &b.nummer)));
    let mut b = Builder::heenbericht(
        schema,
        &format!("{prefix}301"),
        &tenant.id,
        agb,
        &new_identifier(12),
        today,
    )?;
    let client = match client(&mut w.tx, &mut b, participant).await? {
        Ok(c) => c,
        Err(o) => return Ok(o),
    };
    let list = b.add(client, "ToegewezenProducten")?;
    for p in &products {
        let tp = b.add(list, "ToegewezenProduct")?;
        b.value(tp, "ToewijzingNummer", &p.nummer)?;
        b.opt(tp, "ReferentieAanbieder", p.referentie.as_deref())?;
        if let Some(c) = &p.categorie {
            let n = b.add(tp, "Product")?;
            b.value(n, "Categorie", c)?;
            b.opt(n, "Code", p.code.as_deref())?;
        }
        b.value(tp, "Toewijzingsdatum", &p.toewijzingsdatum)?;
        b.value(tp, "Toewijzingstijd", &p.toewijzingstijd)?;
        b.value(tp, "Ingangsdatum", &p.ingangsdatum)?;
        b.opt(tp, "Einddatum", p.einddatum.as_deref())?;
        b.opt(tp, "RedenWijziging", p.reden.as_deref())?;
        if let Some(o) = &p.omvang {
            let n = b.add(tp, "Omvang")?;
            b.value(n, "Volume", &o.volume.to_string())?;
            b.value(n, "Eenheid", &o.eenheid)?;
            b.value(n, "Frequentie", &o.frequentie)?;
        }
        b.opt(tp, "Budget", p.budget.map(|v| v.to_string()).as_deref())?;
    }
    let message = b.msg;
    let (_, checked) = istandaard::check_outgoing(&message, &Limits::outgoing())?;
    if !checked.findings.is_empty() {
        return Ok(Outcome::Findings(checked.findings));
    }
    let judged = super::lookahead::judge_outgoing(&mut w.tx, tenant, &checked.message).await?;
    if !judged.is_empty() {
        return Ok(Outcome::Findings(judged));
    }
    let message_id = queue(w, mapping, tenant, Some(participant), &checked.message).await?;
    super::lookahead::apply_outgoing(&mut w.tx, tenant, &checked.message, &message_id).await?;
    let mut allocations = Vec::new();
    for n in &numbers {
        let sql = format!(
            "SELECT {ALLOCATION_COLUMNS} FROM allocations a WHERE a.tenant_id = $1 AND a.participant_id = $2 \
             AND a.toewijzing_nummer = $3 AND a.aanbieder = $4"
        );
        if let Some(a) = sqlx::query_as::<_, AllocationRow>(sqlx::AssertSqlSafe(sql))
            .bind(&tenant.id)
            .bind(participant)
            .bind(n)
            .bind(agb)
            .fetch_optional(&mut *w.tx)
            .await?
        {
            allocations.push(a);
        }
    }
    tracing::info!(%message_id, bericht = %message.name(), aanbieder = %agb, products = products.len(), "allocation composed");
    Ok(Outcome::Sent(Sent {
        message_id,
        bericht: message.name().to_string(),
        participant_id: participant.to_string(),
        allocations,
    }))
}

/// Queues a message the municipality sends to the provider of `mapping`.
pub(crate) async fn queue(
    w: &mut WriteTx,
    mapping: &Mapping,
    tenant: &Tenant,
    participant: Option<&str>,
    message: &Message,
) -> Result<String> {
    outbox::enqueue(
        &mut w.tx,
        Outgoing {
            tenant_id: &tenant.id,
            financier: &mapping.financier,
            participant_id: participant,
            message,
        },
    )
    .await
}

/// Toewijzingstijd of what is granted now: the most recent allocation by
/// date and time is the one that counts (OP033x1).
fn stamp(today: NaiveDate) -> String {
    let now = chrono::Local::now();
    if now.date_naive() == today {
        now.format("%H:%M:%S").to_string()
    } else {
        "12:00:00".into()
    }
}

/// The Client of a 301 from the record: Bsn, Geboortedatum, Geslacht, the
/// full Naam and the Contactgegevens (a 301 needs an address, TR061).
/// A refusal when the record lacks the name or the address.
async fn client(
    tx: &mut Tx,
    b: &mut Builder,
    participant: &str,
) -> Result<Result<NodeId, Outcome>> {
    let row = sqlx::query(
        "SELECT bsn, birth_date, gender, name_json, contact_json FROM participants WHERE id = $1",
    )
    .bind(participant)
    .fetch_one(&mut **tx)
    .await
    .context("reading the client for the 301")?;
    let name: Value =
        serde_json::from_str(&row.try_get::<String, _>("name_json")?).unwrap_or(Value::Null);
    let contact: Value =
        serde_json::from_str(&row.try_get::<String, _>("contact_json")?).unwrap_or(Value::Null);
    let Some(achternaam) = name
        .pointer("/Geslachtsnaam/Achternaam")
        .and_then(Value::as_str)
    else {
        return Ok(Err(refused(
            "loket kent de naam van deze cliënt niet: geef client.achternaam",
            "loket does not know this client's name: give client.achternaam",
            "/client/achternaam",
        )));
    };
    if contact.get("Contact").is_none() {
        return Ok(Err(refused(
            "loket kent het adres van deze cliënt niet: geef client.adres",
            "loket does not know this client's address: give client.adres",
            "/client/adres",
        )));
    }
    let c = b.add(0, "Client")?;
    b.value(c, "Bsn", &row.try_get::<String, _>("bsn")?)?;
    let geb = b.add(c, "Geboortedatum")?;
    match row.try_get::<Option<String>, _>("birth_date")? {
        Some(d) => {
            b.value(geb, "Datum", &d)?;
        }
        None => {
            b.value(geb, "Datum", "1900-01-01")?;
            b.value(geb, "DatumGebruik", "3")?;
        }
    }
    let gender: Option<String> = row.try_get("gender")?;
    b.value(c, "Geslacht", gender.as_deref().unwrap_or("0"))?;
    let naam = b.add(c, "Naam")?;
    let gn = b.add(naam, "Geslachtsnaam")?;
    b.value(gn, "Achternaam", achternaam)?;
    let text = |p: &str| name.pointer(p).and_then(Value::as_str);
    b.opt(gn, "Voorvoegsel", text("/Geslachtsnaam/Voorvoegsel"))?;
    b.opt(naam, "Voornamen", text("/Voornamen"))?;
    b.opt(naam, "Voorletters", text("/Voorletters"))?;
    b.value(naam, "NaamGebruik", text("/NaamGebruik").unwrap_or("1"))?;
    if let Err(e) = msg_json::add_json(&mut b.msg, c, "Contactgegevens", &contact) {
        anyhow::bail!("the stored contact details do not fit a 301: {e}");
    }
    Ok(Ok(c))
}

/// Stores what the input says about the client (a 301 repeats it).
async fn set_client(tx: &mut Tx, participant: &str, c: &ClientInput) -> Result<Option<Outcome>> {
    if let Some(d) = &c.geboortedatum
        && let Err(o) = date(d, "/client/geboortedatum")
    {
        return Ok(Some(o));
    }
    let name = c.achternaam.as_deref().map(|a| {
        let mut gn = json!({"Achternaam": a});
        if let Some(v) = &c.voorvoegsel {
            gn["Voorvoegsel"] = json!(v);
        }
        let mut n = json!({"Geslachtsnaam": gn, "NaamGebruik": "1"});
        if let Some(v) = &c.voorletters {
            n["Voorletters"] = json!(v);
        }
        n.to_string()
    });
    let contact = c.adres.as_ref().map(|a| {
        let mut huis = json!({"Huisnummer": a.huisnummer});
        if let Some(v) = &a.huisletter {
            huis["Huisletter"] = json!(v);
        }
        if let Some(v) = &a.toevoeging {
            huis["HuisnummerToevoeging"] = json!(v);
        }
        let mut contact = json!({
            "Soort": "01",
            "Adres": {"Huis": huis, "Postcode": a.postcode.replace(' ', "").to_uppercase(),
                      "Straatnaam": a.straatnaam, "Plaatsnaam": a.plaatsnaam, "LandCode": "NL"},
        });
        if let Some(t) = &c.telefoon {
            contact["Telefoon"] =
                json!({"Telefoon01": {"Telefoonnummer": t, "Landnummer": "0031"}});
        }
        json!({"Contact": [contact]}).to_string()
    });
    sqlx::query(
        "UPDATE participants SET birth_date = COALESCE($1, birth_date), gender = COALESCE($2, gender), \
         name_json = COALESCE($3, name_json), contact_json = COALESCE($4, contact_json), updated_at = $5 WHERE id = $6",
    )
    .bind(c.geboortedatum.as_deref())
    .bind(c.geslacht.as_deref())
    .bind(name.as_deref())
    .bind(contact.as_deref())
    .bind(now())
    .bind(participant)
    .execute(&mut **tx)
    .await
    .context("storing the client")?;
    Ok(None)
}

/// The participant's allocations at `tenant` under `law` granted to `agb`.
pub(crate) async fn allocations_of(
    tx: &mut Tx,
    tenant: &Tenant,
    participant: &str,
    law: &str,
    agb: &str,
) -> Result<Vec<AllocationRow>> {
    let sql = format!(
        "SELECT {ALLOCATION_COLUMNS} FROM allocations a JOIN financiers f ON f.id = a.financier_id \
         WHERE a.tenant_id = $1 AND a.participant_id = $2 AND f.kind = $3 AND f.code = $1 AND a.aanbieder = $4 \
         ORDER BY a.ingangsdatum, a.toewijzing_nummer"
    );
    sqlx::query_as::<_, AllocationRow>(sqlx::AssertSqlSafe(sql))
        .bind(&tenant.id)
        .bind(participant)
        .bind(law)
        .bind(agb)
        .fetch_all(&mut **tx)
        .await
        .context("reading the client's allocations at the provider")
}

/// One of `tenant`'s allocations by loket's id.
pub async fn allocation(tx: &mut Tx, tenant: &Tenant, id: &str) -> Result<Option<AllocationRow>> {
    let sql = format!(
        "SELECT {ALLOCATION_COLUMNS} FROM allocations a WHERE a.tenant_id = $1 AND a.id = $2"
    );
    sqlx::query_as::<_, AllocationRow>(sqlx::AssertSqlSafe(sql))
        .bind(&tenant.id)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .context("reading the allocation")
}

/// Whether `tenant` has used ToewijzingNummer `n` (for any client: TR332).
async fn taken(tx: &mut Tx, tenant: &Tenant, n: &str) -> Result<bool> {
    Ok(
        sqlx::query("SELECT 1 FROM allocations WHERE tenant_id = $1 AND toewijzing_nummer = $2")
            .bind(&tenant.id)
            .bind(n)
            .fetch_optional(&mut **tx)
            .await?
            .is_some(),
    )
}

/// A ToewijzingNummer the municipality has not used (LDT_Nummer: at most
/// nine digits), nor `planned` in this message.
async fn new_number(tx: &mut Tx, tenant: &Tenant, planned: &[Planned]) -> Result<String> {
    for _ in 0..16 {
        let n = (100_000_000 + rand::random::<u32>() % 900_000_000).to_string();
        if !planned.iter().any(|p| p.nummer == n) && !taken(tx, tenant, &n).await? {
            return Ok(n);
        }
    }
    anyhow::bail!("no unused ToewijzingNummer after 16 tries")
}

// ---------------------------------------------------------------------------
// Requests a municipality received (315, 317), answered.

/// How `POST /requests/{id}/answer` answers a received request
/// (`schemas/api/request-answer.json`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AnswerInput {
    /// `honour` (a 301 with the request's ReferentieAanbieder), `reject` (a
    /// 319 with VerzoekAntwoord 1 and `reden`) or `investigate` (a 319 with
    /// VerzoekAntwoord 2, "in onderzoek").
    pub answer: String,
    /// RedenAfwijzingVerzoek (WJ759), with `reject`.
    #[serde(default)]
    pub reden: Option<String>,
    /// The client's name and address, when the record does not have them
    /// (a 315 need not carry an address; a 301 must, TR061).
    #[serde(default)]
    pub client: Option<ClientInput>,
    /// Honouring a 315: the ToewijzingNummer (made when left out).
    #[serde(default)]
    pub toewijzing_nummer: Option<String>,
}

/// Answers a request `tenant` (a municipality) received: honours it with a
/// 301 that carries its ReferentieAanbieder (a 315: the requested product;
/// a 317: the changes it asks for, IV093), or answers it with a 319.
/// Only a [`Outcome::Sent`] may be committed.
pub async fn answer(
    w: &mut WriteTx,
    schema: &'static Schema,
    mappings: &Mappings,
    tenant: &Tenant,
    request_id: &str,
    input: &AnswerInput,
    today: NaiveDate,
) -> Result<Outcome> {
    let Some(request) = super::requests::received(&mut w.tx, &tenant.id, request_id).await? else {
        return Ok(Outcome::NotFound);
    };
    if request.status == super::requests::HONOURED {
        return Ok(refused(
            "dit verzoek is al gehonoreerd",
            "this request was already honoured",
            "/answer",
        ));
    }
    let agb = request.aanbieder.clone().unwrap_or_default();
    let Some(mapping) = provider_mapping(mappings, &agb) else {
        return Ok(no_provider(&agb, "/"));
    };
    let Some(participant) = request.participant_id.clone() else {
        return Ok(refused(
            "het verzoek noemt geen deelnemer",
            "the request names no participant",
            "/",
        ));
    };
    let summary: Value = serde_json::from_str(&request.summary).unwrap_or(Value::Null);
    match input.answer.as_str() {
        "reject" | "investigate" => {
            let code = if input.answer == "reject" { "1" } else { "2" };
            antwoord(
                w,
                schema,
                mapping,
                tenant,
                &request,
                &participant,
                code,
                input,
                today,
            )
            .await
        }
        _ if request.kind() == "toewijzing" => {
            let text = |p: &str| {
                summary
                    .pointer(p)
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            let product = ProductInput {
                toewijzing_nummer: input.toewijzing_nummer.clone(),
                categorie: text("/product/categorie").unwrap_or_default(),
                code: text("/product/code"),
                toewijzingsdatum: None,
                ingangsdatum: text("/ingangsdatum").unwrap_or_default(),
                einddatum: text("/einddatum"),
                omvang: serde_json::from_value(summary["omvang"].clone()).ok(),
                budget: summary["budget"].as_i64(),
                referentie_aanbieder: Some(request.referentie_aanbieder.clone()),
            };
            let grant_input = GrantInput {
                aanbieder: agb,
                participant_id: Some(participant),
                bsn: None,
                client: input.client.clone(),
                products: vec![product],
            };
            grant(w, schema, mappings, tenant, &grant_input, today).await
        }
        _ => {
            if let Some(c) = &input.client
                && let Some(o) = set_client(&mut w.tx, &participant, c).await?
            {
                return Ok(o);
            }
            let (_, law) = law_of(mapping);
            let existing = allocations_of(&mut w.tx, tenant, &participant, law, &agb).await?;
            let planned = match wijziging(
                &mut w.tx,
                tenant,
                &existing,
                &summary,
                &request.referentie_aanbieder,
                today,
            )
            .await?
            {
                Ok(p) => p,
                Err(o) => return Ok(o),
            };
            send(
                w,
                schema,
                mapping,
                tenant,
                &participant,
                &existing,
                planned,
                today,
            )
            .await
        }
    }
}

/// The ToegewezenProducten that honour a 317 (IV093), every one with its
/// ReferentieAanbieder: an OngewijzigdProduct as it is; a TeWijzigenProduct
/// changed in place (RedenWijziging 12, geïnitieerd door de aanbieder) when
/// only its end, its total volume or its budget changes (OP033x1, OP380),
/// otherwise ended the day before the GewensteIngangsdatum and followed by
/// a new allocation with the new volume (OP257); a NieuwProduct new.
async fn wijziging(
    tx: &mut Tx,
    tenant: &Tenant,
    existing: &[AllocationRow],
    summary: &Value,
    reference: &str,
    today: NaiveDate,
) -> Result<Result<Vec<Planned>, Outcome>> {
    let find = |n: &str| existing.iter().find(|a| a.toewijzing_nummer == n);
    let stamp = stamp(today);
    let mut planned: Vec<Planned> = Vec::new();
    let list = |key: &str| summary[key].as_array().cloned().unwrap_or_default();
    for n in list("ongewijzigd") {
        if let Some(a) = n.as_str().and_then(find) {
            let mut p = Planned::unchanged(a, today);
            p.referentie = Some(reference.to_string());
            planned.push(p);
        }
    }
    for c in list("te_wijzigen") {
        let Some(a) = c["toewijzing_nummer"].as_str().and_then(find) else {
            return Ok(Err(refused(
                "het verzoek wijzigt een toewijzing die deze gemeente niet heeft; wijs het af (WJ759 1)",
                "the request changes an allocation this municipality does not have; reject it (WJ759 1)",
                "/answer",
            )));
        };
        let omvang: Option<Omvang> = serde_json::from_value(c["omvang"].clone()).ok();
        let einddatum = c["einddatum"].as_str().map(str::to_string);
        let mut p = Planned::unchanged(a, today);
        p.referentie = Some(reference.to_string());
        p.toewijzingsdatum = today.to_string();
        p.toewijzingstijd = stamp.clone();
        p.reden = Some("12".into());
        let volume_changes = omvang.as_ref().is_some_and(|o| {
            a.omvang()
                .is_none_or(|old| old.volume != o.volume || old.frequentie != o.frequentie)
        });
        let from = c["ingangsdatum"].as_str().unwrap_or(&a.ingangsdatum);
        let per_period = a.frequentie.as_deref() != Some(TOTAAL);
        if volume_changes && per_period && from > a.ingangsdatum.as_str() {
            // Ends the day before, and a new allocation takes over.
            let day_before = from
                .parse::<NaiveDate>()
                .ok()
                .and_then(|d| d.pred_opt())
                .map(|d| d.to_string())
                .unwrap_or_else(|| a.ingangsdatum.clone());
            p.einddatum = Some(day_before);
            planned.push(p);
            let nummer = new_number(tx, tenant, &planned).await?;
            planned.push(Planned {
                nummer,
                referentie: Some(reference.to_string()),
                categorie: a.product_categorie.clone(),
                code: a.product_code.clone(),
                toewijzingsdatum: today.to_string(),
                toewijzingstijd: stamp.clone(),
                ingangsdatum: from.to_string(),
                einddatum: einddatum.or_else(|| a.einddatum.clone()),
                reden: None,
                omvang,
                budget: None,
            });
        } else {
            p.einddatum = einddatum.or(p.einddatum);
            p.omvang = omvang.or(p.omvang);
            p.budget = c["budget"].as_i64().or(p.budget);
            planned.push(p);
        }
    }
    for n in list("nieuw") {
        let nummer = new_number(tx, tenant, &planned).await?;
        let text = |p: &str| n.pointer(p).and_then(Value::as_str).map(str::to_string);
        planned.push(Planned {
            nummer,
            referentie: Some(reference.to_string()),
            categorie: text("/product/categorie"),
            code: text("/product/code"),
            toewijzingsdatum: today.to_string(),
            toewijzingstijd: stamp.clone(),
            ingangsdatum: text("/ingangsdatum").unwrap_or_else(|| today.to_string()),
            einddatum: text("/einddatum"),
            reden: None,
            omvang: serde_json::from_value(n["omvang"].clone()).ok(),
            budget: n["budget"].as_i64(),
        });
    }
    Ok(Ok(planned))
}

/// A 319 (Antwoord) to a received request: VerzoekAntwoord `code` (1
/// afgewezen with the WJ759 reason, 2 in onderzoek), checked, queued and
/// recorded with the request.
#[allow(clippy::too_many_arguments)]
async fn antwoord(
    w: &mut WriteTx,
    schema: &'static Schema,
    mapping: &Mapping,
    tenant: &Tenant,
    request: &super::requests::RequestRow,
    participant: &str,
    code: &str,
    input: &AnswerInput,
    today: NaiveDate,
) -> Result<Outcome> {
    let (prefix, _) = law_of(mapping);
    let reason = if code == "1" {
        input.reden.as_deref()
    } else {
        None
    };
    if code == "1" && reason.is_none() {
        return Ok(refused(
            "een afwijzing heeft een reden (WJ759)",
            "a rejection has a reason (WJ759)",
            "/reden",
        ));
    }
    let mut b = Builder::heenbericht(
        schema,
        &format!("{prefix}319"),
        &tenant.id,
        &mapping.financier.key.code,
        &new_identifier(12),
        today,
    )?;
    let a = b.add(0, "Antwoord")?;
    b.value(a, "ReferentieAanbieder", &request.referentie_aanbieder)?;
    b.value(a, "VerzoekAntwoord", code)?;
    b.opt(a, "RedenAfwijzingVerzoek", reason)?;
    let (_, checked) = istandaard::check_outgoing(&b.msg, &Limits::outgoing())?;
    if !checked.findings.is_empty() {
        return Ok(Outcome::Findings(checked.findings));
    }
    let message_id = queue(w, mapping, tenant, Some(participant), &checked.message).await?;
    super::requests::answered_with(
        &mut w.tx,
        &request.id,
        &request.status,
        &message_id,
        code,
        reason,
    )
    .await?;
    tracing::info!(%message_id, bericht = %checked.message.name(), "request answered");
    Ok(Outcome::Sent(Sent {
        message_id,
        bericht: checked.message.name().to_string(),
        participant_id: participant.to_string(),
        allocations: Vec::new(),
    }))
}

/// What a municipality asks loket to send.
pub enum Action<'a> {
    Grant(&'a GrantInput),
    /// An allocation (loket's id) and its change.
    Change(&'a str, &'a ChangeInput),
    /// A received request (loket's id) and the answer.
    Answer(&'a str, &'a AnswerInput),
}

/// Performs `action` in its own transaction, committed only when the
/// message was sent: otherwise nothing of the attempt (a participant
/// created for its BSN included) is stored.
pub async fn perform(
    store: &Store,
    schema: &'static Schema,
    mappings: &Mappings,
    tenant: &Tenant,
    action: Action<'_>,
    today: NaiveDate,
    access: &super::access::Actor,
) -> Result<Outcome> {
    let mut w = store.begin_write().await?;
    let outcome = match action {
        Action::Grant(input) => grant(&mut w, schema, mappings, tenant, input, today).await?,
        Action::Change(id, input) => {
            change(&mut w, schema, mappings, tenant, id, input, today).await?
        }
        Action::Answer(id, input) => {
            answer(&mut w, schema, mappings, tenant, id, input, today).await?
        }
    };
    if let Outcome::Sent(sent) = &outcome {
        // NEN 7513: the change commits with its access log entry.
        super::access::record_in(
            &mut w,
            &tenant.id,
            access,
            super::access::Kind::Change,
            &format!("{} {}", sent.bericht, sent.message_id),
            std::slice::from_ref(&sent.participant_id),
        )
        .await?;
        w.commit().await?;
    }
    Ok(outcome)
}
