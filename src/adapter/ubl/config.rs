//! Settings of the UBL adapter: the `[invoice]` section of an invoiced
//! financier's mapping (`mappings/*.toml`, checked against
//! `schemas/mappings/mapping.json`): who sends and who pays, how to pay,
//! and how VAT applies to the contract.

use serde::Deserialize;

use super::rules::business::{self, Checks};
use super::structure;

/// Which e-invoicing specification an invoice claims (BT-24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Customization {
    /// Peppol BIS Billing 3.0: what a Peppol access point (UWV, most
    /// municipalities) takes.
    Peppol,
    /// NLCIUS (SI-UBL 2.0), the Dutch core invoice usage specification.
    Nlcius,
}

impl Customization {
    /// The CustomizationID written, from `schemas/ubl/structure.toml`.
    pub fn id(self) -> String {
        let key = match self {
            Customization::Peppol => "peppol",
            Customization::Nlcius => "nlcius",
        };
        structure::get()
            .ok()
            .and_then(|s| s.customizations.get(key).cloned())
            .unwrap_or_default()
    }

    /// The ProfileID that goes with it (Peppol only).
    pub fn profile(self) -> Option<String> {
        match self {
            Customization::Peppol => structure::get()
                .ok()
                .and_then(|s| s.profiles.get("peppol").cloned()),
            Customization::Nlcius => None,
        }
    }
}

/// A party as the mapping describes it. The seller is the provider, the
/// buyer the financier.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartySettings {
    pub name: String,
    /// Chamber of commerce number (KvK, scheme 0106).
    pub kvk: Option<String>,
    /// Government organisation number (OIN, scheme 0190): what UWV and
    /// municipalities are identified by.
    pub oin: Option<String>,
    pub vat_id: Option<String>,
    pub street: String,
    pub city: String,
    pub postal_zone: String,
    pub country: String,
    /// The seller's e-mail: the Dutch government mails problems with an
    /// invoice there (handreiking basisfactuur Rijk 2.8).
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl PartySettings {
    /// The legal registration written (BT-30/BT-47): the OIN for a public
    /// body, otherwise the KvK number.
    pub fn company_id(&self) -> Option<(String, String)> {
        self.oin
            .as_ref()
            .map(|o| ("0190".to_string(), o.clone()))
            .or_else(|| self.kvk.as_ref().map(|k| ("0106".to_string(), k.clone())))
    }
}

/// How VAT applies: care and re-integration are usually exempt (article 11
/// Wet OB), some contracts are at the standard rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VatSettings {
    /// Category E with the reason (text, and the VATEX code when known).
    Exempt {
        reason: String,
        code: Option<String>,
    },
    /// Category S at `percent`.
    Standard { percent: u32 },
}

impl VatSettings {
    pub fn category(&self) -> &'static str {
        match self {
            VatSettings::Exempt { .. } => "E",
            VatSettings::Standard { .. } => "S",
        }
    }

    pub fn percent(&self) -> u32 {
        match self {
            VatSettings::Exempt { .. } => 0,
            VatSettings::Standard { percent } => *percent,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVat {
    category: String,
    percent: Option<u32>,
    exemption_reason: Option<String>,
    exemption_code: Option<String>,
}

/// The `[invoice]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceSettings {
    pub customization: Customization,
    pub currency: String,
    pub seller: PartySettings,
    pub buyer: PartySettings,
    /// BT-10: the reference the buyer asked for (a cost centre, a
    /// department code); Peppol wants it or an order reference.
    pub buyer_reference: Option<String>,
    /// The seller's account the buyer pays into.
    pub iban: String,
    /// Days after the issue date the invoice is due.
    pub payment_days: u32,
    pub vat: VatSettings,
    /// What loket's own business checks do to this financier's invoices
    /// (`checks = { "LOKET-ORDER" = "error" }`): UWV refuses an invoice
    /// without its order reference, a social-impact contract has none.
    pub checks: Checks,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInvoice {
    customization: Customization,
    currency: Option<String>,
    seller: PartySettings,
    buyer: PartySettings,
    buyer_reference: Option<String>,
    iban: String,
    payment_days: u32,
    vat: RawVat,
    #[serde(default)]
    checks: Checks,
}

impl RawInvoice {
    /// The settings, or what is wrong with them (the schema already checked
    /// shapes; this checks what needs two fields at once).
    pub(crate) fn settings(self) -> Result<InvoiceSettings, (String, String)> {
        let vat = match (self.vat.category.as_str(), self.vat.percent) {
            ("E", _) => VatSettings::Exempt {
                reason: self.vat.exemption_reason.ok_or((
                    "/invoice/vat/exemption_reason".to_string(),
                    "VAT category E needs exemption_reason (BR-E-10)".to_string(),
                ))?,
                code: self.vat.exemption_code,
            },
            ("S", Some(p)) if p > 0 => VatSettings::Standard { percent: p },
            (other, _) => {
                return Err((
                    "/invoice/vat".to_string(),
                    format!("VAT category {other:?} needs percent > 0 (BR-S-05)"),
                ));
            }
        };
        if self.seller.vat_id.is_none() {
            return Err((
                "/invoice/seller/vat_id".to_string(),
                "the seller's VAT identifier is required with VAT category E or S (BR-E-02, BR-S-02)"
                    .to_string(),
            ));
        }
        if self.seller.company_id().is_none() || self.buyer.company_id().is_none() {
            return Err((
                "/invoice".to_string(),
                "seller and buyer each need kvk or oin (handreiking basisfactuur Rijk 2.2, 3.2)"
                    .to_string(),
            ));
        }
        let known = business::ids();
        if let Some(id) = self.checks.keys().find(|k| !known.contains(&k.as_str())) {
            return Err((
                "/invoice/checks".to_string(),
                format!(
                    "unknown check {id:?}; loket's checks are {}",
                    known.join(", ")
                ),
            ));
        }
        Ok(InvoiceSettings {
            customization: self.customization,
            currency: self.currency.unwrap_or_else(|| "EUR".to_string()),
            seller: self.seller,
            buyer: self.buyer,
            buyer_reference: self.buyer_reference,
            iban: self.iban.replace(' ', ""),
            payment_days: self.payment_days,
            vat,
            checks: self.checks,
        })
    }
}
