//! Retourberichten: the answer to every heenbericht, built as the standard's
//! invulinstructies say (IV028 for 302 ... 320, IV087 for the 325).
//!
//! - Nothing found: the copied and extended Header alone, without RetourCodes.
//! - Findings on structure or on rules inside the message (controleniveau 1
//!   and 2): the Header alone with 0001. (For level 1 the standard only asks
//!   for an error to the sender; a header-only 0001 retour is that error in a
//!   form the sender's software already reads.)
//! - Findings against earlier messages (levels 3 and 4): in the Header, the
//!   Header alone with that code; otherwise the Header with 0200 and every
//!   berichtklasse mirrored with its own codes, or 0200.
//! - A 323 declaratie is answered by a 325 declaratie-antwoord: 8001 when
//!   granted in full, otherwise only the rejected prestaties (0233 below a
//!   rejected client) and the amount granted.

use std::collections::HashMap;

use chrono::NaiveDate;
use thiserror::Error;

use super::Checked;
use super::config::RetourSettings;
use crate::finding::{Finding, Level, berichtklasse_of};
use crate::message::{Message, NodeId, NodeRef};
use crate::schema::Role;

#[derive(Debug, Error)]
pub enum RetourError {
    #[error("{0} is not a heenbericht; it has no retourbericht")]
    NotHeen(String),
    #[error("the header of the message is unusable ({0}); no retourbericht can be addressed")]
    HeaderUnusable(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl RetourError {
    pub fn nl(&self) -> String {
        match self {
            RetourError::NotHeen(m) => {
                format!("{m} is geen heenbericht; er hoort geen retourbericht bij")
            }
            RetourError::HeaderUnusable(d) => format!(
                "de header van het bericht is onbruikbaar ({d}); er kan geen retourbericht worden geadresseerd"
            ),
            RetourError::Internal(d) => format!("interne fout: {d}"),
        }
    }
}

const APPROVED: &str = "0200";
const REJECTED: &str = "0001";
const NOT_ASSESSED: &str = "0233";
const FULLY_GRANTED: &str = "8001";

/// Builds the retourbericht (or 325 declaratie-antwoord) for a checked heenbericht.
pub fn build(checked: &Checked, settings: &RetourSettings) -> Result<Message, RetourError> {
    let heen = &checked.message;
    let def = heen.def();
    if def.role != Role::Heen {
        return Err(RetourError::NotHeen(def.name.clone()));
    }
    let answer_name = def
        .answered_by
        .as_deref()
        .ok_or_else(|| RetourError::NotHeen(def.name.clone()))?;
    let schema = heen.schema();
    let key = schema
        .by_name(answer_name)
        .ok_or_else(|| RetourError::Internal(format!("{answer_name} missing from schema")))?;
    ensure_header_usable(checked)?;
    let today = settings
        .today
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    // A retour holds at most the heenbericht's elements plus its
    // RetourCodes (a quarter more elements and half more text are ample):
    // sized up front, the tree of a large declaration's 325 is not grown by
    // doubling, which copies it and holds the old and the new buffer at
    // once. Room that stays unused is never touched, so it costs no memory.
    let mut out = Message::with_capacity(
        schema,
        key,
        heen.nodes.len() + heen.nodes.len() / 4 + 64,
        heen.text.len() + heen.text.len() / 2 + 1024,
    );
    if schema.message(key).role == Role::Antwoord {
        declaratie_antwoord(checked, &mut out, today, settings)?;
    } else {
        mirror(checked, &mut out, today, settings)?;
    }
    Ok(out)
}

/// Structure findings located in the header make it impossible to address
/// the answer with valid values.
fn ensure_header_usable(checked: &Checked) -> Result<(), RetourError> {
    let header = checked.message.get("Header");
    if header.is_none() {
        return Err(RetourError::HeaderUnusable(
            "Header ontbreekt / Header missing".into(),
        ));
    }
    if let Some(f) = checked
        .findings
        .iter()
        .find(|f| f.level == Level::Structure && f.path.starts_with("Header"))
    {
        return Err(RetourError::HeaderUnusable(format!("{}: {}", f.path, f.en)));
    }
    // Reading may have stopped inside the header; then its findings were
    // never made, so check what was read against the schema here.
    if let Some(h) = header {
        subtree_complete(h).map_err(RetourError::HeaderUnusable)?;
    }
    Ok(())
}

/// Every required element below `node` is present and every value fits its
/// datatype and fixed value.
fn subtree_complete(node: NodeRef<'_>) -> Result<(), String> {
    if let Some(class) = node.class() {
        for (i, def) in class.elements.iter().enumerate() {
            let n = node
                .children()
                .filter(|c| c.def().name == class.elements[i].name)
                .count();
            if (n as u32) < def.min {
                return Err(format!(
                    "{}/{} ontbreekt / is missing",
                    node.path(),
                    def.name
                ));
            }
        }
        for c in node.children() {
            subtree_complete(c)?;
        }
    } else if let Some(dt) = node.datatype() {
        let bad = dt.check(node.text()).is_err()
            || node
                .def()
                .fixed
                .as_deref()
                .is_some_and(|f| f != dt.normalize(node.text()));
        if bad {
            return Err(format!("{} is ongeldig / is invalid", node.path()));
        }
    }
    Ok(())
}

/// Identification of a retourbericht: deterministic for the same heenbericht,
/// so a resend (TR056) is answered with the same retour.
fn retour_id(heen: &Message, salt: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let parts = [
        heen.def().namespace.as_str(),
        heen.value("Header/Afzender").unwrap_or(""),
        heen.value("Header/BerichtIdentificatie/Identificatie")
            .unwrap_or(""),
        heen.value("Header/BerichtIdentificatie/Dagtekening")
            .unwrap_or(""),
        salt,
    ];
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("R{:011}", h % 100_000_000_000)
}

/// Codes per berichtklasse (heen node id), in finding order, deduplicated.
fn codes_by_class(checked: &Checked) -> HashMap<NodeId, Vec<String>> {
    let mut map: HashMap<NodeId, Vec<String>> = HashMap::new();
    for f in checked
        .findings
        .iter()
        .filter(|f| f.level == Level::CrossMessage)
    {
        let class = f
            .class_node
            .unwrap_or_else(|| berichtklasse_of(&checked.message, 0));
        let codes = map.entry(class).or_default();
        if !codes.contains(&f.retourcode) {
            codes.push(f.retourcode.clone());
        }
    }
    map
}

/// Level 1 or 2: the message is rejected as a whole with 0001.
fn rejected_as_whole(checked: &Checked) -> bool {
    !checked.complete
        || checked
            .findings
            .iter()
            .any(|f| matches!(f.level, Level::Structure | Level::Content))
}

fn add(out: &mut Message, parent: NodeId, name: &str) -> Result<NodeId, RetourError> {
    out.add_element(parent, name)
        .ok_or_else(|| RetourError::Internal(format!("{} has no element {name}", out.name())))
}

fn add_value(
    out: &mut Message,
    parent: NodeId,
    name: &str,
    value: &str,
) -> Result<NodeId, RetourError> {
    out.add_value(parent, name, value)
        .ok_or_else(|| RetourError::Internal(format!("{} has no element {name}", out.name())))
}

/// Copies `src` (and everything below it) under `parent` in `out`, as element
/// `name`. Elements the target class does not have are left out.
fn copy_subtree(out: &mut Message, parent: NodeId, src: NodeRef<'_>, name: &str) -> Option<NodeId> {
    let id = out.add_element(parent, name)?;
    if src.class().is_some() {
        for c in src.children() {
            copy_subtree(out, id, c, c.name());
        }
    } else {
        out.set_text(id, src.text());
    }
    Some(id)
}

fn add_retourcodes(out: &mut Message, parent: NodeId, codes: &[String]) -> Result<(), RetourError> {
    let rc = add(out, parent, "RetourCodes")?;
    for c in codes {
        add_value(out, rc, "RetourCode", c)?;
    }
    Ok(())
}

fn add_xsd_versie(out: &mut Message, parent: NodeId, name: &str) -> Result<(), RetourError> {
    let std = out.standard();
    let (b, m) = (
        std.basisschema_xsd_versie.clone(),
        std.bericht_xsd_versie.clone(),
    );
    let v = add(out, parent, name)?;
    add_value(out, v, "BasisschemaXsdVersie", &b)?;
    add_value(out, v, "BerichtXsdVersie", &m)?;
    Ok(())
}

fn mirror(
    checked: &Checked,
    out: &mut Message,
    today: NaiveDate,
    settings: &RetourSettings,
) -> Result<(), RetourError> {
    let heen = &checked.message;
    let codes = codes_by_class(checked);
    let hheader = heen
        .get("Header")
        .ok_or_else(|| RetourError::HeaderUnusable("Header".into()))?;
    let header = add(out, 0, "Header")?;
    let code = out.def().code.to_string();
    for c in hheader.children() {
        if c.name() == "BerichtCode" {
            add_value(out, header, "BerichtCode", &code)?;
        } else {
            copy_subtree(out, header, c, c.name());
        }
    }
    add_value(
        out,
        header,
        "IdentificatieRetour",
        &retour_id(heen, "retour"),
    )?;
    add_value(
        out,
        header,
        "DagtekeningRetour",
        &today.format("%Y-%m-%d").to_string(),
    )?;
    add_value(out, header, "XsltVersie", &settings.xslt_versie)?;
    add_xsd_versie(out, header, "XsdVersieRetour")?;

    let header_codes = codes.get(&hheader.id).cloned().unwrap_or_default();
    if rejected_as_whole(checked) {
        add_retourcodes(out, header, &[REJECTED.to_string()])?;
        return Ok(());
    }
    if !header_codes.is_empty() {
        add_retourcodes(out, header, &header_codes)?;
        return Ok(());
    }
    if checked.findings.is_empty() {
        // Fully approved: the Header alone, without RetourCodes.
        return Ok(());
    }
    add_retourcodes(out, header, &[APPROVED.to_string()])?;
    for body in heen.root().children().filter(|c| c.name() != "Header") {
        mirror_node(out, 0, body, &codes)?;
    }
    Ok(())
}

fn mirror_node(
    out: &mut Message,
    parent: NodeId,
    src: NodeRef<'_>,
    codes: &HashMap<NodeId, Vec<String>>,
) -> Result<(), RetourError> {
    if src.class().is_none() {
        let id = add(out, parent, src.name())?;
        out.set_text(id, src.text());
        return Ok(());
    }
    let id = add(out, parent, src.name())?;
    for c in src.children() {
        if c.class().is_some() && c.in_basis() {
            copy_subtree(out, id, c, c.name());
        } else {
            mirror_node(out, id, c, codes)?;
        }
    }
    let has_retourcodes = out
        .node(id)
        .class()
        .and_then(|c| c.retourcodes_index())
        .is_some();
    if has_retourcodes {
        let list = codes
            .get(&src.id)
            .cloned()
            .unwrap_or_else(|| vec![APPROVED.to_string()]);
        add_retourcodes(out, id, &list)?;
    }
    Ok(())
}

fn declaratie_antwoord(
    checked: &Checked,
    out: &mut Message,
    today: NaiveDate,
    settings: &RetourSettings,
) -> Result<(), RetourError> {
    let heen = &checked.message;
    let codes = codes_by_class(checked);
    let h = heen
        .get("Header")
        .ok_or_else(|| RetourError::HeaderUnusable("Header".into()))?;
    let code = out.def().code.to_string();
    let header = add(out, 0, "Header")?;
    add_value(out, header, "BerichtCode", &code)?;
    add_value(out, header, "BerichtVersie", "3")?;
    add_value(out, header, "BerichtSubversie", "2")?;
    add_value(
        out,
        header,
        "Afzender",
        h.value("Ontvanger").unwrap_or_default(),
    )?;
    add_value(
        out,
        header,
        "Ontvanger",
        h.value("Afzender").unwrap_or_default(),
    )?;
    let bi = add(out, header, "BerichtIdentificatie")?;
    add_value(out, bi, "Identificatie", &retour_id(heen, "antwoord"))?;
    add_value(
        out,
        bi,
        "Dagtekening",
        &today.format("%Y-%m-%d").to_string(),
    )?;
    add_xsd_versie(out, header, "XsdVersie")?;
    if let Some(src) = h.get("BerichtIdentificatie") {
        copy_subtree(out, header, src, "DeclaratieIdentificatie");
    }
    add_value(out, header, "XsltVersie", &settings.xslt_versie)?;
    if let Some(src) = h.get("XsdVersie") {
        copy_subtree(out, header, src, "XsdVersieDeclaratie");
    }
    let header_codes = codes.get(&h.id).cloned().unwrap_or_default();
    if rejected_as_whole(checked) {
        add_retourcodes(out, header, &[REJECTED.to_string()])?;
        return Ok(());
    }
    if !header_codes.is_empty() {
        add_retourcodes(out, header, &header_codes)?;
        return Ok(());
    }
    add_retourcodes(out, header, &[APPROVED.to_string()])?;

    let Some(decl) = heen.get("Declaratie") else {
        return Ok(());
    };
    let da = add(out, 0, "DeclaratieAntwoord")?;
    add_value(
        out,
        da,
        "DeclaratieNummer",
        decl.value("DeclaratieNummer").unwrap_or_default(),
    )?;
    let total_node = decl.get("TotaalIngediendBedrag");
    if let Some(t) = total_node {
        copy_subtree(out, da, t, "TotaalIngediendBedrag");
    }
    let total = total_node
        .and_then(|t| signed(t, "TotaalBedrag"))
        .unwrap_or(0);

    let decl_codes = codes.get(&decl.id).cloned().unwrap_or_default();
    if !decl_codes.is_empty() {
        // Rejected on the level of the declaratie: nothing is granted and the
        // prestaties are not assessed (TR342).
        add_amount(out, da, "TotaalToegekendBedrag", 0)?;
        add_retourcodes(out, da, &decl_codes)?;
        return Ok(());
    }

    let mut rejected_sum = 0i64;
    let mut clienten: Option<NodeId> = None;
    for client in decl.all("Clienten/Client") {
        let client_codes = codes.get(&client.id).cloned().unwrap_or_default();
        let prestaties = client.all("Prestaties/Prestatie");
        let rejected: Vec<(NodeRef<'_>, Vec<String>)> = prestaties
            .iter()
            .filter_map(|p| {
                let own = codes.get(&p.id).cloned().unwrap_or_default();
                if !own.is_empty() {
                    Some((*p, own))
                } else if !client_codes.is_empty() {
                    Some((*p, vec![NOT_ASSESSED.to_string()]))
                } else {
                    None
                }
            })
            .collect();
        if rejected.is_empty() {
            continue;
        }
        let cl_parent = match clienten {
            Some(c) => c,
            None => {
                let c = add(out, da, "Clienten")?;
                clienten = Some(c);
                c
            }
        };
        let c = add(out, cl_parent, "Client")?;
        add_value(out, c, "Bsn", client.value("Bsn").unwrap_or_default())?;
        let ps = add(out, c, "Prestaties")?;
        for (p, pcodes) in rejected {
            rejected_sum += p
                .get("IngediendBedrag")
                .and_then(|b| signed(b, "Bedrag"))
                .unwrap_or(0);
            let pn = add(out, ps, "Prestatie")?;
            for f in p.children() {
                copy_subtree(out, pn, f, f.name());
            }
            add_retourcodes(out, pn, &pcodes)?;
        }
        let cc = if client_codes.is_empty() {
            vec![APPROVED.to_string()]
        } else {
            client_codes
        };
        add_retourcodes(out, c, &cc)?;
    }
    add_amount(out, da, "TotaalToegekendBedrag", total - rejected_sum)?;
    let code = if clienten.is_none() {
        FULLY_GRANTED
    } else {
        APPROVED
    };
    add_retourcodes(out, da, &[code.to_string()])?;
    Ok(())
}

fn signed(node: NodeRef<'_>, amount: &str) -> Option<i64> {
    let v = node.int(amount)?;
    Some(if node.value("DebetCredit") == Some("C") {
        -v
    } else {
        v
    })
}

fn add_amount(
    out: &mut Message,
    parent: NodeId,
    name: &str,
    cents: i64,
) -> Result<(), RetourError> {
    let n = add(out, parent, name)?;
    add_value(out, n, "TotaalBedrag", &cents.unsigned_abs().to_string())?;
    add_value(out, n, "DebetCredit", if cents < 0 { "C" } else { "D" })?;
    Ok(())
}

/// Every finding, for callers that want to show what the retour is based on.
pub fn summary(findings: &[Finding]) -> Vec<String> {
    findings.iter().map(ToString::to_string).collect()
}
