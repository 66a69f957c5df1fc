//! The normalized declaration line: what a financier is asked to pay for,
//! whatever format carried it.
//!
//! A municipality receives WMO323/JW323 declarations for Wmo and Jeugdwet
//! and UBL invoices for Participatiewet (and a provider sends both). Both
//! come down to the same lines (who, what, when, how much, debit or credit),
//! so the municipality's side handles one kind of line: the 323 decoder
//! ([`from_declaratie`]) and the UBL decoder
//! ([`crate::adapter::ubl::decode::lines`]) both produce [`DeclarationLine`].

use serde::Serialize;

use crate::message::Message;

/// Debit (to be paid) or credit (cancels an earlier debit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DebitCredit {
    #[serde(rename = "D")]
    Debit,
    #[serde(rename = "C")]
    Credit,
}

/// One line of a declaration or invoice. Amounts are whole cents, always
/// positive: the direction is `debit_credit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeclarationLine {
    /// The line's own identification (ReferentieNummer, invoice line ID).
    pub line_id: String,
    /// The document that holds it (DeclaratieNummer, invoice number).
    pub document: String,
    /// The earlier line or document this credit cancels, when it says so
    /// (VorigReferentieNummer; the invoice a credit note refers to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits: Option<String>,
    /// How the sender identifies the participant to this financier: the BSN
    /// in a 323 (the standard's key), the client number on an invoice
    /// (never a BSN).
    pub participant: String,
    /// The product or service (productcode, or the invoice item's name).
    pub product: String,
    /// The allocation or order it is delivered under (ToewijzingNummer,
    /// order reference and order line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_end: Option<String>,
    /// The quantity as a decimal number, always positive.
    pub quantity: String,
    /// The unit: WJ756 eenheid for a 323, UN/ECE recommendation 20 for UBL.
    pub unit: String,
    /// Price per unit in the document's currency, as a decimal, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<String>,
    pub amount_cents: i64,
    pub currency: String,
    pub debit_credit: DebitCredit,
}

/// The lines of a WMO323/JW323 (its Prestaties), in message order; empty
/// for any other message.
pub fn from_declaratie(msg: &Message) -> Vec<DeclarationLine> {
    let document = msg.value("Declaratie/DeclaratieNummer").unwrap_or_default();
    let mut out = Vec::new();
    for client in msg.root().all("Declaratie/Clienten/Client") {
        let bsn = client.value("Bsn").unwrap_or_default();
        for p in client.all("Prestaties/Prestatie") {
            let credit = p.value("IngediendBedrag/DebetCredit") == Some("C");
            let text = |path: &str| p.value(path).map(str::to_string);
            out.push(DeclarationLine {
                line_id: text("ProductReferentie/ReferentieNummer").unwrap_or_default(),
                document: document.to_string(),
                credits: text("ProductReferentie/VorigReferentieNummer"),
                participant: bsn.to_string(),
                product: format!(
                    "{}{}",
                    p.value("ProductCategorie").unwrap_or_default(),
                    p.value("ProductCode").unwrap_or_default()
                ),
                order_reference: text("ToewijzingNummer"),
                period_start: text("ProductPeriode/Begindatum"),
                period_end: text("ProductPeriode/Einddatum"),
                quantity: p.int("GeleverdVolume").unwrap_or(0).to_string(),
                unit: text("Eenheid").unwrap_or_default(),
                unit_price: p.int("ProductTarief").map(cents_text),
                amount_cents: p.int("IngediendBedrag/Bedrag").unwrap_or(0),
                currency: "EUR".into(),
                debit_credit: if credit {
                    DebitCredit::Credit
                } else {
                    DebitCredit::Debit
                },
            });
        }
    }
    out
}

/// Cents as a decimal amount: 5398 -> "53.98", -5 -> "-0.05".
pub fn cents_text(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}{}.{:02}", c / 100, c % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_323_becomes_normalized_lines() {
        let schema = crate::schema::Schema::builtin().expect("schema");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/iwmo/valid");
        let file = std::fs::read_dir(&dir)
            .expect("fixtures")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().contains("WMO323"))
            .expect("a WMO323 fixture");
        let bytes = std::fs::read(file).expect("read");
        let checked = crate::adapter::istandaard::check(
            schema,
            &bytes,
            &crate::adapter::istandaard::Limits::default(),
        )
        .expect("decodes");
        let lines = from_declaratie(&checked.message);
        let prestaties = checked
            .message
            .root()
            .all("Declaratie/Clienten/Client/Prestaties/Prestatie");
        assert_eq!(lines.len(), prestaties.len());
        assert!(!lines.is_empty());
        let total: i64 = lines
            .iter()
            .map(|l| match l.debit_credit {
                DebitCredit::Debit => l.amount_cents,
                DebitCredit::Credit => -l.amount_cents,
            })
            .sum();
        let declared = checked
            .message
            .root()
            .int("Declaratie/TotaalIngediendBedrag/TotaalBedrag")
            .expect("total");
        assert_eq!(total.abs(), declared);
        assert_eq!(cents_text(5398), "53.98");
        assert_eq!(cents_text(-5), "-0.05");
    }
}
