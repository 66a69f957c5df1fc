//! Allocation messages (WMO301/JW301) judged and applied a run at a time.
//!
//! The single ingest writer is the narrowest part of the pipeline, and each
//! statement it runs is a round trip to the database. Judged one by one, a
//! 301 costs about five (the rules' read, the participant upsert, the message
//! rows, an upsert per product, the events). Here a run of consecutive 301s
//! from one ingest batch costs one read and one statement per table:
//!
//! 1. one `UNION ALL` read fetches everything the run needs from the record:
//!    the allocations by ToewijzingNummer with their client and approved
//!    prestaties (TR332, TR385), the participants by BSN, and the requests
//!    named by a ReferentieAanbieder (TR379);
//! 2. each message in turn is judged in memory against that snapshot plus
//!    what the run's earlier messages changed, exactly as it would be judged
//!    against the record after those messages; a resend (TR056) of an earlier
//!    message of the run gets that message's answer and changes nothing;
//! 3. the changes are written with multi-row statements, in the order the
//!    foreign keys need (financiers, participants, messages, allocations,
//!    events, honoured requests).
//!
//! The writer ends a run at every message of another kind, so the record sees
//! messages in the order they arrived. A run of one is how a single 301 is
//! judged too (the writer's careful pass), so there is one implementation.

use std::collections::{HashMap, HashSet};

use anyhow::Result;
use sqlx::Row;

use super::apply::{self, Known, MessageRow, Tx, bsn_of, financier_of, insert_rows};
use super::requests;
use super::{Job, Received, Verdict};
use crate::adapter::istandaard::json;
use crate::finding::Finding;
use crate::message::{Message, NodeRef};
use crate::store::{Backend, Params, Tenant, new_id, now};

/// Most products in one run: keeps the run's read below every backend's
/// parameter limit.
const MAX_RUN_PRODUCTS: usize = 4_000;

/// Whether the job is one this module judges and applies.
pub(super) fn takes(job: &Job) -> bool {
    job.prepared.checked.message.def().number == "301"
}

/// The end (exclusive) of the run of 301s that starts at `at`.
pub(super) fn run_end(batch: &[Job], at: usize) -> usize {
    let mut products = 0;
    let mut end = at;
    while end < batch.len() && takes(&batch[end]) {
        products += products_of(&batch[end]).len();
        if end > at && products > MAX_RUN_PRODUCTS {
            break;
        }
        end += 1;
    }
    end.max(at + 1)
}

fn products_of(job: &Job) -> Vec<NodeRef<'_>> {
    products_in(&job.prepared.checked.message)
}

fn products_in(msg: &Message) -> Vec<NodeRef<'_>> {
    msg.root()
        .all("Client/ToegewezenProducten/ToegewezenProduct")
}

/// (tenant, financier id, ToewijzingNummer): an allocation's unique key.
type AllocKey = (String, String, String);
/// (tenant, BSN).
type PersonKey = (String, String);

/// An allocation as the record holds it (or will, after the run so far).
struct Alloc {
    /// The stored id; for an allocation the run creates, the id offered.
    id: String,
    status: &'static str,
    owner_bsn: String,
    approved: i64,
    stored: bool,
    /// Index into `Changes::allocations` once the run touched it.
    row: Option<usize>,
}

/// What the record holds for a run, read at its start.
#[derive(Default)]
struct Snapshot {
    allocations: HashMap<AllocKey, Alloc>,
    /// Participants by (tenant, BSN), with their stored ids.
    participants: HashMap<PersonKey, String>,
    /// (tenant, gemeente, bericht, ReferentieAanbieder) of requests not rejected.
    requests: HashSet<(String, String, String, String)>,
}

/// The facts one message of the run is judged on.
struct Facts<'m> {
    tenant: &'m str,
    bsn: &'m str,
    fin_key: String,
    kind: &'static str,
    gemeente: String,
    products: Vec<NodeRef<'m>>,
}

impl<'m> Facts<'m> {
    /// The facts of `msg` as `tenant`'s record keeps them: a provider
    /// receiving it, or the municipality that sends it.
    fn of(tenant: &'m Tenant, msg: &'m Message) -> Facts<'m> {
        let (fin_id, kind, gemeente) = financier_of(tenant, msg);
        Facts {
            tenant: &tenant.id,
            bsn: msg.value("Client/Bsn").unwrap_or_default(),
            fin_key: format!("{}:{fin_id}", tenant.id),
            kind,
            gemeente,
            products: products_in(msg),
        }
    }

    fn alloc_key(&self, tp: &NodeRef<'_>) -> AllocKey {
        (
            self.tenant.to_string(),
            self.fin_key.clone(),
            tp.value("ToewijzingNummer").unwrap_or_default().to_string(),
        )
    }

    /// The filled ReferentieAanbieder values, with their product.
    fn references(&self) -> Vec<(NodeRef<'m>, &'m str)> {
        self.products
            .iter()
            .filter_map(|tp| tp.value("ReferentieAanbieder").map(|r| (*tp, r)))
            .filter(|(_, r)| !r.is_empty())
            .collect()
    }
}

/// The requests (aanvraag, verzoek om wijziging) a 301 can honour, under the
/// law `kind` of [`financier_of`].
fn request_berichten(kind: &str) -> [&'static str; 2] {
    if kind == "jeugdwet" {
        ["JW315", "JW317"]
    } else {
        ["WMO315", "WMO317"]
    }
}

/// Reads what the run's messages (`msgs`: tenant and message) need from the
/// record, in one statement.
async fn read(
    tx: &mut Tx,
    facts: &[Option<Facts<'_>>],
    msgs: &[(&Tenant, &Message)],
) -> Result<Snapshot> {
    // Lookups grouped by the part of the key they share.
    let mut numbers: HashMap<(&str, &str), HashSet<&str>> = HashMap::new();
    let mut bsns: HashMap<&str, HashSet<&str>> = HashMap::new();
    let mut refs: HashMap<(&str, &str, &str), HashSet<&str>> = HashMap::new();
    for ((tenant, msg), f) in msgs.iter().zip(facts) {
        if let Some(bsn) = bsn_of(msg) {
            bsns.entry(&tenant.id).or_default().insert(bsn);
        }
        let Some(f) = f else { continue };
        let set = numbers.entry((f.tenant, f.fin_key.as_str())).or_default();
        for tp in &f.products {
            set.insert(tp.value("ToewijzingNummer").unwrap_or_default());
        }
        for (_, r) in f.references() {
            refs.entry((f.tenant, f.kind, f.gemeente.as_str()))
                .or_default()
                .insert(r);
        }
    }
    let mut p = Params::new(Backend::of(tx));
    let mut parts = Vec::new();
    let mut binds: Vec<&str> = Vec::new();
    if !numbers.is_empty() {
        let mut terms = Vec::new();
        for ((tenant, fin), set) in &numbers {
            terms.push(format!(
                "(a.tenant_id = {} AND a.financier_id = {} AND a.toewijzing_nummer IN ({}))",
                p.one(),
                p.one(),
                p.list(set.len())
            ));
            binds.extend([*tenant, *fin]);
            binds.extend(set.iter().copied());
        }
        parts.push(format!(
            "SELECT 'a' AS k, a.tenant_id AS t, a.financier_id AS f, a.toewijzing_nummer AS n, a.id AS id, \
               a.status AS s, p.bsn AS b, \
               (SELECT COUNT(*) FROM prestaties d WHERE d.allocation_id = a.id AND d.tenant_id = a.tenant_id \
                  AND d.toewijzing_nummer = a.toewijzing_nummer AND d.status = 'approved' \
                  AND d.debet_credit = 'D' AND d.credited_by IS NULL) \
               + (SELECT COUNT(*) FROM judged_prestaties j WHERE j.allocation_id = a.id AND j.tenant_id = a.tenant_id \
                  AND j.status = 'approved' AND j.debet_credit = 'D' AND j.credited_by IS NULL) AS approved \
             FROM allocations a JOIN participants p ON p.id = a.participant_id WHERE {}",
            terms.join(" OR ")
        ));
    }
    if !bsns.is_empty() {
        let mut terms = Vec::new();
        for (tenant, set) in &bsns {
            terms.push(format!(
                "(tenant_id = {} AND bsn IN ({}))",
                p.one(),
                p.list(set.len())
            ));
            binds.push(tenant);
            binds.extend(set.iter().copied());
        }
        parts.push(format!(
            "SELECT 'p', tenant_id, NULL, NULL, id, NULL, bsn, 0 FROM participants WHERE {}",
            terms.join(" OR ")
        ));
    }
    if !refs.is_empty() {
        let mut terms = Vec::new();
        for ((tenant, kind, gemeente), set) in &refs {
            terms.push(format!(
                "(tenant_id = {} AND gemeente = {} AND bericht IN ({}) AND referentie_aanbieder IN ({}))",
                p.one(),
                p.one(),
                p.list(2),
                p.list(set.len())
            ));
            binds.extend([*tenant, *gemeente]);
            binds.extend(request_berichten(kind));
            binds.extend(set.iter().copied());
        }
        parts.push(format!(
            "SELECT 'r', tenant_id, gemeente, bericht, NULL, NULL, referentie_aanbieder, 0 FROM requests \
             WHERE (status <> 'rejected' OR answer_message_id IS NOT NULL) AND ({})",
            terms.join(" OR ")
        ));
    }
    let mut snap = Snapshot::default();
    if parts.is_empty() {
        return Ok(snap);
    }
    let mut q = sqlx::query(sqlx::AssertSqlSafe(parts.join(" UNION ALL "))).persistent(false);
    for b in binds {
        q = q.bind(b);
    }
    for r in q.fetch_all(&mut **tx).await? {
        let k: String = r.try_get(0)?;
        let t: String = r.try_get(1)?;
        let text = |i: usize| -> Result<String> {
            Ok(r.try_get::<Option<String>, _>(i)?.unwrap_or_default())
        };
        match k.as_str() {
            "a" => {
                let status = match text(5)?.as_str() {
                    "withdrawn" => "withdrawn",
                    "started" => "started",
                    "stopped" => "stopped",
                    "requested" => "requested",
                    "ended" => "ended",
                    _ => "allocated",
                };
                snap.allocations.insert(
                    (t, text(2)?, text(3)?),
                    Alloc {
                        id: text(4)?,
                        status,
                        owner_bsn: text(6)?,
                        approved: r.try_get(7)?,
                        stored: true,
                        row: None,
                    },
                );
            }
            "p" => {
                snap.participants.insert((t, text(6)?), text(4)?);
            }
            _ => {
                snap.requests.insert((t, text(2)?, text(3)?, text(6)?));
            }
        }
    }
    Ok(snap)
}

/// TR332: a ToewijzingNummer belongs to one client within the municipality
/// and law. TR385: an allocation with approved, not credited prestaties
/// cannot be removed (RedenWijziging 13). TR379: a filled ReferentieAanbieder
/// names a request (aanvraag 315 or verzoek om wijziging 317) this provider
/// sent to the municipality under the same law; a request the municipality
/// rejected with its 316/318 was never taken in, so it cannot be honoured
/// (one it took in and rejected with a 319 may still be, on reconsideration).
fn judge(snap: &Snapshot, f: &Facts<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for tp in &f.products {
        let Some(a) = snap.allocations.get(&f.alloc_key(tp)) else {
            continue;
        };
        if a.owner_bsn != f.bsn {
            out.push(Finding::cross_message(
                "TR332",
                *tp,
                "Het toewijzingnummer is al gebruikt voor een andere cliënt.",
                "The allocation number is already used for another client.",
            ));
        } else if a.approved > 0 && tp.value("RedenWijziging") == Some("13") {
            out.push(Finding::cross_message("TR385", *tp, "", ""));
        }
    }
    let berichten = request_berichten(f.kind);
    for (tp, r) in f.references() {
        let sent = berichten.iter().any(|b| {
            snap.requests.contains(&(
                f.tenant.to_string(),
                f.gemeente.clone(),
                b.to_string(),
                r.to_string(),
            ))
        });
        if !sent {
            out.push(Finding::cross_message(
                "TR379",
                tp,
                "Er is geen verzoek met deze ReferentieAanbieder aan deze gemeente verstuurd.",
                "No request with this ReferentieAanbieder was sent to this municipality.",
            ));
        }
    }
    out
}

/// A participant as the run's accepted messages leave it: per field the last
/// value a message gave (what applying them one by one would store).
#[derive(Default)]
struct Person<'m> {
    birth: Option<&'m str>,
    gender: Option<&'m str>,
    name: Option<String>,
    contact: Option<String>,
}

/// An allocation row as the run leaves it, with the product that wrote it
/// last.
struct AllocRow<'m> {
    key: AllocKey,
    /// The provider it is granted to: the 301's Ontvanger.
    aanbieder: &'m str,
    id: String,
    participant: PersonKey,
    product: NodeRef<'m>,
    /// What the upsert asks for (see [`write_allocations`]).
    status: &'static str,
}

/// Everything the run writes, collected while judging.
#[derive(Default)]
struct Changes<'m> {
    financiers: Vec<(String, &'m str, &'static str, String, &'m str)>,
    people: Vec<(PersonKey, Person<'m>)>,
    allocations: Vec<AllocRow<'m>>,
    /// (allocation row, message index in the run, status, detail)
    events: Vec<(usize, usize, &'static str, String)>,
    /// (allocation row, gemeente, standard, ReferentieAanbieder): requests
    /// the run's products honour (TR379), in order.
    honoured: Vec<(usize, String, &'m str, &'m str)>,
}

impl<'m> Changes<'m> {
    /// Records an accepted message's changes, and updates `snap` to match.
    fn accept(
        &mut self,
        snap: &mut Snapshot,
        known: &mut Known,
        people: &mut HashMap<PersonKey, usize>,
        msg: &'m Message,
        f: &Facts<'m>,
        index: usize,
    ) {
        let Some(client) = msg.get("Client").filter(|c| c.has("Bsn")) else {
            return;
        };
        let person: PersonKey = (f.tenant.to_string(), f.bsn.to_string());
        let at = *people.entry(person.clone()).or_insert_with(|| {
            self.people.push((person.clone(), Person::default()));
            self.people.len() - 1
        });
        let p = &mut self.people[at].1;
        let json = |n: Option<NodeRef<'_>>| n.map(|n| json::node_value(n).to_string());
        p.birth = client.value("Geboortedatum/Datum").or(p.birth);
        p.gender = client.value("Geslacht").or(p.gender);
        p.name = json(client.get("Naam")).or(p.name.take());
        p.contact = json(client.get("Contactgegevens")).or(p.contact.take());

        if !known.has_financier(&f.fin_key) {
            known.pending.push(f.fin_key.clone());
            self.financiers.push((
                f.fin_key.clone(),
                f.tenant,
                f.kind,
                f.gemeente.clone(),
                &msg.standard().name,
            ));
        }
        for tp in &f.products {
            let key = f.alloc_key(tp);
            let ingang = tp.value("Ingangsdatum").unwrap_or_default();
            let reden = tp.value("RedenWijziging");
            let withdrawn = reden == Some("13") && tp.value("Einddatum") == Some(ingang);
            let existing = snap.allocations.get(&key);
            // The status rule of the upsert (a renewed or changed allocation
            // keeps its delivery state), applied to the record as it is now.
            let status = match existing.map(|a| a.status) {
                _ if withdrawn => "withdrawn",
                Some(s @ ("started" | "stopped")) => s,
                _ => "allocated",
            };
            let detail = if withdrawn {
                "ingetrokken / withdrawn".to_string()
            } else if existing.is_none() {
                "nieuwe toewijzing / new allocation".to_string()
            } else {
                format!(
                    "gewijzigd / changed (RedenWijziging {})",
                    reden.unwrap_or("-")
                )
            };
            let a = snap
                .allocations
                .entry(key.clone())
                .or_insert_with(|| Alloc {
                    id: new_id(),
                    status,
                    owner_bsn: f.bsn.to_string(),
                    approved: 0,
                    stored: false,
                    row: None,
                });
            // What the upsert asks for: the last product decides, except
            // that a stored allocation withdrawn earlier in the run and then
            // changed again is allocated whatever its delivery state was.
            let ask = match (a.row.map(|r| self.allocations[r].status), withdrawn) {
                (_, true) => "withdrawn",
                (Some("withdrawn" | "reset"), false) if a.stored => "reset",
                _ => "allocated",
            };
            a.status = status;
            a.owner_bsn = f.bsn.to_string();
            let row = AllocRow {
                key,
                aanbieder: msg.value("Header/Ontvanger").unwrap_or_default(),
                id: a.id.clone(),
                participant: person.clone(),
                product: *tp,
                status: ask,
            };
            let r = match a.row {
                Some(r) => {
                    self.allocations[r] = row;
                    r
                }
                None => {
                    self.allocations.push(row);
                    self.allocations.len() - 1
                }
            };
            a.row = Some(r);
            self.events.push((r, index, status, detail));
        }
        for (tp, reference) in f.references() {
            if let Some(r) = snap.allocations.get(&f.alloc_key(&tp)).and_then(|a| a.row) {
                self.honoured
                    .push((r, f.gemeente.clone(), &msg.standard().name, reference));
            }
        }
    }
}

/// What became of one message of the run.
enum Outcome {
    /// Stored, with its verdict and the participant its row names.
    Stored(Verdict, Option<PersonKey>),
    /// A resend of a message stored before the run (TR056).
    Previous(Received),
    /// A resend of the run's message with this index (TR056).
    SameAs(usize),
}

/// Judges, applies and stores `jobs` (all 301s, see [`run_end`]) inside the
/// writer's transaction, in order. `may_be_resend[i]`: the database or an
/// earlier message of the batch may hold the key of `jobs[i]` (TR056). `Err`
/// when a statement failed: the caller rolls the whole run back.
pub(super) async fn run(
    tx: &mut Tx,
    known: &mut Known,
    jobs: &[Job],
    may_be_resend: &[bool],
) -> Result<Vec<Received>> {
    let facts: Vec<Option<Facts<'_>>> = jobs
        .iter()
        .map(|j| {
            (!j.prepared.structural).then(|| Facts::of(&j.tenant, &j.prepared.checked.message))
        })
        .collect();
    let msgs: Vec<(&Tenant, &Message)> = jobs
        .iter()
        .map(|j| (&j.tenant, &j.prepared.checked.message))
        .collect();
    let mut snap = read(tx, &facts, &msgs).await?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut first_of: HashMap<apply::ResendKey, usize> = HashMap::new();
    let mut changes = Changes::default();
    // Participants the run's accepted messages create or update, by key.
    let mut people = HashMap::new();
    for (i, job) in jobs.iter().enumerate() {
        let key = job.resend_key();
        if let Some(&j) = first_of.get(&key) {
            outcomes.push(Outcome::SameAs(j));
            continue;
        }
        if may_be_resend[i] {
            let (tenant, sender, bericht, ident) = &key;
            if let Some(prev) = apply::find_previous(tx, tenant, sender, bericht, ident).await? {
                outcomes.push(Outcome::Previous(prev));
                continue;
            }
        }
        first_of.insert(key, i);
        let cross = facts[i].as_ref().map_or_else(Vec::new, |f| judge(&snap, f));
        let verdict = Verdict::of(&job.prepared, &cross);
        let person =
            bsn_of(&job.prepared.checked.message).map(|b| (job.tenant.id.clone(), b.to_string()));
        if verdict.accepted()
            && let Some(f) = &facts[i]
        {
            changes.accept(
                &mut snap,
                known,
                &mut people,
                &job.prepared.checked.message,
                f,
                i,
            );
        }
        // A message's row names its participant when the record has it by
        // then: stored before the run, or created by this or an earlier
        // accepted message of the run.
        let person = person.filter(|p| snap.participants.contains_key(p) || people.contains_key(p));
        outcomes.push(Outcome::Stored(verdict, person));
    }
    let person_ids = write_people(tx, &changes, &snap).await?;
    let mut rows: Vec<MessageRow<'_>> = Vec::new();
    for (job, outcome) in jobs.iter().zip(&outcomes) {
        if let Outcome::Stored(verdict, person) = outcome {
            let participant = person.as_ref().and_then(|p| person_ids.get(p));
            rows.extend(verdict.rows(job, participant.map(String::as_str))?);
        }
    }
    apply::insert_messages(tx, &rows).await?;
    let message_ids: Vec<Option<&str>> = outcomes
        .iter()
        .map(|o| match o {
            Outcome::Stored(v, _) => Some(v.message_id.as_str()),
            _ => None,
        })
        .collect();
    write_allocations_of(tx, &changes, &person_ids, &message_ids).await?;
    let mut out: Vec<Received> = Vec::with_capacity(jobs.len());
    for (job, outcome) in jobs.iter().zip(outcomes) {
        let r = match outcome {
            Outcome::Stored(verdict, _) => verdict.received(&job.prepared),
            Outcome::Previous(prev) => prev,
            Outcome::SameAs(j) => Received {
                duplicate: true,
                no_retour: None,
                ..out[j].clone()
            },
        };
        out.push(r);
    }
    Ok(out)
}

/// Writes the run's financiers and participants (one statement per table,
/// more only past the parameter limit), before the messages that name them;
/// returns every participant's stored id.
async fn write_people(
    tx: &mut Tx,
    changes: &Changes<'_>,
    snap: &Snapshot,
) -> Result<HashMap<PersonKey, String>> {
    if !changes.financiers.is_empty() {
        insert_rows(
            tx,
            "INSERT INTO financiers (id, tenant_id, kind, code, name, standard)",
            "ON CONFLICT (id) DO NOTHING",
            6,
            &changes.financiers,
            |q, (id, tenant, kind, code, standard)| {
                q.bind(id.as_str())
                    .bind(*tenant)
                    .bind(*kind)
                    .bind(code.as_str())
                    .bind(format!("Gemeente {code} ({kind})"))
                    .bind(*standard)
            },
        )
        .await?;
    }
    // Participants: the stored id of each, created or not.
    let mut person_ids: HashMap<PersonKey, String> = snap.participants.clone();
    if !changes.people.is_empty() {
        let ts = now();
        let offered: Vec<String> = changes.people.iter().map(|_| new_id()).collect();
        let rows: Vec<_> = changes.people.iter().zip(&offered).collect();
        // The upsert of one message, for all of them at once: a field the
        // messages left out keeps its stored value. Naam and Contactgegevens
        // never render as `{}` or `[]`, so those (the defaults a new row
        // gets) mean "left out".
        let returned = insert_rows(
            tx,
            "INSERT INTO participants (id, tenant_id, bsn, birth_date, gender, name_json, contact_json, created_at, updated_at)",
            "ON CONFLICT (tenant_id, bsn) DO UPDATE SET \
               birth_date = COALESCE(excluded.birth_date, participants.birth_date), \
               gender = COALESCE(excluded.gender, participants.gender), \
               name_json = CASE WHEN excluded.name_json = '{}' THEN participants.name_json ELSE excluded.name_json END, \
               contact_json = CASE WHEN excluded.contact_json = '[]' THEN participants.contact_json ELSE excluded.contact_json END, \
               updated_at = excluded.updated_at \
             RETURNING id, tenant_id, bsn",
            9,
            &rows,
            |q, ((key, person), id)| {
                q.bind(id.as_str())
                    .bind(key.0.as_str())
                    .bind(key.1.as_str())
                    .bind(person.birth)
                    .bind(person.gender)
                    .bind(person.name.as_deref().unwrap_or("{}"))
                    .bind(person.contact.as_deref().unwrap_or("[]"))
                    .bind(ts.as_str())
                    .bind(ts.as_str())
            },
        )
        .await?;
        for r in returned {
            person_ids.insert((r.try_get(1)?, r.try_get(2)?), r.try_get(0)?);
        }
    }
    Ok(person_ids)
}

/// Writes the run's allocations, their events (`message_ids`: the stored
/// message of each of the run's messages) and the requests they honour,
/// after the messages the events name.
async fn write_allocations_of(
    tx: &mut Tx,
    changes: &Changes<'_>,
    person_ids: &HashMap<PersonKey, String>,
    message_ids: &[Option<&str>],
) -> Result<()> {
    if changes.allocations.is_empty() {
        return Ok(());
    }
    let ts = now();
    let returned = write_allocations(tx, &changes.allocations, person_ids, &ts).await?;
    let mut alloc_ids: HashMap<AllocKey, String> = HashMap::new();
    for r in returned {
        alloc_ids.insert((r.try_get(1)?, r.try_get(2)?, r.try_get(3)?), r.try_get(0)?);
    }
    let events: Vec<_> = changes
        .events
        .iter()
        .map(|(row, index, status, detail)| {
            let a = &changes.allocations[*row];
            (
                new_id(),
                alloc_ids.get(&a.key).unwrap_or(&a.id).as_str(),
                message_ids[*index].unwrap_or_default(),
                *status,
                detail.as_str(),
            )
        })
        .collect();
    apply::insert_events(tx, &events, &ts).await?;
    let honoured: Vec<requests::Honoured<'_>> = changes
        .honoured
        .iter()
        .map(|(row, gemeente, standard, reference)| {
            let a = &changes.allocations[*row];
            requests::Honoured {
                tenant: &a.key.0,
                gemeente,
                standard,
                reference,
                allocation_id: alloc_ids.get(&a.key).unwrap_or(&a.id),
            }
        })
        .collect();
    requests::honour(tx, &honoured).await?;
    Ok(())
}

/// The run's allocations in one upsert; returns `id, tenant_id,
/// financier_id, toewijzing_nummer` of each.
///
/// A stored allocation keeps its delivery state (started, stopped) unless it
/// is withdrawn, decided in SQL on the row as it is when written, as one
/// message's upsert would. `status` asks for `withdrawn`, `allocated`, or
/// `reset`: withdrawn earlier in the run and changed since, so `allocated`
/// whatever the delivery state (only ever asked of a stored row, so never
/// inserted).
async fn write_allocations(
    tx: &mut Tx,
    rows: &[AllocRow<'_>],
    person_ids: &HashMap<PersonKey, String>,
    ts: &str,
) -> Result<Vec<sqlx::any::AnyRow>> {
    insert_rows(
        tx,
        "INSERT INTO allocations (id, tenant_id, participant_id, financier_id, toewijzing_nummer, referentie_aanbieder, \
         product_categorie, product_code, toewijzingsdatum, ingangsdatum, einddatum, reden_wijziging, volume, eenheid, \
         frequentie, budget, status, updated_at, aanbieder)",
        "ON CONFLICT (tenant_id, financier_id, toewijzing_nummer) DO UPDATE SET \
           participant_id = excluded.participant_id, referentie_aanbieder = excluded.referentie_aanbieder, \
           product_categorie = excluded.product_categorie, product_code = excluded.product_code, \
           toewijzingsdatum = excluded.toewijzingsdatum, ingangsdatum = excluded.ingangsdatum, \
           einddatum = excluded.einddatum, reden_wijziging = excluded.reden_wijziging, volume = excluded.volume, \
           eenheid = excluded.eenheid, frequentie = excluded.frequentie, budget = excluded.budget, \
           status = CASE WHEN excluded.status = 'withdrawn' THEN 'withdrawn' \
                         WHEN excluded.status = 'reset' THEN 'allocated' \
                         WHEN allocations.status IN ('started', 'stopped') THEN allocations.status \
                         ELSE excluded.status END, \
           updated_at = excluded.updated_at, aanbieder = excluded.aanbieder \
         RETURNING id, tenant_id, financier_id, toewijzing_nummer",
        19,
        rows,
        |q, a| {
            let tp = a.product;
            q.bind(a.id.as_str())
                .bind(a.key.0.as_str())
                .bind(person_ids.get(&a.participant).map(String::as_str))
                .bind(a.key.1.as_str())
                .bind(a.key.2.as_str())
                .bind(tp.value("ReferentieAanbieder"))
                .bind(tp.value("Product/Categorie"))
                .bind(tp.value("Product/Code"))
                .bind(tp.value("Toewijzingsdatum"))
                .bind(tp.value("Ingangsdatum").unwrap_or_default())
                .bind(tp.value("Einddatum"))
                .bind(tp.value("RedenWijziging"))
                .bind(tp.int("Omvang/Volume"))
                .bind(tp.value("Omvang/Eenheid"))
                .bind(tp.value("Omvang/Frequentie"))
                .bind(tp.int("Budget"))
                .bind(a.status)
                .bind(ts)
                .bind(a.aanbieder)
        },
    )
    .await
}

/// A 301 `tenant` (a municipality) is about to send, judged against its own
/// record with the rules its provider applies on receipt (TR332, TR385,
/// TR379): the same [`judge`], on the same snapshot, so what loket sends is
/// what loket as a provider would accept. Reads only.
pub async fn judge_outgoing(tx: &mut Tx, tenant: &Tenant, msg: &Message) -> Result<Vec<Finding>> {
    let facts = [Some(Facts::of(tenant, msg))];
    let snap = read(tx, &facts, &[(tenant, msg)]).await?;
    Ok(facts[0].as_ref().map_or_else(Vec::new, |f| judge(&snap, f)))
}

/// Applies a 301 `tenant` sends (queued as `message_id`, judged by
/// [`judge_outgoing`]) to its own record, exactly as a run of one received
/// 301 is applied: the participant, its allocations with their events, the
/// requests it honours.
pub async fn apply_outgoing(
    tx: &mut Tx,
    tenant: &Tenant,
    msg: &Message,
    message_id: &str,
) -> Result<()> {
    let facts = Facts::of(tenant, msg);
    let mut snap = read(tx, &[Some(Facts::of(tenant, msg))], &[(tenant, msg)]).await?;
    let mut changes = Changes::default();
    let mut known = Known::default();
    let mut people = HashMap::new();
    changes.accept(&mut snap, &mut known, &mut people, msg, &facts, 0);
    let person_ids = write_people(tx, &changes, &snap).await?;
    if let Some(p) = person_ids.get(&(tenant.id.clone(), facts.bsn.to_string())) {
        apply::set_message_participant(tx, message_id, p).await?;
    }
    write_allocations_of(tx, &changes, &person_ids, &[Some(message_id)]).await
}
