//! The UBL 2.1 adapter: e-invoices (Invoice and CreditNote) in Peppol BIS
//! Billing 3.0 and the Dutch NLCIUS, for financiers paid on invoice (UWV, a
//! municipality's Participatiewet department, a social-impact contract).
//!
//! One model ([`Document`]) serves both directions: the engine fills it and
//! [`encode`] writes it; [`decode`] reads one back, checking the structure
//! UBL 2.1 requires for every aggregate loket interprets
//! (`schemas/ubl/structure.toml`), and [`rules`] checks the EN 16931 business
//! rules (`schemas/ubl/rules.toml`): totals, rounding, VAT breakdown,
//! mandatory fields, code lists. An outgoing invoice is judged exactly as an
//! incoming one, by writing and reading it back ([`check_outgoing`]).

pub mod config;
pub mod decode;
pub mod encode;
pub mod rules;
mod structure;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::fmt;

use serde::Serialize;

pub use config::{InvoiceSettings, VatSettings};
pub use decode::{Checked, DecodeError, check};

use crate::adapter::istandaard::Limits;

/// Invoice or credit note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    Invoice,
    CreditNote,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Invoice => "Invoice",
            Kind::CreditNote => "CreditNote",
        }
    }
}

/// A decimal number as UBL writes it: `units` scaled by `10^scale`.
/// Amounts must not pass through floating point: 0.1 + 0.2 is not 0.3 there,
/// and EN 16931 compares totals to the cent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dec {
    pub units: i128,
    pub scale: u32,
}

impl Dec {
    pub const ZERO: Dec = Dec { units: 0, scale: 0 };

    pub fn cents(c: i64) -> Dec {
        Dec {
            units: i128::from(c),
            scale: 2,
        }
    }

    pub fn int(i: i64) -> Dec {
        Dec {
            units: i128::from(i),
            scale: 0,
        }
    }

    /// Parses `-12.50`, `3250`, `+7`; no exponent, no thousands separators.
    pub fn parse(s: &str) -> Option<Dec> {
        let s = s.trim();
        let (neg, digits) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || int.len() + frac.len() > 30
        {
            return None;
        }
        let units: i128 = format!("{int}{frac}").parse().ok()?;
        Some(Dec {
            units: if neg { -units } else { units },
            scale: frac.len() as u32,
        })
    }

    fn rescale(self, scale: u32) -> i128 {
        self.units * 10i128.pow(scale.saturating_sub(self.scale))
    }

    pub fn is_negative(self) -> bool {
        self.units < 0
    }

    pub fn is_zero(self) -> bool {
        self.units == 0
    }

    /// Significant decimals: 12.50 has one, 12.00 none.
    pub fn decimals(self) -> u32 {
        let mut d = self.scale;
        let mut u = self.units;
        while d > 0 && u % 10 == 0 {
            u /= 10;
            d -= 1;
        }
        d
    }

    /// Rounded to `scale` decimals, half away from zero (how amounts are
    /// rounded in EN 16931's examples and by Dutch bookkeeping).
    pub fn round(self, scale: u32) -> Dec {
        if self.scale <= scale {
            return Dec {
                units: self.rescale(scale),
                scale,
            };
        }
        let div = 10i128.pow(self.scale - scale);
        let q = self.units / div;
        let r = self.units % div;
        let q = if r.abs() * 2 >= div {
            q + self.units.signum()
        } else {
            q
        };
        Dec { units: q, scale }
    }

    /// Whole cents, when the value has at most two decimals.
    pub fn to_cents(self) -> Option<i64> {
        if self.decimals() > 2 {
            return None;
        }
        i64::try_from(self.round(2).units).ok()
    }

    pub fn abs(self) -> Dec {
        Dec {
            units: self.units.abs(),
            scale: self.scale,
        }
    }
}

impl std::ops::Add for Dec {
    type Output = Dec;
    fn add(self, o: Dec) -> Dec {
        let scale = self.scale.max(o.scale);
        Dec {
            units: self.rescale(scale) + o.rescale(scale),
            scale,
        }
    }
}

impl std::ops::Sub for Dec {
    type Output = Dec;
    fn sub(self, o: Dec) -> Dec {
        self + -o
    }
}

impl std::ops::Neg for Dec {
    type Output = Dec;
    fn neg(self) -> Dec {
        Dec {
            units: -self.units,
            scale: self.scale,
        }
    }
}

impl std::ops::Mul for Dec {
    type Output = Dec;
    fn mul(self, o: Dec) -> Dec {
        Dec {
            units: self.units * o.units,
            scale: self.scale + o.scale,
        }
    }
}

impl PartialEq for Dec {
    fn eq(&self, o: &Dec) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}

impl Eq for Dec {}

impl PartialOrd for Dec {
    fn partial_cmp(&self, o: &Dec) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Dec {
    fn cmp(&self, o: &Dec) -> Ordering {
        let scale = self.scale.max(o.scale);
        self.rescale(scale).cmp(&o.rescale(scale))
    }
}

impl fmt::Display for Dec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.units < 0 { "-" } else { "" };
        let digits = self.units.unsigned_abs().to_string();
        if self.scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let s = self.scale as usize;
        let padded = format!("{digits:0>width$}", width = s + 1);
        let (int, frac) = padded.split_at(padded.len() - s);
        write!(f, "{sign}{int}.{frac}")
    }
}

impl Serialize for Dec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// A party (seller or buyer) as far as loket reads or writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Party {
    /// Electronic address (BT-34/BT-49): (scheme, id), e.g. ("0106", KvK).
    pub endpoint: Option<(String, String)>,
    /// Party identifier (BT-29/BT-46), optionally with its scheme.
    pub identification: Option<(Option<String>, String)>,
    pub trading_name: Option<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub postal_zone: Option<String>,
    pub country: Option<String>,
    /// VAT identifier (BT-31/BT-48).
    pub vat_id: Option<String>,
    /// Legal name (BT-27/BT-44).
    pub registration_name: Option<String>,
    /// Legal registration (BT-30/BT-47): KvK (0106) or OIN (0190).
    pub company_id: Option<(Option<String>, String)>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
}

/// One VAT breakdown (BG-23).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaxSubtotal {
    pub taxable: Dec,
    pub amount: Dec,
    pub category: String,
    pub percent: Option<Dec>,
    pub exemption_reason_code: Option<String>,
    pub exemption_reason: Option<String>,
}

/// A document-level allowance or charge (BG-20/BG-21).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllowanceCharge {
    pub charge: bool,
    pub amount: Dec,
    pub category: Option<String>,
    pub percent: Option<Dec>,
}

/// Document totals (BG-22).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub line_extension: Option<Dec>,
    pub tax_exclusive: Option<Dec>,
    pub tax_inclusive: Option<Dec>,
    pub allowance_total: Option<Dec>,
    pub charge_total: Option<Dec>,
    pub prepaid: Option<Dec>,
    pub rounding: Option<Dec>,
    pub payable: Option<Dec>,
}

/// One invoice or credit note line (BG-25).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Line {
    pub id: String,
    /// Line note (BT-127): loket puts the participant's reference here.
    pub note: Option<String>,
    pub quantity: Option<Dec>,
    pub unit_code: Option<String>,
    pub amount: Option<Dec>,
    /// (start, end) as YYYY-MM-DD.
    pub period: Option<(Option<String>, Option<String>)>,
    /// Referenced purchase order line (BT-132).
    pub order_line: Option<String>,
    pub item_name: Option<String>,
    pub item_description: Option<String>,
    /// Seller's item identifier (BT-155): the product or service code.
    pub item_id: Option<String>,
    pub tax_category: Option<String>,
    pub tax_percent: Option<Dec>,
    pub tax_exemption_reason: Option<String>,
    pub price: Option<Dec>,
    /// Price base quantity (BT-149) and its unit.
    pub base_quantity: Option<Dec>,
}

/// An Invoice or CreditNote, as far as loket reads or writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    pub kind: Kind,
    pub customization_id: Option<String>,
    pub profile_id: Option<String>,
    pub id: Option<String>,
    pub issue_date: Option<String>,
    pub due_date: Option<String>,
    pub type_code: Option<String>,
    pub notes: Vec<String>,
    pub currency: Option<String>,
    pub buyer_reference: Option<String>,
    pub period: Option<(Option<String>, Option<String>)>,
    pub order_reference: Option<String>,
    /// Preceding invoices (BG-3): (number, issue date).
    pub billing_references: Vec<(String, Option<String>)>,
    pub seller: Party,
    pub buyer: Party,
    pub payment_means_code: Option<String>,
    pub payment_id: Option<String>,
    pub payee_account: Option<String>,
    pub payment_terms: Option<String>,
    pub allowance_charges: Vec<AllowanceCharge>,
    pub tax_total: Option<Dec>,
    pub subtotals: Vec<TaxSubtotal>,
    pub totals: Totals,
    pub lines: Vec<Line>,
}

impl Document {
    pub fn new(kind: Kind) -> Document {
        Document {
            kind,
            customization_id: None,
            profile_id: None,
            id: None,
            issue_date: None,
            due_date: None,
            type_code: None,
            notes: Vec::new(),
            currency: None,
            buyer_reference: None,
            period: None,
            order_reference: None,
            billing_references: Vec::new(),
            seller: Party::default(),
            buyer: Party::default(),
            payment_means_code: None,
            payment_id: None,
            payee_account: None,
            payment_terms: None,
            allowance_charges: Vec::new(),
            tax_total: None,
            subtotals: Vec::new(),
            totals: Totals::default(),
            lines: Vec::new(),
        }
    }
}

/// Writes `doc` and reads it back with every check an incoming invoice
/// gets: the bytes that would leave the house are the ones judged.
/// loket's business checks refuse, warn or stay silent as the financier's
/// mapping says (`checks`).
pub fn check_outgoing(
    doc: &Document,
    checks: &rules::business::Checks,
) -> anyhow::Result<(String, Checked)> {
    let xml = encode::encode(doc);
    let direction = rules::business::Direction::Send(checks);
    let checked =
        decode::check_with(xml.as_bytes(), &Limits::outgoing(), direction).map_err(|e| {
            anyhow::anyhow!(
                "generated {} does not decode: {}",
                doc.kind.name(),
                e.bilingual()
            )
        })?;
    Ok((xml, checked))
}

/// Does the input look like UBL (its root is in a UBL document namespace)?
/// A cheap look at the first start tag, so that commands taking both
/// iStandaarden and UBL files can pick the adapter; the chosen decoder
/// does the real checks.
pub fn looks_like_ubl(input: &[u8]) -> bool {
    let head = &input[..input.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    structure::get()
        .map(|s| {
            s.documents
                .values()
                .any(|d| text.contains(d.namespace.as_str()))
        })
        .unwrap_or(false)
        && (text.contains("Invoice") || text.contains("CreditNote"))
}
