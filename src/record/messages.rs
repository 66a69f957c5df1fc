//! Berichten: every message in and out of a tenant, as the message browser
//! lists and shows them (a read model; nothing is stored for it).
//!
//! The list reads `messages` with the outbox state of an outgoing message
//! and the participant it is linked to; filters and the free-text search
//! are SQL, so a page of 50 costs the same with a million messages
//! (`messages_tenant_created`, migration 0028, keeps the newest-first
//! order an index walk). The summary of one message is derived from the
//! schema (`schemas/istandaard`): the message tree is walked as the
//! structure defines it and every value typed by its datatype, so each of
//! the 28 message types reads the same way without a page of its own.

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::AnyPool;

use crate::adapter::istandaard::retourcodes::{Explained, explain, is_approval};
use crate::mapping::units::Eenheid;
use crate::message::NodeRef;
use crate::schema::datatype::Base;
use crate::store::Tenant;

/// A page of the list.
pub const PAGE_SIZE: i64 = 50;

/// One message as the list shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct MessageRow {
    pub id: String,
    /// in | out
    pub direction: String,
    pub standard: Option<String>,
    pub bericht: Option<String>,
    pub sender: Option<String>,
    pub receiver: Option<String>,
    pub identificatie: Option<String>,
    pub dagtekening: Option<String>,
    pub participant_id: Option<String>,
    /// The record's status (accepted, rejected, unusable, queued, sent ...).
    pub status: String,
    /// JSON array of retourcodes, as stored.
    pub retourcodes: String,
    pub conversatie_id: Option<String>,
    pub created_at: String,
    /// queued | sending | sent | failed | held, for an outgoing message.
    pub outbox_state: Option<String>,
    /// The outbox's financier key (`wmo:0363`, `uwv:UWV`).
    pub outbox_financier: Option<String>,
    /// The participant's `naam` JSON, when linked.
    pub participant_name: Option<String>,
    /// The rejecting retourcodes in the message's content (a 325's
    /// rejected lines, a retour's refusal), filled by [`with_content_codes`].
    #[sqlx(skip)]
    pub content_codes: Vec<String>,
}

impl MessageRow {
    /// The state a person cares about: the outbox's for an outgoing
    /// message (it moves), the record's otherwise.
    pub fn state(&self) -> &str {
        self.outbox_state.as_deref().unwrap_or(&self.status)
    }

    /// The other party's code: the sender of what came in, the receiver
    /// of what went out.
    pub fn counterpart_code(&self) -> &str {
        let code = if self.direction == "in" {
            self.sender.as_deref()
        } else {
            self.receiver.as_deref()
        };
        code.unwrap_or_default()
    }

    /// The financier kind of the counterpart (wmo, jeugdwet, uwv ...): the
    /// outbox names it; otherwise the standard does.
    pub fn counterpart_kind(&self) -> &str {
        if let Some((kind, _)) = self
            .outbox_financier
            .as_deref()
            .and_then(|f| f.split_once(':'))
        {
            return kind;
        }
        match self.standard.as_deref() {
            Some("iwmo") => "wmo",
            Some("ijw") => "jeugdwet",
            Some(other) => other,
            None => "",
        }
    }

    /// The retourcodes with their Dutch meaning (WJ001): those loket
    /// stored for the message and the rejecting ones in its content.
    pub fn retourcodes(&self) -> Vec<Explained> {
        let mut codes: Vec<String> = serde_json::from_str(&self.retourcodes).unwrap_or_default();
        for c in &self.content_codes {
            if !codes.contains(c) {
                codes.push(c.clone());
            }
        }
        codes.iter().map(|c| explain(c)).collect()
    }

    pub fn failed(&self) -> bool {
        self.outbox_state.as_deref() == Some(crate::outbox::FAILED)
    }
}

/// What the list is narrowed to; `None` is no filter.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// in | out
    pub direction: Option<String>,
    /// WMO301, JW325, Invoice ...
    pub bericht: Option<String>,
    /// A state (queued, sending, sent, failed, held, accepted, rejected,
    /// unusable), or `mislukt` (delivery failed), `afgekeurd` (refused) or
    /// `retourcodes` (carries retourcodes).
    pub status: Option<String>,
    /// The counterpart's code (0363, UWV, an AGB code).
    pub counterpart: Option<String>,
    /// Stored UTC timestamps: from (inclusive) and until (exclusive).
    pub from: Option<String>,
    pub until: Option<String>,
    /// An identificatie, a ToewijzingNummer, a message id or a
    /// conversation id (exact).
    pub search: Option<String>,
}

const COLUMNS: &str = "m.id, m.direction, m.standard, m.bericht, m.sender, m.receiver, m.identificatie, \
     m.dagtekening, m.participant_id, m.status, m.retourcodes, m.conversatie_id, m.created_at, \
     o.state AS outbox_state, o.financier AS outbox_financier, p.name_json AS participant_name";

const FROM: &str = "FROM messages m LEFT JOIN outbox o ON o.message_id = m.id \
     LEFT JOIN participants p ON p.id = m.participant_id";

/// The WHERE clause of `f` and its text binds ($1 is the tenant): only
/// the filters that are set, so each plan is the plan of what is asked
/// (an index walk for the plain list). A ToewijzingNummer finds the
/// messages that changed its allocation and the declarations that carry
/// it; "met retourcodes" is what loket refused, the answers to a
/// declaration with a rejected line and the retours that refused a request.
fn where_of(tenant: &Tenant, f: &Filter) -> (String, Vec<String>) {
    // `created_at > ''` (always true: a timestamp is never empty) names
    // the condition of the list's own partial index (migration 0028), so
    // this query may walk it and no other query, which never names it, is
    // tempted to.
    let mut sql = String::from("WHERE m.tenant_id = $1 AND m.created_at > ''");
    let mut binds = vec![tenant.id.clone()];
    let arg = |binds: &mut Vec<String>, v: &str| {
        binds.push(v.to_string());
        format!("${}", binds.len())
    };
    if let Some(d) = &f.direction {
        sql += &format!(" AND m.direction = {}", arg(&mut binds, d));
    }
    if let Some(b) = &f.bericht {
        sql += &format!(" AND m.bericht = {}", arg(&mut binds, b));
    }
    match f.status.as_deref() {
        None => {}
        Some("mislukt") => sql += " AND o.state = 'failed'",
        Some("afgekeurd") => sql += " AND m.status IN ('rejected', 'unusable')",
        Some("retourcodes") => {
            sql += " AND (m.retourcodes <> '[]' \
                OR m.answer_of IN (SELECT d.message_id FROM declarations d JOIN prestaties r ON r.declaration_id = d.id \
                    WHERE d.tenant_id = $1 AND r.status = 'rejected') \
                OR m.answer_of IN (SELECT j.message_id FROM judged_prestaties j WHERE j.tenant_id = $1 AND j.status = 'rejected') \
                OR m.id IN (SELECT q.retour_message_id FROM requests q WHERE q.tenant_id = $1 AND q.retourcodes <> '[]'))"
        }
        Some(state) => {
            sql += &format!(
                " AND COALESCE(o.state, m.status) = {}",
                arg(&mut binds, state)
            )
        }
    }
    if let Some(c) = &f.counterpart {
        sql += &format!(
            " AND (CASE WHEN m.direction = 'in' THEN m.sender ELSE m.receiver END) = {}",
            arg(&mut binds, c)
        );
    }
    if let Some(from) = &f.from {
        sql += &format!(" AND m.created_at >= {}", arg(&mut binds, from));
    }
    if let Some(until) = &f.until {
        sql += &format!(" AND m.created_at < {}", arg(&mut binds, until));
    }
    if let Some(q) = &f.search {
        let n = arg(&mut binds, q);
        sql += &format!(
            " AND (m.identificatie = {n} OR m.id = {n} OR m.conversatie_id = {n} OR m.id IN ( \
              SELECT e.message_id FROM allocation_events e JOIN allocations a ON a.id = e.allocation_id \
              WHERE a.tenant_id = $1 AND a.toewijzing_nummer = {n} \
              UNION SELECT d.message_id FROM declarations d JOIN prestaties r ON r.declaration_id = d.id \
              WHERE d.tenant_id = $1 AND r.toewijzing_nummer = {n} \
              UNION SELECT j.message_id FROM judged_prestaties j WHERE j.tenant_id = $1 AND j.toewijzing_nummer = {n}))"
        );
    }
    (sql, binds)
}

/// The list query of `f` (newest first, a page) with its text binds; the
/// page's LIMIT and OFFSET follow as the next two. Public for the
/// query-plan test.
pub fn list_sql(tenant: &Tenant, f: &Filter) -> (String, Vec<String>) {
    let (wh, binds) = where_of(tenant, f);
    let n = binds.len();
    (
        format!(
            "SELECT {COLUMNS} {FROM} {wh} ORDER BY m.created_at DESC, m.id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        ),
        binds,
    )
}

/// A page of the tenant's messages matching `f`, newest first, and how
/// many match in all.
pub async fn list(
    pool: &AnyPool,
    tenant: &Tenant,
    f: &Filter,
    page: i64,
) -> Result<(Vec<MessageRow>, i64)> {
    let (sql, binds) = list_sql(tenant, f);
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for b in &binds {
        q = q.bind(b);
    }
    let rows: Vec<MessageRow> = q
        .bind(PAGE_SIZE)
        .bind(page.max(0) * PAGE_SIZE)
        .fetch_all(pool)
        .await
        .context("reading the message list")?;
    let (wh, binds) = where_of(tenant, f);
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) {FROM} {wh}")));
    for b in &binds {
        q = q.bind(b);
    }
    let (total,): (i64,) = q
        .fetch_one(pool)
        .await
        .context("counting the message list")?;
    Ok((rows, total))
}

/// Whether a message of this name can carry retourcodes in its content
/// (a retourbericht or the 325).
fn answers(bericht: Option<&str>) -> bool {
    let Some(schema) = crate::schema::Schema::builtin().ok() else {
        return false;
    };
    bericht
        .and_then(|b| schema.by_name(b))
        .is_some_and(|k| schema.message(k).role != crate::schema::Role::Heen)
}

/// The rejecting retourcodes anywhere in a message, in document order.
pub fn rejection_codes(msg: &crate::message::Message) -> Vec<String> {
    fn walk(node: NodeRef<'_>, out: &mut Vec<String>) {
        for child in node.children() {
            if child.name() == "RetourCode" {
                let code = child.normalized();
                if !is_approval(code) && !out.iter().any(|c| c == code) {
                    out.push(code.to_string());
                }
            } else {
                walk(child, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(msg.root(), &mut out);
    out
}

/// Fills the content retourcodes of the retours and 325s among `rows`
/// (a page of the list: each is read back from its stored bytes).
pub async fn with_content_codes(
    pool: &AnyPool,
    tenant: &Tenant,
    rows: &mut [MessageRow],
) -> Result<()> {
    for row in rows.iter_mut() {
        if !matches!(row.standard.as_deref(), Some("iwmo" | "ijw"))
            || !answers(row.bericht.as_deref())
        {
            continue;
        }
        let Some(raw) = raw(pool, tenant, &row.id).await? else {
            continue;
        };
        if let Ok(checked) = crate::adapter::istandaard::check(
            crate::schema::Schema::builtin()?,
            &raw,
            &crate::adapter::istandaard::config::Limits::outgoing(),
        ) {
            row.content_codes = rejection_codes(&checked.message);
        }
    }
    Ok(())
}

/// The bytes of a message as exchanged.
pub async fn raw(pool: &AnyPool, tenant: &Tenant, id: &str) -> Result<Option<Vec<u8>>> {
    let row: Option<(Vec<u8>, String)> =
        sqlx::query_as("SELECT raw, raw_encoding FROM messages WHERE tenant_id = $1 AND id = $2")
            .bind(&tenant.id)
            .bind(id)
            .fetch_optional(pool)
            .await
            .context("reading a message's bytes")?;
    row.map(|(raw, encoding)| crate::store::body::unpack(&encoding, raw))
        .transpose()
}

/// The ids of the tenant's outgoing messages whose delivery failed (at
/// most `limit`), for "retry all".
pub async fn failed_ids(pool: &AnyPool, tenant: &Tenant, limit: i64) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT message_id FROM outbox WHERE tenant_id = $1 AND state = $2 ORDER BY created_at, message_id LIMIT $3",
    )
    .bind(&tenant.id)
    .bind(crate::outbox::FAILED)
    .bind(limit)
    .fetch_all(pool)
    .await
    .context("reading the failed outgoing messages")?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// One message of the tenant, as the list shows it.
pub async fn one(pool: &AnyPool, tenant: &Tenant, id: &str) -> Result<Option<MessageRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE m.tenant_id = $1 AND m.id = $2"
    )))
    .bind(&tenant.id)
    .bind(id)
    .fetch_optional(pool)
    .await
    .context("reading a message")
}

/// What the filter choices offer: the message types and counterparts the
/// tenant has messages of.
#[derive(Debug, Default, Clone)]
pub struct Choices {
    pub berichten: Vec<String>,
    /// (code, a row's direction/standard/financier for its label)
    pub counterparts: Vec<MessageRow>,
}

/// The filter choices of a tenant.
pub async fn choices(pool: &AnyPool, tenant: &Tenant) -> Result<Choices> {
    let berichten: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT bericht FROM messages WHERE tenant_id = $1 AND bericht IS NOT NULL ORDER BY bericht",
    )
    .bind(&tenant.id)
    .fetch_all(pool)
    .await
    .context("reading the message types")?;
    // One row per counterpart code; MIN picks a representative for its label.
    let codes: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT c.code, MIN(c.id) FROM (SELECT CASE WHEN m.direction = 'in' THEN m.sender ELSE m.receiver END AS code, \
         m.id FROM messages m WHERE m.tenant_id = $1) c WHERE c.code IS NOT NULL GROUP BY c.code ORDER BY c.code",
    )
    .bind(&tenant.id)
    .fetch_all(pool)
    .await
    .context("reading the counterparts")?;
    let mut counterparts = Vec::new();
    for (_, id) in codes {
        if let Some(id) = id
            && let Some(row) = one(pool, tenant, &id).await?
        {
            counterparts.push(row);
        }
    }
    Ok(Choices {
        berichten: berichten.into_iter().map(|(b,)| b).collect(),
        counterparts,
    })
}

// ---------------------------------------------------------------------------
// The summary of one message, from the schema.

/// A value typed by its datatype, for the page to write the Dutch way.
#[derive(Debug, Clone, Serialize)]
pub enum Value {
    Text(String),
    /// ISO date.
    Date(String),
    /// An amount in cents (LDT_Bedrag, LDT_TotaalBedrag).
    Amount(i64),
    /// A code of a code list, with its meaning where loket knows it.
    Code {
        code: String,
        meaning: Option<&'static str>,
    },
    /// A WJ001 retourcode with its Dutch meaning.
    Retourcode(Explained),
}

/// One value of a section.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub label: String,
    pub value: Value,
}

/// One element with children: its own values, at a depth of the tree.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub title: String,
    pub depth: usize,
    pub fields: Vec<Field>,
}

/// "ToegewezenProduct" as "Toegewezen product".
pub fn label_of(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut prev_lower = false;
    for ch in name.chars() {
        if ch.is_uppercase() && prev_lower {
            out.push(' ');
            out.extend(ch.to_lowercase());
        } else {
            out.push(ch);
        }
        prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
    }
    out
}

/// The meaning of a code of the code lists loket names in Dutch.
fn code_meaning(datatype: &str, code: &str) -> Option<&'static str> {
    Some(match (datatype, code) {
        ("LDT_Eenheid", c) => return Eenheid::from_code(c).map(Eenheid::label_nl),
        ("LDT_Frequentie", c) => {
            return crate::engine::limits::Frequentie::from_code(c)
                .map(crate::engine::limits::Frequentie::label_nl);
        }
        ("LDT_Geslacht", "0") => "onbekend",
        ("LDT_Geslacht", "1") => "man",
        ("LDT_Geslacht", "2") => "vrouw",
        ("LDT_JaNee", "1") => "ja",
        ("LDT_JaNee", "2") => "nee",
        ("LDT_DebetCredit", "D") => "debet",
        ("LDT_DebetCredit", "C") => "credit",
        _ => return None,
    })
}

/// A leaf's value, typed by its datatype.
fn value_of(node: &NodeRef<'_>) -> Value {
    let text = node.normalized().to_string();
    if node.name() == "RetourCode" {
        return Value::Retourcode(explain(&text));
    }
    let Some(dt) = node.datatype() else {
        return Value::Text(text);
    };
    if dt.base == Base::Date {
        return Value::Date(text);
    }
    // LDT_Bedrag, LDT_TotaalBedrag: cents.
    if dt.name.ends_with("Bedrag")
        && let Ok(cents) = text.parse::<i64>()
    {
        return Value::Amount(cents);
    }
    if dt.codes.is_some() {
        return Value::Code {
            meaning: code_meaning(&dt.name, &text),
            code: text,
        };
    }
    Value::Text(text)
}

/// The message as sections, in document order: one per element with
/// children, its leaves as fields; a repeated element is numbered. Where a
/// section has a Volume with an Eenheid, it starts with the two read
/// together ("40 dagdelen per maand").
pub fn summary(msg: &crate::message::Message) -> Vec<Section> {
    let mut out = Vec::new();
    walk(msg.root(), 0, &mut out);
    out
}

/// Elements that only say which version of the standard was used: in the
/// XML, not in the summary.
const TECHNICAL: [&str; 8] = [
    "BerichtCode",
    "BerichtVersie",
    "BerichtSubversie",
    "XsdVersie",
    "XsdVersieRetour",
    "XsdVersieDeclaratie",
    "XsltVersie",
    "BerichtXsdVersie",
];

fn walk(node: NodeRef<'_>, depth: usize, out: &mut Vec<Section>) {
    let name = node.name();
    let repeated = node
        .parent()
        .is_some_and(|p| p.children_named(name).nth(1).is_some());
    let title = if repeated {
        format!("{} {}", label_of(name), node.position())
    } else {
        label_of(name)
    };
    let mut fields: Vec<Field> = Vec::new();
    let mut complex = Vec::new();
    for child in node.children().filter(|c| !TECHNICAL.contains(&c.name())) {
        if child.name() == "RetourCodes" {
            // The codes of an element belong with it, not in a part of
            // their own.
            fields.extend(child.children().map(|c| Field {
                label: "Retourcode".into(),
                value: value_of(&c),
            }));
        } else if child.class().is_some() {
            complex.push(child);
        } else {
            fields.push(Field {
                label: label_of(child.name()),
                value: value_of(&child),
            });
        }
    }
    if let (Some(volume), Some(eenheid)) = (node.value("Volume"), node.value("Eenheid")) {
        // A volume is a whole number (LDT_Volume): said in its unit's
        // number, as every page says it ("1 dagdeel", "40 dagdelen").
        let amount = match (volume.parse::<i64>(), Eenheid::from_code(eenheid)) {
            (Ok(n), Some(e)) => e.count_nl(n),
            _ => format!("{volume} {eenheid}"),
        };
        let per = node
            .value("Frequentie")
            .and_then(|f| code_meaning("LDT_Frequentie", f))
            .map(|f| format!(" {f}"))
            .unwrap_or_default();
        fields.insert(
            0,
            Field {
                label: "Omvang".into(),
                value: Value::Text(format!("{amount}{per}")),
            },
        );
    }
    // The root (Bericht) only holds the parts: no section of its own.
    let below = if node.parent().is_none() {
        depth
    } else {
        if !fields.is_empty() {
            out.push(Section {
                title,
                depth,
                fields,
            });
        }
        depth + 1
    };
    for child in complex {
        walk(child, below, out);
    }
}

/// A UBL document's stored summary (loket's own JSON) as sections.
pub fn json_summary(parsed: &serde_json::Value) -> Vec<Section> {
    let mut out = Vec::new();
    json_walk("Document", parsed, 0, &mut out);
    out
}

/// The Dutch name of a key of loket's invoice summary; other keys with
/// their underscores as spaces.
fn json_label(key: &str) -> String {
    let nl = match key {
        "id" => "Nummer",
        "kind" => "Soort",
        "issue_date" => "Factuurdatum",
        "due_date" => "Vervaldatum",
        "buyer" => "Koper",
        "seller" => "Verkoper",
        "lines" => "Regel",
        "totals" => "Totalen",
        "subtotals" => "Btw-subtotaal",
        "period" | "period_start" | "period_end" => "Periode",
        "order_reference" | "buyer_reference" => "Opdrachtnummer",
        "amount" | "amount_cents" => "Bedrag",
        "price" | "unit_price" => "Prijs",
        "quantity" => "Aantal",
        "unit" | "unit_code" => "Eenheid",
        "item_name" => "Omschrijving",
        "item_description" => "Toelichting",
        "note" | "participant" => "Cliëntreferentie",
        "payable" => "Te betalen",
        "line_extension" => "Totaal regels",
        "tax_exclusive" => "Totaal exclusief btw",
        "tax_inclusive" => "Totaal inclusief btw",
        "taxable" => "Belastbaar bedrag",
        "tax_total" => "Btw",
        "registration_name" | "trading_name" => "Naam",
        "street" => "Adres",
        "postal_zone" => "Postcode",
        "city" => "Plaats",
        "country" => "Land",
        "currency" => "Valuta",
        "payee_account" => "Rekeningnummer",
        "payment_terms" => "Betalingstermijn",
        "debit_credit" => "Debet/credit",
        "document" => "Factuur",
        "company_id" => "Organisatie-id",
        "endpoint" => "Elektronisch adres",
        "vat_id" => "Btw-nummer",
        "contact_email" => "E-mail",
        "item_id" => "Productcode",
        "tax_category" | "category" => "Btw-categorie",
        "tax_percent" | "percent" => "Btw-percentage",
        "exemption_reason" => "Reden vrijstelling",
        "exemption_reason_code" => "Code vrijstelling",
        "line_id" => "Regelnummer",
        "type_code" => "Factuurtype",
        "payment_id" => "Betalingskenmerk",
        "payment_means_code" => "Betaalwijze",
        other => return other.replace('_', " "),
    };
    nl.to_string()
}

/// A value of loket's invoice summary: dates as dates, money as money.
fn json_value(key: &str, v: &serde_json::Value) -> Value {
    let text = scalar(v);
    let money = matches!(
        key,
        "amount"
            | "price"
            | "unit_price"
            | "payable"
            | "line_extension"
            | "tax_exclusive"
            | "tax_inclusive"
            | "taxable"
            | "tax_total"
    );
    if key == "amount_cents"
        && let Some(c) = v.as_i64()
    {
        return Value::Amount(c);
    }
    if money && let Some(c) = cents_of(&text) {
        return Value::Amount(c);
    }
    if chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").is_ok() {
        return Value::Date(text);
    }
    Value::Text(text)
}

/// "922.80" as 92280.
fn cents_of(decimal: &str) -> Option<i64> {
    let (neg, digits) = match decimal.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, decimal),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    if frac.len() > 2 {
        return None;
    }
    let cents = whole.parse::<i64>().ok()? * 100 + format!("{frac:0<2}").parse::<i64>().ok()?;
    Some(if neg { -cents } else { cents })
}

fn json_walk(title: &str, v: &serde_json::Value, depth: usize, out: &mut Vec<Section>) {
    use serde_json::Value as J;
    let mut fields = Vec::new();
    let mut nested: Vec<(String, &J)> = Vec::new();
    match v {
        J::Object(map) => {
            for (k, x) in map {
                match x {
                    J::Object(_) => nested.push((json_label(k), x)),
                    J::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            if item.is_object() || item.is_array() {
                                nested.push((format!("{} {}", json_label(k), i + 1), item));
                            } else {
                                fields.push(Field {
                                    label: json_label(k),
                                    value: json_value(k, item),
                                });
                            }
                        }
                    }
                    J::Null => {}
                    other => fields.push(Field {
                        label: json_label(k),
                        value: json_value(k, other),
                    }),
                }
            }
        }
        other => fields.push(Field {
            label: title.to_string(),
            value: Value::Text(scalar(other)),
        }),
    }
    // The top level only holds the parts, like the message root.
    let below = if out.is_empty() && fields.is_empty() {
        depth
    } else {
        out.push(Section {
            title: title.to_string(),
            depth,
            fields,
        });
        depth + 1
    };
    for (t, x) in nested {
        json_walk(&t, x, below, out);
    }
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The XML indented for reading; the bytes as they are when they do not
/// parse (the download keeps them as exchanged either way).
pub fn pretty_xml(raw: &[u8]) -> String {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(raw);
    reader.config_mut().trim_text(true);
    let mut writer = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 2);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Eof) => break,
            Ok(e) => {
                if writer.write_event(e).is_err() {
                    return String::from_utf8_lossy(raw).into_owned();
                }
            }
            Err(_) => return String::from_utf8_lossy(raw).into_owned(),
        }
        buf.clear();
    }
    String::from_utf8(writer.into_inner())
        .unwrap_or_else(|_| String::from_utf8_lossy(raw).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_split_at_capitals() {
        assert_eq!(label_of("ToegewezenProduct"), "Toegewezen product");
        assert_eq!(label_of("Bsn"), "Bsn");
        assert_eq!(label_of("RetourCodes"), "Retour codes");
    }

    /// Every message type of both standards reads as a summary: each
    /// fixture that decodes gives sections with values, and together the
    /// fixtures cover all 28 types.
    #[test]
    fn every_message_type_gets_a_summary() {
        fn xml_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    xml_files(&p, out);
                } else if p.extension().is_some_and(|x| x == "xml") {
                    out.push(p);
                }
            }
        }
        let schema = crate::schema::Schema::builtin().unwrap();
        let mut files = Vec::new();
        xml_files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
            &mut files,
        );
        let mut seen = std::collections::BTreeSet::new();
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            let Ok(checked) = crate::adapter::istandaard::check(
                schema,
                &bytes,
                &crate::adapter::istandaard::config::Limits::outgoing(),
            ) else {
                continue;
            };
            // Fixtures broken on purpose may lack any part.
            if !checked.complete || f.components().any(|c| c.as_os_str() == "invalid") {
                continue;
            }
            let sections = summary(&checked.message);
            assert!(
                sections
                    .iter()
                    .any(|s| s.title == "Header" && !s.fields.is_empty()),
                "{}",
                f.display()
            );
            assert!(sections.len() >= 2, "{}: {sections:?}", f.display());
            seen.insert(checked.message.name());
        }
        let all: usize = schema.standards.iter().map(|s| s.messages.len()).sum();
        assert_eq!(all, 28);
        assert_eq!(seen.len(), all, "types with a summary: {seen:?}");
    }

    #[test]
    fn invoice_values_read_the_dutch_way() {
        assert_eq!(cents_of("922.80"), Some(92_280));
        assert_eq!(cents_of("-0.5"), Some(-50));
        assert_eq!(cents_of("12"), Some(1_200));
        assert_eq!(cents_of("1.234"), None);
        let v = serde_json::json!({"issue_date": "2026-12-03", "totals": {"payable": "922.80"}});
        let s = json_summary(&v);
        assert!(matches!(&s[0].fields[0].value, Value::Date(d) if d == "2026-12-03"));
        assert_eq!(s[0].fields[0].label, "Factuurdatum");
        assert!(matches!(s[1].fields[0].value, Value::Amount(92_280)));
    }

    #[test]
    fn xml_is_indented_and_unparseable_bytes_stay() {
        let x = pretty_xml(b"<a><b>1</b><c/></a>");
        assert!(x.contains("\n  <b>1</b>"), "{x}");
        assert_eq!(pretty_xml(b"<a><b></a>"), "<a><b></a>");
    }
}
