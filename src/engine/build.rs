//! Writing what the engine decided as iStandaarden messages: WMO323/JW323
//! declarations, and the WMO305/JW305 start and WMO307/JW307 stop messages.
//! The messages are built as trees in schema order ([`Builder`]) and then
//! checked exactly like an incoming message before they may leave.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde_json::Value;

use super::compute::{Allocation, Line, Participant};
use crate::adapter::istandaard::encode::Builder;
use crate::mapping::Period;
use crate::message::{Message, NodeId};
use crate::record::apply::Tx;
use crate::schema::Schema;

/// A new identifier of at most `len` characters, letters and digits only
/// (BerichtIdentificatie and DeclaratieNummer allow 12, ReferentieNummer
/// 20): milliseconds since 2020 in base 36, then a per-process counter. They
/// grow over time, so they sort as they were made, and the database's
/// unique constraints (TR314, TR333) catch the impossible collision.
pub fn new_identifier(len: usize) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| rand::random::<u64>() % 1_000_000);
    let n = start + COUNTER.fetch_add(1, Ordering::Relaxed);
    let millis = (chrono::Utc::now().timestamp_millis() - 1_577_836_800_000).max(0) as u64;
    let head = base36(millis);
    let tail_len = len.saturating_sub(head.len()).max(1);
    let tail = base36(n % 36u64.pow(tail_len.min(12) as u32));
    format!("{head}{tail:0>tail_len$}")
}

/// A participant as the Client block of a heenbericht needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClientRow {
    pub bsn: String,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
    pub name_json: String,
}

/// The participant `participant_id` as [`client_block`] writes it.
pub async fn client_row(tx: &mut Tx, participant_id: &str) -> Result<ClientRow> {
    sqlx::query_as::<_, ClientRow>(
        "SELECT bsn, birth_date, gender, name_json FROM participants WHERE id = $1",
    )
    .bind(participant_id)
    .fetch_one(&mut **tx)
    .await
    .context("reading the participant for the Client block")
}

/// Adds the Client with what every provider's heenbericht that names the
/// client in full (305, 307, 315) starts with: Bsn, Geboortedatum, Geslacht
/// and the short Naam, from the record. A birth date or name the record does
/// not have is sent as the standard's "unknown" (DatumGebruik 3, Geslacht 0),
/// not invented. Returns the Client node for the message's own elements.
pub fn client_block(b: &mut Builder, row: &ClientRow) -> Result<NodeId> {
    let client = b.add(0, "Client")?;
    b.value(client, "Bsn", &row.bsn)?;
    let geb = b.add(client, "Geboortedatum")?;
    match &row.birth_date {
        Some(d) => b.value(geb, "Datum", d)?,
        // Unknown birth date: the standard's convention (DatumGebruik 3).
        None => {
            b.value(geb, "Datum", "1900-01-01")?;
            b.value(geb, "DatumGebruik", "3")?
        }
    };
    b.value(client, "Geslacht", row.gender.as_deref().unwrap_or("0"))?;
    let name: Value = serde_json::from_str(&row.name_json).unwrap_or(Value::Null);
    let naam = b.add(client, "Naam")?;
    let gn = b.add(naam, "Geslachtsnaam")?;
    let achternaam = name
        .pointer("/Geslachtsnaam/Achternaam")
        .and_then(Value::as_str)
        .unwrap_or("Onbekend");
    b.value(gn, "Achternaam", achternaam)?;
    b.opt(
        gn,
        "Voorvoegsel",
        name.pointer("/Geslachtsnaam/Voorvoegsel")
            .and_then(Value::as_str),
    )?;
    b.opt(
        naam,
        "Voornamen",
        name.get("Voornamen").and_then(Value::as_str),
    )?;
    b.opt(
        naam,
        "Voorletters",
        name.get("Voorletters").and_then(Value::as_str),
    )?;
    Ok(client)
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A line with the reference it is sent under.
pub struct Numbered<'a> {
    pub line: &'a Line,
    pub allocation: &'a Allocation,
    pub participant: &'a Participant,
    pub referentie: String,
}

/// The header and body of one declaration.
pub struct Declaratie<'a> {
    /// "WMO" or "JW".
    pub prefix: &'a str,
    pub afzender: &'a str,
    pub ontvanger: &'a str,
    pub identificatie: &'a str,
    pub nummer: &'a str,
    pub period: Period,
    pub dagtekening: NaiveDate,
}

/// Builds a WMO323/JW323 with one Client per BSN (in the order given) and
/// the net total.
pub fn declaratie(
    schema: &'static Schema,
    d: &Declaratie<'_>,
    lines: &[Numbered<'_>],
) -> Result<Message> {
    let mut b = Builder::heenbericht(
        schema,
        &format!("{}323", d.prefix),
        d.afzender,
        d.ontvanger,
        d.identificatie,
        d.dagtekening,
    )?;
    let decl = b.add(0, "Declaratie")?;
    b.value(decl, "DeclaratieNummer", d.nummer)?;
    let per = b.add(decl, "DeclaratiePeriode")?;
    b.value(per, "Begindatum", &d.period.start.to_string())?;
    b.value(per, "Einddatum", &d.period.end.to_string())?;
    b.value(decl, "DeclaratieDagtekening", &d.dagtekening.to_string())?;
    let net: i128 = lines
        .iter()
        .map(|n| {
            let a = i128::from(n.line.declared.bedrag);
            if n.line.credits.is_some() { -a } else { a }
        })
        .sum();
    let total = b.add(decl, "TotaalIngediendBedrag")?;
    b.value(total, "TotaalBedrag", &net.unsigned_abs().to_string())?;
    b.value(total, "DebetCredit", if net < 0 { "C" } else { "D" })?;
    let clienten = b.add(decl, "Clienten")?;
    let mut current: Option<(&str, crate::message::NodeId)> = None;
    for n in lines {
        let bsn = n.participant.bsn.as_str();
        let prestaties = match current {
            Some((c, p)) if c == bsn => p,
            _ => {
                let client = b.add(clienten, "Client")?;
                b.value(client, "Bsn", bsn)?;
                let p = b.add(client, "Prestaties")?;
                current = Some((bsn, p));
                p
            }
        };
        let p = b.add(prestaties, "Prestatie")?;
        let r = b.add(p, "ProductReferentie")?;
        b.value(r, "ReferentieNummer", &n.referentie)?;
        b.opt(r, "VorigReferentieNummer", n.line.credits.as_deref())?;
        b.value(p, "ToewijzingNummer", &n.allocation.toewijzing_nummer)?;
        b.value(p, "ProductCategorie", &n.allocation.product.categorie)?;
        b.value(p, "ProductCode", &n.allocation.product.code)?;
        let pp = b.add(p, "ProductPeriode")?;
        b.value(pp, "Begindatum", &n.line.period.start.to_string())?;
        b.value(pp, "Einddatum", &n.line.period.end.to_string())?;
        let dcl = &n.line.declared;
        b.value(p, "GeleverdVolume", &dcl.volume.to_string())?;
        b.value(p, "Eenheid", dcl.eenheid.code())?;
        b.opt(
            p,
            "ProductTarief",
            dcl.product_tarief.map(|t| t.to_string()).as_deref(),
        )?;
        let ib = b.add(p, "IngediendBedrag")?;
        b.value(ib, "Bedrag", &dcl.bedrag.to_string())?;
        b.value(
            ib,
            "DebetCredit",
            if n.line.credits.is_some() { "C" } else { "D" },
        )?;
    }
    Ok(b.msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_fit_and_differ() {
        let a = new_identifier(12);
        let b = new_identifier(12);
        assert_eq!(a.len(), 12, "{a}");
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(new_identifier(20).len(), 20);
    }
}
