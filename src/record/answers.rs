//! Answers to what loket sent: the WMO325/JW325 declaratie-antwoord to our
//! 323, and the retourberichten 306/308 (to our starts and stops) and 316/318
//! (to our requests), and, for a municipality, 302 (to its allocations) and
//! 320 (to its 319s), applied inside the ingest transaction.
//!
//! An answer changes nothing of its own; it says what the financier did with
//! our message. So each one is first tied to the message it answers (the
//! outbound `messages` row, found by the BerichtIdentificatie the answer
//! quotes), and only then applied to that message's declaration, request or
//! allocations. Whatever a person has to act on (a rejected prestatie, a
//! rejected start, an answer loket cannot place) becomes a `review_items` row.
//!
//! An answer that loket cannot place or has already applied is stored and
//! put in the review queue, never refused: the financier's retour is not the
//! place to argue, and applying it twice would overwrite the first verdict.
//!
//! # Semantics of the 325 (IV087)
//!
//! - Header RetourCodes with anything but 0200 (0001, or a header rule's
//!   code): the declaration was not processed; every prestatie is rejected
//!   with those codes.
//! - DeclaratieAntwoord RetourCodes with anything but 0200/8001 (e.g. 9333):
//!   rejected on the level of the declaration; every prestatie is rejected
//!   with those codes.
//! - Otherwise (0200 or 8001): the prestaties the 325 lists are rejected with
//!   their own codes; below a rejected Client (its prestaties carry 0233) the
//!   Client's codes are added, so the line shows why it was not assessed.
//!   Every prestatie the 325 does not list is approved: granted lines are
//!   never repeated in a 325. With 8001 no line is listed, so all are approved.
//! - An approved credit line marks the debit it names (VorigReferentieNummer)
//!   with `credited_by`.
//! - A listed ReferentieNummer that the declaration does not have, and a
//!   TotaalToegekendBedrag that differs from the sum of the approved lines,
//!   go to the review queue as `unmatched_answer`.
//!
//! # Semantics of 306/308/316/318 (IV028)
//!
//! - Header without RetourCodes (or 0200 and no class with a rejection): the
//!   message was accepted in full.
//! - Header with anything but 0200: rejected as a whole; every product of our
//!   heenbericht is rejected with the header's codes.
//! - Otherwise each class carries its codes: a product with a code other than
//!   0200 (0233 included: not processed) is rejected; a Client (or, in a 318,
//!   Verzoek) with a rejection code rejects every product below it.
//!
//! Review details never hold a BSN or a name: they name the allocation,
//! product, period and amount, which is what a person needs to find the case.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use serde_json::{Value, json};
use sqlx::Row;

use super::apply::{Tx, add_event, participant_id_for};
use crate::adapter::istandaard::{self, Limits, retourcodes::is_approval};
use crate::message::{Message, NodeRef};
use crate::schema::Role;
use crate::store::{Tenant, new_id, now};

/// Review item kinds written here.
pub const REJECTED_PRESTATIE: &str = "rejected_prestatie";
pub const REJECTED_MESSAGE: &str = "rejected_message";
pub const UNMATCHED_ANSWER: &str = "unmatched_answer";

/// The party a message is addressed to. A retourbericht copies the header of
/// the heenbericht unchanged (IV028), so it is addressed to its Afzender: a
/// WMO306 to our 305 still says Afzender = our AGB code. Every other message,
/// the 325 included, names its addressee in Ontvanger.
pub fn addressee(msg: &Message) -> Option<&str> {
    match msg.def().role {
        Role::Retour => msg.value("Header/Afzender"),
        Role::Heen | Role::Antwoord => msg.value("Header/Ontvanger"),
    }
}

/// Applies an accepted answer (306, 308, 316, 318, 325) to the record.
/// `participant` is the one `apply()` found in the answer itself, if any.
pub async fn apply(
    tx: &mut Tx,
    tenant: &Tenant,
    msg: &Message,
    message_id: &str,
    participant: Option<&str>,
) -> Result<()> {
    let answer = Answer::new(tenant, msg, message_id, participant);
    match msg.def().number.as_str() {
        "325" => declaratie_antwoord(tx, &answer)
            .await
            .context("applying a declaratie-antwoord"),
        "302" | "306" | "308" | "316" | "318" | "320" => retour(tx, &answer)
            .await
            .with_context(|| format!("applying a {}", msg.name())),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Shared pieces.

/// The RetourCode values directly below `node`.
fn codes(node: Option<NodeRef<'_>>) -> Vec<String> {
    node.map(|n| {
        n.all("RetourCodes/RetourCode")
            .iter()
            .map(|c| c.text().trim().to_string())
            .collect()
    })
    .unwrap_or_default()
}

/// The codes that reject (all but 0200 / 8001).
fn rejecting(codes: &[String]) -> Vec<String> {
    codes.iter().filter(|c| !is_approval(c)).cloned().collect()
}

/// `a` followed by the codes of `b` it does not have yet.
fn merged(mut a: Vec<String>, b: &[String]) -> Vec<String> {
    for c in b {
        if !a.contains(c) {
            a.push(c.clone());
        }
    }
    a
}

/// Adds an open review item; returns its id.
pub async fn add_review(
    tx: &mut Tx,
    tenant: &str,
    participant: Option<&str>,
    kind: &str,
    subject: Option<&str>,
    codes: &[String],
    detail: &Value,
) -> Result<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO review_items (id, tenant_id, participant_id, kind, subject_id, retourcodes, detail, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8)",
    )
    .bind(&id)
    .bind(tenant)
    .bind(participant)
    .bind(kind)
    .bind(subject)
    .bind(serde_json::to_string(codes)?)
    .bind(detail.to_string())
    .bind(now())
    .execute(&mut **tx)
    .await
    .context("storing a review item")?;
    Ok(id)
}

/// An outbound message that an answer quotes.
struct Heen {
    id: String,
    participant_id: Option<String>,
    raw: Vec<u8>,
}

/// The message an answer quotes: by BerichtIdentificatie, without the
/// sender that leads the TR056 index (`messages_quoted`).
pub(crate) const FIND_HEEN: &str = "SELECT id, participant_id, raw, raw_encoding FROM messages WHERE tenant_id = $1 \
     AND direction = 'out' AND bericht = $2 AND receiver = $3 AND identificatie = $4 AND dagtekening = $5";

/// Links an answer to its heenbericht unless one is linked already
/// (`messages_answer_of`).
pub(crate) const LINK_ANSWER: &str = "UPDATE messages SET answer_of = $1 WHERE id = $2 \
     AND NOT EXISTS (SELECT 1 FROM messages a WHERE a.answer_of = $1)";

/// Our outbound message that `answer` quotes.
async fn find_heen(tx: &mut Tx, answer: &Answer<'_>) -> Result<Option<Heen>> {
    let row = sqlx::query(FIND_HEEN)
        .bind(answer.tenant)
        .bind(answer.msg.def().answers.as_deref().unwrap_or_default())
        .bind(answer.gemeente)
        .bind(answer.ident)
        .bind(answer.dagtekening)
        .fetch_optional(&mut **tx)
        .await
        .context("looking up the answered message")?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(Heen {
        id: r.try_get("id")?,
        participant_id: r.try_get("participant_id")?,
        raw: crate::store::body::unpack(
            &r.try_get::<String, _>("raw_encoding")?,
            r.try_get("raw")?,
        )?,
    }))
}

/// Links the answer to the message it answers. Only the first answer is
/// linked: a message has one answer (`answer_id` in `GET /messages/{id}`).
async fn link_answer(tx: &mut Tx, answer: &str, heen: &str) -> Result<()> {
    sqlx::query(LINK_ANSWER)
        .bind(heen)
        .bind(answer)
        .execute(&mut **tx)
        .await
        .context("linking the answer")?;
    Ok(())
}

/// The answer being applied, and which of our messages it quotes.
struct Answer<'a> {
    tenant: &'a str,
    msg: &'a Message,
    message_id: &'a str,
    participant: Option<&'a str>,
    /// The municipality: a 325 comes from it (Afzender); a retour repeats
    /// our header, so there it is the Ontvanger.
    gemeente: &'a str,
    /// Our BerichtIdentificatie: DeclaratieIdentificatie in a 325, the
    /// copied BerichtIdentificatie in a retour.
    ident: &'a str,
    dagtekening: &'a str,
}

impl<'a> Answer<'a> {
    fn new(
        tenant: &'a Tenant,
        msg: &'a Message,
        message_id: &'a str,
        participant: Option<&'a str>,
    ) -> Self {
        let (gemeente, quoted) = match msg.def().role {
            Role::Antwoord => ("Header/Afzender", "Header/DeclaratieIdentificatie"),
            _ => ("Header/Ontvanger", "Header/BerichtIdentificatie"),
        };
        let q = msg.get(quoted);
        Answer {
            tenant: &tenant.id,
            msg,
            message_id,
            participant,
            gemeente: msg.value(gemeente).unwrap_or_default(),
            ident: q.and_then(|q| q.value("Identificatie")).unwrap_or_default(),
            dagtekening: q.and_then(|q| q.value("Dagtekening")).unwrap_or_default(),
        }
    }

    /// A remark about the answer as a whole (`unmatched_answer`): it could
    /// not be placed or applied as it stands, so a person checks it. `extra`
    /// (a JSON object) says which message or declaration it is about.
    async fn remark(&self, tx: &mut Tx, extra: Value, reason: (&str, &str)) -> Result<()> {
        let mut detail = json!({
            "bericht": self.msg.name(),
            "answers": self.msg.def().answers,
            "message_id": self.message_id,
            "reason": {"nl": reason.0, "en": reason.1},
        });
        if let (Some(d), Value::Object(extra)) = (detail.as_object_mut(), extra) {
            d.extend(extra);
        }
        let codes = rejecting(&codes(self.msg.get("Header")));
        add_review(
            tx,
            self.tenant,
            self.participant,
            UNMATCHED_ANSWER,
            Some(self.message_id),
            &codes,
            &detail,
        )
        .await?;
        Ok(())
    }

    /// The answer quotes a message loket cannot place (or has answered).
    async fn unmatched(&self, tx: &mut Tx, reason: (&str, &str)) -> Result<()> {
        let quoted = json!({"identificatie": self.ident, "dagtekening": self.dagtekening});
        self.remark(tx, quoted, reason).await
    }
}

// ---------------------------------------------------------------------------
// 325: the declaratie-antwoord.

/// What the 325 says about the declaration's lines.
pub(super) enum Verdict {
    /// Not processed: every line rejected with these codes.
    Refused(Vec<String>),
    /// The lines named (by ReferentieNummer) are rejected with their codes;
    /// every other line is approved.
    Lines(BTreeMap<String, Vec<String>>),
}

/// What a 325 says, per ReferentieNummer: how loket as a provider applies
/// the answer it receives and how loket as a municipality records the
/// answer it gives (one reading of a 325 for both sides).
pub(super) fn verdict_325(msg: &Message) -> Option<Verdict> {
    let header = rejecting(&codes(msg.get("Header")));
    if !header.is_empty() {
        return Some(Verdict::Refused(header));
    }
    let da = msg.get("DeclaratieAntwoord")?;
    let da_codes = rejecting(&codes(Some(da)));
    if !da_codes.is_empty() {
        return Some(Verdict::Refused(da_codes));
    }
    let mut lines = BTreeMap::new();
    for client in da.all("Clienten/Client") {
        let client_codes = rejecting(&codes(Some(client)));
        for p in client.all("Prestaties/Prestatie") {
            let Some(reference) = p.value("ProductReferentie/ReferentieNummer") else {
                continue;
            };
            let own = rejecting(&codes(Some(p)));
            let all = merged(own, &client_codes);
            if !all.is_empty() {
                lines.insert(reference.to_string(), all);
            }
        }
    }
    Some(Verdict::Lines(lines))
}

/// A signed amount (credit negative) of a CDT_TotaalBedragMetDC node.
fn signed_total(node: Option<NodeRef<'_>>) -> Option<i64> {
    let n = node?;
    let v = n.int("TotaalBedrag")?;
    Some(if n.value("DebetCredit") == Some("C") {
        -v
    } else {
        v
    })
}

async fn declaratie_antwoord(tx: &mut Tx, answer: &Answer<'_>) -> Result<()> {
    let (msg, message_id) = (answer.msg, answer.message_id);
    let heen = find_heen(tx, answer).await?;
    let row = match &heen {
        Some(h) => sqlx::query(
            "SELECT id, status, declaratie_nummer, standard FROM declarations WHERE tenant_id = $1 AND message_id = $2",
        )
        .bind(answer.tenant)
        .bind(&h.id)
        .fetch_optional(&mut **tx)
        .await
        .context("looking up the declaration")?,
        None => None,
    };
    let (Some(heen), Some(row)) = (heen, row) else {
        return answer
            .unmatched(
                tx,
                (
                    "Er is geen verzonden declaratie met deze DeclaratieIdentificatie; het antwoord is bewaard maar niet verwerkt.",
                    "No declaration was sent with this DeclaratieIdentificatie; the answer was stored but not applied.",
                ),
            )
            .await;
    };
    let heen_id = heen.id;
    let decl_id: String = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    let nummer: String = row.try_get("declaratie_nummer")?;
    let standard: String = row.try_get("standard")?;
    if status == "answered" {
        return answer
            .unmatched(
            tx,
            (
                "Deze declaratie is al beantwoord; het tweede antwoord is bewaard maar niet verwerkt.",
                "This declaration was already answered; the second answer was stored but not applied.",
            ),
        )
        .await;
    }
    let da = msg.get("DeclaratieAntwoord");
    if let Some(other) = da.and_then(|d| d.value("DeclaratieNummer"))
        && other != nummer
    {
        return answer
            .unmatched(
            tx,
            (
                "Het DeclaratieNummer in het antwoord hoort niet bij de genoemde declaratie; het antwoord is niet verwerkt.",
                "The DeclaratieNummer in the answer does not belong to the declaration it names; the answer was not applied.",
            ),
        )
        .await;
    }
    let Some(verdict) = verdict_325(msg) else {
        return answer
            .unmatched(
            tx,
            (
                "Het antwoord keurt de Header goed maar bevat geen DeclaratieAntwoord; de declaratie blijft onbeantwoord.",
                "The answer approves the Header but has no DeclaratieAntwoord; the declaration stays unanswered.",
            ),
        )
        .await;
    };

    let lines = sqlx::query(
        "SELECT id, participant_id, allocation_id, referentie_nummer, vorig_referentie_nummer, toewijzing_nummer, \
         product_categorie, product_code, period_begin, period_end, volume, eenheid, bedrag_cents, debet_credit \
         FROM prestaties WHERE tenant_id = $1 AND declaration_id = $2 ORDER BY referentie_nummer",
    )
    .bind(answer.tenant)
    .bind(&decl_id)
    .fetch_all(&mut **tx)
    .await
    .context("reading the declared prestaties")?;
    let ts = now();
    let mut seen = BTreeSet::new();
    let mut approved_sum = 0i64;
    for line in &lines {
        let id: String = line.try_get("id")?;
        let reference: String = line.try_get("referentie_nummer")?;
        let vorig: Option<String> = line.try_get("vorig_referentie_nummer")?;
        let dc: String = line.try_get("debet_credit")?;
        let amount: i64 = line.try_get("bedrag_cents")?;
        let rejected = match &verdict {
            Verdict::Refused(c) => Some(c.clone()),
            Verdict::Lines(map) => map.get(&reference).cloned(),
        };
        seen.insert(reference.clone());
        let status = if rejected.is_some() {
            "rejected"
        } else {
            "approved"
        };
        let line_codes = rejected.clone().unwrap_or_default();
        sqlx::query(
            "UPDATE prestaties SET status = $1, retourcodes = $2, answered_at = $3 WHERE id = $4",
        )
        .bind(status)
        .bind(serde_json::to_string(&line_codes)?)
        .bind(&ts)
        .bind(&id)
        .execute(&mut **tx)
        .await?;
        match rejected {
            Some(c) => {
                let s = |col: &str| line.try_get::<Option<String>, _>(col).ok().flatten();
                let detail = json!({
                    "declaration_id": decl_id,
                    "declaratie_nummer": nummer,
                    "answer_message_id": message_id,
                    "referentie_nummer": reference,
                    "vorig_referentie_nummer": vorig,
                    "allocation_id": s("allocation_id"),
                    "toewijzing_nummer": s("toewijzing_nummer"),
                    "product": {"categorie": s("product_categorie"), "code": s("product_code")},
                    "period": {"begin": s("period_begin"), "end": s("period_end")},
                    "volume": line.try_get::<i64, _>("volume").ok(),
                    "eenheid": s("eenheid"),
                    "amount_cents": amount,
                    "debet_credit": dc,
                });
                let participant_id: String = line.try_get("participant_id")?;
                add_review(
                    tx,
                    answer.tenant,
                    Some(&participant_id),
                    REJECTED_PRESTATIE,
                    Some(&id),
                    &c,
                    &detail,
                )
                .await?;
            }
            None => {
                approved_sum += if dc == "C" { -amount } else { amount };
                if dc == "C"
                    && let Some(debit) = &vorig
                {
                    sqlx::query(
                        "UPDATE prestaties SET credited_by = $1 WHERE tenant_id = $2 AND standard = $3 \
                         AND referentie_nummer = $4 AND debet_credit = 'D'",
                    )
                    .bind(&id)
                    .bind(answer.tenant)
                    .bind(&standard)
                    .bind(debit)
                    .execute(&mut **tx)
                    .await?;
                }
            }
        }
    }
    sqlx::query("UPDATE declarations SET status = 'answered', answered_at = $1 WHERE id = $2")
        .bind(&ts)
        .bind(&decl_id)
        .execute(&mut **tx)
        .await?;
    link_answer(tx, message_id, &heen_id).await?;

    if let Verdict::Lines(map) = &verdict {
        let about = json!({"declaration_id": decl_id, "declaratie_nummer": nummer});
        let unknown: Vec<&String> = map.keys().filter(|r| !seen.contains(*r)).collect();
        if !unknown.is_empty() {
            let mut extra = about.clone();
            extra["unknown_referenties"] = json!(unknown);
            answer
                .remark(
                    tx,
                    extra,
                    (
                        "Het antwoord wijst prestaties af die niet in deze declaratie staan.",
                        "The answer rejects claim lines that are not in this declaration.",
                    ),
                )
                .await?;
        }
        let granted = signed_total(da.and_then(|d| d.get("TotaalToegekendBedrag")));
        if let Some(granted) = granted
            && granted != approved_sum
        {
            let mut extra = about;
            extra["granted_cents"] = json!(granted);
            extra["approved_lines_cents"] = json!(approved_sum);
            answer
                .remark(
                    tx,
                    extra,
                    (
                        "Het toegekende totaal wijkt af van de som van de goedgekeurde prestaties.",
                        "The total granted differs from the sum of the approved claim lines.",
                    ),
                )
                .await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// 306, 308, 316, 318: retourberichten to our heenberichten.

/// The product classes of a heenbericht and of its retour (same paths).
fn product_paths(number: &str) -> &'static [&'static str] {
    match number {
        "301" | "302" => &["Client/ToegewezenProducten/ToegewezenProduct"],
        "305" | "306" => &["Client/StartProducten/StartProduct"],
        "307" | "308" => &["Client/StopProducten/StopProduct"],
        "315" | "316" => &["Client/AangevraagdeProducten/AangevraagdProduct"],
        "317" | "318" => &[
            "Client/Verzoek/OngewijzigdeProducten/OngewijzigdProduct",
            "Client/Verzoek/TeWijzigenProducten/TeWijzigenProduct",
            "Client/Verzoek/NieuweProducten/NieuwProduct",
        ],
        _ => &[],
    }
}

/// One product of the answered message, with the codes that reject it
/// (empty: accepted).
struct ProductVerdict {
    toewijzing_nummer: Option<String>,
    referentie_aanbieder: Option<String>,
    description: Value,
    codes: Vec<String>,
}

/// What a retour says about our heenbericht.
struct RetourVerdict {
    /// Header-level rejection (the whole message).
    whole: Vec<String>,
    /// Client (and Verzoek) level rejection codes.
    client: Vec<String>,
    products: Vec<ProductVerdict>,
}

impl RetourVerdict {
    fn rejected(&self) -> bool {
        !self.whole.is_empty()
            || !self.client.is_empty()
            || self.products.iter().any(|p| !p.codes.is_empty())
    }

    fn all_codes(&self) -> Vec<String> {
        let mut out = merged(self.whole.clone(), &self.client);
        for p in &self.products {
            out = merged(out, &p.codes);
        }
        out
    }
}

/// A product as a person finds it again: no BSN, no name.
fn describe(p: NodeRef<'_>) -> Value {
    json!({
        "class": p.name(),
        "toewijzing_nummer": p.value("ToewijzingNummer"),
        "referentie_aanbieder": p.value("ReferentieAanbieder"),
        "product": {"categorie": p.value("Product/Categorie"), "code": p.value("Product/Code")},
        "begindatum": p.value("Begindatum")
            .or_else(|| p.value("GewensteIngangsdatum"))
            .or_else(|| p.value("ToewijzingIngangsdatum")),
        "einddatum": p.value("Einddatum").or_else(|| p.value("ToewijzingEinddatum")),
        "status_aanlevering": p.value("StatusAanlevering"),
    })
}

fn products_of(
    msg: &Message,
    codes_for: impl Fn(NodeRef<'_>) -> Vec<String>,
) -> Vec<ProductVerdict> {
    product_paths(&msg.def().number)
        .iter()
        .flat_map(|path| msg.root().all(path))
        .map(|p| ProductVerdict {
            toewijzing_nummer: p.value("ToewijzingNummer").map(str::to_string),
            referentie_aanbieder: p.value("ReferentieAanbieder").map(str::to_string),
            description: describe(p),
            codes: codes_for(p),
        })
        .collect()
}

/// Judges a retour. The products come from the retour when it mirrors the
/// client (then each carries its own codes), otherwise from our heenbericht
/// (`heen`), which a header-only retour does not repeat.
fn judge(retour: &Message, heen: Option<&Message>) -> RetourVerdict {
    let whole = rejecting(&codes(retour.get("Header")));
    if !whole.is_empty() {
        let products = heen
            .map(|h| products_of(h, |_| whole.clone()))
            .unwrap_or_default();
        return RetourVerdict {
            whole,
            client: Vec::new(),
            products,
        };
    }
    match retour.get("Client") {
        Some(client) => {
            let client_codes = merged(
                rejecting(&codes(Some(client))),
                &rejecting(&codes(client.get("Verzoek"))),
            );
            let products = products_of(retour, |p| {
                merged(rejecting(&codes(Some(p))), &client_codes)
            });
            RetourVerdict {
                whole,
                client: client_codes,
                products,
            }
        }
        None => RetourVerdict {
            whole,
            client: Vec::new(),
            products: heen
                .map(|h| products_of(h, |_| Vec::new()))
                .unwrap_or_default(),
        },
    }
}

async fn retour(tx: &mut Tx, answer: &Answer<'_>) -> Result<()> {
    let (msg, message_id) = (answer.msg, answer.message_id);
    let number = msg.def().number.as_str();
    let Some(heen) = find_heen(tx, answer).await? else {
        return answer
            .unmatched(
            tx,
            (
                "Er is geen verzonden bericht met deze BerichtIdentificatie; het retourbericht is bewaard maar niet verwerkt.",
                "No message was sent with this BerichtIdentificatie; the retour was stored but not applied.",
            ),
        )
        .await;
    };
    link_answer(tx, message_id, &heen.id).await?;
    // Our own message, as we sent it: a header-only retour does not repeat
    // its products. It was checked when it was written, so a failure here is
    // a damaged row, reported without its content.
    let heen_msg = match istandaard::check(msg.schema(), &heen.raw, &Limits::default()) {
        Ok(c) => Some(c.message),
        Err(e) => {
            tracing::warn!(message_id = %heen.id, error = %e, "stored outbound message does not decode");
            None
        }
    };
    let participant = match (answer.participant, &heen.participant_id, &heen_msg) {
        (Some(p), _, _) => Some(p.to_string()),
        (None, Some(p), _) => Some(p.clone()),
        (None, None, Some(h)) => participant_id_for(tx, answer.tenant, h).await?,
        (None, None, None) => None,
    };
    if let Some(p) = &participant {
        super::apply::set_message_participant(tx, message_id, p).await?;
    }
    let verdict = judge(msg, heen_msg.as_ref());
    if verdict.rejected() {
        let rejected: Vec<Value> = verdict
            .products
            .iter()
            .filter(|p| !p.codes.is_empty())
            .map(|p| {
                let mut d = p.description.clone();
                d["retourcodes"] = json!(p.codes);
                d
            })
            .collect();
        let detail = json!({
            "bericht": msg.name(),
            "answers": msg.def().answers,
            "heen_message_id": heen.id,
            "message_id": message_id,
            "identificatie": answer.ident,
            "dagtekening": answer.dagtekening,
            "header_retourcodes": verdict.whole,
            "client_retourcodes": verdict.client,
            "rejected_products": rejected,
        });
        add_review(
            tx,
            answer.tenant,
            participant.as_deref(),
            REJECTED_MESSAGE,
            Some(&heen.id),
            &verdict.all_codes(),
            &detail,
        )
        .await?;
    }
    match number {
        "302" | "306" | "308" => {
            let kind = match number {
                "302" => "allocation",
                "306" => "start",
                _ => "stop",
            };
            let Some(p) = &participant else {
                return Ok(());
            };
            for product in &verdict.products {
                let Some(nummer) = &product.toewijzing_nummer else {
                    continue;
                };
                let (status, detail) = if product.codes.is_empty() {
                    (
                        format!("{kind}_confirmed"),
                        format!("{}: bevestigd / confirmed", msg.name()),
                    )
                } else {
                    (
                        format!("{kind}_rejected"),
                        format!(
                            "{}: afgekeurd / rejected ({})",
                            msg.name(),
                            product.codes.join(", ")
                        ),
                    )
                };
                let rows = sqlx::query(
                    "SELECT id FROM allocations WHERE tenant_id = $1 AND participant_id = $2 AND toewijzing_nummer = $3",
                )
                .bind(answer.tenant)
                .bind(p)
                .bind(nummer)
                .fetch_all(&mut **tx)
                .await?;
                for r in rows {
                    let id: String = r.try_get("id")?;
                    add_event(tx, &id, message_id, &status, &detail).await?;
                }
                // A refused start or stop is not current at the counterpart,
                // so it is not current here either.
                if !product.codes.is_empty() && number != "302" {
                    super::delivery::rejected(tx, answer.tenant, &heen.id, nummer).await?;
                }
            }
        }
        "316" | "318" => {
            // A 318 answers one verzoek; a 315 asks per product, so there a
            // rejected product rejects only its own request (below).
            let whole_rejected = !verdict.whole.is_empty()
                || !verdict.client.is_empty()
                || (number == "318" && verdict.rejected());
            let whole = whole_rejected.then(|| verdict.all_codes());
            let rejected: Vec<(&str, &[String])> = verdict
                .products
                .iter()
                .filter(|p| !p.codes.is_empty())
                .filter_map(|p| Some((p.referentie_aanbieder.as_deref()?, p.codes.as_slice())))
                .collect();
            super::requests::retour(
                tx,
                answer.tenant,
                &heen.id,
                message_id,
                whole.as_deref(),
                &rejected,
            )
            .await?;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Schema;

    fn parse(path: &str) -> Message {
        let raw = std::fs::read(format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR")))
            .expect("fixture");
        let c = istandaard::check(Schema::builtin().expect("schema"), &raw, &Limits::default())
            .expect("decodes");
        assert!(c.is_valid(), "{path}: {:?}", c.findings);
        c.message
    }

    #[test]
    fn a_retour_is_addressed_to_the_sender_of_its_heenbericht() {
        let r = parse("iwmo/valid/WMO306_afgekeurd_startproduct.xml");
        assert_eq!(addressee(&r), Some("73730112"));
        let a = parse("iwmo/valid/WMO325_afgewezen_prestaties.xml");
        assert_eq!(addressee(&a), Some("73730112"));
        let h = parse("iwmo/valid/WMO305_start_meerdere.xml");
        assert_eq!(addressee(&h), Some("0200"));
    }

    #[test]
    fn verdicts_of_the_325_fixtures() {
        let Some(Verdict::Lines(lines)) =
            verdict_325(&parse("iwmo/valid/WMO325_afgewezen_prestaties.xml"))
        else {
            panic!("partial rejection is per line");
        };
        assert_eq!(lines.len(), 2);
        assert_eq!(lines["P1-2607-D02"], ["9322"]);
        assert_eq!(lines["P2-2607-D02"], ["0611"]);
        let Some(Verdict::Lines(none)) =
            verdict_325(&parse("iwmo/valid/WMO325_volledig_akkoord.xml"))
        else {
            panic!("8001 approves every line");
        };
        assert!(none.is_empty());
        let Some(Verdict::Refused(codes)) =
            verdict_325(&parse("iwmo/valid/WMO325_declaratie_afgewezen.xml"))
        else {
            panic!("9333 refuses the declaration");
        };
        assert_eq!(codes, ["9333"]);
    }

    #[test]
    fn below_a_rejected_client_lines_carry_0233_and_the_clients_codes() {
        let path = format!(
            "{}/fixtures/iwmo/valid/WMO325_afgewezen_prestaties.xml",
            env!("CARGO_MANIFEST_DIR")
        );
        let xml = std::fs::read_to_string(path).expect("fixture");
        // First client rejected as a whole (8021): its line is not assessed.
        let client_codes =
            "</wmo325:Prestaties>\n        <wmo325:RetourCodes>\n          <wmo325:RetourCode>0200";
        assert!(xml.contains(client_codes));
        let xml = xml
            .replacen(client_codes, &client_codes.replace(">0200", ">8021"), 1)
            .replace(">9322<", ">0233<");
        let c = istandaard::check(
            Schema::builtin().expect("schema"),
            xml.as_bytes(),
            &Limits::default(),
        )
        .expect("decodes");
        let Some(Verdict::Lines(lines)) = verdict_325(&c.message) else {
            panic!("per line");
        };
        assert_eq!(lines["P1-2607-D02"], ["0233", "8021"]);
        assert_eq!(lines["P2-2607-D02"], ["0611"]);
    }

    #[test]
    fn a_306_rejects_only_the_products_it_marks() {
        let heen = parse("iwmo/valid/WMO305_start_meerdere.xml");
        let v = judge(
            &parse("iwmo/valid/WMO306_afgekeurd_startproduct.xml"),
            Some(&heen),
        );
        assert!(v.rejected());
        let by_number: Vec<(Option<&str>, &[String])> = v
            .products
            .iter()
            .map(|p| (p.toewijzing_nummer.as_deref(), p.codes.as_slice()))
            .collect();
        assert_eq!(
            by_number,
            [
                (Some("300251"), &[][..]),
                (Some("300252"), &["9019".to_string()][..])
            ]
        );
        let ok = judge(
            &parse("iwmo/valid/WMO306_akkoord_alleen_header.xml"),
            Some(&heen),
        );
        assert!(!ok.rejected());
        assert_eq!(ok.products.len(), 2, "products come from the heenbericht");
        let full = judge(&parse("iwmo/valid/WMO306_volledig_0200.xml"), Some(&heen));
        assert!(!full.rejected());
    }
}
